"""Paying a merchant with the card and PIN on the real database: reserve, confirm, cancel, refund, expire."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import timedelta

import pytest

from carnet.access.service import create_user
from carnet.flows import payments, wallets
from carnet.kit.actor import Actor
from carnet.kit.errors import AppError
from carnet.ledger import service as ledger
from carnet.programs import service as programs
from tests.integration.distribution.world import ANA, NOW, PASSPHRASE, POLICY, build

pytestmark = pytest.mark.db
BOX = 1_500_000


@pytest.fixture()
def funded(session, tmp_path):
    world = build(session, tmp_path, cash=True)
    run = next(r for r in programs.runs_of(session, code="food_box") if r.status == "published")
    wallets.fund_programme(session, actor=ANA, code="food_box", amount=run.total_value, reference="OP", now=NOW)
    wallets.disburse(session, actor=ANA, run_id=run.id, passphrase=PASSPHRASE, now=NOW)
    shops = []
    for name in ("bodega", "farmacia"):
        user = create_user(session, username=name, password=f"contraseña de la {name}", role="merchant", now=NOW)
        shops.append(Actor(user_id=user.id, role="merchant", request_id="t", purpose="none", office=name))
    return world, shops


def pay(session, shop, person, amount, payment_id=None, pin=None):  # type: ignore[no-untyped-def]
    return payments.pay(session, actor=shop, payment_id=payment_id or uuid.uuid4(), credential=person.qr,
                        pin=pin or person.pin, programme="food_box", amount=amount, policy=POLICY,
                        passphrase=PASSPHRASE, now=NOW + timedelta(hours=1))  # fmt: skip


def desk(session, shop) -> int:  # type: ignore[no-untyped-def]
    return ledger.get_account(session, payments.merchant_account(shop, "VES").id)["balance"]


def test_pay_confirm_refund_and_retries(session, funded):
    world, (bodega, farmacia) = funded
    person = world.beneficiaries[0]
    payment = uuid.uuid4()
    assert pay(session, bodega, person, 400_000, payment)["result"] == "ok"
    assert pay(session, bodega, person, 400_000, payment)["result"] == "exists"  # the till retried
    assert pay(session, bodega, person, 999_000, payment)["result"] == "exists_with_different_amount"
    with pytest.raises(AppError) as other:
        payments.confirm(session, actor=farmacia, payment_id=payment, now=NOW + timedelta(hours=1))
    assert other.value.code == "payment_not_found"  # another shop cannot touch it
    assert payments.confirm(session, actor=bodega, payment_id=payment, now=NOW + timedelta(hours=1))["result"] == "ok"
    assert (
        payments.confirm(session, actor=bodega, payment_id=payment, now=NOW + timedelta(hours=2))["result"] == "exists"
    )
    assert desk(session, bodega) == 400_000
    back = payments.refund(session, actor=bodega, payment_id=payment, amount=100_000, reference="R1",
                           now=NOW + timedelta(hours=3))  # fmt: skip
    assert back["result"] == "ok" and desk(session, bodega) == 300_000
    with pytest.raises(AppError) as too_much:
        payments.refund(session, actor=bodega, payment_id=payment, amount=500_000, reference="R2", now=NOW)
    assert too_much.value.code == "refund_exceeds_payment"
    assert all(line["balanced"] for line in ledger.ledger_totals(session))


def test_a_wrong_pin_or_an_empty_wallet_pays_nothing(session, funded):
    world, (bodega, _) = funded
    person = world.beneficiaries[0]
    wrong = "000000" if person.pin != "000000" else "111111"
    with pytest.raises(AppError) as refused:
        pay(session, bodega, person, 1000, pin=wrong)
    assert refused.value.code == "bad_card_or_pin"
    assert pay(session, bodega, person, 10 * BOX)["result"] == "exceeds_credits"
    assert desk(session, bodega) == 0


def test_a_cancelled_or_expired_payment_gives_the_money_back(session, funded):
    world, (bodega, _) = funded
    person = world.beneficiaries[0]
    first, second = uuid.uuid4(), uuid.uuid4()
    pay(session, bodega, person, BOX, first)
    assert pay(session, bodega, person, 1, second)["result"] in ("exceeds_credits", "ok")
    assert payments.cancel(session, actor=bodega, payment_id=first, now=NOW + timedelta(hours=1))["result"] == "ok"
    third = uuid.uuid4()
    assert pay(session, bodega, person, 500_000, third)["result"] == "ok"
    later = NOW + timedelta(hours=1, seconds=payments.HOLD_SECONDS + 1)
    assert ledger.expire_pending(session, now=later) >= 1
    late = payments.confirm(session, actor=replace(bodega), payment_id=third, now=later)
    assert late["result"] == "pending_transfer_expired" and desk(session, bodega) == 0
