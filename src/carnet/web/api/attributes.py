"""/api/v1/attributes: the attribute dictionary in force (no personal data)."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from sqlalchemy.orm import Session

from carnet.access.policy import Permission, Purpose
from carnet.kit.actor import Actor
from carnet.registry import service
from carnet.registry.schemas import AttributeOut
from carnet.web.deps import UnitOfWorkRoute, get_session, requires

router = APIRouter(prefix="/api/v1/attributes", tags=["attributes"], route_class=UnitOfWorkRoute)
read = requires(Permission.ATTRIBUTES_READ, Purpose.NONE)


@router.get("", response_model=list[AttributeOut])
def list_attributes(actor: Actor = Depends(read), session: Session = Depends(get_session)) -> list:
    """Every declared attribute: type, sensitivity, purposes, retention."""
    dictionary = service.current_dictionary(session)
    return [
        {
            "name": s.name,
            "type": s.type,
            "sensitivity": s.sensitivity,
            "purposes": list(s.purposes),
            "retention_days": s.retention_days,
            "description": s.description,
            "enum_values": list(s.enum_values) if s.enum_values else None,
            "minimum": s.minimum,
            "maximum": s.maximum,
            "unit": s.unit,
        }
        for s in dictionary.attributes.values()
    ]
