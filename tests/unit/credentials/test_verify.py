"""The offline verifier: one verdict per card, in the documented order, and never an exception."""

from __future__ import annotations

import cbor2
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from carnet.credentials import base45
from carnet.credentials.cose import VerifierKey, cose_kid, kid_text, sig_structure
from carnet.credentials.credential import MAX_TEXT_SIZE, PREFIX, credential_bytes, issue_credential
from carnet.credentials.statuslist import build_status_list, sign_status_list
from carnet.credentials.verify import MAX_CLOCK_SKEW, VERDICT_CODES, Verdict, verify_credential

from .support import CLAIMS, EXP, ISSUER, KEYS, KID, LIST_TTL, LISTS, NBF, NOW, OTHER_ISSUER, card, status_list

# The verifier's safety net speaks in this form; a test that meets it has found an unhandled error.
SAFETY_NET = "the card could not be read ("


def verdict(text: object, *, now: int = NOW, keys=KEYS, lists=LISTS, signers=None) -> Verdict:
    result = verify_credential(text, keys=keys, status_lists=lists, now=now, status_signers=signers)  # type: ignore[arg-type]
    assert result.code in VERDICT_CODES
    assert not result.message.startswith(SAFETY_NET), result.message
    return result


def wrapped(data: bytes) -> str:
    return PREFIX + base45.encode(data)


class TestValid:
    def test_round_trip(self):
        result = verdict(card())
        assert result.code == "valid" and result.is_valid
        assert result.card_id == CLAIMS.card_id.hex()
        assert result.kid == kid_text(KID) == ISSUER.kid
        assert (result.not_before, result.expires, result.status_index) == (NBF, EXP, 4242)
        assert result.status_list_id == "s1" and result.issuer == "carnet"

    def test_card_size(self):
        text = card()
        assert text.startswith("CN1:") and len(text) <= 220

    @pytest.mark.parametrize(
        ("now", "code"),
        [(NBF - 1, "not_yet_valid"), (NBF, "valid"), (EXP - 1, "valid"), (EXP, "expired"), (EXP + 1, "expired")],
    )
    def test_validity_boundaries(self, now, code):
        lists = {"s1": status_list(issued_at=now - 10)}
        assert verdict(card(), now=now, lists=lists).code == code

    def test_key_rotation(self):
        keys = {**KEYS, cose_kid(OTHER_ISSUER.public_raw): VerifierKey.from_public(OTHER_ISSUER.public_raw)}
        old, new = card(), card(OTHER_ISSUER, card_id=b"\x01" * 16)
        # The lists here are signed by the first key; the issuer names it as a status signer of the new one.
        signers = {cose_kid(OTHER_ISSUER.public_raw): [KID]}
        assert verdict(old, keys=keys, signers=signers).kid == ISSUER.kid
        assert verdict(new, keys=keys, signers=signers).kid == OTHER_ISSUER.kid
        assert verdict(old, keys=keys, signers=signers).code == verdict(new, keys=keys, signers=signers).code == "valid"
        assert verdict(new).code == "unknown_key"


class TestStatus:
    def test_revoked(self):
        result = verdict(card(), lists={"s1": status_list((4242,))})
        assert result.code == "revoked" and result.card_id == CLAIMS.card_id.hex()
        assert verdict(card(), lists={"s1": status_list((4241, 4243))}).code == "valid"

    def test_stale_list_boundary(self):
        lists = {"s1": status_list(issued_at=NBF, ttl=LIST_TTL)}
        assert verdict(card(), now=NBF + LIST_TTL - 1, lists=lists).code == "valid"
        assert verdict(card(), now=NBF + LIST_TTL, lists=lists).code == "status_list_stale"

    def test_missing_list(self):
        assert verdict(card(), lists={}).code == "status_list_stale"
        assert verdict(card(status_list_id="s2")).code == "status_list_stale"

    def test_list_too_short_for_the_index(self):
        assert verdict(card(status_index=(1 << 17) + 5)).code == "status_list_stale"

    def test_time_checks_come_before_status(self):
        lists = {"s1": status_list((4242,))}
        assert verdict(card(), now=EXP, lists=lists).code == "expired"
        assert verdict(card(), now=NBF - 1, lists={}).code == "not_yet_valid"


OTHER_KID = cose_kid(OTHER_ISSUER.public_raw)
BOTH_KEYS = {**KEYS, OTHER_KID: VerifierKey.from_public(OTHER_ISSUER.public_raw)}


class TestStatusListSigner:
    """A status list speaks for a card only when the card's key, or a key its issuer names, signed it."""

    def test_a_list_signed_by_another_trusted_key_is_refused(self):
        foreign = {"s1": status_list(key=OTHER_ISSUER)}
        result = verdict(card(), keys=BOTH_KEYS, lists=foreign)
        assert result.code == "status_list_stale"
        assert OTHER_ISSUER.kid in result.message and ISSUER.kid in result.message

    def test_a_foreign_list_can_neither_revoke_nor_clear_a_card(self):
        assert verdict(card(), keys=BOTH_KEYS, lists={"s1": status_list((4242,), key=OTHER_ISSUER)}).code == (
            "status_list_stale"
        )
        assert verdict(card(), keys=BOTH_KEYS, lists={"s1": status_list(key=OTHER_ISSUER)}).code != "valid"

    def test_a_key_the_issuer_names_for_status_may_sign(self):
        lists = {"s1": status_list(key=OTHER_ISSUER)}
        signers = {KID: frozenset({OTHER_KID})}
        assert verdict(card(), keys=BOTH_KEYS, lists=lists, signers=signers).code == "valid"
        revoked = {"s1": status_list((4242,), key=OTHER_ISSUER)}
        assert verdict(card(), keys=BOTH_KEYS, lists=revoked, signers=signers).code == "revoked"

    def test_naming_is_one_way(self):
        # OTHER may sign status for ISSUER's cards; that does not let ISSUER sign for OTHER's cards.
        signers = {KID: [OTHER_KID]}
        lists = {"s1": status_list(key=ISSUER)}
        assert verdict(card(OTHER_ISSUER), keys=BOTH_KEYS, lists=lists, signers=signers).code == "status_list_stale"
        assert verdict(card(OTHER_ISSUER), keys=BOTH_KEYS, lists=lists, signers={OTHER_KID: [KID]}).code == "valid"

    def test_signers_of_other_keys_do_not_count(self):
        signers = {OTHER_KID: [OTHER_KID], b"\x00" * 9: [OTHER_KID]}
        lists = {"s1": status_list(key=OTHER_ISSUER)}
        assert verdict(card(), keys=BOTH_KEYS, lists=lists, signers=signers).code == "status_list_stale"


class TestStatusListDate:
    """A list dated after the verifier's clock, beyond the allowed skew, is refused."""

    @pytest.mark.parametrize(
        ("issued_after_now", "code"),
        [(-1, "valid"), (0, "valid"), (1, "valid"), (299, "valid"), (300, "valid"), (301, "status_list_stale"),
         (86_400, "status_list_stale")],  # the documented skew: five minutes
    )  # fmt: skip
    def test_future_boundary(self, issued_after_now, code):
        lists = {"s1": status_list(issued_at=NOW + issued_after_now)}
        result = verdict(card(), lists=lists)
        assert result.code == code
        if code != "valid":
            assert "future" in result.message

    def test_the_skew_is_small(self):
        assert 0 < MAX_CLOCK_SKEW <= 600

    def test_a_future_list_cannot_revoke_either(self):
        lists = {"s1": status_list((4242,), issued_at=NOW + 3600)}
        assert verdict(card(), lists=lists).code == "status_list_stale"


class TestRefused:
    def test_unknown_kid(self):
        result = verdict(card(OTHER_ISSUER))
        assert result.code == "unknown_key" and result.kid == OTHER_ISSUER.kid and result.card_id is None

    def test_bad_signature(self):
        # Signed by another key but naming the trusted kid.
        forged = issue_credential(CLAIMS, kid=KID, sign=OTHER_ISSUER.sign)
        result = verdict(forged)
        assert result.code == "bad_signature" and result.card_id is None

    def test_truncated_at_every_length(self):
        text = card()
        for length in range(len(text)):
            assert verdict(text[:length]).code == "malformed", length

    @pytest.mark.parametrize("prefix", ["", "CN2:", "cn1:", "CN1", "HC1:", " CN1:"])
    def test_wrong_prefix(self, prefix):
        assert verdict(prefix + card()[len(PREFIX) :]).code == "malformed"

    @pytest.mark.parametrize("suffix", ["a", "é", "\n", "\x00", "="])
    def test_characters_outside_base45(self, suffix):
        result = verdict(card() + suffix)
        assert result.code == "malformed" and "base45" in result.message

    def test_oversize_input(self):
        result = verdict(PREFIX + "0" * MAX_TEXT_SIZE)
        assert result.code == "malformed" and "more than a card holds" in result.message
        assert verdict("x" * 10_000_000).code == "malformed"

    @pytest.mark.parametrize("value", [None, b"CN1:", 42])
    def test_not_text(self, value):
        assert verdict(value).code == "malformed"

    @pytest.mark.parametrize(
        "bomb",
        [
            b"\x81" * 600 + b"\x00",
            b"\xd2" * 600 + b"\x00",
            b"\xd2\x84\x5b\x80\x00\x00\x00\x00\x00\x00\x00" + b"\x00" * 100,
            b"\xd2\x84\x40\xbb\x00\x00\x00\x01\x00\x00\x00\x00" + b"\x00" * 100,
            b"\xd2\x9f\x40\xa0\x40\x40\xff",
            b"\xd2\x84\x5f\x40\xff\xa0\x40\x40",
            b"\xd2\x84\x40\xbf\xff\x40\x40",
        ],
    )
    def test_cbor_bombs(self, bomb):
        text = wrapped(bomb)
        assert len(text) <= MAX_TEXT_SIZE
        assert verdict(text).code == "malformed"

    def test_every_single_byte_change_is_refused(self):
        data = credential_bytes(card())
        for position in range(len(data)):
            for mask in (0x01, 0x10, 0x80, 0xFF):
                changed = bytearray(data)
                changed[position] ^= mask
                assert verdict(wrapped(bytes(changed))).code in {"malformed", "bad_signature", "unknown_key"}

    def test_status_list_token_is_not_a_card(self):
        token = sign_status_list(
            list_id="s1", bits=build_status_list(8, []), issued_at=NBF, ttl=60, kid=KID, sign=ISSUER.sign
        )
        result = verdict(wrapped(token))
        assert result.code == "malformed" and "typ" in result.message

    def test_signed_garbage_claims_are_malformed(self):
        payload = cbor2.dumps({1: "carnet"})
        protected = cbor2.dumps({1: -8, 4: KID})
        signature = ISSUER.sign(sig_structure(protected, payload))
        text = wrapped(cbor2.dumps(cbor2.CBORTag(18, [protected, {}, payload, signature])))
        result = verdict(text)
        assert result.code == "malformed" and result.kid == ISSUER.kid


class TestFuzz:
    @given(st.text(max_size=300))
    def test_any_text(self, text):
        assert verdict(text).code != "valid"

    @given(st.text(alphabet=base45.ALPHABET, max_size=300))
    def test_any_base45_text_behind_the_prefix(self, text):
        assert verdict(PREFIX + text).code != "valid"

    @given(st.binary(max_size=400))
    def test_any_bytes_behind_the_prefix(self, data):
        assert verdict(wrapped(data)).code == "malformed"

    @given(st.binary(min_size=1, max_size=12).map(lambda tail: b"\xd2\x84" + tail))
    def test_bytes_that_look_like_sign1(self, data):
        assert verdict(wrapped(data)).code == "malformed"

    @settings(max_examples=300)
    @given(st.data())
    def test_mutated_cards_are_never_valid(self, data):
        text = card()
        position = data.draw(st.integers(0, len(text) - 1))
        replacement = data.draw(st.sampled_from(base45.ALPHABET + "a!é"))
        if replacement == text[position]:
            return
        mutated = text[:position] + replacement + text[position + 1 :]
        assert verdict(mutated).code in {"malformed", "bad_signature", "unknown_key"}

    @given(st.integers(0, 2**40))
    def test_any_time_gives_a_time_or_status_verdict(self, now):
        assert verdict(card(), now=now).code in {"valid", "expired", "not_yet_valid", "status_list_stale"}


class TestEdges:
    def test_an_index_just_past_the_list_is_not_covered(self):
        # The list holds 2**17 indexes (0 .. 2**17 - 1): the index 2**17 is the first it cannot vouch for.
        assert verdict(card(status_index=(1 << 17) - 1)).code == "valid"
        result = verdict(card(status_index=1 << 17))
        assert result.code == "status_list_stale" and "does not cover" in result.message

    def test_a_verdict_cannot_be_changed_after_the_fact(self):
        import dataclasses

        result = verdict(card())
        with pytest.raises(dataclasses.FrozenInstanceError):
            result.code = "valid"  # type: ignore[misc]

    def test_an_unexpected_error_is_a_malformed_verdict_not_an_exception(self):
        class BrokenKeys(dict):
            def get(self, *_args):
                raise RuntimeError("disk gone")

        result = verify_credential(card(), keys=BrokenKeys(), status_lists=LISTS, now=NOW)
        assert result.code == "malformed" and not result.is_valid
        assert result.message == "the card could not be read (RuntimeError)"
