"""What a rule may read: declared attributes as the checker sees them, and the core fields of every person."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from carnet.registry.fields import RELATIONSHIPS, SEXES

TYPES = ("integer", "boolean", "enum", "date", "text")
# A household rule reads these of the household itself; everything else of its members goes through an aggregate.
HOUSEHOLD_FIELDS = frozenset({"region_code", "municipality_code"})


@dataclass(frozen=True)
class AttributeInfo:
    """One name a rule may read: its type, its enum values and the purposes allowed to use it."""

    name: str
    type: str  # integer | boolean | enum | date | text
    values: tuple[str, ...] | None = None
    purposes: frozenset[str] = frozenset()

    @classmethod
    def from_spec(cls, spec: Any) -> AttributeInfo:
        """The checker's view of a declared attribute (anything with name, type, enum_values and purposes)."""
        values = tuple(spec.enum_values) if spec.enum_values else None
        return cls(name=spec.name, type=spec.type, values=values, purposes=frozenset(spec.purposes))


def core_fields() -> dict[str, AttributeInfo]:
    """The registry fields every programme may read, whatever its purpose.

    They are what any social-protection rule needs to say who it is for: the date of birth (ages of children
    and elders), sex (maternal programmes), the region and municipality (geographic targeting, also of a
    household) and the relationship to the household head. They are collected for the registry itself, so
    reading them reveals nothing the registry's purpose does not already cover; anything else must be a
    declared attribute whose purposes name the programme's.
    """
    return {
        "date_of_birth": AttributeInfo("date_of_birth", "date"),
        "sex": AttributeInfo("sex", "enum", SEXES),
        "region_code": AttributeInfo("region_code", "text"),
        "municipality_code": AttributeInfo("municipality_code", "text"),
        "relationship": AttributeInfo("relationship", "enum", RELATIONSHIPS),
    }
