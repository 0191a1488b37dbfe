"""Ed25519 keys: encrypted storage, ids, signatures."""

from __future__ import annotations

import pytest

from carnet.kit import signing
from carnet.kit.errors import AppError

PASSPHRASE = "una frase de paso larga"


def test_encrypted_key_round_trip_and_signature():
    key = signing.generate()
    pem = signing.encrypt(key, PASSPHRASE)
    assert b"ENCRYPTED PRIVATE KEY" in pem
    again = signing.decrypt(pem, PASSPHRASE)
    assert again.kid == key.kid and len(key.kid) == 12
    signature = again.sign(b"tree head")
    assert signing.verify(key.public_raw, b"tree head", signature)
    assert not signing.verify(key.public_raw, b"tree head!", signature)
    assert not signing.verify(signing.generate().public_raw, b"tree head", signature)
    assert not signing.verify(key.public_raw, b"tree head", signature[:-1] + bytes([signature[-1] ^ 1]))


@pytest.mark.parametrize(("passphrase", "code"), [(None, "key_passphrase_missing"), ("short", "key_passphrase_weak")])
def test_passphrase_must_be_given_and_long_enough(passphrase, code):
    with pytest.raises(AppError) as caught:
        signing.encrypt(signing.generate(), passphrase)
    assert caught.value.code == code


def test_wrong_passphrase_is_a_clear_error():
    pem = signing.encrypt(signing.generate(), PASSPHRASE)
    with pytest.raises(AppError) as caught:
        signing.decrypt(pem, "otra frase de paso larga")
    assert caught.value.code == "key_passphrase_wrong"


def test_public_key_pem_round_trip_and_bad_input():
    key = signing.generate()
    assert signing.public_from_pem(signing.public_pem(key.public_raw)) == key.public_raw
    with pytest.raises(AppError) as caught:
        signing.public_from_pem(b"not a key")
    assert caught.value.code == "key_unreadable"
