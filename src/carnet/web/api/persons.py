"""/api/v1/persons: register, read, search and correct persons (every read is recorded)."""

from __future__ import annotations

import uuid
from datetime import date

from fastapi import APIRouter, Depends, Query
from sqlalchemy.orm import Session

from carnet.access.policy import Permission, Purpose
from carnet.flows import data_subject
from carnet.kit.actor import Actor
from carnet.kit.clock import utcnow
from carnet.registry import service
from carnet.registry.schemas import AccessLogOut, ChangeOut, InvestigationOut, Page, PersonIn, PersonOut, PersonPatch
from carnet.web.api.pagination import MAX_PAGE_SIZE, make_cursor, parse_cursor
from carnet.web.deps import UnitOfWorkRoute, get_session, requires

router = APIRouter(prefix="/api/v1/persons", tags=["persons"], route_class=UnitOfWorkRoute)

read = requires(Permission.PERSONS_READ, Purpose.REGISTRATION)
write = requires(Permission.PERSONS_WRITE, Purpose.REGISTRATION)


@router.get("", response_model=Page[PersonOut])
def search_persons(
    q: str | None = Query(default=None, max_length=120, description="name prefix (family names first) or cédula"),
    region_code: str | None = None,
    household_id: uuid.UUID | None = None,
    cursor: str | None = None,
    page_size: int = Query(default=50, ge=1, le=MAX_PAGE_SIZE),
    actor: Actor = Depends(read),
    session: Session = Depends(get_session),
) -> dict:
    """Persons matching a name prefix or a cédula, one page at a time."""
    items, last = service.search_persons(
        session,
        actor=actor,
        query=q,
        region_code=region_code,
        household_id=household_id,
        cursor=parse_cursor(cursor),
        limit=page_size,
        now=utcnow(),
    )
    return {"items": items, "next_cursor": make_cursor(last)}


@router.post("", response_model=PersonOut, status_code=201)
def create_person(data: PersonIn, actor: Actor = Depends(write), session: Session = Depends(get_session)) -> dict:
    """Register a person."""
    now = utcnow()
    return service.create_person(session, actor=actor, data=data, today=now.date(), now=now)


@router.get("/{person_id}", response_model=PersonOut)
def get_person(person_id: uuid.UUID, actor: Actor = Depends(read), session: Session = Depends(get_session)) -> dict:
    """One person's record."""
    return service.get_person(session, actor=actor, person_id=person_id, now=utcnow())


@router.patch("/{person_id}", response_model=PersonOut)
def update_person(
    person_id: uuid.UUID,
    patch: PersonPatch,
    actor: Actor = Depends(write),
    session: Session = Depends(get_session),
) -> dict:
    """Correct a person's record; the reason and the old values go to the history."""
    now = utcnow()
    return service.update_person(session, actor=actor, person_id=person_id, patch=patch, today=now.date(), now=now)


@router.get("/{person_id}/history", response_model=list[ChangeOut])
def person_history(person_id: uuid.UUID, actor: Actor = Depends(read), session: Session = Depends(get_session)) -> list:
    """Every change of the record: who, when, what and why."""
    return service.person_history(session, actor=actor, person_id=person_id, now=utcnow())


access_log = requires(Permission.ACCESS_LOG_READ, Purpose.DATA_SUBJECT_REQUEST)


@router.get("/{person_id}/access-log", response_model=AccessLogOut)
def person_access_log(
    person_id: uuid.UUID, actor: Actor = Depends(access_log), session: Session = Depends(get_session)
) -> dict:
    """The person's access log, for answering their request at an office."""
    return data_subject.access_log(session, actor=actor, person_id=person_id, now=utcnow())


investigate = requires(Permission.PERSONS_INVESTIGATE, Purpose.INVESTIGATION)


@router.get("/{person_id}/investigation", response_model=InvestigationOut)
def investigate_person(
    person_id: uuid.UUID,
    order: str = Query(..., max_length=58, description="the reference of the order that authorises the reads"),
    sealed_until: date | None = Query(default=None, description="keep who read and why sealed until this date"),
    actor: Actor = Depends(investigate),
    session: Session = Depends(get_session),
) -> dict:
    """A record and its history read for a lawful investigation; the person sees the reads, sealed if ordered."""
    return service.investigate_person(
        session, actor=actor, person_id=person_id, order=order, sealed_until=sealed_until, now=utcnow()
    )
