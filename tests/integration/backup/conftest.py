"""The CLI store fixture of the audit tests, shared with the backup tests."""

from tests.integration.audit.conftest import cli_store  # noqa: F401
