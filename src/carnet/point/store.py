"""The point agent's own SQLite store: its identity, the manifests it holds, its events and its PIN lock-outs.

It never touches the server's database: the point is a separate program on a cheap tablet, offline for
days. Every write is `synchronous=FULL` in one transaction, so an event the agent reported as recorded
survives a power cut. Events are append-only; the device deletes nothing it has not had acknowledged.
"""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from carnet.kit.errors import AppError

SCHEMA_VERSION = 1
STORE_FILE = "point.sqlite3"

_SCHEMA = """
CREATE TABLE identity (
    only_row INTEGER PRIMARY KEY CHECK (only_row = 1),
    device_id BLOB NOT NULL,
    point_id BLOB NOT NULL,
    point_name TEXT NOT NULL,
    server_url TEXT NOT NULL,
    keys BLOB NOT NULL,
    trusted BLOB NOT NULL,
    enrolled_at INTEGER NOT NULL
);
CREATE TABLE manifests (
    cycle TEXT NOT NULL,
    version INTEGER NOT NULL,
    data BLOB NOT NULL,
    received_at INTEGER NOT NULL,
    PRIMARY KEY (cycle, version)
);
CREATE TABLE events (
    seq INTEGER PRIMARY KEY,
    event_id BLOB NOT NULL UNIQUE,
    data BLOB NOT NULL,
    hash BLOB NOT NULL UNIQUE,
    card BLOB NOT NULL,
    programme TEXT NOT NULL,
    cycle TEXT NOT NULL,
    entitlement_id BLOB,
    quantity INTEGER NOT NULL CHECK (quantity > 0),
    device_time INTEGER NOT NULL,
    receipt TEXT NOT NULL UNIQUE,
    acknowledged_at INTEGER,
    answer TEXT
);
CREATE TABLE pin_failures (
    card BLOB PRIMARY KEY,
    failures INTEGER NOT NULL,
    last_at INTEGER NOT NULL
);
CREATE TRIGGER events_are_immutable BEFORE UPDATE OF seq, event_id, data, hash, card, programme, cycle,
    entitlement_id, quantity, device_time, receipt ON events
BEGIN
    SELECT RAISE(ABORT, 'events are immutable');
END;
CREATE TRIGGER unacknowledged_events_stay BEFORE DELETE ON events WHEN OLD.acknowledged_at IS NULL
BEGIN
    SELECT RAISE(ABORT, 'an unacknowledged event cannot be deleted');
END;
"""


class PointStoreError(AppError):
    """The point store cannot be used as asked."""

    def __init__(self, message: str, *, code: str) -> None:
        super().__init__(message=message, code=code, status=409)


@dataclass(frozen=True)
class Identity:
    """Who this device is: its id and point, the server it syncs with, its sealed keys, the keys it trusts."""

    device_id: uuid.UUID
    point_id: uuid.UUID
    point_name: str
    server_url: str
    keys: bytes
    trusted: bytes
    enrolled_at: int


@dataclass(frozen=True)
class StoredEvent:
    """One event as the device keeps it."""

    seq: int
    event_id: uuid.UUID
    data: bytes
    hash: bytes
    card: bytes
    programme: str
    cycle: str
    entitlement_id: uuid.UUID | None
    quantity: int
    device_time: int
    receipt: str
    acknowledged_at: int | None
    answer: str | None


class PointStore:
    """A connection to one point's store in `directory` (several points can run on one machine)."""

    def __init__(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.path = directory / STORE_FILE
        fresh = not self.path.exists()
        self._db = sqlite3.connect(self.path, isolation_level=None, timeout=30)
        self._db.execute("PRAGMA journal_mode=WAL")
        # An event reported as written must survive a power cut: fsync on every commit.
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute("PRAGMA foreign_keys=ON")
        if fresh:
            self.path.chmod(0o600)
            self._db.executescript("BEGIN;" + _SCHEMA + f"PRAGMA user_version={SCHEMA_VERSION};COMMIT;")
        version = self._db.execute("PRAGMA user_version").fetchone()[0]
        if version != SCHEMA_VERSION:
            raise PointStoreError(f"{self.path}: store version {version}, this agent reads {SCHEMA_VERSION}",
                                  code="point_store_version")  # fmt: skip

    def close(self) -> None:
        """Close the connection."""
        self._db.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction, taken at once (IMMEDIATE) so two processes on one store queue up."""
        if self._db.in_transaction:
            yield self._db
            return
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield self._db
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def identity(self) -> Identity:
        """This device's identity; `point_not_enrolled` before `carnet point enroll`."""
        row = self._db.execute(
            "SELECT device_id, point_id, point_name, server_url, keys, trusted, enrolled_at FROM identity"
        ).fetchone()
        if row is None:
            raise PointStoreError("this point is not enrolled yet: run `carnet point enroll URL CODE`",
                                  code="point_not_enrolled")  # fmt: skip
        return Identity(uuid.UUID(bytes=row[0]), uuid.UUID(bytes=row[1]), row[2], row[3], row[4], row[5], row[6])

    def enrolled(self) -> bool:
        """Whether this store already holds an identity."""
        return self._db.execute("SELECT 1 FROM identity").fetchone() is not None

    def save_identity(self, identity: Identity) -> None:
        """Record the device's identity once; a second enrolment of the same store is refused."""
        if self.enrolled():
            raise PointStoreError(f"{self.path} is already enrolled", code="point_already_enrolled")
        with self.transaction() as db:
            db.execute(
                "INSERT INTO identity VALUES (1, ?, ?, ?, ?, ?, ?, ?)",
                (identity.device_id.bytes, identity.point_id.bytes, identity.point_name, identity.server_url,
                 identity.keys, identity.trusted, identity.enrolled_at),
            )  # fmt: skip

    def update_trusted(self, trusted: bytes) -> None:
        """Replace the key set this device trusts for manifests (from a pull over the authenticated channel)."""
        with self.transaction() as db:
            db.execute("UPDATE identity SET trusted = ?", (trusted,))

    def add_manifest(self, *, cycle: str, version: int, data: bytes, received_at: int, replaces: bool) -> None:
        """Keep a manifest; a full one (`replaces`) drops the cycle's older ones."""
        with self.transaction() as db:
            if replaces:
                db.execute("DELETE FROM manifests WHERE cycle = ?", (cycle,))
            db.execute("INSERT INTO manifests VALUES (?, ?, ?, ?)", (cycle, version, data, received_at))

    def manifests(self) -> list[tuple[str, int, bytes]]:
        """The manifests held, per cycle in version order."""
        return list(self._db.execute("SELECT cycle, version, data FROM manifests ORDER BY cycle, version"))

    def last_event(self) -> StoredEvent | None:
        """The device's latest event."""
        rows = self._events("ORDER BY seq DESC LIMIT 1", ())
        return rows[0] if rows else None

    def events(self, *, unacknowledged_only: bool = False, limit: int | None = None) -> list[StoredEvent]:
        """The device's events in sequence order."""
        where = "WHERE acknowledged_at IS NULL " if unacknowledged_only else ""
        tail = f" LIMIT {int(limit)}" if limit is not None else ""
        return self._events(where + "ORDER BY seq" + tail, ())

    def events_by_seq(self, seqs: list[int]) -> list[StoredEvent]:
        """The events with these sequence numbers (those the device still has)."""
        if not seqs:
            return []
        marks = ",".join("?" * len(seqs))
        return self._events(f"WHERE seq IN ({marks}) ORDER BY seq", tuple(seqs))

    def _events(self, clause: str, params: tuple) -> list[StoredEvent]:
        rows = self._db.execute(
            "SELECT seq, event_id, data, hash, card, programme, cycle, entitlement_id, quantity, device_time, "
            "receipt, acknowledged_at, answer FROM events " + clause,
            params,
        ).fetchall()
        return [
            StoredEvent(r[0], uuid.UUID(bytes=r[1]), r[2], r[3], r[4], r[5], r[6],
                        uuid.UUID(bytes=r[7]) if r[7] is not None else None, r[8], r[9], r[10], r[11], r[12])
            for r in rows
        ]  # fmt: skip

    def redeemed_since(self, entitlement_id: uuid.UUID, through: int) -> int:
        """What this device handed over for an entitlement in events after sequence number `through`."""
        row = self._db.execute(
            "SELECT coalesce(sum(quantity), 0) FROM events WHERE entitlement_id = ? AND seq > ?",
            (entitlement_id.bytes, through),
        ).fetchone()
        return int(row[0])

    def exceptions_served(self, programme: str, cycle: str) -> int:
        """How many exception hand-overs this device made for a programme in a cycle."""
        row = self._db.execute(
            "SELECT count(*) FROM events WHERE programme = ? AND cycle = ? AND entitlement_id IS NULL",
            (programme, cycle),
        ).fetchone()
        return int(row[0])

    def append_event(self, event: StoredEvent) -> None:
        """Write one event durably (the caller hands over only after this returns)."""
        with self.transaction() as db:
            db.execute(
                "INSERT INTO events VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, NULL)",
                (event.seq, event.event_id.bytes, event.data, event.hash, event.card, event.programme, event.cycle,
                 event.entitlement_id.bytes if event.entitlement_id else None, event.quantity, event.device_time,
                 event.receipt),
            )  # fmt: skip

    def acknowledge(self, answers: dict[uuid.UUID, str], at: int) -> int:
        """Mark events the server acknowledged (with its answer: accepted, replayed, forked); how many changed."""
        with self.transaction() as db:
            changed = 0
            for event_id, answer in answers.items():
                cursor = db.execute(
                    "UPDATE events SET acknowledged_at = ?, answer = ? WHERE event_id = ? AND acknowledged_at IS NULL",
                    (at, answer, event_id.bytes),
                )
                changed += cursor.rowcount
            return changed

    def pin_failures(self, card: bytes) -> int:
        """Wrong PINs typed for this card at this device since its last success."""
        row = self._db.execute("SELECT failures FROM pin_failures WHERE card = ?", (card,)).fetchone()
        return int(row[0]) if row else 0

    def record_pin_failure(self, card: bytes, at: int) -> int:
        """Count one more wrong PIN for this card; the new count."""
        with self.transaction() as db:
            db.execute(
                "INSERT INTO pin_failures VALUES (?, 1, ?) "
                "ON CONFLICT (card) DO UPDATE SET failures = failures + 1, last_at = excluded.last_at",
                (card, at),
            )
            return int(db.execute("SELECT failures FROM pin_failures WHERE card = ?", (card,)).fetchone()[0])

    def clear_pin_failures(self, card: bytes) -> None:
        """Forget the wrong PINs of a card after the right one."""
        with self.transaction() as db:
            db.execute("DELETE FROM pin_failures WHERE card = ?", (card,))
