"""A synthetic Venezuelan population, deterministic for a seed, as rows of the import format.

Faker has no Venezuelan locale; Colombian names (weighted by frequency) and Mexican surnames are close.
"""

from __future__ import annotations

import itertools
import math
import random
from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

from faker.providers.person.es_CO import Provider as ColombianNames
from faker.providers.person.es_MX import Provider as MexicanNames

from carnet.registry.fields import CORE_COLUMNS
from carnet.registry.validation import load_shipped_regions

# The import format: household first (it reads naturally), then the person, then declared attributes.
COLUMNS = (
    "household_ref",
    "relationship",
    *(c for c in CORE_COLUMNS if c not in ("household_ref", "relationship")),
    "monthly_income",
    "employment_status",
    "disability",
    "chronic_condition",
    "pregnant",
    "children_in_school",
    "dwelling_type",
    "vehicle_owned",
)
# Share of households by size, after INE's 2011 census (mean about 3.9 people).
HOUSEHOLD_SIZES = {1: 0.10, 2: 0.15, 3: 0.20, 4: 0.20, 5: 0.14, 6: 0.09, 7: 0.05, 8: 0.04, 9: 0.02, 10: 0.01}
MOBILE_PREFIXES = ("412", "414", "416", "424", "426", "422")
DWELLINGS = {"house": 0.55, "apartment": 0.18, "rancho": 0.17, "room": 0.06, "shelter": 0.01, "other": 0.03}
STREET_KINDS = ("Calle", "Avenida", "Carrera", "Vereda", "Callejón", "Sector", "Barrio", "Urbanización")


class _Weighted:
    """Cumulative weights for fast repeated draws."""

    def __init__(self, items: dict[Any, float]):
        self.values = list(items)
        self.cumulative = list(itertools.accumulate(items.values()))

    def draw(self, rng: random.Random) -> Any:
        return rng.choices(self.values, cum_weights=self.cumulative, k=1)[0]


class PopulationGenerator:
    """Households of people with names, cédulas, phones, addresses and declared attributes."""

    def __init__(self, seed: int, *, today: date, ref_prefix: str | None = None):
        self.rng = random.Random(seed)
        self.today = today
        self.ref_prefix = ref_prefix or f"S{seed}"
        regions = load_shipped_regions()
        states = {r["code"]: r["population"] or 1 for r in regions if r["level"] == "state"}
        self.states = _Weighted(states)
        self.municipalities: dict[str, list[str]] = {}
        for region in regions:
            if region["level"] == "municipality":
                self.municipalities.setdefault(region["parent_code"], []).append(region["code"])
        self.female = _Weighted(dict(ColombianNames.first_names_female))
        self.male = _Weighted(dict(ColombianNames.first_names_male))
        surnames = {name: weight for name, weight in ColombianNames.last_names.items()}
        for name in MexicanNames.last_names:
            surnames.setdefault(name, 0.0005)
        self.surnames = _Weighted(surnames)
        self.sizes = _Weighted(HOUSEHOLD_SIZES)
        self.dwellings = _Weighted(DWELLINGS)
        self.used_ids: set[int] = set()

    def people(self, count: int) -> Iterator[dict[str, Any]]:
        """Exactly `count` people, household by household."""
        produced = 0
        for number in itertools.count(1):
            for person in self._household(number):
                if produced == count:
                    return
                yield person
                produced += 1

    def _household(self, number: int) -> list[dict[str, Any]]:
        rng = self.rng
        size = self.sizes.draw(rng)
        state = self.states.draw(rng)
        municipalities = self.municipalities.get(state)
        municipality = rng.choice(municipalities) if municipalities else ""
        address = f"{rng.choice(STREET_KINDS)} {rng.randint(1, 120)}, casa {rng.randint(1, 400)}"
        dwelling = self.dwellings.draw(rng)
        ref = f"{self.ref_prefix}-{number:08d}"
        head_sex = "F" if rng.random() < 0.45 else "M"
        head_age = int(min(90, max(18, rng.gauss(44, 13))))
        head_surnames = (self.surnames.draw(rng), self.surnames.draw(rng))
        members = [("head", head_sex, head_age, head_surnames)]
        spouse_surnames = (self.surnames.draw(rng), self.surnames.draw(rng))
        if size >= 2 and rng.random() < 0.7:
            spouse_age = int(min(90, max(18, head_age + rng.gauss(-2, 5))))
            members.append(("spouse", "M" if head_sex == "F" else "F", spouse_age, spouse_surnames))
        father, mother = (head_surnames, spouse_surnames) if head_sex == "M" else (spouse_surnames, head_surnames)
        while len(members) < size:
            roll = rng.random()
            if roll < 0.78 and head_age >= 20:
                age = rng.randint(0, max(0, min(head_age - 16, 40)))
                members.append(("child", rng.choice("FM"), age, (father[0], mother[0])))
            elif roll < 0.88 and head_age < 70:
                members.append(
                    (
                        "parent",
                        rng.choice("FM"),
                        min(100, head_age + rng.randint(18, 35)),
                        (self.surnames.draw(rng), head_surnames[0]),
                    )
                )
            elif roll < 0.95 and head_age >= 40:
                members.append(
                    (
                        "grandchild",
                        rng.choice("FM"),
                        rng.randint(0, 12),
                        (self.surnames.draw(rng), self.surnames.draw(rng)),
                    )
                )
            else:
                members.append(
                    (
                        "other_relative",
                        rng.choice("FM"),
                        rng.randint(5, 80),
                        (head_surnames[0], self.surnames.draw(rng)),
                    )
                )
        children_in_school = sum(1 for m in members if m[0] == "child" and 6 <= m[2] <= 17)
        rows = []
        for relationship, sex, age, surnames in members:
            born = self.today - timedelta(days=age * 365 + rng.randint(0, 364))
            adult = age >= 18
            first = (self.female if sex == "F" else self.male).draw(rng)
            if rng.random() < 0.55:
                first = f"{first} {(self.female if sex == 'F' else self.male).draw(rng)}"
            status = self._employment(age)
            rows.append(
                {
                    "household_ref": ref,
                    "relationship": relationship,
                    "given_names": first,
                    "family_names": f"{surnames[0]} {surnames[1]}",
                    "date_of_birth": born.isoformat(),
                    "sex": sex,
                    "national_id": self._cedula(born) if age >= 9 else "",
                    "phone": self._phone() if adult and rng.random() < 0.75 else "",
                    "region_code": state,
                    "municipality_code": municipality,
                    "address_line": address,
                    "monthly_income": self._income(status) if adult else "",
                    "employment_status": status or "",
                    "disability": "true" if rng.random() < 0.05 else "false",
                    "chronic_condition": "true" if age > 40 and rng.random() < 0.2 else "false",
                    "pregnant": "true" if sex == "F" and 16 <= age <= 45 and rng.random() < 0.04 else "",
                    "children_in_school": str(children_in_school) if relationship == "head" else "",
                    "dwelling_type": dwelling,
                    "vehicle_owned": "true" if adult and rng.random() < 0.12 else "false",
                }
            )
        return rows

    def _employment(self, age: int) -> str | None:
        rng = self.rng
        if age < 15:
            return None
        if age < 24 and rng.random() < 0.6:
            return "student"
        if age >= 60 and rng.random() < 0.6:
            return "retired"
        return rng.choices(
            ("employed", "self_employed", "informal", "unemployed", "homemaker", "unable_to_work"),
            weights=(0.32, 0.14, 0.26, 0.12, 0.13, 0.03),
        )[0]

    def _income(self, status: str | None) -> str:
        if status in ("unemployed", "student", "homemaker", None) and self.rng.random() < 0.7:
            return "0"
        # Log-normal: most earn little, a few earn a lot (céntimos of bolívar).
        return str(int(math.exp(self.rng.gauss(math.log(350_000), 0.9))))

    def _cedula(self, born: date) -> str:
        # Numbers grow with the year of issue (first card at about age 9): V-3 million in the 1950s,
        # V-30 million for children born around 2010.
        base = int(max(1_000_000, (born.year - 1940) * 420_000))
        for _ in range(50):
            number = base + self.rng.randint(0, 399_999)
            if number not in self.used_ids:
                self.used_ids.add(number)
                return f"V-{number}"
        return ""

    def _phone(self) -> str:
        return f"0{self.rng.choice(MOBILE_PREFIXES)}-{self.rng.randint(2_000_000, 9_999_999)}"
