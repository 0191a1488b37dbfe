"""The back-off rule (pure): monotone, bounded, free below the threshold, reset by a success."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from carnet.access.throttle import BackoffRule, ThrottleKey, backoff_seconds, failures_after, is_locked_out

rules = st.builds(
    BackoffRule,
    free_failures=st.integers(1, 20),
    base_delay_seconds=st.integers(0, 60),
    max_delay_seconds=st.integers(0, 86_400),
    lockout_failures=st.integers(2, 50),
)
BOUNDED = settings(max_examples=60, deadline=None)


@BOUNDED
@given(rules, st.integers(0, 10_000), st.integers(0, 10_000))
def test_more_failures_never_wait_less(rule, a, b):
    low, high = sorted((a, b))
    assert backoff_seconds(low, rule) <= backoff_seconds(high, rule)
    assert is_locked_out(low, rule) <= is_locked_out(high, rule)


@BOUNDED
@given(rules, st.integers(0, 10**9))
def test_the_wait_is_bounded_and_free_below_the_threshold(rule, failures):
    wait = backoff_seconds(failures, rule)
    assert 0 <= wait <= rule.max_delay_seconds
    if failures < rule.free_failures:
        assert wait == 0


@BOUNDED
@given(rules, st.lists(st.booleans(), max_size=60))
def test_a_success_starts_the_count_again(rule, outcomes):
    failures = 0
    for succeeded in outcomes:
        failures = failures_after(failures, succeeded=succeeded)
        if succeeded:
            assert failures == 0 and backoff_seconds(failures, rule) == 0 and not is_locked_out(failures, rule)
    assert failures == len(outcomes) - (max(i for i, ok in enumerate(outcomes) if ok) + 1 if any(outcomes) else 0)


def test_the_delay_doubles_after_the_free_failures():
    rule = BackoffRule(free_failures=3, base_delay_seconds=2, max_delay_seconds=60, lockout_failures=10)
    assert [backoff_seconds(n, rule) for n in range(9)] == [0, 0, 0, 2, 4, 8, 16, 32, 60]
    assert [is_locked_out(n, rule) for n in (9, 10, 11)] == [False, True, True]


def test_keys_are_hashed_and_usernames_case_blind():
    key = ThrottleKey("account", "Ana.Gil")
    assert key.digest == ThrottleKey("account", "ana.gil ").digest
    assert "ana" not in key.digest and len(key.digest) == 64
    assert key.digest != ThrottleKey("address", "Ana.Gil").digest
    assert ThrottleKey("card", "CN1:ABC").digest != ThrottleKey("card", "CN1:abc").digest
