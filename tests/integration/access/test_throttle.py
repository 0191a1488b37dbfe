"""The throttle's counters in the database: shared by separate engines (worker processes), upserted, unlocked."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import delete
from sqlalchemy.orm import Session, sessionmaker

from carnet.access.models import ThrottleCounter
from carnet.access.throttle import (
    BackoffRule,
    Throttle,
    ThrottlePolicy,
    TooManyAttempts,
    account_key,
    address_key,
    unlock,
)
from carnet.db.session import make_engine

NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
POLICY = ThrottlePolicy(
    secret=BackoffRule(free_failures=3, base_delay_seconds=2, max_delay_seconds=600, lockout_failures=10),
    address=BackoffRule(free_failures=10, base_delay_seconds=2, max_delay_seconds=600, lockout_failures=20),
)


@pytest.fixture()
def engines(db_url, engine):
    """Two engines on the migrated store, standing for two worker processes; counters cleared after."""
    first, second = make_engine(db_url), make_engine(db_url)
    yield first, second
    with Session(first) as session:
        session.execute(delete(ThrottleCounter))
        session.commit()
    first.dispose()
    second.dispose()


def counter(engine, key):
    with Session(engine) as session:
        return session.get(ThrottleCounter, (key.kind, key.digest))


class TestSharedCounters:
    def test_failures_counted_by_one_process_hold_back_another(self, engines):
        one, other = (Throttle(sessionmaker(e), POLICY) for e in engines)
        key = account_key("clerk")
        for _ in range(3):
            one.failed([key], now=NOW)
        with Session(engines[1]) as session, pytest.raises(TooManyAttempts) as refused:
            other.check(session, [key], now=NOW)
        assert refused.value.status == 429 and refused.value.extra["retry_after"] == 2
        assert refused.value.code == "too_many_attempts"
        with Session(engines[1]) as session:
            other.check(session, [key], now=NOW + timedelta(seconds=3))  # the back-off has passed

    def test_the_lock_out_outlives_time_and_success_until_unlocked(self, engines):
        throttle = Throttle(sessionmaker(engines[0]), POLICY)
        key = account_key("clerk")
        for _ in range(10):
            throttle.failed([key], now=NOW)
        stored = counter(engines[1], key)
        assert stored.failures == 10 and stored.locked_out_at is not None
        with Session(engines[1]) as session:
            throttle.succeeded(session, [key])
            session.commit()
            with pytest.raises(TooManyAttempts) as refused:
                throttle.check(session, [key], now=NOW + timedelta(days=30))
        assert refused.value.code == "locked_out"
        with Session(engines[1]) as session:
            assert unlock(session, key) is True
            session.commit()
        assert counter(engines[0], key) is None

    def test_a_success_resets_the_count_before_a_lock_out(self, engines):
        throttle = Throttle(sessionmaker(engines[0]), POLICY)
        key = account_key("clerk")
        throttle.failed([key], now=NOW)
        throttle.failed([key], now=NOW)
        with Session(engines[1]) as session:
            throttle.succeeded(session, [key])
            session.commit()
        assert counter(engines[0], key) is None

    def test_no_username_or_address_is_stored_in_clear(self, engines):
        throttle = Throttle(sessionmaker(engines[0]), POLICY)
        throttle.failed([account_key("ana.gil"), address_key("203.0.113.7")], now=NOW)
        with Session(engines[0]) as session:
            rows = session.query(ThrottleCounter).all()
        text = repr([(r.kind, r.key_hash) for r in rows])
        assert len(rows) == 2 and "ana" not in text and "203.0" not in text

    def test_concurrent_failures_are_all_counted(self, engines, dialect):
        if dialect != "postgresql":
            pytest.skip("concurrent writers: the upsert's atomicity is PostgreSQL's (SQLite has one writer)")
        throttle = Throttle(sessionmaker(engines[0]), POLICY)
        key = address_key("198.51.100.1")

        def hammer():
            for _ in range(5):
                throttle.failed([key], now=NOW)

        threads = [threading.Thread(target=hammer) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        stored = counter(engines[1], key)
        assert stored.failures == 20 and stored.locked_out_at is not None
