"""Pull manifests and push events: the point agent's two network jobs, each safe to interrupt and repeat."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from carnet.credentials.keyset import parse_cose_key_set
from carnet.distribution.manifest import ManifestError, apply, read_manifest
from carnet.distribution.protocol import enrolment_message, normalise_code
from carnet.kit.errors import AppError
from carnet.point.agent import PointAgent
from carnet.point.client import ServerLink, unb64
from carnet.point.keys import DeviceKeys
from carnet.point.store import Identity, PointStore

BATCH = 500
ACKNOWLEDGED = ("accepted", "replayed", "forked")


@dataclass
class SyncReport:
    """What one sync did: events acknowledged per answer, refused ones with their codes, what is still waiting."""

    sent: int = 0
    acknowledged: dict[str, int] = field(default_factory=dict)
    refused: dict[str, str] = field(default_factory=dict)
    waiting: int = 0
    server_time: int | None = None


def enrol(
    store: PointStore, link: ServerLink, *, code: str, passphrase: str | None, label: str | None, now: int
) -> tuple[Identity, int]:
    """Make this device's keys, prove them with the one-time code, keep them sealed; its identity and clock skew."""
    if store.enrolled():
        raise AppError(message=f"{store.path} already holds an enrolled device", code="point_already_enrolled")
    keys = DeviceKeys.generate()
    sealed = keys.seal(passphrase or "")  # refuses a missing or short passphrase before any request
    canonical = normalise_code(code)
    proof = keys.sign_key.sign(enrolment_message(canonical, keys.sign_public, keys.box_public))
    answer = link.enroll(code=canonical, public_key=keys.sign_public, box_key=keys.box_public, signature=proof,
                         label=label)  # fmt: skip
    identity = Identity(uuid.UUID(answer["device"]), uuid.UUID(answer["point"]), answer["point_name"], link.base_url,
                        sealed, unb64(answer["trusted"]), now)  # fmt: skip
    store.save_identity(identity)
    return identity, now - int(answer["server_time"])


def pull(agent: PointAgent, link: ServerLink, *, now: int, cycle: str | None = None) -> int | None:
    """Fetch and keep the newest manifest for this device; its version, or None when nothing was newer."""
    identity = agent.identity
    holdings = agent.holdings()
    held = holdings[cycle].version if cycle in holdings else 0 if cycle else max(
        (h.version for h in holdings.values()), default=0)  # fmt: skip
    for since in (held, 0) if held else (0,):
        data = link.manifest(point_id=identity.point_id, device_id=identity.device_id, since=since,
                             sign=agent.keys.sign_key.sign, now=now, cycle=cycle)  # fmt: skip
        if data is None:
            return None
        manifest = read_manifest(data, trusted=parse_cose_key_set(identity.trusted), device_id=identity.device_id,
                                 box_private=agent.keys.box_key, now=now)  # fmt: skip
        try:
            apply(agent.holdings().get(manifest.cycle), manifest)
        except ManifestError as exc:
            if exc.code == "manifest_version_gap" and since:
                continue  # the delta does not fit what is held: ask for the whole manifest
            raise
        agent.store.add_manifest(cycle=manifest.cycle, version=manifest.version, data=data, received_at=now,
                                 replaces=not manifest.is_delta)  # fmt: skip
        agent.forget_holdings()
        return manifest.version
    return None


def sync(agent: PointAgent, link: ServerLink, *, now: int, batch: int = BATCH) -> SyncReport:
    """Send every unacknowledged event, oldest first, until all are acknowledged or the server stops taking them."""
    report = SyncReport()
    identity = agent.identity
    while True:
        pending = agent.store.events(unacknowledged_only=True, limit=batch)
        if not pending:
            break
        answer = link.push([e.data for e in pending], device_id=identity.device_id, sign=agent.keys.sign_key.sign,
                           now=now)  # fmt: skip
        report.sent += len(pending)
        report.server_time = answer.get("server_time")
        answers = {uuid.UUID(item["id"]): item["answer"] for item in answer.get("acknowledged", [])
                   if item.get("answer") in ACKNOWLEDGED}  # fmt: skip
        # Only what the server acknowledged after its commit is marked; anything else stays to be sent again.
        changed = agent.store.acknowledge(answers, at=now)
        for verdict in answers.values():
            report.acknowledged[verdict] = report.acknowledged.get(verdict, 0) + 1
        report.refused.update({str(k): v for k, v in answer.get("conflicts", {}).items()})
        if changed == 0:
            break
    report.waiting = len(agent.store.events(unacknowledged_only=True))
    return report
