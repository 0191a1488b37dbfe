"""`carnet programs`, end to end on a fresh store: apply, list, preview, run, four-eyes approval, explain."""

from __future__ import annotations

import json
import sqlite3
import uuid

from carnet.config import get_settings
from tests.e2e.test_cli import carnet, store  # noqa: F401  (the fixture)


def test_a_cycle_from_definition_to_explanation(store, tmp_path, monkeypatch):  # noqa: F811
    monkeypatch.setenv("CARNET_KEY_PASSPHRASE", "una frase de paso larga")
    get_settings.cache_clear()
    carnet("seed", "--people", "200", "--seed", "8")
    for name in ("ana", "luis"):
        carnet("users", "add", name, "--role", "program_officer", "--office", "Ministerio")
    carnet("users", "add", "rita", "--role", "registrar")
    applied = [json.loads(line) for line in carnet("programs", "apply", "--examples").output.splitlines()]
    assert [a["code"] for a in applied] == ["cash_transfer", "food_box", "fuel_subsidy", "health_kit"]
    assert "food_box" in carnet("programs", "list").output

    preview = json.loads(carnet("programs", "preview", "food_box", "--cycle", "2026-12", "--json").output)
    assert preview["status"] == "preview" and preview["units_evaluated"] > 0
    shown = carnet("programs", "preview", "food_box", "--cycle", "2026-12").output
    assert "By rule clause" in shown and "Eligible by region" in shown

    run = json.loads(carnet("programs", "run", "food_box", "--cycle", "2026-12", "--officer", "ana", "--json").output)
    same = carnet("programs", "approve", run["run"], "--officer", "ana", ok=False)
    assert same.exit_code == 2 and "same_officer" in same.output
    wrong = carnet("programs", "approve", run["run"], "--officer", "rita", ok=False)
    assert "wrong_role" in wrong.output
    assert json.loads(carnet("programs", "approve", run["run"], "--officer", "luis").output)["status"] == "published"
    again = carnet("programs", "run", "food_box", "--cycle", "2026-12", ok=False)
    assert again.exit_code == 2 and "cycle_already_published" in again.output

    with sqlite3.connect(store / "carnet.db") as conn:
        (person,) = conn.execute("SELECT id FROM persons WHERE household_id IS NOT NULL LIMIT 1").fetchone()
    explained = json.loads(carnet("programs", "explain", "food_box", person, "--json").output)
    assert explained["run"]["id"] == run["run"] and len(explained["clauses"]) == 3
    assert "rule version 1" in carnet("programs", "explain", "food_box", person).output
    assert "included in an eligibility run" in carnet("audit", "log", "--person", person).output

    exported = tmp_path / "entitlements.csv"
    assert "entitlements written to" in carnet("programs", "entitlements", run["run"], "--csv", exported).output
    assert exported.stat().st_mode & 0o077 == 0 and not (tmp_path / "entitlements.csv.partial").exists()
    text_out = exported.read_text("utf-8")
    header, *lines = text_out.splitlines()
    assert header == "pseudonym,unit,region_code,quantity,value,currency,program,cycle,run" and lines
    with sqlite3.connect(store / "carnet.db") as conn:
        registry_ids = [row[0] for row in conn.execute("SELECT id FROM persons UNION SELECT id FROM households")]
    assert not any(hex_id in text_out or str(uuid.UUID(hex_id)) in text_out for hex_id in registry_ids)
    assert all(line.startswith("HS1-") for line in lines)
    assert carnet("programs", "entitlements", run["run"]).output.splitlines()[0] == header

    bad = tmp_path / "bad.yaml"
    bad.write_text("code: bad_rule\ntitle: x\npurpose: food_assistance\nunit: person\n"
                   "benefit: {kind: cash, amount: 100, currency: VES}\nquantity: {amount: 1}\nstart: 2026-01-01\n"
                   "rule: |\n  monthly_income < 10\n  and religion == \"x\"\n")  # fmt: skip
    refused = carnet("programs", "apply", bad, ok=False)
    assert refused.exit_code == 2 and "undeclared_attribute" in refused.output and "line 2" in refused.output
