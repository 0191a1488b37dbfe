"""Deterministic keys, claims and status lists for the credential tests (no randomness, no clock)."""

from __future__ import annotations

from dataclasses import replace

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from carnet.credentials.cose import VerifierKey, cose_kid
from carnet.credentials.credential import issue_credential
from carnet.credentials.cwt import CardClaims
from carnet.credentials.statuslist import StatusList, build_status_list, decode_status_list, sign_status_list
from carnet.kit.signing import SigningKey

NBF = 1_767_225_600  # 2026-01-01T00:00:00Z
EXP = 1_924_992_000  # 2031-01-01T00:00:00Z
NOW = NBF + 86_400
LIST_ID = "s1"
LIST_SIZE = 1 << 17
LIST_TTL = 7 * 86_400


def signing_key(seed: int) -> SigningKey:
    """A fixed Ed25519 key per seed, so failures reproduce."""
    return SigningKey(Ed25519PrivateKey.from_private_bytes(bytes([seed]) * 32))


ISSUER = signing_key(1)
OTHER_ISSUER = signing_key(2)
KID = cose_kid(ISSUER.public_raw)
KEYS = {KID: VerifierKey.from_public(ISSUER.public_raw)}

CLAIMS = CardClaims(
    issuer="carnet",
    card_id=bytes(range(16)),
    not_before=NBF,
    expires=EXP,
    status_list_id=LIST_ID,
    status_index=4242,
)


def card(key: SigningKey = ISSUER, **changes: object) -> str:
    """A card's QR text signed by `key`, with the given claims changed."""
    return issue_credential(replace(CLAIMS, **changes), kid=cose_kid(key.public_raw), sign=key.sign)


def status_list(
    revoked: tuple[int, ...] = (), *, issued_at: int = NBF, ttl: int = LIST_TTL, key: SigningKey = ISSUER
) -> StatusList:
    """A verified status list `LIST_ID` with the `revoked` indexes set."""
    token = sign_status_list(
        list_id=LIST_ID,
        bits=build_status_list(LIST_SIZE, revoked),
        issued_at=issued_at,
        ttl=ttl,
        kid=cose_kid(key.public_raw),
        sign=key.sign,
    )
    return decode_status_list(token, {cose_kid(key.public_raw): VerifierKey.from_public(key.public_raw)})


LISTS = {LIST_ID: status_list()}
