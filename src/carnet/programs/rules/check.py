"""Checking a rule when its programme is defined: names, purposes, types; every problem with its place (pure)."""

from __future__ import annotations

import difflib
import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import date

from carnet.programs.rules.errors import RuleError, RuleProblem
from carnet.programs.rules.fields import HOUSEHOLD_FIELDS, AttributeInfo, core_fields
from carnet.programs.rules.grammar import KEYWORDS, parse_rule
from carnet.programs.rules.nodes import (
    Age,
    Aggregate,
    Arithmetic,
    Call,
    Compare,
    Literal,
    Logic,
    Members,
    Membership,
    Name,
    Negative,
    Node,
    Not,
    canonical,
)

UNITS = ("person", "household")
FUNCTIONS = ("age", "count", "sum", "any")
ORDERED = ("<", "<=", ">", ">=")
INT64 = 2**63
DATE_LITERAL = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
# Which values can be compared with which: an enum, a text field and a string literal are all text.
FAMILIES = {"integer": "number", "date": "date", "boolean": "boolean", "enum": "text", "text": "text", "string": "text"}
DESCRIPTIONS = {
    "integer": "a number",
    "date": "a date",
    "boolean": "true or false",
    "enum": "a value from a list",
    "text": "a text",
    "string": "a string",
}


@dataclass(frozen=True)
class Clause:
    """One top-level part of a rule, as written, counted and explained on its own."""

    text: str
    node: Node


@dataclass(frozen=True, eq=False)
class CheckedRule:
    """A rule that checked: its typed tree, what it reads, its clauses and its fingerprint."""

    text: str
    unit: str  # person | household
    purpose: str
    tree: Node
    attributes: frozenset[str]  # declared attributes it reads: what an access record names
    core: frozenset[str]  # core fields it reads
    infos: Mapping[str, AttributeInfo]  # every name it reads, with its type
    clauses: tuple[Clause, ...]
    fingerprint: str  # sha256 of the unit and the tree without positions or spacing

    @property
    def reads(self) -> tuple[str, ...]:
        """Every name the rule reads, core fields and declared attributes, sorted."""
        return tuple(sorted(self.attributes | self.core))

    def source(self, node: Node) -> str:
        """The text a node was written as, on one line."""
        return source_text(self.text, node)


def source_text(text: str, node: Node) -> str:
    """The text of `node` in `text`, its line breaks and indentation folded to single spaces."""
    written = text[node.span.start : node.span.end]
    # Strings cannot span lines, so folding whitespace around line breaks never changes a value.
    return " ".join(part.strip() for part in written.splitlines() if part.strip())


def check_rule(text: str, *, unit: str, purpose: str, attributes: Mapping[str, AttributeInfo]) -> CheckedRule:
    """The checked rule, or RuleError listing every problem found with its code, line and column."""
    if unit not in UNITS:
        raise ValueError(f"unit is person or household, not {unit!r}")
    tree = parse_rule(text)
    checker = _Checker(unit=unit, purpose=purpose, attributes=attributes)
    typed = checker.check(tree, scope="unit")
    if typed.type is not None and typed.type != "boolean":
        checker.problem(
            _start(typed), code="type_mismatch", message=f"a rule must be true or false; this is {_describe(typed)}"
        )
    if checker.problems:
        raise RuleError(checker.problems)
    document = json.dumps({"unit": unit, "rule": canonical(typed)}, sort_keys=True, separators=(",", ":"))
    return CheckedRule(
        text=text,
        unit=unit,
        purpose=purpose,
        tree=typed,
        attributes=frozenset(checker.read_attributes),
        core=frozenset(checker.read_core),
        infos=dict(sorted(checker.infos.items())),
        clauses=tuple(Clause(source_text(text, node), node) for node in split_clauses(typed)),
        fingerprint=hashlib.sha256(document.encode()).hexdigest(),
    )


def split_clauses(tree: Node) -> list[Node]:
    """The operands of the outermost `or` chain, or else of the outermost `and` chain, or else the whole rule."""
    if not isinstance(tree, Logic):
        return [tree]
    op = tree.op
    out: list[Node] = []
    stack: list[Node] = [tree]
    while stack:
        node = stack.pop()
        # A chain written in parentheses stays one clause: the officer grouped it on purpose.
        if isinstance(node, Logic) and node.op == op and (node is tree or not node.grouped):
            stack.extend((node.right, node.left))
        else:
            out.append(node)
    return out


def _start(node: Node) -> tuple[int, int]:
    # Where an operand that is wrong as a whole begins (its `at` may be an operator inside it).
    return node.span.line, node.span.column


def _describe(node: Node) -> str:
    kind = DESCRIPTIONS.get(node.type or "", "a value")
    return f"{node.name}, {kind}" if isinstance(node, Name) else kind


def constant_value(node: Node) -> int | None:
    """The value of an integer expression made of literals only (None when it reads anything or divides by zero)."""
    match node:
        case Literal(value=int() as value) if node.type == "integer":
            return value
        case Negative(operand=operand):
            value = constant_value(operand)
            return None if value is None else -value
        case Arithmetic(op=op, left=left, right=right):
            a, b = constant_value(left), constant_value(right)
            if a is None or b is None:
                return None
            if op == "/":
                return None if b == 0 else truncating_division(a, b)
            return a + b if op == "+" else a - b if op == "-" else a * b
    return None


def truncating_division(a: int, b: int) -> int:
    """a / b rounded toward zero, as SQL divides integers (Python's // rounds toward minus infinity)."""
    quotient = abs(a) // abs(b)
    return quotient if (a < 0) == (b < 0) else -quotient


class _Checker:
    """One pass over the tree: a typed copy of it, the names it reads, every problem."""

    def __init__(self, *, unit: str, purpose: str, attributes: Mapping[str, AttributeInfo]) -> None:
        self.unit = unit
        self.purpose = purpose
        self.attributes = attributes
        self.core = core_fields()
        self.problems: list[RuleProblem] = []
        self.read_attributes: set[str] = set()
        self.read_core: set[str] = set()
        self.infos: dict[str, AttributeInfo] = {}

    def problem(self, at: tuple[int, int], *, code: str, message: str) -> None:
        self.problems.append(RuleProblem(code=code, message=message, line=at[0], column=at[1]))

    def check(self, node: Node, *, scope: str) -> Node:
        """A typed copy of `node`; a node whose type cannot be known (it has a problem) gets type None."""
        match node:
            case Literal():
                return self._literal(node)
            case Name():
                return self._name(node, scope=scope)
            case Compare():
                return self._compare(node, scope=scope)
            case Membership():
                return self._membership(node, scope=scope)
            case Logic(left=left, right=right):
                return replace(
                    node,
                    left=self._condition(left, scope, node.op),
                    right=self._condition(right, scope, node.op),
                    type="boolean",
                )
            case Not(operand=operand):
                return replace(node, operand=self._condition(operand, scope, "not"), type="boolean")
            case Arithmetic():
                return self._arithmetic(node, scope=scope)
            case Negative(operand=operand):
                return replace(node, operand=self._number(operand, scope, "-"), type="integer")
            case Call():
                return self._call(node, scope=scope)
            case Members():
                self.problem(
                    node.at,
                    code="rule_syntax",
                    message="members can only be used inside count(...), sum(...) or any(...)",
                )
                return replace(node, type=None)
        raise TypeError(f"unexpected node {type(node).__name__}")  # pragma: no cover - the grammar makes no other

    # Leaves
    def _literal(self, node: Literal) -> Node:
        if node.type == "integer" and not -INT64 <= node.value < INT64:  # type: ignore[operator]
            self.problem(node.at, code="rule_syntax", message="a number in a rule is at most 9,223,372,036,854,775,807")
            return replace(node, type=None)
        if node.type == "date" and isinstance(node.value, str):
            written = node.value
            try:
                # Strictly YYYY-MM-DD: fromisoformat alone also takes "20260101" and the week date "2026-W01-1".
                if not DATE_LITERAL.fullmatch(written):
                    raise ValueError(written)
                value = date.fromisoformat(written)
            except ValueError:
                self.problem(
                    node.at, code="rule_syntax", message=f'"{written}" is not a date; write date("YYYY-MM-DD")'
                )
                return replace(node, type=None)
            return replace(node, value=value)
        return node

    def _name(self, node: Name, *, scope: str) -> Node:
        name = node.name
        if name in KEYWORDS:
            message = (
                "members can only be used inside count(...), sum(...) or any(...)"
                if name == "members"
                else f"'{name}' is a word of the language and cannot stand here"
            )
            self.problem(node.at, code="rule_syntax", message=message)
            return replace(node, type=None)
        info = self.core.get(name)
        if info is not None:
            self.read_core.add(name)
        else:
            info = self.attributes.get(name)
            if info is None:
                close = difflib.get_close_matches(name, [*self.core, *self.attributes], n=1)
                hint = "".join(f"; did you mean {match}?" for match in close)
                self.problem(
                    node.at, code="undeclared_attribute", message=f"'{name}' is not a declared attribute{hint}"
                )
                return replace(node, type=None)
            if self.purpose not in info.purposes:
                self.problem(
                    node.at,
                    code="purpose_not_allowed",
                    message=f"'{name}' may not be used for {self.purpose}; the dictionary allows it for "
                    + ", ".join(sorted(info.purposes)),
                )
                return replace(node, type=None)
            self.read_attributes.add(name)
        self.infos[name] = info
        if self.unit == "household" and scope == "unit" and name not in HOUSEHOLD_FIELDS:
            self.problem(
                node.at,
                code="needs_aggregate",
                message=f"a household has no single {name}: use count(members where …) or sum(members.…)",
            )
            return replace(node, type=None)
        return replace(node, type=info.type)

    # Operators
    def _condition(self, node: Node, scope: str, operator: str) -> Node:
        typed = self.check(node, scope=scope)
        if typed.type is not None and typed.type != "boolean":
            self.problem(
                _start(typed),
                code="type_mismatch",
                message=f"`{operator}` works on conditions that are true or false; this is {_describe(typed)}",
            )
        return typed

    def _number(self, node: Node, scope: str, operator: str) -> Node:
        typed = self.check(node, scope=scope)
        if typed.type is not None and typed.type != "integer":
            self.problem(
                _start(typed), code="type_mismatch", message=f"{operator} works on numbers; this is {_describe(typed)}"
            )
        return typed

    def _arithmetic(self, node: Arithmetic, *, scope: str) -> Node:
        left = self._number(node.left, scope, node.op)
        right = self._number(node.right, scope, node.op)
        if node.op == "/" and constant_value(right) == 0:
            self.problem(_start(right), code="division_by_zero", message="this divides by zero")
        folded = constant_value(node)
        if folded is not None and not -INT64 <= folded < INT64:
            # PostgreSQL would stop the run with an overflow and SQLite would turn to floating point.
            self.problem(node.at, code="rule_syntax", message="this number is beyond 9,223,372,036,854,775,807")
        return replace(node, left=left, right=right, type="integer")

    def _compare(self, node: Compare, *, scope: str) -> Node:
        left = self.check(node.left, scope=scope)
        right = self.check(node.right, scope=scope)
        typed = replace(node, left=left, right=right, type="boolean")
        if left.type is None or right.type is None:
            return typed
        if FAMILIES[left.type] != FAMILIES[right.type]:
            self.problem(
                node.at,
                code="type_mismatch",
                message=f"cannot compare {_describe(left)} with {_describe(right)}",
            )
        elif node.op in ORDERED and FAMILIES[left.type] not in ("number", "date"):
            self.problem(
                node.at, code="type_mismatch", message=f"{node.op} orders numbers and dates, not {_describe(left)}"
            )
        else:
            self._enum_value(left, right)
            self._enum_value(right, left)
        return typed

    def _membership(self, node: Membership, *, scope: str) -> Node:
        left = self.check(node.left, scope=scope)
        items = tuple(self._literal(item) for item in node.options.items)
        typed = replace(node, left=left, options=replace(node.options, items=items), type="boolean")
        if not items:
            self.problem(node.options.at, code="rule_syntax", message="a list needs at least one value")
        if left.type is None:
            return typed
        for item in items:
            if item.type is None:
                continue
            if FAMILIES[item.type] != FAMILIES[left.type]:
                self.problem(
                    _start(item),
                    code="type_mismatch",
                    message=f"the list holds {_describe(item)} but is matched against {_describe(left)}",
                )
            else:
                self._enum_value(left, item)
        return typed

    def _enum_value(self, subject: Node, other: Node) -> None:
        if subject.type != "enum" or not isinstance(other, Literal) or other.type != "string":
            return
        info = self.infos.get(subject.name) if isinstance(subject, Name) else None
        if info is not None and info.values is not None and other.value not in info.values:
            self.problem(
                other.at,
                code="unknown_enum_value",
                message=f'"{other.value}" is not a value of {info.name}; its values are ' + ", ".join(info.values),
            )

    # Functions
    def _call(self, node: Call, *, scope: str) -> Node:
        function, args = node.function, node.args
        if function not in FUNCTIONS:
            self.problem(
                node.at,
                code="unknown_function",
                message=f"there is no function {function}; the functions are age, count, sum and any",
            )
            for arg in args:
                if not isinstance(arg, Members):
                    self.check(arg, scope=scope)
            return replace(node, type=None)
        if function == "age":
            if len(args) != 1 or isinstance(args[0], Members):
                self.problem(node.at, code="type_mismatch", message="age takes one date: age(date_of_birth)")
                return replace(node, type=None)
            operand = self.check(args[0], scope=scope)
            if operand.type is not None and operand.type != "date":
                self.problem(
                    _start(operand), code="type_mismatch", message=f"age takes a date; this is {_describe(operand)}"
                )
            return Age(operand, span=node.span, at=node.at, grouped=node.grouped, type="integer")
        result = "boolean" if function == "any" else "integer"
        if scope == "member":
            self.problem(
                node.at,
                code="nested_aggregate",
                message=f"{function}(...) cannot be used inside `members where`; compare aggregates at the top level",
            )
            return replace(node, type=None)
        members = args[0] if len(args) == 1 and isinstance(args[0], Members) else None
        usage = {
            "count": "count(members) or count(members where …)",
            "sum": "sum(members.monthly_income)",
            "any": "any(members where …)",
        }[function]
        valid = members is not None and (
            (function == "count" and members.attribute is None)
            or (function == "sum" and members.attribute is not None)
            or (function == "any" and members.where is not None)
        )
        if not valid or members is None:
            self.problem(node.at, code="type_mismatch", message=f"{function} is written {usage}")
            return replace(node, type=None)
        where = None
        attribute = None
        if members.where is not None:
            where = self._condition(members.where, "member", "where")
        if members.attribute is not None:
            typed = self.check(members.attribute, scope="member")
            if typed.type is not None and typed.type != "integer":
                self.problem(typed.at, code="type_mismatch", message=f"sum adds numbers; {_describe(typed)} is not one")
            attribute = members.attribute.name
        return Aggregate(function, where, attribute, span=node.span, at=node.at, grouped=node.grouped, type=result)
