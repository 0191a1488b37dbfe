"""Every query of the distribution domain: set-based reads of escrow and redemptions, batched writes."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Row, and_, func, insert, select, union_all, update
from sqlalchemy import case as when
from sqlalchemy.orm import Session

from carnet.access.models import User
from carnet.credentials.models import Card
from carnet.db.queries import chunks, dialect_insert, member_of
from carnet.distribution.models import (
    Device,
    DeviceSync,
    DistributionCase,
    DistributionKey,
    EnrolmentCode,
    Escrow,
    ManifestIssue,
    Point,
    PointCatchment,
    PointOperator,
    PointProgram,
    Redemption,
)
from carnet.programs.models import EligibilityRun, Entitlement, Program, ProgramVersion
from carnet.registry.models import Household, Person, Region


# Points
def point_by_code(session: Session, code: str) -> Point | None:
    """The point with this code."""
    return session.execute(select(Point).where(Point.code == code)).scalar_one_or_none()


def point(session: Session, point_id: uuid.UUID) -> Point | None:
    """The point with this id."""
    return session.get(Point, point_id)


def points(session: Session, *, operator: uuid.UUID | None = None) -> list[Point]:
    """Every point by code, or those an agent works at."""
    query = select(Point).order_by(Point.code)
    if operator is not None:
        query = query.join(PointOperator, PointOperator.point_id == Point.id).where(PointOperator.user_id == operator)
    return list(session.execute(query).scalars())


def is_operator(session: Session, point_id: uuid.UUID, user_id: uuid.UUID | None) -> bool:
    """Whether the account works at the point."""
    if user_id is None:
        return False
    found = session.execute(
        select(PointOperator.user_id).where(PointOperator.point_id == point_id, PointOperator.user_id == user_id)
    ).first()
    return found is not None


def point_details(session: Session, point_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, dict[str, list]]:
    """Programmes (with exception caps), catchment and operators of each point."""
    out: dict[uuid.UUID, dict[str, list]] = {p: {"programmes": [], "catchment": [], "operators": []} for p in point_ids}
    if not point_ids:
        return out
    for point_id, code, cap in session.execute(
        select(PointProgram.point_id, Program.code, PointProgram.exception_cap)
        .join(Program, Program.id == PointProgram.program_id)
        .where(PointProgram.point_id.in_(point_ids))
        .order_by(Program.code)
    ):
        out[point_id]["programmes"].append({"code": code, "exceptions": cap})
    for point_id, municipality in session.execute(
        select(PointCatchment.point_id, PointCatchment.municipality_code)
        .where(PointCatchment.point_id.in_(point_ids))
        .order_by(PointCatchment.municipality_code)
    ):
        out[point_id]["catchment"].append(municipality)
    for point_id, username in session.execute(
        select(PointOperator.point_id, User.username)
        .join(User, User.id == PointOperator.user_id)
        .where(PointOperator.point_id.in_(point_ids))
        .order_by(User.username)
    ):
        out[point_id]["operators"].append(username)
    return out


def municipality(session: Session, code: str) -> Region | None:
    """The region with this code, if it is a municipality."""
    region = session.get(Region, code)
    return region if region is not None and region.level == "municipality" else None


def exception_caps(session: Session, point_id: uuid.UUID) -> dict[str, int]:
    """Programme code → how many beneficiaries of other points the point may serve per cycle."""
    rows = session.execute(
        select(Program.code, PointProgram.exception_cap)
        .join(Program, Program.id == PointProgram.program_id)
        .where(PointProgram.point_id == point_id)
    )
    return {code: cap for code, cap in rows}


# Devices and enrolment
def enrolment_code(session: Session, digest: bytes) -> EnrolmentCode | None:
    """The enrolment code with this hash, locked for its single use."""
    return session.execute(
        select(EnrolmentCode).where(EnrolmentCode.code_hash == digest).with_for_update()
    ).scalar_one_or_none()


def device(session: Session, device_id: uuid.UUID, *, lock: bool = False) -> Device | None:
    """The device; `lock` serialises its syncs (one chain head, one writer)."""
    query = select(Device).where(Device.id == device_id)
    if lock:
        query = query.with_for_update()
    return session.execute(query.execution_options(populate_existing=True)).scalar_one_or_none()


def device_by_key(session: Session, public_key: bytes) -> Device | None:
    """The device holding this public key."""
    return session.execute(select(Device).where(Device.public_key == public_key)).scalar_one_or_none()


def devices(session: Session, point_id: uuid.UUID | None = None) -> list[Device]:
    """Devices, of one point or of all, oldest first."""
    query = select(Device).order_by(Device.enrolled_at, Device.id)
    if point_id is not None:
        query = query.where(Device.point_id == point_id)
    return list(session.execute(query).scalars())


def active_distribution_key(session: Session) -> DistributionKey | None:
    """The key that signs manifests now."""
    query = (
        select(DistributionKey).where(DistributionKey.retired_at.is_(None)).order_by(DistributionKey.created_at.desc())
    )
    return session.execute(query.limit(1)).scalar_one_or_none()


def distribution_keys(session: Session) -> list[DistributionKey]:
    """Every manifest-signing key (devices trust them all; a retired one may still sign held manifests)."""
    return list(session.execute(select(DistributionKey).order_by(DistributionKey.created_at)).scalars())


# Escrow
def _unit_household():  # type: ignore[no-untyped-def]
    """The household of an entitlement's unit: itself, or the person's."""
    return when((Entitlement.unit == "household", Entitlement.unit_id), else_=Person.household_id)


def unassigned_entitlements(session: Session, *, cycle: str, run_id: uuid.UUID | None = None) -> list[Row]:
    """Published entitlements of the cycle with no escrow yet, each with its default point (or None).

    The default point serves the programme and has the household's municipality in its catchment; of
    several, the first by code, so that the choice is the same on every run.
    """
    municipality_of = func.coalesce(Household.municipality_code, Household.region_code)
    default_point = (
        select(Point.id)
        .join(PointProgram, and_(PointProgram.point_id == Point.id, PointProgram.program_id == Entitlement.program_id))
        .join(PointCatchment, PointCatchment.point_id == Point.id)
        .where(PointCatchment.municipality_code == municipality_of, Point.status == "active")
        .order_by(Point.code)
        .limit(1)
        .correlate(Entitlement, Household)
        .scalar_subquery()
    )
    query = (
        select(Entitlement.id, Entitlement.program_id, Entitlement.cycle, default_point.label("point_id"))
        .join(EligibilityRun, and_(EligibilityRun.id == Entitlement.run_id, EligibilityRun.status == "published"))
        .outerjoin(Person, and_(Entitlement.unit == "person", Person.id == Entitlement.unit_id))
        .outerjoin(Household, Household.id == _unit_household())
        .where(Entitlement.cycle == cycle, ~select(Escrow.id).where(Escrow.entitlement_id == Entitlement.id).exists())
        .order_by(Entitlement.id)
    )
    if run_id is not None:
        query = query.where(Entitlement.run_id == run_id)
    return list(session.execute(query))


def insert_escrow(session: Session, rows: list[dict[str, Any]]) -> int:
    """Assign entitlements to points; an entitlement already assigned (by a concurrent run) keeps its point."""
    if not rows:
        return 0
    ids = [row["entitlement_id"] for row in rows]
    before = _escrowed(session, ids)
    statement = dialect_insert(session)(Escrow.__table__).on_conflict_do_nothing(index_elements=["entitlement_id"])
    session.execute(statement, rows)
    return _escrowed(session, ids) - before


def _escrowed(session: Session, entitlement_ids: Sequence[int]) -> int:
    return sum(
        session.execute(select(func.count()).select_from(Escrow).where(Escrow.entitlement_id.in_(chunk))).scalar_one()
        for chunk in chunks(list(entitlement_ids))
    )


def escrow_of_entitlement(session: Session, escrow_id: uuid.UUID) -> Row | None:
    """One escrow row with its programme, cycle, unit and what is redeemed of it."""
    return session.execute(
        select(Escrow, Program.code, Entitlement.unit_id, Entitlement.quantity)
        .join(Entitlement, Entitlement.id == Escrow.entitlement_id)
        .join(Program, Program.id == Escrow.program_id)
        .where(Escrow.id == escrow_id)
        .with_for_update(of=Escrow)
    ).first()


def escrow_state(session: Session, *, point_id: uuid.UUID, cycle: str) -> list[Row]:
    """The point's escrow for a cycle: id, programme, entitled quantity, counted so far (published runs only)."""
    counted = (
        select(Redemption.escrow_id, func.sum(Redemption.quantity).label("used"))
        .where(Redemption.counted.is_(True), Redemption.cycle == cycle)
        .group_by(Redemption.escrow_id)
        .subquery()
    )
    query = (
        select(Escrow.id, Program.code, Entitlement.quantity, func.coalesce(counted.c.used, 0))
        .join(Entitlement, Entitlement.id == Escrow.entitlement_id)
        .join(EligibilityRun, and_(EligibilityRun.id == Entitlement.run_id, EligibilityRun.status == "published"))
        .join(Program, Program.id == Escrow.program_id)
        .outerjoin(counted, counted.c.escrow_id == Escrow.id)
        .where(Escrow.point_id == point_id, Escrow.cycle == cycle)
        .order_by(Escrow.id)
    )
    return list(session.execute(query))


def escrow_cards(session: Session, *, point_id: uuid.UUID, cycle: str) -> list[Row]:
    """(escrow id, card id, PIN hash) for every active card that may redeem the point's escrow."""
    base = (
        select(Escrow.id.label("escrow_id"), Card.id.label("card_id"), Card.pin_hash)
        .join(Entitlement, Entitlement.id == Escrow.entitlement_id)
        .where(Escrow.point_id == point_id, Escrow.cycle == cycle, Card.status == "active")
    )
    own = base.join(Card, and_(Entitlement.unit == "person", Card.person_id == Entitlement.unit_id))
    household = base.join(
        Person, and_(Entitlement.unit == "household", Person.household_id == Entitlement.unit_id)
    ).join(Card, Card.person_id == Person.id)
    return list(session.execute(union_all(own, household)))


# Manifests issued
def last_manifest(session: Session, device_id: uuid.UUID, cycle: str) -> ManifestIssue | None:
    """The newest manifest sent to the device for the cycle."""
    query = (
        select(ManifestIssue)
        .where(ManifestIssue.device_id == device_id, ManifestIssue.cycle == cycle)
        .order_by(ManifestIssue.version.desc())
        .limit(1)
    )
    return session.execute(query).scalar_one_or_none()


def manifest_issue(session: Session, device_id: uuid.UUID, cycle: str, version: int) -> ManifestIssue | None:
    """One manifest version sent to the device."""
    return session.get(ManifestIssue, (device_id, cycle, version))


def manifest_windows(session: Session, device_id: uuid.UUID) -> dict[tuple[str, int], datetime]:
    """(cycle, version) → end of the window of every manifest sent to the device."""
    rows = session.execute(
        select(ManifestIssue.cycle, ManifestIssue.version, ManifestIssue.not_after).where(
            ManifestIssue.device_id == device_id
        )
    )
    return {(cycle, version): not_after for cycle, version, not_after in rows}


# Sync ingest
def stored_by_id(session: Session, event_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, Row]:
    """Events already held, by id: device, hash, seq, chain and first answer."""
    out: dict[uuid.UUID, Row] = {}
    for member in member_of(session, Redemption.event_id, event_ids):
        query = select(Redemption.event_id, Redemption.device_id, Redemption.hash, Redemption.seq, Redemption.chain,
                       Redemption.answer).where(member)  # fmt: skip
        out.update({row.event_id: row for row in session.execute(query)})
    return out


def stored_by_hash(session: Session, hashes: Sequence[bytes]) -> dict[bytes, Row]:
    """Events already held, by hash."""
    out: dict[bytes, Row] = {}
    for member in member_of(session, Redemption.hash, hashes):
        query = select(Redemption.event_id, Redemption.device_id, Redemption.hash, Redemption.seq,
                       Redemption.chain).where(member)  # fmt: skip
        out.update({bytes(row.hash): row for row in session.execute(query)})
    return out


def cards_with_holders(session: Session, card_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, Row]:
    """Card → its person, household, status and revocation time."""
    out: dict[uuid.UUID, Row] = {}
    for member in member_of(session, Card.id, card_ids):
        query = (
            select(Card.id, Card.person_id, Card.status, Card.revoked_at, Person.household_id)
            .join(Person, Person.id == Card.person_id)
            .where(member)
        )
        out.update({row.id: row for row in session.execute(query)})
    return out


def escrow_for_units(session: Session, unit_ids: Sequence[uuid.UUID], cycles: Sequence[str]) -> list[Row]:
    """Escrowed entitlements of these persons and households in these cycles (published runs)."""
    rows: list[Row] = []
    for member in member_of(session, Entitlement.unit_id, unit_ids):
        query = (
            select(
                Escrow.id,
                Escrow.point_id,
                Entitlement.unit_id,
                Program.code,
                Entitlement.cycle,
                Entitlement.quantity,
                Entitlement.value,
            )
            .join(Entitlement, Entitlement.id == Escrow.entitlement_id)
            .join(EligibilityRun, and_(EligibilityRun.id == Entitlement.run_id, EligibilityRun.status == "published"))
            .join(Program, Program.id == Escrow.program_id)
            .where(member, Entitlement.cycle.in_(list(cycles)))
        )
        rows.extend(session.execute(query))
    return rows


def counted_totals(session: Session, escrow_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, int]:
    """Escrow id → quantity already counted against it."""
    out: dict[uuid.UUID, int] = {}
    for member in member_of(session, Redemption.escrow_id, escrow_ids):
        query = (
            select(Redemption.escrow_id, func.sum(Redemption.quantity))
            .where(member, Redemption.counted.is_(True))
            .group_by(Redemption.escrow_id)
        )
        out.update({escrow_id: int(total) for escrow_id, total in session.execute(query)})
    return out


def exceptions_counted(session: Session, point_id: uuid.UUID, cycles: Sequence[str]) -> dict[tuple[str, str], int]:
    """(programme, cycle) → exceptions the point has served and had counted."""
    query = (
        select(Redemption.program_code, Redemption.cycle, func.count())
        .where(
            Redemption.point_id == point_id,
            Redemption.exception.is_(True),
            Redemption.counted.is_(True),
            Redemption.cycle.in_(list(cycles)),
        )
        .group_by(Redemption.program_code, Redemption.cycle)
    )
    return {(code, cycle): int(n) for code, cycle, n in session.execute(query)}


def insert_rows(session: Session, model: type, rows: list[dict[str, Any]]) -> None:
    """Many rows in one statement: a COPY on PostgreSQL, a batched INSERT elsewhere.

    On PostgreSQL a COPY costs about half what executemany's one INSERT per row does (benchmarks/
    distribution.py). Each value goes through its column type's own bind processing, as in an INSERT,
    so the stored rows are the same. Rows of differing keys, or that leave out a column with a default,
    take the INSERT.
    """
    if not rows:
        return
    bind = session.get_bind()
    table = model.__table__  # type: ignore[attr-defined]
    names = list(rows[0])
    uniform = all(row.keys() == rows[0].keys() for row in rows)
    defaults = any(c.default is not None or c.server_default is not None for c in table.columns if c.name not in names)
    if bind.dialect.name != "postgresql" or not uniform or defaults:
        session.execute(insert(model), rows)
        return
    session.flush()  # what the session still holds goes first, as before an INSERT it executes
    processors = [table.c[name].type.dialect_impl(bind.dialect).bind_processor(bind.dialect) for name in names]
    raw = session.connection().connection.driver_connection
    quote = bind.dialect.identifier_preparer
    statement = f"COPY {quote.format_table(table)} ({', '.join(quote.quote(n) for n in names)}) FROM STDIN"
    with raw.cursor() as cursor, cursor.copy(statement) as copy:  # type: ignore[union-attr]
        for row in rows:
            copy.write_row([row[name] if process is None else process(row[name])
                            for name, process in zip(names, processors, strict=True)])  # fmt: skip


def set_chain_head(session: Session, device_id: uuid.UUID, *, seq: int, digest: bytes, device_time: int | None,
                   compromised: bool, now: datetime) -> None:  # fmt: skip
    """Move a device's admitted head and note its sync."""
    values: dict[str, Any] = {"chain_seq": seq, "chain_hash": digest, "last_sync_at": now}
    if device_time is not None:
        values["last_device_time"] = device_time
    if compromised:
        values["compromised"] = True
    session.execute(update(Device).where(Device.id == device_id).values(**values))


# Cases, redemptions, reconciliation
def cases(session: Session, *, cycle: str | None, status: str | None, point_id: uuid.UUID | None,
          limit: int) -> list[Row]:  # fmt: skip
    """Cases with their point's code, newest first."""
    query = select(DistributionCase, Point.code).join(Point, Point.id == DistributionCase.point_id)
    if cycle is not None:
        query = query.where(DistributionCase.cycle == cycle)
    if status is not None:
        query = query.where(DistributionCase.status == status)
    if point_id is not None:
        query = query.where(DistributionCase.point_id == point_id)
    return list(session.execute(query.order_by(DistributionCase.opened_at.desc(), DistributionCase.id).limit(limit)))


def case(session: Session, case_id: uuid.UUID) -> DistributionCase | None:
    """One case, locked for its resolution."""
    query = select(DistributionCase).where(DistributionCase.id == case_id).with_for_update()
    return session.execute(query).scalar_one_or_none()


def redemption(session: Session, event_id: uuid.UUID) -> Redemption | None:
    """One redemption."""
    return session.get(Redemption, event_id)


def redemptions_of_person(session: Session, person_id: uuid.UUID) -> list[Row]:
    """A person's hand-overs with the point's name, oldest first (for their access log)."""
    query = (
        select(
            Redemption.event_id,
            Redemption.received_at,
            Redemption.device_time,
            Redemption.program_code,
            Redemption.cycle,
            Redemption.quantity,
            Redemption.hash,
            Redemption.chain,
            Point.code,
            Point.name,
        )
        .join(Point, Point.id == Redemption.point_id)
        .where(Redemption.person_id == person_id)
        .order_by(Redemption.received_at, Redemption.event_id)
    )
    return list(session.execute(query))


def redemptions_with_hash_prefix(session: Session, prefix: bytes) -> list[Redemption]:
    """Redemptions whose hash starts with `prefix` (a receipt code names 40 bits)."""
    upper = (
        (int.from_bytes(prefix, "big") + 1).to_bytes(len(prefix), "big") if prefix != b"\xff" * len(prefix) else None
    )
    query = select(Redemption).where(Redemption.hash >= prefix)
    if upper is not None:
        query = query.where(Redemption.hash < upper)
    return list(session.execute(query.limit(5)).scalars())


def entitled_by_point(session: Session, cycle: str) -> list[Row]:
    """Per point and programme: entitlements escrowed and their quantity (published runs)."""
    query = (
        select(Escrow.point_id, Program.code, func.count(), func.sum(Entitlement.quantity))
        .join(Entitlement, Entitlement.id == Escrow.entitlement_id)
        .join(EligibilityRun, and_(EligibilityRun.id == Entitlement.run_id, EligibilityRun.status == "published"))
        .join(Program, Program.id == Escrow.program_id)
        .where(Escrow.cycle == cycle)
        .group_by(Escrow.point_id, Program.code)
    )
    return list(session.execute(query))


def unassigned_count(session: Session, cycle: str) -> list[Row]:
    """Per programme: published entitlements of the cycle that no point holds."""
    query = (
        select(Program.code, func.count())
        .select_from(Entitlement)
        .join(EligibilityRun, and_(EligibilityRun.id == Entitlement.run_id, EligibilityRun.status == "published"))
        .join(Program, Program.id == Entitlement.program_id)
        .where(Entitlement.cycle == cycle, ~select(Escrow.id).where(Escrow.entitlement_id == Entitlement.id).exists())
        .group_by(Program.code)
    )
    return list(session.execute(query))


def redeemed_by_point(session: Session, cycle: str) -> list[Row]:
    """Per point and programme: events, counted quantity, exceptions, uncounted events."""
    counted_quantity = func.sum(when((Redemption.counted.is_(True), Redemption.quantity), else_=0))
    exceptions = func.sum(when((Redemption.exception.is_(True), 1), else_=0))
    uncounted = func.sum(when((Redemption.counted.is_(True), 0), else_=1))
    query = (
        select(Redemption.point_id, Redemption.program_code, func.count(), counted_quantity, exceptions, uncounted)
        .where(Redemption.cycle == cycle)
        .group_by(Redemption.point_id, Redemption.program_code)
    )
    return list(session.execute(query))


def open_cases_by_point(session: Session, cycle: str) -> dict[tuple[uuid.UUID, str], int]:
    """(point, programme) → open cases of the cycle."""
    query = (
        select(DistributionCase.point_id, DistributionCase.program_code, func.count())
        .where(DistributionCase.cycle == cycle, DistributionCase.status == "open")
        .group_by(DistributionCase.point_id, DistributionCase.program_code)
    )
    return {(point_id, code): int(n) for point_id, code, n in session.execute(query)}


def last_syncs(session: Session) -> list[Row]:
    """Every device with its point code, state and last sync."""
    query = select(Device.id, Device.label, Device.state, Device.compromised, Device.last_sync_at, Point.code).join(
        Point, Point.id == Device.point_id
    )
    return list(session.execute(query.order_by(Point.code, Device.enrolled_at)))


def status_lists_of_cards(session: Session, card_ids: Sequence[uuid.UUID]) -> set[int]:
    """The status lists that hold these cards."""
    out: set[int] = set()
    for chunk in chunks(list(card_ids)):
        out.update(row[0] for row in session.execute(select(Card.status_list_id).where(Card.id.in_(chunk)).distinct()))
    return out


def cash_programmes(session: Session, codes: Sequence[str]) -> set[str]:
    """Which of these programmes pay cash (their hand-overs wait for a ledger transfer)."""
    rows = session.execute(
        select(Program.code, ProgramVersion.definition)
        .join(ProgramVersion, and_(ProgramVersion.program_id == Program.id, ProgramVersion.version == Program.version))
        .where(Program.code.in_(list(codes)))
    )
    return {code for code, definition in rows if (definition.get("benefit") or {}).get("kind") == "cash"}


def sync_row(session: Session, sync_id: uuid.UUID) -> DeviceSync | None:
    """One sync."""
    return session.get(DeviceSync, sync_id)


def busiest_municipalities(session: Session, *, cycle: str, programme: str, limit: int) -> list[str]:
    """The municipalities with the most published entitlements of a programme in a cycle."""
    municipality_of = func.coalesce(Household.municipality_code, Household.region_code)
    query = (
        select(municipality_of, func.count())
        .select_from(Entitlement)
        .join(EligibilityRun, and_(EligibilityRun.id == Entitlement.run_id, EligibilityRun.status == "published"))
        .join(Program, and_(Program.id == Entitlement.program_id, Program.code == programme))
        .outerjoin(Person, and_(Entitlement.unit == "person", Person.id == Entitlement.unit_id))
        .join(Household, Household.id == _unit_household())
        .where(Entitlement.cycle == cycle)
        .group_by(municipality_of)
        .order_by(func.count().desc(), municipality_of)
        .limit(limit)
    )
    return [row[0] for row in session.execute(query)]


def syncs_of_person(session: Session, person_id: uuid.UUID) -> list[uuid.UUID]:
    """The syncs that brought in a person's hand-overs, in order."""
    query = select(Redemption.sync_id).where(Redemption.person_id == person_id).distinct().order_by(Redemption.sync_id)
    return [row[0] for row in session.execute(query)]


def pending_settlements(session: Session, limit: int) -> list[Row]:
    """Counted cash hand-overs waiting for their ledger transfer: event, programme, unit, point, value."""
    query = (
        select(
            Redemption.event_id,
            Redemption.value,
            Escrow.program_id,
            Program.code.label("program_code"),
            Entitlement.unit,
            Entitlement.unit_id,
            Point.code.label("point_code"),
        )
        .join(Escrow, Escrow.id == Redemption.escrow_id)
        .join(Entitlement, Entitlement.id == Escrow.entitlement_id)
        .join(Program, Program.id == Escrow.program_id)
        .join(Point, Point.id == Redemption.point_id)
        .where(Redemption.settlement == "pending")
        .order_by(Redemption.received_at, Redemption.event_id)
        .limit(limit)
    )
    return list(session.execute(query))


def mark_settled(session: Session, event_ids: Sequence[uuid.UUID]) -> None:
    """The ledger holds these hand-overs' transfers: only the settlement column of a redemption ever moves."""
    for chunk in chunks(list(event_ids)):
        session.execute(update(Redemption).where(Redemption.event_id.in_(chunk)).values(settlement="settled"))
