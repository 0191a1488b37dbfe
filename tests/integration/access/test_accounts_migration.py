"""Migration 0006_accounts: citizen accounts an admin made before it are disabled, unlinked and their tokens
revoked, so that the person makes their own; staff accounts are untouched."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime

import pytest
from alembic import command
from sqlalchemy import text
from sqlalchemy.orm import Session

from carnet.access.service import create_user
from carnet.db.migrate import alembic_config, upgrade_to_head
from carnet.db.session import make_engine
from carnet.kit.actor import Actor
from carnet.registry import service as registry_service
from carnet.registry.dictionary import parse_dictionary
from carnet.registry.schemas import PersonIn
from tests.conftest import PG_SKIP_REASON, SHIPPED_DICTIONARY, create_postgres_database, drop_postgres_database

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
REGISTRAR = Actor(user_id=None, role="registrar", request_id="test", purpose="registration", office="Oficina")


@pytest.fixture(params=["sqlite", "postgresql"])
def store_at_0005(request, tmp_path):
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'old.db'}"
    else:
        if PG_SKIP_REASON:
            pytest.skip(PG_SKIP_REASON)
        url = create_postgres_database("carnet_mig6")
    engine = make_engine(url)
    config = alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0005_programs")
    yield engine
    engine.dispose()
    if request.param == "postgresql":
        drop_postgres_database(url)


def _uid(engine, value: uuid.UUID):
    return value.hex if engine.dialect.name == "sqlite" else value


def test_admin_made_citizen_accounts_are_disabled_and_unlinked(store_at_0005):
    engine = store_at_0005
    with Session(engine) as session:
        registry_service.ensure_regions(session)
        dictionary = parse_dictionary(SHIPPED_DICTIONARY.read_text("utf-8"), source="shipped")
        registry_service.install_dictionary(session, dictionary=dictionary, source="shipped", now=NOW)
        data = PersonIn(given_names="Ana", family_names="Gil", date_of_birth="1990-01-01", region_code="VE-A")
        person_id = registry_service.create_person(session, actor=REGISTRAR, data=data, today=date(2026, 12, 1),
                                                   now=NOW)["id"]  # fmt: skip
        # Two citizen accounts for one person (finding 2) and a staff account, as an admin could make them.
        rows = [("spy", "citizen", person_id), ("ana", "citizen", person_id), ("clerk", "registrar", None)]
        ids = {}
        for username, role, linked in rows:
            ids[username] = uuid.uuid4()
            session.execute(
                text("INSERT INTO users (id, username, display_name, role, password_hash, person_id, is_active,"
                     " created_at) VALUES (:id, :u, :u, :r, 'x', :p, :yes, :at)"),
                {"id": _uid(engine, ids[username]), "u": username, "r": role,
                 "p": _uid(engine, linked) if linked else None, "yes": True, "at": NOW.replace(tzinfo=None)},
            )  # fmt: skip
            session.execute(
                text("INSERT INTO api_tokens (id, user_id, name, token_hash, created_at)"
                     " VALUES (:id, :user, 't', :h, :at)"),
                {"id": _uid(engine, uuid.uuid4()), "user": _uid(engine, ids[username]), "h": username * 3,
                 "at": NOW.replace(tzinfo=None)},
            )  # fmt: skip
        session.commit()

    upgrade_to_head(engine)

    with Session(engine) as session:
        users = {
            row.username: row
            for row in session.execute(
                text("SELECT username, role, created_via, person_id, is_active, disabled_at FROM users")
            )
        }
        assert {(u.created_via, u.person_id, bool(u.is_active)) for n, u in users.items() if n != "clerk"} == {
            ("legacy", None, False)
        }
        assert all(users[n].disabled_at is not None for n in ("spy", "ana"))
        assert (users["clerk"].created_via, bool(users["clerk"].is_active)) == ("admin", True)
        live = session.execute(text("SELECT count(*) FROM api_tokens WHERE revoked_at IS NULL")).scalar_one()
        assert live == 1
        # The person can now make their own account.
        mine = create_user(session, username="ana-gil", password="una clave larga", role="citizen",
                           person_id=person_id, created_via="office", now=NOW)  # fmt: skip
        assert mine.person_id == person_id
