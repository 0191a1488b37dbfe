"""API fuzzing: Schemathesis against our own OpenAPI, through ASGI, as every role.

For each role (and anonymously) every operation gets a bounded number of generated requests. Checks: no
5xx, every response conforms to its documented schema and content type, and every error body is
problem+json with a code. The counts are printed (run with -s) and kept in SUMMARY for the closing note.
SQLite only: the fuzzer tests the web layer's contract, which does not depend on the database.
"""

from __future__ import annotations

import uuid
from datetime import date

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import content_type_conformance, response_schema_conformance
from sqlalchemy.orm import Session

from carnet.access.service import create_user, issue_api_token
from carnet.config import Settings
from carnet.db.session import make_engine, make_session_factory
from carnet.kit.actor import Actor
from carnet.kit.clock import utcnow
from carnet.registry import service as registry_service
from carnet.registry.schemas import PersonIn
from carnet.web.app import create_app
from tests.conftest import prepare_store
from tests.secrets_plugin import known_secrets
from tests.web.conftest import PASSWORD, PROBLEM_JSON, person_body

ROLES = ("admin", "registrar", "program_officer", "agent", "auditor", "merchant", "citizen", "anonymous")
EXAMPLES_PER_OPERATION = 10
CHECKS = [not_a_server_error, response_schema_conformance, content_type_conformance]
SUMMARY: dict[str, dict[str, int]] = {}


@pytest.fixture(scope="module")
def fuzzed(tmp_path_factory):  # type: ignore[no-untyped-def]
    """A store of its own (requests commit for real), one account per role, and the schema."""
    folder = tmp_path_factory.mktemp("fuzz")
    engine = make_engine(f"sqlite:///{folder / 'carnet.db'}")
    prepare_store(engine)
    factory = make_session_factory(engine)
    office = Actor(user_id=None, role="registrar", request_id="fuzz", purpose="registration", office="Fuzz")
    tokens: dict[str, str] = {}
    with factory() as session:
        person = registry_service.create_person(
            session, actor=office, data=PersonIn(**person_body()), today=date.today(), now=utcnow()
        )
        for role in ROLES[:-1]:
            extra = {"person_id": uuid.UUID(str(person["id"])), "created_via": "office"} if role == "citizen" else {}
            tokens[role] = _account(session, role, **extra)
        session.commit()
    settings_ = Settings(data_dir=folder, key_passphrase="fuzzing passphrase", pin_hash_memory_kib=64,
                         head_interval_seconds=0)  # fmt: skip
    known_secrets.add(settings_.key_passphrase)
    app = create_app(settings_, session_factory=factory)
    schema = schemathesis.openapi.from_asgi("/api/openapi.json", app)
    yield schema, tokens
    engine.dispose()


def _account(session: Session, role: str, **extra: object) -> str:
    user = create_user(session, username=f"fuzz-{role}", password=PASSWORD, role=role, now=utcnow(), **extra)  # type: ignore[arg-type]
    return issue_api_token(session, user=user, name="fuzz", now=utcnow())[1]


def problem_failure(response) -> str | None:  # type: ignore[no-untyped-def]
    """Why an error response is not problem+json with a code, or None."""
    if response.status_code < 400:
        return None
    if not response.headers.get("content-type", [""])[0].startswith(PROBLEM_JSON):
        return f"{response.status_code} with content type {response.headers.get('content-type')}"
    body = response.json()
    if not isinstance(body, dict) or not body.get("code"):
        return f"{response.status_code} problem without a code"
    return None


@pytest.mark.parametrize("role", ROLES)
def test_every_operation_as_every_role(fuzzed, role, capsys):
    schema, tokens = fuzzed
    headers = {} if role == "anonymous" else {"Authorization": f"Bearer {tokens[role]}"}
    counts = {"operations": 0, "examples": 0, "failures": 0, "2xx": 0, "4xx": 0, "5xx": 0}
    failures: list[str] = []
    for result in schema.get_all_operations():
        operation = result.ok()
        counts["operations"] += 1
        seen: set[str] = set()

        @settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, database=None, derandomize=True,
                  phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))  # fmt: skip
        # Valid requests and deliberately invalid ones (wrong types, missing fields, out-of-range values).
        @given(
            case=st.one_of(
                operation.as_strategy(GenerationMode.POSITIVE), operation.as_strategy(GenerationMode.NEGATIVE)
            )
        )
        def run(case):  # type: ignore[no-untyped-def]
            counts["examples"] += 1
            case.headers = {**(case.headers or {}), **headers}
            response = case.call()
            counts[f"{min(response.status_code // 100, 5)}xx"] = (
                counts.get(f"{min(response.status_code // 100, 5)}xx", 0) + 1
            )
            problems = []
            try:
                case.validate_response(response, checks=CHECKS)
            except (
                Exception,
                BaseExceptionGroup,
            ) as exc:  # a check failed: keep going, report every operation at the end
                problems.append(str(exc).strip().splitlines()[0][:200])
            if (why := problem_failure(response)) is not None:
                problems.append(why)
            for problem in problems:
                key = f"{operation.label}: {problem}"  # noqa: B023 (run() is called within this iteration)
                if key not in seen:  # noqa: B023
                    seen.add(key)  # noqa: B023
                    failures.append(f"{key} (status {response.status_code})")

        run()
        counts["failures"] += len(seen)
    SUMMARY[role] = counts
    with capsys.disabled():
        print(
            f"\nschemathesis {role}: {counts['operations']} operations, {counts['examples']} examples, "
            f"{counts['failures']} failures; answers {counts['2xx']} 2xx, {counts['4xx']} 4xx, {counts['5xx']} 5xx"
        )
        if len(SUMMARY) == len(ROLES):
            total = {k: sum(c[k] for c in SUMMARY.values()) for k in counts}
            print(f"schemathesis total: {total['operations']} operation runs over {len(ROLES)} roles, "
                  f"{total['examples']} examples, {total['failures']} failures")  # fmt: skip
    assert failures == [], "\n".join(failures)
