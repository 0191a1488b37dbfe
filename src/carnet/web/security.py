"""The edge of every response: a correlation id, the language, and the security headers (pure ASGI).

Every response, errors and framework answers included, carries nosniff, no-referrer, DENY framing and a
strict Content-Security-Policy; everything except the published, non-personal documents (issuer keys,
status lists, tree heads, proofs, vendored assets) is `Cache-Control: no-store`, so no shared or browser
cache keeps a page of personal data. HSTS is sent when the request came over TLS.
"""

from __future__ import annotations

import json
import logging
import re
import secrets
from urllib.parse import parse_qsl

from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from carnet.kit.i18n import describe, negotiate, set_language
from carnet.web.errors import PROBLEM, problem_body, title_for

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; object-src 'none'; base-uri 'none'; "
    "frame-ancestors 'none'; form-action 'self'"
)
STRICT_TRANSPORT_SECURITY = "max-age=31536000; includeSubDomains"
# Published for anyone to check cards and the log: hashes, public keys, revocation bits, our own scripts.
PUBLIC_CACHEABLE = re.compile(
    r"^(/\.well-known/carnet/|/api/v1/status-lists/|/api/v1/audit/(heads/latest|keys|proofs/)|/static/)"
)
DEFAULT_PUBLIC_CACHE = "public, max-age=300"
# A credential in a URL ends up in access logs, proxies and browser history: such requests are refused.
CREDENTIAL_PARAMETERS = frozenset({"access_token", "token", "api_key", "apikey", "password", "pin", "session"})


def response_cache_control(path: str, status: int, declared: str | None) -> str:
    """The Cache-Control a response gets: public documents may be cached, everything else never."""
    if status < 400 and PUBLIC_CACHEABLE.match(path):
        return declared or DEFAULT_PUBLIC_CACHE
    return "no-store"


class SecurityHeaders:
    """Outermost layer: request id and language in, security headers out, credentials in URLs refused."""

    def __init__(self, app: ASGIApp, *, trust_forwarded_proto: bool = False) -> None:
        self.app = app
        self.trust_forwarded_proto = trust_forwarded_proto

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        request_id = (headers.get("x-request-id", "")[:64] or secrets.token_hex(8)).strip() or secrets.token_hex(8)
        scope.setdefault("state", {})["request_id"] = request_id
        set_language(negotiate(headers.get("accept-language")))
        path = scope.get("path", "")
        https = scope.get("scheme") == "https" or (
            self.trust_forwarded_proto and headers.get("x-forwarded-proto", "").lower() == "https"
        )

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                out = MutableHeaders(scope=message)
                out["X-Request-Id"] = request_id
                out["X-Content-Type-Options"] = "nosniff"
                out["Referrer-Policy"] = "no-referrer"
                out["X-Frame-Options"] = "DENY"
                out["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
                out["Cache-Control"] = response_cache_control(path, message["status"], out.get("cache-control"))
                if https:
                    out["Strict-Transport-Security"] = STRICT_TRANSPORT_SECURITY
            await send(message)

        query = scope.get("query_string", b"").decode("latin-1")
        named = {name.lower() for name, _ in parse_qsl(query, keep_blank_values=True)}
        if named & CREDENTIAL_PARAMETERS:
            await _refuse_credentials_in_url(path, request_id, send_with_headers)
            return
        await self.app(scope, receive, send_with_headers)


async def _refuse_credentials_in_url(path: str, request_id: str, send: Send) -> None:
    body = problem_body(
        status=400,
        code="credentials_in_url",
        title=title_for(400),
        detail=describe("credentials_in_url", "credentials are never accepted in a URL; send them in a header"),
        instance=path,
        request_id=request_id,
    )
    payload = json.dumps(body, ensure_ascii=False).encode()
    headers = [(b"content-type", PROBLEM.encode()), (b"content-length", str(len(payload)).encode())]
    await send({"type": "http.response.start", "status": 400, "headers": headers})
    await send({"type": "http.response.body", "body": payload})


class QueryStringRedaction(logging.Filter):
    """Drops the query string from uvicorn's access log lines (it may carry what a client should not send)."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) >= 3 and isinstance(args[2], str) and "?" in args[2]:
            record.args = (*args[:2], args[2].split("?", 1)[0] + "?[redacted]", *args[3:])
        return True


def redact_access_log() -> None:
    """Install QueryStringRedaction on uvicorn's access logger once per process."""
    logger = logging.getLogger("uvicorn.access")
    if not any(isinstance(f, QueryStringRedaction) for f in logger.filters):
        logger.addFilter(QueryStringRedaction())
