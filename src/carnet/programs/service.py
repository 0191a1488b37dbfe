"""Programmes: define and version them, run eligibility for a cycle, approve, explain; in the caller's transaction."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Iterable, Iterator, Mapping
from datetime import date, datetime
from typing import Any

from sqlalchemy.orm import Session

from carnet.audit.entries import rows_seal
from carnet.audit.service import CohortDigest, record_access, record_change, record_cohort_access, record_history
from carnet.audit.store_keys import SealedSecret, open_secret, seal_secret
from carnet.kit.actor import Actor
from carnet.kit.errors import AppError, Conflict, FieldError, Forbidden, NotFound, ValidationFailed
from carnet.kit.ids import uuid7
from carnet.programs import repository as repo
from carnet.programs.definition import ProgramDefinition, parse_cycle
from carnet.programs.disclosure import FieldPolicy, Reader, shown_values, visible_fields
from carnet.programs.models import EligibilityRun, Program, ProgramVersion, SectorKey
from carnet.programs.pseudonym import KEY_BYTES, sector_pseudonym, unit_pseudonym
from carnet.programs.rules import AttributeInfo, CheckedRule, check_rule, explain
from carnet.programs.rules.nodes import Age, Aggregate, Name, walk
from carnet.programs.rules.sql import clause_counts, eligible_units, units_in_scope
from carnet.registry import repository as registry_repo
from carnet.registry.service import current_dictionary


def attribute_infos(session: Session) -> dict[str, AttributeInfo]:
    """The declared attributes as the rule checker sees them (the current dictionary)."""
    dictionary = current_dictionary(session)
    return {
        name: AttributeInfo(name=name, type=spec.type, values=spec.enum_values, purposes=frozenset(spec.purposes))
        for name, spec in dictionary.attributes.items()
    }


def checked_rule(session: Session, definition: ProgramDefinition) -> CheckedRule:
    """The programme's rule checked against the current dictionary and the programme's purpose."""
    return check_rule(definition.rule, unit=definition.unit, purpose=definition.purpose,
                      attributes=attribute_infos(session))  # fmt: skip


def _identity(actor: Actor) -> str:
    # Who proposed or approved: the account when there is one, else the console operator's office.
    return str(actor.user_id) if actor.user_id else f"{actor.role}@{actor.office or ''}"[:120]


def _actor_details(actor: Actor) -> dict[str, Any]:
    return {"actor_role": actor.role, "actor_office": actor.office, "actor_user_id": actor.user_id}


# Definitions
def apply_program(
    session: Session, *, actor: Actor, definition: ProgramDefinition, passphrase: str | None, now: datetime
) -> dict[str, Any]:
    """Create a programme (with its sealed sector key) or add a version when its definition changed.

    A rule that does not check is refused; a new programme needs the store's key passphrase.
    """
    dictionary = current_dictionary(session)
    errors = []
    if definition.purpose not in dictionary.purposes:
        errors.append(FieldError("purpose", "unknown_purpose",
                                 f"'{definition.purpose}' is not a purpose of the attribute dictionary"))  # fmt: skip
    for region in definition.regions or ():
        if not registry_repo.region_exists(session, region):
            errors.append(FieldError("regions", "unknown_region", f"'{region}' is not a region"))
    if errors:
        raise ValidationFailed(f"programme {definition.code}: some fields are invalid", errors)
    rule = checked_rule(session, definition)
    document = definition.as_document()
    program = repo.program_by_code(session, definition.code)
    if program is not None:
        current = repo.version(session, program.id, program.version)
        if current is not None and current.definition == document:
            return {"code": program.code, "version": program.version, "changed": False}
        program.version += 1
        program.title, program.purpose, program.status = definition.title, definition.purpose, definition.status
        program.updated_at = now
    else:
        program_id = uuid7()
        # Sealed first: a missing or wrong passphrase refuses the programme before anything is written.
        sealed = seal_secret(session, secret=secrets.token_bytes(KEY_BYTES), passphrase=passphrase,
                             context=sector_key_context(program_id), now=now)  # fmt: skip
        program = Program(id=program_id, code=definition.code, title=definition.title, purpose=definition.purpose,
                          status=definition.status, version=1, created_at=now, updated_at=now)  # fmt: skip
        session.add(program)
        session.flush()
        session.add(SectorKey(program_id=program_id, kind=sealed.kind, params=sealed.params, salt=sealed.salt,
                              nonce=sealed.nonce, ciphertext=sealed.ciphertext, created_at=now))  # fmt: skip
    session.flush()
    version = ProgramVersion(program_id=program.id, version=program.version, definition=document, rule=rule.text,
                             rule_fingerprint=rule.fingerprint, created_at=now, **_actor_details(actor))  # fmt: skip
    session.add(version)
    session.flush()
    # The rule a decision followed is history an auditor reads: sealed field by field in the log.
    record_history(session, table="program_versions", row=f"{program.id}:{program.version}",
                   binding=str(program.id), values=version_values(version), now=now)  # fmt: skip
    record_change(session, actor=actor, what="program.version", now=now, details={
        "program": program.code, "version": program.version, "status": program.status, "purpose": program.purpose,
        "rule_fingerprint": rule.fingerprint, "attributes": sorted(rule.attributes)})  # fmt: skip
    return {"code": program.code, "version": program.version, "changed": True}


# Sector keys and pseudonyms
def sector_key_context(program_id: uuid.UUID) -> bytes:
    """What a programme's sealed sector key is bound to: its programme (migration 0008 freezes the same bytes)."""
    return b"program-sector-key\x00" + program_id.bytes


def open_sector_key(session: Session, *, program_id: uuid.UUID, passphrase: str | None) -> bytes:
    """A programme's 32-byte sector key, opened with the store passphrase; keep it in memory only."""
    row = repo.sector_key(session, program_id)
    if row is None:
        raise NotFound(f"programme {program_id} has no sector key", code="sector_key_missing")
    sealed = SealedSecret(kind=row.kind, params=row.params, salt=bytes(row.salt), nonce=bytes(row.nonce),
                          ciphertext=bytes(row.ciphertext))  # fmt: skip
    return open_secret(sealed, passphrase=passphrase, context=sector_key_context(program_id))


def pseudonyms_for(
    session: Session, *, program_id: uuid.UUID, person_ids: Iterable[uuid.UUID], passphrase: str | None
) -> dict[uuid.UUID, str]:
    """The programme's pseudonyms of many persons at once: the key is opened once, no query per person."""
    key = open_sector_key(session, program_id=program_id, passphrase=passphrase)
    return {person_id: sector_pseudonym(key, person_id) for person_id in person_ids}


def pseudonym_for(session: Session, *, program_id: uuid.UUID, person_id: uuid.UUID, passphrase: str | None) -> str:
    """The programme's pseudonym of one person."""
    return pseudonyms_for(session, program_id=program_id, person_ids=[person_id], passphrase=passphrase)[person_id]


def unit_pseudonyms(
    session: Session, *, program_id: uuid.UUID, units: Iterable[tuple[str, uuid.UUID]], passphrase: str | None
) -> Iterator[str]:
    """The programme's pseudonyms of (unit, id) pairs — persons or households — in order, lazily."""
    key = open_sector_key(session, program_id=program_id, passphrase=passphrase)
    return (unit_pseudonym(key, unit, unit_id) for unit, unit_id in units)


# What a programme exports: its pseudonyms, never a registry id (docs/formats/pseudonym.md).
ENTITLEMENT_COLUMNS = ("pseudonym", "unit", "region_code", "quantity", "value", "currency", "program", "cycle", "run")


def export_entitlements(
    session: Session, *, actor: Actor, run_id: uuid.UUID, passphrase: str | None, now: datetime
) -> Iterator[dict[str, Any]]:
    """A run's entitlements as rows of ENTITLEMENT_COLUMNS, the unit named by the programme's pseudonym.

    The export is recorded first (one cohort entry over the run's units, under the run's reference, so each
    person's access log shows it); rows then stream in unit order, a batch at a time.
    """
    run = get_run(session, run_id)
    program = repo.program(session, run.program_id)
    assert program is not None
    key = open_sector_key(session, program_id=program.id, passphrase=passphrase)
    cohort = CohortDigest()
    cohort.add_bytes(repo.stream_ids(session, repo.run_unit_ids(run.id)))
    record_cohort_access(session, actor=actor, action="read", cohort_ref=f"run:{run.id}", cohort=cohort,
                         fields=["entitlement", "sector_pseudonym"], now=now)  # fmt: skip
    fixed = {"currency": run.currency, "program": program.code, "cycle": run.cycle, "run": str(run.id)}

    def rows() -> Iterator[dict[str, Any]]:
        for unit_id, unit, region_code, quantity, value in repo.stream_entitlements(session, run.id):
            yield {"pseudonym": unit_pseudonym(key, unit, unit_id), "unit": unit, "region_code": region_code,
                   "quantity": quantity, "value": value, **fixed}  # fmt: skip

    return rows()


def payable_entitlements(
    session: Session, *, run_id: uuid.UUID, passphrase: str | None
) -> tuple[EligibilityRun, Program, ProgramDefinition, Iterator[tuple[str, int]]]:
    """A published cash run, its programme and definition, and (pseudonym, value) per entitlement in unit order.

    What a disbursement pays: the wallet is named by the programme's pseudonym, never by the registry id.
    """
    run = get_run(session, run_id)
    program = repo.program(session, run.program_id)
    assert program is not None
    definition = program_definition(session, program, run.program_version)
    if run.status != "published":
        raise Conflict(f"run {run_id} is {run.status}, not published", code="run_not_published")
    if definition.benefit.kind != "cash":
        raise Conflict(f"programme {program.code} gives goods, not cash", code="program_not_cash")
    key = open_sector_key(session, program_id=program.id, passphrase=passphrase)
    rows = ((unit_pseudonym(key, unit, unit_id), int(value))
            for unit_id, unit, _region, _quantity, value in repo.stream_entitlements(session, run.id))  # fmt: skip
    return run, program, definition, rows


def program_definition(session: Session, program: Program, number: int | None = None) -> ProgramDefinition:
    """A programme's definition at a version (the current one by default)."""
    found = repo.version(session, program.id, number or program.version)
    if found is None:
        raise NotFound(f"programme {program.code} has no version {number}", code="program_version_not_found")
    return ProgramDefinition.from_document(found.definition)


def get_program(session: Session, code: str) -> Program:
    """A programme by code, or a 404."""
    program = repo.program_by_code(session, code)
    if program is None:
        raise NotFound(f"no programme {code!r}", code="program_not_found")
    return program


def list_programs(session: Session) -> list[dict[str, Any]]:
    """Every programme with its current definition."""
    out = []
    for program in repo.programs(session):
        definition = program_definition(session, program)
        out.append({"code": program.code, "title": program.title, "purpose": program.purpose,
                    "status": program.status, "version": program.version, "unit": definition.unit,
                    "rule": definition.rule, "benefit": definition.as_document()["benefit"],
                    "budget": definition.budget})  # fmt: skip
    return out


# Runs
def evaluate_cycle(
    session: Session, *, actor: Actor, code: str, cycle: str, now: datetime, persist: bool, supersede: bool = False
) -> EligibilityRun:
    """Evaluate a programme's rule for a cycle, set-based: a preview (counts only) or a proposed run (entitlements).

    Either way the run is recorded with its totals, counts by region and by clause, the change from the
    previous cycle, and one audit entry committing to every unit evaluated. Over budget, nothing is kept.
    """
    program = get_program(session, code)
    if program.status != "active":
        raise Conflict(f"programme {code} is {program.status}, not active", code="program_not_active")
    first_day, last_day = parse_cycle(cycle)
    definition = program_definition(session, program)
    if last_day < definition.start or (definition.end is not None and first_day > definition.end):
        raise Conflict(f"programme {code} does not run in {cycle}", code="cycle_outside_program")
    published = repo.run_with_status(session, program.id, cycle, "published")
    if persist:
        if published is not None and not supersede:
            raise Conflict(f"cycle {cycle} of {code} already has a published run ({published.id}); "
                           "propose with supersede to replace it", code="cycle_already_published")  # fmt: skip
        pending = repo.run_with_status(session, program.id, cycle, "proposed")
        if pending is not None:
            raise Conflict(f"run {pending.id} for {cycle} awaits approval", code="run_pending")
    rule = checked_rule(session, definition)
    regions = list(definition.regions) if definition.regions else None
    run = EligibilityRun(
        id=uuid7(), program_id=program.id, program_version=program.version, cycle=cycle,
        status="proposed" if persist else "preview", reference_date=datetime.combine(first_day, now.timetz()),
        regions=regions, proposed_at=now, proposed_by=_identity(actor), units_evaluated=0, units_eligible=0,
        total_quantity=0, total_value=0, currency=definition.benefit.currency, cohort_digest="", preview={},
    )  # fmt: skip
    session.add(run)
    session.flush()
    eligible = eligible_units(rule, today=first_day, regions=regions)
    quantity = repo.quantity_expression(definition.quantity_per == "member", definition.quantity,
                                        definition.quantity_cap)  # fmt: skip
    if persist:
        repo.insert_entitlements(session, eligible=eligible, run_id=run.id, program_id=program.id, cycle=cycle,
                                 unit=definition.unit, quantity=quantity,
                                 unit_value=definition.benefit.unit_value)  # fmt: skip
        by_region = repo.totals_by_region(session, None, run.id, quantity)
    else:
        by_region = repo.totals_by_region(session, eligible, None, quantity)
    counts = repo.clause_counts(session, clause_counts(rule, today=first_day, regions=regions))
    evaluated, per_clause = counts[0], counts[1:]
    units = sum(count for _, count, _ in by_region)
    total_quantity = sum(total for _, _, total in by_region)
    total_value = total_quantity * definition.benefit.unit_value
    totals = {"units_evaluated": evaluated, "units_eligible": units, "quantity": total_quantity,
              "value": total_value, "currency": definition.benefit.currency, "budget": definition.budget}  # fmt: skip
    if definition.budget is not None and total_value > definition.budget:
        raise AppError(
            f"{code} {cycle}: {total_value:,} {definition.benefit.currency} (minor units) for {units:,} units is over "
            f"the budget of {definition.budget:,}; nothing was kept", code="over_budget", status=409, extra=totals,
        )  # fmt: skip
    previous = repo.latest_published(session, program.id)
    change = None
    if (previous is not None and previous.cycle != cycle) or (previous is not None and supersede):
        newly, gone = (repo.changed_units(session, run.id, previous.id) if persist
                       else repo.changed_against_preview(session, eligible, previous.id))  # fmt: skip
        change = {"against_run": str(previous.id), "cycle": previous.cycle, "newly_eligible": newly,
                  "no_longer_eligible": gone}  # fmt: skip
    warnings = []
    share = units / evaluated if evaluated else 0.0
    if share > definition.max_share:
        message = (f"the rule selects {share:.0%} of the units in scope, more than the programme's "
                   f"{definition.max_share:.0%}: check it for a typo")  # fmt: skip
        warnings.append({"code": "selects_large_share", "message": message})
    cohort = CohortDigest()
    cohort.add_bytes(repo.stream_ids(session, units_in_scope(rule, regions=regions)))
    run.units_evaluated, run.units_eligible = evaluated, units
    run.total_quantity, run.total_value, run.cohort_digest = total_quantity, total_value, cohort.hexdigest()
    run.preview = {
        "totals": totals,
        "by_region": [{"region": r, "units": n, "quantity": q} for r, n, q in sorted(by_region)],
        "by_clause": [{"clause": c.text, "units": n} for c, n in zip(rule.clauses, per_clause, strict=True)],
        "change": change,
        "warnings": warnings,
        "rule_version": program.version,
        "rule_fingerprint": rule.fingerprint,
    }
    session.flush()
    # One entry for the whole run, committing to every household or person whose data it read.
    record_cohort_access(session, actor=actor, action="read", cohort_ref=f"run:{run.id}", cohort=cohort,
                         fields=list(rule.reads), now=now)  # fmt: skip
    return run


def approve_run(
    session: Session, *, actor: Actor, run_id: uuid.UUID, now: datetime, supersede: bool = False
) -> EligibilityRun:
    """Publish a proposed run; the approver must not be its proposer; a published cycle is replaced only on request."""
    run = repo.run(session, run_id)
    if run is None:
        raise NotFound(f"no run {run_id}", code="run_not_found")
    if run.status != "proposed":
        raise Conflict(f"run {run_id} is {run.status}; only a proposed run can be approved", code="run_not_proposed")
    if _identity(actor) == run.proposed_by:
        raise Forbidden("a run is approved by another programme officer than the one who proposed it",
                        code="same_officer")  # fmt: skip
    published = repo.run_with_status(session, run.program_id, run.cycle, "published")
    if published is not None:
        if not supersede:
            raise Conflict(f"cycle {run.cycle} already has a published run ({published.id}); approve with "
                           "supersede to replace it", code="cycle_already_published")  # fmt: skip
        published.status = "superseded"
        run.supersedes_run_id = published.id
        session.flush()
    run.status, run.approved_at, run.approved_by = "published", now, _identity(actor)
    session.flush()
    record_change(session, actor=actor, what="program.run_published", now=now, details={
        "run": str(run.id), "cycle": run.cycle, "program_version": run.program_version,
        "units_eligible": run.units_eligible, "value": run.total_value, "currency": run.currency,
        "cohort_digest": run.cohort_digest, "supersedes": str(run.supersedes_run_id) if run.supersedes_run_id else None,
        "proposed_by": run.proposed_by, "approved_by": run.approved_by,
        "entitlements": entitlements_seal(session, run.id),
    })  # fmt: skip
    return run


def version_values(version: ProgramVersion) -> dict[str, Any]:
    """The sealed columns of a programme version (all but its key)."""
    return {column.key: getattr(version, column.key) for column in ProgramVersion.__table__.columns
            if column.key not in ("program_id", "version")}  # fmt: skip


def entitlements_seal(session: Session, run_id: uuid.UUID) -> dict[str, Any]:
    """Count and digest of a run's entitlements, as sealed in the log when the run is published."""
    return rows_seal(repo.stream_entitlements(session, run_id))


def runs_of(session: Session, *, code: str) -> list[EligibilityRun]:
    """A programme's runs, newest first."""
    return repo.runs_of(session, get_program(session, code).id)


def get_run(session: Session, run_id: uuid.UUID) -> EligibilityRun:
    """One run, or a 404."""
    run = repo.run(session, run_id)
    if run is None:
        raise NotFound(f"no run {run_id}", code="run_not_found")
    return run


# Explanations
def explain_for_person(
    session: Session, *, actor: Actor, code: str, person_id: uuid.UUID, now: datetime, cycle: str | None = None
) -> dict[str, Any]:
    """Why a person (or their household) is or is not eligible: each clause with its values, rule version, run.

    Only the attributes the rule reads are loaded. Staff see whether each clause held; a value only where
    `disclosure` allows it (purpose, region, sensitivity), the rest are named under `withheld`. The read
    is recorded for the person to see, naming the values shown.
    """
    program = get_program(session, code)
    person = registry_repo.get_person(session, person_id, region_scope=actor.region_code)
    if person is None:
        raise NotFound(f"person {person_id} not found", code="person_not_found")
    run = repo.run_with_status(session, program.id, cycle, "published") if cycle else repo.latest_published(
        session, program.id)  # fmt: skip
    definition = program_definition(session, program, run.program_version if run else None)
    rule = checked_rule(session, definition)
    reference = parse_cycle(run.cycle if run else cycle or f"{now:%Y-%m}")[0]
    if definition.unit == "household" and person.household_id is None:
        raise Conflict(f"{code} is for households and this person belongs to none", code="no_household")
    member_rows = registry_repo.members_of(session, person.household_id) if person.household_id else [person]
    values = _values(session, member_rows, sorted(rule.attributes))
    members = [values[m.id] for m in member_rows]
    if definition.unit == "household":
        household = registry_repo.get_household(session, person.household_id, region_scope=None)  # type: ignore[arg-type]
        subject = {"region_code": household.region_code, "municipality_code": household.municipality_code}
        unit_id = household.id
    else:
        subject, unit_id = values[person.id], person.id
    explanation = explain(rule, subject=subject, members=members, today=reference)
    entitlement = repo.entitlement_of(session, run.id, unit_id) if run else None
    reader = Reader(role=actor.role, purpose=actor.purpose, region_code=actor.region_code,
                    is_the_person=actor.role == "citizen" and actor.person_id == person.id)  # fmt: skip
    visible = visible_fields(reader, fields=_field_policies(session, rule), programme_purpose=rule.purpose,
                             person_region=person.region_code)  # fmt: skip
    reads = _value_reads(rule)
    clauses, shown_fields = [], set()
    for clause in explanation.clauses:
        shown, withheld = shown_values(clause.values, reads=reads, visible=visible)
        shown_fields |= {field for name in shown for field in reads.get(name, (name,))}
        clauses.append({"text": clause.text, "result": clause.result, "values": _plain(shown), "withheld": withheld})
    # The access record names what was shown: whether each clause held, and the values actually disclosed.
    record_access(session, actor=actor, action="read", subject_type="person", subject_ids=[m.id for m in member_rows],
                  fields=["eligibility", *sorted(shown_fields)], now=now)  # fmt: skip
    return {
        "program": program.code,
        "title": program.title,
        "unit": definition.unit,
        "rule": rule.text,
        "rule_version": definition_version(run, program),
        "reference_date": reference,
        "eligible": explanation.result is True,
        "result": explanation.result,
        "clauses": clauses,
        "run": None if run is None else {"id": str(run.id), "cycle": run.cycle, "status": run.status},
        "entitlement": None
        if entitlement is None
        else {
            "quantity": entitlement.quantity,
            "value": entitlement.value,
            "currency": run.currency if run else None,
        },
    }


def explain_own(
    session: Session, *, actor: Actor, code: str, now: datetime, cycle: str | None = None
) -> dict[str, Any]:
    """The citizen's own explanation."""
    if actor.person_id is None:
        raise NotFound("this account is not linked to a registry record", code="no_linked_record")
    return explain_for_person(session, actor=actor, code=code, person_id=actor.person_id, now=now, cycle=cycle)


def definition_version(run: EligibilityRun | None, program: Program) -> int:
    """The programme version a decision followed: the run's, or the current one when there is no run."""
    return run.program_version if run else program.version


def _values(session: Session, persons: list, names: list[str]) -> dict[uuid.UUID, dict[str, Any]]:  # type: ignore[type-arg]
    out = {
        p.id: {"date_of_birth": p.date_of_birth, "sex": p.sex, "region_code": p.region_code,
               "municipality_code": p.municipality_code, "relationship": p.relationship, **dict.fromkeys(names)}
        for p in persons
    }  # fmt: skip
    for person_id, values in registry_repo.attributes_of(session, [p.id for p in persons], names).items():
        out[person_id] |= {value.name: value.value for value in values}
    return out


def _field_policies(session: Session, rule: CheckedRule) -> dict[str, FieldPolicy]:
    """The sensitivity and purposes of every field the rule reads (core fields need no purpose)."""
    attributes = current_dictionary(session).attributes
    return {
        name: FieldPolicy(sensitive=attributes[name].sensitivity == "sensitive",
                          purposes=frozenset(attributes[name].purposes))
        if name in attributes else FieldPolicy(sensitive=False, purposes=None)
        for name in rule.reads
    }  # fmt: skip


def _value_reads(rule: CheckedRule) -> dict[str, set[str]]:
    """For each age or aggregate an explanation shows, the fields it is computed from."""
    out: dict[str, set[str]] = {}
    for node in walk(rule.tree):
        if isinstance(node, Age | Aggregate):
            names = {n.name for n in walk(node) if isinstance(n, Name)}
            if isinstance(node, Aggregate) and node.attribute:
                names.add(node.attribute)
            out[rule.source(node)] = names
    return out


def _plain(values: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v.isoformat() if isinstance(v, date) else v for k, v in values.items()}


def program_cohorts(session: Session, person_id: uuid.UUID) -> list[str]:
    """The runs whose cohort included a person (runs over their region made after they were registered)."""
    person = registry_repo.get_person(session, person_id, region_scope=None)
    if person is None:
        return []
    regions = [r for r in (person.region_code, person.municipality_code) if r]
    return [f"run:{run.id}" for run in repo.runs_covering(session, region_codes=regions, since=person.created_at)]
