"""Tamper evidence for what people and auditors read as history, checked against the signed audit log.

`audit` is a sink and knows no other domain's tables, so the check that spans them lives here:
- access records: each one's log entry is recomputed from the row (audit does that itself);
- registry change history (`record_changes`): each row is sealed by a `history` entry holding a digest
  per field; every row from the first sealed one on must have its entry, and every field must match;
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
from carnet.programs.models import EligibilityRun
from carnet.programs.service import entitlements_seal
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
        mismatch = _check_record_changes(session, checked, unsealed)
    if mismatch is None:
        mismatch = _check_runs(session, checked)
    return HistoryCheck(checked, unsealed, mismatch)


def _stream_record_changes(session: Session) -> Iterator[RecordChange]:
    yield from session.scalars(select(RecordChange).order_by(RecordChange.id).execution_options(yield_per=5_000))


def _check_record_changes(
    session: Session, checked: dict[str, int], unsealed: dict[str, int]
) -> HistoryMismatch | None:
    sealed = history_entries(session, RECORD_CHANGES)
    first_sealed = min((int(row) for row in sealed), default=None)
    columns = [c.key for c in RecordChange.__table__.columns if c.key != "id"]
    seen: set[str] = set()
    checked[RECORD_CHANGES] = unsealed[RECORD_CHANGES] = 0
    for change in _stream_record_changes(session):
        row = str(change.id)
        if row not in sealed:
            if first_sealed is None or change.id < first_sealed:
                unsealed[RECORD_CHANGES] += 1  # written before history was sealed: nothing to check against
                continue
            return HistoryMismatch(RECORD_CHANGES, row, "row", None)  # a row the log never sealed
        leaf, entry = sealed[row]
        seen.add(row)
        digests = entry.get("fields", {})
        binding = str(change.entity_id)
        for name in sorted(set(columns) | set(digests)):
            value = getattr(change, name, None)
            expected = audit_entries.field_digest(table=RECORD_CHANGES, row=row, binding=binding, name=name,
                                                  value=value)  # fmt: skip
            if digests.get(name) != expected:
                return HistoryMismatch(RECORD_CHANGES, row, name, leaf)
        checked[RECORD_CHANGES] += 1
    missing = sorted(int(row) for row in set(sealed) - seen)
    if missing:
        return HistoryMismatch(RECORD_CHANGES, str(missing[0]), "row deleted", sealed[str(missing[0])][0])
    return None


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
