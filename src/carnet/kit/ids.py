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


class Uuid7Sequence:
    """Strictly increasing uuid7 values, also within one millisecond (RFC 9562 §6.2, method 1)."""

    def __init__(self) -> None:
        self._ms = 0
        self._counter = 0

    def take(self, count: int) -> list[uuid.UUID]:
        """The next `count` ids, each greater than every id this sequence gave before."""
        return [uuid.UUID(int=value) for value in self.take_ints(count)]

    def take_ints(self, count: int) -> list[int]:
        """The next `count` ids as 128-bit integers (cheaper when they go straight to a database)."""
        now = time.time_ns() // 1_000_000
        if now > self._ms:
            self._ms, self._counter = now, 0
        ms, counter = self._ms, self._counter
        rand = os.urandom(8 * count)
        out = []
        for i in range(count):
            if counter > 0xFFF:  # 12-bit counter exhausted: borrow the next millisecond
                ms, counter = ms + 1, 0
            rand_b = int.from_bytes(rand[8 * i : 8 * i + 8], "big") & ((1 << 62) - 1)
            out.append((ms << 80) | 0x7 << 76 | counter << 64 | 0b10 << 62 | rand_b)
            counter += 1
        self._ms, self._counter = ms, counter
        return out
