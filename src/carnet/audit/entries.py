"""What an audit log entry says, as canonical JSON (pure). Specified for third parties in docs/formats/audit-log.md."""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime
from typing import Any

from carnet.kit.canonical import canonical_json

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
