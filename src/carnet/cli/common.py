"""What every command shares: the console, the store, error display, progress bars."""

from __future__ import annotations

import functools
import getpass
import secrets
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeRemainingColumn
from sqlalchemy.orm import Session, sessionmaker
from typer.exceptions import TyperException

from carnet.config import Settings, get_settings
from carnet.db.session import make_engine, make_session_factory, unit_of_work
from carnet.kit.actor import Actor
from carnet.kit.errors import AppError
from carnet.kit.i18n import describe, set_language, t

console = Console()
# Errors are not wrapped: a message naming a row or a file stays on one line for grep and for logs.
err_console = Console(stderr=True, soft_wrap=True)


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


# Exit codes (docs/operations.md): 1 is kept for "the card is not valid" (`carnet cards verify`) and for
# a failed check (`carnet audit verify`); an error of any kind never exits 1.
EXIT_ERROR = 2  # a refusal the command explains (an AppError): bad input, a rule, a missing record
EXIT_UNREADABLE = 3  # the input could not be read: a missing or damaged file, bad text, a broken archive
EXIT_LIMIT = 4  # the input is over a size limit (HTTP 413 refusals), an image bomb, memory exhausted
EXIT_INTERNAL = 5  # anything unexpected: a bug, reported without a traceback unless CARNET_DEBUG is set


# AppError codes that mean "the input could not be read" rather than "the input was refused".
UNREADABLE_CODES = frozenset({"unreadable_file", "invalid_csv", "input_unreadable", "not_an_image", "file_not_found"})


def as_app_error(exc: Exception) -> AppError:
    """An unexpected exception as an AppError with a code, so that it is reported like any other failure."""
    import csv
    import zipfile

    from PIL import Image

    if isinstance(exc, MemoryError):
        return AppError("the input needs more memory than this machine has", code="limit_exceeded", status=413)
    if isinstance(exc, Image.DecompressionBombError):
        return AppError(f"the image is too large to decode ({exc})", code="limit_exceeded", status=413)
    if isinstance(exc, OSError | UnicodeError | csv.Error | zipfile.BadZipFile | EOFError):
        return AppError(f"cannot read the input ({type(exc).__name__}: {exc})", code="input_unreadable")
    return AppError(f"unexpected {type(exc).__name__}: {exc}", code="internal_error", status=500)


def exit_code(exc: AppError) -> int:
    """The exit status of a command that failed with `exc`."""
    if exc.status == 413:
        return EXIT_LIMIT
    if exc.status == 500:
        return EXIT_INTERNAL
    if exc.status == 415 or exc.code in UNREADABLE_CODES:
        return EXIT_UNREADABLE
    return EXIT_ERROR


def report_error(exc: AppError) -> int:
    """Print an AppError as plain lines (code, message, each field) and give its exit code."""
    explained = describe(exc.code, exc.message)
    err_console.print(f"[bold red]{t('Error')}[/] [dim]({exc.code})[/]: {explained}", highlight=False)
    if explained != exc.message:
        # The translation is the general explanation; the message says which row, column or file.
        err_console.print(f"  {exc.message}", markup=False, highlight=False)
    for error in exc.errors:
        where = f"{error.record}: " if error.record else ""
        message = describe(error.code, error.message)
        err_console.print(f"  • {where}[bold]{error.field}[/] [dim]({error.code})[/]: {message}", highlight=False)
    return exit_code(exc)


def handle_errors(func: Callable[..., Any]) -> Callable[..., Any]:
    """Every failure a plain message and its own exit code (2 refused, 3 unreadable, 4 too large, 5 internal)."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except AppError as exc:
            raise typer.Exit(report_error(exc)) from None
        except (typer.Exit, typer.Abort, TyperException):
            raise
        except Exception as exc:
            if _debug():
                err_console.print_exception()
            raise typer.Exit(report_error(as_app_error(exc))) from None

    return wrapper


def _debug() -> bool:
    try:
        return get_settings().debug
    except Exception:
        return False


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


def json_default(value: Any) -> Any:
    """How the CLI's --json output writes what json cannot: ids as text, times in ISO 8601."""
    return str(value) if isinstance(value, uuid.UUID) else value.isoformat() if hasattr(value, "isoformat") else value
