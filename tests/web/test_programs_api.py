"""Programmes over HTTP: officers define and decide with four eyes; offices and the person see the same explanation."""

from __future__ import annotations

import csv
import io
import uuid
from pathlib import Path

import pytest
import yaml

from carnet.programs import service
from tests.web.conftest import bearer

EXAMPLES = Path(service.__file__).parent / "data"


def definition(name: str, **changes) -> dict:
    data = yaml.safe_load((EXAMPLES / f"{name}.yaml").read_text("utf-8"))
    data["start"] = str(data["start"])
    return data | changes


PASSPHRASE = "una frase de paso larga"


@pytest.fixture()
def client(client):
    """The web client with a key passphrase: a new programme seals its sector key."""
    client.app.state.settings = client.app.state.settings.model_copy(update={"key_passphrase": PASSPHRASE})
    return client


def test_define_propose_approve_explain(client, make_user, make_person):
    ana, luis = bearer(make_user("program_officer")), bearer(make_user("program_officer"))
    person = make_person(attributes={"monthly_income": 100000, "vehicle_owned": True})
    created = client.put("/api/v1/programs/fuel_subsidy", json=definition("fuel_subsidy"), headers=ana)
    assert created.status_code == 200, created.text
    assert created.json() == {"code": "fuel_subsidy", "version": 1, "changed": True}

    preview = client.post("/api/v1/programs/fuel_subsidy/preview", json={"cycle": "2026-12"}, headers=ana)
    assert preview.status_code == 200 and preview.json()["status"] == "preview"
    proposed = client.post("/api/v1/programs/fuel_subsidy/runs", json={"cycle": "2026-12"}, headers=ana)
    assert proposed.status_code == 201 and proposed.json()["units_eligible"] >= 1
    run_id = proposed.json()["id"]
    same = client.post(f"/api/v1/runs/{run_id}/approval", json={}, headers=ana)
    assert same.status_code == 403 and same.json()["code"] == "same_officer"
    approved = client.post(f"/api/v1/runs/{run_id}/approval", json={}, headers=luis)
    assert approved.status_code == 200 and approved.json()["status"] == "published"

    office = bearer(make_user("registrar"))
    explained = client.get(f"/api/v1/programs/fuel_subsidy/explanations/{person['id']}", headers=office).json()
    assert explained["eligible"] and explained["entitlement"]["quantity"] == 40
    assert [c["result"] for c in explained["clauses"]] == [True, True]
    citizen = bearer(make_user("citizen", person_id=person["id"]))
    own = client.get("/api/v1/me/programs/fuel_subsidy/explanation", headers=citizen).json()
    assert own["clauses"] == explained["clauses"] and own["run"] == explained["run"]
    log = client.get("/api/v1/me/access-log", headers=citizen).json()["entries"]
    assert any(e["bulk"] and e["cohort"] == f"run:{run_id}" for e in log)
    assert any(e["purpose"] == "appeal" for e in log)


def test_the_entitlement_export_names_persons_by_the_programmes_pseudonym(client, make_user, make_person):
    ana, luis = bearer(make_user("program_officer")), bearer(make_user("program_officer"))
    person = make_person(attributes={"monthly_income": 100000, "vehicle_owned": True})
    assert client.put("/api/v1/programs/fuel_subsidy", json=definition("fuel_subsidy"), headers=ana).status_code == 200
    run_id = client.post("/api/v1/programs/fuel_subsidy/runs", json={"cycle": "2026-12"}, headers=ana).json()["id"]
    assert client.post(f"/api/v1/runs/{run_id}/approval", json={}, headers=luis).status_code == 200

    exported = client.get(f"/api/v1/runs/{run_id}/entitlements", headers=ana)
    assert exported.status_code == 200 and exported.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert list(rows[0]) == ["pseudonym", "unit", "region_code", "quantity", "value", "currency", "program",
                             "cycle", "run"]  # fmt: skip
    assert str(person["id"]) not in exported.text and uuid.UUID(str(person["id"])).hex not in exported.text
    assert all(row["pseudonym"].startswith("PS1-") and row["run"] == run_id for row in rows)
    citizen = bearer(make_user("citizen", person_id=person["id"]))
    log = client.get("/api/v1/me/access-log", headers=citizen).json()["entries"]
    assert any(e["cohort"] == f"run:{run_id}" and "sector_pseudonym" in e["fields"] for e in log)
    registrar = bearer(make_user("registrar"))
    assert client.get(f"/api/v1/runs/{run_id}/entitlements", headers=registrar).status_code == 403


def test_bad_definitions_and_rules_are_422_with_positions(client, make_user):
    ana = bearer(make_user("program_officer"))
    sneaky = definition("food_box", rule="count(members where chronic_condition) > 0")
    bad = client.put("/api/v1/programs/food_box", json=sneaky, headers=ana)
    assert bad.status_code == 422 and bad.json()["errors"][0]["code"] == "purpose_not_allowed"
    assert bad.json()["errors"][0]["record"].startswith("line 1, column")
    fields = client.put("/api/v1/programs/food_box", json=definition("food_box", unit="village", budget=-1),
                        headers=ana)  # fmt: skip
    assert fields.status_code == 422
    assert {e["field"] for e in fields.json()["errors"]} == {"unit", "budget"}
    registrar = bearer(make_user("registrar"))
    assert client.put("/api/v1/programs/food_box", json=definition("food_box"), headers=registrar).status_code == 403
    assert client.post("/api/v1/programs/nothing/runs", json={"cycle": "2026-12"}, headers=ana).status_code == 404
    assert client.post("/api/v1/programs/food_box/runs", json={"cycle": "2026-13"}, headers=ana).status_code in (
        404,
        422,
    )
