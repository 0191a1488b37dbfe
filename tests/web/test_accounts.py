"""Accounts that cannot be used to read unseen (issue 10, findings 2 and 4): citizen accounts only by the
person, one per person, every account change audited, tokens listed, revoked, expiring, never in a URL."""

from __future__ import annotations

import json
import logging
import uuid
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError

from carnet.access.models import User
from carnet.audit.models import AuditEntry
from carnet.kit.clock import utcnow
from tests.conftest import count_rows
from tests.web.conftest import PASSWORD, PROBLEM_JSON, bearer

KEY_PASSPHRASE = "una frase de paso larga"
CHOSEN = "mi-clave-secreta-2026"


@pytest.fixture()
def office(client, make_user, session):
    """A registrar at 'Oficina Caracas' who can issue cards (the store's keys need a passphrase)."""
    client.app.state.settings = client.app.state.settings.model_copy(
        update={"key_passphrase": KEY_PASSPHRASE, "pin_hash_memory_kib": 64}
    )
    token = make_user("registrar", username="taquilla")
    session.execute(text("UPDATE users SET office = 'Oficina Caracas' WHERE username = 'taquilla'"))
    session.commit()
    return bearer(token)


@pytest.fixture()
def carded(client, office, make_person):
    """A person holding a card: (person, the card's QR text, its PIN)."""
    person = make_person()
    issued = client.post(f"/api/v1/persons/{person['id']}/cards", json={}, headers=office)
    assert issued.status_code == 201, issued.text
    return person, issued.json()["credential"], issued.json()["pin"]


@pytest.fixture()
def admin(make_user):
    return bearer(make_user("admin", username="root-admin"))


def changes(session, what):
    """The audit log's change entries of one kind, as dicts."""
    rows = session.scalars(select(AuditEntry).where(AuditEntry.entry_type == "change").order_by(AuditEntry.leaf_index))
    return [body for body in (json.loads(r.body) for r in rows) if body["what"] == what]


def sign_in(client, username, password=CHOSEN):
    response = client.post("/api/v1/auth/tokens", json={"username": username, "password": password})
    assert response.status_code == 201, response.text
    return bearer(response.json()["access_token"])


def self_made(client, credential, pin, username="maria", password=CHOSEN):
    body = {"credential": credential, "pin": pin, "username": username, "password": password}
    return client.post("/api/v1/auth/card-account", json=body)


class TestNoCitizenAccountByAnAdmin:
    def test_an_admin_cannot_make_a_citizen_account_for_someone(self, client, session, admin, make_person):
        person = make_person()
        before = count_rows(session, "users")
        body = {"username": "spy", "password": PASSWORD, "role": "citizen", "person_id": str(person["id"])}
        response = client.post("/api/v1/users", json=body, headers=admin)
        assert response.status_code == 403
        assert response.headers["content-type"].startswith(PROBLEM_JSON)
        assert response.json()["code"] == "citizen_account_by_person_only"
        assert count_rows(session, "users") == before

    def test_an_admin_cannot_turn_a_staff_account_into_a_citizen(self, client, session, admin, make_user):
        make_user("merchant", username="tienda")
        response = client.put("/api/v1/users/tienda/role", json={"role": "citizen"}, headers=admin)
        assert response.status_code == 403 and response.json()["code"] == "citizen_account_by_person_only"
        assert session.scalars(select(User.role).where(User.username == "tienda")).one() == "merchant"

    def test_a_staff_account_cannot_be_linked_to_a_person(self, client, admin, make_person):
        body = {"username": "linked", "password": PASSWORD, "role": "registrar", "person_id": str(make_person()["id"])}
        response = client.post("/api/v1/users", json=body, headers=admin)
        assert response.status_code == 422
        assert [e["code"] for e in response.json()["errors"]] == ["not_a_citizen"]

    def test_the_database_refuses_an_admin_made_citizen(self, session, make_person):
        person = make_person()
        with pytest.raises(IntegrityError), session.begin_nested():
            session.add(User(id=uuid.uuid4(), username="direct", display_name="d", role="citizen",
                             password_hash="x", person_id=person["id"], is_active=True, created_at=utcnow(),
                             created_via="admin"))  # fmt: skip
            session.flush()


class TestTheirOwnAccount:
    def test_the_person_makes_their_account_with_card_and_pin_and_reads_their_record(self, client, session, carded):
        person, credential, pin = carded
        made = self_made(client, credential, pin)
        assert made.status_code == 201, made.text
        assert made.json()["created_via"] == "self_card_pin" and made.json()["role"] == "citizen"
        mine = sign_in(client, "maria")
        record = client.get("/api/v1/me", headers=mine)
        assert record.status_code == 200 and record.json()["id"] == str(person["id"])
        (created,) = changes(session, "account.create")[-1:]
        assert created["details"]["created_via"] == "self_card_pin" and created["details"]["created_by"] is None

        entries = client.get("/api/v1/me/access-log", headers=mine).json()["entries"]
        making = [e for e in entries if e["fields"] == ["citizen_account"]]
        assert [(e["action"], e["role"], e["purpose"]) for e in making] == [
            ("create", "citizen", "account_administration")
        ]
        read = next(e for e in entries if e["purpose"] == "data_subject_access")
        assert read["account"]["username"] == "maria" and read["account"]["role"] == "citizen"
        assert read["account"]["created_via"] == "self_card_pin" and read["account"]["created_by"] is None

    @pytest.mark.parametrize("case", ["wrong_pin", "forged_card", "revoked_card"])
    def test_a_wrong_pin_or_a_bad_card_answers_the_same_401(self, client, session, office, carded, case):
        person, credential, pin = carded
        if case == "wrong_pin":
            pin = "000000" if pin != "000000" else "111111"
        elif case == "forged_card":
            credential = credential[:-6] + ("AAAAAA" if not credential.endswith("AAAAAA") else "BBBBBB")
        else:
            number = client.get(f"/api/v1/persons/{person['id']}/cards", headers=office).json()[0]["number"]
            client.post(f"/api/v1/cards/{number}/revocation", json={"reason": "lost"}, headers=office)
        before = count_rows(session, "users")
        response = self_made(client, credential, pin)
        assert response.status_code == 401
        assert (response.json()["code"], response.json()["detail"]) == (
            "bad_card_or_pin",
            "the card or the PIN was not accepted",
        )
        assert count_rows(session, "users") == before

    def test_a_second_account_for_the_same_person_is_refused(self, client, session, office, carded):
        _person, credential, pin = carded
        assert self_made(client, credential, pin).status_code == 201
        again = self_made(client, credential, pin, username="maria-2")
        assert again.status_code == 409 and again.json()["code"] == "citizen_account_exists"
        body = {"credential": credential, "username": "maria-3", "password": CHOSEN}
        at_office = client.post("/api/v1/users/citizen", json=body, headers=office)
        assert at_office.status_code == 409 and at_office.json()["code"] == "citizen_account_exists"
        assert count_rows(session, "users", "person_id IS NOT NULL") == 1

    def test_the_database_holds_one_account_per_person(self, session, carded):
        person, _, _ = carded
        for name in ("first", "second"):
            user = User(id=uuid.uuid4(), username=name, display_name=name, role="citizen",
                        password_hash="x", person_id=person["id"], is_active=True, created_at=utcnow(),
                        created_via="office")  # fmt: skip
            if name == "first":
                session.add(user)
                session.flush()
                continue
            with pytest.raises(IntegrityError), session.begin_nested():
                session.add(user)
                session.flush()


class TestAtTheOffice:
    def test_a_registrar_makes_the_account_and_the_log_names_who_and_where(self, client, session, office, carded):
        person, credential, _ = carded
        body = {"credential": credential, "username": "maria", "password": CHOSEN}
        made = client.post("/api/v1/users/citizen", json=body, headers=office)
        assert made.status_code == 201, made.text
        assert (made.json()["created_via"], made.json()["created_office"]) == ("office", "Oficina Caracas")
        mine = sign_in(client, "maria")
        client.get("/api/v1/me", headers=mine)
        entries = client.get("/api/v1/me/access-log", headers=mine).json()["entries"]
        making = next(e for e in entries if e["fields"] == ["citizen_account"])
        assert (making["role"], making["office"], making["account"]["username"]) == (
            "registrar",
            "Oficina Caracas",
            "taquilla",
        )
        read = next(e for e in entries if e["purpose"] == "data_subject_access")
        assert read["account"] == read["account"] | {
            "username": "maria",
            "role": "citizen",
            "created_via": "office",
            "created_by": {"username": "taquilla", "role": "registrar"},
            "created_office": "Oficina Caracas",
        }
        # The office answering a person's request sees the same names.
        staff_view = client.get(f"/api/v1/persons/{person['id']}/access-log", headers=office).json()["entries"]
        assert any(e["account"] and e["account"]["created_by"] == {"username": "taquilla", "role": "registrar"}
                   for e in staff_view)  # fmt: skip

    def test_a_revoked_card_is_refused_at_the_office(self, client, session, office, carded):
        person, credential, _ = carded
        number = client.get(f"/api/v1/persons/{person['id']}/cards", headers=office).json()[0]["number"]
        client.post(f"/api/v1/cards/{number}/revocation", json={"reason": "stolen"}, headers=office)
        body = {"credential": credential, "username": "maria", "password": CHOSEN}
        response = client.post("/api/v1/users/citizen", json=body, headers=office)
        assert response.status_code == 422
        assert response.json()["errors"][0]["field"] == "credential"
        assert response.json()["errors"][0]["code"] == "card_not_valid"

    def test_a_registrar_of_another_region_does_not_find_the_card(self, client, make_user, carded):
        _, credential, _ = carded
        zulia = bearer(make_user("registrar", region_code="VE-V"))
        body = {"credential": credential, "username": "maria", "password": CHOSEN}
        response = client.post("/api/v1/users/citizen", json=body, headers=zulia)
        assert response.status_code == 404

    def test_an_admin_has_no_office_route_to_citizen_accounts(self, client, admin, carded):
        _, credential, _ = carded
        body = {"credential": credential, "username": "maria", "password": CHOSEN}
        assert client.post("/api/v1/users/citizen", json=body, headers=admin).status_code == 403


class TestTokens:
    def test_i_list_my_tokens_without_their_secrets(self, client, make_user):
        make_user("registrar", username="clerk")
        mine = sign_in(client, "clerk", PASSWORD)
        listed = client.get("/api/v1/auth/tokens", headers=mine)
        assert listed.status_code == 200
        rows = listed.json()
        assert len(rows) == 2 and {r["kind"] for r in rows} == {"token"}
        assert all(set(r) == {"id", "kind", "name", "created_at", "expires_at", "last_used_at", "revoked_at", "live"}
                   for r in rows)  # fmt: skip
        assert any(r["last_used_at"] for r in rows)
        assert mine["Authorization"].split()[1] not in listed.text

    def test_tokens_expire_staff_after_12_hours_and_citizens_sooner(self, client, carded):
        _, credential, pin = carded
        self_made(client, credential, pin)
        token = client.post("/api/v1/auth/tokens", json={"username": "maria", "password": CHOSEN}).json()
        lifetime = datetime.fromisoformat(token["expires_at"]) - utcnow()
        assert timedelta(hours=1) < lifetime <= timedelta(hours=2)
        clerk = client.post("/api/v1/auth/tokens", json={"username": "taquilla", "password": PASSWORD}).json()
        assert timedelta(hours=11) < datetime.fromisoformat(clerk["expires_at"]) - utcnow() <= timedelta(hours=12)

    def test_an_expired_token_is_refused(self, client, session, make_user):
        token = make_user("registrar", username="clerk")
        session.execute(text("UPDATE api_tokens SET expires_at = :past"), {"past": utcnow() - timedelta(minutes=1)})
        session.commit()
        response = client.get("/api/v1/persons", headers=bearer(token))
        assert response.status_code == 401 and response.json()["code"] == "invalid_token"

    def test_i_revoke_my_token_and_it_stops_working_audited(self, client, session, make_user):
        make_user("registrar", username="clerk")
        mine = sign_in(client, "clerk", PASSWORD)
        other = sign_in(client, "clerk", PASSWORD)
        listed = client.get("/api/v1/auth/tokens", headers=mine).json()
        # Newest first: the second sign-in, the first, the fixture's token.
        target = listed[1]["id"]
        revoked = client.delete(f"/api/v1/auth/tokens/{target}", headers=other)
        assert revoked.status_code == 200 and revoked.json()["id"] == target
        refused = client.get("/api/v1/persons", headers=mine)
        assert refused.status_code == 401 and refused.json()["code"] == "invalid_token"
        assert client.get("/api/v1/persons", headers=other).status_code == 200
        assert changes(session, "token.revoke")[-1]["details"]["token"] == target
        again = client.delete(f"/api/v1/auth/tokens/{target}", headers=other)
        assert again.status_code == 409 and again.json()["code"] == "token_already_revoked"
        state = {r["id"]: r["live"] for r in client.get("/api/v1/auth/tokens", headers=other).json()}
        assert state[target] is False

    def test_someone_elses_token_is_not_found_but_an_admin_revokes_it(self, client, session, admin, make_user):
        victim = make_user("registrar", username="clerk")
        stranger = bearer(make_user("agent", username="agent-x"))
        token_id = session.execute(
            text("SELECT t.id FROM api_tokens t JOIN users u ON u.id = t.user_id WHERE u.username = 'clerk'")
        ).scalar_one()
        token_id = str(uuid.UUID(str(token_id)))
        refused = client.delete(f"/api/v1/auth/tokens/{token_id}", headers=stranger)
        assert refused.status_code == 404 and refused.json()["code"] == "token_not_found"
        assert client.get("/api/v1/persons", headers=bearer(victim)).status_code == 200
        listed = client.get("/api/v1/users/clerk/tokens", headers=admin).json()
        assert [r["id"] for r in listed] == [token_id]
        assert client.delete(f"/api/v1/auth/tokens/{token_id}", headers=admin).status_code == 200
        assert client.get("/api/v1/persons", headers=bearer(victim)).status_code == 401
        entry = changes(session, "token.revoke")[-1]
        assert entry["actor"]["role"] == "admin" and entry["details"]["by_owner"] is False

    @pytest.mark.parametrize("parameter", ["token", "access_token"])
    def test_a_token_in_the_url_is_refused(self, client, make_user, parameter, caplog):
        # The test client's own request log would print the URL this test builds on purpose; the server's
        # logs stay under the secrets scan (and redact query strings).
        caplog.set_level(logging.WARNING, logger="httpx")
        token = make_user("registrar", username="clerk")
        response = client.get(f"/api/v1/persons?{parameter}={token}")
        assert response.status_code == 400 and response.json()["code"] == "credentials_in_url"
        both = client.get(f"/api/v1/persons?{parameter}={token}", headers=bearer(token))
        assert both.status_code == 400
        signing_in = client.post(f"/api/v1/auth/tokens?{parameter}=x", json={"username": "clerk", "password": PASSWORD})
        assert signing_in.status_code == 400


class TestDisable:
    def test_disabling_revokes_tokens_and_sessions_and_is_audited(self, client, session, admin, make_user):
        token = make_user("registrar", username="leaver")
        assert client.post("/api/v1/auth/session", json={"username": "leaver", "password": PASSWORD}).status_code == 204
        client.cookies.clear()
        disabled = client.post("/api/v1/users/leaver/disable", headers=admin)
        assert disabled.status_code == 200, disabled.text
        assert disabled.json()["revoked"] == 2 and disabled.json()["user"]["is_active"] is False
        assert disabled.json()["user"]["disabled_at"]
        response = client.get("/api/v1/persons", headers=bearer(token))
        assert response.status_code == 401 and response.json()["code"] == "invalid_token"
        assert count_rows(session, "web_sessions", "revoked_at IS NULL") == 0
        refused = client.post("/api/v1/auth/tokens", json={"username": "leaver", "password": PASSWORD})
        assert refused.status_code == 401 and refused.json()["code"] == "bad_credentials"
        assert changes(session, "account.disable")[-1]["details"]["revoked"] == 2

        enabled = client.post("/api/v1/users/leaver/enable", headers=admin)
        assert enabled.status_code == 200 and enabled.json()["is_active"] is True
        assert client.get("/api/v1/persons", headers=bearer(token)).status_code == 401
        assert client.get("/api/v1/persons", headers=sign_in(client, "leaver", PASSWORD)).status_code == 200
        assert len(changes(session, "account.enable")) == 1

    def test_an_admin_cannot_disable_themselves(self, client, admin):
        response = client.post("/api/v1/users/root-admin/disable", headers=admin)
        assert response.status_code == 409 and response.json()["code"] == "cannot_disable_self"

    def test_only_an_admin_disables(self, client, make_user):
        make_user("registrar", username="leaver")
        other = bearer(make_user("registrar"))
        assert client.post("/api/v1/users/leaver/disable", headers=other).status_code == 403


class TestAuditedChanges:
    def test_each_account_change_writes_an_audit_entry(self, client, session, admin, make_user):
        created = client.post("/api/v1/users", json={"username": "nuevo", "password": PASSWORD, "role": "agent"},
                              headers=admin)  # fmt: skip
        assert created.status_code == 201 and created.json()["created_via"] == "admin"
        entry = changes(session, "account.create")[-1]
        assert entry["details"]["created_via"] == "admin" and entry["details"]["created_by"] == entry["actor"]["user"]
        role = client.put("/api/v1/users/nuevo/role", json={"role": "auditor"}, headers=admin)
        assert role.status_code == 200 and role.json()["role"] == "auditor"
        details = changes(session, "account.role")[-1]["details"]
        assert (details["role"], details["previous_role"]) == ("auditor", "agent")
        sign_in(client, "nuevo", PASSWORD)
        issued = changes(session, "token.issue")[-1]
        assert issued["details"]["role"] == "auditor" and "access_token" not in json.dumps(issued)
        client.post("/api/v1/users/nuevo/disable", headers=admin)
        client.post("/api/v1/users/nuevo/enable", headers=admin)
        assert [len(changes(session, w)) for w in ("account.disable", "account.enable")] == [1, 1]
