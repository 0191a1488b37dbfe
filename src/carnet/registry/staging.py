"""The staging row of an import (pure): core fields, then one typed column per declared attribute."""

from __future__ import annotations

from carnet.registry.dictionary import AttributeDictionary
from carnet.registry.validation import PersonDraft

# The fields a checked row carries, in staging order (after row_number, id and household_new_id).
CORE_VALUES = (
    ("given_names", "VARCHAR(120)", "varchar"),
    ("family_names", "VARCHAR(120)", "varchar"),
    ("name_key", "VARCHAR(241)", "varchar"),
    ("date_of_birth", "DATE", "date"),
    ("sex", "VARCHAR(1)", "varchar"),
    ("national_id", "VARCHAR(12)", "varchar"),
    ("phone", "VARCHAR(20)", "varchar"),
    ("region_code", "VARCHAR(16)", "varchar"),
    ("municipality_code", "VARCHAR(16)", "varchar"),
    ("address_line", "VARCHAR(200)", "varchar"),
    ("household_ref", "VARCHAR(64)", "varchar"),
    ("relationship", "VARCHAR(16)", "varchar"),
    ("fingerprint", "VARCHAR(32)", "varchar"),
)
HOUSEHOLD_REF = [name for name, _, _ in CORE_VALUES].index("household_ref")
ATTRIBUTE_SQL = {
    "integer": ("BIGINT", "int8"),
    "boolean": ("BOOLEAN", "bool"),
    "enum": ("VARCHAR(64)", "varchar"),
    "date": ("DATE", "date"),
}


class StageLayout:
    """The staging row of one import: core fields, then one typed column per declared attribute.

    `values()` is pure and runs in the worker processes that check rows.
    """

    def __init__(self, dictionary: AttributeDictionary, *, sqlite: bool):
        self.sqlite = sqlite
        self.attributes = tuple(
            (f"a{index}", name, spec.type, spec.value_column)
            for index, (name, spec) in enumerate(sorted(dictionary.attributes.items()))
        )
        self.columns = (
            "row_number",
            "id",
            "household_new_id",
            *(n for n, _, _ in CORE_VALUES),
            *(column for column, _, _, _ in self.attributes),
        )
        self.copy_types = (
            "int4",
            "uuid",
            "uuid",
            *(t for _, _, t in CORE_VALUES),
            *(ATTRIBUTE_SQL[kind][1] for _, _, kind, _ in self.attributes),
        )

    def create_sql(self, temp: str) -> str:
        """CREATE TABLE for the staging table."""
        uuid_type = "CHAR(32)" if self.sqlite else "UUID"
        columns = [
            "row_number INTEGER PRIMARY KEY",
            f"id {uuid_type} NOT NULL",
            f"household_new_id {uuid_type}",
            *(f"{name} {sql}" for name, sql, _ in CORE_VALUES),
            *(f"{column} {ATTRIBUTE_SQL[kind][0]}" for column, _, kind, _ in self.attributes),
            "reject_code VARCHAR(32)",
        ]
        return f"CREATE {temp} import_stage ({', '.join(columns)})"

    def values(self, draft: PersonDraft) -> tuple:
        """The staging values of a checked person (without row number and ids)."""
        born = draft.date_of_birth.isoformat() if self.sqlite else draft.date_of_birth
        attributes = draft.attributes
        extra = []
        for _, name, kind, _ in self.attributes:
            value = attributes.get(name)
            if kind == "date" and value is not None and self.sqlite:
                value = value.isoformat()
            extra.append(value)
        return (
            draft.given_names,
            draft.family_names,
            draft.name_key,
            born,
            draft.sex,
            draft.national_id,
            draft.phone,
            draft.region_code,
            draft.municipality_code,
            draft.address_line,
            draft.household_ref,
            draft.relationship,
            draft.fingerprint,
            *extra,
        )
