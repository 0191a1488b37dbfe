"""Manifests: what one device at one point needs for one cycle, signed by the server, read with no network.

A manifest is a COSE_Sign1 (typ `carnet-manifest/1`) over deterministic CBOR, signed by a distribution
key the device trusts. It holds the entitlements in escrow at the point (an entitlement id, the
programme, the quantity left, the card ids that may redeem it), the PIN check data of those cards
encrypted to the device's X25519 key, the current status lists, the issuer keys, the point's policy and
a validity window. Nothing else about a person: no names, no national id, no attributes, no person id.

A manifest is either full (`base` 0) or a delta from the version `base` (entries changed or added,
entitlements dropped, PIN data added or dropped), so a daily pull is small. `apply` folds a manifest
into the device's state and refuses one that does not follow it. The format is in
docs/formats/manifest.md. Pure: keys, randomness and time are passed in.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from carnet.credentials import cbor_guard
from carnet.credentials.cose import CoseError, VerifierKey, decode_sign1, dumps_deterministic, sign1, verify_sign1
from carnet.distribution.pin_tag import PinCheck, PinCheckError
from carnet.kit.errors import AppError

MANIFEST_TYP = "carnet-manifest/1"
# A depot serving 20,000 households with a status list of 10 million cards stays far below these.
MAX_MANIFEST_BYTES = 64 * 1024 * 1024
MAX_ITEMS = 4_000_000
CARD_ID_SIZE = 16
STALE_ACTIONS = ("refuse", "flag")
FIELDS = frozenset(
    {"v", "point", "device", "cycle", "version", "base", "issued", "nbf", "exp", "through", "escrow", "drop", "pins",
     "status", "keys", "policy"}
)  # fmt: skip
ENTRY_FIELDS = ("entitlement", "programme", "remaining", "cards")
PIN_FIELDS = ("card", "salt", "memory_kib", "passes", "lanes", "hash_len", "tag")
POLICY_FIELDS = frozenset({"stale_after", "stale_action", "exceptions"})
SEALED_FIELDS = frozenset({"epk", "nonce", "ct"})
_HKDF_INFO = b"carnet/manifest-pins/v1"
_CYCLE = re.compile(r"^[0-9]{4}-(0[1-9]|1[0-2])$")
_CODE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")


class ManifestError(AppError):
    """A manifest a device cannot use; the code says why."""

    def __init__(self, message: str, *, code: str) -> None:
        super().__init__(message=message, code=code, status=422)


@dataclass(frozen=True)
class EscrowEntry:
    """An entitlement held at this point: its programme, what is left of it, and the cards that may redeem it."""

    entitlement_id: uuid.UUID
    programme: str
    remaining: int
    cards: tuple[bytes, ...]

    def __post_init__(self) -> None:
        where = f"entitlement {self.entitlement_id}"
        if not _CODE.match(self.programme):
            raise ManifestError(f"{where}: {self.programme!r} is not a programme code", code="manifest_malformed")
        if not 0 <= self.remaining < 1 << 32:
            raise ManifestError(f"{where}: remaining {self.remaining} out of range", code="manifest_malformed")
        if not self.cards or any(len(card) != CARD_ID_SIZE for card in self.cards):
            raise ManifestError(f"{where}: cards must be 16-byte card ids", code="manifest_malformed")


@dataclass(frozen=True)
class Policy:
    """How the point treats a stale status list, and how many exceptions each programme allows per cycle."""

    stale_after: int
    stale_action: str
    exceptions: Mapping[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.stale_action not in STALE_ACTIONS or not 0 < self.stale_after < 1 << 32:
            raise ManifestError(
                "policy: stale_action refuse|flag and a positive stale_after", code="manifest_malformed"
            )
        if any(not _CODE.match(p) or not 0 <= cap < 1 << 32 for p, cap in self.exceptions.items()):
            raise ManifestError("policy: exceptions map programme codes to caps", code="manifest_malformed")


@dataclass(frozen=True)
class Manifest:
    """One manifest's content, with its PIN data already opened (or not yet sealed)."""

    point_id: uuid.UUID
    device_id: uuid.UUID
    cycle: str
    version: int
    base: int
    issued_at: int
    not_before: int
    not_after: int
    through: int
    escrow: tuple[EscrowEntry, ...]
    dropped: tuple[uuid.UUID, ...]
    pins: Mapping[bytes, PinCheck]
    status_lists: tuple[bytes, ...]
    issuer_keys: bytes
    policy: Policy

    def __post_init__(self) -> None:
        if not _CYCLE.match(self.cycle):
            raise ManifestError(f"cycle {self.cycle!r} is not YYYY-MM", code="manifest_malformed")
        if not 0 <= self.base < self.version < 1 << 53:
            raise ManifestError(f"version {self.version} must follow base {self.base}", code="manifest_malformed")
        if not 0 <= self.through < 1 << 53:
            raise ManifestError(f"through {self.through} out of range", code="manifest_malformed")
        if not self.not_before < self.not_after:
            raise ManifestError("the validity window is empty", code="manifest_malformed")
        ids = [entry.entitlement_id for entry in self.escrow]
        if len(set(ids)) != len(ids) or set(ids) & set(self.dropped):
            raise ManifestError("an entitlement appears twice", code="manifest_malformed")
        if self.base == 0 and self.dropped:
            raise ManifestError("a full manifest drops nothing", code="manifest_malformed")

    @property
    def is_delta(self) -> bool:
        """Whether this manifest changes a base version rather than replacing it."""
        return self.base != 0


def _x25519_public(key: X25519PrivateKey | X25519PublicKey) -> bytes:
    public = key.public_key() if isinstance(key, X25519PrivateKey) else key
    return public.public_bytes(Encoding.Raw, PublicFormat.Raw)


def _pin_aad(manifest: Manifest) -> bytes:
    # The ciphertext is bound to this manifest: PIN data cannot be moved to another point, device or version.
    return dumps_deterministic(["carnet-manifest-pins", manifest.point_id.bytes, manifest.device_id.bytes,
                                manifest.cycle, manifest.version])  # fmt: skip


def _pin_key(shared: bytes, epk: bytes, device_public: bytes) -> bytes:
    return HKDF(hashes.SHA256(), 32, salt=None, info=_HKDF_INFO + epk + device_public).derive(shared)


def seal_pins(manifest: Manifest, *, device_box_key: bytes, ephemeral: X25519PrivateKey, nonce: bytes) -> dict:
    """The manifest's PIN data encrypted to the device (X25519 → HKDF-SHA256 → AES-256-GCM)."""
    if len(nonce) != 12:
        raise ValueError("AES-GCM nonces have 12 bytes")
    device_public = X25519PublicKey.from_public_bytes(device_box_key)
    epk = _x25519_public(ephemeral)
    key = _pin_key(ephemeral.exchange(device_public), epk, device_box_key)
    rows = [
        [card, c.salt, c.memory_kib, c.passes, c.lanes, c.hash_len, c.tag] for card, c in sorted(manifest.pins.items())
    ]
    ciphertext = AESGCM(key).encrypt(nonce, dumps_deterministic(rows), _pin_aad(manifest))
    return {"epk": epk, "nonce": nonce, "ct": ciphertext}


def open_pins(sealed: Mapping[str, Any], manifest: Manifest, *, box_private: X25519PrivateKey) -> dict[bytes, PinCheck]:
    """The PIN data of a manifest, opened with the device's X25519 key."""
    if not isinstance(sealed, Mapping) or set(sealed) != SEALED_FIELDS:
        raise ManifestError("the PIN data is not sealed as expected", code="manifest_malformed")
    epk, nonce, ciphertext = sealed["epk"], sealed["nonce"], sealed["ct"]
    if not (isinstance(epk, bytes) and len(epk) == 32 and isinstance(nonce, bytes) and len(nonce) == 12):
        raise ManifestError("the PIN data's key or nonce has the wrong size", code="manifest_malformed")
    if not isinstance(ciphertext, bytes):
        raise ManifestError("the PIN data is not a byte string", code="manifest_malformed")
    device_public = _x25519_public(box_private)
    try:
        key = _pin_key(box_private.exchange(X25519PublicKey.from_public_bytes(epk)), epk, device_public)
        plain = AESGCM(key).decrypt(nonce, ciphertext, _pin_aad(manifest))
    except (InvalidTag, ValueError):
        raise ManifestError(
            "the PIN data does not open with this device's key", code="manifest_pins_unreadable"
        ) from None
    try:
        rows = cbor_guard.loads(plain, max_depth=2, max_items=MAX_ITEMS)
        checks = {}
        for row in rows:
            card, salt, memory_kib, passes, lanes, hash_len, tag = row
            if not isinstance(card, bytes) or len(card) != CARD_ID_SIZE or card in checks:
                raise ValueError("a card id of 16 bytes, once")
            checks[card] = PinCheck(salt=salt, memory_kib=memory_kib, passes=passes, lanes=lanes,
                                    hash_len=hash_len, tag=tag)  # fmt: skip
    except (cbor_guard.UnsafeCbor, PinCheckError, ValueError, TypeError) as exc:
        raise ManifestError(f"unreadable PIN data: {exc}", code="manifest_malformed") from None
    return checks


def encode_manifest(
    manifest: Manifest,
    *,
    kid: bytes,
    sign: Callable[[bytes], bytes],
    device_box_key: bytes,
    ephemeral: X25519PrivateKey,
    nonce: bytes,
) -> bytes:
    """The signed manifest, its PIN data sealed to the device."""
    claims = {
        "v": 1,
        "point": manifest.point_id.bytes,
        "device": manifest.device_id.bytes,
        "cycle": manifest.cycle,
        "version": manifest.version,
        "base": manifest.base,
        "issued": manifest.issued_at,
        "nbf": manifest.not_before,
        "exp": manifest.not_after,
        "through": manifest.through,
        "escrow": [[e.entitlement_id.bytes, e.programme, e.remaining, list(e.cards)] for e in manifest.escrow],
        "drop": [entitlement.bytes for entitlement in manifest.dropped],
        "pins": seal_pins(manifest, device_box_key=device_box_key, ephemeral=ephemeral, nonce=nonce),
        "status": list(manifest.status_lists),
        "keys": manifest.issuer_keys,
        "policy": {
            "stale_after": manifest.policy.stale_after,
            "stale_action": manifest.policy.stale_action,
            "exceptions": dict(manifest.policy.exceptions),
        },
    }
    return sign1(dumps_deterministic(claims), kid=kid, sign=sign, typ=MANIFEST_TYP)


def _uuid(value: Any, name: str) -> uuid.UUID:
    if not isinstance(value, bytes) or len(value) != 16:
        raise ManifestError(f"{name} must be 16 bytes", code="manifest_malformed")
    return uuid.UUID(bytes=value)


def _typed(claims: Mapping[str, Any], name: str, kind: type) -> Any:
    value = claims[name]
    if not isinstance(value, kind) or isinstance(value, bool):
        raise ManifestError(f"field {name} has the wrong type", code="manifest_malformed")
    return value


def read_manifest(
    data: bytes,
    *,
    trusted: Mapping[bytes, VerifierKey],
    device_id: uuid.UUID,
    box_private: X25519PrivateKey,
    now: int | None,
) -> Manifest:
    """The manifest in `data` if a trusted key signed it, it is for this device, and `now` is in its window.

    `now` None skips the window: a device re-reading the manifests it already holds to rebuild its state.
    """
    if len(data) > MAX_MANIFEST_BYTES:
        raise ManifestError(f"a manifest of {len(data)} bytes is over the limit", code="manifest_malformed")
    try:
        message = decode_sign1(data)
    except CoseError as exc:
        raise ManifestError(f"not a signed manifest: {exc}", code="manifest_malformed") from None
    if message.typ != MANIFEST_TYP:
        raise ManifestError(f"typ {message.typ!r} is not {MANIFEST_TYP}", code="manifest_malformed")
    key = trusted.get(message.kid)
    if key is None:
        raise ManifestError("signed by a key this device does not trust", code="manifest_unknown_key")
    if not verify_sign1(message, key.public_raw):
        raise ManifestError("the manifest's signature does not verify", code="manifest_signature_invalid")
    try:
        claims = cbor_guard.loads(message.payload, max_depth=4, max_items=MAX_ITEMS)
    except cbor_guard.UnsafeCbor as exc:
        raise ManifestError(f"unreadable manifest: {exc}", code="manifest_malformed") from None
    if not isinstance(claims, Mapping) or set(claims) != FIELDS or claims["v"] != 1:
        raise ManifestError("a manifest holds exactly the version-1 fields", code="manifest_malformed")
    manifest = _content(claims)
    if manifest.device_id != device_id:
        raise ManifestError("this manifest is for another device", code="manifest_wrong_device")
    if now is not None and now < manifest.not_before:
        raise ManifestError("this manifest is not valid yet", code="manifest_not_yet_valid")
    if now is not None and now >= manifest.not_after:
        raise ManifestError("this manifest has expired", code="manifest_expired")
    return replace(manifest, pins=open_pins(claims["pins"], manifest, box_private=box_private))


def _content(claims: Mapping[str, Any]) -> Manifest:
    policy = _typed(claims, "policy", Mapping)
    if set(policy) != POLICY_FIELDS or not isinstance(policy["exceptions"], Mapping):
        raise ManifestError("the policy holds exactly stale_after, stale_action, exceptions", code="manifest_malformed")
    try:
        escrow = []
        for row in _typed(claims, "escrow", list):
            entitlement, programme, remaining, cards = row
            if not isinstance(cards, list) or not isinstance(programme, str) or not isinstance(remaining, int):
                raise ManifestError("an escrow row is [entitlement, programme, remaining, cards]",
                                    code="manifest_malformed")  # fmt: skip
            escrow.append(EscrowEntry(_uuid(entitlement, "an entitlement id"), programme, remaining, tuple(cards)))
        status = _typed(claims, "status", list)
        if not all(isinstance(token, bytes) for token in status):
            raise ManifestError("status lists are byte strings", code="manifest_malformed")
        return Manifest(
            point_id=_uuid(claims["point"], "the point id"),
            device_id=_uuid(claims["device"], "the device id"),
            cycle=_typed(claims, "cycle", str),
            version=_typed(claims, "version", int),
            base=_typed(claims, "base", int),
            issued_at=_typed(claims, "issued", int),
            not_before=_typed(claims, "nbf", int),
            not_after=_typed(claims, "exp", int),
            through=_typed(claims, "through", int),
            escrow=tuple(escrow),
            dropped=tuple(_uuid(e, "a dropped entitlement") for e in _typed(claims, "drop", list)),
            pins={},
            status_lists=tuple(status),
            issuer_keys=_typed(claims, "keys", bytes),
            policy=Policy(
                stale_after=policy["stale_after"],
                stale_action=policy["stale_action"],
                exceptions=dict(policy["exceptions"]),
            ),
        )
    except (ValueError, TypeError) as exc:
        raise ManifestError(f"unreadable manifest: {exc}", code="manifest_malformed") from None


@dataclass(frozen=True)
class Holding:
    """What a device holds after folding in its manifests: the escrow and PIN data of one point and cycle."""

    point_id: uuid.UUID
    cycle: str
    version: int
    not_before: int
    not_after: int
    through: int
    escrow: Mapping[uuid.UUID, EscrowEntry]
    pins: Mapping[bytes, PinCheck]
    status_lists: tuple[bytes, ...]
    issuer_keys: bytes
    policy: Policy

    def entitlements_of(self, card: bytes, programme: str | None = None) -> list[EscrowEntry]:
        """The entitlements in escrow that this card may redeem, optionally for one programme."""
        return [e for e in self.escrow.values() if card in e.cards and (programme is None or e.programme == programme)]


def apply(holding: Holding | None, manifest: Manifest) -> Holding:
    """The device's holding after `manifest`: a full one replaces it, a delta must follow its version exactly."""
    if manifest.is_delta:
        if holding is None or holding.point_id != manifest.point_id or holding.cycle != manifest.cycle:
            raise ManifestError("a delta needs its base manifest first", code="manifest_version_gap")
        if holding.version != manifest.base:
            if manifest.version <= holding.version:
                raise ManifestError(f"version {manifest.version} is already held", code="manifest_outdated")
            raise ManifestError(f"the delta applies to {manifest.base}, this device holds {holding.version}",
                                code="manifest_version_gap")  # fmt: skip
        escrow = {k: v for k, v in holding.escrow.items() if k not in set(manifest.dropped)}
        pins = dict(holding.pins)
    else:
        same = holding is not None and (holding.point_id, holding.cycle) == (manifest.point_id, manifest.cycle)
        if same and holding is not None and manifest.version <= holding.version:
            raise ManifestError(f"version {manifest.version} is already held", code="manifest_outdated")
        escrow, pins = {}, {}
    escrow.update({entry.entitlement_id: entry for entry in manifest.escrow})
    pins.update(manifest.pins)
    # PIN data stays only for the cards still in escrow: a card moved elsewhere leaves nothing behind.
    cards = {card for entry in escrow.values() for card in entry.cards}
    pins = {card: check for card, check in pins.items() if card in cards}
    return Holding(point_id=manifest.point_id, cycle=manifest.cycle, version=manifest.version,
                   not_before=manifest.not_before, not_after=manifest.not_after, through=manifest.through,
                   escrow=escrow, pins=pins,
                   status_lists=manifest.status_lists, issuer_keys=manifest.issuer_keys,
                   policy=manifest.policy)  # fmt: skip


def delta(
    old_escrow: Mapping[uuid.UUID, EscrowEntry],
    new_escrow: Mapping[uuid.UUID, EscrowEntry],
    old_pins: Mapping[bytes, PinCheck],
    new_pins: Mapping[bytes, PinCheck],
) -> tuple[tuple[EscrowEntry, ...], tuple[uuid.UUID, ...], dict[bytes, PinCheck]]:
    """What a delta from old to new carries: changed or added entries, dropped ids, new or changed PIN data."""
    changed = tuple(entry for key, entry in sorted(new_escrow.items()) if old_escrow.get(key) != entry)
    dropped = tuple(sorted(key for key in old_escrow if key not in new_escrow))
    pins = {card: check for card, check in sorted(new_pins.items()) if old_pins.get(card) != check}
    return changed, dropped, pins
