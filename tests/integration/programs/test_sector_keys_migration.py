"""Migration 0008 on a store that already has programmes: each gets its sealed sector key, on both backends."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from alembic import command
from sqlalchemy.orm import Session

from carnet.audit.service import sign_head
from carnet.db.migrate import alembic_config
from carnet.db.session import make_engine
from carnet.kit.errors import AppError
from carnet.programs import service
from tests.conftest import PG_SKIP_REASON, create_postgres_database, drop_postgres_database

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
PASSPHRASE = "una frase de paso larga"
PROGRAMS = sa.table(
    "programs",
    *(sa.column(name, sa.String()) for name in ("code", "title", "purpose", "status")),
    sa.column("id", sa.Uuid()),
    sa.column("version", sa.Integer()),
    sa.column("created_at", sa.DateTime(timezone=True)),
    sa.column("updated_at", sa.DateTime(timezone=True)),
)


def migrate(engine, revision: str, passphrase: str | None = None) -> None:
    config = alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        if passphrase is not None:
            config.attributes["key_passphrase"] = passphrase
        command.upgrade(config, revision)


@pytest.fixture(params=["sqlite", "postgresql"])
def old_store(request, tmp_path):
    """A store at 0007 with two programmes and no sector keys."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'old.db'}"
    elif PG_SKIP_REASON:
        pytest.skip(PG_SKIP_REASON)
    else:
        url = create_postgres_database("carnet_sector_keys")
    engine = make_engine(url)
    try:
        migrate(engine, "0007_store_keys")
        ids = [uuid.uuid4(), uuid.uuid4()]
        with engine.begin() as connection:
            connection.execute(PROGRAMS.insert(), [
                {"id": pid, "code": f"old_{n}", "title": "Programa antiguo", "purpose": "food_assistance",
                 "status": "active", "version": 1, "created_at": NOW, "updated_at": NOW}
                for n, pid in enumerate(ids)
            ])  # fmt: skip
        yield engine, ids
    finally:
        engine.dispose()
        if request.param == "postgresql":
            drop_postgres_database(url)


def test_existing_programmes_get_keys_that_open_and_differ(old_store):
    engine, ids = old_store
    migrate(engine, "0008_sector_keys", PASSPHRASE)
    with Session(engine) as session:
        stored = session.execute(sa.text("SELECT count(*) FROM program_sector_keys")).scalar_one()
        keys = [service.open_sector_key(session, program_id=pid, passphrase=PASSPHRASE) for pid in ids]
        assert stored == 2 and len(set(keys)) == 2 and all(len(key) == 32 for key in keys)
        person = uuid.uuid4()
        first, second = (service.pseudonym_for(session, program_id=pid, person_id=person, passphrase=PASSPHRASE)
                         for pid in ids)  # fmt: skip
        assert first != second
        # The migration made the store's verifier: the same passphrase, and only it, opens the other keys.
        assert session.execute(sa.text("SELECT kind FROM store_key_verifier")).scalar_one() == "scrypt-aesgcm"
        with pytest.raises(AppError) as refused:
            sign_head(session, passphrase="otra frase de paso cualquiera", now=NOW)
        assert refused.value.code == "wrong_passphrase"
        sign_head(session, passphrase=PASSPHRASE, now=NOW)


def test_without_the_passphrase_the_upgrade_stops_and_changes_nothing(old_store, monkeypatch):
    engine, _ = old_store
    monkeypatch.delenv("CARNET_KEY_PASSPHRASE", raising=False)
    from carnet.config import get_settings

    get_settings.cache_clear()
    with pytest.raises(AppError) as caught:
        migrate(engine, "0008_sector_keys")
    assert caught.value.code == "key_passphrase_missing" and "sector keys" in caught.value.message
    with engine.connect() as connection:
        assert connection.execute(sa.text("SELECT version_num FROM alembic_version")).scalar_one() == "0007_store_keys"
        assert "program_sector_keys" not in sa.inspect(connection).get_table_names()


def test_a_passphrase_that_is_not_the_stores_is_refused(old_store):
    engine, _ = old_store
    with Session(engine) as session:
        sign_head(session, passphrase=PASSPHRASE, now=NOW)  # the store's keys exist under PASSPHRASE
        session.commit()
    with pytest.raises(AppError) as caught:
        migrate(engine, "0008_sector_keys", "otra frase de paso cualquiera")
    assert caught.value.code == "wrong_passphrase"
    migrate(engine, "0008_sector_keys", PASSPHRASE)
    with engine.connect() as connection:
        assert connection.execute(sa.text("SELECT count(*) FROM program_sector_keys")).scalar_one() == 2
