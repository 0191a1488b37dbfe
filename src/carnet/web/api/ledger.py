"""The wallet ledger over HTTP: an idempotent batch of transfers (a result per transfer), accounts, statements.

Like TigerBeetle's create_transfers, `POST /api/v1/ledger/transfers` answers 200 with one result per
transfer in input order; a transfer that is refused is not an HTTP error. Ids are chosen by the client and
persisted before it submits, so a retry after a lost answer is `exists`, never a second payment.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from carnet.access.policy import Permission, Purpose
from carnet.access.throttle import card_key
from carnet.credentials.service import policy_from
from carnet.flows import payments, wallets
from carnet.kit.actor import Actor
from carnet.kit.clock import utcnow
from carnet.ledger import service
from carnet.ledger.rules import TRANSFER_FLAGS, Transfer
from carnet.web.deps import UnitOfWorkRoute, get_session, requires
from carnet.web.guards import THROTTLED_RESPONSES, Attempts, attempts

router = APIRouter(tags=["ledger"], route_class=UnitOfWorkRoute)
manage = requires(Permission.LEDGER_MANAGE, Purpose.PROGRAM_ADMINISTRATION)
read = requires(Permission.LEDGER_READ, Purpose.NONE)
take = requires(Permission.PAYMENTS_TAKE, Purpose.NONE)


class TransferIn(BaseModel):
    """One transfer as a client submits it (ids are UUIDs: 128 bits chosen by the client)."""

    model_config = ConfigDict(extra="forbid")
    id: uuid.UUID
    debit_account_id: uuid.UUID | None = None
    credit_account_id: uuid.UUID | None = None
    amount: int | None = Field(default=None, ge=0, le=2**63 - 1, description="minor units")
    pending_id: uuid.UUID | None = None
    ledger: int | None = Field(default=None, ge=0, le=2**31 - 1)
    code: int | None = Field(default=None, ge=0, le=65535)
    flags: list[str] = Field(default_factory=list, max_length=len(TRANSFER_FLAGS))
    timeout: int = Field(default=0, ge=0, le=2**31 - 1)
    reference: str = Field(default="", max_length=64)
    currency: str | None = Field(default=None, min_length=3, max_length=3)


class TransfersIn(BaseModel):
    """A batch of transfers, applied in order; linked ones succeed or fail together."""

    model_config = ConfigDict(extra="forbid")
    transfers: list[TransferIn] = Field(min_length=1, max_length=service.MAX_BATCH)


class TransferResult(BaseModel):
    """The result of one transfer: `ok`, `exists`, or the code that refused it."""

    index: int
    id: uuid.UUID
    result: str


class BatchOut(BaseModel):
    """The batch's id, how many were applied, and a result per transfer in input order."""

    batch: uuid.UUID
    applied: int
    results: list[TransferResult]


class FundingIn(BaseModel):
    """Credit a programme's fund; the reference (a budget order) makes a retry harmless."""

    model_config = ConfigDict(extra="forbid")
    amount: int = Field(gt=0, le=2**63 - 1, description="minor units of the programme's currency")
    reference: str = Field(min_length=1, max_length=64)


class FlowOut(BaseModel):
    """What a flow did: transfers applied, already there, refused by code, and the money moved."""

    applied: int
    existing: int
    refused: dict[str, int]
    amount: int
    batches: int


class AccountOut(BaseModel):
    """An account and its balance (credits − debits posted; available after reservations)."""

    id: uuid.UUID
    kind: str
    holder: str
    currency: str
    ledger: int
    flags: list[str]
    debits_pending: int
    debits_posted: int
    credits_pending: int
    credits_posted: int
    balance: int
    available: int


class StatementLine(BaseModel):
    """One transfer of a statement with the balance after it."""

    transfer: uuid.UUID
    at: datetime
    amount: int
    pending: bool
    code: int
    reference: str
    balance: int


def _transfer(item: TransferIn) -> Transfer:
    def num(value: uuid.UUID | None) -> int | None:
        return value.int if value is not None else None

    return Transfer(id=item.id.int, debit_account_id=num(item.debit_account_id),
                    credit_account_id=num(item.credit_account_id), amount=item.amount,
                    pending_id=num(item.pending_id), ledger=item.ledger, code=item.code,
                    flags=frozenset(item.flags), timeout=item.timeout, reference=item.reference,
                    currency=item.currency)  # fmt: skip


@router.post("/api/v1/ledger/transfers", response_model=BatchOut)
def create_transfers(body: TransfersIn, actor: Actor = Depends(manage), session: Session = Depends(get_session)):
    """Apply a batch of transfers: a result per transfer; identical retries are `exists` and move nothing."""
    result = wallets.submit(session, [_transfer(t) for t in body.transfers], actor=actor, purpose="api",
                            now=utcnow())  # fmt: skip
    return {"batch": result.batch_id, "applied": result.applied,
            "results": [{"index": i, "id": t.id, "result": code}
                        for i, (t, code) in enumerate(zip(body.transfers, result.results, strict=True))]}  # fmt: skip


@router.get("/api/v1/ledger/accounts/{account_id}", response_model=AccountOut)
def account(account_id: uuid.UUID, actor: Actor = Depends(read), session: Session = Depends(get_session)):
    """One account and its balance."""
    return service.get_account(session, account_id)


@router.get("/api/v1/ledger/accounts/{account_id}/statement", response_model=list[StatementLine])
def statement(account_id: uuid.UUID, limit: int = Query(1000, ge=1, le=10_000), actor: Actor = Depends(read),
              session: Session = Depends(get_session)):  # fmt: skip
    """An account's transfers in order, each with the balance after it."""
    return service.statement(session, account_id, limit=limit)


@router.get("/api/v1/ledger/totals")
def totals(actor: Actor = Depends(read), session: Session = Depends(get_session)) -> list[dict[str, Any]]:
    """Per ledger: the sums of debits and credits over every account (they must be equal)."""
    return service.ledger_totals(session)


@router.post("/api/v1/programs/{code}/funding", response_model=FlowOut)
def fund(code: str, body: FundingIn, actor: Actor = Depends(manage), session: Session = Depends(get_session)):
    """Credit a programme's fund from the treasury (the same reference funds nothing twice)."""
    return wallets.fund_programme(session, actor=actor, code=code, amount=body.amount, reference=body.reference,
                                  now=utcnow()).__dict__  # fmt: skip


@router.post("/api/v1/runs/{run_id}/disbursement", response_model=FlowOut)
def disburse(run_id: uuid.UUID, request: Request, actor: Actor = Depends(manage),
             session: Session = Depends(get_session)):  # fmt: skip
    """Pay a published cash run into wallets; a rerun pays nobody twice."""
    return wallets.disburse(session, actor=actor, run_id=run_id, passphrase=request.app.state.settings.key_passphrase,
                            now=utcnow()).__dict__  # fmt: skip


class PaymentIn(BaseModel):
    """A payment at a shop: the id the till chose (and kept) first, the card's QR text and PIN, what to pay."""

    model_config = ConfigDict(extra="forbid")
    id: uuid.UUID
    credential: str = Field(max_length=4096)
    pin: str = Field(min_length=4, max_length=12)
    programme: str = Field(min_length=1, max_length=48)
    amount: int = Field(gt=0, le=2**63 - 1, description="minor units")


class RefundIn(BaseModel):
    """Give part or all of a payment back; one refund per reference."""

    model_config = ConfigDict(extra="forbid")
    amount: int = Field(gt=0, le=2**63 - 1)
    reference: str = Field(min_length=1, max_length=48)


class PaymentOut(BaseModel):
    """The payment's id and its ledger result (`ok`, `exists`, or why not)."""

    payment: uuid.UUID
    result: str


@router.post("/api/v1/payments", response_model=PaymentOut, responses=THROTTLED_RESPONSES)
def pay(body: PaymentIn, request: Request, actor: Actor = Depends(take), guard: Attempts = Depends(attempts),
        session: Session = Depends(get_session)):  # fmt: skip
    """Reserve the amount in the card holder's wallet (card + PIN); the shop confirms once the goods are handed over."""
    settings = request.app.state.settings
    with guard.guard(card_key(body.credential)):
        return payments.pay(session, actor=actor, payment_id=body.id, credential=body.credential, pin=body.pin,
                            programme=body.programme, amount=body.amount, policy=policy_from(settings),
                            passphrase=settings.key_passphrase, now=utcnow())  # fmt: skip


@router.post("/api/v1/payments/{payment_id}/confirmation", response_model=PaymentOut)
def confirm(payment_id: uuid.UUID, actor: Actor = Depends(take), session: Session = Depends(get_session)):
    """Post a reserved payment."""
    return payments.confirm(session, actor=actor, payment_id=payment_id, now=utcnow())


@router.post("/api/v1/payments/{payment_id}/cancellation", response_model=PaymentOut)
def cancel(payment_id: uuid.UUID, actor: Actor = Depends(take), session: Session = Depends(get_session)):
    """Void a reserved payment: the money goes back to the wallet."""
    return payments.cancel(session, actor=actor, payment_id=payment_id, now=utcnow())


@router.post("/api/v1/payments/{payment_id}/refunds", response_model=PaymentOut)
def refund(payment_id: uuid.UUID, body: RefundIn, actor: Actor = Depends(take),
           session: Session = Depends(get_session)):  # fmt: skip
    """Give part or all of a payment back to its wallet."""
    return payments.refund(session, actor=actor, payment_id=payment_id, amount=body.amount, reference=body.reference,
                           now=utcnow())  # fmt: skip
