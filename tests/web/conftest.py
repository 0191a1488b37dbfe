"""Web fixtures: the app bound to the test's connection, and users with bearer tokens.

Every request's unit of work commits a savepoint inside the test's outer transaction, which is rolled
back at the end, so tests see exactly what a request wrote and leave nothing behind.
"""

from __future__ import annotations

import itertools
import json
import uuid
from collections.abc import Callable, Iterator
from datetime import date

import anyio
import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from carnet.access.service import create_user, issue_api_token
from carnet.config import Settings
from carnet.kit.actor import Actor
from carnet.kit.clock import utcnow
from carnet.registry import service as registry_service
from carnet.registry.schemas import PersonIn
from carnet.web.app import create_app
from tests.secrets_plugin import known_secrets

PASSWORD = "correct-horse-battery"
PROBLEM_JSON = "application/problem+json"
known_secrets.add(PASSWORD)


def bearer(token: str) -> dict[str, str]:
    """The Authorization header for a bearer token."""
    return {"Authorization": f"Bearer {token}"}


def person_body(**overrides: object) -> dict:
    """A valid JSON body for POST /api/v1/persons."""
    return {
        "given_names": "María José",
        "family_names": "Pérez Rodríguez",
        "date_of_birth": "1985-03-14",
        "sex": "F",
        "national_id": "V-12345678",
        "phone": "0414-1234567",
        "region_code": "VE-A",
        "attributes": {"monthly_income": 250000},
    } | overrides


@pytest.fixture()
def client(tmp_path, session_factory: sessionmaker[Session]) -> Iterator[TestClient]:
    """A client of an app whose requests run on the test's connection."""
    app = create_app(Settings(data_dir=tmp_path), session_factory=session_factory)
    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture()
def make_user(session: Session) -> Callable[..., str]:
    """make_user(role, region_code=None, person_id=None, username=None): a bearer token; password PASSWORD."""
    counter = itertools.count(1)

    def make(
        role: str,
        region_code: str | None = None,
        person_id: uuid.UUID | None = None,
        username: str | None = None,
    ) -> str:
        now = utcnow()
        user = create_user(
            session,
            username=username or f"{role.replace('_', '-')}-{next(counter)}",
            password=PASSWORD,
            role=role,
            region_code=region_code,
            person_id=person_id,
            # Citizen accounts are made by the person or at an office, never by an admin.
            created_via="office" if role == "citizen" else "admin",
            now=now,
        )
        _, secret = issue_api_token(session, user=user, name="test", now=now)
        known_secrets.add(secret)
        session.commit()
        return secret

    return make


@pytest.fixture()
def make_person(session: Session, registrar: Actor) -> Callable[..., dict]:
    """make_person(**fields) -> the view of a person registered directly through the service (committed)."""

    def make(**overrides: object) -> dict:
        now = utcnow()
        values = person_body() | {"attributes": {}} | overrides
        view = registry_service.create_person(
            session, actor=registrar, data=PersonIn(**values), today=date.today(), now=now
        )
        session.commit()
        return view

    return make


class AsgiAnswer:
    """What an ASGI app answered to a request made by asgi_request, and how much of the body it read."""

    def __init__(self) -> None:
        self.status = 0
        self.headers: dict[str, str] = {}
        self.body = b""
        self.bytes_read = 0

    def json(self) -> dict:
        """The body as JSON."""
        return json.loads(self.body)


def asgi_request(
    app, method: str, path: str, *, headers: dict[str, str] | None = None, chunks=(), query: str = ""
) -> AsgiAnswer:
    """Call `app` straight through ASGI with a streamed body, counting the bytes the server pulled from it.

    The test client reads a whole body before the app sees it; this does not, so it shows how much of a
    hostile body the server consumed before answering.
    """
    answer = AsgiAnswer()
    source = iter(chunks)
    pending = {"next": next(source, None)}

    async def receive() -> dict:
        chunk = pending["next"]
        if chunk is None:
            return {"type": "http.disconnect"}
        answer.bytes_read += len(chunk)
        pending["next"] = next(source, None)
        return {"type": "http.request", "body": chunk, "more_body": pending["next"] is not None}

    async def send(message: dict) -> None:
        if message["type"] == "http.response.start":
            answer.status = message["status"]
            answer.headers = {k.decode().lower(): v.decode() for k, v in message.get("headers", [])}
        elif message["type"] == "http.response.body":
            answer.body += message.get("body", b"")

    raw_headers = [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query.encode(),
        "root_path": "",
        "headers": [(b"host", b"testserver"), *raw_headers],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }
    anyio.run(app, scope, receive, send)
    return answer
