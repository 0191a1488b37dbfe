"""Tables of the programmes domain: programmes and their versions, eligibility runs and entitlements."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Index, Integer, LargeBinary, String, Text, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from carnet.db.base import Base, BigIntPK, JSONDoc, UTCDateTime


class Program(Base):
    """A social-protection programme: what it gives, to whom (its rule), where and how often."""

    __tablename__ = "programs"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    code: Mapped[str] = mapped_column(String(48), unique=True)
    title: Mapped[str] = mapped_column(String(120))
    purpose: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(8))
    version: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (CheckConstraint("status IN ('draft', 'active', 'closed')", name="status"),)


class SectorKey(Base):
    """A programme's sector key (32 random bytes) sealed under the store passphrase: the key of its pseudonyms.

    One per programme, made with it; the clear key exists only in memory while pseudonyms are computed.
    The ciphertext is bound to the programme's id, so a row copied onto another programme does not open.
    """

    __tablename__ = "program_sector_keys"

    program_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("programs.id"), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    params: Mapped[str] = mapped_column(String(64))
    salt: Mapped[bytes] = mapped_column(LargeBinary(32))
    nonce: Mapped[bytes] = mapped_column(LargeBinary(12))
    ciphertext: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (CheckConstraint("kind IN ('scrypt-aesgcm')", name="kind"),)


class ProgramVersion(Base):
    """Every version of a programme's definition, kept forever: a decision names the version it followed."""

    __tablename__ = "program_versions"

    program_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("programs.id"), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    definition: Mapped[dict[str, Any]] = mapped_column(JSONDoc)
    rule: Mapped[str] = mapped_column(Text)
    rule_fingerprint: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    actor_role: Mapped[str] = mapped_column(String(32))
    actor_office: Mapped[str | None] = mapped_column(String(120))
    actor_user_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)


class EligibilityRun(Base):
    """One evaluation of a programme's rule for a cycle: proposed by one officer, published by another."""

    __tablename__ = "eligibility_runs"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    program_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("programs.id"), index=True)
    program_version: Mapped[int] = mapped_column(Integer)
    cycle: Mapped[str] = mapped_column(String(7))
    status: Mapped[str] = mapped_column(String(12))
    reference_date: Mapped[datetime] = mapped_column(UTCDateTime)
    regions: Mapped[list[str] | None] = mapped_column(JSONDoc)
    proposed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    proposed_by: Mapped[str] = mapped_column(String(120))
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    approved_by: Mapped[str | None] = mapped_column(String(120))
    supersedes_run_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    units_evaluated: Mapped[int] = mapped_column(BigInteger)
    units_eligible: Mapped[int] = mapped_column(BigInteger)
    total_quantity: Mapped[int] = mapped_column(BigInteger)
    total_value: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    cohort_digest: Mapped[str] = mapped_column(String(64))
    preview: Mapped[dict[str, Any]] = mapped_column(JSONDoc)

    __table_args__ = (
        CheckConstraint("status IN ('preview', 'proposed', 'published', 'superseded')", name="status"),
        Index("ix_eligibility_runs_program_cycle", "program_id", "cycle"),
    )


class Entitlement(Base):
    """What one household or person is entitled to in one cycle, by one run (rows are never updated)."""

    __tablename__ = "entitlements"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    run_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("eligibility_runs.id"))
    program_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("programs.id"))
    cycle: Mapped[str] = mapped_column(String(7))
    unit: Mapped[str] = mapped_column(String(9))
    unit_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    region_code: Mapped[str] = mapped_column(String(16))
    quantity: Mapped[int] = mapped_column(BigInteger)
    value: Mapped[int] = mapped_column(BigInteger)

    __table_args__ = (
        CheckConstraint("unit IN ('household', 'person')", name="unit"),
        Index("uq_entitlements_run_unit", "run_id", "unit_id", unique=True),
        Index("ix_entitlements_unit_id", "unit_id"),
    )
