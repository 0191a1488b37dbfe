"""Registry use cases. Every read or write of a person goes through here and leaves an access record."""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import replace
from datetime import date, datetime
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from carnet.access.service import account_labels
from carnet.audit.service import access_log_for, record_access, record_change, record_history
from carnet.kit.actor import Actor, system_actor
from carnet.kit.errors import AppError, Conflict, FieldError, NotFound, ValidationFailed
from carnet.kit.ids import uuid7
from carnet.registry import repository as repo
from carnet.registry.dictionary import AttributeDictionary, check_dictionary
from carnet.registry.fields import CORE_COLUMNS, PERSON_FIELDS
from carnet.registry.models import (
    AttributeDefinition,
    AttributeDictionaryVersion,
    Household,
    ImportRun,
    Person,
    RecordChange,
)
from carnet.registry.schemas import HouseholdIn, PersonIn, PersonPatch
from carnet.registry.validation import (
    PersonDraft,
    RegionIndex,
    fold,
    load_shipped_regions,
    normalize_national_id,
    validate_person,
)


# Regions and the attribute dictionary
def ensure_regions(session: Session) -> int:
    """Load the shipped Venezuelan regions if none are loaded; returns how many were added."""
    if repo.count_regions(session):
        return 0
    rows = load_shipped_regions()
    repo.insert_regions(session, rows)
    return len(rows)


def region_index(session: Session) -> RegionIndex:
    """The index of the loaded regions."""
    return RegionIndex.from_rows(repo.all_regions(session))


def install_dictionary(
    session: Session, *, dictionary: AttributeDictionary, source: str, now: datetime, actor: Actor | None = None
) -> bool:
    """Make `dictionary` the current one (logged in the audit log); False when that exact version is already loaded."""
    latest = repo.latest_dictionary_version(session)
    if latest is not None:
        if dictionary.version == latest.version:
            if dictionary.sha256 == latest.sha256:
                return False
            raise Conflict(
                f"dictionary version {dictionary.version} is already loaded with other content; "
                "raise the version number",
                code="dictionary_version_reused",
            )
        if dictionary.version < latest.version:
            raise Conflict(
                f"dictionary version {dictionary.version} is older than the loaded {latest.version}",
                code="dictionary_version_old",
            )
    existing = repo.attribute_definitions(session)
    counts = repo.count_values_by_attribute(session)
    for name, spec in dictionary.attributes.items():
        old = existing.get(name)
        if old is not None and old.type != spec.type and counts.get(name):
            raise Conflict(
                f"attribute '{name}' has {counts[name]} stored values of type {old.type}; "
                f"declare a new attribute instead of changing it to {spec.type}",
                code="attribute_type_change",
            )
    session.add(
        AttributeDictionaryVersion(
            version=dictionary.version,
            sha256=dictionary.sha256,
            source=source[-300:],
            document=dictionary.document,
            loaded_at=now,
        )
    )
    session.flush()
    for name, spec in dictionary.attributes.items():
        values = {
            "type": spec.type,
            "sensitivity": spec.sensitivity,
            "purposes": list(spec.purposes),
            "enum_values": list(spec.enum_values) if spec.enum_values else None,
            "minimum": spec.minimum,
            "maximum": spec.maximum,
            "unit": spec.unit,
            "retention_days": spec.retention_days,
            "description": spec.description,
            "dictionary_version": dictionary.version,
            "retired": False,
        }
        if name in existing:
            for key, value in values.items():
                setattr(existing[name], key, value)
        else:
            session.add(AttributeDefinition(name=name, **values))
    # A dropped attribute is retired, not deleted: stored values keep their meaning for appeals.
    for name, old in existing.items():
        if name not in dictionary.attributes:
            old.retired = True
    session.flush()
    details = {
        "version": dictionary.version,
        "sha256": dictionary.sha256,
        "attributes": sorted(dictionary.attributes),
        "retired": sorted(set(existing) - set(dictionary.attributes)),
    }
    actor = actor or system_actor("dictionary", "administration")
    record_change(session, actor=actor, what="attribute_dictionary", details=details, now=now)
    return True


def current_dictionary(session: Session) -> AttributeDictionary:
    """The dictionary now in force."""
    latest = repo.latest_dictionary_version(session)
    if latest is None:
        raise NotFound("no attribute dictionary is loaded; run `carnet init`", code="dictionary_missing")
    return check_dictionary(latest.document, sha256=latest.sha256, source=latest.source)


# Persons
def _person_view(person: Person, attributes: list) -> dict[str, Any]:
    view = {name: getattr(person, name) for name in PERSON_FIELDS}
    view |= {
        "id": person.id,
        "version": person.version,
        "created_at": person.created_at,
        "updated_at": person.updated_at,
        "attributes": {a.name: a.value for a in attributes},
    }
    return view


def _stored_view(session: Session, person: Person) -> dict[str, Any]:
    """A person's fields and stored attribute values, as shown."""
    return _person_view(person, repo.attributes_of(session, [person.id])[person.id])


def _read_fields(view: dict[str, Any]) -> list[str]:
    return [*PERSON_FIELDS, *(f"attributes.{name}" for name in view["attributes"])]


def _person_in_scope(session: Session, actor: Actor, person_id: uuid.UUID) -> Person:
    # Outside the actor's region a person is simply not found: nothing is read, nothing leaks.
    person = repo.get_person(session, person_id, region_scope=actor.region_code)
    if person is None:
        raise NotFound(f"person {person_id} not found", code="person_not_found")
    return person


def _check_household(session: Session, actor: Actor, household_id: uuid.UUID | None) -> Household | None:
    if household_id is None:
        return None
    household = repo.get_household(session, household_id, region_scope=actor.region_code)
    if household is None:
        raise NotFound(f"household {household_id} not found", code="household_not_found")
    return household


def _check_scope(actor: Actor, region_code: str, record: str) -> None:
    if actor.region_code is not None and region_code != actor.region_code:
        raise ValidationFailed(
            f"{record}: you may only register people in {actor.region_code}",
            [FieldError("region_code", "outside_scope", f"your scope is {actor.region_code}", record=record)],
            code="outside_scope",
        )


def create_person(session: Session, *, actor: Actor, data: PersonIn, today: date, now: datetime) -> dict[str, Any]:
    """Register one person, with history and an access record."""
    dictionary = current_dictionary(session)
    for name in data.attributes:
        dictionary.get(name, where="attributes")
    raw = data.model_dump(exclude={"attributes", "household_id", "reason"}) | data.attributes
    draft, errors = validate_person(
        raw,
        regions=region_index(session),
        dictionary=dictionary,
        today=today,
        in_household=data.household_id is not None,
    )
    if draft is None:
        raise ValidationFailed("person: some fields are invalid", errors)
    _check_scope(actor, draft.region_code, "person")
    household = _check_household(session, actor, data.household_id)
    if draft.national_id and repo.person_id_by_national_id(session, draft.national_id):
        raise Conflict(f"cédula {draft.national_id} is already registered", code="duplicate_national_id")
    if draft.relationship == "head" and household is not None and household.head_person_id is not None:
        raise Conflict("the household already has a head", code="household_has_head")
    fingerprint = _creation_fingerprint(draft, household)
    if repo.person_id_by_fingerprint(session, fingerprint):
        raise Conflict(
            "a person with the same names, date of birth and household is already registered",
            code="possible_duplicate",
        )
    person = person_from_draft(
        draft, household_id=household.id if household else None, fingerprint=fingerprint, now=now
    )
    session.add(person)
    try:
        session.flush()
    except IntegrityError as exc:  # a concurrent registration of the same cédula
        raise Conflict("the person is already registered", code="duplicate_person") from exc
    for name, value in draft.attributes.items():
        repo.put_attribute(session, person.id, name, dictionary.attributes[name].value_column, value, now)
    if draft.relationship == "head" and household is not None:
        repo.set_household_head(session, household.id, person.id)
    view = _person_view(person, [])
    view["attributes"] = dict(draft.attributes)
    _record_creation(
        session,
        actor=actor,
        entity_type="person",
        entity_id=person.id,
        values={k: v for k, v in view.items() if k in PERSON_FIELDS or k == "attributes"},
        fields=_read_fields(view),
        reason=data.reason,
        now=now,
    )
    session.flush()
    return view


def _record_creation(
    session: Session,
    *,
    actor: Actor,
    entity_type: str,
    entity_id: uuid.UUID,
    values: dict[str, Any],
    fields: list[str],
    reason: str | None,
    now: datetime,
) -> None:
    # Version 1 of the history holds the values the record was created with; the access record
    # shows the person that their data was written, by whom and why.
    _add_change(
        session,
        entity_type=entity_type,
        entity_id=entity_id,
        version=1,
        operation="create",
        changes={k: _jsonable(v) for k, v in values.items()},
        reason=reason,
        actor_user_id=actor.user_id,
        actor_role=actor.role,
        import_id=None,
        changed_at=now,
    )
    record_access(
        session, actor=actor, action="create", subject_type=entity_type, subject_ids=[entity_id], fields=fields, now=now
    )


def _add_change(session: Session, **values: Any) -> None:
    # The history a person or an appeal reads is sealed in the audit log, field by field, in the same
    # transaction: flows.history_check recomputes it and names a row rewritten in the database.
    row = repo.add_change(session, **values)
    record_history(session, table="record_changes", row=row, binding=str(values["entity_id"]), values=values,
                   now=values["changed_at"])  # fmt: skip


def person_from_draft(draft: PersonDraft, *, household_id: uuid.UUID | None, fingerprint: str, now: datetime) -> Person:
    """A new, unsaved person row from checked fields (version 1)."""
    return Person(
        id=uuid7(),
        given_names=draft.given_names,
        family_names=draft.family_names,
        name_key=draft.name_key,
        date_of_birth=draft.date_of_birth,
        sex=draft.sex,
        national_id=draft.national_id,
        phone=draft.phone,
        region_code=draft.region_code,
        municipality_code=draft.municipality_code,
        address_line=draft.address_line,
        household_id=household_id,
        relationship=draft.relationship,
        fingerprint=fingerprint,
        version=1,
        created_at=now,
        updated_at=now,
    )


def _creation_fingerprint(draft, household: Household | None) -> str:
    if household is not None and draft.household_ref is None:
        draft.household_ref = household.external_ref or str(household.id)
    return draft.fingerprint


def get_person(
    session: Session, *, actor: Actor, person_id: uuid.UUID, now: datetime, sealed_until: date | None = None
) -> dict[str, Any]:
    """One person's record, read for the actor's purpose (and recorded as such, sealed for an investigation)."""
    person = _person_in_scope(session, actor, person_id)
    view = _stored_view(session, person)
    record_access(
        session,
        actor=actor,
        action="read",
        subject_type="person",
        subject_ids=[person.id],
        fields=_read_fields(view),
        now=now,
        sealed_until=sealed_until,
    )
    return view


def investigation_actor(actor: Actor, *, order: str) -> Actor:
    """The actor of a lawful investigation under `order`: the order's reference travels as its request id."""
    if actor.purpose != "investigation":
        raise AppError("only an investigation may seal its reads", code="invalid_seal")
    order = order.strip()
    if not order or len(order) > 58:
        raise ValidationFailed(
            "an investigation names the order that authorises it",
            [FieldError("order", "order_required", "give the order's reference (1 to 58 characters)")],
        )
    # Sealed with the access, the reference is shown when the seal ends.
    return replace(actor, request_id=f"order:{order}")


def investigate_person(
    session: Session, *, actor: Actor, person_id: uuid.UUID, order: str, sealed_until: date | None, now: datetime
) -> dict[str, Any]:
    """A person's record and history read for a lawful investigation under `order`, the reads sealed if asked."""
    actor = investigation_actor(actor, order=order)
    order = order.strip()
    view = get_person(session, actor=actor, person_id=person_id, now=now, sealed_until=sealed_until)
    history = person_history(session, actor=actor, person_id=person_id, now=now, sealed_until=sealed_until)
    return {"person": view, "history": history, "order": order, "sealed_until": sealed_until}


def get_own_record(session: Session, *, actor: Actor, now: datetime) -> dict[str, Any]:
    """The citizen's own record (the read is recorded too: the person sees it in their log)."""
    if actor.person_id is None:
        raise NotFound("this account is not linked to a registry record", code="no_linked_record")
    return get_person(session, actor=actor, person_id=actor.person_id, now=now)


def access_log(
    session: Session, *, actor: Actor, person_id: uuid.UUID, now: datetime, cohorts: Sequence[str] = ()
) -> dict[str, Any]:
    """Everyone who accessed this person's data, with proofs; reading it is itself recorded.

    `cohorts` names the bulk operations that included the person (their import, card issue runs, eligibility
    runs): bulk operations appear through their cohort, one entry each. `flows.data_subject` gathers them.
    """
    person = _person_in_scope(session, actor, person_id)
    view = access_log_for(session, subject_id=person.id, cohort_refs=cohorts, today=now.date())
    # Each access names the account that made it and who created that account, how and where, as the
    # signed entry names it: an account made to read a record unseen shows up here with its maker.
    users = {entry["entry"]: _entry_user(entry["entry"]) for entry in view["entries"]}
    labels = account_labels(session, [u for u in users.values() if u is not None])
    for entry in view["entries"]:
        user = users[entry["entry"]]
        entry["account"] = labels.get(user) if user is not None else None
    record_access(
        session, actor=actor, action="read", subject_type="person", subject_ids=[person.id], fields=["access_log"],
        now=now,
    )  # fmt: skip
    return view


def import_cohorts(session: Session, person_id: uuid.UUID) -> list[str]:
    """The import run that created a person, as the cohort reference of their access log (none if registered)."""
    person = repo.get_person(session, person_id, region_scope=None)
    return [f"import:{person.import_id}"] if person is not None and person.import_id else []


def _entry_user(body: str) -> uuid.UUID | None:
    actor = json.loads(body).get("actor")
    user = actor.get("user") if isinstance(actor, dict) else None
    return uuid.UUID(user) if user else None


def own_access_log(session: Session, *, actor: Actor, now: datetime, cohorts: Sequence[str] = ()) -> dict[str, Any]:
    """The citizen's own access log."""
    if actor.person_id is None:
        raise NotFound("this account is not linked to a registry record", code="no_linked_record")
    return access_log(session, actor=actor, person_id=actor.person_id, now=now, cohorts=cohorts)


def search_persons(
    session: Session,
    *,
    actor: Actor,
    query: str | None,
    region_code: str | None,
    household_id: uuid.UUID | None,
    cursor: uuid.UUID | None,
    limit: int,
    now: datetime,
) -> tuple[list[dict[str, Any]], uuid.UUID | None]:
    """Persons matching a name prefix or cédula; each one returned is an audited read."""
    national_id = None
    name_prefix = None
    if query:
        try:
            national_id = normalize_national_id(query)
        except ValueError:
            name_prefix = fold(query)
    scope = actor.region_code
    if scope is not None and region_code is not None and region_code != scope:
        return [], None
    persons = repo.search_persons(
        session,
        name_prefix=name_prefix,
        national_id=national_id,
        region_code=scope or region_code,
        household_id=household_id,
        after=cursor,
        limit=limit + 1,
    )
    more = len(persons) > limit
    persons = persons[:limit]
    values = repo.attributes_of(session, [p.id for p in persons])
    views = [_person_view(p, values[p.id]) for p in persons]
    # One access record per person shown, written in one statement per distinct set of fields read.
    by_fields: dict[tuple[str, ...], list[uuid.UUID]] = {}
    for view in views:
        by_fields.setdefault(tuple(_read_fields(view)), []).append(view["id"])
    for fields, ids in by_fields.items():
        record_access(
            session, actor=actor, action="read", subject_type="person", subject_ids=ids, fields=fields, now=now
        )
    return views, (persons[-1].id if more else None)


def person_id_for_national_id(
    session: Session, *, actor: Actor, national_id: str, now: datetime, sealed_until: date | None = None
) -> uuid.UUID:
    """The person holding a cédula, within the actor's scope; the lookup is a recorded read of their cédula
    (sealed like the reads it leads to, for an investigation)."""
    try:
        normalized = normalize_national_id(national_id)
    except ValueError as exc:
        raise ValidationFailed(
            f"{national_id!r} is neither a person id nor a cédula",
            [FieldError("national_id", "invalid_national_id", str(exc))],
        ) from None
    # Outside the actor's region the cédula is simply not found, as in every other read.
    found = repo.person_id_by_national_id(session, normalized, region_scope=actor.region_code)
    if found is None:
        raise NotFound(f"no person holds cédula {normalized}", code="person_not_found")
    record_access(
        session, actor=actor, action="read", subject_type="person", subject_ids=[found], fields=["national_id"],
        now=now, sealed_until=sealed_until,
    )  # fmt: skip
    return found


def update_person(
    session: Session, *, actor: Actor, person_id: uuid.UUID, patch: PersonPatch, today: date, now: datetime
) -> dict[str, Any]:
    """Change some of a person's fields; the old and new values and the reason go to the history."""
    person = _person_in_scope(session, actor, person_id)
    if patch.expected_version is not None and patch.expected_version != person.version:
        raise Conflict(
            f"person {person_id} is at version {person.version}, not {patch.expected_version}",
            code="stale_version",
        )
    dictionary = current_dictionary(session)
    given = patch.model_dump(exclude_unset=True, exclude={"reason", "expected_version", "attributes"})
    new_attributes = patch.attributes or {}
    for name in new_attributes:
        dictionary.get(name, where="attributes")
    before = _stored_view(session, person)
    merged = {k: before[k] for k in CORE_COLUMNS if k in before} | {
        "date_of_birth": before["date_of_birth"].isoformat()
    }
    merged |= {k: v for k, v in given.items() if k != "household_id"}
    household_id = given.get("household_id", person.household_id)
    draft, errors = validate_person(
        merged | {n: v for n, v in new_attributes.items() if v is not None},
        regions=region_index(session),
        dictionary=dictionary,
        today=today,
        in_household=household_id is not None,
    )
    if draft is None:
        raise ValidationFailed(f"person {person_id}: some fields are invalid", errors)
    _check_scope(actor, draft.region_code, f"person {person_id}")
    household = _check_household(session, actor, household_id)
    if (
        draft.national_id
        and draft.national_id != person.national_id
        and repo.person_id_by_national_id(session, draft.national_id)
    ):
        raise Conflict(f"cédula {draft.national_id} is already registered", code="duplicate_national_id")
    after = {
        "given_names": draft.given_names,
        "family_names": draft.family_names,
        "date_of_birth": draft.date_of_birth,
        "sex": draft.sex,
        "national_id": draft.national_id,
        "phone": draft.phone,
        "region_code": draft.region_code,
        "municipality_code": draft.municipality_code,
        "address_line": draft.address_line,
        "household_id": household.id if household else None,
        "relationship": draft.relationship,
    }
    changes = {
        name: [_jsonable(before[name]), _jsonable(value)] for name, value in after.items() if before[name] != value
    }
    for name, value in new_attributes.items():
        old = before["attributes"].get(name)
        new = draft.attributes.get(name) if value is not None else None
        if old != new:
            changes[f"attributes.{name}"] = [_jsonable(old), _jsonable(new)]
            if new is None:
                repo.delete_attribute(session, person.id, name)
            else:
                repo.put_attribute(session, person.id, name, dictionary.attributes[name].value_column, new, now)
    if not changes:
        return get_person(session, actor=actor, person_id=person_id, now=now)
    for name, value in after.items():
        setattr(person, name, value)
    person.name_key = draft.name_key
    person.version += 1
    person.updated_at = now
    _add_change(
        session,
        entity_type="person",
        entity_id=person.id,
        version=person.version,
        operation="update",
        changes=changes,
        reason=patch.reason,
        actor_user_id=actor.user_id,
        actor_role=actor.role,
        import_id=None,
        changed_at=now,
    )
    if draft.relationship == "head" and household is not None and household.head_person_id != person.id:
        if household.head_person_id is not None:
            raise Conflict("the household already has a head", code="household_has_head")
        repo.set_household_head(session, household.id, person.id)
    try:
        session.flush()
    except IntegrityError as exc:
        raise Conflict("the change clashes with another record", code="duplicate_person") from exc
    record_access(
        session,
        actor=actor,
        action="update",
        subject_type="person",
        subject_ids=[person.id],
        fields=sorted(changes),
        now=now,
    )
    return _stored_view(session, person)


def person_history(
    session: Session, *, actor: Actor, person_id: uuid.UUID, now: datetime, sealed_until: date | None = None
) -> list:
    """Every change of a person's record, oldest first (reading it is recorded)."""
    person = _person_in_scope(session, actor, person_id)
    changes = repo.history_of(session, "person", person_id)
    if person.import_id is not None:
        changes.insert(0, _import_creation(session, person.import_id, person.id))
    record_access(
        session,
        actor=actor,
        action="read",
        subject_type="person",
        subject_ids=[person_id],
        fields=["history"],
        now=now,
        sealed_until=sealed_until,
    )
    return changes


def list_imports(session: Session, *, actor: Actor, limit: int) -> list[ImportRun]:
    """The newest import runs the actor may see (a region-bound account: those made within its region)."""
    return repo.list_imports(session, limit=limit, region_scope=actor.region_code)


def get_import(session: Session, *, actor: Actor, import_id: uuid.UUID) -> ImportRun:
    """One import run, if the actor may see it (one made within its region when it is region-bound), or 404."""
    # Outside the actor's region an import is simply not found, like a person.
    found = repo.get_import(session, import_id, region_scope=actor.region_code)
    if found is None:
        raise NotFound(f"import {import_id} not found", code="import_not_found")
    return found


def _import_creation(session: Session, import_id: uuid.UUID, person_id: uuid.UUID) -> RecordChange:
    # An imported person's creation is not written once per row: the import run says who, when and
    # from which file, and the person row names its import and row. The history shows it as version 1.
    run = repo.get_import(session, import_id)
    return RecordChange(
        entity_type="person",
        entity_id=person_id,
        version=1,
        operation="import",
        changes=None,
        reason=f"import {run.filename}" if run else "import",
        actor_user_id=run.actor_user_id if run else None,
        actor_role=run.actor_role if run else "unknown",
        import_id=import_id,
        changed_at=run.started_at if run else None,
    )


# Households
def create_household(session: Session, *, actor: Actor, data: HouseholdIn, now: datetime) -> dict[str, Any]:
    """Register a household (members join it through their own records)."""
    regions = region_index(session)
    errors = []
    region = regions.state(data.region_code)
    if region is None:
        errors.append(FieldError("region_code", "unknown_region", f"'{data.region_code}' is not a state"))
    municipality = None
    if data.municipality_code and region:
        municipality = regions.municipality(data.municipality_code, region)
        if municipality is None:
            errors.append(FieldError("municipality_code", "unknown_municipality", "not in that state"))
    if errors:
        raise ValidationFailed("household: some fields are invalid", errors)
    assert region is not None
    _check_scope(actor, region, "household")
    household = Household(
        id=uuid7(),
        external_ref=data.external_ref,
        region_code=region,
        municipality_code=municipality,
        address_line=data.address_line,
        version=1,
        created_at=now,
        updated_at=now,
    )
    session.add(household)
    try:
        session.flush()
    except IntegrityError as exc:
        raise Conflict(f"household reference {data.external_ref} is taken", code="duplicate_household") from exc
    values = {"region_code": region, "municipality_code": municipality, "address_line": data.address_line}
    _record_creation(
        session,
        actor=actor,
        entity_type="household",
        entity_id=household.id,
        values=values,
        fields=list(values),
        reason=data.reason,
        now=now,
    )
    return _household_view(household, [])


def get_household(session: Session, *, actor: Actor, household_id: uuid.UUID, now: datetime) -> dict[str, Any]:
    """A household with its members' names (each member's name read is recorded)."""
    household = repo.get_household(session, household_id, region_scope=actor.region_code)
    if household is None:
        raise NotFound(f"household {household_id} not found", code="household_not_found")
    members = repo.members_of(session, household.id)
    record_access(
        session,
        actor=actor,
        action="read",
        subject_type="household",
        subject_ids=[household.id],
        fields=["region_code", "municipality_code", "address_line", "members"],
        now=now,
    )
    record_access(
        session,
        actor=actor,
        action="read",
        subject_type="person",
        subject_ids=[m.id for m in members],
        fields=["given_names", "family_names", "relationship"],
        now=now,
    )
    return _household_view(household, members)


def list_households(
    session: Session,
    *,
    actor: Actor,
    region_code: str | None,
    cursor: uuid.UUID | None,
    limit: int,
    now: datetime,
) -> tuple[list[dict[str, Any]], uuid.UUID | None]:
    """Households (addresses, no member names), each read recorded."""
    scope = actor.region_code
    if scope is not None and region_code is not None and region_code != scope:
        return [], None
    households = repo.list_households(session, region_code=scope or region_code, after=cursor, limit=limit + 1)
    more = len(households) > limit
    households = households[:limit]
    record_access(
        session,
        actor=actor,
        action="read",
        subject_type="household",
        subject_ids=[h.id for h in households],
        fields=["region_code", "municipality_code", "address_line"],
        now=now,
    )
    return [_household_view(h, []) for h in households], (households[-1].id if more else None)


def _household_view(household: Household, members: list[Person]) -> dict[str, Any]:
    return {
        "id": household.id,
        "external_ref": household.external_ref,
        "head_person_id": household.head_person_id,
        "region_code": household.region_code,
        "municipality_code": household.municipality_code,
        "address_line": household.address_line,
        "version": household.version,
        "created_at": household.created_at,
        "members": [
            {
                "id": m.id,
                "given_names": m.given_names,
                "family_names": m.family_names,
                "relationship": m.relationship,
            }
            for m in members
        ],
    }


def _jsonable(value: Any) -> Any:
    if isinstance(value, date | datetime):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    return value
