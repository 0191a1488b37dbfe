"""Redemption at an offline point, against its own SQLite store: what is handed over, what is refused, and why."""

from __future__ import annotations

import sqlite3
from dataclasses import replace

import pytest

from carnet.distribution.events import ChainHead, Stored, admit, verify_event
from carnet.distribution.manifest import Policy
from carnet.kit.ids import uuid7
from carnet.point.agent import PointAgent, Refused
from carnet.point.keys import DeviceKeys, PointKeyError
from tests.integration.point.support import DAY, NOW, OTHER, PASSPHRASE, Counter, card_id, qr


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
