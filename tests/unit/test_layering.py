"""The dependency rules of docs/architecture.md hold: the import-linter contracts of pyproject.toml are kept."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import grimp
import pytest

ROOT = Path(__file__).resolve().parents[2]

# The contracts docs/architecture.md names; dropping one from pyproject.toml is a change of the rules, not a fix.
CONTRACTS = {
    "layers",
    "domains",
    "sinks",
    "sinks-apart",
    "point",
    "pure",
    "boundaries-call-services",
    "boundaries",
}

# What the offline point agent may import of Carnet besides itself (docs/architecture.md, rule 3).
POINT_MAY_IMPORT = re.compile(
    r"carnet\.(kit(\..+)?|config"
    r"|credentials\.(verify|cose|cwt|credential|statuslist|keyset|base45|cbor_guard|qr_image|printing)"
    r"|distribution\.(events|manifest|pin_tag|device_auth|protocol))"
)


def test_every_import_linter_contract_is_kept(tmp_path):
    lint_imports = Path(sys.executable).with_name("lint-imports")
    done = subprocess.run(
        [str(lint_imports), "--no-logo", "--cache-dir", str(tmp_path), str(ROOT / "pyproject.toml")],
        cwd=ROOT,
        env={**os.environ, "COLUMNS": "250"},  # one contract, one line of the report
        capture_output=True,
        text=True,
        timeout=300,
    )
    if done.returncode != 0:
        broken = [line for line in done.stdout.splitlines() if line.endswith(" BROKEN")]
        headline = "broken: " + "; ".join(broken) if broken else "could not check the contracts"
        pytest.fail(f"import-linter {headline}\n{done.stdout}{done.stderr}", pytrace=False)


def test_the_contracts_docs_name_are_all_configured():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))["tool"]["importlinter"]
    assert config["root_package"] == "carnet"
    assert {contract["id"] for contract in config["contracts"]} == CONTRACTS
    architecture = (ROOT / "docs" / "architecture.md").read_text("utf-8")
    assert not [name for name in CONTRACTS if f"`{name}`" not in architecture], "docs/architecture.md names them"


def test_the_point_agent_imports_only_what_it_may():
    # The `point` contract forbids what the agent must never reach; this is the positive list it may reach.
    graph = grimp.build_graph("carnet", cache_dir=None)
    outside = sorted(
        f"{module} -> {imported}"
        for module in graph.find_descendants("carnet.point") | {"carnet.point"}
        for imported in graph.find_modules_directly_imported_by(module)
        if imported.startswith("carnet.")
        and not imported.startswith("carnet.point")
        and not POINT_MAY_IMPORT.fullmatch(imported)
    )
    assert not outside, "the point agent imports more than kit, config and pure modules: " + ", ".join(outside)


def test_every_ignored_import_says_why():
    lines = (ROOT / "pyproject.toml").read_text("utf-8").splitlines()
    start = lines.index("[tool.importlinter]")
    unexplained, inside = [], False
    for number, line in enumerate(lines[start:], start + 1):
        stripped = line.strip()
        if stripped.startswith("ignore_imports"):
            inside = True
        elif inside and stripped == "]":
            inside = False
        elif inside and stripped.startswith('"') and not lines[number - 2].strip().startswith("#"):
            unexplained.append(f"pyproject.toml:{number}: {stripped}")
    assert not unexplained, "an ignored import needs a comment above it saying why: " + "; ".join(unexplained)


def test_no_boundary_assembles_a_persons_bulk_operations_itself():
    # flows/data_subject.py is their one home; a boundary that lists them by hand forgets one sooner or later.
    named = re.compile(r"\b(card_cohorts|program_cohorts|import_cohorts|access_log_sources)\b|\bcohorts=")
    src = ROOT / "src" / "carnet"
    found = [
        f"{path.relative_to(ROOT)}:{number}"
        for folder in ("web", "cli")
        for path in sorted((src / folder).rglob("*.py"))
        for number, line in enumerate(path.read_text("utf-8").splitlines(), 1)
        if named.search(line)
    ]
    assert not found, "call carnet.flows.data_subject instead: " + ", ".join(found)


# The one module besides config.py that touches the environment, and why: pg_dump and pg_restore run as child
# processes and inherit it (PATH, PG* variables) with the password added; no setting of Carnet is read from it.
PASSES_THE_ENVIRONMENT_ON = {"src/carnet/flows/backup.py"}


def test_only_config_reads_the_environment():
    reads = re.compile(r"\bos\.environ\b|\bgetenv\(|\bfrom os import .*\benviron\b")
    src = ROOT / "src" / "carnet"
    found = [
        f"{path.relative_to(ROOT)}:{number}"
        for path in sorted(src.rglob("*.py"))
        if path != src / "config.py" and str(path.relative_to(ROOT)) not in PASSES_THE_ENVIRONMENT_ON
        for number, line in enumerate(path.read_text("utf-8").splitlines(), 1)
        if reads.search(line)
    ]
    assert not found, "add a field to carnet.config.Settings instead: " + ", ".join(found)
