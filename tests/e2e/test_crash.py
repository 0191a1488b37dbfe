"""A killed import leaves nothing behind, and running it again completes: the import is one transaction."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from carnet.cli.main import write_seed_csv
from tests.conftest import PG_SKIP_REASON, create_postgres_database, drop_postgres_database

PEOPLE = 120_000


@pytest.fixture(scope="module")
def census(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("crash") / "census.csv"
    write_seed_csv(path, people=PEOPLE, seed=99, today=date(2026, 11, 29))
    return path


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request, tmp_path):
    if request.param == "sqlite":
        yield {"CARNET_DATA_DIR": str(tmp_path)}, f"sqlite:///{tmp_path / 'carnet.db'}"
        return
    if PG_SKIP_REASON:
        pytest.skip(PG_SKIP_REASON)
    url = create_postgres_database("carnet_crash")
    yield {"CARNET_DATA_DIR": str(tmp_path), "CARNET_DATABASE_URL": url}, url
    drop_postgres_database(url)


def carnet(env: dict[str, str], *args: str, **kwargs) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "carnet.cli.main", *args],
        env=os.environ | env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        **kwargs,
    )


def counts(url: str) -> dict[str, int]:
    engine = create_engine(url)
    with engine.connect() as conn:
        tables = ("persons", "households", "person_attributes", "import_runs", "access_records")
        out = {t: conn.execute(text(f"SELECT count(*) FROM {t}")).scalar_one() for t in tables}
    engine.dispose()
    return out


def import_has_written(url: str, env: dict[str, str]) -> int:
    """Non-zero once the running import has written data, seen from outside its transaction."""
    # The writer's transaction is invisible from here; its progress shows as the file it writes grows.
    wal = Path(env["CARNET_DATA_DIR"]) / "carnet.db-wal"
    if url.startswith("sqlite"):
        return int(wal.exists() and wal.stat().st_size > 8 << 20)
    engine = create_engine(url)
    with engine.connect() as conn:
        # A backend holds a transaction id once its transaction has written something.
        writing = conn.execute(
            text(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND backend_xid IS NOT NULL AND pid <> pg_backend_pid()"
            )
        ).scalar_one()
    engine.dispose()
    return writing


def test_sigkill_mid_import_leaves_nothing_and_a_rerun_completes(store, census):
    env, url = store
    assert carnet(env, "init").wait(timeout=60) == 0
    before = counts(url)
    importer = carnet(env, "registry", "import", str(census), "--json", "--batch-size", "2000")
    # Kill it once it has written some batches but long before it can finish.
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and import_has_written(url, env) == 0:
        time.sleep(0.2)
    time.sleep(1.0)  # a few more batches
    assert importer.poll() is None, "the import finished before it could be killed; use a larger file"
    os.killpg(importer.pid, signal.SIGKILL)
    importer.wait(timeout=30)
    assert counts(url) == before
    rerun = carnet(env, "registry", "import", str(census), "--json")
    output, _ = rerun.communicate(timeout=600)
    assert rerun.returncode == 0, output.decode()
    after = counts(url)
    assert after["persons"] == PEOPLE and after["import_runs"] == 1
