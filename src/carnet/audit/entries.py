"""What an audit log entry says, as canonical JSON (pure). Specified for third parties in docs/formats/audit-log.md."""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime
from typing import Any

from carnet.kit.canonical import canonical_json

ENTRY_VERSION = 1
SUBJECT_TAG = b"carnet/subject/v1"


def subject_commitment(salt: bytes, subject_id: uuid.UUID) -> str:
    """SHA-256(tag || salt || id) in hex: names a subject without revealing or linking its id."""
    return hashlib.sha256(SUBJECT_TAG + salt + subject_id.bytes).hexdigest()


def timestamp(moment: datetime) -> str:
    """RFC 3339 UTC with microseconds, the one form entries use."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def access_entry(*, leaf_index: int, record: dict[str, Any]) -> dict[str, Any]:
    """The entry for one access record (a person, a household, or a whole cohort)."""
    subject: dict[str, Any] = {"type": record["subject_type"]}
    if record["subject_type"] == "cohort":
        subject |= {"ref": record["cohort_ref"], "size": record["cohort_size"], "digest": record["cohort_digest"]}
    else:
        subject["commitment"] = subject_commitment(record["subject_salt"], record["subject_id"])
    return {
        "v": ENTRY_VERSION,
        "leaf": leaf_index,
        "type": "access",
        "seq": record["seq"],
        "at": timestamp(record["occurred_at"]),
        "actor": {
            "user": str(record["actor_user_id"]) if record["actor_user_id"] else None,
            "role": record["actor_role"],
            "office": record["actor_office"],
        },
        "purpose": record["purpose"],
        "action": record["action"],
        "subject": subject,
        "fields": list(record["fields"]),
        "request": record["request_id"],
    }


def encode(entry: dict[str, Any]) -> bytes:
    """The bytes that are hashed into the tree."""
    return canonical_json(entry)


def tree_head_message(*, size: int, root: bytes, signed_at: datetime, kid: str) -> bytes:
    """The bytes a tree head's signature (and a witness's countersignature) covers."""
    return encode({"v": ENTRY_VERSION, "type": "tree_head", "size": size, "root": root.hex(),
                   "at": timestamp(signed_at), "kid": kid})  # fmt: skip
