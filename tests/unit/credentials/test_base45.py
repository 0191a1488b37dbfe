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
