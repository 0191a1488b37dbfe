"""Every query of the audit domain."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from carnet.audit.models import (
    AccessRecord,
    AuditEntry,
    AuditKey,
    AuditLogState,
    AuditNode,
    HeadWitness,
    StoreKeyVerifier,
    TreeHead,
)
from carnet.db.driver import Driver

STATE = AuditLogState.__table__


def reserve_leaves(session: Session, count: int) -> tuple[int, bytes]:
    """Take the next `count` leaf numbers: (the first, the frontier before them). Holds the append lock until commit."""
    size, frontier = (
        Driver(session)
        .execute("UPDATE audit_log_state SET size = size + ? WHERE id = 1 RETURNING size, frontier", (count,))
        .fetchone()
    )
    return size - count, bytes(frontier)


def store_frontier(session: Session, frontier: bytes) -> None:
    """Keep the frontier of the tree as it is after this transaction's appends."""
    Driver(session).execute("UPDATE audit_log_state SET frontier = ? WHERE id = 1", (frontier,))


def log_size(session: Session) -> int:
    """How many leaves the log holds."""
    return session.execute(select(STATE.c.size).where(STATE.c.id == 1)).scalar_one()


def nodes(session: Session, keys: Sequence[tuple[int, int]]) -> dict[tuple[int, int], bytes]:
    """Stored node hashes by (level, position)."""
    if not keys:
        return {}
    condition = or_(*(and_(AuditNode.level == level, AuditNode.position == position) for level, position in keys))
    return {(n.level, n.position): n.hash for n in session.scalars(select(AuditNode).where(condition))}


def insert_entries(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    """Add leaves (this runs on every audited request)."""
    driver = Driver(session)
    driver.executemany(
        "INSERT INTO audit_entries (leaf_index, entry_type, body, leaf_hash, access_seq, appended_at) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        [(r["leaf_index"], r["entry_type"], r["body"], r["leaf_hash"], r["access_seq"],
          driver.timestamp(r["appended_at"])) for r in rows],
    )  # fmt: skip


def insert_nodes(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    """Add node hashes."""
    if rows:
        Driver(session).executemany(
            "INSERT INTO audit_nodes (level, position, hash) VALUES (?, ?, ?)",
            [(r["level"], r["position"], r["hash"]) for r in rows],
        )


def stream_entries(session: Session) -> Iterator[tuple[int, bytes, bytes]]:
    """(leaf index, body, leaf hash) of every entry, in leaf order, a batch at a time."""
    rows = session.execute(
        select(AuditEntry.leaf_index, AuditEntry.body, AuditEntry.leaf_hash)
        .order_by(AuditEntry.leaf_index)
        .execution_options(yield_per=20_000)
    )
    for leaf_index, body, leaf_hash in rows:
        yield leaf_index, bytes(body), bytes(leaf_hash)


def log_key(session: Session) -> AuditKey | None:
    """The log's current signing key."""
    return session.scalars(
        select(AuditKey).where(AuditKey.role == "log", AuditKey.retired_at.is_(None)).order_by(AuditKey.created_at)
    ).first()


def keys_by_kid(session: Session) -> dict[str, AuditKey]:
    """Every key ever used, retired ones included."""
    return {k.kid: k for k in session.scalars(select(AuditKey))}


def heads(session: Session) -> list[TreeHead]:
    """Every signed tree head, oldest first."""
    return list(session.scalars(select(TreeHead).order_by(TreeHead.id)))


def latest_head(session: Session) -> TreeHead | None:
    """The newest signed tree head."""
    return session.scalars(select(TreeHead).order_by(TreeHead.id.desc()).limit(1)).first()


def entry(session: Session, leaf_index: int) -> AuditEntry | None:
    """One entry."""
    return session.get(AuditEntry, leaf_index)


def accesses_of(session: Session, subject_id: Any, cohort_refs: Sequence[str]) -> list[tuple[AccessRecord, AuditEntry]]:
    """The access records about one subject, and the cohort records that include it, with their entries."""
    condition = AccessRecord.subject_id == subject_id
    if cohort_refs:
        condition = or_(condition, AccessRecord.cohort_ref.in_(list(cohort_refs)))
    rows = session.execute(
        select(AccessRecord, AuditEntry)
        .join(AuditEntry, AuditEntry.access_seq == AccessRecord.seq)
        .where(condition)
        .order_by(AccessRecord.seq)
    )
    return [(record, entry) for record, entry in rows]


def last_witnessed_head(session: Session, kid: str) -> TreeHead | None:
    """The newest head a witness countersigned."""
    return session.scalars(
        select(TreeHead)
        .join(HeadWitness, HeadWitness.head_id == TreeHead.id)
        .where(HeadWitness.kid == kid)
        .order_by(TreeHead.id.desc())
        .limit(1)
    ).first()


def witnesses(session: Session) -> list[HeadWitness]:
    """Every countersignature."""
    return list(session.scalars(select(HeadWitness)))


def witnessed_heads(session: Session, kid: str) -> list[tuple[TreeHead, HeadWitness]]:
    """Every head a witness countersigned, with the countersignature, oldest first."""
    rows = session.execute(
        select(TreeHead, HeadWitness)
        .join(HeadWitness, HeadWitness.head_id == TreeHead.id)
        .where(HeadWitness.kid == kid)
        .order_by(TreeHead.id)
    )
    return [(head, countersignature) for head, countersignature in rows]


def store_key_verifier(session: Session) -> StoreKeyVerifier | None:
    """The store's passphrase verifier, locked for this transaction on PostgreSQL."""
    return session.scalars(select(StoreKeyVerifier).where(StoreKeyVerifier.id == 1).with_for_update()).first()


def stream_access_records(session: Session) -> Iterator[tuple[AccessRecord, AuditEntry | None]]:
    """Every access record with the log entry derived from it (None when it has none), in seq order."""
    rows = session.execute(
        select(AccessRecord, AuditEntry)
        .outerjoin(AuditEntry, AuditEntry.access_seq == AccessRecord.seq)
        .order_by(AccessRecord.seq)
        .execution_options(yield_per=5_000)
    )
    yield from rows.tuples()


def entries_of_type(session: Session, entry_type: str) -> Iterator[tuple[int, bytes]]:
    """(leaf index, body) of every entry of one type, in leaf order."""
    rows = session.execute(
        select(AuditEntry.leaf_index, AuditEntry.body)
        .where(AuditEntry.entry_type == entry_type)
        .order_by(AuditEntry.leaf_index)
        .execution_options(yield_per=5_000)
    )
    for leaf_index, body in rows:
        yield leaf_index, bytes(body)
