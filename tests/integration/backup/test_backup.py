"""`carnet backup create|verify|restore` (item 10 of issue 10): round trips on SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
import json
import sqlite3
import stat
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from carnet.config import get_settings
from carnet.db.session import make_engine
from carnet.programs import service
from carnet.programs.models import Program
from tests.conftest import PG_SKIP_REASON, create_postgres_database, drop_postgres_database
from tests.integration.audit.conftest import PASSPHRASE, carnet, use_settings


def populate(monkeypatch, tmp_path: Path) -> dict:
    """A store with people, cards (an issuer key), reads, and a signed tree head; returns that head."""
    carnet("init")
    carnet("seed", "--people", "40", "--seed", "6")
    use_settings(monkeypatch, CARNET_KEY_PASSPHRASE=PASSPHRASE)
    carnet("cards", "issue", "--all", "--mailers", tmp_path / "pins.csv", "--json")
    carnet("programs", "apply", "--examples")  # four programmes, each with its sealed sector key
    carnet("registry", "search", "a")
    return json.loads(carnet("audit", "head", "--sign").output)


def sector_keys() -> dict[str, bytes]:
    """Each programme's sector key in the configured store, opened with the passphrase."""
    engine = make_engine(get_settings().resolved_database_url)
    try:
        with Session(engine) as session:
            return {program.code: service.open_sector_key(session, program_id=program.id, passphrase=PASSPHRASE)
                    for program in session.scalars(select(Program))}  # fmt: skip
    finally:
        engine.dispose()


def backup(folder: Path, *extra: object) -> dict:
    return json.loads(carnet("backup", "create", folder, *extra, "--json").output)


class TestSqliteRoundTrip:
    def test_create_verify_restore_gives_the_same_signed_head_and_working_keys(self, cli_store, monkeypatch,
                                                                              tmp_path):  # fmt: skip
        head = populate(monkeypatch, tmp_path)
        before = sector_keys()
        folder = tmp_path / "backup"
        report = backup(folder)
        assert report["database"] == "sqlite" and report["tree_head"]["root"] == head["root"]
        assert report["migration_head"].startswith("0007") or report["migration_head"]
        manifest = json.loads((folder / "manifest.json").read_text())
        for part in manifest["parts"].values():
            assert hashlib.sha256((folder / part["file"]).read_bytes()).hexdigest() == part["sha256"]
        assert stat.S_IMODE((folder / "keys.json").stat().st_mode) == 0o600
        # The keys are apart: the database part holds no private key, the keys part only encrypted ones.
        assert b"PRIVATE KEY" not in (folder / "database.sqlite").read_bytes()
        keys = (folder / "keys.json").read_text()
        assert json.loads(keys)["audit_keys"] and json.loads(keys)["issuer_keys"] and PASSPHRASE not in keys
        assert len(json.loads(keys)["program_sector_keys"]) == 4
        with sqlite3.connect(folder / "database.sqlite") as conn:
            assert conn.execute("SELECT count(*) FROM program_sector_keys").fetchone() == (0,)
            assert conn.execute("SELECT count(*) FROM programs").fetchone() == (4,)
        conn.close()
        verified = json.loads(carnet("backup", "verify", folder, "--json").output)
        assert verified["restored_log_size"] == manifest["log_size"]

        use_settings(monkeypatch, CARNET_DATA_DIR=str(tmp_path / "restored"))
        restored = json.loads(carnet("backup", "restore", folder, "--json").output)
        assert restored["restored_log_size"] == manifest["log_size"]
        assert json.loads(carnet("audit", "verify", "--json").output)["ok"]
        assert json.loads(carnet("audit", "head").output) == {"size": head["size"], "root": head["root"]}
        # The restored keys open with the store's passphrase and sign on; the programmes keep their pseudonyms.
        assert json.loads(carnet("audit", "head", "--sign").output)["kid"] == head["kid"]
        assert sector_keys() == before

    def test_a_non_empty_store_is_refused(self, cli_store, monkeypatch, tmp_path):
        populate(monkeypatch, tmp_path)
        backup(tmp_path / "backup")
        refused = carnet("backup", "restore", tmp_path / "backup", ok=False)
        assert refused.exit_code == 2 and "restore_not_empty" in refused.output

    def test_keys_kept_elsewhere_and_a_damaged_part_is_named(self, cli_store, monkeypatch, tmp_path):
        populate(monkeypatch, tmp_path)
        folder, keys = tmp_path / "backup", tmp_path / "vault" / "keys.json"
        keys.parent.mkdir()
        backup(folder, "--keys", keys)
        assert not (folder / "keys.json").exists()
        missing = carnet("backup", "verify", folder, ok=False)
        assert missing.exit_code == 2 and "backup_part_missing" in missing.output
        carnet("backup", "verify", folder, "--keys", keys)
        damaged_file = folder / "database.sqlite"
        data = bytearray(damaged_file.read_bytes())
        data[len(data) // 2] ^= 0x01
        damaged_file.write_bytes(bytes(data))
        damaged = carnet("backup", "verify", folder, "--keys", keys, ok=False)
        assert damaged.exit_code == 2 and "backup_checksum_mismatch" in damaged.output

    def test_a_backup_whose_log_was_rewritten_does_not_restore_and_leaves_the_target_empty(
        self, cli_store, monkeypatch, tmp_path
    ):
        populate(monkeypatch, tmp_path)
        folder = tmp_path / "backup"
        backup(folder)
        database = folder / "database.sqlite"
        with sqlite3.connect(database) as conn:
            conn.execute("UPDATE access_records SET purpose = 'eligibility' WHERE seq = 1")
        conn.close()
        manifest = json.loads((folder / "manifest.json").read_text())
        manifest["parts"]["database"]["sha256"] = hashlib.sha256(database.read_bytes()).hexdigest()
        (folder / "manifest.json").write_text(json.dumps(manifest))
        target = tmp_path / "restored"
        use_settings(monkeypatch, CARNET_DATA_DIR=str(target))
        failed = carnet("backup", "restore", folder, ok=False)
        assert failed.exit_code == 2 and "restore_verification_failed" in failed.output
        assert "access_records" in failed.output
        assert not (target / "carnet.db").exists() or (target / "carnet.db").stat().st_size == 0


@pytest.mark.skipif(PG_SKIP_REASON is not None, reason=PG_SKIP_REASON or "")
class TestPostgresRoundTrip:
    def test_pg_dump_and_pg_restore_into_a_fresh_database_keep_the_signed_head(self, cli_store, monkeypatch,
                                                                              tmp_path):  # fmt: skip
        source, target, scratch = (create_postgres_database(f"carnet_backup_{n}") for n in ("src", "dst", "tmp"))
        try:
            use_settings(monkeypatch, CARNET_DATABASE_URL=source)
            head = populate(monkeypatch, tmp_path)
            before = sector_keys()
            folder = tmp_path / "backup"
            report = backup(folder)
            assert report["database"] == "postgresql" and report["tree_head"]["root"] == head["root"]
            assert b"PRIVATE KEY" not in (folder / "database.pgdump").read_bytes()
            verified = json.loads(carnet("backup", "verify", folder, "--scratch-url", scratch, "--json").output)
            assert verified["restored_log_size"] == report["log_size"]

            use_settings(monkeypatch, CARNET_DATABASE_URL=target)
            restored = json.loads(carnet("backup", "restore", folder, "--json").output)
            assert restored["restored_log_size"] == report["log_size"]
            assert json.loads(carnet("audit", "verify", "--json").output)["ok"]
            assert json.loads(carnet("audit", "head").output) == {"size": head["size"], "root": head["root"]}
            assert json.loads(carnet("audit", "head", "--sign").output)["kid"] == head["kid"]
            assert sector_keys() == before and len(before) == 4
            refused = carnet("backup", "restore", folder, ok=False)
            assert refused.exit_code == 2 and "restore_not_empty" in refused.output
        finally:
            use_settings(monkeypatch, CARNET_DATABASE_URL=None)
            for url in (source, target, scratch):
                drop_postgres_database(url)


class TestCleanFailures:
    def test_no_store_a_folder_in_use_and_a_broken_database_part_are_clear_errors(self, cli_store, monkeypatch,
                                                                                 tmp_path):  # fmt: skip
        nothing = carnet("backup", "create", tmp_path / "b0", ok=False)
        assert nothing.exit_code == 2 and "backup_store_missing" in nothing.output
        populate(monkeypatch, tmp_path)
        (tmp_path / "used").mkdir()
        (tmp_path / "used" / "x").write_text("x")
        used = carnet("backup", "create", tmp_path / "used", ok=False)
        assert used.exit_code == 2 and "backup_folder_not_empty" in used.output
        folder = tmp_path / "backup"
        backup(folder)
        database = folder / "database.sqlite"
        database.write_bytes(b"not a database at all" * 100)
        manifest = json.loads((folder / "manifest.json").read_text())
        manifest["parts"]["database"]["sha256"] = hashlib.sha256(database.read_bytes()).hexdigest()
        (folder / "manifest.json").write_text(json.dumps(manifest))
        broken = carnet("backup", "verify", folder, ok=False)
        assert broken.exit_code == 2 and "restore_failed" in broken.output
        (folder / "manifest.json").write_text("{")
        unreadable = carnet("backup", "verify", folder, ok=False)
        assert unreadable.exit_code == 2 and "backup_manifest_invalid" in unreadable.output
