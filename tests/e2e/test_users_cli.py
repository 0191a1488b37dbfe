"""`carnet users disable|enable|tokens|revoke|unlock|role`, end to end on a fresh store: thin, audited, clear."""

from __future__ import annotations

import json
import re

from carnet.access import service as access
from carnet.access.throttle import Throttle, account_key, policy_from
from carnet.audit.models import AuditEntry
from carnet.cli import common
from carnet.config import get_settings
from carnet.kit.clock import utcnow
from tests.e2e.test_cli import carnet, store  # noqa: F401  (the fixture)

PASSWORD = "a long enough secret"


def sign_in(username: str) -> str:
    with common.transaction() as session:
        user = access.authenticate(session, username=username, password=PASSWORD)
        _, secret = access.issue_api_token(session, user=user, name="cli-test", now=utcnow())
    return secret


def changes() -> list[str]:
    with common.transaction() as session:
        return [json.loads(e.body)["what"] for e in session.query(AuditEntry).filter_by(entry_type="change")]


def test_a_citizen_account_cannot_be_added_from_the_console(store):  # noqa: F811
    carnet("init")
    result = carnet("users", "add", "spy", "--role", "citizen", "--password", PASSWORD, ok=False)
    assert result.exit_code == 2 and "citizen_account_by_person_only" in result.output
    assert "Traceback" not in result.output


def test_disable_list_revoke_enable_role_each_audited(store):  # noqa: F811
    carnet("init")
    carnet("users", "add", "ana", "--role", "registrar", "--password", PASSWORD)
    secret = sign_in("ana")
    listed = carnet("users", "tokens", "ana").output
    assert "live" in listed and secret not in listed
    token_id = re.search(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", listed).group(0)
    assert "Revoked" in carnet("users", "revoke", token_id).output
    again = carnet("users", "revoke", token_id, ok=False)
    assert again.exit_code == 2 and "token_already_revoked" in again.output

    sign_in("ana")
    assert "1 tokens and sessions revoked" in carnet("users", "disable", "ana").output
    with common.transaction() as session:
        assert access.user_named(session, "ana").is_active is False
    assert "already_disabled" in carnet("users", "disable", "ana", ok=False).output
    assert "Enabled ana." in carnet("users", "enable", "ana").output
    assert "ana now has the role auditor." in carnet("users", "role", "ana", "auditor").output
    assert "citizen_account_by_person_only" in carnet("users", "role", "ana", "citizen", ok=False).output
    assert "user_not_found" in carnet("users", "disable", "nobody", ok=False).output
    assert {"account.create", "token.revoke", "account.disable", "account.enable", "account.role"} <= set(changes())


def test_unlock_lifts_a_lock_out(store):  # noqa: F811
    carnet("init")
    carnet("users", "add", "ana", "--role", "registrar", "--password", PASSWORD)
    throttle = Throttle(common.session_factory(), policy_from(get_settings()))
    for _ in range(10):
        throttle.failed([account_key("ana")], now=utcnow())
    assert "Unlocked." in carnet("users", "unlock", "ana").output
    assert "Nothing was locked." in carnet("users", "unlock", "ana").output
    assert "one_key_required" in carnet("users", "unlock", ok=False).output
    assert "throttle.unlock" in changes()
