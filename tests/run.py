"""`make test`: the whole suite, on SQLite and on PostgreSQL when it is reachable (it says which)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    """Start PostgreSQL if this machine has one that is down, then run pytest."""
    sys.path.insert(0, str(ROOT / "tests"))
    if os.environ.get("CARNET_TEST_POSTGRES", "auto") != "off":
        from conftest import postgres_reason

        reason = postgres_reason()
        if reason and Path("/etc/postgresql").is_dir():
            versions = sorted(p.name for p in Path("/etc/postgresql").iterdir())
            if versions:
                print(f"PostgreSQL is down; starting cluster {versions[-1]}/main", flush=True)
                subprocess.run(
                    ["pg_ctlcluster", "--skip-systemctl-redirect", versions[-1], "main", "start"], check=False
                )
                reason = postgres_reason()
        print(
            "Databases under test: " + ("SQLite only — " + reason if reason else "SQLite and PostgreSQL"),
            flush=True,
        )
    args = [sys.executable, "-m", "pytest", *sys.argv[1:]]
    return subprocess.call(args, cwd=ROOT)


if __name__ == "__main__":
    sys.exit(main())
