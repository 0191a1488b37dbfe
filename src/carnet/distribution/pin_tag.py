"""PIN checks with no network: a short tag of the card's Argon2id PIN hash, shared by server and point.

The server keeps only each card's Argon2id hash of its six-digit PIN (`credentials/issuing.py`). A point
that is offline for days must still check a PIN at the counter, and a tablet can be stolen, so it must
not hold anything that reveals a PIN. The trade-off (written up in docs/threat-model.md, "PINs at an
offline point"):

- the point holds, per card in its escrow, the hash's public parameters (salt, memory, passes, lanes)
  and a `TAG_BITS`-bit tag: the first bits of HMAC-SHA256 over the raw Argon2id output;
- at the counter the point recomputes Argon2id of the typed PIN with those parameters and compares tags:
  a wrong PIN passes with probability 2^-TAG_BITS (1/4,096), and the point locks the card out after
  `ATTEMPTS` failures, so a random guesser's chance per card is at most ATTEMPTS/4,096;
- a thief who holds the tablet and its keys can try all 10^6 PINs (one Argon2id each, as dear as
  against the server's own hash) and is left with about 10^6/4,096 ≈ 244 candidates per card: the tag
  narrows the PIN without revealing it;
- the tag of a card is the same in every manifest (no per-manifest key), so collecting many manifests,
  or the manifests of two points, never narrows it further: a fresh key per manifest would give each
  manifest independent bits and their intersection would reveal the PIN.

Pure: no clock, no environment, no database; the point agent imports it.
"""

from __future__ import annotations

import base64
import hmac
import re
from dataclasses import dataclass
from hashlib import sha256

from argon2 import low_level

from carnet.kit.errors import AppError

TAG_BITS = 12
# Wrong PINs for one card at one device before the device refuses that card until it syncs.
ATTEMPTS = 5
PIN_DIGITS = 6
# Bounds on what a manifest may ask a point to compute: a hostile manifest cannot make the point spend
# gigabytes or minutes per check (the manifest is signed, but a point still refuses absurd work).
MAX_MEMORY_KIB = 64 * 1024
MAX_PASSES = 8
MAX_LANES = 4

# Domain separation: the tag key is a fixed label, not a secret. The Argon2id salt is the per-card key of
# the slow hash; a secret here would have to travel in every manifest and so would protect nothing.
_TAG_LABEL = b"carnet/pin-tag/v1"
_ENCODED = re.compile(
    r"^\$argon2id\$v=19\$m=(?P<m>[0-9]{1,8}),t=(?P<t>[0-9]{1,3}),p=(?P<p>[0-9]{1,2})"
    r"\$(?P<salt>[A-Za-z0-9+/]{11,64})\$(?P<hash>[A-Za-z0-9+/]{22,128})$"
)


class PinCheckError(AppError):
    """A PIN hash or PIN check data that cannot be used (names what is wrong)."""

    def __init__(self, message: str, *, code: str) -> None:
        super().__init__(message=message, code=code, status=422)


@dataclass(frozen=True)
class PinCheck:
    """What a point holds to check one card's PIN: Argon2id's public parameters and a short tag."""

    salt: bytes
    memory_kib: int
    passes: int
    lanes: int
    hash_len: int
    tag: int

    def __post_init__(self) -> None:
        if not 8 <= len(self.salt) <= 64:
            raise PinCheckError(f"salt of {len(self.salt)} bytes: 8 to 64 expected", code="pin_check_invalid")
        if not 8 * self.lanes <= self.memory_kib <= MAX_MEMORY_KIB:
            raise PinCheckError(f"Argon2id memory {self.memory_kib} KiB out of bounds", code="pin_check_invalid")
        if not 1 <= self.passes <= MAX_PASSES or not 1 <= self.lanes <= MAX_LANES:
            raise PinCheckError(f"Argon2id t={self.passes}, p={self.lanes} out of bounds", code="pin_check_invalid")
        if not 16 <= self.hash_len <= 64:
            raise PinCheckError(f"Argon2id output of {self.hash_len} bytes out of bounds", code="pin_check_invalid")
        if not 0 <= self.tag < 1 << TAG_BITS:
            raise PinCheckError(f"tag {self.tag} does not fit in {TAG_BITS} bits", code="pin_check_invalid")


def _unpad_b64(text: str) -> bytes:
    return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)


def tag_of(card_id: str, raw_hash: bytes) -> int:
    """The first TAG_BITS bits of HMAC-SHA256(label, card id ‖ raw Argon2id output)."""
    digest = hmac.new(_TAG_LABEL, card_id.encode() + b"\x00" + raw_hash, sha256).digest()
    return int.from_bytes(digest[:2], "big") >> (16 - TAG_BITS)


def check_from_hash(card_id: str, encoded_hash: str) -> PinCheck:
    """The point's check data for a card, from the server's stored Argon2id hash (no PIN needed)."""
    found = _ENCODED.match(encoded_hash)
    if found is None:
        raise PinCheckError(f"card {card_id}: not an Argon2id v19 hash", code="pin_hash_unsupported")
    try:
        salt, raw = _unpad_b64(found["salt"]), _unpad_b64(found["hash"])
    except ValueError as exc:
        raise PinCheckError(f"card {card_id}: unreadable base64 in the hash", code="pin_hash_unsupported") from exc
    return PinCheck(
        salt=salt,
        memory_kib=int(found["m"]),
        passes=int(found["t"]),
        lanes=int(found["p"]),
        hash_len=len(raw),
        tag=tag_of(card_id, raw),
    )


def well_formed_pin(pin: str) -> bool:
    """Whether `pin` is six ASCII digits (anything else is refused before any hashing)."""
    return len(pin) == PIN_DIGITS and pin.isascii() and pin.isdigit()


def pin_passes(card_id: str, pin: str, check: PinCheck) -> bool:
    """Whether the typed PIN's tag matches: always for the right PIN, for a wrong one with p = 2^-TAG_BITS."""
    if not well_formed_pin(pin):
        return False
    raw = low_level.hash_secret_raw(
        pin.encode(),
        check.salt,
        time_cost=check.passes,
        memory_cost=check.memory_kib,
        parallelism=check.lanes,
        hash_len=check.hash_len,
        type=low_level.Type.ID,
    )
    return hmac.compare_digest(tag_of(card_id, raw).to_bytes(2, "big"), check.tag.to_bytes(2, "big"))


def candidates_expected() -> float:
    """How many of the 10^6 PINs share a card's tag, on average: what a thief with the tablet is left with."""
    return 10**PIN_DIGITS / (1 << TAG_BITS)


def guess_passes_probability(attempts: int = ATTEMPTS) -> float:
    """The chance that `attempts` distinct random wrong PINs at the counter include one that passes."""
    p_fail = 1 - 1 / (1 << TAG_BITS)
    return 1 - p_fail**attempts
