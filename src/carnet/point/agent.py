"""Redemption at the counter, with no network: verify the card, check its PIN and what is left, record, hand over.

The order matters: the event is signed and written durably before the agent is told to hand anything
over, so a power cut after the hand-over cannot lose it, and a power cut before it leaves nothing handed
over. Time is passed in by the boundary (the device's clock); nothing here reads it.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace

from carnet.credentials.keyset import parse_cose_key_set
from carnet.credentials.statuslist import StatusList, decode_status_list
from carnet.credentials.verify import verify_credential
from carnet.distribution.events import (
    ChainHead,
    EventError,
    SignedEvent,
    next_event,
    receipt_code,
    sign_event,
    verify_event,
)
from carnet.distribution.manifest import Holding, ManifestError, apply, read_manifest
from carnet.distribution.pin_tag import ATTEMPTS, pin_passes
from carnet.kit.errors import AppError
from carnet.point.keys import DeviceKeys
from carnet.point.store import Identity, PointStore, StoredEvent

# A status list far past its own time-to-live still says which cards were revoked when it was made; the
# point's policy (refuse or flag) decides whether to rely on it, so the verifier is asked with no expiry.
_NO_EXPIRY = 1 << 40


class Refused(AppError):
    """Why the counter must not hand anything over; the code is what the agent's screen explains."""

    def __init__(self, message: str, *, code: str, **extra: object) -> None:
        super().__init__(message=message, code=code, status=422, extra=dict(extra))


@dataclass(frozen=True)
class Receipt:
    """What the beneficiary takes home: a short code they can check later, and what was handed over."""

    code: str
    event_id: uuid.UUID
    card_number: str
    programme: str
    cycle: str
    quantity: int
    remaining: int | None
    device_time: int
    flags: tuple[str, ...]


def _card_number(card: bytes) -> str:
    # The card's printed number, shortened: enough for the beneficiary to recognise their own card.
    text = card.hex().upper()
    return f"···· {text[-4:]}"


class PointAgent:
    """One device at one point: its store, its keys, and what its manifests hold."""

    def __init__(self, store: PointStore, keys: DeviceKeys, *, new_id: Callable[[], uuid.UUID]) -> None:
        self.store = store
        self.keys = keys
        self.identity: Identity = store.identity()
        self._new_id = new_id
        self._holdings: dict[str, Holding] | None = None

    def holdings(self) -> dict[str, Holding]:
        """The escrow this device holds, per cycle, re-verified from the signed manifests in its store."""
        if self._holdings is None:
            trusted = parse_cose_key_set(self.identity.trusted)
            holdings: dict[str, Holding] = {}
            for cycle, _version, data in self.store.manifests():
                try:
                    manifest = read_manifest(data, trusted=trusted, device_id=self.identity.device_id,
                                             box_private=self.keys.box_key, now=None)  # fmt: skip
                    holdings[cycle] = apply(holdings.get(cycle), manifest)
                except ManifestError as exc:
                    # A manifest that fails here was altered in the store: nothing it says can be used.
                    raise Refused(f"a stored manifest of {cycle} no longer verifies ({exc.code}): pull again",
                                  code="point_store_tampered") from None  # fmt: skip
            self._holdings = holdings
        return self._holdings

    def forget_holdings(self) -> None:
        """Drop the cached escrow (after a pull)."""
        self._holdings = None

    def _holding_for(self, now: int) -> tuple[Holding, list[str]]:
        holdings = self.holdings()
        if not holdings:
            raise Refused("this device holds no manifest yet: run `carnet point pull`", code="point_no_manifest")
        current = [h for h in holdings.values() if h.not_before <= now < h.not_after]
        if current:
            return max(current, key=lambda h: h.not_before), []
        # Past every window: the hand-over is still recorded, and flagged for the officer (a conflict at sync).
        latest = max(holdings.values(), key=lambda h: h.not_after)
        if now < latest.not_before:
            raise Refused("no manifest is valid yet on this device's clock", code="manifest_not_yet_valid")
        return latest, ["manifest_expired"]

    def _status_lists(self, holding: Holding, keys) -> dict[str, StatusList]:
        lists = {}
        for token in holding.status_lists:
            status_list = decode_status_list(token, keys)
            lists[status_list.list_id] = status_list
        return lists

    def redeem(
        self, qr_text: str, *, pin: str, now: int, programme: str | None = None, quantity: int | None = None
    ) -> Receipt:
        """Check a card and its PIN against this device's escrow, record the hand-over, and return its receipt."""
        holding, flags = self._holding_for(now)
        keys = parse_cose_key_set(holding.issuer_keys)
        lists = self._status_lists(holding, keys)
        relaxed = {list_id: replace(sl, ttl=_NO_EXPIRY) for list_id, sl in lists.items()}
        verdict = verify_credential(qr_text, keys=keys, status_lists=relaxed, now=now)
        if not verdict.is_valid or verdict.card_id is None:
            raise Refused(verdict.message, code=verdict.code)
        used = lists.get(verdict.status_list_id or "")
        if used is not None and now >= used.issued_at + min(used.ttl, holding.policy.stale_after):
            if holding.policy.stale_action == "refuse":
                raise Refused(f"the status list is from {used.issued_at}: too old to rely on; pull a new manifest",
                              code="status_list_stale")  # fmt: skip
            flags.append("status_list_stale")
        card = bytes.fromhex(verdict.card_id)
        entries = holding.entitlements_of(card, programme)
        if not entries and programme is None:
            raise Refused("this card has nothing in escrow at this point", code="not_in_escrow")
        if len({e.programme for e in entries}) > 1:
            raise Refused("this card holds several programmes here: choose one (--programme)",
                          code="programme_required", programmes=sorted({e.programme for e in entries}))  # fmt: skip
        if not entries:
            return self._exception(card, programme or "", quantity, holding, now, flags)
        self._check_pin(card, pin, holding, now)
        entry = entries[0]
        remaining = entry.remaining - self.store.redeemed_since(entry.entitlement_id, holding.through)
        if remaining <= 0:
            raise Refused("this entitlement has already been handed over in full", code="entitlement_used")
        amount = remaining if quantity is None else quantity
        if not 0 < amount <= remaining:
            raise Refused(f"{amount} asked, {remaining} left", code="quantity_exceeds_remaining", remaining=remaining)
        signed = self._record(card, entry.programme, holding, amount, now, flags, entry.entitlement_id)
        return self._receipt(signed, card, remaining - amount)

    def _exception(
        self, card: bytes, programme: str, quantity: int | None, holding: Holding, now: int, flags: list[str]
    ) -> Receipt:
        cap = holding.policy.exceptions.get(programme, 0)
        if cap == 0:
            raise Refused(f"this card has no {programme} entitlement in escrow here, and {programme} allows no "
                          "exceptions: send the beneficiary to their own point", code="not_in_escrow")  # fmt: skip
        if quantity is None or quantity <= 0:
            raise Refused("an exception needs the quantity handed over (--quantity)", code="quantity_required")
        if self.store.exceptions_served(programme, holding.cycle) >= cap:
            raise Refused(f"this point has served its {cap} exceptions for {programme} this cycle",
                          code="exception_cap_reached")  # fmt: skip
        # The PIN cannot be checked (its data travels only with the escrow): the event is flagged, and the
        # server checks it against the central record at sync.
        signed = self._record(card, programme, holding, quantity, now, [*flags, "exception"], None)
        return self._receipt(signed, card, None)

    def _check_pin(self, card: bytes, pin: str, holding: Holding, now: int) -> None:
        if self.store.pin_failures(card) >= ATTEMPTS:
            raise Refused(f"{ATTEMPTS} wrong PINs: this card is locked at this device for the cycle",
                          code="pin_locked")  # fmt: skip
        check = holding.pins.get(card)
        if check is None:
            raise Refused("this device holds no PIN data for the card: pull a new manifest", code="pin_unavailable")
        if not pin_passes(card.hex(), pin, check):
            failures = self.store.record_pin_failure(card, now)
            if failures >= ATTEMPTS:
                raise Refused(f"{ATTEMPTS} wrong PINs: this card is locked at this device for the cycle",
                              code="pin_locked")  # fmt: skip
            raise Refused("wrong PIN", code="pin_wrong", attempts_left=ATTEMPTS - failures)
        self.store.clear_pin_failures(card)

    def _record(
        self, card: bytes, programme: str, holding: Holding, quantity: int, now: int, flags: list[str],
        entitlement_id: uuid.UUID | None,
    ) -> SignedEvent:  # fmt: skip
        with self.store.transaction():
            last = self.store.last_event()
            tip = ChainHead() if last is None else ChainHead(seq=last.seq, hash=last.hash)
            event = next_event(tip, event_id=self._new_id(), device_id=self.identity.device_id,
                               card_id=card.hex(), programme=programme, cycle=holding.cycle, quantity=quantity,
                               device_time=now, manifest_version=holding.version, flags=flags)  # fmt: skip
            signed = sign_event(event, kid=self.keys.kid, sign=self.keys.sign_key.sign)
            self.store.append_event(
                StoredEvent(
                    seq=event.seq,
                    event_id=event.event_id,
                    data=signed.data,
                    hash=signed.hash,
                    card=card,
                    programme=programme,
                    cycle=holding.cycle,
                    entitlement_id=entitlement_id,
                    quantity=quantity,
                    device_time=now,
                    receipt=receipt_code(signed.hash),
                    acknowledged_at=None,
                    answer=None,
                )
            )
        return signed

    def _receipt(self, signed: SignedEvent, card: bytes, remaining: int | None) -> Receipt:
        event = signed.event
        return Receipt(code=receipt_code(signed.hash), event_id=event.event_id, card_number=_card_number(card),
                       programme=event.programme, cycle=event.cycle, quantity=event.quantity, remaining=remaining,
                       device_time=event.device_time, flags=event.flags)  # fmt: skip

    def check_store(self) -> list[str]:
        """What is wrong with this device's own history (empty when every event is intact and chained)."""
        problems: list[str] = []
        tip = ChainHead()
        for stored in self.store.events():
            try:
                signed = verify_event(stored.data, device_id=self.identity.device_id, public_raw=self.keys.sign_public)
            except EventError as exc:
                problems.append(f"event {stored.seq}: {exc.code}")
                continue
            event = signed.event
            if signed.hash != stored.hash or event.seq != stored.seq or event.event_id != stored.event_id:
                problems.append(f"event {stored.seq}: the stored columns do not match the signed event")
            elif event.seq != tip.seq + 1 or event.prev_hash != tip.hash:
                problems.append(f"event {stored.seq}: does not follow event {tip.seq}")
            elif (event.quantity, event.card_id, event.programme) != (stored.quantity, stored.card.hex(),
                                                                       stored.programme):  # fmt: skip
                problems.append(f"event {stored.seq}: the stored columns do not match the signed event")
            tip = signed.head
        return problems
