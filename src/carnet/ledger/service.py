"""Use cases of the ledger: open accounts, apply batches of transfers, expire pending ones, read balances.

The pure rules (`rules.py`) decide; this module loads what they need in a few set-based queries, locks the
accounts involved in id order, and writes back what they return in the caller's transaction. It flushes
and never commits, and it calls no other domain (the audit entry of a batch is the caller's, in `flows`).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from carnet.kit.errors import AppError, FieldError, NotFound, ValidationFailed
from carnet.kit.ids import uuid7
from carnet.ledger import repository as repo
from carnet.ledger.models import ACCOUNT_KINDS, LedgerAccount, LedgerTransfer
from carnet.ledger.rules import (
    TIMEOUT_MAX,
    Account,
    AccountKind,
    Resolution,
    Transfer,
    apply_transfers,
    expire,
)

MAX_BATCH = 8000
# One ledger per currency, numbered by ISO 4217's numeric code (docs/formats/ledger.md).
LEDGERS = {"VES": 928, "USD": 840, "EUR": 978, "COP": 170, "HNL": 340, "BRL": 986, "PEN": 604}
# Money may not leave a fund, a wallet or a merchant's account beyond what came in; the settlement bank
# (money from and to outside) and suspense have no floor.
FLOORED = frozenset({"programme_fund", "wallet", "merchant"})
_NAMESPACE = uuid.UUID("6f1d4c1e-9a43-5d1b-8f6e-2a7c0b8d4e11")


def ledger_of(currency: str) -> int:
    """The ledger number of a currency."""
    found = LEDGERS.get(currency)
    if found is None:
        message = f"no ledger for currency {currency!r}; known: {', '.join(sorted(LEDGERS))}"
        raise ValidationFailed(message, [FieldError("currency", "ledger_currency_unknown", message)],
                               code="ledger_currency_unknown")  # fmt: skip
    return found


def account_id(kind: str, holder: str, currency: str) -> uuid.UUID:
    """The id of the account of `kind` held by `holder` in `currency`: the same every time (opening is idempotent)."""
    return uuid.uuid5(_NAMESPACE, f"carnet/ledger-account/v1\0{kind}\0{currency}\0{holder}")


def derived_id(*parts: str) -> uuid.UUID:
    """A transfer id derived from what it pays (an entitlement, a redemption): a rerun names the same transfer."""
    return uuid.uuid5(_NAMESPACE, "carnet/ledger-transfer/v1\0" + "\0".join(parts))


@dataclass(frozen=True)
class AccountSpec:
    """An account to open: its kind, holder and currency (its id and flags follow from them)."""

    kind: str
    holder: str
    currency: str

    @property
    def id(self) -> uuid.UUID:
        """Its derived id."""
        return account_id(self.kind, self.holder, self.currency)


def open_accounts(session: Session, specs: Iterable[AccountSpec], *, now: datetime) -> list[uuid.UUID]:
    """Open the accounts that do not exist yet (batched); the ids of all, in the order given."""
    rows, ids = [], []
    for spec in specs:
        if spec.kind not in ACCOUNT_KINDS:
            raise AppError(message=f"unknown account kind {spec.kind!r}", code="account_kind_unknown", status=422)
        if not spec.holder or len(spec.holder) > 96:
            raise AppError(message="an account holder is 1 to 96 characters", code="account_holder_invalid", status=422)
        ids.append(spec.id)
        rows.append({"id": spec.id, "ledger": ledger_of(spec.currency), "code": int(AccountKind[spec.kind]),
                     "currency": spec.currency, "kind": spec.kind, "holder": spec.holder,
                     "flags": ["debits_must_not_exceed_credits"] if spec.kind in FLOORED else [],
                     "debits_pending": 0, "debits_posted": 0, "credits_pending": 0, "credits_posted": 0,
                     "created_at": now})  # fmt: skip
    for start in range(0, len(rows), MAX_BATCH):
        repo.insert_accounts(session, rows[start : start + MAX_BATCH])
    return ids


def _account(row: LedgerAccount) -> Account:
    return Account(id=row.id.int, ledger=row.ledger, code=row.code, currency=row.currency, flags=frozenset(row.flags),
                   debits_pending=row.debits_pending, debits_posted=row.debits_posted,
                   credits_pending=row.credits_pending, credits_posted=row.credits_posted)  # fmt: skip


def _transfer(row: LedgerTransfer) -> Transfer:
    return Transfer(id=row.id.int, debit_account_id=row.debit_account_id.int,
                    credit_account_id=row.credit_account_id.int, amount=row.amount,
                    pending_id=row.pending_id.int if row.pending_id else None, ledger=row.ledger,
                    code=row.code, flags=frozenset(row.flags), timeout=row.timeout, reference=row.reference,
                    currency=row.currency, timestamp=row.timestamp)  # fmt: skip


def _uuid(value: int | None) -> uuid.UUID | None:
    return None if value is None else uuid.UUID(int=value)


def _valid_id(value: Any) -> bool:
    return isinstance(value, int) and 0 < value < 1 << 128


def _stored(session: Session, ids: Iterable[int]) -> dict[int, Transfer]:
    wanted = [uuid.UUID(int=i) for i in ids]
    return {row.id.int: _transfer(row) for row in repo.transfers(session, wanted)} if wanted else {}


def _lock(session: Session, ids: Iterable[int]) -> dict[int, Account]:
    wanted = [uuid.UUID(int=a) for a in ids]
    return {row.id.int: _account(row) for row in repo.lock_accounts(session, wanted)} if wanted else {}


@dataclass(frozen=True)
class BatchResult:
    """What one batch did: its id, a result code per transfer in input order, and how many were applied."""

    batch_id: uuid.UUID
    results: tuple[str, ...]
    applied: int
    transfer_ids: tuple[uuid.UUID, ...]


def create_transfers(session: Session, transfers: Sequence[Transfer], *, submitted_by: str,
                     now: datetime) -> BatchResult:  # fmt: skip
    """Apply a batch as one unit: a result per transfer (`ok`, `exists`, or why not), nothing half applied.

    Idempotent by id: an identical replay is `exists` and moves nothing; a replay that differs says how.
    """
    if len(transfers) > MAX_BATCH:
        raise AppError(message=f"at most {MAX_BATCH} transfers per batch", code="ledger_batch_too_large", status=422)
    batch_id = uuid7()
    repo.take_write_lock(session, {"id": batch_id, "received_at": now, "submitted_by": submitted_by[:120],
                                   "transfers": len(transfers), "applied": 0})  # fmt: skip
    requested = {t.id for t in transfers if _valid_id(t.id)}
    targets = {t.pending_id for t in transfers if _valid_id(t.pending_id)}
    # The pending transfers that posts and voids name (rows never change): their accounts are locked with the
    # batch's own, in one id order.
    stored = _stored(session, targets)
    account_ids = {a for t in transfers for a in (t.debit_account_id, t.credit_account_id) if _valid_id(a)}
    account_ids |= {a for t in stored.values() for a in (t.debit_account_id, t.credit_account_id) if a}
    locked = _lock(session, account_ids)
    # Read the batch's own ids only once its accounts are locked: a concurrent batch that applied one of them
    # (it locked the same accounts) has committed by now, so a retry racing its original is `exists`, never a
    # second insert (PostgreSQL reads committed rows per statement; SQLite holds the write lock already).
    stored.update(_stored(session, (requested | targets) - stored.keys()))
    late = {a for t in stored.values() for a in (t.debit_account_id, t.credit_account_id) if a} - account_ids
    if late:
        # A stored transfer on accounts the batch did not name (a replay that differs, a pending transfer
        # committed since the first read): locked now, out of the id order; a deadlock this may cause is
        # PostgreSQL's to detect (40P01), and the whole batch is rolled back.
        locked.update(_lock(session, late))
    pending_ids = [t.id for t in stored.values() if "pending" in t.flags]
    resolved = {r.pending_id.int: Resolution(r.pending_id.int, r.status, r.transfer_id.int if r.transfer_id else None,
                                             r.timestamp)
                for r in repo.resolutions(session, [uuid.UUID(int=i) for i in pending_ids])}  # fmt: skip
    # A pending transfer past its timeout is released before the batch sees it, in the same transaction.
    swept = expire([stored[i] for i in pending_ids], accounts=locked, resolved=resolved, now=now)
    locked.update(swept.accounts)
    resolved.update({r.pending_id: r for r in swept.resolutions})
    outcome = apply_transfers(transfers, accounts=locked, stored=stored, resolved=resolved, now=now)
    changed = {**swept.accounts, **outcome.accounts}
    try:
        repo.insert_transfers(session, [
            {"id": uuid.UUID(int=t.id), "debit_account_id": uuid.UUID(int=t.debit_account_id),  # type: ignore[arg-type]
             "credit_account_id": uuid.UUID(int=t.credit_account_id), "amount": t.amount,  # type: ignore[arg-type]
             "pending_id": _uuid(t.pending_id), "ledger": t.ledger, "code": t.code, "flags": sorted(t.flags),
             "timeout": t.timeout, "reference": t.reference, "currency": t.currency, "timestamp": t.timestamp,
             "batch_id": batch_id, "position": position}
            for position, t in enumerate(outcome.transfers)
        ])  # fmt: skip
    except IntegrityError as exc:
        if not repo.is_transfer_id_taken(exc):
            raise
        # Only a concurrent batch with one of these ids on wholly other accounts gets here (no shared lock).
        raise AppError(message="a transfer of this batch was applied by another request at the same moment; "
                       "submit the batch again to see its result", code="ledger_transfer_in_flight",
                       status=409) from exc  # fmt: skip
    _write_back(session, (*swept.resolutions, *outcome.resolutions), changed.values())
    applied = sum(result == "ok" for result in outcome.results)
    repo.set_batch_applied(session, batch_id, applied)
    session.flush()
    ids = tuple(uuid.UUID(int=t.id) if isinstance(t.id, int) and 0 <= t.id < 1 << 128 else uuid.UUID(int=0)
                for t in transfers)  # fmt: skip
    return BatchResult(batch_id=batch_id, results=outcome.results, applied=applied, transfer_ids=ids)


def _write_back(session: Session, resolutions: Iterable[Resolution], changed: Iterable[Account]) -> None:
    # What the rules decided, stored: how pending transfers ended, and the new totals of the accounts moved.
    repo.insert_resolutions(session, [
        {"pending_id": uuid.UUID(int=r.pending_id), "status": r.status, "transfer_id": _uuid(r.transfer_id),
         "timestamp": r.timestamp} for r in resolutions
    ])  # fmt: skip
    repo.set_totals(session, [
        {"account_id": uuid.UUID(int=a.id), "debits_pending": a.debits_pending, "debits_posted": a.debits_posted,
         "credits_pending": a.credits_pending, "credits_posted": a.credits_posted, "flags": sorted(a.flags)}
        for a in changed
    ])  # fmt: skip


def expire_pending(session: Session, *, now: datetime, limit: int = MAX_BATCH) -> int:
    """Void the pending transfers whose timeout has passed (oldest first, up to `limit`); how many."""
    due = [_transfer(row) for row in repo.open_pending(session, now, limit)
           if row.timestamp + timedelta(seconds=min(row.timeout, TIMEOUT_MAX)) <= now]  # fmt: skip
    if not due:
        return 0
    ids = {a for t in due for a in (t.debit_account_id, t.credit_account_id)}
    locked = {row.id.int: _account(row) for row in repo.lock_accounts(session, [uuid.UUID(int=a) for a in ids])}
    swept = expire(due, accounts=locked, resolved={}, now=now)
    _write_back(session, swept.resolutions, swept.accounts.values())
    session.flush()
    return len(swept.resolutions)


def account_view(row: LedgerAccount) -> dict[str, Any]:
    """An account with its balance (credits − debits posted; what is reserved)."""
    return {"id": row.id, "kind": row.kind, "holder": row.holder, "currency": row.currency, "ledger": row.ledger,
            "flags": row.flags, "debits_pending": row.debits_pending, "debits_posted": row.debits_posted,
            "credits_pending": row.credits_pending, "credits_posted": row.credits_posted,
            "balance": row.credits_posted - row.debits_posted,
            "available": row.credits_posted - row.debits_posted - row.debits_pending}  # fmt: skip


def get_transfer(session: Session, transfer_id: uuid.UUID) -> dict[str, Any] | None:
    """One stored transfer, or None."""
    found = repo.transfers(session, [transfer_id])
    if not found:
        return None
    row = found[0]
    return {"id": row.id, "debit_account_id": row.debit_account_id, "credit_account_id": row.credit_account_id,
            "amount": row.amount, "pending_id": row.pending_id, "ledger": row.ledger, "code": row.code,
            "flags": row.flags, "reference": row.reference, "currency": row.currency,
            "timestamp": row.timestamp}  # fmt: skip


def get_account(session: Session, account: uuid.UUID) -> dict[str, Any]:
    """One account and its balance."""
    found = repo.accounts(session, [account])
    if not found:
        raise NotFound(f"no account {account}", code="account_not_found")
    return account_view(found[0])


def find_account(session: Session, *, kind: str, holder: str, currency: str) -> dict[str, Any]:
    """The account of a kind, holder and currency."""
    return get_account(session, account_id(kind, holder, currency))


def accounts_of_kind(session: Session, kind: str, *, limit: int = 1000) -> list[dict[str, Any]]:
    """Accounts of one kind with their balances."""
    return [account_view(row) for row in repo.accounts_of_kind(session, kind, limit)]


def statement(session: Session, account: uuid.UUID, *, limit: int = 10_000) -> list[dict[str, Any]]:
    """An account's posted transfers in order, each with the balance after it (pending ones shown, not counted)."""
    get_account(session, account)
    balance, lines = 0, []
    for row in repo.transfers_of(session, account, limit):
        sign = 1 if row.credit_account_id == account else -1
        pending = "pending" in row.flags
        if not pending:
            balance += sign * row.amount
        lines.append({"transfer": row.id, "at": row.timestamp, "amount": sign * row.amount, "pending": pending,
                      "code": row.code, "reference": row.reference, "balance": balance})  # fmt: skip
    return lines


def ledger_totals(session: Session) -> list[dict[str, Any]]:
    """Per ledger: accounts, and the sums of debits and credits (pending and posted), which must be equal."""
    out = []
    for ledger, currency, count, dp, dpo, cp, cpo in repo.totals_by_ledger(session):
        out.append({"ledger": ledger, "currency": currency, "accounts": int(count), "debits_pending": int(dp or 0),
                    "debits_posted": int(dpo or 0), "credits_pending": int(cp or 0), "credits_posted": int(cpo or 0),
                    "balanced": (dp or 0) == (cp or 0) and (dpo or 0) == (cpo or 0)})  # fmt: skip
    return out
