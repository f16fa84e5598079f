"""A token bucket shared by worker threads, slowing down when MAPI answers 429.

Why hand-written: common limiters (aiolimiter, for one) are asyncio-only and
start with a full bucket of ``rate`` tokens, so the first second sends a
surprise burst.  fbcli needs a limiter that is thread-safe (the replay workers
are threads), that adapts its rate to 429 answers and ``Retry-After``, and
whose clock and sleep are injected so that tests never sleep.

The algorithm
=============
Notation: ``rate`` is the configured rate (tokens per second), ``r`` the
current rate (``r_min ≤ r ≤ rate``), ``b`` the ``burst``, ``T = 1/r`` the
emission interval and ``τ = (b - 1)/rate`` the burst tolerance.

The bucket is kept as a *reservation* (GCRA, "virtual scheduling"): a single
number ``θ``, the theoretical arrival time of the next token, initially
``-∞`` (a full bucket).  A caller arriving at clock time ``a`` is given the
slot::

    s = max(a, θ - τ)            and then      θ ← max(θ, s) + 1/r

:meth:`RateLimiter.acquire` holds the lock only to read the clock and do these
two assignments; it then sleeps *outside* the lock for ``s - a`` seconds.
Callers arriving together at ``a`` get ``a`` (the first ``b`` of them), then
``a + T``, ``a + 2T``, …: exactly ``T`` apart, without polling.
:meth:`RateLimiter.try_acquire` applies the same rule but gives up instead of
reserving a slot later than ``a``.

Refill.  At ``r = rate`` this is exactly a token bucket of capacity ``b`` refilled
at ``r`` tokens per second: the tokens at time ``t`` are
``b - max(0, θ - t)·r``, a token is available iff that is ``≥ 1``, i.e. iff
``t ≥ θ - τ``, and taking it lowers the count by one, i.e. adds ``1/r`` to
``θ``.  Slowed down to ``r < rate`` the same formula reads
``tokens(t) = 1 + τ·r - max(0, θ - t)·r``: refilled at ``r`` tokens per second,
with a capacity ``1 + (b - 1)·r/rate`` that shrinks with the rate, never above
``b``.  When the rate changes, ``θ`` is kept: slots already reserved stand and
only later tokens are spaced at the new rate.

The one-second guarantee.  *In any closed window of one second at most
``rate + b`` tokens are granted.*  Number all reservations in lock order and let
``θ_k`` be ``θ`` just before reservation ``k``.  Reservation ``k`` raises ``θ``
to ``max(θ_k, s_k) + 1/r_k ≥ s_k + 1/rate``, and between reservations ``θ`` never
decreases (:meth:`~RateLimiter.throttle` may only raise it).  Hence for
``i < j``: ``θ_j ≥ s_i + 1/rate + (j - 1 - i)/rate`` and, since ``s_j ≥ θ_j - τ``,
``s_j - s_i ≥ (j - i - (b - 1))/rate``.  If ``n`` granted tokens lie in a window
``[w, w + 1]``, take ``i`` and ``j`` as the first and the last of them in lock
order: ``j - i + 1 ≥ n`` and ``s_j - s_i ≤ 1``, so ``(n - b)/rate ≤ 1``, that is
``n ≤ rate + b``.  (Reservations voided by a ``Retry-After``, see below, only add
to ``θ``, so the bound holds for the tokens actually granted.)

Adaptation (AIMD).  ``β = 1/2``, ``R`` = ``recovery_seconds``,
``r_min`` = ``min_rate`` (default ``rate/20``).

- ``throttle(retry_after)`` at time ``t`` (multiplicative decrease)::

      r ← max(r_min, β·r);   r₀ ← r;   k ← (rate - r₀)/R;   t_prev ← t

  and, if ``retry_after = d`` is given::

      blocked_until ← max(blocked_until, t + d);   θ ← max(θ, t + d + τ)

  so that every later slot is ``≥ t + d`` and the tokens after it come one at
  a time at the new rate (no burst when the pause ends).  A thread already
  asleep on a slot earlier than ``blocked_until`` wakes, sees that, and
  reserves again: no token is granted before ``t + d``.
- ``record_success()`` at time ``t`` (additive increase), while ``r < rate``::

      Δ ← min(t - t_prev, 1/r);   r ← min(rate, r + k·Δ);   t_prev ← t

  The rate grows linearly with the time during which calls keep succeeding,
  and reaches ``rate`` about ``R`` seconds after the last throttle.  Each success
  credits at most one emission interval, so an idle or failing stretch does
  not count as a stretch of successes.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable

__all__ = ["RateLimiter"]

DECREASE_FACTOR = 0.5
"""``β``: the factor applied to the current rate on each 429."""


def _check_positive(name: str, value: float) -> None:
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")


class RateLimiter:
    """A thread-safe token bucket with an adaptive rate; see the module docstring.

    ``rate`` is in tokens per second, ``burst`` the bucket capacity (it starts
    full), ``min_rate`` the floor of the adaptive rate (default ``rate/20``),
    ``recovery_seconds`` the time to climb back from a throttle to ``rate``.
    ``clock`` and ``sleep`` are injected: tests pass a fake clock and a sleep
    that advances it.
    """

    def __init__(
        self,
        rate: float,
        *,
        burst: int = 1,
        min_rate: float | None = None,
        recovery_seconds: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        _check_positive("rate", rate)
        if burst < 1:
            raise ValueError(f"burst must be an integer >= 1, got {burst!r}")
        floor = rate / 20 if min_rate is None else min_rate
        _check_positive("min_rate", floor)
        if floor > rate:
            raise ValueError(f"min_rate must not exceed rate ({rate!r}), got {floor!r}")
        _check_positive("recovery_seconds", recovery_seconds)
        self._rate = float(rate)
        self._min_rate = float(floor)
        self._recovery_seconds = float(recovery_seconds)
        self._tolerance = (burst - 1) / self._rate  # τ
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        # Everything below is guarded by self._lock.
        self._current = self._rate  # r
        self._tat = -math.inf  # θ
        self._blocked_until = -math.inf
        self._slope = 0.0  # k
        self._last_event = -math.inf  # t_prev

    @property
    def rate(self) -> float:
        """The configured rate, tokens per second."""
        return self._rate

    @property
    def current_rate(self) -> float:
        """The current rate ``r``, lowered by 429s and recovering towards ``rate``."""
        with self._lock:
            return self._current

    def _reserve(self, now: float) -> float:
        """Reserve the next slot for a caller arriving at ``now`` (lock held)."""
        slot = max(now, self._tat - self._tolerance)
        self._tat = max(self._tat, slot) + 1.0 / self._current
        return slot

    def acquire(self) -> float:
        """Wait for a token; return the seconds waited (from the first clock reading).

        The lock is held only to reserve a slot; the sleep happens outside it.
        A slot voided by a later ``throttle(retry_after)`` is reserved again.
        """
        start: float | None = None
        while True:
            with self._lock:
                now = self._clock()
                if start is None:
                    start = now
                slot = self._reserve(now)
            if slot <= now:
                return now - start
            self._sleep(slot - now)
            with self._lock:
                if slot >= self._blocked_until:
                    return slot - start

    def try_acquire(self) -> bool:
        """Take a token if one is available now; never wait."""
        with self._lock:
            now = self._clock()
            if self._tat - self._tolerance > now:
                return False
            self._reserve(now)
            return True

    def throttle(self, retry_after: float | None = None) -> None:
        """A 429 arrived: halve the current rate and honour ``retry_after`` seconds."""
        if retry_after is not None and not (math.isfinite(retry_after) and retry_after >= 0):
            raise ValueError(f"retry_after must be a finite number >= 0, got {retry_after!r}")
        with self._lock:
            now = self._clock()
            self._current = max(self._min_rate, DECREASE_FACTOR * self._current)
            self._slope = (self._rate - self._current) / self._recovery_seconds
            self._last_event = now
            if retry_after is not None:
                resume = now + retry_after
                self._blocked_until = max(self._blocked_until, resume)
                self._tat = max(self._tat, resume + self._tolerance)

    def record_success(self) -> None:
        """A call succeeded: raise the current rate linearly towards ``rate``."""
        with self._lock:
            if self._current >= self._rate:
                return
            now = self._clock()
            credited = min(now - self._last_event, 1.0 / self._current)
            self._current = min(self._rate, self._current + self._slope * credited)
            self._last_event = now
