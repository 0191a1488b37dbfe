"""requirements.lock covers pyproject.toml: every `==` pin (runtime, dev, build) is locked with a hash."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?==([^\s;]+)")
LOCKED = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+)\s*\\?$")
HASH = re.compile(r"^\s+--hash=sha256:[0-9a-f]{64}\s*\\?$")


def normalise(name: str) -> str:
    """A distribution name as PEP 503 compares them."""
    return re.sub(r"[-_.]+", "-", name).lower()


def pins() -> dict[str, str]:
    """Every `name==version` of pyproject.toml."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))
    specs = [*project["project"]["dependencies"], *project["build-system"]["requires"]]
    for extra in project["project"].get("optional-dependencies", {}).values():
        specs.extend(extra)
    found = {}
    for spec in specs:
        match = PIN.match(spec.strip())
        assert match, f"pyproject.toml: {spec!r} is not pinned with =="
        found[normalise(match.group(1))] = match.group(2)
    return found


def locked(text: str) -> dict[str, tuple[str, int]]:
    """Every locked distribution: its version and how many hashes follow it."""
    found: dict[str, tuple[str, int]] = {}
    current = None
    for line in text.splitlines():
        if match := LOCKED.match(line):
            current = normalise(match.group(1))
            found[current] = (match.group(2), 0)
        elif current and HASH.match(line):
            version, hashes = found[current]
            found[current] = (version, hashes + 1)
        elif not line.startswith(" "):
            current = None
    return found


def test_every_pin_of_pyproject_is_locked_at_its_version_with_a_hash():
    lock = locked((ROOT / "requirements.lock").read_text("utf-8"))
    for name, version in pins().items():
        assert name in lock, f"{name} is pinned in pyproject.toml but missing from requirements.lock: run make lock"
        assert lock[name][0] == version, f"{name}: pyproject pins {version}, the lock has {lock[name][0]}"
        assert lock[name][1] >= 1, f"{name} has no hash in requirements.lock"


def test_every_locked_distribution_has_a_hash_and_the_lock_names_no_local_index():
    text = (ROOT / "requirements.lock").read_text("utf-8")
    lock = locked(text)
    assert len(lock) > len(pins())  # transitive dependencies are locked too
    assert [name for name, (_, hashes) in lock.items() if hashes == 0] == []
    assert not re.search(r"^(-e|--index-url|--extra-index-url|--find-links)\b", text, re.M)


def test_the_checker_sees_a_missing_pin_and_a_missing_hash():
    lock = locked("alpha==1.0 \\\n    --hash=sha256:" + "0" * 64 + "\nbeta==2.0\n    # via alpha\n")
    assert lock == {"alpha": ("1.0", 1), "beta": ("2.0", 0)}
