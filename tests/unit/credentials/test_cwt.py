"""CWT claims: exactly the documented five, each of the right type."""

from __future__ import annotations

from dataclasses import replace

import cbor2
import pytest

from carnet.credentials.cose import CoseError
from carnet.credentials.cwt import CLAIM_CARNET, FORMAT_VERSION, CardClaims, decode_claims, encode_claims

from .support import CLAIMS

GOOD = {1: "carnet", 4: CLAIMS.expires, 5: CLAIMS.not_before, 7: CLAIMS.card_id, -65537: [1, "s1", 4242]}


def test_round_trip_and_layout():
    data = encode_claims(CLAIMS)
    assert decode_claims(data) == CLAIMS
    assert cbor2.loads(data) == GOOD
    # Keys in RFC 8949 deterministic order: 1, 4, 5, 7, then -65537 (0x3a00010000).
    assert list(cbor2.loads(data)) == [1, 4, 5, 7, CLAIM_CARNET]
    assert FORMAT_VERSION == 1


def without(key: int) -> dict:
    return {k: v for k, v in GOOD.items() if k != key}


@pytest.mark.parametrize(
    ("claims", "complaint"),
    [
        (without(1), "missing claims: iss"),
        (without(7), "missing claims: cti"),
        (without(-65537), "missing claims: carnet"),
        ({**GOOD, 2: "subject"}, "claims other than"),
        ({**GOOD, 6: CLAIMS.not_before}, "claims other than"),
        ({**GOOD, 1: b"carnet"}, "issuer"),
        ({**GOOD, 1: ""}, "issuer"),
        ({**GOOD, 7: bytes(15)}, "card id"),
        ({**GOOD, 7: "0" * 16}, "card id"),
        ({**GOOD, 5: -1}, "not-before"),
        ({**GOOD, 4: "2031"}, "expiry"),
        ({**GOOD, 4: CLAIMS.not_before}, "expire after"),
        ({**GOOD, -65537: [2, "s1", 4242]}, "version 2"),
        ({**GOOD, -65537: ["1", "s1", 4242]}, "version"),
        ({**GOOD, -65537: [1, "s1"]}, "Carnet claim"),
        ({**GOOD, -65537: {"idx": 4242}}, "Carnet claim"),
        ({**GOOD, -65537: [1, b"s1", 4242]}, "status list id"),
        ({**GOOD, -65537: [1, "s1", -1]}, "status index"),
        ({**GOOD, -65537: [1, "s1", 1 << 25]}, "status index"),
        ([1, 2, 3], "must be a map"),
    ],
)
def test_bad_claims_are_malformed(claims, complaint):
    with pytest.raises(CoseError, match=complaint) as caught:
        decode_claims(cbor2.dumps(claims))
    assert caught.value.code == "malformed"


def test_unreadable_claims_are_malformed():
    with pytest.raises(CoseError, match="unreadable"):
        decode_claims(b"\xa5\x01")


@pytest.mark.parametrize(
    "changes",
    [
        {"card_id": bytes(8)},
        {"issuer": "x" * 65},
        {"expires": CLAIMS.not_before},
        {"not_before": True},
        {"status_index": -1},
        {"status_list_id": ""},
    ],
)
def test_claims_that_cannot_be_issued(changes):
    with pytest.raises(ValueError):
        replace(CLAIMS, **changes)


def test_claims_hold_nothing_about_the_person():
    assert [f for f in CardClaims.__dataclass_fields__] == [
        "issuer",
        "card_id",
        "not_before",
        "expires",
        "status_list_id",
        "status_index",
    ]
