"""/api/v1/me: a citizen's own record (the read shows up in their own access log)."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from sqlalchemy.orm import Session

from carnet.access.policy import Permission, Purpose
from carnet.flows import data_subject
from carnet.kit.actor import Actor
from carnet.kit.clock import utcnow
from carnet.registry import service
from carnet.registry.schemas import AccessLogOut, PersonOut
from carnet.web.deps import UnitOfWorkRoute, get_session, requires

router = APIRouter(prefix="/api/v1/me", tags=["me"], route_class=UnitOfWorkRoute)
own = requires(Permission.SELF_READ, Purpose.DATA_SUBJECT_ACCESS)


@router.get("", response_model=PersonOut)
def my_record(actor: Actor = Depends(own), session: Session = Depends(get_session)) -> dict:
    """The record the registry holds about me."""
    return service.get_own_record(session, actor=actor, now=utcnow())


@router.get("/access-log", response_model=AccessLogOut)
def my_access_log(actor: Actor = Depends(own), session: Session = Depends(get_session)) -> dict:
    """Who looked at my data, when, from which office and why, each with its proof in the audit log."""
    return data_subject.own_access_log(session, actor=actor, now=utcnow())
