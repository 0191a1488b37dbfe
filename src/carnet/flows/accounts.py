"""Account administration with its audit entries: creation, role, disabling, tokens, sessions, unlocking.

`access` is a sink and writes no audit entry itself; each use case here changes the account and appends
its entry to the audit log in the caller's transaction, so the change and its record commit together.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from carnet.access import service as access
from carnet.access import throttle
from carnet.access.models import ApiToken, User
from carnet.access.policy import Permission, Purpose, has_permission
from carnet.audit.service import record_change
from carnet.kit.actor import Actor
from carnet.kit.errors import FieldError, ValidationFailed


def create_staff_account(session: Session, *, actor: Actor, now: datetime, **fields: Any) -> User:
    """An account made by an admin (never a citizen's: those are made by the person), audited."""
    user = access.create_user(session, created_via="admin", created_by=actor.user_id, now=now, **fields)
    record_change(session, actor=actor, what="account.create",
                  details=access.account_details(user) | access.origin_details(user), now=now)  # fmt: skip
    return user


def issue_token(
    session: Session, *, user: User, name: str, ttl: timedelta, request_id: str, now: datetime
) -> tuple[ApiToken, str]:
    """A bearer token for a signed-in user; its issue is audited (never its secret)."""
    token, secret = access.issue_api_token(session, user=user, name=name, now=now, ttl=ttl)
    actor = access.actor_for(user, request_id=request_id, purpose=Purpose.ACCOUNT_ADMINISTRATION.value)
    record_change(session, actor=actor, what="token.issue", details=_token_details(token.id, user, token.expires_at),
                  now=now)  # fmt: skip
    return token, secret


def open_session(session: Session, *, user: User, lifetime: timedelta, request_id: str, now: datetime) -> str:
    """A web session for a signed-in user; its opening is audited. Returns the cookie value."""
    cookie = access.open_web_session(session, user=user, now=now, lifetime=lifetime)
    actor = access.actor_for(user, request_id=request_id, purpose=Purpose.ACCOUNT_ADMINISTRATION.value)
    record_change(session, actor=actor, what="session.open",
                  details={"user": str(user.id), "role": user.role, "expires_at": (now + lifetime).isoformat()},
                  now=now)  # fmt: skip
    return cookie


def revoke_credential(
    session: Session, *, actor: Actor, credential_id: uuid.UUID, now: datetime, any_account: bool | None = None
) -> dict[str, Any]:
    """Revoke one of the actor's tokens or sessions, or anyone's for an account manager (or the console); audited."""
    if any_account is None:
        any_account = has_permission(actor.role, Permission.USERS_MANAGE)
    row, owner = access.revoke_credential(
        session, credential_id=credential_id, user_id=None if any_account else actor.user_id, now=now
    )
    details = _token_details(row.id, owner, row.expires_at) | {"by_owner": owner.id == actor.user_id}
    record_change(session, actor=actor, what="token.revoke", details=details, now=now)
    return {"id": row.id, "revoked_at": row.revoked_at}


def disable_account(session: Session, *, actor: Actor, username: str, now: datetime) -> int:
    """Disable an account and revoke its tokens and sessions; audited. Returns how many were live."""
    user = access.user_named(session, username)
    revoked = access.disable_user(session, user=user, by=actor.user_id, now=now)
    record_change(session, actor=actor, what="account.disable",
                  details=access.account_details(user) | {"revoked": revoked}, now=now)  # fmt: skip
    return revoked


def enable_account(session: Session, *, actor: Actor, username: str, now: datetime) -> User:
    """Enable a disabled account; audited."""
    user = access.user_named(session, username)
    access.enable_user(session, user=user)
    record_change(session, actor=actor, what="account.enable", details=access.account_details(user), now=now)
    return user


def change_role(session: Session, *, actor: Actor, username: str, role: str, now: datetime) -> User:
    """Give a staff account another role; audited with the old and the new role."""
    user = access.user_named(session, username)
    old = access.change_role(session, user=user, role=role, by=actor.user_id)
    record_change(session, actor=actor, what="account.role",
                  details=access.account_details(user) | {"previous_role": old}, now=now)  # fmt: skip
    return user


def unlock(
    session: Session,
    *,
    actor: Actor,
    username: str | None = None,
    card: str | None = None,
    address: str | None = None,
    now: datetime,
) -> bool:
    """Lift the back-off and lock-out of an account, a card or a client address; audited (by hash only)."""
    given = [(kind, value) for kind, value in (("account", username), ("card", card), ("address", address)) if value]
    if len(given) != 1:
        raise ValidationFailed(
            "name exactly one of username, card or address to unlock",
            [FieldError("username", "one_key_required", "exactly one of username, card, address")],
        )
    key = throttle.ThrottleKey(*given[0])
    lifted = throttle.unlock(session, key)
    # The audit log names the key by its hash, as the counter table does: no username or address in clear.
    record_change(session, actor=actor, what="throttle.unlock",
                  details={"kind": key.kind, "key": key.digest, "lifted": lifted}, now=now)  # fmt: skip
    return lifted


def _token_details(token_id: uuid.UUID, user: User, expires_at: datetime | None) -> dict[str, Any]:
    return {"token": str(token_id), "user": str(user.id), "role": user.role,
            "expires_at": expires_at.isoformat() if expires_at else None}  # fmt: skip
