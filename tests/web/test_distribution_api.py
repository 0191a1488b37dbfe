"""Distribution over HTTP: a device enrols, pulls, redeems offline and syncs through the real routes.

The point agent talks to the app through a transport that hands its urllib requests to the test client,
so every byte it signs is the byte the server checks.
"""

from __future__ import annotations

import time
import urllib.request
import uuid

import pytest
from fastapi.testclient import TestClient

from carnet.credentials.service import policy_from
from carnet.distribution.device_auth import authorization
from carnet.distribution.protocol import enrolment_message
from carnet.kit.ids import uuid7
from carnet.point.agent import PointAgent
from carnet.point.client import Answer, ServerLink, b64, unb64
from carnet.point.keys import DeviceKeys
from carnet.point.store import Identity, PointStore
from carnet.point.sync import pull, sync
from tests.conftest import count_rows
from tests.integration.distribution.world import PASSPHRASE, POLICY, build
from tests.web.conftest import bearer

pytestmark = pytest.mark.db


def transport_for(client: TestClient):  # type: ignore[no-untyped-def]
    def send(request: urllib.request.Request) -> Answer:
        path = request.full_url.removeprefix("http://testserver")
        answer = client.request(request.get_method(), path, headers=dict(request.header_items()),
                                content=request.data or b"")  # fmt: skip
        return Answer(answer.status_code, answer.headers.get("content-type", ""), answer.content)

    return send


@pytest.fixture()
def client(client):
    settings = client.app.state.settings.model_copy(update={"key_passphrase": PASSPHRASE, "pin_hash_memory_kib": 64})
    client.app.state.settings = settings
    assert policy_from(settings).pin_memory_kib == POLICY.pin_memory_kib
    return client


@pytest.fixture()
def world(session, tmp_path):
    made = build(session, tmp_path)
    session.commit()
    return made


def enrol(client, officer, tmp_path, point="depot-a") -> PointAgent:  # type: ignore[no-untyped-def]
    issued = client.post(f"/api/v1/points/{point}/enrolment-codes", headers=officer)
    assert issued.status_code == 201, issued.text
    keys = DeviceKeys.generate()
    link = ServerLink("http://testserver", transport=transport_for(client))
    proof = keys.sign_key.sign(enrolment_message(issued.json()["code"], keys.sign_public, keys.box_public))
    answer = link.enroll(code=issued.json()["code"], public_key=keys.sign_public, box_key=keys.box_public,
                         signature=proof, label="tablet")  # fmt: skip
    store = PointStore(tmp_path / str(uuid.uuid4()))
    store.save_identity(Identity(uuid.UUID(answer["device"]), uuid.UUID(answer["point"]), answer["point_name"],
                                 "http://testserver", keys.seal("frase de la tableta", salt=bytes(16)),
                                 unb64(answer["trusted"]), int(time.time())))  # fmt: skip
    return PointAgent(store, keys, new_id=uuid7)


def test_enrol_pull_redeem_sync_over_http(client, session, world, make_user, tmp_path):
    officer = bearer(make_user("program_officer"))
    agent = enrol(client, officer, tmp_path)
    link = ServerLink("http://testserver", transport=transport_for(client))
    now = int(time.time())
    assert pull(agent, link, now=now) == 1
    assert pull(agent, link, now=now) is None  # nothing newer: 204
    person = world.at("depot-a")[0]
    agent.redeem(person.qr, pin=person.pin, now=now)
    report = sync(agent, link, now=now)
    assert report.acknowledged == {"accepted": 1} and report.waiting == 0
    assert count_rows(session, "redemptions") == 1
    # A second sync has nothing to send; the next pull is a delta that empties the household's entitlement.
    assert sync(agent, link, now=now).sent == 0
    assert pull(agent, link, now=now) == 2
    assert agent.holdings()["2026-12"].entitlements_of(person.card_id.bytes)[0].remaining == 0
    listed = client.get("/api/v1/points/depot-a/devices", headers=officer).json()
    assert listed[0]["events"] == 1 and listed[0]["state"] == "active"
    report_doc = client.get("/api/v1/distribution/report?cycle=2026-12", headers=officer).json()
    assert {line["point"]: line["redeemed"] for line in report_doc["lines"]}["depot-a"] == 1


def test_an_enrolment_code_works_once(client, world, make_user, tmp_path):
    officer = bearer(make_user("program_officer"))
    issued = client.post("/api/v1/points/depot-a/enrolment-codes", headers=officer).json()
    keys = DeviceKeys.generate()
    body = {"code": issued["code"], "public_key": b64(keys.sign_public), "box_key": b64(keys.box_public),
            "signature": b64(keys.sign_key.sign(enrolment_message(issued["code"], keys.sign_public,
                                                                  keys.box_public)))}  # fmt: skip
    assert client.post("/api/v1/devices/enroll", json=body).status_code == 201
    again = client.post("/api/v1/devices/enroll", json=body)
    assert again.status_code == 403 and again.json()["code"] == "enrolment_code_invalid"
    other = DeviceKeys.generate()
    stolen = body | {"public_key": b64(other.sign_public)}  # someone else's key with an intercepted proof
    assert client.post("/api/v1/devices/enroll", json=stolen).json()["code"] in ("enrolment_code_invalid",
                                                                                 "enrolment_proof_invalid")  # fmt: skip


def test_device_requests_must_be_signed_fresh_and_by_an_active_device(client, world, make_user, tmp_path):
    officer = bearer(make_user("program_officer"))
    agent = enrol(client, officer, tmp_path)
    identity = agent.identity
    path = f"/api/v1/points/{identity.point_id}/manifest?device={identity.device_id}&since=0"
    assert client.get(path).json()["code"] == "device_unauthenticated"
    assert client.get(path, headers=officer).json()["code"] in (
        "device_unauthenticated",
        "invalid_authorization_header",
    )
    other = DeviceKeys.generate()
    forged = authorization(device_id=identity.device_id, method="GET", path=path, body=b"", timestamp=int(time.time()),
                           sign=other.sign_key.sign)  # fmt: skip
    assert client.get(path, headers={"authorization": forged}).status_code == 401
    old = authorization(device_id=identity.device_id, method="GET", path=path, body=b"",
                        timestamp=int(time.time()) - 3600, sign=agent.keys.sign_key.sign)  # fmt: skip
    assert client.get(path, headers={"authorization": old}).json()["code"] == "device_request_stale"
    signed = authorization(device_id=identity.device_id, method="GET", path=path, body=b"",
                           timestamp=int(time.time()), sign=agent.keys.sign_key.sign)  # fmt: skip
    assert client.get(path, headers={"authorization": signed}).status_code == 200
    # The same signature does not open another path (it covers the query too).
    other_path = path.replace("since=0", "since=1")
    assert client.get(other_path, headers={"authorization": signed}).status_code == 401
    agent_token = bearer(make_user("agent", username="agente-a"))
    refused = client.post(f"/api/v1/devices/{identity.device_id}/state", json={"action": "suspend", "reason": "lost"},
                          headers=agent_token)  # fmt: skip
    assert refused.status_code == 404  # not this agent's point
    suspended = client.post(f"/api/v1/devices/{identity.device_id}/state",
                            json={"action": "suspend", "reason": "lost"}, headers=officer)  # fmt: skip
    assert suspended.json()["state"] == "suspended"
    signed = authorization(device_id=identity.device_id, method="GET", path=path, body=b"",
                           timestamp=int(time.time()), sign=agent.keys.sign_key.sign)  # fmt: skip
    assert client.get(path, headers={"authorization": signed}).json()["code"] == "device_suspended"
