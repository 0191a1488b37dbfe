"""Paying a merchant with the card: the card and its PIN reserve money in the wallet, the merchant confirms.

Two phases, as a till works: `pay` makes a pending transfer from the beneficiary's wallet (named by the
programme's pseudonym) to the merchant's account, under the payment id the merchant's device chose and
persisted first; `confirm` posts it once the goods are handed over, `cancel` voids it, and an unconfirmed
payment expires by itself. A refund is a transfer back, its id derived from the payment and a reference.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from carnet.credentials.service import CardPolicy
from carnet.flows.citizen_accounts import card_with_pin
from carnet.flows.wallets import PAYMENT, REFUND, submit
from carnet.kit.actor import Actor
from carnet.kit.errors import AppError, NotFound
from carnet.ledger import service as ledger
from carnet.ledger.rules import Transfer
from carnet.ledger.service import AccountSpec, derived_id, ledger_of
from carnet.programs import service as programs
from carnet.registry import repository as registry_repo

HOLD_SECONDS = 15 * 60  # an unconfirmed payment gives the money back after this


def merchant_account(actor: Actor, currency: str) -> AccountSpec:
    """The merchant's account: held by their user id, never by anything about a customer."""
    if actor.role != "merchant" or actor.user_id is None:
        raise AppError(message="only a merchant account takes payments", code="not_a_merchant", status=403)
    return AccountSpec("merchant", f"merchant:{actor.user_id}", currency)


def _wallet(session: Session, *, person_id: uuid.UUID, programme: str, passphrase: str | None) -> AccountSpec:
    program = programs.get_program(session, programme)
    definition = programs.program_definition(session, program)
    if definition.benefit.kind != "cash":
        raise AppError(message=f"programme {programme} gives goods, not cash", code="program_not_cash", status=409)
    unit_id = person_id
    if definition.unit == "household":
        person = registry_repo.get_person(session, person_id, region_scope=None)
        if person is None or person.household_id is None:
            raise NotFound("the card's holder has no wallet in this programme", code="wallet_not_found")
        unit_id = person.household_id
    (pseudonym,) = programs.unit_pseudonyms(session, program_id=program.id, units=[(definition.unit, unit_id)],
                                            passphrase=passphrase)  # fmt: skip
    return AccountSpec("wallet", pseudonym, definition.benefit.currency)


def _answer(payment_id: uuid.UUID, code: str) -> dict[str, Any]:
    return {"payment": payment_id, "result": code}


def pay(
    session: Session,
    *,
    actor: Actor,
    payment_id: uuid.UUID,
    credential: str,
    pin: str,
    programme: str,
    amount: int,
    policy: CardPolicy,
    passphrase: str | None,
    now: datetime,
) -> dict[str, Any]:
    """Reserve `amount` in the card holder's wallet for the merchant; `ok`, `exists` on a retry, or why not."""
    card = card_with_pin(session, credential=credential, pin=pin, policy=policy, now=now)
    wallet = _wallet(session, person_id=card.person_id, programme=programme, passphrase=passphrase)
    desk = merchant_account(actor, wallet.currency)
    ledger.open_accounts(session, [desk], now=now)
    hold = Transfer(id=payment_id.int, debit_account_id=wallet.id.int, credit_account_id=desk.id.int, amount=amount,
                    ledger=ledger_of(wallet.currency), code=PAYMENT, flags=frozenset({"pending"}),
                    timeout=HOLD_SECONDS, reference=f"pay {programme}")  # fmt: skip
    result = submit(session, [hold], actor=actor, purpose="payment", now=now)
    return _answer(payment_id, result.results[0])


def _own_payment(session: Session, actor: Actor, payment_id: uuid.UUID) -> dict[str, Any]:
    found = ledger.get_transfer(session, payment_id)
    if found is None or found["code"] != PAYMENT:
        raise NotFound(f"no payment {payment_id}", code="payment_not_found")
    if found["credit_account_id"] != merchant_account(actor, found["currency"]).id:
        raise NotFound(f"no payment {payment_id}", code="payment_not_found")  # another merchant's: not found
    return found


def confirm(session: Session, *, actor: Actor, payment_id: uuid.UUID, now: datetime) -> dict[str, Any]:
    """Post a reserved payment (the goods were handed over); a retry is `exists`."""
    _own_payment(session, actor, payment_id)
    post = Transfer(id=derived_id("confirm", str(payment_id)).int, pending_id=payment_id.int,
                    flags=frozenset({"post_pending_transfer"}))  # fmt: skip
    return _answer(payment_id, submit(session, [post], actor=actor, purpose="payment", now=now).results[0])


def cancel(session: Session, *, actor: Actor, payment_id: uuid.UUID, now: datetime) -> dict[str, Any]:
    """Void a reserved payment: the money goes back to the wallet at once."""
    _own_payment(session, actor, payment_id)
    void = Transfer(id=derived_id("cancel", str(payment_id)).int, pending_id=payment_id.int,
                    flags=frozenset({"void_pending_transfer"}))  # fmt: skip
    return _answer(payment_id, submit(session, [void], actor=actor, purpose="payment", now=now).results[0])


def refund(session: Session, *, actor: Actor, payment_id: uuid.UUID, amount: int, reference: str,
           now: datetime) -> dict[str, Any]:  # fmt: skip
    """Give part or all of a confirmed payment back to the wallet it came from; one refund per reference."""
    paid = _own_payment(session, actor, payment_id)
    if not reference.strip() or len(reference) > 48:
        raise AppError(message="a refund needs a reference of 1 to 48 characters", code="refund_reference_required",
                       status=422)  # fmt: skip
    if amount > paid["amount"]:
        raise AppError(message=f"a refund of {amount} is more than the payment of {paid['amount']}",
                       code="refund_exceeds_payment", status=422)  # fmt: skip
    back = Transfer(id=derived_id("refund", str(payment_id), reference).int,
                    debit_account_id=paid["credit_account_id"].int, credit_account_id=paid["debit_account_id"].int,
                    amount=amount, ledger=paid["ledger"], code=REFUND, reference=f"refund {reference}")  # fmt: skip
    return _answer(payment_id, submit(session, [back], actor=actor, purpose="refund", now=now).results[0])
