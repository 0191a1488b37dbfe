"""Sealed accesses: counted and dated in the log at once, their details open on the seal's date."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, date, datetime

import pytest

from carnet.audit.entries import access_details, sealed_digest
from carnet.audit.service import access_log_for, record_access, sign_head, verify_log
from carnet.kit.actor import Actor
from carnet.kit.errors import AppError

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
INVESTIGATOR = Actor(user_id=None, role="auditor", request_id="case-17", purpose="investigation", office="Fiscalía 3")


def test_a_sealed_access_shows_as_sealed_then_opens_on_its_date(session, registrar):
    person = uuid.uuid4()
    record_access(session, actor=registrar, action="read", subject_type="person", subject_ids=[person],
                  fields=["phone"], now=NOW)  # fmt: skip
    record_access(session, actor=INVESTIGATOR, action="read", subject_type="person", subject_ids=[person],
                  fields=["address_line", "phone"], now=NOW, sealed_until=date(2027, 6, 1))  # fmt: skip
    sign_head(session, passphrase="una frase de paso larga", now=NOW)
    assert verify_log(session).ok

    before = access_log_for(session, subject_id=person, cohort_refs=[], today=date(2027, 5, 31))["entries"]
    open_one, sealed = before
    assert not open_one["sealed"] and open_one["office"] == "Test office"
    assert sealed["sealed"] and sealed["sealed_until"] == date(2027, 6, 1)
    assert (sealed["office"], sealed["purpose"], sealed["fields"], sealed["seal_salt"]) == (None, None, [], None)
    body = json.loads(sealed["entry"])
    assert "actor" not in body and "purpose" not in body and body["sealed_until"] == "2027-06-01"
    assert "Fiscal" not in sealed["entry"] and "investigation" not in sealed["entry"]
    assert sealed["proof"] is not None  # the sealed access is in the signed log already

    after = access_log_for(session, subject_id=person, cohort_refs=[], today=date(2027, 6, 1))["entries"][1]
    assert not after["sealed"] and after["office"] == "Fiscalía 3" and after["purpose"] == "investigation"
    details = access_details(
        {"actor_user_id": None, "actor_role": after["role"], "actor_office": after["office"],
         "purpose": after["purpose"], "action": after["action"], "fields": after["fields"], "request_id": "case-17"}
    )  # fmt: skip
    assert sealed_digest(bytes.fromhex(after["seal_salt"]), details) == body["details"]


def test_a_seal_must_end_in_the_future(session):
    with pytest.raises(AppError) as caught:
        record_access(session, actor=INVESTIGATOR, action="read", subject_type="person", subject_ids=[uuid.uuid4()],
                      fields=["phone"], now=NOW, sealed_until=date(2026, 11, 29))  # fmt: skip
    assert caught.value.code == "invalid_seal"
