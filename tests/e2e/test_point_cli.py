"""`carnet point redeem|status|receipts` on a device's own store: the counter's commands, end to end."""

from __future__ import annotations

import json
import sqlite3

import pytest

from carnet.config import get_settings
from carnet.point.store import PointStore
from tests.e2e.test_cli import carnet, store  # noqa: F401  (the fixture)
from tests.integration.point.support import PASSPHRASE, Counter, qr


@pytest.fixture
def point(store, tmp_path, monkeypatch):  # noqa: F811
    directory = tmp_path / "point-a"
    counter = Counter(directory)
    counter.store.close()
    monkeypatch.setenv("CARNET_POINT_DIR", str(directory))
    monkeypatch.setenv("CARNET_POINT_PASSPHRASE", PASSPHRASE)
    get_settings.cache_clear()
    return directory


def test_redeem_then_receipts_then_status(point, tmp_path, monkeypatch):
    # The device's clock is the machine's; the test's manifest is valid around its own fixed time.
    monkeypatch.setattr("carnet.cli.point._device_now", lambda: 1_796_000_000)
    pdf = tmp_path / "receipt.pdf"
    result = carnet("point", "redeem", qr(1), "--pin", "246801", "--quantity", "2", "--receipt", pdf, "--json")
    done = json.loads(result.output)
    assert (done["quantity"], done["remaining"], done["flags"]) == (2, 2, [])
    assert pdf.read_bytes().startswith(b"%PDF") and pdf.stat().st_mode & 0o077 == 0
    listed = json.loads(carnet("point", "receipts", "--json").output)
    assert [(r["receipt"], r["synced"]) for r in listed] == [(done["receipt"], False)]
    status = json.loads(carnet("point", "status", "--json").output)
    assert (status["events"], status["waiting_for_sync"], status["problems"]) == (1, 1, [])
    assert status["manifests"][0]["entitlements"] == 3


def test_a_refusal_is_a_plain_message_and_exit_2(point, monkeypatch):
    monkeypatch.setattr("carnet.cli.point._device_now", lambda: 1_796_000_000)
    result = carnet("point", "redeem", qr(1), "--pin", "000000", ok=False)
    assert result.exit_code == 2 and "pin_wrong" in result.output and "Traceback" not in result.output
    result = carnet("point", "redeem", "not a card", "--pin", "246801", ok=False)
    assert result.exit_code == 2 and "malformed" in result.output


def test_the_wrong_passphrase_opens_nothing(point, monkeypatch):
    monkeypatch.setenv("CARNET_POINT_PASSPHRASE", "another passphrase")
    get_settings.cache_clear()
    result = carnet("point", "status", ok=False)
    assert result.exit_code == 2 and "point_wrong_passphrase" in result.output


def test_status_names_a_rewritten_event_and_exits_1(point, monkeypatch):
    monkeypatch.setattr("carnet.cli.point._device_now", lambda: 1_796_000_000)
    carnet("point", "redeem", qr(1), "--pin", "246801", "--quantity", "1")
    db = sqlite3.connect(point / "point.sqlite3", isolation_level=None)
    # Someone with the file drops the immutability trigger and edits the quantity: the signature tells.
    db.execute("DROP TRIGGER events_are_immutable")
    db.execute("UPDATE events SET quantity = 3")
    db.close()
    result = carnet("point", "status", "--json", ok=False)
    assert result.exit_code == 1
    assert json.loads(result.output)["problems"] == ["event 1: the stored columns do not match the signed event"]


def test_an_unenrolled_point_says_how_to_enrol(store, tmp_path, monkeypatch):  # noqa: F811
    monkeypatch.setenv("CARNET_POINT_DIR", str(tmp_path / "fresh"))
    get_settings.cache_clear()
    result = carnet("point", "receipts", ok=False)
    assert result.exit_code == 2 and "point_not_enrolled" in result.output
    PointStore(tmp_path / "fresh").close()
