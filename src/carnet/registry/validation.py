"""Checking and normalising one person's fields (pure: `today` and the region index are passed in)."""

from __future__ import annotations

import csv
import hashlib
import re
from dataclasses import dataclass, field
from datetime import date
from importlib import resources
from typing import Any

import phonenumbers

from carnet.kit.errors import FieldError
from carnet.registry.dictionary import AttributeDictionary
from carnet.registry.text import SPACES, fold, parse_date

# ASCII digits only, and leading zeros never count: V-0001234 is not a valid five-digit cédula.
NATIONAL_ID_PATTERN = re.compile(r"^([VE])-?0*([1-9]\d{4,8})$", re.ASCII)
NAME_PATTERN = re.compile(r"^[^\W\d_]+(?:[ '’.\-][^\W\d_]*)*$")
HOUSEHOLD_REF_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-/]{0,63}$")
# A Venezuelan number written nationally: trunk 0, then 10 digits with optional separators.
VE_NATIONAL_PHONE = re.compile(r"^0((?:\d[ .\-]?){9}\d)$")
PHONE_SEPARATORS = re.compile(r"[ .\-]")

SEX_WORDS = {
    "f": "F",
    "female": "F",
    "femenino": "F",
    "mujer": "F",
    "m": "M",
    "male": "M",
    "masculino": "M",
    "hombre": "M",
    "x": "X",
    "other": "X",
    "otro": "X",
}
RELATIONSHIP_WORDS = {
    "head": "head",
    "jefe": "head",
    "jefa": "head",
    "jefe_de_hogar": "head",
    "jefa_de_hogar": "head",
    "spouse": "spouse",
    "conyuge": "spouse",
    "esposo": "spouse",
    "esposa": "spouse",
    "pareja": "spouse",
    "concubino": "spouse",
    "concubina": "spouse",
    "child": "child",
    "hijo": "child",
    "hija": "child",
    "parent": "parent",
    "padre": "parent",
    "madre": "parent",
    "sibling": "sibling",
    "hermano": "sibling",
    "hermana": "sibling",
    "grandchild": "grandchild",
    "nieto": "grandchild",
    "nieta": "grandchild",
    "grandparent": "grandparent",
    "abuelo": "grandparent",
    "abuela": "grandparent",
    "other_relative": "other_relative",
    "otro_pariente": "other_relative",
    "pariente": "other_relative",
    "non_relative": "non_relative",
    "no_pariente": "non_relative",
}


@dataclass(frozen=True)
class RegionIndex:
    """States and municipalities by code and by folded name."""

    states: dict[str, str]
    municipalities: dict[str, str]  # municipality code -> state code
    state_names: dict[str, str]
    municipality_names: dict[tuple[str, str], str]  # (state code, folded name) -> code

    @classmethod
    def from_rows(cls, rows: list[dict[str, Any]]) -> RegionIndex:
        """An index over region rows (code, name, level, parent_code)."""
        states, municipalities, state_names, municipality_names = {}, {}, {}, {}
        for row in rows:
            if row["level"] == "state":
                states[row["code"]] = row["name"]
                state_names[fold(row["name"])] = row["code"]
            else:
                municipalities[row["code"]] = row["parent_code"]
                municipality_names[(row["parent_code"], fold(row["name"]))] = row["code"]
        return cls(states, municipalities, state_names, municipality_names)

    @classmethod
    def shipped(cls) -> RegionIndex:
        """The index over the shipped list of Venezuelan states and municipalities."""
        return cls.from_rows(load_shipped_regions())

    def state(self, raw: str) -> str | None:
        """The state code for a code or a name."""
        code = raw.strip().upper()
        if code in self.states:
            return code
        return self.state_names.get(fold(raw))

    def municipality(self, raw: str, state_code: str) -> str | None:
        """The municipality code for a code or a name, within `state_code`."""
        code = raw.strip().upper()
        if self.municipalities.get(code) == state_code:
            return code
        return self.municipality_names.get((state_code, fold(raw)))


def load_shipped_regions() -> list[dict[str, Any]]:
    """The shipped Venezuelan states and municipalities as rows."""
    text = resources.files("carnet.registry").joinpath("data/regions_ve.csv").read_text(encoding="utf-8")
    rows = []
    for row in csv.DictReader(text.splitlines()):
        rows.append(
            {
                "code": row["code"],
                "name": row["name"],
                "level": row["level"],
                "parent_code": row["parent_code"] or None,
                "population": int(row["population"]) if row["population"] else None,
            }
        )
    return rows


@dataclass
class PersonDraft:
    """A person's fields after checking, ready to be written."""

    given_names: str
    family_names: str
    date_of_birth: date
    region_code: str
    sex: str | None = None
    national_id: str | None = None
    phone: str | None = None
    municipality_code: str | None = None
    address_line: str | None = None
    household_ref: str | None = None
    relationship: str | None = None
    attributes: dict[str, Any] = field(default_factory=dict)

    @property
    def name_key(self) -> str:
        """The search key: folded family names, then given names."""
        return f"{fold(self.family_names)} {fold(self.given_names)}"

    @property
    def fingerprint(self) -> str:
        """SHA-256 of the identifying fields, first 128 bits; fixed at creation, it makes re-imports no-ops."""
        key = "\x1f".join(
            (
                fold(self.given_names),
                fold(self.family_names),
                self.date_of_birth.isoformat(),
                self.national_id or "",
                self.household_ref or "",
            )
        )
        # 128 bits leave a collision among 31 million people at odds of about 1 in 10^23, and keep the
        # unique index on this random key half the size (it is the costliest index of a bulk import).
        return hashlib.sha256(key.encode()).hexdigest()[:32]


def normalize_national_id(raw: str) -> str:
    """`V-12345678` from `v 12.345.678` and friends, or ValueError."""
    compact = re.sub(r"[\s.]", "", raw).upper()
    match = NATIONAL_ID_PATTERN.match(compact)
    if not match:
        raise ValueError("a cédula is V- or E- followed by 5 to 9 digits, e.g. V-12345678")
    letter, digits = match.groups()
    if letter == "V" and len(digits) > 8:
        raise ValueError("a V- cédula has at most 8 digits")
    return f"{letter}-{digits}"


class NationalNumberRules:
    """The library's validity rules for one region's national numbers, with the patterns compiled once.

    phonenumbers.is_valid_number compiles (through re's cache) and walks these on every call; for the
    common case of a Venezuelan number written nationally, the same rules run here ten times faster.
    A property test checks this agrees with phonenumbers.is_valid_number.
    """

    TYPES = (
        "fixed_line",
        "mobile",
        "toll_free",
        "premium_rate",
        "shared_cost",
        "personal_number",
        "voip",
        "pager",
        "uan",
        "voicemail",
    )

    def __init__(self, region: str):
        metadata = phonenumbers.PhoneMetadata.metadata_for_region(region)
        self.country_code = metadata.country_code

        def rule(desc):  # type: ignore[no-untyped-def]
            if desc is None or desc.national_number_pattern is None:
                return None
            return re.compile(desc.national_number_pattern), frozenset(desc.possible_length or ())

        self.general = rule(metadata.general_desc)
        self.types = [r for r in (rule(getattr(metadata, name)) for name in self.TYPES) if r is not None]

    def is_valid(self, national: str) -> bool:
        """Whether the national significant number is valid in the region (any known number type)."""
        assert self.general is not None
        if not self.general[0].fullmatch(national):
            return False
        return any(
            pattern.fullmatch(national) and (not lengths or len(national) in lengths) for pattern, lengths in self.types
        )


VE_RULES = NationalNumberRules("VE")


def normalize_phone(raw: str, default_region: str = "VE") -> str:
    """The E.164 form of a phone number (Venezuelan unless it says otherwise), or ValueError."""
    match = VE_NATIONAL_PHONE.match(raw)
    if match is not None and default_region == "VE":
        # The common written form 0414-1234567: the library's rules without its general parser.
        national = PHONE_SEPARATORS.sub("", match[1])
        if not VE_RULES.is_valid(national):
            raise ValueError("not a valid phone number for its country")
        return f"+{VE_RULES.country_code}{national}"
    try:
        number = phonenumbers.parse(raw, default_region)
    except phonenumbers.NumberParseException as exc:
        raise ValueError("not a phone number") from exc
    if not phonenumbers.is_valid_number(number):
        raise ValueError("not a valid phone number for its country")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _name(raw: str, column: str, errors: list[FieldError]) -> str:
    text = SPACES.sub(" ", raw).strip()
    if not text:
        errors.append(FieldError(column, "required", "is required"))
    elif len(text) > 120:
        errors.append(FieldError(column, "too_long", "at most 120 characters"))
    elif not NAME_PATTERN.match(text):
        errors.append(FieldError(column, "invalid_name", "letters, spaces, apostrophes and hyphens only"))
    return text


def validate_person(
    raw: dict[str, Any],
    *,
    regions: RegionIndex,
    dictionary: AttributeDictionary,
    today: date,
    in_household: bool | None = None,
) -> tuple[PersonDraft | None, list[FieldError]]:
    """Check one person's fields: the normalised draft, or every problem found (never both)."""
    errors: list[FieldError] = []
    values = {key: str(value).strip() for key, value in raw.items() if value is not None}

    def text(column: str) -> str:
        return values.get(column, "")

    given = _name(text("given_names"), "given_names", errors)
    family = _name(text("family_names"), "family_names", errors)

    born: date | None = None
    dob = text("date_of_birth")
    if not dob:
        errors.append(FieldError("date_of_birth", "required", "is required"))
    else:
        try:
            born = parse_date(dob)
        except ValueError:
            errors.append(FieldError("date_of_birth", "invalid_date", f"'{dob}' is not a date (YYYY-MM-DD)"))
        else:
            if born > today:
                errors.append(FieldError("date_of_birth", "date_in_future", "is in the future"))
            elif born.year < today.year - 120:
                errors.append(FieldError("date_of_birth", "implausible_date", "more than 120 years ago"))

    sex = None
    if text("sex"):
        sex = SEX_WORDS.get(fold(text("sex")))
        if sex is None:
            errors.append(FieldError("sex", "invalid_sex", "F, M or X"))

    national_id = None
    if text("national_id"):
        try:
            national_id = normalize_national_id(text("national_id"))
        except ValueError as exc:
            errors.append(FieldError("national_id", "invalid_national_id", str(exc)))

    phone = None
    if text("phone"):
        try:
            phone = normalize_phone(text("phone"))
        except ValueError as exc:
            errors.append(FieldError("phone", "invalid_phone", str(exc)))

    region = None
    if not text("region_code"):
        errors.append(FieldError("region_code", "required", "is required"))
    else:
        region = regions.state(text("region_code"))
        if region is None:
            errors.append(FieldError("region_code", "unknown_region", f"'{text('region_code')}' is not a state"))
    municipality = None
    if text("municipality_code") and region is not None:
        municipality = regions.municipality(text("municipality_code"), region)
        if municipality is None:
            errors.append(
                FieldError(
                    "municipality_code",
                    "unknown_municipality",
                    f"'{text('municipality_code')}' is not a municipality of {region}",
                )
            )

    address = SPACES.sub(" ", text("address_line")) or None
    if address and len(address) > 200:
        errors.append(FieldError("address_line", "too_long", "at most 200 characters"))

    household_ref = text("household_ref") or None
    if household_ref and not HOUSEHOLD_REF_PATTERN.match(household_ref):
        errors.append(FieldError("household_ref", "invalid_household_ref", "letters, digits, - _ . / only; 64 at most"))

    relationship = None
    if text("relationship"):
        relationship = RELATIONSHIP_WORDS.get(fold(text("relationship")).replace(" ", "_"))
        if relationship is None:
            errors.append(FieldError("relationship", "invalid_relationship", "head, spouse, child, parent, ..."))
        elif not (household_ref is not None if in_household is None else in_household):
            errors.append(FieldError("relationship", "relationship_without_household", "needs a household_ref"))

    attributes: dict[str, Any] = {}
    for name, spec in dictionary.attributes.items():
        value = raw.get(name)
        if value is None or (isinstance(value, str) and not value.strip()):
            continue
        try:
            attributes[name] = spec.parse(value)
        except ValueError as exc:
            errors.append(FieldError(name, "invalid_attribute_value", str(exc)))

    if errors:
        return None, errors
    assert born is not None and region is not None
    return (
        PersonDraft(
            given_names=given,
            family_names=family,
            date_of_birth=born,
            region_code=region,
            sex=sex,
            national_id=national_id,
            phone=phone,
            municipality_code=municipality,
            address_line=address,
            household_ref=household_ref,
            relationship=relationship,
            attributes=attributes,
        ),
        [],
    )
