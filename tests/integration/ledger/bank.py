"""The bank tests' world: accounts with two hot ones, random traffic, a deadlock-aware retry, the invariants.

Shared by tests/integration/ledger/test_bank.py (8 worker processes on PostgreSQL) and
tests/e2e/test_ledger_crash.py (a SQLite writer killed with SIGKILL). A transfer travels as a plain dict
(JSON- and pickle-friendly); `acknowledged` maps a transfer id to the dict a client sent when the ledger
answered `ok` or `exists` for it after a commit the client saw.

The traffic keeps every floored account near zero (money in and out of the fund, the wallets and the
merchant roughly balance), so floors are tested all the time; the programme fund and the merchant are
touched by most transfers (the hot accounts).
"""

from __future__ import annotations

import json
import random
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from carnet.ledger import service
from carnet.ledger.rules import Transfer
from carnet.ledger.service import AccountSpec

VES, USD = service.ledger_of("VES"), service.ledger_of("USD")
BANK = AccountSpec("settlement_bank", "treasury", "VES")
FUND = AccountSpec("programme_fund", "cash_transfer", "VES")  # hot
MERCHANT = AccountSpec("merchant", "shop:mercado-central", "VES")  # hot
WALLETS = [AccountSpec("wallet", f"HS1-bank-{n:04d}", "VES") for n in range(240)]
USD_BANK = AccountSpec("settlement_bank", "treasury", "USD")
USD_FUND = AccountSpec("programme_fund", "cash_transfer", "USD")
USD_WALLETS = [AccountSpec("wallet", f"HS1-bank-usd-{n:02d}", "USD") for n in range(20)]
ACCOUNTS = [BANK, FUND, MERCHANT, *WALLETS, USD_BANK, USD_FUND, *USD_WALLETS]
RETRYABLE = {"40001": "serialization_failure", "40P01": "deadlock_detected"}
APPLIED = ("ok", "exists")
T = TypeVar("T")


def now() -> datetime:
    return datetime.now(UTC)


def open_bank(factory: sessionmaker[Session]) -> None:
    """Open every account of the bank (committed)."""
    with factory() as session:
        service.open_accounts(session, ACCOUNTS, now=now())
        session.commit()


def move(debit: AccountSpec, credit: AccountSpec, amount: int, **extra: Any) -> dict[str, Any]:
    """A plain transfer between two accounts, with a fresh random id."""
    ledger = service.ledger_of(debit.currency)
    return {"id": uuid.uuid4().int, "debit": debit.id.int, "credit": credit.id.int, "amount": amount,
            "pending_id": None, "ledger": ledger, "code": 1, "flags": [], "timeout": 0, **extra}  # fmt: skip


def to_transfer(spec: dict[str, Any]) -> Transfer:
    """The rules' Transfer for a plain dict."""
    return Transfer(id=spec["id"], debit_account_id=spec["debit"], credit_account_id=spec["credit"],
                    amount=spec["amount"], pending_id=spec["pending_id"], ledger=spec["ledger"], code=spec["code"],
                    flags=frozenset(spec["flags"]), timeout=spec["timeout"])  # fmt: skip


class Traffic:
    """Random batches of transfers, most of them touching the fund or the merchant.

    It remembers the pending transfers its client saw acknowledged and posts (wholly or partly) or voids
    them in later batches; some pending transfers time out after a second.
    """

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.open_pending: list[dict[str, Any]] = []
        self._seen_pending: set[int] = set()

    def size(self) -> int:
        """A random batch size: mostly a handful, some tens, now and then hundreds or a couple of thousand."""
        r = self.rng.random()
        if r < 0.52:
            return self.rng.randint(1, 5)
        if r < 0.87:
            return self.rng.randint(6, 100)
        if r < 0.97:
            return self.rng.randint(101, 500)
        return self.rng.randint(501, 2500)

    def batch(self, size: int) -> list[dict[str, Any]]:
        rng, out = self.rng, []
        while len(out) < size:
            r = rng.random()
            wallet, other = rng.sample(WALLETS, 2)
            if r < 0.10:
                out.append(move(BANK, FUND, rng.randint(400, 3200)))  # funding
            elif r < 0.40:
                out.append(move(FUND, wallet, rng.randint(50, 800)))  # disbursement
            elif r < 0.58:
                out.append(move(wallet, MERCHANT, rng.randint(20, 600)))  # payment
            elif r < 0.64:
                timeout = 1 if rng.random() < 0.2 else 0
                out.append(move(wallet, MERCHANT, rng.randint(20, 600), flags=["pending"], timeout=timeout))
            elif r < 0.72:
                out.append(move(MERCHANT, BANK, rng.randint(200, 2000)))  # settlement
            elif r < 0.77:
                out.append(move(wallet, other, rng.randint(10, 300)))
            elif r < 0.88:
                if self.open_pending:
                    pending = self.open_pending.pop(rng.randrange(len(self.open_pending)))
                    out.append(self.resolve(pending))
            elif r < 0.94 and len(out) + 2 <= size:  # a linked chain: disburse and spend, all or nothing
                amount = rng.randint(50, 800)
                out.append(move(FUND, wallet, amount, flags=["linked"]))
                out.append(move(wallet, MERCHANT, rng.randint(20, amount)))
            else:
                usd = rng.choice(USD_WALLETS)
                choice = rng.random()
                if choice < 0.3:
                    out.append(move(USD_BANK, USD_FUND, rng.randint(100, 900)))
                elif choice < 0.8:
                    out.append(move(USD_FUND, usd, rng.randint(10, 200)))
                else:
                    out.append(move(usd, USD_BANK, rng.randint(10, 200)))
        return out

    def resolve(self, pending: dict[str, Any]) -> dict[str, Any]:
        """A post (of all or part) or a void of a pending transfer, naming its accounts."""
        post = self.rng.random() < 0.7
        amount = pending["amount"] if not post or self.rng.random() < 0.5 else self.rng.randint(1, pending["amount"])
        flag = "post_pending_transfer" if post else "void_pending_transfer"
        return {"id": uuid.uuid4().int, "debit": pending["debit"], "credit": pending["credit"], "amount": amount,
                "pending_id": pending["id"], "ledger": pending["ledger"], "code": pending["code"], "flags": [flag],
                "timeout": 0}  # fmt: skip

    def acknowledged(self, spec: dict[str, Any]) -> None:
        """Note a transfer the ledger acknowledged: a pending one may be resolved later."""
        if "pending" in spec["flags"] and spec["id"] not in self._seen_pending:
            self._seen_pending.add(spec["id"])
            self.open_pending.append(spec)


def retry_code(exc: BaseException) -> str | None:
    """The SQLSTATE of a serialization failure or a deadlock, or None for any other error."""
    code = getattr(getattr(exc, "orig", None), "sqlstate", None)
    return code if isinstance(exc, DBAPIError) and code in RETRYABLE else None


def retrying(work: Callable[[], T], *, counts: Counter[str], attempts: int = 8) -> T:
    """Run `work` (one whole transaction) again after a serialization failure or a deadlock, counting each."""
    for attempt in range(attempts):
        try:
            return work()
        except DBAPIError as exc:
            code = retry_code(exc)
            if code is None or attempt == attempts - 1:
                raise
            counts[code] += 1
            time.sleep(random.uniform(0, 0.01 * 2**attempt))
    raise AssertionError("unreachable")


def submit(factory: sessionmaker[Session], batch: list[dict[str, Any]], *, who: str, counts: Counter[str],
           commit: bool = True) -> tuple[str, ...]:  # fmt: skip
    """One batch in its own transaction (committed, or rolled back as a transaction lost before its commit)."""

    def work() -> tuple[str, ...]:
        with factory() as session:
            result = service.create_transfers(session, [to_transfer(s) for s in batch], submitted_by=who, now=now())
            if commit:
                session.commit()
            else:
                session.rollback()
            return result.results

    return retrying(work, counts=counts)


def record(acknowledged: dict[int, dict[str, Any]], batch: Iterable[dict[str, Any]], results: Iterable[str],
           traffic: Traffic | None = None) -> None:  # fmt: skip
    """Add what a committed batch acknowledged."""
    for spec, result in zip(batch, results, strict=True):
        if result in APPLIED:
            acknowledged.setdefault(spec["id"], spec)
            if traffic is not None:
                traffic.acknowledged(spec)


def replay_problems(batch: list[dict[str, Any]], before: Iterable[str], after: Iterable[str]) -> list[str]:
    """What is wrong with a replay: a transfer applied before must now be `exists`."""
    return [f"transfer {spec['id']:032x} was {old}, replayed it is {new}"
            for spec, old, new in zip(batch, before, after, strict=True)
            if old in APPLIED and new != "exists"]  # fmt: skip


# The worker process of the PostgreSQL bank test


def bank_worker(url: str, index: int, seed: int, transfers: int, contested: list[list[dict[str, Any]]],
                barrier: Any, queue: Any) -> None:  # fmt: skip
    """Submit about `transfers` random transfers, replaying some batches; put what was acknowledged on `queue`.

    After committing a batch it may replay it at once (every transfer it applied must be `exists`), or
    pretend it never heard back, and resubmit it later merged into another batch; a few batches are rolled
    back instead of committed (a transaction lost before its commit) and resubmitted too. At each barrier
    every worker submits two `contested` batches, each of which another worker submits at the same moment.
    """
    from carnet.db.session import make_engine

    try:
        engine = make_engine(url, pool_size=1, max_overflow=0)
        factory = sessionmaker(bind=engine, expire_on_commit=False, autoflush=False)
        rng = random.Random(seed)
        traffic = Traffic(rng)
        counts: Counter[str] = Counter()
        acknowledged: dict[int, dict[str, Any]] = {}
        problems: list[str] = []
        # Batches the worker does not know the outcome of, with what each transfer really got when that
        # was committed (None: rolled back, or not known): resubmitted later, merged into another batch.
        unknown: list[tuple[list[dict[str, Any]], list[str | None]]] = []
        committed: list[tuple[list[dict[str, Any]], tuple[str, ...]]] = []
        contested_results: list[tuple[list[dict[str, Any]], tuple[str, ...]]] = []
        who = f"bank-worker-{index}"
        rounds = [transfers * k // (len(contested) // 2 + 1) for k in range(1, len(contested) // 2 + 1)]
        sent = 0
        while sent < transfers or unknown or rounds:
            if rounds and sent >= rounds[0]:
                rounds.pop(0)
                barrier.wait(timeout=60)
                for _ in range(2):
                    batch = contested.pop(0)
                    results = submit(factory, batch, who=who, counts=counts)
                    contested_results.append((batch, results))
                    record(acknowledged, batch, results)
                continue
            retried: list[dict[str, Any]] = []
            hidden: list[str | None] = []
            if unknown and (rng.random() < 0.4 or sent >= transfers):
                retried, hidden = unknown.pop(0)
                counts["resubmitted unknown batches"] += 1
            room = min(service.MAX_BATCH - len(retried), transfers - sent)
            fresh = traffic.batch(min(traffic.size(), room)) if sent < transfers else []
            sent += len(fresh)
            whole, hidden = retried + fresh, hidden + [None] * len(fresh)
            mode = rng.random() if sent < transfers else 1.0
            if mode < 0.06:
                submit(factory, whole, who=who, counts=counts, commit=False)
                unknown.append((whole, hidden))
                counts["rolled back (lost) batches"] += 1
                continue
            results = submit(factory, whole, who=who, counts=counts)
            problems += replay_problems(whole, [h or "" for h in hidden], results)
            if mode < 0.18:  # committed; the worker pretends not to know
                unknown.append((whole, [h if h in APPLIED else r for h, r in zip(hidden, results, strict=True)]))
                counts["committed, outcome hidden"] += 1
                continue
            record(acknowledged, whole, results, traffic)
            committed.append((whole, results))
            if rng.random() < 0.1:
                old_batch, old = rng.choice(committed)
                again = submit(factory, old_batch, who=who, counts=counts)
                problems += replay_problems(old_batch, old, again)
                record(acknowledged, old_batch, again, traffic)
                counts["replayed acknowledged batches"] += 1
        counts["batches"] = len(committed)
        engine.dispose()
        queue.put({"index": index, "acknowledged": acknowledged, "problems": problems, "counts": dict(counts),
                   "contested": contested_results})  # fmt: skip
    except BaseException as exc:  # the parent must hear of it, not wait for a result that never comes
        import traceback

        queue.put({"index": index, "error": "".join(traceback.format_exception(exc))})
        raise


# The invariants

_RECOMPUTE = text("""
WITH t AS (
    SELECT tr.debit_account_id AS debit, tr.credit_account_id AS credit, tr.amount,
           CASE WHEN CAST(tr.flags AS TEXT) LIKE '%"pending"%' AND r.pending_id IS NULL THEN tr.amount ELSE 0 END
               AS reserved,
           CASE WHEN CAST(tr.flags AS TEXT) NOT LIKE '%"pending"%'
                 AND CAST(tr.flags AS TEXT) NOT LIKE '%"void_pending_transfer"%' THEN tr.amount ELSE 0 END AS posted
    FROM ledger_transfers tr LEFT JOIN ledger_resolutions r ON r.pending_id = tr.id
)
SELECT account, SUM(dp), SUM(dpo), SUM(cp), SUM(cpo) FROM (
    SELECT debit AS account, reserved AS dp, posted AS dpo, 0 AS cp, 0 AS cpo FROM t
    UNION ALL
    SELECT credit AS account, 0 AS dp, 0 AS dpo, reserved AS cp, posted AS cpo FROM t
) moves GROUP BY account
""")


def as_int(value: Any) -> int:
    return value.int if isinstance(value, uuid.UUID) else uuid.UUID(hex=str(value)).int


def _flags(value: Any) -> list[str]:
    return value if isinstance(value, list) else json.loads(value)


def check_invariants(engine: Engine, acknowledged: dict[int, dict[str, Any]]) -> dict[str, int]:
    """Assert the bank's invariants on the store; a few counts to report.

    - every ledger balances (debits = credits, pending and posted): the sum of all balances is zero;
    - no floored account has more debits (pending included) than posted credits;
    - the stored transfers are exactly the acknowledged ones (each once: the id is the primary key), as sent;
    - each account's four totals equal the sums of its stored transfers (recomputed in SQL from
      ledger_transfers and ledger_resolutions) and the totals a client-side oracle derives from what was
      acknowledged.
    """
    with Session(engine) as session:
        totals = service.ledger_totals(session)
        assert totals and all(line["balanced"] for line in totals), totals
        rows = session.execute(text("SELECT id, ledger, flags, debits_pending, debits_posted, credits_pending, "
                                    "credits_posted FROM ledger_accounts")).all()  # fmt: skip
        stored = session.execute(text("SELECT id, debit_account_id, credit_account_id, amount, pending_id, flags "
                                      "FROM ledger_transfers")).all()  # fmt: skip
        resolutions = {as_int(p): (status, None if t is None else as_int(t)) for p, status, t in session.execute(
            text("SELECT pending_id, status, transfer_id FROM ledger_resolutions"))}  # fmt: skip
        recomputed = {as_int(a): tuple(int(x) for x in sums) for a, *sums in session.execute(_RECOMPUTE)}
    accounts = {as_int(r[0]): (_flags(r[2]), tuple(r[3:])) for r in rows}
    for ledger in {r[1] for r in rows}:
        balance = sum(r[6] - r[4] for r in rows if r[1] == ledger)
        assert balance == 0, (ledger, balance)
    broken = [a for a, (flags, (dp, dpo, _, cpo)) in accounts.items()
              if "debits_must_not_exceed_credits" in flags and dp + dpo > cpo]  # fmt: skip
    assert not broken, f"floors broken on {len(broken)} accounts"
    ids = [as_int(row[0]) for row in stored]
    assert len(ids) == len(set(ids))
    missing, extra = set(acknowledged) - set(ids), set(ids) - set(acknowledged)
    assert not missing, f"{len(missing)} acknowledged transfers are not stored"
    assert not extra, f"{len(extra)} stored transfers were never acknowledged"
    for row in stored:
        sent = acknowledged[as_int(row[0])]
        pending_id = None if row[4] is None else as_int(row[4])
        got = (as_int(row[1]), as_int(row[2]), row[3], pending_id, sorted(_flags(row[5])))
        assert got == (sent["debit"], sent["credit"], sent["amount"], sent["pending_id"], sorted(sent["flags"]))
    for account, (_, four) in accounts.items():
        assert recomputed.get(account, (0, 0, 0, 0)) == four, (f"{account:032x}", recomputed.get(account), four)
    oracle: dict[int, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    for spec in acknowledged.values():
        d, c, amount, flags = oracle[spec["debit"]], oracle[spec["credit"]], spec["amount"], spec["flags"]
        if "pending" in flags:
            status = resolutions.get(spec["id"], (None, None))[0]
            if status is None:
                d[0] += amount
                c[2] += amount
        elif "post_pending_transfer" in flags:
            d[1] += amount
            c[3] += amount
            assert resolutions[spec["pending_id"]] == ("posted", spec["id"])
        elif "void_pending_transfer" in flags:
            assert resolutions[spec["pending_id"]] == ("voided", spec["id"])
        else:
            d[1] += amount
            c[3] += amount
    for account, (_, four) in accounts.items():
        assert tuple(oracle.get(account, (0, 0, 0, 0))) == four
    statuses = Counter(status for status, _ in resolutions.values())
    pending = sum(1 for s in acknowledged.values() if "pending" in s["flags"])
    return {"transfers": len(ids), "accounts": len(accounts), **{f"resolutions {k}": v for k, v in statuses.items()},
            "open pending": pending - len(resolutions)}  # fmt: skip
