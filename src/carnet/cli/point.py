"""`carnet point ...`: the offline point agent on the device (its own store; no server database)."""

from __future__ import annotations

import json
import time
from collections import Counter
from pathlib import Path

import typer
from rich.table import Table

from carnet.cli.common import console, handle_errors, settings
from carnet.credentials.qr_image import read_card_text
from carnet.kit.csvsafe import write_private
from carnet.kit.i18n import t
from carnet.kit.ids import uuid7
from carnet.point.agent import PointAgent
from carnet.point.client import ServerLink
from carnet.point.keys import DeviceKeys
from carnet.point.receipt import receipt_lines, receipt_pdf
from carnet.point.store import PointStore
from carnet.point.sync import enrol
from carnet.point.sync import pull as pull_manifest
from carnet.point.sync import sync as sync_events

app = typer.Typer(help="The offline distribution point agent.", no_args_is_help=True)

DATA_DIR = typer.Option(None, "--data-dir", help="this point's store (default CARNET_POINT_DIR)")


def _store(data_dir: Path | None) -> PointStore:
    return PointStore(data_dir or settings().point_dir)


def _agent(data_dir: Path | None) -> PointAgent:
    store = _store(data_dir)
    keys = DeviceKeys.open(store.identity().keys, settings().point_passphrase)
    return PointAgent(store, keys, new_id=uuid7)


def _device_now() -> int:
    # The device's own clock: kept in each event, while the server's time stays authoritative.
    return int(time.time())


@app.command("enroll")
@handle_errors
def enroll(
    url: str = typer.Argument(..., help="the Carnet server, e.g. https://carnet.example.org"),
    code: str = typer.Argument(..., help="the one-time enrolment code an officer gave you"),
    label: str | None = typer.Option(None, "--label", help="a name for this device, e.g. 'tablet 2'"),
    data_dir: Path | None = DATA_DIR,
) -> None:
    """Enrol this device at its point: make its keys, prove them with the code, keep them sealed."""
    identity, skew = enrol(_store(data_dir), ServerLink(url), code=code, passphrase=settings().point_passphrase,
                           label=label, now=_device_now())  # fmt: skip
    console.print(t("Enrolled at {point}: device {device}.", point=identity.point_name, device=identity.device_id))
    if abs(skew) > 300:
        console.print(t("Warning: this device's clock is {seconds} s off the server's.", seconds=skew), style="yellow")


@app.command("pull")
@handle_errors
def pull(
    cycle: str | None = typer.Option(None, "--cycle", help="YYYY-MM (default: the server's current month)"),
    data_dir: Path | None = DATA_DIR,
) -> None:
    """Fetch this device's newest manifest (a small delta when it can); offline, keep working with the one held."""
    agent = _agent(data_dir)
    version = pull_manifest(agent, ServerLink(agent.identity.server_url), now=_device_now(), cycle=cycle)
    if version is None:
        console.print(t("The manifest held is current."))
    else:
        console.print(t("Manifest v{version} received.", version=version))


@app.command("sync")
@handle_errors
def sync(data_dir: Path | None = DATA_DIR, as_json: bool = typer.Option(False, "--json")) -> None:
    """Send the hand-overs not yet acknowledged; each is kept until the server confirms it after its commit."""
    agent = _agent(data_dir)
    report = sync_events(agent, ServerLink(agent.identity.server_url), now=_device_now())
    if as_json:
        typer.echo(json.dumps({"sent": report.sent, "acknowledged": report.acknowledged, "refused": report.refused,
                               "waiting": report.waiting}))  # fmt: skip
    else:
        console.print(t("{sent} sent, {acknowledged} acknowledged, {waiting} still waiting.", sent=report.sent,
                        acknowledged=sum(report.acknowledged.values()), waiting=report.waiting))  # fmt: skip
        for event, code in sorted(report.refused.items()):
            console.print(t("Refused: {event}: {code}", event=event, code=code), style="yellow")
    if report.waiting:
        raise typer.Exit(1)  # like a failed check: run it again once the server has what comes first


@app.command("redeem")
@handle_errors
def redeem(
    source: str = typer.Argument(..., help="the card's QR text (CN1:…) or a photo of the card"),
    pin: str = typer.Option(..., "--pin", help="the PIN the beneficiary types"),
    programme: str | None = typer.Option(None, "--programme"),
    quantity: int | None = typer.Option(None, "--quantity", help="default: all that is left"),
    receipt: Path | None = typer.Option(None, "--receipt", help="write the printable receipt (PDF) here"),
    data_dir: Path | None = DATA_DIR,
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Check a card and its PIN offline, record the hand-over, and print the receipt; hand over only after it."""
    config = settings()
    agent = _agent(data_dir)
    text = read_card_text(source, max_bytes=config.card_image_max_bytes, max_pixels=config.card_image_max_pixels)
    done = agent.redeem(text, pin=pin, now=_device_now(), programme=programme, quantity=quantity)
    if receipt is not None:
        write_private(receipt, receipt_pdf(done, point_name=agent.identity.point_name))
    if as_json:
        typer.echo(json.dumps({"receipt": done.code, "event": str(done.event_id), "programme": done.programme,
                               "cycle": done.cycle, "quantity": done.quantity, "remaining": done.remaining,
                               "flags": list(done.flags)}))  # fmt: skip
        return
    console.print(t("Recorded: hand over {quantity} of {programme}.", quantity=done.quantity, programme=done.programme))
    for line in receipt_lines(done, point_name=agent.identity.point_name):
        console.print("  " + line)
    console.print(t("Receipt code: {code}", code=done.code))


@app.command("status")
@handle_errors
def status(data_dir: Path | None = DATA_DIR, as_json: bool = typer.Option(False, "--json")) -> None:
    """This device: its point, the manifests it holds, what waits to be synced, and whether its history is intact."""
    agent = _agent(data_dir)
    now = _device_now()
    events = agent.store.events()
    waiting = [e for e in events if e.acknowledged_at is None]
    holdings = agent.holdings()
    report = {
        "device": str(agent.identity.device_id),
        "point": str(agent.identity.point_id),
        "point_name": agent.identity.point_name,
        "server": agent.identity.server_url,
        "manifests": [
            {
                "cycle": h.cycle,
                "version": h.version,
                "valid_until": h.not_after,
                "expired": now >= h.not_after,
                "entitlements": len(h.escrow),
                "left": sum(e.remaining for e in h.escrow.values()),
            }
            for h in holdings.values()
        ],
        "events": len(events),
        "waiting_for_sync": len(waiting),
        "oldest_waiting_since": min((e.device_time for e in waiting), default=None),
        "answers": dict(Counter(e.answer for e in events if e.answer)),
        "problems": agent.check_store(),
    }
    if as_json:
        typer.echo(json.dumps(report))
    else:
        console.print(t("Point {name} ({point}), device {device}", name=report["point_name"], point=report["point"],
                        device=report["device"]))  # fmt: skip
        for m in report["manifests"]:
            line = t("cycle {cycle}: manifest v{version}, {entitlements} entitlements, {left} units left", **m)
            console.print("  " + line)
        console.print(t("{count} events, {waiting} waiting for sync", count=report["events"],
                        waiting=report["waiting_for_sync"]))  # fmt: skip
        if report["problems"]:
            for problem in report["problems"]:
                console.print(t("PROBLEM: {problem}", problem=problem), style="bold red")
        else:
            console.print(t("History intact: every event is signed and chained."))
    if report["problems"]:
        raise typer.Exit(1)


@app.command("receipts")
@handle_errors
def receipts(
    data_dir: Path | None = DATA_DIR,
    limit: int = typer.Option(50, "--limit", min=1, max=10_000),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """The latest hand-overs at this device, newest first, with their receipt codes and sync state."""
    store = _store(data_dir)
    store.identity()
    rows = store.events()[-limit:][::-1]
    if as_json:
        listed = [{"receipt": e.receipt, "seq": e.seq, "programme": e.programme, "cycle": e.cycle,
                   "quantity": e.quantity, "device_time": e.device_time, "synced": e.acknowledged_at is not None,
                   "answer": e.answer} for e in rows]  # fmt: skip
        typer.echo(json.dumps(listed))
        return
    table = Table(t("Receipt"), t("Programme"), t("Cycle"), t("Quantity"), t("Synced"))
    for e in rows:
        table.add_row(e.receipt, e.programme, e.cycle, str(e.quantity), t("yes") if e.acknowledged_at else t("no"))
    console.print(table)
