"""The shipped attribute dictionary as the rule checker sees it, and a shorthand for checking."""

from __future__ import annotations

from pathlib import Path

from carnet.programs.rules import AttributeInfo, CheckedRule, check_rule
from carnet.registry.dictionary import parse_dictionary

SHIPPED = Path(__file__).resolve().parents[3] / "src/carnet/registry/data/attributes.yaml"
DICTIONARY = parse_dictionary(SHIPPED.read_text("utf-8"), source=str(SHIPPED))
ATTRIBUTES = {name: AttributeInfo.from_spec(spec) for name, spec in DICTIONARY.attributes.items()}

FOOD_BOX = (
    "sum(members.monthly_income) < 60000000 or count(members where age(date_of_birth) < 5) > 0 "
    "or count(members where age(date_of_birth) > 65) > 0"
)
FUEL = "vehicle_owned and monthly_income < 30000000"
CASH = "sum(members.monthly_income) / count(members) < 15000000"
HEALTH = "chronic_condition or disability"


def checked(text: str, *, unit: str = "person", purpose: str = "cash_transfer") -> CheckedRule:
    """The rule checked against the shipped dictionary (cash transfers may read most attributes)."""
    return check_rule(text, unit=unit, purpose=purpose, attributes=ATTRIBUTES)
