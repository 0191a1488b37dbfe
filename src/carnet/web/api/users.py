"""/api/v1/users: accounts and roles (admins only)."""

from __future__ import annotations

import uuid
from datetime import datetime

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from carnet.access import repository, service
from carnet.access.policy import Permission, Purpose
from carnet.access.service import account_details
from carnet.audit.service import record_change
from carnet.kit.actor import Actor
from carnet.kit.clock import utcnow
from carnet.web.deps import UnitOfWorkRoute, get_session, requires

router = APIRouter(prefix="/api/v1/users", tags=["users"], route_class=UnitOfWorkRoute)
manage = requires(Permission.USERS_MANAGE, Purpose.ACCOUNT_ADMINISTRATION)


class UserIn(BaseModel):
    """A new account."""

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


@router.get("", response_model=list[UserOut])
def list_users(actor: Actor = Depends(manage), session: Session = Depends(get_session)) -> list:
    """Every account."""
    return repository.list_users(session)


@router.post("", response_model=UserOut, status_code=201)
def create_user(data: UserIn, actor: Actor = Depends(manage), session: Session = Depends(get_session)) -> object:
    """Create an account with one role (logged in the audit log)."""
    now = utcnow()
    user = service.create_user(session, **data.model_dump(), now=now)
    record_change(session, actor=actor, what="account.create", details=account_details(user), now=now)
    return user
