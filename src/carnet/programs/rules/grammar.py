"""The rule language's grammar and parser: Lark LALR building the syntax tree as it reduces (pure).

The tree is built by the parser's own reductions, without recursion, so that no nesting a rule of
legal length can write exhausts Python's stack; trees beyond MAX_NODES are refused before anything
walks them recursively.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from typing import Any

from lark import Lark, Token, Transformer
from lark.exceptions import UnexpectedCharacters, UnexpectedInput, UnexpectedToken

from carnet.programs.rules.errors import RuleError, RuleProblem
from carnet.programs.rules.nodes import (
    Arithmetic,
    Call,
    Compare,
    ListOf,
    Literal,
    Logic,
    Members,
    Membership,
    Name,
    Negative,
    Node,
    Not,
    Span,
    children,
)

MAX_CHARACTERS = 4000
MAX_NODES = 200
KEYWORDS = frozenset({"and", "or", "not", "in", "true", "false", "date", "members", "where"})

# Precedence from loosest to tightest: or, and, not, comparison / in, + -, * /, unary minus.
# A comparison does not chain (`a < b < c` is a syntax error), so no reading of it is left to guess.
GRAMMAR = r"""
?start: or_expr

?or_expr: and_expr
        | or_expr OR and_expr               -> logic
?and_expr: not_expr
         | and_expr AND not_expr            -> logic
?not_expr: comparison
         | NOT not_expr                     -> negation
?comparison: sum
           | sum COMPARE sum                -> compare
           | sum IN options                 -> membership
           | sum NOT IN options             -> membership
?sum: product
    | sum PLUS product                      -> arithmetic
    | sum MINUS product                     -> arithmetic
?product: unary
        | product TIMES unary               -> arithmetic
        | product DIVIDE unary              -> arithmetic
?unary: atom
      | MINUS unary                         -> negative
?atom: scalar
     | NAME                                 -> name
     | NAME LPAR RPAR                       -> call
     | NAME LPAR arguments RPAR             -> call
     | LPAR or_expr RPAR                    -> group

?scalar: INT                                -> integer
       | STRING                             -> string
       | TRUE                               -> boolean
       | FALSE                              -> boolean
       | DATE LPAR STRING RPAR              -> date

options: LBRACKET RBRACKET
       | LBRACKET items RBRACKET
items: item (COMMA item)*
?item: scalar
     | MINUS INT                            -> negative_integer

arguments: argument (COMMA argument)*
?argument: or_expr
         | MEMBERS                          -> members
         | MEMBERS WHERE or_expr            -> members
         | MEMBERS DOT NAME                 -> members_attribute

// Keywords are whole words: `order_total` is a name, `or` is not.
OR.2: /or\b/
AND.2: /and\b/
NOT.2: /not\b/
IN.2: /in\b/
TRUE.2: /true\b/
FALSE.2: /false\b/
DATE.2: /date\b/
MEMBERS.2: /members\b/
WHERE.2: /where\b/

NAME: /[A-Za-z_][A-Za-z0-9_]*/
INT: /[0-9]+(_[0-9]+)*/
STRING: /"[^"\n]*"/
COMPARE: "==" | "!=" | "<=" | ">=" | "<" | ">"
PLUS: "+"
MINUS: "-"
TIMES: "*"
DIVIDE: "/"
LPAR: "("
RPAR: ")"
LBRACKET: "["
RBRACKET: "]"
COMMA: ","
DOT: "."

COMMENT: /#[^\n]*/
%import common.WS
%ignore WS
%ignore COMMENT
"""

EXPECTED_WORDS = {
    "NAME": "a name",
    "INT": "a number",
    "STRING": 'a "string"',
    "COMPARE": "a comparison (== != < <= > >=)",
    "LPAR": "(",
    "RPAR": ")",
    "LBRACKET": "[",
    "RBRACKET": "]",
    "COMMA": ",",
    "DOT": ".",
    "PLUS": "+",
    "MINUS": "-",
    "TIMES": "*",
    "DIVIDE": "/",
    "MEMBERS": "members",
    "$END": "the end of the rule",
}


def _start(item: Token | Node) -> tuple[int, int, int]:
    if isinstance(item, Token):
        return item.line or 1, item.column or 1, item.start_pos or 0
    return item.span.line, item.span.column, item.span.start


def _end(item: Token | Node) -> int:
    if isinstance(item, Token):
        return item.end_pos or 0
    return item.span.end


def _span(first: Token | Node, last: Token | Node) -> Span:
    line, column, start = _start(first)
    return Span(line=line, column=column, start=start, end=_end(last))


def _at(item: Token | Node) -> tuple[int, int]:
    line, column, _ = _start(item)
    return line, column


class _TreeBuilder(Transformer):
    """Each method builds the node of one grammar alias from its children (tokens and nodes)."""

    def logic(self, children: list[Any]) -> Node:
        left, op, right = children
        return Logic(str(op), left, right, span=_span(left, right), at=_at(op))

    def negation(self, children: list[Any]) -> Node:
        op, operand = children
        return Not(operand, span=_span(op, operand), at=_at(op))

    def compare(self, children: list[Any]) -> Node:
        left, op, right = children
        return Compare(str(op), left, right, span=_span(left, right), at=_at(op))

    def membership(self, children: list[Any]) -> Node:
        left, options = children[0], children[-1]
        return Membership(len(children) == 4, left, options, span=_span(left, options), at=_at(children[1]))

    def arithmetic(self, children: list[Any]) -> Node:
        left, op, right = children
        return Arithmetic(str(op), left, right, span=_span(left, right), at=_at(op))

    def negative(self, children: list[Any]) -> Node:
        op, operand = children
        if isinstance(operand, Literal) and operand.type == "integer" and not operand.grouped:
            # `-5` is a number, not an operation: so that `x / -0` is seen as a division by zero.
            return Literal(-operand.value, type="integer", span=_span(op, operand), at=_at(op))  # type: ignore[operator]
        return Negative(operand, span=_span(op, operand), at=_at(op))

    def negative_integer(self, children: list[Any]) -> Node:
        op, number = children
        return Literal(-_integer(number), type="integer", span=_span(op, number), at=_at(op))

    def integer(self, children: list[Any]) -> Node:
        (number,) = children
        return Literal(_integer(number), type="integer", span=_span(number, number), at=_at(number))

    def string(self, children: list[Any]) -> Node:
        (token,) = children
        return Literal(str(token)[1:-1], type="string", span=_span(token, token), at=_at(token))

    def boolean(self, children: list[Any]) -> Node:
        (token,) = children
        return Literal(str(token) == "true", type="boolean", span=_span(token, token), at=_at(token))

    def date(self, children: list[Any]) -> Node:
        keyword, _, text, close = children
        # The text is kept as written; the checker turns it into a date or reports it.
        return Literal(str(text)[1:-1], type="date", span=_span(keyword, close), at=_at(text))

    def name(self, children: list[Any]) -> Node:
        (token,) = children
        return Name(str(token), span=_span(token, token), at=_at(token))

    def call(self, children: list[Any]) -> Node:
        name, close = children[0], children[-1]
        args = tuple(children[2]) if len(children) == 4 else ()
        return Call(str(name), args, span=_span(name, close), at=_at(name))

    def arguments(self, children: list[Any]) -> tuple[Node, ...]:
        return tuple(c for c in children if not isinstance(c, Token))

    def group(self, children: list[Any]) -> Node:
        open_, inner, close = children
        return replace(inner, span=_span(open_, close), grouped=True)

    def options(self, children: list[Any]) -> Node:
        open_, close = children[0], children[-1]
        items = tuple(children[1]) if len(children) == 3 else ()
        return ListOf(items, span=_span(open_, close), at=_at(open_))

    def items(self, children: list[Any]) -> tuple[Node, ...]:
        return tuple(c for c in children if not isinstance(c, Token))

    def members(self, children: list[Any]) -> Node:
        keyword, where = children[0], (children[2] if len(children) == 3 else None)
        return Members(where=where, span=_span(keyword, children[-1]), at=_at(keyword))

    def members_attribute(self, children: list[Any]) -> Node:
        keyword, _, name = children
        attribute = Name(str(name), span=_span(name, name), at=_at(name))
        return Members(attribute=attribute, span=_span(keyword, name), at=_at(keyword))


def _integer(token: Token) -> int:
    return int(str(token).replace("_", ""))


_PARSER = Lark(GRAMMAR, parser="lalr", lexer="contextual", transformer=_TreeBuilder(), maybe_placeholders=False)


def position(text: str, offset: int) -> tuple[int, int]:
    """The (line, column), both from 1, of a character offset in `text`."""
    before = text[:offset]
    return before.count("\n") + 1, offset - (before.rfind("\n") + 1) + 1


def parse_rule(text: str) -> Node:
    """The syntax tree of a rule; RuleError with code rule_syntax or rule_too_long, and its line and column."""
    if len(text) > MAX_CHARACTERS:
        line, column = position(text, MAX_CHARACTERS)
        message = f"a rule has at most {MAX_CHARACTERS:,} characters"
        raise RuleError([RuleProblem(code="rule_too_long", message=message, line=line, column=column)])
    if not text.strip():
        raise RuleError([RuleProblem(code="rule_syntax", message="the rule is empty", line=1, column=1)])
    try:
        tree = _PARSER.parse(text)
    except UnexpectedInput as exc:
        raise RuleError([_syntax_problem(text, exc)]) from None
    for count, node in enumerate(_iterate(tree), start=1):
        if count > MAX_NODES:
            line, column = node.at
            message = f"a rule has at most {MAX_NODES} parts; split the programme"
            raise RuleError([RuleProblem(code="rule_too_long", message=message, line=line, column=column)])
    return tree


def _iterate(tree: Node) -> Iterator[Node]:
    # Without recursion: a tree is only known to be small once it has been counted.
    stack = [tree]
    while stack:
        node = stack.pop()
        yield node
        stack.extend(reversed(children(node)))


def _syntax_problem(text: str, exc: UnexpectedInput) -> RuleProblem:
    if isinstance(exc, UnexpectedCharacters):
        char = text[exc.pos_in_stream] if exc.pos_in_stream < len(text) else ""
        hints = {
            "=": "use == to compare",
            "'": 'write strings in double quotes: "unemployed"',
            "&": "write `and`",
            "|": "write `or`",
            "!": "write `not` or !=",
        }
        message = hints.get(char, f"unexpected character {char!r}")
        return RuleProblem(code="rule_syntax", message=message, line=exc.line, column=exc.column)
    if isinstance(exc, UnexpectedToken) and exc.token.type != "$END":
        token = exc.token
        if token.type == "MEMBERS":
            message = "members can only be used inside count(...), sum(...) or any(...)"
        else:
            message = f"unexpected {str(token)!r}; expected {_expected(exc.expected)}"
        return RuleProblem(code="rule_syntax", message=message, line=token.line or 1, column=token.column or 1)
    expected = _expected(getattr(exc, "expected", None) or ())
    line, column = position(text, len(text.rstrip()))
    message = f"the rule ends too early; expected {expected}"
    return RuleProblem(code="rule_syntax", message=message, line=line, column=column)


def _expected(names: Any) -> str:
    words = sorted({EXPECTED_WORDS.get(n, n.lower()) for n in names if n not in ("WS", "COMMENT")})
    if len(words) > 6:
        return "a value, a name or an operator"
    return ", ".join(words) or "something else"
