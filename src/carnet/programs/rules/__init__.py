"""The eligibility rule language: parse, check, evaluate and explain (pure; the SQL compiler is in `sql`)."""

from carnet.programs.rules.check import CheckedRule, Clause, check_rule
from carnet.programs.rules.errors import RuleError, RuleProblem
from carnet.programs.rules.evaluate import ClauseResult, Explanation, age_on, evaluate, explain
from carnet.programs.rules.fields import AttributeInfo, core_fields
from carnet.programs.rules.grammar import parse_rule

__all__ = [
    "AttributeInfo",
    "CheckedRule",
    "Clause",
    "ClauseResult",
    "Explanation",
    "RuleError",
    "RuleProblem",
    "age_on",
    "check_rule",
    "core_fields",
    "evaluate",
    "explain",
    "parse_rule",
]
