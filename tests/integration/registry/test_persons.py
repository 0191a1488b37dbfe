"""Registering, reading and correcting persons: history and access records on every path."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import select

from carnet.audit.models import AccessRecord
from carnet.kit.actor import Actor
from carnet.kit.errors import Conflict, NotFound, ProhibitedAttribute, ValidationFailed
from carnet.registry import service
from carnet.registry.models import Person
from carnet.registry.schemas import HouseholdIn, PersonIn, PersonPatch
from tests.conftest import count_rows

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
TODAY = date(2026, 11, 29)


def person_in(**overrides) -> PersonIn:
    values = {
        "given_names": "María José",
        "family_names": "Pérez Rodríguez",
        "date_of_birth": "1985-03-14",
        "sex": "F",
        "national_id": "V-12345678",
        "phone": "0414-1234567",
        "region_code": "VE-A",
        "municipality_code": "VE-A-01",
        "attributes": {"monthly_income": 250000, "disability": False},
    } | overrides
    return PersonIn(**values)


class TestCreatePerson:
    def test_normalises_and_records_history_and_access(self, session, registrar):
        view = service.create_person(
            session, actor=registrar, data=person_in(national_id="v 12.345.678"), today=TODAY, now=NOW
        )
        assert view["national_id"] == "V-12345678"
        assert view["phone"] == "+584141234567"
        assert view["attributes"] == {"monthly_income": 250000, "disability": False}
        history = service.person_history(session, actor=registrar, person_id=view["id"], now=NOW)
        assert [c.operation for c in history] == ["create"]
        assert history[0].changes["given_names"] == "María José"
        records = session.scalars(select(AccessRecord).where(AccessRecord.subject_id == view["id"])).all()
        assert [r.action for r in records] == ["create", "read"]
        assert records[0].purpose == "registration" and "attributes.monthly_income" in records[0].fields

    def test_every_bad_field_is_named(self, session, registrar):
        with pytest.raises(ValidationFailed) as caught:
            service.create_person(
                session,
                actor=registrar,
                data=person_in(date_of_birth="31/02/1990", national_id="J-123", phone="12", region_code="VE-QQ"),
                today=TODAY,
                now=NOW,
            )
        fields = {e.field: e.code for e in caught.value.errors}
        assert fields == {
            "date_of_birth": "invalid_date",
            "national_id": "invalid_national_id",
            "phone": "invalid_phone",
            "region_code": "unknown_region",
        }
        assert count_rows(session, "persons") == 0

    def test_prohibited_attribute_is_refused(self, session, registrar):
        with pytest.raises(ProhibitedAttribute) as caught:
            service.create_person(
                session,
                actor=registrar,
                data=person_in(attributes={"religión": "católica"}),
                today=TODAY,
                now=NOW,
            )
        assert caught.value.code == "prohibited_attribute"
        assert caught.value.extra["category"] == "religion"
        assert count_rows(session, "persons") == 0

    def test_undeclared_attribute_is_refused(self, session, registrar):
        with pytest.raises(ValidationFailed) as caught:
            service.create_person(
                session, actor=registrar, data=person_in(attributes={"shoe_size": 42}), today=TODAY, now=NOW
            )
        assert caught.value.code == "undeclared_attribute"

    def test_duplicate_cedula_is_a_conflict(self, session, registrar):
        service.create_person(session, actor=registrar, data=person_in(), today=TODAY, now=NOW)
        with pytest.raises(Conflict) as caught:
            service.create_person(session, actor=registrar, data=person_in(given_names="Otra"), today=TODAY, now=NOW)
        assert caught.value.code == "duplicate_national_id"

    def test_registrar_bound_to_region_cannot_register_elsewhere(self, session):
        zulia = Actor(user_id=None, role="registrar", request_id="t", purpose="registration", region_code="VE-V")
        with pytest.raises(ValidationFailed) as caught:
            service.create_person(session, actor=zulia, data=person_in(), today=TODAY, now=NOW)
        assert caught.value.code == "outside_scope"


class TestReadPerson:
    def test_each_read_writes_one_access_record(self, session, registrar):
        created = service.create_person(session, actor=registrar, data=person_in(), today=TODAY, now=NOW)
        before = count_rows(session, "access_records")
        service.get_person(session, actor=registrar, person_id=created["id"], now=NOW)
        service.get_person(session, actor=registrar, person_id=created["id"], now=NOW)
        assert count_rows(session, "access_records") == before + 2

    def test_rolled_back_read_leaves_no_access_record(self, session, registrar):
        created = service.create_person(session, actor=registrar, data=person_in(), today=TODAY, now=NOW)
        session.flush()
        before = count_rows(session, "access_records")
        nested = session.begin_nested()
        service.get_person(session, actor=registrar, person_id=created["id"], now=NOW)
        assert count_rows(session, "access_records") == before + 1
        nested.rollback()
        assert count_rows(session, "access_records") == before

    def test_out_of_region_person_is_not_found(self, session, registrar):
        created = service.create_person(session, actor=registrar, data=person_in(), today=TODAY, now=NOW)
        zulia = Actor(user_id=None, role="registrar", request_id="t", purpose="registration", region_code="VE-V")
        before = count_rows(session, "access_records")
        with pytest.raises(NotFound):
            service.get_person(session, actor=zulia, person_id=created["id"], now=NOW)
        assert count_rows(session, "access_records") == before

    def test_search_by_name_prefix_and_cedula(self, session, registrar):
        service.create_person(session, actor=registrar, data=person_in(), today=TODAY, now=NOW)
        service.create_person(
            session,
            actor=registrar,
            data=person_in(given_names="Luis", family_names="Peña Mora", national_id="V-7654321"),
            today=TODAY,
            now=NOW,
        )
        by_name, _ = service.search_persons(
            session, actor=registrar, query="PEREZ", region_code=None, household_id=None, cursor=None, limit=10, now=NOW
        )
        assert [p["family_names"] for p in by_name] == ["Pérez Rodríguez"]
        by_id, _ = service.search_persons(
            session,
            actor=registrar,
            query="v7654321",
            region_code=None,
            household_id=None,
            cursor=None,
            limit=10,
            now=NOW,
        )
        assert [p["given_names"] for p in by_id] == ["Luis"]

    def test_search_pages_with_a_cursor(self, session, registrar):
        for i in range(5):
            service.create_person(
                session,
                actor=registrar,
                data=person_in(given_names=f"Ana {chr(65 + i)}", national_id=f"V-{1000000 + i}"),
                today=TODAY,
                now=NOW,
            )
        seen = []
        cursor = None
        while True:
            page, cursor = service.search_persons(
                session,
                actor=registrar,
                query=None,
                region_code="VE-A",
                household_id=None,
                cursor=cursor,
                limit=2,
                now=NOW,
            )
            seen += [p["id"] for p in page]
            if cursor is None:
                break
        assert len(seen) == len(set(seen)) == 5


class TestCedulaLookup:
    def test_a_cedula_names_its_person_and_the_lookup_is_a_recorded_read(self, session, registrar):
        created = service.create_person(session, actor=registrar, data=person_in(), today=TODAY, now=NOW)
        found = service.person_id_for_national_id(session, actor=registrar, national_id="v 12.345.678", now=NOW)
        assert found == created["id"]
        last = session.scalars(select(AccessRecord).order_by(AccessRecord.seq.desc()).limit(1)).one()
        assert (last.subject_id, last.action, last.fields, last.purpose) == (
            created["id"], "read", ["national_id"], "registration",
        )  # fmt: skip

    def test_outside_the_actors_region_the_cedula_is_not_found_and_nothing_is_recorded(self, session, registrar):
        service.create_person(session, actor=registrar, data=person_in(), today=TODAY, now=NOW)
        zulia = Actor(user_id=None, role="registrar", request_id="t", purpose="registration", region_code="VE-V")
        before = count_rows(session, "access_records")
        with pytest.raises(NotFound) as caught:
            service.person_id_for_national_id(session, actor=zulia, national_id="V-12345678", now=NOW)
        assert caught.value.code == "person_not_found"
        assert count_rows(session, "access_records") == before

    def test_a_malformed_cedula_is_refused_by_field(self, session, registrar):
        with pytest.raises(ValidationFailed) as caught:
            service.person_id_for_national_id(session, actor=registrar, national_id="J-12", now=NOW)
        assert [(e.field, e.code) for e in caught.value.errors] == [("national_id", "invalid_national_id")]

    def test_an_investigation_lookup_is_sealed_under_its_order(self, session, registrar):
        created = service.create_person(session, actor=registrar, data=person_in(), today=TODAY, now=NOW)
        investigator = service.investigation_actor(
            Actor(user_id=None, role="investigator", request_id="t", purpose="investigation"), order="TSJ-1"
        )
        service.person_id_for_national_id(
            session, actor=investigator, national_id="V-12345678", now=NOW, sealed_until=date(2099, 1, 1)
        )
        last = session.scalars(select(AccessRecord).order_by(AccessRecord.seq.desc()).limit(1)).one()
        assert (last.subject_id, last.sealed_until, last.request_id) == (created["id"], date(2099, 1, 1), "order:TSJ-1")


class TestUpdatePerson:
    def test_change_records_old_and_new_values_and_reason(self, session, registrar):
        created = service.create_person(session, actor=registrar, data=person_in(), today=TODAY, now=NOW)
        updated = service.update_person(
            session,
            actor=registrar,
            person_id=created["id"],
            patch=PersonPatch(
                reason="typo in surname",
                family_names="Pérez Rodrígues",
                attributes={"monthly_income": 300000, "disability": None},
            ),
            today=TODAY,
            now=NOW,
        )
        assert updated["version"] == 2
        assert updated["attributes"] == {"monthly_income": 300000}
        history = service.person_history(session, actor=registrar, person_id=created["id"], now=NOW)
        change = history[-1]
        assert change.reason == "typo in surname"
        assert change.changes == {
            "family_names": ["Pérez Rodríguez", "Pérez Rodrígues"],
            "attributes.monthly_income": [250000, 300000],
            "attributes.disability": [False, None],
        }

    def test_stale_version_is_refused_and_nothing_changes(self, session, registrar):
        created = service.create_person(session, actor=registrar, data=person_in(), today=TODAY, now=NOW)
        with pytest.raises(Conflict):
            service.update_person(
                session,
                actor=registrar,
                person_id=created["id"],
                patch=PersonPatch(reason="late edit", expected_version=7, given_names="X"),
                today=TODAY,
                now=NOW,
            )
        person = session.get(Person, created["id"])
        assert person.given_names == "María José" and person.version == 1


class TestHouseholds:
    def test_members_and_single_head(self, session, registrar):
        household = service.create_household(session, actor=registrar, data=HouseholdIn(region_code="Zulia"), now=NOW)
        assert household["region_code"] == "VE-V"
        head = service.create_person(
            session,
            actor=registrar,
            data=person_in(
                region_code="VE-V", municipality_code="Maracaibo", household_id=household["id"], relationship="jefa"
            ),
            today=TODAY,
            now=NOW,
        )
        assert head["relationship"] == "head" and head["municipality_code"].startswith("VE-V-")
        with pytest.raises(Conflict) as caught:
            service.create_person(
                session,
                actor=registrar,
                data=person_in(
                    national_id="V-999999",
                    given_names="Otro",
                    household_id=household["id"],
                    relationship="head",
                    region_code="VE-V",
                    municipality_code=None,
                ),
                today=TODAY,
                now=NOW,
            )
        assert caught.value.code == "household_has_head"
        view = service.get_household(session, actor=registrar, household_id=household["id"], now=NOW)
        assert view["head_person_id"] == head["id"]
        assert [m["id"] for m in view["members"]] == [head["id"]]

    def test_unknown_household(self, session, registrar):
        with pytest.raises(NotFound):
            service.get_household(session, actor=registrar, household_id=uuid.uuid4(), now=NOW)
