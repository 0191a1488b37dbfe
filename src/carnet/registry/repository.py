"""Every query of the registry domain (row-at-a-time reads and writes; bulk SQL is in bulk.py)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Select, func, insert, select, update
from sqlalchemy.orm import Session

from carnet.registry.models import (
    AttributeDefinition,
    AttributeDictionaryVersion,
    Household,
    ImportRun,
    Person,
    PersonAttribute,
    RecordChange,
    Region,
)


# Regions
def count_regions(session: Session) -> int:
    """How many regions are loaded."""
    return session.scalar(select(func.count()).select_from(Region)) or 0


def insert_regions(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    """Insert region rows, states before their municipalities."""
    ordered = sorted(rows, key=lambda r: r["level"] != "state")
    session.execute(insert(Region), ordered)


def region_exists(session: Session, code: str) -> bool:
    """Whether a region (state or municipality) code is loaded."""
    return session.get(Region, code) is not None


def all_regions(session: Session) -> list[dict[str, Any]]:
    """Every region as a mapping."""
    rows = session.execute(select(Region.code, Region.name, Region.level, Region.parent_code, Region.population))
    return [dict(r._mapping) for r in rows]


# Attribute dictionary
def latest_dictionary_version(session: Session) -> AttributeDictionaryVersion | None:
    """The newest loaded dictionary version."""
    return session.scalars(
        select(AttributeDictionaryVersion).order_by(AttributeDictionaryVersion.version.desc()).limit(1)
    ).first()


def attribute_definitions(session: Session) -> dict[str, AttributeDefinition]:
    """Every attribute ever declared, retired ones included, by name."""
    return {d.name: d for d in session.scalars(select(AttributeDefinition))}


def count_values_by_attribute(session: Session) -> dict[str, int]:
    """How many stored values each attribute has."""
    rows = session.execute(select(PersonAttribute.name, func.count()).group_by(PersonAttribute.name))
    return {name: count for name, count in rows}


# Persons
def get_person(session: Session, person_id: uuid.UUID, *, region_scope: str | None) -> Person | None:
    """The person, or None when unknown or outside the caller's region."""
    query = select(Person).where(Person.id == person_id)
    if region_scope is not None:
        query = query.where(Person.region_code == region_scope)
    return session.scalars(query).first()


def person_id_by_national_id(
    session: Session, national_id: str, *, region_scope: str | None = None
) -> uuid.UUID | None:
    """The id of the person holding a cédula (None when nobody does, or they live outside `region_scope`)."""
    query = select(Person.id).where(Person.national_id == national_id)
    if region_scope is not None:
        query = query.where(Person.region_code == region_scope)
    return session.scalar(query)


def person_id_by_fingerprint(session: Session, fingerprint: str) -> uuid.UUID | None:
    """The id of the person created from the same identifying fields."""
    return session.scalar(select(Person.id).where(Person.fingerprint == fingerprint))


def search_persons(
    session: Session,
    *,
    name_prefix: str | None,
    national_id: str | None,
    region_code: str | None,
    household_id: uuid.UUID | None,
    after: uuid.UUID | None,
    limit: int,
) -> list[Person]:
    """Persons matching the filters, in id order after the cursor (keyset pagination)."""
    query: Select = select(Person)
    if national_id is not None:
        query = query.where(Person.national_id == national_id)
    if name_prefix:
        # A range on the b-tree index instead of LIKE, which SQLite would not index case-sensitively.
        query = query.where(Person.name_key >= name_prefix, Person.name_key < name_prefix + "\uffff")
    if region_code is not None:
        query = query.where(Person.region_code == region_code)
    if household_id is not None:
        query = query.where(Person.household_id == household_id)
    if after is not None:
        query = query.where(Person.id > after)
    return list(session.scalars(query.order_by(Person.id).limit(limit)))


def attributes_of(
    session: Session, person_ids: Sequence[uuid.UUID], names: Sequence[str] | None = None
) -> dict[uuid.UUID, list[PersonAttribute]]:
    """The stored attribute values of each person (only the `names` given, when given)."""
    out: dict[uuid.UUID, list[PersonAttribute]] = {pid: [] for pid in person_ids}
    if not person_ids or names == []:
        return out
    query = select(PersonAttribute).where(PersonAttribute.person_id.in_(person_ids))
    if names is not None:
        query = query.where(PersonAttribute.name.in_(list(names)))
    for value in session.scalars(query):
        out[value.person_id].append(value)
    return out


def put_attribute(session: Session, person_id: uuid.UUID, name: str, column: str, value: Any, now) -> None:
    """Set one attribute value (insert or replace)."""
    existing = session.get(PersonAttribute, (person_id, name))
    values = {"value_int": None, "value_bool": None, "value_text": None, "value_date": None, column: value}
    if existing is None:
        session.add(PersonAttribute(person_id=person_id, name=name, recorded_at=now, **values))
    else:
        for key, val in values.items():
            setattr(existing, key, val)
        existing.recorded_at = now


def delete_attribute(session: Session, person_id: uuid.UUID, name: str) -> None:
    """Remove one attribute value."""
    existing = session.get(PersonAttribute, (person_id, name))
    if existing is not None:
        session.delete(existing)


def history_of(session: Session, entity_type: str, entity_id: uuid.UUID) -> list[RecordChange]:
    """Every recorded change of one record, oldest first."""
    return list(
        session.scalars(
            select(RecordChange)
            .where(RecordChange.entity_type == entity_type, RecordChange.entity_id == entity_id)
            .order_by(RecordChange.version, RecordChange.id)
        )
    )


def add_change(session: Session, **values: Any) -> int:
    """Append one change to the history; returns its id."""
    return session.execute(insert(RecordChange).values(**values).returning(RecordChange.id)).scalar_one()


# Households
def get_household(session: Session, household_id: uuid.UUID, *, region_scope: str | None) -> Household | None:
    """The household, or None when unknown or outside the caller's region."""
    query = select(Household).where(Household.id == household_id)
    if region_scope is not None:
        query = query.where(Household.region_code == region_scope)
    return session.scalars(query).first()


def list_households(
    session: Session, *, region_code: str | None, after: uuid.UUID | None, limit: int
) -> list[Household]:
    """Households in id order after the cursor."""
    query = select(Household)
    if region_code is not None:
        query = query.where(Household.region_code == region_code)
    if after is not None:
        query = query.where(Household.id > after)
    return list(session.scalars(query.order_by(Household.id).limit(limit)))


def members_of(session: Session, household_id: uuid.UUID) -> list[Person]:
    """The members of a household."""
    return list(session.scalars(select(Person).where(Person.household_id == household_id).order_by(Person.id)))


def set_household_head(session: Session, household_id: uuid.UUID, person_id: uuid.UUID) -> None:
    """Make `person_id` the head of the household."""
    session.execute(update(Household).where(Household.id == household_id).values(head_person_id=person_id))


# Imports
def get_import(session: Session, import_id: uuid.UUID, *, region_scope: str | None = None) -> ImportRun | None:
    """One import run (None when unknown, or not made within `region_scope` when one is given)."""
    found = session.get(ImportRun, import_id)
    if found is None or (region_scope is not None and found.region_scope != region_scope):
        return None
    return found


def list_imports(session: Session, *, limit: int, region_scope: str | None) -> list[ImportRun]:
    """The newest import runs (only those made within `region_scope` when one is given)."""
    query = select(ImportRun)
    if region_scope is not None:
        query = query.where(ImportRun.region_scope == region_scope)
    return list(session.scalars(query.order_by(ImportRun.started_at.desc()).limit(limit)))
