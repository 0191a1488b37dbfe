"""Redemption events and their per-device hash chain: how a point records a hand-over, how the server admits it.

A redemption is an immutable fact made on the device, written before anything is handed over:

- its id is a uuid7 the device chooses, so a retried sync is harmless (the server deduplicates by id);
- it carries a per-device sequence number (1, 2, 3 …) and the hash of the device's previous event, so
  a gap, a fork or a rewritten history is visible;
- it is a COSE_Sign1 (typ `carnet-event/1`) over deterministic CBOR, signed by the device's own Ed25519 key;
- its hash is SHA-256 of the whole signed message; the first event's previous hash is 32 zero bytes.

`admit` is the server's pure decision over a batch: which events extend the chain, which are replays
(answered with the first acknowledgement), which reuse an id with other content (`event_conflict`), which
wait behind a gap (`sequence_gap`, with the missing numbers asked for again), and which prove the chain
forked or was rewritten (`chain_forked`: the device is then treated as compromised). The format is in
docs/formats/events.md. Pure: time and keys are passed in.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from carnet.credentials import cbor_guard
from carnet.credentials.cose import CoseError, Sign1, decode_sign1, dumps_deterministic, sign1, verify_sign1
from carnet.kit.errors import AppError

EVENT_TYP = "carnet-event/1"
GENESIS_HASH = bytes(32)
MAX_EVENT_BYTES = 1024
MAX_QUANTITY = 1_000_000
# Clock readings a device may report before being flagged. Offline for days is normal: an event may be
# synced long after it was made, so only a clock ahead of the server or before the device existed is absurd.
CLOCK_AHEAD_TOLERANCE_S = 10 * 60
_CYCLE = re.compile(r"^[0-9]{4}-(0[1-9]|1[0-2])$")
_CODE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
_CARD_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
FLAGS = frozenset(
    {
        "exception",  # served at a point that does not hold the entitlement in escrow
        "status_list_stale",  # the point's status list was older than the staleness policy allows
        "manifest_expired",  # the manifest's validity window had ended on the device's clock
    }
)
# What a sync answer can say of one event, beside the refusals' own codes, and the clock flags it can carry.
ADMISSION_CODES = frozenset(
    {"event_conflict", "chain_forked", "sequence_gap", "device_clock_ahead", "device_clock_before_enrolment",
     "device_clock_backwards"}
)  # fmt: skip
_FIELDS = ("v", "id", "device", "seq", "prev", "card", "programme", "cycle", "quantity", "time", "manifest", "flags")


class EventError(AppError):
    """An event that cannot be admitted; the code says why and the message names the event."""

    def __init__(self, message: str, code: str) -> None:
        super().__init__(message=message, code=code, status=422)


@dataclass(frozen=True)
class Redemption:
    """One hand-over at a point: which card, which programme and cycle, how much, when by the device's clock."""

    event_id: uuid.UUID
    device_id: uuid.UUID
    seq: int
    prev_hash: bytes
    card_id: str
    programme: str
    cycle: str
    quantity: int
    device_time: int
    manifest_version: int
    flags: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        where = f"event {self.event_id}"
        if self.event_id.version != 7:
            raise EventError(f"{where}: the id must be a uuid7", code="event_malformed")
        if not 1 <= self.seq < 1 << 53:
            raise EventError(f"{where}: sequence number {self.seq} out of range", code="event_malformed")
        if len(self.prev_hash) != 32:
            raise EventError(f"{where}: the previous hash must have 32 bytes", code="event_malformed")
        if (self.seq == 1) != (self.prev_hash == GENESIS_HASH):
            raise EventError(f"{where}: only the first event starts from the zero hash", code="event_malformed")
        if not _CARD_ID.match(self.card_id):
            raise EventError(f"{where}: card id {self.card_id!r} is not a card id", code="event_malformed")
        if not _CODE.match(self.programme):
            raise EventError(f"{where}: programme {self.programme!r} is not a programme code", code="event_malformed")
        if not _CYCLE.match(self.cycle):
            raise EventError(f"{where}: cycle {self.cycle!r} is not YYYY-MM", code="event_malformed")
        if not 1 <= self.quantity <= MAX_QUANTITY:
            raise EventError(f"{where}: quantity {self.quantity} out of range", code="event_malformed")
        if not 0 <= self.device_time < 1 << 40 or not 0 <= self.manifest_version < 1 << 53:
            raise EventError(f"{where}: device time or manifest version out of range", code="event_malformed")
        if set(self.flags) - FLAGS or list(self.flags) != sorted(set(self.flags)):
            raise EventError(f"{where}: flags must be distinct known flags in order", code="event_malformed")

    def claims(self) -> dict[str, Any]:
        """The CBOR map the device signs (field names in docs/formats/events.md)."""
        return {
            "v": 1,
            "id": self.event_id.bytes,
            "device": self.device_id.bytes,
            "seq": self.seq,
            "prev": self.prev_hash,
            "card": self.card_id,
            "programme": self.programme,
            "cycle": self.cycle,
            "quantity": self.quantity,
            "time": self.device_time,
            "manifest": self.manifest_version,
            "flags": list(self.flags),
        }


@dataclass(frozen=True)
class SignedEvent:
    """A redemption as the device signed it: the decoded event, its exact bytes, and their hash."""

    event: Redemption
    data: bytes
    kid: bytes

    @property
    def hash(self) -> bytes:
        """SHA-256 of the signed bytes: what the next event names as its previous hash."""
        return event_hash(self.data)

    @property
    def head(self) -> ChainHead:
        """The chain's tip once this event is its last."""
        return ChainHead(seq=self.event.seq, hash=self.hash)


def event_hash(data: bytes) -> bytes:
    """SHA-256 of a signed event's bytes."""
    return hashlib.sha256(data).digest()


def sign_event(event: Redemption, *, kid: bytes, sign: Callable[[bytes], bytes]) -> SignedEvent:
    """The event as a COSE_Sign1 by the device key."""
    data = sign1(dumps_deterministic(event.claims()), kid=kid, sign=sign, typ=EVENT_TYP)
    return SignedEvent(event=event, data=data, kid=kid)


def _uuid(value: Any, name: str) -> uuid.UUID:
    if not isinstance(value, bytes) or len(value) != 16:
        raise EventError(f"the {name} must be 16 bytes", code="event_malformed")
    return uuid.UUID(bytes=value)


def decode_event(data: bytes) -> SignedEvent:
    """The event in `data`, its shape checked but its signature not yet (see `verify_event`)."""
    return _decode(data)[0]


def _decode(data: bytes) -> tuple[SignedEvent, Sign1]:
    if len(data) > MAX_EVENT_BYTES:
        raise EventError(f"an event of {len(data)} bytes; at most {MAX_EVENT_BYTES}", code="event_malformed")
    try:
        message = decode_sign1(data)
        if message.typ != EVENT_TYP:
            raise EventError(f"typ {message.typ!r} is not {EVENT_TYP}", code="event_malformed")
        claims = cbor_guard.loads(message.payload, max_depth=2, max_items=64)
    except (CoseError, cbor_guard.UnsafeCbor) as exc:
        raise EventError(f"not a signed event: {exc}", code="event_malformed") from None
    if not isinstance(claims, Mapping) or set(claims) != set(_FIELDS) or claims["v"] != 1:
        raise EventError("an event holds exactly the version-1 fields", code="event_malformed")
    kinds = {"seq": int, "card": str, "programme": str, "cycle": str, "quantity": int, "time": int,
             "manifest": int, "prev": bytes, "flags": list}  # fmt: skip
    for name, kind in kinds.items():
        if not isinstance(claims[name], kind) or isinstance(claims[name], bool):
            raise EventError(f"field {name} has the wrong type", code="event_malformed")
    if not all(isinstance(flag, str) for flag in claims["flags"]):
        raise EventError("field flags must hold texts", code="event_malformed")
    event = Redemption(
        event_id=_uuid(claims["id"], "event id"),
        device_id=_uuid(claims["device"], "device id"),
        seq=claims["seq"],
        prev_hash=claims["prev"],
        card_id=claims["card"],
        programme=claims["programme"],
        cycle=claims["cycle"],
        quantity=claims["quantity"],
        device_time=claims["time"],
        manifest_version=claims["manifest"],
        flags=tuple(claims["flags"]),
    )
    if dumps_deterministic(event.claims()) != message.payload:
        # One event, one encoding: a re-encoded payload would give the same event a second hash.
        raise EventError(f"event {event.event_id}: payload not in deterministic encoding", code="event_malformed")
    return SignedEvent(event=event, data=data, kid=message.kid), message


def verify_event(data: bytes, *, device_id: uuid.UUID, public_raw: bytes) -> SignedEvent:
    """The event in `data` if it is well formed, names `device_id`, and is signed by that device's key."""
    signed, message = _decode(data)  # decoded once: a sync verifies thousands of events per request
    if signed.event.device_id != device_id:
        raise EventError(f"event {signed.event.event_id} names another device", code="event_wrong_device")
    if not verify_sign1(message, public_raw):
        message = f"event {signed.event.event_id}: the signature does not verify"
        raise EventError(message, code="event_signature_invalid")
    return signed


@dataclass(frozen=True)
class ChainHead:
    """What the server has admitted into one device's chain: its last sequence number and that event's hash."""

    seq: int = 0
    hash: bytes = GENESIS_HASH


@dataclass(frozen=True)
class Stored:
    """An event the server already holds: whose, its hash and number, and whether it lies on a forked branch."""

    device_id: uuid.UUID
    hash: bytes
    seq: int
    forked: bool = False


@dataclass
class Admission:
    """The server's decision over one batch from one device.

    `accepted` extend the chain in order; `forked` are well signed but contradict the chain (a second
    history, a rewritten predecessor, a restored backup): they are stored, flagged and acknowledged so that
    no hand-over is lost, and the device is treated as compromised; `replayed` are acknowledged again with
    their first acknowledgement; `conflicts` reuse a held id with other content and are not stored;
    `waiting` follow a gap and are not acknowledged: the device keeps them and sends them again after
    `missing`.
    """

    accepted: list[SignedEvent] = field(default_factory=list)
    forked: list[SignedEvent] = field(default_factory=list)
    replayed: list[uuid.UUID] = field(default_factory=list)
    conflicts: dict[uuid.UUID, str] = field(default_factory=dict)
    waiting: list[uuid.UUID] = field(default_factory=list)
    missing: list[int] = field(default_factory=list)
    head: ChainHead = field(default_factory=ChainHead)


def admit(
    head: ChainHead,
    batch: Iterable[SignedEvent],
    *,
    device_id: uuid.UUID,
    by_id: Callable[[uuid.UUID], Stored | None],
    by_hash: Callable[[bytes], Stored | None],
    max_missing: int = 1000,
) -> Admission:
    """Sort a batch of the device's verified events into accepted, forked, replayed, conflicting and waiting.

    `by_id` and `by_hash` answer for events the server already holds (from any device). The decision
    depends only on the set of events: their order and repetitions in the batch change nothing.
    """
    result = Admission(head=head)
    fresh: dict[uuid.UUID, SignedEvent] = {}
    first_copy: dict[uuid.UUID, bytes] = {}
    for signed in sorted(batch, key=lambda s: (s.event.seq, s.event.event_id.bytes, s.data)):
        event_id = signed.event.event_id
        if event_id in first_copy:
            if first_copy[event_id] != signed.data:
                result.conflicts[event_id] = "event_conflict"
            continue
        first_copy[event_id] = signed.data
        seen = by_id(event_id)
        if seen is not None:
            if seen.device_id == device_id and seen.hash == signed.hash:
                result.replayed.append(event_id)
            else:
                result.conflicts[event_id] = "event_conflict"
            continue
        fresh[event_id] = signed
    # An id that is both replayed and contradicted in one batch: the held original stands, the other is refused.
    result.replayed = [event_id for event_id in result.replayed if event_id not in result.conflicts]
    for event_id in result.conflicts:
        # Two contents under one new id in the same batch: neither is admitted, the device must explain.
        fresh.pop(event_id, None)
    placed: dict[bytes, Stored] = {}
    current = head
    remaining = list(fresh.values())
    changed = True
    while changed:
        changed = False
        for signed in list(remaining):
            event = signed.event
            before = placed.get(event.prev_hash) or by_hash(event.prev_hash)
            if before is not None and before.device_id != device_id:
                before = Stored(device_id=device_id, hash=event.prev_hash, seq=0, forked=True)
            on_fork = before is not None and (before.forked or before.seq + 1 != event.seq)
            breaks_tip = event.seq == current.seq + 1 and event.prev_hash != current.hash
            if on_fork or breaks_tip or event.seq <= current.seq:
                result.forked.append(signed)
                placed[signed.hash] = Stored(device_id, signed.hash, event.seq, forked=True)
            elif event.seq == current.seq + 1:
                result.accepted.append(signed)
                current = ChainHead(seq=event.seq, hash=signed.hash)
                placed[signed.hash] = Stored(device_id, signed.hash, event.seq)
            else:
                continue
            remaining.remove(signed)
            changed = True
    result.head = current
    result.waiting = sorted(signed.event.event_id for signed in remaining)
    if remaining:
        first_waiting = min(signed.event.seq for signed in remaining)
        result.missing = list(range(current.seq + 1, min(first_waiting, current.seq + 1 + max_missing)))
    result.replayed.sort()
    return result


def clock_flags(*, device_time: int, server_time: int, previous_device_time: int | None, enrolled_at: int) -> list[str]:
    """Why a device's clock reading is suspect (empty when it is plausible); the server's time is authoritative."""
    flags = []
    if device_time > server_time + CLOCK_AHEAD_TOLERANCE_S:
        flags.append("device_clock_ahead")
    if device_time < enrolled_at - CLOCK_AHEAD_TOLERANCE_S:
        flags.append("device_clock_before_enrolment")
    if previous_device_time is not None and device_time < previous_device_time - CLOCK_AHEAD_TOLERANCE_S:
        flags.append("device_clock_backwards")
    return flags


def next_event(
    after: ChainHead,
    *,
    event_id: uuid.UUID,
    device_id: uuid.UUID,
    card_id: str,
    programme: str,
    cycle: str,
    quantity: int,
    device_time: int,
    manifest_version: int,
    flags: Iterable[str] = (),
) -> Redemption:
    """The device's next event after the tip `after` (`ChainHead()` for its first): number and link filled in."""
    return Redemption(
        event_id=event_id,
        device_id=device_id,
        seq=after.seq + 1,
        prev_hash=after.hash,
        card_id=card_id,
        programme=programme,
        cycle=cycle,
        quantity=quantity,
        device_time=device_time,
        manifest_version=manifest_version,
        flags=tuple(sorted(set(flags))),
    )


_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def receipt_code(event_hash_bytes: bytes) -> str:
    """The short code on a beneficiary's receipt: 40 bits of the event's hash in Crockford base32, `XXXX-XXXX`."""
    value = int.from_bytes(event_hash_bytes[:5], "big")
    text = "".join(_CROCKFORD[(value >> shift) & 31] for shift in range(35, -1, -5))
    return f"{text[:4]}-{text[4:]}"


def normalise_receipt_code(text: str) -> str | None:
    """A typed receipt code in its canonical form (O→0, I/L→1, no separators, any case), or None if it is not one."""
    cleaned = text.strip().upper().replace("-", "").replace(" ", "").translate(str.maketrans("OIL", "011"))
    if len(cleaned) != 8 or any(ch not in _CROCKFORD for ch in cleaned):
        return None
    return f"{cleaned[:4]}-{cleaned[4:]}"
