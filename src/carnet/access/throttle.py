"""Throttling of guesses: exponential back-off and lock-out per account, card and client address.

One component for every place a secret is guessed (password sign-in, card PIN, card verification).
The back-off rule is pure (`backoff_seconds`, `is_locked_out`, `failures_after`); `Throttle` keeps the
counters in `throttle_counters`, each failure committed in its own short transaction, because the
request's own unit of work rolls back on the 4xx that a wrong guess answers. On PostgreSQL the
counters are upserted, so they hold across worker processes and restarts.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from carnet.access import repository as repo
from carnet.kit.errors import AppError

KINDS = ("account", "card", "address")
KEY_TAG = b"carnet/throttle/v1"


@dataclass(frozen=True)
class BackoffRule:
    """How failures against one key slow it down: free failures, then doubling delays, then a lock-out."""

    free_failures: int
    base_delay_seconds: int
    max_delay_seconds: int
    lockout_failures: int


def backoff_seconds(failures: int, rule: BackoffRule) -> int:
    """Seconds to wait after `failures` consecutive failures: 0 for the free ones, then doubling, capped."""
    if failures < rule.free_failures:
        return 0
    # The exponent is bounded so that a huge count cannot build a huge integer.
    exponent = min(failures - rule.free_failures, 40)
    return min(rule.max_delay_seconds, rule.base_delay_seconds * (1 << exponent))


def is_locked_out(failures: int, rule: BackoffRule) -> bool:
    """Whether `failures` reached the lock-out that only a registrar or an admin lifts."""
    return failures >= rule.lockout_failures


def failures_after(failures: int, *, succeeded: bool) -> int:
    """The count after one more attempt: a success starts again from zero."""
    return 0 if succeeded else failures + 1


@dataclass(frozen=True)
class ThrottlePolicy:
    """The rule for accounts and cards (guesses at one secret) and the one for client addresses (spraying)."""

    secret: BackoffRule
    address: BackoffRule

    def rule(self, kind: str) -> BackoffRule:
        """The rule that applies to a key of this kind."""
        return self.address if kind == "address" else self.secret


def policy_from(settings: Any) -> ThrottlePolicy:
    """The throttle policy of the settings."""
    return ThrottlePolicy(
        secret=BackoffRule(
            free_failures=settings.throttle_free_failures,
            base_delay_seconds=settings.throttle_base_delay_seconds,
            max_delay_seconds=settings.throttle_max_delay_seconds,
            lockout_failures=settings.throttle_lockout_failures,
        ),
        address=BackoffRule(
            free_failures=settings.throttle_address_free_failures,
            base_delay_seconds=settings.throttle_base_delay_seconds,
            max_delay_seconds=settings.throttle_max_delay_seconds,
            lockout_failures=settings.throttle_address_lockout_failures,
        ),
    )


@dataclass(frozen=True)
class ThrottleKey:
    """What is being guessed at or from: an account's username, a card, a client address."""

    kind: str
    value: str

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown throttle key kind {self.kind!r}")

    @property
    def digest(self) -> str:
        """SHA-256 of the key: the table never holds a username, card or address in clear."""
        # Usernames are compared case-blind, so "Ana" and "ana" share one counter.
        value = self.value.strip().casefold() if self.kind != "card" else self.value.strip()
        return hashlib.sha256(KEY_TAG + b"\0" + self.kind.encode() + b"\0" + value.encode()).hexdigest()


def account_key(username: str) -> ThrottleKey:
    """The key of guesses at one account (whether or not it exists)."""
    return ThrottleKey("account", username)


def card_key(credential: str) -> ThrottleKey:
    """The key of guesses at one card's PIN: the card's QR text names the card."""
    return ThrottleKey("card", credential)


def address_key(address: str) -> ThrottleKey:
    """The key of guesses from one client address."""
    return ThrottleKey("address", address)


class TooManyAttempts(AppError):
    """429: too many failed attempts; the same answer whether or not the account or card exists."""

    def __init__(self, retry_after: int, *, locked_out: bool) -> None:
        extra = {"retry_after": retry_after}
        if locked_out:
            super().__init__(
                message="too many failed attempts: locked until a registrar or an administrator unlocks it",
                code="locked_out", status=429, extra=extra,
            )  # fmt: skip
        else:
            super().__init__(message="too many failed attempts; wait before trying again", code="too_many_attempts",
                             status=429, extra=extra)  # fmt: skip


class Throttle:
    """The counters of failed attempts, shared by every route that checks a secret."""

    def __init__(self, sessions: Callable[[], Session], policy: ThrottlePolicy):
        self.sessions = sessions
        self.policy = policy

    def check(self, session: Session, keys: Sequence[ThrottleKey], *, now: datetime) -> None:
        """Raise TooManyAttempts if any key is backing off or locked out (nothing is counted)."""
        counters = repo.throttle_counters(session, [(k.kind, k.digest) for k in keys])
        wait, locked = 0, False
        for counter in counters:
            if counter.locked_out_at is not None:
                wait, locked = max(wait, self.policy.rule(counter.kind).max_delay_seconds), True
            elif counter.locked_until is not None and counter.locked_until > now:
                wait = max(wait, _ceil_seconds(counter.locked_until - now))
        if wait or locked:
            raise TooManyAttempts(max(wait, 1), locked_out=locked)

    def failed(self, keys: Sequence[ThrottleKey], *, now: datetime) -> None:
        """Count one failure against each key, committed at once in its own transaction."""
        with self.sessions() as own:
            for key in keys:
                rule = self.policy.rule(key.kind)
                failures = repo.count_throttle_failure(own, key.kind, key.digest, now)
                delay = backoff_seconds(failures, rule)
                repo.set_throttle_lock(
                    own,
                    key.kind,
                    key.digest,
                    failures=failures,
                    locked_until=now + timedelta(seconds=delay) if delay else None,
                    locked_out_at=now if is_locked_out(failures, rule) else None,
                )
            own.commit()

    def succeeded(self, session: Session, keys: Sequence[ThrottleKey]) -> None:
        """Start the keys' counts again, in the caller's transaction (a success commits with its request)."""
        repo.clear_throttle_counters(session, [(k.kind, k.digest) for k in keys], keep_locked_out=True)


def unlock(session: Session, key: ThrottleKey) -> bool:
    """Lift a key's back-off and lock-out, in the caller's transaction; whether there was anything to lift."""
    return repo.clear_throttle_counters(session, [(key.kind, key.digest)], keep_locked_out=False) > 0


def _ceil_seconds(delta: timedelta) -> int:
    seconds = delta.total_seconds()
    return int(seconds) + (seconds % 1 > 0)
