"""The error a rule that does not check raises: every problem with its code, line and column."""

from __future__ import annotations

from dataclasses import dataclass

from carnet.kit.errors import AppError, FieldError


@dataclass(frozen=True)
class RuleProblem:
    """One problem in a rule's text, at a line and column (both from 1)."""

    code: str
    message: str
    line: int
    column: int

    def as_field_error(self) -> FieldError:
        """The problem in the shape every other validation error has."""
        return FieldError(
            field="rule", code=self.code, message=self.message, record=f"line {self.line}, column {self.column}"
        )


class RuleError(AppError):
    """The rule does not parse or does not check; `errors` lists every problem found, in text order."""

    def __init__(self, problems: list[RuleProblem]) -> None:
        ordered = sorted(problems, key=lambda p: (p.line, p.column))
        first = ordered[0]
        more = f" (and {len(ordered) - 1} more)" if len(ordered) > 1 else ""
        super().__init__(
            message=f"the rule does not check: line {first.line}, column {first.column}: {first.message}{more}",
            code="invalid_rule",
            status=422,
            errors=[p.as_field_error() for p in ordered],
            extra={"line": first.line, "column": first.column},
        )
        self.problems = ordered
        self.line = first.line
        self.column = first.column
