"""Status lists at the exact edges of their bounds: sizes, indexes, list ids, times, token size, claim shape.

The limits are written out as numbers here (2**25 indexes, 32-byte list ids, 5 MiB tokens) rather than
imported, so that a changed constant in the module is a failing test, not a test that moves with it.
"""

from __future__ import annotations

import dataclasses
import random
import zlib

import cbor2
import pytest

from carnet.credentials.cose import CoseError, sign1
from carnet.credentials.statuslist import (
    STATUS_LIST_TYP,
    build_status_list,
    decode_status_list,
    expand_status_list,
    is_set,
    sign_status_list,
)

from .support import ISSUER, KEYS, KID, NBF

INDEXES = 1 << 25  # the most indexes a list may have
BITS_BYTES = INDEXES // 8  # 4 MiB of bits
TOKEN_BYTES = 5 * 1024 * 1024
LIST_ID_BYTES = 32
SMALL = build_status_list(8, [3])
BAD_TIMES = "iat must be a non-negative and ttl a positive number of seconds"
BAD_SHAPE = "a status list token holds exactly sub, iat, ttl and status_list"


def token(claims: object) -> bytes:
    """A status list token signed by the issuer over arbitrary claims."""
    return sign1(cbor2.dumps(claims), kid=KID, sign=ISSUER.sign, typ=STATUS_LIST_TYP)


def claims(**changes: object) -> dict:
    """Well-formed claims with some changed (by claim label: sub, iat, ttl, status)."""
    out = {2: "s1", 6: NBF, 65534: 60, 65533: {"bits": 1, "lst": SMALL}}
    labels = {"sub": 2, "iat": 6, "ttl": 65534, "status": 65533}
    for name, value in changes.items():
        out[labels[name]] = value
    return out


def refusal(data: bytes) -> CoseError:
    with pytest.raises(CoseError) as caught:
        decode_status_list(data, KEYS)
    return caught.value


def sign(**changes: object) -> bytes:
    arguments = {"list_id": "s1", "bits": SMALL, "issued_at": NBF, "ttl": 60, "kid": KID, "sign": ISSUER.sign}
    return sign_status_list(**{**arguments, **changes})


class TestListSize:
    def test_the_largest_list_is_built_and_read_to_its_last_index(self):
        bits = expand_status_list(build_status_list(INDEXES, [INDEXES - 1]))
        assert len(bits) == BITS_BYTES
        assert is_set(bits, INDEXES - 1) and not is_set(bits, INDEXES - 2)
        with pytest.raises(ValueError, match="1 to 33554432 indexes"):
            build_status_list(INDEXES + 1, [])

    def test_the_smallest_list_has_one_index(self):
        assert expand_status_list(build_status_list(1, [0])) == b"\x01"
        with pytest.raises(ValueError, match="1 to 33554432 indexes"):
            build_status_list(0, [])

    def test_expansion_stops_exactly_at_2_to_the_25_indexes(self):
        assert len(expand_status_list(zlib.compress(bytes(BITS_BYTES)))) == BITS_BYTES
        with pytest.raises(ValueError, match="expands beyond 33554432 indexes"):
            expand_status_list(zlib.compress(bytes(BITS_BYTES + 1)))
        with pytest.raises(ValueError, match="expands beyond"):
            expand_status_list(zlib.compress(bytes(2 * BITS_BYTES)))

    def test_a_list_of_the_largest_size_followed_by_a_byte_is_refused(self):
        with pytest.raises(ValueError, match="extra bytes"):
            expand_status_list(zlib.compress(bytes(BITS_BYTES)) + b"\x00")

    def test_lists_are_compressed_at_zlibs_best_level(self):
        size = 1_000_000
        revoked = random.Random(7).sample(range(size), size // 100)
        compressed = build_status_list(size, revoked)
        bits = expand_status_list(compressed)
        assert len(compressed) <= min(len(zlib.compress(bits, level)) for level in range(10))


class TestIndexes:
    @pytest.mark.parametrize("index", [-1, -8, 10, 11, 16])
    def test_an_index_outside_the_list_is_refused(self, index):
        with pytest.raises(ValueError, match=f"index {index} is outside a list of 10"):
            build_status_list(10, [index])

    def test_the_first_and_last_index_are_inside(self):
        bits = expand_status_list(build_status_list(10, [0, 9]))
        assert [i for i in range(16) if is_set(bits, i)] == [0, 9]


class TestSigning:
    @pytest.mark.parametrize("list_id", ["a", "x" * LIST_ID_BYTES, "é" * (LIST_ID_BYTES // 2)])
    def test_list_ids_of_1_to_32_bytes_are_signed(self, list_id):
        assert decode_status_list(sign(list_id=list_id), KEYS).list_id == list_id

    @pytest.mark.parametrize("list_id", ["", "x" * (LIST_ID_BYTES + 1), "é" * (LIST_ID_BYTES // 2) + "a"])
    def test_other_list_ids_are_refused(self, list_id):
        with pytest.raises(ValueError, match="1 to 32 bytes"):
            sign(list_id=list_id)

    def test_the_earliest_issue_time_and_the_shortest_ttl(self):
        listed = decode_status_list(sign(issued_at=0, ttl=1), KEYS)
        assert (listed.issued_at, listed.ttl, listed.stale_at) == (0, 1, 1)

    @pytest.mark.parametrize(("issued_at", "ttl"), [(-1, 60), (NBF, 0), (NBF, -1), (-1, 0)])
    def test_a_negative_issue_time_or_a_ttl_below_one_second_is_refused(self, issued_at, ttl):
        with pytest.raises(ValueError, match="must not be negative"):
            sign(issued_at=issued_at, ttl=ttl)

    def test_a_verified_list_cannot_be_altered(self):
        listed = decode_status_list(sign(), KEYS)
        with pytest.raises(dataclasses.FrozenInstanceError):
            listed.bits = bytes(1)  # type: ignore[misc]


class TestTokenSize:
    def test_a_token_of_5_mib_is_read_and_one_byte_more_is_not(self):
        # At the limit the bytes are read (and found not to be COSE); one more and they are not read at all.
        assert "larger than" not in refusal(b"\x00" * TOKEN_BYTES).message
        error = refusal(b"\x00" * (TOKEN_BYTES + 1))
        assert error.message == f"a status list token of {TOKEN_BYTES + 1} bytes is larger than {TOKEN_BYTES}"
        assert error.code == "malformed"

    def test_a_real_token_near_the_limit_is_read(self):
        # A list of 2**25 random bits does not deflate: its token is about 4.2 MB, under 5 MiB.
        bits = random.Random(3).randbytes(BITS_BYTES)
        data = sign(bits=zlib.compress(bits, 9))
        assert 4 * 1024 * 1024 < len(data) < TOKEN_BYTES
        assert decode_status_list(data, KEYS).bits == bits


class TestClaimEdges:
    @pytest.mark.parametrize("list_id", ["a", "x" * LIST_ID_BYTES, "é" * (LIST_ID_BYTES // 2)])
    def test_list_ids_of_1_to_32_bytes_are_read(self, list_id):
        assert decode_status_list(token(claims(sub=list_id)), KEYS).list_id == list_id

    @pytest.mark.parametrize("list_id", ["", "x" * (LIST_ID_BYTES + 1), "é" * (LIST_ID_BYTES // 2) + "a", 7])
    def test_other_list_ids_are_malformed(self, list_id):
        error = refusal(token(claims(sub=list_id)))
        assert (error.code, error.message) == ("malformed", "the status list id must be short text")

    def test_the_earliest_issue_time_and_the_shortest_ttl_are_read(self):
        listed = decode_status_list(token(claims(iat=0, ttl=1)), KEYS)
        assert (listed.issued_at, listed.ttl) == (0, 1)

    @pytest.mark.parametrize(
        "changes", [{"iat": -1}, {"ttl": 0}, {"ttl": -1}, {"iat": "0"}, {"ttl": "60"}, {"iat": b"\x00"}]
    )
    def test_other_times_are_malformed(self, changes):
        error = refusal(token(claims(**changes)))
        assert (error.code, error.message) == ("malformed", BAD_TIMES)

    def test_claims_that_are_not_a_map_are_malformed(self):
        error = refusal(token([2, 6, 65534, 65533]))
        assert (error.code, error.message) == ("malformed", BAD_SHAPE)

    def test_a_status_list_that_is_not_a_map_is_malformed(self):
        error = refusal(token(claims(status=["bits", "lst"])))
        assert error.code == "malformed" and error.message.startswith("status_list must be")


class TestClaimLimits:
    """The claims nest two deep and hold 13 items; the pre-scan refuses past 2 levels and 32 items."""

    def test_two_levels_pass_the_scan_and_three_do_not(self):
        # An extra claim holding an array: two levels, read and then refused for its shape.
        error = refusal(token({**claims(), 7: [0]}))
        assert error.message == BAD_SHAPE
        error = refusal(token(claims(status={"bits": 1, "lst": SMALL, "x": [0]})))
        assert error.code == "malformed"
        assert error.message.startswith("unreadable status list claims: nesting deeper than 2 at byte ")

    def test_thirty_two_items_pass_the_scan_and_thirty_three_do_not(self):
        # The 13 items of the claims, a key and an array: 15, and then the array's own items.
        error = refusal(token({**claims(), 7: [0] * 17}))
        assert error.message == BAD_SHAPE
        error = refusal(token({**claims(), 7: [0] * 18}))
        assert error.code == "malformed"
        assert error.message.startswith("unreadable status list claims: more than 32 items: ")
