"""`carnet distribution` and `carnet point`, end to end: a server on a local port, a tablet with its own store."""

from __future__ import annotations

import csv
import json
import sqlite3
import uuid

import pytest

from carnet.cli.demo_distribution import LocalServer
from carnet.config import get_settings
from tests.e2e.test_cli import carnet, store  # noqa: F401  (the fixture)
from tests.secrets_plugin import known_secrets

PASSPHRASE = "una frase de paso larga del servidor"
TABLET = "la frase de paso de la tableta del depósito"
known_secrets.add(PASSPHRASE)
known_secrets.add(TABLET)


@pytest.fixture()
def ministry(store, tmp_path, monkeypatch):  # noqa: F811
    """A store with people, cards (PINs in a file), the food box published for 2026-12, and one depot."""
    monkeypatch.setenv("CARNET_KEY_PASSPHRASE", PASSPHRASE)
    monkeypatch.setenv("CARNET_PIN_HASH_MEMORY_KIB", "64")
    get_settings.cache_clear()
    carnet("seed", "--people", "300", "--seed", "5")
    pins = tmp_path / "pins.csv"
    carnet("cards", "issue", "--all", "--mailers", pins)
    for name in ("ana", "luis"):
        carnet("users", "add", name, "--role", "program_officer", "--office", "Ministerio")
    carnet("users", "add", "agente", "--role", "agent")
    carnet("programs", "apply", "--examples")
    with sqlite3.connect(store / "carnet.db") as conn:
        (municipality,) = conn.execute("SELECT municipality_code FROM households GROUP BY municipality_code "
                                       "ORDER BY count(*) DESC, municipality_code LIMIT 1").fetchone()  # fmt: skip
    added = json.loads(carnet("distribution", "points", "add", "depot-1", "--name", "Depósito 1", "--municipality",
                              municipality, "--programme", "food_box:1", "--operator", "agente").output)  # fmt: skip
    assert added["catchment"] == [municipality] and added["operators"] == ["agente"]
    run = json.loads(carnet("programs", "run", "food_box", "--cycle", "2026-12", "--officer", "ana", "--json").output)
    carnet("programs", "approve", run["run"], "--officer", "luis")  # publishing places the escrow
    with pins.open() as handle:
        known = {
            row["card_number"].replace("-", "").replace(" ", "").lower(): row["pin"] for row in csv.DictReader(handle)
        }
    with sqlite3.connect(store / "carnet.db") as conn:
        rows = conn.execute(
            "SELECT c.id, c.credential FROM escrow x JOIN entitlements e ON e.id = x.entitlement_id "
            "JOIN persons p ON p.household_id = e.unit_id JOIN cards c ON c.person_id = p.id AND c.status = 'active' "
            "ORDER BY c.id"
        ).fetchall()
    assert rows, "the depot holds entitlements"
    for pin in known.values():
        known_secrets.add_pin(pin)
    return [(uuid.UUID(card_id), credential, known[uuid.UUID(card_id).hex]) for card_id, credential in rows]


def test_enrol_pull_redeem_sync_report_suspend(ministry, store, tmp_path, monkeypatch):  # noqa: F811
    server = LocalServer(get_settings())
    try:
        code_line = carnet("distribution", "devices", "code", "depot-1").output
        code = code_line.split(": ")[1].split(" ")[0]
        tablet = tmp_path / "tablet"
        monkeypatch.setenv("CARNET_POINT_PASSPHRASE", TABLET)
        get_settings.cache_clear()
        assert "Enrolled at Depósito 1" in carnet("point", "enroll", server.url, code, "--data-dir", tablet).output
        reused = carnet("point", "enroll", server.url, code, "--data-dir", tmp_path / "other", ok=False)
        assert reused.exit_code == 2 and "enrolment_code_invalid" in reused.output
        assert "Manifest v1 received" in carnet("point", "pull", "--cycle", "2026-12", "--data-dir", tablet).output
        _card, credential, pin = ministry[0]
        done = json.loads(carnet("point", "redeem", credential, "--pin", pin, "--data-dir", tablet, "--json").output)
        assert done["programme"] == "food_box" and done["quantity"] >= 1
        synced = json.loads(carnet("point", "sync", "--data-dir", tablet, "--json").output)
        assert synced["acknowledged"] == {"accepted": 1} and synced["waiting"] == 0
        assert json.loads(carnet("point", "sync", "--data-dir", tablet, "--json").output)["sent"] == 0
        report = json.loads(carnet("distribution", "report", "--cycle", "2026-12", "--json").output)
        assert [line["redeemed"] for line in report["lines"]] == [done["quantity"]]
        shown = carnet("distribution", "report", "--cycle", "2026-12", "--csv", tmp_path / "r.csv").output
        assert "Distribution, cycle 2026-12" in shown and "█" in shown
        assert (tmp_path / "r.csv").read_text().startswith("point,name,programme,entitlements")
        devices = json.loads(carnet("distribution", "devices", "list", "--json").output)
        assert [d["events"] for d in devices] == [1]
        carnet("distribution", "devices", "suspend", devices[0]["id"], "--reason", "tableta perdida")
        refused = carnet("point", "pull", "--cycle", "2026-12", "--data-dir", tablet, ok=False)
        assert refused.exit_code == 2 and "device_suspended" in refused.output
        assert json.loads(carnet("distribution", "conflicts", "--json").output) == []
    finally:
        server.stop()
