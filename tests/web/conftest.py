"""Web fixtures: the app bound to the test's connection, and users with bearer tokens.

Every request's unit of work commits a savepoint inside the test's outer transaction, which is rolled
back at the end, so tests see exactly what a request wrote and leave nothing behind.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Callable, Iterator
from datetime import date

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

PASSWORD = "correct-horse-battery"
PROBLEM_JSON = "application/problem+json"


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
