"""Device request signatures: only the device's key, only this request, only now."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from carnet.distribution.device_auth import DeviceAuthError, authorization, claimed_device, verify_request
from carnet.kit.ids import uuid7

NOW = 1_796_000_000
KEY = Ed25519PrivateKey.generate()
PUBLIC = KEY.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
DEVICE = uuid7()


def header(method="POST", path="/api/v1/sync/events", body=b"{}", timestamp=NOW, key=KEY):
    return authorization(device_id=DEVICE, method=method, path=path, body=body, timestamp=timestamp, sign=key.sign)


def check(value, method="POST", path="/api/v1/sync/events", body=b"{}", now=NOW):
    return verify_request(value, method=method, path=path, body=body, public_key=PUBLIC, now=now)


def test_the_devices_own_signature_over_this_request_passes():
    assert check(header()) == DEVICE
    assert claimed_device(header()) == DEVICE


@pytest.mark.parametrize(
    "change",
    [{"method": "GET"}, {"path": "/api/v1/points/x/manifest"}, {"body": b'{"events": []}'}],
)
def test_the_signature_covers_method_path_and_body(change):
    with pytest.raises(DeviceAuthError) as refused:
        check(header(), **change)
    assert refused.value.code == "device_unauthenticated"


def test_another_key_is_refused():
    with pytest.raises(DeviceAuthError):
        check(header(key=Ed25519PrivateKey.generate()))


def test_a_captured_header_is_useless_minutes_later():
    assert check(header(), now=NOW + 300) == DEVICE
    for now in (NOW + 301, NOW - 301):
        with pytest.raises(DeviceAuthError) as refused:
            check(header(), now=now)
        assert refused.value.code == "device_request_stale"


@pytest.mark.parametrize("value", [None, "", "Bearer abc", "CarnetDevice x.1.y", header().replace(".", ":", 1)])
def test_a_missing_or_malformed_header_is_refused(value):
    with pytest.raises(DeviceAuthError) as refused:
        check(value)
    assert refused.value.code == "device_unauthenticated"
