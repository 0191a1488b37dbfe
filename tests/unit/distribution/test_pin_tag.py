"""The offline PIN check: the right PIN always passes, a wrong one rarely, and a thief is left with hundreds."""

from __future__ import annotations

import hmac
import math
import secrets
from hashlib import sha256

import pytest
from argon2 import PasswordHasher
from hypothesis import given, settings
from hypothesis import strategies as st

from carnet.credentials.issuing import pin_hasher
from carnet.distribution.pin_tag import (
    ATTEMPTS,
    TAG_BITS,
    PinCheck,
    PinCheckError,
    candidates_expected,
    check_from_hash,
    guess_passes_probability,
    pin_passes,
    tag_of,
    well_formed_pin,
)

# The cheapest Argon2id the library allows, so that counting tag collisions over many PINs stays fast; the
# tag's arithmetic does not depend on the cost.
CHEAP = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)


def _binomial_bounds(n: int, p: float, sigmas: float = 5.0) -> tuple[float, float]:
    mean, sd = n * p, math.sqrt(n * p * (1 - p))
    return mean - sigmas * sd, mean + sigmas * sd


class TestTheRightPin:
    def test_the_servers_stored_hash_gives_check_data_the_right_pin_passes(self):
        stored = pin_hasher(256).hash("482913")
        check = check_from_hash("card-1", stored)
        assert (check.memory_kib, check.passes, check.lanes, check.hash_len) == (256, 1, 1, 32)
        assert pin_passes("card-1", "482913", check)

    @settings(max_examples=25, deadline=None)
    @given(pin=st.from_regex(r"\A[0-9]{6}\Z"), card=st.uuids().map(str))
    def test_any_pin_passes_for_its_own_card(self, pin, card):
        assert pin_passes(card, pin, check_from_hash(card, CHEAP.hash(pin)))

    def test_the_tag_is_bound_to_the_card(self):
        stored = CHEAP.hash("482913")
        tags = {check_from_hash(f"card-{i}", stored).tag for i in range(64)}
        # Same hash, 64 card ids: the tags spread over the 4,096 values (not one value for all).
        assert len(tags) > 50

    def test_the_same_card_gets_the_same_tag_in_every_manifest(self):
        stored = CHEAP.hash("482913")
        assert check_from_hash("card-1", stored) == check_from_hash("card-1", stored)


class TestWrongPins:
    def test_the_false_accept_rate_is_one_in_4096(self):
        # 60,000 wrong PINs against one card's real Argon2id hash: the count that passes is binomial with
        # p = 1/4,096 (mean 14.6); a tag of fewer bits, or a check that ignores the tag, falls outside.
        stored = CHEAP.hash("482913")
        check = check_from_hash("card-1", stored)
        wrong = [f"{n:06d}" for n in range(0, 1_000_000, 16) if f"{n:06d}" != "482913"][:60_000]
        passed = sum(pin_passes("card-1", pin, check) for pin in wrong)
        low, high = _binomial_bounds(len(wrong), 2**-TAG_BITS)
        assert low <= passed <= high, passed

    def test_a_thief_is_left_with_about_244_candidates_per_card(self):
        # The tag layer over 10^6 Argon2id outputs (random bytes stand in for them: Argon2id's output is
        # indistinguishable from random): how many PINs share one card's tag.
        card = "card-7"
        target = tag_of(card, secrets.token_bytes(32))
        matching = sum(tag_of(card, secrets.token_bytes(32)) == target for _ in range(1_000_000))
        low, high = _binomial_bounds(1_000_000, 2**-TAG_BITS)
        assert low <= matching <= high, matching
        assert 200 < candidates_expected() < 300

    def test_a_counter_guesser_with_five_tries_rarely_passes(self):
        assert ATTEMPTS == 5
        assert guess_passes_probability() == pytest.approx(5 / 4096, rel=0.01)
        assert guess_passes_probability(1) == pytest.approx(1 / 4096)

    @pytest.mark.parametrize("pin", ["", "12345", "1234567", "12345a", "١٢٣٤٥٦", " 12345", "12345\n"])
    def test_a_malformed_pin_never_passes_and_is_not_hashed(self, pin):
        assert not well_formed_pin(pin)
        # Even against the check data of a PIN whose first six characters it shares.
        check = check_from_hash("card-1", CHEAP.hash("123456"))
        assert pin_passes("card-1", pin, check) is False

    def test_the_tag_compares_every_bit(self):
        stored = CHEAP.hash("482913")
        check = check_from_hash("card-1", stored)
        for bit in range(TAG_BITS):
            flipped = PinCheck(**{**check.__dict__, "tag": check.tag ^ (1 << bit)})
            assert not pin_passes("card-1", "482913", flipped)


class TestTheTagItself:
    def test_it_is_the_first_twelve_bits_of_the_documented_hmac(self):
        raw = bytes(range(32))
        digest = hmac.new(b"carnet/pin-tag/v1", b"card-1\x00" + raw, sha256).digest()
        assert tag_of("card-1", raw) == (digest[0] << 4) | (digest[1] >> 4)

    def test_tags_fit_in_twelve_bits(self):
        assert all(0 <= tag_of(f"c{i}", secrets.token_bytes(32)) < 4096 for i in range(2000))


class TestRefusedCheckData:
    @pytest.mark.parametrize(
        "encoded",
        [
            "",
            "$argon2i$v=19$m=256,t=1,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaA",
            "$argon2id$v=16$m=256,t=1,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaA",
            "$2b$12$abcdefghijklmnopqrstuv",
            "$argon2id$v=19$m=256,t=1,p=1$c2Fsd!$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaA",
        ],
    )
    def test_a_hash_that_is_not_argon2id_v19_is_refused_by_code(self, encoded):
        with pytest.raises(PinCheckError) as refused:
            check_from_hash("card-1", encoded)
        assert refused.value.code == "pin_hash_unsupported"
        assert "card-1" in str(refused.value)

    @pytest.mark.parametrize(
        ("field", "value"),
        [
            ("salt", b"short"),
            ("salt", b"s" * 65),
            ("memory_kib", 7),
            ("memory_kib", 64 * 1024 + 1),
            ("passes", 0),
            ("passes", 9),
            ("lanes", 0),
            ("lanes", 5),
            ("hash_len", 15),
            ("hash_len", 65),
            ("tag", -1),
            ("tag", 4096),
        ],
    )
    def test_check_data_out_of_bounds_is_refused(self, field, value):
        good = {"salt": b"s" * 16, "memory_kib": 256, "passes": 1, "lanes": 1, "hash_len": 32, "tag": 0}
        PinCheck(**good)
        with pytest.raises(PinCheckError) as refused:
            PinCheck(**{**good, field: value})
        assert refused.value.code == "pin_check_invalid"

    def test_the_bounds_themselves_are_accepted(self):
        PinCheck(salt=b"s" * 8, memory_kib=8, passes=1, lanes=1, hash_len=16, tag=4095)
        PinCheck(salt=b"s" * 64, memory_kib=64 * 1024, passes=8, lanes=4, hash_len=64, tag=0)
