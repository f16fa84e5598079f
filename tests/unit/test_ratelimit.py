"""The token bucket: spacing, burst, waits, the one-second bounds, adaptation, threads.

All on fake clocks: a ``FakeTime`` for one caller at a time, ``VirtualTime``
(``tests/vtime.py``) for threads.  The scenarios of a whole replay against a
model server are in ``tests/process/test_throttle.py``.
"""

from __future__ import annotations

import itertools
import math
import threading
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fbcli import ratelimit
from fbcli.ratelimit import RateLimiter
from tests.support.vtime import VirtualTime


class FakeTime:
    """A thread-safe fake clock; ``sleep`` advances it (or, if ``frozen``, only records).

    ``oversleep`` is added to the next sleep (then reset): the caller wakes that
    much after its time, as a stopped or starved process does.
    """

    def __init__(self, start: float = 0.0, *, frozen: bool = False) -> None:
        self.now = start
        self.frozen = frozen
        self.sleeps: list[float] = []
        self.oversleep = 0.0
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
                self.now += seconds + self.oversleep
            self.oversleep = 0.0

    def wait(self, event: threading.Event, seconds: float) -> bool:
        """``event.wait(seconds)`` on this clock: True at once if set, else sleep, then check."""
        if event.is_set():
            return True
        self.sleep(seconds)
        return event.is_set()

    def advance(self, seconds: float) -> None:
        with self._lock:
            self.now += seconds


def make(rate: float, ft: FakeTime, **kwargs: Any) -> RateLimiter:
    return RateLimiter(rate, clock=ft.clock, sleep=ft.sleep, wait=ft.wait, **kwargs)


def acquire_at(limiter: RateLimiter, ft: FakeTime, **kwargs: Any) -> float:
    """Acquire one token; the time it was granted (on a frozen clock: now + the last sleep)."""
    before, slept = ft.clock(), len(ft.sleeps)
    assert limiter.acquire(**kwargs)
    if ft.frozen and len(ft.sleeps) > slept:
        return before + ft.sleeps[-1]
    return ft.clock()


def grant_times(limiter: RateLimiter, ft: FakeTime, count: int) -> list[float]:
    """Acquire ``count`` tokens in a row; return the clock time each was granted at."""
    return [acquire_at(limiter, ft) for _ in range(count)]


def max_in_one_second(times: list[float]) -> int:
    """The most grants in any closed window ``[t, t + 1]``."""
    ordered = sorted(times)
    best, lo = 0, 0
    for hi, t in enumerate(ordered):
        while ordered[lo] < t - 1.0:
            lo += 1
        best = max(best, hi - lo + 1)
    return best


def storm(limiter: RateLimiter, retry_after: float | None = None) -> None:
    """Enough 429s in a row (``STORM_RUN``) for a storm episode."""
    for _ in range(ratelimit.STORM_RUN):
        limiter.throttle(retry_after)


def successes(limiter: RateLimiter, ft: FakeTime, count: int, every: float) -> None:
    for _ in range(count):
        ft.advance(every)
        limiter.record_success()


# --- spacing and burst -------------------------------------------------------------------


def test_first_call_is_immediate_and_later_ones_are_spaced_one_interval_apart() -> None:
    ft = FakeTime(100.0)
    limiter = make(4.0, ft)
    assert limiter.acquire() is True
    assert ft.sleeps == []
    assert grant_times(limiter, ft, 5) == pytest.approx([100.25, 100.5, 100.75, 101.0, 101.25])
    assert ft.sleeps == pytest.approx([0.25] * 5)


def test_an_idle_limiter_does_not_make_the_caller_wait() -> None:
    ft = FakeTime()
    limiter = make(2.0, ft)
    limiter.acquire()
    ft.advance(10.0)
    assert grant_times(limiter, ft, 2) == pytest.approx([10.0, 10.5])
    assert ft.sleeps == pytest.approx([0.5])


def test_burst_tokens_go_out_at_once_then_refill_at_the_rate() -> None:
    ft = FakeTime()
    limiter = make(10.0, ft, burst=3)
    assert grant_times(limiter, ft, 5) == pytest.approx([0.0, 0.0, 0.0, 0.1, 0.2])
    ft.advance(1.0)  # a full refill: three tokens again, never more
    assert grant_times(limiter, ft, 4) == pytest.approx([1.2, 1.2, 1.2, 1.3])


def test_waiting_callers_queue_up_one_interval_apart_without_polling() -> None:
    ft = FakeTime(frozen=True)  # many callers arriving at the same instant
    limiter = make(5.0, ft, burst=2)
    assert grant_times(limiter, ft, 6) == pytest.approx([0.0, 0.0, 0.2, 0.4, 0.6, 0.8])
    assert ft.sleeps == pytest.approx([0.2, 0.4, 0.6, 0.8])  # one sleep per waiting caller


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
    limiter.acquire(stop=threading.Event())
    assert held == [False, False]


# --- waits: interruptible, bounded, never on a stale slot --------------------------------


def test_a_set_stop_refuses_at_once_and_reserves_nothing() -> None:
    ft = FakeTime()
    limiter = make(1.0, ft)
    stop = threading.Event()
    stop.set()
    assert limiter.acquire(stop=stop) is False
    assert ft.sleeps == []
    assert limiter.try_acquire()  # the token is still there


def test_a_stop_during_the_wait_ends_it_at_once() -> None:
    ft = FakeTime()
    limiter = make(1.0, ft)
    stop = threading.Event()
    limiter.acquire()
    ft.on_sleep = lambda _seconds: stop.set()  # Ctrl-C while asleep
    assert limiter.acquire(stop=stop) is False
    assert ft.sleeps == [1.0]


def test_the_wait_uses_the_stop_events_wait_by_default() -> None:
    limiter = RateLimiter(1000.0, burst=1)
    limiter.acquire()
    stop = threading.Event()
    stop.set()
    assert limiter.acquire(stop=stop) is False
    assert limiter.acquire(stop=threading.Event()) is True  # waited 1 ms on the event


def test_a_slot_beyond_the_deadline_is_refused_at_once_and_not_taken() -> None:
    ft = FakeTime()
    limiter = make(2.0, ft)
    limiter.acquire()  # the next slot is at 0.5
    assert limiter.acquire(deadline=0.4) is False
    assert ft.sleeps == []
    assert acquire_at(limiter, ft, deadline=0.5) == pytest.approx(0.5)  # the same slot
    assert acquire_at(limiter, ft, deadline=1.0) == pytest.approx(1.0)


def test_a_pause_beyond_the_deadline_is_refused_at_once() -> None:
    ft = FakeTime()
    limiter = make(10.0, ft)
    storm(limiter, 60.0)  # a pause of 60 s
    assert limiter.acquire(deadline=59.9) is False
    assert ft.sleeps == []
    assert acquire_at(limiter, ft, deadline=60.0) == pytest.approx(60.0)


def test_a_caller_that_wakes_late_reserves_again_instead_of_firing_on_a_stale_slot() -> None:
    ft = FakeTime()
    limiter = make(10.0, ft, burst=3)
    grant_times(limiter, ft, 3)  # the bucket is empty; the next slot is at 0.1
    ft.oversleep = 5.0  # the process is stopped while the caller sleeps
    assert acquire_at(limiter, ft) == pytest.approx(5.1)  # woke at 5.1: reserved again
    # The stale slot stays used; the bucket, full again, gives its burst, then the rate.
    assert grant_times(limiter, ft, 4) == pytest.approx([5.1, 5.1, 5.2, 5.3])


def test_a_little_lateness_is_tolerated() -> None:
    ft = FakeTime()
    limiter = make(10.0, ft)  # ε = 1/rate = 0.1 s
    limiter.acquire()
    ft.oversleep = 0.09
    assert acquire_at(limiter, ft) == pytest.approx(0.19)
    assert ft.sleeps == pytest.approx([0.1])  # no second reservation
    ft.oversleep = 0.11
    assert acquire_at(limiter, ft) == pytest.approx(0.31)
    assert ft.sleeps == pytest.approx([0.1, 0.01])  # reserved again


def test_a_deadline_is_checked_again_when_a_slot_is_void() -> None:
    ft = FakeTime()
    limiter = make(1.0, ft)
    limiter.acquire()
    ft.on_sleep = lambda _seconds: storm(limiter, 30.0) if not ft.sleeps else None
    assert limiter.acquire(deadline=10.0) is False  # the pause began during the sleep
    assert ft.sleeps == [1.0]


# --- the one-second bounds ---------------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(
    rate=st.floats(min_value=0.2, max_value=200.0),
    burst=st.integers(min_value=1, max_value=20),
    steps=st.lists(
        st.tuples(
            st.sampled_from(
                ["acquire", "queue", "late", "try", "idle", "throttle", "storm", "success"]
            ),
            st.floats(min_value=0.0, max_value=3.0),
        ),
        min_size=50,
        max_size=400,
    ),
)
def test_no_one_second_window_grants_more_than_rate_plus_burst(
    rate: float, burst: int, steps: list[tuple[str, float]]
) -> None:
    """Slots: at most ``rate + b`` per window.  Start times (a caller that slept starts
    when it wakes, up to ε late): at most ``rate·(1 + ε) + b``."""
    ft = FakeTime()
    limiter = make(rate, ft, burst=burst, recovery_seconds=2.0)
    late = min(0.25, max(0.01, 1 / rate))
    slots: list[float] = []
    starts: list[float] = []
    for op, x in steps:
        now = ft.clock()
        if op in ("acquire", "late"):  # a caller that sleeps until its slot, or after it
            lateness = (x * late if x < 1.5 else x) if op == "late" else 0.0
            ft.oversleep = lateness
            slept = len(ft.sleeps)
            start = acquire_at(limiter, ft)
            ft.oversleep = 0.0
            starts.append(start)
            # Woke late but within ε: started on its slot, that late; else on time.
            tolerated = len(ft.sleeps) - slept == 1 and lateness <= late
            slots.append(start - lateness if tolerated else start)
        elif op == "queue":  # callers reserving while others still sleep
            ft.frozen = True
            granted = [acquire_at(limiter, ft) for _ in range(1 + int(x * 5))]
            slots.extend(granted)
            starts.extend(granted)
            ft.frozen = False
        elif op == "try":
            if limiter.try_acquire():
                slots.append(now)
                starts.append(now)
        elif op == "idle":
            ft.advance(x)
        elif op == "throttle":
            limiter.throttle(x if x > 1.5 else None)
        elif op == "storm":
            storm(limiter, x if x > 1.0 else None)
        else:
            successes(limiter, ft, 1 + int(x * 10), x / 10)
    assert max_in_one_second(slots) <= rate + burst + 1e-9
    assert max_in_one_second(starts) <= rate * (1 + late) + burst + 1e-9


def test_the_bound_is_reached_by_a_steady_stream() -> None:
    ft = FakeTime()
    limiter = make(8.0, ft, burst=3)  # 1/8 s is exact in binary: no rounding at the edges
    times = grant_times(limiter, ft, 1000)
    assert max_in_one_second(times) == 11  # rate + burst, at the very start
    assert max_in_one_second(times[100:]) == 9  # steady state: rate + 1 in a closed window


def run_stopped_workers(workers: int) -> list[float]:
    """``workers`` threads taking tokens at ``--rate 50 --burst 5``; the process is stopped
    from 3 s to 5 s (SIGSTOP, SIGCONT).  The times at which the tokens were granted."""
    vt = VirtualTime(stopped=[(3.0, 5.0)])
    limiter = RateLimiter(50.0, burst=5, clock=vt.clock, sleep=vt.sleep, wait=vt.wait)
    starts: list[float] = []

    def worker() -> None:
        while vt.now < 8.0:
            assert limiter.acquire(stop=threading.Event())
            starts.append(vt.now)
            vt.sleep(0.005)  # the call

    vt.run([worker] * workers)
    return starts


@pytest.mark.parametrize("workers", [8, 16])
def test_reservations_made_before_a_stop_do_not_all_fire_after_it(workers: int) -> None:
    starts = run_stopped_workers(workers)
    assert not [t for t in starts if 3.0 < t < 5.0]
    assert 54 <= max_in_one_second([t for t in starts if t < 3.0]) <= 55  # burst, then rate
    after = [t for t in starts if t >= 5.0]
    assert after[:5] == [5.0] * 5  # the bucket, full after the pause: its burst, no more
    assert after[5] == pytest.approx(5.02)
    assert max_in_one_second(starts) <= 50 + 5


# --- adaptation: episodes ------------------------------------------------------------------


def test_an_isolated_429_changes_nothing() -> None:
    ft = FakeTime()
    limiter = make(10.0, ft)
    successes(limiter, ft, 10, 0.1)
    limiter.throttle(1.0)
    assert limiter.current_rate == 10.0
    assert limiter.try_acquire()  # no pause
    ft.advance(1.5)
    limiter.throttle(1.0)  # the previous one is more than a window ago
    assert limiter.current_rate == 10.0


def test_429s_under_five_percent_of_the_answers_are_no_limit() -> None:
    ft = FakeTime()
    limiter = make(100.0, ft)
    successes(limiter, ft, 60, 0.01)  # 60 successes in the last 0.6 s
    limiter.throttle()
    limiter.throttle()  # 2 of 62 answers: under 5 %
    assert limiter.current_rate == 100.0
    limiter.throttle()  # 3 of 63: still under
    assert limiter.current_rate == 100.0
    limiter.throttle()  # 4 in a row: a storm
    assert limiter.current_rate == 50.0


def test_a_cluster_brings_the_rate_just_under_what_gets_through() -> None:
    ft = FakeTime()
    limiter = make(100.0, ft, recovery_seconds=2.0)
    successes(limiter, ft, 100, 0.0125)  # 80 calls in the last second
    ft.advance(0.00625)  # (half an interval: no success on the window's edge)
    for _ in range(4):  # 429s between successes: a limit lets some calls through
        limiter.throttle(1.0)
        limiter.record_success()
    assert limiter.current_rate == 100.0  # 4 of 88 answers: under 5 %
    limiter.throttle(1.0)  # 5 of 89: a cluster
    # D = 84 calls in the last second: g = min(r, D) = 84, r = 0.95·D.
    assert limiter.current_rate == pytest.approx(0.95 * 84)
    assert limiter.try_acquire()  # no pause for a limit: the 429s' calls wait, not all
    # back to g = 84 in recovery_seconds of successes, linearly
    successes(limiter, ft, 100, 0.01)  # 1 s (1/r > 0.01: each success credits 0.01 s)
    assert limiter.current_rate == pytest.approx(0.95 * 84 + 0.05 * 84 / 2.0)
    successes(limiter, ft, 100, 0.01)
    assert limiter.current_rate == pytest.approx(84.0)


def test_one_cluster_per_window() -> None:
    ft = FakeTime()
    limiter = make(100.0, ft)
    successes(limiter, ft, 40, 0.05)  # 20 per second delivered
    ft.advance(0.025)  # (half an interval: no success on the window's edge)
    limiter.throttle()
    limiter.throttle()
    first = limiter.current_rate
    assert first == pytest.approx(0.95 * 20)
    ft.advance(0.9)
    limiter.record_success()
    before = limiter.current_rate
    limiter.throttle()
    limiter.throttle()
    assert limiter.current_rate == before  # within the window: counted only
    ft.advance(0.2)  # a window after the episode
    limiter.record_success()
    limiter.throttle()
    assert limiter.current_rate < first


def test_a_storm_may_follow_a_cluster_at_once() -> None:
    ft = FakeTime()
    limiter = make(100.0, ft)
    successes(limiter, ft, 40, 0.05)
    ft.advance(0.025)
    limiter.throttle()
    limiter.throttle()  # a cluster
    assert limiter.try_acquire()
    limiter.throttle(3.0)
    limiter.throttle(3.0)  # four in a row: a storm, the same window
    assert limiter.current_rate == pytest.approx(0.95 * 20 / 2)
    assert not limiter.try_acquire()  # paused


def test_the_first_window_is_measured_from_the_first_answer() -> None:
    ft = FakeTime()
    limiter = make(100.0, ft)
    successes(limiter, ft, 21, 0.01)  # 21 successes from 0.01 s to 0.21 s: 105 per second
    limiter.throttle()
    limiter.throttle()
    assert limiter.current_rate == pytest.approx(0.95 * 21 / 0.2)


def test_a_storm_pauses_everybody_as_retry_after_says_and_halves_the_rate() -> None:
    ft = FakeTime()
    limiter = make(10.0, ft, burst=5)
    storm(limiter, 2.0)
    assert limiter.current_rate == 5.0
    assert limiter.rate == 10.0
    assert not limiter.try_acquire()
    # no burst when the pause ends: one token at a time at the new rate
    assert grant_times(limiter, ft, 3) == pytest.approx([2.0, 2.2, 2.4])
    assert ft.sleeps == pytest.approx([2.0, 0.2, 0.2])  # straight to the slot


def test_a_storm_without_retry_after_pauses_one_second() -> None:
    ft = FakeTime()
    limiter = make(10.0, ft)
    storm(limiter)
    assert acquire_at(limiter, ft) == pytest.approx(ratelimit.DEFAULT_PAUSE)


def test_a_success_between_429s_breaks_the_run() -> None:
    ft = FakeTime()
    limiter = make(10.0, ft)
    successes(limiter, ft, 100, 0.1)
    for _ in range(3):
        limiter.throttle(5.0)
    limiter.record_success()
    limiter.throttle(5.0)
    assert limiter.try_acquire()  # no storm: no pause


def test_a_later_shorter_retry_after_does_not_shorten_the_pause() -> None:
    ft = FakeTime()
    limiter = make(10.0, ft)
    storm(limiter, 3.0)
    ft.advance(1.0)  # the next window
    storm(limiter, 0.5)
    assert acquire_at(limiter, ft) == pytest.approx(3.0)


def test_a_caller_already_asleep_waits_for_a_pause_that_begins_meanwhile() -> None:
    ft = FakeTime()
    limiter = make(10.0, ft)
    limiter.acquire()
    calls: list[float] = []

    def another_worker_meets_a_storm(seconds: float) -> None:
        if not calls:
            storm(limiter, 2.0)  # would deadlock if sleep ran under the lock
        calls.append(seconds)

    ft.on_sleep = another_worker_meets_a_storm
    assert acquire_at(limiter, ft) == pytest.approx(2.0)
    assert calls == pytest.approx([0.1, 1.9])


def test_storms_in_a_row_back_off_down_to_the_floor() -> None:
    """A server that keeps refusing: a pause per Retry-After, the rate halved each time."""
    ft = FakeTime()
    limiter = make(100.0, ft)
    rates = []
    for _ in range(8):
        storm(limiter, 1.0)
        rates.append(limiter.current_rate)
        assert not limiter.try_acquire()  # paused, as Retry-After says
        ft.advance(1.0)
    assert rates == [50.0, 25.0, 12.5, 6.25, 5.0, 5.0, 5.0, 5.0]  # the floor: rate / 20
    # After three storms in a row, the rate to climb back to is halved too.
    assert limiter._good == pytest.approx(5.0)
    custom = make(10.0, ft, min_rate=3.0)
    storm(custom)
    storm(custom)  # the same window: counted only
    assert custom.current_rate == 5.0
    ft.advance(1.0)
    storm(custom)
    assert custom.current_rate == 3.0


def test_after_a_storm_the_rate_climbs_back_to_the_last_rate_that_worked() -> None:
    ft = FakeTime()
    limiter = make(100.0, ft, recovery_seconds=1.0)
    successes(limiter, ft, 100, 0.01)
    storm(limiter, 2.0)
    assert limiter.current_rate == 50.0
    ft.advance(2.0)
    successes(limiter, ft, 50, 0.01)
    # linear, 50 per second: the first success credits 1/r = 0.02 s, the others 0.01 s
    assert limiter.current_rate == pytest.approx(50.0 + 50.0 * (0.02 + 49 * 0.01))
    successes(limiter, ft, 50, 0.01)
    assert limiter.current_rate == pytest.approx(100.0)


def test_above_the_last_rate_that_worked_the_rate_probes_slowly_then_faster() -> None:
    ft = FakeTime()
    limiter = make(1000.0, ft, min_rate=1.0, recovery_seconds=1.0)
    successes(limiter, ft, 40, 0.05)  # 20 per second delivered
    ft.advance(0.025)
    limiter.throttle()
    limiter.throttle()  # r = 19, g = 20
    successes(limiter, ft, 20, 0.05)  # 1 s of successes: back to g
    assert limiter.current_rate == pytest.approx(20.0)
    limiter.record_success()  # no time passed: nothing credited
    probe = []
    for _ in range(3):
        successes(limiter, ft, 40, 0.025)  # 1 s more each time (1/r > 0.025: all credited)
        probe.append(limiter.current_rate)
    # g·(1 + A·p²) after p = 1, 2, 3 seconds of probing
    assert probe == pytest.approx([20 * (1 + 0.05 * p**2) for p in (1, 2, 3)])


def test_growth_credits_at_most_one_interval_per_success() -> None:
    ft = FakeTime()
    limiter = make(10.0, ft, recovery_seconds=30.0)
    storm(limiter)  # r = 5, g = 10: slope (10 - 5)/30 per second
    ft.advance(100.0)  # idle: not a stretch of successes
    limiter.record_success()
    assert limiter.current_rate == pytest.approx(5.0 + (5.0 / 30.0) * (1 / 5.0))


def test_success_at_full_rate_changes_nothing() -> None:
    ft = FakeTime()
    limiter = make(3.0, ft)
    limiter.record_success()
    successes(limiter, ft, 10, 1.0)
    assert limiter.current_rate == 3.0


# --- threads -----------------------------------------------------------------------------


def test_threads_get_unique_slots_spaced_one_interval_apart() -> None:
    rate, workers, each = 20.0, 8, 50
    slept = threading.local()

    def sleep(seconds: float) -> None:
        slept.seconds = seconds

    # A frozen clock: every reservation sees the same instant, the slot is the sleep.
    limiter = RateLimiter(rate, clock=lambda: 0.0, sleep=sleep)
    slots: list[float] = []
    start = threading.Barrier(workers)

    def worker() -> None:
        start.wait()
        mine = []
        for _ in range(each):
            slept.seconds = 0.0
            assert limiter.acquire()
            mine.append(slept.seconds)
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
    assert limiter.acquire() is True
