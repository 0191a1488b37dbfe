"""Audit log figures: appends per second, proof size and time, full verification, read overhead.

    .venv/bin/python benchmarks/audit_log.py [--entries 1000000] [--backends sqlite,postgresql]

Each figure is printed beside a baseline measured in the same run: appends beside plain inserts of the
same access records without the log, and a person read with its log entry beside the same read with the
log switched off.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, date, datetime
from functools import partial
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "tests"))

from import_rate import available_backends, drop_store, fresh_store, machine  # noqa: E402

NOW = datetime(2026, 11, 29, 12, tzinfo=UTC)


def actor():
    from carnet.kit.actor import Actor

    return Actor(user_id=None, role="registrar", request_id="bench", purpose="registration", office="Bench")


def bulk_append_rate(factory, entries: int, batch: int) -> float:
    """Access records (with their log entries) per second, `batch` to a transaction."""
    from carnet.audit.service import record_access
    from carnet.db.session import unit_of_work

    start = time.perf_counter()
    done = 0
    while done < entries:
        count = min(batch, entries - done)
        with unit_of_work(factory) as session:
            record_access(session, actor=actor(), action="read", subject_type="person",
                          subject_ids=[uuid.uuid4() for _ in range(count)], fields=["phone"], now=NOW)  # fmt: skip
        done += count
    return entries / (time.perf_counter() - start)


def log_append_rate(factory, entries: int, batch: int) -> float:
    """Log entries per second appended on their own (no access record), `batch` to a transaction."""
    from carnet.audit.service import append_entries
    from carnet.db.session import unit_of_work

    def build(leaf: int) -> dict:
        return {"v": 1, "leaf": leaf, "type": "change", "what": "benchmark", "details": {"n": leaf}}

    start = time.perf_counter()
    done = 0
    while done < entries:
        count = min(batch, entries - done)
        with unit_of_work(factory) as session:
            append_entries(session, [("change", build, None)] * count, now=NOW)
        done += count
    return entries / (time.perf_counter() - start)


def without_log(function):
    """Run `function` with the log switched off: the baseline of the overhead figures."""
    from carnet.audit import service

    original = service.append_entries
    service.append_entries = lambda session, items, now: 0
    try:
        return function()
    finally:
        service.append_entries = original


def read_times(factory, person_id, rounds: int) -> float:
    """Median seconds of one person read (service call and commit), log entry included."""
    from carnet.db.session import unit_of_work
    from carnet.registry.service import get_person

    samples = []
    for _ in range(rounds):
        start = time.perf_counter()
        with unit_of_work(factory) as session:
            get_person(session, actor=actor(), person_id=person_id, now=NOW)
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def request_times(factory, person_id, rounds: int) -> float:
    """Median seconds of one GET /api/v1/persons/{id} through the whole app (auth, JSON), log entry included."""
    from fastapi.testclient import TestClient

    from carnet.access.service import create_user, issue_api_token
    from carnet.config import Settings
    from carnet.db.session import unit_of_work
    from carnet.web.app import create_app

    with unit_of_work(factory) as session:
        user = create_user(session, username=f"bench-{time.time_ns()}", password="una clave larga 123",
                           role="registrar", office="Oficina 1", now=NOW)  # fmt: skip
        _, token = issue_api_token(session, user=user, name="bench", now=NOW)
    samples = []
    with TestClient(create_app(Settings(), session_factory=factory)) as client:
        headers = {"Authorization": f"Bearer {token}"}
        for _ in range(rounds):
            start = time.perf_counter()
            response = client.get(f"/api/v1/persons/{person_id}", headers=headers)
            samples.append(time.perf_counter() - start)
            assert response.status_code == 200, response.text
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=1_000_000, help="log size for proofs and verification")
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--single", type=int, default=2_000, help="appends measured one per transaction")
    args = parser.parse_args()

    from carnet.audit.merkle import leaf_hash, verify_inclusion
    from carnet.audit.service import inclusion_proof_for, log_root, verify_log
    from carnet.db.session import make_engine, make_session_factory, unit_of_work
    from carnet.registry.schemas import PersonIn
    from carnet.registry.service import create_person

    backends = available_backends(args.backends)
    print(f"machine: {machine()}")
    with tempfile.TemporaryDirectory(prefix="carnet-bench-") as tmp:
        for backend in backends:
            url = fresh_store(backend, Path(tmp))
            factory = make_session_factory(make_engine(url))
            single = bulk_append_rate(factory, args.single, 1)
            single_base = without_log(partial(bulk_append_rate, factory, args.single, 1))
            batched = bulk_append_rate(factory, 100_000, 5_000)
            batched_base = without_log(partial(bulk_append_rate, factory, 100_000, 5_000))
            print(f"{backend}: appends one per transaction {single:,.0f}/s (access records without the log "
                  f"{single_base:,.0f}/s, ratio {single / single_base:.2f})", flush=True)  # fmt: skip
            print(f"{backend}: appends batched 5,000 per transaction {batched:,.0f}/s (without the log "
                  f"{batched_base:,.0f}/s, ratio {batched / batched_base:.2f})", flush=True)  # fmt: skip
            alone = log_append_rate(factory, 100_000, 5_000)
            print(f"{backend}: log appends alone, 5,000 per transaction: {alone:,.0f}/s", flush=True)

            with unit_of_work(factory) as session:
                person = create_person(session, actor=actor(), data=PersonIn(
                    given_names="Ana", family_names="Gil", date_of_birth="1990-01-01", region_code="VE-A"),
                    today=date(2026, 11, 29), now=NOW)  # fmt: skip
            with_log = read_times(factory, person["id"], 300)
            no_log = without_log(partial(read_times, factory, person["id"], 300))
            overhead = 100 * (with_log / no_log - 1)
            print(f"{backend}: person read median {with_log * 1e3:.2f} ms with its log entry, "
                  f"{no_log * 1e3:.2f} ms without: overhead {overhead:.1f} %", flush=True)  # fmt: skip
            with_log = request_times(factory, person["id"], 300)
            no_log = without_log(partial(request_times, factory, person["id"], 300))
            overhead = 100 * (with_log / no_log - 1)
            print(f"{backend}: GET /api/v1/persons/{{id}} median {with_log * 1e3:.2f} ms with its log entry, "
                  f"{no_log * 1e3:.2f} ms without: overhead {overhead:.1f} %", flush=True)  # fmt: skip

            with unit_of_work(factory) as session:
                present = log_root(session)[0]
            remaining = args.entries - present
            if remaining > 0:
                start = time.perf_counter()
                bulk_append_rate(factory, remaining, 20_000)
                print(f"{backend}: grew the log to {args.entries:,} entries in {time.perf_counter() - start:.0f} s",
                      flush=True)  # fmt: skip
            with unit_of_work(factory) as session:
                size, root = log_root(session)
                samples, lengths = [], []
                for index in (0, size // 3, size // 2, size - 1):
                    start = time.perf_counter()
                    proof = inclusion_proof_for(session, leaf_index=index, size=size)
                    samples.append(time.perf_counter() - start)
                    lengths.append(len(proof))
                    from carnet.audit.repository import entry

                    assert verify_inclusion(index, size, leaf_hash(bytes(entry(session, index).body)), proof, root)
                print(f"{backend}: inclusion proof at {size:,} entries: {max(lengths)} hashes, median "
                      f"{statistics.median(samples) * 1e3:.1f} ms (bound: {(size - 1).bit_length()} hashes)",
                      flush=True)  # fmt: skip
                start = time.perf_counter()
                result = verify_log(session)
                print(f"{backend}: full verification of {result.size:,} entries: {time.perf_counter() - start:.1f} s "
                      f"({'ok' if result.ok else result.problem})", flush=True)  # fmt: skip
            factory.kw["bind"].dispose()
            drop_store(url)


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    main()
