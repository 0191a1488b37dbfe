"""`carnet backup ...`: back up the store (keys apart), check a backup, restore one into an empty store."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import typer
from rich.progress import BarColumn, Progress, TaskID, TaskProgressColumn, TextColumn

from carnet.cli.common import console, handle_errors, session_factory, settings
from carnet.flows import backup as backups
from carnet.kit.clock import utcnow
from carnet.kit.i18n import t

app = typer.Typer(help="Backups: the database, its keys kept apart, a manifest of checksums.", no_args_is_help=True)


@contextmanager
def _progress(show: bool) -> Iterator[backups.Progress]:
    """Rich progress bars, one per step, on a terminal; silent otherwise or with --json."""
    if not show or not console.is_terminal:
        yield lambda step, done, total: None
        return
    tasks: dict[str, TaskID] = {}
    with Progress(TextColumn("{task.description}"), BarColumn(), TaskProgressColumn(), console=console) as bar:

        def update(step: str, done: int, total: int) -> None:
            if step not in tasks:
                tasks[step] = bar.add_task(step, total=total or None)
            bar.update(tasks[step], completed=done, total=total or None)

        yield update


def _release_store() -> None:
    # The command's own engine must not hold the file or a connection while another process restores it.
    session_factory().kw["bind"].dispose()


def _report(report: backups.BackupReport, as_json: bool, message: str) -> None:
    if as_json:
        typer.echo(json.dumps(report.as_dict()))
        return
    head = report.manifest.get("tree_head")
    console.print(message)
    console.print(t("Database {kind}, migration {head}, {n} log entries, signed head: {signed}",
                    kind=report.manifest["database"], head=report.manifest["migration_head"],
                    n=f"{report.manifest['log_size']:,}",
                    signed=f"{head['size']:,} / {head['root'][:16]}…" if head else t("none")))  # fmt: skip


@app.command("create")
@handle_errors
def create(
    folder: Path = typer.Argument(..., file_okay=False, help="a new, empty folder for the backup"),
    keys: Path | None = typer.Option(None, dir_okay=False, help="where to write the keys part (default: in FOLDER)"),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Back up the store: the database without its private keys, the keys apart (still encrypted), a manifest."""
    config = settings()
    with _progress(not as_json) as progress:
        report = backups.create_backup(config.resolved_database_url, folder, keys_path=keys, now=utcnow(),
                                       progress=progress)  # fmt: skip
    _report(report, as_json, t("Backup written to {folder}; keep the keys part apart from it", folder=folder))


@app.command("verify")
@handle_errors
def verify(
    folder: Path = typer.Argument(..., exists=True, file_okay=False),
    keys: Path | None = typer.Option(None, exists=True, dir_okay=False, help="the keys part, if kept elsewhere"),
    scratch_url: str | None = typer.Option(
        None, help="PostgreSQL: an empty database to trial-restore into (emptied again afterwards)"
    ),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Check every part against the manifest and that the backup restores and verifies (exit 2 naming the problem)."""
    settings()
    with _progress(not as_json) as progress:
        report = backups.verify_backup(folder, keys_path=keys, scratch_url=scratch_url, progress=progress)
    restored = report.restored_size is not None
    _report(
        report,
        as_json,
        t("Backup verified: checksums match and it restores with the same signed head")
        if restored
        else t("Backup checksums match; the archive reads (give --scratch-url to trial-restore)"),
    )


@app.command("restore")
@handle_errors
def restore(
    folder: Path = typer.Argument(..., exists=True, file_okay=False),
    keys: Path | None = typer.Option(None, exists=True, dir_okay=False, help="the keys part, if kept elsewhere"),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Restore into the configured store, which must be empty; then audit verify and check the signed head."""
    config = settings()
    _release_store()
    with _progress(not as_json) as progress:
        report = backups.restore_backup(folder, config.resolved_database_url, keys_path=keys, progress=progress)
    _report(report, as_json, t("Restored and verified: the audit log and history check out, the signed head matches"))
