"""The attribute dictionary (pure): parse, check and type the declared extra attributes."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import date
from typing import Any

import yaml

from carnet.kit.errors import FieldError, ProhibitedAttribute, ValidationFailed
from carnet.registry.fields import CORE_COLUMNS, PERSON_FIELDS
from carnet.registry.policy import CATEGORY_LABELS, prohibited_category, prohibited_category_in_text
from carnet.registry.text import fold, parse_date

TYPES = ("integer", "boolean", "enum", "date")
SENSITIVITIES = ("personal", "sensitive")
NAME_PATTERN = re.compile(r"^[a-z][a-z0-9_]{1,63}$")
RETENTION_PATTERN = re.compile(r"^P(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)D)?$")
TRUE_WORDS = frozenset({"true", "1", "yes", "y", "si", "s", "verdadero"})
FALSE_WORDS = frozenset({"false", "0", "no", "n", "falso"})
# Core registry fields are not attributes; a dictionary may not redeclare them.
CORE_FIELDS = frozenset({"id", *CORE_COLUMNS, *PERSON_FIELDS})


@dataclass(frozen=True)
class AttributeSpec:
    """One declared attribute."""

    name: str
    type: str
    sensitivity: str
    purposes: tuple[str, ...]
    retention_days: int
    description: str
    enum_values: tuple[str, ...] | None = None
    minimum: int | None = None
    maximum: int | None = None
    unit: str | None = None

    @property
    def value_column(self) -> str:
        """The typed column of person_attributes that holds this attribute's values."""
        return {"integer": "value_int", "boolean": "value_bool", "enum": "value_text", "date": "value_date"}[self.type]

    def parse(self, raw: Any) -> Any:
        """The typed value of `raw`, or ValueError with a plain reason."""
        if self.type == "integer":
            value = raw if isinstance(raw, int) and not isinstance(raw, bool) else _parse_int(raw)
            if self.minimum is not None and value < self.minimum:
                raise ValueError(f"must be at least {self.minimum}")
            if self.maximum is not None and value > self.maximum:
                raise ValueError(f"must be at most {self.maximum}")
            return value
        if self.type == "boolean":
            if isinstance(raw, bool):
                return raw
            word = fold(str(raw))
            if word in TRUE_WORDS:
                return True
            if word in FALSE_WORDS:
                return False
            raise ValueError("must be true or false (sí/no)")
        if self.type == "enum":
            assert self.enum_values is not None
            # Case and accents do not matter to the person typing; the stored value is the declared one.
            word = fold(str(raw)).replace(" ", "_")
            for value in self.enum_values:
                if fold(value) == word:
                    return value
            raise ValueError("must be one of " + ", ".join(self.enum_values))
        if isinstance(raw, date):
            return raw
        return parse_date(str(raw))


@dataclass(frozen=True)
class AttributeDictionary:
    """A checked dictionary: its version, purposes and attributes by name."""

    version: int
    purposes: dict[str, str]
    attributes: dict[str, AttributeSpec]
    sha256: str
    document: dict[str, Any]

    def get(self, name: str, *, where: str) -> AttributeSpec:
        """The spec of `name`; prohibited and undeclared names are refused with their own codes."""
        spec = self.attributes.get(name)
        if spec is not None:
            return spec
        category = prohibited_category(name)
        if category is not None:
            raise ProhibitedAttribute(name, CATEGORY_LABELS[category], where)
        raise ValidationFailed(
            f"{where}: '{name}' is not a declared attribute",
            [FieldError(field=name, code="undeclared_attribute", message="not in the attribute dictionary")],
            code="undeclared_attribute",
        )


def _parse_int(raw: Any) -> int:
    text = str(raw).strip().replace("_", "")
    if not re.fullmatch(r"-?\d+", text):
        raise ValueError("must be a whole number")
    return int(text)


def retention_days(text: str) -> int:
    """Days in an ISO 8601 period such as P5Y, P18M or P90D (a year is 365 days, a month 30)."""
    match = RETENTION_PATTERN.fullmatch(text or "")
    if not match or not any(match.groups()):
        raise ValueError("retention must be an ISO 8601 period such as P5Y")
    years, months, days = (int(g or 0) for g in match.groups())
    return years * 365 + months * 30 + days


def parse_dictionary(text: str, *, source: str = "attributes.yaml") -> AttributeDictionary:
    """Parse and check a dictionary file; every problem is reported, prohibited names first."""
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ValidationFailed(
            f"{source}: not valid YAML",
            [FieldError(field="(file)", code="invalid_yaml", message=str(exc))],
            code="invalid_dictionary",
        ) from exc
    if not isinstance(document, dict):
        raise ValidationFailed(
            f"{source}: the dictionary must be a mapping",
            [
                FieldError(
                    field="(file)",
                    code="invalid_dictionary",
                    message="expected keys version, purposes, attributes",
                )
            ],
            code="invalid_dictionary",
        )
    return check_dictionary(document, sha256=hashlib.sha256(text.encode()).hexdigest(), source=source)


def check_dictionary(document: dict[str, Any], *, sha256: str, source: str) -> AttributeDictionary:
    """Check a parsed dictionary document; every problem is reported, prohibited names first."""
    _refuse_prohibited(document, source)
    errors: list[FieldError] = []
    version = document.get("version")
    if not isinstance(version, int) or version < 1:
        errors.append(FieldError("version", "invalid_version", "version must be a positive whole number"))
    purposes = document.get("purposes") or {}
    if not isinstance(purposes, dict) or not purposes:
        errors.append(FieldError("purposes", "missing_purposes", "declare at least one purpose"))
        purposes = {}
    unknown_keys = set(document) - {"version", "purposes", "attributes"}
    for key in sorted(unknown_keys):
        errors.append(FieldError(key, "unknown_property", "only version, purposes and attributes are allowed"))
    attributes: dict[str, AttributeSpec] = {}
    for index, entry in enumerate(document.get("attributes") or []):
        spec = _parse_attribute(entry, index, purposes, errors)
        if spec is None:
            continue
        if spec.name in attributes:
            errors.append(
                FieldError(
                    spec.name,
                    "duplicate_attribute",
                    "declared twice",
                    record=f"attributes[{index}] {spec.name}",
                )
            )
        attributes[spec.name] = spec
    if errors:
        raise ValidationFailed(
            f"{source}: the attribute dictionary has {len(errors)} problem(s)",
            errors,
            code="invalid_dictionary",
        )
    return AttributeDictionary(
        version=version,
        purposes={str(k): str(v) for k, v in purposes.items()},
        attributes=attributes,
        sha256=sha256,
        document=document,
    )


ATTRIBUTE_KEYS = frozenset(
    {
        "name",
        "type",
        "sensitivity",
        "purposes",
        "retention",
        "description",
        "values",
        "minimum",
        "maximum",
        "unit",
    }
)


def _parse_attribute(entry: Any, index: int, purposes: dict, errors: list[FieldError]) -> AttributeSpec | None:
    record = f"attributes[{index}]"
    if not isinstance(entry, dict):
        errors.append(FieldError("(entry)", "invalid_attribute", "each attribute is a mapping", record=record))
        return None
    name = str(entry.get("name", ""))
    record = f"attributes[{index}] {name}"
    before = len(errors)
    for key in sorted(set(entry) - ATTRIBUTE_KEYS):
        errors.append(FieldError(key, "unknown_property", f"'{key}' is not an attribute property", record=record))
    if not NAME_PATTERN.match(name):
        errors.append(FieldError("name", "invalid_name", "lower-case letters, digits and _ only", record=record))
    if name in CORE_FIELDS:
        errors.append(FieldError("name", "core_field", "a core registry field, not an attribute", record=record))
    kind = entry.get("type")
    if kind not in TYPES:
        errors.append(FieldError("type", "invalid_type", "type is one of " + ", ".join(TYPES), record=record))
    sensitivity = entry.get("sensitivity")
    if sensitivity not in SENSITIVITIES:
        errors.append(FieldError("sensitivity", "invalid_sensitivity", "personal or sensitive", record=record))
    used_for = entry.get("purposes") or []
    if not isinstance(used_for, list) or not used_for:
        errors.append(FieldError("purposes", "missing_purposes", "name the purposes allowed to use it", record=record))
        used_for = []
    for purpose in used_for:
        if purpose not in purposes:
            errors.append(FieldError("purposes", "undeclared_purpose", f"'{purpose}' is not declared", record=record))
    try:
        days = retention_days(str(entry.get("retention", "")))
    except ValueError as exc:
        errors.append(FieldError("retention", "invalid_retention", str(exc), record=record))
        days = 0
    values = entry.get("values")
    if kind == "enum" and (not isinstance(values, list) or not values):
        errors.append(FieldError("values", "missing_values", "an enum lists its values", record=record))
    if kind != "enum" and values is not None:
        errors.append(FieldError("values", "unexpected_values", "only enums list values", record=record))
    description = str(entry.get("description") or "").strip()
    if not description:
        errors.append(FieldError("description", "missing_description", "say what it means", record=record))
    if len(errors) > before:
        return None
    return AttributeSpec(
        name=name,
        type=kind,
        sensitivity=sensitivity,
        purposes=tuple(used_for),
        retention_days=days,
        description=description,
        enum_values=tuple(str(v) for v in values) if values else None,
        minimum=entry.get("minimum"),
        maximum=entry.get("maximum"),
        unit=entry.get("unit"),
    )


def _refuse_prohibited(document: dict, source: str) -> None:
    """Refuse names, descriptions, purposes and enum values that fall in a prohibited category."""
    for index, entry in enumerate(document.get("attributes") or []):
        if not isinstance(entry, dict):
            continue
        name = str(entry.get("name", ""))
        where = f"{source} attributes[{index}]"
        category = prohibited_category(name)
        if category is not None:
            raise ProhibitedAttribute(name, CATEGORY_LABELS[category], where)
        texts = [str(entry.get("description") or "")] + [str(v) for v in entry.get("values") or []]
        for text in texts:
            category = prohibited_category_in_text(text)
            if category is not None:
                raise ProhibitedAttribute(name, CATEGORY_LABELS[category], f"{where} (in '{text}')")
    for purpose, label in (document.get("purposes") or {}).items():
        category = prohibited_category(str(purpose)) or prohibited_category_in_text(str(label))
        if category is not None:
            raise ProhibitedAttribute(str(purpose), CATEGORY_LABELS[category], f"{source} purposes")
