"""`carnet registry ...`: import files, look people up, check attribute dictionaries."""

from __future__ import annotations

import json
import uuid
from datetime import date, datetime
from pathlib import Path

import typer
from rich.table import Table

from carnet.access.policy import Purpose
from carnet.cli.common import console, handle_errors, operator, progress_bar, settings, transaction
from carnet.kit.actor import Actor
from carnet.kit.clock import utcnow
from carnet.kit.errors import AppError
from carnet.kit.i18n import t
from carnet.registry import service
from carnet.registry.dictionary import parse_dictionary
from carnet.registry.importer import ColumnMapping, run_import
from carnet.registry.limits import ImportLimits
from carnet.registry.models import ImportRun

app = typer.Typer(help="The registry: persons, households, imports, the attribute dictionary.", no_args_is_help=True)
attributes_app = typer.Typer(help="The attribute dictionary.", no_args_is_help=True)
app.add_typer(attributes_app, name="attributes")


def import_summary(run: ImportRun) -> dict:
    """An import's counts as a JSON-ready mapping."""
    return {
        "import_id": str(run.id),
        "file": run.filename,
        "status": run.status,
        "rows_total": run.rows_total,
        "rows_imported": run.rows_imported,
        "rows_already_present": run.rows_already_present,
        "rows_rejected": run.rows_rejected,
        "reject_counts": run.reject_counts or {},
        "households_created": run.households_created,
        "rejects_file": run.rejects_path,
    }


def reject_chart(counts: dict[str, int], width: int = 40) -> Table:
    """Problems by error code as a bar chart: what to fix first in the source file."""
    chart = Table(title=t("Problems by kind"), show_header=False, box=None, padding=(0, 1))
    largest = max(counts.values())
    for code, count in sorted(counts.items(), key=lambda item: -item[1]):
        bar = "█" * max(1, round(width * count / largest))
        chart.add_row(code, f"[red]{bar}[/]", f"{count:,}")
    return chart


def print_import(run: ImportRun) -> None:
    """The import's counts and its first rejects, as tables."""
    table = Table(title=t("Import of {file}", file=run.filename), show_header=False)
    table.add_row(t("Rows read"), f"{run.rows_total:,}")
    table.add_row(t("Imported"), f"[green]{run.rows_imported:,}[/]")
    table.add_row(t("Already present"), f"{run.rows_already_present:,}")
    table.add_row(t("Rejected"), f"[red]{run.rows_rejected:,}[/]" if run.rows_rejected else "0")
    table.add_row(t("Households created"), f"{run.households_created:,}")
    console.print(table)
    if run.reject_counts:
        console.print(reject_chart(run.reject_counts))
    if run.rows_rejected:
        rejects = Table(title=t("Rejected rows (first {n})", n=min(10, len(run.reject_sample or []))))
        for column in (t("Row"), t("Field"), t("Code"), t("Message")):
            rejects.add_column(column)
        for item in (run.reject_sample or [])[:10]:
            rejects.add_row(str(item["row"]), item["field"], item["code"], item["message"])
        console.print(rejects)
        console.print(t("All rejected rows, with their reasons: {path}", path=run.rejects_path))


@app.command("import")
@handle_errors
def import_file(
    file: Path = typer.Argument(..., exists=True, dir_okay=False, help="CSV or XLSX file"),
    mapping: Path | None = typer.Option(None, exists=True, dir_okay=False, help="YAML column mapping"),
    as_json: bool = typer.Option(False, "--json", help="print the summary as JSON"),
    batch_size: int | None = typer.Option(None, help="rows per database batch"),
) -> None:
    """Import people from a census or survey file; bad rows go to FILE.rejects.csv."""
    config = settings()
    column_mapping = ColumnMapping.from_yaml(mapping.read_text("utf-8"), source=str(mapping)) if mapping else None
    now = utcnow()
    with transaction() as session, progress_bar(t("Importing"), total=None) as update:
        run = run_import(
            session,
            actor=operator(Purpose.REGISTRATION),
            path=file,
            mapping=column_mapping,
            batch_size=batch_size or config.import_batch_size,
            today=now.date(),
            now=now,
            progress=None if as_json else update,
            limits=ImportLimits.from_settings(config),
        )
    if as_json:
        typer.echo(json.dumps(import_summary(run), indent=2))
    else:
        print_import(run)


def resolve_person(session, reference: str, *, actor: Actor, sealed_until: date | None = None) -> uuid.UUID:
    """A person id from an id or a cédula (looked up within the actor's scope, and recorded as a read)."""
    try:
        return uuid.UUID(reference)
    except ValueError:
        pass
    return service.person_id_for_national_id(
        session, actor=actor, national_id=reference, now=utcnow(), sealed_until=sealed_until
    )


@app.command("show")
@handle_errors
def show(
    reference: str = typer.Argument(..., help="person id or cédula"),
    purpose: Purpose = typer.Option(Purpose.REGISTRATION, help="why you are reading this record (it is logged)"),
    sealed_until: datetime | None = typer.Option(
        None, formats=["%Y-%m-%d"], help="for an investigation: keep who read and why sealed until this date"
    ),
    order: str | None = typer.Option(None, help="the reference of the order that authorises the seal"),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Show one person's record (the read is recorded in their access log, sealed for an investigation)."""
    settings()
    seal = sealed_until.date() if sealed_until else None
    actor = operator(purpose)
    if (seal is not None or order) and purpose != Purpose.INVESTIGATION:
        raise AppError("only an investigation, under an order (--order), may seal its reads", code="invalid_seal")
    with transaction() as session:
        if purpose == Purpose.INVESTIGATION:
            # A cédula looked up for an investigation is one of its reads: under the order, sealed with the rest.
            lookup = service.investigation_actor(actor, order=order or "")
            person_id = resolve_person(session, reference, actor=lookup, sealed_until=seal)
        else:
            person_id = resolve_person(session, reference, actor=actor)
        now = utcnow()
        if purpose == Purpose.INVESTIGATION:
            found = service.investigate_person(
                session, actor=actor, person_id=person_id, order=order or "", sealed_until=seal, now=now
            )
            view, history = found["person"], found["history"]
        else:
            view = service.get_person(session, actor=actor, person_id=person_id, now=now)
            history = service.person_history(session, actor=actor, person_id=person_id, now=now)
    if as_json:
        typer.echo(json.dumps(view, default=str, indent=2, ensure_ascii=False))
        return
    table = Table(title=f"{view['given_names']} {view['family_names']}", show_header=False)
    for key, value in view.items():
        if key != "attributes":
            table.add_row(key, "" if value is None else str(value))
    for key, value in view["attributes"].items():
        table.add_row(f"attributes.{key}", str(value))
    console.print(table)
    console.print(t("History: {n} change(s)", n=len(history)))
    for change in history:
        console.print(
            f"  v{change.version} {change.changed_at:%Y-%m-%d %H:%M} {change.operation} "
            f"({change.actor_role}) {change.reason or ''}"
        )


@app.command("search")
@handle_errors
def search(
    query: str = typer.Argument(..., help="name prefix (family names first) or cédula"),
    region: str | None = typer.Option(None, help="state code, e.g. VE-A"),
    limit: int = typer.Option(20, min=1, max=200),
    purpose: Purpose = typer.Option(Purpose.REGISTRATION, help="why you are searching (each result read is logged)"),
) -> None:
    """Find persons by name prefix or cédula."""
    settings()
    with transaction() as session:
        items, _ = service.search_persons(
            session,
            actor=operator(purpose),
            query=query,
            region_code=region,
            household_id=None,
            cursor=None,
            limit=limit,
            now=utcnow(),
        )
    table = Table(title=t("{n} person(s)", n=len(items)))
    for column in ("id", t("Names"), t("Cédula"), t("Born"), t("Region")):
        table.add_column(column)
    for item in items:
        table.add_row(
            str(item["id"]),
            f"{item['family_names']}, {item['given_names']}",
            item["national_id"] or "",
            str(item["date_of_birth"]),
            item["region_code"],
        )
    console.print(table)


@attributes_app.command("check")
@handle_errors
def check_attributes(file: Path = typer.Argument(..., exists=True, dir_okay=False)) -> None:
    """Check an attribute dictionary file (prohibited categories, types, purposes) without loading it."""
    settings()
    dictionary = parse_dictionary(file.read_text("utf-8"), source=str(file))
    console.print(
        t(
            "{file}: version {version}, {n} attributes, {p} purposes: OK",
            file=file.name,
            version=dictionary.version,
            n=len(dictionary.attributes),
            p=len(dictionary.purposes),
        )
    )
