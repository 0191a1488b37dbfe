"""The demo's distribution day: two points, their tablets, a day offline, the same card at the wrong point, sync.

Everything goes the way it does in the field: the server runs on a local port, each point's tablet has its
own store under the demo folder and talks HTTP to the server with its own key; the "offline" point's
network is down (its link points at a closed port) until the evening.
"""

from __future__ import annotations

import csv
import socket
import threading
import time
import uuid
from pathlib import Path

from carnet.cli.common import console, settings, transaction
from carnet.cli.distribution import report_table
from carnet.config import Settings
from carnet.credentials import service as cards
from carnet.distribution import service as distribution
from carnet.kit.actor import system_actor
from carnet.kit.clock import utcnow
from carnet.kit.errors import AppError
from carnet.kit.i18n import t
from carnet.kit.ids import uuid7
from carnet.point.agent import PointAgent
from carnet.point.client import ServerLink
from carnet.point.keys import DeviceKeys
from carnet.point.store import PointStore
from carnet.point.sync import enrol, pull, sync

DEVICE_PASSPHRASE = "demo tablet passphrase"  # demo only: a real tablet's comes from its operator


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class LocalServer:
    """The Carnet server on a local port, in a thread, for the tablets to reach."""

    def __init__(self, config: Settings) -> None:
        import uvicorn

        from carnet.web.app import create_app

        self.port = _free_port()
        served = uvicorn.Config(create_app(config), host="127.0.0.1", port=self.port, log_level="warning")
        self.server = uvicorn.Server(served)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise AppError(message="the demo server did not start", code="demo_server_failed")
            time.sleep(0.05)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)


def _pins(path: Path) -> dict[uuid.UUID, str]:
    with path.open(encoding="utf-8", newline="") as handle:
        return {cards.parse_card_number(row["card_number"]): row["pin"] for row in csv.DictReader(handle)}


def _now() -> int:
    return int(time.time())


def show_distribution(demo_dir: Path, *, cycle: str, passphrase: str) -> None:
    """Points, tablets, a day of hand-overs (one point offline), a card at the wrong point, sync, the report."""
    console.rule(t("Distribution"))
    officer = system_actor("demo", "program_administration")
    with transaction() as session:
        busiest = distribution.busiest_municipalities(session, cycle=cycle, programme="food_box", limit=2)
        for number, municipality in enumerate(busiest, start=1):
            distribution.add_point(session, actor=officer, code=f"deposito-{number}", name=f"Depósito {number}",
                                   kind="depot", municipality=municipality, programmes={"food_box": 5},
                                   catchment=[municipality], operators=[], now=utcnow())  # fmt: skip
        placed = distribution.assign_escrow(session, actor=officer, cycle=cycle, now=utcnow())
    console.print(t("Two depots in {a} and {b}; {n} food-box entitlements placed in escrow, {m} held by no point.",
                    a=busiest[0], b=busiest[1], n=f"{placed['assigned']:,}",
                    m=f"{placed['without_point']:,}"))  # fmt: skip
    # The server signs manifests with the demo's passphrase, handed over in its settings.
    server = LocalServer(settings().model_copy(update={"key_passphrase": passphrase}))
    agents: dict[str, PointAgent] = {}
    try:
        for number in (1, 2):
            code = f"deposito-{number}"
            with transaction() as session:
                issued = distribution.issue_enrolment_code(session, actor=officer, point_ref=code, ttl_seconds=3600,
                                                           now=utcnow())  # fmt: skip
            folder = demo_dir / "points" / code
            if folder.exists():
                for stale in folder.iterdir():
                    stale.unlink()
            store = PointStore(folder)
            identity, _ = enrol(store, ServerLink(server.url), code=issued["code"], passphrase=DEVICE_PASSPHRASE,
                                label="tableta", now=_now())  # fmt: skip
            agents[code] = PointAgent(store, DeviceKeys.open(identity.keys, DEVICE_PASSPHRASE), new_id=uuid7)
            version = pull(agents[code], ServerLink(server.url), now=_now(), cycle=cycle)
            console.print(t("{point}: tablet enrolled with a one-time code, manifest v{version} pulled ({folder}).",
                            point=code, version=version, folder=folder))  # fmt: skip
        _day(demo_dir, agents, server, cycle)
    finally:
        server.stop()
    with transaction() as session:
        found = distribution.list_cases(session, cycle=cycle, status="open", point_ref=None, actor=officer)
        report = distribution.reconciliation(session, cycle=cycle, now=utcnow())
    for case in found:
        console.print(t("Case {kind} at {point}: stored, flagged, waiting for a programme officer.", **case))
    console.print(report_table(report))


def _day(demo_dir: Path, agents: dict[str, PointAgent], server: LocalServer, cycle: str) -> None:
    pins = _pins(demo_dir / "cards" / "pins.csv")
    online, offline = agents["deposito-1"], agents["deposito-2"]
    dead = ServerLink(f"http://127.0.0.1:{_free_port()}")  # depot 2's network is down all day
    with transaction() as session:
        people = {code: distribution.escrowed_cards(session, point_code=code, cycle=cycle, limit=3) for code in agents}
        qr = {card: cards.card_credential(session, card_id=card) for cards_ in people.values() for card in cards_}
    if len(people["deposito-1"]) < 3 or len(people["deposito-2"]) < 2:
        console.print(t("Too few entitlements at the depots for the day; run the demo with more --people."))
        return
    for code, agent in agents.items():
        for card in people[code][:2]:
            receipt = agent.redeem(qr[card], pin=pins[card], now=_now())
            console.print(t("{point}: food box handed over, receipt {code}.", point=code, code=receipt.code))
    console.print(t("deposito-1 is online: it syncs after each hand-over."))
    report = sync(online, ServerLink(server.url), now=_now())
    console.print(
        t("deposito-1: {n} acknowledged by the server after its commit.", n=sum(report.acknowledged.values()))
    )
    stranger = people["deposito-1"][2]
    try:
        offline.redeem(qr[stranger], pin=pins[stranger], now=_now())
    except AppError as refused:
        console.print(t("deposito-2 refuses a card held at deposito-1: {code}.", code=refused.code), style="yellow")
    served = offline.redeem(qr[stranger], pin=pins[stranger], now=_now(), programme="food_box", quantity=1)
    console.print(t("deposito-2 serves it as an exception (flagged, within its cap), receipt {code}.",
                    code=served.code))  # fmt: skip
    twice = people["deposito-1"][0]  # already served at deposito-1 this morning
    offline.redeem(qr[twice], pin=pins[twice], now=_now(), programme="food_box", quantity=1)
    console.print(t("deposito-2, offline, also serves a card already served at deposito-1: nobody can know yet."))
    try:
        sync(offline, dead, now=_now())
    except AppError as unreachable:
        console.print(t("deposito-2 cannot reach the server ({code}); its hand-overs wait in its store.",
                        code=unreachable.code), style="yellow")  # fmt: skip
    waiting = len(offline.store.events(unacknowledged_only=True))
    console.print(t("Evening: deposito-2's network is back; {n} events to send.", n=waiting))
    report = sync(offline, ServerLink(server.url), now=_now())
    console.print(
        t("deposito-2: {n} acknowledged; sent again, nothing is doubled.", n=sum(report.acknowledged.values()))
    )
    again = ServerLink(server.url).push([e.data for e in offline.store.events()], device_id=offline.identity.device_id,
                                        sign=offline.keys.sign_key.sign, now=_now())  # fmt: skip
    answers = sorted({item["answer"] for item in again["acknowledged"]})
    console.print(t("Replaying the whole day: every event gets its first answer again ({answers}).",
                    answers=", ".join(answers)))  # fmt: skip
