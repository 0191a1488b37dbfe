"""/api/v1/imports: upload a census or survey file; read the summary and the rejected rows."""

from __future__ import annotations

import shutil
import tempfile
import uuid
from pathlib import Path

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import FileResponse
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.datastructures import UploadFile as StarletteUpload
from starlette.formparsers import MultiPartException, MultiPartParser

from carnet.access.policy import Permission, Purpose, has_permission
from carnet.kit.actor import Actor
from carnet.kit.clock import utcnow
from carnet.kit.errors import AppError, FieldError, NotFound, ValidationFailed
from carnet.registry import service
from carnet.registry.importer import FORMATS, ColumnMapping, run_import
from carnet.registry.limits import ImportLimits
from carnet.registry.models import ImportRun
from carnet.registry.schemas import ImportSummary
from carnet.web.deps import UnitOfWorkRoute, get_session, requires

router = APIRouter(prefix="/api/v1/imports", tags=["imports"], route_class=UnitOfWorkRoute)

run = requires(Permission.IMPORTS_RUN, Purpose.REGISTRATION)
read = requires(Permission.IMPORTS_READ, Purpose.NONE)


MAPPING_MAX_BYTES = 256 << 10
ZIP_MAGIC = b"PK\x03\x04"
# Starts of files that are certainly not CSV text: old Excel (OLE2), PDF, images, archives, executables.
BINARY_MAGICS = (
    b"\xd0\xcf\x11\xe0", b"%PDF", b"\x89PNG", b"GIF8", b"\xff\xd8\xff", b"\x1f\x8b", b"\x7fELF", b"MZ", b"Rar!",
    b"7z\xbc\xaf", ZIP_MAGIC,
)  # fmt: skip
UPLOAD_BODY = {
    "required": True,
    "content": {
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "required": ["file"],
                "properties": {
                    "file": {"type": "string", "format": "binary", "description": "CSV or XLSX"},
                    "mapping": {"type": "string", "format": "binary", "description": "optional YAML column mapping"},
                },
            }
        }
    },
}


@router.post("", response_model=ImportSummary, status_code=201, openapi_extra={"requestBody": UPLOAD_BODY})
async def create_import(
    request: Request,
    actor: Actor = Depends(run),
    session: Session = Depends(get_session),
) -> object:
    """Import a file: good rows are kept, bad ones listed with their reasons."""
    # The body is declared by hand, not as File() parameters: FastAPI reads form parameters before it runs
    # the dependencies, so an anonymous caller could make the server read a whole upload before its 401.
    # Here `run` has authenticated and authorised the caller before the first byte of the body is read.
    settings = request.app.state.settings
    form = await _read_form(request, settings.max_upload_bytes)
    try:
        file = form.get("file")
        if not isinstance(file, StarletteUpload):
            raise ValidationFailed(
                "the upload needs a file part", [FieldError("file", "missing_file", "field required")]
            )
        name = Path(file.filename or "upload.csv").name
        suffix = Path(name).suffix.lower()
        if suffix not in FORMATS:
            raise AppError(f"{name}: only .csv and .xlsx files can be imported", code="unsupported_format")
        _check_content_type(file, name, suffix)
        column_mapping = None
        mapping = form.get("mapping")
        if isinstance(mapping, StarletteUpload):
            column_mapping = ColumnMapping.from_yaml(_mapping_text(mapping), source="mapping")
        folder = Path(settings.data_dir) / "imports"
        folder.mkdir(parents=True, exist_ok=True)
        # mkstemp makes the file readable by its owner only: it holds personal data.
        with tempfile.NamedTemporaryFile(suffix=suffix, dir=folder, delete=False) as handle:
            file.file.seek(0)
            shutil.copyfileobj(file.file, handle)
            upload = Path(handle.name)
    finally:
        await form.close()
    try:
        now = utcnow()
        summary = await run_in_threadpool(
            lambda: run_import(
                session,
                actor=actor,
                path=upload,
                mapping=column_mapping,
                display_name=name,
                rejects_path=upload.with_suffix(".rejects.csv"),
                batch_size=settings.import_batch_size,
                today=now.date(),
                now=now,
                limits=ImportLimits.from_settings(settings),
            )
        )
    finally:
        upload.unlink(missing_ok=True)
    return _summary(summary, actor)


async def _read_form(request: Request, max_bytes: int) -> FormData:
    """The multipart form; a file part over `max_bytes` is refused with 413.

    The whole body is already bounded (`max_bytes` plus the form's overhead) by `web.limits.BodyLimits`,
    from its declared length and while it streams, so only the size of each file part is checked here.
    """
    content_type = request.headers.get("content-type", "")
    if not content_type.lower().startswith("multipart/form-data"):
        return FormData()

    parser = MultiPartParser(request.headers, request.stream(), max_files=2, max_fields=2)
    try:
        form = await parser.parse()
    except MultiPartException as exc:
        raise AppError(f"the upload is not a valid multipart form ({exc.message})", code="invalid_upload") from None
    for value in form.values():
        if isinstance(value, StarletteUpload) and (value.size or 0) > max_bytes:
            await form.close()
            raise _too_large(max_bytes)
    return form


def _too_large(max_bytes: int) -> AppError:
    return AppError(
        f"the upload is larger than {max_bytes:,} bytes; split the file", code="upload_too_large", status=413
    )


def _check_content_type(file: StarletteUpload, name: str, suffix: str) -> None:
    """Refuse (415) a file whose first bytes say it is not what its name claims."""
    file.file.seek(0)
    head = file.file.read(8)
    file.file.seek(0)
    is_zip = head.startswith(ZIP_MAGIC)
    if (suffix == ".xlsx" and not is_zip) or (suffix == ".csv" and head.startswith(BINARY_MAGICS)):
        kind = "an Excel workbook (a zip archive)" if suffix == ".xlsx" else "CSV text"
        raise AppError(f"{name}: the content is not {kind}", code="upload_type_mismatch", status=415)


def _mapping_text(mapping: StarletteUpload) -> str:
    raw = mapping.file.read(MAPPING_MAX_BYTES + 1)
    if len(raw) > MAPPING_MAX_BYTES:
        raise AppError(f"the mapping is larger than {MAPPING_MAX_BYTES:,} bytes", code="upload_too_large", status=413)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise AppError("the mapping is not UTF-8 text", code="invalid_mapping") from None


@router.get("", response_model=list[ImportSummary])
def list_imports(
    limit: int = Query(default=50, ge=1, le=200),
    actor: Actor = Depends(read),
    session: Session = Depends(get_session),
) -> list:
    """The newest imports and their counts (a region-bound account sees its region's only)."""
    return [_summary(run, actor) for run in service.list_imports(session, actor=actor, limit=limit)]


@router.get("/{import_id}", response_model=ImportSummary)
def get_import(import_id: uuid.UUID, actor: Actor = Depends(read), session: Session = Depends(get_session)) -> object:
    """One import's counts."""
    return _summary(service.get_import(session, actor=actor, import_id=import_id), actor)


@router.get("/{import_id}/rejects", response_class=FileResponse)
def get_rejects(
    import_id: uuid.UUID, actor: Actor = Depends(run), session: Session = Depends(get_session)
) -> FileResponse:
    """The rejected rows as CSV (they hold personal data: only those who may import may read them)."""
    found = service.get_import(session, actor=actor, import_id=import_id)
    if not found.rejects_path or not Path(found.rejects_path).is_file():
        raise NotFound(f"import {import_id} has no rejects file", code="rejects_not_found")
    return FileResponse(found.rejects_path, media_type="text/csv", filename=f"{found.filename}.rejects.csv")


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
