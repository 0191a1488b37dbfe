"""The CBOR pre-scan: bombs are refused from their headers, before cbor2 sees them; ordinary values pass."""

from __future__ import annotations

import contextlib

import cbor2
import pytest
from hypothesis import given
from hypothesis import strategies as st

from carnet.credentials.cbor_guard import MAX_DEPTH, UnsafeCbor, loads, scan

SIGN1_TAGS = frozenset({18, 61})

BOMBS = {
    "arrays nested 10,000 deep": b"\x81" * 10_000 + b"\x00",
    "maps nested 10,000 deep": b"\xa1\x00" * 10_000 + b"\x00",
    "tags nested 10,000 deep": b"\xd2" * 10_000 + b"\x00",
    "byte string claiming 2**63 bytes": b"\x5b\x80\x00\x00\x00\x00\x00\x00\x00" + b"\x00" * 16,
    "text string claiming 2**64-1 bytes": b"\x7b" + b"\xff" * 8 + b"a",
    "map claiming 2**32 entries": b"\xbb\x00\x00\x00\x01\x00\x00\x00\x00" + b"\x00\x00" * 8,
    "array claiming 2**64-1 items": b"\x9b" + b"\xff" * 8 + b"\x00" * 8,
    "indefinite array": b"\x9f\x00\xff",
    "indefinite map": b"\xbf\x00\x00\xff",
    "indefinite byte string": b"\x5f\x41\x00\xff",
    "indefinite text string": b"\x7f\x61a\xff",
    "lone break": b"\xff",
    "reserved additional info 28": b"\x1c",
    "reserved additional info 30": b"\x5e",
    "half-precision float": b"\xf9\x3c\x00",
    "double float": b"\xfb" + b"\x00" * 8,
    "true": b"\xf5",
    "null": b"\xf6",
    "undefined": b"\xf7",
    "tag 1 (epoch time)": b"\xc1\x00",
    "tag 24 (embedded CBOR)": b"\xd8\x18\x41\x00",
    "map keyed by a byte string": b"\xa1\x41\x00\x00",
    "map keyed by an array": b"\xa1\x80\x00",
    "trailing bytes": b"\x00\x00",
    "truncated header": b"\x19\x01",
    "truncated string": b"\x45abc",
    "truncated array": b"\x83\x00\x00",
    "empty input": b"",
    "too many items": b"\x99\x01\x2c" + b"\x00" * 300,
    "invalid UTF-8 text": b"\x62\xff\xfe",
    "duplicate map key": b"\xa2\x01\x00\x01\x00",
}


@pytest.mark.parametrize("data", BOMBS.values(), ids=BOMBS.keys())
def test_bombs_and_unsupported_cbor_are_refused(data):
    with pytest.raises(UnsafeCbor):
        loads(data, allowed_tags=SIGN1_TAGS)


@pytest.mark.parametrize(
    "name",
    ["arrays nested 10,000 deep", "byte string claiming 2**63 bytes", "map claiming 2**32 entries", "indefinite map"],
)
def test_bombs_never_reach_cbor2(name):
    # scan alone refuses them: loads only hands data to cbor2 after scan has accepted it.
    with pytest.raises(UnsafeCbor):
        scan(BOMBS[name], allowed_tags=SIGN1_TAGS)


def test_nesting_is_limited_exactly_at_the_limit():
    assert loads(b"\x81" * MAX_DEPTH + b"\x00") is not None
    with pytest.raises(UnsafeCbor, match="nesting deeper"):
        scan(b"\x81" * (MAX_DEPTH + 1) + b"\x00")


def test_the_allowed_tags_pass():
    value = loads(bytes.fromhex("d83dd28440a0404140"), allowed_tags=SIGN1_TAGS)
    assert value == cbor2.CBORTag(61, cbor2.CBORTag(18, (b"", {}, b"", b"@")))
    with pytest.raises(UnsafeCbor, match="tag 18"):
        loads(bytes.fromhex("d28440a0404140"))


cbor_values = st.recursive(
    st.integers(min_value=-(2**64), max_value=2**64 - 1) | st.binary(max_size=20) | st.text(max_size=10),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.integers(-100, 100) | st.text(max_size=4), children, max_size=4)
    ),
    max_leaves=20,
)


@given(cbor_values)
def test_ordinary_values_round_trip(value):
    assert loads(cbor2.dumps(value)) == value


@given(st.binary(max_size=64))
def test_arbitrary_bytes_give_a_value_or_unsafe_cbor(data):
    with contextlib.suppress(UnsafeCbor):
        loads(data, allowed_tags=SIGN1_TAGS)
