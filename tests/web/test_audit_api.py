"""The audit API: heads and proofs for anyone, entries for auditors, clear errors for bad requests."""

from __future__ import annotations

from carnet.audit.merkle import leaf_hash, verify_consistency, verify_inclusion
from carnet.audit.service import sign_head
from carnet.kit.clock import utcnow
from tests.web.conftest import bearer

PASSPHRASE = "una frase de paso larga"


def assert_problem(response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["code"] == code


def test_heads_and_proofs_for_anyone_entries_for_auditors(client, session, make_user, make_person):
    assert_problem(client.get("/api/v1/audit/heads/latest"), 404, "no_tree_head")
    for family in ("Gil", "Paz", "Mora"):
        make_person(national_id=None, given_names="Ana", family_names=family)
    old = sign_head(session, passphrase=PASSPHRASE, now=utcnow())
    make_person(national_id=None, given_names="Eva", family_names="Sol")
    sign_head(session, passphrase=PASSPHRASE, now=utcnow())
    session.commit()

    head = client.get("/api/v1/audit/heads/latest").json()
    auditor = bearer(make_user("auditor"))
    entry = client.get("/api/v1/audit/entries/1", headers=auditor).json()
    proof = client.get("/api/v1/audit/proofs/inclusion", params={"leaf": 1, "size": head["size"]}).json()
    assert verify_inclusion(
        1, head["size"], leaf_hash(entry["entry"].encode()), [bytes.fromhex(p) for p in proof["path"]],
        bytes.fromhex(head["root"]),
    )  # fmt: skip
    consistency = client.get("/api/v1/audit/proofs/consistency", params={"first": old.size, "second": head["size"]})
    assert verify_consistency(
        old.size, head["size"], old.root, bytes.fromhex(head["root"]),
        [bytes.fromhex(p) for p in consistency.json()["path"]],
    )  # fmt: skip
    (key,) = client.get("/api/v1/audit/keys").json()
    assert key["kid"] == head["kid"] and key["role"] == "log"

    assert client.get("/api/v1/audit/entries/1").status_code == 401
    assert client.get("/api/v1/audit/entries/1", headers=bearer(make_user("registrar"))).status_code == 403


def test_bad_proof_requests_are_clear_errors(client, session, make_person):
    make_person()
    session.commit()
    assert_problem(client.get("/api/v1/audit/proofs/inclusion", params={"leaf": 99, "size": 1}), 404, "entry_not_found")
    assert_problem(
        client.get("/api/v1/audit/proofs/inclusion", params={"leaf": 0, "size": 999}), 404, "tree_size_unknown"
    )
    assert_problem(
        client.get("/api/v1/audit/proofs/inclusion", params={"leaf": -1, "size": 1}), 422, "validation_failed"
    )
    assert_problem(
        client.get("/api/v1/audit/proofs/consistency", params={"first": 5, "second": 2}), 404, "tree_size_unknown"
    )
    assert_problem(
        client.get("/api/v1/audit/proofs/consistency", params={"first": "x", "second": 2}), 422, "validation_failed"
    )
