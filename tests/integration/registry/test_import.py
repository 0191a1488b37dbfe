"""Bulk import: good rows kept, every bad row reported with its field, re-import a no-op."""

from __future__ import annotations

import csv
import hashlib
import uuid
from collections import Counter
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openpyxl import Workbook
from sqlalchemy import select

from carnet.audit.models import AccessRecord
from carnet.kit.actor import Actor
from carnet.kit.errors import ProhibitedAttribute, ValidationFailed
from carnet.registry import service
from carnet.registry.importer import ColumnMapping, run_import
from carnet.registry.models import Household, Person, PersonAttribute
from carnet.registry.schemas import PersonPatch
from carnet.registry.seed import COLUMNS, PopulationGenerator
from tests.conftest import count_rows

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
TODAY = date(2026, 11, 29)
HEADER = [
    "given_names",
    "family_names",
    "date_of_birth",
    "region_code",
    "national_id",
    "phone",
    "household_ref",
    "relationship",
    "monthly_income",
]
GOOD = [
    ["Ana María", "Rojas Díaz", "1980-01-02", "VE-A", "V-10000001", "0414-1111111", "H1", "jefa", "100000"],
    ["Luis", "Rojas Pérez", "02/03/2010", "Distrito Capital", "", "", "H1", "hijo", ""],
    ["Pedro José", "Salas", "1975-05-05", "VE-V", "v 10.000.002", "", "H2", "head", "0"],
    ["Carmen", "Salas Mora", "1978-07-07", "Zulia", "V-10000003", "+58 416 2222222", "H2", "esposa", "5000"],
]
BAD = [
    # (row, the field that must be named, its code)
    (["Rosa", "Pérez", "31/02/1980", "VE-A", "", "", "", "", ""], "date_of_birth", "invalid_date"),
    (["Juan", "Gil", "1970-01-01", "VE-QQ", "", "", "", "", ""], "region_code", "unknown_region"),
    (["Eva", "Luna", "1990-01-01", "VE-M", "X-1", "", "", "", ""], "national_id", "invalid_national_id"),
    (["Blas", "Paz", "1990-01-01", "VE-M", "", "123", "", "", ""], "phone", "invalid_phone"),
    (
        ["Ida", "Sol", "1990-01-01", "VE-M", "", "", "", "", "mucho"],
        "monthly_income",
        "invalid_attribute_value",
    ),
    (["", "Mar", "1990-01-01", "VE-M", "", "", "", "", ""], "given_names", "required"),
    (
        ["Otro", "Mismo", "1991-01-01", "VE-M", "V-10000001", "", "", "", ""],
        "national_id",
        "duplicate_national_id",
    ),
    (
        ["Segundo", "Jefe", "1970-01-01", "VE-A", "", "", "H1", "head", ""],
        "relationship",
        "household_has_head",
    ),
]


def write_csv(path: Path, rows: list[list[str]], header: list[str] = HEADER, delimiter: str = ",") -> Path:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, delimiter=delimiter)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def do_import(session, path: Path, actor: Actor, **kwargs):
    return run_import(session, actor=actor, path=path, today=TODAY, now=NOW, **kwargs)


def rejects_of(run) -> list[dict[str, str]]:
    if run.rejects_path is None:
        return []
    with open(run.rejects_path, encoding="utf-8", errors="surrogateescape", newline="") as handle:
        return list(csv.DictReader(handle))


class TestImportWithBadRows:
    def test_good_rows_kept_and_each_bad_row_reported(self, session, registrar, tmp_path):
        rows = GOOD[:2] + [b[0] for b in BAD[:4]] + GOOD[2:] + [b[0] for b in BAD[4:]]
        run = do_import(session, write_csv(tmp_path / "census.csv", rows), registrar, batch_size=3)
        assert (run.rows_total, run.rows_imported, run.rows_rejected, run.rows_already_present) == (
            12,
            4,
            8,
            0,
        )
        assert run.households_created == 2
        reported = {(int(r["row_number"]), r["field"], r["code"]) for r in rejects_of(run)}
        row_numbers = {id(r): i + 2 for i, r in enumerate(rows)}
        expected = {(row_numbers[id(row)], field, code) for row, field, code in BAD}
        assert reported == expected
        assert run.reject_counts == Counter(code for _, _, code in BAD)
        names = set(session.scalars(select(Person.given_names)))
        assert names == {"Ana María", "Luis", "Pedro José", "Carmen"}

    def test_rejects_file_keeps_the_original_values(self, session, registrar, tmp_path):
        run = do_import(session, write_csv(tmp_path / "c.csv", [BAD[0][0]]), registrar)
        (line,) = rejects_of(run)
        assert line["date_of_birth"] == "31/02/1980" and line["given_names"] == "Rosa"
        assert "not a date" in line["message"]

    def test_households_heads_and_attributes(self, session, registrar, tmp_path):
        do_import(session, write_csv(tmp_path / "c.csv", GOOD), registrar)
        h1 = session.scalars(select(Household).where(Household.external_ref == "H1")).one()
        head = session.get(Person, h1.head_person_id)
        assert head.given_names == "Ana María" and head.relationship == "head"
        child = session.scalars(select(Person).where(Person.given_names == "Luis")).one()
        assert child.household_id == h1.id and child.date_of_birth == date(2010, 3, 2)
        assert child.region_code == "VE-A"
        income = session.get(PersonAttribute, (head.id, "monthly_income"))
        assert income.value_int == 100000
        carmen = session.scalars(select(Person).where(Person.given_names == "Carmen")).one()
        assert carmen.phone == "+584162222222" and carmen.region_code == "VE-V"


class TestReimport:
    def test_same_file_twice_creates_nothing_new(self, session, registrar, tmp_path):
        path = write_csv(tmp_path / "c.csv", [*GOOD, BAD[0][0]])
        first = do_import(session, path, registrar)
        counts = {t: count_rows(session, t) for t in ("persons", "households", "person_attributes")}
        second = do_import(session, path, registrar)
        assert (first.rows_imported, second.rows_imported) == (4, 0)
        assert second.rows_already_present == 4 and second.rows_rejected == 1
        assert second.households_created == 0
        assert {t: count_rows(session, t) for t in counts} == counts

    def test_reimport_after_a_correction_keeps_the_record(self, session, registrar, tmp_path):
        path = write_csv(tmp_path / "c.csv", GOOD)
        do_import(session, path, registrar)
        person = session.scalars(select(Person).where(Person.national_id == "V-10000001")).one()
        person.given_names = "Ana Maria"  # corrected later by a registrar
        session.flush()
        again = do_import(session, path, registrar)
        assert again.rows_imported == 0 and again.rows_rejected == 0
        assert count_rows(session, "persons") == 4


class TestImportRecords:
    def test_one_cohort_access_record_commits_to_the_members(self, session, registrar, tmp_path):
        run = do_import(session, write_csv(tmp_path / "c.csv", GOOD), registrar)
        (record,) = session.scalars(select(AccessRecord).where(AccessRecord.cohort_ref == f"import:{run.id}")).all()
        ids = sorted(session.scalars(select(Person.id).where(Person.import_id == run.id)))
        assert record.cohort_size == 4 and record.action == "import" and record.subject_type == "cohort"
        assert record.cohort_digest == hashlib.sha256(b"".join(i.bytes for i in ids)).hexdigest()

    def test_history_starts_with_the_import(self, session, registrar, tmp_path):
        run = do_import(session, write_csv(tmp_path / "census.csv", GOOD), registrar)
        person = session.scalars(select(Person).where(Person.national_id == "V-10000003")).one()
        assert person.import_row == 5
        history = service.person_history(session, actor=registrar, person_id=person.id, now=NOW)
        (created,) = history
        assert (created.version, created.operation, created.import_id) == (1, "import", run.id)
        assert created.reason == "import census.csv" and created.actor_role == "registrar"
        service.update_person(
            session,
            actor=registrar,
            person_id=person.id,
            patch=PersonPatch(reason="moved", region_code="VE-K"),
            today=TODAY,
            now=NOW,
        )
        assert [
            c.operation for c in service.person_history(session, actor=registrar, person_id=person.id, now=NOW)
        ] == ["import", "update"]

    def test_failed_import_leaves_nothing(self, session, registrar, tmp_path):
        path = write_csv(tmp_path / "c.csv", GOOD)
        before = {t: count_rows(session, t) for t in ("persons", "access_records", "import_runs")}
        nested = session.begin_nested()
        do_import(session, path, registrar)
        nested.rollback()
        assert {t: count_rows(session, t) for t in before} == before


class TestColumns:
    @pytest.mark.parametrize("column", ["religion", "partido", "voted_2018", "huella_dactilar", "Etnia"])
    def test_prohibited_column_refuses_the_whole_file(self, session, registrar, tmp_path, column):
        path = write_csv(tmp_path / "c.csv", [[*row, "x"] for row in GOOD], header=[*HEADER, column])
        with pytest.raises(ProhibitedAttribute) as caught:
            do_import(session, path, registrar)
        assert column in caught.value.message
        assert count_rows(session, "persons") == 0

    def test_prohibited_column_can_be_left_out_by_the_mapping(self, session, registrar, tmp_path):
        path = write_csv(tmp_path / "c.csv", [[*row, "x"] for row in GOOD], header=[*HEADER, "religion"])
        run = do_import(session, path, registrar, mapping=ColumnMapping(ignore=frozenset({"religion"})))
        assert run.rows_imported == 4

    def test_unknown_and_missing_columns(self, session, registrar, tmp_path):
        with pytest.raises(ValidationFailed) as caught:
            do_import(session, write_csv(tmp_path / "a.csv", [["1"]], header=["shoe_size"]), registrar)
        assert caught.value.code == "undeclared_column"
        with pytest.raises(ValidationFailed) as caught:
            do_import(session, write_csv(tmp_path / "b.csv", [["Ana"]], header=["given_names"]), registrar)
        assert {e.field for e in caught.value.errors} == {"family_names", "date_of_birth", "region_code"}

    def test_spanish_headings_through_a_mapping_and_semicolons(self, session, registrar, tmp_path):
        header = ["Nombres", "Apellidos", "Fecha de nacimiento", "Estado", "Observaciones"]
        rows = [["Ana", "Gil", "01/01/1990", "Lara", "nada"]]
        mapping = ColumnMapping.from_yaml(
            "columns: {Nombres: given_names, Apellidos: family_names, Fecha de nacimiento: date_of_birth, "
            "Estado: region_code}\nignore: [Observaciones]\n",
            source="m.yaml",
        )
        run = do_import(session, write_csv(tmp_path / "c.csv", rows, header, delimiter=";"), registrar, mapping=mapping)
        assert run.rows_imported == 1
        assert session.scalars(select(Person.region_code)).one() == "VE-K"

    def test_wrong_column_count_is_a_reject(self, session, registrar, tmp_path):
        run = do_import(session, write_csv(tmp_path / "c.csv", [GOOD[0], ["only", "three", "cells"]]), registrar)
        assert run.rows_imported == 1 and rejects_of(run)[0]["code"] == "wrong_column_count"


class TestFormats:
    def test_xlsx_imports_like_csv(self, session, registrar, tmp_path):
        workbook = Workbook()
        sheet = workbook.active
        sheet.append(HEADER)
        for row in GOOD:
            sheet.append(row)
        sheet.append(BAD[1][0])
        path = tmp_path / "census.xlsx"
        workbook.save(path)
        run = do_import(session, path, registrar)
        assert (run.rows_imported, run.rows_rejected, run.file_format) == (4, 1, "xlsx")

    def test_windows_1252_file_from_excel_is_read(self, session, registrar, tmp_path):
        path = tmp_path / "excel.csv"
        path.write_bytes(
            ("given_names;family_names;date_of_birth;region_code\r\nJosé;Muñoz;1990-01-01;Mérida\r\n").encode("cp1252")
        )
        run = do_import(session, path, registrar)
        assert run.rows_imported == 1
        assert session.scalars(select(Person.family_names)).one() == "Muñoz"

    def test_undecodable_row_later_in_the_file_is_rejected_alone(self, session, registrar, tmp_path):
        path = tmp_path / "mixed.csv"
        good = "".join(f"Ana,Gil,1990-01-01,VE-A,V-{3000000 + i}\n" for i in range(4000)).encode()
        path.write_bytes(
            b"given_names,family_names,date_of_birth,region_code,national_id\n"
            + good
            + "Jos\xe9,A,1990-01-01,VE-A,\n".encode("latin-1")
        )
        run = do_import(session, path, registrar)
        assert (run.rows_imported, run.rows_rejected) == (4000, 1)
        (reject,) = rejects_of(run)
        assert (reject["row_number"], reject["field"], reject["code"]) == (
            "4002",
            "given_names",
            "invalid_encoding",
        )


class TestScope:
    def test_registrar_bound_to_a_region_imports_only_that_region(self, session, tmp_path):
        zulia = Actor(user_id=None, role="registrar", request_id="t", purpose="registration", region_code="VE-V")
        run = do_import(session, write_csv(tmp_path / "c.csv", GOOD), zulia)
        assert run.rows_imported == 2 and run.rows_rejected == 2
        assert {r["code"] for r in rejects_of(run)} == {"outside_scope"}


class TestSeededPopulation:
    def test_a_seeded_file_imports_whole_and_again_as_a_no_op(self, session, registrar, tmp_path):
        path = tmp_path / "seed.csv"
        with path.open("w", encoding="utf-8", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=COLUMNS)
            writer.writeheader()
            writer.writerows(PopulationGenerator(11, today=TODAY).people(1500))
        first = do_import(session, path, registrar, batch_size=400)
        assert first.rows_imported == 1500 and first.rows_rejected == 0
        heads = count_rows(session, "households", "head_person_id IS NOT NULL")
        assert heads == first.households_created
        second = do_import(session, path, registrar, batch_size=700)
        assert second.rows_imported == 0 and second.rows_already_present == 1500


NAME = st.text(alphabet="abcdefghijklmnñopqrstuvwxyzáéíóú ", min_size=1, max_size=12).filter(str.strip)


@st.composite
def import_rows(draw):
    """Rows each either valid (with a unique cédula) or broken in one known field."""
    rows, expected_good = [], 0
    for index in range(draw(st.integers(min_value=1, max_value=30))):
        good = [
            draw(NAME).title(),
            draw(NAME).title(),
            f"19{draw(st.integers(10, 99))}-0{draw(st.integers(1, 9))}-15",
            draw(st.sampled_from(["VE-A", "VE-V", "Lara", "mérida"])),
            f"V-{20_000_000 + index}",
            "",
            "",
            "",
            "",
        ]
        breakage = draw(st.sampled_from([None, None, "date_of_birth", "region_code", "national_id", "phone"]))
        if breakage == "date_of_birth":
            good[2] = draw(st.sampled_from(["", "soon", "2999-01-01", "32/01/1990"]))
        elif breakage == "region_code":
            good[3] = draw(st.sampled_from(["", "VE-99", "Atlantis"]))
        elif breakage == "national_id":
            good[4] = draw(st.sampled_from(["J-1", "V-", "123456789012"]))
        elif breakage == "phone":
            good[5] = draw(st.sampled_from(["1", "0414-12", "+1 000"]))
        else:
            expected_good += 1
        rows.append(good)
    return rows, expected_good


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=import_rows(), batch_size=st.integers(min_value=1, max_value=7))
def test_property_nothing_good_lost_every_bad_row_reported(session, registrar, tmp_path, case, batch_size):
    rows, expected_good = case
    path = write_csv(tmp_path / f"{uuid.uuid4().hex}.csv", rows)
    nested = session.begin_nested()
    try:
        run = do_import(session, path, registrar, batch_size=batch_size)
        assert run.rows_imported == expected_good
        assert run.rows_imported + run.rows_rejected + run.rows_already_present == len(rows)
        assert len({r["row_number"] for r in rejects_of(run)} if run.rejects_path else ()) == len(rows) - expected_good
        import_id = run.id if session.bind.dialect.name != "sqlite" else run.id.hex
        assert count_rows(session, "persons", "import_id = :i", i=import_id) == expected_good
    finally:
        nested.rollback()


class TestWorkerProcesses:
    def test_rows_checked_in_worker_processes_give_the_same_result(self, session, registrar, tmp_path):
        path = write_csv(tmp_path / "c.csv", GOOD + [b[0] for b in BAD[:6]] + GOOD[:1])
        run = do_import(session, path, registrar, workers=2, batch_size=2)
        assert (run.rows_imported, run.rows_rejected, run.rows_already_present) == (4, 6, 1)
        reported = sorted((int(r["row_number"]), r["code"]) for r in rejects_of(run))
        assert reported == [(6 + i, code) for i, (_, _, code) in enumerate(BAD[:6])]
        assert set(session.scalars(select(Person.given_names))) == {
            "Ana María",
            "Luis",
            "Pedro José",
            "Carmen",
        }
