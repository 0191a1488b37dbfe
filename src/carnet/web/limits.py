"""Request-size limits enforced before the application reads a body (a pure ASGI middleware).

A body is refused with 413 as soon as its declared length or the bytes actually received pass the cap, so
neither a huge Content-Length nor a chunked stream is ever read beyond it. Uploads to the import route have
a larger cap, granted only after the request's credentials are checked: an anonymous upload gets its 401
before a single byte of it is read. JSON bodies are bounded in nesting depth before any parser sees them.
"""

from __future__ import annotations

import json
import re
from typing import Any

from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from carnet.access.policy import Permission, require_permission
from carnet.access.service import actor_for
from carnet.config import Settings
from carnet.kit.errors import AppError
from carnet.kit.i18n import describe
from carnet.web.deps import authenticated_user
from carnet.web.errors import PROBLEM, problem_body, title_for

IMPORT_UPLOAD = ("POST", "/api/v1/imports")
# Room for the multipart framing and a mapping file beside the file itself (`max_upload_bytes`).
UPLOAD_FORM_OVERHEAD_BYTES = 1 << 20
_JSON_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_BRACKET = re.compile(rb"[\[\]{}]")


class BodyTooLarge(AppError):
    """The request body is larger than this route accepts."""

    def __init__(self, limit: int) -> None:
        super().__init__(
            message=f"the request body is larger than {limit} bytes",
            code="body_too_large",
            status=413,
            extra={"limit_bytes": limit},
        )


def json_depth(body: bytes) -> int:
    """How deeply arrays and objects nest in a JSON text (strings skipped; malformed text is the parser's job)."""
    depth = deepest = 0
    for match in _BRACKET.finditer(_JSON_STRING.sub(b'""', body)):
        if match.group() in (b"[", b"{"):
            depth += 1
            deepest = max(deepest, depth)
        else:
            depth -= 1
    return deepest


def _is_json(content_type: str) -> bool:
    # FastAPI parses a body without a content type as JSON, so it is checked as JSON too.
    media = content_type.split(";", 1)[0].strip().lower()
    return not media or media == "application/json" or media.endswith("+json")


class BodyLimits:
    """Refuse oversized or too deeply nested bodies, and anonymous uploads, before the app reads them."""

    def __init__(self, app: ASGIApp, *, settings: Settings, session_factory: sessionmaker[Session]) -> None:
        self.app = app
        self.settings = settings
        self.session_factory = session_factory

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        try:
            receive = await self._guarded_receive(scope, receive)
        except AppError as error:
            await _send_problem(scope, send, error)
            return
        await self._run_counted(scope, receive, send)

    async def _guarded_receive(self, scope: Scope, receive: Receive) -> Receive:
        request = Request(scope)
        upload = (request.method, request.url.path.rstrip("/")) == IMPORT_UPLOAD
        limit = self.settings.max_upload_bytes + UPLOAD_FORM_OVERHEAD_BYTES if upload else self.settings.max_body_bytes
        declared = request.headers.get("content-length")
        if declared is not None:
            if not declared.isdigit() or len(declared) > 18:
                raise AppError("Content-Length must be a number of bytes", code="invalid_content_length")
            if int(declared) > limit:
                raise BodyTooLarge(limit)
        if upload:
            await run_in_threadpool(self._may_upload, request)
        if request.method in ("GET", "HEAD", "OPTIONS", "DELETE") and declared is None:
            scope["carnet.body_limit"] = limit
            return receive
        if not upload and _is_json(request.headers.get("content-type", "")):
            body = await _read_at_most(receive, limit)
            if json_depth(body) > self.settings.max_json_depth:
                raise AppError(
                    f"the JSON body nests deeper than {self.settings.max_json_depth} levels",
                    code="json_too_deep",
                    status=422,
                    extra={"limit_depth": self.settings.max_json_depth},
                )
            return _replay(body)
        scope["carnet.body_limit"] = limit
        return receive

    def _may_upload(self, request: Request) -> None:
        # The same checks the route's dependency makes, made before the upload is read.
        with self.session_factory() as session:
            user = authenticated_user(session, request)
            actor = actor_for(user, request_id="", purpose="none")
            require_permission(actor, Permission.IMPORTS_RUN)
            session.rollback()

    async def _run_counted(self, scope: Scope, receive: Receive, send: Send) -> None:
        limit = scope.get("carnet.body_limit")
        if limit is None:
            await self.app(scope, receive, send)
            return
        state = {"received": 0, "over": False, "started": False}

        async def counted_receive() -> Message:
            if state["over"]:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                state["received"] += len(message.get("body", b""))
                if state["received"] > limit:
                    # The app sees a client that went away; its answer is replaced by the 413 below.
                    state["over"] = True
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: Message) -> None:
            if state["over"]:
                return
            if message["type"] == "http.response.start":
                state["started"] = True
            await send(message)

        try:
            await self.app(scope, counted_receive, guarded_send)
        except Exception:
            if not state["over"]:
                raise
        if state["over"]:
            await _send_problem(scope, send, BodyTooLarge(limit))


async def _read_at_most(receive: Receive, limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge(limit)
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _replay(body: bytes) -> Receive:
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return receive


async def _send_problem(scope: Scope, send: Send, error: AppError) -> None:
    state: dict[str, Any] = scope.get("state") or {}
    body = problem_body(
        status=error.status,
        code=error.code,
        title=title_for(error.status),
        detail=describe(error.code, error.message),
        instance=scope.get("path", ""),
        request_id=state.get("request_id"),
        **error.extra,
    )
    payload = json.dumps(body, ensure_ascii=False).encode()
    headers = [(b"content-type", PROBLEM.encode()), (b"content-length", str(len(payload)).encode())]
    if error.status == 401:
        headers.append((b"www-authenticate", b"Bearer"))
    # The rest of the body is not read; the connection is closed rather than drained.
    headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": error.status, "headers": headers})
    await send({"type": "http.response.body", "body": payload})
