"""A pytest plugin: no password, token, session cookie or PIN made during the run may appear in any log or output.

Every secret the run creates is registered: the passwords given to create_user, the bearer tokens and
session cookies the access service issues (wrapped here, behaviour unchanged), and whatever a fixture adds
with known_secrets.add(). Every log record (INFO and up, our loggers, uvicorn's and httpx's request lines)
and every test's captured stdout, stderr and log is kept; at the end of the session the run fails if any
registered secret appears in them, naming where (the secret itself is never printed).
"""

from __future__ import annotations

import functools
import logging
import re
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field

import pytest

MIN_LENGTH = 8  # shorter values (a PIN) are matched as whole digit runs, not as substrings


@dataclass
class KnownSecrets:
    """The secrets of this run, and the texts in which they must never appear."""

    values: set[str] = field(default_factory=set)
    pins: set[str] = field(default_factory=set)
    texts: list[tuple[str, str]] = field(default_factory=list)

    def add(self, value: str | None) -> None:
        """Register a password, token or cookie (values under MIN_LENGTH characters are ignored)."""
        if value and len(value) >= MIN_LENGTH:
            self.values.add(value)

    def add_pin(self, pin: str) -> None:
        """Register a card PIN: found only as a run of digits of its own (not inside a longer number)."""
        if pin:
            self.pins.add(pin)

    def record(self, where: str, text: str) -> None:
        """Keep a text to scan at the end of the run."""
        if text:
            self.texts.append((where, text))

    def leaks(self) -> list[tuple[str, str]]:
        """(where, redacted secret) for every secret found in a kept text."""
        return find_leaks(self.texts, self.values, self.pins)


def find_leaks(texts: Iterable[tuple[str, str]], values: set[str], pins: set[str]) -> list[tuple[str, str]]:
    """(where, redacted secret) for every registered value or PIN that occurs in one of `texts`."""
    found = []
    pin_pattern = re.compile(r"(?<![0-9])(" + "|".join(map(re.escape, sorted(pins))) + r")(?![0-9])") if pins else None
    for where, text in texts:
        for value in values:
            if value in text:
                found.append((where, redact(value)))
        if pin_pattern is not None:
            found += [(where, redact(m.group(1))) for m in pin_pattern.finditer(text)]
    return found


def redact(secret: str) -> str:
    """Enough of a secret to recognise it in the test code, not enough to use it."""
    return secret[:3] + "…" + f"({len(secret)} chars)"


known_secrets = KnownSecrets()


class _Recorder(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        try:
            message = record.getMessage()
        except Exception:  # a malformed record is someone else's bug; keep its raw parts
            message = f"{record.msg} {record.args}"
        if record.exc_info and record.exc_info[1] is not None:
            message += f" {record.exc_info[1]!r}"
        known_secrets.record(f"log {record.name}", message)


def _wrap_access_service() -> None:
    from carnet.access import service

    def registering(original, pick):  # type: ignore[no-untyped-def]
        @functools.wraps(original)
        def wrapper(*args, **kwargs):  # type: ignore[no-untyped-def]
            result = original(*args, **kwargs)
            pick(result, kwargs)
            return result

        wrapper.__wrapped_by_secrets_plugin__ = True  # type: ignore[attr-defined]
        return wrapper

    replacements = {
        "create_user": lambda result, kwargs: known_secrets.add(kwargs.get("password")),
        "issue_api_token": lambda result, kwargs: known_secrets.add(result[1]),
        "open_web_session": lambda result, kwargs: known_secrets.add(result),
    }
    for name, pick in replacements.items():
        original = getattr(service, name, None)
        if original is None or getattr(original, "__wrapped_by_secrets_plugin__", False):
            continue
        wrapped = registering(original, pick)
        # Modules that imported the function by name before this plugin loaded get the wrapper too.
        for module in list(sys.modules.values()):
            if (
                getattr(module, "__name__", "").startswith(("carnet", "tests"))
                and getattr(module, name, None) is original
            ):
                setattr(module, name, wrapped)


def pytest_configure(config: pytest.Config) -> None:
    _wrap_access_service()
    handler = _Recorder(level=logging.INFO)
    root = logging.getLogger()
    root.addHandler(handler)
    if root.level > logging.INFO or root.level == logging.NOTSET:
        root.setLevel(logging.INFO)
    # SQL statements at INFO would flood the record (and carry only bound placeholders anyway).
    logging.getLogger("sqlalchemy").setLevel(logging.WARNING)
    config._carnet_secret_recorder = handler  # type: ignore[attr-defined]


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    for title, text in report.sections:
        known_secrets.record(f"{report.nodeid} {title}", text)
    # A failure's traceback is printed; an expected failure's (xfail) or a skip's is not.
    if report.failed and report.longrepr is not None:
        known_secrets.record(f"{report.nodeid} failure", str(report.longrepr))


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    leaks = known_secrets.leaks()
    session.config._carnet_secret_leaks = leaks  # type: ignore[attr-defined]
    if leaks:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:  # type: ignore[no-untyped-def]
    leaks = getattr(config, "_carnet_secret_leaks", [])
    reporter = terminalreporter
    registered = len(known_secrets.values) + len(known_secrets.pins)
    if leaks:
        reporter.write_sep("=", "SECRETS FOUND IN LOGS OR OUTPUT", red=True, bold=True)
        for where, secret in sorted(set(leaks))[:50]:
            reporter.write_line(f"{secret} in {where}", red=True)
    else:
        reporter.write_line(
            f"secrets scan: {registered} secrets, {len(known_secrets.texts)} log lines and outputs, none leaked"
        )
