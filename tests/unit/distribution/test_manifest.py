"""Manifests: signed, sealed to one device, holding nothing about a person beyond card ids, folded in by version."""

from __future__ import annotations

import uuid
from dataclasses import replace

import cbor2
import pytest
from argon2 import PasswordHasher
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from hypothesis import given, settings
from hypothesis import strategies as st

from carnet.credentials.cose import VerifierKey, decode_sign1, dumps_deterministic, sign1
from carnet.distribution.manifest import (
    ENTRY_FIELDS,
    FIELDS,
    MANIFEST_TYP,
    EscrowEntry,
    Manifest,
    ManifestError,
    Policy,
    apply,
    delta,
    encode_manifest,
    read_manifest,
)
from carnet.distribution.pin_tag import check_from_hash, pin_passes
from carnet.kit.ids import uuid7

T0 = 1_796_000_000
DAY = 86_400
CHEAP = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)


def _raw(public) -> bytes:
    return public.public_bytes(Encoding.Raw, PublicFormat.Raw)


class Server:
    """The signing side: a distribution key."""

    def __init__(self) -> None:
        self.key = Ed25519PrivateKey.generate()
        self.verifier = VerifierKey.from_public(_raw(self.key.public_key()))


class Tablet:
    """A device: its id and its X25519 key for PIN data."""

    def __init__(self) -> None:
        self.id = uuid7()
        self.box = X25519PrivateKey.generate()
        self.box_public = _raw(self.box.public_key())


def card(n: int) -> bytes:
    return n.to_bytes(16, "big")


def entry(n: int, remaining: int = 1, cards: tuple[int, ...] | None = None) -> EscrowEntry:
    return EscrowEntry(uuid.UUID(int=n), "food-box", remaining, tuple(card(c) for c in (cards or (n,))))


def manifest(tablet: Tablet, *, version=1, base=0, escrow=(), dropped=(), pins=None, nbf=T0, exp=T0 + 30 * DAY):
    return Manifest(point_id=uuid.UUID(int=77), device_id=tablet.id, cycle="2026-12", version=version, base=base,
                    issued_at=nbf, not_before=nbf, not_after=exp, through=0, escrow=tuple(escrow),
                    dropped=tuple(dropped), pins=pins or {}, status_lists=(b"status-token",), issuer_keys=b"key-set",
                    policy=Policy(stale_after=3 * DAY, stale_action="flag", exceptions={"food-box": 50}))  # fmt: skip


def signed(server: Server, tablet: Tablet, content: Manifest) -> bytes:
    return encode_manifest(content, kid=server.verifier.kid, sign=server.key.sign, device_box_key=tablet.box_public,
                           ephemeral=X25519PrivateKey.generate(), nonce=bytes(12))  # fmt: skip


def read(server: Server, tablet: Tablet, data: bytes, now: int = T0 + 1) -> Manifest:
    return read_manifest(data, trusted={server.verifier.kid: server.verifier}, device_id=tablet.id,
                         box_private=tablet.box, now=now)  # fmt: skip


class TestWhatAManifestHolds:
    def test_a_manifest_holds_exactly_these_fields_and_nothing_about_a_person(self):
        server, tablet = Server(), Tablet()
        pins = {card(1): check_from_hash(card(1).hex(), CHEAP.hash("482913"))}
        data = signed(server, tablet, manifest(tablet, escrow=[entry(1)], pins=pins))
        claims = cbor2.loads(decode_sign1(data).payload)
        # Written out by hand: a new field must be added here, deliberately, with its reason in the format doc.
        assert set(claims) == {"v", "point", "device", "cycle", "version", "base", "issued", "nbf", "exp", "through",
                               "escrow", "drop", "pins", "status", "keys", "policy"}  # fmt: skip
        assert set(claims) == FIELDS
        assert ENTRY_FIELDS == ("entitlement", "programme", "remaining", "cards")
        assert [len(row) for row in claims["escrow"]] == [4]
        assert set(claims["pins"]) == {"epk", "nonce", "ct"}
        assert set(claims["policy"]) == {"stale_after", "stale_action", "exceptions"}

    def test_the_pin_data_is_not_readable_without_the_device_key(self):
        server, tablet = Server(), Tablet()
        stored = CHEAP.hash("482913")
        check = check_from_hash(card(1).hex(), stored)
        data = signed(server, tablet, manifest(tablet, escrow=[entry(1)], pins={card(1): check}))
        assert check.salt not in data
        opened = read(server, tablet, data)
        assert pin_passes(card(1).hex(), "482913", opened.pins[card(1)])

    def test_a_round_trip_keeps_the_content(self):
        server, tablet = Server(), Tablet()
        content = manifest(tablet, escrow=[entry(1, 3, (1, 2)), entry(2)])
        assert read(server, tablet, signed(server, tablet, content)) == content


class TestRefused:
    def test_another_devices_manifest_is_refused(self):
        server, tablet, other = Server(), Tablet(), Tablet()
        data = signed(server, other, manifest(other))
        with pytest.raises(ManifestError) as refused:
            read(server, tablet, data)
        assert refused.value.code == "manifest_wrong_device"

    def test_pin_data_sealed_to_another_device_does_not_open(self):
        server, tablet, other = Server(), Tablet(), Tablet()
        content = manifest(tablet)
        data = encode_manifest(content, kid=server.verifier.kid, sign=server.key.sign, device_box_key=other.box_public,
                               ephemeral=X25519PrivateKey.generate(), nonce=bytes(12))  # fmt: skip
        with pytest.raises(ManifestError) as refused:
            read(server, tablet, data)
        assert refused.value.code == "manifest_pins_unreadable"

    def test_pin_data_moved_from_another_manifest_does_not_open(self):
        server, tablet = Server(), Tablet()
        first = cbor2.loads(decode_sign1(signed(server, tablet, manifest(tablet, version=1))).payload)
        second = cbor2.loads(decode_sign1(signed(server, tablet, manifest(tablet, version=2))).payload)
        second["pins"] = first["pins"]
        data = sign1(dumps_deterministic(second), kid=server.verifier.kid, sign=server.key.sign, typ=MANIFEST_TYP)
        with pytest.raises(ManifestError) as refused:
            read(server, tablet, data)
        assert refused.value.code == "manifest_pins_unreadable"

    def test_a_forged_or_tampered_manifest_is_refused(self):
        server, tablet, forger = Server(), Tablet(), Server()
        with pytest.raises(ManifestError) as unknown:
            read(server, tablet, signed(forger, tablet, manifest(tablet)))
        assert unknown.value.code == "manifest_unknown_key"
        message = decode_sign1(signed(server, tablet, manifest(tablet, escrow=[entry(1, 2)])))
        payload = message.payload.replace(bytes([0x02]), bytes([0x09]), 1)
        tampered = cbor2.dumps(cbor2.CBORTag(18, [message.protected, {}, payload, message.signature]))
        with pytest.raises(ManifestError) as bad:
            read(server, tablet, tampered)
        assert bad.value.code == "manifest_signature_invalid"

    def test_outside_its_window_a_manifest_is_refused(self):
        server, tablet = Server(), Tablet()
        data = signed(server, tablet, manifest(tablet, nbf=T0, exp=T0 + DAY))
        assert read(server, tablet, data, now=T0).version == 1
        assert read(server, tablet, data, now=T0 + DAY - 1).version == 1
        for now, code in ((T0 - 1, "manifest_not_yet_valid"), (T0 + DAY, "manifest_expired")):
            with pytest.raises(ManifestError) as refused:
                read(server, tablet, data, now=now)
            assert refused.value.code == code

    def test_a_manifest_with_an_extra_field_is_refused(self):
        server, tablet = Server(), Tablet()
        claims = cbor2.loads(decode_sign1(signed(server, tablet, manifest(tablet))).payload) | {"names": ["Ana"]}
        data = sign1(dumps_deterministic(claims), kid=server.verifier.kid, sign=server.key.sign, typ=MANIFEST_TYP)
        with pytest.raises(ManifestError, match="exactly the version-1 fields"):
            read(server, tablet, data)

    def test_a_card_or_event_is_not_a_manifest(self):
        server, tablet = Server(), Tablet()
        data = sign1(b"\xa0", kid=server.verifier.kid, sign=server.key.sign, typ="carnet-event/1")
        with pytest.raises(ManifestError) as refused:
            read(server, tablet, data)
        assert refused.value.code == "manifest_malformed"

    @settings(max_examples=100, deadline=None)
    @given(st.binary(max_size=200))
    def test_arbitrary_bytes_are_refused_with_a_code(self, data):
        server, tablet = Server(), Tablet()
        with pytest.raises(ManifestError):
            read(server, tablet, data)

    @pytest.mark.parametrize(
        "change",
        [
            {"cycle": "2026-13"},
            {"version": 0},
            {"version": 2, "base": 2},
            {"not_after": T0},
            {"escrow": (entry(1), entry(1))},
            {"dropped": (uuid.UUID(int=5),)},
        ],
    )
    def test_inconsistent_content_is_refused(self, change):
        with pytest.raises(ManifestError) as refused:
            replace(manifest(Tablet()), **change)
        assert refused.value.code == "manifest_malformed"

    @pytest.mark.parametrize(
        "bad",
        [
            lambda: EscrowEntry(uuid.UUID(int=1), "Food Box", 1, (card(1),)),
            lambda: EscrowEntry(uuid.UUID(int=1), "food-box", -1, (card(1),)),
            lambda: EscrowEntry(uuid.UUID(int=1), "food-box", 1, ()),
            lambda: EscrowEntry(uuid.UUID(int=1), "food-box", 1, (b"short",)),
            lambda: Policy(stale_after=0, stale_action="flag"),
            lambda: Policy(stale_after=10, stale_action="ignore"),
            lambda: Policy(stale_after=10, stale_action="flag", exceptions={"food-box": -1}),
        ],
    )
    def test_bad_entries_and_policies_are_refused(self, bad):
        with pytest.raises(ManifestError):
            bad()


class TestVersions:
    def test_a_delta_folds_into_its_base(self):
        server, tablet = Server(), Tablet()
        pins = {card(c): check_from_hash(card(c).hex(), CHEAP.hash(f"{c:06d}")) for c in (1, 2, 3)}
        first = manifest(tablet, escrow=[entry(1), entry(2)], pins={card(1): pins[card(1)], card(2): pins[card(2)]})
        v1 = read(server, tablet, signed(server, tablet, first))
        holding = apply(None, v1)
        changed, dropped, new_pins = delta(holding.escrow, {e.entitlement_id: e for e in (entry(2, 0), entry(3))},
                                           holding.pins, pins)  # fmt: skip
        v2 = read(server, tablet, signed(server, tablet, manifest(tablet, version=2, base=1, escrow=changed,
                                                                   dropped=dropped, pins=new_pins)))  # fmt: skip
        after = apply(holding, v2)
        assert after.version == 2
        assert sorted(after.escrow) == [uuid.UUID(int=2), uuid.UUID(int=3)]
        assert after.escrow[uuid.UUID(int=2)].remaining == 0
        # Card 1 moved away: its PIN data is gone from the device too.
        assert set(after.pins) == {card(2), card(3)}
        assert after.entitlements_of(card(3)) == [entry(3)]

    def test_a_delta_without_its_base_or_out_of_order_is_refused(self):
        tablet = Tablet()
        v1 = manifest(tablet)
        with pytest.raises(ManifestError) as orphan:
            apply(None, manifest(tablet, version=2, base=1))
        assert orphan.value.code == "manifest_version_gap"
        holding = apply(None, v1)
        with pytest.raises(ManifestError) as gap:
            apply(holding, manifest(tablet, version=3, base=2))
        assert gap.value.code == "manifest_version_gap"
        later = apply(holding, manifest(tablet, version=2, base=1))
        for old in (manifest(tablet, version=2, base=1), manifest(tablet, version=2), manifest(tablet, version=1)):
            with pytest.raises(ManifestError) as outdated:
                apply(later, old)
            assert outdated.value.code == "manifest_outdated"

    @settings(max_examples=50, deadline=None)
    @given(
        st.dictionaries(st.integers(1, 30), st.integers(0, 5), max_size=15),
        st.dictionaries(st.integers(1, 30), st.integers(0, 5), max_size=15),
    )
    def test_full_then_delta_equals_the_new_full(self, old, new):
        tablet = Tablet()
        old_escrow = {uuid.UUID(int=n): entry(n, q) for n, q in old.items()}
        new_escrow = {uuid.UUID(int=n): entry(n, q) for n, q in new.items()}
        holding = apply(None, manifest(tablet, escrow=old_escrow.values()))
        changed, dropped, _ = delta(old_escrow, new_escrow, {}, {})
        via_delta = apply(holding, manifest(tablet, version=2, base=1, escrow=changed, dropped=dropped))
        full = apply(holding, manifest(tablet, version=2, escrow=new_escrow.values()))
        assert via_delta.escrow == full.escrow
        assert len(changed) + len(dropped) <= len(old) + len(new)
