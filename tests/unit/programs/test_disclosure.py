"""Which explanation values a reader sees: a hand-written table of cases, never derived from the code."""

from __future__ import annotations

import pytest

from carnet.programs.disclosure import FieldPolicy, Reader, field_visible, shown_values, visible_fields

PERSONAL = FieldPolicy(sensitive=False, purposes=frozenset({"fuel_subsidy", "health_care"}))
SENSITIVE = FieldPolicy(sensitive=True, purposes=frozenset({"health_care"}))
CORE = FieldPolicy(sensitive=False, purposes=None)
OTHER_PURPOSE = FieldPolicy(sensitive=False, purposes=frozenset({"cash_transfer"}))


@pytest.mark.parametrize(
    ("role", "purpose", "region", "field", "expected"),
    [
        # programme officers: personal values where the region covers the person, never sensitive ones
        ("program_officer", "appeal", "VE-A", PERSONAL, True),
        ("program_officer", "appeal", None, PERSONAL, True),
        ("program_officer", "appeal", "VE-B", PERSONAL, False),
        ("program_officer", "appeal", "VE-A", SENSITIVE, False),
        ("program_officer", "appeal", None, SENSITIVE, False),
        ("program_officer", "appeal", "VE-A", CORE, True),
        ("program_officer", "appeal", "VE-B", CORE, False),
        ("program_officer", "appeal", "VE-A", OTHER_PURPOSE, False),
        # registration offices: sensitive values only on appeal, in the person's own region
        ("registrar", "appeal", "VE-A", SENSITIVE, True),
        ("registrar", "registration", "VE-A", SENSITIVE, False),
        ("registrar", "appeal", None, SENSITIVE, False),
        ("registrar", "appeal", "VE-B", SENSITIVE, False),
        ("registrar", "appeal", None, PERSONAL, True),
        ("registrar", "appeal", "VE-A", OTHER_PURPOSE, False),
        # anybody else
        ("auditor", "appeal", "VE-A", SENSITIVE, False),
        ("citizen", "appeal", "VE-A", SENSITIVE, False),
        ("", "appeal", "VE-A", SENSITIVE, False),
    ],
)
def test_the_table(role, purpose, region, field, expected):
    reader = Reader(role=role, purpose=purpose, region_code=region)
    assert field_visible(reader, field=field, programme_purpose="health_care", person_region="VE-A") is expected


@pytest.mark.parametrize("field", [PERSONAL, SENSITIVE, CORE, OTHER_PURPOSE])
def test_the_person_sees_every_own_value(field):
    me = Reader(role="citizen", purpose="data_subject_access", region_code=None, is_the_person=True)
    assert field_visible(me, field=field, programme_purpose="health_care", person_region="VE-A")


def test_visible_fields_and_shown_values():
    reader = Reader(role="program_officer", purpose="appeal", region_code="VE-A")
    fields = {"monthly_income": PERSONAL, "chronic_condition": SENSITIVE, "date_of_birth": CORE}
    visible = visible_fields(reader, fields=fields, programme_purpose="health_care", person_region="VE-A")
    assert visible == {"monthly_income", "date_of_birth"}
    reads = {"age(date_of_birth)": {"date_of_birth"}, "count(members where chronic_condition)": {"chronic_condition"},
             "count(members)": set()}  # fmt: skip
    shown, withheld = shown_values(
        {
            "age(date_of_birth)": 66,
            "count(members where chronic_condition)": 1,
            "count(members)": 3,
            "monthly_income": 5,
            "chronic_condition": True,
        },
        reads=reads,
        visible=visible,
    )
    assert shown == {"age(date_of_birth)": 66, "count(members)": 3, "monthly_income": 5}
    assert withheld == ["chronic_condition", "count(members where chronic_condition)"]
