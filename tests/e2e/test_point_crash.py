"""SIGKILL the point agent mid-redemption and mid-sync, and the server mid-ingest: nothing is lost or doubled.

A real `carnet serve` (SQLite, and PostgreSQL when reachable) on a small country built in-process for the
current month; devices enrolled over HTTP (one with `carnet point enroll` and `carnet point pull`). Then:

- a counter process redeeming in a loop is killed at random moments, again and again: every hand-over it
  reported is in its store, the store's chain is intact (`PointAgent.check_store`), and one
  `carnet point sync` brings every event to the server exactly once;
- the agent's sync of a long backlog (`carnet.point.sync.sync`, what `carnet point sync` runs, in a process
  that starts quicker) is killed between and during its batches: what the device marked acknowledged is on
  the server, the server holds nothing twice, and `carnet point sync` then finishes the job;
- the server is killed while it is inside an ingest transaction (seen from outside: SQLite's write lock
  held, or a PostgreSQL backend with a transaction id), then restarted: the device sends again, and the
  server's rows equal the device's events.
"""

from __future__ import annotations

import calendar
import json
import os
import random
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, select, text
from sqlalchemy.orm import Session

from carnet.db.session import make_engine
from carnet.distribution import service
from carnet.distribution.models import Redemption
from carnet.distribution.protocol import enrolment_message
from carnet.kit.clock import utcnow
from carnet.kit.ids import uuid7
from carnet.point.agent import PointAgent
from carnet.point.client import ServerLink, unb64
from carnet.point.keys import DeviceKeys
from carnet.point.store import Identity, PointStore
from carnet.point.sync import pull
from tests.conftest import PG_SKIP_REASON, create_postgres_database, drop_postgres_database, prepare_store
from tests.integration.distribution.world import ANA, DEVICE_PASSPHRASE, PASSPHRASE, World, build

ROOT = Path(__file__).resolve().parents[2]
# Each point may serve as many beneficiaries of other points as it likes: an endless supply of hand-overs
# (beyond their entitlements they are stored, flagged and counted as cases, never dropped).
EXCEPTIONS = 1_000_000
BACKLOG = 1_200  # events waiting for a sync: three batches of the agent's 500
# Other backends of the server's database holding a transaction id: a write transaction under way.
WRITERS = text("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
               "AND backend_xid IS NOT NULL AND pid <> pg_backend_pid()")  # fmt: skip


@dataclass
class Deployment:
    """A server process on a store, the world in it, and what the tests need to reach both."""

    backend: str
    data_dir: Path
    url: str
    engine: Engine
    world: World
    cycle: str
    env: dict[str, str]
    port: int = 0
    server: subprocess.Popen | None = None
    logs: list[Path] = field(default_factory=list)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        """Start `carnet serve` and wait until it answers (on the same port when restarted: the devices know it)."""
        if not self.port:
            with closing(socket.socket()) as probe:
                probe.bind(("127.0.0.1", 0))
                self.port = probe.getsockname()[1]
        log = self.data_dir / f"server-{len(self.logs)}.log"
        self.logs.append(log)
        with log.open("wb") as out:
            self.server = subprocess.Popen([sys.executable, "-m", "carnet.cli.main", "serve", "--port", str(self.port)],
                                           env=self.env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT,
                                           start_new_session=True)  # fmt: skip
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert self.server.poll() is None, log.read_text(errors="replace")[-2000:]
            try:
                with urllib.request.urlopen(self.base_url + "/healthz", timeout=2) as answer:
                    if answer.status == 200:
                        return
            except OSError:
                time.sleep(0.1)
        raise AssertionError("the server did not start within 60 s")

    def kill(self) -> None:
        """SIGKILL the server and everything it started."""
        assert self.server is not None
        os.killpg(self.server.pid, signal.SIGKILL)
        self.server.wait(timeout=30)
        self.server = None

    def stop(self) -> None:
        if self.server is not None and self.server.poll() is None:
            os.killpg(self.server.pid, signal.SIGTERM)
            try:
                self.server.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.server.pid, signal.SIGKILL)
                self.server.wait(timeout=15)
        self.server = None

    def carnet(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "carnet.cli.main", *args], env=self.env, cwd=ROOT,
                              capture_output=True, text=True, timeout=timeout)  # fmt: skip

    def driver(self, *args: str, out: Path | None = None) -> subprocess.Popen:
        """`python -m tests.e2e.point_driver ARGS` (the agent's redeem loop or its sync), to be killed."""
        with out.open("wb") if out else open(os.devnull, "wb") as sink:
            return subprocess.Popen([sys.executable, "-m", "tests.e2e.point_driver", *args], env=self.env, cwd=ROOT,
                                    stdout=sink, stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip

    def enrol(self, directory: Path, *, cli: bool = False) -> None:
        """Enrol a device at depot-a with a fresh one-time code and pull its manifest: with `carnet point
        enroll` and `carnet point pull`, or (quicker) with the same agent code in this process."""
        with Session(self.engine) as session:
            code = service.issue_enrolment_code(session, actor=ANA, point_ref="depot-a", ttl_seconds=600,
                                                now=utcnow())["code"]  # fmt: skip
            session.commit()
        if cli:
            done = self.carnet("point", "enroll", self.base_url, code, "--label", directory.name, "--data-dir",
                               str(directory))  # fmt: skip
            assert done.returncode == 0, done.stdout + done.stderr
            pulled = self.carnet("point", "pull", "--data-dir", str(directory))
            assert pulled.returncode == 0, pulled.stdout + pulled.stderr
            return
        keys = DeviceKeys.generate()
        link = ServerLink(self.base_url)
        proof = keys.sign_key.sign(enrolment_message(code, keys.sign_public, keys.box_public))
        answer = link.enroll(code=code, public_key=keys.sign_public, box_key=keys.box_public, signature=proof,
                             label=directory.name)  # fmt: skip
        store = PointStore(directory)
        store.save_identity(Identity(uuid.UUID(answer["device"]), uuid.UUID(answer["point"]), answer["point_name"],
                                     self.base_url, keys.seal(DEVICE_PASSPHRASE), unb64(answer["trusted"]),
                                     int(time.time())))  # fmt: skip
        assert pull(PointAgent(store, keys, new_id=uuid7), link, now=int(time.time())) == 1
        store.close()

    def held(self, device_id: uuid.UUID) -> dict[uuid.UUID, tuple[bytes, str]]:
        """The server's rows of one device: event id → (signed bytes, first answer)."""
        with Session(self.engine) as session:
            rows = session.execute(
                select(Redemption.event_id, Redemption.data, Redemption.answer).where(Redemption.device_id == device_id)
            ).all()
        return {event_id: (bytes(data), answer) for event_id, data, answer in rows}

    def writing(self) -> bool:
        """Whether the server is inside a write transaction right now (seen from outside it)."""
        if self.backend == "sqlite":
            probe = sqlite3.connect(self.data_dir / "carnet.db", timeout=0, isolation_level=None)
            try:
                probe.execute("BEGIN IMMEDIATE")  # refused while another connection holds the write lock
                probe.execute("ROLLBACK")
                return False
            except sqlite3.OperationalError:
                return True
            finally:
                probe.close()
        with self.engine.connect() as conn:
            return conn.execute(WRITERS).scalar_one() > 0


def month_left(now: datetime) -> timedelta:
    last_day = calendar.monthrange(now.year, now.month)[1]
    return datetime(now.year, now.month, last_day, 23, 59, 59, tzinfo=UTC) - now


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def deployment(request, tmp_path_factory) -> Iterator[Deployment]:
    now = utcnow()
    if month_left(now) < timedelta(minutes=15):
        pytest.skip("the cycle (this month) ends within minutes: the server would refuse its manifests")
    root = tmp_path_factory.mktemp(f"point-crash-{request.param}")
    env = {k: v for k, v in os.environ.items() if not k.startswith("CARNET_")}
    env |= {"CARNET_DATA_DIR": str(root), "CARNET_KEY_PASSPHRASE": PASSPHRASE, "CARNET_PIN_HASH_MEMORY_KIB": "64",
            "CARNET_POINT_PASSPHRASE": DEVICE_PASSPHRASE, "PYTHONPATH": str(ROOT)}  # fmt: skip
    if request.param == "sqlite":
        url = f"sqlite:///{root / 'carnet.db'}"
    else:
        if PG_SKIP_REASON:
            pytest.skip(PG_SKIP_REASON)
        url = create_postgres_database("carnet_point_crash")
        env["CARNET_DATABASE_URL"] = url
    engine = make_engine(url)
    prepare_store(engine)
    cycle = now.strftime("%Y-%m")
    with Session(engine) as session:
        world = build(session, root, now=now, cycle=cycle, exceptions=EXCEPTIONS)
        session.commit()
    made = Deployment(request.param, root, url, engine, world, cycle, env)
    made.start()
    try:
        yield made
    finally:
        made.stop()
        engine.dispose()
        if request.param == "postgresql":
            drop_postgres_database(url)


def open_agent(directory: Path) -> PointAgent:
    store = PointStore(directory)
    return PointAgent(store, DeviceKeys.open(store.identity().keys, DEVICE_PASSPHRASE), new_id=uuid7)


def exception_jobs(world: World, home: str = "depot-a") -> list[dict]:
    """Beneficiaries of the other point, served here as exceptions: every one a hand-over."""
    return [{"qr": b.qr, "pin": b.pin, "programme": "food_box", "quantity": 1} for b in world.beneficiaries
            if b.point != home]  # fmt: skip


def make_backlog(directory: Path, world: World, count: int) -> None:
    """`count` hand-overs recorded in one store transaction (quick: one fsync), waiting for a sync."""
    agent = open_agent(directory)
    jobs = exception_jobs(world)
    now = int(time.time())
    with agent.store.transaction():
        for n in range(count):
            job = jobs[n % len(jobs)]
            agent.redeem(job["qr"], pin=job["pin"], now=now, programme=job["programme"], quantity=1)
    agent.store.close()


def acknowledged_count(directory: Path) -> int:
    with closing(sqlite3.connect(directory / "point.sqlite3", timeout=10)) as db:
        return db.execute("SELECT count(*) FROM events WHERE acknowledged_at IS NOT NULL").fetchone()[0]


def check_device_against_server(deployment: Deployment, directory: Path) -> tuple[int, int]:
    """The store is intact; whatever it marked acknowledged is on the server with the same bytes and answer;
    the server holds nothing the device did not record. Returns (events, acknowledged)."""
    agent = open_agent(directory)
    try:
        assert agent.check_store() == []
        events = agent.store.events()
        held = deployment.held(agent.identity.device_id)
    finally:
        agent.store.close()
    mine = {event.event_id: event for event in events}
    assert set(held) <= set(mine), "the server holds an event this device never recorded"
    for event_id, (data, _) in held.items():
        assert data == mine[event_id].data
    done = [event for event in events if event.acknowledged_at is not None]
    for event in done:
        assert event.event_id in held, f"event {event.seq} was acknowledged and the server does not hold it"
        assert held[event.event_id][1] == event.answer
    return len(events), len(done)


def sync_to_the_end(deployment: Deployment, directory: Path) -> None:
    """`carnet point sync` until nothing waits; then the server holds exactly the device's events."""
    done = deployment.carnet("point", "sync", "--data-dir", str(directory), "--json")
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads(done.stdout)
    assert report["waiting"] == 0 and report["refused"] == {}
    events, acknowledged = check_device_against_server(deployment, directory)
    assert acknowledged == events
    agent = open_agent(directory)
    try:
        held = deployment.held(agent.identity.device_id)
        assert len(held) == events == len(agent.store.events())
    finally:
        agent.store.close()


def lines_of(path: Path) -> list[list[str]]:
    """The complete lines a killed process wrote (a line cut by the kill is not one)."""
    content = path.read_text("utf-8") if path.exists() else ""
    return [line.split() for line in content.split("\n")[:-1]]


@pytest.mark.parametrize("deployment", ["sqlite"], indirect=True)
def test_killing_the_counter_mid_redemption_loses_no_hand_over(deployment, tmp_path):
    directory = tmp_path / "counter"
    deployment.enrol(directory, cli=True)
    world = deployment.world
    mine = [b for b in world.beneficiaries if b.point == "depot-a"]
    # Own beneficiaries until their entitlements are used up, one wrong PIN (a failure count is written too),
    # and beneficiaries of the other point served as exceptions, without end.
    jobs = [{"qr": b.qr, "pin": b.pin} for b in mine] + exception_jobs(world)
    jobs.insert(1, {"qr": mine[0].qr, "pin": "000000" if mine[0].pin != "000000" else "111111"})
    jobs_file = tmp_path / "jobs.json"
    jobs_file.write_text(json.dumps(jobs), "utf-8")
    chance = random.Random()
    reported: list[str] = []
    for round_ in range(4):
        out = tmp_path / f"counter-{round_}.out"
        counter = deployment.driver("redeem", str(directory), str(jobs_file), out=out)
        deadline = time.monotonic() + 30
        while ["ready"] not in lines_of(out):
            assert counter.poll() is None and time.monotonic() < deadline, out.read_text(errors="replace")[-2000:]
            time.sleep(0.02)
        time.sleep(chance.uniform(0.05, 0.8))
        assert counter.poll() is None, out.read_text(errors="replace")[-2000:]
        os.killpg(counter.pid, signal.SIGKILL)
        counter.wait(timeout=30)
        reported += [words[1] for words in lines_of(out) if words[0] == "recorded"]
        agent = open_agent(directory)
        try:
            assert agent.check_store() == []  # every event whole, signed, chained
            held = {str(event.event_id) for event in agent.store.events()}
        finally:
            agent.store.close()
        assert set(reported) <= held, "a hand-over the counter reported is not in its store"
    assert len(reported) == len(set(reported)) > 0
    sync_to_the_end(deployment, directory)


@pytest.mark.parametrize("deployment", ["sqlite"], indirect=True)
def test_killing_the_agent_mid_sync_loses_and_doubles_nothing(deployment, tmp_path):
    directory = tmp_path / "syncing"
    deployment.enrol(directory)
    make_backlog(directory, deployment.world, BACKLOG)
    chance = random.Random()
    kills = 0
    while kills < 3:
        before = acknowledged_count(directory)
        if before == BACKLOG:
            break
        syncing = deployment.driver("sync", str(directory))
        # Kill it once it has had at least one more batch acknowledged (or at once, half the time: maybe
        # while the server is committing a batch whose answer the device will never read).
        deadline = time.monotonic() + 60
        if chance.random() < 0.5:
            while acknowledged_count(directory) == before and syncing.poll() is None:
                assert time.monotonic() < deadline
                time.sleep(0.005)
        time.sleep(chance.uniform(0, 0.3))
        if syncing.poll() is None:
            os.killpg(syncing.pid, signal.SIGKILL)
            kills += 1
        syncing.wait(timeout=60)
        check_device_against_server(deployment, directory)
    assert kills >= 1, "every sync finished before it could be killed"
    sync_to_the_end(deployment, directory)


def test_killing_the_server_mid_ingest_loses_and_doubles_nothing(deployment, tmp_path):
    directory = tmp_path / "backlog"
    deployment.enrol(directory)
    make_backlog(directory, deployment.world, BACKLOG)
    kills = 0
    for round_ in range(2):
        before = acknowledged_count(directory)
        if before == BACKLOG:
            break
        syncing = deployment.driver("sync", str(directory))
        deadline = time.monotonic() + 60
        # The first time inside the first batch; the second once a batch was committed and acknowledged.
        while round_ and acknowledged_count(directory) == before and syncing.poll() is None:
            assert time.monotonic() < deadline
            time.sleep(0.002)
        while not deployment.writing() and syncing.poll() is None:
            assert time.monotonic() < deadline, "no ingest was seen"
            time.sleep(0.001)
        if syncing.poll() is None:
            deployment.kill()  # inside the ingest transaction, or within a few microseconds of it
            kills += 1
        assert syncing.wait(timeout=60) != 0 or deployment.server is not None
        check_device_against_server(deployment, directory)  # nothing acknowledged is lost
        if deployment.server is None:
            deployment.start()
    assert kills >= 1, "every sync finished before the server could be killed"
    sync_to_the_end(deployment, directory)
