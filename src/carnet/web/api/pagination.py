"""Keyset cursors: opaque to clients, the last id of the previous page underneath."""

from __future__ import annotations

import uuid

from carnet.kit.errors import AppError

MAX_PAGE_SIZE = 200
# Indexes and sizes (audit leaves, status lists) fit a signed 64-bit column on every database; larger is a 422.
MAX_POSITION = (1 << 62) - 1


def parse_cursor(cursor: str | None) -> uuid.UUID | None:
    """The id a cursor stands for, or a 400 for a malformed one."""
    if not cursor:
        return None
    try:
        return uuid.UUID(cursor)
    except ValueError as exc:
        raise AppError(f"'{cursor}' is not a cursor from this API", code="invalid_cursor") from exc


def make_cursor(last: uuid.UUID | None) -> str | None:
    """The cursor for the page after `last`."""
    return str(last) if last else None
