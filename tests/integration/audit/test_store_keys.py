"""One passphrase per store: a wrong one is refused before any key is made (finding 7 of issue 10)."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime

import pytest
from sqlalchemy import select, text

from carnet.audit.models import AuditKey, StoreKeyVerifier
from carnet.audit.service import rotate_log_key, sign_head
from carnet.audit.store_keys import require_store_passphrase
from carnet.credentials.models import IssuerKey
from carnet.credentials.service import active_issuer_key
from carnet.kit import signing
from carnet.kit.actor import Actor
from carnet.kit.errors import AppError
from tests.conftest import count_rows
from tests.integration.audit.conftest import PASSPHRASE, carnet, use_settings

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
WRONG = "otra frase de paso cualquiera"
OVERSIGHT = Actor(user_id=None, role="operator", request_id="t", purpose="oversight", office="test")


def refused(call) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(AppError) as caught:
        call()
    assert caught.value.code == "wrong_passphrase" and caught.value.status == 403


class TestStorePassphrase:
    def test_the_first_passphrase_initialises_the_store_and_a_wrong_one_makes_no_log_key(self, session):
        active_issuer_key(session, passphrase=PASSPHRASE, now=NOW)  # the store's first key: its passphrase
        assert session.scalars(select(StoreKeyVerifier)).one().kind == "scrypt-aesgcm"
        refused(lambda: sign_head(session, passphrase=WRONG, now=NOW))
        assert count_rows(session, "audit_keys") == 0 and count_rows(session, "tree_heads") == 0
        head = sign_head(session, passphrase=PASSPHRASE, now=NOW)
        (key,) = session.scalars(select(AuditKey)).all()
        assert head.kid == key.kid and signing.decrypt(key.private_pem, PASSPHRASE).kid == key.kid

    def test_a_wrong_passphrase_makes_no_issuer_key_and_rotates_nothing(self, session):
        sign_head(session, passphrase=PASSPHRASE, now=NOW)
        refused(lambda: active_issuer_key(session, passphrase=WRONG, now=NOW))
        assert count_rows(session, "issuer_keys") == 0
        refused(lambda: rotate_log_key(session, passphrase=WRONG, actor=OVERSIGHT, now=NOW))
        assert session.scalars(select(AuditKey).where(AuditKey.retired_at.is_not(None))).all() == []

    def test_missing_and_weak_passphrases_keep_their_own_codes(self, session):
        for passphrase, code in ((None, "key_passphrase_missing"), ("corta", "key_passphrase_weak")):
            with pytest.raises(AppError) as caught:
                require_store_passphrase(session, passphrase=passphrase, now=NOW)
            assert caught.value.code == code
        assert count_rows(session, "store_key_verifier") == 0

    def test_a_store_with_keys_but_no_verifier_takes_only_the_passphrase_of_its_keys(self, session):
        # A store made before verifiers: its issuer key is encrypted under PASSPHRASE and the migration
        # left that key as a legacy probe.
        key = signing.generate()
        pem = signing.encrypt(key, PASSPHRASE)
        session.add(IssuerKey(kid=key.kid, public_key=key.public_raw, private_pem=pem, created_at=NOW))
        session.add(StoreKeyVerifier(id=1, kind="legacy-pem", params="pkcs8", ciphertext=pem, created_at=NOW))
        session.flush()
        refused(lambda: sign_head(session, passphrase=WRONG, now=NOW))
        assert count_rows(session, "audit_keys") == 0
        assert session.scalars(select(StoreKeyVerifier)).one().kind == "legacy-pem"
        sign_head(session, passphrase=PASSPHRASE, now=NOW)
        verifier = session.scalars(select(StoreKeyVerifier)).one()
        assert verifier.kind == "scrypt-aesgcm" and PASSPHRASE.encode() not in bytes(verifier.ciphertext)
        refused(lambda: sign_head(session, passphrase=WRONG, now=NOW))

    def test_a_tampered_verifier_refuses_even_the_right_passphrase(self, session):
        require_store_passphrase(session, passphrase=PASSPHRASE, now=NOW)
        session.execute(text("UPDATE store_key_verifier SET ciphertext = :c"), {"c": b"\0" * 46})
        session.expire_all()
        refused(lambda: sign_head(session, passphrase=PASSPHRASE, now=NOW))


class TestAuditHeadSignCommand:
    def test_a_wrong_passphrase_is_refused_before_the_log_key_exists_then_the_right_one_signs(
        self, cli_store, monkeypatch, tmp_path
    ):
        carnet("seed", "--people", "20", "--seed", "3")
        use_settings(monkeypatch, CARNET_KEY_PASSPHRASE=PASSPHRASE)
        carnet("cards", "issue", "--all", "--mailers", tmp_path / "pins.csv", "--json")
        use_settings(monkeypatch, CARNET_KEY_PASSPHRASE=WRONG)
        wrong = carnet("audit", "head", "--sign", ok=False)
        assert wrong.exit_code == 2 and "wrong_passphrase" in wrong.output
        with sqlite3.connect(cli_store / "carnet.db") as conn:
            assert conn.execute("SELECT count(*) FROM audit_keys").fetchone() == (0,)
        use_settings(monkeypatch, CARNET_KEY_PASSPHRASE=PASSPHRASE)
        head = json.loads(carnet("audit", "head", "--sign").output)
        assert len(bytes.fromhex(head["signature"])) == 64
        assert json.loads(carnet("audit", "verify", "--json").output)["ok"]
