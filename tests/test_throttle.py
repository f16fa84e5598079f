"""Replay under 429s and pauses: the adaptive limiter with the real ``Sender``.

The tests run a whole replay in virtual time against a model server
(``tests/throttle_sim.py``): deterministic, a fraction of a second each.
"""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from tests.throttle_sim import Run, ServerModel, Storm, simulate


def busiest_second(times: Sequence[float]) -> int:
    """The most times in any closed window ``[t, t + 1]``."""
    ordered = sorted(times)
    best, lo = 0, 0
    for hi, t in enumerate(ordered):
        while ordered[lo] < t - 1.0:
            lo += 1
        best = max(best, hi - lo + 1)
    return best


def check_the_hard_bound(run: Run, rate: float, burst: int = 1) -> None:
    """No one-second window of attempt starts holds more than ``rate + burst``."""
    assert busiest_second(run.starts) <= rate + burst


# -- in virtual time ------------------------------------------------------------------------


def test_near_a_limit_the_rate_settles_just_under_it() -> None:
    """(a) 80 calls/s allowed (a leaky bucket of 10), --rate 100 --concurrency 8."""
    run = simulate(ServerModel(limit=80, burst=10), rate=100, seconds=20)
    assert run.share(80) >= 0.95
    assert run.share(80, start=5) >= 0.95  # steady state, not only the start
    assert 0.9 * 80 <= run.limiter.current_rate <= 1.15 * 80
    assert len(run.server.refused) <= 0.05 * len(run.server.admitted)
    check_the_hard_bound(run, 100)


def test_near_a_strict_limit_too() -> None:
    """A leaky bucket of 1: two calls closer than 12.5 ms get 429, jitter or not."""
    run = simulate(ServerModel(limit=80, burst=1), rate=100, seconds=20)
    assert run.share(80) >= 0.8
    check_the_hard_bound(run, 100)


def test_isolated_429s_do_not_slow_replay_down() -> None:
    """(b) 1 % of the answers are 429 (Retry-After: 1), no limit."""
    run = simulate(ServerModel(random_429=0.01), rate=100, seconds=20)
    assert run.share(100) >= 0.95
    assert len(run.server.refused) >= 10  # there were 429s
    assert all(o.status == "sent" for o in run.outcomes)
    check_the_hard_bound(run, 100)


@pytest.mark.parametrize("retry_after", [True, False])
def test_after_a_storm_the_rate_is_back_within_seconds(retry_after: bool) -> None:
    """(c) every request refused for 2 s, with Retry-After (the seconds left) or without."""
    storm = Storm(5.0, 7.0, retry_after)
    run = simulate(ServerModel(storms=[storm]), rate=100, seconds=12)
    assert run.admitted_between(0, 5) >= 0.95 * 500
    assert run.admitted_between(storm.end + 1, storm.end + 2) >= 90
    assert run.admitted_between(storm.end + 2, 12) >= 0.95 * 100 * (12 - storm.end - 2)
    if retry_after:  # everybody paused as Retry-After said: a handful of 429s, no more
        assert len(run.server.refused) <= 8 + 4
    check_the_hard_bound(run, 100)


def test_a_server_that_keeps_refusing_gets_a_pause_per_retry_after_and_the_floor() -> None:
    """(d) a real overload: every request refused from 2 s on, with Retry-After: 1."""
    storms = [Storm(2.0 + k, 3.0 + k, True) for k in range(60)]  # Retry-After: 1 each time
    run = simulate(ServerModel(storms=storms), rate=100, seconds=20)
    assert run.limiter.current_rate == pytest.approx(100 / 20)  # the floor
    during = [t for t in run.server.refused if 2.0 <= t < 20.0]
    assert len(during) <= 25  # 18 s: about one attempt per pause, not 100 per second
    assert busiest_second([t for t in run.starts if 3.0 <= t < 20.0]) <= 2


def test_a_limit_far_below_the_rate_is_found_without_hammering() -> None:
    """A server allowing 10 calls/s for --rate 100: down to the floor, then near 10."""
    run = simulate(ServerModel(limit=10, burst=1), rate=100, seconds=20)
    assert run.share(10, start=10) >= 0.7
    assert 5 <= run.limiter.current_rate <= 13
    assert len(run.server.refused) <= 0.3 * len(run.server.admitted)
    check_the_hard_bound(run, 100)
