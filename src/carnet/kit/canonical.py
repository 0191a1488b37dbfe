"""Canonical JSON (RFC 8785, JCS) for the values Carnet signs and hashes: anyone can re-encode and re-hash.

Supported: objects with string keys, arrays, strings, booleans, null and integers within ±(2^53 - 1).
Floats are refused rather than risk two encoders disagreeing on a number's shortest form.
"""

from __future__ import annotations

import json
from typing import Any

MAX_SAFE_INTEGER = 2**53 - 1


def canonical_json(value: Any) -> bytes:
    """The RFC 8785 encoding of `value` as UTF-8 bytes."""
    if _check(value):
        return _encode(value).encode("utf-8")
    # No key outside the Basic Multilingual Plane: code-point order is UTF-16 order, and the standard
    # library's encoder (in C) produces exactly the canonical form.
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode("utf-8")


def _check(value: Any) -> bool:
    """Refuse what has no canonical form; True when some key needs UTF-16 ordering."""
    kind = type(value)
    if kind is str or kind is bool or value is None:
        return False
    if kind is int:
        if abs(value) > MAX_SAFE_INTEGER:
            raise ValueError(f"integer {value} is outside the range JSON numbers carry exactly")
        return False
    if kind is dict:
        needs_utf16 = False
        for key, item in value.items():
            if type(key) is not str:
                raise ValueError(f"object keys must be strings, not {type(key).__name__}")
            if not key.isascii() and any(ord(c) > 0xFFFF for c in key):
                needs_utf16 = True
            if _check(item):
                needs_utf16 = True
        return needs_utf16
    if kind is list or kind is tuple:
        needs_utf16 = False
        for item in value:
            if _check(item):
                needs_utf16 = True
        return needs_utf16
    if isinstance(value, float):
        raise ValueError("floats are not allowed in canonical entries; use integers or strings")
    if isinstance(value, bool | int | str | dict | list | tuple):  # subclasses: take the careful path
        return True
    raise ValueError(f"{type(value).__name__} has no canonical JSON form")


def _encode(value: Any) -> str:
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        if abs(value) > MAX_SAFE_INTEGER:
            raise ValueError(f"integer {value} is outside the range JSON numbers carry exactly")
        return str(value)
    if isinstance(value, float):
        raise ValueError("floats are not allowed in canonical entries; use integers or strings")
    if isinstance(value, str):
        # json.dumps escapes exactly what RFC 8785 requires when ensure_ascii is off.
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list | tuple):
        return "[" + ",".join(_encode(item) for item in value) + "]"
    if isinstance(value, dict):
        for key in value:
            if not isinstance(key, str):
                raise ValueError(f"object keys must be strings, not {type(key).__name__}")
        # RFC 8785 §3.2.3: members sorted by the UTF-16 code units of their names.
        keys = sorted(value, key=lambda k: k.encode("utf-16-be"))
        return "{" + ",".join(f"{_encode(k)}:{_encode(value[k])}" for k in keys) + "}"
    raise ValueError(f"{type(value).__name__} has no canonical JSON form")
