"""Evaluating and explaining rules in Python: SQL's three-valued logic, integer arithmetic, ages, aggregates."""

from __future__ import annotations

import itertools
import sqlite3
from datetime import date

import pytest

from carnet.programs.rules import age_on, evaluate, explain
from carnet.programs.rules.check import truncating_division
from tests.unit.programs.support import CASH, FOOD_BOX, FUEL, HEALTH, checked

TODAY = date(2026, 11, 29)
TRUTH = (True, False, None)


def person(**values) -> dict:
    """A person's values as the service loads them: every attribute present, None when missing."""
    base = {"date_of_birth": date(1985, 3, 14), "sex": "F", "region_code": "VE-A", "municipality_code": "VE-A-01",
            "relationship": None, "monthly_income": None, "vehicle_owned": None, "disability": None,
            "employment_status": None, "dwelling_type": None, "chronic_condition": None, "pregnant": None,
            "children_in_school": None}  # fmt: skip
    return base | values


def value(text: str, *, subject: dict | None = None, members: list | None = None, unit: str = "person", **kw):
    """The rule's value for one unit."""
    rule = checked(text, unit=unit, **kw)
    subject = subject if subject is not None else person()
    return evaluate(rule, subject=subject, members=members or [], today=TODAY)


def sql(expression: str, *params):
    """What SQLite (the standard library's, in memory) makes of an expression: the oracle for NULL logic."""
    with sqlite3.connect(":memory:") as connection:
        (result,) = connection.execute(f"SELECT {expression}", params).fetchone()
    return None if result is None else bool(result)


class TestThreeValuedLogic:
    @pytest.mark.parametrize(("a", "b"), list(itertools.product(TRUTH, TRUTH)))
    def test_and_or_as_sql(self, a, b):
        subject = person(vehicle_owned=a, disability=b)
        assert value("vehicle_owned and disability", subject=subject) == sql("? AND ?", a, b)
        assert value("vehicle_owned or disability", subject=subject) == sql("? OR ?", a, b)
        assert value("vehicle_owned == disability", subject=subject) == sql("? = ?", a, b)

    @pytest.mark.parametrize("a", TRUTH)
    def test_not_as_sql(self, a):
        assert value("not vehicle_owned", subject=person(vehicle_owned=a)) == sql("NOT ?", a)

    @pytest.mark.parametrize("income", [None, 5, 10])
    def test_comparisons_with_a_missing_value_are_unknown(self, income):
        subject = person(monthly_income=income)
        for op, sql_op in (("==", "="), ("!=", "<>"), ("<", "<"), ("<=", "<="), (">", ">"), (">=", ">=")):
            assert value(f"monthly_income {op} 5", subject=subject) == sql(f"? {sql_op} 5", income)

    @pytest.mark.parametrize("status", [None, "retired", "student"])
    def test_in_and_not_in_as_sql(self, status):
        subject = person(employment_status=status)
        listed = '["retired", "unemployed"]'
        assert value(f"employment_status in {listed}", subject=subject) == sql("? IN ('retired', 'unemployed')", status)
        assert value(f"employment_status not in {listed}", subject=subject) == sql(
            "? NOT IN ('retired', 'unemployed')", status
        )

    def test_unknown_is_not_eligible_but_its_negation_is_unknown_too(self):
        subject = person(monthly_income=None)
        assert value("monthly_income < 5", subject=subject) is None
        assert value("not (monthly_income < 5)", subject=subject) is None
        assert value("monthly_income < 5 or true", subject=subject) is True
        assert value("monthly_income < 5 and false", subject=subject) is False


class TestArithmetic:
    @pytest.mark.parametrize(
        ("text", "expected"),
        [
            ("1 + 2 * 3 == 7", True),
            ("(1 + 2) * 3 == 9", True),
            ("10 - 2 - 3 == 5", True),
            ("7 / 2 == 3", True),
            ("-7 / 2 == -3", True),
            ("7 / -2 == -3", True),
            ("-7 / -2 == 3", True),
            ("2 * -3 == -6", True),
            ("-(2 - 5) == 3", True),
            ("1_000_000 / 1000 == 1000", True),
        ],
    )
    def test_integer_arithmetic(self, text, expected):
        assert value(text) is expected

    @pytest.mark.parametrize(("a", "b"), [(7, 2), (-7, 2), (7, -2), (-7, -2), (0, 3), (6, 3), (-6, 3)])
    def test_division_truncates_toward_zero_as_sql(self, a, b):
        with sqlite3.connect(":memory:") as connection:
            (expected,) = connection.execute("SELECT ? / ?", (a, b)).fetchone()
        assert truncating_division(a, b) == expected

    def test_a_zero_divisor_at_run_time_is_unknown(self):
        subject = person(monthly_income=100, children_in_school=0)
        assert value("monthly_income / children_in_school > 1", subject=subject, purpose="food_assistance") is None
        subject = person(monthly_income=100, children_in_school=3)
        assert value("monthly_income / children_in_school == 33", subject=subject, purpose="food_assistance") is True

    def test_arithmetic_with_a_missing_value_is_unknown(self):
        assert value("monthly_income + 1 > 0", subject=person(monthly_income=None)) is None


class TestDatesAndAges:
    def test_date_comparisons(self):
        subject = person(date_of_birth=date(1999, 12, 31))
        assert value('date_of_birth < date("2000-01-01")', subject=subject) is True
        assert value('date_of_birth == date("1999-12-31")', subject=subject) is True
        assert value('date_of_birth in [date("1999-12-31"), date("2000-01-01")]', subject=subject) is True

    @pytest.mark.parametrize(
        ("born", "today", "years"),
        [
            (date(2008, 11, 29), date(2026, 11, 29), 18),  # a birthday today counts
            (date(2008, 11, 30), date(2026, 11, 29), 17),
            (date(2008, 11, 28), date(2026, 11, 29), 18),
            (date(2024, 2, 29), date(2025, 2, 28), 0),  # 29 February: the birthday comes on 1 March
            (date(2024, 2, 29), date(2025, 3, 1), 1),
            (date(2024, 2, 29), date(2028, 2, 29), 4),
            (date(2027, 1, 1), date(2026, 11, 29), -1),  # a date after today: the same formula, no special case
        ],
    )
    def test_completed_years(self, born, today, years):
        assert age_on(born, today) == years

    def test_age_in_a_rule_uses_the_reference_date(self):
        rule = checked("age(date_of_birth) >= 18")
        subject = person(date_of_birth=date(2008, 11, 30))
        assert evaluate(rule, subject=subject, members=[], today=date(2026, 11, 29)) is False
        assert evaluate(rule, subject=subject, members=[], today=date(2026, 11, 30)) is True

    def test_age_of_nothing_is_unknown(self):
        assert age_on(None, TODAY) is None


class TestAggregates:
    def test_person_without_household_is_their_own_household(self):
        alone = person(monthly_income=10)
        assert value("count(members) == 1 and sum(members.monthly_income) == 10", subject=alone) is True

    def test_person_rule_counts_the_household_including_the_person(self):
        me = person(monthly_income=10)
        child = person(date_of_birth=date(2024, 1, 1), monthly_income=None)
        members = [me, child]
        assert value("count(members) == 2", subject=me, members=members) is True
        assert value("count(members where age(date_of_birth) < 5) == 1", subject=me, members=members) is True
        assert value("any(members where age(date_of_birth) < 5)", subject=me, members=members) is True

    def test_sum_skips_missing_values_and_is_unknown_with_none_at_all(self):
        members = [person(monthly_income=None), person(monthly_income=7)]
        assert value("sum(members.monthly_income) == 7", members=members, unit="household", subject={}) is True
        nobody_declared = [person(), person()]
        assert value("sum(members.monthly_income) < 5", members=nobody_declared, unit="household", subject={}) is None

    def test_count_where_counts_only_true_conditions(self):
        members = [person(vehicle_owned=True), person(vehicle_owned=None), person(vehicle_owned=False)]
        assert value("count(members where vehicle_owned) == 1", members=members, unit="household", subject={}) is True
        assert value("count(members where not vehicle_owned) == 1", members=members, unit="household", subject={})

    def test_an_empty_household(self):
        assert value("count(members) == 0", unit="household", subject={}) is True
        assert value("sum(members.monthly_income) == 0", unit="household", subject={}) is None
        assert value("any(members where vehicle_owned)", unit="household", subject={}) is False

    def test_household_region(self):
        subject = {"region_code": "VE-B", "municipality_code": None}
        assert value('region_code == "VE-B"', subject=subject, unit="household") is True
        assert value('municipality_code in ["VE-B-01"]', subject=subject, unit="household") is None


class TestShippedShapes:
    def test_food_box(self):
        rule = checked(FOOD_BOX, unit="household", purpose="food_assistance")
        poor = [person(monthly_income=10_000_000)]
        rich_with_toddler = [person(monthly_income=90_000_000), person(date_of_birth=date(2023, 1, 1))]
        rich = [person(monthly_income=90_000_000)]
        unknown = [person()]
        assert evaluate(rule, subject={}, members=poor, today=TODAY) is True
        assert evaluate(rule, subject={}, members=rich_with_toddler, today=TODAY) is True
        assert evaluate(rule, subject={}, members=rich, today=TODAY) is False
        assert evaluate(rule, subject={}, members=unknown, today=TODAY) is None

    def test_fuel_health_and_cash(self):
        fuel = checked(FUEL, purpose="fuel_subsidy")
        assert evaluate(fuel, subject=person(vehicle_owned=True, monthly_income=1), members=[], today=TODAY) is True
        health = checked(HEALTH, purpose="health_care")
        assert evaluate(health, subject=person(disability=True), members=[], today=TODAY) is True
        assert evaluate(health, subject=person(chronic_condition=False), members=[], today=TODAY) is None
        cash = checked(CASH, unit="household")
        members = [person(monthly_income=20_000_000), person(monthly_income=None), person(monthly_income=0)]
        # 20,000,000 / 3 members: the missing income counts as a member, not as a value.
        assert evaluate(cash, subject={}, members=members, today=TODAY) is True


class TestExplanations:
    def test_each_clause_with_the_values_it_read(self):
        rule = checked(FUEL, purpose="fuel_subsidy")
        explanation = explain(rule, subject=person(vehicle_owned=True, monthly_income=45_000_000), members=[],
                              today=TODAY)  # fmt: skip
        assert explanation.result is False and not explanation.eligible
        assert [(c.text, c.result, c.values) for c in explanation.clauses] == [
            ("vehicle_owned", True, {"vehicle_owned": True}),
            ("monthly_income < 30000000", False, {"monthly_income": 45_000_000}),
        ]

    def test_aggregates_are_shown_by_their_value_alone(self):
        rule = checked(FOOD_BOX, unit="household", purpose="food_assistance")
        members = [person(monthly_income=90_000_000), person(date_of_birth=date(2023, 1, 1)),
                   person(date_of_birth=date(2024, 6, 1))]  # fmt: skip
        explanation = explain(rule, subject={"region_code": "VE-A"}, members=members, today=TODAY)
        assert explanation.result is True
        assert [(c.result, c.values) for c in explanation.clauses] == [
            (False, {"sum(members.monthly_income)": 90_000_000}),
            (True, {"count(members where age(date_of_birth) < 5)": 2}),
            (False, {"count(members where age(date_of_birth) > 65)": 0}),
        ]

    def test_ages_are_shown_with_the_date_they_come_from(self):
        rule = checked("age(date_of_birth) >= 18 and monthly_income < 5")
        explanation = explain(rule, subject=person(monthly_income=None), members=[], today=TODAY)
        assert explanation.result is None
        assert explanation.clauses[0].values == {"date_of_birth": date(1985, 3, 14), "age(date_of_birth)": 41}
        assert explanation.clauses[1].values == {"monthly_income": None}

    def test_a_missing_value_is_shown_as_missing(self):
        rule = checked(HEALTH, purpose="health_care")
        explanation = explain(rule, subject={"disability": True}, members=[], today=TODAY)
        assert explanation.clauses[0].values == {"chronic_condition": None}
        assert explanation.result is True
