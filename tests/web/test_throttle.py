"""Throttling and lock-out (issue 10, finding 3): wrong passwords, password spraying, card PINs and forged
cards, answered the same whether or not the account exists, with counters that survive the request's rollback."""

from __future__ import annotations

import json

import pytest
from argon2 import PasswordHasher
from fastapi.testclient import TestClient
from sqlalchemy import select

from carnet.access import service as access_service
from carnet.access.models import ThrottleCounter
from carnet.audit.models import AuditEntry
from tests.conftest import count_rows
from tests.web.conftest import PASSWORD, bearer

KEY_PASSPHRASE = "una frase de paso larga"
ROUTES = ["/api/v1/auth/tokens", "/api/v1/auth/session"]


def configure(client, **settings):
    """New throttle settings for the app (the throttle is rebuilt from them on next use)."""
    client.app.state.settings = client.app.state.settings.model_copy(update=settings)
    client.app.state.throttle = None


@pytest.fixture()
def no_backoff(client):
    """Lock-out only, no back-off: a test can make many attempts without waiting."""
    configure(client, throttle_base_delay_seconds=0)


def attempt(client, route, username, password):
    response = client.post(route, json={"username": username, "password": password})
    client.cookies.clear()
    return response


def other_client(client):
    """A client of the same app from another address."""
    return TestClient(client.app, client=("198.51.100.20", 40000))


class TestOneAccount:
    @pytest.mark.parametrize("route", ROUTES)
    def test_fifty_wrong_passwords_lock_the_account_even_for_the_right_one(
        self, client, session, make_user, no_backoff, route
    ):
        make_user("registrar", username="clerk")
        codes = [attempt(client, route, "clerk", f"wrong-{i}").status_code for i in range(50)]
        assert codes[:10] == [401] * 10 and set(codes[10:]) == {429}
        right = attempt(client, route, "clerk", PASSWORD)
        assert right.status_code == 429 and right.json()["code"] == "locked_out"
        assert int(right.headers["retry-after"]) >= 1
        assert count_rows(session, "api_tokens") == 1 and count_rows(session, "web_sessions") == 0
        # Refused attempts are not checked at all: the lock-out is the tenth failure, not the fiftieth.
        assert count_rows(session, "throttle_counters", "kind = 'account' AND failures = 10") == 1
        # From another address too: the account itself is locked.
        assert attempt(other_client(client), route, "clerk", PASSWORD).status_code == 429

    def test_back_off_starts_after_three_failures_with_retry_after(self, client, make_user):
        make_user("registrar", username="clerk")
        for i in range(3):
            assert attempt(client, ROUTES[0], "clerk", f"wrong-{i}").status_code == 401
        held = attempt(client, ROUTES[0], "clerk", PASSWORD)
        assert held.status_code == 429 and held.json()["code"] == "too_many_attempts"
        assert held.headers["retry-after"] == "2" and held.json()["retry_after"] == 2

    def test_a_success_before_the_threshold_starts_the_count_again(self, client, make_user):
        make_user("registrar", username="clerk")
        for _ in range(2):
            attempt(client, ROUTES[0], "clerk", "wrong-password")
        assert attempt(client, ROUTES[0], "clerk", PASSWORD).status_code == 201
        for _ in range(2):
            assert attempt(client, ROUTES[0], "clerk", "wrong-password").status_code == 401
        assert attempt(client, ROUTES[0], "clerk", PASSWORD).status_code == 201

    def test_a_registrar_unlocks_the_account_audited(self, client, session, make_user, no_backoff):
        make_user("registrar", username="clerk")
        office = bearer(make_user("registrar", username="taquilla"))
        for i in range(10):
            attempt(client, ROUTES[0], "clerk", f"wrong-{i}")
        assert attempt(client, ROUTES[0], "clerk", PASSWORD).status_code == 429
        agent = bearer(make_user("agent"))
        assert client.post("/api/v1/users/unlock", json={"username": "clerk"}, headers=agent).status_code == 403
        unlocked = client.post("/api/v1/users/unlock", json={"username": "clerk"}, headers=office)
        assert unlocked.status_code == 200 and unlocked.json() == {"lifted": True}
        assert attempt(client, ROUTES[0], "clerk", PASSWORD).status_code == 201
        entries = [
            json.loads(e.body) for e in session.scalars(select(AuditEntry).where(AuditEntry.entry_type == "change"))
        ]
        (unlock,) = [e for e in entries if e["what"] == "throttle.unlock"]
        assert unlock["details"]["kind"] == "account" and "clerk" not in json.dumps(unlock)
        nothing = client.post("/api/v1/users/unlock", json={"username": "clerk"}, headers=office)
        assert nothing.json() == {"lifted": False}
        two = client.post("/api/v1/users/unlock", json={"username": "clerk", "address": "1.2.3.4"}, headers=office)
        assert two.status_code == 422


class TestNoEnumeration:
    @pytest.mark.parametrize("route", ROUTES)
    def test_unknown_and_known_usernames_get_identical_answers(self, client, make_user, no_backoff, route):
        make_user("registrar", username="clerk")

        def shape(response):
            body = {k: v for k, v in response.json().items() if k != "request_id"}
            headers = {k: v for k, v in response.headers.items() if k.lower() not in ("x-request-id", "content-length")}
            return response.status_code, body, headers

        answers = {}
        for username in ("clerk", "nobody-here"):
            answers[username] = [shape(attempt(client, route, username, f"wrong-{i}")) for i in range(12)]
            # The address counter is not what is compared here: start it again for the second username.
            client.app.state.throttle = None
            with client.app.state.session_factory() as own:
                own.query(ThrottleCounter).filter(ThrottleCounter.kind == "address").delete()
                own.commit()
        assert answers["clerk"] == answers["nobody-here"]
        assert [a[0] for a in answers["clerk"]] == [401] * 10 + [429] * 2

    def test_an_unknown_username_costs_one_argon2_verification_like_a_known_one(self, client, make_user, monkeypatch):
        make_user("registrar", username="clerk")
        verified = []

        class CountingHasher(PasswordHasher):
            def verify(self, hash_, password):  # type: ignore[no-untyped-def, override]
                verified.append(hash_ == access_service._DUMMY_HASH)
                return super().verify(hash_, password)

        monkeypatch.setattr(access_service, "_hasher", CountingHasher(time_cost=3, memory_cost=65536, parallelism=4))
        attempt(client, ROUTES[0], "clerk", "wrong-password")
        attempt(client, ROUTES[0], "nobody-here", "wrong-password")
        assert verified == [False, True]


class TestSpraying:
    def test_one_address_trying_ten_accounts_is_locked_out(self, client, make_user, no_backoff):
        for n in range(11):
            make_user("registrar", username=f"clerk-{n}")
        codes = []
        for n in range(10):
            for guess in ("Password1!", "Caracas2026"):
                codes.append(attempt(client, ROUTES[0], f"clerk-{n}", guess).status_code)
        assert codes == [401] * 20
        sprayed = attempt(client, ROUTES[0], "clerk-10", PASSWORD)
        assert sprayed.status_code == 429 and sprayed.json()["code"] == "locked_out"
        # No single account reached its own lock-out; another address signs in.
        assert attempt(other_client(client), ROUTES[0], "clerk-10", PASSWORD).status_code == 201
        assert attempt(other_client(client), ROUTES[1], "clerk-3", PASSWORD).status_code == 204


class TestCards:
    @pytest.fixture()
    def carded(self, client, make_user, make_person):
        configure(client, key_passphrase=KEY_PASSPHRASE, pin_hash_memory_kib=64, throttle_base_delay_seconds=0)
        office = bearer(make_user("registrar"))
        person = make_person()
        issued = client.post(f"/api/v1/persons/{person['id']}/cards", json={}, headers=office).json()
        return issued["credential"], issued["pin"]

    def test_wrong_pins_lock_the_card_even_for_the_right_pin(self, client, session, carded):
        credential, pin = carded
        wrong = "000000" if pin != "000000" else "111111"

        def make(p):
            body = {"credential": credential, "pin": p, "username": "maria", "password": "mi-clave-secreta"}
            return client.post("/api/v1/auth/card-account", json=body)

        codes = [make(wrong).status_code for _ in range(12)]
        assert codes == [401] * 10 + [429] * 2
        assert make(pin).status_code == 429
        assert count_rows(session, "users", "role = 'citizen'") == 0
        # Another address cannot go on guessing this card either.
        body = {"credential": credential, "pin": pin, "username": "maria", "password": "mi-clave-secreta"}
        assert other_client(client).post("/api/v1/auth/card-account", json=body).status_code == 429

    def test_a_flood_of_forged_cards_backs_off_the_address(self, client, make_user, carded):
        credential, _ = carded
        point = bearer(make_user("agent"))
        forged = credential[:-4] + ("AAAA" if not credential.endswith("AAAA") else "BBBB")
        codes = [client.post("/api/v1/cards/verify", json={"credential": forged}, headers=point).status_code
                 for _ in range(21)]  # fmt: skip
        assert codes == [200] * 20 + [429]
        honest = client.post("/api/v1/cards/verify", json={"credential": credential}, headers=point)
        assert honest.status_code == 429
        elsewhere = other_client(client).post("/api/v1/cards/verify", json={"credential": credential}, headers=point)
        assert elsewhere.status_code == 200 and elsewhere.json()["code"] == "valid"
