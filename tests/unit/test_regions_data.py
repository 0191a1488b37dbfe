"""Checks on the shipped list of Venezuelan states and municipalities."""

import csv
from collections import Counter
from pathlib import Path

import pytest

DATA_FILE = Path(__file__).resolve().parents[2] / "src/carnet/registry/data/regions_ve.csv"

HEADER = ["code", "name", "level", "parent_code", "population"]

EXPECTED_MUNICIPALITIES = {
    "VE-A": 1,  # Distrito Capital
    "VE-B": 21,  # Anzoátegui
    "VE-C": 7,  # Apure
    "VE-D": 18,  # Aragua
    "VE-E": 12,  # Barinas
    "VE-F": 11,  # Bolívar
    "VE-G": 14,  # Carabobo
    "VE-H": 9,  # Cojedes
    "VE-I": 25,  # Falcón
    "VE-J": 15,  # Guárico
    "VE-K": 9,  # Lara
    "VE-L": 23,  # Mérida
    "VE-M": 21,  # Miranda
    "VE-N": 13,  # Monagas
    "VE-O": 11,  # Nueva Esparta
    "VE-P": 14,  # Portuguesa
    "VE-R": 15,  # Sucre
    "VE-S": 29,  # Táchira
    "VE-T": 20,  # Trujillo
    "VE-U": 14,  # Yaracuy
    "VE-V": 21,  # Zulia
    "VE-W": 0,  # Dependencias Federales
    "VE-X": 1,  # La Guaira
    "VE-Y": 4,  # Delta Amacuro
    "VE-Z": 7,  # Amazonas
}


@pytest.fixture(scope="module")
def rows():
    with DATA_FILE.open(encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh)
        assert reader.fieldnames == HEADER
        return list(reader)


def _by_level(rows, level):
    return [r for r in rows if r["level"] == level]


def test_only_known_levels(rows):
    assert {r["level"] for r in rows} == {"state", "municipality"}


def test_state_count(rows):
    assert len(_by_level(rows, "state")) == 25


def test_municipality_count(rows):
    assert len(_by_level(rows, "municipality")) == 335


def test_codes_unique(rows):
    codes = [r["code"] for r in rows]
    assert len(codes) == len(set(codes))


def test_states_have_no_parent_and_iso_codes(rows):
    states = _by_level(rows, "state")
    assert {r["code"] for r in states} == set(EXPECTED_MUNICIPALITIES)
    assert all(r["parent_code"] == "" for r in states)


def test_municipality_parents_are_states(rows):
    state_codes = {r["code"] for r in _by_level(rows, "state")}
    for r in _by_level(rows, "municipality"):
        assert r["parent_code"] in state_codes, r
        assert r["code"].startswith(r["parent_code"] + "-"), r


def test_municipality_codes_numbered_per_state(rows):
    seen = {}
    for r in _by_level(rows, "municipality"):
        seen.setdefault(r["parent_code"], []).append(r["code"])
    for parent, codes in seen.items():
        assert codes == [f"{parent}-{i:02d}" for i in range(1, len(codes) + 1)], parent


def test_states_have_positive_population(rows):
    for r in _by_level(rows, "state"):
        assert r["population"].isdigit() and int(r["population"]) > 0, r


def test_municipal_population_is_empty_or_positive_int(rows):
    for r in _by_level(rows, "municipality"):
        assert r["population"] == "" or (r["population"].isdigit() and int(r["population"]) > 0), r


def test_state_populations_sum_to_2011_census_total(rows):
    total = sum(int(r["population"]) for r in _by_level(rows, "state"))
    assert total == 27_227_930


def test_municipality_counts_per_state(rows):
    counts = Counter(r["parent_code"] for r in _by_level(rows, "municipality"))
    for state, expected in EXPECTED_MUNICIPALITIES.items():
        assert counts.get(state, 0) == expected, state


def test_names_non_empty_and_stripped(rows):
    for r in rows:
        assert r["name"], r
        assert r["name"] == r["name"].strip(), r
