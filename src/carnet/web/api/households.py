"""/api/v1/households: register and read households."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Depends, Query
from sqlalchemy.orm import Session

from carnet.access.policy import Permission, Purpose
from carnet.kit.actor import Actor
from carnet.kit.clock import utcnow
from carnet.registry import service
from carnet.registry.schemas import HouseholdIn, HouseholdOut, Page
from carnet.web.api.pagination import MAX_PAGE_SIZE, make_cursor, parse_cursor
from carnet.web.deps import UnitOfWorkRoute, get_session, requires

router = APIRouter(prefix="/api/v1/households", tags=["households"], route_class=UnitOfWorkRoute)

read = requires(Permission.HOUSEHOLDS_READ, Purpose.REGISTRATION)
write = requires(Permission.HOUSEHOLDS_WRITE, Purpose.REGISTRATION)


@router.get("", response_model=Page[HouseholdOut])
def list_households(
    region_code: str | None = None,
    cursor: str | None = None,
    page_size: int = Query(default=50, ge=1, le=MAX_PAGE_SIZE),
    actor: Actor = Depends(read),
    session: Session = Depends(get_session),
) -> dict:
    """Households, one page at a time (addresses only; members with each household)."""
    items, last = service.list_households(
        session,
        actor=actor,
        region_code=region_code,
        cursor=parse_cursor(cursor),
        limit=page_size,
        now=utcnow(),
    )
    return {"items": items, "next_cursor": make_cursor(last)}


@router.post("", response_model=HouseholdOut, status_code=201)
def create_household(data: HouseholdIn, actor: Actor = Depends(write), session: Session = Depends(get_session)) -> dict:
    """Register a household."""
    return service.create_household(session, actor=actor, data=data, now=utcnow())


@router.get("/{household_id}", response_model=HouseholdOut)
def get_household(
    household_id: uuid.UUID, actor: Actor = Depends(read), session: Session = Depends(get_session)
) -> dict:
    """A household with its members."""
    return service.get_household(session, actor=actor, household_id=household_id, now=utcnow())
