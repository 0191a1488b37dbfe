"""User-facing text: every literal passed to `t(...)` has a Spanish translation with the same placeholders."""

from __future__ import annotations

import ast
import contextvars
import fnmatch
import json
import string
import tomllib
from pathlib import Path

import pytest

from carnet.kit.i18n import current_language, negotiate, set_language, t

SOURCE = Path(__file__).resolve().parents[2] / "src" / "carnet"
CATALOGUE = SOURCE / "locale" / "es.json"


def _is_literal(node: ast.expr) -> bool:
    return isinstance(node, ast.Constant) and isinstance(node.value, str)


def _helper_literals(tree: ast.Module, name: str) -> list[str] | None:
    """The string constants of module-level function `name` (docstring aside), or None if there is none."""
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name == name:
            body = node.body[1:] if node.body and _is_literal(getattr(node.body[0], "value", None)) else node.body
            return [n.value for stmt in body for n in ast.walk(stmt) if _is_literal(n)]
    return None


def scan() -> tuple[dict[str, list[str]], list[str]]:
    """Every message given to `t(...)` in src/carnet, where it is used, and the calls that cannot be read.

    A message is the literal first argument, or, for `t(helper(...))`, each string a module-level
    `helper` can return (a table of titles, say). Anything else (an f-string, a variable) is unreadable.
    """
    found: dict[str, list[str]] = {}
    unreadable: list[str] = []
    for path in sorted(SOURCE.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "t"):
                continue
            where = f"{path.relative_to(SOURCE)}:{node.lineno}"
            first = node.args[0] if node.args else None
            if first is not None and _is_literal(first):
                found.setdefault(first.value, []).append(where)
                continue
            helper = None
            if isinstance(first, ast.Call) and isinstance(first.func, ast.Name):
                helper = _helper_literals(tree, first.func.id)
            if not helper:
                unreadable.append(where)
                continue
            for message in helper:
                found.setdefault(message, []).append(f"{where} via {first.func.id}()")
    return found, unreadable


def placeholders(text: str) -> set[str]:
    """The {names} a message is formatted with ({{ and }} are literal braces, not placeholders)."""
    return {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}


def catalogue() -> dict[str, str]:
    return json.loads(CATALOGUE.read_text(encoding="utf-8"))


MESSAGES, UNREADABLE = scan()


class TestScan:
    def test_the_scan_finds_the_cli_messages(self):
        # A guard on the scanner itself: these messages are in the CLI today.
        assert {"Imported", "Rejected", "Store ready at {url}", "Error"} <= set(MESSAGES)

    def test_the_scan_follows_title_helpers(self):
        # web/errors.py calls t(_title(status)); the titles in that table are messages too.
        assert {"Not found", "Authentication required"} <= set(MESSAGES)

    def test_every_t_call_can_be_read(self):
        # A message built at run time (an f-string, a variable) can never be found in the catalogue.
        assert UNREADABLE == []


class TestSpanishCatalogue:
    def test_is_utf8_json_with_sorted_keys(self):
        raw = CATALOGUE.read_bytes()
        data = json.loads(raw.decode("utf-8"))
        assert isinstance(data, dict)
        assert list(data) == sorted(data)
        assert all(isinstance(v, str) for v in data.values())

    @pytest.mark.parametrize("message", sorted(MESSAGES))
    def test_every_message_has_a_spanish_translation(self, message):
        translation = catalogue().get(message)
        assert translation, f"no Spanish for {message!r} (used at {', '.join(MESSAGES[message])})"
        assert translation == translation.strip()

    @pytest.mark.parametrize("message", sorted(MESSAGES))
    def test_translation_keeps_the_placeholders(self, message):
        translation = catalogue().get(message, "")
        assert placeholders(translation) == placeholders(message)
        # And it formats with the same parameters (no stray or unbalanced braces).
        values = {name: "x" for name in placeholders(message)}
        if values:
            translation.format(**values)

    def test_the_catalogue_is_packaged(self):
        # Installed from a wheel (not editable), a catalogue missing from package-data makes every
        # Spanish lookup fail with FileNotFoundError.
        pyproject = tomllib.loads((SOURCE.parents[1] / "pyproject.toml").read_text(encoding="utf-8"))
        patterns = pyproject["tool"]["setuptools"]["package-data"]["carnet"]
        relative = CATALOGUE.relative_to(SOURCE).as_posix()
        assert any(fnmatch.fnmatch(relative, pattern) for pattern in patterns), patterns

    def test_no_entry_is_left_over_from_a_removed_message(self):
        assert sorted(set(catalogue()) - set(MESSAGES)) == []


class TestTranslate:
    def test_spanish_by_explicit_language(self):
        assert t("Rejected", language="es") == "Rechazadas"
        assert t("Imported", language="es") == "Importadas"

    def test_english_is_the_message_itself(self):
        assert t("Rejected", language="en") == "Rejected"

    def test_parameters_are_filled_in_the_translation(self):
        assert t("{n} person(s)", language="es", n=3) == "3 persona(s)"
        assert t("Store ready at {url}", language="es", url="sqlite://") == "Base de datos lista en sqlite://"

    def test_unknown_message_falls_back_to_english(self):
        assert t("A message nobody translated {x}", language="es", x=1) == "A message nobody translated 1"

    def test_current_language_applies_when_none_is_given(self):
        def in_spanish() -> tuple[str, str]:
            set_language("es")
            return current_language(), t("Rejected")

        assert contextvars.copy_context().run(in_spanish) == ("es", "Rechazadas")

    def test_unsupported_language_is_english(self):
        def in_french() -> tuple[str, str]:
            set_language("fr")
            return current_language(), t("Rejected")

        assert contextvars.copy_context().run(in_french) == ("en", "Rejected")


class TestNegotiate:
    def test_venezuelan_browser_gets_spanish(self):
        assert negotiate("es-VE,es;q=0.9,en;q=0.8") == "es"

    def test_unsupported_language_gets_english(self):
        assert negotiate("fr") == "en"

    def test_no_header_gets_english(self):
        assert negotiate(None) == "en"
        assert negotiate("") == "en"

    def test_higher_quality_wins_whatever_the_order(self):
        assert negotiate("es;q=0.2, en-US;q=0.9") == "en"
        assert negotiate("fr, en;q=0.1, ES-ve;q=0.5") == "es"

    def test_quality_zero_means_not_acceptable(self):
        # RFC 9110 §12.4.2: "a value of 0 means not acceptable".
        assert negotiate("es;q=0") == "en"
