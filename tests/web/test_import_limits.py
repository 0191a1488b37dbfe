"""POST /api/v1/imports under attack: authentication before the body is read, a size cap while streaming,
the type sniffed from the content, zip bombs refused, formula-safe rejects downloads."""

from __future__ import annotations

import asyncio
import csv
import io

import pytest
from fastapi.testclient import TestClient

from carnet.config import Settings
from carnet.kit.csvsafe import restore
from carnet.web.app import create_app
from tests import hostile_files as hostile
from tests.web.conftest import bearer
from tests.web.test_api import IMPORT_HEADER, assert_problem, snapshot

CHUNK = 64 << 10
BOUNDARY = "carnet-test-boundary"


def multipart_start(name: str) -> bytes:
    return (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n'
        "Content-Type: text/csv\r\n\r\n"
    ).encode() + IMPORT_HEADER.encode()


def post_streamed(app, *, total_bytes: int, headers: dict[str, str], content_length: bool = False) -> tuple[int, int]:
    """POST a body of `total_bytes` straight to the ASGI app; returns the status and the bytes it consumed."""
    consumed = 0
    sent = 0
    first = multipart_start("censo.csv")

    async def receive() -> dict:
        nonlocal consumed, sent
        if sent >= total_bytes:
            return {"type": "http.request", "body": b"", "more_body": False}
        chunk = first if sent == 0 else b"Ana,Paz,1990-01-01,VE-A,\n" * (CHUNK // 25)
        sent += len(chunk)
        consumed += len(chunk)
        return {"type": "http.request", "body": chunk, "more_body": sent < total_bytes}

    messages: list[dict] = []

    async def send(message: dict) -> None:
        messages.append(message)

    raw_headers = [(b"host", b"testserver"), (b"content-type", f"multipart/form-data; boundary={BOUNDARY}".encode())]
    raw_headers += [(k.lower().encode(), v.encode()) for k, v in headers.items()]
    if content_length:
        raw_headers.append((b"content-length", str(total_bytes).encode()))
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
        "path": "/api/v1/imports", "raw_path": b"/api/v1/imports", "query_string": b"", "root_path": "",
        "headers": raw_headers, "client": ("127.0.0.1", 50000), "server": ("testserver", 80), "state": {},
    }  # fmt: skip
    asyncio.run(app(scope, receive, send))
    start = next(m for m in messages if m["type"] == "http.response.start")
    return start["status"], consumed


@pytest.fixture()
def small_app(tmp_path, session_factory):
    """The app with a 256 KB upload cap, started (its lifespan run) by a test client."""
    app = create_app(Settings(data_dir=tmp_path, max_upload_bytes=256 << 10), session_factory=session_factory)
    with TestClient(app):
        yield app


@pytest.fixture()
def registrar_auth(make_user) -> dict[str, str]:
    return bearer(make_user("registrar"))


class TestBodyNotReadBeforeAuthentication:
    def test_an_anonymous_200_mb_upload_is_answered_401_having_read_almost_nothing(self, small_app):
        status, consumed = post_streamed(small_app, total_bytes=200 << 20, headers={})
        assert status == 401
        assert consumed <= 2 * CHUNK

    def test_a_caller_without_the_permission_is_refused_before_the_body(self, small_app, make_user):
        status, consumed = post_streamed(small_app, total_bytes=200 << 20, headers=bearer(make_user("auditor")))
        assert status == 403
        assert consumed <= 2 * CHUNK

    def test_an_authenticated_upload_over_the_cap_is_cut_off_while_streaming(self, small_app, registrar_auth):
        status, consumed = post_streamed(small_app, total_bytes=200 << 20, headers=registrar_auth)
        assert status == 413
        # The cap plus the form's allowance, never the 200 MB.
        assert consumed <= (256 << 10) + (1 << 20) + 2 * CHUNK

    def test_a_declared_length_over_the_cap_is_refused_unread(self, small_app, registrar_auth):
        status, consumed = post_streamed(small_app, total_bytes=200 << 20, headers=registrar_auth, content_length=True)
        assert status == 413 and consumed == 0


class TestUploadChecks:
    def upload(self, client, auth, content: bytes, name: str):
        return client.post("/api/v1/imports", files={"file": (name, content, "application/octet-stream")}, headers=auth)

    def test_upload_too_large_is_a_problem_with_its_code(self, small_app, registrar_auth):
        with TestClient(small_app) as client:
            big = (IMPORT_HEADER + "Ana,Paz,1990-01-01,VE-A,\n" * 20_000).encode()
            assert_problem(self.upload(client, registrar_auth, big, "censo.csv"), 413, "upload_too_large")

    @pytest.mark.parametrize(
        ("content", "name"),
        [
            (IMPORT_HEADER.encode(), "censo.xlsx"),
            (b"\x89PNG\r\n\x1a\n....", "censo.csv"),
            (b"PK\x03\x04zip", "censo.csv"),
        ],
    )
    def test_content_that_is_not_what_the_name_says_is_415(self, client, session, registrar_auth, content, name):
        before = snapshot(session)
        assert_problem(self.upload(client, registrar_auth, content, name), 415, "upload_type_mismatch")
        assert snapshot(session) == before

    def test_a_zip_bomb_is_refused_and_leaves_nothing(self, client, session, registrar_auth, tmp_path):
        bomb = hostile.zip_bomb_one_huge_cell(tmp_path / "bomb.xlsx", megabytes=210).read_bytes()
        before = snapshot(session)
        response = self.upload(client, registrar_auth, bomb, "censo.xlsx")
        assert_problem(response, 413, "import_too_large_uncompressed")
        assert snapshot(session) == before
        assert list((tmp_path / "imports").glob("*")) == []

    def test_billion_laughs_is_refused(self, client, registrar_auth, tmp_path):
        laughs = hostile.billion_laughs(tmp_path / "laughs.xlsx").read_bytes()
        assert_problem(self.upload(client, registrar_auth, laughs, "censo.xlsx"), 422, "import_xml_entities")

    def test_utf16_is_named_as_such(self, client, registrar_auth, tmp_path):
        content = hostile.utf16_csv(tmp_path / "c.csv").read_bytes()
        assert_problem(self.upload(client, registrar_auth, content, "censo.csv"), 415, "import_encoding_unsupported")


def test_the_rejects_download_neutralises_formulas(client, registrar_auth):
    hostile_names = ['=HYPERLINK("http://evil.example","x")', "@SUM(1)", "+1", "-1", "\t=1", "\r=1"]
    buffer = io.StringIO(newline="")
    csv.writer(buffer).writerows([name, "Gil", "31/02/1990", "VE-A", ""] for name in hostile_names)
    rows = buffer.getvalue()
    response = client.post(
        "/api/v1/imports", files={"file": ("censo.csv", (IMPORT_HEADER + rows).encode(), "text/csv")},
        headers=registrar_auth,
    )  # fmt: skip
    assert response.status_code == 201, response.text
    download = client.get(f"/api/v1/imports/{response.json()['id']}/rejects", headers=registrar_auth)
    assert download.status_code == 200
    lines = list(csv.reader(io.StringIO(download.text, newline="")))
    for line in lines:
        for cell in line:
            assert not cell or cell[0] not in "=+-@\t\r", cell
    assert {restore(line[4]) for line in lines[1:]} == set(hostile_names)
