"""A fresh store for `carnet` commands, shared by the audit and backup command tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from carnet.cli import common
from carnet.cli.main import app
from carnet.config import get_settings
from carnet.kit.i18n import set_language

runner = CliRunner()
PASSPHRASE = "una frase de paso larga"


def use_settings(monkeypatch: pytest.MonkeyPatch, **env: str | None) -> None:
    """Set (or with None, unset) CARNET_* variables and drop the cached settings and engines."""
    for name, value in env.items():
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, value)
    if common._factory.cache_info().currsize:
        common.session_factory().kw["bind"].dispose()
    get_settings.cache_clear()
    common._factory.cache_clear()


@pytest.fixture()
def cli_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A fresh data directory for the CLI; the cached settings and engines are dropped on both sides."""
    data_dir = tmp_path / "data"
    use_settings(monkeypatch, CARNET_DATA_DIR=str(data_dir), CARNET_DATABASE_URL=None, CARNET_LANGUAGE=None,
                 CARNET_ATTRIBUTE_DICTIONARY=None, FORCE_COLOR=None, CARNET_KEY_PASSPHRASE=None,
                 COLUMNS="250", TERM="xterm")  # fmt: skip
    yield data_dir
    if common._factory.cache_info().currsize:
        common.session_factory().kw["bind"].dispose()
    get_settings.cache_clear()
    common._factory.cache_clear()
    set_language("en")


def carnet(*args: object, ok: bool = True):  # type: ignore[no-untyped-def]
    """Run `carnet ARGS`; by default the command must succeed."""
    result = runner.invoke(app, [str(a) for a in args], catch_exceptions=False)
    if ok:
        assert result.exit_code == 0, result.output
    return result
