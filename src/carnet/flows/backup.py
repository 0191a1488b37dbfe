"""Backups of a whole store: the database without its private keys, the keys apart, and a manifest.

A backup is a folder:
- `database.sqlite` (SQLite's online backup API) or `database.pgdump` (`pg_dump -Fc`), holding every
  table except the rows of the key tables;
- `keys.json`, the rows of the key tables (the private keys stay encrypted under the store's one
  passphrase, with its verifier), written with mode 0600 and meant to be stored apart;
- `manifest.json`: format, database kind, migration head, the newest signed tree head and the log
  size, and the SHA-256 and size of each part.
Restoring fills an empty store, re-inserts the keys, runs the audit verification (log and history)
and checks that the newest signed tree head is the one the manifest names; a restore that fails
leaves the target empty. docs/operations.md says how often and where to keep them.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import tempfile
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Table, insert, inspect, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

import carnet.audit.models  # registers the log's key tables on Base.metadata
import carnet.credentials.models  # noqa: F401 (registers the issuer key table)
from carnet.audit.service import verify_log
from carnet.db.base import Base
from carnet.db.session import make_engine
from carnet.flows.history_check import check_history
from carnet.kit.errors import AppError

FORMAT = "carnet-backup/1"
# The tables whose rows hold private keys (encrypted) or the passphrase verifier: kept out of the
# database part and written to the keys part. Parents before children, for restoring (a sector key's
# programme is in the database part, restored first).
KEY_TABLES = ("store_key_verifier", "audit_keys", "issuer_keys", "program_sector_keys", "distribution_keys")
MANIFEST, KEYS = "manifest.json", "keys.json"
DATABASE = {"sqlite": "database.sqlite", "postgresql": "database.pgdump"}
CHUNK = 1 << 20
Progress = Callable[[str, int, int], None]


def _quiet(step: str, done: int, total: int) -> None:
    return None


@dataclass(frozen=True)
class BackupReport:
    """What a create, verify or restore did."""

    folder: Path
    manifest: dict[str, Any]
    restored_size: int | None = None
    history_checked: dict[str, int] | None = None

    def as_dict(self) -> dict[str, Any]:
        """The report as JSON-ready fields."""
        head = self.manifest.get("tree_head")
        return {"folder": str(self.folder), "database": self.manifest["database"],
                "migration_head": self.manifest["migration_head"], "log_size": self.manifest["log_size"],
                "tree_head": head, "parts": self.manifest["parts"], "restored_log_size": self.restored_size,
                "history_checked": self.history_checked}  # fmt: skip


def _kind(url: str) -> str:
    name = make_url(url).get_backend_name()
    if name not in DATABASE:
        raise AppError(f"backups support SQLite and PostgreSQL, not {name}", code="backup_unsupported_database")
    return name


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(CHUNK):
            digest.update(block)
    return digest.hexdigest()


def _encode(value: Any) -> Any:
    if isinstance(value, bytes | memoryview):
        return {"bytes": base64.b64encode(bytes(value)).decode()}
    if isinstance(value, datetime):
        return {"datetime": value.isoformat()}
    if isinstance(value, date):
        return {"date": value.isoformat()}
    if isinstance(value, uuid.UUID):
        return {"uuid": str(value)}
    return value


def _decode(value: Any) -> Any:
    if isinstance(value, dict) and len(value) == 1:
        ((kind, raw),) = value.items()
        decoders = {"bytes": base64.b64decode, "datetime": datetime.fromisoformat, "date": date.fromisoformat,
                    "uuid": uuid.UUID}  # fmt: skip
        if kind in decoders:
            return decoders[kind](raw)
    return value


def _key_tables() -> list[Table]:
    return [Base.metadata.tables[name] for name in KEY_TABLES]


def _read_keys(connection: Connection) -> dict[str, list[dict[str, Any]]]:
    return {table.name: [{k: _encode(v) for k, v in row._mapping.items()}
                         for row in connection.execute(select(table))] for table in _key_tables()}  # fmt: skip


def _write_keys(connection: Connection, keys: dict[str, list[dict[str, Any]]]) -> None:
    for table in _key_tables():
        rows = [{k: _decode(v) for k, v in row.items()} for row in keys.get(table.name, [])]
        if rows:
            connection.execute(insert(table), rows)


def _store_facts(connection: Connection) -> dict[str, Any]:
    heads = Base.metadata.tables["tree_heads"]
    row = connection.execute(select(heads).order_by(heads.c.id.desc()).limit(1)).first()
    tree_head = None
    if row is not None:
        tree_head = {"id": row.id, "size": row.size, "root": bytes(row.root).hex(),
                     "signed_at": row.signed_at.isoformat(), "kid": row.kid,
                     "signature": bytes(row.signature).hex()}  # fmt: skip
    return {
        "migration_head": connection.execute(text("SELECT version_num FROM alembic_version")).scalar_one(),
        "log_size": connection.execute(text("SELECT size FROM audit_log_state WHERE id = 1")).scalar_one(),
        "tree_head": tree_head,
    }


def _write_private(path: Path, data: bytes) -> None:
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(data)


def _sqlite_path(url: str) -> Path:
    database = make_url(url).database
    if not database or database == ":memory:":
        raise AppError("an in-memory SQLite store cannot be backed up", code="backup_unsupported_database")
    return Path(database)


def _pg_command(url: str) -> tuple[str, dict[str, str]]:
    parsed = make_url(url)
    env = dict(os.environ)
    if parsed.password:
        env["PGPASSWORD"] = str(parsed.password)  # kept out of the command line and the process list
    plain = parsed.set(drivername="postgresql", password=None)
    return plain.render_as_string(hide_password=False), env


def _run(args: list[str], env: dict[str, str], what: str) -> None:
    try:
        done = subprocess.run(args, env=env, capture_output=True, text=True, check=False)
    except FileNotFoundError:
        raise AppError(f"{args[0]} is not installed (it comes with the PostgreSQL client)",
                           code="backup_tool_missing") from None  # fmt: skip
    if done.returncode != 0:
        raise AppError(f"{what} failed: {done.stderr.strip()[-500:]}", code="backup_tool_failed")


def create_backup(url: str, folder: Path, *, keys_path: Path | None = None, now: datetime,
                  progress: Progress = _quiet) -> BackupReport:  # fmt: skip
    """Back up the store at `url` into a new folder; the keys go to `keys_path` (default: inside the folder)."""
    kind = _kind(url)
    if folder.exists() and any(folder.iterdir()):
        raise AppError(f"{folder} is not empty; a backup goes into a new folder", code="backup_folder_not_empty")
    folder.mkdir(parents=True, exist_ok=True)
    keys_file = keys_path or folder / KEYS
    database_file = folder / DATABASE[kind]
    if kind == "sqlite":
        keys, facts = _create_sqlite(url, database_file, progress)
    else:
        keys, facts = _create_postgres(url, database_file, progress)
    _write_private(keys_file, json.dumps(keys, indent=1, sort_keys=True).encode())
    parts = {}
    for name, path in (("database", database_file), ("keys", keys_file)):
        progress(f"checksum {name}", 0, 1)
        # Only the name: a keys part kept elsewhere is handed back with --keys, never found by the manifest.
        parts[name] = {"file": path.name, "sha256": _sha256(path), "bytes": path.stat().st_size,
                       "apart": path.parent.resolve() != folder.resolve()}  # fmt: skip
        progress(f"checksum {name}", 1, 1)
    manifest = {"format": FORMAT, "created_at": now.isoformat(), "database": kind, **facts, "parts": parts}
    (folder / MANIFEST).write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n", "utf-8")
    return BackupReport(folder, manifest)


def _create_sqlite(url: str, target: Path, progress: Progress) -> tuple[dict[str, Any], dict[str, Any]]:
    path = _sqlite_path(url)
    if not path.is_file():
        raise AppError(f"there is no store at {path} to back up", code="backup_store_missing")
    source = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    copy = sqlite3.connect(target)
    try:
        # The online backup API copies a consistent snapshot while the store stays in use.
        source.backup(copy, pages=4096, progress=lambda _status, left, total: progress("database", total - left,
                                                                                         total))  # fmt: skip
    finally:
        source.close()
        copy.close()
    engine = make_engine(f"sqlite:///{target}")
    try:
        with engine.connect() as connection:
            keys, facts = _read_keys(connection), _store_facts(connection)
    finally:
        engine.dispose()
    # A plain connection: foreign keys unenforced (the tree heads keep naming their keys) and no
    # transaction around VACUUM, which rewrites the file so that no free page keeps a deleted key.
    copy = sqlite3.connect(target, isolation_level=None)
    try:
        copy.execute("PRAGMA secure_delete=ON")
        copy.execute("BEGIN")
        for name in reversed(KEY_TABLES):
            copy.execute(f'DELETE FROM "{name}"')
        copy.execute("COMMIT")
        copy.execute("PRAGMA journal_mode=DELETE")
        copy.execute("VACUUM")
    finally:
        copy.close()
    return keys, facts


def _create_postgres(url: str, target: Path, progress: Progress) -> tuple[dict[str, Any], dict[str, Any]]:
    engine = make_engine(url)
    dsn, env = _pg_command(url)
    try:
        with engine.connect() as connection:
            # One snapshot for the keys, the facts and pg_dump: they describe the same moment.
            connection.exec_driver_sql("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            snapshot = connection.exec_driver_sql("SELECT pg_export_snapshot()").scalar_one()
            keys, facts = _read_keys(connection), _store_facts(connection)
            progress("database", 0, 1)
            excluded = [f"--exclude-table-data={name}" for name in KEY_TABLES]
            _run(["pg_dump", "--format=custom", "--no-owner", "--no-privileges", f"--snapshot={snapshot}",
                  *excluded, f"--file={target}", f"--dbname={dsn}"], env, "pg_dump")  # fmt: skip
            progress("database", 1, 1)
            connection.rollback()
    finally:
        engine.dispose()
    return keys, facts


def read_manifest(folder: Path, *, keys_path: Path | None = None) -> tuple[dict[str, Any], Path, Path]:
    """The manifest and the paths of its parts, each checked against its recorded SHA-256."""
    try:
        manifest = json.loads((folder / MANIFEST).read_text("utf-8"))
    except FileNotFoundError:
        raise AppError(f"{folder} holds no {MANIFEST}", code="backup_manifest_missing") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise AppError(f"{folder / MANIFEST} is not a backup manifest: {exc}", code="backup_manifest_invalid") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT or manifest.get("database") not in DATABASE:
        raise AppError(f"{folder / MANIFEST} is not a {FORMAT} manifest", code="backup_manifest_invalid")
    paths = {}
    for name in ("database", "keys"):
        part = manifest.get("parts", {}).get(name)
        if not isinstance(part, dict) or "sha256" not in part or "file" not in part:
            raise AppError(f"the manifest names no {name} part", code="backup_manifest_invalid")
        path = keys_path if name == "keys" and keys_path is not None else folder / part["file"]
        if not path.is_file():
            hint = " (it was written apart: give its path with --keys)" if part.get("apart") else ""
            raise AppError(f"the {name} part {path} is missing{hint}", code="backup_part_missing")
        if _sha256(path) != part["sha256"]:
            raise AppError(f"the {name} part {path} does not match its SHA-256 in the manifest",
                               code="backup_checksum_mismatch")  # fmt: skip
        paths[name] = path
    return manifest, paths["database"], paths["keys"]


def _is_empty(url: str) -> bool:
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            return not inspect(connection).get_table_names()
    finally:
        engine.dispose()


def restore_backup(folder: Path, url: str, *, keys_path: Path | None = None,
                   progress: Progress = _quiet) -> BackupReport:  # fmt: skip
    """Restore a backup into the empty store at `url`, then prove it: audit verify and the same signed head."""
    manifest, database_file, keys_file = read_manifest(folder, keys_path=keys_path)
    kind = _kind(url)
    if kind != manifest["database"]:
        raise AppError(f"the backup is of a {manifest['database']} store, the target is {kind}",
                           code="backup_wrong_database")  # fmt: skip
    try:
        keys = json.loads(keys_file.read_text("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise AppError(f"{keys_file} is not a keys part: {exc}", code="backup_manifest_invalid") from None
    if kind == "sqlite":
        target = _sqlite_path(url)
        if target.exists() and target.stat().st_size and not _is_empty(url):
            raise AppError(f"{target} already holds a store; restore only into an empty one", code="restore_not_empty")
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = target.with_name(target.name + ".restoring")
        staging.unlink(missing_ok=True)
        progress("database", 0, 1)
        shutil.copyfile(database_file, staging)
        progress("database", 1, 1)
        staging_url = f"sqlite:///{staging}"
        try:
            _insert_keys(staging_url, keys)
            report = _prove(staging_url, folder, manifest, progress)
        except (sqlite3.Error, SQLAlchemyError) as exc:
            staging.unlink(missing_ok=True)
            raise AppError(f"the backup does not restore: {exc.__class__.__name__}: {str(exc)[:300]}",
                           code="restore_failed") from None  # fmt: skip
        except BaseException:
            staging.unlink(missing_ok=True)
            raise
        for suffix in ("-wal", "-shm"):
            Path(f"{target}{suffix}").unlink(missing_ok=True)
        staging.replace(target)
        return report
    if not _is_empty(url):
        raise AppError("the target database already holds tables; restore only into an empty one",
                           code="restore_not_empty")  # fmt: skip
    dsn, env = _pg_command(url)
    try:
        # Constraints come last (post-data), after the keys their rows point to are back.
        for section in ("pre-data", "data"):
            progress(f"restore {section}", 0, 1)
            _run(["pg_restore", f"--section={section}", "--no-owner", "--no-privileges", "--exit-on-error",
                  f"--dbname={dsn}", str(database_file)], env, f"pg_restore {section}")  # fmt: skip
            progress(f"restore {section}", 1, 1)
        _insert_keys(url, keys)
        progress("restore post-data", 0, 1)
        _run(["pg_restore", "--section=post-data", "--no-owner", "--no-privileges", "--exit-on-error",
              f"--dbname={dsn}", str(database_file)], env, "pg_restore post-data")  # fmt: skip
        progress("restore post-data", 1, 1)
        return _prove(url, folder, manifest, progress)
    except SQLAlchemyError as exc:
        _empty_postgres(url)
        raise AppError(f"the backup does not restore: {exc.__class__.__name__}: {str(exc)[:300]}",
                       code="restore_failed") from None  # fmt: skip
    except BaseException:
        _empty_postgres(url)
        raise


def _insert_keys(url: str, keys: dict[str, Any]) -> None:
    engine = make_engine(url)
    try:
        with engine.begin() as connection:
            _write_keys(connection, keys)
    finally:
        engine.dispose()


def _empty_postgres(url: str) -> None:
    engine = make_engine(url)
    try:
        with engine.begin() as connection:
            connection.exec_driver_sql("DROP SCHEMA public CASCADE")
            connection.exec_driver_sql("CREATE SCHEMA public")
    finally:
        engine.dispose()


def _prove(url: str, folder: Path, manifest: dict[str, Any], progress: Progress) -> BackupReport:
    engine = make_engine(url)
    try:
        with Session(engine) as session:
            progress("audit verify", 0, 1)
            facts = _store_facts(session.connection())
            result = verify_log(session)
            if not result.ok:
                raise AppError(f"the restored audit log does not verify: {result.problem}",
                                   code="restore_verification_failed")  # fmt: skip
            history = check_history(session)
            if history.mismatch is not None:
                raise AppError(f"the restored history does not verify: {history.mismatch.problem}",
                                   code="restore_verification_failed")  # fmt: skip
            progress("audit verify", 1, 1)
            for fact in ("tree_head", "migration_head", "log_size"):
                if facts[fact] != manifest.get(fact):
                    raise AppError(f"the restored store's {fact} is not the one the manifest names",
                                       code="restore_head_mismatch")  # fmt: skip
        return BackupReport(folder, manifest, restored_size=result.size, history_checked=history.checked)
    finally:
        engine.dispose()


@contextmanager
def _scratch_sqlite() -> Iterator[str]:
    with tempfile.TemporaryDirectory(prefix="carnet-backup-verify-") as scratch:
        yield f"sqlite:///{Path(scratch) / 'carnet.db'}"


def verify_backup(folder: Path, *, keys_path: Path | None = None, scratch_url: str | None = None,
                  progress: Progress = _quiet) -> BackupReport:  # fmt: skip
    """Check every part against the manifest, then restore it into a scratch store and prove it there.

    SQLite backups are restored into a temporary file; PostgreSQL ones into `scratch_url`, an empty
    database emptied again afterwards (without one, only pg_restore's reading of the archive is checked).
    """
    manifest, database_file, _ = read_manifest(folder, keys_path=keys_path)
    if manifest["database"] == "sqlite":
        with _scratch_sqlite() as url:
            return restore_backup(folder, url, keys_path=keys_path, progress=progress)
    if scratch_url is None:
        dsn_env = dict(os.environ)
        _run(["pg_restore", "--list", str(database_file)], dsn_env, "pg_restore --list")
        return BackupReport(folder, manifest)
    try:
        return restore_backup(folder, scratch_url, keys_path=keys_path, progress=progress)
    finally:
        _empty_postgres(scratch_url)
