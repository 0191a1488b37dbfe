"""Access tables: users, API tokens and web sessions (secrets stored only as hashes)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Index, Integer, String, Uuid, text
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
    # Who made the account and how: a person's access log names them, so an account made to read a
    # record unseen is itself seen.
    created_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    created_via: Mapped[str] = mapped_column(String(16), default="admin")
    created_office: Mapped[str | None] = mapped_column(String(120))
    disabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (
        CheckConstraint(
            "role IN ('admin', 'registrar', 'program_officer', 'agent', 'auditor', 'merchant', 'citizen')",
            name="role",
        ),
        # 'legacy': a citizen account an admin made before 0006_accounts, disabled and unlinked by it.
        CheckConstraint("created_via IN ('admin', 'self_card_pin', 'office', 'legacy')", name="created_via"),
        # A citizen account is made only by the person (card and PIN) or at an office with the card.
        CheckConstraint("role <> 'citizen' OR created_via <> 'admin'", name="citizen_origin"),
        # One account per person, enforced by the database on both backends.
        Index(
            "uq_users_person_id",
            "person_id",
            unique=True,
            sqlite_where=text("person_id IS NOT NULL"),
            postgresql_where=text("person_id IS NOT NULL"),
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
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class WebSession(Base):
    """A signed-in browser; the cookie holds the secret, the table only its SHA-256."""

    __tablename__ = "web_sessions"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class ThrottleCounter(Base):
    """Failed attempts against one key (an account, a card, a client address), named only by a hash."""

    __tablename__ = "throttle_counters"

    kind: Mapped[str] = mapped_column(String(16), primary_key=True)
    # SHA-256 of the key: no list of usernames or addresses sits here in clear.
    key_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Set once the key reached the lock-out threshold: only a registrar or an admin clears it.
    locked_out_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_failure: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (CheckConstraint("kind IN ('account', 'card', 'address')", name="kind"),)
