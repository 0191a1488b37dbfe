"""Which values of an eligibility explanation a reader may see (pure).

Staff always see whether each clause held. A value is shown only when:

* the attribute's declared purposes cover the programme's purpose (core fields always do), and
* the reader's region covers the person: a region-bound reader sees people of its region only
  (a national reader, with no region, covers every region), and
* the attribute is not sensitive, unless the reader is a registration office taking the person's appeal
  in the person's own region (the person is at the counter; a national office does not qualify).

The person always sees their own values. An aggregate or age is shown only when every field it reads is.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

# The roles that may see a sensitive value, and the purpose they must be acting for.
SENSITIVE_READERS = frozenset({"registrar"})
SENSITIVE_PURPOSE = "appeal"


@dataclass(frozen=True)
class FieldPolicy:
    """What the dictionary says of one field a rule reads."""

    sensitive: bool
    purposes: frozenset[str] | None  # None: a core field, which needs no purpose


@dataclass(frozen=True)
class Reader:
    """Who reads the explanation, for which purpose, from which region."""

    role: str
    purpose: str
    region_code: str | None
    is_the_person: bool = False


def field_visible(reader: Reader, *, field: FieldPolicy, programme_purpose: str, person_region: str) -> bool:
    """Whether `reader` may see the value of one field in the explanation of a person of `person_region`."""
    if reader.is_the_person:
        return True
    if field.purposes is not None and programme_purpose not in field.purposes:
        return False
    if reader.region_code is not None and reader.region_code != person_region:
        return False
    if not field.sensitive:
        return True
    return (
        reader.role in SENSITIVE_READERS
        and reader.purpose == SENSITIVE_PURPOSE
        and reader.region_code is not None
        and reader.region_code == person_region
    )


def visible_fields(
    reader: Reader, *, fields: Mapping[str, FieldPolicy], programme_purpose: str, person_region: str
) -> frozenset[str]:
    """The fields among `fields` whose values `reader` may see."""
    return frozenset(
        name
        for name, policy in fields.items()
        if field_visible(reader, field=policy, programme_purpose=programme_purpose, person_region=person_region)
    )


def shown_values(
    values: Mapping[str, object], *, reads: Mapping[str, Iterable[str]], visible: frozenset[str]
) -> tuple[dict[str, object], list[str]]:
    """(the values shown, the names withheld) of one clause; `reads` maps a value's name to the fields it reads."""
    shown: dict[str, object] = {}
    withheld: list[str] = []
    for name, value in values.items():
        if set(reads.get(name, (name,))) <= visible:
            shown[name] = value
        else:
            withheld.append(name)
    return shown, sorted(withheld)
