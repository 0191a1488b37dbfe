"""RFC 8785 canonical JSON: examples from the RFC, and round trips."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from carnet.kit.canonical import canonical_json


def test_members_are_sorted_by_utf16_code_units():
    # RFC 8785 §3.2.3 sorting example (keys only; values simplified to integers).
    value = {"\u20ac": 1, "\r": 2, "\ufb33": 3, "1": 4, "\U0001f600": 5, "\u0080": 6, "\u00f6": 7}
    keys = [k for k in json.loads(canonical_json(value))]
    assert keys == ["\r", "1", "\u0080", "\u00f6", "\u20ac", "\U0001f600", "\ufb33"]


def test_no_whitespace_and_minimal_escapes():
    assert canonical_json({"b": [1, True, None], "a": 'é\n"\\'}) == '{"a":"é\\n\\"\\\\","b":[1,true,null]}'.encode()
    assert canonical_json("\u001f") == b'"\\u001f"'


@pytest.mark.parametrize("bad", [1.5, 2**53, {1: "x"}, {"a": object()}])
def test_values_without_a_single_canonical_form_are_refused(bad):
    with pytest.raises(ValueError):
        canonical_json(bad)


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53) + 1, 2**53 - 1) | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=20,
)


@given(JSON_VALUES)
def test_decodes_to_the_same_value_and_reencodes_identically(value):
    encoded = canonical_json(value)
    assert json.loads(encoded) == value
    assert canonical_json(json.loads(encoded)) == encoded


@given(JSON_VALUES)
def test_the_fast_path_and_the_reference_encoder_agree(value):
    from carnet.kit.canonical import _encode

    assert canonical_json(value) == _encode(value).encode("utf-8")
