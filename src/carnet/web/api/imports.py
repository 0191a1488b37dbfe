"""/api/v1/imports: upload a census or survey file; read the summary and the rejected rows."""

from __future__ import annotations

import shutil
import tempfile
import uuid
from pathlib import Path

from fastapi import APIRouter, Depends, File, Query, Request, UploadFile
from fastapi.responses import FileResponse
from sqlalchemy.orm import Session

from carnet.access.policy import Permission, Purpose, has_permission
from carnet.kit.actor import Actor
from carnet.kit.clock import utcnow
from carnet.kit.errors import AppError, NotFound
from carnet.registry import repository
from carnet.registry.importer import FORMATS, ColumnMapping, run_import
from carnet.registry.models import ImportRun
from carnet.registry.schemas import ImportSummary
from carnet.web.deps import UnitOfWorkRoute, get_session, requires

router = APIRouter(prefix="/api/v1/imports", tags=["imports"], route_class=UnitOfWorkRoute)

run = requires(Permission.IMPORTS_RUN, Purpose.REGISTRATION)
read = requires(Permission.IMPORTS_READ, Purpose.NONE)


@router.post("", response_model=ImportSummary, status_code=201)
def create_import(
    request: Request,
    file: UploadFile = File(description="CSV or XLSX"),
    mapping: UploadFile | None = File(default=None, description="optional YAML column mapping"),
    actor: Actor = Depends(run),
    session: Session = Depends(get_session),
) -> object:
    """Import a file: good rows are kept, bad ones listed with their reasons."""
    name = Path(file.filename or "upload.csv").name
    suffix = Path(name).suffix.lower()
    if suffix not in FORMATS:
        raise AppError(f"{name}: only .csv and .xlsx files can be imported", code="unsupported_format")
    column_mapping = None
    if mapping is not None:
        column_mapping = ColumnMapping.from_yaml(mapping.file.read().decode("utf-8"), source="mapping")
    settings = request.app.state.settings
    folder = Path(settings.data_dir) / "imports"
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(suffix=suffix, dir=folder, delete=False) as handle:
        shutil.copyfileobj(file.file, handle)
        upload = Path(handle.name)
    try:
        now = utcnow()
        summary = run_import(
            session,
            actor=actor,
            path=upload,
            mapping=column_mapping,
            display_name=name,
            rejects_path=upload.with_suffix(".rejects.csv"),
            batch_size=settings.import_batch_size,
            today=now.date(),
            now=now,
        )
    finally:
        upload.unlink(missing_ok=True)
    return _summary(summary, actor)


@router.get("", response_model=list[ImportSummary])
def list_imports(
    limit: int = Query(default=50, ge=1, le=200),
    actor: Actor = Depends(read),
    session: Session = Depends(get_session),
) -> list:
    """The newest imports and their counts (a region-bound account sees its region's only)."""
    runs = repository.list_imports(session, limit=limit, region_scope=actor.region_code)
    return [_summary(run, actor) for run in runs]


@router.get("/{import_id}", response_model=ImportSummary)
def get_import(import_id: uuid.UUID, actor: Actor = Depends(read), session: Session = Depends(get_session)) -> object:
    """One import's counts."""
    return _summary(_visible_import(session, actor, import_id), actor)


@router.get("/{import_id}/rejects", response_class=FileResponse)
def get_rejects(
    import_id: uuid.UUID, actor: Actor = Depends(run), session: Session = Depends(get_session)
) -> FileResponse:
    """The rejected rows as CSV (they hold personal data: only those who may import may read them)."""
    found = _visible_import(session, actor, import_id)
    if not found.rejects_path or not Path(found.rejects_path).is_file():
        raise NotFound(f"import {import_id} has no rejects file", code="rejects_not_found")
    return FileResponse(found.rejects_path, media_type="text/csv", filename=f"{found.filename}.rejects.csv")


def _visible_import(session: Session, actor: Actor, import_id: uuid.UUID) -> ImportRun:
    found = repository.get_import(session, import_id)
    # A registrar bound to a region sees only the imports made within that region.
    if found is None or (actor.region_code is not None and found.region_scope != actor.region_code):
        raise NotFound(f"import {import_id} not found", code="import_not_found")
    return found


def _summary(run: ImportRun, actor: Actor) -> dict:
    # Reject messages quote row values (a cédula, a date): personal data, for importers only.
    summary = ImportSummary.model_validate(
        {
            **{name: getattr(run, name) for name in ImportSummary.model_fields if hasattr(run, name)},
            "rejects_available": bool(run.rejects_path and run.rows_rejected),
            "reject_sample": run.reject_sample if has_permission(actor.role, Permission.IMPORTS_RUN) else None,
        }
    )
    return summary.model_dump()
