"""The ledger's posting rules (pure): which balances a transfer moves and which flag or field refuses it.

The semantics are TigerBeetle's `create_transfers` (docs/reference/transfer.md, two-phase-transfers.md,
linked-events.md), rebuilt for Carnet: accounts carry four running totals (`debits_pending`,
`debits_posted`, `credits_pending`, `credits_posted`) that only transfers move; a transfer is immutable
and its client-chosen 128-bit id makes a retry harmless; a pending transfer reserves, then is posted
(wholly or partly), voided or expires; linked transfers are applied all or nothing.

Nothing here touches a database or reads the clock: the caller passes the accounts and stored transfers a
batch can touch, the pending transfers already resolved and the time, and writes back what comes out.
Every refusal is a result code per transfer, never an exception; exceptions mean the caller broke the
contract (an invalid account, a naive time, a lookup missing an account it had to hold).
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import IntEnum
from typing import Any, NamedTuple

from carnet.kit.errors import AppError

# SQLite's INTEGER and PostgreSQL's BIGINT both hold 2^63 - 1, so no total a rule accepts can overflow its column.
AMOUNT_MAX = 2**63 - 1
# 2^128 - 1 stays reserved as in TigerBeetle, where it is the "no id" sentinel of some clients.
ID_MAX = 2**128 - 2
# A PostgreSQL INTEGER is signed; a ledger or a timeout must fit one.
LEDGER_MAX = 2**31 - 1
TIMEOUT_MAX = 2**31 - 1
CODE_MAX = 2**16 - 1
# A reference names an entitlement, a receipt or a settlement run; anything longer is data that belongs elsewhere.
REFERENCE_MAX = 64

ACCOUNT_FLAGS = frozenset({"debits_must_not_exceed_credits", "credits_must_not_exceed_debits", "closed"})
TRANSFER_FLAGS = frozenset(
    {
        "linked",
        "pending",
        "post_pending_transfer",
        "void_pending_transfer",
        "balancing_debit",
        "balancing_credit",
        "closing_debit",
        "closing_credit",
    }
)
_RESOLVING = frozenset({"post_pending_transfer", "void_pending_transfer"})
_PHASES = frozenset({"pending", "post_pending_transfer", "void_pending_transfer"})
_ADJUSTING = frozenset({"balancing_debit", "balancing_credit", "closing_debit", "closing_credit"})
RESOLUTION_STATUSES = ("posted", "voided", "expired")


class AccountKind(IntEnum):
    """The `code` of each kind of account Carnet keeps (docs/formats/ledger.md)."""

    programme_fund = 1
    wallet = 2
    merchant = 3
    settlement_bank = 4
    suspense = 5


@dataclass(frozen=True, slots=True)
class ResultCode:
    """One result a transfer can get: its stable code and what it means."""

    code: str
    meaning: str


# In order of precedence: when several apply to one transfer, it gets the first.
RESULT_CODES: tuple[ResultCode, ...] = (
    ResultCode(code="ok", meaning="The transfer was applied."),
    ResultCode(code="linked_event_failed", meaning="Another transfer of its linked chain failed; nothing applied."),
    ResultCode(code="linked_event_chain_open", meaning="The batch ends with a linked transfer: the chain is open."),
    ResultCode(code="flag_unknown", meaning="A flag is not one the ledger knows."),
    ResultCode(code="timestamp_must_not_be_set", meaning="The ledger sets the timestamp; the request must not."),
    ResultCode(code="id_must_not_be_zero", meaning="The transfer id is zero."),
    ResultCode(code="id_out_of_range", meaning="The transfer id is not a 128-bit number below 2^128 - 1."),
    ResultCode(code="exists_with_different_flags", meaning="The id is taken by a transfer with other flags."),
    ResultCode(
        code="exists_with_different_pending_id", meaning="The id is taken by a transfer with another pending_id."
    ),
    ResultCode(code="exists_with_different_timeout", meaning="The id is taken by a transfer with another timeout."),
    ResultCode(
        code="exists_with_different_debit_account_id", meaning="The id is taken by a transfer from another account."
    ),
    ResultCode(
        code="exists_with_different_credit_account_id", meaning="The id is taken by a transfer to another account."
    ),
    ResultCode(code="exists_with_different_amount", meaning="The id is taken by a transfer of another amount."),
    ResultCode(code="exists_with_different_reference", meaning="The id is taken by a transfer with another reference."),
    ResultCode(code="exists_with_different_ledger", meaning="The id is taken by a transfer on another ledger."),
    ResultCode(code="exists_with_different_code", meaning="The id is taken by a transfer with another code."),
    ResultCode(code="exists_with_different_currency", meaning="The id is taken by a transfer in another currency."),
    ResultCode(code="exists", meaning="The same transfer is already stored; nothing changed."),
    ResultCode(code="flags_are_mutually_exclusive", meaning="The transfer sets flags that exclude each other."),
    ResultCode(code="debit_account_id_must_not_be_zero", meaning="The transfer names no debit account."),
    ResultCode(code="credit_account_id_must_not_be_zero", meaning="The transfer names no credit account."),
    ResultCode(code="accounts_must_be_different", meaning="The debit and credit accounts are the same."),
    ResultCode(code="pending_id_must_be_zero", meaning="Only a post or a void names a pending transfer."),
    ResultCode(code="pending_id_must_not_be_zero", meaning="A post or a void must name its pending transfer."),
    ResultCode(code="pending_id_must_be_different", meaning="A post or a void cannot name itself as pending."),
    ResultCode(code="timeout_reserved_for_pending_transfer", meaning="Only a pending transfer has a timeout."),
    ResultCode(code="timeout_out_of_range", meaning="The timeout is not a whole number of seconds up to 2^31 - 1."),
    ResultCode(code="closing_transfer_must_be_pending", meaning="A closing transfer must be pending."),
    ResultCode(code="ledger_must_not_be_zero", meaning="The transfer names no ledger."),
    ResultCode(code="code_must_not_be_zero", meaning="The transfer has no code."),
    ResultCode(code="code_out_of_range", meaning="The code is not a number from 1 to 65535."),
    ResultCode(code="amount_must_be_whole_minor_units", meaning="The amount is not a whole number of minor units."),
    ResultCode(code="amount_must_not_be_negative", meaning="The amount is negative."),
    ResultCode(code="amount_must_not_be_zero", meaning="The amount is zero or missing."),
    ResultCode(code="reference_too_long", meaning="The reference is not text of at most 64 characters."),
    ResultCode(code="debit_account_not_found", meaning="The debit account does not exist."),
    ResultCode(code="credit_account_not_found", meaning="The credit account does not exist."),
    ResultCode(code="accounts_must_have_the_same_ledger", meaning="The two accounts are on different ledgers."),
    ResultCode(
        code="transfer_must_have_the_same_ledger_as_accounts", meaning="The transfer's ledger is not its accounts'."
    ),
    ResultCode(code="accounts_must_have_the_same_currency", meaning="The two accounts hold different currencies."),
    ResultCode(
        code="transfer_must_have_the_same_currency_as_accounts",
        meaning="The transfer's currency is not its accounts'.",
    ),
    ResultCode(code="pending_transfer_not_found", meaning="The pending transfer it names does not exist."),
    ResultCode(code="pending_transfer_not_pending", meaning="The transfer it names is not a pending transfer."),
    ResultCode(
        code="pending_transfer_has_different_debit_account_id",
        meaning="The debit account is not the pending transfer's.",
    ),
    ResultCode(
        code="pending_transfer_has_different_credit_account_id",
        meaning="The credit account is not the pending transfer's.",
    ),
    ResultCode(code="pending_transfer_has_different_ledger", meaning="The ledger is not the pending transfer's."),
    ResultCode(code="pending_transfer_has_different_code", meaning="The code is not the pending transfer's."),
    ResultCode(code="pending_transfer_has_different_currency", meaning="The currency is not the pending transfer's."),
    ResultCode(code="exceeds_pending_transfer_amount", meaning="The post is for more than the pending amount."),
    ResultCode(code="pending_transfer_has_different_amount", meaning="A void names an amount other than the pending."),
    ResultCode(code="pending_transfer_already_posted", meaning="The pending transfer was already posted."),
    ResultCode(code="pending_transfer_already_voided", meaning="The pending transfer was already voided."),
    ResultCode(code="pending_transfer_expired", meaning="The pending transfer's timeout has passed."),
    ResultCode(code="debit_account_closed", meaning="The debit account is closed."),
    ResultCode(code="credit_account_closed", meaning="The credit account is closed."),
    ResultCode(code="overflows_debits", meaning="The debit account's debits would pass 2^63 - 1."),
    ResultCode(code="overflows_credits", meaning="The credit account's credits would pass 2^63 - 1."),
    ResultCode(code="exceeds_credits", meaning="The debit account's debits would exceed its credits."),
    ResultCode(code="exceeds_debits", meaning="The credit account's credits would exceed its debits."),
)
RESULT_MEANINGS: dict[str, str] = {result.code: result.meaning for result in RESULT_CODES}
# A chain holds as long as each member is applied or already stored exactly as sent.
_HOLDS = frozenset({"ok", "exists"})
_ALREADY = {
    "posted": "pending_transfer_already_posted",
    "voided": "pending_transfer_already_voided",
    "expired": "pending_transfer_expired",
}


class InvalidAccount(AppError):
    """An account that breaks the ledger's own rules (a flag, a range, a currency)."""

    def __init__(self, message: str, code: str) -> None:
        super().__init__(message=message, code=code, status=422)


class BrokenContract(AppError):
    """The caller broke the rules' contract: a naive time, or a lookup without an account it had to hold."""

    def __init__(self, message: str, code: str) -> None:
        super().__init__(message=message, code=code, status=500)


def _as_id(value: Any) -> Any:
    # A uuid (uuid7 in Carnet) and its 128-bit integer are the same id; the rules compare integers.
    return value.int if isinstance(value, uuid.UUID) else value


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _derive(record: Any, **changes: Any) -> Any:
    # dataclasses.replace would check again what the rules just derived from checked values; at 8,000 transfers
    # a batch that doubles the rules' time, so derived records are built without __post_init__.
    derived = object.__new__(type(record))
    for name in record.__slots__:
        object.__setattr__(derived, name, changes[name] if name in changes else getattr(record, name))
    return derived


@dataclass(frozen=True, slots=True)
class Account:
    """An account: what it is (ledger, code, currency, flags) and the four totals transfers have moved."""

    id: int
    ledger: int
    code: int
    currency: str
    flags: frozenset[str] = frozenset()
    debits_pending: int = 0
    debits_posted: int = 0
    credits_pending: int = 0
    credits_posted: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "id", _as_id(self.id))
        object.__setattr__(self, "flags", frozenset(self.flags))
        if not _is_int(self.id) or not 0 < self.id <= ID_MAX:
            raise InvalidAccount(f"account id {self.id!r} is not a 128-bit number from 1", code="account_id_invalid")
        if not _is_int(self.ledger) or not 0 < self.ledger <= LEDGER_MAX:
            raise InvalidAccount(f"ledger {self.ledger!r} is not from 1 to {LEDGER_MAX}", code="account_ledger_invalid")
        if not _is_int(self.code) or not 0 < self.code <= CODE_MAX:
            raise InvalidAccount(f"account code {self.code!r} is not from 1 to {CODE_MAX}", code="account_code_invalid")
        if not (isinstance(self.currency, str) and len(self.currency) == 3 and self.currency.isascii()):
            raise InvalidAccount(f"{self.currency!r} is not an ISO 4217 code", code="account_currency_invalid")
        if not self.currency.isalpha() or not self.currency.isupper():
            raise InvalidAccount(f"{self.currency!r} is not an ISO 4217 code", code="account_currency_invalid")
        unknown = self.flags - ACCOUNT_FLAGS
        if unknown:
            raise InvalidAccount(f"unknown account flags {sorted(unknown)}", code="account_flag_unknown")
        if {"debits_must_not_exceed_credits", "credits_must_not_exceed_debits"} <= self.flags:
            # Both limits at once would freeze the account at zero: TigerBeetle refuses the pair too.
            raise InvalidAccount(
                "an account limits its debits or its credits, not both", code="account_flags_exclusive"
            )
        totals = (self.debits_pending, self.debits_posted, self.credits_pending, self.credits_posted)
        if not all(_is_int(total) and 0 <= total <= AMOUNT_MAX for total in totals):
            raise InvalidAccount(f"account totals {totals} are not from 0 to 2^63 - 1", code="account_totals_invalid")

    @property
    def closed(self) -> bool:
        """Whether the account refuses new transfers."""
        return "closed" in self.flags


@dataclass(frozen=True, slots=True)
class Transfer:
    """A transfer as requested (timestamp None) or as stored (fields resolved, timestamp set by the ledger)."""

    id: int
    debit_account_id: int | None = None
    credit_account_id: int | None = None
    amount: int | None = None
    pending_id: int | None = None
    ledger: int | None = None
    code: int | None = None
    flags: frozenset[str] = frozenset()
    timeout: int = 0
    reference: str = ""
    currency: str | None = None
    timestamp: datetime | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "id", _as_id(self.id))
        object.__setattr__(self, "flags", frozenset(self.flags))
        # Zero means "not given" for these three, as in TigerBeetle; None says the same thing in Python.
        for name in ("debit_account_id", "credit_account_id", "pending_id"):
            value = _as_id(getattr(self, name))
            object.__setattr__(self, name, None if value == 0 else value)


@dataclass(frozen=True, slots=True)
class Resolution:
    """How a pending transfer ended: posted or voided by another transfer, or expired."""

    pending_id: int
    status: str
    transfer_id: int | None
    timestamp: datetime


class Outcome(NamedTuple):
    """What a batch did: a code per transfer in input order, and what the caller must write back."""

    results: tuple[str, ...]
    accounts: dict[int, Account]
    transfers: tuple[Transfer, ...]
    resolutions: tuple[Resolution, ...]


class Expiry(NamedTuple):
    """What an expiry sweep did: the accounts it released and the pending transfers it ended."""

    accounts: dict[int, Account]
    resolutions: tuple[Resolution, ...]


class _Totals(NamedTuple):
    debits_pending: int
    debits_posted: int
    credits_pending: int
    credits_posted: int
    closed: bool


_MISSING = object()


class _Book:
    """A batch's working state over the caller's lookups, with an undo log so that a failed chain leaves nothing."""

    def __init__(
        self, accounts: Mapping[int, Account], stored: Mapping[int, Transfer], resolved: Mapping[int, Resolution]
    ) -> None:
        self.accounts = accounts
        self.stored = stored
        self.resolved = resolved
        self.totals: dict[int, _Totals] = {}
        self.created: dict[int, Transfer] = {}
        self.resolutions: dict[int, Resolution] = {}
        self._undo: list[tuple[dict[int, Any], int, Any]] = []

    def transfer(self, transfer_id: Any) -> Transfer | None:
        found = self.created.get(transfer_id)
        return found if found is not None else self.stored.get(transfer_id)

    def resolution(self, pending_id: int) -> Resolution | None:
        found = self.resolutions.get(pending_id)
        return found if found is not None else self.resolved.get(pending_id)

    def account(self, account_id: int) -> Account:
        account = self.accounts.get(account_id)
        if account is None:
            raise BrokenContract(
                f"account {account_id} of a stored pending transfer is not in the lookup",
                code="ledger_lookup_incomplete",
            )
        return account

    def current(self, account: Account) -> _Totals:
        totals = self.totals.get(account.id)
        if totals is None:
            totals = _Totals(
                account.debits_pending,
                account.debits_posted,
                account.credits_pending,
                account.credits_posted,
                account.closed,
            )
        return totals

    def put(self, table: dict[int, Any], key: int, value: Any) -> None:
        self._undo.append((table, key, table.get(key, _MISSING)))
        table[key] = value

    def mark(self) -> int:
        return len(self._undo)

    def roll_back(self, mark: int) -> None:
        while len(self._undo) > mark:
            table, key, previous = self._undo.pop()
            if previous is _MISSING:
                del table[key]
            else:
                table[key] = previous

    def changed_accounts(self) -> dict[int, Account]:
        changed = {}
        for account_id, totals in self.totals.items():
            before = self.accounts[account_id]
            flags = before.flags | {"closed"} if totals.closed else before.flags - {"closed"}
            after = _derive(
                before,
                flags=flags,
                debits_pending=totals.debits_pending,
                debits_posted=totals.debits_posted,
                credits_pending=totals.credits_pending,
                credits_posted=totals.credits_posted,
            )
            if after != before:
                changed[account_id] = after
        return changed

    def release(self, pending: Transfer, *, posted: int | None) -> None:
        """Take a pending transfer's reservation off both accounts, posting `posted` of it (None: a void)."""
        debit, credit = self.account(pending.debit_account_id), self.account(pending.credit_account_id)  # type: ignore[arg-type]
        reserved: int = pending.amount  # type: ignore[assignment]
        # A void or an expiry of a closing transfer reopens what it closed (TigerBeetle's way to undo a close).
        # A post never reaches here for one: its account is closed, and a post on a closed account is refused.
        voiding = posted is None
        posted = posted or 0
        d = self.current(debit)
        self.put(
            self.totals,
            debit.id,
            d._replace(
                debits_pending=d.debits_pending - reserved,
                debits_posted=d.debits_posted + posted,
                closed=d.closed and not (voiding and "closing_debit" in pending.flags),
            ),
        )
        c = self.current(credit)
        self.put(
            self.totals,
            credit.id,
            c._replace(
                credits_pending=c.credits_pending - reserved,
                credits_posted=c.credits_posted + posted,
                closed=c.closed and not (voiding and "closing_credit" in pending.flags),
            ),
        )


def _require_aware(now: datetime) -> None:
    if not isinstance(now, datetime) or now.utcoffset() is None:
        raise BrokenContract(f"{now!r} is not a timezone-aware time", code="ledger_time_naive")


def expires_at(transfer: Transfer) -> datetime | None:
    """When a pending transfer expires (its timestamp plus its timeout), or None if it never does."""
    if "pending" not in transfer.flags or not transfer.timeout or transfer.timestamp is None:
        return None
    return transfer.timestamp + timedelta(seconds=transfer.timeout)


def apply_transfers(
    transfers: Sequence[Transfer],
    *,
    accounts: Mapping[int, Account],
    stored: Mapping[int, Transfer],
    resolved: Mapping[int, Resolution],
    now: datetime,
) -> Outcome:
    """Apply a batch in order, as TigerBeetle's create_transfers does: a result per transfer and what to store."""
    _require_aware(now)
    book = _Book(accounts, stored, resolved)
    results: list[str] = []
    last = len(transfers) - 1
    chain_start: int | None = None
    chain_mark = 0
    broken = False
    for index, transfer in enumerate(transfers):
        linked = "linked" in transfer.flags
        if chain_start is None and linked:
            chain_start, chain_mark, broken = index, book.mark(), False
        if broken:
            # TigerBeetle does not evaluate what follows a failure in a chain: the chain is already lost.
            result = "linked_event_failed"
        elif linked and index == last:
            result = "linked_event_chain_open"
        else:
            result = _apply_one(transfer, book, now)
        results.append(result)
        if chain_start is None:
            continue
        if result not in _HOLDS and not broken:
            broken = True
            book.roll_back(chain_mark)
            for earlier in range(chain_start, index):
                # `exists` stays: that transfer is stored, from an earlier request, exactly as sent now.
                if results[earlier] == "ok":
                    results[earlier] = "linked_event_failed"
        if not linked:
            chain_start, broken = None, False
    return Outcome(
        results=tuple(results),
        accounts=book.changed_accounts(),
        transfers=tuple(book.created.values()),
        resolutions=tuple(book.resolutions.values()),
    )


def expire(
    pending: Iterable[Transfer],
    *,
    accounts: Mapping[int, Account],
    resolved: Mapping[int, Resolution],
    now: datetime,
) -> Expiry:
    """Void every pending transfer whose timeout has passed at `now`, earliest expiry first."""
    _require_aware(now)
    due = []
    for transfer in pending:
        at = expires_at(transfer)
        if at is not None and at <= now and transfer.id not in resolved:
            due.append((at, transfer.timestamp, transfer.id, transfer))
    due.sort(key=lambda item: item[:3])
    book = _Book(accounts, {}, resolved)
    for _, _, transfer_id, transfer in due:
        if transfer_id in book.resolutions:  # the same pending transfer passed twice
            continue
        book.release(transfer, posted=None)
        book.put(book.resolutions, transfer_id, Resolution(transfer_id, "expired", None, now))
    return Expiry(accounts=book.changed_accounts(), resolutions=tuple(book.resolutions.values()))


def unbalanced_ledgers(accounts: Iterable[Account]) -> list[int]:
    """The ledgers whose accounts' debits and credits differ, pending or posted (empty when all balance)."""
    sums: dict[int, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    for account in accounts:
        row = sums[account.ledger]
        row[0] += account.debits_pending
        row[1] += account.credits_pending
        row[2] += account.debits_posted
        row[3] += account.credits_posted
    return sorted(ledger for ledger, (dp, cp, dpo, cpo) in sums.items() if dp != cp or dpo != cpo)


def accounts_over_limit(accounts: Iterable[Account]) -> list[int]:
    """The ids of accounts whose totals break their own debit or credit limit (empty when none does)."""
    return [a.id for a in accounts if _debits_over(a) or _credits_over(a)]


def _debits_over(a: Account) -> bool:
    return "debits_must_not_exceed_credits" in a.flags and a.debits_pending + a.debits_posted > a.credits_posted


def _credits_over(a: Account) -> bool:
    return "credits_must_not_exceed_debits" in a.flags and a.credits_pending + a.credits_posted > a.debits_posted


def _apply_one(t: Transfer, book: _Book, now: datetime) -> str:
    if not t.flags <= TRANSFER_FLAGS:
        return "flag_unknown"
    if t.timestamp is not None:
        return "timestamp_must_not_be_set"
    if t.id == 0:
        return "id_must_not_be_zero"
    if not _is_int(t.id) or not 0 < t.id <= ID_MAX:
        return "id_out_of_range"
    existing = book.transfer(t.id)
    if existing is not None:
        return _compare(t, existing, book)
    phases = t.flags & _PHASES
    if len(phases) > 1 or (phases & _RESOLVING and t.flags & _ADJUSTING):
        return "flags_are_mutually_exclusive"
    if phases & _RESOLVING:
        return _resolve(t, book, now)
    return _create(t, book, now)


def _compare(t: Transfer, e: Transfer, book: _Book) -> str:
    # Flags decide what the other fields mean, so they are compared first (as TigerBeetle does).
    if t.flags != e.flags:
        return "exists_with_different_flags"
    if t.pending_id != e.pending_id:
        return "exists_with_different_pending_id"
    if t.timeout != e.timeout:
        return "exists_with_different_timeout"
    if t.flags & _RESOLVING:
        # A post or a void may leave these fields out; the stored copy holds the pending transfer's values.
        if t.debit_account_id is not None and t.debit_account_id != e.debit_account_id:
            return "exists_with_different_debit_account_id"
        if t.credit_account_id is not None and t.credit_account_id != e.credit_account_id:
            return "exists_with_different_credit_account_id"
        if t.amount is None:
            pending = book.transfer(e.pending_id)
            # "No amount" on a post meant the whole pending amount; a partial post replayed without one differs.
            if "post_pending_transfer" in t.flags and (pending is None or pending.amount != e.amount):
                return "exists_with_different_amount"
        elif t.amount != e.amount:
            return "exists_with_different_amount"
        if t.reference and t.reference != e.reference:
            return "exists_with_different_reference"
        if t.ledger and t.ledger != e.ledger:
            return "exists_with_different_ledger"
        if t.code and t.code != e.code:
            return "exists_with_different_code"
    else:
        if t.debit_account_id != e.debit_account_id:
            return "exists_with_different_debit_account_id"
        if t.credit_account_id != e.credit_account_id:
            return "exists_with_different_credit_account_id"
        if t.flags & {"balancing_debit", "balancing_credit"}:
            # A balancing amount is a ceiling: any ceiling that covers what was moved asks for the same transfer.
            if not _is_int(t.amount) or t.amount < e.amount:  # type: ignore[operator]
                return "exists_with_different_amount"
        elif t.amount != e.amount:
            return "exists_with_different_amount"
        if t.reference != e.reference:
            return "exists_with_different_reference"
        if t.ledger != e.ledger:
            return "exists_with_different_ledger"
        if t.code != e.code:
            return "exists_with_different_code"
    if t.currency is not None and t.currency != e.currency:
        return "exists_with_different_currency"
    return "exists"


def _amount_problem(amount: Any) -> str | None:
    if not _is_int(amount):
        return "amount_must_be_whole_minor_units"
    if amount < 0:
        return "amount_must_not_be_negative"
    return None


def _create(t: Transfer, book: _Book, now: datetime) -> str:
    if t.debit_account_id is None:
        return "debit_account_id_must_not_be_zero"
    if t.credit_account_id is None:
        return "credit_account_id_must_not_be_zero"
    if t.debit_account_id == t.credit_account_id:
        return "accounts_must_be_different"
    if t.pending_id is not None:
        return "pending_id_must_be_zero"
    pending = "pending" in t.flags
    closing = bool(t.flags & {"closing_debit", "closing_credit"})
    balancing = bool(t.flags & {"balancing_debit", "balancing_credit"})
    if not pending:
        if t.timeout != 0:
            return "timeout_reserved_for_pending_transfer"
        if closing:
            return "closing_transfer_must_be_pending"
    elif not _is_int(t.timeout) or not 0 <= t.timeout <= TIMEOUT_MAX:
        return "timeout_out_of_range"
    if not t.ledger:
        return "ledger_must_not_be_zero"
    if not t.code:
        return "code_must_not_be_zero"
    if not _is_int(t.code) or not 0 < t.code <= CODE_MAX:
        return "code_out_of_range"
    if t.amount is None:
        return "amount_must_not_be_zero"
    problem = _amount_problem(t.amount)
    if problem:
        return problem
    # Only a closing transfer may move nothing (it exists to close); a balancing amount is a ceiling above zero.
    if t.amount == 0 and (balancing or not closing):
        return "amount_must_not_be_zero"
    if not isinstance(t.reference, str) or len(t.reference) > REFERENCE_MAX:
        return "reference_too_long"
    debit = book.accounts.get(t.debit_account_id)
    if debit is None:
        return "debit_account_not_found"
    credit = book.accounts.get(t.credit_account_id)
    if credit is None:
        return "credit_account_not_found"
    if debit.ledger != credit.ledger:
        return "accounts_must_have_the_same_ledger"
    if t.ledger != debit.ledger:
        return "transfer_must_have_the_same_ledger_as_accounts"
    if debit.currency != credit.currency:
        return "accounts_must_have_the_same_currency"
    if t.currency is not None and t.currency != debit.currency:
        return "transfer_must_have_the_same_currency_as_accounts"
    d, c = book.current(debit), book.current(credit)
    if d.closed:
        return "debit_account_closed"
    if c.closed:
        return "credit_account_closed"
    amount = t.amount
    # A balancing transfer moves at most its amount: as much as keeps its account's debits (credits) covered.
    if "balancing_debit" in t.flags:
        amount = min(amount, max(0, d.credits_posted - d.debits_posted - d.debits_pending))
    if "balancing_credit" in t.flags:
        amount = min(amount, max(0, c.debits_posted - c.credits_posted - c.credits_pending))
    # Pending and posted together are what a limit is checked against, so their sum is what must fit a column.
    if d.debits_pending + d.debits_posted + amount > AMOUNT_MAX:
        return "overflows_debits"
    if c.credits_pending + c.credits_posted + amount > AMOUNT_MAX:
        return "overflows_credits"
    # A balancing transfer that would move nothing is refused, as TigerBeetle did before 0.16: nothing to balance.
    if amount == 0 and "balancing_debit" in t.flags:
        return "exceeds_credits"
    if amount == 0 and "balancing_credit" in t.flags:
        return "exceeds_debits"
    # Pending amounts count against a limit at once, so a later post or void can never break it.
    if (
        "debits_must_not_exceed_credits" in debit.flags
        and d.debits_pending + d.debits_posted + amount > d.credits_posted
    ):
        return "exceeds_credits"
    if (
        "credits_must_not_exceed_debits" in credit.flags
        and c.credits_pending + c.credits_posted + amount > c.debits_posted
    ):
        return "exceeds_debits"
    if pending:
        d = d._replace(debits_pending=d.debits_pending + amount, closed="closing_debit" in t.flags)
        c = c._replace(credits_pending=c.credits_pending + amount, closed="closing_credit" in t.flags)
    else:
        d = d._replace(debits_posted=d.debits_posted + amount)
        c = c._replace(credits_posted=c.credits_posted + amount)
    book.put(book.totals, debit.id, d)
    book.put(book.totals, credit.id, c)
    stored = _derive(t, amount=amount, currency=debit.currency, timestamp=now)
    book.put(book.created, t.id, stored)
    return "ok"


def _resolve(t: Transfer, book: _Book, now: datetime) -> str:
    if t.pending_id is None:
        return "pending_id_must_not_be_zero"
    if t.pending_id == t.id:
        return "pending_id_must_be_different"
    if t.timeout != 0:
        return "timeout_reserved_for_pending_transfer"
    posting = "post_pending_transfer" in t.flags
    if posting and t.amount is not None:
        problem = _amount_problem(t.amount)
        if problem:
            return problem
        if t.amount == 0:
            # Posting nothing is a void; the client must say which one it means.
            return "amount_must_not_be_zero"
    if not isinstance(t.reference, str) or len(t.reference) > REFERENCE_MAX:
        return "reference_too_long"
    p = book.transfer(t.pending_id)
    if p is None:
        return "pending_transfer_not_found"
    if "pending" not in p.flags:
        return "pending_transfer_not_pending"
    if t.debit_account_id is not None and t.debit_account_id != p.debit_account_id:
        return "pending_transfer_has_different_debit_account_id"
    if t.credit_account_id is not None and t.credit_account_id != p.credit_account_id:
        return "pending_transfer_has_different_credit_account_id"
    if t.ledger and t.ledger != p.ledger:
        return "pending_transfer_has_different_ledger"
    if t.code and t.code != p.code:
        return "pending_transfer_has_different_code"
    if t.currency is not None and t.currency != p.currency:
        return "pending_transfer_has_different_currency"
    amount = p.amount if t.amount is None else t.amount
    if posting and amount > p.amount:  # type: ignore[operator]
        return "exceeds_pending_transfer_amount"
    if not posting and amount != p.amount:
        # A partial void is a partial post; TigerBeetle refuses the ambiguity.
        return "pending_transfer_has_different_amount"
    resolution = book.resolution(p.id)
    if resolution is not None:
        return _ALREADY[resolution.status]
    deadline = expires_at(p)
    # Past its deadline a reservation is dead even before a sweep releases it: the sweep may lag, the rule may not.
    if deadline is not None and now >= deadline:
        return "pending_transfer_expired"
    debit, credit = book.account(p.debit_account_id), book.account(p.credit_account_id)  # type: ignore[arg-type]
    if posting:
        # A closed account still lets its reservations be voided (that is how a close is undone), never posted.
        if book.current(debit).closed:
            return "debit_account_closed"
        if book.current(credit).closed:
            return "credit_account_closed"
    book.release(p, posted=amount if posting else None)  # type: ignore[arg-type]
    book.put(book.resolutions, p.id, Resolution(p.id, "posted" if posting else "voided", t.id, now))
    stored = Transfer(
        id=t.id,
        debit_account_id=p.debit_account_id,
        credit_account_id=p.credit_account_id,
        amount=amount,
        pending_id=p.id,
        ledger=p.ledger,
        code=p.code,
        flags=t.flags,
        reference=t.reference or p.reference,
        currency=p.currency,
        timestamp=now,
    )
    book.put(book.created, t.id, stored)
    return "ok"
