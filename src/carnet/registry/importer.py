"""Bulk import of census and survey files (CSV, XLSX): stream, check every row, keep the good ones.

Memory stays flat: rows are read one at a time, written in batches, and rejects go straight to disk.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import itertools
import multiprocessing
import os
from collections import Counter, deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any, BinaryIO

import yaml
from sqlalchemy.orm import Session

from carnet.audit.service import CohortDigest, record_cohort_access
from carnet.kit.actor import Actor
from carnet.kit.csvsafe import SafeCsvWriter, open_private
from carnet.kit.errors import AppError, FieldError, ProhibitedAttribute, ValidationFailed
from carnet.kit.i18n import describe
from carnet.kit.ids import uuid7
from carnet.registry.bulk import PersonBatchWriter
from carnet.registry.checking import RowChecker, check_chunk, init_worker, undecodable
from carnet.registry.dictionary import AttributeDictionary
from carnet.registry.fields import CORE_COLUMNS, REQUIRED_COLUMNS
from carnet.registry.limits import (
    ImportLimits,
    ImportTooLarge,
    cell_too_large,
    check_workbook,
    too_many_columns,
    too_many_rows,
)
from carnet.registry.models import ImportRun
from carnet.registry.policy import CATEGORY_LABELS, prohibited_category
from carnet.registry.service import current_dictionary, region_index
from carnet.registry.staging import StageLayout

REJECT_SAMPLE_SIZE = 50
# Below this size, starting worker processes costs more than it saves.
PARALLEL_MIN_BYTES = 4 << 20
FORMATS = {".csv": "csv", ".xlsx": "xlsx"}


@dataclass(frozen=True)
class ColumnMapping:
    """How a file's column headings map to registry fields, and which columns to leave out."""

    columns: dict[str, str] = field(default_factory=dict)
    ignore: frozenset[str] = frozenset()

    @classmethod
    def from_yaml(cls, text: str, *, source: str) -> ColumnMapping:
        """A mapping from YAML: `columns: {heading: field}` and `ignore: [heading, ...]`."""
        try:
            document = yaml.safe_load(text) or {}
        except yaml.YAMLError as exc:
            raise ValidationFailed(
                f"{source}: not valid YAML",
                [FieldError("(file)", "invalid_yaml", str(exc))],
                code="invalid_mapping",
            ) from exc
        if not isinstance(document, dict) or set(document) - {"columns", "ignore"}:
            raise ValidationFailed(
                f"{source}: a mapping has only `columns` and `ignore`",
                [FieldError("(file)", "invalid_mapping", "expected keys columns and ignore")],
                code="invalid_mapping",
            )
        columns = {str(k).strip(): str(v).strip() for k, v in (document.get("columns") or {}).items()}
        refuse_prohibited_mapping(columns, where=source)
        return cls(columns=columns, ignore=frozenset(str(c).strip() for c in document.get("ignore") or []))


class _CountingReader(io.RawIOBase):
    """A binary file wrapper that counts the bytes read, for the progress bar."""

    def __init__(self, raw: BinaryIO):
        self.raw = raw
        self.count = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # type: ignore[override]
        n = self.raw.readinto(buffer)
        self.count += n or 0
        return n


def default_workers() -> int:
    """Processes that check rows while this one reads and writes: the other cores, at least one."""
    return max(1, (os.cpu_count() or 2) - 1)


def file_sha256(path: Path) -> str:
    """SHA-256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


# Byte-order marks of encodings a CSV reader cannot take line by line as bytes; UTF-32 before UTF-16 (same start).
WIDE_BOMS = (
    (codecs.BOM_UTF32_LE, "UTF-32 LE"),
    (codecs.BOM_UTF32_BE, "UTF-32 BE"),
    (codecs.BOM_UTF16_LE, "UTF-16 LE"),
    (codecs.BOM_UTF16_BE, "UTF-16 BE"),
)
# Text files hold no NUL bytes; UTF-16 without a mark holds one in every other byte.
NUL_SHARE = 0.05


def detect_encoding(path: Path) -> str:
    """UTF-8 when the file's start decodes as UTF-8, else Windows-1252 (what Excel writes in Spanish).

    A UTF-16 or UTF-32 file (with a byte-order mark, or NUL-heavy without one) is refused with
    `import_encoding_unsupported` naming what was found: saving it again as UTF-8 CSV is one click,
    and reading it as if it were UTF-8 would report every heading as an unknown column.
    """
    with path.open("rb") as handle:
        head = handle.read(1 << 16)
    for mark, name in WIDE_BOMS:
        if head.startswith(mark):
            raise _unsupported_encoding(path, name)
    if head and head.count(0) / len(head) > NUL_SHARE:
        found = "UTF-16 without a byte-order mark" if _looks_utf16(head) else "binary data (NUL bytes)"
        raise _unsupported_encoding(path, found)
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        # A multi-byte character cut by the 64 KiB window is not evidence against UTF-8.
        if exc.start < len(head) - 4:
            return "cp1252"
    return "utf-8-sig"


def _looks_utf16(head: bytes) -> bool:
    even, odd = head[0::2].count(0), head[1::2].count(0)
    return max(even, odd) > len(head) // 4 and min(even, odd) < len(head) // 20


def _unsupported_encoding(path: Path, found: str) -> AppError:
    return AppError(
        f"{path.name}: the file is {found}; save it as UTF-8 CSV (or CSV for Windows) and import it again",
        code="import_encoding_unsupported",
        status=415,
        extra={"encoding": found},
    )


def _bounded_lines(text: io.TextIOBase, limit: int, name: str, first_number: int) -> Iterator[str]:
    """The file's lines, refusing one longer than `limit` characters before it is held whole."""
    number = first_number
    while line := text.readline(limit + 1):
        if len(line) > limit:
            raise ImportTooLarge(
                f"{name}: line {number:,} is longer than {limit:,} characters", code="import_row_too_long",
                limit=limit,
            )  # fmt: skip
        number += 1
        yield line


def _csv_rows(
    path: Path, progress: Callable[[int, int], None] | None, limits: ImportLimits
) -> Iterator[tuple[list[str], Iterator]]:
    total = path.stat().st_size
    encoding = detect_encoding(path)
    # csv's field limit is process-wide (other readers share it), so it is only ever raised, never lowered:
    # it stops one field from growing without end across lines; the exact cell limit is checked per row.
    if csv.field_size_limit() <= limits.max_cell_chars:
        csv.field_size_limit(limits.max_cell_chars + 1)
    with path.open("rb") as raw:
        counter = _CountingReader(raw)
        # Undecodable bytes survive as surrogates, so the row that holds them is rejected on its own.
        text = io.TextIOWrapper(
            io.BufferedReader(counter, 1 << 16), encoding=encoding, errors="surrogateescape", newline=""
        )
        first = text.readline(limits.max_heading_chars + 1)
        if not first.strip():
            raise ValidationFailed(
                "the file is empty", [FieldError("(file)", "empty_file", "no header row")], code="empty_file"
            )
        # Spreadsheets saved in Spanish locales use ';' as the separator.
        delimiter = max(",;\t", key=first.count)
        if first.count(delimiter) >= limits.max_columns:
            raise too_many_columns(f"{path.name}: the heading row", f"at least {first.count(delimiter) + 1:,}", limits)
        if len(first) > limits.max_heading_chars:
            raise ImportTooLarge(
                f"{path.name}: the heading row is longer than {limits.max_heading_chars:,} characters",
                code="import_row_too_long",
            )
        lines = _bounded_lines(text, limits.max_line_chars, path.name, 2)
        reader = csv.reader(itertools.chain([first], lines), delimiter=delimiter)
        try:
            header = next(reader)
        except csv.Error as exc:
            raise _csv_error(path, 1, exc, limits) from None

        if undecodable(header):
            raise AppError(
                f"{path.name}: the header row is not UTF-8 text; save the file as UTF-8 CSV", code="invalid_encoding"
            )

        def rows() -> Iterator[tuple[int, list[str], int, int]]:
            number = 1
            try:
                for number, row in enumerate(reader, start=2):
                    if number > limits.max_rows + 1:
                        raise too_many_rows(path.name, limits)
                    if len(row) > limits.max_columns:
                        raise too_many_columns(f"{path.name}: row {number:,}", f"{len(row):,}", limits)
                    if row and max(map(len, row)) > limits.max_cell_chars:
                        column = next(i for i, cell in enumerate(row) if len(cell) > limits.max_cell_chars)
                        raise cell_too_large(f"{path.name}: row {number:,}, column {column + 1}", limits)
                    yield number, row, counter.count, total
            except csv.Error as exc:
                raise _csv_error(path, number + 1, exc, limits) from None

        yield header, rows()


def _csv_error(path: Path, number: int, exc: csv.Error, limits: ImportLimits) -> AppError:
    if "field larger than field limit" in str(exc):
        return cell_too_large(f"{path.name}: row {number:,}", limits)
    return AppError(f"{path.name}: row {number:,} is not valid CSV ({exc})", code="invalid_csv")


def _xlsx_rows(path: Path, limits: ImportLimits) -> Iterator[tuple[list[str], Iterator]]:
    from zipfile import BadZipFile

    from openpyxl import load_workbook

    check_workbook(path, limits)
    try:
        workbook = load_workbook(path, read_only=True, data_only=True)
    except (BadZipFile, KeyError, OSError, ValueError, SyntaxError) as exc:
        # SyntaxError: the XML parsers' ParseError (malformed XML) derives from it.
        raise AppError(f"{path.name}: not a readable Excel workbook (.xlsx)", code="unreadable_file") from exc
    try:
        sheet = workbook.worksheets[0]
        where = f"{path.name}, sheet '{sheet.title}'"
        values = sheet.iter_rows(values_only=True)
        try:
            header_row = next(values, None)
        except (SyntaxError, ValueError, KeyError) as exc:
            raise AppError(f"{where}: not a readable Excel workbook (.xlsx)", code="unreadable_file") from exc
        if header_row is None:
            raise ValidationFailed(
                "the workbook is empty",
                [FieldError("(file)", "empty_file", "no header row")],
                code="empty_file",
            )
        if len(header_row) > limits.max_columns:
            raise too_many_columns(f"{where}: the heading row", f"{len(header_row):,}", limits)
        header = [_cell_text(v, where, 1, index, limits) for index, v in enumerate(header_row)]
        # The declared dimension is the file's own claim: used for progress only, never as a bound.
        total = min(sheet.max_row or 0, limits.max_rows + 1)

        def rows() -> Iterator[tuple[int, list[str], int, int]]:
            number = 1
            try:
                for number, row in enumerate(values, start=2):
                    if number > limits.max_rows + 1:
                        raise too_many_rows(where, limits)
                    if len(row) > limits.max_columns:
                        raise too_many_columns(f"{where}: row {number:,}", f"{len(row):,}", limits)
                    cells = [_cell_text(v, where, number, index, limits) for index, v in enumerate(row)]
                    yield number, cells, number, total
            except (SyntaxError, KeyError) as exc:
                raise AppError(f"{where}: row {number + 1:,} cannot be read ({exc})", code="unreadable_file") from None

        yield header, rows()
    finally:
        workbook.close()


def refuse_prohibited_mapping(columns: dict[str, str], *, where: str) -> None:
    """Refuse a mapping that would store a prohibited column under another name (`prohibited_column`).

    A mapping may leave such a column out (`ignore`), never rename it: a location-tracking column mapped
    onto `address_line` is still location tracking.
    """
    errors = []
    for heading, target in columns.items():
        for name in (heading, target):
            category = prohibited_category(name)
            if category is not None:
                label = CATEGORY_LABELS[category]
                message = (f"'{name}' is {label}, which Carnet never stores; mapping it onto '{target}' "
                           "does not change that: list the column under `ignore`")  # fmt: skip
                errors.append(FieldError(heading, "prohibited_column", message))
                break
    if errors:
        names = ", ".join(f"'{e.field}'" for e in errors)
        raise ValidationFailed(f"{where}: the mapping would store prohibited column(s) {names}", errors,
                               code="prohibited_column")  # fmt: skip


def _cell_text(value: object, where: str, number: int, index: int, limits: ImportLimits) -> str:
    if value is None:
        return ""
    text = value.isoformat()[:10] if isinstance(value, datetime | date) else str(value)
    if len(text) > limits.max_cell_chars:
        from openpyxl.utils import get_column_letter

        raise cell_too_large(f"{where}: row {number:,}, column {get_column_letter(index + 1)}", limits)
    return text


UNKNOWN_LISTED = 20


def check_heading_count(header: list[str], limits: ImportLimits, *, where: str) -> None:
    """Refuse a heading row wider than the column limit, before any work per column."""
    if len(header) > limits.max_columns:
        raise too_many_columns(f"{where}: the heading row", f"{len(header):,}", limits)


def resolve_columns(header: list[str], mapping: ColumnMapping, dictionary: AttributeDictionary) -> list[str | None]:
    """The registry field of each column (None for an ignored one); refuses prohibited and unknown ones."""
    targets: list[str | None] = []
    unknown: list[str] = []
    checked: set[str] = set()
    headings = [h.strip() for h in header]
    # Only the mapped headings present in this file: a mapping built in code never passed through from_yaml.
    refuse_prohibited_mapping({h: mapping.columns[h] for h in dict.fromkeys(headings) if h in mapping.columns
                               and h not in mapping.ignore}, where="mapping")  # fmt: skip
    for heading in headings:
        if heading in mapping.ignore or (not heading and heading not in mapping.columns):
            targets.append(None)
            continue
        target = mapping.columns.get(heading, heading)
        # Each distinct name is checked once: a file repeating one heading 10^5 times costs one check.
        for name in {heading, target} - checked:
            checked.add(name)
            category = prohibited_category(name)
            if category is not None:
                raise ProhibitedAttribute(name, CATEGORY_LABELS[category], f"column '{heading}'")
        if target not in CORE_COLUMNS and target not in dictionary.attributes:
            unknown.append(heading)
        targets.append(target)
    if unknown:
        raise ValidationFailed(
            "some columns are not registry fields or declared attributes; map them or list them under `ignore`",
            unknown_column_errors(unknown, mapping),
            code="undeclared_column",
        )
    counts = Counter(t for t in targets if t)
    duplicates = sorted(t for t, n in counts.items() if n > 1)
    missing = [c for c in REQUIRED_COLUMNS if c not in counts]
    errors = [FieldError(c, "missing_column", "required column is missing") for c in missing]
    errors += [FieldError(c, "duplicate_column", "two columns map to it") for c in duplicates[:UNKNOWN_LISTED]]
    if len(duplicates) > UNKNOWN_LISTED:
        errors.append(FieldError("(columns)", "duplicate_column", f"and {len(duplicates) - UNKNOWN_LISTED:,} more"))
    if errors:
        raise ValidationFailed("the file's columns cannot be imported", errors, code="invalid_columns")
    return targets


def unknown_column_errors(unknown: list[str], mapping: ColumnMapping) -> list[FieldError]:
    """The first few unknown columns by name, then how many more: never a line per column."""
    distinct = list(dict.fromkeys(unknown))
    errors = [
        FieldError(
            heading, "undeclared_column",
            f"'{mapping.columns.get(heading, heading)}' is neither a registry field nor a declared attribute",
        )
        for heading in distinct[:UNKNOWN_LISTED]
    ]  # fmt: skip
    if len(distinct) > UNKNOWN_LISTED:
        errors.append(
            FieldError("(columns)", "undeclared_column", f"and {len(distinct) - UNKNOWN_LISTED:,} more unknown columns")
        )
    return errors


class RejectWriter:
    """Writes rejected rows with their reasons as they are found: row, field, code, message, the row."""

    def __init__(self, path: Path, header: list[str]):
        self.path = path
        # surrogateescape writes undecodable input bytes back as they came.
        # The rows hold personal data: owner-only, and no cell a spreadsheet would run as a formula.
        self.handle = open_private(path, errors="surrogateescape")
        self.writer = SafeCsvWriter(self.handle)
        self.writer.writerow(["row_number", "field", "code", "message", *header])
        self.rows = 0
        self.sample: list[dict[str, Any]] = []
        self.counts: Counter[str] = Counter()

    def write(self, row_number: int, errors: list[FieldError], cells: list[str]) -> None:
        """Record one rejected row (one line per problem)."""
        self.rows += 1
        for error in errors:
            self.counts[error.code] += 1
            message = describe(error.code, error.message)
            self.writer.writerow([row_number, error.field, error.code, message, *cells])
            if len(self.sample) < REJECT_SAMPLE_SIZE:
                self.sample.append({"row": row_number, "field": error.field, "code": error.code, "message": message})

    def close(self) -> None:
        """Flush and close the file."""
        self.handle.close()


def run_import(
    session: Session,
    *,
    actor: Actor,
    path: Path,
    mapping: ColumnMapping | None = None,
    rejects_path: Path | None = None,
    display_name: str | None = None,
    batch_size: int = 10_000,
    today: date,
    now: datetime,
    progress: Callable[[int, int], None] | None = None,
    workers: int | None = None,
    limits: ImportLimits | None = None,
) -> ImportRun:
    """Import every good row of `path`; bad rows go to the rejects file with their reasons."""
    suffix = path.suffix.lower()
    if suffix not in FORMATS:
        raise AppError(f"{path.name}: only .csv and .xlsx files can be imported", code="unsupported_format")
    if not path.is_file():
        raise AppError(f"{path}: no such file", code="file_not_found", status=404)
    dictionary = current_dictionary(session)
    regions = region_index(session)
    mapping = mapping or ColumnMapping()
    limits = limits or ImportLimits()
    rejects_path = rejects_path or path.with_name(path.name + ".rejects.csv")
    run = ImportRun(
        id=uuid7(),
        filename=(display_name or path.name)[-300:],
        file_sha256=file_sha256(path),
        file_format=FORMATS[suffix],
        status="running",
        rows_total=0,
        rows_imported=0,
        rows_already_present=0,
        rows_rejected=0,
        households_created=0,
        rejects_path=str(rejects_path),
        actor_user_id=actor.user_id,
        actor_role=actor.role,
        region_scope=actor.region_code,
        started_at=now,
    )
    source = _csv_rows(path, progress, limits) if run.file_format == "csv" else _xlsx_rows(path, limits)
    for header, rows in source:
        check_heading_count(header, limits, where=path.name)
        targets = resolve_columns(header, mapping, dictionary)
        session.add(run)
        session.flush()
        layout = StageLayout(dictionary, sqlite=session.get_bind().dialect.name == "sqlite")
        writer = PersonBatchWriter(session, import_id=run.id, layout=layout, now=now)
        rejects = RejectWriter(rejects_path, header)
        cohort = CohortDigest()
        checker = RowChecker(tuple(targets), regions, dictionary, layout, today, actor.region_code)
        if workers is None:
            workers = default_workers() if path.stat().st_size >= PARALLEL_MIN_BYTES else 0
        try:
            _stream(run, rows, checker, writer, rejects, cohort, workers, batch_size, progress)
        except BaseException:
            # The import is rolled back; a half-written rejects file would only leave personal data behind.
            rejects.close()
            rejects_path.unlink(missing_ok=True)
            raise
        rejects.close()
        writer.close()
        run.rows_rejected = rejects.rows
        run.reject_sample = rejects.sample
        run.reject_counts = dict(rejects.counts.most_common())
        if not rejects.rows:
            rejects_path.unlink(missing_ok=True)
            run.rejects_path = None
    run.rows_already_present = run.rows_total - run.rows_imported - run.rows_rejected
    run.status = "completed"
    run.finished_at = now
    record_cohort_access(
        session,
        actor=actor,
        action="import",
        cohort_ref=f"import:{run.id}",
        cohort=cohort,
        fields=[*CORE_COLUMNS, *(f"attributes.{n}" for n in dictionary.attributes)],
        now=now,
    )
    session.flush()
    return run


CHUNK_ROWS = 2_000


def _checked_rows(rows: Iterator, checker: RowChecker, workers: int, batch_size: int) -> Iterator[tuple]:
    """(row_number, cells, draft, errors, position, total) for every non-blank row, in file order."""
    nonblank = ((n, c, p, t) for n, c, p, t in rows if any(x.strip() for x in c))
    if workers == 0:
        for number, cells, position, total in nonblank:
            draft, errors = checker.check(cells)
            yield number, cells, draft, errors, position, total
        return
    # Spawned, not forked: the parent holds open database connections that children must not share.
    context = multiprocessing.get_context("spawn")
    with context.Pool(workers, initializer=init_worker, initargs=(checker,)) as pool:
        pending: deque = deque()
        window = max(2 * workers, 2 * batch_size // CHUNK_ROWS + 1)
        chunks = _chunks(nonblank, CHUNK_ROWS)
        exhausted = False
        while pending or not exhausted:
            # A bounded window keeps memory flat however large the file; it holds about two write
            # batches, so that the workers keep checking while this process writes.
            while not exhausted and len(pending) < window:
                chunk = next(chunks, None)
                if chunk is None:
                    exhausted = True
                    break
                pending.append((chunk, pool.apply_async(check_chunk, ([(n, c) for n, c, _, _ in chunk],))))
            if not pending:
                break
            chunk, result = pending.popleft()
            for (number, cells, position, total), (draft, errors) in zip(chunk, result.get(), strict=True):
                yield number, cells, draft, errors, position, total


def _chunks(iterator: Iterator, size: int) -> Iterator[list]:
    while chunk := list(itertools.islice(iterator, size)):
        yield chunk


def _stream(run, rows, checker, writer, rejects, cohort, workers, batch_size, progress) -> None:
    batch: list[tuple[int, tuple]] = []
    cells_by_row: dict[int, list[str]] = {}
    counts = {"total": 0, "imported": 0, "households": 0}

    def flush() -> None:
        result = writer.write(batch)
        counts["imported"] += len(result.inserted_ids)
        cohort.add_bytes(result.inserted_ids)
        counts["households"] += result.households_created
        for reject in result.rejects:
            rejects.write(
                reject.row_number,
                [FieldError(reject.field, reject.code, reject.message)],
                cells_by_row[reject.row_number],
            )
        batch.clear()
        cells_by_row.clear()

    total = 0
    for row_number, cells, values, errors, position, total in _checked_rows(rows, checker, workers, batch_size):
        counts["total"] += 1
        if values is None:
            rejects.write(row_number, errors, cells)
            continue
        batch.append((row_number, values))
        cells_by_row[row_number] = cells
        if len(batch) >= batch_size:
            flush()
            if progress:
                progress(position, total)
    flush()
    run.rows_total, run.rows_imported, run.households_created = (
        counts["total"],
        counts["imported"],
        counts["households"],
    )
    if progress:
        progress(total, total)
