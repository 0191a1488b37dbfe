"""The FastAPI application factory."""

from __future__ import annotations

import asyncio
import logging
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from fastapi.routing import APIRoute
from fastapi.staticfiles import StaticFiles
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool
from starlette.routing import Mount, Route

from carnet import __version__
from carnet.audit.service import sign_head_if_grown
from carnet.config import Settings, get_settings
from carnet.db.session import make_engine, make_session_factory, unit_of_work
from carnet.kit.clock import utcnow
from carnet.web import errors
from carnet.web.api import (
    attributes,
    audit,
    auth,
    cards,
    distribution,
    households,
    imports,
    ledger,
    me,
    persons,
    programs,
    users,
)
from carnet.web.limits import BodyLimits
from carnet.web.security import SecurityHeaders, redact_access_log

log = logging.getLogger("carnet.web")
STATIC = Path(__file__).resolve().parent / "static"
API_MODULES = (auth, persons, households, imports, attributes, users, me, audit, cards, programs, distribution, ledger)


def create_app(settings: Settings | None = None, session_factory: sessionmaker[Session] | None = None) -> FastAPI:
    """An app bound to a database (the settings' one unless a session factory is given)."""
    settings = settings or get_settings()
    if session_factory is None:
        session_factory = make_session_factory(make_engine(settings.resolved_database_url))
    redact_access_log()
    app = CarnetAPI(
        lifespan=_head_schedule(settings, session_factory),
        title="Carnet",
        version=__version__,
        summary="Social protection through one card, without becoming an instrument of control.",
        openapi_url="/api/openapi.json",
        # The interactive docs load their scripts from a CDN, which these sites cannot reach.
        docs_url=None,
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.session_factory = session_factory

    @app.get("/", tags=["health"])
    def root() -> dict:
        """Where to go from here (no personal data)."""
        return {
            "name": "Carnet",
            "version": __version__,
            "api_description": "/api/openapi.json",
            "health": "/healthz",
            "sign_in": "POST /api/v1/auth/tokens",
        }

    @app.get("/healthz", tags=["health"])
    def healthz() -> dict:
        """Liveness and database reachability."""
        with session_factory() as session:
            session.execute(text("SELECT 1"))
        return {"status": "ok", "version": __version__}

    for module in API_MODULES:
        app.include_router(module.router)
    # Our own pinned scripts and styles (scripts/vendor_assets.py); the CSP allows nothing else.
    app.mount("/static", StaticFiles(directory=STATIC, check_dir=False), name="static")
    errors.install(app)
    _declare_permissions_in_openapi(app)
    return app


class CarnetAPI(FastAPI):
    """FastAPI with the edge layers outside everything, so even a 500 or a refused body gets them."""

    def build_middleware_stack(self):  # type: ignore[no-untyped-def]
        settings: Settings = self.state.settings
        limited = BodyLimits(super().build_middleware_stack(), settings=settings,
                             session_factory=self.state.session_factory)  # fmt: skip
        return SecurityHeaders(limited, trust_forwarded_proto=settings.trust_forwarded_proto)


def _head_schedule(settings: Settings, session_factory: sessionmaker[Session]):  # type: ignore[no-untyped-def]
    """While the server runs, sign a tree head every interval in which the audit log grew."""

    def sign_once() -> None:
        with unit_of_work(session_factory) as session:
            head = sign_head_if_grown(session, passphrase=settings.key_passphrase, now=utcnow())
        if head is not None:
            log.info("signed tree head %s: %s entries", head.id, head.size)

    async def run() -> None:
        while True:
            await asyncio.sleep(settings.head_interval_seconds)
            try:
                await run_in_threadpool(sign_once)
            except Exception:  # keep serving; the next round tries again
                log.exception("could not sign a tree head")

    @asynccontextmanager
    async def lifespan(app: FastAPI):  # type: ignore[no-untyped-def]
        task = None
        if settings.head_interval_seconds and settings.key_passphrase:
            task = asyncio.create_task(run())
        elif settings.head_interval_seconds:
            log.warning("CARNET_KEY_PASSPHRASE is not set: tree heads will not be signed on a schedule")
        yield
        if task is not None:
            task.cancel()

    return lifespan


def _declare_permissions_in_openapi(app: FastAPI) -> None:
    # Auditors read the API description: each operation says which permission it needs and for
    # which purpose it reads personal data.
    generate = app.openapi

    def openapi() -> dict:
        if app.openapi_schema:
            return app.openapi_schema
        schema = generate()
        schema.setdefault("components", {}).setdefault("schemas", {})["Problem"] = PROBLEM_SCHEMA
        schema["components"]["schemas"].pop("HTTPValidationError", None)
        schema["components"]["schemas"].pop("ValidationError", None)
        for method, path, guard in declared_routes():
            operation = schema["paths"][path][method.lower()]
            operation["x-carnet-permission"] = guard.permission.value if guard else "public"
            operation["x-carnet-purpose"] = guard.purpose.value if guard else "none"
        for operations in schema["paths"].values():
            for operation in operations.values():
                # Every refusal is problem+json (web/errors.py), whatever the status: say so once per operation.
                responses = operation.setdefault("responses", {})
                responses.pop("422", None)
                responses["4XX"] = {"description": "Refused: problem+json with a stable code", "content": PROBLEM}
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


PROBLEM_SCHEMA = {
    "type": "object",
    "description": "RFC 9457 problem details with Carnet's stable error code and the request's correlation id",
    "required": ["type", "title", "status", "detail", "code"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "instance": {"type": "string"},
        "code": {"type": "string", "pattern": "^[a-z0-9_]+$"},
        "request_id": {"type": ["string", "null"]},
        "errors": {"type": "array", "items": {"type": "object", "required": ["field", "code", "message"]}},
    },
}
PROBLEM = {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}


def declared_routes() -> list[tuple[str, str, object]]:
    """(method, path, permission dependency or None) for every API route: the authorization table."""
    out = []
    for route in (r for module in API_MODULES for r in module.router.routes):
        if not isinstance(route, APIRoute):
            continue
        guard = next((d.call for d in route.dependant.dependencies if hasattr(d.call, "permission")), None)
        for method in sorted(route.methods):
            out.append((method, route.path, guard))
    return out


def served_routes(app: FastAPI) -> list[tuple[str, str]]:
    """(method, path) of everything `app` serves, walked from app.routes (mounts as GET of their path)."""
    out: list[tuple[str, str]] = []

    def walk(routes: list, prefix: str) -> None:  # type: ignore[type-arg]
        for route in routes:
            included = getattr(route, "original_router", None)
            if included is not None:
                walk(included.routes, prefix + getattr(getattr(route, "include_context", None), "prefix", ""))
            elif isinstance(route, Mount):
                out.append(("GET", prefix + route.path))
            elif isinstance(route, Route | APIRoute):
                out.extend((m, prefix + route.path) for m in sorted(route.methods or ()) if m != "HEAD")

    walk(list(app.routes), "")
    return sorted(set(out))
