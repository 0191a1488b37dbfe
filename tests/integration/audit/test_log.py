"""The stored audit log: one entry per access, in the same transaction, and verification that names tampering."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select, text

from carnet.audit.entries import subject_commitment
from carnet.audit.merkle import leaf_hash, root_of
from carnet.audit.models import AccessRecord, AuditEntry
from carnet.audit.repository import log_size
from carnet.audit.service import CohortDigest, log_root, record_access, record_cohort_access, verify_log
from tests.conftest import count_rows

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)


def read(session, registrar, count: int = 1) -> list[uuid.UUID]:
    subjects = [uuid.uuid4() for _ in range(count)]
    record_access(
        session, actor=registrar, action="read", subject_type="person", subject_ids=subjects, fields=["phone"], now=NOW
    )
    return subjects


class TestAppend:
    def test_each_access_record_is_one_entry_that_names_it(self, session, registrar):
        base = log_size(session)  # the store's set-up already logged the attribute dictionary
        subjects = read(session, registrar, 3)
        records = session.scalars(select(AccessRecord).order_by(AccessRecord.seq)).all()
        entries = session.scalars(
            select(AuditEntry).where(AuditEntry.leaf_index >= base).order_by(AuditEntry.leaf_index)
        ).all()
        assert [e.leaf_index for e in entries] == [base, base + 1, base + 2]
        assert [e.access_seq for e in entries] == [r.seq for r in records]
        for entry, record, subject in zip(entries, records, subjects, strict=True):
            body = json.loads(entry.body)
            assert body["leaf"] == entry.leaf_index and body["seq"] == record.seq
            assert body["subject"] == {"type": "person", "commitment": subject_commitment(record.subject_salt, subject)}
            assert str(subject) not in entry.body.decode()  # the log never carries the person's id
            assert entry.leaf_hash == leaf_hash(entry.body)

    def test_a_cohort_is_one_entry(self, session, registrar):
        cohort = CohortDigest()
        cohort.add(sorted(uuid.uuid4() for _ in range(1000)))
        record_cohort_access(
            session, actor=registrar, action="import", cohort_ref="import:x", cohort=cohort, fields=["x"], now=NOW
        )
        (entry,) = session.scalars(select(AuditEntry).where(AuditEntry.entry_type == "access")).all()
        assert json.loads(entry.body)["subject"] == {
            "type": "cohort", "ref": "import:x", "size": 1000, "digest": cohort.hexdigest(),
        }  # fmt: skip

    def test_rollback_leaves_no_entry_and_the_next_append_reuses_the_leaf(self, session, registrar):
        base = log_size(session)
        read(session, registrar)
        nested = session.begin_nested()
        read(session, registrar, 2)
        assert count_rows(session, "audit_entries") == base + 3
        nested.rollback()
        assert count_rows(session, "audit_entries") == base + 1
        read(session, registrar)
        assert sorted(session.scalars(select(AuditEntry.leaf_index)))[-2:] == [base, base + 1]
        assert verify_log(session).ok

    def test_stored_root_equals_the_root_of_the_leaves(self, session, registrar):
        for batch in (1, 2, 5, 1, 8, 3):
            read(session, registrar, batch)
        leaves = list(session.scalars(select(AuditEntry.leaf_hash).order_by(AuditEntry.leaf_index)))
        for size in range(len(leaves) + 1):
            assert log_root(session, size) == (size, root_of(leaves[:size]))


class TestVerify:
    @pytest.fixture()
    def log(self, session, registrar):
        read(session, registrar, 11)
        assert verify_log(session).ok
        return session

    def test_an_edited_entry_is_named(self, log):
        log.execute(text("UPDATE audit_entries SET body = :b WHERE leaf_index = 4"), {"b": b'{"leaf":4}'})
        result = verify_log(log)
        assert (result.ok, result.first_bad_leaf) == (False, 4)

    def test_an_edit_that_rewrites_the_leaf_hash_too_is_named(self, log):
        body = json.loads(log.execute(text("SELECT body FROM audit_entries WHERE leaf_index = 6")).scalar_one())
        body["purpose"] = "none"
        forged = json.dumps(body).encode()
        log.execute(
            text("UPDATE audit_entries SET body = :b, leaf_hash = :h WHERE leaf_index = 6"),
            {"b": forged, "h": leaf_hash(forged)},
        )
        assert verify_log(log).first_bad_leaf == 6

    def test_a_deleted_entry_is_named(self, log):
        log.execute(text("DELETE FROM audit_entries WHERE leaf_index = 3"))
        assert verify_log(log).first_bad_leaf == 3

    def test_a_deleted_last_entry_is_named(self, log):
        last = log_size(log) - 1
        log.execute(text("DELETE FROM audit_entries WHERE leaf_index = :i"), {"i": last})
        assert verify_log(log).first_bad_leaf == last

    def test_swapped_entries_are_named(self, log):
        log.execute(text("UPDATE audit_entries SET leaf_index = -1 WHERE leaf_index = 2"))
        log.execute(text("UPDATE audit_entries SET leaf_index = 2 WHERE leaf_index = 7"))
        log.execute(text("UPDATE audit_entries SET leaf_index = 7 WHERE leaf_index = -1"))
        assert verify_log(log).first_bad_leaf == 2

    def test_an_inserted_entry_is_named(self, log):
        size = log_size(log)
        forged = b'{"leaf":%d}' % size
        log.execute(
            text(
                "INSERT INTO audit_entries (leaf_index, entry_type, body, leaf_hash, appended_at) "
                "VALUES (:i, 'access', :b, :h, :t)"
            ),
            {"i": size, "b": forged, "h": leaf_hash(forged), "t": "2026-11-29 12:00:00"},
        )
        assert verify_log(log).first_bad_leaf == size


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(batches=st.lists(st.integers(1, 6), min_size=1, max_size=6), data=st.data())
def test_property_any_single_edit_is_found_at_its_entry(session, registrar, batches, data):
    nested = session.begin_nested()
    try:
        for batch in batches:
            read(session, registrar, batch)
        assert verify_log(session).ok
        size = log_size(session)
        victim = data.draw(st.integers(0, size - 1))
        body = json.loads(
            session.execute(text("SELECT body FROM audit_entries WHERE leaf_index = :i"), {"i": victim}).scalar_one()
        )
        body["action"] = "create"
        forged = json.dumps(body, sort_keys=True).encode()
        rewrite_hash = data.draw(st.booleans())
        session.execute(
            text(
                "UPDATE audit_entries SET body = :b"
                + (", leaf_hash = :h" if rewrite_hash else "")
                + " WHERE leaf_index = :i"
            ),
            {"b": forged, "h": leaf_hash(forged), "i": victim},
        )
        result = verify_log(session)
        assert (result.ok, result.first_bad_leaf) == (False, victim)
    finally:
        nested.rollback()


class TestChanges:
    def test_a_new_dictionary_version_is_logged(self, session):
        from pathlib import Path

        from carnet.registry.dictionary import parse_dictionary
        from carnet.registry.service import install_dictionary

        text_ = Path("src/carnet/registry/data/attributes.yaml").read_text(encoding="utf-8").replace(
            "version: 1", "version: 2"
        )  # fmt: skip
        installed = install_dictionary(session, dictionary=parse_dictionary(text_), source="v2", now=NOW)
        assert installed
        last = session.scalars(select(AuditEntry).order_by(AuditEntry.leaf_index.desc()).limit(1)).one()
        body = json.loads(last.body)
        assert (last.entry_type, body["what"], body["details"]["version"]) == ("change", "attribute_dictionary", 2)
        assert "monthly_income" in body["details"]["attributes"]
        assert verify_log(session).ok

    def test_an_account_is_logged_without_the_persons_id(self, session, registrar):
        from carnet.access.service import account_details, create_user
        from carnet.audit.service import record_change
        from carnet.registry.schemas import PersonIn
        from carnet.registry.service import create_person

        person = create_person(
            session, actor=registrar, today=NOW.date(), now=NOW,
            data=PersonIn(given_names="Ana", family_names="Gil", date_of_birth="1990-01-01", region_code="VE-A"),
        )  # fmt: skip
        user = create_user(session, username="ana-gil", password="una clave larga", role="citizen",
                           person_id=person["id"], created_via="office", now=NOW)  # fmt: skip
        record_change(session, actor=registrar, what="account.create", details=account_details(user), now=NOW)
        last = session.scalars(select(AuditEntry).order_by(AuditEntry.leaf_index.desc()).limit(1)).one()
        body = json.loads(last.body)
        assert body["details"] == {"user": str(user.id), "role": "citizen", "region": None, "office": None,
                                   "linked_to_a_person": True}  # fmt: skip
        assert str(person["id"]) not in last.body.decode() and person["id"].hex not in last.body.decode()
