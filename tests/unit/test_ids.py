"""uuid7 identifiers: version and variant bits, the timestamp, and strictly increasing sequences."""

from __future__ import annotations

import time
import uuid
from itertools import pairwise

from hypothesis import given, settings
from hypothesis import strategies as st

from carnet.kit.ids import Uuid7Sequence, uuid7


def unix_ms(value: uuid.UUID) -> int:
    """The 48-bit Unix-millisecond timestamp of a uuid7."""
    return value.int >> 80


def counter(value: uuid.UUID) -> int:
    """The 12 bits after the version (rand_a, used as a counter by Uuid7Sequence)."""
    return (value.int >> 64) & 0xFFF


def assert_uuid7(value: uuid.UUID) -> None:
    assert value.version == 7
    assert value.variant == uuid.RFC_4122


class TestUuid7:
    def test_version_7_and_rfc_variant(self):
        for _ in range(200):
            assert_uuid7(uuid7())

    def test_carries_the_current_time_in_milliseconds(self):
        before = time.time_ns() // 1_000_000
        value = uuid7()
        after = time.time_ns() // 1_000_000
        assert before <= unix_ms(value) <= after

    def test_given_timestamp_is_kept_and_orders_ids(self):
        earlier, later = uuid7(unix_ms=1_700_000_000_000), uuid7(unix_ms=1_700_000_000_001)
        assert unix_ms(earlier) == 1_700_000_000_000
        assert unix_ms(later) == 1_700_000_000_001
        assert earlier < later
        assert_uuid7(earlier)
        assert_uuid7(later)

    def test_random_bits_differ(self):
        values = {uuid7(unix_ms=42) for _ in range(1000)}
        assert len(values) == 1000


class TestUuid7Sequence:
    def test_one_batch_is_strictly_increasing(self):
        ids = Uuid7Sequence().take(100)
        assert len(ids) == 100
        assert all(a < b for a, b in pairwise(ids))

    def test_increasing_across_calls_within_one_millisecond(self):
        sequence = Uuid7Sequence()
        ids = [value for _ in range(50) for value in sequence.take(3)]
        assert all(a < b for a, b in pairwise(ids))
        assert len(set(ids)) == 150

    def test_counter_overflow_borrows_the_next_millisecond(self):
        ids = Uuid7Sequence().take(10_000)  # more than the 4,096 values of the 12-bit counter
        assert all(a < b for a, b in pairwise(ids))
        for value in ids:
            assert_uuid7(value)
        first_ms = unix_ms(ids[0])
        assert counter(ids[0]) == 0
        # 10,000 ids need at least three milliseconds of counters, and never more than they need.
        assert unix_ms(ids[-1]) - first_ms >= 2
        assert max(counter(v) for v in ids) == 0xFFF
        assert unix_ms(ids[-1]) <= max(first_ms + 2, time.time_ns() // 1_000_000)

    def test_empty_batch(self):
        sequence = Uuid7Sequence()
        first = sequence.take(2)
        assert sequence.take(0) == []
        assert first[-1] < sequence.take(1)[0]

    @settings(max_examples=25, deadline=None)
    @given(st.lists(st.one_of(st.integers(0, 40), st.integers(4_000, 9_000)), min_size=1, max_size=4))
    def test_strictly_increasing_over_any_batches(self, sizes):
        sequence = Uuid7Sequence()
        ids = [value for size in sizes for value in sequence.take(size)]
        assert len(ids) == sum(sizes)
        assert all(a < b for a, b in pairwise(ids))
        assert all(v.version == 7 and v.variant == uuid.RFC_4122 for v in ids)
