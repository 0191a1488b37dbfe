"""Distribution over HTTP: points and devices for officers, enrolment, manifests and sync for devices, cases, report.

Devices do not hold accounts: enrolment is authorised by a one-time code and proof of the device key;
afterwards every request is signed by that key (`Authorization: CarnetDevice …`, distribution/device_auth.py).
"""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from datetime import datetime
from typing import Any, Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from carnet.access.policy import Permission, Purpose
from carnet.credentials.service import policy_from
from carnet.distribution import service
from carnet.kit.actor import Actor
from carnet.kit.clock import utcnow
from carnet.kit.errors import AppError, FieldError, ValidationFailed
from carnet.web.deps import UnitOfWorkRoute, get_session, requires
from carnet.web.guards import THROTTLED_RESPONSES, Attempts, attempts

router = APIRouter(tags=["distribution"], route_class=UnitOfWorkRoute)
manage = requires(Permission.DISTRIBUTION_MANAGE, Purpose.PROGRAM_ADMINISTRATION)
read = requires(Permission.DISTRIBUTION_READ, Purpose.NONE)
suspend = requires(Permission.DEVICES_SUSPEND, Purpose.NONE)
cases_read = requires(Permission.CASES_READ, Purpose.NONE)
cases_resolve = requires(Permission.CASES_RESOLVE, Purpose.PROGRAM_ADMINISTRATION)
CYCLE = r"^[0-9]{4}-(0[1-9]|1[0-2])$"
CBOR_MANIFEST = "application/cose; cose-type=cose-sign1"


class PointIn(BaseModel):
    """A new point: what it is, where, which programmes (with their exception caps), whom it serves."""

    model_config = ConfigDict(extra="forbid")
    code: str = Field(min_length=1, max_length=48, pattern=r"^[a-z0-9_-]+$", examples=["depot-libertador-1"])
    name: str = Field(min_length=1, max_length=120)
    kind: Literal["depot", "pharmacy", "petrol_station", "school"]
    municipality: str = Field(min_length=1, max_length=16)
    programmes: dict[str, int] = Field(min_length=1, max_length=64, description="programme code → exceptions per cycle")
    catchment: list[str] = Field(
        default_factory=list, max_length=500, description="municipality codes (default: its own)"
    )
    operators: list[str] = Field(default_factory=list, max_length=200, description="agent usernames")


class PointOut(BaseModel):
    """A point with its programmes, catchment and operators."""

    id: uuid.UUID
    code: str
    name: str
    kind: str
    municipality: str
    status: str
    programmes: list[dict[str, Any]]
    catchment: list[str]
    operators: list[str]


class CodeOut(BaseModel):
    """A one-time enrolment code: shown once."""

    code: str
    point: str
    expires_at: datetime


class DeviceOut(BaseModel):
    """A device: its point, state, whether it forked its history, and its last sync."""

    id: uuid.UUID
    point: str
    label: str | None
    state: str
    compromised: bool
    enrolled_at: datetime
    last_sync_at: datetime | None
    events: int
    key: str


class DeviceStateIn(BaseModel):
    """Suspend a lost device, resume a found one, or retire it for good."""

    model_config = ConfigDict(extra="forbid")
    action: Literal["suspend", "resume", "retire"]
    reason: str | None = Field(default=None, max_length=200)


class EnrolIn(BaseModel):
    """A device's enrolment: the code, both public keys and a signature over them (unpadded base64url)."""

    model_config = ConfigDict(extra="forbid")
    code: str = Field(min_length=10, max_length=16)
    public_key: str = Field(min_length=43, max_length=43, description="Ed25519, signs events and requests")
    box_key: str = Field(min_length=43, max_length=43, description="X25519, receives the sealed PIN data")
    signature: str = Field(min_length=86, max_length=86)
    label: str | None = Field(default=None, max_length=120)


class EnrolOut(BaseModel):
    """What an enrolled device keeps: its id, its point, the manifest keys it trusts, the server's time."""

    device: uuid.UUID
    point: uuid.UUID
    point_code: str
    point_name: str
    trusted: str
    server_time: int


class EventsIn(BaseModel):
    """A batch of signed events (unpadded base64url)."""

    model_config = ConfigDict(extra="forbid")
    events: list[str] = Field(max_length=service.MAX_BATCH)


class SyncOut(BaseModel):
    """The acknowledgement of a batch, sent only after its commit."""

    sync: uuid.UUID
    acknowledged: list[dict[str, str]]
    conflicts: dict[str, str]
    waiting: list[str]
    missing: list[int]
    head: int
    server_time: int


class AssignIn(BaseModel):
    """Assign the cycle's published entitlements that no point holds yet."""

    model_config = ConfigDict(extra="forbid")
    cycle: str = Field(pattern=CYCLE)


class MoveIn(BaseModel):
    """Move one entitlement to another point, with the reason."""

    model_config = ConfigDict(extra="forbid")
    point: str = Field(min_length=1, max_length=48)
    reason: str = Field(min_length=1, max_length=400)


class ClosureIn(BaseModel):
    """Close a case with what was found and done."""

    model_config = ConfigDict(extra="forbid")
    resolution: str = Field(min_length=1, max_length=400)


def _bytes(text: str, field: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        message = f"{field} is not base64url"
        raise ValidationFailed(message, [FieldError(field, "not_base64url", message)], code="not_base64url") from None


async def raw_body(request: Request) -> bytes:
    """The exact bytes of the request body, as the device signed them."""
    return await request.body()


def _signed_path(request: Request) -> str:
    query = request.url.query
    return request.url.path + (f"?{query}" if query else "")


# Points and devices (staff)
@router.post("/api/v1/points", response_model=PointOut, status_code=201)
def add_point(body: PointIn, actor: Actor = Depends(manage), session: Session = Depends(get_session)):
    """Open a point for programmes and municipalities, with its agents."""
    return service.add_point(session, actor=actor, code=body.code, name=body.name, kind=body.kind,
                             municipality=body.municipality, programmes=body.programmes, catchment=body.catchment,
                             operators=body.operators, now=utcnow())  # fmt: skip


@router.get("/api/v1/points", response_model=list[PointOut])
def list_points(actor: Actor = Depends(read), session: Session = Depends(get_session)):
    """Every point (an agent sees the points they work at)."""
    return service.list_points(session, actor=actor)


@router.get("/api/v1/points/{point}", response_model=PointOut)
def get_point(point: str, actor: Actor = Depends(read), session: Session = Depends(get_session)):
    """One point by code or id."""
    return service.point_view(session, service.find_point(session, actor=actor, ref=point))


@router.post("/api/v1/points/{point}/enrolment-codes", response_model=CodeOut, status_code=201)
def enrolment_code(point: str, request: Request, actor: Actor = Depends(manage),
                   session: Session = Depends(get_session)):  # fmt: skip
    """A one-time code to enrol one device at the point (shown once; only its hash is kept)."""
    ttl = request.app.state.settings.enrolment_code_ttl_seconds
    return service.issue_enrolment_code(session, actor=actor, point_ref=point, ttl_seconds=ttl, now=utcnow())


@router.get("/api/v1/points/{point}/devices", response_model=list[DeviceOut])
def point_devices(point: str, actor: Actor = Depends(read), session: Session = Depends(get_session)):
    """The devices of a point."""
    return service.list_devices(session, actor=actor, point_ref=point)


@router.post("/api/v1/devices/{device_id}/state", response_model=DeviceOut)
def device_state(device_id: uuid.UUID, body: DeviceStateIn, actor: Actor = Depends(suspend),
                 session: Session = Depends(get_session)):  # fmt: skip
    """Suspend (an agent reports their device lost), resume or retire a device (an officer)."""
    if body.action != "suspend" and actor.role == "agent":
        raise AppError(message="an agent may report a device lost; an officer resumes or retires it",
                       code="permission_denied", status=403)  # fmt: skip
    return service.change_device(session, actor=actor, device_id=device_id, action=body.action, reason=body.reason,
                                 now=utcnow())  # fmt: skip


# Devices themselves
@router.post("/api/v1/devices/enroll", response_model=EnrolOut, status_code=201, responses=THROTTLED_RESPONSES)
def enrol(body: EnrolIn, request: Request, guard: Attempts = Depends(attempts),
          session: Session = Depends(get_session)):  # fmt: skip
    """Enrol a device with its one-time code and proof of its key (no account: the code is the authority)."""
    guard.check()
    try:
        answer = service.enrol_device(session, code=body.code, public_key=_bytes(body.public_key, "public_key"),
                                      box_key=_bytes(body.box_key, "box_key"),
                                      signature=_bytes(body.signature, "signature"), label=body.label,
                                      passphrase=request.app.state.settings.key_passphrase, now=utcnow())  # fmt: skip
    except AppError as exc:
        if exc.code in ("enrolment_code_invalid", "enrolment_proof_invalid"):
            guard.failed()  # guessing codes backs the client off
        raise
    return {**answer, "trusted": base64.urlsafe_b64encode(answer["trusted"]).decode().rstrip("=")}


@router.get(
    "/api/v1/points/{point_id}/manifest",
    response_class=Response,
    responses={200: {"content": {CBOR_MANIFEST: {}}, "description": "the signed manifest"},
               204: {"description": "nothing newer than the version the device holds"}},
)  # fmt: skip
def manifest(
    point_id: uuid.UUID,
    request: Request,
    device: uuid.UUID = Query(...),
    since: int = Query(0, ge=0, lt=1 << 53),
    cycle: str | None = Query(None, pattern=CYCLE),
    session: Session = Depends(get_session),
) -> Response:
    """The device's next manifest for the cycle (default: the server's current month), signed by a distribution key."""
    now = utcnow()
    found = service.authenticate_device(session, header=request.headers.get("authorization"), method="GET",
                                        path=_signed_path(request), body=b"", now=now)  # fmt: skip
    if found.id != device or found.point_id != point_id:
        raise AppError(message="this device belongs to another point", code="device_wrong_point", status=403)
    settings = request.app.state.settings
    data = service.manifest_for(session, device=found, cycle=cycle or now.strftime("%Y-%m"), since=since,
                                policy=service.manifest_policy_from(settings), card_policy=policy_from(settings),
                                passphrase=settings.key_passphrase, now=now)  # fmt: skip
    if data is None:
        return Response(status_code=204)
    return Response(content=data, media_type=CBOR_MANIFEST)


@router.post("/api/v1/sync/events", response_model=SyncOut)
def sync_events(request: Request, body: bytes = Depends(raw_body), session: Session = Depends(get_session)):
    """Store a batch of the device's events; replays get their first answer; acknowledged only after the commit."""
    now = utcnow()
    device = service.authenticate_device(session, header=request.headers.get("authorization"), method="POST",
                                         path=_signed_path(request), body=body, now=now, lock=True)  # fmt: skip
    try:
        parsed = EventsIn.model_validate(json.loads(body))
    except (ValueError, TypeError) as exc:
        message = f'the body must be {{"events": [base64url, …]}}: {str(exc)[:200]}'
        raise ValidationFailed(message, [FieldError("events", "sync_body_invalid", message)],
                               code="sync_body_invalid") from None  # fmt: skip
    blobs = [_bytes(text, f"events[{i}]") for i, text in enumerate(parsed.events)]
    return service.ingest_events(session, device=device, blobs=blobs, now=now)


# Escrow, cases, report (officers)
@router.post("/api/v1/distribution/escrow", status_code=200)
def assign(body: AssignIn, actor: Actor = Depends(manage), session: Session = Depends(get_session)) -> dict:
    """Give the cycle's unassigned published entitlements to their default points."""
    return service.assign_escrow(session, actor=actor, cycle=body.cycle, now=utcnow())


@router.post("/api/v1/escrow/{escrow_id}/point")
def move(escrow_id: uuid.UUID, body: MoveIn, actor: Actor = Depends(manage),
         session: Session = Depends(get_session)) -> dict:  # fmt: skip
    """Move an entitlement to another point (logged)."""
    return service.reassign_escrow(session, actor=actor, escrow_id=escrow_id, point_ref=body.point,
                                   reason=body.reason, now=utcnow())  # fmt: skip


@router.get("/api/v1/distribution/cases")
def cases(
    cycle: str | None = Query(None, pattern=CYCLE),
    status: Literal["open", "closed"] | None = Query(None),
    point: str | None = Query(None, max_length=48),
    actor: Actor = Depends(cases_read),
    session: Session = Depends(get_session),
) -> list[dict]:
    """Redemptions that need an officer: beyond the entitlement, revoked cards, forks, suspended devices."""
    return service.list_cases(session, cycle=cycle, status=status, point_ref=point, actor=actor)


@router.post("/api/v1/distribution/cases/{case_id}/closure")
def close(case_id: uuid.UUID, body: ClosureIn, actor: Actor = Depends(cases_resolve),
          session: Session = Depends(get_session)) -> dict:  # fmt: skip
    """Close a case with its resolution (the redemption itself is never changed)."""
    return service.close_case(session, actor=actor, case_id=case_id, resolution=body.resolution, now=utcnow())


@router.get("/api/v1/distribution/report")
def report(cycle: str = Query(..., pattern=CYCLE), actor: Actor = Depends(cases_read),
           session: Session = Depends(get_session)) -> dict:  # fmt: skip
    """Reconciliation of a cycle per point and programme, and every device's last sync."""
    return service.reconciliation(session, cycle=cycle, now=utcnow())
