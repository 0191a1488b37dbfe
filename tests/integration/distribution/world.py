"""A small country for distribution tests: people with cards and PINs, a published food programme, two points.

Everything is real (the registry import, card issuing, an eligibility run approved by a second officer,
escrow, enrolment with a device key, manifests, sync ingest); only the clock is fixed.
"""

from __future__ import annotations

import csv
import uuid
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from carnet.access.service import create_user
from carnet.credentials import service as cards
from carnet.credentials.keyset import parse_cose_key_set
from carnet.credentials.service import CardPolicy, IssueScope, PinLetter
from carnet.distribution import repository, service
from carnet.distribution.manifest import apply, read_manifest
from carnet.distribution.protocol import enrolment_message
from carnet.kit.actor import Actor
from carnet.kit.ids import uuid7
from carnet.point.agent import PointAgent
from carnet.point.keys import DeviceKeys
from carnet.point.store import Identity, PointStore
from carnet.programs import service as programs
from carnet.programs.definition import parse_definition
from carnet.registry.importer import run_import
from carnet.registry.models import Household
from carnet.registry.seed import COLUMNS, PopulationGenerator
from tests.secrets_plugin import known_secrets

NOW = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)
CYCLE = "2026-12"
PASSPHRASE = "la frase de paso del almacén central"
DEVICE_PASSPHRASE = "la frase de paso de la tableta"
known_secrets.add(PASSPHRASE)
known_secrets.add(DEVICE_PASSPHRASE)
POLICY = CardPolicy(pin_memory_kib=64)
MANIFESTS = service.ManifestPolicy(ttl_seconds=7 * 86400, stale_after=3 * 86400, stale_action="flag")
EXAMPLES = Path(programs.__file__).parent / "data"
REGISTRAR = Actor(user_id=None, role="registrar", request_id="w", purpose="registration", office="Oficina")
ANA = Actor(user_id=uuid.uuid5(uuid.NAMESPACE_DNS, "ana"), role="program_officer", request_id="w",
            purpose="eligibility", office="Ministerio")  # fmt: skip
LUIS = replace(ANA, user_id=uuid.uuid5(uuid.NAMESPACE_DNS, "luis"))


@dataclass
class Beneficiary:
    """A person with a card in escrow somewhere: their card's QR and PIN, and the point that holds them."""

    person_id: uuid.UUID
    card_id: uuid.UUID
    qr: str
    pin: str
    point: str


@dataclass
class World:
    """What a test needs to act as the ministry, the points and their devices."""

    points: dict[str, uuid.UUID]
    beneficiaries: list[Beneficiary]
    municipalities: list[str]
    devices: dict[str, tuple[uuid.UUID, DeviceKeys]] = field(default_factory=dict)

    def at(self, point: str) -> list[Beneficiary]:
        """The beneficiaries whose entitlement a point holds."""
        return [b for b in self.beneficiaries if b.point == point]


def build(session: Session, tmp_path: Path, *, people: int = 240, exceptions: int = 2, quantity: str | None = None,
          now: datetime = NOW, cycle: str = CYCLE, cash: bool = False) -> World:  # fmt: skip
    """Import people, issue cards, publish the food box for the cycle, open two points and assign escrow.

    `quantity` replaces the programme's quantity (one box per household), e.g. `{per: member, amount: 1, cap: 3}`;
    `now` and `cycle` move the whole story (a server on the real clock needs the current month); `cash` makes
    the box 15,000.00 VES into the wallet instead (the point hands over cash).
    """
    path = tmp_path / "people.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(PopulationGenerator(11, today=date(2026, 12, 1)).people(people))
    run_import(session, actor=REGISTRAR, path=path, today=date(2026, 12, 1), now=now - timedelta(days=30))
    letters: list[PinLetter] = []
    cards.issue_cards(session, actor=REGISTRAR, scope=IssueScope(), policy=POLICY, passphrase=PASSPHRASE,
                      now=now - timedelta(days=20), pins=letters.extend)  # fmt: skip
    text = (EXAMPLES / "food_box.yaml").read_text("utf-8")
    if quantity is not None:
        text = text.replace("quantity: {per: household, amount: 1}", f"quantity: {quantity}")
    if cash:
        text = text.replace(
            "benefit: {kind: in_kind, item: food box, unit: box, unit_cost: 4500000, currency: VES}",
            "benefit: {kind: cash, amount: 1500000, currency: VES}",
        )
    definition = parse_definition(text, source="food_box")
    programs.apply_program(
        session, actor=ANA, definition=definition, passphrase=PASSPHRASE, now=now - timedelta(days=5)
    )
    run = programs.evaluate_cycle(session, actor=ANA, code="food_box", cycle=cycle, now=now - timedelta(days=4),
                                  persist=True)  # fmt: skip
    programs.approve_run(session, actor=LUIS, run_id=run.id, now=now - timedelta(days=4))
    busiest = session.execute(
        select(Household.municipality_code).group_by(Household.municipality_code)
        .order_by(func.count().desc(), Household.municipality_code).limit(2)
    ).scalars().all()  # fmt: skip
    agent = create_user(
        session, username="agente1", password="contraseña del agente 1", role="agent", now=now - timedelta(days=3)
    )
    for name, municipality in zip(("depot-a", "depot-b"), busiest, strict=True):
        service.add_point(session, actor=ANA, code=name, name=f"Depósito {name[-1].upper()}", kind="depot",
                          municipality=municipality, programmes={"food_box": exceptions}, catchment=[municipality],
                          operators=["agente1"] if name == "depot-a" else [], now=now - timedelta(days=3))  # fmt: skip
    service.assign_escrow(session, actor=ANA, cycle=cycle, now=now - timedelta(days=3))
    points = {p["code"]: p["id"] for p in service.list_points(session, actor=ANA)}
    by_card = {letter.card_id: letter for letter in letters}
    beneficiaries = []
    for point_code, point_id in points.items():
        escrow, _, _ = service.current_escrow(session, point_id=point_id, cycle=cycle)
        for entry in escrow.values():
            for card in entry.cards:
                letter = by_card[uuid.UUID(bytes=card)]
                known_secrets.add(letter.pin)
                beneficiaries.append(Beneficiary(letter.person_id, letter.card_id,
                                                 cards.card_credential(session, card_id=letter.card_id), letter.pin,
                                                 point_code))  # fmt: skip
    session.flush()
    assert agent is not None
    return World(points=points, beneficiaries=beneficiaries, municipalities=list(busiest))


def enrol(session: Session, world: World, point: str, directory: Path, *, label: str = "tablet",
          now: datetime = NOW) -> PointAgent:  # fmt: skip
    """Enrol a new device at `point` the way `carnet point enroll` does, and open its agent."""
    code = service.issue_enrolment_code(session, actor=ANA, point_ref=point, ttl_seconds=3600, now=now)["code"]
    keys = DeviceKeys.generate()
    proof = keys.sign_key.sign(enrolment_message(code, keys.sign_public, keys.box_public))
    answer = service.enrol_device(session, code=code, public_key=keys.sign_public, box_key=keys.box_public,
                                  signature=proof, label=label, passphrase=PASSPHRASE, now=now)  # fmt: skip
    store = PointStore(directory)
    store.save_identity(Identity(uuid.UUID(answer["device"]), uuid.UUID(answer["point"]), answer["point_name"],
                                 "http://test", keys.seal(DEVICE_PASSPHRASE, salt=bytes(16)), answer["trusted"],
                                 int(now.timestamp())))  # fmt: skip
    world.devices[label] = (uuid.UUID(answer["device"]), keys)
    return PointAgent(store, keys, new_id=uuid7)


def pull(session: Session, agent: PointAgent, *, now: datetime = NOW, cycle: str = CYCLE,
         policy: service.ManifestPolicy = MANIFESTS) -> int | None:  # fmt: skip
    """Give the device its next manifest through the service, as `carnet point pull` does over HTTP."""
    device = repository.device(session, agent.identity.device_id)
    held = agent.holdings().get(cycle)
    data = service.manifest_for(session, device=device, cycle=cycle, since=held.version if held else 0,
                                policy=policy, card_policy=POLICY, passphrase=PASSPHRASE, now=now)  # fmt: skip
    if data is None:
        return None
    manifest = read_manifest(data, trusted=parse_cose_key_set(agent.identity.trusted),
                             device_id=agent.identity.device_id, box_private=agent.keys.box_key,
                             now=int(now.timestamp()))  # fmt: skip
    apply(held, manifest)
    agent.store.add_manifest(cycle=cycle, version=manifest.version, data=data, received_at=int(now.timestamp()),
                             replaces=not manifest.is_delta)  # fmt: skip
    agent.forget_holdings()
    return manifest.version


def push(session: Session, agent: PointAgent, *, now: datetime = NOW, events=None) -> dict:  # type: ignore[no-untyped-def]
    """Send the device's unacknowledged events (or `events`) to the service; mark what it acknowledged."""
    device = repository.device(session, agent.identity.device_id, lock=True)
    blobs = [e.data for e in agent.store.events(unacknowledged_only=True)] if events is None else events
    answer = service.ingest_events(session, device=device, blobs=blobs, now=now)
    session.flush()
    acked = {uuid.UUID(a["id"]): a["answer"] for a in answer["acknowledged"]}
    agent.store.acknowledge(acked, at=int(now.timestamp()))
    return answer
