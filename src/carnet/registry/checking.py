"""Checking one import row on its own (pure): shared with the worker processes that check rows.

Kept apart from the importer so that a worker process imports only what checking needs.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from carnet.kit.errors import FieldError
from carnet.registry.dictionary import AttributeDictionary
from carnet.registry.staging import StageLayout
from carnet.registry.validation import RegionIndex, validate_person


def undecodable(cells: list[str]) -> int | None:
    """The index of the first cell holding bytes that were not valid text, or None."""
    try:
        "\x1f".join(cells).encode("utf-8")
        return None
    except UnicodeEncodeError:
        for index, cell in enumerate(cells):
            try:
                cell.encode("utf-8")
            except UnicodeEncodeError:
                return index
        return None


@dataclass(frozen=True)
class RowChecker:
    """Everything needed to check one row on its own, so that worker processes can share the work."""

    targets: tuple[str | None, ...]
    regions: RegionIndex
    dictionary: AttributeDictionary
    layout: StageLayout
    today: date
    scope: str | None

    def check(self, cells: list[str]) -> tuple[tuple | None, list[FieldError]]:
        """The row's staging values, or every problem with it."""
        width = len(self.targets)
        if len(cells) != width:
            return None, [FieldError("(row)", "wrong_column_count", f"{len(cells)} values for {width} columns")]
        bad_cell = undecodable(cells)
        if bad_cell is not None:
            field_name = self.targets[bad_cell] or f"column {bad_cell + 1}"
            return None, [
                FieldError(field_name, "invalid_encoding", "holds bytes that are not text in the file's encoding")
            ]
        raw = {target: cells[i] for i, target in enumerate(self.targets) if target}
        draft, errors = validate_person(raw, regions=self.regions, dictionary=self.dictionary, today=self.today)
        if draft is None:
            return None, errors
        if self.scope is not None and draft.region_code != self.scope:
            return None, [FieldError("region_code", "outside_scope", f"your scope is {self.scope}")]
        return self.layout.values(draft), []


# Set once in each worker process by init_worker.
_worker_checker: RowChecker | None = None


def init_worker(checker: RowChecker) -> None:
    """Install the checker in a worker process."""
    global _worker_checker
    _worker_checker = checker


def check_chunk(chunk: list[tuple[int, list[str]]]) -> list[tuple[tuple | None, list[FieldError]]]:
    """Check a chunk of (row number, cells) in a worker process."""
    assert _worker_checker is not None
    return [_worker_checker.check(cells) for _, cells in chunk]
