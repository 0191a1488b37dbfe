"""Every query of the access domain."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import and_, delete, or_, select, text, update
from sqlalchemy.orm import Session

from carnet.access.models import ApiToken, ThrottleCounter, User, WebSession
from carnet.db.queries import dialect_insert

# A token's last use is written at most this often, so that reads do not each write a row.
LAST_USED_RESOLUTION_SECONDS = 60


def user_by_username(session: Session, username: str) -> User | None:
    """The user with this username."""
    return session.scalars(select(User).where(User.username == username)).first()


def list_users(session: Session) -> list[User]:
    """Every user, by username."""
    return list(session.scalars(select(User).order_by(User.username)))


def user_by_id(session: Session, user_id: uuid.UUID) -> User | None:
    """The user with this id."""
    return session.get(User, user_id)


def user_of_person(session: Session, person_id: uuid.UUID) -> User | None:
    """The citizen account linked to a registry record."""
    return session.scalars(select(User).where(User.person_id == person_id)).first()


def users_by_ids(session: Session, user_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, User]:
    """The users with these ids, by id."""
    if not user_ids:
        return {}
    return {u.id: u for u in session.scalars(select(User).where(User.id.in_(list(set(user_ids)))))}


def user_by_token_hash(session: Session, token_hash: str, now: datetime) -> User | None:
    """The active user owning a live API token (its last use is noted)."""
    found = session.execute(
        select(User, ApiToken)
        .join(ApiToken, ApiToken.user_id == User.id)
        .where(
            ApiToken.token_hash == token_hash,
            ApiToken.revoked_at.is_(None),
            (ApiToken.expires_at.is_(None)) | (ApiToken.expires_at > now),
            User.is_active.is_(True),
        )
    ).first()
    if found is None:
        return None
    _note_use(session, ApiToken, found[1], now)
    return found[0]


def user_by_session_hash(session: Session, token_hash: str, now: datetime) -> User | None:
    """The active user of a live web session (its last use is noted)."""
    found = session.execute(
        select(User, WebSession)
        .join(WebSession, WebSession.user_id == User.id)
        .where(
            WebSession.token_hash == token_hash,
            WebSession.revoked_at.is_(None),
            WebSession.expires_at > now,
            User.is_active.is_(True),
        )
    ).first()
    if found is None:
        return None
    _note_use(session, WebSession, found[1], now)
    return found[0]


def _note_use(
    session: Session, table: type[ApiToken] | type[WebSession], row: ApiToken | WebSession, now: datetime
) -> None:
    if row.last_used_at is None or (now - row.last_used_at).total_seconds() >= LAST_USED_RESOLUTION_SECONDS:
        session.execute(update(table).where(table.id == row.id).values(last_used_at=now))


def tokens_of(session: Session, user_id: uuid.UUID) -> list[ApiToken]:
    """A user's API tokens, newest first."""
    return list(session.scalars(select(ApiToken).where(ApiToken.user_id == user_id).order_by(ApiToken.id.desc())))


def sessions_of(session: Session, user_id: uuid.UUID) -> list[WebSession]:
    """A user's web sessions, newest first."""
    return list(session.scalars(select(WebSession).where(WebSession.user_id == user_id).order_by(WebSession.id.desc())))


def api_token(session: Session, token_id: uuid.UUID) -> ApiToken | None:
    """The API token with this id."""
    return session.get(ApiToken, token_id)


def web_session(session: Session, session_id: uuid.UUID) -> WebSession | None:
    """The web session with this id."""
    return session.get(WebSession, session_id)


def revoke_all_of(session: Session, user_id: uuid.UUID, now: datetime) -> int:
    """Revoke every live token and session of a user; how many were live."""
    count = 0
    for table in (ApiToken, WebSession):
        result = session.execute(
            update(table).where(table.user_id == user_id, table.revoked_at.is_(None)).values(revoked_at=now)
        )
        count += result.rowcount or 0
    return count


# Throttle counters
def throttle_counters(session: Session, keys: Sequence[tuple[str, str]]) -> list[ThrottleCounter]:
    """The counters of these (kind, key hash) keys that exist."""
    if not keys:
        return []
    condition = or_(*(and_(ThrottleCounter.kind == k, ThrottleCounter.key_hash == h) for k, h in keys))
    return list(
        session.execute(select(ThrottleCounter).where(condition).execution_options(populate_existing=True)).scalars()
    )


def count_throttle_failure(session: Session, kind: str, key_hash: str, now: datetime) -> int:
    """Add one failure to a counter (an upsert: atomic across processes); the new count."""
    insert = dialect_insert(session)
    statement = insert(ThrottleCounter).values(kind=kind, key_hash=key_hash, failures=1, last_failure=now)
    statement = statement.on_conflict_do_update(
        index_elements=["kind", "key_hash"],
        set_={"failures": ThrottleCounter.failures + 1, "last_failure": statement.excluded.last_failure},
    ).returning(ThrottleCounter.failures)
    return session.execute(statement).scalar_one()


def set_throttle_lock(
    session: Session,
    kind: str,
    key_hash: str,
    *,
    failures: int,
    locked_until: datetime | None,
    locked_out_at: datetime | None,
) -> None:
    """Set a counter's back-off for the count just reached (skipped if another process counted past it)."""
    values: dict[str, datetime | None] = {"locked_until": locked_until}
    if locked_out_at is not None:
        values["locked_out_at"] = locked_out_at
    session.execute(
        update(ThrottleCounter)
        .where(ThrottleCounter.kind == kind, ThrottleCounter.key_hash == key_hash, ThrottleCounter.failures == failures)
        .values(**values)
    )


def clear_throttle_counters(session: Session, keys: Sequence[tuple[str, str]], *, keep_locked_out: bool) -> int:
    """Delete counters (those locked out only when `keep_locked_out` is false); how many."""
    if not keys:
        return 0
    condition = or_(*(and_(ThrottleCounter.kind == k, ThrottleCounter.key_hash == h) for k, h in keys))
    if keep_locked_out:
        condition = and_(condition, ThrottleCounter.locked_out_at.is_(None))
    return session.execute(delete(ThrottleCounter).where(condition)).rowcount or 0


def revoke_session(session: Session, token_hash: str, now: datetime) -> None:
    """End a web session."""
    session.execute(update(WebSession).where(WebSession.token_hash == token_hash).values(revoked_at=now))


# Existence checks by table name: access is a sink and imports no other domain's models.
def region_exists(session: Session, code: str) -> bool:
    """Whether a region code is loaded."""
    return session.execute(text("SELECT 1 FROM regions WHERE code = :code"), {"code": code}).first() is not None


def person_exists(session: Session, person_id: uuid.UUID) -> bool:
    """Whether a registry record exists."""
    value = person_id.hex if session.get_bind().dialect.name == "sqlite" else person_id
    return session.execute(text("SELECT 1 FROM persons WHERE id = :id"), {"id": value}).first() is not None
