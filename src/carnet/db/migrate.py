"""Running the Alembic migrations from code (init, tests) without an alembic.ini on disk."""

from __future__ import annotations

from importlib import resources

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine


def alembic_config(url: str | None = None) -> Config:
    """An Alembic config pointing at the migrations shipped inside the package."""
    config = Config()
    config.set_main_option("script_location", str(resources.files("carnet.db") / "migrations"))
    if url:
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade_to_head(engine: Engine, *, key_passphrase: str | None = None) -> None:
    """Bring the schema of `engine`'s database to the newest revision.

    `key_passphrase` is for migrations that seal new keys for existing rows (0008: programmes' sector keys).
    """
    config = alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        if key_passphrase is not None:
            config.attributes["key_passphrase"] = key_passphrase
        command.upgrade(config, "head")
