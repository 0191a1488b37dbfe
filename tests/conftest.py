"""Test fixtures: every database test runs on SQLite and, when reachable, on PostgreSQL.

Each test gets a session inside a transaction that is rolled back at the end; the code under test may
commit (that releases a savepoint), so boundaries behave as in production.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session, sessionmaker

from carnet.db.migrate import upgrade_to_head
from carnet.db.session import make_engine
from carnet.kit.actor import Actor
from carnet.kit.clock import utcnow
from carnet.registry import service as registry_service
from carnet.registry.dictionary import parse_dictionary

SHIPPED_DICTIONARY = Path(__file__).resolve().parents[1] / "src/carnet/registry/data/attributes.yaml"
PG_SERVER = os.environ.get("CARNET_TEST_POSTGRES_SERVER", "postgresql://postgres@127.0.0.1:5432/test")


def postgres_reason() -> str | None:
    """Why PostgreSQL tests cannot run here, or None when they can."""
    if os.environ.get("CARNET_TEST_POSTGRES", "auto") == "off":
        return "disabled by CARNET_TEST_POSTGRES=off"
    try:
        with psycopg.connect(PG_SERVER, connect_timeout=3):
            return None
    except psycopg.Error as exc:
        return f"PostgreSQL at {PG_SERVER} is not reachable ({exc.__class__.__name__})"


PG_SKIP_REASON = postgres_reason()
BACKENDS = ["sqlite", "postgresql"]


def pytest_report_header(config: pytest.Config) -> str:
    if PG_SKIP_REASON:
        return f"databases: SQLite only — {PG_SKIP_REASON}"
    return "databases: SQLite and PostgreSQL"


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:  # type: ignore[no-untyped-def]
    if PG_SKIP_REASON:
        terminalreporter.write_line(f"WARNING: PostgreSQL tests skipped: {PG_SKIP_REASON}", yellow=True, bold=True)


def create_postgres_database(prefix: str) -> str:
    """A new empty PostgreSQL database; returns its SQLAlchemy URL."""
    name = f"{prefix}_{secrets.token_hex(4)}"
    with psycopg.connect(PG_SERVER, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = PG_SERVER.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://")
    return f"{base}/{name}"


def drop_postgres_database(url: str) -> None:
    """Drop a database made by create_postgres_database."""
    name = url.rsplit("/", 1)[1]
    with psycopg.connect(PG_SERVER, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def prepare_store(engine: Engine) -> None:
    """Schema, regions and the shipped dictionary, committed."""
    upgrade_to_head(engine)
    with Session(engine) as session:
        registry_service.ensure_regions(session)
        dictionary = parse_dictionary(SHIPPED_DICTIONARY.read_text("utf-8"), source=str(SHIPPED_DICTIONARY))
        registry_service.install_dictionary(session, dictionary=dictionary, source="shipped", now=utcnow())
        session.commit()


@pytest.fixture(scope="session", params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A migrated store on each backend, for the whole test session."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('sqlite') / 'carnet.db'}"
        return
    if PG_SKIP_REASON:
        pytest.skip(PG_SKIP_REASON)
    url = create_postgres_database("carnet_test")
    try:
        yield url
    finally:
        drop_postgres_database(url)


@pytest.fixture(scope="session")
def engine(db_url: str) -> Iterator[Engine]:
    """The engine of the session's store, migrated and loaded with regions and the dictionary."""
    engine = make_engine(db_url)
    prepare_store(engine)
    yield engine
    engine.dispose()


@pytest.fixture()
def connection(engine: Engine):  # type: ignore[no-untyped-def]
    """A connection inside an outer transaction that is always rolled back."""
    with engine.connect() as conn:
        outer = conn.begin()
        yield conn
        if outer.is_active:
            outer.rollback()


@pytest.fixture()
def session_factory(connection) -> sessionmaker[Session]:  # type: ignore[no-untyped-def]
    """Sessions on the test connection: their commits release savepoints inside the outer transaction."""
    return sessionmaker(
        bind=connection, expire_on_commit=False, autoflush=False, join_transaction_mode="create_savepoint"
    )


@pytest.fixture()
def session(session_factory: sessionmaker[Session]) -> Iterator[Session]:
    """A session for arranging and asserting."""
    with session_factory() as session:
        yield session


@pytest.fixture()
def dialect(engine: Engine) -> str:
    """'sqlite' or 'postgresql'."""
    return engine.dialect.name


@pytest.fixture()
def registrar() -> Actor:
    """A registrar acting for registration, not bound to a region."""
    return Actor(user_id=None, role="registrar", request_id="test", purpose="registration", office="Test office")


def count_rows(session: Session, table: str, where: str = "1=1", **params: object) -> int:
    """How many rows of `table` match."""
    return session.execute(text(f"SELECT count(*) FROM {table} WHERE {where}"), params).scalar_one()


# Fails the run if a password, token, cookie or PIN made during it shows up in a log or in captured output.
pytest_plugins = ["tests.secrets_plugin"]
