"""/api/v1/auth: exchange a password for a bearer token or a session cookie."""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from carnet.access import service as access
from carnet.kit.clock import utcnow
from carnet.kit.errors import Unauthenticated
from carnet.web.deps import SESSION_COOKIE, UnitOfWorkRoute, get_session

router = APIRouter(prefix="/api/v1/auth", tags=["auth"], route_class=UnitOfWorkRoute)


class Credentials(BaseModel):
    """A username and password."""

    username: str = Field(max_length=64)
    password: str = Field(max_length=200)
    token_name: str = Field(default="api", max_length=120)


class TokenOut(BaseModel):
    """A new bearer token: shown once, stored only as a hash."""

    access_token: str
    token_type: str = "bearer"
    expires_at: str | None
    role: str


@router.post("/tokens", response_model=TokenOut, status_code=201)
def create_token(data: Credentials, session: Session = Depends(get_session)) -> dict:
    """A bearer token for the API, valid for 30 days."""
    now = utcnow()
    user = access.authenticate(session, username=data.username, password=data.password)
    token, secret = access.issue_api_token(session, user=user, name=data.token_name, now=now, ttl=timedelta(days=30))
    return {"access_token": secret, "expires_at": token.expires_at.isoformat(), "role": user.role}


@router.post("/session", status_code=204)
def sign_in(data: Credentials, request: Request, response: Response, session: Session = Depends(get_session)) -> None:
    """A session cookie for the web console (HttpOnly, SameSite=Strict)."""
    now = utcnow()
    user = access.authenticate(session, username=data.username, password=data.password)
    days = request.app.state.settings.session_days
    cookie = access.open_web_session(session, user=user, now=now, lifetime=timedelta(days=days))
    response.set_cookie(
        SESSION_COOKIE,
        cookie,
        max_age=days * 86400,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )


@router.delete("/session", status_code=204)
def sign_out(request: Request, response: Response, session: Session = Depends(get_session)) -> None:
    """End the web session (the X-Carnet-CSRF header is required, as for every cookie write)."""
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie and not request.headers.get("x-carnet-csrf"):
        raise Unauthenticated("cookie sessions must send the X-Carnet-CSRF header", code="csrf_required")
    if cookie:
        access.close_web_session(session, cookie=cookie, now=utcnow())
    response.delete_cookie(SESSION_COOKIE)
