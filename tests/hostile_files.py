"""Hostile import files, built small on disk: zip bombs, huge cells, millions of rows or columns, XML entities."""

from __future__ import annotations

import random
import string
import zipfile
from collections.abc import Iterable
from pathlib import Path

HEADER = "given_names,family_names,date_of_birth,region_code,national_id\n"
CONTENT_TYPES = (
    b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    b'<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    b'<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    b'<Default Extension="xml" ContentType="application/xml"/>'
    b'<Override PartName="/xl/workbook.xml" '
    b'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
    b'<Override PartName="/xl/worksheets/sheet1.xml" '
    b'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
    b'<Override PartName="/xl/sharedStrings.xml" '
    b'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/>'
    b"</Types>"
)
ROOT_RELS = (
    b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    b'<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    b'<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
    b'officeDocument" Target="xl/workbook.xml"/></Relationships>'
)
WORKBOOK = (
    b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    b'<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
    b'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
    b'<sheets><sheet name="Censo" sheetId="1" r:id="rId1"/></sheets></workbook>'
)
WORKBOOK_RELS = (
    b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    b'<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    b'<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
    b'worksheet" Target="worksheets/sheet1.xml"/>'
    b'<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
    b'sharedStrings" Target="sharedStrings.xml"/></Relationships>'
)
SHEET_START = (
    b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>'
)
SHEET_END = b"</sheetData></worksheet>"
STRINGS_START = (
    b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    b'<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
)
HEADER_ROW = (
    b'<row r="1"><c t="inlineStr"><is><t>given_names</t></is></c><c t="inlineStr"><is><t>family_names</t></is></c>'
    b'<c t="inlineStr"><is><t>date_of_birth</t></is></c><c t="inlineStr"><is><t>region_code</t></is></c></row>'
)
GOOD_ROW = (
    b'<row><c t="inlineStr"><is><t>Ana</t></is></c><c t="inlineStr"><is><t>Paz</t></is></c>'
    b'<c t="inlineStr"><is><t>1990-01-01</t></is></c><c t="inlineStr"><is><t>VE-A</t></is></c></row>'
)


def write_xlsx(path: Path, sheet: Iterable[bytes], strings: Iterable[bytes] | None = None) -> Path:
    """A workbook whose sheet and shared strings are streamed from the given chunks (deflated)."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        archive.writestr("[Content_Types].xml", CONTENT_TYPES)
        archive.writestr("_rels/.rels", ROOT_RELS)
        archive.writestr("xl/workbook.xml", WORKBOOK)
        archive.writestr("xl/_rels/workbook.xml.rels", WORKBOOK_RELS)
        with archive.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as part:
            for chunk in sheet:
                part.write(chunk)
        with archive.open("xl/sharedStrings.xml", "w", force_zip64=True) as part:
            for chunk in strings or [STRINGS_START, b"</sst>"]:
                part.write(chunk)
    return path


def repeated(piece: bytes, times: int, batch: int = 1 << 14) -> Iterable[bytes]:
    """`piece` `times` times, in chunks."""
    block = piece * batch
    full, rest = divmod(times, batch)
    for _ in range(full):
        yield block
    yield piece * rest


def zip_bomb_one_huge_cell(path: Path, megabytes: int = 250) -> Path:
    """One shared string of `megabytes` MB of one letter: a few hundred KB on disk."""
    strings = [STRINGS_START, b"<si><t>", *repeated(b"A" * 1024, megabytes * 1024, 1024), b"</t></si></sst>"]
    sheet = [SHEET_START, HEADER_ROW, b'<row><c t="s"><v>0</v></c></row>', SHEET_END]
    return write_xlsx(path, sheet, strings)


def huge_cell_low_ratio(path: Path, characters: int = 300_000) -> Path:
    """One inline cell of random letters: it compresses poorly, so only the cell-size scan can catch it."""
    rng = random.Random(7)
    text = "".join(rng.choices(string.ascii_letters, k=characters)).encode()
    cell = b'<row><c t="inlineStr"><is><t>' + text + b"</t></is></c></row>"
    return write_xlsx(path, [SHEET_START, HEADER_ROW, cell, SHEET_END])


def many_rows(path: Path, rows: int = 5_000_000) -> Path:
    """`rows` one-cell rows."""
    return write_xlsx(path, [SHEET_START, HEADER_ROW, *repeated(b"<row><c><v>1</v></c></row>", rows), SHEET_END])


def good_rows_xlsx(path: Path, rows: int) -> Path:
    """`rows` valid people rows (for a lowered row limit)."""
    return write_xlsx(path, [SHEET_START, HEADER_ROW, *repeated(GOOD_ROW, rows), SHEET_END])


def million_columns_xlsx(path: Path, columns: int = 1_000_000) -> Path:
    """A heading row of `columns` cells."""
    return write_xlsx(path, [SHEET_START, b"<row>", *repeated(b"<c><v>1</v></c>", columns), b"</row>", SHEET_END])


def billion_laughs(path: Path) -> Path:
    """sharedStrings.xml whose one string expands ten levels of ten entities (10^10 'lol')."""
    entities = [b'<!ENTITY lol "lol">']
    for level in range(1, 10):
        previous = b"lol" if level == 1 else b"lol%d" % (level - 1)
        entities.append(b'<!ENTITY lol%d "%s">' % (level, b"".join(b"&" + previous + b";" for _ in range(10))))
    doctype = b'<?xml version="1.0"?><!DOCTYPE sst [' + b"".join(entities) + b"]>"
    strings = [
        doctype,
        b'<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><si><t>&lol9;</t></si></sst>',
    ]
    sheet = [SHEET_START, HEADER_ROW, b'<row><c t="s"><v>0</v></c></row>', SHEET_END]
    return write_xlsx(path, sheet, strings)


def million_columns_csv(path: Path, columns: int = 1_000_000) -> Path:
    """A CSV heading row of `columns` unknown headings."""
    with path.open("w", encoding="utf-8") as handle:
        handle.write(",".join(f"c{i}" for i in range(columns)) + "\n")
        handle.write("x\n")
    return path


def duplicate_headings_csv(path: Path, copies: int = 100_000) -> Path:
    """A CSV whose heading row repeats one heading `copies` times."""
    with path.open("w", encoding="utf-8") as handle:
        handle.write(",".join(["given_names"] * copies) + "\n")
        handle.write("Ana\n")
    return path


def huge_field_csv(path: Path, characters: int = 200_000) -> Path:
    """A CSV whose third row holds one field of `characters` characters."""
    with path.open("w", encoding="utf-8") as handle:
        handle.write(HEADER)
        handle.write("Ana,Paz,1990-01-01,VE-A,V-2000001\n")
        handle.write('"' + "x" * characters + '",Paz,1990-01-01,VE-A,V-2000002\n')
    return path


def utf16_csv(path: Path, *, bom: bool = True) -> Path:
    """A valid CSV saved as UTF-16 (what 'Unicode text' in Excel writes)."""
    text = HEADER + "Ana,Paz,1990-01-01,VE-A,V-2000001\n"
    path.write_bytes(text.encode("utf-16") if bom else text.encode("utf-16-le"))
    return path
