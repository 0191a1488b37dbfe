"""Every query of the cards domain."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from carnet.credentials.models import Card, IssuerKey, StatusList
from carnet.db.driver import Driver
from carnet.registry.models import Person, Region


def active_issuer_key(session: Session) -> IssuerKey | None:
    """The key that signs new cards."""
    return session.scalars(
        select(IssuerKey).where(IssuerKey.retired_at.is_(None)).order_by(IssuerKey.created_at.desc())
    ).first()


def issuer_keys(session: Session) -> list[IssuerKey]:
    """Every issuer key, newest first."""
    return list(session.scalars(select(IssuerKey).order_by(IssuerKey.created_at.desc())))


def published_issuer_keys(session: Session, now: datetime) -> list[IssuerKey]:
    """The keys a verifier needs: the active one and retired ones whose cards have not all expired."""
    return list(
        session.scalars(
            select(IssuerKey)
            .where(or_(IssuerKey.retired_at.is_(None), IssuerKey.verify_until > now))
            .order_by(IssuerKey.created_at.desc())
        )
    )


def last_expiry_signed_by(session: Session, kid: str) -> datetime | None:
    """When the last card signed by `kid` expires."""
    return session.scalar(select(func.max(Card.expires_at)).where(Card.kid == kid))


def status_lists(session: Session) -> list[StatusList]:
    """Every status list, oldest first."""
    return list(session.scalars(select(StatusList).order_by(StatusList.id)))


def status_list(session: Session, list_id: int) -> StatusList | None:
    """One status list."""
    return session.get(StatusList, list_id)


def used_indexes(session: Session, list_id: int) -> list[int]:
    """The indexes of a list already taken by a card."""
    return list(session.scalars(select(Card.status_index).where(Card.status_list_id == list_id)))


def revoked_indexes(session: Session, list_id: int) -> list[int]:
    """The indexes of a list whose cards are revoked."""
    return list(
        session.scalars(select(Card.status_index).where(Card.status_list_id == list_id, Card.status == "revoked"))
    )


def persons_without_card(
    session: Session,
    *,
    after: uuid.UUID | None,
    limit: int,
    region_code: str | None,
    person_ids: Sequence[uuid.UUID] | None,
) -> list[uuid.UUID]:
    """The next persons, in id order, who hold no active card (one indexed anti-join, a page at a time)."""
    active = select(Card.id).where(Card.person_id == Person.id, Card.status == "active").exists()
    query = select(Person.id).where(~active).order_by(Person.id).limit(limit)
    if after is not None:
        query = query.where(Person.id > after)
    if region_code is not None:
        query = query.where(or_(Person.region_code == region_code, Person.municipality_code == region_code))
    if person_ids is not None:
        query = query.where(Person.id.in_(list(person_ids)))
    return list(session.scalars(query))


def count_persons_without_card(session: Session, *, region_code: str | None) -> int:
    """How many persons of a scope hold no active card (for the progress bar)."""
    active = select(Card.id).where(Card.person_id == Person.id, Card.status == "active").exists()
    query = select(func.count()).select_from(Person).where(~active)
    if region_code is not None:
        query = query.where(or_(Person.region_code == region_code, Person.municipality_code == region_code))
    return session.scalar(query) or 0


CARD_COLUMNS = ("id", "person_id", "status", "kid", "status_list_id", "status_index", "not_before", "expires_at",
                "issue_run_id", "credential", "pin_hash", "replaces_card_id")  # fmt: skip


@dataclass(frozen=True)
class CardBatch:
    """What every card of an issue batch shares: signed by one key, valid for the same dates, from one run."""

    kid: str
    not_before: datetime
    expires_at: datetime
    issue_run_id: uuid.UUID
    replaces_card_id: uuid.UUID | None


def insert_cards(
    session: Session, batch: CardBatch, cards: Sequence[tuple[uuid.UUID, uuid.UUID, int, int, str, str]]
) -> None:
    """Add cards (id, person, status list, index, credential, PIN hash) straight through the driver."""
    if not cards:
        return
    driver = Driver(session)
    uuid_of = driver.uuid
    # The shared values are converted once per batch: a bulk issue writes millions of rows.
    shared = (driver.timestamp(batch.not_before), driver.timestamp(batch.expires_at), uuid_of(batch.issue_run_id))
    replaces = uuid_of(batch.replaces_card_id)
    driver.executemany(
        f"INSERT INTO cards ({', '.join(CARD_COLUMNS)}) VALUES ({', '.join('?' * len(CARD_COLUMNS))})",
        [(uuid_of(card_id), uuid_of(person_id), "active", batch.kid, list_id, index, *shared, credential, pin_hash,
          replaces) for card_id, person_id, list_id, index, credential, pin_hash in cards],
    )  # fmt: skip


def card(session: Session, card_id: uuid.UUID) -> Card | None:
    """One card."""
    return session.get(Card, card_id)


def active_card_of(session: Session, person_id: uuid.UUID) -> Card | None:
    """The person's active card."""
    return session.scalars(select(Card).where(Card.person_id == person_id, Card.status == "active")).first()


def cards_of(session: Session, person_id: uuid.UUID) -> list[Card]:
    """Every card a person was issued, newest first."""
    return list(session.scalars(select(Card).where(Card.person_id == person_id).order_by(Card.not_before.desc())))


def revoke(session: Session, card_id: uuid.UUID, *, reason: str, now: datetime) -> bool:
    """Mark an active card revoked; False when it was not active."""
    result = session.execute(
        update(Card)
        .where(Card.id == card_id, Card.status == "active")
        .values(status="revoked", revoked_at=now, revocation_reason=reason)
    )
    return result.rowcount == 1


def cards_of_run(session: Session, run_id: uuid.UUID, limit: int = 2) -> list[Card]:
    """Cards made by an issue run (at most `limit`)."""
    return list(session.scalars(select(Card).where(Card.issue_run_id == run_id).limit(limit)))


def issue_runs_of(session: Session, person_id: uuid.UUID) -> list[uuid.UUID]:
    """The issue runs that made a card for this person."""
    return list(session.scalars(select(Card.issue_run_id).where(Card.person_id == person_id).distinct()))


def cards_for_print(
    session: Session,
    *,
    region_code: str | None,
    card_ids: Sequence[uuid.UUID] | None,
    run_id: uuid.UUID | None,
    limit: int,
) -> list[tuple[Card, Person, str]]:
    """Active cards with their holder and region name, in card order, for printing."""
    query = (
        select(Card, Person, Region.name)
        .join(Person, Person.id == Card.person_id)
        .join(Region, Region.code == Person.region_code)
        .where(Card.status == "active")
        .order_by(Person.region_code, Person.name_key, Card.id)
        .limit(limit)
    )
    if region_code is not None:
        query = query.where(or_(Person.region_code == region_code, Person.municipality_code == region_code))
    if card_ids is not None:
        query = query.where(Card.id.in_(list(card_ids)))
    if run_id is not None:
        query = query.where(Card.issue_run_id == run_id)
    return [(c, p, name) for c, p, name in session.execute(query)]


def card_counts(session: Session) -> dict[str, int]:
    """Cards by status."""
    return dict(session.execute(select(Card.status, func.count()).group_by(Card.status)).all())  # type: ignore[arg-type]
