"""Sector pseudonyms (pure): what a programme calls a person or a household instead of its registry id.

`HMAC-SHA256(sector_key, "carnet/sector-pseudonym/v1" 0x00 kind 0x00 id-bytes)` where kind is `person`
or `household` and id-bytes are the 16 bytes of the canonical UUID (RFC 9562 byte order), rendered as a
prefix (`PS1-` for a person, `HS1-` for a household) and the 32-byte MAC in RFC 4648 base32, upper case,
without padding (52 characters). Two programmes' keys differ, so their pseudonyms of one person cannot
be joined without the registry. The format is in docs/formats/pseudonym.md.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import uuid

from carnet.kit.errors import AppError

KEY_BYTES = 32
DOMAIN = b"carnet/sector-pseudonym/v1"
PREFIXES = {"person": "PS1-", "household": "HS1-"}
LENGTH = 4 + 52


def _mac(key: bytes, kind: str, unit_id: uuid.UUID) -> bytes:
    if len(key) != KEY_BYTES:
        raise AppError(f"a sector key is {KEY_BYTES} bytes, not {len(key)}", code="sector_key_invalid")
    message = DOMAIN + b"\x00" + kind.encode("ascii") + b"\x00" + unit_id.bytes
    return hmac.new(key, message, hashlib.sha256).digest()


def unit_pseudonym(key: bytes, unit: str, unit_id: uuid.UUID) -> str:
    """The pseudonym of a person or a household (`unit`) under a programme's sector key."""
    prefix = PREFIXES.get(unit)
    if prefix is None:
        raise AppError(f"no pseudonyms for a {unit!r}", code="pseudonym_unit_unknown")
    return prefix + base64.b32encode(_mac(key, unit, unit_id)).decode("ascii").rstrip("=")


def sector_pseudonym(key: bytes, person_id: uuid.UUID) -> str:
    """A person's pseudonym under a programme's sector key."""
    return unit_pseudonym(key, "person", person_id)


def household_pseudonym(key: bytes, household_id: uuid.UUID) -> str:
    """A household's pseudonym under a programme's sector key (a separate domain from persons')."""
    return unit_pseudonym(key, "household", household_id)


def is_pseudonym(text: str) -> bool:
    """Whether a text has the shape of a pseudonym (prefix, 52 base32 characters)."""
    if len(text) != LENGTH or text[:4] not in PREFIXES.values():
        return False
    return all(c in "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567" for c in text[4:])
