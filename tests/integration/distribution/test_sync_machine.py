"""Exactly-once sync under everything a network and a tablet can do, as a Hypothesis state machine.

Three devices at two points (a1 and a2 at depot-a, b1 at depot-b) redeem offline against the real
database: the same card at both points, household members sharing one entitlement, exceptions, all
quantities, wrong PINs, manifests that expire. Their syncs lose answers after the server's commit,
crash the server before it, duplicate and reorder batches, send subsets, and devices die while marking
what was acknowledged. A device can be restored from an old copy of its store directory: the old
tablet's store is kept (it may turn up again and sync), and what the restored one records next is a
second history of the same device.

After every step:

- every event the server acknowledged is held exactly once (table `redemptions`, by event id) with the
  bytes the device signed and the answer it first got; the server holds nothing no device recorded;
- each device's accepted events form one unbroken chain that ends at the device's head;
- for every escrowed entitlement the counted quantity is at most the entitled one, and whatever is not
  counted (the excess, a forked history, an exception over the cap, an expired manifest) is a stored
  redemption with an open case; a refusal for lack of quantity or of exception slots is true now;
- a final full sync, tried in a savepoint, acknowledges every event any device ever recorded (forked
  histories included) exactly once and leaves nothing waiting; replaying the whole sync after it
  changes nothing: the same rows, cases and chain heads, and every answer is the first one.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import Connection, select
from sqlalchemy.orm import Session

from carnet.distribution import repository, service
from carnet.distribution.events import decode_event
from carnet.distribution.models import Device, DistributionCase, Escrow, Redemption
from carnet.distribution.pin_tag import pin_passes
from carnet.kit.errors import AppError
from carnet.kit.ids import uuid7
from carnet.point.agent import PointAgent, Refused
from carnet.point.keys import DeviceKeys
from carnet.point.store import PointStore
from carnet.programs.models import Entitlement
from tests.integration.distribution.world import CYCLE, NOW, Beneficiary, World, build, enrol, pull

pytestmark = pytest.mark.db

LABELS = ("a1", "a2", "b1")
HOME = {"a1": "depot-a", "a2": "depot-a", "b1": "depot-b"}
# One box per member, at most three per household: partial hand-overs and members sharing one entitlement.
QUANTITY = "{per: member, amount: 1, cap: 3}"
EXCEPTION_CAP = 2
# What may become of a sync: answered; answered after the commit but the answer lost (or the device
# killed before it heard it); the device killed while marking the acknowledged events; the server killed
# before its commit.
FATES = ("delivered", "answer_lost", "partly_marked", "server_crash")
# Who comes to the counter (an index into the pool), how much they ask for (None: all that is left), and
# whether they type a wrong PIN (one in four).
CUSTOMER = st.tuples(
    st.integers(0, 11), st.sampled_from((None, 1, 2, 3, 4)), st.sampled_from((False, False, False, True))
)
# Manifests that last a day and status lists stale after twelve hours: a few days offline are enough to
# hand over under an expired manifest (stored, flagged, a case) or a stale list (flagged).
SHORT = service.ManifestPolicy(ttl_seconds=86400, stale_after=12 * 3600, stale_action="flag")
# What the counter may say to a right PIN and a real card; anything else is a failure.
REFUSALS = {"entitlement_used", "quantity_exceeds_remaining", "exception_cap_reached", "pin_locked"}
MACHINE = settings(max_examples=25, stateful_step_count=15, deadline=None,
                   suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])  # fmt: skip


@dataclass
class Context:
    """What every example starts from: the world (built once per test) and each device's enrolled store."""

    connection: Connection
    world: World
    pool: list[Beneficiary]  # depot-a's beneficiaries first, then depot-b's
    templates: dict[str, Path]
    keys: dict[str, DeviceKeys]
    devices: dict[str, uuid.UUID]
    wrong_pins: dict[uuid.UUID, str]
    entitled: dict[uuid.UUID, int]
    scratch: Path


@pytest.fixture()
def ctx(session, connection, tmp_path) -> Context:
    world = build(session, tmp_path, quantity=QUANTITY, exceptions=EXCEPTION_CAP)
    templates, keys, devices = {}, {}, {}
    for label in LABELS:
        templates[label] = tmp_path / "templates" / label
        agent = enrol(session, world, HOME[label], templates[label], label=label)
        agent.store.close()
        devices[label], keys[label] = world.devices[label]
    wrong_pins = {}
    for point_id in world.points.values():
        _, checks, _ = service.current_escrow(session, point_id=point_id, cycle=CYCLE)
        for person in world.beneficiaries:
            check = checks.get(person.card_id.bytes)
            if check is not None:
                # A wrong PIN that is surely refused (one in 4,096 would pass the tag).
                wrong_pins[person.card_id] = next(
                    pin for pin in (f"{n:06d}" for n in range(0, 10**6, 111_111))
                    if pin != person.pin and not pin_passes(person.card_id.hex, pin, check)
                )  # fmt: skip
    entitled = {
        escrow_id: int(quantity)
        for escrow_id, quantity in session.execute(
            select(Escrow.id, Entitlement.quantity).join(Entitlement, Entitlement.id == Escrow.entitlement_id)
        )
    }
    session.commit()
    pool = world.at("depot-a") + world.at("depot-b")
    assert len(world.at("depot-a")) >= 2 and len(world.at("depot-b")) >= 2
    assert max(entitled.values()) > 1  # quantities, not only whole boxes
    scratch = tmp_path / "examples"
    scratch.mkdir()
    return Context(connection, world, pool, templates, keys, devices, wrong_pins, entitled, scratch)


def copy_store(source: Path, target: Path) -> None:
    """A copy of a point's store directory as a backup tool takes it (database and its WAL, not the index)."""
    shutil.copytree(source, target, ignore=shutil.ignore_patterns("*-shm"))


@dataclass
class Image:
    """One copy of a device's store in use: the tablet as first enrolled, or one restored from a backup."""

    label: str
    directory: Path
    agent: PointAgent
    current: bool = True


class Server:
    """Reads of the server's tables the invariants need (everything is small: a few dozen rows)."""

    def __init__(self, session: Session, ctx: Context) -> None:
        self.session = session
        self.ctx = ctx

    def rows(self) -> dict[uuid.UUID, object]:
        query = select(Redemption.event_id, Redemption.device_id, Redemption.point_id, Redemption.seq,
                       Redemption.hash, Redemption.prev_hash, Redemption.data, Redemption.chain, Redemption.answer,
                       Redemption.quantity, Redemption.counted, Redemption.exception, Redemption.escrow_id,
                       Redemption.program_code, Redemption.cycle)  # fmt: skip
        rows = list(self.session.execute(query))
        assert len({row.event_id for row in rows}) == len(rows)
        assert len({bytes(row.hash) for row in rows}) == len(rows)
        return {row.event_id: row for row in rows}

    def cases(self) -> list[tuple[uuid.UUID, str, str]]:
        query = select(DistributionCase.event_id, DistributionCase.kind, DistributionCase.status)
        return [(event_id, kind, status) for event_id, kind, status in self.session.execute(query)]

    def heads(self) -> dict[uuid.UUID, tuple[int, bytes, bool]]:
        query = select(Device.id, Device.chain_seq, Device.chain_hash, Device.compromised)
        return {d: (int(seq), bytes(digest), bool(bad)) for d, seq, digest, bad in self.session.execute(query)}

    def state(self) -> tuple:
        """Everything a replay must leave as it was: rows (with their decisions), cases, chain heads."""
        rows = self.rows()
        decisions = sorted((str(k), r.chain, r.answer, bool(r.counted), bool(r.exception)) for k, r in rows.items())
        return decisions, sorted((str(e), k, s) for e, k, s in self.cases()), self.heads()

    def check_chains(self) -> None:
        """Each device's accepted events are one chain 1, 2, … that ends at its head; forks mark it."""
        rows = self.rows().values()
        for device_id, (head_seq, head_hash, compromised) in self.heads().items():
            accepted = sorted((r for r in rows if r.device_id == device_id and r.chain == "accepted"),
                              key=lambda r: r.seq)  # fmt: skip
            assert [r.seq for r in accepted] == list(range(1, len(accepted) + 1))
            previous = bytes(32)
            for row in accepted:
                assert bytes(row.prev_hash) == previous
                previous = bytes(row.hash)
            assert (head_seq, head_hash) == (len(accepted), previous)
            assert compromised == any(r.device_id == device_id and r.chain == "forked" for r in rows)

    def check_entitlements(self) -> None:
        """Counted ≤ entitled; whatever is not counted has an open case; refusals for want of room are true."""
        rows = self.rows()
        kinds: dict[uuid.UUID, list[str]] = defaultdict(list)
        cases = self.cases()
        assert len({(e, k) for e, k, _ in cases}) == len(cases)  # a replay opens no second case
        for event_id, kind, status in cases:
            assert status == "open"
            kinds[event_id].append(kind)
        counted: Counter[uuid.UUID] = Counter()
        exceptions: Counter[tuple] = Counter()
        for event_id, row in rows.items():
            if row.counted:
                assert row.chain == "accepted" and row.escrow_id is not None and not kinds[event_id], kinds[event_id]
                counted[row.escrow_id] += int(row.quantity)
                if row.exception:
                    exceptions[(row.point_id, row.program_code, row.cycle)] += 1
            else:
                assert kinds[event_id], f"event {event_id} is neither counted nor flagged"
            if row.chain == "forked":
                assert "chain_forked" in kinds[event_id]
        for escrow_id, quantity in counted.items():
            assert quantity <= self.ctx.entitled[escrow_id], (escrow_id, quantity)
        assert all(n <= EXCEPTION_CAP for n in exceptions.values()), exceptions
        for event_id, row in rows.items():
            # Counted totals only grow, so a reason given for not counting must still hold now.
            if kinds[event_id] == ["over_entitlement"]:
                assert int(row.quantity) > self.ctx.entitled[row.escrow_id] - counted[row.escrow_id]
            if kinds[event_id] == ["exception_over_cap"]:
                assert exceptions[(row.point_id, row.program_code, row.cycle)] >= EXCEPTION_CAP, (
                    f"event {event_id} was refused an exception slot while the point has counted "
                    f"{exceptions[(row.point_id, row.program_code, row.cycle)]} of {EXCEPTION_CAP}"
                )


def ingest(session: Session, device_id: uuid.UUID, blobs: list[bytes], now) -> dict:  # type: ignore[no-untyped-def]
    device = repository.device(session, device_id, lock=True)
    return service.ingest_events(session, device=device, blobs=blobs, now=now)


def acknowledged(answer: dict) -> dict[uuid.UUID, str]:
    return {uuid.UUID(item["id"]): item["answer"] for item in answer["acknowledged"]}


class SyncMachine(RuleBasedStateMachine):
    """Devices redeeming and syncing badly; the server must keep every hand-over exactly once."""

    def __init__(self, ctx: Context) -> None:
        super().__init__()
        self.ctx = ctx
        # Every example runs in its own savepoint on the test's connection, rolled back at its end.
        self.outer = ctx.connection.begin_nested()
        self.session = Session(bind=ctx.connection, join_transaction_mode="create_savepoint", expire_on_commit=False,
                               autoflush=False)  # fmt: skip
        self.server = Server(self.session, ctx)
        self.root = Path(tempfile.mkdtemp(dir=ctx.scratch))
        self.clock = NOW
        self.images: list[Image] = []
        self.current: dict[str, int] = {}
        self.backups: dict[str, list[Path]] = {label: [] for label in LABELS}
        self.first_answers: dict[uuid.UUID, str] = {}  # what the server answered after each commit
        self.checked: object = None  # the state the final-sync check last passed on
        for label in LABELS:
            self._open_image(label, ctx.templates[label])
            assert pull(self.session, self.agent(label), now=self.clock, policy=SHORT) is not None
            self.back_up(label)  # the copy taken the day the tablet was set up
        self.session.commit()

    def teardown(self) -> None:
        for image in self.images:
            image.agent.store.close()
        self.session.close()
        if self.outer.is_active:
            self.outer.rollback()
        shutil.rmtree(self.root, ignore_errors=True)

    # Helpers
    def _open_image(self, label: str, source: Path) -> Image:
        target = self.root / f"{label}-{len(self.images)}"
        copy_store(source, target)
        image = Image(label, target, PointAgent(PointStore(target), self.ctx.keys[label], new_id=uuid7))
        assert image.agent.identity.device_id == self.ctx.devices[label]
        self.images.append(image)
        self.current[label] = len(self.images) - 1
        return image

    def agent(self, label: str) -> PointAgent:
        return self.images[self.current[label]].agent

    @property
    def device_now(self) -> int:
        return int(self.clock.timestamp())

    def _tick(self) -> None:
        self.clock += timedelta(minutes=1)

    def recorded(self) -> dict[uuid.UUID, bytes]:
        """Every event any copy of any device recorded: one content per id."""
        out: dict[uuid.UUID, bytes] = {}
        for image in self.images:
            for event in image.agent.store.events():
                assert out.setdefault(event.event_id, event.data) == event.data
        return out

    def _send(self, image: Image, batch: list[bytes], fate: str, data) -> dict | None:  # type: ignore[no-untyped-def]
        stored_before = set(self.server.rows())
        device_id = self.ctx.devices[image.label]
        answer = ingest(self.session, device_id, batch, self.clock)
        sent = {decode_event(blob).event.event_id for blob in batch}
        answers = acknowledged(answer)
        waiting = {uuid.UUID(text) for text in answer["waiting"]}
        assert answer["conflicts"] == {}  # a duplicate in a batch or a resend is never a conflict
        assert len(answers) == len(answer["acknowledged"])  # each event answered once, however often sent
        assert set(answers) | waiting == sent and not set(answers) & waiting
        assert set(answers.values()) <= {"accepted", "forked"}
        if waiting:  # a gap is asked for again: from the head to the first event that waits
            first = min(decode_event(blob).event.seq for blob in batch if decode_event(blob).event.event_id in waiting)
            assert answer["missing"] == list(range(answer["head"] + 1, first))
        else:
            assert answer["missing"] == []
        if fate == "server_crash":
            self.session.rollback()
            assert set(self.server.rows()) == stored_before
            return None
        self.session.commit()
        for event_id, verdict in answers.items():
            assert self.first_answers.setdefault(event_id, verdict) == verdict  # a replay gets its first answer
        if fate == "delivered":
            image.agent.store.acknowledge(answers, at=self.device_now)
        elif fate == "partly_marked" and answers:
            marked = data.draw(st.sets(st.sampled_from(sorted(answers))), label="marked before the crash")
            image.agent.store.acknowledge({k: answers[k] for k in marked}, at=self.device_now)
        return answer

    # Rules
    @initialize(queues=st.tuples(*[st.lists(CUSTOMER, min_size=1, max_size=3) for _ in LABELS]))
    def first_morning(self, queues: tuple[list[tuple[int, int | None, bool]], ...]) -> None:
        """Each tablet serves its first beneficiaries, is copied that evening, then syncs."""
        for label, queue in zip(LABELS, queues, strict=True):
            self.serve_a_queue(label, queue)
            self.back_up(label)
        self.end_of_day()

    @rule(label=st.sampled_from(LABELS), queue=st.lists(CUSTOMER, min_size=1, max_size=4))
    def serve_a_queue(self, label: str, queue: list[tuple[int, int | None, bool]]) -> None:
        """Beneficiaries at the counter: at their own point, or served away from it as exceptions."""
        for who, quantity, wrong_pin in queue:
            self._tick()
            self._redeem(label, self.ctx.pool[who % len(self.ctx.pool)], quantity, wrong_pin)

    def _redeem(self, label: str, person: Beneficiary, quantity: int | None, wrong_pin: bool) -> None:
        agent = self.agent(label)
        before = agent.store.last_event()
        away = person.point != HOME[label]
        if wrong_pin and not away:  # (away from its point a card's PIN cannot be checked)
            with pytest.raises(Refused) as refused:
                agent.redeem(person.qr, pin=self.ctx.wrong_pins[person.card_id], now=self.device_now)
            assert refused.value.code in {"pin_wrong", "pin_locked"}
            assert agent.store.last_event() == before
            return
        try:
            receipt = agent.redeem(person.qr, pin=person.pin, now=self.device_now,
                                   programme="food_box" if away else None,
                                   quantity=(quantity or 1) if away else quantity)  # fmt: skip
        except Refused as refused:
            assert refused.code in REFUSALS, refused.code
            assert agent.store.last_event() == before  # nothing recorded, nothing handed over
            return
        last = agent.store.last_event()
        assert last is not None and last.event_id == receipt.event_id
        assert last.seq == (before.seq if before else 0) + 1
        assert ("exception" in receipt.flags) == away

    @rule(label=st.sampled_from(LABELS))
    def pull_manifest(self, label: str) -> None:
        self._tick()
        try:
            pull(self.session, self.agent(label), now=self.clock, policy=SHORT)
        except AppError:
            self.session.rollback()
            raise
        self.session.commit()

    @rule(data=st.data())
    def sync(self, data) -> None:  # type: ignore[no-untyped-def]
        """Send some of a device's events, some twice, in any order; then lose the answer or crash, or not."""
        self._tick()
        # Mostly a copy with something to send; any copy (an old tablet turning up again) now and then.
        waiting = [image for image in self.images if image.agent.store.events(unacknowledged_only=True)]
        images = waiting if waiting and data.draw(st.sampled_from((True, True, False)), label="busy") else self.images
        image = data.draw(st.sampled_from(images), label="image")
        everything = data.draw(st.booleans(), label="acknowledged ones too")
        events = image.agent.store.events(unacknowledged_only=not everything)
        # Some messages lost: the oldest ones (a gap the server asks for again), and any others.
        events = events[data.draw(st.integers(0, len(events)), label="oldest lost") :]
        dropped = data.draw(st.lists(st.booleans(), min_size=len(events), max_size=len(events)), label="dropped")
        chosen = [event.data for event, gone in zip(events, dropped, strict=True) if not gone]
        twice = data.draw(st.lists(st.sampled_from(chosen), max_size=3), label="duplicated") if chosen else []
        batch = data.draw(st.permutations(chosen + twice), label="order")
        self._send(image, batch, data.draw(st.sampled_from(FATES), label="fate"), data)

    @precondition(lambda self: any(len(i.agent.store.events(unacknowledged_only=True)) > 1 for i in self.images))
    @rule(data=st.data())
    def newest_first_then_what_is_missing(self, data) -> None:  # type: ignore[no-untyped-def]
        """The oldest messages are lost: the server keeps the rest waiting and names the gap; the device sends
        what it names, then the waiting ones again, and nothing waits any more."""
        self._tick()
        busy = [i for i in self.images if len(i.agent.store.events(unacknowledged_only=True)) > 1]
        image = data.draw(st.sampled_from(busy), label="image")
        pending = image.agent.store.events(unacknowledged_only=True)
        lost = data.draw(st.integers(1, len(pending) - 1), label="oldest lost")
        answer = self._send(image, [event.data for event in pending[lost:]], "delivered", None)
        assert answer is not None
        if answer["missing"]:
            named = image.agent.store.events_by_seq(answer["missing"])
            assert [event.seq for event in named] == answer["missing"]  # the device holds every one it is asked for
            again = self._send(image, [event.data for event in named], "delivered", None)
            assert again is not None and again["waiting"] == [] and again["missing"] == []
            waiting = [e for e in pending if str(e.event_id) in answer["waiting"]]
            again = self._send(image, [event.data for event in waiting], "delivered", None)
            assert again is not None and again["waiting"] == [] and again["missing"] == []

    @rule()
    def end_of_day(self) -> None:
        """Every tablet in service sends all it has not had acknowledged, and hears the answers."""
        self._tick()
        for label in LABELS:
            image = self.images[self.current[label]]
            pending = image.agent.store.events(unacknowledged_only=True)
            if pending:
                self._send(image, [event.data for event in pending], "delivered", None)

    @rule(label=st.sampled_from(LABELS))
    def back_up(self, label: str) -> None:
        image = self.images[self.current[label]]
        target = self.root / f"{label}-backup-{len(self.backups[label])}"
        copy_store(image.directory, target)
        self.backups[label].append(target)

    @precondition(lambda self: any(image.agent.store.last_event() for image in self.images))
    @rule(data=st.data(), queue=st.lists(CUSTOMER, max_size=3), synced_last=st.booleans(), syncs=st.booleans())
    def restore_from_backup(self, data, queue: list[tuple[int, int | None, bool]], synced_last: bool,
                            syncs: bool) -> None:  # type: ignore[no-untyped-def]  # fmt: skip
        """A tablet breaks (after its last sync, or before it) and is replaced by an old copy of its store,
        which goes back to work and may sync at once: what it records now is a second history of the device.
        The broken tablet's store is kept: it may turn up and sync later."""
        label = data.draw(st.sampled_from(LABELS), label="device")
        source = data.draw(st.sampled_from(self.backups[label]), label="backup")
        broken = self.images[self.current[label]]
        pending = broken.agent.store.events(unacknowledged_only=True)
        if synced_last and pending:
            self._send(broken, [event.data for event in pending], "delivered", None)
        broken.current = False
        restored = self._open_image(label, source)
        self.serve_a_queue(label, queue)
        pending = restored.agent.store.events(unacknowledged_only=True)
        if syncs and pending:
            self._send(restored, [event.data for event in pending], "delivered", None)

    @precondition(lambda self: self.clock < NOW + timedelta(days=10))
    @rule(hours=st.integers(1, 36))
    def time_passes(self, hours: int) -> None:
        """Days offline: manifests expire (flagged hand-overs), status lists grow stale."""
        self.clock += timedelta(hours=hours)

    @precondition(lambda self: any(e.acknowledged_at for image in self.images for e in image.agent.store.events()))
    @rule()
    def replay_everything_acknowledged(self) -> None:
        """Every device sends again all it had acknowledged: the same answers, and nothing changes."""
        self._tick()
        before = self.server.state()
        for image in self.images:
            done = [event for event in image.agent.store.events() if event.acknowledged_at is not None]
            if done:
                answer = ingest(self.session, self.ctx.devices[image.label], [e.data for e in reversed(done)],
                                self.clock)  # fmt: skip
                assert answer["conflicts"] == {} and answer["waiting"] == []
                assert acknowledged(answer) == {event.event_id: event.answer for event in done}
        self.session.commit()
        assert self.server.state() == before

    # Invariants
    @invariant()
    def every_acknowledged_event_is_held_once(self) -> None:
        rows = self.server.rows()
        recorded = self.recorded()
        for event_id, verdict in self.first_answers.items():
            assert event_id in rows, f"event {event_id} was acknowledged and is not held"
            assert rows[event_id].answer == verdict
        for event_id, row in rows.items():
            assert recorded.get(event_id) == bytes(row.data), f"event {event_id} is held as no device recorded it"
        for image in self.images:
            for event in image.agent.store.events():
                if event.acknowledged_at is not None:
                    assert rows[event.event_id].answer == event.answer
        self.server.check_chains()

    @invariant()
    def nothing_is_counted_beyond_its_entitlement(self) -> None:
        self.server.check_entitlements()

    @invariant()
    def a_final_full_sync_holds_everything_once_and_replaying_it_changes_nothing(self) -> None:
        # What the check depends on: the server's rows and every copy's events and acknowledgements (the
        # clock changes no decision about these events). Unchanged since the last step: nothing new to check.
        fingerprint = (sorted((str(k), r.answer) for k, r in self.server.rows().items()),
                       [(image.label, [(e.seq, e.event_id, e.answer) for e in image.agent.store.events()])
                        for image in self.images])  # fmt: skip
        if fingerprint == self.checked:
            return
        self.checked = fingerprint
        savepoint = self.session.begin_nested()
        try:
            later = self.clock + timedelta(minutes=30)
            for image in self.images:
                pending = image.agent.store.events(unacknowledged_only=True)
                if pending:
                    answer = ingest(self.session, self.ctx.devices[image.label], [e.data for e in pending], later)
                    assert answer["conflicts"] == {} and answer["waiting"] == [], answer
                    assert set(acknowledged(answer)) == {event.event_id for event in pending}
            rows = self.server.rows()
            recorded = self.recorded()
            assert set(rows) == set(recorded), "a recorded event did not reach the server"
            assert all(bytes(rows[event_id].data) == data for event_id, data in recorded.items())
            self.server.check_chains()
            self.server.check_entitlements()
            before = self.server.state()
            for label in LABELS:
                # The whole sync again, every copy of the device at once, backwards and with a duplicate.
                everything = [e for image in self.images if image.label == label for e in image.agent.store.events()]
                if everything:
                    blobs = [e.data for e in everything]
                    answer = ingest(self.session, self.ctx.devices[label], blobs[::-1] + blobs[:1], later)
                    assert answer["conflicts"] == {} and answer["waiting"] == []
                    assert acknowledged(answer) == {e.event_id: rows[e.event_id].answer for e in everything}
            assert self.server.state() == before
        finally:
            savepoint.rollback()


def test_sync_keeps_every_hand_over_exactly_once(ctx):
    run_state_machine_as_test(lambda: SyncMachine(ctx), settings=MACHINE)


# How a device's events are cut into batches must not change any decision: the server walks them in chain
# order whatever the batches. Beneficiary indexes are into `ctx.pool`: 0–5 at depot-a, 6–11 at depot-b.
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    redemptions=st.lists(st.tuples(st.integers(0, 11), st.integers(1, 4)), min_size=1, max_size=6),
    cuts=st.lists(st.booleans(), min_size=6, max_size=6),
)
# An exception beyond any entitlement (4 > 3) then a good one, after another device used one slot of two.
@example(redemptions=[(6, 4), (7, 1)], cuts=[True] * 6)
def test_how_a_sync_is_batched_changes_no_decision(ctx, redemptions, cuts):
    outer = ctx.connection.begin_nested()
    session = Session(bind=ctx.connection, join_transaction_mode="create_savepoint", expire_on_commit=False,
                      autoflush=False)  # fmt: skip
    root = Path(tempfile.mkdtemp(dir=ctx.scratch))
    agents = []
    try:
        for label in ("a1", "a2"):
            copy_store(ctx.templates[label], root / label)
            agents.append(PointAgent(PointStore(root / label), ctx.keys[label], new_id=uuid7))
            pull(session, agents[-1], now=NOW)
        first, other = agents
        now = int(NOW.timestamp())
        # The other device at depot-a has served one exception already, and synced it.
        other.redeem(ctx.pool[11].qr, pin="", now=now + 1, programme="food_box", quantity=1)
        ingest(session, ctx.devices["a2"], [e.data for e in other.store.events()], NOW)
        for n, (who, quantity) in enumerate(redemptions):
            person = ctx.pool[who % len(ctx.pool)]
            away = person.point != "depot-a"
            with contextlib.suppress(Refused):  # a refusal at the counter records nothing
                first.redeem(person.qr, pin=person.pin, now=now + 10 + n, quantity=quantity,
                             programme="food_box" if away else None)  # fmt: skip
        blobs = [event.data for event in first.store.events()]

        def decisions(batches: list[list[bytes]]) -> dict[uuid.UUID, tuple]:
            savepoint = session.begin_nested()
            try:
                for batch in batches:
                    ingest(session, ctx.devices["a1"], batch, NOW + timedelta(hours=1))
                rows = {row.event_id: bool(row.counted) for row in session.execute(select(Redemption))
                        .scalars() if row.device_id == ctx.devices["a1"]}  # fmt: skip
                kinds = defaultdict(list)
                for event_id, kind in session.execute(select(DistributionCase.event_id, DistributionCase.kind)):
                    if event_id in rows:
                        kinds[event_id].append(kind)
                return {event_id: (counted, sorted(kinds[event_id])) for event_id, counted in rows.items()}
            finally:
                savepoint.rollback()

        pieces: list[list[bytes]] = [[]]
        for blob, cut in zip(blobs, cuts, strict=False):
            pieces[-1].append(blob)
            if cut:
                pieces.append([])
        whole = decisions([blobs])
        assert len(whole) == len(blobs)
        assert decisions([piece for piece in pieces if piece]) == whole
    finally:
        for agent in agents:
            agent.store.close()
        session.close()
        outer.rollback()
        shutil.rmtree(root, ignore_errors=True)
