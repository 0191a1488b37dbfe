"""Distribution figures: one scan at the point, camera photo to recorded hand-over, and the server's sync ingest.

    .venv/bin/python benchmarks/distribution.py [--scans 300] [--escrow 5000] [--frames 1280x720,640x480]
        [--events 10000] [--single 1000] [--workers 2] [--backends sqlite,postgresql] [--profile] [--quick]

Scans. A point's device with a real store (`synchronous=FULL`, fsync on every commit) and a signed
manifest built here as the server builds one (no server): `--escrow` entitlements of one card each, PIN
check data from Argon2id hashes at the server's parameters (pin_hash_memory_kib 256, t=1, p=1), a status
list of 2^20 cards with 1 % revoked. Every scan redeems a fresh entitlement. A scan with decoding reads a
camera-like JPEG (the card's segno QR on a card, photographed: scaled, rotated a few degrees, blurred,
noise, in a picture of each `--frames` size; every photo is checked to decode before timing) through
`read_card_text`, then `PointAgent.redeem`: verify the card offline, status list, entitlement, PIN check
(Argon2id of the typed PIN, part of every scan), remaining quantity, signed event written. The kinds of
scan alternate, so all see the same machine. Beside them, in the same run, the floors: Argon2id alone
and one fsync'd SQLite commit alone.

Ingest. A real store per backend (seeded persons imported, cards issued, a programme run published, its
entitlements in escrow at one point), devices enrolled with their own keys, and chains of events they
signed, each for a distinct card. Each batch goes through `service.ingest_events` in its own committed
transaction (the device row locked, as `POST /api/v1/sync/events` does), at batch sizes 1, 100 and 1,000,
and on PostgreSQL also `--workers` processes at once, one device each (a server's workers). The baseline
in the same run: one event per transaction through the ORM (`session.add(Redemption(...))`, commit) with
the same checks done row by row; and the ceiling: verifying the same events with no database at all.
`--profile` (and any miss of the PostgreSQL goal) adds a cProfile of one more batch of 1,000.
"""

from __future__ import annotations

import argparse
import cProfile
import csv
import io
import os
import pstats
import random
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "benchmarks"))

from import_rate import available_backends, drop_store, fresh_store, machine  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

NOW = 1_796_000_000  # the device's clock during the scans (2026-11-28)
DAY = 86_400
INGEST_NOW = datetime(2026, 12, 3, 18, 0, tzinfo=UTC)
CYCLE = "2026-12"
PROGRAMME = "bench_ration"
PASSPHRASE = "benchmark passphrase, not a secret"
POINT_PASSPHRASE = "benchmark point passphrase"
PIN_MEMORY_KIB = 256  # the server's default pin_hash_memory_kib
LIST_CAPACITY = 1 << 20
NATIONAL_DAY = 2_000_000
GOAL_SCAN_MS, GOAL_TEXT_MS, GOAL_EVENTS_S = 25.0, 5.0, 10_000
WARM_UP = 100  # events each concurrent ingest process syncs before the clock starts
console = Console(highlight=False, width=160)


def median_p99(samples: list[float]) -> tuple[float, float]:
    """Median and 99th percentile, in milliseconds."""
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    return statistics.median(ordered) * 1e3, p99 * 1e3


# Scans at the point
_NOISE: dict[tuple[int, int], list] = {}


def _noise(frame: tuple[int, int], rng: random.Random, sigma: float):  # type: ignore[no-untyped-def]
    """A sensor-noise picture (Gaussian, centred on 128) of the frame's size; drawn from a pool made once."""
    from PIL import Image

    if frame not in _NOISE:
        _NOISE[frame] = [Image.effect_noise(frame, 10) for _ in range(6)]
    return rng.choice(_NOISE[frame]).point(lambda v: max(0, min(255, round(128 + (v - 128) * sigma / 10))))


def camera_photo(png: bytes, rng: random.Random, frame: tuple[int, int]) -> bytes:
    """A JPEG as a webcam at the counter sees the printed card: scaled, tilted a few degrees, blurred, noisy."""
    from PIL import Image, ImageChops, ImageDraw, ImageFilter

    code = Image.open(io.BytesIO(png)).convert("L")
    side = rng.randint(min(frame) * 2 // 5, min(frame) * 11 // 20)
    code = code.resize((side, side), Image.Resampling.BILINEAR)
    paper, ink = rng.randint(205, 240), rng.randint(25, 60)
    code = code.point(lambda v: ink + v * (paper - ink) // 255)
    card = Image.new("L", (side * 8 // 5, side * 21 // 20), paper)  # an ID-1 card, the QR on its right
    card.paste(code, (card.width - side, 0))
    draw = ImageDraw.Draw(card)
    for line in range(5):  # the printed name, number, region and dates on its left
        top = side // 8 + line * side // 6
        draw.rectangle((side // 16, top, side // 16 + rng.randint(side // 5, side // 2), top + side // 24), fill=ink)
    background = rng.randint(90, 170)
    card = card.rotate(rng.uniform(-5, 5), resample=Image.Resampling.BICUBIC, expand=True, fillcolor=background)
    picture = Image.new("L", frame, background)
    x = rng.randint(min(frame[0] - card.width, 0), max(frame[0] - card.width, 0))
    y = rng.randint(min(frame[1] - card.height, 0), max(frame[1] - card.height, 0))
    picture.paste(card, (x, y))
    picture = picture.filter(ImageFilter.GaussianBlur(rng.uniform(0.8, 1.5)))
    sigma = rng.uniform(6, 12)
    channels = [ImageChops.add(picture, _noise(frame, rng, sigma), 1.0, -128 + tint) for tint in (6, 0, -8)]
    out = io.BytesIO()
    Image.merge("RGB", channels).save(out, "JPEG", quality=rng.randint(75, 90))
    return out.getvalue()


@dataclass
class Card:
    """One card of the bench manifest: its QR text, PIN, and the photo of it (for the decoding scans)."""

    number: int
    card_id: bytes
    text: str
    pin: str
    photo: Path | None = None


class BenchPoint:
    """A point's device holding a manifest with `escrow` entitlements (one card each, quantity 1)."""

    def __init__(self, folder: Path, *, escrow: int, scanned: int) -> None:
        from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

        from carnet.credentials.cose import VerifierKey, cose_kid
        from carnet.credentials.credential import issue_credential
        from carnet.credentials.cwt import CardClaims
        from carnet.credentials.issuing import new_pin, pin_hasher
        from carnet.credentials.keyset import cose_key_set
        from carnet.credentials.statuslist import build_status_list, sign_status_list
        from carnet.distribution.manifest import EscrowEntry, Manifest, Policy, encode_manifest
        from carnet.distribution.pin_tag import check_from_hash
        from carnet.kit import signing
        from carnet.kit.ids import uuid7
        from carnet.point.agent import PointAgent
        from carnet.point.keys import DeviceKeys
        from carnet.point.store import Identity, PointStore

        issuer, distribution = signing.generate(), signing.generate()
        hasher = pin_hasher(PIN_MEMORY_KIB)
        rng = random.Random(7)
        indexes = rng.sample(range(LIST_CAPACITY), escrow + LIST_CAPACITY // 100)
        card_indexes, revoked = indexes[:escrow], indexes[escrow:]
        filler_hash = hasher.hash(new_pin())  # cards never scanned share one hash: their tags still differ
        self.cards: list[Card] = []
        entries, pins = [], {}
        for n in range(escrow):
            card_id = uuid.UUID(int=rng.getrandbits(128)).bytes
            claims = CardClaims(issuer="carnet", card_id=card_id, not_before=NOW - 100 * DAY,
                                expires=NOW + 1726 * DAY, status_list_id="1", status_index=card_indexes[n])  # fmt: skip
            pin = new_pin()
            pin_hash = hasher.hash(pin) if n < scanned else filler_hash
            pins[card_id] = check_from_hash(card_id.hex(), pin_hash)
            entries.append(EscrowEntry(uuid.UUID(int=rng.getrandbits(128)), "food_box", 1, (card_id,)))
            if n < scanned:
                text = issue_credential(claims, kid=cose_kid(issuer.public_raw), sign=issuer.sign)
                self.cards.append(Card(n, card_id, text, pin))
        token = sign_status_list(list_id="1", bits=build_status_list(LIST_CAPACITY, revoked), issued_at=NOW - 3600,
                                 ttl=3 * DAY, kid=cose_kid(issuer.public_raw), sign=issuer.sign)  # fmt: skip
        self.store = PointStore(folder / "point")
        keys = DeviceKeys.generate()
        device_id, point_id = uuid7(), uuid7()
        trusted = cose_key_set([VerifierKey.from_public(distribution.public_raw)])
        self.store.save_identity(Identity(device_id, point_id, "Depósito 1", "http://server",
                                          keys.seal(POINT_PASSPHRASE), trusted, NOW - 10 * DAY))  # fmt: skip
        manifest = Manifest(point_id=point_id, device_id=device_id, cycle=CYCLE, version=1, base=0,
                            issued_at=NOW - DAY, not_before=NOW - DAY, not_after=NOW + 6 * DAY, through=0,
                            escrow=tuple(entries), dropped=(), pins=pins, status_lists=(token,),
                            issuer_keys=cose_key_set([VerifierKey.from_public(issuer.public_raw)]),
                            policy=Policy(stale_after=3 * DAY, stale_action="flag", exceptions={}))  # fmt: skip
        data = encode_manifest(manifest, kid=cose_kid(distribution.public_raw), sign=distribution.sign,
                               device_box_key=keys.box_public, ephemeral=X25519PrivateKey.generate(),
                               nonce=os.urandom(12))  # fmt: skip
        self.manifest_bytes = len(data)
        self.store.add_manifest(cycle=CYCLE, version=1, data=data, received_at=NOW - DAY, replaces=True)
        self.agent = PointAgent(self.store, keys, new_id=uuid7)
        self.agent.holdings()  # the manifest is opened once, when the agent starts, not per scan
        self.issuer_keys = manifest.issuer_keys
        self.status_token = token


def photograph(cards: list[Card], folder: Path, frame: tuple[int, int], max_pixels: int) -> tuple[int, float]:
    """A checked camera photo of each card; (photos that had to be taken again, seconds spent)."""
    from carnet.credentials.printing import qr_png
    from carnet.credentials.qr_image import read_card_text

    rng = random.Random(11 + frame[0])
    retakes, start = 0, time.perf_counter()
    for card in cards:
        png = qr_png(card.text)
        for _attempt in range(20):
            path = folder / f"card-{card.number}.jpg"
            path.write_bytes(camera_photo(png, rng, frame))
            if read_card_text(str(path), max_bytes=20 << 20, max_pixels=max_pixels) == card.text:
                card.photo = path
                break
            retakes += 1  # like a cashier's second try: the timed scans all decode at the first read
        else:
            raise SystemExit(f"card {card.number}: no photo of 20 decodes; the camera model is too harsh")
    return retakes, time.perf_counter() - start


def _ms(samples: list[float]) -> str:
    median, p99 = median_p99(samples)
    return f"{median:.2f}", f"{p99:.2f}"  # type: ignore[return-value]


def scan_figures(folder: Path, *, scans: int, escrow: int, frames: list[tuple[int, int]]) -> None:
    """Time scans with decoding (one kind per frame size) and without, alternating, and their floors."""
    from carnet.config import Settings
    from carnet.credentials.keyset import parse_cose_key_set
    from carnet.credentials.qr_image import read_card_text
    from carnet.credentials.statuslist import decode_status_list
    from carnet.credentials.verify import verify_credential
    from carnet.distribution.pin_tag import pin_passes

    warm = 5
    kinds = len(frames) + 1
    needed = kinds * (scans + warm)
    held = max(escrow, needed)
    start = time.perf_counter()
    point = BenchPoint(folder, escrow=held, scanned=needed)
    console.print(f"point: a manifest of {held:,} entitlements ({point.manifest_bytes:,} bytes, PIN data from "
                  f"Argon2id at {PIN_MEMORY_KIB} KiB) made in {time.perf_counter() - start:.1f} s")  # fmt: skip
    settings = Settings()
    max_bytes, max_pixels = settings.card_image_max_bytes, settings.card_image_max_pixels
    groups = [point.cards[k::kinds] for k in range(kinds)]  # one group per frame size, the last read as text
    for frame, cards in zip(frames, groups, strict=False):
        retakes, seconds = photograph(cards, folder, frame, max_pixels)
        console.print(f"photos {frame[0]}×{frame[1]}: {len(cards):,} made and checked in {seconds:.1f} s; "
                      f"{retakes} of {len(cards) + retakes:,} taken did not decode and were taken again")  # fmt: skip
    agent = point.agent
    decoded: list[tuple[list[float], list[float], list[float]]] = [([], [], []) for _ in frames]
    from_text: list[float] = []
    for index in range(scans + warm):
        for kind, frame in enumerate(frames):
            card = groups[kind][index]
            t0 = time.perf_counter()
            text = read_card_text(str(card.photo), max_bytes=max_bytes, max_pixels=max_pixels)
            t1 = time.perf_counter()
            receipt = agent.redeem(text, pin=card.pin, now=NOW + index)
            t2 = time.perf_counter()
            assert text == card.text and (receipt.quantity, receipt.remaining) == (1, 0), frame
            if index >= warm:
                for samples, value in zip(decoded[kind], (t2 - t0, t1 - t0, t2 - t1), strict=True):
                    samples.append(value)
        card = groups[-1][index]
        t0 = time.perf_counter()
        receipt = agent.redeem(card.text, pin=card.pin, now=NOW + index)
        t1 = time.perf_counter()
        assert (receipt.quantity, receipt.remaining) == (1, 0)
        if index >= warm:
            from_text.append(t1 - t0)
    events = agent.store.events()
    assert len(events) == needed and len({e.card for e in events}) == needed
    assert agent.check_store() == []

    # The floors, in the same run: what no scan can beat.
    verify, argon, commit = [], [], []
    keys = parse_cose_key_set(point.issuer_keys)
    lists = {"1": decode_status_list(point.status_token, keys)}
    holding = agent.holdings()[CYCLE]
    floor_db = sqlite3.connect(folder / "point" / "floor.sqlite3", isolation_level=None)
    floor_db.execute("PRAGMA journal_mode=WAL")
    floor_db.execute("PRAGMA synchronous=FULL")
    floor_db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, data BLOB NOT NULL)")
    for card in groups[-1][warm:]:
        t0 = time.perf_counter()
        assert verify_credential(card.text, keys=keys, status_lists=lists, now=NOW + 60).is_valid
        t1 = time.perf_counter()
        assert pin_passes(card.card_id.hex(), card.pin, holding.pins[card.card_id])
        t2 = time.perf_counter()
        floor_db.execute("BEGIN IMMEDIATE")
        floor_db.execute("INSERT INTO t (data) VALUES (?)", (events[0].data,))
        floor_db.execute("COMMIT")
        t3 = time.perf_counter()
        verify.append(t1 - t0)
        argon.append(t2 - t1)
        commit.append(t3 - t2)
    floor_db.close()
    point.store.close()

    floor = statistics.median(argon) + statistics.median(commit)
    table = Table(title=f"One scan at the point: {scans:,} timed scans of each kind, each a fresh entitlement, "
                        f"{held:,} in the manifest")  # fmt: skip
    for column in ("scan", "median ms", "p99 ms", "goal (median)", "× floor"):
        table.add_column(column, justify="left" if column == "scan" else "right")
    verdicts = []
    for frame, (total, decode, redeem) in zip(frames, decoded, strict=True):
        median = statistics.median(total) * 1e3
        verdicts.append(f"{frame[0]}×{frame[1]} photo {median:.1f} ms vs ≤ {GOAL_SCAN_MS:.0f} ms "
                        f"({'met' if median <= GOAL_SCAN_MS else 'missed'})")  # fmt: skip
        table.add_row(f"photo {frame[0]}×{frame[1]} → decode + redeem", *_ms(total), f"≤ {GOAL_SCAN_MS:.0f} ms",
                      f"{median / (floor * 1e3):.2f}")  # fmt: skip
        table.add_row("    of which decoding (read_card_text)", *_ms(decode), "", "")
        table.add_row("    of which redeem", *_ms(redeem), "", "")
    median = statistics.median(from_text) * 1e3
    verdicts.append(f"from text {median:.2f} ms vs ≤ {GOAL_TEXT_MS:.0f} ms "
                    f"({'met' if median <= GOAL_TEXT_MS else 'missed'})")  # fmt: skip
    table.add_row("QR text → redeem", *_ms(from_text), f"≤ {GOAL_TEXT_MS:.0f} ms", f"{median / (floor * 1e3):.2f}")
    table.add_row("floor: Argon2id PIN check alone (256 KiB, t=1, p=1)", *_ms(argon), "", "")
    table.add_row("floor: one fsync'd SQLite commit alone (FULL, WAL)", *_ms(commit), "", "")
    table.add_row("for scale: verify_credential alone (in the redeem)", *_ms(verify), "", "")
    console.print(table)
    console.print(f"Every redeem includes the PIN check: Argon2id of the typed PIN at the server's parameters "
                  f"({PIN_MEMORY_KIB} KiB, t=1, p=1), then its 12-bit tag. Floor = Argon2id + one fsync'd commit = "
                  f"{floor * 1e3:.2f} ms (median). Goals: " + "; ".join(verdicts) + ".")  # fmt: skip


# Server ingest
@dataclass
class Device:
    """A device enrolled on the server: its id and keys."""

    device_id: uuid.UUID
    keys: object


def ingest_world(url: str, folder: Path, *, people: int, devices: int) -> tuple[list[str], list[Device], float]:
    """Persons, cards, a published programme with every entitlement in escrow at one point; enrolled devices.

    Returns the card ids (hex) that hold an entitlement there, the devices, and the seconds it took.
    """
    from sqlalchemy import select

    from carnet.access.service import create_user
    from carnet.credentials import service as cards
    from carnet.credentials.models import Card as CardRow
    from carnet.credentials.service import CardPolicy, IssueScope
    from carnet.db.session import make_engine, make_session_factory, unit_of_work
    from carnet.distribution import service
    from carnet.distribution.protocol import enrolment_message
    from carnet.flows.publication import publish_run
    from carnet.kit.actor import Actor
    from carnet.point.keys import DeviceKeys
    from carnet.programs import service as programs
    from carnet.programs.definition import parse_definition
    from carnet.programs.models import Entitlement
    from carnet.registry.importer import run_import
    from carnet.registry.models import Household
    from carnet.registry.seed import COLUMNS, PopulationGenerator

    start = time.perf_counter()
    registrar = Actor(user_id=None, role="registrar", request_id="bench", purpose="registration", office="Oficina")
    officer = Actor(user_id=uuid.uuid5(uuid.NAMESPACE_DNS, "ana"), role="program_officer", request_id="bench",
                    purpose="eligibility", office="Ministerio")  # fmt: skip
    approver = Actor(user_id=uuid.uuid5(uuid.NAMESPACE_DNS, "luis"), role="program_officer", request_id="bench",
                     purpose="eligibility", office="Ministerio")  # fmt: skip
    engine = make_engine(url)
    factory = make_session_factory(engine)
    path = folder / "people.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(PopulationGenerator(42, today=date(2026, 12, 1)).people(people))
    t = INGEST_NOW
    with unit_of_work(factory) as session:
        run_import(session, actor=registrar, path=path, today=date(2026, 12, 1), now=t - timedelta(days=30))
    with unit_of_work(factory) as session:
        # The PIN hashes are not used by the ingest: a cheaper Argon2id keeps the setup short.
        cards.issue_cards(session, actor=registrar, scope=IssueScope(), policy=CardPolicy(pin_memory_kib=64),
                          passphrase=PASSPHRASE, now=t - timedelta(days=20), pins=lambda _: None,
                          workers=2)  # fmt: skip
    definition = parse_definition(
        f"code: {PROGRAMME}\ntitle: Benchmark ration\npurpose: food_assistance\nunit: person\n"
        "benefit: {kind: in_kind, item: ration, unit: box, unit_cost: 100, currency: VES}\n"
        "quantity: {per: household, amount: 1}\ncycle: monthly\nregions: all\nstart: 2026-01-01\n"
        "budget: 100000000000000\nstatus: active\nmax_share: 1\nrule: age(date_of_birth) >= 0\n",
        source=PROGRAMME,
    )
    with unit_of_work(factory) as session:
        programs.apply_program(session, actor=officer, definition=definition, passphrase=PASSPHRASE,
                               now=t - timedelta(days=5))  # fmt: skip
        run = programs.evaluate_cycle(session, actor=officer, code=PROGRAMME, cycle=CYCLE, now=t - timedelta(days=4),
                                      persist=True)  # fmt: skip
        run_id = run.id
    with unit_of_work(factory) as session:
        municipalities = sorted(
            m for m in session.scalars(select(Household.municipality_code).distinct()) if m is not None
        )
        create_user(session, username="agente1", password="contraseña del agente 1", role="agent",
                    now=t - timedelta(days=4))  # fmt: skip
        service.add_point(session, actor=officer, code="depot-1", name="Depósito central", kind="depot",
                          municipality=municipalities[0], programmes={PROGRAMME: 0}, catchment=municipalities,
                          operators=["agente1"], now=t - timedelta(days=4))  # fmt: skip
        publish_run(session, actor=approver, run_id=run_id, now=t - timedelta(days=3))
    enrolled = []
    with unit_of_work(factory) as session:
        for n in range(devices):
            code = service.issue_enrolment_code(session, actor=officer, point_ref="depot-1", ttl_seconds=3600,
                                                now=t - timedelta(days=2))["code"]  # fmt: skip
            keys = DeviceKeys.generate()
            proof = keys.sign_key.sign(enrolment_message(code, keys.sign_public, keys.box_public))
            answer = service.enrol_device(session, code=code, public_key=keys.sign_public, box_key=keys.box_public,
                                          signature=proof, label=f"tablet-{n}", passphrase=PASSPHRASE,
                                          now=t - timedelta(days=2))  # fmt: skip
            enrolled.append(Device(uuid.UUID(answer["device"]), keys))
    with unit_of_work(factory) as session:
        entitled = select(Entitlement.unit_id).where(Entitlement.run_id == run_id)
        card_ids = sorted(
            c.hex for c in session.scalars(
                select(CardRow.id).where(CardRow.person_id.in_(entitled), CardRow.status == "active")
            )
        )  # fmt: skip
    engine.dispose()
    return card_ids, enrolled, time.perf_counter() - start


def signed_chain(device: Device, card_ids: list[str]) -> list[bytes]:
    """The device's events, one redemption of quantity 1 for each card, chained and signed."""
    from carnet.distribution.events import ChainHead, next_event, sign_event
    from carnet.kit.ids import uuid7

    keys = device.keys
    tip, out = ChainHead(), []
    base = int(INGEST_NOW.timestamp()) - 6 * 3600
    for n, card in enumerate(card_ids):
        event = next_event(tip, event_id=uuid7(), device_id=device.device_id, card_id=card, programme=PROGRAMME,
                           cycle=CYCLE, quantity=1, device_time=base + n, manifest_version=1)  # fmt: skip
        signed = sign_event(event, kid=keys.kid, sign=keys.sign_key.sign)  # type: ignore[attr-defined]
        out.append(signed.data)
        tip = signed.head
    return out


def ingest_batches(factory, device: Device, blobs: list[bytes], batch: int) -> list[float]:  # type: ignore[no-untyped-def]
    """Seconds per batch through service.ingest_events, each batch one committed transaction."""
    from carnet.db.session import unit_of_work
    from carnet.distribution import repository, service

    times = []
    for start in range(0, len(blobs), batch):
        chunk = blobs[start : start + batch]
        t0 = time.perf_counter()
        with unit_of_work(factory) as session:
            row = repository.device(session, device.device_id, lock=True)
            answer = service.ingest_events(session, device=row, blobs=chunk, now=INGEST_NOW)
        times.append(time.perf_counter() - t0)
        if len(answer["acknowledged"]) != len(chunk) or answer["conflicts"] or answer["waiting"]:
            raise SystemExit(f"batch at {start}: not every event was accepted: {answer}")
    return times


def naive_ingest(factory, device: Device, blobs: list[bytes]) -> list[float]:  # type: ignore[no-untyped-def]
    """Seconds per event the naive way: one event per transaction, each check a query, one ORM object added."""
    from sqlalchemy import func, select

    from carnet.credentials.models import Card as CardRow
    from carnet.db.session import unit_of_work
    from carnet.distribution.events import clock_flags, verify_event
    from carnet.distribution.models import Device as DeviceRow
    from carnet.distribution.models import DeviceSync, Escrow, Redemption
    from carnet.kit.ids import uuid7
    from carnet.programs.models import Entitlement, Program
    from carnet.registry.models import Person

    server_time = int(INGEST_NOW.timestamp())
    times = []
    for data in blobs:
        t0 = time.perf_counter()
        with unit_of_work(factory) as session:
            row = session.get(DeviceRow, device.device_id, with_for_update=True)
            assert row is not None
            signed = verify_event(data, device_id=row.id, public_raw=row.public_key)
            event = signed.event
            if session.get(Redemption, event.event_id) is not None:
                continue  # a replay
            if event.seq != row.chain_seq + 1 or event.prev_hash != bytes(row.chain_hash):
                raise SystemExit(f"event {event.seq}: does not follow the chain")
            card = session.get(CardRow, uuid.UUID(hex=event.card_id))
            assert card is not None
            person = session.get(Person, card.person_id)
            assert person is not None
            found = session.execute(
                select(Escrow, Entitlement.quantity, Entitlement.value)
                .join(Entitlement, Entitlement.id == Escrow.entitlement_id)
                .join(Program, Program.id == Escrow.program_id)
                .where(Entitlement.unit_id.in_([person.id, person.household_id]), Program.code == event.programme,
                       Entitlement.cycle == event.cycle)
            ).first()  # fmt: skip
            assert found is not None
            escrow, quantity, value = found
            used = session.scalar(
                select(func.coalesce(func.sum(Redemption.quantity), 0)).where(
                    Redemption.escrow_id == escrow.id, Redemption.counted.is_(True)
                )
            )
            counted = used + event.quantity <= quantity and escrow.point_id == row.point_id
            flags = clock_flags(device_time=event.device_time, server_time=server_time,
                                previous_device_time=row.last_device_time,
                                enrolled_at=int(row.enrolled_at.timestamp()))  # fmt: skip
            sync = DeviceSync(id=uuid7(), device_id=row.id, received_at=INGEST_NOW, received=1, accepted=1, forked=0,
                              replayed=0, refused=0, waiting=0, cases=0)  # fmt: skip
            session.add(sync)
            session.flush()
            session.add(Redemption(
                event_id=event.event_id, device_id=row.id, point_id=row.point_id, sync_id=sync.id, seq=event.seq,
                hash=signed.hash, prev_hash=event.prev_hash, data=data, chain="accepted", answer="accepted",
                card_id=card.id, program_code=event.programme, cycle=event.cycle, quantity=event.quantity,
                device_time=event.device_time, received_at=INGEST_NOW, manifest_version=event.manifest_version,
                flags=sorted(set(event.flags) | set(flags)), person_id=person.id, escrow_id=escrow.id,
                counted=counted, exception=False, value=int(value) * event.quantity // max(int(quantity), 1),
                settlement="none",
            ))  # fmt: skip
            row.chain_seq, row.chain_hash = event.seq, signed.hash
            row.last_device_time, row.last_sync_at = event.device_time, INGEST_NOW
        times.append(time.perf_counter() - t0)
    return times


def profile_batch(factory, device: Device, blobs: list[bytes]) -> str:  # type: ignore[no-untyped-def]
    """cProfile of one batch through ingest_events: where its time goes."""
    profiler = cProfile.Profile()
    profiler.enable()
    ingest_batches(factory, device, blobs, len(blobs))
    profiler.disable()
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    stats.sort_stats("tottime").print_stats(12)
    stats.sort_stats("cumulative").print_stats(r"carnet/", 24)
    return out.getvalue()


def _concurrent_child(url: str, device_id: uuid.UUID, blobs: list[bytes], batch: int, barrier, queue) -> None:  # type: ignore[no-untyped-def]
    from carnet.db.session import make_engine, make_session_factory

    engine = make_engine(url)
    factory = make_session_factory(engine)
    try:
        # A warm-up batch first (a connection, compiled statements), as a long-running server worker has.
        ingest_batches(factory, Device(device_id, None), blobs[:WARM_UP], WARM_UP)
        barrier.wait()
        start = time.monotonic()
        times = ingest_batches(factory, Device(device_id, None), blobs[WARM_UP:], batch)
        queue.put((start, time.monotonic(), times))
    except BaseException as exc:  # the parent must hear of it, not wait for ever
        queue.put(exc.__class__.__name__ + ": " + str(exc))
        raise
    finally:
        engine.dispose()


def concurrent_ingest(url: str, devices: list[Device], chains: list[list[bytes]], batch: int) -> tuple[float, list]:
    """Events per second when one process per device ingests at once (a server's workers); the batch times."""
    import multiprocessing

    context = multiprocessing.get_context("spawn")
    barrier, queue = context.Barrier(len(devices)), context.Queue()
    children = [context.Process(target=_concurrent_child, args=(url, d.device_id, blobs, batch, barrier, queue))
                for d, blobs in zip(devices, chains, strict=True)]  # fmt: skip
    for child in children:
        child.start()
    answers = [queue.get() for _ in children]
    for child in children:
        child.join()
    failed = [answer for answer in answers if isinstance(answer, str)]
    if failed:
        raise SystemExit(f"a concurrent ingest process failed: {failed[0]}")
    wall = max(end for _, end, _ in answers) - min(start for start, _, _ in answers)
    return sum(len(c) - WARM_UP for c in chains) / wall, [t for _, _, times in answers for t in times]


def verification_floor(device: Device, blobs: list[bytes]) -> tuple[list[float], list[float]]:
    """Seconds per 1,000 events for verify_event alone and for the raw Ed25519 checks alone (one process)."""
    from carnet.credentials.cose import decode_sign1, sig_structure
    from carnet.distribution.events import verify_event

    public_raw = device.keys.sign_public  # type: ignore[attr-defined]
    public = device.keys.sign_key.public_key()  # type: ignore[attr-defined]
    raw = []
    for data in blobs:
        message = decode_sign1(data)
        raw.append((message.signature, sig_structure(message.protected, message.payload)))
    full, bare = [], []
    for start in range(0, len(blobs) - 999, 1000):
        t0 = time.perf_counter()
        for data in blobs[start : start + 1000]:
            verify_event(data, device_id=device.device_id, public_raw=public_raw)
        t1 = time.perf_counter()
        for signature, signed in raw[start : start + 1000]:
            public.verify(signature, signed)
        t2 = time.perf_counter()
        full.append(t1 - t0)
        bare.append(t2 - t1)
    return full, bare


@dataclass
class IngestRun:
    """One way of ingesting on one backend: events per second from the median batch, and overall."""

    backend: str
    way: str
    batch: int
    events: int
    median_batch_ms: float
    p99_batch_ms: float
    median_rate: float
    overall_rate: float | None


def ingest_figures(
    backend: str, folder: Path, *, events: int, single: int, workers: int, profile: bool
) -> list[IngestRun]:
    """Build the world on one backend, ingest the same kind of events every way, print the table."""
    from sqlalchemy import func, select

    from carnet.db.session import make_engine, make_session_factory
    from carnet.distribution.models import DistributionCase, Redemption

    extra = 1000
    ways = [("naive ORM, one event per transaction", 1, single), ("ingest_events", 1, single),
            ("ingest_events", 100, events), ("ingest_events", 1000, events)]  # fmt: skip
    # SQLite has one writer at a time: processes at once are measured on PostgreSQL only.
    share = events // workers // 1000 * 1000 if workers > 1 and backend == "postgresql" else 0
    needed = sum(n for _, _, n in ways) + workers * (share + WARM_UP) * bool(share) + extra
    folder.mkdir(parents=True, exist_ok=True)
    url = fresh_store(backend, folder)
    try:
        # About 4 % of seeded rows are rejected by the import, and a few persons get no card: a margin.
        card_ids, devices, seconds = ingest_world(url, folder, people=needed * 21 // 20 + 50,
                                                  devices=len(ways) + workers * bool(share) + 1)  # fmt: skip
        if len(card_ids) < needed:
            raise SystemExit(f"{backend}: {len(card_ids):,} entitled cards, {needed:,} needed")
        random.Random(5).shuffle(card_ids)
        sizes = [n for _, _, n in ways] + [share + WARM_UP] * (workers * bool(share)) + [extra]
        chains, used = [], 0
        start = time.perf_counter()
        for device, n in zip(devices, sizes, strict=True):
            chains.append(signed_chain(device, card_ids[used : used + n]))
            used += n
        console.print(f"{backend}: a store with {len(card_ids):,} entitled cards in escrow at one point and "
                      f"{len(devices)} enrolled devices, built in {seconds:.0f} s; {used:,} events signed by their "
                      f"devices in {time.perf_counter() - start:.1f} s")  # fmt: skip
        engine = make_engine(url)
        factory = make_session_factory(engine)
        results = []
        for (way, batch, n), device, blobs in zip(ways, devices, chains, strict=False):
            start = time.perf_counter()
            if way.startswith("naive"):
                times = naive_ingest(factory, device, blobs)
            else:
                times = ingest_batches(factory, device, blobs, batch)
            wall = time.perf_counter() - start
            median_ms, p99_ms = median_p99(times)
            results.append(IngestRun(backend, way, batch, n, median_ms, p99_ms, batch / (median_ms / 1e3), n / wall))
        if share:
            rate, times = concurrent_ingest(url, devices[len(ways) : len(ways) + workers],
                                            chains[len(ways) : len(ways) + workers], 1000)  # fmt: skip
            median_ms, p99_ms = median_p99(times)
            results.append(IngestRun(backend, f"ingest_events, {workers} processes at once (one device each)", 1000,
                                     share * workers, median_ms, p99_ms, rate, rate))  # fmt: skip
        full, bare = verification_floor(devices[3], chains[3])
        for label, samples in (("floor: verify_event alone (decode + Ed25519), no database", full),
                               ("floor: raw Ed25519 verify alone", bare)):  # fmt: skip
            median_ms, p99_ms = median_p99(samples)
            results.append(IngestRun(backend, label, 1000, len(samples) * 1000, median_ms, p99_ms,
                                     1000 / (median_ms / 1e3), None))  # fmt: skip
        with factory() as session:
            total = session.scalar(select(func.count()).select_from(Redemption))
            counted = session.scalar(select(func.count()).select_from(Redemption).where(Redemption.counted.is_(True)))
            cases = session.scalar(select(func.count()).select_from(DistributionCase))
        if (total, counted, cases) != (used - extra, used - extra, 0):
            raise SystemExit(f"{backend}: {total} stored, {counted} counted, {cases} cases; {used - extra} expected")
        one = results[3]
        if profile or (backend == "postgresql" and one.median_rate < GOAL_EVENTS_S):
            console.print(f"[bold]{backend}: cProfile of one more batch of {extra:,} through ingest_events[/bold]")
            console.print(profile_batch(factory, devices[-1], chains[-1]), markup=False)
        engine.dispose()
    finally:
        drop_store(url)
    return results


def print_ingest(results: list[IngestRun]) -> None:
    """The ingest table, with each way's ratio to the naive path on the same backend, and what it means."""
    table = Table(title="Server sync ingest: each batch one committed transaction, every event a fresh redemption")
    for column in ("backend", "way", "batch", "events", "median batch ms", "p99 batch ms", "events/s (median)",
                   "events/s (overall)", "× naive"):  # fmt: skip
        table.add_column(column, justify="left" if column in ("backend", "way") else "right")
    naive = {r.backend: r for r in results if r.way.startswith("naive")}
    for r in results:
        ratio = r.median_rate / naive[r.backend].median_rate
        overall = "" if r.overall_rate is None else f"{r.overall_rate:,.0f}"
        table.add_row(r.backend, r.way, f"{r.batch:,}", f"{r.events:,}", f"{r.median_batch_ms:.2f}",
                      f"{r.p99_batch_ms:.2f}", f"{r.median_rate:,.0f}", overall, f"{ratio:.1f}")  # fmt: skip
    console.print(table)
    console.print("events/s (median) = batch size / median batch time; (overall) = events / wall time of the run; "
                  "× naive = ratio of the medians on the same backend. The naive path writes no audit entry "
                  "(ingest_events writes one per sync), which favours it.")  # fmt: skip
    for backend in dict.fromkeys(r.backend for r in results):
        mine = [r for r in results if r.backend == backend]
        one = next(r for r in mine if r.way == "ingest_events" and r.batch == 1000)
        floor = next(r for r in mine if r.way.startswith("floor: verify_event"))
        many = next((r for r in mine if "processes" in r.way), None)
        goal = ""
        if backend == "postgresql":
            goal = f" (goal ≥ {GOAL_EVENTS_S:,}/s: {'met' if one.median_rate >= GOAL_EVENTS_S else 'missed'})"
        console.print(
            f"{backend}, batch 1,000, one process: {one.median_rate:,.0f} events/s{goal} = "
            f"{one.median_rate / naive[backend].median_rate:.1f}× the naive path; a national day of "
            f"{NATIONAL_DAY:,} redemptions syncs in {NATIONAL_DAY / one.median_rate / 60:.1f} min (goal < 4 min). "
            f"Verifying the events alone allows {floor.median_rate:,.0f}/s per process: "
            f"{100 * one.median_rate / floor.median_rate:.0f} % of that ceiling is reached."
        )  # fmt: skip
        if many is not None:
            processes = many.way.split(", ")[1].split(" ")[0]
            console.print(
                f"{backend}, {processes} ingest processes at once on this machine: {many.median_rate:,.0f} events/s "
                f"({many.median_rate / one.median_rate:.2f}× one process): {NATIONAL_DAY:,} in "
                f"{NATIONAL_DAY / many.median_rate / 60:.1f} min; at {one.median_rate:,.0f}/s each, "
                f"{-(-GOAL_EVENTS_S // int(one.median_rate))} processes on as many free cores would reach "
                f"{GOAL_EVENTS_S:,}/s if they scaled linearly."
            )  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scans", type=int, default=300, help="timed scans of each kind (with and without decoding)")
    parser.add_argument("--escrow", type=int, default=5000, help="entitlements in the point's manifest")
    parser.add_argument("--frames", default="1280x720,640x480", help="camera picture sizes, WIDTHxHEIGHT,…")
    parser.add_argument("--events", type=int, default=10_000, help="events ingested at batch 100 and at 1,000")
    parser.add_argument("--single", type=int, default=1000, help="events ingested one per transaction (both ways)")
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--workers", type=int, default=2, help="ingest processes at once, one device each (1: none)")
    parser.add_argument("--profile", action="store_true", help="print a cProfile of one batch of 1,000")
    parser.add_argument("--skip-scans", action="store_true")
    parser.add_argument("--skip-ingest", action="store_true")
    parser.add_argument("--quick", action="store_true", help="small counts: a smoke run, not figures to quote")
    args = parser.parse_args()
    if args.quick:
        args.scans, args.escrow, args.events, args.single = 40, 500, 2000, 200
    frames = [(int(w), int(h)) for w, h in (size.lower().split("x") for size in args.frames.split(","))]
    console.print(f"machine: {machine()}")
    with tempfile.TemporaryDirectory(prefix="carnet-bench-") as tmp:
        folder = Path(tmp)
        if not args.skip_scans:
            scan_figures(folder, scans=args.scans, escrow=args.escrow, frames=frames)
        if not args.skip_ingest:
            results = []
            for backend in available_backends(args.backends):
                results += ingest_figures(backend, folder / backend, events=args.events, single=args.single,
                                          workers=args.workers, profile=args.profile)  # fmt: skip
            print_ingest(results)


if __name__ == "__main__":
    main()
