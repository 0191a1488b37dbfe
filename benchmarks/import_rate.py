"""Import rate: seeded persons from CSV into SQLite and PostgreSQL, beside a naive per-row ORM insert.

    .venv/bin/python benchmarks/import_rate.py [--people 1000000] [--small 100000] [--naive-rows 10000]

Each import runs in a fresh store in a child process, so its peak memory (ru_maxrss) is its own. The
naive baseline validates the same rows and inserts them one ORM object at a time, flushing each, in the
same run on the same machine: the ratio is the figure that survives a noisy machine.
"""

from __future__ import annotations

import argparse
import csv
import multiprocessing
import os
import platform
import resource
import sqlite3
import statistics
import sys
import tempfile
import time
from datetime import UTC, date, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "tests"))

PG_SERVER = os.environ.get("CARNET_TEST_POSTGRES_SERVER", "postgresql://postgres@127.0.0.1:5432/test")


def machine() -> str:
    """One line naming the machine this ran on."""
    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return (
        f"{platform.node()}: {model}, {os.cpu_count()} cores, {memory:.0f} GiB, Python "
        f"{platform.python_version()}, SQLite {sqlite3.sqlite_version}"
    )


def available_backends(spec: str) -> list[str]:
    """The backends asked for that can run here (saying why PostgreSQL is skipped when it is)."""
    from conftest import postgres_reason

    backends = spec.split(",")
    if "postgresql" in backends and (reason := postgres_reason()):
        print(f"PostgreSQL skipped: {reason}")
        backends.remove("postgresql")
    return backends


def fresh_store(backend: str, folder: Path) -> str:
    """A migrated store with regions and the shipped dictionary; returns its URL."""
    from carnet.db.session import make_engine
    from conftest import create_postgres_database, prepare_store

    if backend == "sqlite":
        url = f"sqlite:///{folder / f'bench-{time.time_ns()}.db'}"
    else:
        url = create_postgres_database("carnet_bench")
    engine = make_engine(url)
    prepare_store(engine)
    engine.dispose()
    return url


def drop_store(url: str) -> None:
    """Remove a store made by fresh_store."""
    if url.startswith("postgresql"):
        from conftest import drop_postgres_database

        drop_postgres_database(url)
    else:
        Path(url.removeprefix("sqlite:///")).unlink(missing_ok=True)


def _child_import(url: str, path: str, queue) -> None:  # type: ignore[no-untyped-def]
    from carnet.db.session import make_engine, make_session_factory, unit_of_work
    from carnet.kit.actor import system_actor
    from carnet.registry.importer import run_import

    factory = make_session_factory(make_engine(url))
    now = datetime.now(UTC)
    start = time.perf_counter()
    with unit_of_work(factory) as session:
        run = run_import(
            session, actor=system_actor("bench", "registration"), path=Path(path), today=now.date(), now=now
        )
        imported, rejected = run.rows_imported, run.rows_rejected
    seconds = time.perf_counter() - start
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    workers = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    queue.put((seconds, imported, rejected, own, workers))


def timed_import(url: str, path: Path) -> tuple[float, int, int, float, float]:
    """(seconds, imported, rejected, peak MiB of the importer, peak MiB of a worker) in a child process."""
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    child = context.Process(target=_child_import, args=(url, str(path), queue))
    child.start()
    result = queue.get()
    child.join()
    return result


def naive_rate(url: str, path: Path, rows: int) -> float:
    """Persons per second for the naive way: check a row, add ORM objects, flush, row after row."""
    from carnet.db.session import make_engine, make_session_factory, unit_of_work
    from carnet.registry.models import PersonAttribute
    from carnet.registry.service import current_dictionary, person_from_draft, region_index
    from carnet.registry.validation import validate_person

    factory = make_session_factory(make_engine(url))
    now = datetime.now(UTC)
    with path.open(encoding="utf-8", newline="") as handle, unit_of_work(factory) as session:
        dictionary, regions = current_dictionary(session), region_index(session)
        reader = csv.DictReader(handle)
        start = time.perf_counter()
        done = 0
        for raw in reader:
            draft, _ = validate_person(raw, regions=regions, dictionary=dictionary, today=now.date())
            if draft is None:
                continue
            person = person_from_draft(draft, household_id=None, fingerprint=draft.fingerprint, now=now)
            session.add(person)
            for name, value in draft.attributes.items():
                column = dictionary.attributes[name].value_column
                session.add(PersonAttribute(person_id=person.id, name=name, recorded_at=now, **{column: value}))
            session.flush()
            done += 1
            if done == rows:
                break
        return done / (time.perf_counter() - start)


def write_population(path: Path, people: int) -> float:
    """Write the seeded population; returns seconds."""
    from carnet.cli.main import write_seed_csv

    start = time.perf_counter()
    write_seed_csv(path, people=people, seed=42, today=date(2026, 11, 29))
    return time.perf_counter() - start


def core_only(source: Path, target: Path) -> None:
    """The same people without their declared attributes: shows what the attribute values cost."""
    from carnet.registry.fields import CORE_COLUMNS

    with source.open(encoding="utf-8", newline="") as reader, target.open("w", encoding="utf-8", newline="") as out:
        rows = csv.DictReader(reader)
        writer = csv.DictWriter(out, fieldnames=[c for c in rows.fieldnames or [] if c in CORE_COLUMNS])
        writer.writeheader()
        for row in rows:
            writer.writerow({k: v for k, v in row.items() if k in CORE_COLUMNS})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=1_000_000, help="persons in the headline file")
    parser.add_argument("--small", type=int, default=100_000, help="persons in the smaller file (memory check)")
    parser.add_argument("--naive-rows", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=1, help="imports of the headline file per backend")
    parser.add_argument("--backends", default="sqlite,postgresql")
    args = parser.parse_args()

    backends = available_backends(args.backends)
    print(f"machine: {machine()}")
    with tempfile.TemporaryDirectory(prefix="carnet-bench-") as tmp:
        folder = Path(tmp)
        big, small = folder / "people-big.csv", folder / "people-small.csv"
        seconds = write_population(big, args.people)
        print(f"seeded file: {args.people:,} persons, {big.stat().st_size / 2**20:.0f} MiB, written in {seconds:.1f} s")
        write_population(small, args.small)
        small_core = folder / "people-small-core.csv"
        core_only(small, small_core)
        print(f"{'backend':11} {'file':>10} {'persons/s':>10} {'seconds':>8} {'importer MiB':>13} {'worker MiB':>11}")
        summary = []
        for backend in backends:
            url = fresh_store(backend, folder)
            naive = naive_rate(url, small, args.naive_rows)
            drop_store(url)
            print(
                f"{backend:11} {'naive ORM':>10} {naive:10,.0f}   (per-row add + flush, {args.naive_rows:,} rows)",
                flush=True,
            )
            runs = (
                (small_core, args.small, 1, "core fields only"),
                (small, args.small, 1, ""),
                (big, args.people, args.repeat, ""),
            )
            for path, people, repeats, note in runs:
                rates = []
                for _ in range(repeats):
                    url = fresh_store(backend, folder)
                    seconds, imported, rejected, own, worker = timed_import(url, path)
                    drop_store(url)
                    rates.append(imported / seconds)
                    print(
                        f"{backend:11} {people:>10,} {imported / seconds:10,.0f} {seconds:8.1f} {own:13.0f} "
                        f"{worker:11.0f}   ({imported:,} imported, {rejected:,} rejected{', ' + note if note else ''})",
                        flush=True,
                    )
            summary.append((backend, statistics.median(rates), naive))
        print()
        for backend, rate, naive in summary:
            print(
                f"{backend}: median {rate:,.0f} persons/s for {args.people:,} persons = {rate / naive:.1f}x "
                f"the naive per-row ORM insert ({naive:,.0f}/s)"
            )


if __name__ == "__main__":
    main()
