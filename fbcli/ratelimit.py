"""A token bucket shared by worker threads, adapting its rate to MAPI's 429 answers.

Why hand-written: common limiters (aiolimiter, for one) are asyncio-only and
start with a full bucket of ``rate`` tokens, so the first second sends a
surprise burst.  fbcli needs a limiter that is thread-safe (the replay workers
are threads), whose waits can be interrupted (Ctrl-C) and bounded (a call's
budget), that adapts its rate to 429 answers, and whose clock and sleep are
injected so that tests never sleep.

The bucket
==========
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

Waiting.  ``acquire(stop=..., deadline=...)`` returns True when a token is
granted.  It returns False, without reserving anything, when ``stop`` is set
or when its slot ``s`` would lie after ``deadline`` (a time on the limiter's
clock: a caller that could not use the token in time does not take it); and
it sleeps with ``stop.wait`` (``sleep`` without a ``stop``), so that setting
``stop`` ends the sleep at once (False; the slot stays reserved, unused).
After the sleep it reads the clock ``u``; the slot is *void*, and the caller
reserves again from ``u`` (a new slot, checked against ``deadline`` again),
when

- a pause (a storm's, see *Adaptation*) began meanwhile and the slot lies
  before its end, ``s < blocked_until``; or
- the caller woke late, ``u > s + ε`` with ``ε = min(0.25, max(0.01, 1/rate))``
  seconds: the process was stopped (SIGSTOP, a laptop lid) or starved, and its
  reservations, made before the pause, must not all fire after it.

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
``rate + b`` slots are granted.*  Number all reservations in lock order and let
``θ_k`` be ``θ`` just before reservation ``k``.  Reservation ``k`` raises ``θ``
to ``max(θ_k, s_k) + 1/r_k ≥ s_k + 1/rate`` (``r ≤ rate`` always), and between
reservations ``θ`` never decreases (a pause may only raise it).  Hence for
``i < j``: ``θ_j ≥ s_i + 1/rate + (j - 1 - i)/rate`` and, since ``s_j ≥ θ_j - τ``,
``s_j - s_i ≥ (j - i - (b - 1))/rate``.  If ``n`` granted slots lie in a window
``[w, w + L]``, take ``i`` and ``j`` as the first and the last of them in lock
order: ``j - i + 1 ≥ n`` and ``s_j - s_i ≤ L``, so ``(n - b)/rate ≤ L``, that is
``n ≤ rate·L + b``; for ``L = 1``, ``n ≤ rate + b``.  (Void reservations only add
to ``θ``: the bound holds for the slots actually granted.)

Start times.  A granted caller starts at the clock time ``u`` that ``acquire``
last read: ``u = s`` when no sleep was needed, else ``s ≤ u ≤ s + ε`` (a sleep
does not end before its time, and a later wake-up voids the slot).  So the
calls that start in a window ``[w, w + 1]`` hold slots in ``[w - ε, w + 1]``,
and by the bound above with ``L = 1 + ε``: *at most ``rate·(1 + ε) + b`` calls
start in any one-second window*, i.e. ``rate + b + 1`` up to 100 tokens per
second (``ε = 1/rate``; ``rate·1.25 + b`` below 4/s) and ``1.01·rate + b``
above.  Without the re-reservation a stopped process fired every stale slot at
once when continued, then the ``b`` tokens of its full bucket, then ``rate`` per
second: up to ``rate + b`` plus one per sleeping worker in the second after
the pause (70 calls at ``--rate 50 --burst 5`` with 16 workers).

Adaptation
==========
Why not "halve the rate and pause everybody for ``Retry-After`` on every 429"
(the previous design, with a linear climb back over 30 s): MAPI also answers
isolated 429s, and with 1 % of them at 100 calls/s that rule paused every
worker for a second about once a second and kept halving the rate: 100
calls/s fell to 32.  Against a limit of 80 calls/s it reached 78 % of it, and
after a 2-second storm it took more than 6 s to get back to 90 calls/s
(``bench/throttle.py``).  This limiter tells isolated 429s
(ignored here: the call itself still waits its ``Retry-After``) from a limit
(the rate goes to just under what gets through) and from a storm (everything
refused: pause everybody, as ``Retry-After`` says, and halve), and climbs back
fast to the last rate that worked, then probes above it slowly at first, as
TCP CUBIC does.

Inputs: :meth:`~RateLimiter.throttle` for each 429 (with its ``Retry-After``
``d`` in seconds, already capped by the caller, or None) and
:meth:`~RateLimiter.record_success` for each 2xx, at clock time ``t``.  State:
``r``; ``g``, the last rate that worked (initially ``rate``); ``p``, the probing
time; ``c``, the 429s since the last success; the times of the 429s and of the
successes of the last ``W = 1`` s (``q`` and ``n`` of them, the one at ``t``
included); ``t₀``, the time of the first input.  Constants: ``K = 2``,
``P = 0.05``, ``C = 4``, ``f = 0.95``, ``β = 1/2``, ``P₀ = 1`` s, ``A = 0.05``;
``R`` = ``recovery_seconds`` (default 1 s), ``r_min`` = ``min_rate`` (default
``rate/20``).

A 429 at ``t`` starts an *episode*, at most one of each kind per window:

- a *storm* iff ``c ≥ C`` (the last ``C`` answers were all 429s) and
  ``t - t_s ≥ W``;
- else a *cluster* iff ``q ≥ K``, ``n ≥ 1``, ``q ≥ P·(q + n)`` (some calls get
  through, and at least 5 % of the last second's answers are 429s) and
  ``t - t_d ≥ W``;

where ``t_s`` is the time of the last storm and ``t_d`` of the last episode of
either kind (so a storm may follow a cluster at once, not the reverse).  Any
other 429 changes nothing but ``c`` and ``q``.  An episode sets ``t_d ← t``
(and a storm ``t_s ← t``), ``p ← 0``, then:

- cluster (a limit: some calls get through)::

      D ← n / min(W, t - t₀)        (calls delivered per second; r if t = t₀)
      g ← max(r_min, min(r, D))
      r ← max(r_min, min(r, f·D))

- storm::

      s ← s + 1  if t - t_resume ≤ W,  else  s ← 1   (storms in a row)
      g ← max(r_min, β·g)  if s > 2                 (three in a row: an overload)
      r ← max(r_min, min(β·r, g))
      t_resume ← t + (d if d is not None else P₀)
      blocked_until ← max(blocked_until, t_resume);   θ ← max(θ, t_resume + τ)

  so that no slot is granted before ``t_resume``, and the tokens after it come
  one at a time at the new rate (no burst when the pause ends);

and in both cases ``k ← (g - r)/R`` (``≥ 0``).

A success at ``t`` sets ``c ← 0`` and raises the rate::

    Δ ← min(t - t_prev, 1/r);   t_prev ← t
    if r < g:   r ← min(g, r + k·Δ)                       (back to g in R seconds)
    else:       p ← p + Δ;   r ← min(rate, g·(1 + A·p²))  (+5 % after 1 s, +20 % after 2 s)

Each success credits at most one emission interval, so an idle or failing
stretch does not count as a stretch of successes.

What it gives (``bench/throttle.py``, ``tests/process/test_throttle.py``): near a
limit of 80 calls/s the rate saws between ``f·D`` and a few percent above
``D``; isolated 429s (1 %) cost about 1 %; after a 2-second storm the rate is
back within about a second of its end; a server that refuses everything for
long gets a pause per ``Retry-After`` and, after three storms in a row, a rate
halved at each storm down to ``r_min``.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable

__all__ = ["RateLimiter"]

WINDOW = 1.0
"""``W``: the reaction window, seconds; at most one episode per window."""
CLUSTER = 2
"""``K``: 429s in one window before they may count as a limit."""
CLUSTER_SHARE = 0.05
"""``P``: the share of the window's answers that must be 429s for a limit."""
STORM_RUN = 4
"""``C``: 429s in a row (no success between them) that make a storm."""
DELIVERED_FACTOR = 0.95
"""``f``: the rate after a limit episode, as a share of the rate delivered."""
STORM_FACTOR = 0.5
"""``β``: the factor applied to the rate in a storm (and to ``g`` in an overload)."""
STORMS_IN_A_ROW = 2
"""Storms in a row that leave ``g`` alone; the next ones halve it."""
DEFAULT_PAUSE = 1.0
"""``P₀``: the pause, seconds, for a storm whose 429 gave no ``Retry-After``."""
PROBE = 0.05
"""``A``: above ``g`` the rate is ``g·(1 + A·p²)`` after ``p`` seconds of probing."""


def _check_positive(name: str, value: float) -> None:
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")


def _event_wait(stop: threading.Event, seconds: float) -> bool:
    return stop.wait(seconds)


class RateLimiter:
    """A thread-safe token bucket with an adaptive rate; see the module docstring.

    ``rate`` is in tokens per second, ``burst`` the bucket capacity (it starts
    full), ``min_rate`` the floor of the adaptive rate (default ``rate/20``),
    ``recovery_seconds`` the time to climb back to the last rate that worked
    after an episode.  ``clock``, ``sleep`` (waits without ``stop``) and
    ``wait`` (``wait(stop, seconds)``: True if ``stop`` was set, like
    ``threading.Event.wait``) are injected: tests pass a fake clock and waits
    that advance it.
    """

    def __init__(
        self,
        rate: float,
        *,
        burst: int = 1,
        min_rate: float | None = None,
        recovery_seconds: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        wait: Callable[[threading.Event, float], bool] = _event_wait,
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
        self._late = min(0.25, max(0.01, 1.0 / self._rate))  # ε
        self._clock = clock
        self._sleep = sleep
        self._wait = wait
        self._lock = threading.Lock()
        # Everything below is guarded by self._lock.
        self._tat = -math.inf  # θ
        self._blocked_until = -math.inf
        self._current = self._rate  # r
        self._good = self._rate  # g
        self._slope = 0.0  # k
        self._probing = 0.0  # p
        self._refused_in_a_row = 0  # c
        self._refusals: deque[float] = deque()  # the 429s of the last W seconds
        self._successes: deque[float] = deque()  # the successes of the last W seconds
        self._first_input: float | None = None  # t₀
        self._last_episode = -math.inf  # t_d
        self._last_storm = -math.inf  # t_s
        self._storms_in_a_row = 0  # s
        self._resume = -math.inf  # t_resume
        self._last_success = -math.inf  # t_prev

    @property
    def rate(self) -> float:
        """The configured rate, tokens per second."""
        return self._rate

    @property
    def current_rate(self) -> float:
        """The current rate ``r``, lowered by 429s and recovering towards ``rate``."""
        with self._lock:
            return self._current

    # -- the bucket --------------------------------------------------------------------

    def _reserve(self, slot: float) -> None:
        """Take the slot (lock held): ``θ ← max(θ, s) + 1/r``."""
        self._tat = max(self._tat, slot) + 1.0 / self._current

    def acquire(
        self, *, stop: threading.Event | None = None, deadline: float | None = None
    ) -> bool:
        """Wait for a token; True when granted (see "Waiting" in the module docstring).

        False at once, reserving nothing, when ``stop`` is set or when the slot
        would lie after ``deadline`` (on this limiter's clock); False as soon as
        ``stop`` is set during the sleep.  The lock is held only to reserve a
        slot; the sleep happens outside it.
        """
        while True:
            if stop is not None and stop.is_set():
                return False
            with self._lock:
                now = self._clock()
                slot = max(now, self._tat - self._tolerance)
                if deadline is not None and slot > deadline:
                    return False
                self._reserve(slot)
            if slot <= now:
                return True
            if stop is None:
                self._sleep(slot - now)
            elif self._wait(stop, slot - now):
                return False
            with self._lock:
                woke = self._clock()
                if slot >= self._blocked_until and woke <= slot + self._late:
                    return True

    def try_acquire(self) -> bool:
        """Take a token if one is available now; never wait."""
        with self._lock:
            now = self._clock()
            if self._tat - self._tolerance > now:
                return False
            self._reserve(now)
            return True

    # -- adaptation --------------------------------------------------------------------

    def _observe(self, times: deque[float], now: float) -> None:
        """Note an input at ``now``; forget what left the window (lock held)."""
        if self._first_input is None:
            self._first_input = now
        times.append(now)
        horizon = now - WINDOW
        for window in (self._refusals, self._successes):
            while window and window[0] <= horizon:
                window.popleft()

    def throttle(self, retry_after: float | None = None) -> None:
        """A 429 arrived, with ``Retry-After`` seconds or without: maybe an episode."""
        if retry_after is not None and not (math.isfinite(retry_after) and retry_after >= 0):
            raise ValueError(f"retry_after must be a finite number >= 0, got {retry_after!r}")
        with self._lock:
            now = self._clock()
            self._observe(self._refusals, now)
            self._refused_in_a_row += 1
            refused, succeeded = len(self._refusals), len(self._successes)
            storm = self._refused_in_a_row >= STORM_RUN and now - self._last_storm >= WINDOW
            cluster = (
                refused >= CLUSTER
                and succeeded > 0
                and refused >= CLUSTER_SHARE * (refused + succeeded)
                and now - self._last_episode >= WINDOW
            )
            if not (storm or cluster):
                return
            self._last_episode = now
            self._probing = 0.0
            if storm:
                self._last_storm = now
                self._storm(now, retry_after)
            else:
                assert self._first_input is not None
                span = min(WINDOW, now - self._first_input)
                delivered = succeeded / span if span > 0 else self._current  # D
                self._good = max(self._min_rate, min(self._current, delivered))
                self._current = max(
                    self._min_rate, min(self._current, DELIVERED_FACTOR * delivered)
                )
            self._slope = (self._good - self._current) / self._recovery_seconds

    def _storm(self, now: float, retry_after: float | None) -> None:
        """A storm episode (lock held): pause everybody, halve the rate."""
        if now - self._resume <= WINDOW:
            self._storms_in_a_row += 1
        else:
            self._storms_in_a_row = 1
        if self._storms_in_a_row > STORMS_IN_A_ROW:
            self._good = max(self._min_rate, STORM_FACTOR * self._good)
        self._current = max(self._min_rate, min(STORM_FACTOR * self._current, self._good))
        self._resume = now + (DEFAULT_PAUSE if retry_after is None else retry_after)
        self._blocked_until = max(self._blocked_until, self._resume)
        self._tat = max(self._tat, self._resume + self._tolerance)

    def record_success(self) -> None:
        """A call succeeded: climb back to the last rate that worked, then probe above it."""
        with self._lock:
            now = self._clock()
            self._observe(self._successes, now)
            self._refused_in_a_row = 0
            credited = min(now - self._last_success, 1.0 / self._current)  # Δ
            self._last_success = now
            if credited <= 0:
                return
            if self._current < self._good:
                self._current = min(self._good, self._current + self._slope * credited)
            else:
                self._probing += credited
                probe = self._good * (1.0 + PROBE * self._probing**2)
                self._current = min(self._rate, probe)
