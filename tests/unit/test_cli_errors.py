"""The CLI boundary (cli/common.handle_errors): each kind of failure has its exit code and no traceback."""

from __future__ import annotations

import csv
import zipfile

import pytest
import typer
from PIL import Image
from typer.testing import CliRunner

from carnet.cli.common import EXIT_ERROR, EXIT_INTERNAL, EXIT_LIMIT, EXIT_UNREADABLE, handle_errors
from carnet.kit.errors import AppError
from carnet.registry.limits import ImportTooLarge

FAILURES = {
    "app_error": (AppError("refused", code="unsupported_format"), EXIT_ERROR, "unsupported_format"),
    "limit": (ImportTooLarge("too big", code="import_too_many_rows"), EXIT_LIMIT, "import_too_many_rows"),
    "unreadable_code": (AppError("damaged", code="unreadable_file"), EXIT_UNREADABLE, "unreadable_file"),
    "os_error": (PermissionError(13, "Permission denied"), EXIT_UNREADABLE, "input_unreadable"),
    "unicode": (UnicodeDecodeError("utf-8", b"\xff", 0, 1, "invalid start byte"), EXIT_UNREADABLE, "input_unreadable"),
    "csv": (csv.Error("field larger than field limit (131072)"), EXIT_UNREADABLE, "input_unreadable"),
    "zip": (zipfile.BadZipFile("File is not a zip file"), EXIT_UNREADABLE, "input_unreadable"),
    "pil_bomb": (Image.DecompressionBombError("Image size exceeds limit"), EXIT_LIMIT, "limit_exceeded"),
    "memory": (MemoryError(), EXIT_LIMIT, "limit_exceeded"),
    "bug": (RuntimeError("a bug"), EXIT_INTERNAL, "internal_error"),
}


@pytest.mark.parametrize("name", sorted(FAILURES))
def test_each_failure_has_its_exit_code_and_no_traceback(name):
    exc, status, code = FAILURES[name]
    app = typer.Typer()

    @app.command()
    @handle_errors
    def fail() -> None:
        raise exc

    result = CliRunner().invoke(app, [])
    assert result.exit_code == status
    assert f"({code})" in result.output
    assert "Traceback" not in result.output
    assert result.exit_code != 1


def test_typer_exits_pass_through():
    app = typer.Typer()

    @app.command()
    @handle_errors
    def verdict() -> None:
        raise typer.Exit(1)

    assert CliRunner().invoke(app, []).exit_code == 1
