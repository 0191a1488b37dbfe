"""Time-ordered uuid7 identifiers (RFC 9562), so that new rows land at the end of indexes."""

from __future__ import annotations

import os
import time
import uuid


def uuid7(unix_ms: int | None = None) -> uuid.UUID:
    """A new uuid7: 48 bits of Unix milliseconds, then 74 random bits."""
    ms = time.time_ns() // 1_000_000 if unix_ms is None else unix_ms
    rand = int.from_bytes(os.urandom(10), "big")
    rand_a = rand >> 68  # 12 bits
    rand_b = rand & ((1 << 62) - 1)
    value = (ms & ((1 << 48) - 1)) << 80 | 0x7 << 76 | rand_a << 64 | 0b10 << 62 | rand_b
    return uuid.UUID(int=value)


def uuid7_batch(count: int) -> list[uuid.UUID]:
    """`count` uuid7 values that sort in the order given (one clock read for the whole batch)."""
    ms = time.time_ns() // 1_000_000
    rand = os.urandom(10 * count)
    out = []
    # A per-batch counter in rand_a keeps the batch ordered within one millisecond.
    for i in range(count):
        rand_b = int.from_bytes(rand[10 * i : 10 * i + 8], "big") & ((1 << 62) - 1)
        rand_a = i & 0xFFF
        ms_i = ms + (i >> 12)
        out.append(uuid.UUID(int=(ms_i << 80) | 0x7 << 76 | rand_a << 64 | 0b10 << 62 | rand_b))
    return out
