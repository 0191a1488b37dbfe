"""Money flows on the real database: fund, disburse a cash cycle into wallets, settle cash handed over at points."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import text

from carnet.flows import wallets
from carnet.ledger import service as ledger
from carnet.programs import service as programs
from tests.conftest import count_rows
from tests.integration.distribution.world import ANA, NOW, PASSPHRASE, build, enrol, pull, push

pytestmark = pytest.mark.db


@pytest.fixture()
def world(session, tmp_path):
    return build(session, tmp_path, cash=True)


def published_run(session):
    return next(r for r in programs.runs_of(session, code="food_box") if r.status == "published")


def test_disbursing_pays_each_entitlement_once_and_money_sums_to_zero(session, world):
    run = published_run(session)
    funded = wallets.fund_programme(session, actor=ANA, code="food_box", amount=run.total_value, reference="OP-1",
                                    now=NOW)  # fmt: skip
    assert funded.applied == 1
    assert wallets.fund_programme(session, actor=ANA, code="food_box", amount=run.total_value, reference="OP-1",
                                  now=NOW).existing == 1  # the same order funds nothing twice  # fmt: skip
    paid = wallets.disburse(session, actor=ANA, run_id=run.id, passphrase=PASSPHRASE, now=NOW, batch_size=20)
    assert paid.applied == run.units_eligible and paid.amount == run.total_value and paid.batches > 1
    again = wallets.disburse(session, actor=ANA, run_id=run.id, passphrase=PASSPHRASE, now=NOW + timedelta(hours=1))
    assert again.applied == 0 and again.existing == run.units_eligible  # a rerun pays nobody twice
    fund = ledger.find_account(session, kind="programme_fund", holder="food_box", currency="VES")
    assert fund["balance"] == 0
    assert all(line["balanced"] for line in ledger.ledger_totals(session))
    holders = [row[0] for row in session.execute(text("SELECT holder FROM ledger_accounts WHERE kind = 'wallet'"))]
    assert len(holders) == run.units_eligible and all(h.startswith("HS1-") for h in holders)
    registry = {str(row[0]).replace("-", "") for row in session.execute(text("SELECT id FROM households"))}
    assert not any(h.replace("-", "").lower() in registry for h in holders)
    entries = [bytes(row[0]) for row in session.execute(text("SELECT body FROM audit_entries"))]
    assert sum(b"ledger.batch" in body for body in entries) == funded.batches + 1 + paid.batches + again.batches


def test_an_underfunded_disbursement_refuses_what_it_cannot_pay(session, world):
    run = published_run(session)
    wallets.fund_programme(session, actor=ANA, code="food_box", amount=1_500_000, reference="OP-2", now=NOW)
    paid = wallets.disburse(session, actor=ANA, run_id=run.id, passphrase=PASSPHRASE, now=NOW)
    assert paid.amount <= 1_500_000 and paid.refused.get("exceeds_credits", 0) == run.units_eligible - paid.applied


def test_cash_handed_over_at_a_point_moves_from_the_wallet_once(session, world, tmp_path):
    run = published_run(session)
    wallets.fund_programme(session, actor=ANA, code="food_box", amount=run.total_value, reference="OP-3", now=NOW)
    wallets.disburse(session, actor=ANA, run_id=run.id, passphrase=PASSPHRASE, now=NOW)
    agent = enrol(session, world, "depot-a", tmp_path / "a")
    pull(session, agent)
    person = world.at("depot-a")[0]
    agent.redeem(person.qr, pin=person.pin, now=int(NOW.timestamp()) + 60)
    push(session, agent, now=NOW + timedelta(hours=1))
    assert count_rows(session, "redemptions", "settlement = 'pending'") == 1
    settled = wallets.settle_cash_handovers(session, actor=ANA, passphrase=PASSPHRASE, now=NOW + timedelta(hours=2))
    assert settled.applied == 1 and settled.amount == 1_500_000
    assert count_rows(session, "redemptions", "settlement = 'settled'") == 1
    desk = ledger.find_account(session, kind="merchant", holder="point:depot-a", currency="VES")
    assert desk["balance"] == 1_500_000
    again = wallets.settle_cash_handovers(session, actor=ANA, passphrase=PASSPHRASE, now=NOW + timedelta(hours=3))
    assert again.applied == 0 and again.batches == 0
    assert all(line["balanced"] for line in ledger.ledger_totals(session))
