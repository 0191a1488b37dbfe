"""Compiling a checked rule to one set-based SQL query (SQLAlchemy Core), for SQLite and PostgreSQL alike.

Shape of every query: the units (persons or households) in scope; one LEFT JOIN to person_attributes per
attribute the rule reads of the unit itself, on (person_id, name), reading the attribute's typed column;
and, when the rule has aggregates (and always for households, whose size is needed), ONE subquery over
persons grouped by household, with count(CASE WHEN cond THEN 1 END) and SUM(...) per aggregate, joined
to the unit. A person without a household is a group of one: the group key is COALESCE(household_id, id).

SQL's own NULL logic is the language's: comparisons with NULL, AND/OR/NOT, IN and NULLIF behave as the
Python evaluator mirrors. Every value from a rule is a bound parameter.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import date
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    ColumnElement,
    Date,
    FromClause,
    Integer,
    Select,
    String,
    and_,
    case,
    cast,
    func,
    literal,
    literal_column,
    not_,
    or_,
    select,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

from carnet.programs.rules.check import CheckedRule
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
    canonical,
    walk,
)
from carnet.registry.models import Household, Person, PersonAttribute

PERSONS = Person.__table__
HOUSEHOLDS = Household.__table__
ATTRIBUTES = PersonAttribute.__table__
VALUE_COLUMNS = {"integer": "value_int", "boolean": "value_bool", "enum": "value_text", "date": "value_date"}
LITERAL_TYPES = {"integer": BigInteger, "string": String, "boolean": Boolean, "date": Date}


# Integer arithmetic, always parenthesised, so that no operator precedence of SQLAlchemy or of the
# database can regroup what the rule's parser grouped; and `/` stays integer division (SQLAlchemy 2
# would make it true division), which both databases truncate toward zero.
class _IntegerOperation(FunctionElement[int]):
    type = BigInteger()
    inherit_cache = True


class IntegerAdd(_IntegerOperation):
    """a + b."""

    name = "carnet_add"
    inherit_cache = True


class IntegerSubtract(_IntegerOperation):
    """a - b."""

    name = "carnet_subtract"
    inherit_cache = True


class IntegerMultiply(_IntegerOperation):
    """a * b."""

    name = "carnet_multiply"
    inherit_cache = True


class IntegerDivide(_IntegerOperation):
    """a / b on integers, truncating toward zero."""

    name = "carnet_divide"
    inherit_cache = True


class IntegerNegate(_IntegerOperation):
    """-a."""

    name = "carnet_negate"
    inherit_cache = True


class YearOf(FunctionElement[int]):
    """The year of a date, as an integer."""

    type = Integer()
    name = "carnet_year_of"
    inherit_cache = True


class MonthDayOf(FunctionElement[int]):
    """month * 100 + day of a date: (month, day) pairs ordered as integers."""

    type = Integer()
    name = "carnet_month_day_of"
    inherit_cache = True


def _binary(symbol: str) -> Any:
    def render(element: FunctionElement[Any], compiler: Any, **kw: Any) -> str:
        left, right = element.clauses
        return f"({compiler.process(left, **kw)} {symbol} {compiler.process(right, **kw)})"

    return render


for _element, _symbol in ((IntegerAdd, "+"), (IntegerSubtract, "-"), (IntegerMultiply, "*"), (IntegerDivide, "/")):
    compiles(_element)(_binary(_symbol))


@compiles(IntegerNegate)
def _negate(element: IntegerNegate, compiler: Any, **kw: Any) -> str:
    (operand,) = element.clauses
    # The space keeps a nested negation from reading as `--`, which starts an SQL comment.
    return f"(- {compiler.process(operand, **kw)})"


@compiles(YearOf)
def _year_of(element: YearOf, compiler: Any, **kw: Any) -> str:
    (value,) = element.clauses
    return f"CAST(EXTRACT(YEAR FROM {compiler.process(value, **kw)}) AS INTEGER)"


@compiles(YearOf, "sqlite")
def _year_of_sqlite(element: YearOf, compiler: Any, **kw: Any) -> str:
    (value,) = element.clauses
    # SQLite keeps a date as its text 'YYYY-MM-DD'.
    return f"CAST(substr({compiler.process(value, **kw)}, 1, 4) AS INTEGER)"


@compiles(MonthDayOf)
def _month_day_of(element: MonthDayOf, compiler: Any, **kw: Any) -> str:
    (value,) = element.clauses
    text = compiler.process(value, **kw)
    return f"CAST(EXTRACT(MONTH FROM {text}) * 100 + EXTRACT(DAY FROM {text}) AS INTEGER)"


@compiles(MonthDayOf, "sqlite")
def _month_day_of_sqlite(element: MonthDayOf, compiler: Any, **kw: Any) -> str:
    (value,) = element.clauses
    text = compiler.process(value, **kw)
    return f"(CAST(substr({text}, 6, 2) AS INTEGER) * 100 + CAST(substr({text}, 9, 2) AS INTEGER))"


def age_expression(born: ColumnElement[Any], today: date) -> ColumnElement[int]:
    """Completed years from `born` to `today`: the year difference, less one before the birthday.

    As the Python evaluator: (month, day) pairs are compared, so a 29 February birthday comes on 1 March.
    """
    before_birthday = case((MonthDayOf(born) > literal(today.month * 100 + today.day, BigInteger()), 1), else_=0)
    return IntegerSubtract(IntegerSubtract(literal(today.year, BigInteger()), YearOf(born)), before_birthday)


class _Compilation:
    """The FROM clause and the expressions of one rule, built together so that joins are made once."""

    def __init__(self, rule: CheckedRule, *, today: date, regions: Sequence[str] | None) -> None:
        self.rule = rule
        self.today = today
        self.regions = regions
        self.person_unit = rule.unit == "person"
        self.unit = (PERSONS if self.person_unit else HOUSEHOLDS).alias("unit")
        self.source: FromClause = self.unit
        self.member = PERSONS.alias("member")
        self.member_source: FromClause = self.member
        self.joined: dict[tuple[str, str], ColumnElement[Any]] = {}
        self.aggregate_labels: dict[str, str] = {}
        self.group: Any = None

    # Scope
    def in_scope(self) -> ColumnElement[bool] | None:
        """The unit's region or municipality is one of the regions (None: everyone)."""
        return _in_regions(self.unit, self.regions)

    def members_in_scope(self, key: ColumnElement[Any]) -> ColumnElement[bool] | None:
        # An uncorrelated semi-join, so that a regional run groups only the households it looks at.
        if self.regions is None:
            return None
        if self.person_unit:
            keys = select(func.coalesce(PERSONS.c.household_id, PERSONS.c.id)).where(_in_regions(PERSONS, self.regions))
        else:
            keys = select(HOUSEHOLDS.c.id).where(_in_regions(HOUSEHOLDS, self.regions))
        return key.in_(keys)

    # Members
    def join_members(self) -> None:
        """Add the grouped subquery over persons, with every aggregate of the rule, joined to the unit."""
        aggregates: dict[str, Aggregate] = {}
        for node in walk(self.rule.tree):
            if isinstance(node, Aggregate):
                aggregates.setdefault(json.dumps(canonical(node)), node)
        if self.person_unit and not aggregates:
            return
        columns = [self.aggregate(node).label(f"aggregate_{i}") for i, node in enumerate(aggregates.values())]
        self.aggregate_labels = {key: f"aggregate_{i}" for i, key in enumerate(aggregates)}
        if self.person_unit:
            key = func.coalesce(self.member.c.household_id, self.member.c.id)
            unit_key = func.coalesce(self.unit.c.household_id, self.unit.c.id)
        else:
            key, unit_key = self.member.c.household_id, self.unit.c.id
        query = select(key.label("unit_key"), func.count().label("size"), *columns).select_from(self.member_source)
        if not self.person_unit:
            query = query.where(self.member.c.household_id.is_not(None))
        scope = self.members_in_scope(key)
        if scope is not None:
            query = query.where(scope)
        self.group = query.group_by(key).subquery("members")
        self.source = self.source.outerjoin(self.group, self.group.c.unit_key == unit_key)

    def aggregate(self, node: Aggregate) -> ColumnElement[Any]:
        """The aggregate over one group of members."""
        if node.function == "sum":
            assert node.attribute is not None
            # PostgreSQL sums bigints as numeric, whose `/` is not integer division.
            return cast(func.sum(self.name(node.attribute, "member")), BigInteger())
        if node.where is None:
            return func.count()
        return func.count(case((self.expression(node.where, "member"), literal_column("1"))))

    def size(self) -> ColumnElement[int]:
        """How many members the unit has: 1 for a person, the number of its persons for a household."""
        if self.person_unit:
            return literal_column("1", Integer()).label("members")
        return func.coalesce(self.group.c.size, 0).label("members")

    # Expressions
    def name(self, name: str, scope: str) -> ColumnElement[Any]:
        """A core field's column, or the typed value column of the attribute joined for it."""
        table = self.member if scope == "member" else self.unit
        if name in self.rule.core or not (self.person_unit or scope == "member"):
            return table.c[name]
        found = self.joined.get((scope, name))
        if found is not None:
            return found
        info = self.rule.infos[name]
        value = ATTRIBUTES.alias(f"{scope}_attribute_{len(self.joined)}")
        on = and_(value.c.person_id == table.c.id, value.c.name == literal(name, String()))
        if scope == "member":
            self.member_source = self.member_source.outerjoin(value, on)
        else:
            self.source = self.source.outerjoin(value, on)
        column = value.c[VALUE_COLUMNS[info.type]]
        self.joined[(scope, name)] = column
        return column

    def expression(self, node: Node, scope: str = "unit") -> ColumnElement[Any]:
        """The SQL of a checked node, in the unit's scope or a member's."""
        match node:
            case Literal(value=value):
                return literal(value, LITERAL_TYPES[node.type or "string"]())
            case Name(name=name):
                return self.name(name, scope)
            case Logic(op=op, left=left, right=right):
                combine = and_ if op == "and" else or_
                return combine(self.expression(left, scope), self.expression(right, scope))
            case Not(operand=operand):
                return not_(self.expression(operand, scope))
            case Compare(op=op, left=left, right=right):
                a, b = self.expression(left, scope), self.expression(right, scope)
                return {
                    "==": a == b,
                    "!=": a != b,
                    "<": a < b,
                    "<=": a <= b,
                    ">": a > b,
                    ">=": a >= b,
                }[op]
            case Membership(negated=negated, left=left, options=options):
                subject = self.expression(left, scope)
                values = [item.value for item in options.items]
                return subject.not_in(values) if negated else subject.in_(values)
            case Arithmetic(op=op, left=left, right=right):
                a, b = self.expression(left, scope), self.expression(right, scope)
                if op == "/":
                    # A zero divisor gives NULL, as the evaluator's None, instead of an error mid-run.
                    return IntegerDivide(a, func.nullif(b, literal(0, BigInteger())))
                return {"+": IntegerAdd, "-": IntegerSubtract, "*": IntegerMultiply}[op](a, b)
            case Negative(operand=operand):
                return IntegerNegate(self.expression(operand, scope))
            case Age(operand=operand):
                return age_expression(self.expression(operand, scope), self.today)
            case Aggregate(function=function):
                column = self.group.c[self.aggregate_labels[json.dumps(canonical(node))]]
                if function == "sum":
                    return column
                # A household without persons has no group row: nobody to count.
                counted = func.coalesce(column, 0)
                return counted > 0 if function == "any" else counted
        raise TypeError(f"unexpected node {type(node).__name__}")  # pragma: no cover - the checker makes no other


def _compilation(rule: CheckedRule, *, today: date, regions: Sequence[str] | None) -> _Compilation:
    compilation = _Compilation(rule, today=today, regions=regions)
    compilation.join_members()
    return compilation


def eligible_units(rule: CheckedRule, *, today: date, regions: Sequence[str] | None) -> Select[Any]:
    """The units for which the rule is true: unit_id, region_code (the unit's state) and members (its size)."""
    compilation = _compilation(rule, today=today, regions=regions)
    condition = compilation.expression(rule.tree)
    unit = compilation.unit
    query = select(unit.c.id.label("unit_id"), unit.c.region_code.label("region_code"), compilation.size())
    query = query.select_from(compilation.source).where(condition)
    scope = compilation.in_scope()
    return query if scope is None else query.where(scope)


def clause_counts(rule: CheckedRule, *, today: date, regions: Sequence[str] | None) -> Select[Any]:
    """One row: the units in scope (`total`), then for each top-level clause i the units it is true for (`clause_i`)."""
    compilation = _compilation(rule, today=today, regions=regions)
    counts = [
        func.count(case((compilation.expression(clause.node), literal_column("1")))).label(f"clause_{i}")
        for i, clause in enumerate(rule.clauses)
    ]
    query = select(func.count().label("total"), *counts).select_from(compilation.source)
    scope = compilation.in_scope()
    return query if scope is None else query.where(scope)


def units_in_scope(rule: CheckedRule, *, regions: Sequence[str] | None) -> Select[Any]:
    """The ids of the units the rule is evaluated for, in id order (what a run's cohort digest covers)."""
    unit = (PERSONS if rule.unit == "person" else HOUSEHOLDS).alias("unit")
    query = select(unit.c.id.label("unit_id")).order_by(unit.c.id)
    scope = _in_regions(unit, regions)
    return query if scope is None else query.where(scope)


def _in_regions(table: FromClause, regions: Sequence[str] | None) -> Any:
    # A unit is in a region when its state or its municipality is listed.
    if regions is None:
        return None
    listed = list(regions)
    return or_(table.c.region_code.in_(listed), table.c.municipality_code.in_(listed))
