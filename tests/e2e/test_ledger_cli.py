"""`carnet ledger`, end to end: fund the cash programme, disburse its run twice, balances, a statement."""

from __future__ import annotations

import csv
import json

from carnet.config import get_settings
from tests.e2e.test_cli import carnet, store  # noqa: F401  (the fixture)


def test_fund_disburse_balance_statement(store, tmp_path, monkeypatch):  # noqa: F811
    monkeypatch.setenv("CARNET_KEY_PASSPHRASE", "una frase de paso larga del libro")
    get_settings.cache_clear()
    carnet("seed", "--people", "300", "--seed", "3")
    for name in ("ana", "luis"):
        carnet("users", "add", name, "--role", "program_officer")
    carnet("programs", "apply", "--examples")
    run = json.loads(carnet("programs", "run", "cash_transfer", "--cycle", "2026-12", "--officer", "ana",
                            "--json").output)  # fmt: skip
    carnet("programs", "approve", run["run"], "--officer", "luis")
    refused = carnet("ledger", "fund", "cash_transfer", "0", "--reference", "OP-1", "--json")
    assert json.loads(refused.output)["refused"] == {"amount_must_not_be_zero": 1}
    funded = json.loads(carnet("ledger", "fund", "cash_transfer", "900000000", "--reference", "OP-1", "--json").output)
    assert funded["applied"] == 1
    paid = json.loads(carnet("ledger", "disburse", run["run"], "--json").output)
    assert paid["applied"] > 0 and paid["refused"] == {}
    again = json.loads(carnet("ledger", "disburse", run["run"], "--json").output)
    assert again["applied"] == 0 and again["existing"] == paid["applied"]
    shown = carnet("ledger", "balance", "--kind", "wallet")
    assert "balanced" in shown.output and "HS1-" in shown.output
    fund = json.loads(carnet("ledger", "balance", "--holder", "cash_transfer", "--json").output)
    account = fund["accounts"][0]
    assert account["balance"] == 900000000 - paid["amount"]
    out = tmp_path / "statement.csv"
    carnet("ledger", "statement", account["id"], "--csv", out)
    with out.open() as handle:
        lines = list(csv.DictReader(handle))
    assert int(lines[0]["balance"]) == 900000000 and int(lines[-1]["balance"]) == account["balance"]
    assert out.stat().st_mode & 0o077 == 0
    proposed = json.loads(
        carnet("programs", "run", "food_box", "--cycle", "2026-12", "--officer", "ana", "--json").output
    )
    inkind = carnet("ledger", "disburse", proposed["run"], ok=False)
    assert inkind.exit_code == 2 and "run_not_published" in inkind.output
