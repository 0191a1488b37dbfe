"""How much an import file may hold, and the checks that refuse a hostile file before it is parsed (pure).

An XLSX workbook is a zip of XML parts: a 1 MB file can unzip to gigabytes (a zip bomb), hold one cell of
hundreds of megabytes, millions of rows, or an XML entity that expands a billion times. openpyxl would
build all of that in memory. `check_workbook` reads the zip directory and then streams every part once,
at C speed (byte counts and one regular expression per chunk), refusing what is over a limit before
openpyxl sees a byte. The row loop keeps counting as a second line of defence.
"""

from __future__ import annotations

import re
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

from carnet.kit.errors import AppError

CHUNK = 1 << 20
# Below this size a part is too small to harm, however well it compresses.
RATIO_FLOOR_BYTES = 1 << 20
# XML escapes one character in at most this many (`&quot;`), so a cell of n characters spans at most 6n bytes.
ESCAPE_WIDTH = 6
DTD_MARKERS = (b"<!DOCTYPE", b"<!ENTITY")
SHEET_PART = re.compile(r"^xl/worksheets/[^/]+\.xml$")
# The heading line of a CSV may hold this many characters per allowed column.
HEADING_CHARS = 1024


@dataclass(frozen=True)
class ImportLimits:
    """The bounds every import file is held to (from Settings)."""

    max_rows: int = 2_000_000
    max_columns: int = 500
    max_cell_chars: int = 32_768
    max_uncompressed_bytes: int = 200 << 20
    max_member_bytes: int = 150 << 20
    max_members: int = 1_000
    max_compression_ratio: int = 250

    @classmethod
    def from_settings(cls, settings: object) -> ImportLimits:
        """The limits configured in `Settings` (import_max_*)."""
        return cls(
            max_rows=settings.import_max_rows,  # type: ignore[attr-defined]
            max_columns=settings.import_max_columns,  # type: ignore[attr-defined]
            max_cell_chars=settings.import_max_cell_chars,  # type: ignore[attr-defined]
            max_uncompressed_bytes=settings.import_max_uncompressed_bytes,  # type: ignore[attr-defined]
            max_member_bytes=settings.import_max_member_bytes,  # type: ignore[attr-defined]
            max_members=settings.import_max_members,  # type: ignore[attr-defined]
            max_compression_ratio=settings.import_max_compression_ratio,  # type: ignore[attr-defined]
        )

    @property
    def max_heading_chars(self) -> int:
        """The longest heading line a CSV may have."""
        return self.max_columns * HEADING_CHARS

    @property
    def max_line_chars(self) -> int:
        """The longest physical line a CSV may have: every column at its largest, with quotes and separators."""
        return self.max_columns * (self.max_cell_chars + 3)


class ImportTooLarge(AppError):
    """An import file over one of its limits (HTTP 413, CLI exit 4)."""

    def __init__(self, message: str, *, code: str, **extra: object) -> None:
        super().__init__(message=message, code=code, status=413, extra=dict(extra))


def too_many_rows(where: str, limits: ImportLimits) -> ImportTooLarge:
    """The refusal of a file with more data rows than allowed."""
    return ImportTooLarge(
        f"{where}: more than {limits.max_rows:,} data rows; split the file", code="import_too_many_rows",
        limit=limits.max_rows,
    )  # fmt: skip


def too_many_columns(where: str, count: int | str, limits: ImportLimits) -> ImportTooLarge:
    """The refusal of a row or heading with more columns than allowed."""
    return ImportTooLarge(
        f"{where}: {count} columns, more than the {limits.max_columns:,} allowed", code="import_too_many_columns",
        limit=limits.max_columns,
    )  # fmt: skip


def cell_too_large(where: str, limits: ImportLimits) -> ImportTooLarge:
    """The refusal of a cell over the size limit."""
    return ImportTooLarge(
        f"{where}: a cell holds more than {limits.max_cell_chars:,} characters", code="import_cell_too_large",
        limit=limits.max_cell_chars,
    )  # fmt: skip


def check_workbook(path: Path, limits: ImportLimits) -> None:
    """Refuse a workbook whose zip or XML is over a limit or declares entities; a readable one passes."""
    name = path.name
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise AppError(f"{name}: not a readable Excel workbook (.xlsx)", code="unreadable_file") from exc
    with archive:
        members = archive.infolist()
        if len(members) > limits.max_members:
            raise ImportTooLarge(
                f"{name}: {len(members):,} parts in the workbook, more than {limits.max_members:,}",
                code="import_too_many_members",
            )
        # The declared sizes bound what zipfile will ever inflate (it stops at file_size and checks the CRC).
        total = sum(member.file_size for member in members)
        if total > limits.max_uncompressed_bytes:
            raise ImportTooLarge(
                f"{name}: {total:,} bytes once unzipped, more than {limits.max_uncompressed_bytes:,}",
                code="import_too_large_uncompressed",
            )
        for member in members:
            if member.file_size > limits.max_member_bytes:
                raise ImportTooLarge(
                    f"{name}: part {member.filename} is {member.file_size:,} bytes once unzipped, "
                    f"more than {limits.max_member_bytes:,}",
                    code="import_member_too_large",
                )
            ratio = member.file_size / max(member.compress_size, 1)
            if member.file_size > RATIO_FLOOR_BYTES and ratio > limits.max_compression_ratio:
                raise ImportTooLarge(
                    f"{name}: part {member.filename} unzips {ratio:,.0f} times larger than it is stored "
                    f"(at most {limits.max_compression_ratio}): a zip bomb",
                    code="import_zip_bomb",
                )
        for member in members:
            if member.filename.endswith((".xml", ".rels")):
                _scan_part(archive, member, name, limits)


def _scan_part(archive: zipfile.ZipFile, member: zipfile.ZipInfo, name: str, limits: ImportLimits) -> None:
    where = f"{name}: {member.filename}"
    longest_text = limits.max_cell_chars * ESCAPE_WIDTH + 1024
    is_sheet = SHEET_PART.match(member.filename) is not None
    rows = 0
    row_cells = 0  # cells seen so far in the row that the previous chunk ended in
    carry = 0  # length of the run without '<' that ended the previous chunk
    tail = b""  # the end of the previous chunk, so a marker split across two chunks is still seen
    try:
        with archive.open(member) as part:
            while chunk := part.read(CHUNK):
                window = tail + chunk
                if any(marker in window for marker in DTD_MARKERS):
                    raise AppError(
                        f"{where}: declares an XML document type or entity, which a workbook never needs",
                        code="import_xml_entities",
                        status=422,
                    )
                first_tag = chunk.find(b"<")
                leading_run = carry + (len(chunk) if first_tag < 0 else first_tag)
                if leading_run > longest_text or _has_long_run(chunk, longest_text):
                    raise cell_too_large(where, limits)
                last_tag = chunk.rfind(b"<")
                carry = carry + len(chunk) if last_tag < 0 else len(chunk) - last_tag - 1
                if is_sheet:
                    # `<row` also starts `<rowBreaks>`/`<rowFields>`; an over-count only makes the bound stricter.
                    rows += window.count(b"<row") - tail.count(b"<row")
                    if rows > limits.max_rows + 1:
                        raise too_many_rows(where, limits)
                    row_cells = _widest_row(chunk, row_cells, where, limits)
                tail = chunk[-16:]
    except (zipfile.BadZipFile, zlib.error, EOFError) as exc:
        raise AppError(f"{where}: the workbook is damaged ({exc})", code="unreadable_file") from exc


def _widest_row(chunk: bytes, row_cells: int, where: str, limits: ImportLimits) -> int:
    """Refuse a row of more cells than columns allowed; returns the cells of the row the chunk ends in."""
    # A `<row` split across two chunks is missed here; the row loop's own column check still holds that row.
    if row_cells + chunk.count(b"<c") <= limits.max_columns:
        last_row = chunk.rfind(b"<row")
        return row_cells + chunk.count(b"<c") if last_row < 0 else chunk.count(b"<c", last_row)
    pieces = chunk.split(b"<row")
    widest = row_cells + pieces[0].count(b"<c")
    # The shortest cell, `<c/>`, is 4 bytes: a row piece of at most 4n bytes cannot hold more than n cells,
    # so only the long pieces are counted (measured with C-speed len, not a Python loop over every row).
    shortest_wide_row = 4 * limits.max_columns
    if max(map(len, pieces)) > shortest_wide_row:
        widest = max([widest, *(p.count(b"<c") for p in pieces[1:] if len(p) > shortest_wide_row)])
    if widest > limits.max_columns:
        raise too_many_columns(where, f"at least {widest:,}", limits)
    return row_cells + pieces[0].count(b"<c") if len(pieces) == 1 else pieces[-1].count(b"<c")


def _has_long_run(chunk: bytes, longest: int) -> bool:
    """Whether the chunk holds more than `longest` bytes in a row without a '<' (one huge text node)."""
    # Such a run covers at least one whole aligned block of longest/2 bytes: probe the blocks (a few per
    # chunk, each one C-speed find) and measure exactly only around a block without '<'.
    block = max(1, longest // 2)
    for start in range(0, len(chunk) - block + 1, block):
        if chunk.find(b"<", start, start + block) < 0:
            left = chunk.rfind(b"<", 0, start) + 1
            right = chunk.find(b"<", start + block)
            if (len(chunk) if right < 0 else right) - left > longest:
                return True
    return False
