"""Bulk import of census and survey files (CSV, XLSX): stream, check every row, keep the good ones.

Memory stays flat: rows are read one at a time, written in batches, and rejects go straight to disk.
"""

from __future__ import annotations

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
from carnet.kit.errors import AppError, FieldError, ProhibitedAttribute, ValidationFailed
from carnet.kit.i18n import describe
from carnet.kit.ids import uuid7
from carnet.registry.bulk import PersonBatchWriter
from carnet.registry.checking import RowChecker, check_chunk, init_worker, undecodable
from carnet.registry.dictionary import AttributeDictionary
from carnet.registry.fields import CORE_COLUMNS, REQUIRED_COLUMNS
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


def detect_encoding(path: Path) -> str:
    """UTF-8 when the file's start decodes as UTF-8, else Windows-1252 (what Excel writes in Spanish)."""
    with path.open("rb") as handle:
        head = handle.read(1 << 16)
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        # A multi-byte character cut by the 64 KiB window is not evidence against UTF-8.
        if exc.start < len(head) - 4:
            return "cp1252"
    return "utf-8-sig"


def _csv_rows(path: Path, progress: Callable[[int, int], None] | None) -> Iterator[tuple[list[str], Iterator]]:
    total = path.stat().st_size
    encoding = detect_encoding(path)
    with path.open("rb") as raw:
        counter = _CountingReader(raw)
        # Undecodable bytes survive as surrogates, so the row that holds them is rejected on its own.
        text = io.TextIOWrapper(
            io.BufferedReader(counter, 1 << 16), encoding=encoding, errors="surrogateescape", newline=""
        )
        first = text.readline()
        if not first.strip():
            raise ValidationFailed(
                "the file is empty", [FieldError("(file)", "empty_file", "no header row")], code="empty_file"
            )
        # Spreadsheets saved in Spanish locales use ';' as the separator.
        delimiter = max(",;\t", key=first.count)
        reader = csv.reader(itertools.chain([first], text), delimiter=delimiter)
        header = next(reader)

        if undecodable(header):
            raise AppError(
                f"{path.name}: the header row is not UTF-8 text; save the file as UTF-8 CSV", code="invalid_encoding"
            )

        def rows() -> Iterator[tuple[int, list[str], int, int]]:
            for number, row in enumerate(reader, start=2):
                yield number, row, counter.count, total

        yield header, rows()


def _xlsx_rows(path: Path) -> Iterator[tuple[list[str], Iterator]]:
    from zipfile import BadZipFile

    from openpyxl import load_workbook

    try:
        workbook = load_workbook(path, read_only=True, data_only=True)
    except (BadZipFile, KeyError, OSError, ValueError) as exc:
        raise AppError(f"{path.name}: not a readable Excel workbook (.xlsx)", code="unreadable_file") from exc
    try:
        sheet = workbook.worksheets[0]
        total = sheet.max_row or 0
        values = sheet.iter_rows(values_only=True)
        header_row = next(values, None)
        if header_row is None:
            raise ValidationFailed(
                "the workbook is empty",
                [FieldError("(file)", "empty_file", "no header row")],
                code="empty_file",
            )
        header = ["" if v is None else str(v) for v in header_row]

        def rows() -> Iterator[tuple[int, list[str], int, int]]:
            for number, row in enumerate(values, start=2):
                cells = [
                    "" if v is None else (v.isoformat()[:10] if isinstance(v, datetime | date) else str(v)) for v in row
                ]
                yield number, cells, number, total

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


def resolve_columns(header: list[str], mapping: ColumnMapping, dictionary: AttributeDictionary) -> list[str | None]:
    """The registry field of each column (None for an ignored one); refuses prohibited and unknown ones."""
    targets: list[str | None] = []
    unknown: list[FieldError] = []
    headings = [h.strip() for h in header]
    # Only the mapped headings present in this file: a mapping built in code never passed through from_yaml.
    refuse_prohibited_mapping({h: mapping.columns[h] for h in dict.fromkeys(headings) if h in mapping.columns
                               and h not in mapping.ignore}, where="mapping")  # fmt: skip
    for heading in headings:
        if heading in mapping.ignore or (not heading and heading not in mapping.columns):
            targets.append(None)
            continue
        target = mapping.columns.get(heading, heading)
        for name in {heading, target}:
            category = prohibited_category(name)
            if category is not None:
                raise ProhibitedAttribute(name, CATEGORY_LABELS[category], f"column '{heading}'")
        if target not in CORE_COLUMNS and target not in dictionary.attributes:
            unknown.append(
                FieldError(
                    heading,
                    "undeclared_column",
                    f"'{target}' is neither a registry field nor a declared attribute",
                )
            )
        targets.append(target)
    if unknown:
        raise ValidationFailed(
            "some columns are not registry fields or declared attributes; map them or list them under `ignore`",
            unknown,
            code="undeclared_column",
        )
    seen = [t for t in targets if t]
    duplicates = {t for t in seen if seen.count(t) > 1}
    missing = [c for c in REQUIRED_COLUMNS if c not in seen]
    errors = [FieldError(c, "missing_column", "required column is missing") for c in missing]
    errors += [FieldError(c, "duplicate_column", "two columns map to it") for c in sorted(duplicates)]
    if errors:
        raise ValidationFailed("the file's columns cannot be imported", errors, code="invalid_columns")
    return targets


class RejectWriter:
    """Writes rejected rows with their reasons as they are found: row, field, code, message, the row."""

    def __init__(self, path: Path, header: list[str]):
        self.path = path
        # surrogateescape writes undecodable input bytes back as they came.
        self.handle = path.open("w", encoding="utf-8", errors="surrogateescape", newline="")
        self.writer = csv.writer(self.handle)
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
    source = _csv_rows(path, progress) if run.file_format == "csv" else _xlsx_rows(path)
    for header, rows in source:
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
        finally:
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
