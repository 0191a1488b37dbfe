"""Making card credentials in bulk: random status slots, holder PINs, and signing in worker processes."""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import pairwise

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from carnet.credentials.cose import cose_kid
from carnet.credentials.credential import issue_credential
from carnet.credentials.cwt import CardClaims

# A 6-digit PIN has a million values: no hash cost stops someone who holds the hash from trying them all
# for one card. What the cost buys is making that expensive across millions of cards, while issuing a
# million cards stays minutes; the PIN's real protection is that the hash never leaves the server.
PIN_TIME_COST = 1
PIN_PARALLELISM = 1


class SlotAllocator:
    """Hands out unused indexes of a status list at random, so that an index says nothing about its card."""

    # Past this fill, picking at random and retrying wastes time: pick from the free indexes instead.
    DENSE = 0.9

    def __init__(self, capacity: int, used: Iterable[int]):
        self.capacity = capacity
        self._taken = bytearray(capacity)
        self.used = 0
        for index in used:
            self._taken[index] = 1
            self.used += 1

    @property
    def free(self) -> int:
        """How many indexes are left."""
        return self.capacity - self.used

    def take(self, count: int) -> list[int]:
        """`count` distinct free indexes chosen uniformly at random (ValueError when fewer are left)."""
        if count > self.free:
            raise ValueError(f"only {self.free} free indexes left, {count} asked")
        taken: list[int] = []
        while len(taken) < count and (self.used + 1) / self.capacity <= self.DENSE:
            index = secrets.randbelow(self.capacity)
            if not self._taken[index]:
                self._taken[index] = 1
                self.used += 1
                taken.append(index)
        if len(taken) < count:
            free = [i for i, flag in enumerate(self._taken) if not flag]
            for index in _sample(free, count - len(taken)):
                self._taken[index] = 1
                self.used += 1
                taken.append(index)
        return taken


def _sample(population: list[int], count: int) -> list[int]:
    return secrets.SystemRandom().sample(population, count)


_OBVIOUS = {"123456", "654321", "123123", "112233", "121212", "101010", "000000"}


def new_pin() -> str:
    """A random 6-digit PIN that is none of the ones people guess first."""
    while True:
        pin = f"{secrets.randbelow(1_000_000):06d}"
        steps = {int(b) - int(a) for a, b in pairwise(pin)}
        if pin not in _OBVIOUS and len(set(pin)) > 1 and steps not in ({1}, {-1}):
            return pin


def pin_hasher(memory_kib: int) -> PasswordHasher:
    """The Argon2id hasher of holder PINs."""
    return PasswordHasher(time_cost=PIN_TIME_COST, memory_cost=memory_kib, parallelism=PIN_PARALLELISM)


def pin_matches(pin_hash: str, pin: str) -> bool:
    """Whether `pin` is the card's PIN."""
    try:
        return PasswordHasher().verify(pin_hash, pin)
    except (VerificationError, InvalidHashError):
        return False


@dataclass(frozen=True)
class SigningJob:
    """What a worker needs to make a batch of credentials: the claims common to all, and each card's own."""

    issuer: str
    not_before: int
    expires: int
    pin_memory_kib: int
    cards: Sequence[tuple[bytes, str, int]]  # (card id, status list id, status index)


@dataclass(frozen=True)
class MadeCredential:
    """One card's credential, and its PIN (to print once) with the PIN's hash (to keep)."""

    credential: str
    pin: str
    pin_hash: str


_worker_key: Ed25519PrivateKey | None = None


def start_worker(private_raw: bytes) -> None:
    """Initialise a signing worker process with the issuer's private key."""
    global _worker_key
    _worker_key = Ed25519PrivateKey.from_private_bytes(private_raw)


def make_credentials(job: SigningJob, key: Ed25519PrivateKey | None = None) -> list[MadeCredential]:
    """Sign each card's claims and make its PIN (in a worker, with the key it was started with)."""
    key = key or _worker_key
    if key is None:
        raise RuntimeError("the signing worker was not started with a key")
    kid = cose_kid(key.public_key().public_bytes_raw())
    hasher = pin_hasher(job.pin_memory_kib)
    made = []
    for card_id, list_id, index in job.cards:
        claims = CardClaims(issuer=job.issuer, card_id=card_id, not_before=job.not_before, expires=job.expires,
                            status_list_id=list_id, status_index=index)  # fmt: skip
        pin = new_pin()
        made.append(MadeCredential(issue_credential(claims, kid=kid, sign=key.sign), pin, hasher.hash(pin)))
    return made
