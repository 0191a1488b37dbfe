"""Card figures: credentials signed and verified per second beside raw Ed25519, QR times, status list size, bulk issue.

    .venv/bin/python benchmarks/cards.py [--people 1000000] [--backends sqlite,postgresql] [--rounds 5000]

Signing and verification run on one core and are compared with the raw Ed25519 sign/verify rate of the
same library measured in the same run: that rate is the floor no credential can beat. The bulk issue
imports a seeded population into a fresh store, then issues every person a card (signing and PIN
hashing in two worker processes), PIN mailers to a CSV file, no PDFs.
"""

from __future__ import annotations

import argparse
import csv
import io
import os
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "benchmarks"))

from import_rate import available_backends, drop_store, fresh_store, machine, timed_import, write_population  # noqa: E402

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
PASSPHRASE = "benchmark passphrase, not a secret"


def per_call(function, rounds: int, blocks: int = 7) -> float:
    """Median seconds per call over `blocks` blocks of `rounds` calls (the median resists a noisy neighbour)."""
    samples = []
    for _ in range(blocks):
        start = time.perf_counter()
        for _ in range(rounds):
            function()
        samples.append((time.perf_counter() - start) / rounds)
    return statistics.median(samples)


def crypto_figures(rounds: int) -> None:
    """Sign and verify rates of credentials against raw Ed25519, on one core."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from carnet.credentials.cose import VerifierKey, cose_kid
    from carnet.credentials.credential import issue_credential
    from carnet.credentials.cwt import CardClaims
    from carnet.credentials.statuslist import StatusList, build_status_list, expand_status_list
    from carnet.credentials.verify import verify_credential

    key = Ed25519PrivateKey.generate()
    public = key.public_key()
    public_raw = public.public_bytes_raw()
    kid = cose_kid(public_raw)
    nbf = int(NOW.timestamp())
    claims = CardClaims(issuer="carnet", card_id=os.urandom(16), not_before=nbf, expires=nbf + 5 * 365 * 86400,
                        status_list_id="1", status_index=654_321)  # fmt: skip
    message = os.urandom(120)
    signature = key.sign(message)

    raw_sign = per_call(lambda: key.sign(message), rounds)
    credential_sign = per_call(lambda: issue_credential(claims, kid=kid, sign=key.sign), rounds)
    print(f"signing, one core: credential {1 / credential_sign:,.0f}/s, raw Ed25519 {1 / raw_sign:,.0f}/s: "
          f"{100 * raw_sign / credential_sign:.0f} % of the raw rate (goal >= 50 %)")  # fmt: skip

    text = issue_credential(claims, kid=kid, sign=key.sign)
    keys = {kid: VerifierKey.from_public(public_raw)}
    bits = expand_status_list(build_status_list(1 << 20, random.sample(range(1 << 20), 10_000)))
    lists = {"1": StatusList(list_id="1", bits=bits, issued_at=nbf, ttl=86400, kid=kid)}
    assert verify_credential(text, keys=keys, status_lists=lists, now=nbf + 10).code in ("valid", "revoked")
    raw_verify = per_call(lambda: public.verify(signature, message), rounds)
    credential_verify = per_call(lambda: verify_credential(text, keys=keys, status_lists=lists, now=nbf + 10), rounds)
    print(f"verification, one core, string -> verdict: median {credential_verify * 1e6:.0f} µs "
          f"({1 / credential_verify:,.0f}/s), raw Ed25519 verify {raw_verify * 1e6:.0f} µs: "
          f"{credential_verify / raw_verify:.2f}x the raw cost (goal <= 250 µs)")  # fmt: skip
    print(f"credential: {len(text)} characters")

    import segno
    import zxingcpp
    from PIL import Image

    from carnet.credentials.printing import qr_png

    png = qr_png(text)
    encode = per_call(lambda: qr_png(text), max(rounds // 50, 20))
    image = Image.open(io.BytesIO(png))
    image.load()
    decode = per_call(lambda: zxingcpp.read_barcodes(image), max(rounds // 50, 20))
    version = segno.make(text, error="q", micro=False, boost_error=False).version
    print(f"QR: version {version}, encode to PNG median {encode * 1e3:.2f} ms, decode from the image "
          f"{decode * 1e3:.2f} ms ({image.width} px square)")  # fmt: skip

    for cards in (1_000_000, 10_000_000):
        revoked = random.sample(range(cards), cards // 100)
        size = len(build_status_list(cards, revoked))
        print(f"status list: {cards:,} cards with 1 % revoked at random: {size:,} bytes compressed "
              f"(goal for 10^6: <= 15,000)")  # fmt: skip


def bulk_issue(backend: str, folder: Path, population: Path, people: int) -> None:
    """Import `people` seeded persons into a fresh store and issue each a card; prints the wall time."""
    from carnet.credentials.service import CardPolicy, IssueScope, PinLetter, issue_cards
    from carnet.db.session import make_engine, make_session_factory, unit_of_work
    from carnet.kit.actor import system_actor

    url = fresh_store(backend, folder)
    seconds, imported, *_ = timed_import(url, population)
    print(f"{backend}: imported {imported:,} persons in {seconds:.0f} s", flush=True)
    factory = make_session_factory(make_engine(url))
    mailers = folder / f"pins-{backend}.csv"
    with mailers.open("w", newline="") as handle:
        writer = csv.writer(handle)

        def pins(letters: list[PinLetter]) -> None:
            writer.writerows((letter.card_id.hex, letter.pin) for letter in letters)

        start = time.perf_counter()
        with unit_of_work(factory) as session:
            run = issue_cards(session, actor=system_actor("bench", "registration"), scope=IssueScope(),
                              policy=CardPolicy(), passphrase=PASSPHRASE, now=NOW, pins=pins, workers=2)  # fmt: skip
        wall = time.perf_counter() - start
    print(f"{backend}: issued {run.cards:,} cards (signed credential, PIN, Argon2id PIN hash) in {wall:.0f} s = "
          f"{run.cards / wall:,.0f} cards/s (goal: 10^6 in <= 180 s)", flush=True)  # fmt: skip
    factory.kw["bind"].dispose()
    drop_store(url)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=1_000_000, help="persons to issue cards to (0: skip)")
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--rounds", type=int, default=5_000, help="calls per timing block")
    args = parser.parse_args()
    print(f"machine: {machine()}")
    crypto_figures(args.rounds)
    if not args.people:
        return
    with tempfile.TemporaryDirectory(prefix="carnet-bench-") as tmp:
        population = Path(tmp) / "population.csv"
        print(f"seeded file: {args.people:,} persons written in {write_population(population, args.people):.0f} s",
              flush=True)  # fmt: skip
        for backend in available_backends(args.backends):
            bulk_issue(backend, Path(tmp), population, args.people)


if __name__ == "__main__":
    main()
