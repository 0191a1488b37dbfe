"""Every query of the programmes domain."""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from typing import Any

from sqlalchemy import Select, case, func, insert, literal, select
from sqlalchemy.orm import Session

from carnet.programs.models import EligibilityRun, Entitlement, Program, ProgramVersion, SectorKey

ENTITLEMENTS = Entitlement.__table__


def program_by_code(session: Session, code: str) -> Program | None:
    """One programme by its code."""
    return session.scalars(select(Program).where(Program.code == code)).first()


def program(session: Session, program_id: uuid.UUID) -> Program | None:
    """One programme by its id."""
    return session.get(Program, program_id)


def sector_key(session: Session, program_id: uuid.UUID) -> SectorKey | None:
    """A programme's sealed sector key."""
    return session.get(SectorKey, program_id)


def programs(session: Session) -> list[Program]:
    """Every programme, by code."""
    return list(session.scalars(select(Program).order_by(Program.code)))


def version(session: Session, program_id: uuid.UUID, number: int) -> ProgramVersion | None:
    """One version of a programme."""
    return session.get(ProgramVersion, (program_id, number))


def run(session: Session, run_id: uuid.UUID) -> EligibilityRun | None:
    """One eligibility run."""
    return session.get(EligibilityRun, run_id)


def runs_of(session: Session, program_id: uuid.UUID, *, cycle: str | None = None) -> list[EligibilityRun]:
    """A programme's runs, newest first."""
    query = select(EligibilityRun).where(EligibilityRun.program_id == program_id)
    if cycle is not None:
        query = query.where(EligibilityRun.cycle == cycle)
    return list(session.scalars(query.order_by(EligibilityRun.proposed_at.desc())))


def run_with_status(session: Session, program_id: uuid.UUID, cycle: str, status: str) -> EligibilityRun | None:
    """The programme's run for a cycle in a given status (at most one is published or pending)."""
    return session.scalars(
        select(EligibilityRun).where(
            EligibilityRun.program_id == program_id, EligibilityRun.cycle == cycle, EligibilityRun.status == status
        )
    ).first()


def insert_entitlements(
    session: Session, *, eligible: Select, run_id: uuid.UUID, program_id: uuid.UUID, cycle: str, unit: str,
    quantity: Any, unit_value: int,
) -> None:  # fmt: skip
    """Write the entitlements of a run from the eligible units, in one INSERT … SELECT."""
    source = eligible.subquery("eligible")
    amount = quantity(source.c.members)
    rows = select(
        literal(run_id, ENTITLEMENTS.c.run_id.type),
        literal(program_id, ENTITLEMENTS.c.program_id.type),
        literal(cycle),
        literal(unit),
        source.c.unit_id,
        source.c.region_code,
        amount,
        amount * unit_value,
    )
    columns = ["run_id", "program_id", "cycle", "unit", "unit_id", "region_code", "quantity", "value"]
    session.execute(insert(ENTITLEMENTS).from_select(columns, rows))


def quantity_expression(per_member: bool, amount: int, cap: int | None):  # type: ignore[no-untyped-def]
    """The SQL of how many units a unit receives, from its member count."""

    def build(members):  # type: ignore[no-untyped-def]
        total = members * amount if per_member else literal(amount)
        return case((total > cap, cap), else_=total) if cap is not None else total

    return build


def totals_by_region(session: Session, source: Select | None, run_id: uuid.UUID | None, quantity) -> list[tuple]:  # type: ignore[no-untyped-def]
    """(region, units, quantity) of a run's entitlements, or of eligible units not written (a preview)."""
    if run_id is not None:
        query = (
            select(ENTITLEMENTS.c.region_code, func.count(), func.sum(ENTITLEMENTS.c.quantity))
            .where(ENTITLEMENTS.c.run_id == run_id)
            .group_by(ENTITLEMENTS.c.region_code)
        )
    else:
        assert source is not None
        eligible = source.subquery("eligible")
        query = select(eligible.c.region_code, func.count(), func.sum(quantity(eligible.c.members))).group_by(
            eligible.c.region_code
        )
    return [(region, count, int(total or 0)) for region, count, total in session.execute(query)]


def clause_counts(session: Session, query: Select) -> list[int]:
    """The single row of a clause-count query."""
    return [int(value or 0) for value in session.execute(query).one()]


def stream_ids(session: Session, query: Select) -> Iterator[bytes]:
    """The first column of a query as 16-byte ids, a batch at a time."""
    for (unit_id,) in session.execute(query.execution_options(yield_per=50_000)):
        yield unit_id.bytes


def changed_units(session: Session, run_id: uuid.UUID, previous_id: uuid.UUID) -> tuple[int, int]:
    """(newly entitled, no longer entitled) between a previous run and this one."""
    mine, theirs = ENTITLEMENTS.alias("mine"), ENTITLEMENTS.alias("theirs")
    newly = (
        select(func.count())
        .select_from(mine)
        .where(
            mine.c.run_id == run_id,
            ~select(theirs.c.id).where(theirs.c.run_id == previous_id, theirs.c.unit_id == mine.c.unit_id).exists(),
        )
    )
    gone = (
        select(func.count())
        .select_from(theirs)
        .where(
            theirs.c.run_id == previous_id,
            ~select(mine.c.id).where(mine.c.run_id == run_id, mine.c.unit_id == theirs.c.unit_id).exists(),
        )
    )
    return session.scalar(newly) or 0, session.scalar(gone) or 0


def changed_against_preview(session: Session, source: Select, previous_id: uuid.UUID) -> tuple[int, int]:
    """(newly entitled, no longer entitled) of eligible units not written yet, against a previous run."""
    eligible = source.subquery("eligible")
    theirs = ENTITLEMENTS.alias("theirs")
    newly = (
        select(func.count())
        .select_from(eligible)
        .where(
            ~select(theirs.c.id).where(theirs.c.run_id == previous_id, theirs.c.unit_id == eligible.c.unit_id).exists()
        )
    )
    still = (
        select(func.count())
        .select_from(theirs)
        .where(theirs.c.run_id == previous_id, theirs.c.unit_id.in_(select(eligible.c.unit_id)))
    )
    previous_total = session.scalar(select(func.count()).where(theirs.c.run_id == previous_id)) or 0
    return session.scalar(newly) or 0, previous_total - (session.scalar(still) or 0)


def entitlement_of(session: Session, run_id: uuid.UUID, unit_id: uuid.UUID) -> Entitlement | None:
    """A unit's entitlement in a run."""
    return session.scalars(
        select(Entitlement).where(Entitlement.run_id == run_id, Entitlement.unit_id == unit_id)
    ).first()


def runs_covering(session: Session, *, region_codes: Sequence[str], since: Any) -> list[EligibilityRun]:
    """Runs made after `since` whose regions include one of `region_codes` (or that covered everyone)."""
    runs = session.scalars(select(EligibilityRun).where(EligibilityRun.proposed_at >= since))
    return [r for r in runs if r.regions is None or set(r.regions) & set(region_codes)]


def latest_published(session: Session, program_id: uuid.UUID) -> EligibilityRun | None:
    """The programme's most recent published run."""
    return session.scalars(
        select(EligibilityRun)
        .where(EligibilityRun.program_id == program_id, EligibilityRun.status == "published")
        .order_by(EligibilityRun.cycle.desc(), EligibilityRun.approved_at.desc())
        .limit(1)
    ).first()


def stream_entitlements(session: Session, run_id: uuid.UUID):  # type: ignore[no-untyped-def]
    """(unit id, unit, region, quantity, value) of a run's entitlements in unit order, a batch at a time."""
    return session.execute(
        select(Entitlement.unit_id, Entitlement.unit, Entitlement.region_code, Entitlement.quantity,
               Entitlement.value)
        .where(Entitlement.run_id == run_id)
        .order_by(Entitlement.unit_id)
        .execution_options(yield_per=20_000)
    )  # fmt: skip


def run_unit_ids(run_id: uuid.UUID) -> Select:
    """The unit ids of a run's entitlements in ascending order (for a cohort digest)."""
    return select(Entitlement.unit_id).where(Entitlement.run_id == run_id).order_by(Entitlement.unit_id)
