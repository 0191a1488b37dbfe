"""Checking a rule when a programme is defined: every problem with its code, line and column."""

from __future__ import annotations

import pytest

from carnet.kit.errors import AppError
from carnet.programs.rules import RuleError, check_rule, parse_rule
from carnet.programs.rules.grammar import MAX_CHARACTERS
from carnet.programs.rules.nodes import canonical
from tests.unit.programs.support import ATTRIBUTES, CASH, FOOD_BOX, FUEL, HEALTH, checked


def problems(text: str, *, unit: str = "person", purpose: str = "cash_transfer") -> list[tuple[str, str]]:
    """(code, "line L, column C") of every problem, in text order."""
    with pytest.raises(RuleError) as caught:
        checked(text, unit=unit, purpose=purpose)
    return [(e.code, e.record) for e in caught.value.errors]


class TestShippedProgrammes:
    @pytest.mark.parametrize(
        ("text", "unit", "purpose", "attributes", "clauses"),
        [
            (FOOD_BOX, "household", "food_assistance", {"monthly_income"}, 3),
            (FUEL, "person", "fuel_subsidy", {"vehicle_owned", "monthly_income"}, 2),
            (CASH, "household", "cash_transfer", {"monthly_income"}, 1),
            (HEALTH, "person", "health_care", {"chronic_condition", "disability"}, 2),
        ],
    )
    def test_each_shape_checks(self, text, unit, purpose, attributes, clauses):
        rule = check_rule(text, unit=unit, purpose=purpose, attributes=ATTRIBUTES)
        assert rule.attributes == attributes
        assert len(rule.clauses) == clauses
        assert rule.tree.type == "boolean"

    def test_food_box_clauses_are_its_written_parts(self):
        rule = checked(FOOD_BOX.replace(" or ", "\n  or "), unit="household", purpose="food_assistance")
        assert [c.text for c in rule.clauses] == [
            "sum(members.monthly_income) < 60000000",
            "count(members where age(date_of_birth) < 5) > 0",
            "count(members where age(date_of_birth) > 65) > 0",
        ]
        assert rule.reads == ("date_of_birth", "monthly_income")
        assert rule.core == {"date_of_birth"}


class TestPurposeBinding:
    def test_food_programme_cannot_read_chronic_condition(self):
        assert problems("monthly_income < 5 or chronic_condition", purpose="food_assistance") == [
            ("purpose_not_allowed", "line 1, column 23")
        ]

    def test_health_programme_can(self):
        assert checked("chronic_condition", purpose="health_care").attributes == {"chronic_condition"}

    def test_core_fields_need_no_purpose(self):
        rule = checked('sex == "F" and age(date_of_birth) >= 18 and region_code == "VE-A"', purpose="fuel_subsidy")
        assert rule.attributes == frozenset()
        assert rule.core == {"sex", "date_of_birth", "region_code"}

    def test_the_message_names_the_allowed_purposes(self):
        with pytest.raises(RuleError) as caught:
            checked("disability", purpose="food_assistance")
        assert "cash_transfer, health_care" in caught.value.errors[0].message


class TestErrorsAndTheirPlace:
    @pytest.mark.parametrize(
        ("text", "code", "where"),
        [
            ("monthly_income <", "rule_syntax", "line 1, column 17"),
            ("monthly_income = 5", "rule_syntax", "line 1, column 16"),
            ("vehicle_owned and\n  monthly_income < < 5", "rule_syntax", "line 2, column 20"),
            ("monthly_income < 5 <= 6", "rule_syntax", "line 1, column 20"),
            ("(vehicle_owned", "rule_syntax", "line 1, column 15"),
            ("members > 1", "rule_syntax", "line 1, column 1"),
            ("vehicle_owned == and", "rule_syntax", "line 1, column 18"),
            ("employment_status in []", "rule_syntax", "line 1, column 22"),
            ('date_of_birth < date("2026-02-30")', "rule_syntax", "line 1, column 22"),
            ('date_of_birth < date("1/2/2026")', "rule_syntax", "line 1, column 22"),
            ("monthly_income < 99999999999999999999", "rule_syntax", "line 1, column 18"),
            ("monthly_income < 9223372036854775807 * 2", "rule_syntax", "line 1, column 38"),
            ("employment_status == 'retired'", "rule_syntax", "line 1, column 22"),
            ("vehicle_owned and\n   salary > 5", "undeclared_attribute", "line 2, column 4"),
            ("Monthly_income > 5", "undeclared_attribute", "line 1, column 1"),
            ("date_of_birth > 5", "type_mismatch", "line 1, column 15"),
            ("monthly_income and vehicle_owned", "type_mismatch", "line 1, column 1"),
            ("vehicle_owned or not monthly_income", "type_mismatch", "line 1, column 22"),
            ("vehicle_owned < true", "type_mismatch", "line 1, column 15"),
            ('sex < "M"', "type_mismatch", "line 1, column 5"),
            ("monthly_income + vehicle_owned > 1", "type_mismatch", "line 1, column 18"),
            ("sum(members.vehicle_owned) > 0", "type_mismatch", "line 1, column 13"),
            ("monthly_income in [1, true]", "type_mismatch", "line 1, column 23"),
            ("monthly_income", "type_mismatch", "line 1, column 1"),
            ("age(monthly_income) > 5", "type_mismatch", "line 1, column 5"),
            ("age(date_of_birth, date_of_birth) > 5", "type_mismatch", "line 1, column 1"),
            ("count(members.monthly_income) > 5", "type_mismatch", "line 1, column 1"),
            ("sum(members) > 5", "type_mismatch", "line 1, column 1"),
            ("any(members)", "type_mismatch", "line 1, column 1"),
            ("count(monthly_income) > 5", "type_mismatch", "line 1, column 1"),
            ("count(members where monthly_income) > 0", "type_mismatch", "line 1, column 21"),
            ('employment_status == "jobless"', "unknown_enum_value", "line 1, column 22"),
            ('relationship in ["head", "boss"]', "unknown_enum_value", "line 1, column 26"),
            ('"X" != sex and sex != "Q"', "unknown_enum_value", "line 1, column 23"),
            ("monthly_income / 0 > 1", "division_by_zero", "line 1, column 18"),
            ("monthly_income / (2 - 2) > 1", "division_by_zero", "line 1, column 18"),
            ("monthly_income / -0 > 1", "division_by_zero", "line 1, column 18"),
            ("avg(members.monthly_income) > 5", "unknown_function", "line 1, column 1"),
            ("count(members where count(members) > 1) > 0", "nested_aggregate", "line 1, column 21"),
        ],
    )
    def test_code_line_and_column(self, text, code, where):
        assert problems(text)[:1] == [(code, where)]

    def test_household_rule_needs_aggregates(self):
        assert problems("monthly_income < 5 and count(members) > 2", unit="household") == [
            ("needs_aggregate", "line 1, column 1")
        ]
        with pytest.raises(RuleError) as caught:
            checked("vehicle_owned", unit="household")
        assert "count(members where" in caught.value.errors[0].message
        assert "sum(members." in caught.value.errors[0].message

    def test_household_rule_reads_its_own_region(self):
        rule = checked('region_code == "VE-A" and count(members where vehicle_owned) > 0', unit="household")
        assert rule.core == {"region_code"}

    def test_every_problem_is_reported_in_text_order(self):
        text = 'salary > 5 and\ndate_of_birth > 5 and employment_status == "jobless" and x / 0 > foo(1)'
        assert problems(text) == [
            ("undeclared_attribute", "line 1, column 1"),
            ("type_mismatch", "line 2, column 15"),
            ("unknown_enum_value", "line 2, column 44"),
            ("undeclared_attribute", "line 2, column 58"),
            ("division_by_zero", "line 2, column 62"),
            ("unknown_function", "line 2, column 66"),
        ]

    def test_the_error_is_an_app_error_with_the_first_place(self):
        with pytest.raises(RuleError) as caught:
            checked("vehicle_owned and\n  salary > 5")
        error = caught.value
        assert isinstance(error, AppError) and error.status == 422 and error.code == "invalid_rule"
        assert (error.line, error.column) == (2, 3)
        assert error.errors[0].field == "rule"
        assert error.errors[0].message == "'salary' is not a declared attribute"
        assert error.extra == {"line": 2, "column": 3}

    def test_a_near_miss_is_suggested(self):
        with pytest.raises(RuleError) as caught:
            checked("monthly_incme > 5")
        assert caught.value.errors[0].message.endswith("did you mean monthly_income?")


class TestLimits:
    def test_too_many_characters(self):
        text = "vehicle_owned " + " " * MAX_CHARACTERS
        assert problems(text) == [("rule_too_long", "line 1, column 4001")]

    def test_too_many_nodes(self):
        # 101 literals and 100 `or`: the 201st node, in reading order, is the last literal.
        assert problems(" or ".join(["true"] * 101)) == [("rule_too_long", "line 1, column 801")]
        assert checked(" or ".join(["true"] * 100)).clauses

    def test_deep_nesting_within_the_limit_does_not_exhaust_the_stack(self):
        assert checked("(" * 1900 + "true" + ")" * 1900).tree.type == "boolean"
        assert problems("not " * 500 + "true") == [("rule_too_long", "line 1, column 801")]


class TestWords:
    def test_names_may_begin_with_a_keyword(self):
        assert problems("order_total > 1 or android") == [
            ("undeclared_attribute", "line 1, column 1"),
            ("undeclared_attribute", "line 1, column 20"),
        ]

    def test_comments_and_line_breaks_are_ignored(self):
        rule = checked("# poor households\nmonthly_income < 5  # per month\n  or vehicle_owned")
        assert [c.text for c in rule.clauses] == ["monthly_income < 5", "vehicle_owned"]

    def test_underscores_in_numbers(self):
        assert checked("monthly_income < 1_000_000").fingerprint == checked("monthly_income < 1000000").fingerprint

    def test_unit_must_be_known(self):
        with pytest.raises(ValueError):
            check_rule("true", unit="village", purpose="cash_transfer", attributes=ATTRIBUTES)


class TestFingerprint:
    def test_spacing_comments_and_redundant_parentheses_do_not_change_it(self):
        first = checked("vehicle_owned and monthly_income < 30000000")
        second = checked("(vehicle_owned)\n  and (monthly_income<30_000_000) # fuel")
        assert first.fingerprint == second.fingerprint
        assert len(first.fingerprint) == 64

    def test_meaning_changes_it(self):
        fingerprints = {
            checked("vehicle_owned and monthly_income < 30000000").fingerprint,
            checked("vehicle_owned and monthly_income <= 30000000").fingerprint,
            checked("monthly_income < 30000000 and vehicle_owned").fingerprint,
            checked("count(members where vehicle_owned) > 0", unit="person").fingerprint,
            checked("count(members where vehicle_owned) > 0", unit="household").fingerprint,
            checked('employment_status == "retired"').fingerprint,
        }
        assert len(fingerprints) == 6


class TestPrecedence:
    @pytest.mark.parametrize(
        ("text", "same_as"),
        [
            ("not vehicle_owned or disability and pregnant", "(not vehicle_owned) or (disability and pregnant)"),
            ("not monthly_income > 5", "not (monthly_income > 5)"),
            ("monthly_income + 2 * 3 > 1", "monthly_income + (2 * 3) > 1"),
            ("monthly_income - 2 - 3 > 1", "(monthly_income - 2) - 3 > 1"),
            ("monthly_income / 2 * 3 > 1", "(monthly_income / 2) * 3 > 1"),
            ("-monthly_income * 2 > 1", "(-monthly_income) * 2 > 1"),
            ("vehicle_owned or disability or pregnant", "(vehicle_owned or disability) or pregnant"),
        ],
    )
    def test_grouping(self, text, same_as):
        assert canonical(parse_rule(text)) == canonical(parse_rule(same_as))

    def test_clauses_split_the_outermost_or_not_an_inner_and(self):
        rule = checked(
            'vehicle_owned and disability or monthly_income < 5 or (disability or dwelling_type == "rancho")'
        )
        assert [c.text for c in rule.clauses] == [
            "vehicle_owned and disability",
            "monthly_income < 5",
            '(disability or dwelling_type == "rancho")',
        ]

    def test_clauses_split_the_outermost_and_without_or(self):
        rule = checked("vehicle_owned and (disability or monthly_income < 9) and not monthly_income > 5")
        assert [c.text for c in rule.clauses] == [
            "vehicle_owned",
            "(disability or monthly_income < 9)",
            "not monthly_income > 5",
        ]

    def test_a_rule_without_and_or_or_is_one_clause(self):
        assert [c.text for c in checked("not (vehicle_owned or disability)").clauses] == [
            "not (vehicle_owned or disability)"
        ]


class TestDateLiterals:
    """date("...") takes exactly YYYY-MM-DD: nothing that fromisoformat would also read."""

    @pytest.mark.parametrize(
        "written",
        ["2026-01-01", "1900-02-28", "2024-02-29", "0001-01-01", "9999-12-31"],
    )
    def test_a_real_date_is_taken(self, written):
        assert checked(f'date_of_birth < date("{written}")').core == {"date_of_birth"}

    @pytest.mark.parametrize(
        "written",
        [
            "20260101",  # ISO basic format: fromisoformat takes it
            "2026-W01-1",  # ISO week date: fromisoformat takes it too
            "2026-W011",
            "2026-001",  # ordinal date
            "2026-1-01",
            "2026-01-1",
            "26-01-01",
            "2026/01/01",
            "01/01/2026",
            "2026-01-01T00:00",
            "2026-01-01 ",
            " 2026-01-01",
            "2026-13-01",
            "2026-00-10",
            "2026-02-30",
            "2023-02-29",
            "٢٠٢٦-٠١-٠١",  # Arabic-Indic digits
            "２０２６-０１-０１",  # full-width digits
            "",
        ],
    )
    def test_anything_else_is_refused_at_its_place(self, written):
        assert problems(f'date_of_birth < date("{written}")') == [("rule_syntax", "line 1, column 22")]

    def test_the_message_says_how_to_write_it(self):
        with pytest.raises(RuleError) as caught:
            checked('date_of_birth < date("20260101")')
        assert caught.value.errors[0].message == '"20260101" is not a date; write date("YYYY-MM-DD")'
