"""Vendor pinned front-end assets from npm into src/carnet/web/static/vendor/ and check them against the lock.

    python scripts/vendor_assets.py           # fetch each pinned package, verify its tarball, extract, write the lock
    python scripts/vendor_assets.py --check   # verify every vendored file against assets.lock.json (no network)

Each package is fetched with `npm pack` (the registry tarball itself), its integrity (sha512, as the registry
publishes it) is checked before anything is extracted, and the lock records the version, that integrity and
the sha256 of every file taken from it. The app serves these files under /static; its CSP allows no other.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VENDOR = ROOT / "src/carnet/web/static/vendor"
LOCK = VENDOR / "assets.lock.json"
# package → (exact version, {file in the tarball: name under static/vendor/})
PINNED: dict[str, tuple[str, dict[str, str]]] = {
    "htmx.org": ("2.0.11", {"package/dist/htmx.min.js": "htmx.min.js", "package/LICENSE": "htmx.LICENSE"}),
}


def sha256_of(path: Path) -> str:
    """The hex SHA-256 of a file."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def sri_sha512(data: bytes) -> str:
    """Subresource-integrity form of SHA-512, as npm records a tarball's integrity."""
    return "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode()


def fetch(package: str, version: str, files: dict[str, str], folder: Path) -> dict:
    """Pack one pinned package, verify its tarball against the registry's integrity, extract the named files."""
    packed = subprocess.run(
        ["npm", "pack", f"{package}@{version}", "--json", "--pack-destination", str(folder)],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    (meta,) = json.loads(packed.stdout)
    if meta["version"] != version:
        raise SystemExit(f"{package}: npm gave {meta['version']}, the pin is {version}")
    tarball = folder / meta["filename"]
    data = tarball.read_bytes()
    if sri_sha512(data) != meta["integrity"]:
        raise SystemExit(f"{package}@{version}: the tarball does not match the registry's integrity")
    recorded = {}
    with tarfile.open(tarball, "r:gz") as archive:
        for member, target in files.items():
            extracted = archive.extractfile(member)
            if extracted is None:
                raise SystemExit(f"{package}@{version}: {member} is not a file in the tarball")
            content = extracted.read()
            (VENDOR / target).write_bytes(content)
            recorded[target] = {"from": member, "sha256": hashlib.sha256(content).hexdigest(), "bytes": len(content)}
    return {"version": version, "integrity": meta["integrity"], "files": recorded}


def vendor() -> None:
    """Fetch every pinned package and rewrite the lock."""
    VENDOR.mkdir(parents=True, exist_ok=True)
    lock = {"comment": "written by scripts/vendor_assets.py; checked by --check and tests/unit/test_vendored_assets.py"}
    with tempfile.TemporaryDirectory() as folder:
        lock["packages"] = {
            package: fetch(package, version, files, Path(folder)) for package, (version, files) in PINNED.items()
        }
    LOCK.write_text(json.dumps(lock, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    print(f"vendored {len(PINNED)} packages into {VENDOR.relative_to(ROOT)}")


def check() -> list[str]:
    """Every difference between the vendored files, the lock and the pins (empty when all agree)."""
    lock = json.loads(LOCK.read_text(encoding="utf-8"))
    problems = []
    listed = set()
    for package, (version, files) in PINNED.items():
        entry = lock.get("packages", {}).get(package)
        if entry is None or entry["version"] != version:
            problems.append(f"{package}: the lock does not hold the pinned version {version}")
            continue
        for target in files.values():
            listed.add(target)
            path = VENDOR / target
            expected = entry["files"].get(target, {}).get("sha256")
            if not path.is_file():
                problems.append(f"{target}: missing")
            elif sha256_of(path) != expected:
                problems.append(f"{target}: sha256 differs from the lock")
    extra = {p.name for p in VENDOR.iterdir() if p.is_file()} - listed - {LOCK.name}
    problems += [f"{name}: not in the lock" for name in sorted(extra)]
    return problems


def main() -> int:
    """Vendor, or with --check verify."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="verify the vendored files against the lock")
    if parser.parse_args().check:
        problems = check()
        for problem in problems:
            print(problem, file=sys.stderr)
        print("vendored assets match the lock" if not problems else f"{len(problems)} problems", file=sys.stderr)
        return 1 if problems else 0
    vendor()
    return 0


if __name__ == "__main__":
    sys.exit(main())
