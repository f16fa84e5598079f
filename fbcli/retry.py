"""What to retry after a MAPI call, and how long to wait first.

Why hand-written rather than stamina or tenacity: whether to retry depends on
whether the request may already have reached MAPI and on whether repeating it
is harmless, which a decorator around "the call" cannot see.  And a
``Retry-After`` must also slow down the rate limiter shared by all workers, so
``replay.py`` composes :func:`classify`, :class:`RetryPolicy` and the limiter
in plain sight instead of hiding them inside a decorator.

Classification (docs/replay.md, "Rate and retries")
===================================================

=========================================  ====================================
What happened                              Decision
=========================================  ====================================
2xx                                        ``success``
408, 429, 5xx except 501 and 505           ``retry``
401                                        ``fail`` (see below)
400, 403, 404, 422, 501, 505, other codes  ``fail`` (final)
no response, phase ``connect``             ``retry`` (the request never left)
no response, phase ``send`` or ``read``    ``retry`` if ``safe_to_repeat`` or
                                           ``retry_unknown``, else ``unknown``
=========================================  ====================================

``connect`` covers connection refused, DNS failure, connect timeout and TLS
handshake failure.  ``send`` and ``read`` cover a write error part-way through
the body, a read timeout, and a connection reset or closed before a response:
MAPI may have acted on the request, and it has no idempotency key, so resending
could count an event twice.

A 401 is handled by the client before classification: it re-authorizes once
and resends.  A 401 that still reaches :func:`classify` is a final failure.

Waiting
=======
Retry number ``n`` (``n = 1`` for the second attempt) waits, with full jitter::

    backoff(n) = uniform(0, min(max_delay, base_delay · 2^(n-1)))

(the exponent is clamped at 1023 so that huge ``n`` give ``max_delay`` rather
than an overflow).  With a ``Retry-After`` of ``d`` seconds the wait is
``min(max_total, max(min(d, max_retry_after), backoff(n)))``: the server's
word is honoured even beyond ``max_delay``, but never beyond
``max_retry_after`` (default 60 s: a ``Retry-After: 99999`` would otherwise hold
the call, and the rate limiter it also feeds, for 28 hours; ``replay.py``
passes the same capped value to the limiter and counts the capping) nor beyond
``max_total``.  A retry happens only if its attempt number
``n + 1 ≤ max_attempts`` and ``elapsed + wait < max_total``, where ``elapsed``
is the time already spent on the call (attempts and waits, the rate limiter's
included): a wait that would end after the call's budget ends the call at
once, as failed, instead of being waited out or cut short.
"""

from __future__ import annotations

import math
import random
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Literal

__all__ = ["Decision", "Phase", "RetryPolicy", "classify", "parse_retry_after"]

Decision = Literal["success", "retry", "fail", "unknown"]
"""What to do with the outcome of one attempt."""

Phase = Literal["connect", "send", "read"]
"""How far a request got when the transport failed (no HTTP status)."""

_MAX_EXPONENT = 1023
_SECONDS = re.compile(r"(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)")


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Bounds and backoff for retrying one call; see the module docstring.

    ``max_attempts`` counts every attempt, the first included; ``max_delay``
    caps one backoff; ``max_total`` caps the time spent on one call;
    ``max_retry_after`` caps the ``Retry-After`` honoured (see :meth:`cap`).
    """

    max_attempts: int = 6
    base_delay: float = 0.5
    max_delay: float = 30.0
    max_total: float = 300.0
    max_retry_after: float = 60.0

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError(f"max_attempts must be >= 1, got {self.max_attempts!r}")
        for name in ("base_delay", "max_delay", "max_total", "max_retry_after"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0):
                raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")

    def backoff(self, retry_number: int, rng: random.Random) -> float:
        """Full jitter: ``uniform(0, min(max_delay, base_delay · 2^(retry_number-1)))``."""
        if retry_number < 1:
            raise ValueError(f"retry_number starts at 1, got {retry_number!r}")
        growth = 2.0 ** min(retry_number - 1, _MAX_EXPONENT)
        ceiling = min(self.max_delay, self.base_delay * growth)
        return rng.uniform(0.0, ceiling)

    def cap(self, retry_after: float) -> float:
        """The ``Retry-After`` honoured: ``min(retry_after, max_retry_after)``."""
        if not retry_after >= 0:  # also rejects NaN
            raise ValueError(f"retry_after must be >= 0, got {retry_after!r}")
        return min(retry_after, self.max_retry_after)

    def delay(self, retry_number: int, rng: random.Random, retry_after: float | None) -> float:
        """The wait before retry ``retry_number``: the backoff, or at least ``retry_after``.

        ``min(max_total, max(min(retry_after, max_retry_after), backoff))`` when
        the server sent a ``Retry-After``; the plain backoff otherwise.
        """
        wait = self.backoff(retry_number, rng)
        if retry_after is None:
            return wait
        return min(self.max_total, max(self.cap(retry_after), wait))

    def should_retry(self, retry_number: int, elapsed: float, next_delay: float) -> bool:
        """May retry ``retry_number`` start after ``elapsed`` seconds and a ``next_delay`` wait?

        True iff ``retry_number + 1 ≤ max_attempts`` and
        ``elapsed + next_delay < max_total``.
        """
        if retry_number < 1:
            raise ValueError(f"retry_number starts at 1, got {retry_number!r}")
        return retry_number + 1 <= self.max_attempts and elapsed + next_delay < self.max_total


def classify(
    *,
    status: int | None,
    phase: Phase | None,
    safe_to_repeat: bool,
    retry_unknown: bool,
) -> Decision:
    """Decide what an attempt's outcome means; the table is in the module docstring.

    ``status`` is the HTTP status when a response arrived (``phase`` is then
    ignored); otherwise ``phase`` tells how far the request got.
    ``safe_to_repeat`` is true for calls that MAPI deduplicates or that are
    harmless to repeat; ``retry_unknown`` is the ``--retry-unknown`` option.
    """
    if status is not None:
        if 200 <= status <= 299:
            return "success"
        if status in (408, 429) or (500 <= status <= 599 and status not in (501, 505)):
            return "retry"
        return "fail"
    if phase is None:
        raise ValueError("classify needs a status or a transport phase")
    if phase == "connect" or safe_to_repeat or retry_unknown:
        return "retry"
    return "unknown"


def parse_retry_after(value: str | None, *, now: datetime) -> float | None:
    """Seconds to wait according to a ``Retry-After`` header value, or None.

    Accepts non-negative seconds (integer or decimal) and HTTP dates (RFC 9110
    IMF-fixdate, and the obsolete RFC 850 and asctime forms; a date without a
    zone is GMT).  A date is turned into the seconds from ``now`` (timezone
    aware), never negative.  Anything else, a missing header included, gives
    None.
    """
    if now.tzinfo is None:
        raise ValueError("now must be a timezone-aware datetime")
    if value is None:
        return None
    text = value.strip()
    if _SECONDS.fullmatch(text):
        seconds = float(text)
        return seconds if math.isfinite(seconds) else None
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())
