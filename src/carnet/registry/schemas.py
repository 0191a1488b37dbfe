"""What the registry takes in and gives out over the API (Pydantic)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field

STRICT = ConfigDict(extra="forbid")


class PersonIn(BaseModel):
    """A new person; extra attributes only by their declared names."""

    model_config = STRICT

    given_names: str = Field(max_length=200)
    family_names: str = Field(max_length=200)
    date_of_birth: str = Field(description="YYYY-MM-DD or DD/MM/YYYY")
    sex: str | None = None
    national_id: str | None = Field(default=None, description="cédula, e.g. V-12345678")
    phone: str | None = None
    region_code: str = Field(description="state code, e.g. VE-A")
    municipality_code: str | None = None
    address_line: str | None = None
    household_id: uuid.UUID | None = None
    relationship: str | None = None
    attributes: dict[str, Any] = Field(default_factory=dict)
    reason: str | None = Field(default=None, max_length=500, description="why the record is created")


class PersonPatch(BaseModel):
    """Changes to a person: only the fields given change; a reason is required."""

    model_config = STRICT

    reason: str = Field(min_length=3, max_length=500)
    expected_version: int | None = Field(default=None, description="refuse if the record moved on")
    given_names: str | None = None
    family_names: str | None = None
    date_of_birth: str | None = None
    sex: str | None = None
    national_id: str | None = None
    phone: str | None = None
    region_code: str | None = None
    municipality_code: str | None = None
    address_line: str | None = None
    household_id: uuid.UUID | None = None
    relationship: str | None = None
    attributes: dict[str, Any] | None = Field(default=None, description="null value removes an attribute")


class PersonOut(BaseModel):
    """A person as staff see it."""

    id: uuid.UUID
    given_names: str
    family_names: str
    date_of_birth: date
    sex: str | None
    national_id: str | None
    phone: str | None
    region_code: str
    municipality_code: str | None
    address_line: str | None
    household_id: uuid.UUID | None
    relationship: str | None
    attributes: dict[str, Any]
    version: int
    created_at: datetime
    updated_at: datetime


class ChangeOut(BaseModel):
    """One entry of a record's history."""

    model_config = ConfigDict(from_attributes=True)

    version: int
    operation: str
    changes: dict[str, Any] | None
    reason: str | None
    actor_role: str
    actor_user_id: uuid.UUID | None
    import_id: uuid.UUID | None
    changed_at: datetime


class InvestigationOut(BaseModel):
    """A record read for an investigation, with its history and the order that authorised the reads."""

    person: PersonOut
    history: list[ChangeOut]
    order: str
    sealed_until: date | None


class HouseholdIn(BaseModel):
    """A new household."""

    model_config = STRICT

    region_code: str
    municipality_code: str | None = None
    address_line: str | None = Field(default=None, max_length=200)
    external_ref: str | None = Field(default=None, max_length=64)
    reason: str | None = Field(default=None, max_length=500)


class MemberOut(BaseModel):
    """A household member, as listed with the household."""

    id: uuid.UUID
    given_names: str
    family_names: str
    relationship: str | None


class HouseholdOut(BaseModel):
    """A household with its members."""

    id: uuid.UUID
    external_ref: str | None
    head_person_id: uuid.UUID | None
    region_code: str
    municipality_code: str | None
    address_line: str | None
    version: int
    members: list[MemberOut]
    created_at: datetime


T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    """One page of a keyset-paginated listing; pass next_cursor back to get the next."""

    items: list[T]
    next_cursor: str | None


class ImportSummary(BaseModel):
    """What one bulk import did."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    filename: str
    status: str
    rows_total: int
    rows_imported: int
    rows_already_present: int
    rows_rejected: int
    households_created: int
    reject_counts: dict[str, int] | None = Field(default=None, description="problems by error code (counts only)")
    rejects_available: bool = Field(description="whether GET .../rejects has the rejected rows")
    reject_sample: list[dict[str, Any]] | None = Field(
        description="the first problems; only for those who may import (messages quote row values)"
    )
    started_at: datetime
    finished_at: datetime | None


class AttributeOut(BaseModel):
    """One declared attribute."""

    model_config = ConfigDict(from_attributes=True)

    name: str
    type: str
    sensitivity: str
    purposes: list[str]
    retention_days: int
    description: str
    enum_values: list[str] | None
    minimum: int | None
    maximum: int | None
    unit: str | None


class TreeHeadOut(BaseModel):
    """A signed tree head of the audit log."""

    size: int
    root: str
    signed_at: datetime
    kid: str
    signature: str


class AccountMakerOut(BaseModel):
    """The account that created another one."""

    username: str
    role: str


class AccessAccountOut(BaseModel):
    """The account that made an access, and who created that account, how and where."""

    username: str
    role: str
    created_via: str = Field(description="'self_card_pin' (by the person), 'office' (at a registrar's), 'admin'")
    created_by: AccountMakerOut | None
    created_office: str | None
    created_at: datetime


class AccessOut(BaseModel):
    """One access to a person's data as the person sees it."""

    leaf: int = Field(description="the entry's number in the audit log")
    at: datetime
    sealed: bool = Field(description="a lawful investigation sealed who, why and what until `sealed_until`")
    sealed_until: date | None
    office: str | None
    role: str | None
    purpose: str | None
    action: str | None
    account: AccessAccountOut | None = Field(
        default=None, description="the account that accessed; null for the system, the console, a sealed entry"
    )
    fields: list[str]
    seal_salt: str | None = Field(description="once a seal has ended: with the details, recomputes its digest")
    bulk: bool = Field(description="a bulk operation that included the person (e.g. an import)")
    cohort: str | None
    subject_salt: str | None = Field(description="with the person's id, recomputes the entry's commitment")
    entry: str = Field(description="the entry's canonical JSON, as hashed into the log")
    proof: list[str] | None = Field(description="inclusion proof against `head`; null until the next head")
    verified: bool = Field(True, description="the stored record agrees with its signed log entry")
    mismatch: str | None = Field(None, description="when not verified: the field the stored record changed")


class AccessLogOut(BaseModel):
    """Who accessed a person's data, with proofs against the newest signed tree head."""

    head: TreeHeadOut | None
    entries: list[AccessOut]
