"""The core fields every programme may read mirror the registry's own columns and values."""

from __future__ import annotations

from carnet.programs.rules import AttributeInfo, core_fields
from carnet.registry.fields import RELATIONSHIPS, SEXES
from carnet.registry.validation import RELATIONSHIP_WORDS, SEX_WORDS
from tests.unit.programs.support import DICTIONARY


def test_core_enums_are_the_registry_values():
    fields = core_fields()
    assert fields["sex"].values == SEXES == tuple(dict.fromkeys(SEX_WORDS.values()))
    assert fields["relationship"].values == RELATIONSHIPS
    assert set(RELATIONSHIP_WORDS.values()) == set(RELATIONSHIPS)


def test_core_fields_and_their_types():
    assert {name: info.type for name, info in core_fields().items()} == {
        "date_of_birth": "date",
        "sex": "enum",
        "region_code": "text",
        "municipality_code": "text",
        "relationship": "enum",
    }


def test_no_declared_attribute_shadows_a_core_field():
    assert not set(DICTIONARY.attributes) & set(core_fields())


def test_attribute_info_from_a_dictionary_spec():
    info = AttributeInfo.from_spec(DICTIONARY.attributes["employment_status"])
    assert info.type == "enum" and "unemployed" in (info.values or ())
    assert info.purposes == frozenset({"food_assistance", "cash_transfer", "fuel_subsidy"})
