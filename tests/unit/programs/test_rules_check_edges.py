"""The rule checker at its edges: whole problem lists, exact messages, number limits, folding, fingerprints."""

from __future__ import annotations

import dataclasses

import pytest

from carnet.programs.rules import RuleError
from carnet.programs.rules.check import _Checker, truncating_division
from carnet.programs.rules.nodes import Age, Members, Span
from tests.unit.programs.support import ATTRIBUTES, checked

BEYOND = "this number is beyond 9,223,372,036,854,775,807"
AT_MOST = "a number in a rule is at most 9,223,372,036,854,775,807"


def problems(text: str, *, unit: str = "person", purpose: str = "cash_transfer") -> list[tuple[str, int, int, str]]:
    """Every problem as (code, line, column, message), in text order."""
    with pytest.raises(RuleError) as caught:
        checked(text, unit=unit, purpose=purpose)
    return [(p.code, p.line, p.column, p.message) for p in caught.value.problems]


class TestNumberLimits:
    """Numbers are 64-bit: -9,223,372,036,854,775,808 to 9,223,372,036,854,775,807, written or computed."""

    @pytest.mark.parametrize("number", ["9223372036854775807", "-9223372036854775808", "0", "-1"])
    def test_the_largest_and_smallest_numbers_may_be_written(self, number):
        assert checked(f"monthly_income > {number}").tree.type == "boolean"

    @pytest.mark.parametrize("number", ["9223372036854775808", "-9223372036854775809"])
    def test_one_beyond_is_refused_where_it_is_written(self, number):
        assert problems(f"monthly_income > {number}") == [("rule_syntax", 1, 18, AT_MOST)]

    def test_a_number_too_large_is_the_only_problem_it_causes(self):
        # It has no type: the `and` beside it does not also complain that it is not a condition.
        assert problems("99999999999999999999 and vehicle_owned") == [("rule_syntax", 1, 1, AT_MOST)]

    @pytest.mark.parametrize(
        "expression",
        [
            "9223372036854775806 + 1",
            "-9223372036854775807 - 1",
            "-(9223372036854775807) - 1",
            "-9223372036854775807 / 1",
            "4611686018427387903 * 2 + 1",
        ],
    )
    def test_computed_numbers_within_the_limits_pass(self, expression):
        assert checked(f"monthly_income > {expression}").tree.type == "boolean"

    @pytest.mark.parametrize(
        ("expression", "column"),
        [
            ("9223372036854775807 + 1", 38),  # reported at the operator
            ("-9223372036854775808 - 1", 39),
            ("-(9223372036854775807) - 2", 41),  # a negated group is folded too
            ("-9223372036854775808 / -1", 39),  # the one division that overflows
            ("-9223372036854775808 / 1 - 1", 43),
        ],
    )
    def test_computed_numbers_beyond_the_limits_are_refused(self, expression, column):
        assert problems(f"monthly_income > {expression}") == [("rule_syntax", 1, column, BEYOND)]


class TestDivision:
    @pytest.mark.parametrize(
        ("a", "b", "quotient"),
        [(7, 2, 3), (-7, 2, -3), (7, -2, -3), (-7, -2, 3), (-1, 1, -1), (1, -1, -1), (0, -3, 0), (6, 3, 2)],
    )
    def test_integer_division_rounds_toward_zero(self, a, b, quotient):
        assert truncating_division(a, b) == quotient

    @pytest.mark.parametrize("divisor", ["(4 / 5)", "(-4 / 5)", "(4 / -5)", "(1 - 1)", "(0 * 7)", "-(0)"])
    def test_a_divisor_that_is_zero_once_computed_is_found(self, divisor):
        # 4 / 5 and -4 / 5 are 0 in SQL (toward zero), not 0 and -1 as Python's // would make them.
        assert problems(f"monthly_income / {divisor} > 1") == [("division_by_zero", 1, 18, "this divides by zero")]

    def test_a_divisor_that_divides_by_zero_itself_is_reported_once(self):
        assert problems("monthly_income / (5 / 0) > 1") == [("division_by_zero", 1, 23, "this divides by zero")]

    @pytest.mark.parametrize("divisor", ["(5 / 5)", "(-1 / 1)", "(9 / -4)", "(2 + 1)", "(3 - 1)"])
    def test_a_divisor_that_is_not_zero_passes(self, divisor):
        assert checked(f"monthly_income / {divisor} > 1").tree.type == "boolean"


class TestMessages:
    """What each message says a wrong operand is: its name and its kind."""

    @pytest.mark.parametrize(
        ("text", "expected"),
        [
            ("monthly_income and vehicle_owned", "this is monthly_income, a number"),
            ("sex and true", "this is sex, a value from a list"),
            ("region_code and true", "this is region_code, a text"),
            ("date_of_birth and true", "this is date_of_birth, a date"),
            ('"x" and true', "this is a string"),
            ('date("2026-01-01") and true', "this is a date"),
            ("age(date_of_birth) and true", "this is a number"),
            ("1 and true", "this is a number"),
        ],
    )
    def test_a_condition_that_is_not_one(self, text, expected):
        assert problems(text) == [
            ("type_mismatch", 1, 1, f"`and` works on conditions that are true or false; {expected}")
        ]

    def test_the_other_operand_messages(self):
        assert problems("monthly_income + vehicle_owned > 1")[0][3] == (
            "+ works on numbers; this is vehicle_owned, true or false"
        )
        assert problems("date_of_birth > 5")[0][3] == "cannot compare date_of_birth, a date with a number"
        assert problems('sex < "M"')[0][3] == "< orders numbers and dates, not sex, a value from a list"
        assert problems("age(monthly_income) > 5")[0][3] == "age takes a date; this is monthly_income, a number"
        assert problems("monthly_income in [1, true]")[0][3] == (
            "the list holds true or false but is matched against monthly_income, a number"
        )
        assert problems("monthly_income")[0][3] == "a rule must be true or false; this is monthly_income, a number"

    def test_members_and_the_other_words_of_the_language(self):
        assert problems("members > 1") == [
            ("rule_syntax", 1, 1, "members can only be used inside count(...), sum(...) or any(...)")
        ]
        assert problems("where > 1") == [
            ("rule_syntax", 1, 1, "'where' is a word of the language and cannot stand here")
        ]
        assert problems("in > 1") == [("rule_syntax", 1, 1, "'in' is a word of the language and cannot stand here")]

    def test_a_near_miss_is_suggested_once_and_a_far_one_not_at_all(self):
        assert problems("monthly_incme > 5")[0][3] == (
            "'monthly_incme' is not a declared attribute; did you mean monthly_income?"
        )
        assert problems("zzzzqqq > 5")[0][3] == "'zzzzqqq' is not a declared attribute"
        # Close to both municipality_code and region_code: only the closest is named.
        assert (
            problems("city_code > 5")[0][3]
            == "'city_code' is not a declared attribute; did you mean municipality_code?"
        )


class TestOneProblemEach:
    """A part that has a problem has no type, so nothing around it reports a second problem about it."""

    def test_a_forbidden_purpose(self):
        assert problems("chronic_condition + 1 > 5", purpose="food_assistance") == [
            (
                "purpose_not_allowed",
                1,
                1,
                "'chronic_condition' may not be used for food_assistance; the dictionary allows it for health_care",
            )
        ]

    def test_a_household_field_that_needs_an_aggregate(self):
        assert [p[:3] for p in problems("vehicle_owned + 1 > 0", unit="household")] == [("needs_aggregate", 1, 1)]

    def test_an_undeclared_name_in_a_list_match(self):
        assert [p[:3] for p in problems("salary in [1, 2]")] == [("undeclared_attribute", 1, 1)]
        assert [p[:3] for p in problems("salary in []")] == [("undeclared_attribute", 1, 1), ("rule_syntax", 1, 11)]

    def test_an_empty_list(self):
        assert [p[:3] for p in problems("monthly_income in []")] == [("rule_syntax", 1, 19)]

    def test_an_unknown_function_checks_its_other_arguments_but_not_members(self):
        assert [p[:3] for p in problems("avg(members.monthly_income) > 5")] == [("unknown_function", 1, 1)]
        assert [p[:3] for p in problems("avg(members where salary) > 5")] == [("unknown_function", 1, 1)]
        assert [p[:3] for p in problems("foo(salary, members) > 1")] == [
            ("unknown_function", 1, 1),
            ("undeclared_attribute", 1, 5),
        ]

    @pytest.mark.parametrize("arguments", ["", "members", "members where vehicle_owned", "date_of_birth, 5"])
    def test_age_with_anything_but_one_date(self, arguments):
        assert problems(f"age({arguments}) > 5") == [("type_mismatch", 1, 1, "age takes one date: age(date_of_birth)")]

    def test_an_aggregate_inside_members_where(self):
        message = "{}(...) cannot be used inside `members where`; compare aggregates at the top level"
        assert problems("count(members where count(members)) > 0") == [
            ("nested_aggregate", 1, 21, message.format("count"))
        ]
        assert problems("count(members where sum(members) > 1) > 0") == [
            ("nested_aggregate", 1, 21, message.format("sum"))
        ]

    def test_a_keyword_is_not_also_undeclared(self):
        assert [p[:3] for p in problems("members > 1 or where")] == [("rule_syntax", 1, 1), ("rule_syntax", 1, 16)]


class TestEnumValues:
    def test_enums_compared_with_names_are_not_checked_for_values(self):
        for text in ("sex == relationship", "relationship != sex", "sex == region_code", '"X" == "Y"'):
            assert checked(text).tree.type == "boolean"

    def test_a_string_is_checked_against_the_enum_on_either_side(self):
        assert [p[0] for p in problems('"boss" == relationship')] == ["unknown_enum_value"]
        assert checked('"head" == relationship').tree.type == "boolean"


class TestTheCheckedRule:
    def test_the_fingerprint_is_stable_across_releases(self):
        # Stored with every programme version and in the audit log: the canonical form must not drift.
        assert checked("vehicle_owned and monthly_income < 30000000").fingerprint == (
            "0665c6e8052f87e7ea7ac6d4525c22130c6fb613409b6a7315e40141774362bc"
        )
        assert checked("count(members where age(date_of_birth) < 5) > 0", unit="household").fingerprint == (
            "4770718ec9cbf3b8a78287d48bd3b8df55084097728bf1bd695729890b04e79c"
        )

    def test_clause_texts_end_where_the_clause_ends(self):
        rule = checked("vehicle_owned and(disability or monthly_income<9)and monthly_income<5")
        assert [c.text for c in rule.clauses] == [
            "vehicle_owned",
            "(disability or monthly_income<9)",
            "monthly_income<5",
        ]
        assert [rule.source(c.node) for c in rule.clauses] == [c.text for c in rule.clauses]

    def test_a_checked_rule_and_its_clauses_cannot_be_altered(self):
        rule = checked("vehicle_owned or disability")
        with pytest.raises(dataclasses.FrozenInstanceError):
            rule.purpose = "health_care"  # type: ignore[misc]
        with pytest.raises(dataclasses.FrozenInstanceError):
            rule.clauses[0].text = "true"  # type: ignore[misc]

    def test_a_checked_rule_can_be_kept_in_a_set(self):
        # It holds dicts (infos), so it is hashed and compared as itself; rules are told apart by fingerprint.
        rule = checked("vehicle_owned")
        assert len({rule, rule}) == 1
        assert rule != checked("vehicle_owned") and rule.fingerprint == checked("vehicle_owned").fingerprint


class TestTreesTheGrammarDoesNotMake:
    """The checker does not rely on the grammar alone: members outside an aggregate, or a node it does not know."""

    SPAN = Span(line=1, column=3, start=2, end=9)

    def checker(self) -> _Checker:
        return _Checker(unit="person", purpose="cash_transfer", attributes=ATTRIBUTES)

    def test_members_outside_an_aggregate(self):
        checker = self.checker()
        typed = checker.check(Members(span=self.SPAN, at=(1, 3)), scope="unit")
        assert typed.type is None and isinstance(typed, Members)
        assert [(p.code, p.line, p.column) for p in checker.problems] == [("rule_syntax", 1, 3)]

    def test_a_node_it_does_not_know(self):
        age = Age(Members(span=self.SPAN, at=(1, 3)), span=self.SPAN, at=(1, 3))
        with pytest.raises(TypeError, match="unexpected node Age"):
            self.checker().check(age, scope="unit")
