"""The core fields of a person record, named once for validation, import, the API and the seed."""

from __future__ import annotations

# The values the registry stores for sex and for the relationship to a household's head.
SEXES = ("F", "M", "X")
RELATIONSHIPS = (
    "head",
    "spouse",
    "child",
    "parent",
    "sibling",
    "grandchild",
    "grandparent",
    "other_relative",
    "non_relative",
)

# As they appear in an import file (a household is named by the file's own key).
CORE_COLUMNS = (
    "given_names",
    "family_names",
    "date_of_birth",
    "sex",
    "national_id",
    "phone",
    "region_code",
    "municipality_code",
    "address_line",
    "household_ref",
    "relationship",
)
REQUIRED_COLUMNS = ("given_names", "family_names", "date_of_birth", "region_code")
# As stored and shown (a household is named by its id).
PERSON_FIELDS = tuple("household_id" if c == "household_ref" else c for c in CORE_COLUMNS)
