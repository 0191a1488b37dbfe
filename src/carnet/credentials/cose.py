"""COSE_Sign1 with EdDSA (RFC 9052 §4.2, §4.4) on cbor2 and cryptography; keys are passed in, never loaded here."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import cbor2
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from carnet.credentials import cbor_guard
from carnet.kit.errors import AppError

TAG_SIGN1 = 18
TAG_CWT = 61
HEADER_ALG, HEADER_KID, HEADER_TYP = 1, 4, 16
ALG_EDDSA = -8
SIGNATURE_SIZE = 64
MAX_KID_SIZE = 32

_ENVELOPE_TAGS = frozenset({TAG_SIGN1, TAG_CWT})


class CoseError(AppError):
    """COSE or CWT data that cannot be accepted; `code` is `malformed`, `unknown_key` or `bad_signature`."""

    def __init__(self, message: str, code: str = "malformed") -> None:
        super().__init__(message=message, code=code, status=422)


def dumps_deterministic(value: Any) -> bytes:
    """CBOR in RFC 8949 §4.2.1 core deterministic encoding (map keys sorted by their encoded bytes)."""
    # cbor2's canonical=True sorts keys length-first (RFC 7049 §3.9), which differs from RFC 8949 once
    # keys of different widths meet (65535 before -1, for instance); cbor2 keeps dict order, so sort here.
    return cbor2.dumps(_in_deterministic_order(value))


@lru_cache(maxsize=1024)
def _encoded_key(key: Any) -> bytes:
    # Our maps are keyed by a few integers and short texts: encode each once, not on every signature.
    return cbor2.dumps(key)


def _in_deterministic_order(value: Any) -> Any:
    if isinstance(value, Mapping):
        ordered = sorted(value.items(), key=lambda pair: _encoded_key(pair[0]))
        return {key: _in_deterministic_order(item) for key, item in ordered}
    if isinstance(value, list | tuple):
        return [_in_deterministic_order(item) for item in value]
    return value


def cose_kid(public_raw: bytes) -> bytes:
    """The COSE `kid` of a public key: the 9 bytes of its SHA-256 whose base64url is `kit.signing.key_id`."""
    return hashlib.sha256(public_raw).digest()[:9]


def kid_text(kid: bytes) -> str:
    """A COSE `kid` as text: base64url, so `kid_text(cose_kid(k)) == kit.signing.key_id(k)`."""
    return base64.urlsafe_b64encode(kid).decode().rstrip("=")


@dataclass(frozen=True)
class VerifierKey:
    """A public Ed25519 key a verifier trusts, under the `kid` that cards name it by."""

    kid: bytes
    public_raw: bytes

    def __post_init__(self) -> None:
        if len(self.public_raw) != 32:
            raise ValueError("an Ed25519 public key has 32 bytes")
        Ed25519PublicKey.from_public_bytes(self.public_raw)

    @classmethod
    def from_public(cls, public_raw: bytes) -> VerifierKey:
        """The key under its derived kid."""
        return cls(kid=cose_kid(public_raw), public_raw=public_raw)


@dataclass(frozen=True)
class Sign1:
    """A decoded, not yet verified COSE_Sign1 message."""

    protected: bytes
    header: Mapping[int, Any]
    unprotected: Mapping[Any, Any]
    payload: bytes
    signature: bytes
    alg: int
    kid: bytes
    typ: str | None = field(default=None)


def sig_structure(protected: bytes, payload: bytes) -> bytes:
    """The bytes an EdDSA COSE_Sign1 signs: Sig_structure with context "Signature1" and no external data."""
    return cbor2.dumps(["Signature1", protected, b"", payload])


@lru_cache(maxsize=64)
def _protected_header(kid: bytes, typ: str | None) -> bytes:
    # The same for every card a key signs: encode it once.
    header: dict[int, Any] = {HEADER_ALG: ALG_EDDSA, HEADER_KID: kid}
    if typ is not None:
        header[HEADER_TYP] = typ
    return dumps_deterministic(header)


def sign1(payload: bytes, *, kid: bytes, sign: Callable[[bytes], bytes], typ: str | None = None) -> bytes:
    """A tagged COSE_Sign1 over `payload`, the protected header holding alg EdDSA, `kid` and optionally `typ`."""
    protected = _protected_header(kid, typ)
    signature = sign(sig_structure(protected, payload))
    if len(signature) != SIGNATURE_SIZE:
        raise ValueError("an Ed25519 signature has 64 bytes")
    return cbor2.dumps(cbor2.CBORTag(TAG_SIGN1, [protected, {}, payload, signature]))


def decode_sign1(data: bytes) -> Sign1:
    """The parts of a tagged COSE_Sign1 (an outer CWT tag 61 is allowed); CoseError `malformed` otherwise."""
    try:
        item = cbor_guard.loads(data, allowed_tags=_ENVELOPE_TAGS, max_depth=4, max_items=64)
    except cbor_guard.UnsafeCbor as exc:
        raise CoseError(f"not a COSE_Sign1 message: {exc}") from None
    if isinstance(item, cbor2.CBORTag) and item.tag == TAG_CWT:
        item = item.value
    if not isinstance(item, cbor2.CBORTag) or item.tag != TAG_SIGN1:
        raise CoseError("not tagged as a COSE_Sign1 message (tag 18)")
    parts = item.value
    if not isinstance(parts, list | tuple) or len(parts) != 4:
        raise CoseError("a COSE_Sign1 message is an array of four items")
    protected, unprotected, payload, signature = parts
    if not (isinstance(protected, bytes) and isinstance(payload, bytes) and isinstance(signature, bytes)):
        raise CoseError("the protected header, payload and signature must be byte strings")
    if not isinstance(unprotected, Mapping) or unprotected:
        # Unprotected parameters are not signed: accepting any would make a signed card malleable.
        raise CoseError("the unprotected header must be an empty map")
    if len(signature) != SIGNATURE_SIZE:
        raise CoseError(f"the signature has {len(signature)} bytes; Ed25519 signatures have 64")
    try:
        header = cbor_guard.loads(protected, max_depth=1, max_items=16)
    except cbor_guard.UnsafeCbor as exc:
        raise CoseError(f"unreadable protected header: {exc}") from None
    if not isinstance(header, Mapping):
        raise CoseError("the protected header must be a map")
    if set(header) - {HEADER_ALG, HEADER_KID, HEADER_TYP}:
        raise CoseError("the protected header holds parameters other than alg, kid and typ")
    alg = header.get(HEADER_ALG)
    if alg != ALG_EDDSA:
        # One algorithm is supported; any other alg is a malformed card, not a separate verdict.
        raise CoseError(f"the algorithm is {alg!r}, not EdDSA (-8)")
    kid = header.get(HEADER_KID)
    if not isinstance(kid, bytes) or not 0 < len(kid) <= MAX_KID_SIZE:
        raise CoseError("the protected header needs a kid of 1 to 32 bytes")
    typ = header.get(HEADER_TYP)
    if typ is not None and not isinstance(typ, str):
        raise CoseError("typ must be text")
    return Sign1(protected, header, unprotected, payload, signature, alg, kid, typ)


@lru_cache(maxsize=256)
def _public_key(public_raw: bytes) -> Ed25519PublicKey:
    # A verifier holds a handful of keys and checks thousands of cards: parse each key once.
    return Ed25519PublicKey.from_public_bytes(public_raw)


def verify_sign1(msg: Sign1, public_raw: bytes) -> bool:
    """Whether `msg` carries a valid EdDSA signature by the key `public_raw`."""
    try:
        _public_key(public_raw).verify(msg.signature, sig_structure(msg.protected, msg.payload))
    except (InvalidSignature, ValueError):
        return False
    return True
