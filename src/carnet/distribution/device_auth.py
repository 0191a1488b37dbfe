"""How a device proves who it is on each request: an Ed25519 signature over the request, no stored secret.

A device holds no password or bearer token that a thief could copy off a tablet's disk without the
device's passphrase: its requests carry

    Authorization: CarnetDevice <device id>.<unix seconds>.<base64url signature>

where the signature covers `carnet-device-request/1`, the method, the path with its query, the time
and the SHA-256 of the body, each on its own line. The server checks the signature with the device's
enrolled key and refuses a time more than `MAX_SKEW` seconds from its own clock, so a captured header
is useless a few minutes later (and every request it could replay is idempotent anyway). Pure: keys and
time are passed in.
"""

from __future__ import annotations

import base64
import hashlib
import re
import uuid
from collections.abc import Callable

from carnet.kit.errors import AppError
from carnet.kit.signing import verify

SCHEME = "CarnetDevice"
MAX_SKEW = 300
_HEADER = re.compile(r"^CarnetDevice (?P<device>[0-9a-f-]{36})\.(?P<time>[0-9]{1,12})\.(?P<sig>[A-Za-z0-9_-]{86})$")


class DeviceAuthError(AppError):
    """A request whose device signature is missing, malformed, stale or wrong."""

    def __init__(self, message: str, *, code: str) -> None:
        super().__init__(message=message, code=code, status=401)


def request_message(method: str, path: str, timestamp: int, body: bytes) -> bytes:
    """The bytes a device signs for one request."""
    digest = hashlib.sha256(body).hexdigest()
    return "\n".join(["carnet-device-request/1", method.upper(), path, str(timestamp), digest]).encode()


def authorization(
    *, device_id: uuid.UUID, method: str, path: str, body: bytes, timestamp: int, sign: Callable[[bytes], bytes]
) -> str:
    """The Authorization header value for one request by this device."""
    signature = base64.urlsafe_b64encode(sign(request_message(method, path, timestamp, body))).decode().rstrip("=")
    return f"{SCHEME} {device_id}.{timestamp}.{signature}"


def claimed_device(header: str | None) -> uuid.UUID:
    """The device a header claims to be (not yet verified)."""
    found = _HEADER.match(header or "")
    if found is None:
        raise DeviceAuthError(
            "a device request needs an Authorization: CarnetDevice header", code="device_unauthenticated"
        )
    try:
        return uuid.UUID(found["device"])
    except ValueError:
        raise DeviceAuthError("the device id in the header is not a uuid", code="device_unauthenticated") from None


def verify_request(
    header: str | None, *, method: str, path: str, body: bytes, public_key: bytes, now: int, max_skew: int = MAX_SKEW
) -> uuid.UUID:
    """The device id, if `header` is that device's valid, fresh signature over this exact request."""
    device_id = claimed_device(header)
    found = _HEADER.match(header or "")
    assert found is not None  # claimed_device matched the same pattern
    timestamp = int(found["time"])
    if abs(now - timestamp) > max_skew:
        raise DeviceAuthError(
            f"the request is dated {timestamp}, {now - timestamp:+d} s from the server's clock: check the device clock",
            code="device_request_stale",
        )
    signature = base64.urlsafe_b64decode(found["sig"] + "==")
    if not verify(public_key, request_message(method, path, timestamp, body), signature):
        raise DeviceAuthError("the request's signature does not match the device's key", code="device_unauthenticated")
    return device_id
