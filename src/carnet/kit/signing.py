"""Ed25519 keys without domain knowledge: generation, passphrase-encrypted storage, key ids, signatures."""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from carnet.kit.errors import AppError

MIN_PASSPHRASE = 12


def key_id(public_raw: bytes) -> str:
    """A short stable id for a public key: base64url of the first 9 bytes of its SHA-256."""
    return base64.urlsafe_b64encode(hashlib.sha256(public_raw).digest()[:9]).decode()


@dataclass(frozen=True)
class SigningKey:
    """A private Ed25519 key and its id."""

    private: Ed25519PrivateKey

    @property
    def public_raw(self) -> bytes:
        """The 32-byte public key."""
        return self.private.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)

    @property
    def kid(self) -> str:
        """The key id."""
        return key_id(self.public_raw)

    def sign(self, message: bytes) -> bytes:
        """A 64-byte Ed25519 signature."""
        return self.private.sign(message)


def generate() -> SigningKey:
    """A new random key."""
    return SigningKey(Ed25519PrivateKey.generate())


def require_passphrase(passphrase: str | None) -> str:
    """The passphrase, or a clear error when it is missing or too short."""
    if not passphrase:
        raise AppError(
            "no key passphrase is set; set CARNET_KEY_PASSPHRASE (private keys are stored encrypted with it)",
            code="key_passphrase_missing",
        )
    if len(passphrase) < MIN_PASSPHRASE:
        raise AppError(f"the key passphrase needs at least {MIN_PASSPHRASE} characters", code="key_passphrase_weak")
    return passphrase


def encrypt(key: SigningKey, passphrase: str | None) -> bytes:
    """The key as passphrase-encrypted PKCS#8 PEM."""
    secret = require_passphrase(passphrase).encode()
    return key.private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(secret),
    )


def decrypt(pem: bytes, passphrase: str | None) -> SigningKey:
    """The key from passphrase-encrypted PKCS#8 PEM; a clear error for a wrong passphrase."""
    secret = require_passphrase(passphrase).encode()
    try:
        private = serialization.load_pem_private_key(pem, password=secret)
    except (ValueError, TypeError) as exc:
        raise AppError("the key passphrase does not open this key", code="key_passphrase_wrong") from exc
    if not isinstance(private, Ed25519PrivateKey):
        raise AppError("not an Ed25519 key", code="key_wrong_type")
    return SigningKey(private)


def public_pem(public_raw: bytes) -> bytes:
    """A public key as SubjectPublicKeyInfo PEM, for publishing."""
    return Ed25519PublicKey.from_public_bytes(public_raw).public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def public_from_pem(pem: bytes) -> bytes:
    """The raw 32 bytes of a PEM Ed25519 public key, or a clear error."""
    try:
        key = serialization.load_pem_public_key(pem)
    except ValueError as exc:
        raise AppError("not a PEM public key", code="key_unreadable") from exc
    if not isinstance(key, Ed25519PublicKey):
        raise AppError("not an Ed25519 public key", code="key_wrong_type")
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def verify(public_raw: bytes, message: bytes, signature: bytes) -> bool:
    """Whether `signature` is `public_raw`'s Ed25519 signature of `message`."""
    try:
        Ed25519PublicKey.from_public_bytes(public_raw).verify(signature, message)
        return True
    except (InvalidSignature, ValueError):
        return False
