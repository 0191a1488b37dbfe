"""Cards over HTTP: the published issuer keys and status lists (public), verification, issue and revocation."""

from __future__ import annotations

import uuid
from typing import Literal

from fastapi import APIRouter, Depends, Path, Request, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from carnet.access.policy import Permission, Purpose
from carnet.credentials import service
from carnet.credentials.models import REVOCATION_REASONS
from carnet.credentials.service import REISSUE_REASONS, IssueScope, PinLetter, card_number
from carnet.kit.actor import Actor
from carnet.kit.clock import utcnow
from carnet.web.api.pagination import MAX_POSITION
from carnet.web.deps import UnitOfWorkRoute, get_session, requires
from carnet.web.guards import THROTTLED_RESPONSES, Attempts, count_verdict, verification_attempts

router = APIRouter(tags=["cards"], route_class=UnitOfWorkRoute)
verify_cards = requires(Permission.CARDS_VERIFY, Purpose.NONE)
issue_cards = requires(Permission.CARDS_ISSUE, Purpose.REGISTRATION)
read_cards = requires(Permission.PERSONS_READ, Purpose.REGISTRATION)

COSE_KEY_SET = "application/cose-key-set"
STATUS_LIST_CWT = "application/statuslist+cwt"


class VerifyIn(BaseModel):
    """A card's QR text, as scanned."""

    model_config = ConfigDict(extra="forbid")
    credential: str = Field(max_length=4096)


class VerdictOut(BaseModel):
    """The verdict on a card: one code of eight, and what could be read from it."""

    code: Literal["valid", "expired", "not_yet_valid", "revoked", "status_list_stale", "unknown_key",
                  "bad_signature", "malformed"]  # fmt: skip
    message: str
    card_number: str | None = None
    kid: str | None = None
    issuer: str | None = None
    not_before: int | None = None
    expires: int | None = None
    status_list_id: str | None = None
    status_index: int | None = None


class CardOut(BaseModel):
    """A card as the registration office sees it (never its PIN or the PIN's hash)."""

    number: str
    status: str
    kid: str
    not_before: object
    expires_at: object
    revoked_at: object | None
    revocation_reason: str | None
    replaces: str | None


class IssueIn(BaseModel):
    """Issue a person's card, or replace one that was lost, stolen or damaged."""

    model_config = ConfigDict(extra="forbid")
    reissue_reason: Literal[REISSUE_REASONS] | None = None  # type: ignore[valid-type]


class IssuedOut(BaseModel):
    """The new card, with its PIN: shown in this response only, never again."""

    card: CardOut
    pin: str
    credential: str


class RevokeIn(BaseModel):
    """Why the card is revoked."""

    model_config = ConfigDict(extra="forbid")
    reason: Literal[REVOCATION_REASONS]  # type: ignore[valid-type]


def _card(card) -> dict:  # type: ignore[no-untyped-def]
    return {"number": card_number(card.id), "status": card.status, "kid": card.kid, "not_before": card.not_before,
            "expires_at": card.expires_at, "revoked_at": card.revoked_at, "revocation_reason": card.revocation_reason,
            "replaces": card_number(card.replaces_card_id) if card.replaces_card_id else None}  # fmt: skip


@router.get("/.well-known/carnet/issuer-keys", response_class=Response)
def issuer_keys(session: Session = Depends(get_session)) -> Response:
    """The public keys that sign cards, as a COSE_KeySet (public: any verifier may check any card)."""
    body = service.published_key_set(session, now=utcnow(), form="cose")
    return Response(content=body, media_type=COSE_KEY_SET, headers={"Cache-Control": "public, max-age=3600"})


@router.get("/.well-known/carnet/jwks.json")
def issuer_jwks(session: Session = Depends(get_session)) -> dict:
    """The same keys as a JSON Web Key Set."""
    return service.published_key_set(session, now=utcnow(), form="jwks")  # type: ignore[return-value]


@router.get("/api/v1/status-lists/{list_id}", response_class=Response)
def status_list(
    request: Request, list_id: int = Path(ge=0, le=MAX_POSITION), session: Session = Depends(get_session)
) -> Response:
    """A signed revocation status list (public: one bit per card, at random indexes, nothing personal)."""
    settings = request.app.state.settings
    policy = service.policy_from(settings)
    token = service.status_list_token(session, list_id=list_id, policy=policy, passphrase=settings.key_passphrase,
                                      now=utcnow())  # fmt: skip
    return Response(content=token, media_type=STATUS_LIST_CWT,
                    headers={"Cache-Control": f"public, max-age={min(policy.list_ttl_seconds, 3600)}"})  # fmt: skip


@router.post("/api/v1/cards/verify", response_model=VerdictOut, responses=THROTTLED_RESPONSES)
def verify(
    body: VerifyIn,
    request: Request,
    actor: Actor = Depends(verify_cards),
    session: Session = Depends(get_session),
    guard: Attempts = Depends(verification_attempts),
) -> dict:
    """The verdict on a scanned card, against the current keys and revocations (forged cards are throttled)."""
    verdict = service.verify_card(session, text=body.credential, policy=service.policy_from(request.app.state.settings),
                                  now=utcnow())  # fmt: skip
    count_verdict(guard, verdict.code)
    out = {k: v for k, v in verdict.__dict__.items() if k != "card_id"}
    out["card_number"] = card_number(uuid.UUID(verdict.card_id)) if verdict.card_id else None
    return out


@router.get("/api/v1/persons/{person_id}/cards", response_model=list[CardOut])
def person_cards(person_id: uuid.UUID, actor: Actor = Depends(read_cards), session: Session = Depends(get_session)):
    """A person's cards, newest first."""
    return [_card(c) for c in service.cards_of_person(session, actor=actor, person_id=person_id, now=utcnow())]


@router.post("/api/v1/persons/{person_id}/cards", response_model=IssuedOut, status_code=201)
def issue_card(
    person_id: uuid.UUID,
    body: IssueIn,
    request: Request,
    actor: Actor = Depends(issue_cards),
    session: Session = Depends(get_session),
) -> dict:
    """Issue a person's card (or replace a lost, stolen or damaged one); the PIN is in this response only."""
    settings = request.app.state.settings
    letters: list[PinLetter] = []
    common = {"policy": service.policy_from(settings), "passphrase": settings.key_passphrase, "now": utcnow(),
              "pins": letters.extend}  # fmt: skip
    if body.reissue_reason:
        run = service.reissue_card(session, actor=actor, person_id=person_id, reason=body.reissue_reason, **common)
    else:
        run = service.issue_cards(session, actor=actor, scope=IssueScope(person_id=person_id), **common)
    (letter,) = letters
    card = service.issued_card(session, run_id=run.id)
    return {"card": _card(card), "pin": letter.pin, "credential": card.credential}


@router.post("/api/v1/cards/{card}/revocation", response_model=CardOut)
def revoke(
    card: str, body: RevokeIn, actor: Actor = Depends(issue_cards), session: Session = Depends(get_session)
) -> dict:
    """Revoke a card (by its number); verifiers learn it from the next status list."""
    revoked = service.revoke_card(session, actor=actor, card_id=service.parse_card_number(card), reason=body.reason,
                                  now=utcnow())  # fmt: skip
    return _card(revoked)
