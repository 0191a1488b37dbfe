"""CSV that a spreadsheet opens safely: no cell can start a formula; private files readable by their owner only.

Spreadsheets run a cell that starts with `=`, `+`, `-` or `@` (and some with tab or carriage return) as a
formula: a registry value such as `=HYPERLINK(...)` written verbatim would run on the registrar's machine
(OWASP "CSV injection"). Every CSV writer in Carnet goes through `SafeCsvWriter`, which prefixes such a
cell with an apostrophe. A cell that already starts with an apostrophe gets one more, so `restore` gives
back exactly the value that was written.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Iterable
from pathlib import Path
from typing import IO, Any

FORMULA_STARTS = frozenset("=+-@\t\r")
ESCAPE = "'"


def neutralise(value: object) -> object:
    """The value as a cell no spreadsheet runs as a formula (non-text values pass through)."""
    if isinstance(value, str) and value and (value[0] in FORMULA_STARTS or value[0] == ESCAPE):
        return ESCAPE + value
    return value


def restore(cell: str) -> str:
    """The original value of a cell written by `neutralise`."""
    return cell[1:] if cell.startswith(ESCAPE) else cell


class SafeCsvWriter:
    """A csv.writer whose every text cell is neutralised."""

    def __init__(self, handle: IO[str], **options: Any):
        self._writer = csv.writer(handle, **options)

    def writerow(self, row: Iterable[object]) -> Any:
        """Write one row."""
        return self._writer.writerow([neutralise(value) for value in row])

    def writerows(self, rows: Iterable[Iterable[object]]) -> None:
        """Write many rows."""
        for row in rows:
            self.writerow(row)


class SafeDictWriter(csv.DictWriter):
    """A csv.DictWriter whose every text cell is neutralised (headings included)."""

    def writeheader(self) -> Any:
        """Write the headings."""
        return self.writer.writerow([neutralise(name) for name in self.fieldnames])

    def _dict_to_list(self, rowdict: dict) -> Any:  # type: ignore[override]
        return [neutralise(value) for value in super()._dict_to_list(rowdict)]


def open_private(path: Path, *, errors: str = "strict") -> IO[str]:
    """A text file for writing that only its owner can read (0600 whatever the umask), truncated if present."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        # O_CREAT's mode does not apply to a file that already existed; fchmod does, and ignores the umask.
        os.fchmod(descriptor, 0o600)
        return os.fdopen(descriptor, "w", encoding="utf-8", errors=errors, newline="")
    except BaseException:
        os.close(descriptor)
        raise


def write_private(path: Path, data: bytes) -> None:
    """Write `data` to a file that only its owner can read (0600 whatever the umask), replacing its content."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        os.fchmod(descriptor, 0o600)
        handle.write(data)
