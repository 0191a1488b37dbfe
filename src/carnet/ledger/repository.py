"""Every query of the ledger: accounts locked in id order, stored transfers and resolutions, batched writes."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, func, insert, or_, select, update
from sqlalchemy.orm import Session

from carnet.db.queries import chunks, dialect_insert
from carnet.ledger.models import LedgerAccount, LedgerBatch, LedgerResolution, LedgerTransfer

_TOTALS = ("debits_pending", "debits_posted", "credits_pending", "credits_posted")


def take_write_lock(session: Session, batch: dict[str, Any]) -> None:
    """Insert the batch row first: on SQLite this takes the database's write lock before any balance is read."""
    session.execute(insert(LedgerBatch), [batch])


def lock_accounts(session: Session, ids: Sequence[uuid.UUID]) -> list[LedgerAccount]:
    """The accounts, locked FOR UPDATE in id order (one order for every batch: no deadlock between them)."""
    out: list[LedgerAccount] = []
    for chunk in chunks(sorted(set(ids))):
        query = (
            select(LedgerAccount)
            .where(LedgerAccount.id.in_(chunk))
            .order_by(LedgerAccount.id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
        out.extend(session.execute(query).scalars())
    return out


def accounts(session: Session, ids: Sequence[uuid.UUID]) -> list[LedgerAccount]:
    """The accounts, unlocked (for reading balances)."""
    out: list[LedgerAccount] = []
    for chunk in chunks(sorted(set(ids))):
        out.extend(session.execute(select(LedgerAccount).where(LedgerAccount.id.in_(chunk))).scalars())
    return out


def transfers(session: Session, ids: Sequence[uuid.UUID]) -> list[LedgerTransfer]:
    """Stored transfers by id."""
    out: list[LedgerTransfer] = []
    for chunk in chunks(sorted(set(ids))):
        out.extend(session.execute(select(LedgerTransfer).where(LedgerTransfer.id.in_(chunk))).scalars())
    return out


def resolutions(session: Session, pending_ids: Sequence[uuid.UUID]) -> list[LedgerResolution]:
    """How these pending transfers ended, for those that did."""
    out: list[LedgerResolution] = []
    for chunk in chunks(sorted(set(pending_ids))):
        query = select(LedgerResolution).where(LedgerResolution.pending_id.in_(chunk))
        out.extend(session.execute(query).scalars())
    return out


def open_pending(session: Session, due_before: datetime, limit: int) -> list[LedgerTransfer]:
    """Pending transfers with a timeout and no resolution, oldest first (the expiry sweep filters by deadline)."""
    resolved = select(LedgerResolution.pending_id).where(LedgerResolution.pending_id == LedgerTransfer.id).exists()
    query = (
        select(LedgerTransfer)
        .where(LedgerTransfer.timeout > 0, LedgerTransfer.timestamp < due_before, ~resolved)
        .order_by(LedgerTransfer.timestamp, LedgerTransfer.id)
        .limit(limit)
    )
    return [t for t in session.execute(query).scalars() if "pending" in t.flags]


def insert_accounts(session: Session, rows: list[dict[str, Any]]) -> None:
    """Open accounts; one that exists already is left as it is."""
    if rows:
        session.execute(
            dialect_insert(session)(LedgerAccount.__table__).on_conflict_do_nothing(index_elements=["id"]), rows
        )


def insert_transfers(session: Session, rows: list[dict[str, Any]]) -> None:
    """Store applied transfers (one multi-row INSERT)."""
    if rows:
        session.execute(insert(LedgerTransfer.__table__), rows)


def is_transfer_id_taken(error: Exception) -> bool:
    """Whether a failed insert broke the primary key of ledger_transfers (an id applied at the same moment)."""
    original = getattr(error, "orig", None)
    constraint = getattr(getattr(original, "diag", None), "constraint_name", None)
    return constraint == "pk_ledger_transfers" or "ledger_transfers.id" in str(original)


def insert_resolutions(session: Session, rows: list[dict[str, Any]]) -> None:
    """Store how pending transfers ended."""
    if rows:
        session.execute(insert(LedgerResolution.__table__), rows)


def set_totals(session: Session, rows: list[dict[str, Any]]) -> None:
    """Write back the four totals (and flags) of changed accounts, already locked by this transaction."""
    if not rows:
        return
    table = LedgerAccount.__table__
    statement = (
        update(table)
        .where(table.c.id == bindparam("account_id"))
        .values({name: bindparam(name) for name in (*_TOTALS, "flags")})
    )
    session.execute(statement, rows, execution_options={"synchronize_session": False})


def set_batch_applied(session: Session, batch_id: uuid.UUID, applied: int) -> None:
    """Record how many transfers of a batch were applied."""
    session.execute(update(LedgerBatch).where(LedgerBatch.id == batch_id).values(applied=applied))


def account_by_holder(session: Session, kind: str, holder: str, currency: str) -> LedgerAccount | None:
    """The account of a kind held by `holder` in a currency."""
    query = select(LedgerAccount).where(
        LedgerAccount.kind == kind, LedgerAccount.holder == holder, LedgerAccount.currency == currency
    )
    return session.execute(query).scalars().first()


def transfers_of(session: Session, account_id: uuid.UUID, limit: int) -> list[LedgerTransfer]:
    """An account's transfers in the order they were applied."""
    query = (
        select(LedgerTransfer)
        .where(or_(LedgerTransfer.debit_account_id == account_id, LedgerTransfer.credit_account_id == account_id))
        .order_by(LedgerTransfer.timestamp, LedgerTransfer.batch_id, LedgerTransfer.position)
        .limit(limit)
    )
    return list(session.execute(query).scalars())


def totals_by_ledger(session: Session) -> list[Any]:
    """Per ledger: the sums of the four totals over every account (debits equal credits when all is well)."""
    query = select(LedgerAccount.ledger, LedgerAccount.currency, func.count(),
                   *(func.sum(getattr(LedgerAccount, name)) for name in _TOTALS)).group_by(
        LedgerAccount.ledger, LedgerAccount.currency)  # fmt: skip
    return list(session.execute(query))


def accounts_of_kind(session: Session, kind: str, limit: int) -> list[LedgerAccount]:
    """Accounts of one kind, by holder."""
    query = select(LedgerAccount).where(LedgerAccount.kind == kind).order_by(LedgerAccount.holder).limit(limit)
    return list(session.execute(query).scalars())
