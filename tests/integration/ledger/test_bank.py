"""A Jepsen-style bank test on PostgreSQL: 8 processes at once move money between hot accounts and retry.

Eight worker processes (multiprocessing spawn, one engine each) submit random batches of 1 to 2,500
transfers (tests/integration/ledger/bank.py: funding the programme fund, disbursing from it, payments to
one merchant, some pending and later posted, partly posted or voided, some timing out, linked pairs,
settlement back to the bank, wallet to wallet, and a second currency), about 12,000 new transfers in all,
most touching the fund or the merchant. Each worker replays some batches it saw committed, pretends not to
know the outcome of others and resubmits them later (merged into new batches), rolls back a few instead of
committing (a lost transaction) and resubmits those too; twice, all workers meet at a barrier and each
submits two batches that another worker submits at the same moment. Then:

- every ledger balances (the sum of all balances is zero), no floored account is below zero;
- the stored transfers are exactly the acknowledged ones, each once, as sent; a replay of what was applied
  is `exists`; of two concurrent submissions of one transfer, one is `ok`, the other `exists`;
- each account's totals equal the sums recomputed in SQL from its stored transfers and resolutions, and
  what an oracle derives from the acknowledged transfers alone.

Serialization failures and deadlocks (40001/40P01) would be retried (`bank.retrying`, tested below on a
real deadlock); with accounts locked in id order none occurs, and the test asserts so.
SQLite has one writer at a time: tests/e2e/test_ledger_crash.py kills its writer instead.
"""

from __future__ import annotations

import multiprocessing
import random
import threading
import time
from collections import Counter, defaultdict
from typing import Any

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import sessionmaker

from carnet.db.session import make_engine
from carnet.kit.errors import AppError
from carnet.ledger import service
from carnet.ledger.models import LedgerAccount
from tests.conftest import PG_SKIP_REASON, create_postgres_database, drop_postgres_database, prepare_store
from tests.integration.ledger import bank

pytestmark = pytest.mark.db
WORKERS = 8
TRANSFERS = 1_500  # new transfers per worker, replays and resubmissions not counted
ROUNDS = 2  # barriers at which every worker submits two batches another submits at the same moment
CONTESTED = 40  # transfers per contested batch
SEED = 20261204
SQLITE_REASON = "SQLite has one writer at a time; tests/e2e/test_ledger_crash.py kills its writer instead"
NO_POSTGRES = pytest.mark.skipif(bool(PG_SKIP_REASON), reason=str(PG_SKIP_REASON))
BACKEND = [pytest.param("sqlite", marks=pytest.mark.skip(reason=SQLITE_REASON)),
           pytest.param("postgresql", marks=NO_POSTGRES)]  # fmt: skip


@pytest.fixture(scope="module")
def bank_url():
    """A PostgreSQL store of its own with the bank's accounts open."""
    url = create_postgres_database("carnet_bank")
    engine = make_engine(url)
    try:
        prepare_store(engine)
        bank.open_bank(sessionmaker(bind=engine, expire_on_commit=False))
        engine.dispose()
        yield url
    finally:
        engine.dispose()
        drop_postgres_database(url)


def contested_batches(rng: random.Random) -> list[list[list[dict[str, Any]]]]:
    """Per round, one batch per worker (bank to wallets: nothing refuses them), each submitted by two workers."""
    return [[[bank.move(bank.BANK, rng.choice(bank.WALLETS), rng.randint(100, 1000)) for _ in range(CONTESTED)]
             for _ in range(WORKERS)] for _ in range(ROUNDS)]  # fmt: skip


@pytest.mark.parametrize("backend", BACKEND)
def test_eight_processes_at_once_lose_nothing_and_apply_nothing_twice(backend, bank_url):
    rng = random.Random(SEED)
    rounds = contested_batches(rng)
    context = multiprocessing.get_context("spawn")
    queue, barrier = context.Queue(), context.Barrier(WORKERS)
    started = time.perf_counter()
    workers = []
    for index in range(WORKERS):
        # Worker i submits batch i of each round, then batch i - 1, which worker i - 1 submitted first.
        mine = [batch for r in rounds for batch in (r[index], r[(index - 1) % WORKERS])]
        args = (bank_url, index, SEED + index, TRANSFERS, mine, barrier, queue)
        workers.append(context.Process(target=bank.bank_worker, args=args, daemon=True))
    for worker in workers:
        worker.start()
    try:
        answers = [queue.get(timeout=150) for _ in workers]
    finally:
        for worker in workers:
            worker.join(timeout=30)
            if worker.is_alive():
                worker.kill()
    errors = [a["error"] for a in answers if "error" in a]
    assert not errors, "\n".join(errors)
    elapsed = time.perf_counter() - started
    acknowledged: dict[int, dict[str, Any]] = {}
    counts: Counter[str] = Counter()
    for answer in answers:
        assert not answer["problems"], answer["problems"][:5]
        counts.update(answer["counts"])
        for transfer_id, spec in answer["acknowledged"].items():
            assert acknowledged.setdefault(transfer_id, spec) == spec
    # Of the two workers that sent each contested transfer at the same moment, one applied it.
    contested: dict[int, list[str]] = defaultdict(list)
    for answer in answers:
        for batch, results in answer["contested"]:
            for spec, result in zip(batch, results, strict=True):
                contested[spec["id"]].append(result)
    assert len(contested) == ROUNDS * WORKERS * CONTESTED
    assert all(sorted(results) == ["exists", "ok"] for results in contested.values()), Counter(
        tuple(sorted(r)) for r in contested.values()
    )
    engine = make_engine(bank_url)
    try:
        figures = bank.check_invariants(engine, acknowledged)
        with engine.connect() as conn:
            refused = conn.execute(text("SELECT sum(transfers - applied) FROM ledger_batches")).scalar_one()
            fund, merchant = (conn.execute(select(LedgerAccount).where(LedgerAccount.id == spec.id)).one()
                              for spec in (bank.FUND, bank.MERCHANT))  # fmt: skip
    finally:
        engine.dispose()
    hot = sum(1 for s in acknowledged.values() if {s["debit"], s["credit"]} & {bank.FUND.id.int, bank.MERCHANT.id.int})
    print(f"\nbank test: {WORKERS} processes, {figures['transfers']:,} transfers stored ({hot:,} touching the fund or "
          f"the merchant), {int(refused or 0):,} answers other than ok in {counts['batches']:,}+ batches, in "
          f"{elapsed:.1f} s; {dict(counts)}; {figures}; fund balance {fund.credits_posted - fund.debits_posted:,}, "
          f"merchant {merchant.credits_posted - merchant.debits_posted:,}")  # fmt: skip
    assert figures["transfers"] >= WORKERS * TRANSFERS * 0.6  # floors refuse some; most are applied
    assert hot >= figures["transfers"] // 2
    # Accounts locked in one order (by id) leave nothing to retry: no serialization failure, no deadlock.
    assert counts["40001"] == counts["40P01"] == 0, counts


@pytest.mark.parametrize("backend", BACKEND)
def test_the_retry_rides_out_a_real_deadlock_and_nothing_else(backend, bank_url):
    engine = make_engine(bank_url)
    factory = sessionmaker(bind=engine, expire_on_commit=False)
    first, second = bank.WALLETS[0].id, bank.WALLETS[1].id
    meet = threading.Barrier(2)
    counts: Counter[str] = Counter()
    done: list[str] = []

    def lock_both(one, other, name: str) -> None:
        attempts = []

        def work() -> None:
            attempts.append(1)
            with factory() as session:
                lock = select(LedgerAccount.id).with_for_update()
                session.execute(lock.where(LedgerAccount.id == one))
                if len(attempts) == 1:
                    meet.wait(timeout=10)  # both hold their first row: each now waits for the other's
                session.execute(lock.where(LedgerAccount.id == other))
                session.commit()
                done.append(name)

        bank.retrying(work, counts=counts)

    threads = [threading.Thread(target=lock_both, args=(first, second, "a")),
               threading.Thread(target=lock_both, args=(second, first, "b"))]  # fmt: skip
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
        assert sorted(done) == ["a", "b"] and counts == Counter({"40P01": 1}), (done, counts)
        # Any other database error is not retried.
        with pytest.raises(DBAPIError) as raised:
            bank.retrying(lambda: factory().execute(text("SELECT 1 / 0")), counts=counts)
        assert raised.value.orig.sqlstate == "22012" and counts == Counter({"40P01": 1})
    finally:
        engine.dispose()


def wait_for_a_lock_wait(engine, answers: list, *, seconds: float = 20) -> None:
    """Until another backend of this database waits for a lock (the second submission is blocked)."""
    deadline = time.monotonic() + seconds
    with engine.connect() as conn:
        while time.monotonic() < deadline:
            waiting = conn.execute(text("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                                        "AND wait_event_type = 'Lock'")).scalar_one()  # fmt: skip
            if waiting or answers:
                return
            conn.rollback()  # pg_stat_activity is read once per transaction
            time.sleep(0.02)
    raise AssertionError(f"the concurrent submission never waited for a lock: {answers}")


def submit_in_thread(factory, batch, answers: list) -> threading.Thread:  # type: ignore[no-untyped-def]
    def run() -> None:
        try:
            with factory() as session:
                answers.append(service.create_transfers(session, batch, submitted_by="t", now=bank.now()).results)
                session.commit()
        except Exception as exc:  # the test reads it
            answers.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    return thread


@pytest.mark.parametrize("backend", BACKEND)
def test_a_retry_racing_its_original_is_exists(backend, bank_url):
    """The batch's own ids are read once its accounts are locked: the second of two is `exists`, not a crash."""
    engine = make_engine(bank_url)
    factory = sessionmaker(bind=engine, expire_on_commit=False)
    try:
        transfer = bank.to_transfer(bank.move(bank.BANK, bank.WALLETS[5], 700))
        answers: list = []
        with factory() as first:
            assert service.create_transfers(first, [transfer], submitted_by="t", now=bank.now()).results == ("ok",)
            thread = submit_in_thread(factory, [transfer], answers)
            wait_for_a_lock_wait(engine, answers)
            first.commit()
        thread.join(timeout=30)
        assert answers == [("exists",)]
    finally:
        engine.dispose()


@pytest.mark.parametrize("backend", BACKEND)
def test_one_id_on_other_accounts_at_the_same_moment_is_a_409_then_a_clear_code(backend, bank_url):
    """Two batches with one id and no account in common share no lock: the second is told to submit again."""
    engine = make_engine(bank_url)
    factory = sessionmaker(bind=engine, expire_on_commit=False)
    try:
        original = bank.move(bank.BANK, bank.WALLETS[6], 700)
        other = {**original, "debit": bank.USD_BANK.id.int, "credit": bank.USD_WALLETS[3].id.int,
                 "ledger": bank.USD}  # fmt: skip
        answers: list = []
        with factory() as first:
            results = service.create_transfers(first, [bank.to_transfer(original)], submitted_by="t", now=bank.now())
            assert results.results == ("ok",)
            thread = submit_in_thread(factory, [bank.to_transfer(other)], answers)
            wait_for_a_lock_wait(engine, answers)  # on the id's entry in the primary key, until the first commits
            first.commit()
        thread.join(timeout=30)
        assert isinstance(answers[0], AppError) and (answers[0].code, answers[0].status) == (
            "ledger_transfer_in_flight",
            409,
        )
        again: list = []
        submit_in_thread(factory, [bank.to_transfer(other)], again).join(timeout=30)
        assert again == [("exists_with_different_debit_account_id",)]
    finally:
        engine.dispose()
