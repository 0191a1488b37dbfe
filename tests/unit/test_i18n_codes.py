"""Every error code has a plain Spanish explanation; English keeps the detailed message."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest

from carnet.credentials.verify import VERDICT_CODES
from carnet.distribution.events import ADMISSION_CODES
from carnet.kit.i18n import describe

SRC = Path(__file__).resolve().parents[2] / "src/carnet"
CATALOGUE = json.loads((SRC / "locale/es.codes.json").read_text(encoding="utf-8"))
# Codes built outside a FieldError(...) or code=... literal: class defaults and the web layer's mapping.
OTHER_CODES = {
    # Distribution codes raised through a helper that names the field (distribution/service.py _invalid).
    "point_code_invalid",
    "point_name_invalid",
    "point_kind_invalid",
    "municipality_unknown",
    "point_programmes_missing",
    "exception_cap_invalid",
    "operator_not_agent",
    "device_label_invalid",
    "reason_required",
    "sync_batch_too_large",
    "resolution_required",
    "receipt_code_invalid",
    "app_error",
    "not_found",
    "conflict",
    "unauthenticated",
    "forbidden",
    "undeclared_field",
    "route_not_found",
    "method_not_allowed",
    "http_error",
    # The verdicts on a card, which the CLI and the API explain in the reader's language.
    *VERDICT_CODES,
    # What the sync answer says of each event, and the clock flags it carries (distribution/events.py).
    *ADMISSION_CODES,
}


def codes_in_source() -> set[str]:
    """Codes passed as `code="..."`, as the code argument of FieldError(...) or of a rule problem anywhere in src."""
    found = set()
    for path in SRC.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            for keyword in node.keywords:
                if keyword.arg == "code" and isinstance(keyword.value, ast.Constant):
                    found.add(keyword.value.value)
            name = getattr(node.func, "id", getattr(node.func, "attr", ""))
            # FieldError(field, code, ...) and a programme file's bad(field, code, ...); RuleProblem(code, ...).
            position = {"FieldError": 1, "bad": 1, "RuleProblem": 0}.get(name)
            if position is not None and len(node.args) > position and isinstance(node.args[position], ast.Constant):
                found.add(node.args[position].value)
    return found


def test_the_scan_finds_the_codes_we_know():
    assert {"invalid_date", "prohibited_attribute", "duplicate_national_id", "outside_scope"} <= codes_in_source()


@pytest.mark.parametrize("code", sorted(codes_in_source() | OTHER_CODES))
def test_every_code_has_a_spanish_explanation(code):
    assert CATALOGUE.get(code, "").strip(), f"add '{code}' to src/carnet/locale/es.codes.json"


def test_no_stale_entries():
    assert set(CATALOGUE) - (codes_in_source() | OTHER_CODES) == set()


def test_describe_by_language():
    assert describe("invalid_date", "'31/02/1980' is not a date", language="en") == "'31/02/1980' is not a date"
    assert describe("invalid_date", "'31/02/1980' is not a date", language="es").startswith("No es una fecha")
    assert describe("no_such_code", "as given", language="es") == "as given"
