"""Who looked at my data: the person's view and the office's view, each entry provable in the audit log."""

from __future__ import annotations

import csv
import uuid
from datetime import timedelta

from carnet.audit.entries import subject_commitment
from carnet.audit.merkle import leaf_hash, verify_inclusion
from carnet.audit.service import sign_head
from carnet.kit.clock import utcnow
from carnet.registry.importer import run_import
from tests.web.conftest import bearer

PASSPHRASE = "una frase de paso larga"


def test_a_citizen_sees_every_access_with_a_proof(client, session, make_user, make_person, registrar):
    person = make_person()
    office = bearer(make_user("registrar"))
    assert client.get(f"/api/v1/persons/{person['id']}", headers=office).status_code == 200
    citizen = bearer(make_user("citizen", person_id=person["id"]))
    sign_head(session, passphrase=PASSPHRASE, now=utcnow())
    session.commit()

    log = client.get("/api/v1/me/access-log", headers=citizen).json()
    actions = [(e["action"], e["role"], e["purpose"]) for e in log["entries"]]
    assert actions == [("create", "registrar", "registration"), ("read", "registrar", "registration")]
    head = log["head"]
    for item in log["entries"]:
        # The entry names the person only by a salted commitment the person can recompute.
        assert subject_commitment(bytes.fromhex(item["subject_salt"]), uuid.UUID(str(person["id"]))) in item["entry"]
        assert str(person["id"]) not in item["entry"]
        assert verify_inclusion(
            item["leaf"], head["size"], leaf_hash(item["entry"].encode()),
            [bytes.fromhex(p) for p in item["proof"]], bytes.fromhex(head["root"]),
        )  # fmt: skip
    # Looking at the log is itself an access the person will see next time (pending until a new head).
    again = client.get("/api/v1/me/access-log", headers=citizen).json()["entries"]
    assert (again[-1]["fields"], again[-1]["purpose"], again[-1]["proof"]) == (
        ["access_log"], "data_subject_access", None,
    )  # fmt: skip


def test_a_bulk_import_shows_as_one_entry_that_includes_the_person(client, session, make_user, registrar, tmp_path):
    path = tmp_path / "c.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["given_names", "family_names", "date_of_birth", "region_code", "national_id"])
        writer.writerow(["Ana", "Gil", "1990-01-01", "VE-A", "V-5555555"])
        writer.writerow(["Luis", "Paz", "1991-01-01", "VE-A", "V-5555556"])
    now = utcnow()
    run = run_import(session, actor=registrar, path=path, today=now.date(), now=now)
    session.commit()
    from carnet.registry.repository import person_id_by_national_id

    person_id = person_id_by_national_id(session, "V-5555555")
    citizen = bearer(make_user("citizen", person_id=person_id))
    (entry,) = client.get("/api/v1/me/access-log", headers=citizen).json()["entries"]
    assert entry["bulk"] and entry["cohort"] == f"import:{run.id}" and entry["action"] == "import"
    assert entry["proof"] is None  # no head signed yet


def test_an_office_reads_it_for_a_data_subject_request(client, session, make_user, make_person):
    person = make_person()
    office = bearer(make_user("registrar"))
    response = client.get(f"/api/v1/persons/{person['id']}/access-log", headers=office)
    assert response.status_code == 200 and response.json()["head"] is None
    entries = client.get(f"/api/v1/persons/{person['id']}/access-log", headers=office).json()["entries"]
    assert entries[-1]["purpose"] == "data_subject_request" and entries[-1]["fields"] == ["access_log"]
    assert client.get(f"/api/v1/persons/{uuid.uuid4()}/access-log", headers=office).status_code == 404
    admin = bearer(make_user("admin"))
    assert client.get(f"/api/v1/persons/{person['id']}/access-log", headers=admin).status_code == 403


class TestInvestigation:
    def test_sealed_reads_show_to_the_person_as_sealed_until_the_date(self, client, make_user, make_person):
        person = make_person()
        auditor = bearer(make_user("auditor"))
        until = (utcnow().date() + timedelta(days=90)).isoformat()
        response = client.get(
            f"/api/v1/persons/{person['id']}/investigation",
            params={"order": "TSJ-2026-114", "sealed_until": until},
            headers=auditor,
        )
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["person"]["id"] == str(person["id"]) and body["order"] == "TSJ-2026-114"
        assert body["history"][0]["operation"] == "create"
        citizen = bearer(make_user("citizen", person_id=person["id"]))
        entries = client.get("/api/v1/me/access-log", headers=citizen).json()["entries"]
        sealed = [e for e in entries if e["sealed"]]
        # The record and its history were read: two sealed entries, counted, their who and why withheld.
        assert len(sealed) == 2
        assert all(e["sealed_until"] == until and e["role"] is None and e["purpose"] is None for e in sealed)
        assert all("TSJ-2026-114" not in e["entry"] and "auditor" not in e["entry"] for e in sealed)

    def test_an_open_investigation_names_its_order_to_the_person(self, client, make_user, make_person):
        person = make_person()
        auditor = bearer(make_user("auditor"))
        url = f"/api/v1/persons/{person['id']}/investigation"
        assert client.get(url, params={"order": "INSP-7"}, headers=auditor).status_code == 200
        citizen = bearer(make_user("citizen", person_id=person["id"]))
        last = client.get("/api/v1/me/access-log", headers=citizen).json()["entries"][-1]
        assert (last["sealed"], last["purpose"], last["role"]) == (False, "investigation", "auditor")

    def test_only_the_oversight_body_investigates_and_only_under_an_order(self, client, make_user, make_person):
        person = make_person()
        url = f"/api/v1/persons/{person['id']}/investigation"
        registrar = bearer(make_user("registrar"))
        assert client.get(url, params={"order": "X-1"}, headers=registrar).status_code == 403
        auditor = bearer(make_user("auditor"))
        missing = client.get(url, headers=auditor)
        assert missing.status_code == 422
        blank = client.get(url, params={"order": "   "}, headers=auditor)
        assert blank.status_code == 422 and blank.json()["errors"][0]["field"] == "order"
        past = client.get(url, params={"order": "X-1", "sealed_until": "2020-01-01"}, headers=auditor)
        assert past.status_code == 400 and past.json()["code"] == "invalid_seal"
        assert (
            client.get(
                f"/api/v1/persons/{uuid.uuid4()}/investigation", params={"order": "X"}, headers=auditor
            ).status_code
            == 404
        )
