"""/api/v1/audit: signed tree heads and proofs, public by design; the entries themselves for auditors."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Path, Query
from sqlalchemy.orm import Session

from carnet.access.policy import Permission, Purpose
from carnet.audit import service
from carnet.kit.actor import Actor
from carnet.web.api.pagination import MAX_POSITION
from carnet.web.deps import UnitOfWorkRoute, get_session, requires

router = APIRouter(prefix="/api/v1/audit", tags=["audit"], route_class=UnitOfWorkRoute)
read_entries = requires(Permission.AUDIT_READ, Purpose.OVERSIGHT)


def _head(head) -> dict:  # type: ignore[no-untyped-def]
    return {
        "id": head.id,
        "size": head.size,
        "root": head.root.hex(),
        "signed_at": head.signed_at,
        "kid": head.kid,
        "signature": head.signature.hex(),
    }


@router.get("/heads/latest")
def latest_head(session: Session = Depends(get_session)) -> dict:
    """The newest signed tree head (public: anyone may hold the log to it)."""
    return _head(service.latest_head(session))


@router.get("/keys")
def keys(session: Session = Depends(get_session)) -> list[dict]:
    """The public keys of the log and of its witnesses."""
    return [
        {
            "kid": k.kid,
            "role": k.role,
            "holder": k.holder,
            "public_key": k.public_key.hex(),
            "retired": bool(k.retired_at),
        }
        for k in service.log_keys(session)
    ]


@router.get("/proofs/inclusion")
def inclusion(
    leaf: int = Query(ge=0, le=MAX_POSITION),
    size: int = Query(ge=1, le=MAX_POSITION),
    session: Session = Depends(get_session),
) -> dict:
    """The audit path of entry `leaf` in the tree of `size` entries."""
    path = service.inclusion_proof_for(session, leaf_index=leaf, size=size)
    return {"leaf": leaf, "size": size, "path": [p.hex() for p in path]}


@router.get("/proofs/consistency")
def consistency(
    first: int = Query(ge=1, le=MAX_POSITION),
    second: int = Query(ge=1, le=MAX_POSITION),
    session: Session = Depends(get_session),
) -> dict:
    """The proof that the tree of `first` entries is a prefix of the tree of `second`."""
    path = service.consistency_proof_for(session, first=first, second=second)
    return {"first": first, "second": second, "path": [p.hex() for p in path]}


@router.get("/entries/{leaf}")
def entry(
    leaf: int = Path(ge=0, le=MAX_POSITION),
    actor: Actor = Depends(read_entries),
    session: Session = Depends(get_session),
) -> dict:
    """One entry's canonical bytes and leaf hash, for an oversight body checking the log."""
    found = service.entry(session, leaf)
    return {"leaf": leaf, "entry": bytes(found.body).decode(), "leaf_hash": bytes(found.leaf_hash).hex()}
