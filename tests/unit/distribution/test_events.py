"""Redemption events: signed, hash-chained per device, and admitted exactly once whatever the network does."""

from __future__ import annotations

import uuid
from dataclasses import replace

import cbor2
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from hypothesis import given, settings
from hypothesis import strategies as st

from carnet.credentials.cose import cose_kid, sign1
from carnet.distribution.events import (
    GENESIS_HASH,
    ChainHead,
    EventError,
    SignedEvent,
    Stored,
    admit,
    clock_flags,
    decode_event,
    next_event,
    sign_event,
    verify_event,
)
from carnet.kit.ids import uuid7

T0 = 1_796_000_000


class Device:
    """A point's device as the tests drive it: a key and the chain of events it signed."""

    def __init__(self) -> None:
        self.id = uuid7()
        self._key = Ed25519PrivateKey.generate()
        self.public = self._key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        self.kid = cose_kid(self.public)
        self.events: list[SignedEvent] = []

    def redeem(self, card: str = "CARD1", quantity: int = 1, after: SignedEvent | None = None) -> SignedEvent:
        previous = after if after is not None else (self.events[-1] if self.events else None)
        tip = previous.head if previous else ChainHead()
        event = next_event(tip, event_id=uuid7(), device_id=self.id, card_id=card, programme="food-box",
                           cycle="2026-12", quantity=quantity, device_time=T0 + len(self.events),
                           manifest_version=3)  # fmt: skip
        signed = sign_event(event, kid=self.kid, sign=self._key.sign)
        self.events.append(signed)
        return signed


class Server:
    """The server's side of admission for the tests: what it holds, by id and by hash (a dict, not a database)."""

    def __init__(self) -> None:
        self.held: dict[uuid.UUID, tuple[Stored, SignedEvent]] = {}
        self.heads: dict[uuid.UUID, ChainHead] = {}

    def _by_hash(self, digest: bytes) -> Stored | None:
        for stored, _ in self.held.values():
            if stored.hash == digest:
                return stored
        return None

    def sync(self, device: Device, batch: list[SignedEvent]):
        verified = [verify_event(s.data, device_id=device.id, public_raw=device.public) for s in batch]
        result = admit(self.heads.get(device.id, ChainHead()), verified, device_id=device.id,
                       by_id=lambda i: self.held[i][0] if i in self.held else None, by_hash=self._by_hash)  # fmt: skip
        for signed in result.accepted:
            self.held[signed.event.event_id] = (Stored(device.id, signed.hash, signed.event.seq), signed)
        for signed in result.forked:
            self.held[signed.event.event_id] = (Stored(device.id, signed.hash, signed.event.seq, True), signed)
        self.heads[device.id] = result.head
        return result

    def acknowledged(self, result) -> set[uuid.UUID]:
        return {s.event.event_id for s in result.accepted + result.forked} | set(result.replayed)


class TestTheChain:
    def test_a_devices_events_are_numbered_and_linked(self):
        device = Device()
        first, second = device.redeem(), device.redeem()
        assert (first.event.seq, first.event.prev_hash) == (1, GENESIS_HASH)
        assert (second.event.seq, second.event.prev_hash) == (2, first.hash)

    def test_in_order_events_extend_the_chain(self):
        device, server = Device(), Server()
        events = [device.redeem() for _ in range(5)]
        result = server.sync(device, events)
        assert [s.event.seq for s in result.accepted] == [1, 2, 3, 4, 5]
        assert result.head == ChainHead(5, events[-1].hash)
        assert not (result.forked or result.conflicts or result.waiting or result.replayed)

    def test_a_replay_is_acknowledged_again_and_stores_nothing_new(self):
        device, server = Device(), Server()
        events = [device.redeem() for _ in range(3)]
        server.sync(device, events)
        again = server.sync(device, events)
        assert again.replayed == sorted(s.event.event_id for s in events)
        assert not again.accepted and again.head.seq == 3

    def test_a_gap_is_asked_for_and_what_follows_waits(self):
        device, server = Device(), Server()
        events = [device.redeem() for _ in range(6)]
        result = server.sync(device, [events[0], events[4], events[5]])
        assert [s.event.seq for s in result.accepted] == [1]
        assert result.missing == [2, 3, 4]
        assert set(result.waiting) == {events[4].event.event_id, events[5].event.event_id}
        filled = server.sync(device, events[1:])
        assert [s.event.seq for s in filled.accepted] == [2, 3, 4, 5, 6] and not filled.missing

    def test_the_same_id_with_other_content_is_a_conflict(self):
        device, server = Device(), Server()
        original = device.redeem()
        server.sync(device, [original])
        forged = sign_event(replace(original.event, quantity=9), kid=device.kid, sign=device._key.sign)
        result = server.sync(device, [forged])
        assert result.conflicts == {original.event.event_id: "event_conflict"}
        assert server.held[original.event.event_id][1].data == original.data

    def test_two_contents_under_one_new_id_in_one_batch_admit_neither(self):
        device, server = Device(), Server()
        event = device.redeem()
        other = sign_event(replace(event.event, quantity=2), kid=device.kid, sign=device._key.sign)
        result = server.sync(device, [event, other])
        assert result.conflicts == {event.event.event_id: "event_conflict"}
        assert not result.accepted and event.event.event_id not in server.held

    def test_a_device_restored_from_an_old_backup_forks_and_nothing_is_lost(self):
        device, server = Device(), Server()
        events = [device.redeem() for _ in range(4)]
        server.sync(device, events)
        # Restored to its state after event 2, the device goes on signing from there: 3', 4', 5'.
        restored = [device.redeem(card="CARD2", after=events[1])]
        for _ in range(2):
            restored.append(device.redeem(card="CARD2", after=restored[-1]))
        result = server.sync(device, restored)
        assert [s.event.seq for s in result.forked] == [3, 4, 5]
        assert not result.accepted and result.head.seq == 4
        assert all(s.event.event_id in server.held for s in restored)
        # And the forked branch's later events, in a later batch, are recognised as the same branch.
        later = device.redeem(card="CARD2", after=restored[-1])
        assert [s.event.seq for s in server.sync(device, [later]).forked] == [6]

    def test_a_rewritten_predecessor_at_the_tip_is_a_fork(self):
        device, server = Device(), Server()
        events = [device.redeem() for _ in range(3)]
        server.sync(device, events[:2])
        rewritten = sign_event(replace(events[2].event, prev_hash=bytes(range(32))), kid=device.kid,
                               sign=device._key.sign)  # fmt: skip
        result = server.sync(device, [rewritten])
        assert result.forked == [rewritten] and result.head.seq == 2

    def test_an_event_claiming_a_predecessor_at_the_wrong_number_is_a_fork(self):
        device, server = Device(), Server()
        events = [device.redeem() for _ in range(3)]
        server.sync(device, events)
        jump = sign_event(replace(events[2].event, event_id=uuid7(), seq=9, prev_hash=events[0].hash),
                          kid=device.kid, sign=device._key.sign)  # fmt: skip
        assert server.sync(device, [jump]).forked == [jump]


@st.composite
def deliveries(draw):
    """A device's events and the batches a lossy, duplicating, reordering network delivers of them."""
    count = draw(st.integers(1, 12))
    rounds = draw(st.lists(st.lists(st.integers(0, count - 1), max_size=2 * count), min_size=1, max_size=6))
    return count, rounds


class TestTheNetworkCannotHurt:
    @settings(max_examples=60, deadline=None)
    @given(deliveries())
    def test_dropped_duplicated_reordered_batches_then_a_full_resend_admit_each_event_once(self, plan):
        count, rounds = plan
        device, server = Device(), Server()
        events = [device.redeem(card=f"CARD{i}") for i in range(count)]
        acknowledged: set[uuid.UUID] = set()
        for indexes in rounds:
            result = server.sync(device, [events[i] for i in indexes])
            acknowledged |= server.acknowledged(result)
            assert not result.forked and not result.conflicts
            # Only what extends the chain without a hole is acknowledged.
            assert {s.event.event_id for s in result.accepted} <= {e.event.event_id for e in events}
        # The device deletes nothing before its acknowledgement: it sends again whatever is unacknowledged.
        unacknowledged = [e for e in events if e.event.event_id not in acknowledged]
        final = server.sync(device, unacknowledged[::-1])
        assert not final.waiting and not final.missing
        assert len(server.held) == count
        assert server.heads[device.id] == ChainHead(count, events[-1].hash)
        # Replaying the whole history changes nothing.
        replay = server.sync(device, events + events)
        assert not replay.accepted and len(replay.replayed) == count and len(server.held) == count

    @settings(max_examples=40, deadline=None)
    @given(st.integers(2, 10), st.randoms(use_true_random=False), st.integers(0, 3))
    def test_the_decision_ignores_order_and_repetition(self, count, rng, held):
        device = Device()
        events = [device.redeem() for _ in range(count)]
        outcomes = []
        for _ in range(3):
            server = Server()
            server.sync(device, events[:held])
            batch = events[held:] * rng.randint(1, 3)
            rng.shuffle(batch)
            result = server.sync(device, batch)
            outcomes.append(([s.data for s in result.accepted], result.replayed, result.head))
        assert outcomes[0] == outcomes[1] == outcomes[2]


class TestRefusedEvents:
    def test_a_tampered_event_fails_its_signature(self):
        device = Device()
        signed = device.redeem(quantity=1)
        tampered = bytearray(signed.data)
        tampered[-1] ^= 1
        with pytest.raises(EventError) as refused:
            verify_event(bytes(tampered), device_id=device.id, public_raw=device.public)
        assert refused.value.code == "event_signature_invalid"

    def test_an_event_signed_by_another_device_is_refused(self):
        device, thief = Device(), Device()
        signed = thief.redeem()
        with pytest.raises(EventError) as refused:
            verify_event(signed.data, device_id=thief.id, public_raw=device.public)
        assert refused.value.code == "event_signature_invalid"
        with pytest.raises(EventError) as replayed:
            verify_event(signed.data, device_id=device.id, public_raw=device.public)
        assert replayed.value.code == "event_wrong_device"

    def test_an_event_replayed_under_another_device_is_a_conflict(self):
        first, second, server = Device(), Device(), Server()
        signed = first.redeem()
        server.sync(first, [signed])
        held = {i: stored for i, (stored, _) in server.held.items()}
        result = admit(ChainHead(), [signed], device_id=second.id, by_id=held.get, by_hash=lambda h: None)
        assert result.conflicts == {signed.event.event_id: "event_conflict"}

    @pytest.mark.parametrize(
        "payload",
        [
            b"not cbor",
            cbor2.dumps({"v": 1}),
            cbor2.dumps([1, 2, 3]),
        ],
    )
    def test_what_is_not_an_event_is_malformed(self, payload):
        device = Device()
        data = sign1(payload, kid=device.kid, sign=device._key.sign, typ="carnet-event/1")
        with pytest.raises(EventError) as refused:
            decode_event(data)
        assert refused.value.code == "event_malformed"

    def test_an_event_with_an_extra_field_is_malformed(self):
        device = Device()
        claims = device.redeem().event.claims() | {"name": "Ana"}
        data = sign1(cbor2.dumps(claims), kid=device.kid, sign=device._key.sign, typ="carnet-event/1")
        with pytest.raises(EventError, match="exactly the version-1 fields"):
            decode_event(data)

    def test_a_card_credential_is_not_an_event(self):
        device = Device()
        data = sign1(cbor2.dumps(device.redeem().event.claims()), kid=device.kid, sign=device._key.sign)
        with pytest.raises(EventError, match="typ"):
            decode_event(data)

    def test_a_non_deterministic_encoding_is_refused(self):
        device = Device()
        claims = device.redeem().event.claims()
        reordered = dict(reversed(list(claims.items())))
        data = sign1(cbor2.dumps(reordered), kid=device.kid, sign=device._key.sign, typ="carnet-event/1")
        with pytest.raises(EventError, match="deterministic"):
            decode_event(data)

    def test_an_oversized_message_is_refused_before_parsing(self):
        with pytest.raises(EventError, match="at most 1024"):
            decode_event(b"\x00" * 1025)

    @pytest.mark.parametrize(
        ("field", "value"),
        [
            ("seq", 0),
            ("quantity", 0),
            ("quantity", 1_000_001),
            ("cycle", "2026-13"),
            ("card_id", "a card"),
            ("programme", "Food Box"),
            ("flags", ("unknown",)),
            ("flags", ("stale", "exception")),
            ("prev_hash", b"short"),
            ("event_id", uuid.uuid4()),
        ],
    )
    def test_field_values_out_of_shape_are_refused(self, field, value):
        good = next_event(ChainHead(), event_id=uuid7(), device_id=uuid7(), card_id="C1", programme="food-box",
                          cycle="2026-12", quantity=1, device_time=T0, manifest_version=1)  # fmt: skip
        with pytest.raises(EventError) as refused:
            replace(good, **{field: value})
        assert refused.value.code == "event_malformed"

    def test_only_the_first_event_starts_from_the_zero_hash(self):
        good = next_event(ChainHead(), event_id=uuid7(), device_id=uuid7(), card_id="C1", programme="food-box",
                          cycle="2026-12", quantity=1, device_time=T0, manifest_version=1)  # fmt: skip
        with pytest.raises(EventError, match="zero hash"):
            replace(good, seq=2)
        with pytest.raises(EventError, match="zero hash"):
            replace(good, prev_hash=b"\x01" * 32)

    @settings(max_examples=200, deadline=None)
    @given(st.binary(max_size=300))
    def test_arbitrary_bytes_are_refused_with_a_code_never_a_crash(self, data):
        with pytest.raises(EventError):
            decode_event(data)


class TestDeviceClocks:
    def test_a_plausible_clock_is_not_flagged(self):
        assert clock_flags(device_time=T0, server_time=T0 + 5 * 86400, previous_device_time=T0 - 60,
                           enrolled_at=T0 - 86400) == []  # fmt: skip

    def test_a_clock_ahead_of_the_server_is_flagged(self):
        assert clock_flags(device_time=T0 + 601, server_time=T0, previous_device_time=None,
                           enrolled_at=T0 - 1) == ["device_clock_ahead"]  # fmt: skip
        assert clock_flags(device_time=T0 + 600, server_time=T0, previous_device_time=None, enrolled_at=T0) == []

    def test_a_clock_before_enrolment_or_running_backwards_is_flagged(self):
        flags = clock_flags(device_time=T0 - 10_000, server_time=T0, previous_device_time=T0 - 100, enrolled_at=T0)
        assert flags == ["device_clock_before_enrolment", "device_clock_backwards"]


class TestReceiptCodes:
    def test_the_code_is_forty_bits_of_the_hash_in_crockford_base32(self):
        from carnet.distribution.events import receipt_code

        assert receipt_code(bytes(32)) == "0000-0000"
        assert receipt_code(b"\xff" * 32) == "ZZZZ-ZZZZ"
        assert receipt_code(bytes([0x08, 0x42, 0x10, 0x84, 0x21]) + bytes(27)) == "1111-1111"

    @pytest.mark.parametrize(("typed", "canonical"), [("abcd-efgh", "ABCD-EFGH"), (" o1il 2345 ", "0111-2345"),
                                                      ("ABCDEFGH", "ABCD-EFGH")])  # fmt: skip
    def test_a_typed_code_is_folded_to_its_canonical_form(self, typed, canonical):
        from carnet.distribution.events import normalise_receipt_code

        assert normalise_receipt_code(typed) == canonical

    @pytest.mark.parametrize("typed", ["", "ABCD-EFG", "ABCD-EFGHJ", "ABCU-EFGH", "ABCD_EFGH"])
    def test_what_is_not_a_code_is_none(self, typed):
        from carnet.distribution.events import normalise_receipt_code

        assert normalise_receipt_code(typed) is None
