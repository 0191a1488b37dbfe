"""Citizen accounts, made only by the person: with their card and PIN, or at an office showing the card.

The card's QR proves which registry record is theirs (the credential is signed and names the card; the
card names the person), the PIN mailed with the card proves that the holder has it. An admin cannot make
a citizen account at all, and a person has one at most, so no account can read a record unseen.
"""

from __future__ import annotations

import functools
import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from carnet.access import service as access
from carnet.access.models import User
from carnet.access.policy import Purpose, Role
from carnet.audit.service import record_access, record_change
from carnet.credentials import repository as cards_repo
from carnet.credentials import service as cards
from carnet.credentials.issuing import pin_hasher, pin_matches
from carnet.credentials.models import Card
from carnet.credentials.verify import Verdict
from carnet.kit.actor import Actor
from carnet.kit.errors import FieldError, NotFound, Unauthenticated, ValidationFailed
from carnet.registry import repository as registry_repo


@dataclass(frozen=True)
class NewAccount:
    """What the person chooses for their account."""

    username: str
    password: str
    display_name: str | None = None


def create_with_card_and_pin(
    session: Session,
    *,
    credential: str,
    pin: str,
    account: NewAccount,
    policy: cards.CardPolicy,
    request_id: str,
    now: datetime,
) -> User:
    """The person makes their own account with their card's QR text and its PIN (anonymous; throttled by the caller).

    A wrong PIN, an unknown, revoked or forged card all answer the same 401, in about the same time.
    """
    card = card_with_pin(session, credential=credential, pin=pin, policy=policy, now=now)
    user = access.create_user(
        session, username=account.username, password=account.password, display_name=account.display_name,
        role=Role.CITIZEN.value, person_id=card.person_id, created_via="self_card_pin", now=now,
    )  # fmt: skip
    actor = access.actor_for(user, request_id=request_id, purpose=Purpose.ACCOUNT_ADMINISTRATION.value)
    _audit(session, actor=actor, user=user, now=now)
    return user


def create_at_office(
    session: Session, *, actor: Actor, credential: str, account: NewAccount, policy: cards.CardPolicy, now: datetime
) -> User:
    """A registrar makes a person's account at the office, the person present with their card; the office is kept."""
    verdict = cards.verify_card(session, text=credential, policy=policy, now=now)
    card = _card_of(session, verdict) if verdict.is_valid else None
    if card is None:
        raise ValidationFailed(
            "the card shown is not valid",
            [FieldError("credential", "card_not_valid", f"verdict: {verdict.code}", record="card")],
        )
    # A region-bound registrar makes accounts only for the people of their region.
    if registry_repo.get_person(session, card.person_id, region_scope=actor.region_code) is None:
        raise NotFound(f"card {cards.card_number(card.id)} not found", code="card_not_found")
    user = access.create_user(
        session, username=account.username, password=account.password, display_name=account.display_name,
        role=Role.CITIZEN.value, person_id=card.person_id, created_via="office", created_by=actor.user_id,
        created_office=actor.office, now=now,
    )  # fmt: skip
    _audit(session, actor=actor, user=user, now=now)
    return user


def card_with_pin(session: Session, *, credential: str, pin: str, policy: cards.CardPolicy, now: datetime) -> Card:
    """The active card whose QR text this is, if the PIN is its own; one 401 for every other case (throttled by
    the caller). Used wherever a card and its PIN prove the holder: a citizen's own account, a payment."""
    card = _active_card(session, credential, policy, now)
    # A PIN hash is checked even when the card is not valid, so timing does not tell the two apart.
    if not pin_matches(card.pin_hash if card else _dummy_pin_hash(policy.pin_memory_kib), pin) or card is None:
        raise Unauthenticated("the card or the PIN was not accepted", code="bad_card_or_pin")
    return card


def _active_card(session: Session, credential: str, policy: cards.CardPolicy, now: datetime) -> Card | None:
    verdict = cards.verify_card(session, text=credential, policy=policy, now=now)
    return _card_of(session, verdict) if verdict.is_valid else None


def _card_of(session: Session, verdict: Verdict) -> Card | None:
    if verdict.card_id is None:
        return None
    card = cards_repo.card(session, uuid.UUID(verdict.card_id))
    return card if card is not None and card.status == "active" else None


def _audit(session: Session, *, actor: Actor, user: User, now: datetime) -> None:
    # The log names the account and how it was made; the person's own access log shows the making too.
    record_change(session, actor=actor, what="account.create",
                  details=access.account_details(user) | access.origin_details(user), now=now)  # fmt: skip
    assert user.person_id is not None
    record_access(session, actor=actor.for_purpose(Purpose.ACCOUNT_ADMINISTRATION.value), action="create",
                  subject_type="person", subject_ids=[user.person_id], fields=["citizen_account"], now=now)  # fmt: skip


@functools.lru_cache(maxsize=4)
def _dummy_pin_hash(memory_kib: int) -> str:
    return pin_hasher(memory_kib).hash("000000-not-a-pin")
