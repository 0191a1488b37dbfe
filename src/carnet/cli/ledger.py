"""`carnet ledger ...`: fund programmes, disburse cash cycles, settle cash from points, balances and statements."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import typer
from rich.table import Table

from carnet.cli.common import console, handle_errors, json_default, operator, settings, transaction
from carnet.flows import wallets
from carnet.kit.clock import utcnow
from carnet.kit.csvsafe import SafeDictWriter, open_private
from carnet.kit.i18n import t
from carnet.ledger import service

app = typer.Typer(help="The wallet ledger: funds, wallets, transfers and statements.", no_args_is_help=True)


def _money(minor: int) -> str:
    return f"{minor / 100:,.2f}"


def _report(report: wallets.FlowReport, as_json: bool) -> None:
    if as_json:
        typer.echo(json.dumps(report.__dict__))
        return
    console.print(t("{applied} transfers applied ({amount}), {existing} already there, {refused} refused.",
                    applied=report.applied, amount=_money(report.amount), existing=report.existing,
                    refused=sum(report.refused.values())))  # fmt: skip
    for code, count in sorted(report.refused.items()):
        console.print(f"  {code}: {count}", style="yellow")


@app.command("fund")
@handle_errors
def fund(
    programme: str = typer.Argument(...),
    amount: int = typer.Argument(..., help="minor units (centavos) of the programme's currency"),
    reference: str = typer.Option(..., "--reference", help="the budget order; the same one never funds twice"),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Credit a programme's fund from the treasury."""
    settings()
    with transaction() as session:
        report = wallets.fund_programme(session, actor=operator("program_administration"), code=programme,
                                        amount=amount, reference=reference, now=utcnow())  # fmt: skip
    _report(report, as_json)


@app.command("disburse")
@handle_errors
def disburse(run_id: uuid.UUID, as_json: bool = typer.Option(False, "--json")) -> None:
    """Pay a published cash run into its wallets; running it again pays nobody twice."""
    config = settings()
    with transaction() as session:
        report = wallets.disburse(session, actor=operator("program_administration"), run_id=run_id,
                                  passphrase=config.key_passphrase, now=utcnow())  # fmt: skip
    _report(report, as_json)


@app.command("settle-cash")
@handle_errors
def settle_cash(as_json: bool = typer.Option(False, "--json")) -> None:
    """Move the cash handed over at points (synced, counted) from the wallets to the points' desks."""
    config = settings()
    with transaction() as session:
        report = wallets.settle_cash_handovers(session, actor=operator("program_administration"),
                                               passphrase=config.key_passphrase, now=utcnow())  # fmt: skip
    _report(report, as_json)


@app.command("expire")
@handle_errors
def expire() -> None:
    """Void the pending transfers whose timeout has passed."""
    settings()
    with transaction() as session:
        count = service.expire_pending(session, now=utcnow())
    console.print(t("{count} pending transfers expired.", count=count))


@app.command("balance")
@handle_errors
def balance(
    kind: str = typer.Option("programme_fund", "--kind", help="programme_fund, wallet, merchant, settlement_bank"),
    holder: str | None = typer.Option(None, "--holder"),
    currency: str = typer.Option("VES", "--currency"),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Balances of one account, or of every account of a kind; and the ledger totals, which must balance."""
    settings()
    with transaction() as session:
        accounts = ([service.find_account(session, kind=kind, holder=holder, currency=currency)] if holder
                    else service.accounts_of_kind(session, kind))  # fmt: skip
        totals = service.ledger_totals(session)
    if as_json:
        typer.echo(json.dumps({"accounts": accounts, "totals": totals}, default=json_default))
        return
    table = Table(t("Account"), t("Holder"), t("Currency"), t("Balance"), t("Available"))
    for a in accounts:
        table.add_row(str(a["id"]), a["holder"], a["currency"], _money(a["balance"]), _money(a["available"]))
    console.print(table)
    for line in totals:
        state = t("balanced") if line["balanced"] else t("NOT BALANCED")
        console.print(t("Ledger {ledger} ({currency}): {accounts} accounts, debits {debits} = credits {credits}: "
                        "{state}", ledger=line["ledger"], currency=line["currency"], accounts=line["accounts"],
                        debits=_money(line["debits_posted"]), credits=_money(line["credits_posted"]),
                        state=state))  # fmt: skip
    if not all(line["balanced"] for line in totals):
        raise typer.Exit(1)


STATEMENT_COLUMNS = ["at", "transfer", "amount", "pending", "code", "reference", "balance"]


@app.command("statement")
@handle_errors
def statement(
    account: uuid.UUID,
    csv_path: Path | None = typer.Option(None, "--csv", dir_okay=False),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """An account's transfers in order with the balance after each."""
    settings()
    with transaction() as session:
        lines = service.statement(session, account)
    if csv_path is not None:
        with open_private(csv_path) as handle:
            writer = SafeDictWriter(handle, fieldnames=STATEMENT_COLUMNS)
            writer.writeheader()
            writer.writerows({k: json_default(v) for k, v in line.items()} for line in lines)
    if as_json:
        typer.echo(json.dumps(lines, default=json_default))
        return
    table = Table(t("When"), t("Amount"), t("Reference"), t("Balance"))
    for line in lines:
        amount = _money(line["amount"]) + (" " + t("(pending)") if line["pending"] else "")
        table.add_row(f"{line['at']:%Y-%m-%d %H:%M}", amount, line["reference"], _money(line["balance"]))
    console.print(table)
