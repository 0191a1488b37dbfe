"""The CWT claims (RFC 8392) a card carries: issuer, card id, validity and where its revocation bit is.

Nothing else goes on a card: no name, no person id, no program. The card id is random and the person's
registry id never leaves the registry (DESIGN.md §3), so a scanned card says nothing about who holds it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import cbor2

from carnet.credentials import cbor_guard
from carnet.credentials.cose import CoseError, dumps_deterministic

FORMAT_VERSION = 1
CLAIM_ISS, CLAIM_EXP, CLAIM_NBF, CLAIM_CTI = 1, 4, 5, 7
# One private claim, [format version, status list id, status index]. The IANA CWT registry leaves keys
# below -65536 to private use; small negative keys are Standards Action space and not ours to squat.
# A private-use key costs five bytes, so one claim holding a three-item array costs 15 bytes where three
# separate private claims would cost 24, and the IETF Token Status List claim (65535: {"status_list":
# {"idx": n, "uri": id}}) 33 plus a separate version claim: either would push the card past QR version
# 10 at error correction Q. The version comes first so a later version may change what follows it.
CLAIM_CARNET = -65537
CARD_ID_SIZE = 16
MAX_ISSUER_SIZE = 64
MAX_LIST_ID_SIZE = 32
MAX_STATUS_INDEXES = 1 << 25

_CLAIM_KEYS = frozenset({CLAIM_ISS, CLAIM_EXP, CLAIM_NBF, CLAIM_CTI, CLAIM_CARNET})
_CLAIM_NAMES = {CLAIM_ISS: "iss", CLAIM_EXP: "exp", CLAIM_NBF: "nbf", CLAIM_CTI: "cti", CLAIM_CARNET: "carnet"}


def _is_time(value: object) -> bool:
    return type(value) is int and 0 <= value < 1 << 64


@dataclass(frozen=True)
class CardClaims:
    """What a card asserts: issued by `issuer`, card `card_id`, valid from `not_before` until `expires` (seconds)."""

    issuer: str
    card_id: bytes
    not_before: int
    expires: int
    status_list_id: str
    status_index: int

    def __post_init__(self) -> None:
        if not isinstance(self.issuer, str) or not 0 < len(self.issuer.encode()) <= MAX_ISSUER_SIZE:
            raise ValueError(f"the issuer must be text of 1 to {MAX_ISSUER_SIZE} bytes")
        if not isinstance(self.card_id, bytes) or len(self.card_id) != CARD_ID_SIZE:
            raise ValueError(f"the card id must be {CARD_ID_SIZE} bytes")
        if not (_is_time(self.not_before) and _is_time(self.expires)):
            raise ValueError("not-before and expiry must be whole seconds since 1970, not negative")
        if self.expires <= self.not_before:
            raise ValueError("a card must expire after it becomes valid")
        if not isinstance(self.status_list_id, str) or not 0 < len(self.status_list_id.encode()) <= MAX_LIST_ID_SIZE:
            raise ValueError(f"the status list id must be text of 1 to {MAX_LIST_ID_SIZE} bytes")
        if type(self.status_index) is not int or not 0 <= self.status_index < MAX_STATUS_INDEXES:
            raise ValueError(f"the status index must be from 0 to {MAX_STATUS_INDEXES - 1}")


def encode_claims(claims: CardClaims) -> bytes:
    """The claims as a deterministically encoded CWT claims map."""
    return dumps_deterministic(
        {
            CLAIM_ISS: claims.issuer,
            CLAIM_EXP: claims.expires,
            CLAIM_NBF: claims.not_before,
            CLAIM_CTI: claims.card_id,
            CLAIM_CARNET: [FORMAT_VERSION, claims.status_list_id, claims.status_index],
        }
    )


_MAX_SIGNED_CLAIMS = 256


def decode_claims(data: bytes, *, signature_checked: bool = False) -> CardClaims:
    """The claims of a CWT claims map; CoseError `malformed` for anything missing, extra or of the wrong type.

    With `signature_checked`, the payload was signed by a key the verifier trusts, so only the issuer's own
    encoder made it: cbor2 reads it under its limits without the slower pre-scan.
    """
    try:
        if signature_checked and len(data) <= _MAX_SIGNED_CLAIMS:
            claims = cbor2.loads(data, max_depth=3, allow_indefinite=False, allow_duplicate_keys=False)
        else:
            claims = cbor_guard.loads(data, max_depth=2, max_items=32)
    except cbor_guard.UnsafeCbor as exc:
        raise CoseError(f"unreadable claims: {exc}") from None
    except (cbor2.CBORError, ValueError, TypeError, OverflowError) as exc:
        raise CoseError(f"unreadable claims: {exc}") from None
    if not isinstance(claims, Mapping):
        raise CoseError("the claims must be a map")
    missing = _CLAIM_KEYS - set(claims)
    if missing:
        raise CoseError("missing claims: " + ", ".join(sorted(_CLAIM_NAMES[key] for key in missing)))
    if len(claims) != len(_CLAIM_KEYS):
        # Refusing unknown claims keeps a card from carrying anything beyond the five documented ones.
        raise CoseError("claims other than iss, exp, nbf, cti and the Carnet claim")
    carnet = claims[CLAIM_CARNET]
    if not isinstance(carnet, list | tuple) or len(carnet) != 3:
        raise CoseError("the Carnet claim must be [format version, status list id, status index]")
    version, list_id, index = carnet
    if version != FORMAT_VERSION:
        raise CoseError(f"card format version {version!r} is not supported (only {FORMAT_VERSION})")
    try:
        return CardClaims(
            issuer=claims[CLAIM_ISS],
            card_id=claims[CLAIM_CTI],
            not_before=claims[CLAIM_NBF],
            expires=claims[CLAIM_EXP],
            status_list_id=list_id,
            status_index=index,
        )
    except ValueError as exc:
        raise CoseError(f"bad claims: {exc}") from None
