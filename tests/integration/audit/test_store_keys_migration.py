"""Migration 0007 on a store that already holds keys: one of them becomes the probe of the store's passphrase."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from alembic import command
from sqlalchemy import text
from sqlalchemy.orm import Session

from carnet.audit.service import sign_head
from carnet.db.migrate import alembic_config
from carnet.db.session import make_engine
from carnet.kit import signing
from carnet.kit.errors import AppError
from tests.integration.audit.conftest import PASSPHRASE

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)


def migrate(engine, revision: str) -> None:
    config = alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def test_a_store_with_an_issuer_key_before_0007_accepts_only_that_keys_passphrase(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'old.db'}")
    try:
        migrate(engine, "0005_programs")
        key = signing.generate()
        with engine.begin() as connection:
            connection.execute(
                text("INSERT INTO issuer_keys (kid, public_key, private_pem, created_at) VALUES (:k, :p, :pem, :at)"),
                {"k": key.kid, "p": key.public_raw, "pem": signing.encrypt(key, PASSPHRASE), "at": NOW.isoformat()},
            )
        migrate(engine, "0007_store_keys")
        with Session(engine) as session:
            assert session.execute(text("SELECT kind FROM store_key_verifier")).scalar_one() == "legacy-pem"
            with pytest.raises(AppError) as refused:
                sign_head(session, passphrase="otra frase de paso cualquiera", now=NOW)
            assert refused.value.code == "wrong_passphrase"
            assert session.execute(text("SELECT count(*) FROM audit_keys")).scalar_one() == 0
            sign_head(session, passphrase=PASSPHRASE, now=NOW)
            assert session.execute(text("SELECT kind FROM store_key_verifier")).scalar_one() == "scrypt-aesgcm"
    finally:
        engine.dispose()
