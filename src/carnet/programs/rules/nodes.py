"""The syntax tree of an eligibility rule: immutable nodes with their place in the text (pure)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from typing import Any


@dataclass(frozen=True)
class Span:
    """Where a node is in the rule's text: its first line and column (from 1) and its character range."""

    line: int
    column: int
    start: int
    end: int


@dataclass(frozen=True, kw_only=True)
class Node:
    """Any node. `at` is the (line, column) of the token a problem with the node is reported at."""

    span: Span = field(compare=False)
    at: tuple[int, int] = field(compare=False)
    type: str | None = None  # set by the checker: integer | boolean | date | enum | text | string
    # Written in parentheses: kept as one clause when the rule is split at its outermost `or` / `and`.
    grouped: bool = field(default=False, compare=False)


@dataclass(frozen=True)
class Literal(Node):
    """A number, a string, true or false, or a date."""

    value: int | str | bool | date


@dataclass(frozen=True)
class ListOf(Node):
    """The right side of `in`: literals only, so that no list can hide a NULL."""

    items: tuple[Literal, ...]


@dataclass(frozen=True)
class Name(Node):
    """An attribute or core field of the person (or member) in scope."""

    name: str


@dataclass(frozen=True)
class Members(Node):
    """`members`, `members where COND` or `members.ATTR`; only an argument of an aggregate."""

    where: Node | None = None
    attribute: Name | None = None


@dataclass(frozen=True)
class Call(Node):
    """A function call as parsed; the checker turns it into Age or Aggregate."""

    function: str
    args: tuple[Node, ...]


@dataclass(frozen=True)
class Compare(Node):
    """`left op right` with op one of == != < <= > >=."""

    op: str
    left: Node
    right: Node


@dataclass(frozen=True)
class Membership(Node):
    """`left in [...]` or `left not in [...]`."""

    negated: bool
    left: Node
    options: ListOf


@dataclass(frozen=True)
class Logic(Node):
    """`left and right` or `left or right`, in Kleene's three-valued logic."""

    op: str
    left: Node
    right: Node


@dataclass(frozen=True)
class Not(Node):
    """`not operand`."""

    operand: Node


@dataclass(frozen=True)
class Arithmetic(Node):
    """Integer `+ - * /`; `/` truncates toward zero and gives unknown for a zero divisor."""

    op: str
    left: Node
    right: Node


@dataclass(frozen=True)
class Negative(Node):
    """`-operand`."""

    operand: Node


@dataclass(frozen=True)
class Age(Node):
    """Completed years from a date to the run's reference date."""

    operand: Node


@dataclass(frozen=True)
class Aggregate(Node):
    """count(members [where COND]), sum(members.ATTR) or any(members where COND) over the unit's members."""

    function: str  # count | sum | any
    where: Node | None = None
    attribute: str | None = None


def children(node: Node) -> tuple[Node, ...]:
    """The direct sub-nodes of a node, left to right."""
    match node:
        case ListOf(items=items):
            return items
        case Members(where=where, attribute=attribute):
            return tuple(n for n in (where, attribute) if n is not None)
        case Call(args=args):
            return args
        case Compare(left=left, right=right) | Logic(left=left, right=right) | Arithmetic(left=left, right=right):
            return (left, right)
        case Membership(left=left, options=options):
            return (left, options)
        case Not(operand=operand) | Negative(operand=operand) | Age(operand=operand):
            return (operand,)
        case Aggregate(where=where):
            return (where,) if where is not None else ()
    return ()


def walk(node: Node) -> Iterator[Node]:
    """The node and all its sub-nodes, depth first, left to right."""
    yield node
    for child in children(node):
        yield from walk(child)


def canonical(node: Node) -> Any:
    """A JSON-ready form of the tree without positions or spacing: what the rule's fingerprint hashes."""
    match node:
        case Literal(value=value):
            kind = node.type or type(value).__name__
            return ["literal", kind, value.isoformat() if isinstance(value, date) else value]
        case Name(name=name):
            return ["name", name]
        case Aggregate(function=function, where=where, attribute=attribute):
            return ["aggregate", function, None if where is None else canonical(where), attribute]
        case Compare(op=op) | Logic(op=op) | Arithmetic(op=op):
            return [type(node).__name__.lower(), op, *(canonical(c) for c in children(node))]
        case Membership(negated=negated, left=left, options=options):
            return ["not in" if negated else "in", canonical(left), [canonical(i) for i in options.items]]
    return [type(node).__name__.lower(), *(canonical(c) for c in children(node))]
