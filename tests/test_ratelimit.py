"""The token bucket: spacing, burst, the one-second bound, AIMD, threads — on a fake clock."""

from __future__ import annotations

import itertools
import math
import threading
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fbcli.ratelimit import RateLimiter


class FakeTime:
    """A thread-safe fake clock; ``sleep`` advances it (or, if ``frozen``, only records)."""

    def __init__(self, start: float = 0.0, *, frozen: bool = False) -> None:
        self.now = start
        self.frozen = frozen
        self.sleeps: list[float] = []
        self.on_sleep: Callable[[float], None] | None = None
        self._lock = threading.Lock()

    def clock(self) -> float:
        with self._lock:
            return self.now

    def sleep(self, seconds: float) -> None:
        assert seconds > 0
        if self.on_sleep is not None:
            self.on_sleep(seconds)
        with self._lock:
            self.sleeps.append(seconds)
            if not self.frozen:
                self.now += seconds

    def advance(self, seconds: float) -> None:
        with self._lock:
            self.now += seconds


def make(rate: float, ft: FakeTime, **kwargs: Any) -> RateLimiter:
    return RateLimiter(rate, clock=ft.clock, sleep=ft.sleep, **kwargs)


def grant_times(limiter: RateLimiter, ft: FakeTime, count: int) -> list[float]:
    """Acquire ``count`` tokens in a row; return the clock time each was granted at."""
    times = []
    for _ in range(count):
        before = ft.clock()
        times.append(before + limiter.acquire())
    return times


def max_in_one_second(times: list[float]) -> int:
    """The most grants in any closed window ``[t, t + 1]``."""
    ordered = sorted(times)
    best, lo = 0, 0
    for hi, t in enumerate(ordered):
        while ordered[lo] < t - 1.0:
            lo += 1
        best = max(best, hi - lo + 1)
    return best


# --- spacing and burst -------------------------------------------------------------------


def test_first_call_is_immediate_and_later_ones_are_spaced_one_interval_apart() -> None:
    ft = FakeTime(100.0)
    limiter = make(4.0, ft)
    assert limiter.acquire() == 0.0
    assert ft.sleeps == []
    waits = [limiter.acquire() for _ in range(5)]
    assert waits == pytest.approx([0.25] * 5)
    assert ft.now == pytest.approx(101.25)


def test_an_idle_limiter_does_not_make_the_caller_wait() -> None:
    ft = FakeTime()
    limiter = make(2.0, ft)
    limiter.acquire()
    ft.advance(10.0)
    assert limiter.acquire() == 0.0
    assert limiter.acquire() == pytest.approx(0.5)


def test_burst_tokens_go_out_at_once_then_refill_at_the_rate() -> None:
    ft = FakeTime()
    limiter = make(10.0, ft, burst=3)
    assert grant_times(limiter, ft, 5) == pytest.approx([0.0, 0.0, 0.0, 0.1, 0.2])
    ft.advance(1.0)  # a full refill: three tokens again, never more
    assert grant_times(limiter, ft, 4) == pytest.approx([1.2, 1.2, 1.2, 1.3])


def test_waiting_callers_queue_up_one_interval_apart_without_polling() -> None:
    ft = FakeTime(frozen=True)  # many callers arriving at the same instant
    limiter = make(5.0, ft, burst=2)
    waits = [limiter.acquire() for _ in range(6)]
    assert waits == pytest.approx([0.0, 0.0, 0.2, 0.4, 0.6, 0.8])
    assert ft.sleeps == pytest.approx(waits[2:])  # one sleep per waiting caller


def test_try_acquire_takes_only_available_tokens() -> None:
    ft = FakeTime()
    limiter = make(2.0, ft, burst=2)
    assert [limiter.try_acquire() for _ in range(3)] == [True, True, False]
    ft.advance(0.49)
    assert not limiter.try_acquire()
    ft.advance(0.01)
    assert limiter.try_acquire()
    assert not limiter.try_acquire()
    assert ft.sleeps == []


def test_sleep_happens_outside_the_lock() -> None:
    ft = FakeTime()
    limiter = make(1.0, ft)
    held: list[bool] = []
    ft.on_sleep = lambda _seconds: held.append(limiter._lock.locked())
    limiter.acquire()
    limiter.acquire()
    assert held == [False]


@settings(max_examples=60, deadline=None)
@given(
    rate=st.floats(min_value=0.2, max_value=200.0),
    burst=st.integers(min_value=1, max_value=20),
    steps=st.lists(
        st.tuples(
            st.sampled_from(["acquire", "queue", "try", "idle", "throttle", "success"]),
            st.floats(min_value=0.0, max_value=3.0),
        ),
        min_size=50,
        max_size=400,
    ),
)
def test_no_one_second_window_grants_more_than_rate_plus_burst(
    rate: float, burst: int, steps: list[tuple[str, float]]
) -> None:
    ft = FakeTime()
    limiter = make(rate, ft, burst=burst, recovery_seconds=2.0)
    granted: list[float] = []
    for op, x in steps:
        now = ft.clock()
        if op == "acquire":  # a caller that sleeps until its slot
            granted.append(now + limiter.acquire())
        elif op == "queue":  # a caller reserving while others still sleep
            ft.frozen = True
            granted.extend(now + limiter.acquire() for _ in range(1 + int(x * 5)))
            ft.frozen = False
        elif op == "try":
            if limiter.try_acquire():
                granted.append(now)
        elif op == "idle":
            ft.advance(x)
        elif op == "throttle":
            limiter.throttle(x if x > 1.5 else None)
        else:
            for _ in range(1 + int(x * 10)):
                limiter.record_success()
                ft.advance(x / 10)
    assert max_in_one_second(granted) <= rate + burst + 1e-9


def test_the_bound_is_reached_by_a_steady_stream() -> None:
    ft = FakeTime()
    limiter = make(8.0, ft, burst=3)  # 1/8 s is exact in binary: no rounding at the edges
    times = grant_times(limiter, ft, 1000)
    assert max_in_one_second(times) == 11  # rate + burst, at the very start
    assert max_in_one_second(times[100:]) == 9  # steady state: rate + 1 in a closed window


# --- adaptation --------------------------------------------------------------------------


def test_throttle_halves_the_rate_and_spaces_later_tokens_accordingly() -> None:
    ft = FakeTime()
    limiter = make(8.0, ft)
    limiter.acquire()
    limiter.throttle()
    assert limiter.current_rate == 4.0
    assert limiter.rate == 8.0
    # the slot already reserved stands (1/8 s); the next one is spaced at the new rate
    assert grant_times(limiter, ft, 3) == pytest.approx([0.125, 0.375, 0.625])


def test_throttle_honours_retry_after_without_a_burst_when_the_pause_ends() -> None:
    ft = FakeTime()
    limiter = make(10.0, ft, burst=5)
    limiter.throttle(2.0)
    assert not limiter.try_acquire()
    assert grant_times(limiter, ft, 3) == pytest.approx([2.0, 2.2, 2.4])
    assert ft.sleeps == pytest.approx([2.0, 0.2, 0.2])  # straight to the slot, no retries


def test_a_later_shorter_retry_after_does_not_shorten_the_pause() -> None:
    ft = FakeTime()
    limiter = make(10.0, ft)
    limiter.throttle(3.0)
    limiter.throttle(0.5)
    assert limiter.acquire() == pytest.approx(3.0)


def test_a_caller_already_asleep_waits_for_a_retry_after_that_arrives_meanwhile() -> None:
    ft = FakeTime()
    limiter = make(10.0, ft)
    limiter.acquire()
    calls: list[float] = []

    def another_worker_gets_429(seconds: float) -> None:
        if not calls:
            limiter.throttle(2.0)  # would deadlock if sleep ran under the lock
        calls.append(seconds)

    ft.on_sleep = another_worker_gets_429
    assert limiter.acquire() == pytest.approx(2.0)
    assert calls == pytest.approx([0.1, 1.9])


def test_throttle_never_goes_below_the_floor() -> None:
    ft = FakeTime()
    limiter = make(10.0, ft)
    for _ in range(20):
        limiter.throttle()
    assert limiter.current_rate == 0.5  # rate / 20
    custom = make(10.0, ft, min_rate=3.0)
    custom.throttle()
    custom.throttle()
    assert custom.current_rate == 3.0


def test_recovery_is_linear_and_reaches_the_rate_after_recovery_seconds() -> None:
    ft = FakeTime()
    limiter = make(10.0, ft, recovery_seconds=30.0)
    limiter.throttle()
    assert limiter.current_rate == 5.0
    rates = {}
    for step in range(1, 801):  # a success every 50 ms for 40 s
        ft.advance(0.05)
        limiter.record_success()
        rates[step] = limiter.current_rate
    assert rates[200] == pytest.approx(5.0 + 5.0 * 10 / 30)
    assert rates[300] == pytest.approx(7.5)
    assert rates[599] < 10.0
    assert rates[600] == pytest.approx(10.0)
    assert rates[800] == 10.0  # capped at the configured rate
    assert all(rates[s] <= rates[s + 1] for s in range(1, 800))


def test_recovery_credits_at_most_one_interval_per_success() -> None:
    ft = FakeTime()
    limiter = make(10.0, ft, recovery_seconds=30.0)
    limiter.throttle()
    ft.advance(100.0)  # idle: not a stretch of successes
    limiter.record_success()
    assert limiter.current_rate == pytest.approx(5.0 + (5.0 / 30.0) * (1 / 5.0))


def test_a_new_throttle_restarts_recovery_from_the_lower_rate() -> None:
    ft = FakeTime()
    limiter = make(16.0, ft, recovery_seconds=10.0)
    limiter.throttle()
    for _ in range(100):
        ft.advance(0.05)
        limiter.record_success()
    assert limiter.current_rate == pytest.approx(12.0)
    limiter.throttle()
    assert limiter.current_rate == pytest.approx(6.0)
    for _ in range(100):
        ft.advance(0.05)
        limiter.record_success()
    assert limiter.current_rate == pytest.approx(11.0)  # slope (16 - 6) / 10 per second


def test_success_at_full_rate_changes_nothing() -> None:
    ft = FakeTime()
    limiter = make(3.0, ft)
    limiter.record_success()
    assert limiter.current_rate == 3.0


# --- threads -----------------------------------------------------------------------------


def test_threads_get_unique_slots_spaced_one_interval_apart() -> None:
    ft = FakeTime(frozen=True)  # deterministic: every reservation sees the same instant
    rate, workers, each = 20.0, 8, 50
    limiter = make(rate, ft)
    slots: list[float] = []
    start = threading.Barrier(workers)

    def worker() -> None:
        start.wait()
        mine = [limiter.acquire() for _ in range(each)]
        slots.extend(mine)

    threads = [threading.Thread(target=worker) for _ in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert not any(thread.is_alive() for thread in threads)
    ordered = sorted(slots)
    assert len(ordered) == workers * each
    assert ordered == pytest.approx([k / rate for k in range(workers * each)])
    gaps = [b - a for a, b in itertools.pairwise(ordered)]
    assert min(gaps) >= 1 / rate - 1e-9


# --- validation --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"rate": 0.0}, "rate must be a finite number > 0"),
        ({"rate": -1.0}, "rate must be a finite number > 0"),
        ({"rate": math.inf}, "rate must be a finite number > 0"),
        ({"rate": math.nan}, "rate must be a finite number > 0"),
        ({"rate": 5.0, "burst": 0}, "burst must be an integer >= 1"),
        ({"rate": 5.0, "min_rate": 0.0}, "min_rate must be a finite number > 0"),
        ({"rate": 5.0, "min_rate": 6.0}, "min_rate must not exceed rate"),
        ({"rate": 5.0, "recovery_seconds": 0.0}, "recovery_seconds must be a finite"),
    ],
)
def test_bad_arguments_are_rejected(kwargs: dict[str, float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        RateLimiter(**kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize("retry_after", [-1.0, math.inf, math.nan])
def test_bad_retry_after_is_rejected(retry_after: float) -> None:
    limiter = make(1.0, FakeTime())
    with pytest.raises(ValueError, match="retry_after must be a finite number >= 0"):
        limiter.throttle(retry_after)
    assert limiter.current_rate == 1.0


def test_defaults_use_the_real_clock_without_waiting_for_the_first_token() -> None:
    limiter = RateLimiter(1.0)
    assert limiter.acquire() == 0.0
