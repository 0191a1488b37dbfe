"""Checking and normalising one person's fields: cédulas, phones, dates, regions, attributes, fingerprints."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from carnet.registry.dictionary import parse_dictionary
from carnet.registry.fields import CORE_COLUMNS
from carnet.registry.text import parse_date
from carnet.registry.validation import RegionIndex, normalize_national_id, normalize_phone, validate_person

SHIPPED = Path(__file__).resolve().parents[2] / "src/carnet/registry/data/attributes.yaml"
DICTIONARY = parse_dictionary(SHIPPED.read_text(encoding="utf-8"))
REGIONS = RegionIndex.shipped()
TODAY = date(2026, 11, 29)
CANONICAL_CEDULA = re.compile(r"^[VE]-[1-9][0-9]{4,8}$")
E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")


def person(**overrides) -> dict:
    """A valid row as an import file or a form gives it; an override of None removes the field."""
    row = {
        "given_names": "María José",
        "family_names": "Pérez Rodríguez",
        "date_of_birth": "1985-03-14",
        "sex": "F",
        "national_id": "V-12345678",
        "phone": "0414-1234567",
        "region_code": "VE-A",
        "municipality_code": "VE-A-01",
    } | overrides
    return {k: v for k, v in row.items() if v is not None}


def check(row: dict, **kwargs):
    return validate_person(row, regions=REGIONS, dictionary=DICTIONARY, today=TODAY, **kwargs)


def accepted(row: dict, **kwargs):
    draft, errors = check(row, **kwargs)
    assert errors == []
    assert draft is not None
    return draft


def refused(row: dict, **kwargs) -> set[tuple[str, str]]:
    draft, errors = check(row, **kwargs)
    assert draft is None
    assert errors
    return {(e.field, e.code) for e in errors}


class TestNormalizeNationalId:
    @pytest.mark.parametrize(
        ("raw", "expected"),
        [
            ("V-12345678", "V-12345678"),
            ("V12345678", "V-12345678"),
            ("v-12345678", "V-12345678"),
            ("v 12.345.678", "V-12345678"),
            (" V-12 345 678 ", "V-12345678"),
            ("E-81234567", "E-81234567"),
            ("e 123.456.789", "E-123456789"),  # foreigners' numbers may have 9 digits
            ("V-0012345678", "V-12345678"),  # leading zeros are not part of the number
            ("V-00012345", "V-12345"),
            ("V-12345", "V-12345"),
        ],
    )
    def test_accepted_forms(self, raw, expected):
        assert normalize_national_id(raw) == expected

    @pytest.mark.parametrize(
        ("raw", "reason"),
        [
            ("V-123456789", "at most 8 digits"),  # a V- cédula has at most 8 digits
            ("J-12345678", "V- or E-"),  # a company's RIF, not a person's cédula
            ("G-20000001", "V- or E-"),  # a government body's RIF
            ("12345678", "V- or E-"),
            ("V-1234", "V- or E-"),
            ("V-1234567890", "V- or E-"),
            ("V-12345678X", "V- or E-"),
            ("", "V- or E-"),
        ],
    )
    def test_refused_forms(self, raw, reason):
        with pytest.raises(ValueError, match=reason):
            normalize_national_id(raw)

    @pytest.mark.parametrize("raw", ["V-0001234", "V-00000", "V-000000000", "E-00001"])
    def test_leading_zeros_do_not_count_towards_the_minimum(self, raw):
        # 0* is meant to drop leading zeros before 5 to 9 significant digits; "V-0001234" has four.
        with pytest.raises(ValueError):
            normalize_national_id(raw)

    def test_non_ascii_digits_are_never_stored_as_such(self):
        # Python's \d also matches Arabic-Indic digits; a stored cédula must be ASCII (or refused).
        try:
            normalized = normalize_national_id("V-١٢٣٤٥٦٧٨")
        except ValueError:
            return
        assert normalized == "V-12345678"

    @given(st.text(alphabet=st.sampled_from("VvEeJ-. 0123456789١٢٣"), max_size=16) | st.text(max_size=16))
    def test_any_accepted_value_is_canonical_and_stable(self, raw):
        try:
            normalized = normalize_national_id(raw)
        except ValueError:
            return
        assert CANONICAL_CEDULA.match(normalized), normalized
        assert normalize_national_id(normalized) == normalized


class TestNormalizePhone:
    @pytest.mark.parametrize(
        ("raw", "expected"),
        [
            ("0414-1234567", "+584141234567"),
            ("04141234567", "+584141234567"),
            ("0414 123 4567", "+584141234567"),
            ("0414.123.45.67", "+584141234567"),
            ("(0414) 123-4567", "+584141234567"),
            ("+58 414 1234567", "+584141234567"),
            ("+58-414-123-4567", "+584141234567"),
            ("0212-5551234", "+582125551234"),  # a Caracas landline
            ("+57 300 1234567", "+573001234567"),  # a Colombian mobile stays Colombian
            ("+1 202 555 0143", "+12025550143"),
        ],
    )
    def test_accepted_forms_become_e164(self, raw, expected):
        assert normalize_phone(raw) == expected

    @pytest.mark.parametrize(
        ("raw", "reason"),
        [
            ("12345", "not a valid phone number"),
            ("0414-123456", "not a valid phone number"),  # a digit short
            ("0000-0000000", "not a valid phone number"),
            ("+58 000 0000000", "not a valid phone number"),
            ("+57 300 12", "not a valid phone number"),
            ("call me", "not a phone number"),
            ("", "not a phone number"),
        ],
    )
    def test_invalid_numbers_are_refused(self, raw, reason):
        with pytest.raises(ValueError, match=reason):
            normalize_phone(raw)

    @given(st.text(alphabet=st.sampled_from("+0123456789 -.()"), max_size=20) | st.text(max_size=20))
    def test_any_accepted_value_is_e164_and_stable(self, raw):
        try:
            normalized = normalize_phone(raw)
        except ValueError:
            return
        assert E164.match(normalized), normalized
        assert normalize_phone(normalized) == normalized


class TestParseDate:
    @pytest.mark.parametrize(
        ("raw", "expected"),
        [
            ("1985-03-14", date(1985, 3, 14)),
            ("14/03/1985", date(1985, 3, 14)),  # the Venezuelan order: day first
            ("1/2/2000", date(2000, 2, 1)),
            ("14-03-1985", date(1985, 3, 14)),
            ("14.03.1985", date(1985, 3, 14)),
            (" 2000-02-29 ", date(2000, 2, 29)),
            ("2000-01-01T10:30:00", date(2000, 1, 1)),  # a spreadsheet's datetime
        ],
    )
    def test_accepted_forms(self, raw, expected):
        assert parse_date(raw) == expected

    @pytest.mark.parametrize(
        "raw",
        ["31/02/1980", "29/02/2001", "2001-02-29", "13/13/2000", "03/14/1985", "yesterday", "", "1985", "00/00/0000"],
    )
    def test_impossible_or_unreadable_dates_are_refused(self, raw):
        with pytest.raises(ValueError):
            parse_date(raw)


class TestRegions:
    @pytest.mark.parametrize("raw", ["VE-V", "ve-v", " VE-V ", "Zulia", "ZULIA", " zulia "])
    def test_state_by_code_or_name(self, raw):
        assert accepted(person(region_code=raw, municipality_code=None)).region_code == "VE-V"

    @pytest.mark.parametrize("raw", ["Anzoátegui", "Anzoategui", "ANZOATEGUI", "anzoátegui"])
    def test_state_name_with_or_without_accents(self, raw):
        assert accepted(person(region_code=raw, municipality_code=None)).region_code == "VE-B"

    @pytest.mark.parametrize(
        ("state", "municipality", "expected"),
        [
            ("VE-V", "VE-V-14", "VE-V-14"),
            ("Zulia", "ve-v-14", "VE-V-14"),
            ("Zulia", "Maracaibo", "VE-V-14"),
            ("Zulia", "Colón", "VE-V-05"),
            ("Zulia", "colon", "VE-V-05"),
            ("Zulia", "MACHIQUES DE PERIJA", "VE-V-12"),
            # The same name in two states: the row's state decides.
            ("Distrito Capital", "Libertador", "VE-A-01"),
            ("Aragua", "Libertador", "VE-D-08"),
        ],
    )
    def test_municipality_by_code_or_name_within_its_state(self, state, municipality, expected):
        draft = accepted(person(region_code=state, municipality_code=municipality))
        assert draft.municipality_code == expected

    def test_unknown_state(self):
        assert refused(person(region_code="VE-QQ", municipality_code=None)) == {("region_code", "unknown_region")}
        assert refused(person(region_code="Narnia", municipality_code=None)) == {("region_code", "unknown_region")}

    def test_municipality_of_another_state(self):
        assert refused(person(region_code="VE-V", municipality_code="VE-A-01")) == {
            ("municipality_code", "unknown_municipality")
        }
        assert refused(person(region_code="Zulia", municipality_code="Narnia")) == {
            ("municipality_code", "unknown_municipality")
        }


class TestWords:
    @pytest.mark.parametrize(
        ("raw", "expected"),
        [
            ("F", "F"),
            ("f", "F"),
            ("Femenino", "F"),
            ("mujer", "F"),
            ("M", "M"),
            ("Masculino", "M"),
            ("HOMBRE", "M"),
            ("X", "X"),
            ("otro", "X"),
            ("female", "F"),
        ],
    )
    def test_sex(self, raw, expected):
        assert accepted(person(sex=raw)).sex == expected

    def test_unknown_sex(self):
        assert refused(person(sex="quizás")) == {("sex", "invalid_sex")}

    @pytest.mark.parametrize(
        ("raw", "expected"),
        [
            ("Jefe", "head"),
            ("Jefa de hogar", "head"),
            ("jefa_de_hogar", "head"),
            ("Cónyuge", "spouse"),
            ("esposa", "spouse"),
            ("Concubino", "spouse"),
            ("Hija", "child"),
            ("hijo", "child"),
            ("Madre", "parent"),
            ("hermano", "sibling"),
            ("Nieta", "grandchild"),
            ("abuelo", "grandparent"),
            ("Otro pariente", "other_relative"),
            ("No pariente", "non_relative"),
            ("head", "head"),
        ],
    )
    def test_relationship(self, raw, expected):
        draft = accepted(person(relationship=raw, household_ref="H-1"))
        assert draft.relationship == expected

    def test_unknown_relationship(self):
        assert refused(person(relationship="vecino", household_ref="H-1")) == {("relationship", "invalid_relationship")}

    def test_relationship_needs_a_household(self):
        assert refused(person(relationship="hija")) == {("relationship", "relationship_without_household")}
        assert refused(person(relationship="hija", household_ref="H-1"), in_household=False) == {
            ("relationship", "relationship_without_household")
        }
        assert accepted(person(relationship="hija"), in_household=True).relationship == "child"


class TestAttributes:
    def test_typed_values(self):
        draft = accepted(
            person(
                monthly_income="250000",
                children_in_school=" 3 ",
                disability="sí",
                pregnant="No",
                vehicle_owned="Sí",
                chronic_condition="no",
                employment_status="informal",
                dwelling_type="rancho",
            )
        )
        assert draft.attributes == {
            "monthly_income": 250000,
            "children_in_school": 3,
            "disability": True,
            "pregnant": False,
            "vehicle_owned": True,
            "chronic_condition": False,
            "employment_status": "informal",
            "dwelling_type": "rancho",
        }

    def test_blank_attributes_are_left_out(self):
        assert accepted(person(monthly_income="", disability="  ", pregnant=None)).attributes == {}

    @pytest.mark.parametrize(
        ("field", "raw", "reason"),
        [
            ("children_in_school", "21", "at most 20"),
            ("children_in_school", "-1", "at least 0"),
            ("monthly_income", "mucho", "whole number"),
            ("monthly_income", "1500.50", "whole number"),
            ("monthly_income", "-5", "at least 0"),
            ("disability", "quizás", "sí/no"),
            ("employment_status", "astronaut", "must be one of"),
            ("dwelling_type", "castle", "must be one of"),
        ],
    )
    def test_bad_values_name_the_attribute(self, field, raw, reason):
        draft, errors = check(person(**{field: raw}))
        assert draft is None
        assert [(e.field, e.code) for e in errors] == [(field, "invalid_attribute_value")]
        assert reason in errors[0].message

    def test_integer_bounds_are_inclusive(self):
        assert accepted(person(children_in_school="0")).attributes == {"children_in_school": 0}
        assert accepted(person(children_in_school="20")).attributes == {"children_in_school": 20}

    def test_columns_outside_the_dictionary_are_not_attributes(self):
        assert accepted(person(shoe_size="42")).attributes == {}


class TestDates:
    def test_day_first_date_is_accepted(self):
        assert accepted(person(date_of_birth="14/03/1985")).date_of_birth == date(1985, 3, 14)

    def test_born_today_is_accepted(self):
        assert accepted(person(date_of_birth=TODAY.isoformat())).date_of_birth == TODAY

    def test_future_birth_date(self):
        assert refused(person(date_of_birth="30/11/2026")) == {("date_of_birth", "date_in_future")}

    def test_impossible_date(self):
        assert refused(person(date_of_birth="31/02/1980")) == {("date_of_birth", "invalid_date")}

    def test_more_than_120_years_ago(self):
        assert refused(person(date_of_birth="1890-01-01")) == {("date_of_birth", "implausible_date")}


class TestValidatePerson:
    def test_valid_row_is_normalised(self):
        draft = accepted(
            person(
                given_names="  María   José ",
                national_id="v 12.345.678",
                phone="+58 414 1234567",
                region_code="distrito capital",
                municipality_code="libertador",
                address_line="Calle  5,   casa 3",
            )
        )
        assert draft.given_names == "María José"
        assert draft.national_id == "V-12345678"
        assert draft.phone == "+584141234567"
        assert (draft.region_code, draft.municipality_code) == ("VE-A", "VE-A-01")
        assert draft.address_line == "Calle 5, casa 3"
        assert draft.date_of_birth == date(1985, 3, 14)
        assert draft.name_key == "perez rodriguez maria jose"

    def test_only_the_required_fields(self):
        draft = accepted(
            {
                "given_names": "Ana",
                "family_names": "Rojas",
                "date_of_birth": "1990-01-01",
                "region_code": "VE-K",
            }
        )
        assert (draft.sex, draft.national_id, draft.phone, draft.municipality_code) == (
            None,
            None,
            None,
            None,
        )

    @pytest.mark.parametrize("name", ["O'Brien", "Ana-María", "Ma. José", "D’Ambrosio", "Ñañez Güiza"])
    def test_names_with_apostrophes_hyphens_and_accents(self, name):
        assert accepted(person(family_names=name)).family_names == name

    @pytest.mark.parametrize(
        ("name", "code"),
        [("R2D2", "invalid_name"), ("Ana_Maria", "invalid_name"), ("a" * 121, "too_long"), ("   ", "required")],
    )
    def test_bad_names(self, name, code):
        assert refused(person(given_names=name)) == {("given_names", code)}

    def test_every_error_names_its_field_and_code(self):
        row = {
            "given_names": "",
            "family_names": "R2D2",
            "date_of_birth": "31/02/1990",
            "sex": "?",
            "national_id": "J-123",
            "phone": "12",
            "region_code": "VE-QQ",
            "address_line": "x" * 201,
            "household_ref": "casa #4",
            "monthly_income": "mucho",
            "disability": "tal vez",
        }
        draft, errors = check(row)
        assert draft is None
        assert {(e.field, e.code) for e in errors} == {
            ("given_names", "required"),
            ("family_names", "invalid_name"),
            ("date_of_birth", "invalid_date"),
            ("sex", "invalid_sex"),
            ("national_id", "invalid_national_id"),
            ("phone", "invalid_phone"),
            ("region_code", "unknown_region"),
            ("address_line", "too_long"),
            ("household_ref", "invalid_household_ref"),
            ("monthly_income", "invalid_attribute_value"),
            ("disability", "invalid_attribute_value"),
        }
        assert all(e.message for e in errors)

    def test_required_fields_missing(self):
        assert refused({}) == {
            ("given_names", "required"),
            ("family_names", "required"),
            ("date_of_birth", "required"),
            ("region_code", "required"),
        }

    def test_non_text_values_are_read_as_text(self):
        # A spreadsheet cell can hold a number or a date.
        draft = accepted(person(monthly_income=250000, children_in_school=2, household_ref=None))
        assert draft.attributes == {"monthly_income": 250000, "children_in_school": 2}


class TestFingerprint:
    def test_stable_under_accents_case_and_spacing(self):
        base = accepted(person()).fingerprint
        variants = [
            person(given_names="maria jose", family_names="perez rodriguez"),
            person(given_names="MARÍA JOSÉ", family_names="PÉREZ RODRÍGUEZ"),
            person(given_names="  María    José ", family_names="Pérez  Rodríguez"),
            person(national_id="v 12.345.678", date_of_birth="14/03/1985"),
        ]
        assert {accepted(row).fingerprint for row in variants} == {base}

    @pytest.mark.parametrize(
        "change",
        [
            {"given_names": "Mario José"},
            {"family_names": "Pérez Rodrigo"},
            {"date_of_birth": "1985-03-15"},
            {"national_id": "V-12345679"},
            {"household_ref": "H-1"},
        ],
    )
    def test_changes_with_an_identifying_field(self, change):
        assert accepted(person(**change)).fingerprint != accepted(person()).fingerprint

    def test_not_changed_by_contact_or_address(self):
        moved = person(phone="0424-7654321", region_code="VE-V", municipality_code=None, address_line="Calle 1")
        assert accepted(moved).fingerprint == accepted(person()).fingerprint


COLUMNS = (*CORE_COLUMNS, *DICTIONARY.attributes)
PLAUSIBLE = {
    "given_names": ["Ana", "María José", "O'Brien", "R2D2"],
    "family_names": ["Rojas", "Pérez Díaz"],
    "date_of_birth": ["1990-01-01", "14/03/1985", "31/02/1980", "2130-01-01"],
    "sex": ["F", "mujer", "?"],
    "national_id": ["V-12345678", "E-81234567", "J-1", "V-0001234"],
    "phone": ["0414-1234567", "+57 300 1234567", "12345"],
    "region_code": ["VE-A", "Zulia", "VE-QQ"],
    "municipality_code": ["VE-A-01", "Libertador", "Maracaibo"],
    "address_line": ["Calle 5", "x" * 250],
    "household_ref": ["H-1", "casa #4"],
    "relationship": ["hija", "jefe", "vecino"],
    "monthly_income": ["0", "250000", "mucho"],
    "disability": ["sí", "no", "quizás"],
    "employment_status": ["informal", "astronaut"],
    "children_in_school": ["3", "25"],
}


def field_value(column: str) -> st.SearchStrategy[str]:
    return st.one_of(st.text(max_size=40), st.sampled_from(PLAUSIBLE.get(column, ["", " "])))


@settings(max_examples=300, deadline=None)
@given(st.fixed_dictionaries({}, optional={column: field_value(column) for column in COLUMNS}))
def test_validate_person_never_raises_and_returns_a_draft_or_errors(row):
    result = check(row)
    assert isinstance(result, tuple) and len(result) == 2
    draft, errors = result
    assert (draft is None) != (errors == [])
    assert {e.field for e in errors} <= set(COLUMNS)
    assert all(e.code and e.message for e in errors)
    if draft is not None:
        assert draft.region_code in REGIONS.states
        assert draft.given_names and draft.family_names and draft.date_of_birth <= TODAY


class TestNationalNumberRules:
    """The compiled Venezuelan rules must agree with phonenumbers itself on every number."""

    @settings(max_examples=3000, deadline=None)
    @given(national=st.from_regex(r"\A[0-9]{10}\Z"))
    def test_agrees_with_phonenumbers(self, national):
        import phonenumbers

        from carnet.registry.validation import VE_RULES

        expected = phonenumbers.is_valid_number(
            phonenumbers.PhoneNumber(country_code=58, national_number=int(national))
        )
        assert VE_RULES.is_valid(national) == (expected and not national.startswith("0"))

    @pytest.mark.parametrize(
        "prefix", ["212", "241", "261", "412", "414", "416", "424", "426", "422", "800", "900", "501"]
    )
    def test_agrees_on_every_prefix_in_use(self, prefix):
        import phonenumbers

        from carnet.registry.validation import VE_RULES

        for tail in ("0000000", "1234567", "9999999"):
            national = prefix + tail
            expected = phonenumbers.is_valid_number(
                phonenumbers.PhoneNumber(country_code=58, national_number=int(national))
            )
            assert VE_RULES.is_valid(national) == expected
