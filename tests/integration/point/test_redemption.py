"""Redemption at an offline point, against its own SQLite store: what is handed over, what is refused, and why."""

from __future__ import annotations

import sqlite3
import uuid
from dataclasses import replace

import pytest
from argon2 import PasswordHasher
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from carnet.credentials.cose import VerifierKey, cose_kid
from carnet.credentials.credential import issue_credential
from carnet.credentials.cwt import CardClaims
from carnet.credentials.keyset import cose_key_set
from carnet.credentials.statuslist import build_status_list, sign_status_list
from carnet.distribution.events import ChainHead, Stored, admit, verify_event
from carnet.distribution.manifest import EscrowEntry, Manifest, Policy, encode_manifest
from carnet.distribution.pin_tag import check_from_hash
from carnet.kit.ids import uuid7
from carnet.kit.signing import SigningKey
from carnet.point.agent import PointAgent, Refused
from carnet.point.keys import DeviceKeys, PointKeyError
from carnet.point.store import Identity, PointStore

NOW = 1_796_000_000
DAY = 86_400
HASHER = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
ISSUER = SigningKey(Ed25519PrivateKey.from_private_bytes(bytes([7]) * 32))
DISTRIBUTION = SigningKey(Ed25519PrivateKey.from_private_bytes(bytes([8]) * 32))
OTHER = SigningKey(Ed25519PrivateKey.from_private_bytes(bytes([9]) * 32))
PASSPHRASE = "a long point passphrase"


def card_id(n: int) -> bytes:
    return bytes([n]) * 16


def qr(n: int, key: SigningKey = ISSUER) -> str:
    claims = CardClaims(issuer="carnet", card_id=card_id(n), not_before=NOW - 100 * DAY, expires=NOW + 300 * DAY,
                        status_list_id="s1", status_index=n)  # fmt: skip
    return issue_credential(claims, kid=cose_kid(key.public_raw), sign=key.sign)


class Counter:
    """A point's device with a manifest: cards 1–3 in escrow (1 and 2 share a household entitlement), PIN 24680+n."""

    def __init__(self, directory, *, revoked=(), list_age=0, policy=None, window=(NOW - DAY, NOW + 30 * DAY)):
        self.store = PointStore(directory)
        self.keys = DeviceKeys.generate()
        self.device_id, self.point_id = uuid7(), uuid7()
        trusted = cose_key_set([VerifierKey.from_public(DISTRIBUTION.public_raw)])
        sealed = self.keys.seal(PASSPHRASE)
        identity = Identity(self.device_id, self.point_id, "Depot 1", "http://server", sealed, trusted, NOW - 10 * DAY)
        self.store.save_identity(identity)
        token = sign_status_list(list_id="s1", bits=build_status_list(1024, revoked), issued_at=NOW - list_age,
                                 ttl=7 * DAY, kid=cose_kid(ISSUER.public_raw), sign=ISSUER.sign)  # fmt: skip
        self.household = uuid.UUID(int=1)
        self.single = uuid.UUID(int=3)
        escrow = (EscrowEntry(self.household, "food-box", 4, (card_id(1), card_id(2))),
                  EscrowEntry(self.single, "food-box", 2, (card_id(3),)),
                  EscrowEntry(uuid.UUID(int=4), "fuel", 20, (card_id(3),)))  # fmt: skip
        pins = {card_id(n): check_from_hash(card_id(n).hex(), HASHER.hash(f"24680{n}")) for n in (1, 2, 3)}
        policy = policy or Policy(stale_after=3 * DAY, stale_action="refuse", exceptions={})
        manifest = Manifest(point_id=self.point_id, device_id=self.device_id, cycle="2026-12", version=1, base=0,
                            issued_at=NOW - DAY, not_before=window[0], not_after=window[1], through=0,
                            escrow=escrow, dropped=(), pins=pins, status_lists=(token,),
                            issuer_keys=cose_key_set([VerifierKey.from_public(ISSUER.public_raw)]),
                            policy=policy)  # fmt: skip
        data = encode_manifest(manifest, kid=cose_kid(DISTRIBUTION.public_raw), sign=DISTRIBUTION.sign,
                               device_box_key=self.keys.box_public, ephemeral=X25519PrivateKey.generate(),
                               nonce=bytes(12))  # fmt: skip
        self.store.add_manifest(cycle="2026-12", version=1, data=data, received_at=NOW - DAY, replaces=True)
        self.agent = PointAgent(self.store, DeviceKeys.open(self.store.identity().keys, PASSPHRASE), new_id=uuid7)

    def redeem(self, n: int | str, pin: str | None = None, **kwargs):
        text = qr(n) if isinstance(n, int) else n
        pin = f"24680{n}" if pin is None else pin
        return self.agent.redeem(text, pin=pin, now=kwargs.pop("now", NOW), **kwargs)


def refused(call) -> Refused:
    with pytest.raises(Refused) as caught:
        call()
    return caught.value


@pytest.fixture
def counter(tmp_path):
    return Counter(tmp_path / "point")


class TestHandOver:
    def test_the_right_card_and_pin_hand_over_what_is_left_and_record_it(self, counter):
        receipt = counter.redeem(3, programme="food-box")
        assert (receipt.programme, receipt.quantity, receipt.remaining) == ("food-box", 2, 0)
        assert len(receipt.code) == 9 and receipt.code[4] == "-"
        [event] = counter.store.events()
        assert (event.seq, event.card, event.quantity, event.receipt) == (1, card_id(3), 2, receipt.code)
        assert event.acknowledged_at is None

    def test_a_household_entitlement_is_shared_by_its_members_cards(self, counter):
        assert counter.redeem(1, quantity=3).remaining == 1
        assert counter.redeem(2).quantity == 1
        assert refused(lambda: counter.redeem(1)).code == "entitlement_used"

    def test_more_than_is_left_is_refused_and_nothing_is_written(self, counter):
        error = refused(lambda: counter.redeem(1, quantity=5))
        assert (error.code, error.extra["remaining"]) == ("quantity_exceeds_remaining", 4)
        assert counter.store.events() == []

    def test_a_card_with_two_programmes_here_must_choose(self, counter):
        error = refused(lambda: counter.redeem(3))
        assert (error.code, error.extra["programmes"]) == ("programme_required", ["food-box", "fuel"])
        assert counter.redeem(3, programme="fuel", quantity=5).remaining == 15

    def test_events_are_signed_chained_and_admitted_by_the_server(self, counter):
        counter.redeem(1, quantity=1)
        counter.redeem(2, quantity=1)
        events = counter.store.events()
        signed = [
            verify_event(e.data, device_id=counter.device_id, public_raw=counter.keys.sign_public) for e in events
        ]
        assert [s.event.seq for s in signed] == [1, 2] and signed[1].event.prev_hash == signed[0].hash
        result = admit(ChainHead(), signed, device_id=counter.device_id, by_id=lambda i: None, by_hash=lambda h: None)
        assert len(result.accepted) == 2

    def test_what_the_server_already_counted_is_not_subtracted_twice(self, counter):
        counter.redeem(1, quantity=3)
        assert counter.store.redeemed_since(counter.household, 0) == 3
        assert counter.store.redeemed_since(counter.household, 1) == 0


class TestPins:
    def test_five_wrong_pins_lock_the_card_at_this_device_even_for_the_right_one(self, counter):
        lefts = [refused(lambda: counter.redeem(1, pin="000000")).extra.get("attempts_left") for _ in range(4)]
        assert lefts == [4, 3, 2, 1]
        assert refused(lambda: counter.redeem(1, pin="000000")).code == "pin_locked"
        assert refused(lambda: counter.redeem(1)).code == "pin_locked"
        # Another card of the same household is not locked by it.
        assert counter.redeem(2, quantity=1).quantity == 1
        assert counter.store.events()[0].card == card_id(2)

    def test_the_right_pin_clears_earlier_failures(self, counter):
        for _ in range(3):
            refused(lambda: counter.redeem(1, pin="111111"))
        counter.redeem(1, quantity=1)
        assert counter.store.pin_failures(card_id(1)) == 0

    @pytest.mark.parametrize("pin", ["", "24680", "2468011", "abcdef"])
    def test_a_malformed_pin_is_a_wrong_pin(self, counter, pin):
        assert refused(lambda: counter.redeem(1, pin=pin)).code == "pin_wrong"


class TestCardsRefused:
    def test_a_revoked_card_is_refused(self, tmp_path):
        counter = Counter(tmp_path / "p", revoked=(1,))
        assert refused(lambda: counter.redeem(1)).code == "revoked"
        assert counter.store.events() == []

    def test_a_qr_that_is_not_a_card_is_refused(self, counter):
        assert refused(lambda: counter.agent.redeem("https://example.org/", pin="246801", now=NOW)).code == "malformed"

    def test_a_forged_card_is_refused(self, counter):
        assert refused(lambda: counter.redeem(qr(1, key=OTHER), pin="246801")).code == "unknown_key"

    def test_a_card_not_in_escrow_here_is_sent_to_its_own_point(self, counter):
        assert refused(lambda: counter.redeem(9, programme="food-box")).code == "not_in_escrow"
        assert refused(lambda: counter.redeem(9)).code == "not_in_escrow"


class TestPolicies:
    def test_a_stale_status_list_is_refused_under_the_refuse_policy(self, tmp_path):
        counter = Counter(tmp_path / "p", list_age=3 * DAY)
        assert refused(lambda: counter.redeem(1)).code == "status_list_stale"

    def test_a_stale_status_list_is_served_and_flagged_under_the_flag_policy(self, tmp_path):
        policy = Policy(stale_after=3 * DAY, stale_action="flag", exceptions={})
        counter = Counter(tmp_path / "p", list_age=10 * DAY, policy=policy)
        assert counter.redeem(1, quantity=1).flags == ("status_list_stale",)
        fresh = Counter(tmp_path / "q", list_age=3 * DAY - 1, policy=policy)
        assert fresh.redeem(1, quantity=1).flags == ()

    def test_a_stale_list_still_refuses_a_card_it_marks_revoked(self, tmp_path):
        policy = Policy(stale_after=DAY, stale_action="flag", exceptions={})
        counter = Counter(tmp_path / "p", list_age=10 * DAY, policy=policy, revoked=(1,))
        assert refused(lambda: counter.redeem(1)).code == "revoked"

    def test_past_the_manifests_window_the_hand_over_is_recorded_and_flagged(self, tmp_path):
        counter = Counter(tmp_path / "p", window=(NOW - 30 * DAY, NOW - DAY))
        assert counter.redeem(1, quantity=1).flags == ("manifest_expired",)

    def test_exceptions_are_served_up_to_the_cap_and_flagged(self, tmp_path):
        policy = Policy(stale_after=3 * DAY, stale_action="refuse", exceptions={"food-box": 2})
        counter = Counter(tmp_path / "p", policy=policy)
        assert refused(lambda: counter.redeem(9, programme="food-box")).code == "quantity_required"
        first = counter.redeem(9, programme="food-box", quantity=1)
        assert (first.flags, first.remaining) == (("exception",), None)
        counter.redeem(10, programme="food-box", quantity=1)
        assert refused(lambda: counter.redeem(11, programme="food-box", quantity=1)).code == "exception_cap_reached"
        assert [e.entitlement_id for e in counter.store.events()] == [None, None]


class TestTheStore:
    def test_a_manifest_altered_in_the_store_is_not_used(self, tmp_path):
        counter = Counter(tmp_path / "p")
        db = sqlite3.connect(counter.store.path)
        data = db.execute("SELECT data FROM manifests").fetchone()[0]
        db.execute("UPDATE manifests SET data = ?", (data[:-1] + bytes([data[-1] ^ 1]),))
        db.commit()
        agent = PointAgent(counter.store, counter.agent.keys, new_id=uuid7)
        assert refused(lambda: agent.redeem(qr(1), pin="246801", now=NOW)).code == "point_store_tampered"

    def test_events_cannot_be_rewritten_or_deleted_before_their_acknowledgement(self, counter):
        counter.redeem(1, quantity=1)
        db = sqlite3.connect(counter.store.path, isolation_level=None)
        with pytest.raises(sqlite3.IntegrityError, match="immutable"):
            db.execute("UPDATE events SET quantity = 9")
        with pytest.raises(sqlite3.IntegrityError, match="unacknowledged"):
            db.execute("DELETE FROM events")
        [event] = counter.store.events()
        counter.store.acknowledge({event.event_id: "accepted"}, at=NOW + 60)
        db.execute("DELETE FROM events")

    def test_the_store_file_is_the_owners_only(self, counter):
        assert counter.store.path.stat().st_mode & 0o077 == 0

    def test_a_second_enrolment_of_one_store_is_refused(self, counter):
        with pytest.raises(Exception) as caught:
            counter.store.save_identity(replace(counter.store.identity(), device_id=uuid7()))
        assert caught.value.code == "point_already_enrolled"

    def test_the_keys_open_only_with_the_passphrase(self, counter):
        sealed = counter.store.identity().keys
        with pytest.raises(PointKeyError) as wrong:
            DeviceKeys.open(sealed, "not the passphrase")
        assert wrong.value.code == "point_wrong_passphrase"
        with pytest.raises(PointKeyError) as missing:
            DeviceKeys.open(sealed, None)
        assert missing.value.code == "point_passphrase_missing"
        assert DeviceKeys.open(sealed, PASSPHRASE).sign_public == counter.keys.sign_public

    def test_two_points_on_one_machine_keep_separate_stores(self, tmp_path):
        first, second = Counter(tmp_path / "a"), Counter(tmp_path / "b")
        first.redeem(1, quantity=1)
        assert second.store.events() == [] and len(first.store.events()) == 1


def test_a_server_record_of_an_event_replays(counter):
    counter.redeem(1, quantity=1)
    [stored] = counter.store.events()
    signed = verify_event(stored.data, device_id=counter.device_id, public_raw=counter.keys.sign_public)
    held = Stored(counter.device_id, signed.hash, 1)
    result = admit(ChainHead(1, signed.hash), [signed], device_id=counter.device_id,
                   by_id={signed.event.event_id: held}.get, by_hash={signed.hash: held}.get)  # fmt: skip
    assert result.replayed == [signed.event.event_id]
