"""Registry tables: regions, households, persons, declared attributes, change history, imports."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    Uuid,
)
from sqlalchemy.orm import Mapped, mapped_column

from carnet.db.base import Base, BigIntPK, JSONDoc, UTCDateTime

ATTRIBUTE_TYPES = ("integer", "boolean", "enum", "date")
SENSITIVITIES = ("personal", "sensitive")


class Region(Base):
    """A state or municipality from the shipped list of Venezuelan divisions."""

    __tablename__ = "regions"

    code: Mapped[str] = mapped_column(String(16), primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    level: Mapped[str] = mapped_column(String(16))
    parent_code: Mapped[str | None] = mapped_column(ForeignKey("regions.code"), index=True)
    population: Mapped[int | None] = mapped_column(BigInteger)

    __table_args__ = (CheckConstraint("level IN ('state', 'municipality')", name="level"),)


class Household(Base):
    """People who live and eat together, with an address and optionally a head."""

    __tablename__ = "households"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    external_ref: Mapped[str | None] = mapped_column(String(64), unique=True)
    head_person_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("persons.id", use_alter=True, name="fk_households_head_person_id_persons")
    )
    region_code: Mapped[str] = mapped_column(ForeignKey("regions.code"))
    municipality_code: Mapped[str | None] = mapped_column(ForeignKey("regions.code"))
    address_line: Mapped[str | None] = mapped_column(String(200))
    version: Mapped[int] = mapped_column(Integer, default=1)
    import_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (Index("ix_households_region_code_id", "region_code", "id"),)


class Person(Base):
    """One registered person. Only declared fields exist; there is no free-form bag."""

    __tablename__ = "persons"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    given_names: Mapped[str] = mapped_column(String(120))
    family_names: Mapped[str] = mapped_column(String(120))
    # Lower-case, accent-free "family given", for prefix search with a plain b-tree index.
    name_key: Mapped[str] = mapped_column(String(241), index=True)
    date_of_birth: Mapped[date] = mapped_column(Date)
    sex: Mapped[str | None] = mapped_column(String(1))
    national_id: Mapped[str | None] = mapped_column(String(12), unique=True)
    phone: Mapped[str | None] = mapped_column(String(20))
    region_code: Mapped[str] = mapped_column(ForeignKey("regions.code"))
    municipality_code: Mapped[str | None] = mapped_column(ForeignKey("regions.code"))
    address_line: Mapped[str | None] = mapped_column(String(200))
    household_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("households.id"), index=True)
    relationship: Mapped[str | None] = mapped_column(String(16))
    # SHA-256 of the identifying fields: what makes a re-import of the same row a no-op.
    fingerprint: Mapped[str] = mapped_column(String(32), unique=True)
    version: Mapped[int] = mapped_column(Integer, default=1)
    import_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    import_row: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (
        Index("ix_persons_region_code_id", "region_code", "id"),
        CheckConstraint("sex IN ('F', 'M', 'X')", name="sex"),
        CheckConstraint(
            "relationship IN ('head', 'spouse', 'child', 'parent', 'sibling', 'grandchild', "
            "'grandparent', 'other_relative', 'non_relative')",
            name="relationship",
        ),
    )


class AttributeDictionaryVersion(Base):
    """One loaded version of the attribute dictionary file."""

    __tablename__ = "attribute_dictionary_versions"

    version: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    sha256: Mapped[str] = mapped_column(String(64))
    source: Mapped[str] = mapped_column(String(300))
    document: Mapped[dict] = mapped_column(JSONDoc)
    loaded_at: Mapped[datetime] = mapped_column(UTCDateTime)


class AttributeDefinition(Base):
    """A declared attribute; the foreign key from stored values makes undeclared ones impossible."""

    __tablename__ = "attribute_definitions"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    type: Mapped[str] = mapped_column(String(16))
    sensitivity: Mapped[str] = mapped_column(String(16))
    purposes: Mapped[list] = mapped_column(JSONDoc)
    enum_values: Mapped[list | None] = mapped_column(JSONDoc)
    minimum: Mapped[int | None] = mapped_column(BigInteger)
    maximum: Mapped[int | None] = mapped_column(BigInteger)
    unit: Mapped[str | None] = mapped_column(String(32))
    retention_days: Mapped[int] = mapped_column(Integer)
    description: Mapped[str] = mapped_column(Text)
    dictionary_version: Mapped[int] = mapped_column(ForeignKey("attribute_dictionary_versions.version"))
    retired: Mapped[bool] = mapped_column(Boolean, default=False)

    __table_args__ = (
        CheckConstraint("type IN ('integer', 'boolean', 'enum', 'date')", name="type"),
        CheckConstraint("sensitivity IN ('personal', 'sensitive')", name="sensitivity"),
    )


class PersonAttribute(Base):
    """The value of one declared attribute for one person, in the column of its type."""

    __tablename__ = "person_attributes"

    person_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("persons.id"), primary_key=True)
    name: Mapped[str] = mapped_column(ForeignKey("attribute_definitions.name"), primary_key=True)
    value_int: Mapped[int | None] = mapped_column(BigInteger)
    value_bool: Mapped[bool | None] = mapped_column(Boolean)
    value_text: Mapped[str | None] = mapped_column(String(64))
    value_date: Mapped[date | None] = mapped_column(Date)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime)

    @property
    def value(self) -> Any:
        """The value, from whichever typed column holds it."""
        return next((v for v in (self.value_int, self.value_bool, self.value_text, self.value_date) if v is not None),
                    None)  # fmt: skip

    # Clustered on (person, name) in SQLite: one b-tree instead of a table plus its key index.
    __table_args__ = {"sqlite_with_rowid": False}  # noqa: RUF012 (SQLAlchemy reads it as a class attribute)


class RecordChange(Base):
    """Who changed which record, when, what and why: the history an appeal needs."""

    __tablename__ = "record_changes"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    entity_type: Mapped[str] = mapped_column(String(16))
    entity_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    version: Mapped[int] = mapped_column(Integer)
    operation: Mapped[str] = mapped_column(String(16))
    # {field: [old, new]}; for a creation, the values it was created with (None for an import:
    # the import row it came from is named by import_id and the person's import_row).
    changes: Mapped[dict | None] = mapped_column(JSONDoc)
    reason: Mapped[str | None] = mapped_column(Text)
    actor_user_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    actor_role: Mapped[str] = mapped_column(String(24))
    import_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (
        Index("ix_record_changes_entity", "entity_type", "entity_id", "version"),
        CheckConstraint("operation IN ('create', 'update', 'import')", name="operation"),
    )


class ImportRun(Base):
    """One bulk import of a census or survey file, with its counts."""

    __tablename__ = "import_runs"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    filename: Mapped[str] = mapped_column(String(300))
    file_sha256: Mapped[str] = mapped_column(String(64))
    file_format: Mapped[str] = mapped_column(String(8))
    status: Mapped[str] = mapped_column(String(16))
    rows_total: Mapped[int] = mapped_column(Integer, default=0)
    rows_imported: Mapped[int] = mapped_column(Integer, default=0)
    rows_already_present: Mapped[int] = mapped_column(Integer, default=0)
    rows_rejected: Mapped[int] = mapped_column(Integer, default=0)
    households_created: Mapped[int] = mapped_column(Integer, default=0)
    rejects_path: Mapped[str | None] = mapped_column(String(500))
    reject_sample: Mapped[list | None] = mapped_column(JSONDoc)
    # Problems by error code over the whole file (counts only, no personal data).
    reject_counts: Mapped[dict | None] = mapped_column(JSONDoc)
    actor_user_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    actor_role: Mapped[str] = mapped_column(String(24))
    region_scope: Mapped[str | None] = mapped_column(String(16))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
