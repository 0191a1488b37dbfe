"""The only place that turns errors into HTTP responses: RFC 9457 problem+json with a stable code."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from carnet.kit.errors import AppError
from carnet.kit.i18n import describe, t
from carnet.registry.policy import CATEGORY_LABELS, prohibited_category

PROBLEM = "application/problem+json"
log = logging.getLogger("carnet.web")


def problem_body(
    *, status: int, code: str, title: str, detail: str, instance: str, request_id: str | None, **extra: Any
) -> dict[str, Any]:
    """The members of a problem+json document (RFC 9457) with our code and the request's correlation id."""
    return {
        "type": f"https://carnet.example/problems/{code}",
        "title": title,
        "status": status,
        "detail": detail,
        "instance": instance,
        "code": code,
        "request_id": request_id,
    } | extra


def problem(request: Request, *, status: int, code: str, title: str, detail: str, **extra: Any) -> JSONResponse:
    """A problem+json response."""
    body = problem_body(
        status=status,
        code=code,
        title=title,
        detail=detail,
        instance=request.url.path,
        request_id=getattr(request.state, "request_id", None),
        **extra,
    )
    return JSONResponse(body, status_code=status, media_type=PROBLEM)


async def app_error(request: Request, exc: AppError) -> JSONResponse:
    """An AppError as problem+json, its field errors included."""
    extra: dict[str, Any] = dict(exc.extra)
    if exc.errors:
        extra["errors"] = [e.as_dict() | {"message": describe(e.code, e.message)} for e in exc.errors]
    # Devices sign their requests (distribution/device_auth.py); everyone else presents a bearer token.
    scheme = "CarnetDevice" if exc.code.startswith("device_") else "Bearer"
    headers = {"WWW-Authenticate": scheme} if exc.status == 401 else {}
    if exc.status == 429 and "retry_after" in exc.extra:
        headers["Retry-After"] = str(exc.extra["retry_after"])
    response = problem(
        request,
        status=exc.status,
        code=exc.code,
        title=t(_title(exc.status)),
        detail=describe(exc.code, exc.message),
        **extra,
    )
    if headers:
        response.headers.update(headers)
    return response


async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
    """Invalid request bodies; an unknown field that is a prohibited category gets its own code."""
    errors = []
    prohibited = None
    for err in exc.errors():
        location = [str(p) for p in err.get("loc", ()) if p not in ("body", "query", "path")]
        field = ".".join(location) or "(body)"
        if err.get("type") == "extra_forbidden" and location:
            category = prohibited_category(location[-1])
            if category is not None:
                prohibited = (location[-1], CATEGORY_LABELS[category])
                errors.append({"field": field, "code": "prohibited_attribute", "message": CATEGORY_LABELS[category]})
                continue
            message = describe("undeclared_field", "not a field of this record")
            errors.append({"field": field, "code": "undeclared_field", "message": message})
            continue
        errors.append({"field": field, "code": err.get("type", "invalid"), "message": err.get("msg", "invalid")})
    if prohibited:
        name, category = prohibited
        return problem(
            request,
            status=422,
            code="prohibited_attribute",
            title=t("Prohibited attribute"),
            detail=describe(
                "prohibited_attribute", f"'{name}' is a prohibited attribute ({category}); Carnet never stores it"
            ),
            errors=errors,
            attribute=name,
            category=category,
        )
    return problem(
        request,
        status=422,
        code="validation_failed",
        title=t("Invalid request"),
        detail=t("Some fields are invalid."),
        errors=errors,
    )


async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    """Framework errors (unknown route, wrong method) in the same shape."""
    code = {404: "route_not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
    return problem(request, status=exc.status_code, code=code, title=t(_title(exc.status_code)), detail=str(exc.detail))


async def unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    """A bug: logged with the request id, answered without internals."""
    log.exception("unhandled error in request %s", getattr(request.state, "request_id", "?"))
    return problem(
        request,
        status=500,
        code="internal_error",
        title=t("Internal error"),
        detail=t("Something went wrong on our side; nothing was changed."),
    )


def title_for(status: int) -> str:
    """The translated title of a problem with this status."""
    return t(_title(status))


def _title(status: int) -> str:
    return {
        400: "Bad request",
        401: "Authentication required",
        403: "Not allowed",
        404: "Not found",
        405: "Method not allowed",
        409: "Conflict",
        413: "Too large",
        422: "Invalid request",
    }.get(status, "Error")


def install(app: FastAPI) -> None:
    """Register the handlers on `app`."""
    app.add_exception_handler(AppError, app_error)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, validation_error)  # type: ignore[arg-type]
    app.add_exception_handler(StarletteHTTPException, http_error)  # type: ignore[arg-type]
    app.add_exception_handler(Exception, unexpected_error)
