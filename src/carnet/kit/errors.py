"""Errors with a stable code and an HTTP status; only web/errors.py turns them into responses."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class FieldError:
    """One problem with one field of one record."""

    field: str
    code: str
    message: str
    record: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """The problem as a JSON-ready mapping."""
        out: dict[str, Any] = {"field": self.field, "code": self.code, "message": self.message}
        if self.record is not None:
            out["record"] = self.record
        return out


@dataclass
class AppError(Exception):
    """Base of every error a user can see: a stable code, a status and a plain message."""

    message: str
    code: str = "app_error"
    status: int = 400
    errors: list[FieldError] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        super().__init__(self.message)

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


class NotFound(AppError):
    """The record does not exist, or the caller may not know that it exists."""

    def __init__(self, message: str, code: str = "not_found", **extra: Any) -> None:
        super().__init__(message=message, code=code, status=404, extra=extra)


class Conflict(AppError):
    """The request clashes with the current state (a unique value already taken, a stale version)."""

    def __init__(self, message: str, code: str = "conflict", **extra: Any) -> None:
        super().__init__(message=message, code=code, status=409, extra=extra)


class ValidationFailed(AppError):
    """One or more fields are invalid; `errors` names each field."""

    def __init__(self, message: str, errors: list[FieldError], code: str = "validation_failed") -> None:
        super().__init__(message=message, code=code, status=422, errors=errors)


class ProhibitedAttribute(AppError):
    """A field falls in a category Carnet never stores (votes, religion, biometrics, ...)."""

    def __init__(self, name: str, category: str, where: str) -> None:
        super().__init__(
            message=f"{where}: '{name}' is a prohibited attribute ({category}); Carnet never stores it",
            code="prohibited_attribute",
            status=422,
            errors=[FieldError(field=name, code="prohibited_attribute", message=category)],
            extra={"attribute": name, "category": category},
        )


class Unauthenticated(AppError):
    """No valid credentials came with the request."""

    def __init__(self, message: str = "authentication required", code: str = "unauthenticated") -> None:
        super().__init__(message=message, code=code, status=401)


class Forbidden(AppError):
    """The caller is known but its role does not grant the permission."""

    def __init__(self, message: str, code: str = "forbidden") -> None:
        super().__init__(message=message, code=code, status=403)
