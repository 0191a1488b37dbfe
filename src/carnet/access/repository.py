"""Every query of the access domain."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from carnet.access.models import ApiToken, User, WebSession


def user_by_username(session: Session, username: str) -> User | None:
    """The user with this username."""
    return session.scalars(select(User).where(User.username == username)).first()


def get_user(session: Session, user_id: uuid.UUID) -> User | None:
    """One user."""
    return session.get(User, user_id)


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
