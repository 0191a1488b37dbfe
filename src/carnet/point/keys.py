"""The device's own keys: Ed25519 to sign events, X25519 to open PIN data, sealed under the agent's passphrase."""

from __future__ import annotations

import os
from dataclasses import dataclass

import cbor2
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat, PublicFormat

from carnet.credentials.cose import cose_kid
from carnet.kit.errors import AppError

# scrypt 2^15 × 8 × 1: ~32 MiB and ~0.1 s once per command on a cheap tablet; dear for a thief guessing.
_SCRYPT_N, _SCRYPT_R, _SCRYPT_P = 2**15, 8, 1
_AAD = b"carnet/point-keys/v1"
MIN_PASSPHRASE = 8


class PointKeyError(AppError):
    """The device keys cannot be opened or made."""

    def __init__(self, message: str, *, code: str) -> None:
        super().__init__(message=message, code=code, status=403)


def _raw_private(key: Ed25519PrivateKey | X25519PrivateKey) -> bytes:
    return key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())


@dataclass(frozen=True)
class DeviceKeys:
    """The device's signing and box keys (private: never leave the device)."""

    sign_key: Ed25519PrivateKey
    box_key: X25519PrivateKey

    @classmethod
    def generate(cls) -> DeviceKeys:
        """Fresh keys for a device being enrolled."""
        return cls(Ed25519PrivateKey.generate(), X25519PrivateKey.generate())

    @property
    def sign_public(self) -> bytes:
        """The raw Ed25519 public key the server checks events with."""
        return self.sign_key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)

    @property
    def box_public(self) -> bytes:
        """The raw X25519 public key the server seals PIN data to."""
        return self.box_key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)

    @property
    def kid(self) -> bytes:
        """The COSE kid of the signing key."""
        return cose_kid(self.sign_public)

    def seal(self, passphrase: str, *, salt: bytes | None = None, nonce: bytes | None = None) -> bytes:
        """Both private keys encrypted under `passphrase` (scrypt → AES-256-GCM)."""
        _check(passphrase)
        salt, nonce = salt or os.urandom(16), nonce or os.urandom(12)
        key = Scrypt(salt=salt, length=32, n=_SCRYPT_N, r=_SCRYPT_R, p=_SCRYPT_P).derive(passphrase.encode())
        plain = _raw_private(self.sign_key) + _raw_private(self.box_key)
        return cbor2.dumps({"salt": salt, "nonce": nonce, "ct": AESGCM(key).encrypt(nonce, plain, _AAD)})

    @classmethod
    def open(cls, sealed: bytes, passphrase: str | None) -> DeviceKeys:
        """The keys sealed in `sealed`; `point_wrong_passphrase` when the passphrase does not open them."""
        if not passphrase:
            raise PointKeyError("the point's passphrase is needed (CARNET_POINT_PASSPHRASE)",
                                code="point_passphrase_missing")  # fmt: skip
        try:
            box = cbor2.loads(sealed)
            key = Scrypt(salt=box["salt"], length=32, n=_SCRYPT_N, r=_SCRYPT_R, p=_SCRYPT_P).derive(passphrase.encode())
            plain = AESGCM(key).decrypt(box["nonce"], box["ct"], _AAD)
        except InvalidTag:
            raise PointKeyError("wrong passphrase for this point's keys", code="point_wrong_passphrase") from None
        except (cbor2.CBORError, KeyError, TypeError, ValueError):
            raise PointKeyError("the point's sealed keys are damaged", code="point_store_damaged") from None
        return cls(Ed25519PrivateKey.from_private_bytes(plain[:32]), X25519PrivateKey.from_private_bytes(plain[32:]))


def _check(passphrase: str) -> None:
    if len(passphrase) < MIN_PASSPHRASE:
        raise PointKeyError(f"the point's passphrase needs at least {MIN_PASSPHRASE} characters",
                            code="point_passphrase_weak")  # fmt: skip
