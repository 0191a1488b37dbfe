"""RFC 9285 base45: the RFC's examples, round trips, and every kind of bad input."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from carnet.credentials.base45 import ALPHABET, Base45Error, decode, encode

RFC_EXAMPLES = [(b"AB", "BB8"), (b"Hello!!", "%69 VD92EX0"), (b"base-45", "UJCLQE7W581"), (b"ietf!", "QED8WEX0")]


@pytest.mark.parametrize(("data", "text"), RFC_EXAMPLES)
def test_rfc_9285_examples(data, text):
    assert encode(data) == text
    assert decode(text) == data


def test_empty_and_edge_values():
    assert encode(b"") == "" and decode("") == b""
    assert decode(encode(b"\xff\xff")) == b"\xff\xff" and encode(b"\xff\xff") == "FGW"
    assert decode(encode(b"\xff")) == b"\xff" and encode(b"\xff") == "U5"


@given(st.binary(max_size=400))
def test_round_trip(data):
    text = encode(data)
    assert set(text) <= set(ALPHABET)
    assert len(text) == len(data) // 2 * 3 + len(data) % 2 * 2
    assert decode(text) == data


@given(st.text(alphabet=ALPHABET, max_size=60))
def test_text_that_decodes_has_exactly_one_spelling(text):
    try:
        data = decode(text)
    except Base45Error:
        return
    assert encode(data) == text


@pytest.mark.parametrize(
    ("text", "complaint"),
    [
        ("BB8a", "not in the base45 alphabet"),  # lower case is not in the alphabet
        ("BB8!", "not in the base45 alphabet"),
        ("BB8\n", "not in the base45 alphabet"),
        ("BBé", "not in the base45 alphabet"),
        ("A", "single character"),
        ("BB8A", "single character"),
        ("GGW", "more than two bytes"),  # 16 + 16*45 + 32*2025 = 65536
        (":::", "more than two bytes"),
        ("Z5", "more than one byte"),  # 35 + 5*45 = 260
        ("BB8::", "more than one byte"),
    ],
)
def test_bad_input_is_refused_with_a_plain_message(text, complaint):
    with pytest.raises(Base45Error, match=complaint):
        decode(text)


def test_error_is_a_value_error():
    assert issubclass(Base45Error, ValueError)


class TestBoundaries:
    """The largest value a pair or a lone byte can hold, and one more."""

    @pytest.mark.parametrize(
        ("data", "text"),
        [
            (b"\x00", "00"),
            (b"\xfe", "T5"),
            (b"\xff", "U5"),  # 255 = 30 + 5 * 45: the largest lone byte
            (b"\x00\x00", "000"),
            (b"\x00\xff", "U50"),
            (b"\x01\x00", "V50"),  # 256 as a pair: the first value a lone byte cannot hold
            (b"\x07\xe8", "::0"),  # 2024 = 44 + 44 * 45: the last value without a third character
            (b"\x07\xe9", "001"),  # 2025 = 45 * 45: the first value with a third character
            (b"\xff\xfe", "EGW"),
            (b"\xff\xff", "FGW"),  # 65535: the largest pair
        ],
    )
    def test_values_at_the_edges_round_trip(self, data, text):
        assert encode(data) == text
        assert decode(text) == data
        assert decode("000" + text) == b"\x00\x00" + data  # the same after a first triplet

    @pytest.mark.parametrize("tail", ["V5", "W5", ":::"[:2]])
    def test_a_lone_byte_over_255_is_refused(self, tail):
        with pytest.raises(Base45Error, match="more than one byte can hold"):
            decode(tail)
        with pytest.raises(Base45Error, match=r"the last two characters encode \d+"):
            decode("000" + tail)

    def test_after_the_largest_pair_a_lone_256_is_what_is_refused(self):
        with pytest.raises(Base45Error, match="the last two characters encode 256"):
            decode("FGWV5")

    def test_256_is_named_in_the_message(self):
        with pytest.raises(Base45Error, match="encode 256,"):
            decode("V5")

    @pytest.mark.parametrize(("triplet", "value"), [("GGW", 65536), ("HGW", 65537), (":::", 44 + 44 * 45 + 44 * 2025)])
    def test_a_triplet_over_65535_is_refused_where_it_stands(self, triplet, value):
        with pytest.raises(Base45Error, match=f"characters 0-2 encode {value}, more than two bytes can hold"):
            decode(triplet)
        with pytest.raises(Base45Error, match=f"characters 3-5 encode {value}, more than two bytes can hold"):
            decode("000" + triplet + "000")
        with pytest.raises(Base45Error, match=f"characters 3-5 encode {value}"):
            decode("FGW" + triplet + "U5")

    @pytest.mark.parametrize("length", [1, 4, 7])
    def test_a_single_trailing_character_is_refused(self, length):
        with pytest.raises(Base45Error, match="cannot end with a single character"):
            decode("0" * length)

    def test_a_bad_character_is_named_with_its_place(self):
        with pytest.raises(Base45Error, match=r"character 4 \('a'\)"):
            decode("0000a0")
        with pytest.raises(Base45Error, match="character 2 is not in the base45 alphabet"):
            decode("00é")
