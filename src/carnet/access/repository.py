"""Every query of the access domain."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import select, text, update
from sqlalchemy.orm import Session

from carnet.access.models import ApiToken, User, WebSession


def user_by_username(session: Session, username: str) -> User | None:
    """The user with this username."""
    return session.scalars(select(User).where(User.username == username)).first()


def list_users(session: Session) -> list[User]:
    """Every user, by username."""
    return list(session.scalars(select(User).order_by(User.username)))


def user_by_token_hash(session: Session, token_hash: str, now: datetime) -> User | None:
    """The active user owning a live API token."""
    return session.scalars(
        select(User)
        .join(ApiToken, ApiToken.user_id == User.id)
        .where(
            ApiToken.token_hash == token_hash,
            ApiToken.revoked_at.is_(None),
            (ApiToken.expires_at.is_(None)) | (ApiToken.expires_at > now),
            User.is_active.is_(True),
        )
    ).first()


def user_by_session_hash(session: Session, token_hash: str, now: datetime) -> User | None:
    """The active user of a live web session."""
    return session.scalars(
        select(User)
        .join(WebSession, WebSession.user_id == User.id)
        .where(
            WebSession.token_hash == token_hash,
            WebSession.revoked_at.is_(None),
            WebSession.expires_at > now,
            User.is_active.is_(True),
        )
    ).first()


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
