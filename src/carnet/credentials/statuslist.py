"""Revocation status lists (IETF Token Status List, one bit per index) and their signed, time-limited form.

Bit `i` is bit `i % 8` of byte `i // 8`, counting from the least significant bit, as in the IETF draft
(the W3C Bitstring Status List counts from the most significant bit instead). A set bit means revoked.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from carnet.credentials import cbor_guard
from carnet.credentials.cose import CoseError, VerifierKey, decode_sign1, dumps_deterministic, sign1, verify_sign1
from carnet.credentials.cwt import MAX_LIST_ID_SIZE, MAX_STATUS_INDEXES

STATUS_LIST_TYP = "application/statuslist+cwt"
# The claim keys of the IETF Status List Token in CWT form: sub names the list, iat and ttl bound its use.
CLAIM_SUB, CLAIM_IAT, CLAIM_TTL, CLAIM_STATUS_LIST = 2, 6, 65534, 65533
MAX_BITS_SIZE = MAX_STATUS_INDEXES // 8
# A list of 2**25 indexes with every bit random still deflates to under 4.2 MB.
MAX_TOKEN_SIZE = 5 * 1024 * 1024

_TOKEN_CLAIMS = frozenset({CLAIM_SUB, CLAIM_IAT, CLAIM_TTL, CLAIM_STATUS_LIST})


def build_status_list(size: int, revoked: Iterable[int]) -> bytes:
    """The zlib-compressed bitstring of `size` indexes with the `revoked` ones set."""
    if not 0 < size <= MAX_STATUS_INDEXES:
        raise ValueError(f"a status list has 1 to {MAX_STATUS_INDEXES} indexes")
    bits = bytearray((size + 7) // 8)
    for index in revoked:
        if not 0 <= index < size:
            raise ValueError(f"index {index} is outside a list of {size}")
        bits[index >> 3] |= 1 << (index & 7)
    return zlib.compress(bits, 9)


def expand_status_list(compressed: bytes) -> bytes:
    """The bitstring inside a compressed status list, refusing one that would expand beyond 2**25 indexes."""
    inflater = zlib.decompressobj()
    try:
        # The cap makes a zip bomb stop after MAX_BITS_SIZE + 1 bytes instead of filling memory.
        bits = inflater.decompress(compressed, MAX_BITS_SIZE + 1)
    except zlib.error as exc:
        raise ValueError(f"not a zlib stream: {exc}") from None
    if len(bits) > MAX_BITS_SIZE:
        raise ValueError(f"the status list expands beyond {MAX_STATUS_INDEXES} indexes")
    if not inflater.eof or inflater.unused_data:
        raise ValueError("the status list is truncated or followed by extra bytes")
    if not bits:
        raise ValueError("the status list is empty")
    return bits


def is_set(bits: bytes, index: int) -> bool:
    """Whether bit `index` of an expanded status list is set; IndexError beyond its end."""
    if index < 0:
        raise IndexError(f"status index {index} is negative")
    return bool(bits[index >> 3] >> (index & 7) & 1)


@dataclass(frozen=True)
class StatusList:
    """A verified status list: its id, the expanded bits, and when it was issued and for how long it holds."""

    list_id: str
    bits: bytes
    issued_at: int
    ttl: int
    kid: bytes

    @property
    def size(self) -> int:
        """How many indexes the list covers."""
        return len(self.bits) * 8

    @property
    def stale_at(self) -> int:
        """The first second at which the list may no longer be relied on."""
        return self.issued_at + self.ttl

    def is_revoked(self, index: int) -> bool:
        """Whether the card at `index` is revoked; IndexError beyond the list."""
        return is_set(self.bits, index)


def sign_status_list(
    *, list_id: str, bits: bytes, issued_at: int, ttl: int, kid: bytes, sign: Callable[[bytes], bytes]
) -> bytes:
    """A Status List Token: COSE_Sign1 (typ statuslist+cwt) over the list id, issue time, ttl and compressed bits."""
    if not 0 < len(list_id.encode()) <= MAX_LIST_ID_SIZE:
        raise ValueError(f"the list id must be text of 1 to {MAX_LIST_ID_SIZE} bytes")
    if issued_at < 0 or ttl <= 0:
        raise ValueError("the issue time must not be negative and the ttl must be positive")
    expand_status_list(bits)
    claims = {
        CLAIM_SUB: list_id,
        CLAIM_IAT: issued_at,
        CLAIM_TTL: ttl,
        CLAIM_STATUS_LIST: {"bits": 1, "lst": bits},
    }
    return sign1(dumps_deterministic(claims), kid=kid, sign=sign, typ=STATUS_LIST_TYP)


def decode_status_list(data: bytes, keys: Mapping[bytes, VerifierKey]) -> StatusList:
    """The verified list in a Status List Token; CoseError `malformed`, `unknown_key` or `bad_signature`."""
    if len(data) > MAX_TOKEN_SIZE:
        raise CoseError(f"a status list token of {len(data)} bytes is larger than {MAX_TOKEN_SIZE}")
    msg = decode_sign1(data)
    if msg.typ != STATUS_LIST_TYP:
        raise CoseError(f"not a status list token (typ {msg.typ!r})")
    key = keys.get(msg.kid)
    if key is None:
        raise CoseError("the status list is signed by a key this verifier does not know", code="unknown_key")
    if not verify_sign1(msg, key.public_raw):
        raise CoseError("the status list's signature does not verify", code="bad_signature")
    try:
        claims = cbor_guard.loads(msg.payload, max_depth=2, max_items=32)
    except cbor_guard.UnsafeCbor as exc:
        raise CoseError(f"unreadable status list claims: {exc}") from None
    if not isinstance(claims, Mapping) or set(claims) != _TOKEN_CLAIMS:
        raise CoseError("a status list token holds exactly sub, iat, ttl and status_list")
    list_id, issued_at, ttl, status = (claims[label] for label in (CLAIM_SUB, CLAIM_IAT, CLAIM_TTL, CLAIM_STATUS_LIST))
    if not isinstance(list_id, str) or not 0 < len(list_id.encode()) <= MAX_LIST_ID_SIZE:
        raise CoseError("the status list id must be short text")
    if type(issued_at) is not int or type(ttl) is not int or issued_at < 0 or ttl <= 0:
        raise CoseError("iat must be a non-negative and ttl a positive number of seconds")
    if not isinstance(status, Mapping) or set(status) != {"bits", "lst"} or status["bits"] != 1:
        raise CoseError('status_list must be {"bits": 1, "lst": compressed bits}')
    if not isinstance(status["lst"], bytes):
        raise CoseError("lst must be a byte string")
    try:
        bits = expand_status_list(status["lst"])
    except ValueError as exc:
        raise CoseError(f"unreadable status list: {exc}") from None
    return StatusList(list_id=list_id, bits=bits, issued_at=issued_at, ttl=ttl, kid=msg.kid)
