"""SIGKILL the ledger's writer at random moments on SQLite: nothing acknowledged is lost, nothing applied twice.

A client process (tests/e2e/ledger_driver.py) submits random batches of the bank's traffic
(tests/integration/ledger/bank.py: hot fund and merchant, floors near zero, pending transfers posted or
voided later, linked pairs, two currencies) to a SQLite store, one transaction each, and says what it
sends before each batch and what it got once the batch has committed. The test kills it with SIGKILL at a
random moment, several times, and starts it again with the batches it sent and never heard back about
(they may or may not have committed) and a few it did hear back about; a last run resubmits what is left
and finishes. Then: every transfer acknowledged `ok` or `exists` is stored exactly once, as sent, and
nothing else is; a resubmission of anything applied is `exists`; every ledger balances, no floor is
broken; the totals equal the sums of the stored transfers; the database file is intact.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import sessionmaker

from carnet.db.session import make_engine
from tests.conftest import prepare_store
from tests.integration.ledger import bank

ROOT = Path(__file__).resolve().parents[2]
KILLS = 10
SEED = 20261205


class Client:
    """What the test knows from the driver's output: batches sent, the answers it heard, what was acknowledged."""

    def __init__(self) -> None:
        self.sent: dict[str, list[dict[str, Any]]] = {}
        self.answers: dict[str, list[str]] = {}
        self.acknowledged: dict[int, dict[str, Any]] = {}
        self.problems: list[str] = []
        self.in_flight: list[str] = []  # sent by a killed driver, no answer heard
        self.killed_inside = 0  # kills that left a batch sent and unanswered
        self.found_committed = 0  # of those, the batches a retry found applied (`exists`)

    def read(self, output: str) -> str | None:
        """Take in a driver's output; the key of the batch it was killed in, if any."""
        complete = output.split("\n")[:-1]  # the last piece is what a kill cut short (or empty)
        current = None
        for line in complete:
            kind, _, rest = line.partition(" ")
            if kind == "send":
                key, _, batch = rest.partition(" ")
                self.sent.setdefault(key, json.loads(batch))
                current = key
            elif kind == "ack":
                key, _, results = rest.partition(" ")
                self.heard(key, json.loads(results))
                current = None
        return current

    def heard(self, key: str, results: list[str]) -> None:
        batch = self.sent[key]
        before = self.answers.get(key)
        if key in self.in_flight:
            self.in_flight.remove(key)
            # A batch never answered before whose retry finds its own ids stored: it committed, then the kill.
            self.found_committed += before is None and "exists" in results
        if before is not None:
            self.problems += bank.replay_problems(batch, before, results)
        else:
            self.answers[key] = results
        bank.record(self.acknowledged, batch, results)

    def retries(self, rng: random.Random) -> list[tuple[str, list[dict[str, Any]]]]:
        """What a restarted client resubmits: every batch it never heard back about, and a few it did."""
        unanswered = [key for key in self.sent if key not in self.answers]
        again = rng.sample(sorted(self.answers), min(2, len(self.answers)))
        return [(key, self.sent[key]) for key in unanswered + again]


def start(url: str, folder: Path, run: int, retry: list, new: int) -> tuple[subprocess.Popen, Path]:
    retry_file, out = folder / f"retry-{run}.json", folder / f"driver-{run}.out"
    retry_file.write_text(json.dumps(retry), "utf-8")
    with out.open("wb") as sink:
        process = subprocess.Popen([sys.executable, "-m", "tests.e2e.ledger_driver", url, str(retry_file),
                                    str(SEED + run), str(new)], cwd=ROOT, stdout=sink, stderr=subprocess.STDOUT,
                                   start_new_session=True)  # fmt: skip
    return process, out


def test_sigkill_of_the_writer_loses_no_acknowledged_transfer_and_doubles_none(tmp_path):
    started = time.perf_counter()
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    engine = make_engine(url)
    prepare_store(engine)
    bank.open_bank(sessionmaker(bind=engine, expire_on_commit=False))
    engine.dispose()
    rng, client = random.Random(SEED), Client()
    for run in range(KILLS):
        process, out = start(url, tmp_path, run, client.retries(rng), -1)
        deadline = time.monotonic() + 60
        while not out.read_text(errors="replace").startswith("ready\n"):
            assert process.poll() is None and time.monotonic() < deadline, out.read_text(errors="replace")[-3000:]
            time.sleep(0.02)
        time.sleep(rng.uniform(0.1, 1.6))
        assert process.poll() is None, out.read_text(errors="replace")[-3000:]
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=30)
        killed_in = client.read(out.read_text(errors="replace"))
        if killed_in is not None:
            client.in_flight.append(killed_in)
            client.killed_inside += 1
    process, out = start(url, tmp_path, KILLS, client.retries(rng), 20)
    assert process.wait(timeout=60) == 0, out.read_text(errors="replace")[-3000:]
    output = out.read_text("utf-8")
    assert output.endswith("done\n") and client.read(output) is None
    assert not client.in_flight and all(key in client.answers for key in client.sent)
    assert not client.problems, client.problems[:5]
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            assert conn.execute(text("PRAGMA integrity_check")).scalar_one() == "ok"
        figures = bank.check_invariants(engine, client.acknowledged)
    finally:
        engine.dispose()
    print(f"\nledger crash test: {KILLS} kills, {client.killed_inside} of them inside a batch (of those, "
          f"{client.found_committed} new batches had committed: their retry found `exists`), {len(client.sent):,} "
          f"batches, {figures} in {time.perf_counter() - started:.1f} s")  # fmt: skip
    assert figures["transfers"] >= 2_000
