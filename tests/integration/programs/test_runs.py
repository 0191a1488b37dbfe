"""Programmes end to end on the real database: define, preview, propose, approve, supersede, explain, audit."""

from __future__ import annotations

import csv
import uuid
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select

from carnet.audit.repository import log_size
from carnet.audit.service import verify_log
from carnet.kit.actor import Actor
from carnet.kit.errors import AppError, Conflict, Forbidden, ValidationFailed
from carnet.programs import service
from carnet.programs.definition import parse_definition
from carnet.programs.models import EligibilityRun, Entitlement
from carnet.programs.rules.sql import eligible_units
from carnet.registry.importer import run_import
from carnet.registry.models import Person
from carnet.registry.seed import COLUMNS, PopulationGenerator

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
PASSPHRASE = "una frase de paso larga"
EXAMPLES = Path(service.__file__).parent / "data"


def officer(name: str) -> Actor:
    return Actor(user_id=uuid.uuid5(uuid.NAMESPACE_DNS, name), role="program_officer", request_id="t",
                 purpose="eligibility", office="Ministerio")  # fmt: skip


ANA, LUIS = officer("ana"), officer("luis")


@pytest.fixture()
def population(session, registrar, tmp_path):
    path = tmp_path / "people.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(PopulationGenerator(3, today=date(2026, 11, 29)).people(400))
    run = run_import(session, actor=registrar, path=path, today=date(2026, 11, 29), now=NOW)
    assert run.rows_rejected == 0
    return run


def example(name: str, **changes):
    definition = parse_definition((EXAMPLES / f"{name}.yaml").read_text("utf-8"), source=name)
    return replace(definition, **changes)


def apply(session, name: str, **changes):
    return service.apply_program(session, actor=ANA, definition=example(name, **changes), passphrase=PASSPHRASE,
                                 now=NOW)  # fmt: skip


class TestDefinitions:
    def test_the_examples_apply_and_versions_only_change_with_the_definition(self, session):
        for name in ("food_box", "fuel_subsidy", "cash_transfer", "health_kit"):
            assert apply(session, name) == {"code": name, "version": 1, "changed": True}
        assert apply(session, "food_box")["changed"] is False
        assert apply(session, "food_box", budget=1) == {"code": "food_box", "version": 2, "changed": True}
        assert [p["code"] for p in service.list_programs(session)] == [
            "cash_transfer", "food_box", "fuel_subsidy", "health_kit"]  # fmt: skip

    def test_the_food_programme_cannot_read_the_chronic_condition(self, session):
        with pytest.raises(AppError) as caught:
            apply(session, "food_box", rule="count(members where chronic_condition) > 0")
        assert caught.value.errors[0].code == "purpose_not_allowed"
        assert "line 1" in caught.value.errors[0].record

    def test_bad_rules_and_fields_are_refused_with_their_place(self, session):
        with pytest.raises(AppError) as caught:
            apply(session, "fuel_subsidy", rule="vehicle_owned and\n  monthly_income <")
        assert caught.value.errors[0].code == "rule_syntax" and "line 2" in caught.value.errors[0].record
        with pytest.raises(ValidationFailed) as caught:
            apply(session, "fuel_subsidy", purpose="party_loyalty", regions=("XX-1",))
        assert {e.code for e in caught.value.errors} == {"unknown_purpose", "unknown_region"}


class TestRuns:
    def test_preview_then_propose_then_approve_by_another_officer(self, session, population):
        apply(session, "food_box")
        preview = service.evaluate_cycle(session, actor=ANA, code="food_box", cycle="2026-12", now=NOW, persist=False)
        assert preview.status == "preview" and session.scalar(select(func.count()).select_from(Entitlement)) == 0
        totals = preview.preview["totals"]
        assert 0 < totals["units_eligible"] <= totals["units_evaluated"]
        assert sum(r["units"] for r in preview.preview["by_region"]) == totals["units_eligible"]
        assert len(preview.preview["by_clause"]) == 3

        run = service.evaluate_cycle(session, actor=ANA, code="food_box", cycle="2026-12", now=NOW, persist=True)
        rows = session.scalar(select(func.count()).where(Entitlement.run_id == run.id))
        assert rows == run.units_eligible == preview.units_eligible
        assert run.total_value == run.total_quantity * 4_500_000
        with pytest.raises(Forbidden) as caught:
            service.approve_run(session, actor=ANA, run_id=run.id, now=NOW)
        assert caught.value.code == "same_officer"
        assert service.approve_run(session, actor=LUIS, run_id=run.id, now=NOW).status == "published"

        with pytest.raises(Conflict) as caught:
            service.evaluate_cycle(session, actor=ANA, code="food_box", cycle="2026-12", now=NOW, persist=True)
        assert caught.value.code == "cycle_already_published"
        again = service.evaluate_cycle(session, actor=ANA, code="food_box", cycle="2026-12", now=NOW, persist=True,
                                       supersede=True)  # fmt: skip
        with pytest.raises(Conflict):
            service.approve_run(session, actor=LUIS, run_id=again.id, now=NOW)
        service.approve_run(session, actor=LUIS, run_id=again.id, now=NOW, supersede=True)
        session.refresh(run)
        assert (run.status, again.supersedes_run_id) == ("superseded", run.id)
        # The superseded run keeps its entitlements: what was decided stays on record.
        assert session.scalar(select(func.count()).where(Entitlement.run_id == run.id)) == rows

    def test_over_budget_is_refused_with_the_totals_and_nothing_is_kept(self, session, population):
        apply(session, "food_box", budget=4_500_000)
        nested = session.begin_nested()
        with pytest.raises(AppError) as caught:
            service.evaluate_cycle(session, actor=ANA, code="food_box", cycle="2026-12", now=NOW, persist=True)
        nested.rollback()
        assert caught.value.code == "over_budget" and caught.value.extra["value"] > caught.value.extra["budget"]
        assert session.scalar(select(func.count()).select_from(EligibilityRun)) == 0

    def test_per_member_quantities_respect_the_cap(self, session, population):
        apply(session, "cash_transfer", budget=None, rule="count(members) > 0")
        run = service.evaluate_cycle(session, actor=ANA, code="cash_transfer", cycle="2026-12", now=NOW, persist=True)
        quantities = session.scalars(select(Entitlement.quantity).where(Entitlement.run_id == run.id)).all()
        assert max(quantities) == 5 and min(quantities) >= 1
        assert run.units_eligible == run.units_evaluated  # every household has a member

    def test_a_rule_that_selects_nearly_everyone_warns(self, session, population):
        apply(session, "fuel_subsidy", rule="monthly_income >= 0 or not vehicle_owned")
        run = service.evaluate_cycle(session, actor=ANA, code="fuel_subsidy", cycle="2026-12", now=NOW, persist=False)
        assert [w["code"] for w in run.preview["warnings"]] == ["selects_large_share"]

    def test_a_run_is_one_audit_entry_and_the_person_sees_it(self, session, population, registrar):
        apply(session, "health_kit")
        before = log_size(session)
        run = service.evaluate_cycle(session, actor=ANA, code="health_kit", cycle="2026-12", now=NOW, persist=True)
        assert log_size(session) == before + 1
        person = session.scalars(select(Person.id)).first()
        assert f"run:{run.id}" in service.program_cohorts(session, person)
        assert verify_log(session).ok

    def test_the_difference_from_the_previous_cycle(self, session, population):
        apply(session, "fuel_subsidy")
        first = service.evaluate_cycle(session, actor=ANA, code="fuel_subsidy", cycle="2026-11", now=NOW, persist=True)
        service.approve_run(session, actor=LUIS, run_id=first.id, now=NOW)
        apply(session, "fuel_subsidy", rule="vehicle_owned and monthly_income < 300000")
        second = service.evaluate_cycle(session, actor=ANA, code="fuel_subsidy", cycle="2026-12", now=NOW,
                                        persist=True)  # fmt: skip
        change = second.preview["change"]
        assert change["cycle"] == "2026-11" and change["newly_eligible"] == 0
        assert change["no_longer_eligible"] == first.units_eligible - second.units_eligible


class TestExplanations:
    def test_the_explanation_agrees_with_the_run(self, session, population):
        apply(session, "fuel_subsidy")
        run = service.evaluate_cycle(session, actor=ANA, code="fuel_subsidy", cycle="2026-12", now=NOW, persist=True)
        service.approve_run(session, actor=LUIS, run_id=run.id, now=NOW)
        definition = example("fuel_subsidy")
        rule = service.checked_rule(session, definition)
        eligible = {row.unit_id for row in session.execute(eligible_units(rule, today=date(2026, 12, 1), regions=None))}
        persons = session.scalars(select(Person.id).limit(60)).all()
        clerk = replace(ANA, purpose="appeal")
        for person_id in persons:
            found = service.explain_for_person(session, actor=clerk, code="fuel_subsidy", person_id=person_id, now=NOW)
            assert found["eligible"] == (person_id in eligible)
            assert found["rule_version"] == 1 and found["run"]["id"] == str(run.id)
            assert (found["entitlement"] is not None) == found["eligible"]
            assert [c["text"] for c in found["clauses"]] == ["vehicle_owned", "monthly_income < 500000"]
