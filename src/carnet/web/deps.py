"""Request plumbing: the session of the request's unit of work, authentication, permission and purpose."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import Depends, Request
from fastapi.routing import APIRoute
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from carnet.access import service as access
from carnet.access.models import User
from carnet.access.policy import Permission, Purpose, require_permission
from carnet.kit.actor import Actor
from carnet.kit.clock import utcnow
from carnet.kit.errors import Unauthenticated

SESSION_COOKIE = "carnet_session"
# Query parameters that would carry a credential into logs, browser history and Referer headers.


def get_session(request: Request) -> Session:
    """The session of this request; UnitOfWorkRoute commits it when the response is a success."""
    session = getattr(request.state, "db", None)
    if session is None:
        session = request.app.state.session_factory()
        request.state.db = session
    return session


class UnitOfWorkRoute(APIRoute):
    """A route that owns its transaction: commit before a 2xx/3xx response is sent, roll back otherwise."""

    def get_route_handler(self) -> Callable:
        inner = super().get_route_handler()

        async def handler(request: Request) -> Any:
            try:
                response = await inner(request)
            except BaseException:
                await _finish(request, commit=False)
                raise
            await _finish(request, commit=response.status_code < 400)
            return response

        return handler


async def _finish(request: Request, *, commit: bool) -> None:
    session: Session | None = getattr(request.state, "db", None)
    if session is None:
        return
    request.state.db = None

    def end() -> None:
        try:
            if commit:
                session.commit()
            else:
                session.rollback()
        finally:
            session.close()

    await run_in_threadpool(end)


def request_credentials(request: Request) -> tuple[str, str] | None:
    """("bearer" | "cookie", secret) from the request's headers, None when it carries no credentials."""
    header = request.headers.get("authorization", "")
    if header:
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            raise Unauthenticated("use 'Authorization: Bearer <token>'", code="invalid_authorization_header")
        return "bearer", value.strip()
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        return "cookie", cookie
    return None


def authenticated_user(session: Session, request: Request) -> User:
    """The account the request's token or cookie belongs to, or 401 (CSRF header required on cookie writes)."""
    credentials = request_credentials(request)
    if credentials is None:
        raise Unauthenticated()
    kind, secret = credentials
    now = utcnow()
    if kind == "bearer":
        return access.user_for_bearer(session, token=secret, now=now)
    user = access.user_for_cookie(session, cookie=secret, now=now)
    if request.method not in ("GET", "HEAD", "OPTIONS") and not request.headers.get("x-carnet-csrf"):
        # A cross-site form cannot set a custom header; requiring one stops CSRF on cookie sessions.
        raise Unauthenticated("cookie sessions must send the X-Carnet-CSRF header", code="csrf_required")
    return user


def requires(permission: Permission, purpose: Purpose) -> Callable[..., Actor]:
    """A dependency: the authenticated actor, if their role grants `permission`; reads are for `purpose`."""

    def dependency(request: Request, session: Session = Depends(get_session)) -> Actor:
        user = authenticated_user(session, request)
        actor = access.actor_for(user, request_id=request.state.request_id, purpose=purpose.value)
        require_permission(actor, permission)
        return actor

    dependency.permission = permission  # type: ignore[attr-defined]
    dependency.purpose = purpose  # type: ignore[attr-defined]
    return dependency
