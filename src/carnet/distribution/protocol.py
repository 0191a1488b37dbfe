"""The rules of enrolment and device life, with no database: codes, the enrolment proof, states (pure)."""

from __future__ import annotations

import hashlib
import re

from carnet.kit.errors import AppError, Conflict, FieldError, ValidationFailed

# 10 Crockford base32 characters (50 bits) in two groups: typed by hand on a tablet, never guessable
# within its lifetime (one day) behind the sign-in throttle.
CODE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
CODE_LENGTH = 10
_CODE_TEXT = re.compile(r"^[0-9A-Za-z]{5}-?[0-9A-Za-z]{5}$")
_ENROL_LABEL = b"carnet/device-enrolment/v1"

# A device's life: active until suspended (a lost tablet, which may be found) or retired (never again).
TRANSITIONS = {
    ("active", "suspend"): "suspended",
    ("suspended", "resume"): "active",
    ("active", "retire"): "retired",
    ("suspended", "retire"): "retired",
}


class DeviceStateError(Conflict):
    """A device cannot move to the asked state from the one it is in."""


def format_code(random_bytes: bytes) -> str:
    """A one-time enrolment code `XXXXX-XXXXX` from at least 7 random bytes."""
    if len(random_bytes) < 7:
        raise ValueError("an enrolment code needs 50 random bits")
    number = int.from_bytes(random_bytes[:7], "big") >> 6
    chars = [CODE_ALPHABET[(number >> (5 * i)) & 31] for i in reversed(range(CODE_LENGTH))]
    return "".join(chars[:5]) + "-" + "".join(chars[5:])


def normalise_code(text: str) -> str:
    """A typed code in its canonical form (upper case, I/L as 1, O as 0, one dash); refuses what is not a code."""
    cleaned = text.strip().upper().replace("I", "1").replace("L", "1").replace("O", "0")
    if not _CODE_TEXT.match(cleaned) or any(c not in CODE_ALPHABET for c in cleaned.replace("-", "")):
        message = "an enrolment code is ten letters and digits, XXXXX-XXXXX"
        raise ValidationFailed(message, [FieldError("code", "enrolment_code_invalid", message)],
                               code="enrolment_code_invalid")  # fmt: skip
    plain = cleaned.replace("-", "")
    return plain[:5] + "-" + plain[5:]


def code_hash(code: str) -> bytes:
    """What the server keeps of a code: its SHA-256 (50 random bits and single use make a slow hash pointless)."""
    return hashlib.sha256(normalise_code(code).encode()).digest()


def enrolment_message(code: str, public_key: bytes, box_key: bytes) -> bytes:
    """What a device signs to enrol: the code and both its public keys, so the proof binds them together."""
    if len(public_key) != 32 or len(box_key) != 32:
        message = "device keys are 32 bytes each"
        raise ValidationFailed(message, [FieldError("public_key", "device_key_invalid", message)],
                               code="device_key_invalid")  # fmt: skip
    return _ENROL_LABEL + b"\0" + normalise_code(code).encode() + b"\0" + public_key + box_key


def next_state(state: str, action: str) -> str:
    """The device's state after `action` (suspend, resume, retire), or a clear refusal."""
    new = TRANSITIONS.get((state, action))
    if new is None:
        raise DeviceStateError(f"a {state} device cannot {action}", code="device_state_invalid")
    return new


def device_refusal(state: str) -> AppError | None:
    """Why a device in `state` may not pull or sync (None when it may)."""
    if state == "suspended":
        return AppError(message="this device is suspended", code="device_suspended", status=403)
    if state == "retired":
        return AppError(message="this device is retired", code="device_retired", status=403)
    return None
