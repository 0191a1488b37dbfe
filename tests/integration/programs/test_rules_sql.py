"""The rule compiler against real databases: for any population and any well-typed rule, SQL agrees with Python."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Date, insert, literal, select
from sqlalchemy.orm import Session

from carnet.programs.rules import AttributeInfo, CheckedRule, age_on, check_rule, evaluate, explain
from carnet.programs.rules.sql import age_expression, clause_counts, eligible_units, units_in_scope
from carnet.registry.models import AttributeDefinition, Household, Person, PersonAttribute

NOW = datetime(2027, 2, 28, 12, 0, tzinfo=UTC)
# Not a leap year: people born on 29 February are one day short of their birthday.
TODAY = date(2027, 2, 28)
PURPOSE = "testing"
ATTRIBUTES = {
    "monthly_income": AttributeInfo("monthly_income", "integer", None, frozenset({PURPOSE})),
    "children_in_school": AttributeInfo("children_in_school", "integer", None, frozenset({PURPOSE})),
    "vehicle_owned": AttributeInfo("vehicle_owned", "boolean", None, frozenset({PURPOSE})),
    "disability": AttributeInfo("disability", "boolean", None, frozenset({PURPOSE})),
    "employment_status": AttributeInfo(
        "employment_status", "enum", ("employed", "unemployed", "informal", "retired"), frozenset({PURPOSE})
    ),
    # The shipped dictionary declares no date; the test declares one so that value_date is exercised.
    "surveyed_on": AttributeInfo("surveyed_on", "date", None, frozenset({PURPOSE})),
}
VALUE_COLUMNS = {"integer": "value_int", "boolean": "value_bool", "enum": "value_text", "date": "value_date"}
STATES = ("VE-A", "VE-B")
MUNICIPALITIES = {"VE-A": ("VE-A-01",), "VE-B": ("VE-B-01", "VE-B-02")}
INCOMES = (0, 1, 99_999, 150_000, 800_000, 15_000_000, 60_000_000)
THRESHOLDS = (0, 1, 2, 5, 17, 18, 65, 150_000, 800_000, 60_000_000)
AGES = (0, 1, 4, 5, 6, 17, 18, 64, 65, 66)
DATES = (date(1962, 2, 28), date(2009, 2, 28), date(2024, 2, 29), date(2026, 12, 31))


# Populations
def birth_dates() -> st.SearchStrategy[date]:
    """Mostly a day either side of an age boundary, some 29 February births, some anything."""
    near_boundary = st.builds(
        lambda years, shift: date(TODAY.year - years, TODAY.month, TODAY.day) + timedelta(days=shift),
        st.sampled_from(AGES),
        st.sampled_from((-1, 0, 1)),
    )
    leap = st.sampled_from((date(2024, 2, 29), date(2012, 2, 29), date(1960, 2, 29), date(1961, 3, 1)))
    return st.one_of(near_boundary, leap, st.dates(date(1920, 1, 1), TODAY))


def attribute_values() -> st.SearchStrategy[dict[str, Any]]:
    """Each attribute missing or with a value near the thresholds rules use."""
    return st.fixed_dictionaries(
        {
            "monthly_income": st.none() | st.sampled_from(INCOMES) | st.integers(0, 1_000_000_000),
            "children_in_school": st.none() | st.integers(0, 5),
            "vehicle_owned": st.none() | st.booleans(),
            "disability": st.none() | st.booleans(),
            "employment_status": st.none() | st.sampled_from(ATTRIBUTES["employment_status"].values or ()),
            "surveyed_on": st.none() | st.sampled_from(DATES) | st.dates(date(2020, 1, 1), TODAY),
        }
    )


@st.composite
def places(draw: st.DrawFn) -> tuple[str, str | None]:
    state = draw(st.sampled_from(STATES))
    return state, draw(st.none() | st.sampled_from(MUNICIPALITIES[state]))


@st.composite
def populations(draw: st.DrawFn) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Up to 10 households and 1 to 30 persons, some alone, some households empty."""
    households = []
    for _ in range(draw(st.integers(0, 10))):
        state, municipality = draw(places())
        households.append({"id": uuid.uuid4(), "region_code": state, "municipality_code": municipality})
    persons = []
    for _ in range(draw(st.integers(1, 30))):
        state, municipality = draw(places())
        household = draw(st.none() | st.sampled_from(households)) if households else None
        persons.append(
            {
                "id": uuid.uuid4(),
                "household_id": household["id"] if household else None,
                "date_of_birth": draw(birth_dates()),
                "sex": draw(st.sampled_from((None, "F", "M", "X"))),
                "relationship": draw(st.sampled_from((None, "head", "spouse", "child", "grandparent"))),
                "region_code": state,
                "municipality_code": municipality,
                **draw(attribute_values()),
            }
        )
    return households, persons


# Rules: well-typed by construction, every form of the grammar
def integer(draw: st.DrawFn, scope: str, depth: int) -> str:
    """An integer expression; `scope` is person, household (a household rule's top level) or member."""
    leaves = ["literal", "age"]
    if scope != "household":
        leaves += ["income", "children"]
    if scope != "member":
        leaves += ["count", "count_where", "sum"]
    kinds = leaves + (["add", "subtract", "scale", "divide", "negate"] if depth > 0 else [])
    kind = draw(st.sampled_from(kinds))
    if kind == "literal":
        return str(draw(st.sampled_from(THRESHOLDS) | st.integers(-3, 3)))
    if kind == "age":
        return f"age({date_value(draw, scope)})"
    if kind == "income":
        return "monthly_income"
    if kind == "children":
        return "children_in_school"
    if kind == "count":
        return "count(members)"
    if kind == "count_where":
        return f"count(members where {boolean(draw, 'member', depth - 1)})"
    if kind == "sum":
        return f"sum(members.{draw(st.sampled_from(('monthly_income', 'children_in_school')))})"
    if kind == "negate":
        return f"-({integer(draw, scope, depth - 1)})"
    left = integer(draw, scope, depth - 1)
    if kind == "scale":
        # A small factor keeps every value far inside 64 bits, where SQLite and PostgreSQL still agree.
        return f"({left} * {draw(st.integers(-3, 3))})"
    if kind == "divide":
        return f"({left} / {divisor(draw, scope, depth - 1)})"
    symbol = "+" if kind == "add" else "-"
    return f"({left} {symbol} {integer(draw, scope, depth - 1)})"


def divisor(draw: st.DrawFn, scope: str, depth: int) -> str:
    """Any divisor but a constant zero (refused when the rule is checked); it may well be zero at run time."""
    if draw(st.booleans()):
        return draw(st.sampled_from(("-2", "3")))
    written = integer(draw, scope, depth)
    return "2" if written.lstrip("-").isdigit() and int(written) == 0 else written


def date_value(draw: st.DrawFn, scope: str) -> str:
    literal = f'date("{draw(st.sampled_from(DATES)).isoformat()}")'
    if scope == "household":
        return literal
    return draw(st.sampled_from(("date_of_birth", "date_of_birth", "surveyed_on", literal)))


def boolean(draw: st.DrawFn, scope: str, depth: int) -> str:
    """A condition; at depth 0 only comparisons and leaves."""
    kinds = ["constant", "compare", "compare_dates", "place", "place_in"]
    if scope != "household":
        kinds += ["flag", "enum", "enum_in", "flags_equal", "age", "age"]
    kinds += ["exact_quotient"]
    if scope != "member":
        kinds += ["any"]
    if depth > 0:
        kinds += ["and", "or", "not", "not", "and", "or"]
    kind = draw(st.sampled_from(kinds))
    if kind == "constant":
        return draw(st.sampled_from(("true", "false")))
    if kind == "compare":
        op = draw(st.sampled_from(("==", "!=", "<", "<=", ">", ">=")))
        return f"{integer(draw, scope, depth)} {op} {integer(draw, scope, max(depth - 1, 0))}"
    if kind == "age":
        # The boundaries the population's birth dates sit on, so that a birthday off by one day shows.
        op = draw(st.sampled_from(("<", "<=", ">", ">=", "==")))
        return f"age(date_of_birth) {op} {draw(st.sampled_from(AGES))}"
    if kind == "exact_quotient":
        # True only when the division leaves no remainder: any division that is not integer division shows.
        dividend, by = integer(draw, scope, max(depth - 1, 0)), divisor(draw, scope, max(depth - 1, 0))
        return f"({dividend} / {by}) * {by} == {dividend}"
    if kind == "compare_dates":
        op = draw(st.sampled_from(("==", "!=", "<", ">=")))
        return f"{date_value(draw, scope)} {op} {date_value(draw, scope)}"
    if kind == "place":
        field = draw(st.sampled_from(("region_code", "municipality_code")))
        value = draw(st.sampled_from(("VE-A", "VE-B", "VE-A-01", "VE-B-02")))
        return f'{field} {draw(st.sampled_from(("==", "!=")))} "{value}"'
    if kind == "place_in":
        negated = draw(st.sampled_from(("in", "not in")))
        return f'municipality_code {negated} ["VE-A-01", "VE-B-01"]'
    if kind == "flag":
        return draw(st.sampled_from(("vehicle_owned", "disability")))
    if kind == "flags_equal":
        return f"vehicle_owned {draw(st.sampled_from(('==', '!=')))} {draw(st.sampled_from(('disability', 'true')))}"
    if kind == "enum":
        field, values = draw(st.sampled_from((("sex", ("F", "M", "X")), ("relationship", ("head", "child")))))
        return f'{field} {draw(st.sampled_from(("==", "!=")))} "{draw(st.sampled_from(values))}"'
    if kind == "enum_in":
        chosen = draw(st.lists(st.sampled_from(("employed", "unemployed", "informal")), min_size=1, max_size=3))
        quoted = ", ".join(f'"{v}"' for v in chosen)
        return f"employment_status {draw(st.sampled_from(('in', 'not in')))} [{quoted}]"
    if kind == "any":
        return f"any(members where {boolean(draw, 'member', depth - 1)})"
    if kind == "not":
        return f"not ({boolean(draw, scope, depth - 1)})"
    symbol = "and" if kind == "and" else "or"
    return f"({boolean(draw, scope, depth - 1)} {symbol} {boolean(draw, scope, depth - 1)})"


@st.composite
def rules(draw: st.DrawFn) -> CheckedRule:
    """A checked rule of either unit: one to three clauses joined by a top-level `or` or `and`."""
    unit = draw(st.sampled_from(("person", "household")))
    scope = unit
    clauses = [boolean(draw, scope, draw(st.integers(0, 2))) for _ in range(draw(st.integers(1, 3)))]
    text = f" {draw(st.sampled_from(('or', 'and')))}\n  ".join(clauses)
    return check_rule(text, unit=unit, purpose=PURPOSE, attributes=ATTRIBUTES)


REGION_FILTERS = st.sampled_from((None, None, None, ["VE-A"], ["VE-A-01"], ["VE-B", "VE-A-01"], []))


# Storage
def store(session: Session, households: list[dict[str, Any]], persons: list[dict[str, Any]]) -> None:
    """The population in three set-based inserts."""
    if households:
        session.execute(
            insert(Household.__table__),
            [h | {"version": 1, "created_at": NOW, "updated_at": NOW} for h in households],
        )
    if persons:
        session.execute(
            insert(Person.__table__),
            [
                {
                    "id": p["id"],
                    "given_names": "Ana",
                    "family_names": "Prueba",
                    "name_key": "prueba ana",
                    "date_of_birth": p["date_of_birth"],
                    "sex": p["sex"],
                    "region_code": p["region_code"],
                    "municipality_code": p["municipality_code"],
                    "household_id": p["household_id"],
                    "relationship": p["relationship"],
                    "fingerprint": p["id"].hex,
                    "version": 1,
                    "created_at": NOW,
                    "updated_at": NOW,
                }
                for p in persons
            ],
        )
    values = [
        {
            "person_id": p["id"],
            "name": name,
            "value_int": None,
            "value_bool": None,
            "value_text": None,
            "value_date": None,
            "recorded_at": NOW,
        }
        | {VALUE_COLUMNS[info.type]: p[name]}
        for p in persons
        for name, info in ATTRIBUTES.items()
        if p[name] is not None
    ]
    if values:
        session.execute(insert(PersonAttribute.__table__), values)


@pytest.fixture()
def date_attribute(session: Session) -> None:
    """Declare `surveyed_on` for the test's transaction only."""
    session.execute(
        insert(AttributeDefinition.__table__),
        [
            {
                "name": "surveyed_on",
                "type": "date",
                "sensitivity": "personal",
                "purposes": [PURPOSE],
                "retention_days": 365,
                "description": "When the household survey was made (test only).",
                "dictionary_version": 1,
                "retired": False,
            }
        ],
    )
    session.flush()


# Python's side
def units(rule: CheckedRule, households: list[dict[str, Any]], persons: list[dict[str, Any]], regions: Any) -> list:
    """(unit id, region code, subject, members) for every unit in scope, as the service would load them."""
    by_household: dict[uuid.UUID, list[dict[str, Any]]] = {h["id"]: [] for h in households}
    for p in persons:
        if p["household_id"] is not None:
            by_household[p["household_id"]].append(p)
    if rule.unit == "person":
        found = [(p, by_household[p["household_id"]] if p["household_id"] else [p]) for p in persons]
    else:
        found = [({"region_code": h["region_code"], "municipality_code": h["municipality_code"], "id": h["id"]},
                  by_household[h["id"]]) for h in households]  # fmt: skip
    return [
        (subject["id"], subject["region_code"], subject, members)
        for subject, members in found
        if regions is None or subject["region_code"] in regions or subject["municipality_code"] in regions
    ]


def assert_agrees(session: Session, rule: CheckedRule, households: list, persons: list, regions: Any) -> None:
    """eligible_units, clause_counts and units_in_scope say what evaluate and explain say, unit by unit."""
    expected = units(rule, households, persons, regions)
    rows = session.execute(eligible_units(rule, today=TODAY, regions=regions)).all()
    eligible = {
        unit_id: (region, len(members) if rule.unit == "household" else 1)
        for unit_id, region, subject, members in expected
        if evaluate(rule, subject=subject, members=members, today=TODAY) is True
    }
    assert {row.unit_id: (row.region_code, row.members) for row in rows} == eligible, rule.text

    explanations = [explain(rule, subject=s, members=m, today=TODAY) for _, _, s, m in expected]
    assert {u for (u, _, _, _), e in zip(expected, explanations, strict=True) if e.eligible} == set(eligible)
    per_clause = [sum(1 for e in explanations if e.clauses[i].result is True) for i in range(len(rule.clauses))]
    counted = session.execute(clause_counts(rule, today=TODAY, regions=regions)).one()
    assert list(counted) == [len(expected), *per_clause], rule.text

    in_scope = session.scalars(units_in_scope(rule, regions=regions)).all()
    assert in_scope == sorted(u for u, _, _, _ in expected)


class TestSqlAgreesWithPython:
    @settings(
        max_examples=60,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(population=populations(), rule=rules(), regions=REGION_FILTERS)
    def test_eligible_units_and_clause_counts(self, session, date_attribute, population, rule, regions):
        households, persons = population
        savepoint = session.begin_nested()
        try:
            store(session, households, persons)
            assert_agrees(session, rule, households, persons, regions)
        finally:
            savepoint.rollback()


def resident(household: dict | None, born: date, **values: Any) -> dict[str, Any]:
    """A person of the hand-made populations: every attribute missing unless given."""
    return {"id": uuid.uuid4(), "household_id": household["id"] if household else None, "date_of_birth": born,
            "sex": None, "relationship": None, "region_code": "VE-A", "municipality_code": None,
            **dict.fromkeys(ATTRIBUTES), **values}  # fmt: skip


class TestEdgesAgree:
    """Rules aimed at the places where SQL and Python could part: the same check, on chosen data."""

    @pytest.mark.parametrize(
        ("unit", "text"),
        [
            ("household", "sum(members.monthly_income) / count(members) == 3"),
            ("household", "(sum(members.monthly_income) / 2) * 2 == sum(members.monthly_income)"),
            ("household", "-sum(members.monthly_income) / 2 == -3"),
            ("household", "sum(members.monthly_income) / sum(members.children_in_school) > 0"),
            ("household", "count(members) == 0 or not any(members where vehicle_owned)"),
            ("household", "sum(members.monthly_income) == 0"),
            ("person", "monthly_income / children_in_school >= 0"),
            ("person", 'employment_status not in ["employed"]'),
            ("person", "vehicle_owned == disability"),
            ("person", "not (vehicle_owned or disability)"),
            ("person", "age(date_of_birth) == 3 or age(date_of_birth) == 18"),
            ("person", 'surveyed_on >= date("2026-01-01")'),
            ("person", "count(members where age(date_of_birth) < 18) >= 1 and count(members) > 1"),
        ],
    )
    def test_rule(self, session, date_attribute, unit, text):
        households = [{"id": uuid.uuid4(), "region_code": "VE-A", "municipality_code": None} for _ in range(4)]
        persons = [
            resident(households[0], date(1990, 5, 5), monthly_income=7, children_in_school=0, vehicle_owned=True),
            resident(households[0], date(TODAY.year - 18, TODAY.month, TODAY.day), monthly_income=None,
                     disability=False, employment_status="employed"),
            resident(households[1], date(2024, 2, 29), monthly_income=6, children_in_school=2, vehicle_owned=False),
            resident(households[1], date(TODAY.year - 18, TODAY.month, TODAY.day) + timedelta(days=1), disability=True,
                     surveyed_on=date(2026, 1, 1)),
            resident(None, date(1950, 1, 1), monthly_income=5, children_in_school=None, employment_status="retired"),
            resident(households[2], date(2000, 1, 1)),
        ]  # fmt: skip
        store(session, households, persons)
        rule = check_rule(text, unit=unit, purpose=PURPOSE, attributes=ATTRIBUTES)
        assert_agrees(session, rule, households, persons, None)


class TestAge:
    @pytest.mark.parametrize("today", [date(2027, 2, 28), date(2028, 2, 28), date(2028, 2, 29), date(2027, 3, 1)])
    def test_completed_years_as_python_counts_them(self, session, today):
        births = [date(2024, 2, 29), date(2009, 2, 28), date(2009, 3, 1), date(1962, 12, 31), date(2027, 1, 1),
                  today, today - timedelta(days=1), today + timedelta(days=1), date(1, 1, 1)]  # fmt: skip
        query = select(*(age_expression(literal(born, Date()), today) for born in births))
        assert list(session.execute(query).one()) == [age_on(born, today) for born in births]

    def test_a_29_february_birthday_comes_on_1_march(self):
        assert age_on(date(2024, 2, 29), date(2025, 2, 28)) == 0
        assert age_on(date(2024, 2, 29), date(2025, 3, 1)) == 1
        assert age_on(date(2024, 2, 29), date(2028, 2, 29)) == 4


class TestShippedShapes:
    """The four example programmes on a hand-made population, with the units each must select."""

    def test_each_selects_whom_it_should(self, session):
        hh = [{"id": uuid.uuid4(), "region_code": "VE-A", "municipality_code": None} for _ in range(3)]
        young, elder, adult = date(2024, 1, 1), date(1950, 1, 1), date(1990, 1, 1)

        def person(household, born, **values):
            base = {"id": uuid.uuid4(), "household_id": household["id"] if household else None,
                    "date_of_birth": born, "sex": "F", "relationship": None, "region_code": "VE-A",
                    "municipality_code": None} | dict.fromkeys(ATTRIBUTES)  # fmt: skip
            return base | values

        people = [
            person(hh[0], adult, monthly_income=90_000_000),  # rich household with a toddler
            person(hh[0], young),
            person(hh[1], adult, monthly_income=70_000_000, vehicle_owned=True),  # rich, nobody young or old
            person(hh[1], adult, monthly_income=None, disability=True),
            person(hh[2], elder, monthly_income=10_000_000),  # poor elder
            person(None, adult, monthly_income=20_000_000, vehicle_owned=True),  # alone, owns a vehicle
        ]
        store(session, hh, people)
        today = date(2026, 6, 1)
        attributes = {**ATTRIBUTES, "chronic_condition": AttributeInfo("chronic_condition", "boolean", None,
                                                                       frozenset({PURPOSE}))}  # fmt: skip
        cases = {
            ("household", "sum(members.monthly_income) < 60000000 or count(members where age(date_of_birth) < 5) > 0 "
             "or count(members where age(date_of_birth) > 65) > 0"): {hh[0]["id"], hh[2]["id"]},
            ("person", "vehicle_owned and monthly_income < 30000000"): {people[5]["id"]},
            ("household", "sum(members.monthly_income) / count(members) < 15000000"): {hh[2]["id"]},
            ("person", "disability or vehicle_owned"): {people[2]["id"], people[3]["id"], people[5]["id"]},
        }  # fmt: skip
        for (unit, text), expected in cases.items():
            rule = check_rule(text, unit=unit, purpose=PURPOSE, attributes=attributes)
            rows = session.execute(eligible_units(rule, today=today, regions=None)).all()
            assert {row.unit_id for row in rows} == expected, text
