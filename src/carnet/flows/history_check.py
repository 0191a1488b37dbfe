"""Tamper evidence for what people and auditors read as history, checked against the signed audit log.

`audit` is a sink and knows no other domain's tables, so the check that spans them lives here:
- access records: each one's log entry is recomputed from the row (audit does that itself);
- registry change history (`record_changes`) and programme versions (`program_versions`, the rule a
  decision followed): each row is sealed by a `history` entry holding a digest per field; every row from
  the first sealed one on must have its entry, and every field must match;
- eligibility runs and their entitlements: each published run is sealed by its `program.run_published`
  change entry (cycle, version, totals, cohort digest, who proposed and approved it, and a count and
  digest of its entitlements); a run shown as published or superseded must be named by the log.
The first mismatch is returned, naming table, row and field; `carnet audit verify` exits 1 on it.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from carnet.audit import entries as audit_entries
from carnet.audit.service import HistoryMismatch, change_entries, history_entries, verify_access_records
from carnet.programs.models import EligibilityRun, ProgramVersion
from carnet.programs.service import entitlements_seal, version_values
from carnet.registry.models import RecordChange

RECORD_CHANGES = "record_changes"
# What a run_published entry says about its run: entry detail → eligibility_runs column.
RUN_DETAILS = {
    "cycle": "cycle",
    "program_version": "program_version",
    "units_eligible": "units_eligible",
    "value": "total_value",
    "currency": "currency",
    "cohort_digest": "cohort_digest",
    "supersedes": "supersedes_run_id",
    "proposed_by": "proposed_by",
    "approved_by": "approved_by",
}


@dataclass(frozen=True)
class HistoryCheck:
    """What the history check found: how many rows it checked, how many predate sealing, the first mismatch."""

    checked: dict[str, int]
    unsealed: dict[str, int]
    mismatch: HistoryMismatch | None

    @property
    def ok(self) -> bool:
        """Whether every checked row agrees with the log."""
        return self.mismatch is None


def check_history(session: Session) -> HistoryCheck:
    """Check access records, the registry's change history and programme runs against the log; the first mismatch."""
    checked: dict[str, int] = {}
    unsealed: dict[str, int] = {}
    mismatch = verify_access_records(session)
    if mismatch is None:
        mismatch = _check_sealed_rows(session, RECORD_CHANGES, _record_changes(session), checked, unsealed)
    if mismatch is None:
        mismatch = _check_sealed_rows(session, "program_versions", _program_versions(session), checked, unsealed)
    if mismatch is None:
        mismatch = _check_runs(session, checked)
    return HistoryCheck(checked, unsealed, mismatch)


def _check_sealed_rows(
    session: Session,
    table: str,
    rows: Iterator[tuple[str, str, dict[str, Any], int | None]],
    checked: dict[str, int],
    unsealed: dict[str, int],
) -> HistoryMismatch | None:
    """Rows given as (row key, binding, sealed columns, order number): each against its `history` entry."""
    sealed = history_entries(session, table)
    checked[table] = unsealed[table] = 0
    seen: set[str] = set()
    first_sealed: int | None = None
    pending: list[tuple[str, int | None]] = []
    for row, binding, values, number in rows:
        if row not in sealed:
            pending.append((row, number))  # before the first sealed row: legacy; after it: never sealed
            continue
        if first_sealed is None and number is not None:
            first_sealed = number
        leaf, entry = sealed[row]
        seen.add(row)
        digests = entry.get("fields", {})
        for name in sorted(set(values) | set(digests)):
            expected = audit_entries.field_digest(table=table, row=row, binding=binding, name=name,
                                                  value=values.get(name))  # fmt: skip
            if digests.get(name) != expected:
                return HistoryMismatch(table, row, name, leaf)
        checked[table] += 1
    for row, number in pending:
        if first_sealed is None or number is None or number < first_sealed:
            unsealed[table] += 1  # written before history was sealed: nothing to check against
        else:
            return HistoryMismatch(table, row, "row", None)  # a row the log never sealed
    missing = sorted(set(sealed) - seen, key=lambda row: sealed[row][0])
    if missing:
        return HistoryMismatch(table, missing[0], "row deleted", sealed[missing[0]][0])
    return None


def _record_changes(session: Session) -> Iterator[tuple[str, str, dict[str, Any], int | None]]:
    columns = [c.key for c in RecordChange.__table__.columns if c.key != "id"]
    query = select(RecordChange).order_by(RecordChange.id).execution_options(yield_per=5_000)
    for change in session.scalars(query):
        yield str(change.id), str(change.entity_id), {name: getattr(change, name) for name in columns}, change.id


def _program_versions(session: Session) -> Iterator[tuple[str, str, dict[str, Any], int | None]]:
    query = select(ProgramVersion).order_by(ProgramVersion.created_at, ProgramVersion.program_id,
                                            ProgramVersion.version)  # fmt: skip
    for number, version in enumerate(session.scalars(query)):
        yield f"{version.program_id}:{version.version}", str(version.program_id), version_values(version), number


def _check_runs(session: Session, checked: dict[str, int]) -> HistoryMismatch | None:
    published: dict[str, tuple[int, dict[str, Any]]] = {}
    superseded_by_log: set[str] = set()
    for leaf, entry in change_entries(session, "program.run_published"):
        details = entry.get("details", {})
        published[str(details.get("run"))] = (leaf, entry)
        if details.get("supersedes"):
            superseded_by_log.add(str(details["supersedes"]))
    checked["eligibility_runs"] = checked["entitlements"] = 0
    for run in session.scalars(select(EligibilityRun).order_by(EligibilityRun.proposed_at, EligibilityRun.id)):
        key = str(run.id)
        if key not in published:
            if run.status in ("published", "superseded") or run.approved_at is not None:
                return HistoryMismatch("eligibility_runs", key, "status", None)
            continue
        leaf, entry = published[key]
        details = entry["details"]
        if run.status not in ("published", "superseded"):
            return HistoryMismatch("eligibility_runs", key, "status", leaf)
        if (run.status == "superseded") != (key in superseded_by_log):
            return HistoryMismatch("eligibility_runs", key, "status", leaf)
        if run.approved_at is None or audit_entries.timestamp(run.approved_at) != entry.get("at"):
            return HistoryMismatch("eligibility_runs", key, "approved_at", leaf)
        for detail, column in RUN_DETAILS.items():
            if detail not in details:
                continue  # runs published before this detail was sealed
            value = getattr(run, column)
            if (str(value) if isinstance(value, uuid.UUID) else value) != details[detail]:
                return HistoryMismatch("eligibility_runs", key, column, leaf)
        checked["eligibility_runs"] += 1
        if "entitlements" in details:
            seal = entitlements_seal(session, run.id)
            for part in ("count", "digest"):
                if seal[part] != details["entitlements"].get(part):
                    return HistoryMismatch("entitlements", f"run {key}", "rows" if part == "count" else "digest",
                                           leaf)  # fmt: skip
            checked["entitlements"] += seal["count"]
    return None
