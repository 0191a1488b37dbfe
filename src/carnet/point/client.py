"""The point agent's side of the network: enrol, pull manifests, push events; harmless to retry, every time.

Plain HTTP with the standard library: a tablet at a depot gets the fewest moving parts. Every request
after enrolment is signed by the device key (`distribution/device_auth.py`). The device deletes and
rewrites nothing on a failure: a lost answer costs a resend, and the server answers a resend with its
first acknowledgement.
"""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from carnet.distribution.device_auth import authorization
from carnet.kit.errors import AppError

TIMEOUT_S = 30
MAX_ANSWER_BYTES = 64 * 1024 * 1024


class ServerRefused(AppError):
    """The server answered with a refusal (its own code and message)."""


class ServerUnreachable(AppError):
    """No answer from the server: the point keeps working offline and tries again later."""

    def __init__(self, message: str) -> None:
        super().__init__(message=message, code="server_unreachable", status=503)


@dataclass(frozen=True)
class Answer:
    """One HTTP answer: its status, type and body."""

    status: int
    content_type: str
    body: bytes

    def json(self) -> Any:
        """The body as JSON."""
        return json.loads(self.body)


Transport = Callable[[urllib.request.Request], Answer]


def urllib_transport(request: urllib.request.Request) -> Answer:
    """Send a request with urllib; HTTP errors come back as answers, not exceptions."""
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:
            return Answer(response.status, response.headers.get("content-type", ""), response.read(MAX_ANSWER_BYTES))
    except urllib.error.HTTPError as error:
        return Answer(error.code, error.headers.get("content-type", ""), error.read(MAX_ANSWER_BYTES))
    except (urllib.error.URLError, TimeoutError, ConnectionError, OSError) as error:
        raise ServerUnreachable(f"{request.full_url}: {getattr(error, 'reason', error)}") from None


def b64(data: bytes) -> str:
    """Unpadded base64url, as the API carries bytes."""
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def unb64(text: str) -> bytes:
    """The bytes of unpadded base64url text."""
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _refusal(answer: Answer) -> ServerRefused:
    try:
        problem = answer.json()
        code, message = str(problem.get("code", "http_error")), str(problem.get("detail") or problem.get("title"))
    except (ValueError, AttributeError):
        code, message = "http_error", f"HTTP {answer.status}"
    return ServerRefused(message=message, code=code, status=answer.status)


class ServerLink:
    """The server as one device sees it."""

    def __init__(self, base_url: str, *, transport: Transport = urllib_transport) -> None:
        self.base_url = base_url.rstrip("/")
        self.transport = transport

    def _send(self, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None) -> Answer:
        request = urllib.request.Request(self.base_url + path, data=body or None, method=method,
                                         headers={"accept": "application/json", **(headers or {})})  # fmt: skip
        return self.transport(request)

    def enroll(self, *, code: str, public_key: bytes, box_key: bytes, signature: bytes, label: str | None) -> dict:
        """Enrol this device with its one-time code; the server's answer (device, point, trusted keys)."""
        body = json.dumps({"code": code, "public_key": b64(public_key), "box_key": b64(box_key),
                           "signature": b64(signature), "label": label}).encode()  # fmt: skip
        answer = self._send("POST", "/api/v1/devices/enroll", body, {"content-type": "application/json"})
        if answer.status != 201:
            raise _refusal(answer)
        return answer.json()

    def signed(
        self, method: str, path: str, *, device_id: uuid.UUID, sign: Callable[[bytes], bytes], now: int,
        body: bytes = b"",
    ) -> Answer:  # fmt: skip
        """A request signed by the device."""
        header = authorization(device_id=device_id, method=method, path=path, body=body, timestamp=now, sign=sign)
        headers = {"authorization": header}
        if body:
            headers["content-type"] = "application/json"
        return self._send(method, path, body, headers)

    def manifest(
        self, *, point_id: uuid.UUID, device_id: uuid.UUID, since: int, sign: Callable[[bytes], bytes], now: int,
        cycle: str | None = None,
    ) -> bytes | None:  # fmt: skip
        """The newest manifest for this device (a delta from `since` when the server can), or None if none is newer."""
        path = f"/api/v1/points/{point_id}/manifest?device={device_id}&since={since}"
        if cycle is not None:
            path += f"&cycle={cycle}"
        answer = self.signed("GET", path, device_id=device_id, sign=sign, now=now)
        if answer.status == 204:
            return None
        if answer.status != 200:
            raise _refusal(answer)
        return answer.body

    def push(self, events: list[bytes], *, device_id: uuid.UUID, sign: Callable[[bytes], bytes], now: int) -> dict:
        """Send a batch of signed events; the server's acknowledgement."""
        body = json.dumps({"events": [b64(e) for e in events]}).encode()
        answer = self.signed("POST", "/api/v1/sync/events", device_id=device_id, sign=sign, now=now, body=body)
        if answer.status != 200:
            raise _refusal(answer)
        return answer.json()
