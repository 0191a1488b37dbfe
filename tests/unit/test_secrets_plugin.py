"""The secrets scan of the whole run: what it finds and how it reports it."""

from __future__ import annotations

import logging

from carnet.access import service
from tests.secrets_plugin import find_leaks, known_secrets, redact


def test_a_registered_secret_is_found_and_reported_redacted():
    texts = [("log carnet.web", "signed in with cnt_abcdefghijkl"), ("stdout", "nothing here")]
    assert find_leaks(texts, {"cnt_abcdefghijkl"}, set()) == [("log carnet.web", redact("cnt_abcdefghijkl"))]
    assert "abcdefghijkl" not in redact("cnt_abcdefghijkl")


def test_a_pin_is_found_only_as_a_number_of_its_own():
    texts = [("a", "PIN 482913 mailed"), ("b", "at 14:22:31.4829130"), ("c", "id 1482913")]
    assert [where for where, _ in find_leaks(texts, set(), {"482913"})] == ["a"]


def test_the_access_service_registers_what_it_issues():
    assert getattr(service.issue_api_token, "__wrapped_by_secrets_plugin__", False)
    assert getattr(service.create_user, "__wrapped_by_secrets_plugin__", False)


def test_log_records_of_the_run_are_kept():
    logging.getLogger("carnet.web").info("a line the scan keeps: %s", "marker-7f3a")
    assert any("marker-7f3a" in text for _, text in known_secrets.texts)
