"""A programme's definition as written in its YAML file: checked field by field (pure)."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from datetime import date
from typing import Any

import yaml

from carnet.kit.errors import FieldError, ValidationFailed

CODE = re.compile(r"^[a-z][a-z0-9_]{2,47}$")
CURRENCY = re.compile(r"^[A-Z]{3}$")
STATUSES = ("draft", "active", "closed")
UNITS = ("household", "person")
KEYS = {"code", "title", "purpose", "unit", "benefit", "quantity", "cycle", "regions", "start", "end", "budget",
        "status", "rule", "max_share"}  # fmt: skip


@dataclass(frozen=True)
class Benefit:
    """What one unit of the benefit is: goods (with their unit and cost) or cash, in minor units."""

    kind: str  # in_kind | cash
    unit_value: int  # minor units of `currency` per unit of quantity
    currency: str
    item: str | None = None  # in kind: "food box", "litre of fuel"
    unit: str | None = None  # in kind: "box", "litre"


@dataclass(frozen=True)
class ProgramDefinition:
    """Everything that decides who gets what: the rule, the benefit, the quantity, where, when, the budget."""

    code: str
    title: str
    purpose: str
    unit: str
    benefit: Benefit
    quantity_per: str  # household | member
    quantity: int
    quantity_cap: int | None
    cycle: str
    regions: tuple[str, ...] | None
    start: date
    end: date | None
    budget: int | None  # per cycle, minor units of the benefit's currency
    status: str
    rule: str
    max_share: float

    def as_document(self) -> dict[str, Any]:
        """The definition as JSON-ready data (what a programme version stores)."""
        out = asdict(self)
        out["start"] = self.start.isoformat()
        out["end"] = self.end.isoformat() if self.end else None
        out["regions"] = list(self.regions) if self.regions else None
        return out

    @classmethod
    def from_document(cls, data: dict[str, Any]) -> ProgramDefinition:
        """The definition a programme version stored."""
        values = dict(data)
        values["benefit"] = Benefit(**values["benefit"])
        values["start"] = date.fromisoformat(values["start"])
        values["end"] = date.fromisoformat(values["end"]) if values["end"] else None
        values["regions"] = tuple(values["regions"]) if values["regions"] else None
        return cls(**values)

    def quantity_for(self, members: int) -> int:
        """How many units a household of `members` (or a person) receives."""
        amount = self.quantity * (members if self.quantity_per == "member" else 1)
        return min(amount, self.quantity_cap) if self.quantity_cap is not None else amount


def parse_definition(text: str, *, source: str) -> ProgramDefinition:
    """A programme from its YAML text; ValidationFailed naming each bad field (the rule is checked elsewhere)."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else source
        raise ValidationFailed(f"{source}: not YAML", [FieldError("file", "invalid_yaml", str(exc), record=where)]) \
            from None  # fmt: skip
    if not isinstance(data, dict):
        raise ValidationFailed(f"{source}: not a programme",
                               [FieldError("file", "invalid_program", "a programme file is a mapping")])  # fmt: skip
    return check_definition(data, source=source)


def check_definition(data: dict[str, Any], *, source: str) -> ProgramDefinition:
    """A programme from parsed data; ValidationFailed naming every bad field at once."""
    errors: list[FieldError] = []

    def bad(field: str, code: str, message: str) -> None:
        errors.append(FieldError(field, code, message, record=source))

    for key in sorted(set(data) - KEYS):
        bad(key, "unknown_property", f"'{key}' is not a programme property")
    code = data.get("code")
    if not isinstance(code, str) or not CODE.match(code):
        bad("code", "invalid_code", "3-48 of a-z 0-9 _, starting with a letter")
    title = data.get("title")
    if not isinstance(title, str) or not 0 < len(title) <= 120:
        bad("title", "required", "a title of 1 to 120 characters")
    purpose = data.get("purpose")
    if not isinstance(purpose, str) or not purpose:
        bad("purpose", "required", "the purpose code of the dictionary this programme serves")
    unit = data.get("unit")
    if unit not in UNITS:
        bad("unit", "invalid_unit", "household or person")
    benefit = _benefit(data.get("benefit"), bad)
    quantity = data.get("quantity")
    per, amount, cap = "household", 1, None
    if not isinstance(quantity, dict):
        bad("quantity", "required", "quantity: {per: household|member, amount: N, cap: M}")
    else:
        per, amount, cap = quantity.get("per", "household"), quantity.get("amount", 1), quantity.get("cap")
        if per not in ("household", "member"):
            bad("quantity.per", "invalid_quantity", "household or member")
        elif per == "member" and unit != "household":
            bad("quantity.per", "invalid_quantity", "per member only applies to household programmes")
        if not _whole(amount) or amount < 1:
            bad("quantity.amount", "invalid_quantity", "a whole number of at least 1")
        if cap is not None and (not _whole(cap) or cap < 1):
            bad("quantity.cap", "invalid_quantity", "a whole number of at least 1")
    if data.get("cycle", "monthly") != "monthly":
        bad("cycle", "invalid_cycle", "only monthly cycles are supported")
    regions = data.get("regions")
    if regions in (None, "all", ["all"]):
        regions = None
    elif not isinstance(regions, list) or not all(isinstance(r, str) and r for r in regions):
        bad("regions", "invalid_regions", "a list of state or municipality codes, or all")
    start, end = _date(data.get("start"), "start", bad, required=True), _date(data.get("end"), "end", bad)
    if start and end and end < start:
        bad("end", "invalid_dates", "the end comes before the start")
    budget = data.get("budget")
    if budget is not None and (not _whole(budget) or budget < 0):
        bad("budget", "invalid_budget", "the budget per cycle in minor units of the benefit's currency")
    status = data.get("status", "draft")
    if status not in STATUSES:
        bad("status", "invalid_status", "draft, active or closed")
    rule = data.get("rule")
    if not isinstance(rule, str) or not rule.strip():
        bad("rule", "required", "the eligibility rule")
    max_share = data.get("max_share", 0.5)
    if isinstance(max_share, bool) or not isinstance(max_share, int | float) or not 0 < max_share <= 1:
        bad("max_share", "invalid_share", "the share of the population above which a preview warns, 0 to 1")
    if errors or benefit is None:
        raise ValidationFailed(f"{source}: the programme has {len(errors)} problem(s)", errors)
    return ProgramDefinition(
        code=code, title=title, purpose=purpose, unit=unit, benefit=benefit, quantity_per=per, quantity=amount,
        quantity_cap=cap, cycle="monthly", regions=tuple(regions) if regions else None, start=start, end=end,
        budget=budget, status=status, rule=rule.strip(), max_share=float(max_share),
    )  # fmt: skip


def _benefit(value: Any, bad) -> Benefit | None:  # type: ignore[no-untyped-def]
    if not isinstance(value, dict):
        bad("benefit", "required", "benefit: {kind: in_kind, item, unit, unit_cost, currency} or {kind: cash, ...}")
        return None
    kind, currency = value.get("kind"), value.get("currency")
    if not isinstance(currency, str) or not CURRENCY.match(currency):
        bad("benefit.currency", "invalid_currency", "an ISO 4217 code such as VES or USD")
    if kind == "cash":
        amount = value.get("amount")
        if not _whole(amount) or amount < 1:
            bad("benefit.amount", "invalid_amount", "the cash amount per unit in minor units: a whole number")
            return None
        return Benefit(kind="cash", unit_value=amount, currency=currency)
    if kind == "in_kind":
        item, unit, cost = value.get("item"), value.get("unit"), value.get("unit_cost")
        if not isinstance(item, str) or not item or not isinstance(unit, str) or not unit:
            bad("benefit.item", "required", "what is given (item) and its unit (box, litre, kit)")
        if not _whole(cost) or cost < 0:
            bad("benefit.unit_cost", "invalid_amount", "the cost of one unit in minor units: a whole number")
            return None
        return Benefit(kind="in_kind", unit_value=cost, currency=currency, item=item, unit=unit)
    bad("benefit.kind", "invalid_benefit", "in_kind or cash")
    return None


def _whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _date(value: Any, field: str, bad, required: bool = False) -> date | None:  # type: ignore[no-untyped-def]
    if value is None:
        if required:
            bad(field, "required", "a date, YYYY-MM-DD")
        return None
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        bad(field, "invalid_date", "a date, YYYY-MM-DD")
        return None


def parse_cycle(text: str) -> tuple[date, date]:
    """The first and last day of a monthly cycle written YYYY-MM; ValidationFailed otherwise."""
    match = re.fullmatch(r"(\d{4})-(\d{2})", text or "")
    if match and 1 <= int(match.group(2)) <= 12:
        year, month = int(match.group(1)), int(match.group(2))
        first = date(year, month, 1)
        following = date(year + month // 12, month % 12 + 1, 1)
        return first, date.fromordinal(following.toordinal() - 1)
    raise ValidationFailed(f"{text!r} is not a cycle", [FieldError("cycle", "invalid_cycle", "a month, YYYY-MM")])
