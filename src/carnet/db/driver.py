"""Straight to the DB-API driver, inside the session's transaction: for the statements that run per request or per
row in bulk, where SQLAlchemy's per-call compiling and type processing would dominate."""

from __future__ import annotations

import uuid
from datetime import UTC
from typing import Any

from sqlalchemy.orm import Session


class Driver:
    """The session's raw DB-API connection, with the conversions SQLAlchemy's column types would make."""

    def __init__(self, session: Session):
        self.sqlite = session.get_bind().dialect.name == "sqlite"
        self.raw = session.connection().connection.driver_connection
        self.mark = "?" if self.sqlite else "%s"

    def sql(self, statement: str) -> str:
        """The statement with the driver's parameter marks (written with `?`)."""
        return statement.replace("?", self.mark)

    def execute(self, statement: str, params: tuple) -> Any:
        """Run one statement."""
        return self.raw.execute(self.sql(statement), params)

    def executemany(self, statement: str, rows: list[tuple]) -> None:
        """Run one statement for many rows."""
        if self.sqlite:
            self.raw.executemany(statement, rows)
        else:
            with self.raw.cursor() as cursor:
                cursor.executemany(self.sql(statement), rows)

    def timestamp(self, value: Any) -> Any:
        """What SQLAlchemy's UTCDateTime stores: naive UTC text on SQLite, timestamptz on PostgreSQL."""
        if value is None or not self.sqlite:
            return value
        return value.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")

    def uuid(self, value: uuid.UUID | None) -> Any:
        """What SQLAlchemy's Uuid stores: 32 hex digits on SQLite, a native uuid on PostgreSQL."""
        if value is None:
            return None
        return value.hex if self.sqlite else value
