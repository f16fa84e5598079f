"""Replay's workers against a model of a rate-limited server, in virtual time.

The real ``Sender`` and ``RateLimiter`` run in ``concurrency`` threads under
:class:`tests.vtime.VirtualTime`; the client they call is a model: each
attempt leaves after a random scheduling delay (``uniform(0, jitter)``), meets
the :class:`ServerModel` at that instant and is answered ``latency`` seconds
later.  The server checks, in the emulator's order: a storm raging (429, with
``Retry-After`` the seconds left, rounded up, or without), the leaky bucket
(the emulator's own, ``Retry-After`` the wait rounded up, at least 1), then a
random 429 (``Retry-After: 1``).

Used by ``tests/process/test_throttle.py`` (the adaptation's behaviour, fast and
deterministic); the end-to-end figures are ``bench/throttle.py``'s.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from fbcli.emulator import LeakyBucket
from fbcli.events import Event
from fbcli.mapi import CallResult
from fbcli.mappings import default_mappings
from fbcli.plan import PlannedCall, plan_event
from fbcli.ratelimit import RateLimiter
from fbcli.replay import CallOutcome, ReplayOptions, Sender
from fbcli.retry import RetryPolicy
from tests.support.vtime import VirtualEvent, VirtualTime


@dataclass(frozen=True, slots=True)
class Storm:
    """Every request in ``[start, end)`` gets 429, with ``Retry-After`` or without."""

    start: float
    end: float
    retry_after: bool = True


@dataclass(slots=True)
class ServerModel:
    """A server answering 201 or 429; records when it admitted and refused requests."""

    limit: float | None = None
    """Requests per second (the emulator's leaky bucket), ``None``: no limit."""
    burst: int = 1
    random_429: float = 0.0
    storms: Sequence[Storm] = ()
    seed: int = 1
    admitted: list[float] = field(default_factory=list)
    refused: list[float] = field(default_factory=list)
    _bucket: LeakyBucket | None = None
    _rng: random.Random = field(default_factory=random.Random)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)
        if self.limit is not None:
            self._bucket = LeakyBucket(self.limit, self.burst)

    def handle(self, now: float) -> tuple[int, str | None]:
        """The status and ``Retry-After`` of a request arriving at ``now``."""
        roll = self._rng.random()
        for storm in self.storms:
            if storm.start <= now < storm.end:
                self.refused.append(now)
                left = str(max(1, math.ceil(storm.end - now)))
                return 429, left if storm.retry_after else None
        if self._bucket is not None:
            wait = self._bucket.take(now)
            if wait is not None:
                self.refused.append(now)
                return 429, str(max(1, math.ceil(wait)))
        if roll < self.random_429:
            self.refused.append(now)
            return 429, "1"
        self.admitted.append(now)
        return 201, None


class ModelClient:
    """A ``CallSender`` whose attempts meet a :class:`ServerModel` in virtual time."""

    def __init__(
        self,
        vt: VirtualTime,
        server: ServerModel,
        *,
        latency: float = 0.003,
        jitter: float = 0.002,
        seed: int = 2,
    ) -> None:
        self.vt = vt
        self.server = server
        self.latency = latency
        self.jitter = jitter
        self._rng = random.Random(seed)

    def send(self, path: str, body: Any, *, deadline: float | None = None) -> CallResult:
        """One attempt: leave after a scheduling delay, meet the server, wait for the answer."""
        self.vt.sleep(self._rng.uniform(0.0, self.jitter))
        status, retry_after = self.server.handle(self.vt.now)
        self.vt.sleep(self.latency)
        return CallResult(status, retry_after=retry_after, event_id="e" if status < 300 else None)


@dataclass(slots=True)
class Run:
    """What a simulated replay did."""

    server: ServerModel
    limiter: RateLimiter
    seconds: float
    outcomes: list[CallOutcome]
    rates: list[tuple[float, float]]
    """``(time, current rate)`` after each outcome."""
    starts: list[float]
    """When each attempt left the client (virtual time)."""

    def admitted_between(self, start: float, end: float) -> int:
        """Requests the server admitted in ``[start, end)``."""
        return sum(1 for t in self.server.admitted if start <= t < end)

    def share(self, reference: float, start: float = 0.0, end: float | None = None) -> float:
        """Admitted requests per second in ``[start, end)`` as a share of ``reference``."""
        stop = self.seconds if end is None else end
        return self.admitted_between(start, stop) / (stop - start) / reference

    def rate_at(self, t: float) -> float:
        """The limiter's current rate as last seen at or before ``t``."""
        current = self.limiter.rate
        for when, rate in self.rates:
            if when > t:
                break
            current = rate
        return current


def planned_call() -> PlannedCall:
    """A customer upsert (harmless to repeat), planned by the default mappings."""
    event = {"type": "identify", "messageId": "m", "userId": "u", "traits": {"email": "u@x.io"}}
    calls = plan_event(Event("sim.jsonl", 1, event), default_mappings())
    assert isinstance(calls, list)
    call = calls[0]
    assert isinstance(call, PlannedCall)
    return call


def simulate(
    server: ServerModel,
    *,
    rate: float,
    seconds: float,
    burst: int = 1,
    concurrency: int = 8,
    latency: float = 0.003,
    jitter: float = 0.002,
    policy: RetryPolicy | None = None,
    seed: int = 1,
    **limiter_options: Any,
) -> Run:
    """Replay calls with ``concurrency`` workers for ``seconds`` of virtual time."""
    vt = VirtualTime()
    limiter = RateLimiter(
        rate, burst=burst, clock=vt.clock, sleep=vt.sleep, wait=vt.wait, **limiter_options
    )
    client = ModelClient(vt, server, latency=latency, jitter=jitter, seed=seed + 1)
    options = ReplayOptions(concurrency=concurrency, policy=policy or RetryPolicy())
    stop = VirtualEvent(vt)
    sender = Sender(client, limiter, options, stop=stop, clock=vt.clock, rng=random.Random(seed))
    starts: list[float] = []
    outcomes: list[CallOutcome] = []
    rates: list[tuple[float, float]] = []
    call = planned_call()
    original_send = client.send

    def counted_send(path: str, body: Any, *, deadline: float | None = None) -> CallResult:
        starts.append(vt.now)
        return original_send(path, body, deadline=deadline)

    client.send = counted_send  # type: ignore[method-assign]

    def worker() -> None:
        while vt.now < seconds:
            outcome = sender.send(call, "k")
            if outcome is not None:
                outcomes.append(outcome)
            rates.append((vt.now, limiter.current_rate))

    vt.run([worker] * concurrency)
    return Run(server, limiter, seconds, outcomes, rates, starts)
