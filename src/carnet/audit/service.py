"""The one way to record access to personal data, and the audit log it feeds, in the caller's transaction."""

from __future__ import annotations

import hashlib
import json
import os
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import insert
from sqlalchemy.orm import Session

from carnet.audit import entries as audit_entries
from carnet.audit import repository as repo
from carnet.audit.merkle import (
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    nodes_completed_by,
    prefix_roots,
    root_of,
    stored_range_hash,
    verify_consistency,
)
from carnet.audit.models import AccessRecord, AuditKey, HeadWitness, TreeHead
from carnet.audit.store_keys import require_store_passphrase
from carnet.kit import signing
from carnet.kit.actor import Actor
from carnet.kit.errors import AppError, Conflict, NotFound

ACTIONS = ("read", "create", "update", "import")


def record_access(
    session: Session,
    *,
    actor: Actor,
    action: str,
    subject_type: str,
    subject_ids: Sequence[uuid.UUID],
    fields: Sequence[str],
    now: datetime,
    sealed_until: date | None = None,
) -> int:
    """Write one access record per subject, flushed in the caller's transaction; returns how many.

    `sealed_until` (for a lawful investigation) keeps who, why and what out of the log and out of the
    person's view until that date; the access itself is logged and shown as sealed at once.
    """
    if action not in ACTIONS:
        raise ValueError(f"unknown access action {action!r}")
    if not subject_ids:
        return 0
    base = _actor_columns(actor, now) | {
        "action": action,
        "subject_type": subject_type,
        "fields": sorted(fields),
    }
    if sealed_until is not None and sealed_until <= now.date():
        raise AppError("a seal must end after today", code="invalid_seal")
    seal = {"sealed_until": sealed_until, "seal_salt": os.urandom(16) if sealed_until else None}
    rows = [base | seal | {"subject_id": sid, "subject_salt": os.urandom(16)} for sid in subject_ids]
    seqs = session.execute(
        insert(AccessRecord.__table__).returning(AccessRecord.__table__.c.seq, sort_by_parameter_order=True), rows
    ).scalars()
    for row, seq in zip(rows, seqs, strict=True):
        row["seq"] = seq
    append_entries(session, [_access_item(row) for row in rows], now=now)
    return len(rows)


class CohortDigest:
    """SHA-256 over a cohort's member ids (16 bytes each) in ascending order, fed as they are found."""

    def __init__(self) -> None:
        self._hash = hashlib.sha256()
        self.size = 0
        self._last = b""

    def add(self, member_ids: Iterable[uuid.UUID]) -> None:
        """Add members; they must come in ascending order, each once."""
        self.add_bytes(member.bytes for member in member_ids)

    def add_bytes(self, member_ids: Iterable[bytes]) -> None:
        """Add members given as their 16 bytes (byte order is uuid order), ascending, each once."""
        for member in member_ids:
            if member <= self._last:
                raise ValueError("cohort member ids must be unique and in ascending order")
            self._hash.update(member)
            self._last = member
            self.size += 1

    def hexdigest(self) -> str:
        """The digest so far."""
        return self._hash.hexdigest()


def record_cohort_access(
    session: Session,
    *,
    actor: Actor,
    action: str,
    cohort_ref: str,
    cohort: CohortDigest,
    fields: Sequence[str],
    now: datetime,
) -> AccessRecord:
    """One record that commits to a whole cohort (its size and digest), for bulk operations."""
    record = AccessRecord(
        **_actor_columns(actor, now),
        action=action,
        subject_type="cohort",
        subject_id=None,
        fields=sorted(fields),
        cohort_ref=cohort_ref,
        cohort_size=cohort.size,
        cohort_digest=cohort.hexdigest(),
    )
    session.add(record)
    session.flush()
    row = {column.key: getattr(record, column.key) for column in AccessRecord.__table__.columns}
    append_entries(session, [_access_item(row)], now=now)
    return record


def record_change(session: Session, *, actor: Actor, what: str, details: dict[str, Any], now: datetime) -> int:
    """Log a change that matters for accountability; `details` must hold no personal data. Returns its leaf."""
    who = {"user": str(actor.user_id) if actor.user_id else None, "role": actor.role, "office": actor.office}

    def build(leaf: int) -> dict[str, Any]:
        return audit_entries.change_entry(leaf_index=leaf, what=what, details=details, actor=who, at=now)

    return append_entries(session, [("change", build, None)], now=now)


def record_history(
    session: Session, *, table: str, row: int | str, binding: str, values: dict[str, Any], now: datetime
) -> int:
    """Seal one row of a history table in the log (a digest per field, no values); returns its leaf.

    `binding` is the internal id the row is about; `values` are the row's columns as stored, so that
    `flows.history_check` can recompute every digest from the table and name the field that changed.
    """

    def build(leaf: int) -> dict[str, Any]:
        return audit_entries.history_entry(leaf_index=leaf, table=table, row=row, binding=binding, values=values,
                                           at=now)  # fmt: skip

    return append_entries(session, [("history", build, None)], now=now)


def history_entries(session: Session, table: str) -> dict[str, tuple[int, dict[str, Any]]]:
    """The history entries sealing rows of one table: row id → (leaf, entry)."""
    found: dict[str, tuple[int, dict[str, Any]]] = {}
    for leaf, body in repo.entries_of_type(session, "history"):
        entry = json.loads(body)
        if entry.get("table") == table:
            found.setdefault(str(entry.get("row")), (leaf, entry))
    return found


def change_entries(session: Session, what: str) -> list[tuple[int, dict[str, Any]]]:
    """The change entries of one kind (e.g. "program.run_published"), in leaf order, as (leaf, entry)."""
    out = []
    for leaf, body in repo.entries_of_type(session, "change"):
        entry = json.loads(body)
        if entry.get("what") == what:
            out.append((leaf, entry))
    return out


@dataclass(frozen=True)
class HistoryMismatch:
    """The first row of a table that a person or auditor reads as history and that its log entry contradicts."""

    table: str
    row: str
    field: str
    leaf: int | None

    @property
    def problem(self) -> str:
        """The mismatch in words."""
        where = f"entry {self.leaf}" if self.leaf is not None else "no log entry"
        return f"{self.table} row {self.row}: {self.field} differs from what the log holds ({where})"

    def as_dict(self) -> dict[str, Any]:
        """The mismatch as JSON-ready fields."""
        return {"table": self.table, "row": self.row, "field": self.field, "leaf": self.leaf, "problem": self.problem}


def _record_row(record: AccessRecord) -> dict[str, Any]:
    return {column.key: getattr(record, column.key) for column in AccessRecord.__table__.columns}


def access_record_mismatch(record: AccessRecord, entry: Any) -> str | None:
    """The column of an access record its log entry contradicts, "entry" when it has none, or None."""
    if entry is None:
        return "entry"
    body = bytes(entry.body)
    if leaf_hash(body) != bytes(entry.leaf_hash):
        return "entry"
    stored = json.loads(body)
    recomputed = audit_entries.access_entry(leaf_index=entry.leaf_index, record=_record_row(record))
    return audit_entries.access_mismatch(stored, json.loads(audit_entries.encode(recomputed)))


def verify_access_records(session: Session) -> HistoryMismatch | None:
    """Recompute every access record's log entry from the row and compare; the first that differs, named."""
    for record, entry in repo.stream_access_records(session):
        field = access_record_mismatch(record, entry)
        if field is not None:
            return HistoryMismatch("access_records", str(record.seq), field, entry.leaf_index if entry else None)
    return None


# The audit log
EntryItem = tuple[str, Callable[[int], dict[str, Any]], int | None]


def _access_item(row: dict[str, Any]) -> EntryItem:
    return ("access", lambda leaf: audit_entries.access_entry(leaf_index=leaf, record=row), row["seq"])


def append_entries(session: Session, items: list[EntryItem], *, now: datetime) -> int:
    """Append entries (type, builder of the entry for its leaf number, access seq) to the log; returns the first leaf.

    The leaf numbers are reserved under the log's lock, so concurrent transactions never share one;
    the nodes completed by the new leaves are stored, so roots and proofs stay O(log n).
    """
    if not items:
        return repo.log_size(session)
    first, frontier = repo.reserve_leaves(session, len(items))
    known = dict(zip(frontier_keys(first), (frontier[i : i + 32] for i in range(0, len(frontier), 32)), strict=True))
    entry_rows, node_rows = [], []
    for offset, (entry_type, build, access_seq) in enumerate(items):
        index = first + offset
        body = audit_entries.encode(build(index))
        leaf = leaf_hash(body)
        entry_rows.append(
            {"leaf_index": index, "entry_type": entry_type, "body": body, "leaf_hash": leaf,
             "access_seq": access_seq, "appended_at": now}
        )  # fmt: skip
        for level, position, value in nodes_completed_by(index, leaf, lambda lv, ps: known[(lv, ps)]):
            known[(level, position)] = value
            node_rows.append({"level": level, "position": position, "hash": value})
    repo.store_frontier(session, b"".join(known[key] for key in frontier_keys(first + len(items))))
    repo.insert_entries(session, entry_rows)
    repo.insert_nodes(session, node_rows)
    return first


def _with_stored_nodes(session: Session, compute: Callable[[Callable[[int, int], bytes]], Any]) -> Any:
    """Run `compute(range_hash)` over stored nodes, fetching every node it needs in one query."""
    wanted: list[tuple[int, int]] = []

    def record(level: int, position: int) -> bytes:
        wanted.append((level, position))
        return b"\0" * 32

    compute(stored_range_hash(record))  # first pass: learn which nodes the computation reads
    found = repo.nodes(session, sorted(set(wanted)))
    return compute(stored_range_hash(lambda level, position: found[(level, position)]))


def frontier_keys(size: int) -> list[tuple[int, int]]:
    """The (level, position) of the rightmost perfect subtrees of a tree of `size` leaves, largest first."""
    return [(level, (size >> level) - 1) for level in reversed(range(size.bit_length())) if (size >> level) & 1]


def log_root(session: Session, size: int | None = None) -> tuple[int, bytes]:
    """(size, root hash) of the log as stored, or of its first `size` leaves."""
    current = repo.log_size(session)
    size = current if size is None else size
    if not 0 <= size <= current:
        raise NotFound(f"the log holds {current} entries, not {size}", code="tree_size_unknown")
    return size, _with_stored_nodes(session, lambda range_hash: range_hash(0, size))


def inclusion_proof_for(session: Session, *, leaf_index: int, size: int) -> list[bytes]:
    """The audit path of an entry in the tree of the first `size` entries."""
    current = repo.log_size(session)
    if not 0 < size <= current:
        raise NotFound(f"the log holds {current} entries, not {size}", code="tree_size_unknown")
    if not 0 <= leaf_index < size:
        raise NotFound(f"entry {leaf_index} is not in the tree of {size} entries", code="entry_not_found")
    return _with_stored_nodes(session, lambda range_hash: inclusion_proof(leaf_index, size, range_hash))


def consistency_proof_for(session: Session, *, first: int, second: int) -> list[bytes]:
    """The proof that the log of `first` entries is a prefix of the log of `second`."""
    current = repo.log_size(session)
    if not 0 < first <= second <= current:
        raise NotFound(f"no consistency proof from {first} to {second} in a log of {current}", code="tree_size_unknown")
    return _with_stored_nodes(session, lambda range_hash: consistency_proof(first, second, range_hash))


def entry(session: Session, leaf_index: int) -> Any:
    """One log entry, or a 404."""
    found = repo.entry(session, leaf_index)
    if found is None:
        raise NotFound(f"the log has no entry {leaf_index}", code="entry_not_found")
    return found


def sign_head(session: Session, *, passphrase: str | None, now: datetime) -> TreeHead:
    """Sign the log's current size and root with the log's key (made on first use, stored encrypted)."""
    passphrase = require_store_passphrase(session, passphrase=passphrase, now=now)
    record = repo.log_key(session)
    if record is None:
        key = signing.generate()
        record = AuditKey(kid=key.kid, role="log", holder="carnet", public_key=key.public_raw,
                          private_pem=signing.encrypt(key, passphrase), created_at=now)  # fmt: skip
        session.add(record)
        session.flush()
    else:
        assert record.private_pem is not None
        key = signing.decrypt(record.private_pem, passphrase)
    size, root = log_root(session)
    message = audit_entries.tree_head_message(size=size, root=root, signed_at=now, kid=key.kid)
    head = TreeHead(size=size, root=root, signed_at=now, kid=key.kid, signature=key.sign(message))
    session.add(head)
    session.flush()
    return head


def rotate_log_key(
    session: Session, *, passphrase: str | None, actor: Actor, now: datetime
) -> tuple[str | None, TreeHead]:
    """Retire the log's key and sign with a new one; returns (the retired kid, the first head under the new key).

    The old key signs a last head first and stays published, so every head it signed keeps verifying;
    the rotation itself is an entry in the log, covered by the new key's first head.
    """
    passphrase = require_store_passphrase(session, passphrase=passphrase, now=now)
    old = repo.log_key(session)
    if old is not None:
        sign_head(session, passphrase=passphrase, now=now)  # proves the passphrase before anything changes
        old.retired_at = now
    key = signing.generate()
    session.add(AuditKey(kid=key.kid, role="log", holder="carnet", public_key=key.public_raw,
                         private_pem=signing.encrypt(key, passphrase), created_at=now))  # fmt: skip
    session.flush()
    record_change(session, actor=actor, what="audit.log_key_rotated",
                  details={"retired": old.kid if old else None, "new": key.kid}, now=now)  # fmt: skip
    return (old.kid if old else None), sign_head(session, passphrase=passphrase, now=now)


@dataclass(frozen=True)
class PresentedHead:
    """A signed tree head as someone was shown it (by the portal, an export, a court file)."""

    size: int
    root: bytes
    signed_at: datetime
    kid: str
    signature: bytes

    @classmethod
    def parse(cls, data: Any) -> PresentedHead:
        """Read a head from its JSON form; a malformed head is a clear error, never a crash."""
        try:
            head = cls(
                size=int(data["size"]),
                root=bytes.fromhex(data["root"]),
                signed_at=datetime.fromisoformat(data["signed_at"]),
                kid=str(data["kid"]),
                signature=bytes.fromhex(data["signature"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise AppError(f"not a signed tree head: {exc}", code="malformed_head") from None
        if head.size < 0 or len(head.root) != 32 or len(head.signature) != 64 or head.signed_at.tzinfo is None:
            raise AppError("not a signed tree head: size, root, signature or time out of range", code="malformed_head")
        return head


def check_presented_head(session: Session, *, head: PresentedHead, witness: signing.SigningKey) -> dict[str, Any]:
    """As a witness: is a head you never saw consistent with every head you countersigned? Names a split view.

    Two validly signed heads that no consistency proof can join are the evidence that the log showed
    different histories to different people; the answer carries both.
    """
    keys = repo.keys_by_kid(session)
    log_key = keys.get(head.kid)
    if log_key is None or log_key.role != "log":
        raise AppError(f"the head names key {head.kid}, which is not a log key", code="unknown_log_key", status=409)
    message = audit_entries.tree_head_message(size=head.size, root=head.root, signed_at=head.signed_at, kid=head.kid)
    if not signing.verify(log_key.public_key, message, head.signature):
        raise AppError("the head's signature does not verify under the log's key", code="bad_head_signature",
                       status=409)  # fmt: skip
    checked, conflicts = [], []
    for witnessed, countersignature in repo.witnessed_heads(session, witness.kid):
        signed = audit_entries.tree_head_message(
            size=witnessed.size, root=witnessed.root, signed_at=witnessed.signed_at, kid=witnessed.kid
        )
        # Only heads carrying our own countersignature count: the log cannot forge what we saw.
        if not signing.verify(witness.public_raw, signed, countersignature.signature):
            continue
        checked.append(witnessed.id)
        if not _heads_consistent(session, witnessed.size, witnessed.root, head.size, head.root):
            conflicts.append({"id": witnessed.id, "size": witnessed.size, "root": witnessed.root.hex(),
                              "signed_at": witnessed.signed_at.isoformat(), "kid": witnessed.kid,
                              "signature": witnessed.signature.hex()})  # fmt: skip
    published = any(h.size == head.size and h.root == head.root for h in repo.heads(session))
    return {"consistent": not conflicts, "checked_against": checked, "published": published, "conflicts": conflicts}


def _heads_consistent(session: Session, size_a: int, root_a: bytes, size_b: int, root_b: bytes) -> bool:
    (small, small_root), (large, large_root) = sorted([(size_a, root_a), (size_b, root_b)])
    if small == large:
        return small_root == large_root
    if small == 0:
        return True
    try:
        proof = consistency_proof_for(session, first=small, second=large)
    except NotFound:  # the log does not hold the larger tree at all
        return False
    return verify_consistency(small, large, small_root, large_root, proof)


def sign_head_if_grown(session: Session, *, passphrase: str | None, now: datetime) -> TreeHead | None:
    """Sign a new head when entries were appended since the last one (what the schedule runs)."""
    latest = repo.latest_head(session)
    if latest is not None and latest.size == repo.log_size(session):
        return None
    return sign_head(session, passphrase=passphrase, now=now)


def head_is_signed(head: TreeHead, keys: dict[str, AuditKey]) -> bool:
    """Whether the head's signature is valid under the key it names."""
    key = keys.get(head.kid)
    if key is None:
        return False
    message = audit_entries.tree_head_message(size=head.size, root=head.root, signed_at=head.signed_at, kid=head.kid)
    return signing.verify(key.public_key, message, head.signature)


@dataclass(frozen=True)
class Verification:
    """What `verify_log` found: the size and root recomputed, and the first entry that is wrong, if any."""

    size: int
    root: bytes
    first_bad_leaf: int | None = None
    problem: str | None = None
    heads_checked: int = 0
    bad_head: int | None = None

    @property
    def ok(self) -> bool:
        """Whether everything recomputed matches."""
        return self.first_bad_leaf is None and self.bad_head is None


def verify_log(session: Session) -> Verification:
    """Recompute every leaf from the raw entries and the tree from the leaves; name the first bad entry."""
    leaves: list[bytes] = []
    for leaf_index, body, stored_leaf in repo.stream_entries(session):
        expected = len(leaves)
        if leaf_index != expected:
            problem = "missing" if leaf_index > expected else "out of order"
            return Verification(expected, root_of(leaves), expected, f"entry {expected} is {problem}")
        if leaf_hash(body) != stored_leaf:
            return Verification(expected, root_of(leaves), expected, f"entry {expected} does not match its leaf hash")
        try:
            if json.loads(body)["leaf"] != leaf_index:
                return Verification(expected, root_of(leaves), expected, f"entry {expected} names another leaf")
        except (ValueError, KeyError, TypeError):
            return Verification(expected, root_of(leaves), expected, f"entry {expected} is not a log entry")
        leaves.append(stored_leaf)
    size = repo.log_size(session)
    if len(leaves) != size:
        first = min(len(leaves), size)
        return Verification(
            len(leaves), root_of(leaves), first, f"the log says {size} entries, {len(leaves)} are there"
        )
    root = root_of(leaves)
    _, stored = log_root(session)
    if stored != root:
        # The first prefix whose stored root disagrees ends at the first entry the tree no longer matches.
        low, high = 1, size
        while low < high:
            middle = (low + high) // 2
            if log_root(session, middle)[1] == root_of(leaves[:middle]):
                low = middle + 1
            else:
                high = middle
        return Verification(size, root, low - 1, f"the stored tree disagrees with entry {low - 1}")
    return _verify_heads(session, leaves, Verification(size, root))


def _verify_heads(session: Session, leaves: list[bytes], result: Verification) -> Verification:
    # Every signed head must be signed, must match the entries as they are now, and must be consistent
    # with the head before it: a log rewritten after a head was signed cannot pass.
    heads = repo.heads(session)
    keys = repo.keys_by_kid(session)
    roots = prefix_roots(leaves, {h.size for h in heads if h.size <= len(leaves)})
    by_head: dict[int, list[HeadWitness]] = {}
    for countersignature in repo.witnesses(session):
        by_head.setdefault(countersignature.head_id, []).append(countersignature)
    previous: TreeHead | None = None
    for head in heads:
        problem = None
        message = audit_entries.tree_head_message(
            size=head.size, root=head.root, signed_at=head.signed_at, kid=head.kid
        )
        forged = [
            w.kid
            for w in by_head.get(head.id, [])
            if w.kid not in keys or not signing.verify(keys[w.kid].public_key, message, w.signature)
        ]
        if forged:
            problem = f"tree head {head.id} carries a countersignature by {forged[0]} that does not verify"
        elif not head_is_signed(head, keys):
            problem = f"tree head {head.id} is not validly signed"
        elif head.size > len(leaves):
            problem = f"tree head {head.id} covers {head.size} entries; only {len(leaves)} are there"
        elif roots[head.size] != head.root:
            problem = f"tree head {head.id} does not match the entries (they changed after it was signed)"
        elif previous is not None and head.size < previous.size:
            # Both match prefixes of the same entries, so they are consistent, unless the log shrank.
            problem = f"tree head {head.id} covers fewer entries than tree head {previous.id}"
        if problem:
            bad = Verification(result.size, result.root, None, problem, heads_checked=len(heads), bad_head=head.id)
            return bad
        previous = head
    return Verification(result.size, result.root, heads_checked=len(heads))


def _actor_columns(actor: Actor, now: datetime) -> dict:
    return {
        "occurred_at": now,
        "request_id": actor.request_id,
        "actor_user_id": actor.user_id,
        "actor_role": actor.role,
        "actor_office": actor.office,
        "purpose": actor.purpose,
    }


def access_log_for(
    session: Session, *, subject_id: uuid.UUID, cohort_refs: Sequence[str], today: date
) -> dict[str, Any]:
    """Who accessed a subject's data, when, from which office and why, each entry with its inclusion proof.

    Proofs are against the newest signed tree head; entries appended after it are listed as pending
    (provable once the next head is signed).
    """
    head = repo.latest_head(session)
    items = []
    for record, entry in repo.accesses_of(session, subject_id, cohort_refs):
        proof = None
        if head is not None and entry.leaf_index < head.size:
            proof = [p.hex() for p in inclusion_proof_for(session, leaf_index=entry.leaf_index, size=head.size)]
        sealed = record.sealed_until is not None and record.sealed_until > today
        # What the person is shown comes from the entry hashed into the log, not from the row: a row
        # rewritten in the database is shown as the log has it, and marked.
        mismatch = access_record_mismatch(record, entry)
        signed = json.loads(bytes(entry.body)) if mismatch != "entry" else {}
        item = {
            "leaf": entry.leaf_index,
            "at": record.occurred_at,
            "sealed_until": record.sealed_until,
            "sealed": sealed,
            "bulk": record.subject_type == "cohort",
            "cohort": record.cohort_ref,
            "subject_salt": record.subject_salt.hex() if record.subject_salt else None,
            "entry": bytes(entry.body).decode(),
            "proof": proof,
            "office": None,
            "role": None,
            "purpose": None,
            "action": None,
            "fields": [],
            "seal_salt": None,
            "verified": mismatch is None,
            "mismatch": mismatch,
        }
        if not sealed:
            details = signed if "actor" in signed else audit_entries.access_details(_record_row(record))
            item |= {
                "office": details["actor"]["office"],
                "role": details["actor"]["role"],
                "purpose": details["purpose"],
                "action": details["action"],
                "fields": list(details["fields"]),
                "seal_salt": record.seal_salt.hex() if record.seal_salt else None,
            }
        items.append(item)
    return {
        "head": None
        if head is None
        else {
            "size": head.size,
            "root": head.root.hex(),
            "signed_at": head.signed_at,
            "kid": head.kid,
            "signature": head.signature.hex(),
        },
        "entries": items,
    }


# Witnesses: an oversight body holds its own key and countersigns heads it has checked.
def register_witness(session: Session, *, public_pem: bytes, holder: str, now: datetime) -> AuditKey:
    """Accept a witness's public key, so that its countersignatures can be checked."""
    public = signing.public_from_pem(public_pem)
    kid = signing.key_id(public)
    if kid in repo.keys_by_kid(session):
        raise Conflict(f"key {kid} is already registered", code="duplicate_key")
    key = AuditKey(kid=kid, role="witness", holder=holder[:120], public_key=public, created_at=now)
    session.add(key)
    session.flush()
    return key


def latest_head(session: Session) -> TreeHead:
    """The newest signed tree head, or 404 before the first one is signed."""
    head = repo.latest_head(session)
    if head is None:
        raise NotFound("no tree head has been signed yet", code="no_tree_head")
    return head


def log_keys(session: Session) -> list[AuditKey]:
    """The public keys of the log and of its witnesses, retired ones included."""
    return list(repo.keys_by_kid(session).values())


def witness_latest_head(session: Session, *, key: signing.SigningKey, now: datetime) -> HeadWitness:
    """Countersign the newest head, after checking its signature and its consistency with the last one witnessed."""
    keys = repo.keys_by_kid(session)
    registered = keys.get(key.kid)
    if registered is None or registered.role != "witness" or registered.retired_at is not None:
        raise AppError(f"key {key.kid} is not a registered witness key", code="unknown_witness_key", status=403)
    head = latest_head(session)
    if not head_is_signed(head, keys):
        raise AppError(f"tree head {head.id} is not validly signed", code="bad_head_signature", status=409)
    previous = repo.last_witnessed_head(session, key.kid)
    if previous is not None:
        if previous.id == head.id:
            raise Conflict(f"tree head {head.id} is already witnessed by {key.kid}", code="already_witnessed")
        # A log never shrinks; a larger head must extend the one witnessed.
        consistent = head.size >= previous.size and _heads_consistent(
            session, previous.size, previous.root, head.size, head.root
        )
        if not consistent:
            raise AppError(
                f"tree head {head.id} is not consistent with tree head {previous.id}, which you witnessed",
                code="inconsistent_head",
                status=409,
            )
    message = audit_entries.tree_head_message(size=head.size, root=head.root, signed_at=head.signed_at, kid=head.kid)
    countersignature = HeadWitness(head_id=head.id, kid=key.kid, signature=key.sign(message), witnessed_at=now)
    session.add(countersignature)
    session.flush()
    return countersignature


def export_log(session: Session, folder: Path) -> int:
    """Write the log as files for an oversight body (entries, heads, countersignatures, keys); returns the size."""
    folder.mkdir(parents=True, exist_ok=True)
    count = 0
    with (folder / "entries.jsonl").open("wb") as handle:
        for _, body, _ in repo.stream_entries(session):
            handle.write(body + b"\n")  # canonical JSON never holds a raw newline
            count += 1
    heads = [
        {"id": h.id, "size": h.size, "root": h.root.hex(), "signed_at": h.signed_at.isoformat(), "kid": h.kid,
         "signature": h.signature.hex()}
        for h in repo.heads(session)
    ]  # fmt: skip
    (folder / "heads.json").write_text(json.dumps(heads, indent=1))
    witnesses = [
        {"head_id": w.head_id, "kid": w.kid, "signature": w.signature.hex(), "witnessed_at": w.witnessed_at.isoformat()}
        for w in repo.witnesses(session)
    ]
    (folder / "witnesses.json").write_text(json.dumps(witnesses, indent=1))
    keys = [
        {"kid": k.kid, "role": k.role, "holder": k.holder, "public_key": k.public_key.hex()}
        for k in repo.keys_by_kid(session).values()
    ]
    (folder / "keys.json").write_text(json.dumps(keys, indent=1))
    return count
