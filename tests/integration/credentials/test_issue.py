"""Issuing cards: one active card per person, PINs shown once, keys rotated with overlap, revocation verified."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError

from carnet.audit.repository import log_size
from carnet.audit.service import verify_log
from carnet.credentials import service
from carnet.credentials.issuing import pin_matches
from carnet.credentials.models import Card
from carnet.credentials.service import IssueScope
from carnet.credentials.statuslist import decode_status_list
from carnet.kit.errors import AppError, Conflict, NotFound, ValidationFailed
from tests.conftest import count_rows
from tests.integration.credentials.conftest import NOW, PASSPHRASE, POLICY


def issue(session, registrar, mailers, scope=IssueScope(), **kw):
    return service.issue_cards(session, actor=registrar, scope=scope, policy=POLICY, passphrase=PASSPHRASE, now=NOW,
                               pins=mailers, **kw)  # fmt: skip


def verdict(session, credential, now=NOW):
    return service.verify_card(session, text=credential, policy=POLICY, now=now)


class TestIssue:
    def test_everyone_gets_one_valid_card_and_a_pin_only_they_hold(self, session, registrar, people, mailers):
        persons = people(5)
        before = log_size(session)
        run = issue(session, registrar, mailers, batch_size=2)
        assert run.cards == 5 and run.scope == "all"
        cards = session.scalars(select(Card)).all()
        assert sorted(c.person_id for c in cards) == sorted(persons)
        assert {letter.card_id for letter in mailers.letters} == {c.id for c in cards}
        for card in cards:
            assert verdict(session, card.credential).code == "valid"
            letter = next(letter for letter in mailers.letters if letter.card_id == card.id)
            assert len(letter.pin) == 6 and letter.pin not in card.pin_hash
            assert card.pin_hash.startswith("$argon2id$") and pin_matches(card.pin_hash, letter.pin)
            assert not pin_matches(card.pin_hash, "000001" if letter.pin != "000001" else "000002")
        # One cohort entry in the log for the whole run, however many cards.
        assert log_size(session) == before + 1
        assert verify_log(session).ok

    def test_a_second_run_skips_people_who_hold_a_card(self, session, registrar, people, mailers):
        people(3)
        issue(session, registrar, mailers)
        again = issue(session, registrar, mailers)
        assert again.cards == 0 and count_rows(session, "cards") == 3

    def test_a_region_scope_and_an_unknown_region(self, session, registrar, people, mailers):
        people(2, "VE-A")
        people(3, "VE-B")
        assert issue(session, registrar, mailers, IssueScope(region_code="VE-B")).cards == 3
        with pytest.raises(ValidationFailed) as caught:
            issue(session, registrar, mailers, IssueScope(region_code="XX-9"))
        assert caught.value.errors[0].code == "unknown_region"

    def test_one_person_and_the_database_refuses_a_second_active_card(self, session, registrar, people, mailers):
        (person,) = people(1)
        issue(session, registrar, mailers, IssueScope(person_id=person))
        with pytest.raises(Conflict) as caught:
            issue(session, registrar, mailers, IssueScope(person_id=person))
        assert caught.value.code == "card_exists"
        with pytest.raises(NotFound):
            issue(session, registrar, mailers, IssueScope(person_id=uuid.uuid4()))
        card = session.scalars(select(Card)).one()
        twin = {column.key: getattr(card, column.key) for column in Card.__table__.columns}
        twin |= {"id": uuid.uuid4(), "status_index": card.status_index + 1}
        nested = session.begin_nested()
        with pytest.raises(IntegrityError):
            session.execute(insert(Card), [twin])
        nested.rollback()
        assert card.status == "active"

    def test_status_indexes_are_unique_random_and_spill_into_a_new_list(self, session, registrar, people, mailers):
        people(40)
        small = POLICY.__class__(**{**POLICY.__dict__, "list_capacity": 1024})
        service.issue_cards(session, actor=registrar, scope=IssueScope(), policy=small, passphrase=PASSPHRASE,
                            now=NOW, pins=mailers)  # fmt: skip
        slots = session.execute(select(Card.status_list_id, Card.status_index)).all()
        assert len(set(slots)) == 40
        indexes = sorted(index for _, index in slots)
        assert indexes != list(range(indexes[0], indexes[0] + 40))  # not handed out in order

    def test_without_the_passphrase_nothing_is_issued(self, session, registrar, people, mailers):
        people(1)
        with pytest.raises(AppError) as caught:
            service.issue_cards(session, actor=registrar, scope=IssueScope(), policy=POLICY, passphrase=None, now=NOW,
                                pins=mailers)  # fmt: skip
        assert caught.value.code == "key_passphrase_missing"

    def test_workers_sign_the_same_way(self, session, registrar, people, mailers):
        people(30)
        run = issue(session, registrar, mailers, workers=2, batch_size=7)
        assert run.cards == 30 and len(mailers.letters) == 30
        for card in session.scalars(select(Card)):
            assert verdict(session, card.credential).code == "valid"


class TestRevocation:
    def test_a_revoked_card_is_refused_and_the_signed_list_says_so(self, session, registrar, people, mailers):
        people(3)
        issue(session, registrar, mailers)
        card = session.scalars(select(Card)).first()
        revoked = service.revoke_card(session, actor=registrar, card_id=card.id, reason="stolen", now=NOW)
        assert (revoked.status, revoked.revocation_reason) == ("revoked", "stolen")
        assert verdict(session, card.credential).code == "revoked"
        token = service.status_list_token(session, list_id=card.status_list_id, policy=POLICY, passphrase=PASSPHRASE,
                                          now=NOW)  # fmt: skip
        listed = decode_status_list(token, service.verifier_keys(session, now=NOW))
        assert listed.is_revoked(card.status_index) and listed.ttl == POLICY.list_ttl_seconds
        others = session.scalars(select(Card).where(Card.id != card.id)).all()
        assert not any(listed.is_revoked(c.status_index) for c in others)
        with pytest.raises(Conflict):
            service.revoke_card(session, actor=registrar, card_id=card.id, reason="lost", now=NOW)

    def test_bad_reasons_and_unknown_cards(self, session, registrar, people, mailers):
        people(1)
        issue(session, registrar, mailers)
        card = session.scalars(select(Card)).one()
        with pytest.raises(ValidationFailed) as caught:
            service.revoke_card(session, actor=registrar, card_id=card.id, reason="voted wrong", now=NOW)
        assert caught.value.errors[0].code == "invalid_revocation_reason"
        with pytest.raises(NotFound):
            service.revoke_card(session, actor=registrar, card_id=uuid.uuid4(), reason="lost", now=NOW)
        with pytest.raises(NotFound):
            service.status_list_token(session, list_id=999, policy=POLICY, passphrase=PASSPHRASE, now=NOW)

    def test_reissue_revokes_the_old_card_and_links_the_new(self, session, registrar, people, mailers):
        (person,) = people(1)
        issue(session, registrar, mailers)
        old = session.scalars(select(Card)).one()
        run = service.reissue_card(session, actor=registrar, person_id=person, reason="damaged", policy=POLICY,
                                   passphrase=PASSPHRASE, now=NOW, pins=mailers)  # fmt: skip
        new = session.scalars(select(Card).where(Card.issue_run_id == run.id)).one()
        session.refresh(old)
        assert (old.status, old.revocation_reason) == ("revoked", "reissued")
        assert new.replaces_card_id == old.id and new.status == "active"
        assert verdict(session, old.credential).code == "revoked" and verdict(session, new.credential).code == "valid"
        with pytest.raises(ValidationFailed):
            service.reissue_card(session, actor=registrar, person_id=person, reason="upgrade", policy=POLICY,
                                 passphrase=PASSPHRASE, now=NOW, pins=mailers)  # fmt: skip


class TestKeysAndTime:
    def test_rotation_keeps_old_cards_valid_and_signs_new_ones_with_the_new_key(
        self, session, registrar, people, mailers
    ):
        first, second = people(2)
        issue(session, registrar, mailers, IssueScope(person_id=first))
        rotated = service.rotate_issuer_key(session, actor=registrar, passphrase=PASSPHRASE, now=NOW)
        issue(session, registrar, mailers, IssueScope(person_id=second))
        old, new = (session.scalars(select(Card).where(Card.person_id == p)).one() for p in (first, second))
        assert (old.kid, new.kid) == (rotated["retired"], rotated["kid"])
        assert verdict(session, old.credential).code == "valid" and verdict(session, new.credential).code == "valid"
        states = {k["kid"]: k["state"] for k in service.list_issuer_keys(session, now=NOW)}
        assert states == {rotated["retired"]: "verifying", rotated["kid"]: "signing"}
        # Once its last card has expired, the retired key is no longer published and its cards are unknown.
        later = NOW + timedelta(days=POLICY.validity_days + 1)
        assert len(service.verifier_keys(session, now=later)) == 1
        assert verdict(session, old.credential, later).code == "unknown_key"

    def test_expiry_and_staleness_at_their_boundaries(self, session, registrar, people, mailers):
        people(1)
        issue(session, registrar, mailers)
        card = session.scalars(select(Card)).one()
        keys = service.verifier_keys(session, now=NOW)
        lists = service.current_status_lists(session, policy=POLICY, now=NOW)
        from carnet.credentials.verify import verify_credential

        start, end = int(NOW.timestamp()), int(NOW.timestamp()) + POLICY.validity_days * 86400
        ttl = POLICY.list_ttl_seconds
        codes = [verify_credential(card.credential, keys=keys, status_lists=lists, now=t).code
                 for t in (start - 1, start, start + ttl - 1, start + ttl)]  # fmt: skip
        assert codes == ["not_yet_valid", "valid", "valid", "status_list_stale"]
        fresh = service.current_status_lists(session, policy=POLICY, now=NOW + timedelta(seconds=end - start - 1))
        assert verify_credential(card.credential, keys=keys, status_lists=fresh, now=end - 1).code == "valid"
        assert verify_credential(card.credential, keys=keys, status_lists=fresh, now=end).code == "expired"

    def test_key_sets_publish_what_verifies(self, session, registrar, people, mailers):
        from carnet.credentials.keyset import parse_cose_key_set, parse_jwks

        people(1)
        issue(session, registrar, mailers)
        cose = service.published_key_set(session, now=NOW, form="cose")
        document = service.published_key_set(session, now=NOW, form="jwks")
        assert parse_cose_key_set(cose) == parse_jwks(document) == service.verifier_keys(session, now=NOW)
        with pytest.raises(AppError):
            service.published_key_set(session, now=NOW, form="pem")
