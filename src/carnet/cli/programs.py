"""`carnet programs ...`: define programmes, preview and run eligibility, approve, explain."""

from __future__ import annotations

import json
import secrets
import sys
import uuid
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from carnet.access import service as access_service
from carnet.cli.common import console, handle_errors, operator, settings, transaction
from carnet.cli.registry import resolve_person
from carnet.flows.publication import publish_run
from carnet.kit.actor import Actor
from carnet.kit.clock import utcnow
from carnet.kit.csvsafe import SafeDictWriter, open_private
from carnet.kit.i18n import t
from carnet.programs import service
from carnet.programs.definition import parse_definition

app = typer.Typer(help="Programmes: eligibility rules, runs, approvals and explanations.", no_args_is_help=True)

OFFICER_HELP = "the programme officer acting (an account with that role); the console operator otherwise"


def acting(session, officer: str | None, purpose: str) -> Actor:  # type: ignore[no-untyped-def]
    """The actor of a command: a named programme officer, or the console operator."""
    if officer is None:
        return operator(purpose)
    return access_service.actor_for_username(session, username=officer, role="program_officer",
                                             request_id="cli-" + secrets.token_hex(6), purpose=purpose)  # fmt: skip


def shipped_programs() -> list[Path]:
    """The example programmes that ship with Carnet."""
    return sorted((Path(service.__file__).parent / "data").glob("*.yaml"))


@app.command("apply")
@handle_errors
def apply(
    files: list[Path] = typer.Argument(None, exists=True, dir_okay=False, help="programme YAML files"),
    examples: bool = typer.Option(False, "--examples", help="the four example programmes that ship with Carnet"),
    officer: str | None = typer.Option(None, help=OFFICER_HELP),
) -> None:
    """Create or update programmes from their YAML files; each change is a new version, logged."""
    settings()
    paths = list(files or []) + (shipped_programs() if examples else [])
    definitions = [parse_definition(path.read_text("utf-8"), source=path.name) for path in paths]
    passphrase = settings().key_passphrase
    with transaction() as session:
        actor = acting(session, officer, "program_administration")
        results = [service.apply_program(session, actor=actor, definition=d, passphrase=passphrase, now=utcnow())
                   for d in definitions]  # fmt: skip
    for result in results:
        typer.echo(json.dumps(result))


@app.command("list")
@handle_errors
def list_programs(as_json: bool = typer.Option(False, "--json")) -> None:
    """The programmes, their status, version and rule."""
    settings()
    with transaction() as session:
        programs = service.list_programs(session)
    if as_json:
        typer.echo(json.dumps(programs, default=str))
        return
    table = Table(title=t("Programmes"))
    for column in (t("Code"), t("Status"), t("Version"), t("Unit"), t("Rule")):
        table.add_column(column)
    for program in programs:
        table.add_row(program["code"], program["status"], str(program["version"]), program["unit"], program["rule"])
    console.print(table)


def run_summary(run: Any) -> dict[str, Any]:
    """A run as JSON-ready data."""
    return {"run": str(run.id), "status": run.status, "cycle": run.cycle, "program_version": run.program_version,
            "units_evaluated": run.units_evaluated, "units_eligible": run.units_eligible,
            "quantity": run.total_quantity, "value": run.total_value, "currency": run.currency,
            "preview": run.preview}  # fmt: skip


def print_preview(code: str, run: Any) -> None:
    """The preview as tables and a bar chart of eligible units by region."""
    preview = run.preview
    totals = preview["totals"]
    console.print(t("{code} {cycle}: {eligible} of {evaluated} units eligible, {quantity} units of benefit, "
                    "{value} {currency} (budget {budget})", code=code, cycle=run.cycle,
                    eligible=f"{totals['units_eligible']:,}", evaluated=f"{totals['units_evaluated']:,}",
                    quantity=f"{totals['quantity']:,}", value=f"{totals['value'] / 100:,.2f}",
                    currency=totals["currency"],
                    budget="—" if totals["budget"] is None else f"{totals['budget'] / 100:,.2f}"))  # fmt: skip
    clauses = Table(title=t("By rule clause"))
    clauses.add_column(t("Clause"))
    clauses.add_column(t("Units"), justify="right")
    for clause in preview["by_clause"]:
        clauses.add_row(clause["clause"], f"{clause['units']:,}")
    console.print(clauses)
    regions = Table(title=t("Eligible by region"))
    for column in (t("Region"), t("Units"), t("Quantity"), ""):
        regions.add_column(column)
    largest = max((r["units"] for r in preview["by_region"]), default=0) or 1
    for region in preview["by_region"]:
        regions.add_row(region["region"], f"{region['units']:,}", f"{region['quantity']:,}",
                        "█" * max(1, round(30 * region["units"] / largest)))  # fmt: skip
    console.print(regions)
    if preview["change"]:
        change = preview["change"]
        console.print(t("Against {cycle}: {new} newly eligible, {gone} no longer eligible", cycle=change["cycle"],
                        new=f"{change['newly_eligible']:,}", gone=f"{change['no_longer_eligible']:,}"))  # fmt: skip
    for warning in preview["warnings"]:
        console.print(f"[bold yellow]{warning['code']}[/]: {warning['message']}")


@app.command("preview")
@handle_errors
def preview(
    code: str = typer.Argument(...),
    cycle: str = typer.Option(..., help="YYYY-MM"),
    officer: str | None = typer.Option(None, help=OFFICER_HELP),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Who the rule would select this cycle: counts by region and clause, cost against the budget, change."""
    evaluate_and_show(code, cycle, officer, as_json, persist=False)


def evaluate_and_show(code: str, cycle: str, officer: str | None, as_json: bool, *, persist: bool,
                      supersede: bool = False) -> Any:  # fmt: skip
    """Evaluate a cycle (a preview, or a proposed run) and print it; returns the run."""
    settings()
    with transaction() as session:
        run = service.evaluate_cycle(session, actor=acting(session, officer, "eligibility"), code=code, cycle=cycle,
                                     now=utcnow(), persist=persist, supersede=supersede)  # fmt: skip
        summary = run_summary(run)
    if as_json:
        typer.echo(json.dumps(summary, default=str))
    else:
        print_preview(code, run)
    return run


@app.command("run")
@handle_errors
def run_cycle(
    code: str = typer.Argument(...),
    cycle: str = typer.Option(..., help="YYYY-MM"),
    supersede: bool = typer.Option(False, help="replace the cycle's published run once this one is approved"),
    officer: str | None = typer.Option(None, help=OFFICER_HELP),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Propose the cycle's entitlements (written set-based); another officer approves them."""
    run = evaluate_and_show(code, cycle, officer, as_json, persist=True, supersede=supersede)
    if not as_json:
        console.print(t("Proposed run {run}: another programme officer approves it with "
                        "`carnet programs approve {run} --officer NAME`", run=run.id))  # fmt: skip


@app.command("approve")
@handle_errors
def approve(
    run_id: uuid.UUID = typer.Argument(...),
    supersede: bool = typer.Option(False, help="replace the cycle's published run"),
    officer: str | None = typer.Option(None, help=OFFICER_HELP),
) -> None:
    """Publish a proposed run (by another officer than its proposer)."""
    settings()
    with transaction() as session:
        run = publish_run(session, actor=acting(session, officer, "eligibility"), run_id=run_id, now=utcnow(),
                          supersede=supersede)  # fmt: skip
        out = {"run": str(run.id), "status": run.status, "supersedes": str(run.supersedes_run_id or "") or None}
    typer.echo(json.dumps(out))


@app.command("entitlements")
@handle_errors
def entitlements(
    run_id: uuid.UUID = typer.Argument(...),
    csv_path: Path | None = typer.Option(None, "--csv", dir_okay=False, help="write here (default: standard output)"),
    officer: str | None = typer.Option(None, help=OFFICER_HELP),
) -> None:
    """A run's entitlements as CSV, each unit named by the programme's pseudonym, never by a registry id."""
    config = settings()
    partial = csv_path.with_name(csv_path.name + ".partial") if csv_path else None
    count = 0
    try:
        with transaction() as session:
            rows = service.export_entitlements(session, actor=acting(session, officer, "eligibility"), run_id=run_id,
                                               passphrase=config.key_passphrase, now=utcnow())  # fmt: skip
            # Into FILE.partial (owner-only), renamed after the commit: no file without its access record.
            with open_private(partial) if partial else nullcontext(sys.stdout) as out:
                writer = SafeDictWriter(out, fieldnames=service.ENTITLEMENT_COLUMNS, lineterminator="\n")
                writer.writeheader()
                for row in rows:
                    writer.writerow(row)
                    count += 1
    except BaseException:
        if partial:
            partial.unlink(missing_ok=True)
        raise
    if partial and csv_path:
        partial.replace(csv_path)
        console.print(t("{count} entitlements written to {path}", count=f"{count:,}", path=csv_path))


@app.command("explain")
@handle_errors
def explain(
    code: str = typer.Argument(...),
    person: str = typer.Argument(..., help="person id or cédula"),
    cycle: str | None = typer.Option(None, help="YYYY-MM (default: the latest published run)"),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Why a person is or is not eligible: each clause with their values, the rule version, the run."""
    settings()
    with transaction() as session:
        actor = operator("appeal")
        person_id = resolve_person(session, person, actor=actor)
        found = service.explain_for_person(session, actor=actor, code=code, person_id=person_id, now=utcnow(),
                                           cycle=cycle)  # fmt: skip
    if as_json:
        typer.echo(json.dumps(found, default=str))
        return
    print_explanation(found)


def print_explanation(found: dict[str, Any]) -> None:
    """An explanation as a table: each clause, passed or failed, with the person's values."""
    verdict = t("eligible") if found["eligible"] else t("not eligible")
    console.print(t("{title}: {verdict} (rule version {version}, reference date {date})", title=found["title"],
                    verdict=verdict, version=found["rule_version"], date=found["reference_date"]))  # fmt: skip
    table = Table(title=found["rule"])
    for column in (t("Clause"), t("Result"), t("Values")):
        table.add_column(column)
    for clause in found["clauses"]:
        mark = {True: "✔", False: "✘", None: "?"}[clause["result"]]
        values = ", ".join(f"{k} = {v}" for k, v in clause["values"].items())
        table.add_row(clause["text"], mark, values)
    console.print(table)
    if found["entitlement"]:
        console.print(t("Entitlement in run {run}: {quantity} ({value} {currency})", run=found["run"]["id"],
                        quantity=found["entitlement"]["quantity"],
                        value=f"{found['entitlement']['value'] / 100:,.2f}",
                        currency=found["entitlement"]["currency"]))  # fmt: skip
