"""What an audit log entry says, as canonical JSON (pure). Specified for third parties in docs/formats/audit-log.md."""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime
from datetime import date as date_type
from typing import Any

from carnet.kit.canonical import MAX_SAFE_INTEGER, canonical_json

ENTRY_VERSION = 1
SUBJECT_TAG = b"carnet/subject/v1"
SEALED_TAG = b"carnet/sealed/v1"


def subject_commitment(salt: bytes, subject_id: uuid.UUID) -> str:
    """SHA-256(tag || salt || id) in hex: names a subject without revealing or linking its id."""
    return hashlib.sha256(SUBJECT_TAG + salt + subject_id.bytes).hexdigest()


def timestamp(moment: datetime) -> str:
    """RFC 3339 UTC with microseconds, the one form entries use."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def access_details(record: dict[str, Any]) -> dict[str, Any]:
    """Who accessed, why, what: the part of an access entry that a seal keeps closed until its date."""
    return {
        "actor": {
            "user": str(record["actor_user_id"]) if record["actor_user_id"] else None,
            "role": record["actor_role"],
            "office": record["actor_office"],
        },
        "purpose": record["purpose"],
        "action": record["action"],
        "fields": list(record["fields"]),
        "request": record["request_id"],
    }


def sealed_digest(seal_salt: bytes, details: dict[str, Any]) -> str:
    """SHA-256(tag || salt || canonical details): binds a sealed entry to details revealed later."""
    return hashlib.sha256(SEALED_TAG + seal_salt + canonical_json(details)).hexdigest()


def access_entry(*, leaf_index: int, record: dict[str, Any]) -> dict[str, Any]:
    """The entry for one access record (a person, a household, or a whole cohort); sealed ones hide details."""
    subject: dict[str, Any] = {"type": record["subject_type"]}
    if record["subject_type"] == "cohort":
        subject |= {"ref": record["cohort_ref"], "size": record["cohort_size"], "digest": record["cohort_digest"]}
    else:
        subject["commitment"] = subject_commitment(record["subject_salt"], record["subject_id"])
    entry = {
        "v": ENTRY_VERSION,
        "leaf": leaf_index,
        "type": "access",
        "seq": record["seq"],
        "at": timestamp(record["occurred_at"]),
        "subject": subject,
    }
    details = access_details(record)
    if record.get("sealed_until") is not None:
        # Counted and dated in the log like any access; what it was opens on the seal's date.
        return entry | {
            "sealed_until": record["sealed_until"].isoformat(),
            "details": sealed_digest(record["seal_salt"], details),
        }
    return entry | details


def encode(entry: dict[str, Any]) -> bytes:
    """The bytes that are hashed into the tree."""
    return canonical_json(entry)


def tree_head_message(*, size: int, root: bytes, signed_at: datetime, kid: str) -> bytes:
    """The bytes a tree head's signature (and a witness's countersignature) covers."""
    return encode({"v": ENTRY_VERSION, "type": "tree_head", "size": size, "root": root.hex(),
                   "at": timestamp(signed_at), "kid": kid})  # fmt: skip


def change_entry(
    *, leaf_index: int, what: str, details: dict[str, Any], actor: dict[str, Any], at: datetime
) -> dict[str, Any]:
    """The entry for a change that matters for accountability (a dictionary version, an account, a key)."""
    return {"v": ENTRY_VERSION, "leaf": leaf_index, "type": "change", "what": what, "at": timestamp(at),
            "actor": actor, "details": details}  # fmt: skip


HISTORY_TAG = b"carnet/history/v1"


def plain(value: Any) -> Any:
    """A column value in the form history digests use: ids and times as text, bytes as hex."""
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, datetime):
        return timestamp(value)
    if isinstance(value, date_type):
        return value.isoformat()
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).hex()
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, float) or (type(value) is int and abs(value) > MAX_SAFE_INTEGER):
        return repr(value)  # canonical JSON carries neither; the digest only needs a stable text
    return value


def field_digest(*, table: str, row: int | str, binding: str, name: str, value: Any) -> str:
    """SHA-256(tag || canonical [table, row, binding, field, value]), first 16 bytes in hex.

    `binding` is an internal id that never leaves its domain (a person's id): without it nobody holding
    the log can confirm a guess of a low-entropy value (a sex, a region) by hashing candidates.
    """
    message = canonical_json([table, str(row), binding, name, plain(value)])
    return hashlib.sha256(HISTORY_TAG + message).hexdigest()[:32]


def history_entry(
    *, leaf_index: int, table: str, row: int | str, binding: str, values: dict[str, Any], at: datetime
) -> dict[str, Any]:
    """The entry that seals one row of a history table (a registry change): a digest per field."""
    return {"v": ENTRY_VERSION, "leaf": leaf_index, "type": "history", "table": table, "row": str(row),
            "at": timestamp(at),
            "fields": {name: field_digest(table=table, row=row, binding=binding, name=name, value=value)
                       for name, value in sorted(values.items())}}  # fmt: skip


# Which column of access_records each part of an access entry comes from, for naming a mismatch.
ACCESS_ENTRY_COLUMNS = {
    "seq": "seq",
    "at": "occurred_at",
    "subject": "subject_id",
    "actor": "actor_user_id",
    "purpose": "purpose",
    "action": "action",
    "fields": "fields",
    "request": "request_id",
    "sealed_until": "sealed_until",
    "details": "sealed details",
}
ACTOR_COLUMNS = {"user": "actor_user_id", "role": "actor_role", "office": "actor_office"}
SUBJECT_COLUMNS = {"type": "subject_type", "commitment": "subject_id", "ref": "cohort_ref", "size": "cohort_size",
                   "digest": "cohort_digest"}  # fmt: skip


def access_mismatch(stored: dict[str, Any], recomputed: dict[str, Any]) -> str | None:
    """The access_records column that makes a recomputed entry differ from the stored one, or None."""
    for key in sorted(set(stored) | set(recomputed)):
        if stored.get(key) == recomputed.get(key):
            continue
        inner = {"actor": ACTOR_COLUMNS, "subject": SUBJECT_COLUMNS}.get(key)
        if inner is not None and isinstance(stored.get(key), dict) and isinstance(recomputed.get(key), dict):
            for part in sorted(set(stored[key]) | set(recomputed[key])):
                if stored[key].get(part) != recomputed[key].get(part):
                    return inner.get(part, f"{key}.{part}")
        return ACCESS_ENTRY_COLUMNS.get(key, key)
    return None


def rows_seal(rows: Any) -> dict[str, Any]:
    """How many rows and SHA-256 over their canonical JSON, one per line, in the order given (for bulk tables)."""
    digest = hashlib.sha256(HISTORY_TAG)
    count = 0
    for row in rows:
        digest.update(canonical_json(plain(list(row))) + b"\n")
        count += 1
    return {"count": count, "digest": digest.hexdigest()}
