"""Request limits: bodies are refused before they are read, uploads only after authentication, JSON depth, pages."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from carnet.config import Settings
from carnet.web.app import create_app
from carnet.web.limits import UPLOAD_FORM_OVERHEAD_BYTES, json_depth
from tests.conftest import count_rows
from tests.web.conftest import PROBLEM_JSON, asgi_request, bearer

CHUNK = 64 * 1024
BODY_CAP = 256 * 1024
UPLOAD_CAP = 2 * 1024 * 1024


def hostile_chunks(total: int, chunk: bytes = b"x" * CHUNK):
    """`total` bytes in chunks, made lazily: the generator never holds the whole body."""
    for _ in range(total // len(chunk)):
        yield chunk


@pytest.fixture()
def app(tmp_path, session_factory):
    """An app with small caps, so a test can pass them with a few chunks."""
    limits = Settings(
        data_dir=tmp_path,
        max_body_bytes=BODY_CAP,
        max_upload_bytes=UPLOAD_CAP - UPLOAD_FORM_OVERHEAD_BYTES,
        max_json_depth=32,
    )
    return create_app(limits, session_factory=session_factory)


def assert_problem(answer, status: int, code: str) -> None:
    assert answer.status == status, (answer.status, answer.body[:300])
    assert answer.headers["content-type"].startswith(PROBLEM_JSON)
    assert answer.json()["code"] == code


class TestBodySize:
    def test_declared_length_over_the_cap_is_413_with_nothing_read(self, app, session):
        tokens = count_rows(session, "api_tokens")
        answer = asgi_request(
            app,
            "POST",
            "/api/v1/auth/tokens",
            headers={"content-type": "application/json", "content-length": str(50 * 1024 * 1024)},
            chunks=hostile_chunks(50 * 1024 * 1024),
        )
        assert_problem(answer, 413, "body_too_large")
        assert answer.json()["limit_bytes"] == BODY_CAP
        assert answer.bytes_read == 0
        assert count_rows(session, "api_tokens") == tokens

    def test_a_50_mb_chunked_login_is_refused_after_reading_at_most_the_cap(self, app):
        answer = asgi_request(
            app,
            "POST",
            "/api/v1/auth/tokens",
            headers={"content-type": "application/json"},
            chunks=hostile_chunks(50 * 1024 * 1024, b"[" * CHUNK),
        )
        assert_problem(answer, 413, "body_too_large")
        assert answer.bytes_read <= BODY_CAP + CHUNK

    def test_a_chunked_non_json_body_is_cut_at_the_cap(self, app, make_user):
        token = make_user("registrar")
        answer = asgi_request(
            app,
            "POST",
            "/api/v1/persons",
            headers={"content-type": "application/x-www-form-urlencoded"} | bearer(token),
            chunks=hostile_chunks(20 * 1024 * 1024),
        )
        assert_problem(answer, 413, "body_too_large")
        assert answer.bytes_read <= BODY_CAP + CHUNK

    def test_a_body_within_the_cap_reaches_the_route(self, app):
        body = json.dumps({"username": "nobody", "password": "x" * 100}).encode()
        answer = asgi_request(
            app,
            "POST",
            "/api/v1/auth/tokens",
            headers={"content-type": "application/json", "content-length": str(len(body))},
            chunks=[body],
        )
        assert_problem(answer, 401, "bad_credentials")

    @pytest.mark.parametrize("declared", ["-1", "12abc", "9" * 30])
    def test_a_malformed_content_length_is_400(self, app, declared):
        answer = asgi_request(app, "POST", "/api/v1/auth/tokens", headers={"content-length": declared}, chunks=[b"{}"])
        assert_problem(answer, 400, "invalid_content_length")
        assert answer.bytes_read == 0


class TestUploads:
    def upload(self, app, headers: dict[str, str], size: int, declared: bool = True):
        boundary = "carnetboundary"
        head = (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="big.csv"\r\n'
            "Content-Type: text/csv\r\n\r\ngiven_names,family_names,date_of_birth,region_code\r\n"
        ).encode()
        tail = f"\r\n--{boundary}--\r\n".encode()
        rows = b"Ana,Paz,1990-01-01,VE-A\n" * 2048
        chunks = [head, *hostile_chunks(size, rows), tail]
        length = {"content-length": str(len(head) + len(rows) * (size // len(rows)) + len(tail))} if declared else {}
        return asgi_request(
            app,
            "POST",
            "/api/v1/imports",
            headers={"content-type": f"multipart/form-data; boundary={boundary}"} | length | headers,
            chunks=chunks,
        )

    def test_an_anonymous_upload_is_401_before_a_byte_is_read(self, app, session):
        answer = self.upload(app, {}, 900 * 1024)
        assert_problem(answer, 401, "unauthenticated")
        assert answer.headers["www-authenticate"] == "Bearer"
        assert answer.bytes_read == 0
        assert count_rows(session, "import_runs") == 0

    def test_an_unknown_token_is_401_before_a_byte_is_read(self, app):
        answer = self.upload(app, bearer("cnt_forged"), 900 * 1024, declared=False)
        assert_problem(answer, 401, "invalid_token")
        assert answer.bytes_read == 0

    def test_a_role_that_may_not_import_is_403_before_a_byte_is_read(self, app, make_user):
        answer = self.upload(app, bearer(make_user("merchant")), 900 * 1024)
        assert_problem(answer, 403, "permission_denied")
        assert answer.bytes_read == 0

    def test_the_upload_cap_is_the_larger_one_and_still_bounded(self, app, make_user, session):
        token = make_user("registrar")
        declared = self.upload(app, bearer(token), 2 * UPLOAD_CAP)
        assert_problem(declared, 413, "body_too_large")
        assert declared.json()["limit_bytes"] == UPLOAD_CAP
        assert declared.bytes_read == 0
        streamed = self.upload(app, bearer(token), 8 * UPLOAD_CAP, declared=False)
        assert_problem(streamed, 413, "body_too_large")
        assert streamed.bytes_read <= UPLOAD_CAP + 64 * 1024
        assert count_rows(session, "import_runs") == 0

    def test_an_authenticated_upload_over_the_body_cap_but_within_the_upload_cap_is_imported(self, app, make_user):
        answer = self.upload(app, bearer(make_user("registrar")), BODY_CAP + 64 * 1024)
        assert answer.status == 201, answer.body[:300]
        assert answer.bytes_read > BODY_CAP
        summary = answer.json()
        assert summary["rows_total"] == 6 * 2048, summary


def nested(depth: int) -> bytes:
    return ("[" * depth + "]" * depth).encode()


class TestJsonDepth:
    def test_deeper_than_the_cap_is_422_json_too_deep_and_changes_nothing(self, app, make_user, session):
        token = make_user("registrar")
        persons = count_rows(session, "persons")
        body = b'{"given_names": ' + nested(33) + b"}"
        answer = asgi_request(
            app, "POST", "/api/v1/persons", headers={"content-type": "application/json"} | bearer(token), chunks=[body]
        )
        assert_problem(answer, 422, "json_too_deep")
        assert answer.json()["limit_depth"] == 32
        assert count_rows(session, "persons") == persons

    def test_at_the_cap_the_route_decides(self, app, make_user):
        token = make_user("registrar")
        body = b'{"given_names": ' + nested(31) + b"}"
        answer = asgi_request(
            app, "POST", "/api/v1/persons", headers={"content-type": "application/json"} | bearer(token), chunks=[body]
        )
        assert_problem(answer, 422, "validation_failed")

    def test_brackets_inside_strings_do_not_count(self):
        assert json_depth(b'{"a": "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[\\"[[[["}') == 1
        assert json_depth(b"") == 0
        assert json_depth(b"[[],[[]]]") == 3


def depth_of(value: object) -> int:
    if isinstance(value, list):
        return 1 + max((depth_of(v) for v in value), default=0)
    if isinstance(value, dict):
        return 1 + max((depth_of(v) for v in value.values()), default=0)
    return 0


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(alphabet='[]{}"\\ab,:', max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(alphabet='[]{}"\\k', max_size=4), inner, max_size=3)
    ),
    max_leaves=20,
)


@settings(max_examples=60, deadline=None)
@given(json_values)
def test_json_depth_is_the_nesting_of_any_json_document(value):
    assert json_depth(json.dumps(value).encode()) == depth_of(value)


class TestPagination:
    """Page sizes above the maximum are refused (422), never clamped; cursors are ids, not offsets."""

    @pytest.mark.parametrize("page_size", ["201", "0", "-1", "99999999999999999999"])
    def test_page_size_outside_1_to_200_is_422(self, client, make_user, page_size):
        token = make_user("registrar")
        for path in ("/api/v1/persons", "/api/v1/households"):
            response = client.get(path, params={"page_size": page_size}, headers=bearer(token))
            assert response.status_code == 422, (path, response.text)
            assert response.json()["errors"][0]["field"] == "page_size"

    @pytest.mark.parametrize("limit", ["201", "0", "-5"])
    def test_import_list_limit_outside_1_to_200_is_422(self, client, make_user, limit):
        response = client.get("/api/v1/imports", params={"limit": limit}, headers=bearer(make_user("registrar")))
        assert response.status_code == 422

    @pytest.mark.parametrize("cursor", ["-1", "100000000000000000000", "not-a-cursor"])
    def test_a_cursor_that_is_not_one_of_ours_is_400(self, client, make_user, cursor):
        response = client.get("/api/v1/persons", params={"cursor": cursor}, headers=bearer(make_user("registrar")))
        assert response.status_code == 400
        assert response.json()["code"] == "invalid_cursor"

    @pytest.mark.parametrize(
        "path",
        [
            "/api/v1/audit/proofs/inclusion?leaf=-1&size=1",
            "/api/v1/audit/proofs/inclusion?leaf=0&size=99999999999999999999999",
            "/api/v1/audit/proofs/consistency?first=1&second=99999999999999999999999",
            "/api/v1/status-lists/99999999999999999999999",
        ],
    )
    def test_negative_and_huge_positions_are_refused_not_a_crash(self, client, path):
        response = client.get(path)
        assert 400 <= response.status_code < 500, response.text
        assert response.headers["content-type"].startswith(PROBLEM_JSON)
