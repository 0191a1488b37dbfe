"""One Alembic history gives the same schema on SQLite and PostgreSQL, equal to the models."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, inspect

from carnet.db.migrate import upgrade_to_head
from carnet.db.models import Base
from carnet.db.session import make_engine
from tests.conftest import PG_SKIP_REASON, create_postgres_database, drop_postgres_database


def describe(engine: Engine) -> dict:
    """Tables → columns (name, nullability, generic type family), unique sets, indexes, foreign keys."""
    inspector = inspect(engine)
    out = {}
    for table in sorted(inspector.get_table_names()):
        if table == "alembic_version":
            continue
        columns = {c["name"]: (c["nullable"], _family(c["type"])) for c in inspector.get_columns(table)}
        uniques = {tuple(u["column_names"]) for u in inspector.get_unique_constraints(table)}
        uniques |= {tuple(i["column_names"]) for i in inspector.get_indexes(table) if i["unique"]}
        indexes = {tuple(i["column_names"]) for i in inspector.get_indexes(table) if not i["unique"]}
        foreign = {(tuple(f["constrained_columns"]), f["referred_table"]) for f in inspector.get_foreign_keys(table)}
        primary = tuple(inspector.get_pk_constraint(table)["constrained_columns"])
        out[table] = {"columns": columns, "unique": uniques, "indexes": indexes, "fk": foreign, "pk": primary}
    return out


FAMILIES = {
    "UUID": "uuid",
    "CHAR": "uuid",  # SQLite keeps a Uuid as CHAR(32)
    "VARCHAR": "text",
    "TEXT": "text",
    "INTEGER": "int",
    "BIGINT": "int",
    "SMALLINT": "int",
    "BOOLEAN": "bool",
    "TIMESTAMP": "time",
    "DATETIME": "time",
    "DATE": "date",
    "BLOB": "bytes",
    "BYTEA": "bytes",
    "JSON": "json",
    "JSONB": "json",
}


def _family(column_type) -> str:
    name = type(column_type).__name__.upper()
    return FAMILIES.get(name, name)


@pytest.fixture(scope="module")
def fresh_engines(tmp_path_factory):
    engines = {"sqlite": make_engine(f"sqlite:///{tmp_path_factory.mktemp('mig') / 'm.db'}")}
    url = None
    if not PG_SKIP_REASON:
        url = create_postgres_database("carnet_migrations")
        engines["postgresql"] = make_engine(url)
    for engine in engines.values():
        upgrade_to_head(engine)
    yield engines
    for engine in engines.values():
        engine.dispose()
    if url:
        drop_postgres_database(url)


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_migrations_match_the_models(fresh_engines, backend):
    if backend not in fresh_engines:
        pytest.skip(PG_SKIP_REASON)
    with fresh_engines[backend].connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata)
    assert diff == []


def test_same_schema_on_sqlite_and_postgresql(fresh_engines):
    if "postgresql" not in fresh_engines:
        pytest.skip(PG_SKIP_REASON)
    sqlite, postgresql = describe(fresh_engines["sqlite"]), describe(fresh_engines["postgresql"])
    assert sqlite.keys() == postgresql.keys()
    for table in sqlite:
        for part in ("columns", "unique", "indexes", "fk", "pk"):
            assert sqlite[table][part] == postgresql[table][part], (table, part)


def test_upgrade_is_idempotent_and_downgrade_leaves_nothing(tmp_path):
    from alembic import command

    from carnet.db.migrate import alembic_config

    engine = make_engine(f"sqlite:///{tmp_path / 'd.db'}")
    upgrade_to_head(engine)
    upgrade_to_head(engine)
    config = alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "base")
    assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
