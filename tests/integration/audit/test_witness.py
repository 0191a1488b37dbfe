"""Oversight bodies countersign tree heads only after checking them against what they saw before."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from sqlalchemy import text

from carnet.audit.service import (
    append_entries,
    record_access,
    register_witness,
    sign_head,
    verify_log,
    witness_latest_head,
)
from carnet.kit import signing
from carnet.kit.errors import AppError, Conflict

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
PASSPHRASE = "una frase de paso larga"


def read(session, registrar, count: int) -> None:
    record_access(session, actor=registrar, action="read", subject_type="person",
                  subject_ids=[uuid.uuid4() for _ in range(count)], fields=["phone"], now=NOW)  # fmt: skip


@pytest.fixture()
def ombudsman(session):
    key = signing.generate()
    register_witness(session, public_pem=signing.public_pem(key.public_raw), holder="Defensoría", now=NOW)
    return key


def test_witness_countersigns_consistent_heads_and_verify_checks_them(session, registrar, ombudsman):
    read(session, registrar, 4)
    sign_head(session, passphrase=PASSPHRASE, now=NOW)
    first = witness_latest_head(session, key=ombudsman, now=NOW)
    with pytest.raises(Conflict):
        witness_latest_head(session, key=ombudsman, now=NOW)
    read(session, registrar, 5)
    sign_head(session, passphrase=PASSPHRASE, now=NOW)
    second = witness_latest_head(session, key=ombudsman, now=NOW)
    assert second.head_id > first.head_id
    assert verify_log(session).ok


def test_an_unregistered_key_cannot_witness(session, registrar):
    read(session, registrar, 1)
    sign_head(session, passphrase=PASSPHRASE, now=NOW)
    with pytest.raises(AppError) as caught:
        witness_latest_head(session, key=signing.generate(), now=NOW)
    assert caught.value.code == "unknown_witness_key"


def test_a_rewritten_log_is_refused_by_the_witness(session, registrar, ombudsman):
    read(session, registrar, 6)
    sign_head(session, passphrase=PASSPHRASE, now=NOW)
    witness_latest_head(session, key=ombudsman, now=NOW)
    # The operator rewrites the log from scratch and signs a fresh head over the forgery.
    session.execute(text("DELETE FROM audit_entries"))
    session.execute(text("DELETE FROM audit_nodes"))
    session.execute(text("UPDATE audit_log_state SET size = 0, frontier = :empty"), {"empty": b""})
    session.flush()
    append_entries(session, [("access", lambda leaf: {"v": 1, "leaf": leaf}, None) for _ in range(8)], now=NOW)
    sign_head(session, passphrase=PASSPHRASE, now=NOW)
    with pytest.raises(AppError) as caught:
        witness_latest_head(session, key=ombudsman, now=NOW)
    assert caught.value.code == "inconsistent_head"


def test_a_forged_countersignature_is_named_by_verify(session, registrar, ombudsman):
    read(session, registrar, 3)
    head = sign_head(session, passphrase=PASSPHRASE, now=NOW)
    witness_latest_head(session, key=ombudsman, now=NOW)
    session.execute(text("UPDATE head_witnesses SET signature = :s"), {"s": bytes(64)})
    session.expire_all()
    result = verify_log(session)
    assert result.bad_head == head.id and "countersignature" in result.problem


def test_the_same_witness_key_cannot_be_registered_twice(session, ombudsman):
    with pytest.raises(Conflict):
        register_witness(session, public_pem=signing.public_pem(ombudsman.public_raw), holder="x", now=NOW)
