"""Revocation status lists: bit order, size, capped expansion, and the signed token."""

from __future__ import annotations

import random
import zlib

import cbor2
import pytest
from hypothesis import given
from hypothesis import strategies as st

from carnet.credentials.cose import CoseError, VerifierKey, sign1
from carnet.credentials.credential import credential_bytes
from carnet.credentials.statuslist import (
    MAX_BITS_SIZE,
    STATUS_LIST_TYP,
    build_status_list,
    decode_status_list,
    expand_status_list,
    is_set,
    sign_status_list,
)

from .support import ISSUER, KEYS, KID, NBF, OTHER_ISSUER, card
from .support import status_list as verified_list


def test_bit_order_is_least_significant_bit_first():
    assert expand_status_list(build_status_list(16, [0, 9])) == b"\x01\x02"
    assert expand_status_list(build_status_list(8, [7])) == b"\x80"
    assert expand_status_list(build_status_list(9, [])) == b"\x00\x00"


def test_a_million_indexes_with_one_percent_revoked_compress_below_15_kb():
    size = 1_000_000
    revoked = random.Random(20260101).sample(range(size), size // 100)
    compressed = build_status_list(size, revoked)
    # Entropy bound for 1 % density: about 10.1 KB; zlib at level 9 gives about 14 KB.
    assert len(compressed) <= 15_000
    bits = expand_status_list(compressed)
    revoked_set = set(revoked)
    assert all(is_set(bits, i) == (i in revoked_set) for i in range(0, size, 997))
    assert all(is_set(bits, i) for i in revoked)


@given(st.integers(1, 5000).flatmap(lambda n: st.tuples(st.just(n), st.sets(st.integers(0, n - 1)))))
def test_is_set_agrees_with_the_revoked_set(case):
    size, revoked = case
    bits = expand_status_list(build_status_list(size, revoked))
    assert len(bits) == (size + 7) // 8
    assert [i for i in range(size) if is_set(bits, i)] == sorted(revoked)


def test_out_of_range_indexes():
    with pytest.raises(ValueError):
        build_status_list(10, [10])
    with pytest.raises(ValueError):
        build_status_list(0, [])
    with pytest.raises(ValueError):
        build_status_list((1 << 25) + 1, [])
    bits = expand_status_list(build_status_list(8, []))
    with pytest.raises(IndexError):
        is_set(bits, 8)
    with pytest.raises(IndexError):
        is_set(bits, -1)


@pytest.mark.parametrize(
    ("compressed", "complaint"),
    [
        (zlib.compress(bytes(MAX_BITS_SIZE + 1), 9), "beyond"),
        (zlib.compress(b"\x00" * 100)[:-3], "truncated"),
        (zlib.compress(b"\x00" * 100) + b"\x00", "extra bytes"),
        (b"not zlib", "not a zlib stream"),
        (zlib.compress(b""), "empty"),
    ],
)
def test_expansion_is_capped_and_strict(compressed, complaint):
    with pytest.raises(ValueError, match=complaint):
        expand_status_list(compressed)


class TestToken:
    def test_round_trip(self):
        token = sign_status_list(
            list_id="s1", bits=build_status_list(64, [5]), issued_at=NBF, ttl=3600, kid=KID, sign=ISSUER.sign
        )
        listed = decode_status_list(token, KEYS)
        assert (listed.list_id, listed.issued_at, listed.ttl, listed.stale_at, listed.size) == (
            "s1",
            NBF,
            3600,
            NBF + 3600,
            64,
        )
        assert listed.is_revoked(5) and not listed.is_revoked(4) and listed.kid == KID

    def test_claims_follow_the_ietf_status_list_token(self):
        bits = build_status_list(64, [5])
        token = sign_status_list(list_id="s1", bits=bits, issued_at=NBF, ttl=3600, kid=KID, sign=ISSUER.sign)
        protected, _, payload, _ = cbor2.loads(token).value
        assert cbor2.loads(protected) == {1: -8, 4: KID, 16: STATUS_LIST_TYP}
        assert cbor2.loads(payload) == {2: "s1", 6: NBF, 65534: 3600, 65533: {"bits": 1, "lst": bits}}

    def test_unknown_key(self):
        token = sign_status_list(
            list_id="s1", bits=build_status_list(8, []), issued_at=NBF, ttl=60, kid=KID, sign=ISSUER.sign
        )
        with pytest.raises(CoseError) as caught:
            decode_status_list(token, {})
        assert caught.value.code == "unknown_key"

    def test_bad_signature(self):
        # Signed by another key under the issuer's kid.
        token = sign_status_list(
            list_id="s1", bits=build_status_list(8, []), issued_at=NBF, ttl=60, kid=KID, sign=OTHER_ISSUER.sign
        )
        with pytest.raises(CoseError) as caught:
            decode_status_list(token, KEYS)
        assert caught.value.code == "bad_signature"

    def test_a_list_verified_under_its_own_key(self):
        assert verified_list((3,), key=OTHER_ISSUER).is_revoked(3)

    def test_a_card_is_not_a_status_list(self):
        with pytest.raises(CoseError, match="not a status list") as caught:
            decode_status_list(credential_bytes(card()), KEYS)
        assert caught.value.code == "malformed"

    @pytest.mark.parametrize(
        "claims",
        [
            {2: "s1", 6: NBF, 65534: 60},
            {2: "s1", 6: NBF, 65534: 60, 65533: {"bits": 2, "lst": build_status_list(8, [])}},
            {2: "s1", 6: NBF, 65534: 0, 65533: {"bits": 1, "lst": build_status_list(8, [])}},
            {2: "s1", 6: -5, 65534: 60, 65533: {"bits": 1, "lst": build_status_list(8, [])}},
            {2: b"s1", 6: NBF, 65534: 60, 65533: {"bits": 1, "lst": build_status_list(8, [])}},
            {2: "s1", 6: NBF, 65534: 60, 65533: {"bits": 1, "lst": "text"}},
            {2: "s1", 6: NBF, 65534: 60, 65533: {"bits": 1, "lst": zlib.compress(bytes(MAX_BITS_SIZE + 1))}},
            {2: "s1", 6: NBF, 65534: 60, 4: NBF + 60, 65533: {"bits": 1, "lst": build_status_list(8, [])}},
        ],
    )
    def test_bad_token_claims_are_malformed(self, claims):
        token = sign1(cbor2.dumps(claims), kid=KID, sign=ISSUER.sign, typ=STATUS_LIST_TYP)
        with pytest.raises(CoseError) as caught:
            decode_status_list(token, KEYS)
        assert caught.value.code == "malformed"

    def test_signing_refuses_a_broken_list(self):
        with pytest.raises(ValueError):
            sign_status_list(list_id="s1", bits=b"junk", issued_at=NBF, ttl=60, kid=KID, sign=ISSUER.sign)
        with pytest.raises(ValueError):
            sign_status_list(
                list_id="s1", bits=build_status_list(8, []), issued_at=NBF, ttl=0, kid=KID, sign=ISSUER.sign
            )


def test_verifier_keys_are_checked_when_made():
    with pytest.raises(ValueError):
        VerifierKey(kid=KID, public_raw=b"\x00" * 31)
