"""A mapping cannot launder a prohibited column: mapped onto a declared field it is refused, on both databases."""

from __future__ import annotations

import csv
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from carnet.kit.errors import ProhibitedAttribute, ValidationFailed
from carnet.registry.importer import ColumnMapping, run_import
from tests.conftest import count_rows

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
TODAY = date(2026, 11, 29)
HEADER = ["given_names", "family_names", "date_of_birth", "region_code"]
ROWS = [["Ana", "Rojas", "1980-01-02", "VE-A"], ["Luis", "Salas", "1975-05-05", "VE-V"]]


def write_csv(path: Path, extra: str) -> Path:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow([*HEADER, extra])
        writer.writerows([[*row, "10.5,-66.9"] for row in ROWS])
    return path


@pytest.mark.parametrize(
    ("heading", "target"),
    [
        ("ubicación en tiempo real", "address_line"),
        ("geolocalizacion_gps", "address_line"),
        ("Rastreo", "address_line"),
        ("religião", "employment_status"),
        ("filiação partidária", "employment_status"),
        ("IMEI del teléfono", "phone"),
        ("cámara de seguridad", "address_line"),
    ],
)
class TestLaundering:
    def test_a_mapping_file_with_the_column_is_refused_when_read(self, heading, target):
        with pytest.raises(ValidationFailed) as caught:
            ColumnMapping.from_yaml(f"columns:\n  '{heading}': {target}\n", source="mapping.yaml")
        assert caught.value.code == "prohibited_column" and caught.value.status == 422
        assert [(e.field, e.code) for e in caught.value.errors] == [(heading, "prohibited_column")]
        assert target in caught.value.errors[0].message and "ignore" in caught.value.errors[0].message
        assert "mapping.yaml" in caught.value.message

    def test_a_real_import_mapping_it_onto_a_declared_field_is_refused_and_stores_nothing(
        self, session, registrar, tmp_path, heading, target
    ):
        path = write_csv(tmp_path / "people.csv", heading)
        before = {t: count_rows(session, t) for t in ("persons", "person_attributes", "import_runs")}
        with pytest.raises(ValidationFailed) as caught:
            run_import(session, actor=registrar, path=path, today=TODAY, now=NOW,
                       mapping=ColumnMapping(columns={heading: target}))  # fmt: skip
        assert caught.value.code == "prohibited_column"
        assert caught.value.errors[0].field == heading
        assert {t: count_rows(session, t) for t in before} == before

    def test_ignoring_it_imports_the_rest(self, session, registrar, tmp_path, heading, target):
        path = write_csv(tmp_path / "people.csv", heading)
        run = run_import(session, actor=registrar, path=path, today=TODAY, now=NOW,
                         mapping=ColumnMapping(ignore=frozenset({heading})))  # fmt: skip
        assert run.rows_imported == 2


def test_an_unmapped_prohibited_heading_is_still_a_prohibited_attribute(session, registrar, tmp_path):
    path = write_csv(tmp_path / "people.csv", "ubicacion_tiempo_real")
    with pytest.raises(ProhibitedAttribute) as caught:
        run_import(session, actor=registrar, path=path, today=TODAY, now=NOW)
    assert caught.value.extra["category"] == "location tracking or device identifiers"
    assert count_rows(session, "persons") == 0


def test_mapping_an_innocent_heading_onto_a_prohibited_name_is_refused(session, registrar, tmp_path):
    path = write_csv(tmp_path / "people.csv", "notas")
    with pytest.raises(ValidationFailed) as caught:
        run_import(session, actor=registrar, path=path, today=TODAY, now=NOW,
                   mapping=ColumnMapping(columns={"notas": "religion"}))  # fmt: skip
    assert caught.value.code == "prohibited_column" and "religion" in caught.value.errors[0].message
