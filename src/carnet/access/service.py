"""Access use cases: accounts, passwords (Argon2id), API tokens and web sessions."""

from __future__ import annotations

import hashlib
import re
import secrets
import uuid
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy.orm import Session

from carnet.access import repository as repo
from carnet.access.models import ApiToken, User, WebSession
from carnet.access.policy import Role
from carnet.kit.actor import Actor
from carnet.kit.errors import Conflict, FieldError, Forbidden, NotFound, Unauthenticated, ValidationFailed
from carnet.kit.ids import uuid7

# Argon2id with the RFC 9106 "low memory" parameters: 64 MiB, 3 passes.
_hasher = PasswordHasher(time_cost=3, memory_cost=65536, parallelism=4)
# Verified against when the username is unknown, so that timing does not reveal which usernames exist.
_DUMMY_HASH = _hasher.hash("carnet-dummy-password")
USERNAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9._-]{2,63}$")
TOKEN_PREFIX = "cnt_"
MIN_PASSWORD_LENGTH = 10


def hash_secret(secret: str) -> str:
    """SHA-256 of a random token: tokens carry 256 random bits, so a slow hash adds nothing."""
    return hashlib.sha256(secret.encode()).hexdigest()


def create_user(
    session: Session,
    *,
    username: str,
    password: str,
    role: str,
    display_name: str | None = None,
    region_code: str | None = None,
    office: str | None = None,
    person_id: uuid.UUID | None = None,
    now: datetime,
) -> User:
    """Create an account; the password is kept only as an Argon2id hash."""
    errors = []
    if not USERNAME_PATTERN.match(username):
        errors.append(FieldError("username", "invalid_username", "3-64 of a-z 0-9 . _ -, starting alphanumeric"))
    if len(password) < MIN_PASSWORD_LENGTH:
        errors.append(FieldError("password", "weak_password", f"at least {MIN_PASSWORD_LENGTH} characters"))
    if role not in {r.value for r in Role}:
        errors.append(FieldError("role", "invalid_role", "one of " + ", ".join(r.value for r in Role)))
    if role == Role.CITIZEN and person_id is None:
        errors.append(FieldError("person_id", "required", "a citizen account is linked to a registry record"))
    if region_code is not None and not repo.region_exists(session, region_code):
        errors.append(FieldError("region_code", "unknown_region", f"'{region_code}' is not a region"))
    if person_id is not None and not repo.person_exists(session, person_id):
        errors.append(FieldError("person_id", "person_not_found", f"no registry record {person_id}"))
    if errors:
        raise ValidationFailed(f"user {username}: some fields are invalid", errors)
    if repo.user_by_username(session, username) is not None:
        raise Conflict(f"user {username} already exists", code="duplicate_user")
    user = User(
        id=uuid7(),
        username=username,
        display_name=display_name or username,
        role=role,
        password_hash=_hasher.hash(password),
        region_code=region_code,
        office=office,
        person_id=person_id,
        is_active=True,
        created_at=now,
    )
    session.add(user)
    session.flush()
    return user


def authenticate(session: Session, *, username: str, password: str) -> User:
    """The user whose password this is; 401 otherwise, in the same time whether or not the user exists."""
    user = repo.user_by_username(session, username)
    try:
        _hasher.verify(user.password_hash if user else _DUMMY_HASH, password)
    except (VerificationError, InvalidHashError):
        raise Unauthenticated("wrong username or password", code="bad_credentials") from None
    if user is None or not user.is_active:
        raise Unauthenticated("wrong username or password", code="bad_credentials")
    return user


def issue_api_token(
    session: Session, *, user: User, name: str, now: datetime, ttl: timedelta | None = None
) -> tuple[ApiToken, str]:
    """A new bearer token for `user`: the row and the secret, which is shown once and never stored."""
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(
        id=uuid7(),
        user_id=user.id,
        name=name[:120],
        token_hash=hash_secret(secret),
        created_at=now,
        expires_at=now + ttl if ttl else None,
    )
    session.add(token)
    session.flush()
    return token, secret


def open_web_session(session: Session, *, user: User, now: datetime, lifetime: timedelta) -> str:
    """A new web session for `user`; returns the cookie value."""
    secret = secrets.token_urlsafe(32)
    session.add(
        WebSession(
            id=uuid7(), user_id=user.id, token_hash=hash_secret(secret), created_at=now, expires_at=now + lifetime
        )
    )
    session.flush()
    return secret


def close_web_session(session: Session, *, cookie: str, now: datetime) -> None:
    """End the web session of this cookie."""
    repo.revoke_session(session, hash_secret(cookie), now)


def actor_for(user: User, *, request_id: str, purpose: str) -> Actor:
    """The actor of a request made by `user`."""
    return Actor(
        user_id=user.id,
        role=user.role,
        request_id=request_id,
        purpose=purpose,
        office=user.office,
        region_code=user.region_code,
        person_id=user.person_id,
    )


def actor_for_username(session: Session, *, username: str, role: str, request_id: str, purpose: str) -> Actor:
    """The actor of a named account acting at the console, which must hold `role` (for four-eyes decisions)."""
    user = repo.user_by_username(session, username)
    if user is None or not user.is_active:
        raise NotFound(f"no active account {username!r}", code="user_not_found")
    if user.role != role:
        raise Forbidden(f"{username} is a {user.role}, not a {role}", code="wrong_role")
    return actor_for(user, request_id=request_id, purpose=purpose)


def user_for_bearer(session: Session, *, token: str, now: datetime) -> User:
    """The user of a bearer token, or 401."""
    user = repo.user_by_token_hash(session, hash_secret(token), now)
    if user is None:
        raise Unauthenticated("the token is unknown, expired or revoked", code="invalid_token")
    return user


def user_for_cookie(session: Session, *, cookie: str, now: datetime) -> User:
    """The user of a session cookie, or 401."""
    user = repo.user_by_session_hash(session, hash_secret(cookie), now)
    if user is None:
        raise Unauthenticated("the session has ended; sign in again", code="session_expired")
    return user


def account_details(user: User) -> dict[str, str | bool | None]:
    """What the audit log says of an account change: ids and role, not the person's name."""
    return {
        "user": str(user.id),
        "role": user.role,
        "region": user.region_code,
        "office": user.office,
        # Never the person's id: the log leaves the registry; only whether the account is a citizen's own.
        "linked_to_a_person": user.person_id is not None,
    }
