"""Throttled attempts at a secret, shared by every route that checks one (sign-in, card PIN, card verification)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from carnet.access.throttle import Throttle, ThrottleKey, address_key, policy_from
from carnet.kit.clock import utcnow
from carnet.kit.errors import AppError, Unauthenticated
from carnet.web.deps import get_session

# What a throttled route may answer besides its own result, for the OpenAPI description.
THROTTLED_RESPONSES: dict[int | str, dict[str, Any]] = {
    429: {
        "description": "too many failed attempts: `too_many_attempts` (wait `Retry-After` seconds) or `locked_out`"
        " (until a registrar or an administrator unlocks it); the same whether or not the account exists",
        "headers": {"Retry-After": {"schema": {"type": "integer"}, "description": "seconds to wait"}},
        "content": {"application/problem+json": {}},
    }
}


def throttle_of(request: Request) -> Throttle:
    """The app's throttle (made on first use from its settings and session factory)."""
    state = request.app.state
    if getattr(state, "throttle", None) is None:
        state.throttle = Throttle(state.session_factory, policy_from(state.settings))
    return state.throttle


class Attempts:
    """The throttled attempts of one request: keyed by what is guessed and by the client's address."""

    def __init__(self, throttle: Throttle, session: Session, address: str):
        self.throttle = throttle
        self.session = session
        self.address = address_key(address)

    def check(self, *keys: ThrottleKey) -> None:
        """429 (with Retry-After) if a key or the client's address is backing off or locked out."""
        self.throttle.check(self.session, [*keys, self.address], now=utcnow())

    def failed(self, *keys: ThrottleKey) -> None:
        """Count a failure against the keys and the address; the request's own work is rolled back first."""
        # The counter commits in its own transaction; the request's unit of work changes nothing on a 4xx.
        self.session.rollback()
        self.throttle.failed([*keys, self.address], now=utcnow())

    def succeeded(self, *keys: ThrottleKey) -> None:
        """Start the keys' counts again (the address's count is not reset: a spray mixes in successes)."""
        self.throttle.succeeded(self.session, list(keys))

    @contextmanager
    def guard(self, *keys: ThrottleKey, counted: tuple[type[AppError], ...] = (Unauthenticated,)) -> Iterator[None]:
        """Check before, count a `counted` failure, reset on success."""
        self.check(*keys)
        try:
            yield
        except counted:
            self.failed(*keys)
            raise
        self.succeeded(*keys)


def attempts(request: Request, session: Session = Depends(get_session)) -> Attempts:
    """A dependency: the throttled attempts of this request (anonymous or not)."""
    address = request.client.host if request.client else "unknown"
    return Attempts(throttle_of(request), session, address)


# Verdicts that mean a forged or garbled card, not an honest one that expired or was revoked.
FORGED_VERDICTS = frozenset({"bad_signature", "malformed", "unknown_key"})


def verification_attempts(request: Request, session: Session = Depends(get_session)) -> Attempts:
    """A dependency for card verification: 429 while the client's address backs off after forged cards."""
    guard = attempts(request, session)
    guard.check()
    return guard


def count_verdict(guard: Attempts, code: str) -> None:
    """Count a forged or garbled card against the client's address (a flood of forgeries backs off)."""
    if code in FORGED_VERDICTS:
        guard.failed()
