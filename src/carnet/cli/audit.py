"""`carnet audit ...`: check the audit log."""

from __future__ import annotations

import json

import typer

from carnet.audit import service
from carnet.cli.common import console, err_console, handle_errors, settings, transaction
from carnet.kit.i18n import t

app = typer.Typer(help="The tamper-evident audit log.", no_args_is_help=True)


@app.command("verify")
@handle_errors
def verify(as_json: bool = typer.Option(False, "--json")) -> None:
    """Recompute every entry's leaf and the whole tree; exit 1 naming the first bad entry."""
    settings()
    with transaction() as session:
        result = service.verify_log(session)
    if as_json:
        typer.echo(json.dumps({"ok": result.ok, "size": result.size, "root": result.root.hex(),
                               "first_bad_leaf": result.first_bad_leaf, "problem": result.problem}))  # fmt: skip
    elif result.ok:
        console.print(t("Audit log verified: {n} entries, root {root}", n=f"{result.size:,}", root=result.root.hex()))
    else:
        err_console.print(t("Audit log FAILED at entry {leaf}: {problem}", leaf=result.first_bad_leaf,
                            problem=result.problem))  # fmt: skip
    if not result.ok:
        raise typer.Exit(1)


@app.command("head")
@handle_errors
def head() -> None:
    """The log's current size and root hash (signed tree heads come with the oversight key)."""
    settings()
    with transaction() as session:
        size, root = service.log_root(session)
    typer.echo(json.dumps({"size": size, "root": root.hex()}))
