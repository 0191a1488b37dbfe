"""Evaluating a checked rule for one unit in Python, exactly as the SQL does, and explaining it (pure).

Unknown is None, as NULL is in SQL: a missing value makes a comparison unknown; `and`, `or` and `not`
follow Kleene's logic; `x in [...]` with x unknown is unknown; a zero divisor gives unknown. A unit is
eligible only when its rule is true.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from carnet.programs.rules.check import CheckedRule, truncating_division
from carnet.programs.rules.nodes import (
    Age,
    Aggregate,
    Arithmetic,
    Compare,
    Literal,
    Logic,
    Membership,
    Name,
    Negative,
    Node,
    Not,
)

Row = Mapping[str, Any]
COMPARISONS: dict[str, Callable[[Any, Any], bool]] = {
    "==": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
}


@dataclass(frozen=True)
class ClauseResult:
    """One clause of an explanation: its text, its value and the values it read."""

    text: str
    result: bool | None
    values: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Explanation:
    """Why a unit is or is not eligible: the rule's value and each clause's."""

    result: bool | None
    clauses: list[ClauseResult]

    @property
    def eligible(self) -> bool:
        """Only a true rule makes a unit eligible; false and unknown do not."""
        return self.result is True


def age_on(born: date | None, today: date) -> int | None:
    """Completed years on `today`: a birthday today counts.

    Someone born on 29 February has a birthday on 1 March in other years: the comparison is of
    (month, day) pairs, the same one the SQL makes, so (2, 28) is still before (2, 29).
    """
    if born is None:
        return None
    return today.year - born.year - ((today.month, today.day) < (born.month, born.day))


def evaluate(rule: CheckedRule, *, subject: Row, members: Sequence[Row], today: date) -> bool | None:
    """The rule's value for one unit: True, False or None (unknown); only True means eligible."""
    return _Evaluation(rule, subject, members, today).value(rule.tree, subject)  # type: ignore[return-value]


def explain(rule: CheckedRule, *, subject: Row, members: Sequence[Row], today: date) -> Explanation:
    """The rule's value for one unit, with each top-level clause's value and the unit's values it read.

    Members' own values never appear: an aggregate is shown by its value alone, so that one person's
    explanation does not disclose the rest of the household's data.
    """
    evaluation = _Evaluation(rule, subject, members, today)
    result = evaluation.value(rule.tree, subject)
    clauses = []
    for clause in rule.clauses:
        evaluation.seen = {}
        clause_result = evaluation.value(clause.node, subject)
        clauses.append(ClauseResult(text=clause.text, result=clause_result, values=evaluation.seen))
    return Explanation(result=result, clauses=clauses)


class _Evaluation:
    def __init__(self, rule: CheckedRule, subject: Row, members: Sequence[Row], today: date) -> None:
        self.rule = rule
        self.subject = subject
        # A person without a household is a household of one; a household may have nobody left in it.
        self.members = list(members) if members or rule.unit == "household" else [subject]
        self.today = today
        self.seen: dict[str, Any] = {}
        self.inside_members = False

    def value(self, node: Node, row: Row) -> Any:
        match node:
            case Literal(value=value):
                return value
            case Name(name=name):
                found = row.get(name)
                if not self.inside_members:
                    self.seen[name] = found
                return found
            case Logic(op="and", left=left, right=right):
                return _and(self.value(left, row), self.value(right, row))
            case Logic(op="or", left=left, right=right):
                return _or(self.value(left, row), self.value(right, row))
            case Not(operand=operand):
                found = self.value(operand, row)
                return None if found is None else not found
            case Compare(op=op, left=left, right=right):
                a, b = self.value(left, row), self.value(right, row)
                return None if a is None or b is None else COMPARISONS[op](a, b)
            case Membership(negated=negated, left=left, options=options):
                found = self.value(left, row)
                if found is None:
                    return None
                return (found in {item.value for item in options.items}) != negated
            case Arithmetic(op=op, left=left, right=right):
                return _arithmetic(op, self.value(left, row), self.value(right, row))
            case Negative(operand=operand):
                found = self.value(operand, row)
                return None if found is None else -found
            case Age(operand=operand):
                found = age_on(self.value(operand, row), self.today)
                if not self.inside_members:
                    self.seen[self.rule.source(node)] = found
                return found
            case Aggregate():
                found = self._aggregate(node)
                self.seen[self.rule.source(node)] = found
                return found
        raise TypeError(f"unexpected node {type(node).__name__}")  # pragma: no cover - the checker makes no other

    def _aggregate(self, node: Aggregate) -> Any:
        if node.function == "sum":
            assert node.attribute is not None
            # As SQL's SUM: missing values are skipped, and with no value at all the sum is unknown.
            values = [m.get(node.attribute) for m in self.members]
            present = [v for v in values if v is not None]
            return sum(present) if present else None
        if node.where is None:
            return len(self.members)
        # As count(CASE WHEN cond THEN 1 END): a member counts only when the condition is true.
        self.inside_members = True
        try:
            matched = sum(1 for m in self.members if self.value(node.where, m) is True)
        finally:
            self.inside_members = False
        return matched > 0 if node.function == "any" else matched


def _and(a: bool | None, b: bool | None) -> bool | None:
    if a is False or b is False:
        return False
    return None if a is None or b is None else True


def _or(a: bool | None, b: bool | None) -> bool | None:
    if a is True or b is True:
        return True
    return None if a is None or b is None else False


def _arithmetic(op: str, a: int | None, b: int | None) -> int | None:
    if a is None or b is None:
        return None
    if op == "+":
        return a + b
    if op == "-":
        return a - b
    if op == "*":
        return a * b
    return None if b == 0 else truncating_division(a, b)
