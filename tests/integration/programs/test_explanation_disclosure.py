"""Explanations by role, on the real database: clause results for staff, values only where purpose, region
and sensitivity allow, and an access record that names exactly what was shown. Two regions."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from carnet.audit.models import AccessRecord
from carnet.kit.actor import Actor
from carnet.kit.errors import NotFound
from carnet.programs import service
from carnet.programs.definition import parse_definition
from carnet.registry import service as registry_service
from carnet.registry.schemas import PersonIn

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
EXAMPLES = Path(service.__file__).parent / "data"


def staff(role: str, region: str | None, purpose: str = "appeal") -> Actor:
    return Actor(user_id=uuid.uuid5(uuid.NAMESPACE_DNS, f"{role}{region}"), role=role, request_id="t",
                 purpose=purpose, office="Oficina", region_code=region)  # fmt: skip


OFFICER_A, OFFICER_B, OFFICER_NATIONAL = (staff("program_officer", r) for r in ("VE-A", "VE-B", None))
REGISTRAR_A, REGISTRAR_NATIONAL = staff("registrar", "VE-A"), staff("registrar", None)


@pytest.fixture()
def people(session, registrar):
    """Two people with the same attributes, one in VE-A and one in VE-B; the health and fuel programmes."""
    ids = {}
    for region in ("VE-A", "VE-B"):
        data = PersonIn(given_names="Rosa" if region == "VE-A" else "Luisa", family_names="Díaz",
                        date_of_birth="1960-05-01", region_code=region,
                        attributes={"chronic_condition": True, "disability": False, "monthly_income": 120000,
                                    "vehicle_owned": True})  # fmt: skip
        ids[region] = registry_service.create_person(session, actor=registrar, data=data, today=date(2026, 11, 29),
                                                     now=NOW)["id"]  # fmt: skip
    for name in ("health_kit", "fuel_subsidy"):
        definition = parse_definition((EXAMPLES / f"{name}.yaml").read_text("utf-8"), source=name)
        service.apply_program(session, actor=replace(OFFICER_NATIONAL, purpose="program_administration"),
                              definition=definition, passphrase="una frase de paso larga", now=NOW)  # fmt: skip
    return ids


def explain(session, actor: Actor, person_id, code: str = "health_kit") -> dict:
    return service.explain_for_person(session, actor=actor, code=code, person_id=uuid.UUID(str(person_id)), now=NOW)


def last_access_fields(session, person_id) -> list[str]:
    record = session.scalars(
        select(AccessRecord)
        .where(AccessRecord.subject_id == uuid.UUID(str(person_id)))
        .order_by(AccessRecord.seq.desc())
    ).first()
    return record.fields


def values(found: dict) -> dict:
    return {k: v for clause in found["clauses"] for k, v in clause["values"].items()}


def withheld(found: dict) -> set:
    return {name for clause in found["clauses"] for name in clause["withheld"]}


class TestProgrammeOfficers:
    def test_an_officer_of_the_region_sees_whether_each_clause_held_but_no_sensitive_value(self, session, people):
        found = explain(session, OFFICER_A, people["VE-A"])
        assert found["eligible"] is True
        assert [(c["text"], c["result"]) for c in found["clauses"]] == [("chronic_condition", True),
                                                                        ("disability", False)]  # fmt: skip
        assert values(found) == {}
        assert withheld(found) == {"chronic_condition", "disability"}
        assert last_access_fields(session, people["VE-A"]) == ["eligibility"]

    def test_an_officer_of_another_region_does_not_find_the_person(self, session, people):
        with pytest.raises(NotFound):
            explain(session, OFFICER_B, people["VE-A"])
        with pytest.raises(NotFound):
            explain(session, OFFICER_A, people["VE-B"])

    def test_a_national_officer_sees_personal_values_of_a_covered_purpose_and_no_sensitive_one(self, session, people):
        for region in ("VE-A", "VE-B"):
            fuel = explain(session, OFFICER_NATIONAL, people[region], code="fuel_subsidy")
            assert values(fuel) == {"vehicle_owned": True, "monthly_income": 120000}
            assert withheld(fuel) == set()
            assert last_access_fields(session, people[region]) == ["eligibility", "monthly_income", "vehicle_owned"]
            health = explain(session, OFFICER_NATIONAL, people[region])
            assert values(health) == {} and withheld(health) == {"chronic_condition", "disability"}
            assert last_access_fields(session, people[region]) == ["eligibility"]

    def test_a_regional_officer_sees_personal_values_in_the_region(self, session, people):
        fuel = explain(session, OFFICER_A, people["VE-A"], code="fuel_subsidy")
        assert values(fuel) == {"vehicle_owned": True, "monthly_income": 120000}


class TestOfficesAndThePerson:
    def test_the_registration_office_of_the_region_sees_sensitive_values_for_an_appeal(self, session, people):
        found = explain(session, REGISTRAR_A, people["VE-A"])
        assert values(found) == {"chronic_condition": True, "disability": False}
        assert last_access_fields(session, people["VE-A"]) == [
            "chronic_condition",
            "disability",
            "eligibility",
        ]  # stored sorted

    def test_not_for_another_purpose_nor_from_a_national_office(self, session, people):
        registering = replace(REGISTRAR_A, purpose="registration")
        assert values(explain(session, registering, people["VE-A"])) == {}
        assert values(explain(session, REGISTRAR_NATIONAL, people["VE-B"])) == {}
        assert last_access_fields(session, people["VE-B"]) == ["eligibility"]
        with pytest.raises(NotFound):
            explain(session, REGISTRAR_A, people["VE-B"])

    def test_the_person_sees_every_own_value(self, session, people):
        me = Actor(user_id=uuid.uuid4(), role="citizen", request_id="t", purpose="data_subject_access",
                   person_id=uuid.UUID(str(people["VE-B"])))  # fmt: skip
        found = service.explain_own(session, actor=me, code="health_kit", now=NOW)
        assert values(found) == {"chronic_condition": True, "disability": False} and withheld(found) == set()
        assert last_access_fields(session, people["VE-B"]) == [
            "chronic_condition",
            "disability",
            "eligibility",
        ]  # stored sorted

    def test_a_citizen_reading_someone_else_is_no_person(self, session, people):
        other = Actor(user_id=uuid.uuid4(), role="citizen", request_id="t", purpose="data_subject_access",
                      person_id=uuid.UUID(str(people["VE-B"])))  # fmt: skip
        found = explain(session, other, people["VE-A"])
        assert values(found) == {}
