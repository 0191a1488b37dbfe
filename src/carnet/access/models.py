"""Access tables: users, API tokens and web sessions (secrets stored only as hashes)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from carnet.db.base import Base, UTCDateTime


class User(Base):
    """A staff member, merchant or citizen who can sign in, with exactly one role."""

    __tablename__ = "users"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(120))
    role: Mapped[str] = mapped_column(String(24))
    password_hash: Mapped[str] = mapped_column(String(200))
    # A registrar or agent bound to a region sees only that region's people.
    region_code: Mapped[str | None] = mapped_column(ForeignKey("regions.code"))
    office: Mapped[str | None] = mapped_column(String(120))
    # For the citizen role: the registry record that is theirs.
    person_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("persons.id"))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (
        CheckConstraint(
            "role IN ('admin', 'registrar', 'program_officer', 'agent', 'auditor', 'merchant', 'citizen')",
            name="role",
        ),
    )


class ApiToken(Base):
    """A bearer token for the API; only its SHA-256 is kept."""

    __tablename__ = "api_tokens"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"), index=True)
    name: Mapped[str] = mapped_column(String(120))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class WebSession(Base):
    """A signed-in browser; the cookie holds the secret, the table only its SHA-256."""

    __tablename__ = "web_sessions"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
