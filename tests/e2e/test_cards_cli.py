"""`carnet cards` and `carnet keys`, end to end on a fresh store: issue, print, QR, verify, revoke, rotate."""

from __future__ import annotations

import csv
import json
import os
import sqlite3

import pypdfium2
import zxingcpp
from PIL import Image

from tests.e2e.test_cli import carnet, store  # noqa: F401  (the fixture)

PASSPHRASE = "una frase de paso larga"


def seeded(monkeypatch, people: int = 30) -> None:
    from carnet.config import get_settings

    monkeypatch.setenv("CARNET_KEY_PASSPHRASE", PASSPHRASE)
    monkeypatch.setenv("CARNET_PIN_HASH_MEMORY_KIB", "64")
    get_settings.cache_clear()
    carnet("seed", "--people", people, "--seed", "5")


class TestCardsCommandLine:
    def test_issue_print_scan_verify_revoke(self, store, monkeypatch, tmp_path):  # noqa: F811
        seeded(monkeypatch)
        refused = carnet("cards", "issue", "--all", ok=False)
        assert refused.exit_code == 2 and "mailers_required" in refused.output
        pins = tmp_path / "pins.csv"
        issued = json.loads(carnet("cards", "issue", "--all", "--mailers", pins, "--json").output)
        assert issued["cards"] == 30
        with pins.open() as handle:
            letters = list(csv.DictReader(handle))
        assert len(letters) == 30 and all(len(row["pin"]) == 6 for row in letters)
        assert oct(os.stat(pins).st_mode & 0o777) == "0o600"
        assert not (tmp_path / "pins.csv.partial").exists()
        assert json.loads(carnet("cards", "issue", "--all", "--mailers", tmp_path / "p2.csv", "--json").output)[
            "cards"] == 0  # fmt: skip

        number = letters[0]["card_number"]
        png = tmp_path / "card.png"
        carnet("cards", "qr", number, "--out", png)
        (found,) = zxingcpp.read_barcodes(Image.open(png))
        assert found.text.startswith("CN1:")
        assert "valid" in carnet("cards", "verify", png).output
        assert json.loads(carnet("cards", "verify", found.text, "--json").output)["code"] == "valid"

        pdf = tmp_path / "cards.pdf"
        printed = json.loads(carnet("cards", "print", "--out", pdf, "--limit", "12").output)
        assert printed == {"cards": 12, "pages": 2, "pdf": str(pdf)}
        assert len(pypdfium2.PdfDocument(str(pdf))) == 2
        assert oct(os.stat(pdf).st_mode & 0o777) == "0o600"  # the sheet names the holders

        carnet("cards", "revoke", number, "--reason", "stolen")
        revoked = carnet("cards", "verify", found.text, "--json", ok=False)
        assert revoked.exit_code == 1 and json.loads(revoked.output)["code"] == "revoked"
        bad = carnet("cards", "revoke", number, "--reason", "elections", ok=False)
        assert bad.exit_code == 2 and "invalid_revocation_reason" in bad.output
        assert json.loads(carnet("cards", "summary").output) == {"active": 29, "revoked": 1, "status_lists": 1}
        lists = tmp_path / "list.cwt"
        assert json.loads(carnet("cards", "status-list", "1", "--out", lists).output)["bytes"] == lists.stat().st_size
        assert json.loads(carnet("audit", "verify", "--json").output)["ok"]
        with sqlite3.connect(store / "carnet.db") as conn:
            (person,) = conn.execute("SELECT id FROM persons ORDER BY id LIMIT 1").fetchone()
        # The bulk issue is one log entry for all 30, and each person's log shows it.
        assert "included in a card issue run" in carnet("audit", "log", "--person", person).output

    def test_bad_card_input_gets_a_verdict_and_a_nonzero_exit(self, store, monkeypatch, tmp_path):  # noqa: F811
        seeded(monkeypatch, 2)
        blank = tmp_path / "blank.png"
        Image.new("RGB", (200, 200), "white").save(blank)
        for source in ("CN1:XYZ", "HC1:NCFOXN", str(blank), "CN1:" + "0" * 2000):
            result = carnet("cards", "verify", source, "--json", ok=False)
            assert result.exit_code == 1 and json.loads(result.output)["code"] == "malformed", source
        fake = tmp_path / "fake.png"
        fake.write_bytes(b"not a png")
        assert "not_an_image" in carnet("cards", "verify", fake, ok=False).output

    def test_one_person_keys_rotation_and_export(self, store, monkeypatch, tmp_path):  # noqa: F811
        seeded(monkeypatch, 3)
        scope = carnet("cards", "issue", ok=False)
        assert "issue_scope_required" in scope.output
        with sqlite3.connect(store / "carnet.db") as conn:
            (person,) = conn.execute("SELECT id FROM persons ORDER BY id LIMIT 1").fetchone()
        single = carnet("cards", "issue", "--person", person)
        assert "PIN" in single.output
        before = json.loads(carnet("keys", "export", "--format", "jwks").output)["keys"]
        rotated = json.loads(carnet("keys", "rotate").output)
        assert rotated["retired"] == before[0]["kid"]
        keys = json.loads(carnet("keys", "list", "--json").output)
        assert {k["state"] for k in keys} == {"signing", "verifying"}
        cose = tmp_path / "keys.cose"
        assert json.loads(carnet("keys", "export", "--format", "cose", "--out", cose).output)["bytes"] > 0
        reissued = json.loads(carnet("cards", "reissue", person, "--reason", "lost",
                                     "--mailers", tmp_path / "m.pdf").output.splitlines()[0])  # fmt: skip
        assert reissued["cards"] == 1 and len(pypdfium2.PdfDocument(str(tmp_path / "m.pdf"))) == 1
        assert oct(os.stat(tmp_path / "m.pdf").st_mode & 0o777) == "0o600"
        assert "included in a card issue run" not in carnet("audit", "log", "--person", person).output
        entries = json.loads(carnet("audit", "log", "--person", person, "--json").output)["entries"]
        assert [e["action"] for e in entries if e["fields"] in (["card"], ["card_status"])] == [
            "create", "update", "create"]  # fmt: skip
