"""Use cases of distribution: points, devices, escrow, manifests, sync ingest, cases and reconciliation.

Services flush and never commit: the boundary commits, and a sync is acknowledged only after that commit.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from sqlalchemy.orm import Session

from carnet.access.repository import user_by_username
from carnet.audit.service import CohortDigest, record_change, record_cohort_access
from carnet.audit.store_keys import require_store_passphrase
from carnet.credentials import cbor_guard
from carnet.credentials import service as cards
from carnet.credentials.cose import VerifierKey, dumps_deterministic
from carnet.credentials.keyset import cose_key_set
from carnet.distribution import repository as repo
from carnet.distribution.device_auth import claimed_device, verify_request
from carnet.distribution.events import (
    ChainHead,
    EventError,
    SignedEvent,
    Stored,
    admit,
    clock_flags,
    decode_event,
    normalise_receipt_code,
    receipt_code,
    verify_event,
)
from carnet.distribution.manifest import EscrowEntry, Manifest, Policy, delta, encode_manifest
from carnet.distribution.models import (
    POINT_KINDS,
    Device,
    DeviceSync,
    DistributionCase,
    DistributionKey,
    EnrolmentCode,
    ManifestIssue,
    Point,
    PointCatchment,
    PointOperator,
    PointProgram,
    Redemption,
)
from carnet.distribution.pin_tag import PinCheck, check_from_hash
from carnet.distribution.protocol import code_hash, device_refusal, enrolment_message, format_code, next_state
from carnet.kit import signing
from carnet.kit.actor import Actor
from carnet.kit.errors import AppError, Conflict, FieldError, Forbidden, NotFound, ValidationFailed
from carnet.kit.ids import uuid7
from carnet.programs.service import get_program

MAX_BATCH = 5000
_POINT_CODE_CHARS = set("abcdefghijklmnopqrstuvwxyz0123456789-_")


def _identity(actor: Actor) -> str:
    return f"{actor.role}:{actor.user_id}" if actor.user_id else actor.role


def _invalid(field: str, code: str, message: str) -> ValidationFailed:
    return ValidationFailed(message, [FieldError(field, code, message)], code=code)


# Points
def add_point(
    session: Session,
    *,
    actor: Actor,
    code: str,
    name: str,
    kind: str,
    municipality: str,
    programmes: dict[str, int],
    catchment: Sequence[str],
    operators: Sequence[str],
    now: datetime,
) -> dict[str, Any]:
    """Create a point serving programmes (with their exception caps) for the households of its catchment."""
    where = f"point {code!r}"
    if not code or len(code) > 48 or set(code) - _POINT_CODE_CHARS:
        raise _invalid("code", "point_code_invalid", f"{where}: lower-case letters, digits, - and _ (at most 48)")
    if not name.strip() or len(name) > 120:
        raise _invalid("name", "point_name_invalid", f"{where}: a name of 1 to 120 characters")
    if kind not in POINT_KINDS:
        raise _invalid("kind", "point_kind_invalid", f"{where}: kind is one of {', '.join(POINT_KINDS)}")
    if repo.point_by_code(session, code) is not None:
        raise Conflict(f"{where} already exists", code="point_exists")
    for region in [municipality, *catchment]:
        if repo.municipality(session, region) is None:
            raise _invalid("municipality", "municipality_unknown", f"{where}: {region!r} is not a municipality code")
    if not programmes:
        raise _invalid("programmes", "point_programmes_missing", f"{where}: serves at least one programme")
    point = Point(id=uuid7(), code=code, name=name.strip(), kind=kind, municipality_code=municipality, status="active",
                  created_at=now)  # fmt: skip
    session.add(point)
    session.flush()
    for programme, cap in sorted(programmes.items()):
        if cap < 0:
            raise _invalid("programmes", "exception_cap_invalid", f"{where}: {programme} exceptions must be ≥ 0")
        session.add(PointProgram(point_id=point.id, program_id=get_program(session, programme).id, exception_cap=cap))
    for region in sorted(set(catchment) or {municipality}):
        session.add(PointCatchment(point_id=point.id, municipality_code=region))
    for username in sorted(set(operators)):
        user = user_by_username(session, username)
        if user is None or user.role != "agent":
            raise _invalid("operators", "operator_not_agent", f"{where}: {username!r} is not an agent account")
        session.add(PointOperator(point_id=point.id, user_id=user.id))
    session.flush()
    served = sorted(set(catchment) or {municipality})
    record_change(session, actor=actor, what="distribution.point_added",
                  details={"point": code, "programmes": programmes, "catchment": served,
                           "operators": sorted(set(operators))}, now=now)  # fmt: skip
    return point_view(session, point)


def point_view(session: Session, point: Point) -> dict[str, Any]:
    """A point as the API and CLI show it."""
    details = repo.point_details(session, [point.id])[point.id]
    return {"id": point.id, "code": point.code, "name": point.name, "kind": point.kind,
            "municipality": point.municipality_code, "status": point.status, **details}  # fmt: skip


def list_points(session: Session, *, actor: Actor) -> list[dict[str, Any]]:
    """Every point, or for an agent the points they work at."""
    found = repo.points(session, operator=actor.user_id if actor.role == "agent" else None)
    details = repo.point_details(session, [p.id for p in found])
    return [{"id": p.id, "code": p.code, "name": p.name, "kind": p.kind, "municipality": p.municipality_code,
             "status": p.status, **details[p.id]} for p in found]  # fmt: skip


def find_point(session: Session, *, actor: Actor, ref: str) -> Point:
    """A point by code or id that the actor may act on (an agent only their own)."""
    point = repo.point_by_code(session, ref)
    if point is None:
        try:
            point = repo.point(session, uuid.UUID(ref))
        except ValueError:
            point = None
    if point is None or (actor.role == "agent" and not repo.is_operator(session, point.id, actor.user_id)):
        raise NotFound(f"no point {ref!r}", code="point_not_found")
    return point


# Devices and enrolment
def issue_enrolment_code(
    session: Session, *, actor: Actor, point_ref: str, ttl_seconds: int, now: datetime,
    random_bytes: Callable[[int], bytes] = secrets.token_bytes,
) -> dict[str, Any]:  # fmt: skip
    """A one-time code that enrols one device at the point; shown once, only its hash is kept."""
    point = find_point(session, actor=actor, ref=point_ref)
    if point.status != "active":
        raise Conflict(f"point {point.code} is closed", code="point_closed")
    code = format_code(random_bytes(8))
    expires = now + timedelta(seconds=ttl_seconds)
    session.add(EnrolmentCode(id=uuid7(), point_id=point.id, code_hash=code_hash(code), created_at=now,
                              expires_at=expires, created_by=_identity(actor)))  # fmt: skip
    session.flush()
    record_change(session, actor=actor, what="distribution.enrolment_code_issued",
                  details={"point": point.code, "expires_at": expires.isoformat()}, now=now)  # fmt: skip
    return {"code": code, "point": point.code, "expires_at": expires}


def _distribution_key(session: Session, *, passphrase: str | None, now: datetime) -> tuple[DistributionKey, Any]:
    passphrase = require_store_passphrase(session, passphrase=passphrase, now=now)
    record = repo.active_distribution_key(session)
    if record is None:
        key = signing.generate()
        record = DistributionKey(kid=key.kid, public_key=key.public_raw, private_pem=signing.encrypt(key, passphrase),
                                 created_at=now)  # fmt: skip
        session.add(record)
        session.flush()
        return record, key
    return record, signing.decrypt(record.private_pem, passphrase)


def trusted_keys(session: Session) -> bytes:
    """The COSE_KeySet of the manifest-signing keys, as a device trusts them."""
    return cose_key_set([VerifierKey.from_public(k.public_key) for k in repo.distribution_keys(session)])


def enrol_device(
    session: Session,
    *,
    code: str,
    public_key: bytes,
    box_key: bytes,
    signature: bytes,
    label: str | None,
    passphrase: str | None,
    now: datetime,
) -> dict[str, Any]:
    """Enrol a device with a one-time code and proof that it holds its key; its id, point and trusted keys."""
    message = enrolment_message(code, public_key, box_key)
    found = repo.enrolment_code(session, code_hash(code))
    # One answer for unknown, used and expired codes: a guesser learns nothing about which codes exist.
    if found is None or found.used_at is not None or found.expires_at <= now:
        raise AppError(message="this enrolment code is unknown, used or expired", code="enrolment_code_invalid",
                       status=403)  # fmt: skip
    if not signing.verify(public_key, message, signature):
        raise AppError(message="the enrolment proof does not verify with the device key",
                       code="enrolment_proof_invalid", status=403)  # fmt: skip
    if repo.device_by_key(session, public_key) is not None:
        raise Conflict("a device with this key is already enrolled", code="device_key_reused")
    if label is not None and len(label) > 120:
        raise _invalid("label", "device_label_invalid", "a device label has at most 120 characters")
    _distribution_key(session, passphrase=passphrase, now=now)  # made before the first manifest needs it
    device = Device(id=uuid7(), point_id=found.point_id, label=label, public_key=public_key, box_key=box_key,
                    state="active", compromised=False, enrolled_at=now, chain_seq=0, chain_hash=bytes(32))  # fmt: skip
    session.add(device)
    found.used_at, found.device_id = now, device.id
    session.flush()
    point = repo.point(session, found.point_id)
    assert point is not None
    device_actor = Actor(user_id=None, role="device", request_id=str(device.id), purpose="distribution",
                         office=point.code)  # fmt: skip
    record_change(session, actor=device_actor, what="distribution.device_enrolled",
                  details={"point": point.code, "device": str(device.id), "key": signing.key_id(public_key)},
                  now=now)  # fmt: skip
    return {"device": str(device.id), "point": str(point.id), "point_code": point.code, "point_name": point.name,
            "trusted": trusted_keys(session), "server_time": int(now.timestamp())}  # fmt: skip


def device_view(device: Device, point_code: str) -> dict[str, Any]:
    """A device as the API and CLI show it."""
    return {"id": device.id, "point": point_code, "label": device.label, "state": device.state,
            "compromised": device.compromised, "enrolled_at": device.enrolled_at, "last_sync_at": device.last_sync_at,
            "events": device.chain_seq, "key": signing.key_id(device.public_key)}  # fmt: skip


def list_devices(session: Session, *, actor: Actor, point_ref: str | None) -> list[dict[str, Any]]:
    """Devices of one point, or of every point the actor may see."""
    points = {p.id: p.code for p in repo.points(session, operator=actor.user_id if actor.role == "agent" else None)}
    if point_ref is not None:
        point = find_point(session, actor=actor, ref=point_ref)
        found = repo.devices(session, point.id)
    else:
        found = [d for d in repo.devices(session) if d.point_id in points]
    return [device_view(d, points.get(d.point_id, "")) for d in found]


def change_device(
    session: Session, *, actor: Actor, device_id: uuid.UUID, action: str, reason: str | None, now: datetime
) -> dict[str, Any]:
    """Suspend (lost), resume (found) or retire a device; an agent may do it only at their own point."""
    device = repo.device(session, device_id, lock=True)
    if device is None:
        raise NotFound(f"no device {device_id}", code="device_not_found")
    point = repo.point(session, device.point_id)
    assert point is not None
    if actor.role == "agent":
        if not repo.is_operator(session, point.id, actor.user_id):
            raise NotFound(f"no device {device_id}", code="device_not_found")
        if action != "suspend":
            raise Forbidden("an agent may report a device lost; an officer resumes or retires it",
                            code="permission_denied")  # fmt: skip
    if action == "resume" and device.compromised:
        raise Conflict("this device sent a forked history: retire it and enrol a new one", code="device_compromised")
    old = device.state
    device.state, device.state_reason, device.state_changed_at = next_state(old, action), reason, now
    session.flush()
    record_change(session, actor=actor, what=f"distribution.device_{action}",
                  details={"device": str(device.id), "point": point.code, "from": old, "to": device.state,
                           "reason": reason}, now=now)  # fmt: skip
    return device_view(device, point.code)


def authenticate_device(
    session: Session, *, header: str | None, method: str, path: str, body: bytes, now: datetime, lock: bool = False
) -> Device:
    """The device that signed this request; refused when the signature, its age or the device's state is wrong."""
    device = repo.device(session, claimed_device(header), lock=lock)
    if device is None:
        raise AppError(message="no such device", code="device_unauthenticated", status=401)
    verify_request(header, method=method, path=path, body=body, public_key=device.public_key, now=int(now.timestamp()))
    return device


def require_active(device: Device) -> None:
    """Refuse a suspended or retired device."""
    refusal = device_refusal(device.state)
    if refusal is not None:
        raise refusal


# Escrow
def assign_escrow(
    session: Session, *, actor: Actor, cycle: str, now: datetime, run_id: uuid.UUID | None = None
) -> dict[str, int]:
    """Give every published, unassigned entitlement of the cycle to its default point; count those with none."""
    rows = repo.unassigned_entitlements(session, cycle=cycle, run_id=run_id)
    by = _identity(actor)
    placed = [{"id": uuid.uuid4(), "entitlement_id": r.id, "point_id": r.point_id, "program_id": r.program_id,
               "cycle": r.cycle, "assigned_at": now, "assigned_by": by}
              for r in rows if r.point_id is not None]  # fmt: skip
    assigned = 0
    for start in range(0, len(placed), 10_000):
        assigned += repo.insert_escrow(session, placed[start : start + 10_000])
    result = {"assigned": assigned, "without_point": len(rows) - len(placed)}
    if rows:
        record_change(session, actor=actor, what="distribution.escrow_assigned",
                      details={"cycle": cycle, "run": str(run_id) if run_id else None, **result}, now=now)  # fmt: skip
    return result


def reassign_escrow(
    session: Session, *, actor: Actor, escrow_id: uuid.UUID, point_ref: str, reason: str, now: datetime
) -> dict[str, Any]:
    """Move an entitlement to another point (online, logged); what is already redeemed stays counted."""
    found = repo.escrow_of_entitlement(session, escrow_id)
    if found is None:
        raise NotFound(f"no escrow {escrow_id}", code="escrow_not_found")
    escrow, programme = found[0], found[1]
    point = find_point(session, actor=actor, ref=point_ref)
    if programme not in repo.exception_caps(session, point.id):
        raise Conflict(f"point {point.code} does not serve {programme}", code="point_programme_missing")
    if not reason.strip():
        raise _invalid("reason", "reason_required", "say why the entitlement moves")
    old = repo.point(session, escrow.point_id)
    escrow.point_id = point.id
    session.flush()
    record_change(session, actor=actor, what="distribution.escrow_moved",
                  details={"escrow": str(escrow_id), "from": old.code if old else None, "to": point.code,
                           "reason": reason}, now=now)  # fmt: skip
    return {"escrow": escrow_id, "point": point.code, "programme": programme, "cycle": escrow.cycle}


# Manifests
@dataclass(frozen=True)
class ManifestPolicy:
    """How long manifests live and how points treat a stale status list."""

    ttl_seconds: int = 7 * 86400
    stale_after: int = 3 * 86400
    stale_action: str = "flag"


def manifest_policy_from(settings: Any) -> ManifestPolicy:
    """The manifest policy of a Settings object."""
    return ManifestPolicy(ttl_seconds=settings.manifest_ttl_seconds, stale_after=settings.point_stale_after_seconds,
                          stale_action=settings.point_stale_action)  # fmt: skip


def _cycle_start(cycle: str) -> datetime:
    return datetime(int(cycle[:4]), int(cycle[5:]), 1, tzinfo=UTC)


def _cycle_end(cycle: str) -> datetime:
    year, month = int(cycle[:4]), int(cycle[5:])
    return datetime(year + month // 12, month % 12 + 1, 1, tzinfo=UTC)


def _snapshot(escrow: dict[uuid.UUID, EscrowEntry], pins: dict[bytes, PinCheck]) -> bytes:
    document = {
        "escrow": [[k.bytes, e.programme, e.remaining, list(e.cards)] for k, e in sorted(escrow.items())],
        "pins": [
            [card, p.salt, p.memory_kib, p.passes, p.lanes, p.hash_len, p.tag] for card, p in sorted(pins.items())
        ],
    }
    return dumps_deterministic(document)


def _read_snapshot(data: bytes) -> tuple[dict[uuid.UUID, EscrowEntry], dict[bytes, PinCheck]]:
    document = cbor_guard.loads(zlib.decompress(data), max_depth=4, max_items=50_000_000)
    escrow = {uuid.UUID(bytes=k): EscrowEntry(uuid.UUID(bytes=k), p, r, tuple(c)) for k, p, r, c in document["escrow"]}
    pins = {row[0]: PinCheck(*row[1:]) for row in document["pins"]}
    return escrow, pins


def current_escrow(session: Session, *, point_id: uuid.UUID, cycle: str
                   ) -> tuple[dict[uuid.UUID, EscrowEntry], dict[bytes, PinCheck], set[int]]:  # fmt: skip
    """What a point holds now: its entries with what is left, the PIN checks of their cards, their status lists."""
    cards_of: dict[uuid.UUID, list[bytes]] = {}
    pins: dict[bytes, PinCheck] = {}
    for escrow_id, card_id, pin_hash in repo.escrow_cards(session, point_id=point_id, cycle=cycle):
        cards_of.setdefault(escrow_id, []).append(card_id.bytes)
        if card_id.bytes not in pins:
            pins[card_id.bytes] = check_from_hash(card_id.hex, pin_hash)
    escrow = {}
    for escrow_id, programme, quantity, used in repo.escrow_state(session, point_id=point_id, cycle=cycle):
        held = sorted(cards_of.get(escrow_id, ()))
        if held:  # an entitlement whose unit has no active card cannot be redeemed anywhere yet
            escrow[escrow_id] = EscrowEntry(escrow_id, programme, max(int(quantity) - int(used), 0), tuple(held))
    lists = repo.status_lists_of_cards(session, [uuid.UUID(bytes=c) for c in pins])
    return escrow, pins, lists


def manifest_for(
    session: Session,
    *,
    device: Device,
    cycle: str,
    since: int,
    policy: ManifestPolicy,
    card_policy: Any,
    passphrase: str | None,
    now: datetime,
) -> bytes | None:
    """The device's next manifest for the cycle (a delta from `since` when it holds that version); None if unchanged."""
    require_active(device)
    cycle_end = _cycle_end(cycle)
    if cycle_end <= now:
        raise Conflict(f"cycle {cycle} has ended", code="cycle_ended")
    escrow, pins, lists = current_escrow(session, point_id=device.point_id, cycle=cycle)
    snapshot = _snapshot(escrow, pins)
    digest = hashlib.sha256(snapshot + device.chain_seq.to_bytes(8, "big")).digest()
    last = repo.last_manifest(session, device.id, cycle)
    if last is not None and since == last.version and last.digest == digest and last.not_after > now:
        return None
    version = (last.version if last else 0) + 1
    base_issue = repo.manifest_issue(session, device.id, cycle, since) if since else None
    if base_issue is not None:
        old_escrow, old_pins = _read_snapshot(base_issue.snapshot)
        entries, dropped, new_pins = delta(old_escrow, escrow, old_pins, pins)
        base = since
    else:
        entries, dropped, new_pins, base = tuple(escrow[k] for k in sorted(escrow)), (), pins, 0
    key_record, key = _distribution_key(session, passphrase=passphrase, now=now)
    tokens = [cards.status_list_token(session, list_id=list_id, policy=card_policy, passphrase=passphrase, now=now)
              for list_id in sorted(lists)]  # fmt: skip
    # A manifest pulled ahead of its cycle starts with the cycle, and lives its time-to-live from then.
    not_after = min(max(now, _cycle_start(cycle)) + timedelta(seconds=policy.ttl_seconds), cycle_end)
    issued = int(now.timestamp())
    manifest = Manifest(
        point_id=device.point_id, device_id=device.id, cycle=cycle, version=version, base=base, issued_at=issued,
        not_before=max(issued - 300, int(_cycle_start(cycle).timestamp())), not_after=int(not_after.timestamp()),
        through=device.chain_seq, escrow=entries,
        dropped=dropped, pins=new_pins, status_lists=tuple(tokens),
        issuer_keys=cards.published_key_set(session, now=now, form="cose"),  # type: ignore[arg-type]
        policy=Policy(stale_after=policy.stale_after, stale_action=policy.stale_action,
                      exceptions=repo.exception_caps(session, device.point_id)),
    )  # fmt: skip
    data = encode_manifest(manifest, kid=VerifierKey.from_public(key_record.public_key).kid, sign=key.sign,
                           device_box_key=device.box_key, ephemeral=X25519PrivateKey.generate(),
                           nonce=secrets.token_bytes(12))  # fmt: skip
    session.add(ManifestIssue(device_id=device.id, cycle=cycle, version=version, base=base, issued_at=now,
                              not_after=not_after, through=device.chain_seq, digest=digest,
                              snapshot=zlib.compress(snapshot, 6)))  # fmt: skip
    session.flush()
    return data


# Sync ingest
@dataclass
class _Decided:
    signed: SignedEvent
    chain: str
    answer: str
    flags: list[str]
    cases: list[tuple[str, dict[str, Any]]]
    person_id: uuid.UUID | None = None
    escrow_id: uuid.UUID | None = None
    counted: bool = False
    exception: bool = False
    value: int = 0
    cash: bool = False


def _stored(row: Any) -> Stored:
    return Stored(device_id=row.device_id, hash=bytes(row.hash), seq=row.seq, forked=row.chain != "accepted")


def ingest_events(session: Session, *, device: Device, blobs: Sequence[bytes], now: datetime) -> dict[str, Any]:
    """Admit one batch of a device's signed events; the answer the device gets once the caller commits.

    Every well-signed event is stored exactly once whatever happens to it: beyond its entitlement, from a
    suspended device, or on a forked chain it is flagged and opens a case, never dropped. A replay gets its
    first answer again; the same id with other content is `event_conflict`; events after a gap wait.
    """
    if len(blobs) > MAX_BATCH:
        raise _invalid("events", "sync_batch_too_large", f"at most {MAX_BATCH} events per request")
    server_time = int(now.timestamp())
    point = repo.point(session, device.point_id)
    assert point is not None
    refused: dict[str, str] = {}
    verified: list[SignedEvent] = []
    for index, data in enumerate(blobs):
        try:
            verified.append(verify_event(data, device_id=device.id, public_raw=device.public_key))
        except EventError as exc:
            refused[_event_name(data, index)] = exc.code
    held_ids = repo.stored_by_id(session, [s.event.event_id for s in verified])
    # A previous hash that names an event of this batch not held yet needs no look-up: that event's bytes
    # (its id among them) are new, so no stored event has its hash. At 1,000 events, 999 look-ups saved.
    made_here = {s.hash for s in verified if s.event.event_id not in held_ids}
    unknown = [s.event.prev_hash for s in verified if s.event.prev_hash not in made_here]
    held_hashes = repo.stored_by_hash(session, unknown)
    admission = admit(
        ChainHead(seq=device.chain_seq, hash=bytes(device.chain_hash)),
        verified,
        device_id=device.id,
        by_id=lambda event_id: _stored(held_ids[event_id]) if event_id in held_ids else None,
        by_hash=lambda digest: _stored(held_hashes[digest]) if digest in held_hashes else None,
    )
    acknowledged = [{"id": str(event_id), "answer": held_ids[event_id].answer} for event_id in admission.replayed]
    refused.update({str(event_id): code for event_id, code in admission.conflicts.items()})
    suspended = device.state != "active"
    decided = [_Decided(s, "accepted", "accepted", [], []) for s in admission.accepted]
    decided += [_Decided(s, "forked", "forked", ["chain_forked"], [("chain_forked", {})]) for s in admission.forked]
    if suspended:
        for item in decided:
            item.chain, item.answer = "refused", f"device_{device.state}"
            item.cases.append(("device_suspended", {"state": device.state}))
    _match_entitlements(session, device, point.id, decided, server_time)
    sync = DeviceSync(id=uuid7(), device_id=device.id, received_at=now, received=len(blobs),
                      accepted=len(admission.accepted), forked=len(admission.forked), replayed=len(admission.replayed),
                      refused=len(refused), waiting=len(admission.waiting),
                      cases=sum(len(d.cases) for d in decided))  # fmt: skip
    session.add(sync)
    session.flush()
    rows, case_rows = [], []
    previous_time = device.last_device_time
    for item in sorted(decided, key=lambda d: (d.signed.event.seq, d.signed.event.event_id)):
        event = item.signed.event
        flags = sorted(set(event.flags) | set(item.flags) | set(clock_flags(
            device_time=event.device_time, server_time=server_time, previous_device_time=previous_time,
            enrolled_at=int(device.enrolled_at.timestamp()))))  # fmt: skip
        if item.chain == "accepted":
            previous_time = event.device_time
        rows.append({
            "event_id": event.event_id, "device_id": device.id, "point_id": point.id, "sync_id": sync.id,
            "seq": event.seq, "hash": item.signed.hash, "prev_hash": event.prev_hash, "data": item.signed.data,
            "chain": item.chain, "answer": item.answer, "card_id": uuid.UUID(hex=event.card_id),
            "program_code": event.programme, "cycle": event.cycle, "quantity": event.quantity,
            "device_time": event.device_time, "received_at": now, "manifest_version": event.manifest_version,
            "flags": flags, "person_id": item.person_id, "escrow_id": item.escrow_id, "counted": item.counted,
            "exception": item.exception, "value": item.value,
            "settlement": "pending" if item.counted and item.cash else "none",
        })  # fmt: skip
        for kind, detail in item.cases:
            case_rows.append({"id": uuid7(), "event_id": event.event_id, "kind": kind, "point_id": point.id,
                              "program_code": event.programme, "cycle": event.cycle, "status": "open",
                              "detail": {**detail, "device": str(device.id), "seq": event.seq},
                              "opened_at": now})  # fmt: skip
        if item.answer in ("accepted", "forked"):
            acknowledged.append({"id": str(event.event_id), "answer": item.answer})
        else:
            refused[str(event.event_id)] = item.answer
    repo.insert_rows(session, Redemption, rows)
    repo.insert_rows(session, DistributionCase, case_rows)
    repo.set_chain_head(session, device.id, seq=admission.head.seq, digest=admission.head.hash,
                        device_time=previous_time, compromised=bool(admission.forked), now=now)  # fmt: skip
    people = sorted({row["person_id"] for row in rows if row["person_id"] is not None})  # this sync's persons
    if people:
        digest = CohortDigest()
        digest.add(people)
        device_actor = Actor(user_id=None, role="device", request_id=str(sync.id), purpose="distribution",
                             office=point.code)  # fmt: skip
        record_cohort_access(session, actor=device_actor, action="create", cohort_ref=f"sync:{sync.id}",
                             cohort=digest, fields=["redemptions"], now=now)  # fmt: skip
    session.flush()
    return {"sync": str(sync.id), "acknowledged": acknowledged, "conflicts": refused,
            "waiting": [str(e) for e in admission.waiting], "missing": admission.missing,
            "head": admission.head.seq, "server_time": server_time}  # fmt: skip


def _event_name(data: bytes, index: int) -> str:
    try:
        return str(decode_event(data).event.event_id)
    except (EventError, AppError):
        return f"#{index}"


def _match_entitlements(
    session: Session, device: Device, point_id: uuid.UUID, decided: list[_Decided], server_time: int
) -> None:
    """Set each event's person, escrowed entitlement and whether it counts; open the cases it needs.

    Set-based: one query each for the cards, the escrow of their persons and households, what is already
    counted, the point's exceptions and its manifests; then the batch is walked in chain order.
    """
    if not decided:
        return
    card_ids = sorted({uuid.UUID(hex=d.signed.event.card_id) for d in decided})
    holders = repo.cards_with_holders(session, card_ids)
    units = sorted({u for h in holders.values() for u in (h.person_id, h.household_id) if u is not None})
    cycles = sorted({d.signed.event.cycle for d in decided})
    candidates: dict[tuple[uuid.UUID, str, str], Any] = {}
    for row in repo.escrow_for_units(session, units, cycles):
        candidates[(row.unit_id, row.code, row.cycle)] = row
    counted = repo.counted_totals(session, [row.id for row in candidates.values()])
    exceptions = repo.exceptions_counted(session, point_id, cycles)
    caps = repo.exception_caps(session, point_id)
    windows = repo.manifest_windows(session, device.id)
    cash = repo.cash_programmes(session, sorted({d.signed.event.programme for d in decided}))
    for item in sorted(decided, key=lambda d: (d.signed.event.seq, d.signed.event.event_id)):
        event = item.signed.event
        holder = holders.get(uuid.UUID(hex=event.card_id))
        if holder is None:
            item.cases.append(("card_unknown", {}))
            continue
        item.person_id = holder.person_id
        when = min(event.device_time, server_time)
        if holder.revoked_at is not None and holder.revoked_at.timestamp() < when:
            item.cases.append(("card_revoked", {"revoked_at": holder.revoked_at.isoformat()}))
        window = windows.get((event.cycle, event.manifest_version))
        if "manifest_expired" in event.flags or (window is not None and event.device_time >= window.timestamp()):
            item.cases.append(("manifest_expired", {"manifest": event.manifest_version}))
        row = candidates.get((holder.person_id, event.programme, event.cycle)) or candidates.get(
            (holder.household_id, event.programme, event.cycle)
        )
        if row is None:
            item.cases.append(("not_entitled", {}))
            continue
        item.escrow_id = row.id
        if item.chain != "accepted":
            continue  # forked or refused: stored and flagged, never counted
        away = row.point_id != point_id
        if away:
            item.exception = True
            key = (event.programme, event.cycle)
            if "exception" not in event.flags:
                item.cases.append(("wrong_point", {}))
            elif exceptions.get(key, 0) >= caps.get(event.programme, 0):
                item.cases.append(("exception_over_cap", {"cap": caps.get(event.programme, 0)}))
        used = counted.get(row.id, 0)
        if used + event.quantity > row.quantity:
            item.cases.append(("over_entitlement", {"entitled": int(row.quantity), "already": used}))
            continue
        blocking = {"card_revoked", "manifest_expired", "wrong_point", "exception_over_cap"}
        if any(kind in blocking for kind, _ in item.cases):
            continue
        item.counted = True
        counted[row.id] = used + event.quantity
        if item.exception:
            # Only counted exceptions use the point's slots, as in `exceptions_counted`: an uncounted one
            # earlier in the same batch must not cost a later one its slot (batching changes no decision).
            exceptions[(event.programme, event.cycle)] = exceptions.get((event.programme, event.cycle), 0) + 1
        item.value = int(row.value) * event.quantity // max(int(row.quantity), 1)
        item.cash = event.programme in cash


# Cases
def list_cases(session: Session, *, cycle: str | None, status: str | None, point_ref: str | None, actor: Actor,
               limit: int = 500) -> list[dict[str, Any]]:  # fmt: skip
    """Cases for the programme officer, newest first."""
    point_id = find_point(session, actor=actor, ref=point_ref).id if point_ref else None
    return [case_view(c, code) for c, code in repo.cases(session, cycle=cycle, status=status, point_id=point_id,
                                                           limit=limit)]  # fmt: skip


def case_view(case: DistributionCase, point_code: str) -> dict[str, Any]:
    """A case as the API and CLI show it."""
    return {"id": case.id, "kind": case.kind, "point": point_code, "programme": case.program_code,
            "cycle": case.cycle, "status": case.status, "event": case.event_id, "detail": case.detail,
            "opened_at": case.opened_at, "closed_at": case.closed_at, "closed_by": case.closed_by,
            "resolution": case.resolution}  # fmt: skip


def close_case(session: Session, *, actor: Actor, case_id: uuid.UUID, resolution: str, now: datetime) -> dict[str, Any]:
    """Close a case with what the officer found and did; the redemption itself is never changed."""
    found = repo.case(session, case_id)
    if found is None:
        raise NotFound(f"no case {case_id}", code="case_not_found")
    if found.status == "closed":
        raise Conflict(f"case {case_id} is already closed", code="case_closed")
    if not resolution.strip() or len(resolution) > 400:
        raise _invalid("resolution", "resolution_required", "say what was found and done (at most 400 characters)")
    found.status, found.closed_at, found.closed_by, found.resolution = "closed", now, _identity(actor), resolution
    session.flush()
    record_change(session, actor=actor, what="distribution.case_closed",
                  details={"case": str(case_id), "kind": found.kind, "resolution": resolution}, now=now)  # fmt: skip
    point = repo.point(session, found.point_id)
    return case_view(found, point.code if point else "")


# Reconciliation
def reconciliation(session: Session, *, cycle: str, now: datetime) -> dict[str, Any]:
    """Per point and programme: entitled, redeemed, exceptions, open cases; devices and how long since they synced."""
    codes = {p.id: p for p in repo.points(session)}
    lines: dict[tuple[uuid.UUID, str], dict[str, Any]] = {}

    def line(point_id: uuid.UUID, programme: str) -> dict[str, Any]:
        point = codes[point_id]
        return lines.setdefault((point_id, programme), {"point": point.code, "name": point.name, "programme": programme,
                                                        "entitlements": 0, "entitled": 0, "events": 0, "redeemed": 0,
                                                        "exceptions": 0, "uncounted": 0, "open_cases": 0})  # fmt: skip

    for point_id, programme, count, quantity in repo.entitled_by_point(session, cycle):
        entry = line(point_id, programme)
        entry["entitlements"], entry["entitled"] = int(count), int(quantity or 0)
    for point_id, programme, events, redeemed, exceptions, uncounted in repo.redeemed_by_point(session, cycle):
        entry = line(point_id, programme)
        entry.update(events=int(events), redeemed=int(redeemed or 0), exceptions=int(exceptions or 0),
                     uncounted=int(uncounted or 0))  # fmt: skip
    for (point_id, programme), count in repo.open_cases_by_point(session, cycle).items():
        line(point_id, programme)["open_cases"] = count
    devices = [{"point": code, "device": str(device_id), "label": label, "state": state, "compromised": compromised,
                "last_sync_at": last,
                "hours_since_sync": None if last is None else round((now - last).total_seconds() / 3600, 1)}
               for device_id, label, state, compromised, last, code in repo.last_syncs(session)]  # fmt: skip
    return {"cycle": cycle, "lines": sorted(lines.values(), key=lambda e: (e["point"], e["programme"])),
            "unassigned": {code: int(n) for code, n in repo.unassigned_count(session, cycle)},
            "devices": devices}  # fmt: skip


# The person's view
def redemption_cohorts(session: Session, person_id: uuid.UUID) -> list[str]:
    """The syncs that recorded a person's hand-overs, as the cohort references of their access log."""
    return [f"sync:{sync_id}" for sync_id in repo.syncs_of_person(session, person_id)]


def redemptions_for_person(session: Session, person_id: uuid.UUID) -> list[dict[str, Any]]:
    """A person's hand-overs: where, what, when, and the receipt code they were given."""
    return [{"event": row.event_id, "at": row.received_at, "point": row.code, "point_name": row.name,
             "programme": row.program_code, "cycle": row.cycle, "quantity": int(row.quantity),
             "receipt": receipt_code(bytes(row.hash)), "flagged": row.chain != "accepted"}
            for row in repo.redemptions_of_person(session, person_id)]  # fmt: skip


def redemption_by_receipt(session: Session, code: str) -> Redemption | None:
    """The redemption a receipt code names (40 bits of its hash), if exactly one does."""
    canonical = normalise_receipt_code(code)
    if canonical is None:
        raise _invalid("code", "receipt_code_invalid", "a receipt code is XXXX-XXXX")
    value = 0
    for char in canonical.replace("-", ""):
        value = value << 5 | _CROCKFORD.index(char)
    found = [r for r in repo.redemptions_with_hash_prefix(session, value.to_bytes(5, "big"))
             if receipt_code(bytes(r.hash)) == canonical]  # fmt: skip
    return found[0] if len(found) == 1 else None


_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def busiest_municipalities(session: Session, *, cycle: str, programme: str, limit: int) -> list[str]:
    """Where a programme has the most entitlements in a cycle: where points are needed first."""
    return repo.busiest_municipalities(session, cycle=cycle, programme=programme, limit=limit)


def escrowed_cards(session: Session, *, point_code: str, cycle: str, limit: int) -> list[uuid.UUID]:
    """One card of each of the first entitlements a point holds (for the demo and for drills)."""
    point = repo.point_by_code(session, point_code)
    if point is None:
        raise NotFound(f"no point {point_code!r}", code="point_not_found")
    firsts: dict[uuid.UUID, uuid.UUID] = {}
    for escrow_id, card_id, _ in sorted(repo.escrow_cards(session, point_id=point.id, cycle=cycle)):
        firsts.setdefault(escrow_id, card_id)
    return [firsts[k] for k in sorted(firsts)[:limit]]


def pending_settlements(session: Session, *, limit: int = 8000) -> list[Any]:
    """Counted cash hand-overs whose wallet transfer is not yet in the ledger, oldest first."""
    return repo.pending_settlements(session, limit)


def mark_settled(session: Session, event_ids: Sequence[uuid.UUID]) -> None:
    """Record that the ledger holds the transfers of these hand-overs."""
    repo.mark_settled(session, event_ids)
