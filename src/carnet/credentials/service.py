"""Cards: issuer keys, issuing in bulk, revocation, status lists and verification, in the caller's transaction."""

from __future__ import annotations

import multiprocessing
import secrets
import uuid
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from carnet.audit.service import CohortDigest, record_access, record_change, record_cohort_access
from carnet.audit.store_keys import require_store_passphrase
from carnet.credentials import repository as repo
from carnet.credentials.cose import VerifierKey, cose_kid
from carnet.credentials.issuing import MadeCredential, SigningJob, SlotAllocator, make_credentials, start_worker
from carnet.credentials.keyset import cose_key_set, jwks
from carnet.credentials.models import REVOCATION_REASONS, Card, CardIssueRun, IssuerKey, StatusList
from carnet.credentials.statuslist import StatusList as VerifiedList
from carnet.credentials.statuslist import build_status_list, sign_status_list
from carnet.credentials.verify import Verdict, verify_credential
from carnet.kit import signing
from carnet.kit.actor import Actor
from carnet.kit.errors import AppError, Conflict, FieldError, NotFound, ValidationFailed
from carnet.kit.ids import uuid7
from carnet.registry import repository as registry_repo

REISSUE_REASONS = ("lost", "stolen", "damaged")


@dataclass(frozen=True)
class CardPolicy:
    """The settings that shape every new card."""

    issuer: str = "carnet"
    validity_days: int = 1826
    list_capacity: int = 1 << 20
    list_ttl_seconds: int = 3 * 86400
    pin_memory_kib: int = 256


def policy_from(settings: Any) -> CardPolicy:
    """The card policy of a Settings object."""
    return CardPolicy(
        issuer=settings.card_issuer,
        validity_days=settings.card_validity_days,
        list_capacity=settings.status_list_capacity,
        list_ttl_seconds=settings.status_list_ttl_seconds,
        pin_memory_kib=settings.pin_hash_memory_kib,
    )


@dataclass(frozen=True)
class IssueScope:
    """Whom to issue cards to: everyone, one region, or one person (optionally replacing a card)."""

    region_code: str | None = None
    person_id: uuid.UUID | None = None
    replaces: uuid.UUID | None = None

    @property
    def label(self) -> str:
        """How the scope is recorded in the issue run."""
        if self.person_id is not None:
            return f"person:{self.person_id}"
        return f"region:{self.region_code}" if self.region_code else "all"


@dataclass(frozen=True)
class PinLetter:
    """What a PIN mailer carries: the card number and its PIN (shown once, never stored)."""

    card_id: uuid.UUID
    person_id: uuid.UUID
    pin: str


def card_number(card_id: uuid.UUID) -> str:
    """The number printed on a card: its 128-bit id in groups of four hex digits."""
    digits = card_id.hex.upper()
    return " ".join(digits[i : i + 4] for i in range(0, 32, 4))


def parse_card_number(text: str) -> uuid.UUID:
    """A card id from its printed number or its uuid form."""
    digits = "".join(ch for ch in text if ch not in " -").lower()
    try:
        if len(digits) != 32:
            raise ValueError
        return uuid.UUID(hex=digits)
    except ValueError:
        raise ValidationFailed(
            f"{text!r} is not a card number",
            [FieldError("card", "invalid_card_number", "32 hexadecimal digits, spaces and dashes allowed")],
        ) from None


# Issuer keys
def active_issuer_key(
    session: Session, *, passphrase: str | None, now: datetime
) -> tuple[IssuerKey, signing.SigningKey]:
    """The key that signs new cards (made on first use, stored encrypted); a clear error without the passphrase."""
    passphrase = require_store_passphrase(session, passphrase=passphrase, now=now)
    record = repo.active_issuer_key(session)
    if record is None:
        key = signing.generate()
        record = IssuerKey(kid=key.kid, public_key=key.public_raw, private_pem=signing.encrypt(key, passphrase),
                           created_at=now)  # fmt: skip
        session.add(record)
        session.flush()
        return record, key
    return record, signing.decrypt(record.private_pem, passphrase)


def rotate_issuer_key(session: Session, *, actor: Actor, passphrase: str | None, now: datetime) -> dict[str, Any]:
    """Retire the signing key (it keeps verifying until its last card expires) and start signing with a new one."""
    old, _ = active_issuer_key(session, passphrase=passphrase, now=now)  # proves the passphrase first
    old.retired_at = now
    old.verify_until = max(repo.last_expiry_signed_by(session, old.kid) or now, now)
    session.flush()
    new, _ = active_issuer_key(session, passphrase=passphrase, now=now)
    record_change(session, actor=actor, what="cards.issuer_key_rotated",
                  details={"retired": old.kid, "new": new.kid, "retired_verifies_until": old.verify_until.isoformat()},
                  now=now)  # fmt: skip
    return {"retired": old.kid, "kid": new.kid, "retired_verifies_until": old.verify_until}


def list_issuer_keys(session: Session, *, now: datetime) -> list[dict[str, Any]]:
    """Every issuer key with its state: signing, verifying (retired, cards still valid) or expired."""
    out = []
    for key in repo.issuer_keys(session):
        if key.retired_at is None:
            state = "signing"
        else:
            state = "verifying" if key.verify_until and key.verify_until > now else "expired"
        out.append({"kid": key.kid, "state": state, "created_at": key.created_at, "retired_at": key.retired_at,
                    "verify_until": key.verify_until, "public_key": key.public_key.hex()})  # fmt: skip
    return out


def verifier_keys(session: Session, *, now: datetime) -> dict[bytes, VerifierKey]:
    """The published keys as a verifier holds them, by COSE kid."""
    keys = [VerifierKey.from_public(k.public_key) for k in repo.published_issuer_keys(session, now)]
    return {key.kid: key for key in keys}


def published_key_set(session: Session, *, now: datetime, form: str) -> bytes | dict:
    """The published keys as a COSE_KeySet (`cose`) or a JWKS document (`jwks`)."""
    keys = verifier_keys(session, now=now).values()
    if form == "cose":
        return cose_key_set(keys)
    if form == "jwks":
        return jwks(keys)
    raise AppError(f"unknown key set format {form!r}; use cose or jwks", code="unknown_format")


# Issuing
IssueProgress = Callable[[int], None]


def issue_cards(
    session: Session,
    *,
    actor: Actor,
    scope: IssueScope,
    policy: CardPolicy,
    passphrase: str | None,
    now: datetime,
    pins: Callable[[list[PinLetter]], None],
    progress: IssueProgress | None = None,
    workers: int = 0,
    batch_size: int = 10_000,
) -> CardIssueRun:
    """Give a card to every person in scope who has no active card: signed credentials and PINs, set-based.

    PINs go to `pins` (the mailer) and only their Argon2id hashes are kept. With `workers` > 1, signing
    and PIN hashing run in that many processes while this one reads and writes the database.
    """
    _check_scope(session, actor, scope)
    record, key = active_issuer_key(session, passphrase=passphrase, now=now)
    run = CardIssueRun(id=uuid7(), scope=scope.label, started_at=now, actor_role=actor.role,
                       actor_office=actor.office, cards=0)  # fmt: skip
    session.add(run)
    session.flush()
    not_before = int(now.timestamp())
    expires = not_before + policy.validity_days * 86400
    slots = _Slots(session, policy.list_capacity, now)
    cohort = CohortDigest()

    def jobs() -> Iterator[tuple[list[uuid.UUID], list[tuple[uuid.UUID, int, int]], SigningJob]]:
        after = None
        only = [scope.person_id] if scope.person_id else None
        while persons := repo.persons_without_card(
            session, after=after, limit=batch_size, region_code=scope.region_code, person_ids=only
        ):
            after = persons[-1]
            cards = [(uuid.UUID(bytes=secrets.token_bytes(16)), *slot) for slot in slots.take(len(persons))]
            plans = [(card_id.bytes, str(list_id), index) for card_id, list_id, index in cards]
            job = SigningJob(issuer=policy.issuer, not_before=not_before, expires=expires,
                             pin_memory_kib=policy.pin_memory_kib, cards=plans)  # fmt: skip
            yield persons, cards, job

    batch = repo.CardBatch(kid=record.kid, not_before=now, expires_at=now + timedelta(days=policy.validity_days),
                           issue_run_id=run.id, replaces_card_id=scope.replaces)  # fmt: skip

    def store(persons: list[uuid.UUID], cards: list[tuple[uuid.UUID, int, int]], made: list[MadeCredential]) -> None:
        repo.insert_cards(session, batch, [
            (card_id, person_id, list_id, index, m.credential, m.pin_hash)
            for person_id, (card_id, list_id, index), m in zip(persons, cards, made, strict=True)
        ])  # fmt: skip
        pins([PinLetter(card[0], person_id, m.pin) for person_id, card, m in zip(persons, cards, made, strict=True)])
        cohort.add(persons)
        run.cards += len(persons)
        if progress:
            progress(len(persons))

    if workers > 1:
        _issue_in_workers(jobs(), store, key, workers)
    else:
        for persons, cards, job in jobs():
            store(persons, cards, make_credentials(job, key.private))
    if scope.person_id is not None and run.cards == 0:
        raise Conflict(f"person {scope.person_id} already holds an active card; reissue it instead",
                       code="card_exists")  # fmt: skip
    run.finished_at = now
    session.flush()
    if scope.person_id is not None:
        record_access(session, actor=actor, action="create", subject_type="person", subject_ids=[scope.person_id],
                      fields=["card"], now=now)  # fmt: skip
    elif run.cards:
        record_cohort_access(session, actor=actor, action="create", cohort_ref=f"cards:{run.id}", cohort=cohort,
                             fields=["card"], now=now)  # fmt: skip
    return run


def count_to_issue(session: Session, *, scope: IssueScope) -> int:
    """How many persons of a scope would get a card now."""
    if scope.person_id is not None:
        return 0 if repo.active_card_of(session, scope.person_id) else 1
    return repo.count_persons_without_card(session, region_code=scope.region_code)


def _issue_in_workers(jobs: Iterator, store: Callable, key: signing.SigningKey, workers: int) -> None:
    # Signing and PIN hashing are the CPU work; the database is written here while workers sign the next
    # batches. At most workers + 1 batches are in flight, so memory stays flat for any population.
    context = multiprocessing.get_context("spawn")
    private_raw = key.private.private_bytes_raw()
    with ProcessPoolExecutor(workers, mp_context=context, initializer=start_worker, initargs=(private_raw,)) as pool:
        pending: deque[tuple[list, list, Future]] = deque()
        for persons, cards, job in jobs:
            pending.append((persons, cards, pool.submit(make_credentials, job)))
            if len(pending) > workers:
                done_persons, done_cards, future = pending.popleft()
                store(done_persons, done_cards, future.result())
        while pending:
            done_persons, done_cards, future = pending.popleft()
            store(done_persons, done_cards, future.result())


class _Slots:
    """Random free indexes across status lists, opening a new list when the current one is full."""

    def __init__(self, session: Session, capacity: int, now: datetime):
        self.session, self.capacity, self.now = session, capacity, now
        self.list: StatusList | None = None
        self.allocator: SlotAllocator | None = None
        lists = repo.status_lists(session)
        if lists:
            self._open(lists[-1])

    def _open(self, status_list: StatusList) -> None:
        self.list = status_list
        self.allocator = SlotAllocator(status_list.capacity, repo.used_indexes(self.session, status_list.id))

    def take(self, count: int) -> list[tuple[int, int]]:
        taken: list[tuple[int, int]] = []
        while len(taken) < count:
            if self.allocator is None or self.allocator.free == 0:
                fresh = StatusList(capacity=self.capacity, created_at=self.now)
                self.session.add(fresh)
                self.session.flush()
                self._open(fresh)
            assert self.allocator is not None and self.list is not None
            part = min(count - len(taken), self.allocator.free)
            taken.extend((self.list.id, index) for index in self.allocator.take(part))
        return taken


def _check_scope(session: Session, actor: Actor, scope: IssueScope) -> None:
    if scope.person_id is not None:
        if registry_repo.get_person(session, scope.person_id, region_scope=actor.region_code) is None:
            raise NotFound(f"person {scope.person_id} not found", code="person_not_found")
    elif scope.region_code is not None and not registry_repo.region_exists(session, scope.region_code):
        raise ValidationFailed(
            f"unknown region {scope.region_code!r}",
            [FieldError("region", "unknown_region", f"'{scope.region_code}' is not a region")],
        )


def reissue_card(
    session: Session,
    *,
    actor: Actor,
    person_id: uuid.UUID,
    reason: str,
    policy: CardPolicy,
    passphrase: str | None,
    now: datetime,
    pins: Callable[[list[PinLetter]], None],
) -> CardIssueRun:
    """A new card for a lost, stolen or damaged one; the old card is revoked in the same transaction."""
    if reason not in REISSUE_REASONS:
        raise ValidationFailed(
            f"cannot reissue for {reason!r}",
            [FieldError("reason", "invalid_reissue_reason", "one of " + ", ".join(REISSUE_REASONS))],
        )
    if registry_repo.get_person(session, person_id, region_scope=actor.region_code) is None:
        raise NotFound(f"person {person_id} not found", code="person_not_found")
    old = repo.active_card_of(session, person_id)
    if old is None:
        raise NotFound(f"person {person_id} holds no active card to replace", code="no_active_card")
    # A damaged card is simply replaced; a lost or stolen one is revoked for that reason.
    revoke_card(session, actor=actor, card_id=old.id, reason="reissued" if reason == "damaged" else reason, now=now)
    return issue_cards(session, actor=actor, scope=IssueScope(person_id=person_id, replaces=old.id), policy=policy,
                       passphrase=passphrase, now=now, pins=pins)  # fmt: skip


def revoke_card(session: Session, *, actor: Actor, card_id: uuid.UUID, reason: str, now: datetime) -> Card:
    """Revoke a card for a recorded reason; the next status list carries it to every point."""
    if reason not in REVOCATION_REASONS:
        raise ValidationFailed(
            f"unknown revocation reason {reason!r}",
            [FieldError("reason", "invalid_revocation_reason", "one of " + ", ".join(REVOCATION_REASONS))],
        )
    card = _card_in_scope(session, actor, card_id)
    if not repo.revoke(session, card.id, reason=reason, now=now):
        raise Conflict(f"card {card_number(card_id)} is already revoked", code="card_already_revoked")
    session.refresh(card)
    record_access(session, actor=actor, action="update", subject_type="person", subject_ids=[card.person_id],
                  fields=["card_status"], now=now)  # fmt: skip
    return card


def issued_card(session: Session, *, run_id: uuid.UUID) -> Card:
    """The card an issue run for one person made."""
    found = repo.cards_of_run(session, run_id)
    if len(found) != 1:
        raise NotFound(f"issue run {run_id} made {len(found)} cards, not one", code="card_not_found")
    return found[0]


def card_credential(session: Session, *, card_id: uuid.UUID) -> str:
    """A card's QR text (it holds nothing personal: reading it is not a read of the person)."""
    found = repo.card(session, card_id)
    if found is None:
        raise NotFound(f"card {card_number(card_id)} not found", code="card_not_found")
    return found.credential


def _card_in_scope(session: Session, actor: Actor, card_id: uuid.UUID) -> Card:
    card = repo.card(session, card_id)
    if card is None or registry_repo.get_person(session, card.person_id, region_scope=actor.region_code) is None:
        raise NotFound(f"card {card_number(card_id)} not found", code="card_not_found")
    return card


def cards_of_person(session: Session, *, actor: Actor, person_id: uuid.UUID, now: datetime) -> list[Card]:
    """A person's cards, newest first (the read is recorded)."""
    if registry_repo.get_person(session, person_id, region_scope=actor.region_code) is None:
        raise NotFound(f"person {person_id} not found", code="person_not_found")
    cards = repo.cards_of(session, person_id)
    record_access(session, actor=actor, action="read", subject_type="person", subject_ids=[person_id],
                  fields=["card"], now=now)  # fmt: skip
    return cards


def card_cohorts(session: Session, person_id: uuid.UUID) -> list[str]:
    """The bulk issue runs that included a person, as the cohort references of their access log."""
    return [f"cards:{run_id}" for run_id in repo.issue_runs_of(session, person_id)]


# Status lists and verification
def status_list_token(session: Session, *, list_id: int, policy: CardPolicy, passphrase: str | None,
                      now: datetime) -> bytes:  # fmt: skip
    """The signed, compressed revocation list `list_id` as of now, valid for the policy's time-to-live."""
    found = repo.status_list(session, list_id)
    if found is None:
        raise NotFound(f"no status list {list_id}", code="status_list_not_found")
    _, key = active_issuer_key(session, passphrase=passphrase, now=now)
    bits = build_status_list(found.capacity, repo.revoked_indexes(session, list_id))
    return sign_status_list(list_id=str(list_id), bits=bits, issued_at=int(now.timestamp()),
                            ttl=policy.list_ttl_seconds, kid=cose_kid(key.public_raw), sign=key.sign)  # fmt: skip


class _StoreStatusLists(Mapping[str, VerifiedList]):
    """The store's status lists as the verifier reads them, each built only when a card names it."""

    def __init__(self, session: Session, policy: CardPolicy, now: datetime):
        self.session, self.policy, self.now = session, policy, now
        active = repo.active_issuer_key(session)
        self.kid = cose_kid(active.public_key) if active else b""
        self._built: dict[str, VerifiedList] = {}

    def __getitem__(self, list_id: str) -> VerifiedList:
        if list_id not in self._built:
            found = repo.status_list(self.session, int(list_id)) if list_id.isdigit() and len(list_id) < 12 else None
            if found is None:
                raise KeyError(list_id)
            bits = bytearray((found.capacity + 7) // 8)
            for index in repo.revoked_indexes(self.session, found.id):
                bits[index >> 3] |= 1 << (index & 7)
            self._built[list_id] = VerifiedList(list_id=list_id, bits=bytes(bits), issued_at=int(self.now.timestamp()),
                                                ttl=self.policy.list_ttl_seconds, kid=self.kid)  # fmt: skip
        return self._built[list_id]

    def __iter__(self) -> Iterator[str]:
        return (str(found.id) for found in repo.status_lists(self.session))

    def __len__(self) -> int:
        return len(repo.status_lists(self.session))


def current_status_lists(session: Session, *, policy: CardPolicy, now: datetime) -> Mapping[str, VerifiedList]:
    """The store's status lists as of now, in the form the verifier reads (each built when first asked for)."""
    return _StoreStatusLists(session, policy, now)


def verify_card(session: Session, *, text: str, policy: CardPolicy, now: datetime) -> Verdict:
    """The verdict on a card's QR text against the published keys and the current status lists."""
    keys = verifier_keys(session, now=now)
    # One store is one issuer: any of its published keys (the active one after a rotation) signs its lists.
    return verify_credential(
        text,
        keys=keys,
        status_lists=current_status_lists(session, policy=policy, now=now),
        now=int(now.timestamp()),
        status_signers={kid: frozenset(keys) for kid in keys},
    )


def card_summary(session: Session) -> dict[str, int]:
    """How many cards are active and revoked, and how many status lists exist."""
    counts = repo.card_counts(session)
    return {"active": counts.get("active", 0), "revoked": counts.get("revoked", 0),
            "status_lists": len(repo.status_lists(session))}  # fmt: skip


def cards_to_print(
    session: Session,
    *,
    actor: Actor,
    region_code: str | None,
    card_ids: Sequence[uuid.UUID] | None,
    run_id: uuid.UUID | None,
    limit: int,
    now: datetime,
) -> list[dict[str, Any]]:
    """The cards to print with their holders' names and regions; each holder's read is recorded."""
    rows = repo.cards_for_print(session, region_code=region_code, card_ids=card_ids, run_id=run_id, limit=limit)
    if actor.region_code is not None:
        rows = [row for row in rows if row[1].region_code == actor.region_code]
    if rows:
        record_access(session, actor=actor, action="read", subject_type="person",
                      subject_ids=[person.id for _, person, _ in rows],
                      fields=["given_names", "family_names", "region_code", "card"], now=now)  # fmt: skip
    return [
        {"card_id": card.id, "number": card_number(card.id), "credential": card.credential,
         "given_names": person.given_names, "family_names": person.family_names, "region": region,
         "not_before": card.not_before, "expires_at": card.expires_at}
        for card, person, region in rows
    ]  # fmt: skip
