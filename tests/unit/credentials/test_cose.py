"""COSE_Sign1 with EdDSA: round trip, deterministic headers, and every way a message can be wrong."""

from __future__ import annotations

import cbor2
import pytest

from carnet.credentials.cose import (
    CoseError,
    Sign1,
    cose_kid,
    decode_sign1,
    dumps_deterministic,
    kid_text,
    sig_structure,
    sign1,
    verify_sign1,
)
from carnet.kit.signing import key_id

from .support import ISSUER, KID, OTHER_ISSUER

PAYLOAD = b"\xa1\x01\x66carnet"


def forged(parts: list, *, tag: int = 18) -> bytes:
    return cbor2.dumps(cbor2.CBORTag(tag, parts))


def signed_with_header(header: dict) -> bytes:
    protected = cbor2.dumps(header)
    return forged([protected, {}, PAYLOAD, ISSUER.sign(sig_structure(protected, PAYLOAD))])


def malformed(data: bytes) -> str:
    with pytest.raises(CoseError) as caught:
        decode_sign1(data)
    assert caught.value.code == "malformed"
    return caught.value.message


class TestSign1:
    def test_round_trip(self):
        data = sign1(PAYLOAD, kid=KID, sign=ISSUER.sign)
        msg = decode_sign1(data)
        assert (msg.payload, msg.kid, msg.alg, msg.typ) == (PAYLOAD, KID, -8, None)
        assert msg.protected == b"\xa2\x01\x27\x04\x49" + KID
        assert msg.unprotected == {}
        assert verify_sign1(msg, ISSUER.public_raw)
        assert not verify_sign1(msg, OTHER_ISSUER.public_raw)

    def test_message_layout(self):
        data = sign1(PAYLOAD, kid=KID, sign=ISSUER.sign)
        tag = cbor2.loads(data)
        assert tag.tag == 18
        protected, unprotected, payload, signature = tag.value
        assert unprotected == {} and payload == PAYLOAD
        expected = cbor2.dumps(["Signature1", protected, b"", PAYLOAD])
        assert signature == ISSUER.sign(expected)

    def test_typ_goes_in_the_protected_header(self):
        msg = decode_sign1(sign1(PAYLOAD, kid=KID, sign=ISSUER.sign, typ="application/statuslist+cwt"))
        assert msg.typ == "application/statuslist+cwt" and verify_sign1(msg, ISSUER.public_raw)

    def test_an_outer_cwt_tag_is_accepted(self):
        inner = cbor2.loads(sign1(PAYLOAD, kid=KID, sign=ISSUER.sign))
        msg = decode_sign1(cbor2.dumps(cbor2.CBORTag(61, inner)))
        assert verify_sign1(msg, ISSUER.public_raw)

    def test_every_single_byte_change_is_caught(self):
        data = sign1(PAYLOAD, kid=KID, sign=ISSUER.sign)
        for position in range(len(data)):
            for mask in (0x01, 0x02, 0x04, 0x08, 0x10, 0x20, 0x40, 0x80, 0xFF):
                changed = bytearray(data)
                changed[position] ^= mask
                try:
                    msg = decode_sign1(bytes(changed))
                except CoseError as exc:
                    assert exc.code == "malformed"
                    continue
                assert not (msg.kid == KID and verify_sign1(msg, ISSUER.public_raw)), (position, mask)

    def test_a_signature_must_be_64_bytes(self):
        with pytest.raises(ValueError):
            sign1(PAYLOAD, kid=KID, sign=lambda _: b"short")


class TestMalformed:
    def test_wrong_alg(self):
        assert "not EdDSA" in malformed(signed_with_header({1: -7, 4: KID}))
        assert "not EdDSA" in malformed(signed_with_header({1: "EdDSA", 4: KID}))

    def test_missing_alg(self):
        assert "not EdDSA" in malformed(signed_with_header({4: KID}))

    def test_missing_or_bad_kid(self):
        malformed(signed_with_header({1: -8}))
        malformed(signed_with_header({1: -8, 4: "text"}))
        malformed(signed_with_header({1: -8, 4: b""}))
        malformed(signed_with_header({1: -8, 4: b"k" * 33}))

    def test_unknown_protected_parameter(self):
        assert "other than" in malformed(signed_with_header({1: -8, 4: KID, 3: 60}))

    def test_wrong_tag(self):
        parts = cbor2.loads(sign1(PAYLOAD, kid=KID, sign=ISSUER.sign)).value
        malformed(forged(list(parts), tag=17))
        malformed(forged(list(parts), tag=98))
        assert "tag 18" in malformed(cbor2.dumps(list(parts)))
        malformed(cbor2.dumps(cbor2.CBORTag(61, list(parts))))

    def test_wrong_shapes(self):
        protected = cbor2.dumps({1: -8, 4: KID})
        signature = bytes(64)
        malformed(forged([protected, {}, PAYLOAD]))
        malformed(forged([protected, {}, PAYLOAD, signature, b""]))
        malformed(forged([protected, {}, "text", signature]))
        malformed(forged([{1: -8}, {}, PAYLOAD, signature]))
        malformed(forged([protected, {4: KID}, PAYLOAD, signature]))
        malformed(forged([protected, [], PAYLOAD, signature]))
        malformed(forged([protected, {}, PAYLOAD, bytes(63)]))
        malformed(forged([protected, {}, PAYLOAD, bytes(65)]))
        malformed(forged([b"", {}, PAYLOAD, signature]))
        malformed(forged([cbor2.dumps([1, -8]), {}, PAYLOAD, signature]))
        malformed(forged([protected + b"\x00", {}, PAYLOAD, signature]))


class TestKeyIds:
    def test_cose_kid_is_the_bytes_behind_the_text_key_id(self):
        assert len(KID) == 9
        assert kid_text(KID) == key_id(ISSUER.public_raw) == ISSUER.kid
        assert cose_kid(OTHER_ISSUER.public_raw) != KID


def test_deterministic_encoding_sorts_keys_by_their_bytes():
    # cbor2's canonical=True puts -1 (0x20) before 65535 (0x19ffff); RFC 8949 §4.2.1 wants the reverse.
    assert dumps_deterministic({-1: 0, 65535: 0, "a": 0, 1: 0}) == bytes.fromhex("a4010019ffff002000616100")
    assert dumps_deterministic({2: {"lst": 0, "bits": 0}}) == bytes.fromhex("a102a2636c737400646269747300")


def test_sign1_is_a_frozen_record():
    msg = decode_sign1(sign1(PAYLOAD, kid=KID, sign=ISSUER.sign))
    assert isinstance(msg, Sign1)
    with pytest.raises(AttributeError):
        msg.kid = b"x"  # type: ignore[misc]


class TestHeaderBoundaries:
    """The protected header's limits, each at its edge (from mutation testing)."""

    @staticmethod
    def message(header: dict | bytes) -> bytes:
        protected = header if isinstance(header, bytes) else cbor2.dumps(header)
        return cbor2.dumps(cbor2.CBORTag(18, [protected, {}, b"payload", b"\x00" * 64]))

    @pytest.mark.parametrize("size", [1, 32])
    def test_a_kid_of_1_to_32_bytes_is_read(self, size):
        from carnet.credentials.cose import decode_sign1

        assert decode_sign1(self.message({1: -8, 4: b"k" * size})).kid == b"k" * size

    @pytest.mark.parametrize("kid", [b"", b"k" * 33, "text"])
    def test_any_other_kid_is_refused(self, kid):
        from carnet.credentials.cose import CoseError, decode_sign1

        with pytest.raises(CoseError, match="kid of 1 to 32 bytes"):
            decode_sign1(self.message({1: -8, 4: kid}))

    def test_typ_is_header_16_and_must_be_text(self):
        from carnet.credentials.cose import CoseError, decode_sign1

        assert decode_sign1(self.message({1: -8, 4: b"k", 16: "application/x"})).typ == "application/x"
        with pytest.raises(CoseError, match="typ must be text"):
            decode_sign1(self.message({1: -8, 4: b"k", 16: 7}))

    def test_a_protected_header_that_is_not_a_map_is_refused(self):
        from carnet.credentials.cose import CoseError, decode_sign1

        with pytest.raises(CoseError, match="must be a map"):
            decode_sign1(self.message(cbor2.dumps([1, -8])))

    def test_errors_are_422_malformed_and_decoded_messages_are_frozen(self):
        import dataclasses

        from carnet.credentials.cose import CoseError, decode_sign1

        error = CoseError("x")
        assert (error.status, error.code) == (422, "malformed")
        decoded = decode_sign1(self.message({1: -8, 4: b"k"}))
        with pytest.raises(dataclasses.FrozenInstanceError):
            decoded.kid = b"other"  # type: ignore[misc]

    def test_a_verifier_key_must_have_32_bytes_and_cannot_be_changed(self):
        import dataclasses

        from carnet.credentials.cose import VerifierKey

        key = VerifierKey(
            kid=b"k", public_raw=bytes.fromhex("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a")
        )
        with pytest.raises(dataclasses.FrozenInstanceError):
            key.kid = b"other"  # type: ignore[misc]

        with pytest.raises(ValueError, match="32 bytes"):
            VerifierKey(kid=b"k", public_raw=b"\x01" * 31)

    def test_deterministic_order_reaches_maps_inside_arrays(self):
        from carnet.credentials.cose import dumps_deterministic

        assert (
            dumps_deterministic([{2: 0, 1: 0}])
            == dumps_deterministic([{1: 0, 2: 0}])
            == bytes.fromhex("81a2") + (b"\x01\x00\x02\x00")
        )
