"""/api/v1/auth: sign in (bearer token or session cookie), list and revoke my tokens, make my citizen account.

Every attempt at a secret here is throttled per account or card and per client address (exponential
back-off, then a lock-out that a registrar or an administrator lifts), and answered the same whether or
not the account exists. Tokens expire (`CARNET_TOKEN_TTL_HOURS`, `CARNET_CITIZEN_TOKEN_TTL_HOURS`), can be
revoked, and are never accepted in a URL.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from carnet.access import service as access
from carnet.access.policy import Permission, Purpose
from carnet.access.throttle import account_key, card_key
from carnet.credentials.service import policy_from
from carnet.flows import accounts, citizen_accounts
from carnet.kit.actor import Actor
from carnet.kit.clock import utcnow
from carnet.kit.errors import Unauthenticated
from carnet.web.deps import SESSION_COOKIE, UnitOfWorkRoute, get_session, requires
from carnet.web.guards import THROTTLED_RESPONSES, Attempts, attempts

router = APIRouter(prefix="/api/v1/auth", tags=["auth"], route_class=UnitOfWorkRoute)
own_credentials = requires(Permission.OWN_CREDENTIALS, Purpose.NONE)


class Credentials(BaseModel):
    """A username and password."""

    username: str = Field(max_length=64)
    password: str = Field(max_length=200)
    token_name: str = Field(default="api", max_length=120)


class TokenOut(BaseModel):
    """A new bearer token: shown once, stored only as a hash."""

    access_token: str
    token_type: str = "bearer"
    expires_at: str | None
    role: str


class CredentialOut(BaseModel):
    """One of my API tokens or web sessions: when made, until when, last used (never the secret)."""

    id: uuid.UUID
    kind: str = Field(description="'token' (bearer) or 'session' (web cookie)")
    name: str | None
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None = Field(description="to the minute")
    revoked_at: datetime | None
    live: bool


class RevokedOut(BaseModel):
    """A revoked token or session."""

    id: uuid.UUID
    revoked_at: datetime


class CardAccountIn(BaseModel):
    """My citizen account, made with my card's QR text and the PIN mailed with it."""

    model_config = ConfigDict(extra="forbid")

    credential: str = Field(max_length=4096, description="the card's QR text, as scanned")
    pin: str = Field(max_length=12)
    username: str = Field(max_length=64)
    password: str = Field(max_length=200)
    display_name: str | None = Field(default=None, max_length=120)


class CitizenAccountOut(BaseModel):
    """A citizen account (never its password hash, never the person's record)."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    username: str
    role: str
    created_via: str
    created_office: str | None
    created_at: datetime


def _signed_in(session: Session, data: Credentials, guard: Attempts):  # type: ignore[no-untyped-def]
    with guard.guard(account_key(data.username)):
        return access.authenticate(session, username=data.username, password=data.password)


@router.post("/tokens", response_model=TokenOut, status_code=201, responses=THROTTLED_RESPONSES)
def create_token(
    data: Credentials, request: Request, guard: Attempts = Depends(attempts), session: Session = Depends(get_session)
) -> dict:
    """A bearer token for the API (12 hours for staff, 2 for citizens by default); its issue is audited.

    Failed attempts are throttled per account and per client address: 429 with Retry-After, the same
    whether or not the account exists.
    """
    now = utcnow()
    user = _signed_in(session, data, guard)
    settings = request.app.state.settings
    ttl = access.token_lifetime(user, staff_hours=settings.token_ttl_hours,
                                citizen_hours=settings.citizen_token_ttl_hours)  # fmt: skip
    token, secret = accounts.issue_token(session, user=user, name=data.token_name, ttl=ttl,
                                         request_id=request.state.request_id, now=now)  # fmt: skip
    return {"access_token": secret, "expires_at": token.expires_at.isoformat(), "role": user.role}


@router.post("/session", status_code=204, responses=THROTTLED_RESPONSES)
def sign_in(
    data: Credentials,
    request: Request,
    response: Response,
    guard: Attempts = Depends(attempts),
    session: Session = Depends(get_session),
) -> None:
    """A session cookie for the web console (HttpOnly, SameSite=Strict); throttled as token sign-in is."""
    now = utcnow()
    user = _signed_in(session, data, guard)
    days = request.app.state.settings.session_days
    cookie = accounts.open_session(session, user=user, lifetime=timedelta(days=days),
                                   request_id=request.state.request_id, now=now)  # fmt: skip
    response.set_cookie(
        SESSION_COOKIE,
        cookie,
        max_age=days * 86400,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )


@router.delete("/session", status_code=204)
def sign_out(request: Request, response: Response, session: Session = Depends(get_session)) -> None:
    """End the web session (the X-Carnet-CSRF header is required, as for every cookie write)."""
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie and not request.headers.get("x-carnet-csrf"):
        raise Unauthenticated("cookie sessions must send the X-Carnet-CSRF header", code="csrf_required")
    if cookie:
        access.close_web_session(session, cookie=cookie, now=utcnow())
    response.delete_cookie(SESSION_COOKIE)


@router.get("/tokens", response_model=list[CredentialOut])
def my_tokens(actor: Actor = Depends(own_credentials), session: Session = Depends(get_session)) -> list:
    """My API tokens and web sessions, newest first: created, expires, last used (never the secrets)."""
    user = access.user_with_id(session, actor.user_id)  # type: ignore[arg-type]
    return access.credentials_of(session, user=user, now=utcnow())


@router.delete("/tokens/{credential_id}", response_model=RevokedOut)
def revoke_token(
    credential_id: uuid.UUID, actor: Actor = Depends(own_credentials), session: Session = Depends(get_session)
) -> dict:
    """Revoke one of my tokens or sessions (an administrator may revoke anyone's); audited.

    Another account's token answers 404, as an unknown one does.
    """
    return accounts.revoke_credential(session, actor=actor, credential_id=credential_id, now=utcnow())


@router.post("/card-account", response_model=CitizenAccountOut, status_code=201, responses=THROTTLED_RESPONSES)
def create_card_account(
    data: CardAccountIn, request: Request, guard: Attempts = Depends(attempts), session: Session = Depends(get_session)
) -> object:
    """Make my own citizen account with my card and its PIN (one per person; audited, and in my access log).

    A wrong PIN and an unknown, revoked or forged card answer the same 401; failures are throttled per
    card and per client address.
    """
    account = citizen_accounts.NewAccount(data.username, data.password, data.display_name)
    with guard.guard(card_key(data.credential)):
        return citizen_accounts.create_with_card_and_pin(
            session, credential=data.credential, pin=data.pin, account=account,
            policy=policy_from(request.app.state.settings), request_id=request.state.request_id, now=utcnow(),
        )  # fmt: skip
