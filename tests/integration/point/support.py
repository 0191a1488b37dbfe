"""A point's device with a signed manifest, built without a server: for the point agent's tests."""

from __future__ import annotations

import uuid

from argon2 import PasswordHasher
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from carnet.credentials.cose import VerifierKey, cose_kid
from carnet.credentials.credential import issue_credential
from carnet.credentials.cwt import CardClaims
from carnet.credentials.keyset import cose_key_set
from carnet.credentials.statuslist import build_status_list, sign_status_list
from carnet.distribution.manifest import EscrowEntry, Manifest, Policy, encode_manifest
from carnet.distribution.pin_tag import check_from_hash
from carnet.kit.ids import uuid7
from carnet.kit.signing import SigningKey
from carnet.point.agent import PointAgent
from carnet.point.keys import DeviceKeys
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
