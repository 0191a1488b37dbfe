"""The one passphrase of a store: checked against a stored verifier before any private key is made or opened.

Without it, a wrong passphrase given where no key exists yet would quietly encrypt a new key under
it, and the real passphrase could never use that key (finding 7 of issue 10). Every domain that
stores keys (the log's, the card issuer's) calls `require_store_passphrase` first; `audit` is a sink,
so the check lives here and needs no other domain.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import os
from dataclasses import dataclass
from datetime import datetime

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt
from sqlalchemy.orm import Session

from carnet.audit import repository as repo
from carnet.audit.models import StoreKeyVerifier
from carnet.kit import signing
from carnet.kit.errors import AppError

KIND = "scrypt-aesgcm"
# scrypt at 2^15 × 8 × 1 costs ~32 MiB and ~0.1 s per guess: cheap once per command, dear in bulk.
PARAMS = "n=32768,r=8,p=1"
KNOWN_VALUE = b"carnet store key passphrase v1"
AAD = b"carnet/store-keys/v1"
SEALED_INFO = b"carnet/sealed-secret/v1"


def wrong_passphrase() -> AppError:
    """The error for a passphrase that is not the one the store's keys are encrypted under."""
    return AppError("this is not the passphrase the store's keys are encrypted under; nothing was changed",
                    code="wrong_passphrase", status=403)  # fmt: skip


def _parse(params: str) -> dict[str, int]:
    return {name: int(value) for name, value in (part.split("=") for part in params.split(","))}


@functools.lru_cache(maxsize=8)
def _derive(passphrase_digest: bytes, passphrase: str, salt: bytes, params: str) -> bytes:
    # Cached so that one process checking one passphrase many times (a test run, a batch) pays scrypt once;
    # the digest in the key only makes entries for different passphrases distinct at a glance.
    p = _parse(params)
    return Scrypt(salt=salt, length=32, n=p["n"], r=p["r"], p=p["p"]).derive(passphrase.encode())


def _key(passphrase: str, salt: bytes, params: str) -> bytes:
    return _derive(hashlib.sha256(passphrase.encode()).digest(), passphrase, salt, params)


def make_verifier(passphrase: str, *, now: datetime) -> StoreKeyVerifier:
    """A new verifier for a passphrase (random salt and nonce)."""
    salt, nonce = os.urandom(16), os.urandom(12)
    ciphertext = AESGCM(_key(passphrase, salt, PARAMS)).encrypt(nonce, KNOWN_VALUE, AAD)
    return StoreKeyVerifier(id=1, kind=KIND, params=PARAMS, salt=salt, nonce=nonce, ciphertext=ciphertext,
                            created_at=now)  # fmt: skip


def verifier_accepts(verifier: StoreKeyVerifier, passphrase: str) -> bool:
    """Whether a passphrase opens the verifier (for a legacy one: opens the key it holds)."""
    if verifier.kind == "legacy-pem":
        try:
            signing.decrypt(bytes(verifier.ciphertext), passphrase)
        except AppError:
            return False
        return True
    assert verifier.salt is not None and verifier.nonce is not None
    try:
        opened = AESGCM(_key(passphrase, bytes(verifier.salt), verifier.params)).decrypt(
            bytes(verifier.nonce), bytes(verifier.ciphertext), AAD
        )
    except InvalidTag:
        return False
    return hmac.compare_digest(opened, KNOWN_VALUE)


def require_store_passphrase(session: Session, *, passphrase: str | None, now: datetime) -> str:
    """The passphrase, once it is shown to be the store's; the first one ever given initialises the store.

    Missing or weak passphrases fail as before; a wrong one fails with `wrong_passphrase` before any key
    is made or opened. A legacy store (keys, no verifier) is upgraded by the first passphrase that opens
    one of its keys.
    """
    secret = signing.require_passphrase(passphrase)
    verifier = repo.store_key_verifier(session)
    if verifier is None:
        session.add(make_verifier(secret, now=now))
        session.flush()
        return secret
    if not verifier_accepts(verifier, secret):
        raise wrong_passphrase()
    if verifier.kind == "legacy-pem":
        fresh = make_verifier(secret, now=now)
        verifier.kind, verifier.params, verifier.salt = fresh.kind, fresh.params, fresh.salt
        verifier.nonce, verifier.ciphertext, verifier.created_at = fresh.nonce, fresh.ciphertext, now
        session.flush()
    return secret


@dataclass(frozen=True)
class SealedSecret:
    """A short secret (a programme's sector key) encrypted under the store passphrase, and how to open it."""

    kind: str
    params: str
    salt: bytes
    nonce: bytes
    ciphertext: bytes


def _sealing_key(passphrase: str, salt: bytes, params: str) -> bytes:
    # A subkey of the verifier's key: sealed secrets never share an AES-GCM key with the verifier, and
    # since the salt is the verifier's, the costly scrypt is paid once per process, not once per secret.
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=SEALED_INFO).derive(
        _key(passphrase, salt, params)
    )


def seal(secret: bytes, *, passphrase: str, salt: bytes, params: str, context: bytes) -> SealedSecret:
    """`secret` under AES-GCM with a key from the passphrase and salt, bound to `context` (its owner)."""
    nonce = os.urandom(12)
    ciphertext = AESGCM(_sealing_key(passphrase, salt, params)).encrypt(nonce, secret, SEALED_INFO + b"\x00" + context)
    return SealedSecret(kind=KIND, params=params, salt=salt, nonce=nonce, ciphertext=ciphertext)


def seal_secret(
    session: Session, *, secret: bytes, passphrase: str | None, context: bytes, now: datetime
) -> SealedSecret:
    """`secret` sealed under the store's passphrase (checked first, as for every other key) and bound to `context`."""
    checked = require_store_passphrase(session, passphrase=passphrase, now=now)
    verifier = repo.store_key_verifier(session)
    assert verifier is not None and verifier.salt is not None  # require_store_passphrase made or upgraded it
    return seal(secret, passphrase=checked, salt=bytes(verifier.salt), params=verifier.params, context=context)


def open_secret(sealed: SealedSecret, *, passphrase: str | None, context: bytes) -> bytes:
    """The secret of a sealed record; `wrong_passphrase` when the passphrase (or the context) is not its own."""
    secret = signing.require_passphrase(passphrase)
    if sealed.kind != KIND:
        raise AppError(f"a sealed secret of unknown kind {sealed.kind!r}", code="sealed_secret_unknown_kind")
    try:
        return AESGCM(_sealing_key(secret, bytes(sealed.salt), sealed.params)).decrypt(
            bytes(sealed.nonce), bytes(sealed.ciphertext), SEALED_INFO + b"\x00" + context
        )
    except InvalidTag:
        raise wrong_passphrase() from None
