"""/api/v1/users: accounts and roles (admins), citizen accounts at an office and unlocking (registrars).

An admin never makes a citizen account: a citizen's account is made by the person with their card and
PIN (`POST /api/v1/auth/card-account`) or by a registrar at an office with the person's card
(`POST /api/v1/users/citizen`). Every change is audited.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from carnet.access import service
from carnet.access.policy import Permission, Purpose
from carnet.credentials.service import policy_from
from carnet.flows import accounts, citizen_accounts
from carnet.kit.actor import Actor
from carnet.kit.clock import utcnow
from carnet.web.api.auth import CitizenAccountOut, CredentialOut
from carnet.web.deps import UnitOfWorkRoute, get_session, requires

router = APIRouter(prefix="/api/v1/users", tags=["users"], route_class=UnitOfWorkRoute)
manage = requires(Permission.USERS_MANAGE, Purpose.ACCOUNT_ADMINISTRATION)
unlocking = requires(Permission.ACCOUNTS_UNLOCK, Purpose.ACCOUNT_ADMINISTRATION)
at_office = requires(Permission.CITIZEN_ACCOUNTS_CREATE, Purpose.ACCOUNT_ADMINISTRATION)


class UserIn(BaseModel):
    """A new staff account (role `citizen` is refused: citizens make their own)."""

    model_config = ConfigDict(extra="forbid")

    username: str = Field(max_length=64)
    password: str = Field(max_length=200)
    role: str
    display_name: str | None = Field(default=None, max_length=120)
    region_code: str | None = None
    office: str | None = Field(default=None, max_length=120)
    person_id: uuid.UUID | None = None


class UserOut(BaseModel):
    """An account (never its password hash)."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    username: str
    display_name: str
    role: str
    region_code: str | None
    office: str | None
    is_active: bool
    created_at: datetime
    created_via: str
    created_by: uuid.UUID | None
    disabled_at: datetime | None


class OfficeAccountIn(BaseModel):
    """A citizen's account made at the office: the person shows their card and chooses a password."""

    model_config = ConfigDict(extra="forbid")

    credential: str = Field(max_length=4096, description="the card's QR text, scanned at the counter")
    username: str = Field(max_length=64)
    password: str = Field(max_length=200)
    display_name: str | None = Field(default=None, max_length=120)


class RoleIn(BaseModel):
    """Another staff role for an account."""

    model_config = ConfigDict(extra="forbid")
    role: str


class UnlockIn(BaseModel):
    """What to unlock: exactly one of an account's username, a card's QR text, a client address."""

    model_config = ConfigDict(extra="forbid")

    username: str | None = Field(default=None, max_length=64)
    card: str | None = Field(default=None, max_length=4096)
    address: str | None = Field(default=None, max_length=64)


class UnlockedOut(BaseModel):
    """Whether there was a back-off or lock-out to lift."""

    lifted: bool


class DisabledOut(BaseModel):
    """A disabled account and how many live tokens and sessions it lost."""

    user: UserOut
    revoked: int


@router.get("", response_model=list[UserOut])
def list_users(actor: Actor = Depends(manage), session: Session = Depends(get_session)) -> list:
    """Every account."""
    return service.list_users(session)


@router.post("", response_model=UserOut, status_code=201)
def create_user(data: UserIn, actor: Actor = Depends(manage), session: Session = Depends(get_session)) -> object:
    """Create a staff account with one role (audited); a citizen account is refused (403)."""
    return accounts.create_staff_account(session, actor=actor, now=utcnow(), **data.model_dump())


@router.post("/citizen", response_model=CitizenAccountOut, status_code=201)
def create_citizen_at_office(
    data: OfficeAccountIn, request: Request, actor: Actor = Depends(at_office), session: Session = Depends(get_session)
) -> object:
    """Make the account of the person at the counter, from their card (one per person; office recorded; audited)."""
    account = citizen_accounts.NewAccount(data.username, data.password, data.display_name)
    return citizen_accounts.create_at_office(session, actor=actor, credential=data.credential, account=account,
                                             policy=policy_from(request.app.state.settings), now=utcnow())  # fmt: skip


@router.post("/unlock", response_model=UnlockedOut)
def unlock(data: UnlockIn, actor: Actor = Depends(unlocking), session: Session = Depends(get_session)) -> dict:
    """Lift the lock-out of an account, a card or a client address after repeated failures (audited)."""
    lifted = accounts.unlock(session, actor=actor, username=data.username, card=data.card, address=data.address,
                             now=utcnow())  # fmt: skip
    return {"lifted": lifted}


@router.post("/{username}/disable", response_model=DisabledOut)
def disable(username: str, actor: Actor = Depends(manage), session: Session = Depends(get_session)) -> dict:
    """Disable an account: its tokens and sessions are revoked at once (audited)."""
    revoked = accounts.disable_account(session, actor=actor, username=username, now=utcnow())
    return {"user": service.user_named(session, username), "revoked": revoked}


@router.post("/{username}/enable", response_model=UserOut)
def enable(username: str, actor: Actor = Depends(manage), session: Session = Depends(get_session)) -> object:
    """Enable a disabled account; the holder signs in again (audited)."""
    return accounts.enable_account(session, actor=actor, username=username, now=utcnow())


@router.put("/{username}/role", response_model=UserOut)
def change_role(
    username: str, data: RoleIn, actor: Actor = Depends(manage), session: Session = Depends(get_session)
) -> object:
    """Give a staff account another role (audited); nobody becomes or stops being a citizen."""
    return accounts.change_role(session, actor=actor, username=username, role=data.role, now=utcnow())


@router.get("/{username}/tokens", response_model=list[CredentialOut])
def tokens_of(username: str, actor: Actor = Depends(manage), session: Session = Depends(get_session)) -> list:
    """An account's tokens and sessions (never the secrets); revoke one with DELETE /api/v1/auth/tokens/{id}."""
    return service.credentials_of(session, user=service.user_named(session, username), now=utcnow())
