"""/api/v1/programs: define programmes, preview and propose runs, approve them, explain decisions."""

from __future__ import annotations

import io
import uuid
from typing import Any

from fastapi import APIRouter, Body, Depends, Request, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from carnet.access.policy import Permission, Purpose
from carnet.flows.publication import publish_run
from carnet.kit.actor import Actor
from carnet.kit.clock import utcnow
from carnet.kit.csvsafe import SafeDictWriter
from carnet.programs import service
from carnet.programs.definition import check_definition
from carnet.web.deps import UnitOfWorkRoute, get_session, requires

router = APIRouter(tags=["programs"], route_class=UnitOfWorkRoute)
read = requires(Permission.PROGRAMS_READ, Purpose.NONE)
define = requires(Permission.PROGRAMS_MANAGE, Purpose.PROGRAM_ADMINISTRATION)
decide = requires(Permission.PROGRAMS_MANAGE, Purpose.ELIGIBILITY)
explain_any = requires(Permission.ELIGIBILITY_EXPLAIN, Purpose.APPEAL)
explain_own = requires(Permission.SELF_READ, Purpose.DATA_SUBJECT_ACCESS)


class CycleIn(BaseModel):
    """Which monthly cycle to evaluate."""

    model_config = ConfigDict(extra="forbid")
    cycle: str = Field(pattern=r"^\d{4}-\d{2}$", examples=["2026-12"])
    supersede: bool = False


class ApprovalIn(BaseModel):
    """Approve a proposed run; `supersede` replaces the cycle's published run."""

    model_config = ConfigDict(extra="forbid")
    supersede: bool = False


class RunOut(BaseModel):
    """An eligibility run: its totals and its preview (by region, by clause, change, warnings)."""

    id: uuid.UUID
    status: str
    cycle: str
    program_version: int
    proposed_by: str
    approved_by: str | None
    units_evaluated: int
    units_eligible: int
    total_quantity: int
    total_value: int
    currency: str
    cohort_digest: str
    preview: dict[str, Any]

    model_config = ConfigDict(from_attributes=True)


@router.get("/api/v1/programs")
def list_programs(actor: Actor = Depends(read), session: Session = Depends(get_session)) -> list[dict]:
    """Every programme with its current definition."""
    return service.list_programs(session)


@router.put("/api/v1/programs/{code}")
def apply_program(
    code: str,
    request: Request,
    definition: dict[str, Any] = Body(..., description="the programme, as in its YAML file"),
    actor: Actor = Depends(define),
    session: Session = Depends(get_session),
) -> dict:
    """Create a programme or add a version of it; a rule that does not check is refused with its position."""
    checked = check_definition({**definition, "code": code}, source=code)
    return service.apply_program(session, actor=actor, definition=checked,
                                 passphrase=request.app.state.settings.key_passphrase, now=utcnow())  # fmt: skip


@router.post("/api/v1/programs/{code}/preview", response_model=RunOut)
def preview(code: str, body: CycleIn, actor: Actor = Depends(decide), session: Session = Depends(get_session)):
    """Who the rule would select for a cycle, without writing entitlements."""
    return service.evaluate_cycle(session, actor=actor, code=code, cycle=body.cycle, now=utcnow(), persist=False)


@router.post("/api/v1/programs/{code}/runs", response_model=RunOut, status_code=201)
def propose(code: str, body: CycleIn, actor: Actor = Depends(decide), session: Session = Depends(get_session)):
    """Propose a cycle's entitlements; another officer approves them."""
    return service.evaluate_cycle(session, actor=actor, code=code, cycle=body.cycle, now=utcnow(), persist=True,
                                  supersede=body.supersede)  # fmt: skip


@router.get("/api/v1/programs/{code}/runs", response_model=list[RunOut])
def runs(code: str, actor: Actor = Depends(read), session: Session = Depends(get_session)):
    """A programme's runs, newest first."""
    return service.runs_of(session, code=code)


@router.post("/api/v1/runs/{run_id}/approval", response_model=RunOut)
def approve(
    run_id: uuid.UUID, body: ApprovalIn, actor: Actor = Depends(decide), session: Session = Depends(get_session)
):
    """Publish a proposed run (the approver is not its proposer); its entitlements go into escrow at their points."""
    return publish_run(session, actor=actor, run_id=run_id, now=utcnow(), supersede=body.supersede)


@router.get(
    "/api/v1/runs/{run_id}/entitlements",
    response_class=Response,
    responses={200: {"content": {"text/csv": {}}, "description": "one row per entitlement"}},
)
def entitlements(
    run_id: uuid.UUID, request: Request, actor: Actor = Depends(decide), session: Session = Depends(get_session)
) -> Response:
    """A run's entitlements as CSV, each unit named by the programme's pseudonym (never a registry id)."""
    rows = service.export_entitlements(session, actor=actor, run_id=run_id,
                                       passphrase=request.app.state.settings.key_passphrase, now=utcnow())  # fmt: skip
    out = io.StringIO()
    writer = SafeDictWriter(out, fieldnames=service.ENTITLEMENT_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return Response(out.getvalue(), media_type="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="entitlements-{run_id}.csv"'})  # fmt: skip


@router.get("/api/v1/programs/{code}/explanations/{person_id}")
def explanation(
    code: str,
    person_id: uuid.UUID,
    cycle: str | None = None,
    actor: Actor = Depends(explain_any),
    session: Session = Depends(get_session),
) -> dict:
    """Why a person is or is not eligible (what an appeal refers to); the read is in the person's log."""
    return service.explain_for_person(session, actor=actor, code=code, person_id=person_id, now=utcnow(), cycle=cycle)


@router.get("/api/v1/me/programs/{code}/explanation")
def my_explanation(
    code: str, cycle: str | None = None, actor: Actor = Depends(explain_own), session: Session = Depends(get_session)
) -> dict:
    """Why I am or am not eligible for a programme: the same explanation the office sees."""
    return service.explain_own(session, actor=actor, code=code, now=utcnow(), cycle=cycle)
