"""Oversight bodies countersign tree heads only after checking them against what they saw before."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from sqlalchemy import select, text

from carnet.audit.entries import tree_head_message
from carnet.audit.merkle import leaf_hash, root_of
from carnet.audit.models import AuditEntry
from carnet.audit.service import (
    PresentedHead,
    append_entries,
    check_presented_head,
    log_root,
    record_access,
    register_witness,
    rotate_log_key,
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


def _signed_by_log(session, size: int, root: bytes) -> PresentedHead:
    # What a dishonest operator can do with the log's own key: sign any head it likes.
    from carnet.audit import repository

    key = signing.decrypt(repository.log_key(session).private_pem, PASSPHRASE)
    message = tree_head_message(size=size, root=root, signed_at=NOW, kid=key.kid)
    return PresentedHead(size=size, root=root, signed_at=NOW, kid=key.kid, signature=key.sign(message))


class TestAHeadTheWitnessNeverSaw:
    def test_a_later_honest_head_is_consistent(self, session, registrar, ombudsman):
        read(session, registrar, 5)
        sign_head(session, passphrase=PASSPHRASE, now=NOW)
        witness_latest_head(session, key=ombudsman, now=NOW)
        read(session, registrar, 4)
        later = sign_head(session, passphrase=PASSPHRASE, now=NOW)
        shown = PresentedHead.parse({
            "size": later.size, "root": later.root.hex(), "kid": later.kid,
            "signed_at": later.signed_at.isoformat(), "signature": later.signature.hex(),
        })  # fmt: skip
        verdict = check_presented_head(session, head=shown, witness=ombudsman)
        assert verdict["consistent"] and verdict["published"] and len(verdict["checked_against"]) == 1

    def test_a_forked_head_is_evidence_of_a_split_view(self, session, registrar, ombudsman):
        read(session, registrar, 6)
        seen = sign_head(session, passphrase=PASSPHRASE, now=NOW)
        witness_latest_head(session, key=ombudsman, now=NOW)
        # Shown to one person only: a history where one of the witnessed entries is different.
        size, root = log_root(session)
        leaves = [leaf_hash(bytes(e.body)) for e in session.scalars(select(AuditEntry).order_by(AuditEntry.leaf_index))]
        leaves[size - 2] = leaf_hash(b'{"forged":true}')
        for forked in (_signed_by_log(session, size, root_of(leaves)), _signed_by_log(session, size + 3, root_of(
            leaves + [leaf_hash(b"x")] * 3))):  # fmt: skip
            verdict = check_presented_head(session, head=forked, witness=ombudsman)
            assert not verdict["consistent"] and not verdict["published"]
            assert [c["id"] for c in verdict["conflicts"]] == [seen.id]
        # An honest head the log signed but never stored is consistent, and says it was not published.
        assert check_presented_head(session, head=_signed_by_log(session, size, root), witness=ombudsman)["consistent"]

    @pytest.mark.parametrize(
        "data",
        [{}, {"size": "x"}, {"size": 1, "root": "zz", "signed_at": "2026-11-29T12:00:00+00:00", "kid": "k",
                             "signature": "00" * 64}, [1, 2],
         {"size": 1, "root": "00" * 32, "signed_at": "2026-11-29T12:00:00", "kid": "k", "signature": "00" * 64}],
    )  # fmt: skip
    def test_a_malformed_head_is_a_clear_error(self, data):
        with pytest.raises(AppError) as caught:
            PresentedHead.parse(data)
        assert caught.value.code == "malformed_head"

    def test_a_head_under_an_unknown_key_or_with_a_bad_signature_is_refused(self, session, registrar, ombudsman):
        read(session, registrar, 2)
        head = sign_head(session, passphrase=PASSPHRASE, now=NOW)
        wrong = PresentedHead(size=head.size, root=head.root, signed_at=NOW, kid=ombudsman.kid, signature=b"\0" * 64)
        with pytest.raises(AppError) as caught:
            check_presented_head(session, head=wrong, witness=ombudsman)
        assert caught.value.code == "unknown_log_key"
        tampered = PresentedHead(size=head.size, root=b"\1" * 32, signed_at=head.signed_at, kid=head.kid,
                                 signature=head.signature)  # fmt: skip
        with pytest.raises(AppError) as caught:
            check_presented_head(session, head=tampered, witness=ombudsman)
        assert caught.value.code == "bad_head_signature"


def test_log_key_rotation_keeps_old_heads_verifiable(session, registrar):
    read(session, registrar, 3)
    first = sign_head(session, passphrase=PASSPHRASE, now=NOW)
    retired, head = rotate_log_key(session, passphrase=PASSPHRASE, actor=registrar, now=NOW)
    assert retired == first.kid and head.kid != first.kid
    read(session, registrar, 2)
    assert sign_head(session, passphrase=PASSPHRASE, now=NOW).kid == head.kid
    result = verify_log(session)
    assert result.ok and result.heads_checked == 4
    last = session.scalars(select(AuditEntry).where(AuditEntry.entry_type == "change")
                           .order_by(AuditEntry.leaf_index.desc())).first()  # fmt: skip
    assert b"audit.log_key_rotated" in bytes(last.body) and retired.encode() in bytes(last.body)


def test_rotation_with_a_wrong_passphrase_changes_nothing(session, registrar):
    read(session, registrar, 1)
    sign_head(session, passphrase=PASSPHRASE, now=NOW)
    with pytest.raises(AppError):
        rotate_log_key(session, passphrase="otra frase de paso larga", actor=registrar, now=NOW)
