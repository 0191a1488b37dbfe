"""Cards over HTTP: published keys and lists anyone can use, verification for points, issue and revoke for offices."""

from __future__ import annotations

import pytest

from carnet.credentials.cose import decode_sign1
from carnet.credentials.credential import credential_bytes
from carnet.credentials.cwt import decode_claims
from carnet.credentials.keyset import parse_cose_key_set, parse_jwks
from carnet.credentials.statuslist import decode_status_list
from tests.web.conftest import bearer

PASSPHRASE = "una frase de paso larga"


@pytest.fixture()
def office(client, make_user, monkeypatch):
    client.app.state.settings = client.app.state.settings.model_copy(
        update={"key_passphrase": PASSPHRASE, "pin_hash_memory_kib": 64}
    )
    return bearer(make_user("registrar"))


def issue(client, office, person_id, **body):
    return client.post(f"/api/v1/persons/{person_id}/cards", json=body, headers=office)


class TestIssueAndVerify:
    def test_an_office_issues_a_card_a_point_verifies_it_and_a_revocation_reaches_it(
        self, client, office, make_person, make_user
    ):
        person = make_person()
        issued = issue(client, office, person["id"])
        assert issued.status_code == 201, issued.text
        body = issued.json()
        assert len(body["pin"]) == 6 and body["pin"].isdigit() and body["credential"].startswith("CN1:")
        assert "pin_hash" not in body["card"] and body["card"]["status"] == "active"
        point = bearer(make_user("agent"))
        checked = client.post("/api/v1/cards/verify", json={"credential": body["credential"]}, headers=point)
        assert checked.status_code == 200 and checked.json()["code"] == "valid"
        assert checked.json()["card_number"] == body["card"]["number"]

        number = body["card"]["number"].replace(" ", "")
        revoked = client.post(f"/api/v1/cards/{number}/revocation", json={"reason": "lost"}, headers=office)
        assert revoked.status_code == 200 and revoked.json()["revocation_reason"] == "lost"
        again = client.post("/api/v1/cards/verify", json={"credential": body["credential"]}, headers=point)
        assert again.json()["code"] == "revoked"
        twice = client.post(f"/api/v1/cards/{number}/revocation", json={"reason": "lost"}, headers=office)
        assert twice.status_code == 409 and twice.json()["code"] == "card_already_revoked"

    def test_one_card_per_person_and_reissue(self, client, office, make_person):
        person = make_person()
        first = issue(client, office, person["id"]).json()
        refused = issue(client, office, person["id"])
        assert refused.status_code == 409 and refused.json()["code"] == "card_exists"
        second = issue(client, office, person["id"], reissue_reason="stolen")
        assert second.status_code == 201 and second.json()["card"]["replaces"] == first["card"]["number"]
        cards = client.get(f"/api/v1/persons/{person['id']}/cards", headers=office).json()
        assert [(c["status"], c["revocation_reason"]) for c in cards] == [("active", None), ("revoked", "stolen")]
        bad = issue(client, office, person["id"], reissue_reason="upgrade")
        assert bad.status_code == 422

    def test_bad_cards_get_a_verdict_never_an_error(self, client, office, make_user):
        point = bearer(make_user("agent"))
        for text in ("", "CN1:", "HC1:ABC", "CN1:" + "A" * 3000, "CN1:ÄÖÜ", "CN1:%%%%"):
            response = client.post("/api/v1/cards/verify", json={"credential": text}, headers=point)
            assert response.status_code == 200 and response.json()["code"] == "malformed", text
        too_long = client.post("/api/v1/cards/verify", json={"credential": "x" * 5000}, headers=point)
        assert too_long.status_code == 422

    def test_the_person_sees_the_issue_and_the_revocation(self, client, office, make_person, make_user):
        person = make_person()
        body = issue(client, office, person["id"]).json()
        client.post(f"/api/v1/cards/{body['card']['number']}/revocation", json={"reason": "fraud"}, headers=office)
        citizen = bearer(make_user("citizen", person_id=person["id"]))
        entries = client.get("/api/v1/me/access-log", headers=citizen).json()["entries"]
        assert [(e["action"], e["fields"]) for e in entries][1:3] == [("create", ["card"]), ("update", ["card_status"])]


class TestPublished:
    def test_keys_and_status_lists_are_public_and_verify(self, client, office, make_person):
        body = issue(client, office, make_person()["id"]).json()
        cose = client.get("/.well-known/carnet/issuer-keys")
        assert cose.status_code == 200 and cose.headers["content-type"] == "application/cose-key-set"
        jwks = client.get("/.well-known/carnet/jwks.json").json()
        keys = parse_cose_key_set(cose.content)
        assert keys == parse_jwks(jwks) and len(keys) == 1
        list_id = decode_claims(decode_sign1(credential_bytes(body["credential"])).payload).status_list_id
        lists = client.get(f"/api/v1/status-lists/{list_id}")
        assert lists.status_code == 200 and lists.headers["content-type"] == "application/statuslist+cwt"
        assert decode_status_list(lists.content, keys).list_id == list_id
        assert client.get("/api/v1/status-lists/999999").json()["code"] == "status_list_not_found"
        assert body["card"]["kid"] in [k["kid"] for k in jwks["keys"]]

    def test_without_a_passphrase_the_server_says_so(self, client, make_person, make_user):
        office = bearer(make_user("registrar"))
        response = issue(client, office, make_person()["id"])
        assert response.status_code == 400 and response.json()["code"] == "key_passphrase_missing"
