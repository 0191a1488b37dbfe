"""Signed tree heads and proofs served from the stored tree."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from sqlalchemy import select, text

from carnet.audit.merkle import verify_consistency, verify_inclusion
from carnet.audit.models import AuditEntry, AuditKey
from carnet.audit.repository import log_size
from carnet.audit.service import (
    consistency_proof_for,
    head_is_signed,
    inclusion_proof_for,
    record_access,
    sign_head,
    verify_log,
)
from carnet.kit.errors import AppError, NotFound

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
PASSPHRASE = "una frase de paso larga"


def read(session, registrar, count: int) -> None:
    record_access(
        session,
        actor=registrar,
        action="read",
        subject_type="person",
        subject_ids=[uuid.uuid4() for _ in range(count)],
        fields=["phone"],
        now=NOW,
    )


class TestSignHead:
    def test_head_is_signed_by_a_key_stored_encrypted(self, session, registrar):
        base = log_size(session)
        read(session, registrar, 5)
        head = sign_head(session, passphrase=PASSPHRASE, now=NOW)
        assert head.size == base + 5 and len(head.signature) == 64
        (key,) = session.scalars(select(AuditKey)).all()
        assert key.role == "log" and b"ENCRYPTED PRIVATE KEY" in key.private_pem
        assert head_is_signed(head, {key.kid: key})
        read(session, registrar, 2)
        second = sign_head(session, passphrase=PASSPHRASE, now=NOW)
        assert second.kid == head.kid and second.size == base + 7
        result = verify_log(session)
        assert result.ok and result.heads_checked == 2

    def test_missing_or_wrong_passphrase_is_a_clear_error(self, session, registrar):
        with pytest.raises(AppError) as caught:
            sign_head(session, passphrase=None, now=NOW)
        assert caught.value.code == "key_passphrase_missing"
        sign_head(session, passphrase=PASSPHRASE, now=NOW)
        with pytest.raises(AppError) as caught:
            sign_head(session, passphrase="otra frase de paso larga", now=NOW)
        assert caught.value.code == "wrong_passphrase"

    def test_a_log_rewritten_after_a_head_fails_verification(self, session, registrar):
        read(session, registrar, 6)
        head = sign_head(session, passphrase=PASSPHRASE, now=NOW)
        # Rewrite everything consistently (entries, leaf hashes and tree): only the signed head notices.
        entries = session.scalars(select(AuditEntry).order_by(AuditEntry.leaf_index)).all()
        session.execute(text("DELETE FROM audit_entries"))
        session.execute(text("DELETE FROM audit_nodes"))
        session.execute(text("UPDATE audit_log_state SET size = 0, frontier = :empty"), {"empty": b""})
        session.flush()
        from carnet.audit.service import append_entries

        append_entries(
            session,
            [("access", (lambda leaf, e=e: {"v": 1, "leaf": leaf, "forged": e.leaf_index}), None) for e in entries],
            now=NOW,
        )
        result = verify_log(session)
        assert not result.ok and result.bad_head == head.id and "changed after it was signed" in result.problem

    def test_a_forged_head_signature_fails(self, session, registrar):
        read(session, registrar, 3)
        head = sign_head(session, passphrase=PASSPHRASE, now=NOW)
        session.execute(text("UPDATE tree_heads SET size = 2 WHERE id = :i"), {"i": head.id})
        session.expire_all()
        result = verify_log(session)
        assert result.bad_head == head.id and "not validly signed" in result.problem


class TestProofs:
    @pytest.mark.parametrize("count", [1, 2, 7, 16, 23])
    def test_every_entry_proves_against_a_signed_head(self, session, registrar, count):
        read(session, registrar, count)
        head = sign_head(session, passphrase=PASSPHRASE, now=NOW)
        leaves = list(session.scalars(select(AuditEntry.leaf_hash).order_by(AuditEntry.leaf_index)))
        for index, leaf in enumerate(leaves):
            proof = inclusion_proof_for(session, leaf_index=index, size=head.size)
            assert verify_inclusion(index, head.size, leaf, proof, head.root)
            assert len(proof) <= (head.size - 1).bit_length()

    def test_consistency_between_two_heads(self, session, registrar):
        read(session, registrar, 5)
        old = sign_head(session, passphrase=PASSPHRASE, now=NOW)
        read(session, registrar, 9)
        new = sign_head(session, passphrase=PASSPHRASE, now=NOW)
        proof = consistency_proof_for(session, first=old.size, second=new.size)
        assert verify_consistency(old.size, new.size, old.root, new.root, proof)

    def test_unknown_entries_and_sizes_are_not_found(self, session, registrar):
        read(session, registrar, 3)
        size = log_size(session)
        for call in (
            lambda: inclusion_proof_for(session, leaf_index=size, size=size),
            lambda: inclusion_proof_for(session, leaf_index=0, size=size + 1),
            lambda: consistency_proof_for(session, first=2, second=size + 5),
            lambda: consistency_proof_for(session, first=0, second=2),
        ):
            with pytest.raises(NotFound):
                call()


class TestSchedule:
    def test_a_head_is_signed_only_when_the_log_grew(self, session, registrar):
        from carnet.audit.service import sign_head_if_grown

        read(session, registrar, 2)
        first = sign_head_if_grown(session, passphrase=PASSPHRASE, now=NOW)
        assert first is not None and first.size == log_size(session)
        assert sign_head_if_grown(session, passphrase=PASSPHRASE, now=NOW) is None
        read(session, registrar, 1)
        assert sign_head_if_grown(session, passphrase=PASSPHRASE, now=NOW).size == first.size + 1
