"""Query helpers every repository shares: IN lists in chunks (or one array on PostgreSQL), dialect inserts."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import ARRAY, ColumnElement, any_, bindparam
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

# IN lists are sent in chunks: SQLite's variable limit, and plans that stay simple.
CHUNK = 900


def chunks(values: Sequence[Any], size: int = CHUNK) -> Iterable[Sequence[Any]]:
    """`values` in slices of at most `size`."""
    for start in range(0, len(values), size):
        yield values[start : start + size]


def member_of(session: Session, column: Any, values: Sequence[Any]) -> list[ColumnElement[bool]]:
    """Conditions, one query each, that together say `column IN values` (none for no values).

    On PostgreSQL one `= ANY(array)` with the values as a single parameter: one query, and less than
    half the time of IN lists of CHUNK values (benchmarks/distribution.py); elsewhere those IN lists.
    """
    values = list(values)
    if not values:
        return []
    if session.get_bind().dialect.name == "postgresql":
        return [column == any_(bindparam(None, values, type_=ARRAY(column.type)))]
    return [column.in_(chunk) for chunk in chunks(values)]


def dialect_insert(session: Session):  # type: ignore[no-untyped-def]
    """The INSERT construct of the session's database, for ON CONFLICT clauses."""
    return pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
