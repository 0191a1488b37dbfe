"""`carnet distribution ...`: points, devices, escrow, cases and the reconciliation report (server side)."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from carnet.cli.common import console, handle_errors, json_default, operator, settings, transaction
from carnet.distribution import service
from carnet.kit.clock import utcnow
from carnet.kit.csvsafe import SafeDictWriter, open_private
from carnet.kit.errors import AppError
from carnet.kit.i18n import t

app = typer.Typer(help="Distribution points, their devices, escrow, cases and reconciliation.", no_args_is_help=True)
points_app = typer.Typer(help="Distribution points.", no_args_is_help=True)
devices_app = typer.Typer(help="The devices of the points.", no_args_is_help=True)
escrow_app = typer.Typer(help="Which point holds each entitlement.", no_args_is_help=True)
app.add_typer(points_app, name="points")
app.add_typer(devices_app, name="devices")
app.add_typer(escrow_app, name="escrow")
CYCLE_HELP = "the cycle, YYYY-MM"


def _print_json(value: Any) -> None:
    typer.echo(json.dumps(value, default=json_default, ensure_ascii=False))


def _programmes(values: list[str]) -> dict[str, int]:
    out = {}
    for value in values:
        code, _, cap = value.partition(":")
        if not cap.isdigit() and cap:
            raise AppError(message=f"--programme {value!r}: CODE or CODE:EXCEPTIONS", code="point_programmes_invalid")
        out[code] = int(cap or 0)
    return out


@points_app.command("add")
@handle_errors
def add_point(
    code: str = typer.Argument(..., help="a short code, e.g. depot-libertador-1"),
    name: str = typer.Option(..., "--name"),
    kind: str = typer.Option("depot", "--kind", help="depot, pharmacy, petrol_station or school"),
    municipality: str = typer.Option(..., "--municipality", help="the municipality code where it stands"),
    programme: list[str] = typer.Option(..., "--programme", help="CODE or CODE:EXCEPTIONS per cycle; repeat"),
    catchment: list[str] = typer.Option([], "--serves", help="municipality codes it serves (default: its own)"),
    operator_name: list[str] = typer.Option([], "--operator", help="agent usernames who work there"),
) -> None:
    """Open a distribution point."""
    settings()
    with transaction() as session:
        point = service.add_point(session, actor=operator("program_administration"), code=code, name=name, kind=kind,
                                  municipality=municipality, programmes=_programmes(programme), catchment=catchment,
                                  operators=operator_name, now=utcnow())  # fmt: skip
    _print_json(point)


@points_app.command("list")
@handle_errors
def list_points(as_json: bool = typer.Option(False, "--json")) -> None:
    """Every point with its programmes and catchment."""
    settings()
    with transaction() as session:
        points = service.list_points(session, actor=operator("none"))
    if as_json:
        _print_json(points)
        return
    table = Table(t("Code"), t("Name"), t("Kind"), t("Municipality"), t("Programmes"), t("Serves"))
    for p in points:
        programmes = ", ".join(f"{x['code']} (+{x['exceptions']})" for x in p["programmes"])
        table.add_row(p["code"], p["name"], p["kind"], p["municipality"], programmes, ", ".join(p["catchment"]))
    console.print(table)


@devices_app.command("code")
@handle_errors
def device_code(point: str = typer.Argument(..., help="the point's code")) -> None:
    """Print a one-time code that enrols one device at the point (valid for CARNET_ENROLMENT_CODE_TTL_SECONDS)."""
    config = settings()
    with transaction() as session:
        issued = service.issue_enrolment_code(session, actor=operator("program_administration"), point_ref=point,
                                              ttl_seconds=config.enrolment_code_ttl_seconds, now=utcnow())  # fmt: skip
    console.print(t("Enrolment code for {point}: {code} (until {until})", point=issued["point"], code=issued["code"],
                    until=issued["expires_at"].isoformat(timespec="minutes")))  # fmt: skip


@devices_app.command("list")
@handle_errors
def list_devices(point: str | None = typer.Argument(None), as_json: bool = typer.Option(False, "--json")) -> None:
    """Devices with their state and last sync."""
    settings()
    with transaction() as session:
        devices = service.list_devices(session, actor=operator("none"), point_ref=point)
    if as_json:
        _print_json(devices)
        return
    table = Table(t("Device"), t("Point"), t("Label"), t("State"), t("Events"), t("Last sync"))
    for d in devices:
        state = d["state"] + (" " + t("(forked history)") if d["compromised"] else "")
        last = d["last_sync_at"].isoformat(timespec="minutes") if d["last_sync_at"] else t("never")
        table.add_row(str(d["id"]), d["point"], d["label"] or "", state, str(d["events"]), last)
    console.print(table)


def _change(device_id: uuid.UUID, action: str, reason: str | None) -> None:
    settings()
    with transaction() as session:
        device = service.change_device(session, actor=operator("program_administration"), device_id=device_id,
                                       action=action, reason=reason, now=utcnow())  # fmt: skip
    _print_json(device)


@devices_app.command("suspend")
@handle_errors
def suspend(device_id: uuid.UUID, reason: str = typer.Option(..., "--reason")) -> None:
    """Suspend a device (lost or stolen): it can no longer pull or sync; its later events are refused and kept."""
    _change(device_id, "suspend", reason)


@devices_app.command("resume")
@handle_errors
def resume(device_id: uuid.UUID, reason: str = typer.Option(..., "--reason")) -> None:
    """Let a found device work again (not one that sent a forked history)."""
    _change(device_id, "resume", reason)


@devices_app.command("retire")
@handle_errors
def retire(device_id: uuid.UUID, reason: str = typer.Option(..., "--reason")) -> None:
    """Retire a device for good."""
    _change(device_id, "retire", reason)


@escrow_app.command("assign")
@handle_errors
def assign(cycle: str = typer.Option(..., "--cycle", help=CYCLE_HELP)) -> None:
    """Give the cycle's published entitlements that no point holds yet to their default points."""
    settings()
    with transaction() as session:
        result = service.assign_escrow(session, actor=operator("program_administration"), cycle=cycle, now=utcnow())
    _print_json(result)


@escrow_app.command("move")
@handle_errors
def move(
    escrow_id: uuid.UUID, point: str = typer.Option(..., "--to"), reason: str = typer.Option(..., "--reason")
) -> None:
    """Move one entitlement to another point (logged)."""
    settings()
    with transaction() as session:
        result = service.reassign_escrow(session, actor=operator("program_administration"), escrow_id=escrow_id,
                                         point_ref=point, reason=reason, now=utcnow())  # fmt: skip
    _print_json(result)


@app.command("conflicts")
@handle_errors
def conflicts(
    cycle: str | None = typer.Option(None, "--cycle", help=CYCLE_HELP),
    status: str | None = typer.Option("open", "--status", help="open, closed, or all"),
    point: str | None = typer.Option(None, "--point"),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Redemptions that need an officer: beyond the entitlement, revoked cards, forked chains, suspended devices."""
    settings()
    with transaction() as session:
        found = service.list_cases(session, cycle=cycle, status=None if status == "all" else status, point_ref=point,
                                   actor=operator("none"))  # fmt: skip
    if as_json:
        _print_json(found)
        return
    table = Table(t("Case"), t("Kind"), t("Point"), t("Programme"), t("Cycle"), t("Status"), t("Opened"))
    for c in found:
        table.add_row(str(c["id"]), c["kind"], c["point"], c["programme"], c["cycle"], c["status"],
                      c["opened_at"].isoformat(timespec="minutes"))  # fmt: skip
    console.print(table)
    console.print(t("{count} cases", count=len(found)))


@app.command("close-case")
@handle_errors
def close_case(case_id: uuid.UUID, resolution: str = typer.Option(..., "--resolution")) -> None:
    """Close a case with what was found and done (the redemption stays as it was)."""
    settings()
    with transaction() as session:
        closed = service.close_case(session, actor=operator("program_administration"), case_id=case_id,
                                    resolution=resolution, now=utcnow())  # fmt: skip
    _print_json(closed)


REPORT_COLUMNS = ["point", "name", "programme", "entitlements", "entitled", "events", "redeemed", "exceptions",
                  "uncounted", "open_cases"]  # fmt: skip


@app.command("report")
@handle_errors
def report(
    cycle: str = typer.Option(..., "--cycle", help=CYCLE_HELP),
    csv_path: Path | None = typer.Option(None, "--csv", dir_okay=False, help="also write the lines as CSV"),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Reconciliation per point and programme: entitled, redeemed, exceptions, cases; devices not yet synced."""
    settings()
    now = utcnow()
    with transaction() as session:
        found = service.reconciliation(session, cycle=cycle, now=now)
    if csv_path is not None:
        with open_private(csv_path) as handle:
            writer = SafeDictWriter(handle, fieldnames=REPORT_COLUMNS, extrasaction="ignore")
            writer.writeheader()
            writer.writerows(found["lines"])
    if as_json:
        _print_json(found)
        return
    console.print(report_table(found))
    for programme, count in sorted(found["unassigned"].items()):
        console.print(t("{programme}: {count} entitlements held by no point", programme=programme, count=count),
                      style="yellow")  # fmt: skip
    for device in found["devices"]:
        if device["last_sync_at"] is None:
            console.print(t("Device {device} at {point} has never synced", **device), style="yellow")
        elif device["hours_since_sync"] > 24:
            console.print(t("Device {device} at {point}: last sync {hours_since_sync} h ago", **device),
                          style="yellow")  # fmt: skip


def report_table(report: dict[str, Any]) -> Table:
    """The reconciliation of a cycle as a table with a bar per line: the share of the entitled handed over."""
    table = Table(t("Point"), t("Programme"), t("Entitled"), t("Redeemed"), t("Share"), t("Exceptions"),
                  t("Open cases"), title=t("Distribution, cycle {cycle}", cycle=report["cycle"]))  # fmt: skip
    for line in report["lines"]:
        share = line["redeemed"] / line["entitled"] if line["entitled"] else 0.0
        bar = "█" * max(1 if line["redeemed"] else 0, round(20 * min(share, 1.0)))
        table.add_row(line["point"], line["programme"], f"{line['entitled']:,}", f"{line['redeemed']:,}",
                      f"[green]{bar:<20}[/] {share:.1%}", str(line["exceptions"]),
                      f"[red]{line['open_cases']}[/]" if line["open_cases"] else "0")  # fmt: skip
    return table
