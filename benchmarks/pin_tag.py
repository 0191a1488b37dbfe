"""Offline PIN check figures: cost of one check at the counter, and what a thief with the tablet is left with.

    .venv/bin/python benchmarks/pin_tag.py [--cards 1] [--workers 2] [--memory-kib 256]

For each card (a random PIN hashed as the server hashes PINs), all 10^6 PINs are tried against the point's
check data, as a thief holding the tablet and its keys would: the figure is the candidates left (expected
10^6/4,096 ≈ 244) and the hours one core needs. Beside it, the baseline in the same run: the server's own
Argon2id verification of one PIN, which is what the tag check costs at the counter.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "tests"))

from import_rate import machine  # noqa: E402

from carnet.credentials.issuing import new_pin, pin_hasher, pin_matches  # noqa: E402
from carnet.distribution.pin_tag import (  # noqa: E402
    ATTEMPTS,
    candidates_expected,
    check_from_hash,
    guess_passes_probability,
    pin_passes,
)


def _count(card_id: str, stored: str, start: int, stop: int) -> int:
    check = check_from_hash(card_id, stored)
    return sum(pin_passes(card_id, f"{n:06d}", check) for n in range(start, stop))


def main() -> int:
    """Print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cards", type=int, default=1)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--memory-kib", type=int, default=256)
    args = parser.parse_args()
    print(machine())
    hasher = pin_hasher(args.memory_kib)
    pin = new_pin()
    stored = hasher.hash(pin)
    check = check_from_hash("bench-card", stored)
    tag_times, verify_times = [], []
    for _ in range(200):
        t0 = time.perf_counter()
        pin_passes("bench-card", pin, check)
        t1 = time.perf_counter()
        pin_matches(stored, pin)
        t2 = time.perf_counter()
        tag_times.append(t1 - t0)
        verify_times.append(t2 - t1)
    tag_ms, verify_ms = statistics.median(tag_times) * 1e3, statistics.median(verify_times) * 1e3
    print(
        f"PIN check at the counter (tag): median {tag_ms:.2f} ms; server Argon2id verify {verify_ms:.2f} ms "
        f"(ratio {tag_ms / verify_ms:.2f})"
    )
    print(f"random guesser: {ATTEMPTS} tries pass with p = {guess_passes_probability():.5f}")
    step = 1_000_000 // (args.workers * 8)
    for card in range(args.cards):
        card_id = f"bench-card-{card}"
        stored = hasher.hash(new_pin())
        started = time.perf_counter()
        with ProcessPoolExecutor(args.workers) as pool:
            parts = [pool.submit(_count, card_id, stored, s, min(s + step, 1_000_000))
                     for s in range(0, 1_000_000, step)]  # fmt: skip
            left = sum(p.result() for p in parts)
        elapsed = time.perf_counter() - started
        core_hours = elapsed * args.workers / 3600
        print(
            f"card {card}: {left} candidates left of 10^6 (expected {candidates_expected():.0f}); "
            f"{elapsed:.0f} s on {args.workers} workers = {core_hours:.2f} core-hours per card"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
