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


def record_cohort_access(
    session: Session,
    *,
    actor: Actor,
    action: str,
    cohort_ref: str,
    member_ids: Iterable[uuid.UUID],
    fields: Sequence[str],
    now: datetime,
) -> AccessRecord:
    """One record that commits to a whole cohort: SHA-256 over its member ids in ascending order.

    The ids must arrive sorted (the database sorts millions of them without holding them in memory).
    """
    digest = hashlib.sha256()
    size = 0
    previous: uuid.UUID | None = None
    for member in member_ids:
        if previous is not None and member <= previous:
            raise ValueError("cohort member ids must be unique and in ascending order")
        digest.update(member.bytes)
        previous = member
        size += 1
    record = AccessRecord(
        **_actor_columns(actor, now),
        action=action,
        subject_type="cohort",
        subject_id=None,
        fields=sorted(fields),
        cohort_ref=cohort_ref,
        cohort_size=size,
        cohort_digest=digest.hexdigest(),
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
