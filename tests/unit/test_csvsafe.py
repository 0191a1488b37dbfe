"""CSV formula injection is neutralised by every writer, reversibly; private files are owner-only."""

from __future__ import annotations

import csv
import io
import os
import stat

from hypothesis import given, settings
from hypothesis import strategies as st

from carnet.kit.csvsafe import FORMULA_STARTS, SafeCsvWriter, SafeDictWriter, neutralise, open_private, restore

HOSTILE = ['=HYPERLINK("http://x","y")', "+1+1", "-2+3", "@SUM(A1)", "\tcmd", "\r=1", "'=already", "'"]
cells = st.text(alphabet=st.characters(exclude_categories=("Cs",)), max_size=20) | st.sampled_from(HOSTILE)


def written_then_read(rows: list[list[str]]) -> list[list[str]]:
    buffer = io.StringIO(newline="")
    SafeCsvWriter(buffer).writerows(rows)
    return list(csv.reader(io.StringIO(buffer.getvalue(), newline="")))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.lists(cells, min_size=1, max_size=5), min_size=1, max_size=5))
def test_no_cell_read_back_starts_a_formula_and_every_value_is_recoverable(rows):
    read = written_then_read(rows)
    assert len(read) == len(rows)
    for original, back in zip(rows, read, strict=True):
        for value, cell in zip(original, back, strict=True):
            assert not cell or cell[0] not in FORMULA_STARTS
            assert restore(cell) == value


def test_each_dangerous_start_gets_an_apostrophe():
    for value in HOSTILE:
        assert neutralise(value) == "'" + value
    assert neutralise("Ana") == "Ana" and neutralise("") == "" and neutralise(12) == 12


def test_the_dict_writer_neutralises_headings_and_values():
    buffer = io.StringIO(newline="")
    writer = SafeDictWriter(buffer, fieldnames=["=name", "phone"])
    writer.writeheader()
    writer.writerow({"=name": "@evil", "phone": "+58 414 1111111"})
    assert buffer.getvalue().splitlines() == ["'=name,phone", "'@evil,'+58 414 1111111"]


def test_private_files_are_owner_only_whatever_the_umask(tmp_path):
    previous = os.umask(0)
    try:
        fresh = tmp_path / "fresh.csv"
        with open_private(fresh) as handle:
            handle.write("x\n")
        existing = tmp_path / "existing.csv"
        existing.write_text("old")
        existing.chmod(0o666)
        with open_private(existing) as handle:
            handle.write("new\n")
    finally:
        os.umask(previous)
    assert stat.S_IMODE(fresh.stat().st_mode) == 0o600
    assert stat.S_IMODE(existing.stat().st_mode) == 0o600
    assert existing.read_text() == "new\n"
