"""The offline verifier of a card's QR text: pure, given the trusted keys, the status lists and the time.

Checks run in a fixed order and the first failure is the verdict: size, prefix, base45, CBOR, COSE
structure, known kid, signature, claims, not-before, expiry, status list (its signer, its date, its
freshness, its length), revocation. Any string gives a verdict; nothing a card holder can print makes the
verifier raise.

A status list vouches for a card only when the key that signed the card signed it too, or a key the
card's issuer names for its status (`status_signers`, e.g. the new key after a rotation): otherwise any
trusted issuer could un-revoke another issuer's cards. A list dated after `now` (beyond a small clock
skew) is refused: it was made on a wrong clock, or made to outlive its time-to-live.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass

from carnet.credentials.cose import CoseError, Sign1, VerifierKey, decode_sign1, kid_text, verify_sign1
from carnet.credentials.credential import credential_bytes
from carnet.credentials.cwt import CardClaims, decode_claims
from carnet.credentials.statuslist import StatusList

VERDICT_CODES = (
    "valid",
    "expired",
    "not_yet_valid",
    "revoked",
    "status_list_stale",
    "unknown_key",
    "bad_signature",
    "malformed",
)
# How far a status list's issue time may lie ahead of the verifier's clock (device clocks drift).
MAX_CLOCK_SKEW = 300


@dataclass(frozen=True)
class Verdict:
    """The outcome of checking one card: a code, what could be read, and a plain explanation."""

    code: str
    message: str
    card_id: str | None = None
    kid: str | None = None
    issuer: str | None = None
    not_before: int | None = None
    expires: int | None = None
    status_list_id: str | None = None
    status_index: int | None = None

    @property
    def is_valid(self) -> bool:
        """Whether the card may be honoured."""
        return self.code == "valid"


def verify_credential(
    text: str,
    *,
    keys: Mapping[bytes, VerifierKey],
    status_lists: Mapping[str, StatusList],
    now: int,
    status_signers: Mapping[bytes, Collection[bytes]] | None = None,
) -> Verdict:
    """The verdict on a card's QR text at time `now` (seconds since 1970, UTC).

    `status_signers` maps a card key's kid to the other kids its issuer lets sign its status lists.
    """
    try:
        return _verify(text, keys=keys, status_lists=status_lists, now=now, status_signers=status_signers or {})
    except Exception as exc:
        # Every expected failure is handled in _verify; this net keeps a bug from crashing an offline point
        # in front of a queue of people, and still says the card was not accepted.
        return Verdict("malformed", f"the card could not be read ({type(exc).__name__})")


def _verify(
    text: str,
    *,
    keys: Mapping[bytes, VerifierKey],
    status_lists: Mapping[str, StatusList],
    now: int,
    status_signers: Mapping[bytes, Collection[bytes]],
) -> Verdict:
    if not isinstance(text, str):
        return Verdict("malformed", "a card is text")
    msg: Sign1 | None = None
    try:
        msg = decode_sign1(credential_bytes(text))
        if msg.typ is not None:
            raise CoseError(f"a card carries no typ; this is a {msg.typ!r}")
    except CoseError as exc:
        return Verdict("malformed", exc.message, kid=kid_text(msg.kid) if msg else None)
    kid = kid_text(msg.kid)
    key = keys.get(msg.kid)
    if key is None:
        return Verdict("unknown_key", f"signed with key {kid}, which this verifier does not hold", kid=kid)
    if not verify_sign1(msg, key.public_raw):
        return Verdict("bad_signature", f"the signature does not match key {kid}: the card was altered", kid=kid)
    try:
        claims = decode_claims(msg.payload, signature_checked=True)
    except CoseError as exc:
        return Verdict("malformed", exc.message, kid=kid)
    signers = {msg.kid, *status_signers.get(msg.kid, ())}
    return _judge(claims, kid=kid, signers=signers, status_lists=status_lists, now=now)


def _judge(
    claims: CardClaims, *, kid: str, signers: Collection[bytes], status_lists: Mapping[str, StatusList], now: int
) -> Verdict:
    def verdict(code: str, message: str) -> Verdict:
        return Verdict(
            code,
            message,
            card_id=claims.card_id.hex(),
            kid=kid,
            issuer=claims.issuer,
            not_before=claims.not_before,
            expires=claims.expires,
            status_list_id=claims.status_list_id,
            status_index=claims.status_index,
        )

    # A card is valid for not_before <= now < expires: at the second of expiry it is already expired.
    if now < claims.not_before:
        return verdict("not_yet_valid", f"the card becomes valid at {claims.not_before}")
    if now >= claims.expires:
        return verdict("expired", f"the card expired at {claims.expires}")
    status_list = status_lists.get(claims.status_list_id)
    if status_list is None:
        return verdict("status_list_stale", f"no status list {claims.status_list_id!r} is loaded; sync to get it")
    if status_list.kid not in signers:
        return verdict("status_list_stale", f"status list {status_list.list_id!r} is signed by key "
                       f"{kid_text(status_list.kid)}, which does not vouch for cards of key {kid}")  # fmt: skip
    if status_list.issued_at > now + MAX_CLOCK_SKEW:
        return verdict("status_list_stale", f"status list {status_list.list_id!r} is dated in the future "
                       f"({status_list.issued_at}); check this device's clock")  # fmt: skip
    if now >= status_list.stale_at:
        return verdict("status_list_stale", f"status list {status_list.list_id!r} expired at {status_list.stale_at}")
    if claims.status_index >= status_list.size:
        # A list that does not reach the card's index cannot vouch for it; a newer, longer list may.
        return verdict("status_list_stale", f"status list {status_list.list_id!r} does not cover this card")
    if status_list.is_revoked(claims.status_index):
        return verdict("revoked", "the card has been revoked")
    return verdict("valid", "the card is valid")
