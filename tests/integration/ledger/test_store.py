"""The ledger on the real database: what the rules decide is stored exactly, replays move nothing, sums are zero."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from carnet.ledger import service
from carnet.ledger.rules import Transfer
from carnet.ledger.service import AccountSpec
from tests.conftest import count_rows

pytestmark = pytest.mark.db
NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
VES = service.ledger_of("VES")
BANK, FUND = AccountSpec("settlement_bank", "treasury", "VES"), AccountSpec("programme_fund", "cash_transfer", "VES")
WALLETS = [AccountSpec("wallet", f"HS1-{n:052d}", "VES") for n in range(4)]


def tid() -> int:
    return uuid.uuid4().int


def pay(debit: AccountSpec, credit: AccountSpec, amount: int, **kw) -> Transfer:
    return Transfer(id=kw.pop("id", tid()), debit_account_id=debit.id.int, credit_account_id=credit.id.int,
                    amount=amount, ledger=VES, code=1, **kw)  # fmt: skip


@pytest.fixture()
def opened(session):
    service.open_accounts(session, [BANK, FUND, *WALLETS], now=NOW)
    service.open_accounts(session, [BANK, FUND], now=NOW)  # idempotent
    assert count_rows(session, "ledger_accounts") == 6
    return session


def balance(session, spec: AccountSpec) -> int:
    return service.get_account(session, spec.id)["balance"]


def test_plain_transfers_replays_and_floors(opened):
    session = opened
    fund = pay(BANK, FUND, 1_000_000)
    first = service.create_transfers(session, [fund], submitted_by="t", now=NOW)
    assert first.results == ("ok",)
    again = service.create_transfers(session, [fund], submitted_by="t", now=NOW + timedelta(minutes=1))
    assert again.results == ("exists",)
    other = Transfer(**{**{f: getattr(fund, f) for f in ("id", "debit_account_id", "credit_account_id", "ledger",
                                                          "code")}, "amount": 5})  # fmt: skip
    assert service.create_transfers(session, [other], submitted_by="t", now=NOW).results == (
        "exists_with_different_amount",
    )
    over = pay(FUND, WALLETS[0], 2_000_000)
    assert service.create_transfers(session, [over], submitted_by="t", now=NOW).results == ("exceeds_credits",)
    assert balance(session, FUND) == 1_000_000 and balance(session, BANK) == -1_000_000
    assert count_rows(session, "ledger_transfers") == 1
    assert all(line["balanced"] for line in service.ledger_totals(session))


def test_a_linked_chain_is_all_or_nothing(opened):
    session = opened
    service.create_transfers(session, [pay(BANK, FUND, 300)], submitted_by="t", now=NOW)
    chain = [pay(FUND, WALLETS[0], 200, flags=frozenset({"linked"})), pay(FUND, WALLETS[1], 200)]
    assert service.create_transfers(session, chain, submitted_by="t", now=NOW).results == (
        "linked_event_failed",
        "exceeds_credits",
    )
    assert balance(session, WALLETS[0]) == 0 and balance(session, FUND) == 300


def test_pending_post_void_and_expiry(opened):
    session = opened
    service.create_transfers(session, [pay(BANK, WALLETS[0], 1000)], submitted_by="t", now=NOW)
    hold = pay(WALLETS[0], WALLETS[1], 600, flags=frozenset({"pending"}), timeout=60)
    assert service.create_transfers(session, [hold], submitted_by="t", now=NOW).results == ("ok",)
    assert service.get_account(session, WALLETS[0].id)["available"] == 400
    post = Transfer(id=tid(), pending_id=hold.id, amount=500, flags=frozenset({"post_pending_transfer"}))
    assert service.create_transfers(session, [post], submitted_by="t", now=NOW).results == ("ok",)
    assert balance(session, WALLETS[0]) == 500 and balance(session, WALLETS[1]) == 500
    assert service.get_account(session, WALLETS[0].id)["available"] == 500  # the rest released
    second = pay(WALLETS[0], WALLETS[2], 300, flags=frozenset({"pending"}), timeout=60)
    service.create_transfers(session, [second], submitted_by="t", now=NOW)
    assert service.expire_pending(session, now=NOW + timedelta(seconds=61)) == 1
    late = Transfer(id=tid(), pending_id=second.id, flags=frozenset({"post_pending_transfer"}))
    assert service.create_transfers(session, [late], submitted_by="t", now=NOW + timedelta(seconds=62)).results == (
        "pending_transfer_expired",
    )
    assert service.get_account(session, WALLETS[0].id)["available"] == 500
    lines = service.statement(session, WALLETS[0].id)
    assert [line["balance"] for line in lines if not line["pending"]] == [1000, 500]


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    moves=st.lists(
        st.tuples(st.integers(0, 5), st.integers(0, 5), st.integers(1, 5000), st.booleans()), min_size=1, max_size=40
    )
)
def test_money_sums_to_zero_and_no_floor_breaks(session_factory, moves):  # type: ignore[no-untyped-def]
    accounts = [BANK, FUND, *WALLETS]
    with session_factory() as session:
        savepoint = session.begin_nested()
        try:
            service.open_accounts(session, accounts, now=NOW)
            sent = [pay(accounts[a], accounts[b], amount) for a, b, amount, _ in moves if a != b]
            flags = [again for a, b, _, again in moves if a != b]
            if sent:
                first = service.create_transfers(session, sent, submitted_by="t", now=NOW).results
                applied = [t for t, code in zip(sent, first, strict=True) if code == "ok"]
                replays = [t for t, again in zip(sent, flags, strict=True) if again and t in applied]
                # A replay of an applied transfer is `exists` and moves nothing (a refused one is judged afresh).
                assert set(service.create_transfers(session, replays, submitted_by="t", now=NOW).results) <= {"exists"}
            views = [service.get_account(session, spec.id) for spec in accounts]
            assert sum(v["balance"] for v in views) == 0
            assert all(v["balance"] >= 0 for v in views if v["kind"] != "settlement_bank")
            assert all(line["balanced"] for line in service.ledger_totals(session))
        finally:
            savepoint.rollback()
