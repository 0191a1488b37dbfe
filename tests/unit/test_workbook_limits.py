"""The workbook pre-scan (registry/limits.py) on its edges: what straddles two chunks, a zip that lies."""

from __future__ import annotations

import random
import string
import struct

import pytest

from carnet.kit.errors import AppError
from carnet.registry.limits import CHUNK, ImportLimits, check_workbook
from tests import hostile_files as hostile

CELL = b'<row><c t="inlineStr"><is><t>ok</t></is></c></row>'


def sheet_with(tmp_path, before: int, payload: bytes):
    """A workbook whose sheet holds `payload` starting `before` bytes into the part."""
    head = hostile.SHEET_START + hostile.HEADER_ROW
    padding = CELL * ((before - len(head)) // len(CELL))
    filler = b" " * (before - len(head) - len(padding))  # whitespace inside sheetData: harmless
    return hostile.write_xlsx(tmp_path / "w.xlsx", [head, padding, filler, payload, hostile.SHEET_END])


def test_a_huge_text_run_straddling_two_chunks_is_seen(tmp_path):
    rng = random.Random(3)
    text = "".join(rng.choices(string.ascii_letters, k=250_000)).encode()
    path = sheet_with(tmp_path, CHUNK - 120_000, b'<row><c t="inlineStr"><is><t>' + text + b"</t></is></c></row>")
    with pytest.raises(AppError) as caught:
        check_workbook(path, ImportLimits())
    assert caught.value.code == "import_cell_too_large"


def test_a_doctype_split_by_the_chunk_boundary_is_seen(tmp_path):
    path = sheet_with(tmp_path, CHUNK - 4, b"<!DOCTYPE x []>")
    with pytest.raises(AppError) as caught:
        check_workbook(path, ImportLimits())
    assert caught.value.code == "import_xml_entities"


def test_an_ordinary_workbook_passes(tmp_path):
    check_workbook(hostile.good_rows_xlsx(tmp_path / "w.xlsx", 20_000), ImportLimits())


def test_a_zip_that_understates_its_sizes_is_refused_not_inflated(tmp_path):
    path = hostile.zip_bomb_one_huge_cell(tmp_path / "w.xlsx", megabytes=20)
    data = bytearray(path.read_bytes())
    real = struct.pack("<I", 20 * 1024 * 1024 + len(hostile.STRINGS_START) + len(b"<si><t></t></si></sst>"))
    assert data.count(real) >= 2
    data = data.replace(real, struct.pack("<I", 1000))
    path.write_bytes(bytes(data))
    with pytest.raises(AppError) as caught:
        check_workbook(path, ImportLimits())
    # zipfile stops at the declared size and the CRC no longer matches.
    assert caught.value.code == "unreadable_file"
