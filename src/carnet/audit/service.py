"""The one way to record access to personal data, in the caller's transaction."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime

from sqlalchemy import insert
from sqlalchemy.orm import Session

from carnet.audit.models import AccessRecord
from carnet.kit.actor import Actor

ACTIONS = ("read", "create", "update", "import")


def record_access(
    session: Session,
    *,
    actor: Actor,
    action: str,
    subject_type: str,
    subject_ids: Sequence[uuid.UUID],
    fields: Sequence[str],
    now: datetime,
) -> int:
    """Write one access record per subject, flushed in the caller's transaction; returns how many."""
    if action not in ACTIONS:
        raise ValueError(f"unknown access action {action!r}")
    if not subject_ids:
        return 0
    base = _actor_columns(actor, now) | {
        "action": action,
        "subject_type": subject_type,
        "fields": sorted(fields),
    }
    session.execute(insert(AccessRecord), [base | {"subject_id": sid} for sid in subject_ids])
    return len(subject_ids)


class CohortDigest:
    """SHA-256 over a cohort's member ids (16 bytes each) in ascending order, fed as they are found."""

    def __init__(self) -> None:
        self._hash = hashlib.sha256()
        self.size = 0
        self._last = b""

    def add(self, member_ids: Iterable[uuid.UUID]) -> None:
        """Add members; they must come in ascending order, each once."""
        self.add_bytes(member.bytes for member in member_ids)

    def add_bytes(self, member_ids: Iterable[bytes]) -> None:
        """Add members given as their 16 bytes (byte order is uuid order), ascending, each once."""
        for member in member_ids:
            if member <= self._last:
                raise ValueError("cohort member ids must be unique and in ascending order")
            self._hash.update(member)
            self._last = member
            self.size += 1

    def hexdigest(self) -> str:
        """The digest so far."""
        return self._hash.hexdigest()


def record_cohort_access(
    session: Session,
    *,
    actor: Actor,
    action: str,
    cohort_ref: str,
    cohort: CohortDigest,
    fields: Sequence[str],
    now: datetime,
) -> AccessRecord:
    """One record that commits to a whole cohort (its size and digest), for bulk operations."""
    record = AccessRecord(
        **_actor_columns(actor, now),
        action=action,
        subject_type="cohort",
        subject_id=None,
        fields=sorted(fields),
        cohort_ref=cohort_ref,
        cohort_size=cohort.size,
        cohort_digest=cohort.hexdigest(),
    )
    session.add(record)
    session.flush()
    return record


def _actor_columns(actor: Actor, now: datetime) -> dict:
    return {
        "occurred_at": now,
        "request_id": actor.request_id,
        "actor_user_id": actor.user_id,
        "actor_role": actor.role,
        "actor_office": actor.office,
        "purpose": actor.purpose,
    }
