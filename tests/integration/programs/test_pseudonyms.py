"""Sector keys and pseudonyms on the real database: one sealed key per programme, pseudonyms in every export."""

from __future__ import annotations

import csv
import uuid
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlalchemy import select, text

from carnet.audit.models import AccessRecord
from carnet.kit.actor import Actor
from carnet.kit.errors import AppError
from carnet.programs import service
from carnet.programs.definition import parse_definition
from carnet.programs.models import Entitlement, Program, SectorKey
from carnet.programs.pseudonym import is_pseudonym
from carnet.registry.importer import run_import
from carnet.registry.models import Household, Person
from carnet.registry.seed import COLUMNS, PopulationGenerator
from tests.secrets_plugin import known_secrets

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
EXAMPLES = Path(service.__file__).parent / "data"
PASSPHRASE = "una frase de paso larga"
WRONG = "otra frase de paso distinta"
ANA = Actor(user_id=uuid.uuid5(uuid.NAMESPACE_DNS, "ana"), role="program_officer", request_id="t",
            purpose="eligibility", office="Ministerio")  # fmt: skip
LUIS = replace(ANA, user_id=uuid.uuid5(uuid.NAMESPACE_DNS, "luis"))
# What an entitlement export carries, written out: a new column must be added here on purpose.
EXPORT_COLUMNS = ["pseudonym", "unit", "region_code", "quantity", "value", "currency", "program", "cycle", "run"]


def example(name: str, **changes):
    definition = parse_definition((EXAMPLES / f"{name}.yaml").read_text("utf-8"), source=name)
    return replace(definition, **changes)


def apply(session, name: str, passphrase: str | None = PASSPHRASE, **changes):
    return service.apply_program(session, actor=ANA, definition=example(name, **changes), passphrase=passphrase,
                                 now=NOW)  # fmt: skip


def program_id(session, code: str) -> uuid.UUID:
    return service.get_program(session, code).id


@pytest.fixture()
def population(session, registrar, tmp_path):
    path = tmp_path / "people.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(PopulationGenerator(7, today=date(2026, 11, 29)).people(300))
    run_import(session, actor=registrar, path=path, today=date(2026, 11, 29), now=NOW)
    return list(session.scalars(select(Person.id).order_by(Person.id)))


class TestSectorKeys:
    def test_a_new_programme_gets_one_sealed_key_that_is_never_stored_in_clear(self, session):
        apply(session, "food_box")
        pid = program_id(session, "food_box")
        key = service.open_sector_key(session, program_id=pid, passphrase=PASSPHRASE)
        assert len(key) == 32
        known_secrets.add(key.hex())  # and never in a log or an output of the run
        raw = session.execute(text("SELECT * FROM program_sector_keys")).mappings().all()
        assert len(raw) == 1
        row = raw[0]
        assert row["kind"] == "scrypt-aesgcm" and len(bytes(row["ciphertext"])) == 32 + 16  # key + GCM tag
        for column, value in row.items():
            stored = value if isinstance(value, bytes | memoryview) else str(value).encode()
            assert key not in bytes(stored), column
            assert key.hex().encode() not in bytes(stored).lower(), column

    def test_a_new_version_keeps_the_key_and_the_pseudonyms(self, session):
        apply(session, "food_box")
        pid = program_id(session, "food_box")
        person = uuid.uuid4()
        before = service.pseudonym_for(session, program_id=pid, person_id=person, passphrase=PASSPHRASE)
        assert apply(session, "food_box", title="Caja de alimentos, versión 2")["version"] == 2
        assert session.execute(text("SELECT count(*) FROM program_sector_keys")).scalar_one() == 1
        assert service.pseudonym_for(session, program_id=pid, person_id=person, passphrase=PASSPHRASE) == before

    def test_without_a_passphrase_no_programme_is_made(self, session):
        for passphrase, code in ((None, "key_passphrase_missing"), ("corta", "key_passphrase_weak")):
            with pytest.raises(AppError) as caught:
                apply(session, "food_box", passphrase=passphrase)
            assert caught.value.code == code
        assert session.scalar(select(Program).where(Program.code == "food_box")) is None

    def test_a_wrong_passphrase_is_refused_with_a_clear_code_when_making_and_opening(self, session):
        apply(session, "food_box")
        with pytest.raises(AppError) as making:
            apply(session, "fuel_subsidy", passphrase=WRONG)
        assert making.value.code == "wrong_passphrase" and making.value.status == 403
        assert session.scalar(select(Program).where(Program.code == "fuel_subsidy")) is None
        with pytest.raises(AppError) as opening:
            service.pseudonyms_for(session, program_id=program_id(session, "food_box"), person_ids=[uuid.uuid4()],
                                   passphrase=WRONG)  # fmt: skip
        assert opening.value.code == "wrong_passphrase"

    def test_a_key_copied_onto_another_programme_does_not_open(self, session):
        apply(session, "food_box")
        apply(session, "fuel_subsidy")
        food, fuel = program_id(session, "food_box"), program_id(session, "fuel_subsidy")
        stolen = session.get(SectorKey, food)
        target = session.get(SectorKey, fuel)
        target.nonce, target.ciphertext = stolen.nonce, stolen.ciphertext
        session.flush()
        with pytest.raises(AppError) as caught:
            service.open_sector_key(session, program_id=fuel, passphrase=PASSPHRASE)
        assert caught.value.code == "wrong_passphrase"

    def test_a_programme_without_a_key_says_so(self, session):
        with pytest.raises(AppError) as caught:
            service.open_sector_key(session, program_id=uuid.uuid4(), passphrase=PASSPHRASE)
        assert caught.value.code == "sector_key_missing" and caught.value.status == 404


class TestPseudonyms:
    def test_two_programmes_see_one_person_under_two_pseudonyms_and_each_is_stable(self, session, population):
        apply(session, "food_box")
        apply(session, "fuel_subsidy")
        food, fuel = program_id(session, "food_box"), program_id(session, "fuel_subsidy")
        in_food = service.pseudonyms_for(session, program_id=food, person_ids=population, passphrase=PASSPHRASE)
        in_fuel = service.pseudonyms_for(session, program_id=fuel, person_ids=population, passphrase=PASSPHRASE)
        assert list(in_food) == population
        assert all(in_food[p] != in_fuel[p] for p in population)
        assert not set(in_food.values()) & set(in_fuel.values())
        assert len(set(in_food.values())) == len(population)  # distinct persons, distinct pseudonyms
        again = service.pseudonyms_for(session, program_id=food, person_ids=population[::-1], passphrase=PASSPHRASE)
        assert again == in_food
        one = population[17]
        assert service.pseudonym_for(session, program_id=food, person_id=one, passphrase=PASSPHRASE) == in_food[one]
        assert all(is_pseudonym(p) and p.startswith("PS1-") for p in in_food.values())


class TestEntitlementExport:
    def published(self, session, code: str):
        apply(session, code)
        run = service.evaluate_cycle(session, actor=ANA, code=code, cycle="2026-12", now=NOW, persist=True)
        return service.approve_run(session, actor=LUIS, run_id=run.id, now=NOW)

    def export(self, session, run):
        return list(service.export_entitlements(session, actor=ANA, run_id=run.id, passphrase=PASSPHRASE, now=NOW))

    @pytest.mark.parametrize("code", ["fuel_subsidy", "food_box"])
    def test_the_export_names_units_by_pseudonym_and_carries_no_registry_id(self, session, population, code):
        run = self.published(session, code)
        rows = self.export(session, run)
        entitled = session.execute(select(Entitlement.unit_id, Entitlement.quantity)
                                   .where(Entitlement.run_id == run.id)).all()  # fmt: skip
        assert len(rows) == len(entitled) > 0
        assert list(service.ENTITLEMENT_COLUMNS) == EXPORT_COLUMNS
        for row in rows:
            assert list(row) == EXPORT_COLUMNS
            assert "person_id" not in row and "unit_id" not in row and "household_id" not in row
        registry_ids = {str(i) for i in population} | {i.hex for i in population}
        households = list(session.scalars(select(Household.id)))
        registry_ids |= {str(i) for i in households} | {i.hex for i in households}
        cells = {str(value) for row in rows for value in row.values()}
        assert not cells & registry_ids
        assert not any(registry_id in cell for cell in cells for registry_id in registry_ids)
        unit = "person" if code == "fuel_subsidy" else "household"
        assert {row["unit"] for row in rows} == {unit}
        prefix = "PS1-" if unit == "person" else "HS1-"
        assert all(row["pseudonym"].startswith(prefix) and is_pseudonym(row["pseudonym"]) for row in rows)
        assert sorted(row["quantity"] for row in rows) == sorted(quantity for _, quantity in entitled)
        if unit == "person":
            expected = service.pseudonyms_for(session, program_id=run.program_id,
                                              person_ids=[u for u, _ in entitled], passphrase=PASSPHRASE)  # fmt: skip
            assert {row["pseudonym"] for row in rows} == set(expected.values())

    def test_the_export_is_in_the_log_under_the_runs_reference(self, session, population):
        run = self.published(session, "fuel_subsidy")
        rows = self.export(session, run)
        record = session.scalars(select(AccessRecord).where(AccessRecord.cohort_ref == f"run:{run.id}")
                                 .order_by(AccessRecord.seq.desc())).first()  # fmt: skip
        assert record is not None and record.cohort_size == len(rows)
        assert record.fields == ["entitlement", "sector_pseudonym"] and record.action == "read"

    def test_a_wrong_passphrase_exports_nothing(self, session, population):
        run = self.published(session, "fuel_subsidy")
        with pytest.raises(AppError) as caught:
            service.export_entitlements(session, actor=ANA, run_id=run.id, passphrase=WRONG, now=NOW)
        assert caught.value.code == "wrong_passphrase"
