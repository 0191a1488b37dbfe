"""Vendored front-end assets are exactly the files the lock recorded from the pinned npm tarballs."""

from __future__ import annotations

import hashlib
import importlib.util
import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import sessionmaker

from carnet.config import Settings
from carnet.web.app import create_app

ROOT = Path(__file__).resolve().parents[2]
VENDOR = ROOT / "src/carnet/web/static/vendor"
LOCK = json.loads((VENDOR / "assets.lock.json").read_text(encoding="utf-8"))
FILES = [(package, name, entry) for package, p in LOCK["packages"].items() for name, entry in p["files"].items()]


def load_script():
    spec = importlib.util.spec_from_file_location("vendor_assets", ROOT / "scripts/vendor_assets.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(("package", "name", "entry"), FILES, ids=[name for _, name, _ in FILES])
def test_each_vendored_file_has_its_recorded_sha256(package, name, entry):
    content = (VENDOR / name).read_bytes()
    assert hashlib.sha256(content).hexdigest() == entry["sha256"], f"{name} from {package} changed"
    assert len(content) == entry["bytes"]


def test_the_lock_holds_the_pins_and_every_file_in_the_folder_is_locked():
    script = load_script()
    assert script.check() == []
    assert LOCK["packages"]["htmx.org"]["version"].startswith("2.")
    for package in LOCK["packages"].values():
        assert package["integrity"].startswith("sha512-")


def test_a_changed_file_is_caught(tmp_path, monkeypatch):
    script = load_script()
    for name in ["assets.lock.json", *LOCK["packages"]["htmx.org"]["files"]]:
        (tmp_path / name).write_bytes((VENDOR / name).read_bytes())
    (tmp_path / "htmx.min.js").write_bytes((VENDOR / "htmx.min.js").read_bytes() + b"\nalert(1)")
    (tmp_path / "sneaky.js").write_text("fetch('https://elsewhere')")
    monkeypatch.setattr(script, "VENDOR", tmp_path)
    monkeypatch.setattr(script, "LOCK", tmp_path / "assets.lock.json")
    assert script.check() == ["htmx.min.js: sha256 differs from the lock", "sneaky.js: not in the lock"]


def test_the_integrity_form_is_npms():
    script = load_script()
    assert script.sri_sha512(b"") == (
        "sha512-z4PhNX7vuL3xVChQ1m2AB9Yg5AULVxXcg/SpIdNs6c5H0NE8XYXysP+DGNKHfuwvY7kxvUdBeoGlODJ6+SfaPg=="
    )


def test_the_app_serves_them_under_static(tmp_path):
    app = create_app(Settings(data_dir=tmp_path, head_interval_seconds=0), session_factory=sessionmaker())
    with TestClient(app) as client:
        response = client.get("/static/vendor/htmx.min.js")
    assert response.status_code == 200
    assert (
        hashlib.sha256(response.content).hexdigest() == LOCK["packages"]["htmx.org"]["files"]["htmx.min.js"]["sha256"]
    )
    assert "javascript" in response.headers["content-type"]
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["cache-control"].startswith("public")
