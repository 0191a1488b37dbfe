"""The attribute dictionary: the shipped file, prohibited categories, every structural problem at once."""

from __future__ import annotations

import hashlib
from datetime import date
from pathlib import Path

import pytest
import yaml

from carnet.kit.errors import ProhibitedAttribute, ValidationFailed
from carnet.registry.dictionary import AttributeSpec, parse_dictionary, retention_days

SHIPPED = Path(__file__).resolve().parents[2] / "src/carnet/registry/data/attributes.yaml"
PURPOSES = {"food_assistance": "Monthly food boxes", "health_care": "Health care and medicines"}


def attribute(**overrides) -> dict:
    """A valid attribute entry; an override of None removes the key."""
    entry = {
        "name": "household_size",
        "type": "integer",
        "minimum": 1,
        "maximum": 30,
        "sensitivity": "personal",
        "purposes": ["food_assistance"],
        "retention": "P5Y",
        "description": "Number of people who live in the dwelling.",
    } | overrides
    return {k: v for k, v in entry.items() if v is not None}


def document(*attributes: dict, purposes: dict | None = None) -> str:
    return yaml.safe_dump(
        {
            "version": 1,
            "purposes": PURPOSES if purposes is None else purposes,
            "attributes": list(attributes),
        },
        allow_unicode=True,
        sort_keys=False,
    )


def problems(text: str) -> set[tuple[str, str]]:
    """The (field, code) of every problem parse_dictionary reports; fails if it accepts the text."""
    with pytest.raises(ValidationFailed) as caught:
        parse_dictionary(text)
    assert caught.value.code == "invalid_dictionary"
    return {(e.field, e.code) for e in caught.value.errors}


class TestShippedDictionary:
    def test_parses_with_its_version_attributes_and_purposes(self):
        text = SHIPPED.read_text(encoding="utf-8")
        dictionary = parse_dictionary(text)
        assert dictionary.version == 1
        assert sorted(dictionary.attributes) == sorted(
            [
                "monthly_income",
                "employment_status",
                "disability",
                "chronic_condition",
                "pregnant",
                "children_in_school",
                "dwelling_type",
                "vehicle_owned",
            ]
        )
        assert set(dictionary.purposes) == {
            "food_assistance",
            "cash_transfer",
            "fuel_subsidy",
            "health_care",
            "education_support",
        }
        assert dictionary.sha256 == hashlib.sha256(text.encode()).hexdigest()

    def test_attributes_are_typed_with_their_rules(self):
        attributes = parse_dictionary(SHIPPED.read_text(encoding="utf-8")).attributes
        income = attributes["monthly_income"]
        assert (income.type, income.minimum, income.unit, income.retention_days) == (
            "integer",
            0,
            "VES-cent",
            1825,
        )
        assert attributes["pregnant"].retention_days == 365
        assert attributes["disability"].sensitivity == "sensitive"
        assert attributes["chronic_condition"].purposes == ("health_care",)
        assert "rancho" in attributes["dwelling_type"].enum_values
        for spec in attributes.values():
            assert set(spec.purposes) <= set(parse_dictionary(SHIPPED.read_text(encoding="utf-8")).purposes)
            assert spec.description

    def test_a_minimal_valid_dictionary_parses(self):
        dictionary = parse_dictionary(document(attribute()))
        assert list(dictionary.attributes) == ["household_size"]
        assert dictionary.purposes == PURPOSES


class TestProhibitedCategories:
    @pytest.mark.parametrize(
        ("name", "category"),
        [
            ("religion", "religion"),
            ("voted_2018", "voting or elections"),
            ("huella_dactilar", "biometric templates"),
        ],
    )
    def test_prohibited_name_is_refused_with_its_category(self, name, category):
        text = document(attribute(), attribute(name=name, type="boolean", minimum=None, maximum=None))
        with pytest.raises(ProhibitedAttribute) as caught:
            parse_dictionary(text)
        assert caught.value.code == "prohibited_attribute"
        assert caught.value.extra == {"attribute": name, "category": category}
        assert [(e.field, e.code) for e in caught.value.errors] == [(name, "prohibited_attribute")]
        assert category in caught.value.message

    def test_party_name_among_enum_values_is_refused(self):
        community_group = attribute(
            name="community_group",
            type="enum",
            values=["none", "psuv", "other"],
            minimum=None,
            maximum=None,
            description="Community group the person belongs to.",
        )
        with pytest.raises(ProhibitedAttribute) as caught:
            parse_dictionary(document(community_group))
        assert caught.value.extra == {
            "attribute": "community_group",
            "category": "political opinion or party",
        }
        assert "psuv" in caught.value.message

    def test_description_about_votes_is_refused(self):
        participation = attribute(
            name="civic_participation",
            type="boolean",
            minimum=None,
            maximum=None,
            description="Whether the person voted in the last election.",
        )
        with pytest.raises(ProhibitedAttribute) as caught:
            parse_dictionary(document(participation))
        assert caught.value.extra["category"] == "voting or elections"

    def test_prohibited_purpose_is_refused(self):
        text = document(attribute(), purposes=PURPOSES | {"mobilisation": "Get out the vote on election day"})
        with pytest.raises(ProhibitedAttribute) as caught:
            parse_dictionary(text)
        assert caught.value.extra["category"] == "voting or elections"

    def test_prohibited_name_wins_over_other_problems(self):
        text = document(attribute(type="text"), attribute(name="religión", retention="forever"))
        with pytest.raises(ProhibitedAttribute) as caught:
            parse_dictionary(text)
        assert caught.value.extra["category"] == "religion"


class TestStructuralProblems:
    @pytest.mark.parametrize(
        ("entry", "expected"),
        [
            (attribute(purposes=["fuel_subsidy"]), ("purposes", "undeclared_purpose")),
            (attribute(type="text"), ("type", "invalid_type")),
            (attribute(description=None), ("description", "missing_description")),
            (attribute(description="   "), ("description", "missing_description")),
            (attribute(retention="5 years"), ("retention", "invalid_retention")),
            (attribute(name="phone"), ("name", "core_field")),
            (attribute(name="Household Size"), ("name", "invalid_name")),
            (attribute(sensitivity="secret"), ("sensitivity", "invalid_sensitivity")),
            (attribute(purposes=[]), ("purposes", "missing_purposes")),
            (attribute(type="enum", minimum=None, maximum=None), ("values", "missing_values")),
            (attribute(values=["a", "b"]), ("values", "unexpected_values")),
            (attribute(colour="red"), ("colour", "unknown_property")),
        ],
    )
    def test_each_problem_names_its_field_and_code(self, entry, expected):
        assert problems(document(entry)) == {expected}

    def test_duplicate_attribute(self):
        assert problems(document(attribute(), attribute())) == {("household_size", "duplicate_attribute")}

    def test_problems_name_the_attribute_they_belong_to(self):
        with pytest.raises(ValidationFailed) as caught:
            parse_dictionary(document(attribute(), attribute(name="rooms", type="text")))
        assert [e.record for e in caught.value.errors] == ["attributes[1] rooms"]

    def test_every_problem_is_reported_at_once(self):
        text = document(
            attribute(name="household_size"),
            attribute(name="rooms", purposes=["fuel_subsidy"]),
            attribute(name="water_source", type="text"),
            attribute(name="toilet_type", description=None),
            attribute(name="floor_material", retention="5 years"),
            attribute(name="household_size"),
            attribute(name="phone"),
        )
        with pytest.raises(ValidationFailed) as caught:
            parse_dictionary(text)
        found = {(e.record, e.field, e.code) for e in caught.value.errors}
        assert found == {
            ("attributes[1] rooms", "purposes", "undeclared_purpose"),
            ("attributes[2] water_source", "type", "invalid_type"),
            ("attributes[3] toilet_type", "description", "missing_description"),
            ("attributes[4] floor_material", "retention", "invalid_retention"),
            ("attributes[5] household_size", "household_size", "duplicate_attribute"),
            ("attributes[6] phone", "name", "core_field"),
        }
        assert "6 problem" in caught.value.message

    def test_document_level_problems(self):
        text = yaml.safe_dump({"version": 0, "purposes": {}, "attributes": [], "owner": "me"})
        assert problems(text) == {
            ("version", "invalid_version"),
            ("purposes", "missing_purposes"),
            ("owner", "unknown_property"),
        }

    @pytest.mark.parametrize(
        ("text", "code"), [("version: [1\n", "invalid_yaml"), ("- just\n- a list\n", "invalid_dictionary")]
    )
    def test_not_a_yaml_mapping(self, text, code):
        assert problems(text) == {("(file)", code)}


class TestRetention:
    @pytest.mark.parametrize(
        ("period", "days"), [("P5Y", 1825), ("P18M", 540), ("P90D", 90), ("P1Y6M", 545), ("P1Y2M3D", 428)]
    )
    def test_iso_periods(self, period, days):
        assert retention_days(period) == days

    @pytest.mark.parametrize("period", ["5 years", "P", "", "P5W", "5Y", "p5y", "P-1Y", "PT5H"])
    def test_anything_else_is_refused(self, period):
        with pytest.raises(ValueError, match="ISO 8601"):
            retention_days(period)


def spec(kind: str, **extra) -> AttributeSpec:
    return AttributeSpec(
        name="x",
        type=kind,
        sensitivity="personal",
        purposes=("food_assistance",),
        retention_days=365,
        description="x",
        **extra,
    )


class TestAttributeSpecParse:
    @pytest.mark.parametrize(("raw", "value"), [("42", 42), (" 7 ", 7), (0, 0), ("1_000", 1000), (20, 20)])
    def test_integer(self, raw, value):
        assert spec("integer", minimum=0, maximum=1000).parse(raw) == value

    @pytest.mark.parametrize(
        ("raw", "reason"),
        [
            ("4.5", "whole number"),
            ("many", "whole number"),
            ("", "whole number"),
            (True, "whole number"),
            ("-1", "at least 0"),
            ("1001", "at most 1000"),
            (5000, "at most 1000"),
        ],
    )
    def test_integer_refused(self, raw, reason):
        with pytest.raises(ValueError, match=reason):
            spec("integer", minimum=0, maximum=1000).parse(raw)

    @pytest.mark.parametrize(
        ("raw", "value"),
        [
            ("sí", True),
            ("Sí", True),
            ("si", True),
            ("yes", True),
            ("1", True),
            ("true", True),
            (True, True),
            ("no", False),
            ("No", False),
            ("falso", False),
            ("0", False),
            (False, False),
        ],
    )
    def test_boolean(self, raw, value):
        assert spec("boolean").parse(raw) is value

    def test_boolean_refused(self):
        with pytest.raises(ValueError, match="sí/no"):
            spec("boolean").parse("quizás")

    def test_enum(self):
        dwelling = spec("enum", enum_values=("house", "rancho"))
        assert dwelling.parse(" rancho ") == "rancho"
        with pytest.raises(ValueError, match="house, rancho"):
            dwelling.parse("castle")

    def test_date(self):
        assert spec("date").parse("2024-05-01") == date(2024, 5, 1)
        assert spec("date").parse(date(2024, 5, 1)) == date(2024, 5, 1)
        with pytest.raises(ValueError):
            spec("date").parse("2024-02-30")

    def test_each_type_has_its_value_column(self):
        assert {kind: spec(kind).value_column for kind in ("integer", "boolean", "enum", "date")} == {
            "integer": "value_int",
            "boolean": "value_bool",
            "enum": "value_text",
            "date": "value_date",
        }


class TestLookup:
    def test_declared_prohibited_and_undeclared_names(self):
        dictionary = parse_dictionary(SHIPPED.read_text(encoding="utf-8"))
        assert dictionary.get("disability", where="test").type == "boolean"
        with pytest.raises(ProhibitedAttribute) as prohibited:
            dictionary.get("partido_politico", where="test")
        assert prohibited.value.extra["category"] == "political opinion or party"
        with pytest.raises(ValidationFailed) as undeclared:
            dictionary.get("shoe_size", where="test")
        assert undeclared.value.code == "undeclared_attribute"
        assert [e.field for e in undeclared.value.errors] == ["shoe_size"]
