"""Sector pseudonyms (pure): the documented input, the text form, stable per key, distinct across keys and ids."""

from __future__ import annotations

import base64
import hashlib
import hmac
import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st

from carnet.kit.errors import AppError
from carnet.programs.pseudonym import household_pseudonym, is_pseudonym, sector_pseudonym, unit_pseudonym

KEY_A, KEY_B = bytes(range(32)), bytes(range(1, 33))
PERSON = uuid.UUID("0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b")
keys = st.binary(min_size=32, max_size=32)
ids = st.uuids()


def test_the_pseudonym_is_the_documented_hmac_in_base32():
    # docs/formats/pseudonym.md: HMAC-SHA256(key, "carnet/sector-pseudonym/v1" 00 "person" 00 uuid-bytes).
    message = b"carnet/sector-pseudonym/v1\x00person\x00" + PERSON.bytes
    mac = hmac.new(KEY_A, message, hashlib.sha256).digest()
    assert sector_pseudonym(KEY_A, PERSON) == "PS1-" + base64.b32encode(mac).decode().rstrip("=")


def test_fixed_vectors_keep_the_format_from_drifting():
    # Written down once (docs/formats/pseudonym.md quotes them): a change here re-keys every export.
    assert sector_pseudonym(KEY_A, PERSON) == "PS1-PG363QSDUPDKOX4KOF2UJUXC4B6XZHTNE74OFBNQYEAFM6HDREAA"
    assert household_pseudonym(KEY_A, PERSON) == "HS1-CEQJ2VIUKFBSBN3VJERJYIMALAKE7BLUKUZYAJ6SDI7LJKKERYDA"


def test_the_text_form_is_a_prefix_and_52_base32_characters():
    text = sector_pseudonym(KEY_A, PERSON)
    assert len(text) == 56 and text.startswith("PS1-") and is_pseudonym(text)
    assert set(text[4:]) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")
    assert not is_pseudonym(text.lower()) and not is_pseudonym(text[:-1]) and not is_pseudonym(str(PERSON))


def test_persons_and_households_are_separate_domains():
    household = household_pseudonym(KEY_A, PERSON)
    assert household.startswith("HS1-") and household[4:] != sector_pseudonym(KEY_A, PERSON)[4:]
    assert unit_pseudonym(KEY_A, "household", PERSON) == household


@given(key=keys, person=ids)
def test_stable_for_one_key(key, person):
    assert sector_pseudonym(key, person) == sector_pseudonym(bytes(key), uuid.UUID(bytes=person.bytes))


@given(key_a=keys, key_b=keys, person=ids)
def test_two_programmes_keys_give_two_pseudonyms_of_one_person(key_a, key_b, person):
    if key_a != key_b:
        assert sector_pseudonym(key_a, person) != sector_pseudonym(key_b, person)


@given(key=keys, first=ids, second=ids)
def test_two_persons_get_two_pseudonyms_under_one_key(key, first, second):
    if first != second:
        assert sector_pseudonym(key, first) != sector_pseudonym(key, second)


@given(key=keys, person=ids)
def test_the_registry_id_does_not_show_through(key, person):
    text = sector_pseudonym(key, person)
    assert person.hex.upper() not in text and str(person) not in text


@pytest.mark.parametrize("length", [0, 16, 31, 33, 64])
def test_a_key_that_is_not_32_bytes_is_refused(length):
    with pytest.raises(AppError) as caught:
        sector_pseudonym(b"k" * length, PERSON)
    assert caught.value.code == "sector_key_invalid"


def test_an_unknown_unit_is_refused():
    with pytest.raises(AppError) as caught:
        unit_pseudonym(KEY_A, "village", PERSON)
    assert caught.value.code == "pseudonym_unit_unknown"
