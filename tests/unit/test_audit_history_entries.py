"""The pure parts of history sealing: any single change of an access record or a history row is named."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from carnet.audit.entries import access_entry, access_mismatch, encode, field_digest, history_entry, rows_seal

BASE = {
    "seq": 7,
    "occurred_at": datetime(2026, 11, 29, 12, 0, tzinfo=UTC),
    "request_id": "req-1",
    "actor_user_id": uuid.UUID(int=1),
    "actor_role": "registrar",
    "actor_office": "Maracaibo",
    "purpose": "registration",
    "action": "read",
    "subject_type": "person",
    "subject_id": uuid.UUID(int=2),
    "subject_salt": b"s" * 16,
    "fields": ["phone"],
    "sealed_until": None,
    "seal_salt": None,
}
CHANGES = {
    "occurred_at": BASE["occurred_at"] + timedelta(microseconds=1),
    "request_id": "req-2",
    "actor_user_id": uuid.UUID(int=3),
    "actor_role": "admin",
    "actor_office": "Caracas",
    "purpose": "eligibility",
    "action": "update",
    "subject_id": uuid.UUID(int=4),
    "subject_salt": b"t" * 16,
    "fields": ["phone", "religion"],
}


def stored(record: dict) -> dict:
    return json.loads(encode(access_entry(leaf_index=3, record=record)))


@settings(max_examples=40, deadline=None)
@given(column=st.sampled_from(sorted(CHANGES)), sealed=st.booleans())
def test_any_one_rewritten_column_of_an_access_record_is_named(column, sealed):
    record = BASE | ({"sealed_until": datetime(2027, 1, 1).date(), "seal_salt": b"x" * 16} if sealed else {})
    assert access_mismatch(stored(record), stored(record)) is None
    found = access_mismatch(stored(record), stored(record | {column: CHANGES[column]}))
    if sealed and column in ("actor_user_id", "actor_role", "actor_office", "purpose", "action", "fields",
                             "request_id"):  # fmt: skip
        assert found == "sealed details"  # the seal hides which detail; that one changed is still caught
    elif column == "subject_salt":
        assert found == "subject_id"  # the commitment binds salt and id together
    else:
        assert found == column


@settings(max_examples=40, deadline=None)
@given(value=st.one_of(st.integers(), st.text(max_size=20), st.booleans(), st.none()),
       other=st.one_of(st.integers(), st.text(max_size=20)))  # fmt: skip
def test_a_field_digest_changes_with_the_value_and_the_binding(value, other):
    digest = field_digest(table="record_changes", row=1, binding="p1", name="reason", value=value)
    assert digest == field_digest(table="record_changes", row=1, binding="p1", name="reason", value=value)
    assert digest != field_digest(table="record_changes", row=1, binding="p2", name="reason", value=value)
    if other != value and not (isinstance(value, bool) or isinstance(other, bool)):
        assert digest != field_digest(table="record_changes", row=1, binding="p1", name="reason", value=other)


def test_a_history_entry_holds_digests_only_and_a_rows_seal_depends_on_order():
    entry = history_entry(
        leaf_index=0,
        table="record_changes",
        row=5,
        binding="p",
        at=BASE["occurred_at"],
        values={"reason": "corrección de apellido", "changes": {"family_names": ["Gil", "Paz"]}},
    )
    assert "corrección" not in json.dumps(entry, ensure_ascii=False) and "Gil" not in json.dumps(entry)
    assert set(entry["fields"]) == {"reason", "changes"}
    assert rows_seal([[1, "a"], [2, "b"]]) != rows_seal([[2, "b"], [1, "a"]])
    assert rows_seal([])["count"] == 0
