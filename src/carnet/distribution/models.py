"""Tables of the distribution domain: points, devices, escrow, manifests issued, redemptions, cases, syncs."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Boolean, CheckConstraint, ForeignKey, Index, Integer, LargeBinary, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from carnet.db.base import Base, JSONDoc, UTCDateTime

POINT_KINDS = ("depot", "pharmacy", "petrol_station", "school")
DEVICE_STATES = ("active", "suspended", "retired")
CHAIN_STATES = ("accepted", "forked", "refused")
CASE_KINDS = (
    "over_entitlement",  # more handed over than the entitlement holds
    "not_entitled",  # no published entitlement of this card's person or household for the programme and cycle
    "exception_over_cap",  # served away from its escrow point beyond the point's cap for the cycle
    "wrong_point",  # served away from its escrow point without being marked an exception
    "card_revoked",  # the card was revoked before the hand-over
    "card_unknown",  # the card id names no card of this store
    "manifest_expired",  # handed over under a manifest past its window
    "chain_forked",  # a second history of the device: rewritten, restored from a backup, or cloned
    "device_suspended",  # sent by a device after it was suspended or retired
)


class Point(Base):
    """A distribution point: a depot, pharmacy, petrol station or school that hands over benefits."""

    __tablename__ = "points"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    code: Mapped[str] = mapped_column(String(48), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    kind: Mapped[str] = mapped_column(String(16))
    municipality_code: Mapped[str] = mapped_column(ForeignKey("regions.code"))
    status: Mapped[str] = mapped_column(String(8))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (
        CheckConstraint("kind IN ('depot', 'pharmacy', 'petrol_station', 'school')", name="kind"),
        CheckConstraint("status IN ('active', 'closed')", name="status"),
    )


class PointProgram(Base):
    """A programme a point serves, and how many beneficiaries of other points it may serve per cycle."""

    __tablename__ = "point_programs"

    point_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("points.id"), primary_key=True)
    program_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("programs.id"), primary_key=True)
    exception_cap: Mapped[int] = mapped_column(Integer)

    __table_args__ = (CheckConstraint("exception_cap >= 0", name="exception_cap"),)


class PointCatchment(Base):
    """A municipality whose households a point serves by default."""

    __tablename__ = "point_catchments"

    point_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("points.id"), primary_key=True)
    municipality_code: Mapped[str] = mapped_column(ForeignKey("regions.code"), primary_key=True, index=True)


class PointOperator(Base):
    """An agent account that works at a point."""

    __tablename__ = "point_operators"

    point_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("points.id"), primary_key=True)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"), primary_key=True, index=True)


class EnrolmentCode(Base):
    """A one-time code that enrols one device at one point; only its hash is kept."""

    __tablename__ = "enrolment_codes"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    point_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("points.id"), index=True)
    code_hash: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_by: Mapped[str] = mapped_column(String(120))
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    device_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)


class Device(Base):
    """A tablet or phone enrolled at a point, with its own signing key and the head of its event chain."""

    __tablename__ = "devices"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    point_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("points.id"), index=True)
    label: Mapped[str | None] = mapped_column(String(120))
    public_key: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    box_key: Mapped[bytes] = mapped_column(LargeBinary(32))
    state: Mapped[str] = mapped_column(String(10))
    state_reason: Mapped[str | None] = mapped_column(String(200))
    state_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # A forked or rewritten chain: the device's later events are all flagged until it is replaced.
    compromised: Mapped[bool] = mapped_column(Boolean)
    enrolled_at: Mapped[datetime] = mapped_column(UTCDateTime)
    chain_seq: Mapped[int] = mapped_column(BigInteger)
    chain_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    last_device_time: Mapped[int | None] = mapped_column(BigInteger)
    last_sync_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (CheckConstraint("state IN ('active', 'suspended', 'retired')", name="state"),)


class DistributionKey(Base):
    """The key that signs manifests: apart from the issuer key, so that an online leak cannot mint cards."""

    __tablename__ = "distribution_keys"

    kid: Mapped[str] = mapped_column(String(32), primary_key=True)
    public_key: Mapped[bytes] = mapped_column(LargeBinary(32))
    private_pem: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Escrow(Base):
    """Which one point holds a published entitlement, so that two offline points cannot both hand it out."""

    __tablename__ = "escrow"

    # The id a manifest names: a random uuid, not the entitlement's row number.
    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    entitlement_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("entitlements.id"), unique=True)
    point_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("points.id"))
    program_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("programs.id"))
    cycle: Mapped[str] = mapped_column(String(7))
    assigned_at: Mapped[datetime] = mapped_column(UTCDateTime)
    assigned_by: Mapped[str] = mapped_column(String(120))

    __table_args__ = (Index("ix_escrow_point_cycle", "point_id", "cycle"),)


class ManifestIssue(Base):
    """A manifest version sent to a device: what it held, so that the next pull can be a delta from it."""

    __tablename__ = "manifest_issues"

    device_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("devices.id"), primary_key=True)
    cycle: Mapped[str] = mapped_column(String(7), primary_key=True)
    version: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    base: Mapped[int] = mapped_column(BigInteger)
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime)
    not_after: Mapped[datetime] = mapped_column(UTCDateTime)
    through: Mapped[int] = mapped_column(BigInteger)
    digest: Mapped[bytes] = mapped_column(LargeBinary(32))
    # zlib of deterministic CBOR: {escrow id: [programme, remaining, cards]} and {card: PIN check}.
    snapshot: Mapped[bytes] = mapped_column(LargeBinary)


class DeviceSync(Base):
    """One sync of a device: what it sent and how each event was answered (one audit cohort entry each)."""

    __tablename__ = "device_syncs"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    device_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("devices.id"), index=True)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)
    received: Mapped[int] = mapped_column(Integer)
    accepted: Mapped[int] = mapped_column(Integer)
    forked: Mapped[int] = mapped_column(Integer)
    replayed: Mapped[int] = mapped_column(Integer)
    refused: Mapped[int] = mapped_column(Integer)
    waiting: Mapped[int] = mapped_column(Integer)
    cases: Mapped[int] = mapped_column(Integer)


class Redemption(Base):
    """A hand-over as the device signed it, with what the server made of it; rows are never updated."""

    __tablename__ = "redemptions"

    event_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    device_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("devices.id"))
    point_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("points.id"))
    sync_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("device_syncs.id"), index=True)
    seq: Mapped[int] = mapped_column(BigInteger)
    hash: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    prev_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    data: Mapped[bytes] = mapped_column(LargeBinary)
    chain: Mapped[str] = mapped_column(String(8))
    # The first answer, given again to every replay.
    answer: Mapped[str] = mapped_column(String(32))
    card_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    program_code: Mapped[str] = mapped_column(String(64))
    cycle: Mapped[str] = mapped_column(String(7))
    quantity: Mapped[int] = mapped_column(BigInteger)
    device_time: Mapped[int] = mapped_column(BigInteger)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)
    manifest_version: Mapped[int] = mapped_column(BigInteger)
    flags: Mapped[list[str]] = mapped_column(JSONDoc)
    # What the server matched: the person of the card and the escrowed entitlement it counts against.
    person_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    escrow_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("escrow.id"))
    # Counted against the entitlement (accepted, not refused, not beyond it).
    counted: Mapped[bool] = mapped_column(Boolean)
    # Served away from the entitlement's escrow point (the device marked it, or the server found it).
    exception: Mapped[bool] = mapped_column(Boolean)
    value: Mapped[int] = mapped_column(BigInteger)
    # The wallet ledger's hook: a counted cash hand-over waits here for its transfer ('none' for goods).
    settlement: Mapped[str] = mapped_column(String(8))

    __table_args__ = (
        CheckConstraint("chain IN ('accepted', 'forked', 'refused')", name="chain"),
        CheckConstraint("settlement IN ('none', 'pending', 'settled')", name="settlement"),
        Index("ix_redemptions_device_seq", "device_id", "seq"),
        Index("ix_redemptions_escrow_id", "escrow_id"),
        Index("ix_redemptions_person_id", "person_id"),
        Index("ix_redemptions_point_cycle", "point_id", "cycle"),
    )


class DistributionCase(Base):
    """A redemption that needs a programme officer: stored and flagged, never dropped or merged away."""

    __tablename__ = "distribution_cases"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    event_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("redemptions.event_id"), index=True)
    kind: Mapped[str] = mapped_column(String(24))
    point_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("points.id"))
    program_code: Mapped[str] = mapped_column(String(64))
    cycle: Mapped[str] = mapped_column(String(7))
    status: Mapped[str] = mapped_column(String(8))
    detail: Mapped[dict[str, Any]] = mapped_column(JSONDoc)
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_by: Mapped[str | None] = mapped_column(String(120))
    resolution: Mapped[str | None] = mapped_column(String(400))

    __table_args__ = (
        CheckConstraint(
            "kind IN (" + ", ".join(f"'{kind}'" for kind in CASE_KINDS) + ")",
            name="kind",
        ),
        CheckConstraint("status IN ('open', 'closed')", name="status"),
        Index("ix_distribution_cases_cycle_status", "cycle", "status"),
    )
