"""What every command shares: the console, the store, error display, progress bars."""

from __future__ import annotations

import functools
import getpass
import secrets
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeRemainingColumn
from sqlalchemy.orm import Session, sessionmaker

from carnet.config import Settings, get_settings
from carnet.db.session import make_engine, make_session_factory, unit_of_work
from carnet.kit.actor import Actor
from carnet.kit.errors import AppError
from carnet.kit.i18n import describe, set_language, t

console = Console()
err_console = Console(stderr=True)


def settings() -> Settings:
    """The settings, with the CLI's language applied."""
    current = get_settings()
    set_language(current.language)
    return current


@functools.lru_cache(maxsize=4)
def _factory(url: str) -> sessionmaker[Session]:
    return make_session_factory(make_engine(url))


def session_factory() -> sessionmaker[Session]:
    """Sessions on the configured store."""
    return _factory(settings().resolved_database_url)


@contextmanager
def transaction() -> Iterator[Session]:
    """One command, one transaction."""
    with unit_of_work(session_factory()) as session:
        yield session


def operator(purpose: str) -> Actor:
    """The actor of a CLI command: the operating-system user at this machine's console."""
    return Actor(
        user_id=None,
        role="operator",
        request_id="cli-" + secrets.token_hex(6),
        purpose=purpose,
        office=f"console:{getpass.getuser()}",
    )


def handle_errors(func: Callable[..., Any]) -> Callable[..., Any]:
    """Print an AppError as a plain message with its code and exit with status 2."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except AppError as exc:
            err_console.print(f"[bold red]{t('Error')}[/] [dim]({exc.code})[/]: {describe(exc.code, exc.message)}")
            for error in exc.errors:
                where = f"{error.record}: " if error.record else ""
                message = describe(error.code, error.message)
                err_console.print(f"  • {where}[bold]{error.field}[/] [dim]({error.code})[/]: {message}")
            raise typer.Exit(2) from None

    return wrapper


@contextmanager
def progress_bar(description: str, *, total: int | None) -> Iterator[Callable[[int, int], None]]:
    """A rich progress bar on a terminal (silent otherwise); yields update(done, total)."""
    if not console.is_terminal:
        yield lambda done, total: None
        return
    columns = (TextColumn("{task.description}"), BarColumn(), TaskProgressColumn(), TimeRemainingColumn())
    with Progress(*columns, console=console, transient=False) as bar:
        task = bar.add_task(description, total=total)

        def update(done: int, total_: int) -> None:
            bar.update(task, completed=done, total=total_ or None)

        yield update
