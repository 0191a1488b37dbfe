"""Security headers on every route the app serves, errors and refusals included; credentials never in URLs."""

from __future__ import annotations

import logging
import re
import uuid

import pytest
from fastapi.testclient import TestClient

from carnet.config import Settings
from carnet.web.app import create_app, served_routes
from carnet.web.security import CONTENT_SECURITY_POLICY, QueryStringRedaction
from tests.web.conftest import PROBLEM_JSON, bearer, person_body

CSP_DIRECTIVES = {
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "frame-ancestors 'none'",
    "form-action 'self'",
}
# Written out by hand: the documents anyone may fetch and cache (no personal data in them).
PUBLICLY_CACHEABLE = {
    "/.well-known/carnet/issuer-keys",
    "/.well-known/carnet/jwks.json",
    "/api/v1/status-lists/{list_id}",
    "/api/v1/audit/heads/latest",
    "/api/v1/audit/keys",
    "/api/v1/audit/proofs/inclusion",
    "/api/v1/audit/proofs/consistency",
    "/static",
}
QUERIES = {
    "/api/v1/audit/proofs/inclusion": "?leaf=0&size=1",
    "/api/v1/audit/proofs/consistency": "?first=1&second=1",
}


def assert_security_headers(response, *, https: bool = False) -> None:
    headers = response.headers
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "no-referrer"
    assert headers["x-frame-options"] == "DENY"
    assert {d.strip() for d in headers["content-security-policy"].split(";")} == CSP_DIRECTIVES
    assert headers["x-request-id"]
    assert ("strict-transport-security" in headers) is https
    if https:
        assert headers["strict-transport-security"].startswith("max-age=31536000")


def concrete(path: str) -> str:
    url = re.sub(r"\{list_id\}", "1", path)
    url = re.sub(r"\{[^}]+\}", lambda _: str(uuid.uuid4()), url)
    return url + QUERIES.get(path, "")


class TestEveryRoute:
    def test_every_served_route_answers_with_the_headers(self, client, make_user):
        token = make_user("registrar")
        routes = served_routes(client.app)
        assert len(routes) > 30
        public_ok = 0
        for method, path in routes:
            for headers in ({}, bearer(token)):
                url = "/static/vendor/assets.lock.json" if path == "/static" else concrete(path)
                response = client.request(method, url, headers=headers, json={} if method != "GET" else None)
                assert response.status_code < 500, (method, path, response.text)
                assert_security_headers(response)
                cache = response.headers["cache-control"]
                if path in PUBLICLY_CACHEABLE and response.status_code < 400:
                    assert cache.startswith("public"), (method, path, cache)
                    public_ok += 1
                else:
                    assert cache == "no-store", (method, path, response.status_code, cache)
        assert public_ok >= 4

    def test_personal_data_is_no_store(self, client, make_user):
        token = make_user("registrar")
        created = client.post("/api/v1/persons", json=person_body(), headers=bearer(token))
        assert created.status_code == 201
        response = client.get(f"/api/v1/persons/{created.json()['id']}", headers=bearer(token))
        assert response.status_code == 200
        assert response.headers["cache-control"] == "no-store"
        assert_security_headers(response)

    @pytest.mark.parametrize(
        "method, path", [("GET", "/no/such/route"), ("DELETE", "/api/v1/persons"), ("POST", "/api/v1/auth/tokens")]
    )
    def test_framework_errors_carry_the_headers(self, client, method, path):
        response = client.request(method, path, content=b"[" * 100, headers={"content-type": "application/json"})
        assert response.status_code >= 400
        assert_security_headers(response)
        assert response.headers["cache-control"] == "no-store"

    def test_a_500_carries_the_headers_and_only_a_code_and_a_correlation_id(self, tmp_path, session_factory):
        app = create_app(Settings(data_dir=tmp_path), session_factory=session_factory)

        @app.get("/boom")
        def boom() -> None:
            raise RuntimeError("secret internals: password=hunter2")

        with TestClient(app, raise_server_exceptions=False) as client:
            response = client.get("/boom", headers={"X-Request-Id": "trace-42"})
        assert response.status_code == 500
        assert_security_headers(response)
        body = response.json()
        assert response.headers["content-type"].startswith(PROBLEM_JSON)
        assert body["code"] == "internal_error" and body["request_id"] == "trace-42"
        assert "hunter2" not in response.text and "RuntimeError" not in response.text


class TestTransport:
    def test_hsts_over_https_only(self, tmp_path, session_factory):
        app = create_app(Settings(data_dir=tmp_path), session_factory=session_factory)
        with TestClient(app, base_url="https://carnet.test") as client:
            assert_security_headers(client.get("/healthz"), https=True)
        with TestClient(app) as client:
            assert_security_headers(client.get("/healthz"), https=False)
            # An untrusted X-Forwarded-Proto is ignored: anyone can send it.
            assert_security_headers(client.get("/healthz", headers={"X-Forwarded-Proto": "https"}), https=False)

    def test_hsts_behind_a_trusted_proxy(self, tmp_path, session_factory):
        trusted = Settings(data_dir=tmp_path, trust_forwarded_proto=True)
        with TestClient(create_app(trusted, session_factory=session_factory)) as client:
            assert_security_headers(client.get("/healthz", headers={"X-Forwarded-Proto": "https"}), https=True)
            assert_security_headers(client.get("/healthz"), https=False)

    def test_the_policy_is_the_strict_one(self):
        assert {d.strip() for d in CONTENT_SECURITY_POLICY.split(";")} == CSP_DIRECTIVES


class TestCredentialsInUrls:
    @pytest.mark.parametrize("parameter", ["access_token", "token", "TOKEN", "api_key", "password", "pin"])
    def test_a_credential_in_the_query_string_is_refused(self, client, parameter):
        # Not a registered secret: the test client logs the URL it calls, and the scan would rightly flag it.
        token = "cnt_" + uuid.uuid4().hex
        response = client.get(f"/api/v1/persons?{parameter}={token}")
        assert response.status_code == 400
        assert response.json()["code"] == "credentials_in_url"
        assert token not in response.text
        assert_security_headers(response)

    def test_access_log_lines_lose_their_query_string(self):
        record = logging.LogRecord(
            "uvicorn.access", logging.INFO, __file__, 1, '%s - "%s %s HTTP/%s" %d', (
                "127.0.0.1:5000", "GET", "/api/v1/persons?q=P%C3%A9rez&cursor=abc", "1.1", 200
            ), None,
        )  # fmt: skip
        assert QueryStringRedaction().filter(record)
        assert record.getMessage() == '127.0.0.1:5000 - "GET /api/v1/persons?[redacted] HTTP/1.1" 200'

    def test_the_filter_is_installed_on_uvicorns_access_logger(self, client):
        assert any(isinstance(f, QueryStringRedaction) for f in logging.getLogger("uvicorn.access").filters)


class TestNoSecretsInProblems:
    MARKER = "Zq9-secret-marker-7731"

    @pytest.mark.parametrize(
        "path, body",
        [
            ("/api/v1/auth/tokens", {"username": "nobody", "password": MARKER}),
            ("/api/v1/auth/tokens", {"username": "nobody", "password": MARKER * 20}),
            ("/api/v1/auth/tokens", {"username": ["x"], "password": MARKER}),
            ("/api/v1/auth/session", {"username": "nobody", "password": MARKER, "extra": MARKER}),
            ("/api/v1/auth/tokens", {"username": MARKER * 5, "password": [MARKER]}),
        ],
    )
    def test_a_refused_sign_in_never_echoes_the_password(self, client, path, body):
        response = client.post(path, json=body)
        assert 400 <= response.status_code < 500
        assert response.headers["content-type"].startswith(PROBLEM_JSON)
        assert self.MARKER not in response.text

    def test_a_refused_account_never_echoes_its_password(self, client, make_user):
        admin = make_user("admin")
        for body in (
            {"username": "x", "password": self.MARKER, "role": "emperor"},
            {"username": "x" * 65, "password": self.MARKER, "role": "registrar"},
            {"username": "x", "password": self.MARKER * 20, "role": "registrar"},
        ):
            response = client.post("/api/v1/users", json=body, headers=bearer(admin))
            assert 400 <= response.status_code < 500, response.text
            assert self.MARKER not in response.text

    def test_a_refused_token_is_not_quoted(self, client):
        response = client.get("/api/v1/persons", headers=bearer("cnt_" + self.MARKER))
        assert response.status_code == 401
        assert self.MARKER not in response.text
