"""Issuer public keys published as a COSE_KeySet (RFC 9052 §7) and as a JWKS (RFC 7517, RFC 8037).

A verifier needs nothing but the published set: each key carries the kid that cards name it by.
Keys of types other than Ed25519 are skipped on parsing, so a set may later grow other algorithms
without breaking verifiers that do not use them; a broken entry is an error, never silently dropped.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable, Mapping
from typing import Any

from carnet.credentials import cbor_guard
from carnet.credentials.cose import ALG_EDDSA, CoseError, VerifierKey, dumps_deterministic, kid_text

KEY_KTY, KEY_KID, KEY_ALG, KEY_CRV, KEY_X = 1, 2, 3, -1, -2
KTY_OKP = 1
CRV_ED25519 = 6
MAX_KEYS = 64


def cose_key_set(keys: Iterable[VerifierKey]) -> bytes:
    """The keys as a deterministically encoded COSE_KeySet."""
    return dumps_deterministic(
        [
            {KEY_KTY: KTY_OKP, KEY_KID: key.kid, KEY_ALG: ALG_EDDSA, KEY_CRV: CRV_ED25519, KEY_X: key.public_raw}
            for key in keys
        ]
    )


def jwks(keys: Iterable[VerifierKey]) -> dict[str, list[dict[str, str]]]:
    """The keys as a JSON Web Key Set, ready for json.dumps."""
    return {
        "keys": [
            {
                "kty": "OKP",
                "crv": "Ed25519",
                "x": _b64url(key.public_raw),
                "kid": kid_text(key.kid),
                "alg": "EdDSA",
                "use": "sig",
            }
            for key in keys
        ]
    }


def parse_cose_key_set(data: bytes) -> dict[bytes, VerifierKey]:
    """The Ed25519 keys of a COSE_KeySet by kid; CoseError `malformed` for a broken set."""
    try:
        entries = cbor_guard.loads(data, max_depth=3, max_items=MAX_KEYS * 32)
    except cbor_guard.UnsafeCbor as exc:
        raise CoseError(f"unreadable key set: {exc}") from None
    if not isinstance(entries, list) or len(entries) > MAX_KEYS:
        raise CoseError(f"a COSE_KeySet is an array of at most {MAX_KEYS} COSE_Key maps")
    if not all(isinstance(entry, Mapping) for entry in entries):
        raise CoseError("a COSE_KeySet is an array of COSE_Key maps")
    found: dict[bytes, VerifierKey] = {}
    for entry in entries:
        if entry.get(KEY_KTY) != KTY_OKP or entry.get(KEY_CRV) != CRV_ED25519:
            continue
        if entry.get(KEY_ALG, ALG_EDDSA) != ALG_EDDSA:
            continue
        kid, x = entry.get(KEY_KID), entry.get(KEY_X)
        if not isinstance(kid, bytes) or not kid or not isinstance(x, bytes):
            raise CoseError("an Ed25519 COSE_Key needs a kid and x as byte strings")
        _add(found, kid, x)
    return found


def parse_jwks(document: Mapping[str, Any]) -> dict[bytes, VerifierKey]:
    """The Ed25519 keys of a parsed JWKS document by kid; CoseError `malformed` for a broken set."""
    entries = document.get("keys") if isinstance(document, Mapping) else None
    if not isinstance(entries, list) or len(entries) > MAX_KEYS:
        raise CoseError(f'a JWKS is an object with "keys", a list of at most {MAX_KEYS} keys')
    found: dict[bytes, VerifierKey] = {}
    for entry in entries:
        if not isinstance(entry, Mapping):
            raise CoseError("each JWK must be an object")
        if entry.get("kty") != "OKP" or entry.get("crv") != "Ed25519" or entry.get("alg", "EdDSA") != "EdDSA":
            continue
        kid, x = entry.get("kid"), entry.get("x")
        if not isinstance(kid, str) or not isinstance(x, str):
            raise CoseError("an Ed25519 JWK needs kid and x as text")
        _add(found, _from_b64url(kid), _from_b64url(x))
    return found


def _add(found: dict[bytes, VerifierKey], kid: bytes, public_raw: bytes) -> None:
    if kid in found:
        raise CoseError(f"kid {kid_text(kid)} appears twice in the key set")
    try:
        found[kid] = VerifierKey(kid=kid, public_raw=public_raw)
    except ValueError as exc:
        raise CoseError(f"key {kid_text(kid)}: {exc}") from None


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _from_b64url(text: str) -> bytes:
    try:
        data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raise CoseError(f"{text!r} is not base64url") from None
    # The decoder skips characters outside the alphabet; re-encoding catches them and any padding.
    if not data or _b64url(data) != text:
        raise CoseError(f"{text!r} is not unpadded base64url")
    return data
