"""Access use cases: accounts, passwords (Argon2id), API tokens and web sessions."""

from __future__ import annotations

import hashlib
import re
import secrets
import uuid
from datetime import datetime, timedelta
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy.exc import IntegrityError
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
# How an account came to be: a citizen's only by the person (card and PIN) or at an office with the card.
CREATED_VIA = ("admin", "self_card_pin", "office")
CITIZEN_ORIGINS = ("self_card_pin", "office")


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
    created_via: str = "admin",
    created_by: uuid.UUID | None = None,
    created_office: str | None = None,
    now: datetime,
) -> User:
    """Create an account; the password is kept only as an Argon2id hash.

    A citizen account is made only by the person (`created_via="self_card_pin"`) or at an office
    (`"office"`), never by an admin, and a person has at most one.
    """
    if created_via not in CREATED_VIA:
        raise ValueError(f"unknown account origin {created_via!r}")
    if role == Role.CITIZEN and created_via not in CITIZEN_ORIGINS:
        raise Forbidden(
            "a citizen account is created only by the person, with their card and PIN or at an office",
            code="citizen_account_by_person_only",
        )
    errors = []
    if not USERNAME_PATTERN.match(username):
        errors.append(FieldError("username", "invalid_username", "3-64 of a-z 0-9 . _ -, starting alphanumeric"))
    if len(password) < MIN_PASSWORD_LENGTH:
        errors.append(FieldError("password", "weak_password", f"at least {MIN_PASSWORD_LENGTH} characters"))
    if role not in {r.value for r in Role}:
        errors.append(FieldError("role", "invalid_role", "one of " + ", ".join(r.value for r in Role)))
    if role == Role.CITIZEN and person_id is None:
        errors.append(FieldError("person_id", "required", "a citizen account is linked to a registry record"))
    if role != Role.CITIZEN and person_id is not None:
        errors.append(FieldError("person_id", "not_a_citizen", "only a citizen account is linked to a registry record"))
    if region_code is not None and not repo.region_exists(session, region_code):
        errors.append(FieldError("region_code", "unknown_region", f"'{region_code}' is not a region"))
    if person_id is not None and not repo.person_exists(session, person_id):
        errors.append(FieldError("person_id", "person_not_found", f"no registry record {person_id}"))
    if errors:
        raise ValidationFailed(f"user {username}: some fields are invalid", errors)
    if repo.user_by_username(session, username) is not None:
        raise Conflict(f"user {username} already exists", code="duplicate_user")
    if person_id is not None and repo.user_of_person(session, person_id) is not None:
        raise Conflict("this person already has an account", code="citizen_account_exists")
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
        created_via=created_via,
        created_by=created_by,
        created_office=created_office,
    )
    # The database's unique index decides between two concurrent requests for the same person or name.
    try:
        with session.begin_nested():
            session.add(user)
            session.flush()
    except IntegrityError:
        raise Conflict(f"user {username} or this person's account already exists", code="duplicate_user") from None
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


def token_lifetime(user: User, *, staff_hours: int, citizen_hours: int) -> timedelta:
    """How long a new token of `user` lives: citizens' shorter (their phone is often shared)."""
    return timedelta(hours=citizen_hours if user.role == Role.CITIZEN else staff_hours)


def issue_api_token(
    session: Session, *, user: User, name: str, now: datetime, ttl: timedelta | None = timedelta(hours=12)
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


def origin_details(user: User) -> dict[str, str | None]:
    """How an account came to be, for its creation entry in the audit log."""
    return {"created_via": user.created_via, "created_by": str(user.created_by) if user.created_by else None,
            "created_office": user.created_office}  # fmt: skip


def list_users(session: Session) -> list[User]:
    """Every account, by username."""
    return repo.list_users(session)


def username_taken(session: Session, username: str) -> bool:
    """Whether an account already has this username."""
    return repo.user_by_username(session, username) is not None


def user_named(session: Session, username: str) -> User:
    """The account with this username, or 404."""
    user = repo.user_by_username(session, username)
    if user is None:
        raise NotFound(f"no account {username!r}", code="user_not_found")
    return user


def user_with_id(session: Session, user_id: uuid.UUID) -> User:
    """The account with this id, or 404."""
    user = repo.user_by_id(session, user_id)
    if user is None:
        raise NotFound(f"no account {user_id}", code="user_not_found")
    return user


def disable_user(session: Session, *, user: User, by: uuid.UUID | None, now: datetime) -> int:
    """Disable an account and revoke all its tokens and sessions; how many were live."""
    if by is not None and by == user.id:
        raise Conflict("an administrator cannot disable their own account", code="cannot_disable_self")
    if not user.is_active:
        raise Conflict(f"account {user.username} is already disabled", code="already_disabled")
    user.is_active = False
    user.disabled_at = now
    revoked = repo.revoke_all_of(session, user.id, now)
    session.flush()
    return revoked


def enable_user(session: Session, *, user: User) -> None:
    """Enable a disabled account (its old tokens stay revoked: the holder signs in again)."""
    if user.is_active:
        raise Conflict(f"account {user.username} is already enabled", code="already_enabled")
    if user.created_via == "legacy":
        raise Conflict("an admin-made citizen account stays disabled; the person makes their own",
                       code="citizen_account_by_person_only")  # fmt: skip
    user.is_active = True
    user.disabled_at = None
    session.flush()


def change_role(session: Session, *, user: User, role: str, by: uuid.UUID | None) -> str:
    """Give an account another staff role; returns the old one. Nobody becomes, or stops being, a citizen."""
    if role not in {r.value for r in Role}:
        raise ValidationFailed(
            f"user {user.username}: unknown role",
            [FieldError("role", "invalid_role", "one of " + ", ".join(r.value for r in Role))],
        )
    if Role.CITIZEN in (role, user.role):
        raise Forbidden("a citizen account is created only by the person, and stays a citizen's",
                        code="citizen_account_by_person_only")  # fmt: skip
    if by is not None and by == user.id:
        raise Conflict("an administrator cannot change their own role", code="cannot_change_own_role")
    if role == user.role:
        raise Conflict(f"{user.username} is already a {role}", code="same_role")
    old, user.role = user.role, role
    session.flush()
    return old


def credentials_of(session: Session, *, user: User, now: datetime) -> list[dict[str, Any]]:
    """A user's API tokens and web sessions: ids, times and state, never the secrets or their hashes."""
    out = []
    for kind, rows in (("token", repo.tokens_of(session, user.id)), ("session", repo.sessions_of(session, user.id))):
        for row in rows:
            live = row.revoked_at is None and (row.expires_at is None or row.expires_at > now)
            out.append({"id": row.id, "kind": kind, "name": getattr(row, "name", None), "created_at": row.created_at,
                        "expires_at": row.expires_at, "last_used_at": row.last_used_at,
                        "revoked_at": row.revoked_at, "live": live})  # fmt: skip
    return sorted(out, key=lambda c: c["created_at"], reverse=True)


def revoke_credential(
    session: Session, *, credential_id: uuid.UUID, user_id: uuid.UUID | None, now: datetime
) -> tuple[ApiToken | WebSession, User]:
    """Revoke a token or session by id (only the user's own when `user_id` is given); it and its owner.

    Someone else's id answers 404, as an unknown one does.
    """
    row: ApiToken | WebSession | None = repo.api_token(session, credential_id) or repo.web_session(
        session, credential_id
    )
    if row is None or (user_id is not None and row.user_id != user_id):
        raise NotFound(f"no token or session {credential_id}", code="token_not_found")
    if row.revoked_at is not None:
        raise Conflict(f"token {credential_id} is already revoked", code="token_already_revoked")
    row.revoked_at = now
    session.flush()
    owner = repo.user_by_id(session, row.user_id)
    assert owner is not None
    return row, owner


def account_labels(session: Session, user_ids: list[uuid.UUID]) -> dict[uuid.UUID, dict[str, Any]]:
    """What a person's access log says of each account: username, role, and who made it, how and where."""
    users = repo.users_by_ids(session, user_ids)
    makers = repo.users_by_ids(session, [u.created_by for u in users.values() if u.created_by])
    labels = {}
    for user_id, user in users.items():
        maker = makers.get(user.created_by) if user.created_by else None
        labels[user_id] = {
            "username": user.username,
            "role": user.role,
            "created_via": user.created_via,
            "created_by": {"username": maker.username, "role": maker.role} if maker else None,
            "created_office": user.created_office,
            "created_at": user.created_at,
        }
    return labels
