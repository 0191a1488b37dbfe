"""Tables of the cards domain: issuer keys, status lists, issue runs and cards."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, LargeBinary, String, UniqueConstraint, Uuid, text
from sqlalchemy.orm import Mapped, mapped_column

from carnet.db.base import Base, BigIntPK, UTCDateTime

REVOCATION_REASONS = ("lost", "stolen", "deceased", "fraud", "reissued")


class IssuerKey(Base):
    """An Ed25519 key that signs cards; the private part is stored encrypted with the key passphrase."""

    __tablename__ = "issuer_keys"

    kid: Mapped[str] = mapped_column(String(16), primary_key=True)
    public_key: Mapped[bytes] = mapped_column(LargeBinary(32))
    private_pem: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # A retired key signs nothing new but stays published until the last card it signed expires.
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    verify_until: Mapped[datetime | None] = mapped_column(UTCDateTime)


class StatusList(Base):
    """A revocation bitstring of `capacity` indexes; cards take indexes in it at random."""

    __tablename__ = "status_lists"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    capacity: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class CardIssueRun(Base):
    """One issuing of cards (one person or millions): who, when, for which scope, how many."""

    __tablename__ = "card_issue_runs"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    scope: Mapped[str] = mapped_column(String(80))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    actor_role: Mapped[str] = mapped_column(String(32))
    actor_office: Mapped[str | None] = mapped_column(String(120))
    cards: Mapped[int] = mapped_column(Integer, default=0)


class Card(Base):
    """A card: its random id, the person it was issued to, its signed credential and its status."""

    __tablename__ = "cards"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    person_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("persons.id"), index=True)
    status: Mapped[str] = mapped_column(String(8))
    kid: Mapped[str] = mapped_column(ForeignKey("issuer_keys.kid"))
    status_list_id: Mapped[int] = mapped_column(ForeignKey("status_lists.id"))
    status_index: Mapped[int] = mapped_column(Integer)
    not_before: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    issue_run_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("card_issue_runs.id"), index=True)
    credential: Mapped[str] = mapped_column(String(400))
    # Argon2id of the 6-digit holder PIN; the PIN itself is shown once, on the PIN mailer.
    pin_hash: Mapped[str] = mapped_column(String(128))
    replaces_card_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revocation_reason: Mapped[str | None] = mapped_column(String(16))

    __table_args__ = (
        CheckConstraint("status IN ('active', 'revoked')", name="status"),
        CheckConstraint(
            "revocation_reason IS NULL OR revocation_reason IN ('lost', 'stolen', 'deceased', 'fraud', 'reissued')",
            name="revocation_reason",
        ),
        UniqueConstraint("status_list_id", "status_index", name="uq_cards_status_slot"),
        # One active card per person, enforced by the database on both backends.
        Index(
            "uq_cards_one_active_per_person",
            "person_id",
            unique=True,
            sqlite_where=text("status = 'active'"),
            postgresql_where=text("status = 'active'"),
        ),
    )
