"""Money flows that span domains: fund a programme, disburse a cash cycle, settle cash handed over at points.

The ledger is a sink; this module names the accounts (a programme's fund by its code, a wallet by the
programme's sector pseudonym, a point's cash desk by its code), derives every transfer id from what it pays
so that a rerun pays nobody twice, and writes one audit entry per batch.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from itertools import islice

from sqlalchemy.orm import Session

from carnet.audit.service import record_change
from carnet.distribution import service as distribution
from carnet.kit.actor import Actor
from carnet.kit.errors import AppError
from carnet.ledger import service as ledger
from carnet.ledger.rules import Transfer
from carnet.ledger.service import AccountSpec, BatchResult, account_id, derived_id, ledger_of
from carnet.programs import service as programs

TREASURY = "treasury"  # the settlement bank account money comes from (outside the ledger)
# Transfer codes (docs/formats/ledger.md): what a transfer is for.
FUNDING, DISBURSEMENT, CASH_HANDOVER, PAYMENT, REFUND, SETTLEMENT = 1, 2, 3, 4, 5, 6


def _who(actor: Actor) -> str:
    return f"{actor.role}:{actor.user_id}" if actor.user_id else f"{actor.role}:{actor.office or ''}"


def submit(session: Session, transfers: Sequence[Transfer], *, actor: Actor, purpose: str,
           now: datetime) -> BatchResult:  # fmt: skip
    """Apply a batch in the ledger and log it: one audit entry naming the batch, its size and a digest of its ids."""
    result = ledger.create_transfers(session, transfers, submitted_by=_who(actor), now=now)
    digest = hashlib.sha256(b"".join(i.bytes for i in result.transfer_ids)).hexdigest()
    counts: dict[str, int] = {}
    for code in result.results:
        counts[code] = counts.get(code, 0) + 1
    record_change(session, actor=actor, what="ledger.batch",
                  details={"batch": str(result.batch_id), "purpose": purpose, "transfers": len(transfers),
                           "results": counts, "ids_sha256": digest}, now=now)  # fmt: skip
    return result


@dataclass
class FlowReport:
    """What a flow did: transfers applied, already there, refused (by code), and the money moved."""

    applied: int = 0
    existing: int = 0
    refused: dict[str, int] = field(default_factory=dict)
    amount: int = 0
    batches: int = 0

    def add(self, result: BatchResult, amounts: Sequence[int]) -> None:
        """Count one batch's results."""
        self.batches += 1
        for code, amount in zip(result.results, amounts, strict=True):
            if code == "ok":
                self.applied += 1
                self.amount += amount
            elif code == "exists":
                self.existing += 1
            else:
                self.refused[code] = self.refused.get(code, 0) + 1


def _currency(session: Session, code: str) -> str:
    program = programs.get_program(session, code)
    return programs.program_definition(session, program).benefit.currency


def fund_programme(session: Session, *, actor: Actor, code: str, amount: int, reference: str,
                   now: datetime) -> FlowReport:  # fmt: skip
    """Credit a programme's fund from the treasury; the same reference again funds nothing twice."""
    if not reference.strip() or len(reference) > 64:
        raise AppError(message="a funding needs a reference (1 to 64 characters), e.g. the budget order",
                       code="funding_reference_required", status=422)  # fmt: skip
    currency = _currency(session, code)
    treasury, fund = AccountSpec("settlement_bank", TREASURY, currency), AccountSpec("programme_fund", code, currency)
    ledger.open_accounts(session, [treasury, fund], now=now)
    transfer = Transfer(id=derived_id("fund", code, reference).int, debit_account_id=treasury.id.int,
                        credit_account_id=fund.id.int, amount=amount, ledger=ledger_of(currency), code=FUNDING,
                        reference=reference)  # fmt: skip
    report = FlowReport()
    report.add(submit(session, [transfer], actor=actor, purpose="fund", now=now), [amount])
    return report


def _batches(rows: Iterable[tuple[str, int]], size: int) -> Iterator[list[tuple[str, int]]]:
    iterator = iter(rows)
    while chunk := list(islice(iterator, size)):
        yield chunk


def disburse(session: Session, *, actor: Actor, run_id: uuid.UUID, passphrase: str | None, now: datetime,
             batch_size: int = ledger.MAX_BATCH) -> FlowReport:  # fmt: skip
    """Pay a published cash run into wallets, set-based: one transfer per entitlement, its id derived from the
    programme, cycle and wallet, so a rerun (or a superseding run) pays nobody twice."""
    run, program, definition, rows = programs.payable_entitlements(session, run_id=run_id, passphrase=passphrase)
    currency = definition.benefit.currency
    fund = AccountSpec("programme_fund", program.code, currency)
    ledger.open_accounts(session, [fund], now=now)
    number = ledger_of(currency)
    report = FlowReport()
    for chunk in _batches(rows, batch_size):
        wallets = [AccountSpec("wallet", pseudonym, currency) for pseudonym, _ in chunk]
        ledger.open_accounts(session, wallets, now=now)
        transfers = [Transfer(id=derived_id("disburse", program.code, run.cycle, pseudonym).int,
                              debit_account_id=fund.id.int, credit_account_id=wallet.id.int, amount=value,
                              ledger=number, code=DISBURSEMENT, reference=f"{program.code} {run.cycle}")
                     for (pseudonym, value), wallet in zip(chunk, wallets, strict=True) if value > 0]  # fmt: skip
        if transfers:
            result = submit(session, transfers, actor=actor, purpose=f"disburse {program.code} {run.cycle}", now=now)
            report.add(result, [t.amount or 0 for t in transfers])
    return report


def settle_cash_handovers(session: Session, *, actor: Actor, passphrase: str | None, now: datetime) -> FlowReport:
    """Move each counted cash hand-over synced from a point from the wallet to the point's cash desk.

    A hand-over flagged by distribution is never counted, so it posts nothing (its case is open). A transfer
    the ledger refuses (a wallet short of money) leaves the hand-over pending and is reported.
    """
    report = FlowReport()
    while pending := distribution.pending_settlements(session):
        transfers, amounts, done = [], [], []
        by_programme: dict[uuid.UUID, list] = {}
        for row in pending:
            by_programme.setdefault(row.program_id, []).append(row)
        for program_id, rows in by_programme.items():
            code = rows[0].program_code
            currency = _currency(session, code)
            names = programs.unit_pseudonyms(session, program_id=program_id, units=[(r.unit, r.unit_id) for r in rows],
                                             passphrase=passphrase)  # fmt: skip
            desk_specs = {r.point_code: AccountSpec("merchant", f"point:{r.point_code}", currency) for r in rows}
            ledger.open_accounts(session, desk_specs.values(), now=now)
            for row, pseudonym in zip(rows, names, strict=True):
                transfers.append(Transfer(
                    id=derived_id("handover", str(row.event_id)).int,
                    debit_account_id=account_id("wallet", pseudonym, currency).int,
                    credit_account_id=desk_specs[row.point_code].id.int, amount=row.value,
                    ledger=ledger_of(currency), code=CASH_HANDOVER, reference=f"point {row.point_code}"))  # fmt: skip
                amounts.append(row.value)
                done.append(row.event_id)
        result = submit(session, transfers, actor=actor, purpose="cash hand-overs", now=now)
        report.add(result, amounts)
        settled = [event for event, code in zip(done, result.results, strict=True) if code in ("ok", "exists")]
        distribution.mark_settled(session, settled)
        if len(settled) < len(done):
            break  # what the ledger refused stays pending for the next run, after the wallet is funded
    return report
