"""Send planned calls for real: rate limited, retried, recorded, never twice.

``replay_calls`` composes the parts: the planned calls come from
``plan.plan_records`` (the same path dry-run shows), the ``RateLimiter``
spaces attempts ahead of time, the ``RetryPolicy`` decides after a failure,
the ``MapiClient`` makes one attempt, and the ``Ledger`` records each outcome
as it finishes.

Threads: the calling thread reads the plan, consults and writes the ledger
and keeps at most ``concurrency`` calls in flight on a thread pool; workers
only send.  Because an outcome is committed before the next call is handed
out, a run killed at any moment leaves at most ``concurrency`` calls whose
outcome is not in the ledger, and a rerun sends those (and only those) again.

On ``stop`` (Ctrl-C) no new call starts (not even one already handed to a
worker that is still waiting for the rate limiter); calls in flight finish
their current attempt without retrying and are recorded, so a rerun sends only
the rest.

When the ledger cannot be read or written mid-run (a full disk, a file made
read-only, damage), sending stops the same way: no new call starts, the calls
in flight finish their current attempt and are recorded if the ledger still
takes them, and ``replay_calls`` raises the ledger's ``ConfigError``, whose
hint says how many delivered calls it could not record (a rerun sends those
again: at most ``concurrency``, as after a crash).  Sending on without a
ledger could send calls twice.
"""

from __future__ import annotations

import random
import signal
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final, Literal, Protocol
from urllib.parse import urlsplit

from fbcli.errors import ApiError, AuthError, ConfigError
from fbcli.events import Event, LineError
from fbcli.ledger import Ledger, LedgerStatus, event_key
from fbcli.plan import PlannedCall, PlanRecord, PlanTally, Rejection, status_of
from fbcli.ratelimit import RateLimiter
from fbcli.retry import RetryPolicy, classify, parse_retry_after

if TYPE_CHECKING:
    from fbcli.mapi import CallResult

MAX_LISTED: Final = 100
"""Failed and unknown calls kept in the summary for display (all are in the ledger)."""


class CallSender(Protocol):
    """What sends one attempt (``MapiClient.send``)."""

    def send(self, path: str, body: Any) -> CallResult: ...


@dataclass(frozen=True, slots=True)
class ReplayOptions:
    """How to replay: concurrency, what to resend, how to retry."""

    concurrency: int = 4
    retry_unknown: bool = False
    force: bool = False
    only_failed: bool = False
    policy: RetryPolicy = field(default_factory=RetryPolicy)


@dataclass(frozen=True, slots=True)
class CallOutcome:
    """The final outcome of one planned call."""

    call: PlannedCall
    key: str
    status: LedgerStatus
    http_status: int | None
    attempts: int
    retries: int
    rate_limited: int
    event_id: str | None = None
    message: str | None = None
    retry_after_capped: int = 0
    """How many of this call's ``Retry-After`` values were above ``max_retry_after``."""
    longest_retry_after: float = 0.0
    """The largest of those values, as asked (seconds); 0 when none was capped."""


@dataclass(slots=True)
class ReplaySummary:
    """Counts for the progress bar, the final table and ``--format json``."""

    to_send: int = 0
    sent: int = 0
    skipped_already_sent: int = 0
    skipped_unknown: int = 0
    skipped_not_failed: int = 0
    failed: int = 0
    unknown: int = 0
    invalid: int = 0
    unmatched: int = 0
    malformed: int = 0
    retries: int = 0
    rate_limited: int = 0
    elapsed: float = 0.0
    current_rate: float = 0.0
    """The rate limiter's rate now (lower than ``--rate`` after 429s)."""
    retry_after_capped: int = 0
    """``Retry-After`` values above the policy's ``max_retry_after``, honoured only up to it."""
    longest_retry_after: float = 0.0
    """The largest ``Retry-After`` that was capped, as asked (seconds)."""
    interrupted: bool = False
    problems: list[CallOutcome] = field(default_factory=list)

    @property
    def done(self) -> int:
        """Calls finished in this run."""
        return self.sent + self.failed + self.unknown

    @property
    def achieved_rate(self) -> float:
        """Calls finished per second of the run."""
        return self.done / self.elapsed if self.elapsed > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        """The ``replay --format json`` summary object."""
        return {
            "sent": self.sent,
            "skipped_already_sent": self.skipped_already_sent,
            "skipped_unknown": self.skipped_unknown,
            "skipped_not_failed": self.skipped_not_failed,
            "failed": self.failed,
            "unknown": self.unknown,
            "invalid": self.invalid,
            "unmatched": self.unmatched,
            "malformed": self.malformed,
            "retries": self.retries,
            "rate_limited": self.rate_limited,
            "retry_after_capped": self.retry_after_capped,
            "longest_retry_after": round(self.longest_retry_after, 3),
            "elapsed_seconds": round(self.elapsed, 3),
            "achieved_rate": round(self.achieved_rate, 3),
            "current_rate": round(self.current_rate, 3),
            "interrupted": self.interrupted,
            "problems": [
                {
                    "source": o.call.event.source,
                    "line": o.call.event.line,
                    "subscription": o.call.subscription,
                    "action": o.call.action,
                    "status": o.status,
                    "http_status": o.http_status,
                    "attempts": o.attempts,
                    "message": o.message,
                }
                for o in self.problems
            ],
        }


def is_safe_to_repeat(call: PlannedCall) -> bool:
    """Whether sending the call twice does no harm.

    Customer upserts are idempotent, and Friendbuy does not reward a second
    custom event with the same type and ``deduplicationId``.  Purchases and
    sign-ups have no such guarantee: MAPI has no idempotency key.
    """
    if call.action == "trackCustomer":
        return True
    return call.action == "trackCustomEvent" and bool(call.body.get("deduplicationId"))


def api_path(call: PlannedCall) -> str:
    """The request path of a planned cloud call (``/v1/event/purchase``)."""
    assert call.url is not None
    return urlsplit(call.url).path


class Sender:
    """Sends one planned call to the end: attempts, waits, retries, an outcome."""

    def __init__(
        self,
        client: CallSender,
        limiter: RateLimiter,
        options: ReplayOptions,
        *,
        stop: threading.Event,
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.client = client
        self.limiter = limiter
        self.options = options
        self.stop = stop
        self.clock = clock
        self.rng = rng or random.Random()  # noqa: S311 - jitter, not cryptography
        self.now = now
        self._rng_lock = threading.Lock()
        self.auth_error: AuthError | None = None
        """Set when MAPI refused the credentials mid-run (the run then stops)."""

    def send(self, call: PlannedCall, key: str) -> CallOutcome | None:
        """Attempt the call until it succeeds, fails for good, or its outcome is unknown.

        ``None`` when ``stop`` was set before the first attempt could start (the
        call was not sent and nothing is to be recorded).  The rate limiter's
        waits end early on ``stop`` too, and a token it could grant only after
        the call's budget (``policy.max_total`` from the start, on ``clock``,
        which must be the limiter's clock too) ends the call at once, as does a
        retry's wait that would end after it.
        """
        policy = self.options.policy
        safe = is_safe_to_repeat(call)
        path = api_path(call)
        started = self.clock()
        deadline = started + policy.max_total
        attempts = retries = rate_limited = capped = 0
        longest_retry_after = 0.0
        may_have_arrived = False
        """An earlier attempt of this call may have reached MAPI (no answer came)."""
        granted = self.limiter.acquire(stop=self.stop, deadline=deadline)
        if self.stop.is_set():
            return None
        if not granted:
            message = f"not sent: {_limiter_wait(policy)}"
            return CallOutcome(call, key, "failed", None, 0, 0, 0, message=message)
        while True:
            attempts += 1
            result: CallResult | _NotSent
            try:
                result = self.client.send(path, call.body)
            except AuthError as exc:
                # MAPI refused the credentials: this call was not sent, and no other will be.
                self.auth_error = exc
                self.stop.set()
                return CallOutcome(
                    call,
                    key,
                    "failed",
                    exc.status,
                    attempts,
                    retries,
                    rate_limited,
                    message=exc.message,
                )
            except ApiError as exc:
                # (Re-)authorization failed in a way that may pass (no answer, a 429 storm,
                # 5xx) even after the client's own retries: the call was not sent, so it is
                # retried within its own bounds, as after a refused connection.
                result = _NotSent(exc.status, exc.message)
            decision = classify(
                status=result.status,
                phase=result.phase,
                safe_to_repeat=safe,
                retry_unknown=self.options.retry_unknown,
            )
            if result.status is None and result.phase != "connect":
                may_have_arrived = True
            if decision == "success":
                self.limiter.record_success()
                return CallOutcome(
                    call,
                    key,
                    "sent",
                    result.status,
                    attempts,
                    retries,
                    rate_limited,
                    event_id=result.event_id,
                    retry_after_capped=capped,
                    longest_retry_after=longest_retry_after,
                )
            retry_after = parse_retry_after(result.retry_after, now=self.now())
            if retry_after is not None and retry_after > policy.max_retry_after:
                capped += 1
                longest_retry_after = max(longest_retry_after, retry_after)
                retry_after = policy.cap(retry_after)
            if result.status == 429:
                rate_limited += 1
                self.limiter.throttle(retry_after)
            message = _message(result)
            if decision == "retry":
                with self._rng_lock:
                    delay = policy.delay(attempts, self.rng, retry_after)
                elapsed = self.clock() - started
                limiter_late = False
                if not self.stop.is_set() and policy.should_retry(attempts, elapsed, delay):
                    retries += 1
                    if not self.stop.wait(delay):
                        granted = self.limiter.acquire(stop=self.stop, deadline=deadline)
                        if granted and not self.stop.is_set():
                            continue
                        limiter_late = not granted
                # Not delivered for sure only if no attempt may have arrived: with
                # --retry-unknown, a purchase whose answer was lost and whose last retry
                # got a 503 may still have been counted by MAPI.
                status: LedgerStatus = "unknown" if may_have_arrived and not safe else "failed"
                gave_up = f"gave up after {attempts} attempt{'' if attempts == 1 else 's'}"
                if self.stop.is_set():
                    message += " (stopped before retrying)"
                elif limiter_late:
                    message += f" ({gave_up}: {_limiter_wait(policy)})"
                elif attempts < policy.max_attempts:
                    wait = delay if retry_after is None else max(delay, retry_after)
                    message += (
                        f" ({gave_up}: waiting {round(wait, 1):g} s more would exceed "
                        f"--max-call-time ({policy.max_total:g} s))"
                    )
                else:
                    message += f" ({gave_up})"
                if status == "unknown" and result.status is not None:
                    message += "; an earlier attempt may have reached MAPI"
                return CallOutcome(
                    call,
                    key,
                    status,
                    result.status,
                    attempts,
                    retries,
                    rate_limited,
                    message=message + _capped_note(capped, longest_retry_after, policy),
                    retry_after_capped=capped,
                    longest_retry_after=longest_retry_after,
                )
            final: LedgerStatus = "unknown" if decision == "unknown" else "failed"
            if final == "unknown":
                message += " — the request may have reached MAPI; not resent"
            elif may_have_arrived and not safe:
                final = "unknown"
                message += "; an earlier attempt may have reached MAPI"
            return CallOutcome(
                call,
                key,
                final,
                result.status,
                attempts,
                retries,
                rate_limited,
                message=message + _capped_note(capped, longest_retry_after, policy),
                retry_after_capped=capped,
                longest_retry_after=longest_retry_after,
            )


def _limiter_wait(policy: RetryPolicy) -> str:
    return f"the rate limiter's wait exceeded --max-call-time ({policy.max_total:g} s)"


def _capped_note(count: int, longest: float, policy: RetryPolicy) -> str:
    """``; Retry-After 99999 s capped at 60 s`` (nothing when no value was capped)."""
    if not count:
        return ""
    values = "Retry-After" if count == 1 else f"{count} Retry-After values (largest"
    asked = f" {longest:g} s" + ("" if count == 1 else ")")
    return f"; {values}{asked} capped at {policy.max_retry_after:g} s"


@dataclass(frozen=True, slots=True)
class _NotSent:
    """An attempt whose authorization failed (an ``ApiError``): the call was not sent."""

    status: int | None
    message: str
    phase: Literal["connect"] = "connect"
    retry_after: str | None = None
    event_id: str | None = None


def _message(result: CallResult | _NotSent) -> str:
    if result.status is None:
        return result.message or "transport error"
    text = f"HTTP {result.status}"
    return f"{text}: {result.message}" if result.message else text


Skip = Literal["skipped_already_sent", "skipped_unknown", "skipped_not_failed"]


def skip_reason(recorded: LedgerStatus | None, options: ReplayOptions) -> Skip | None:
    """Why the ledger says not to send a call now, or ``None`` to send it."""
    if options.force:
        return None
    if recorded == "sent":
        return "skipped_already_sent"
    if recorded == "unknown" and not options.retry_unknown:
        return "skipped_unknown"
    if options.only_failed and recorded not in ("failed", "unknown"):
        return "skipped_not_failed"
    return None


def planned_calls(records: Iterable[PlanRecord], summary: ReplaySummary) -> Iterator[PlannedCall]:
    """The planned calls of a plan stream; the rest is counted in the summary."""
    for record in records:
        status = status_of(record)
        if isinstance(record, PlannedCall):
            yield record
        elif status == "invalid":
            summary.invalid += 1
        elif status == "unmatched":
            summary.unmatched += 1
        else:
            summary.malformed += 1


def replay_calls(
    calls: Iterable[PlannedCall],
    *,
    sender: Sender,
    ledger: Ledger,
    options: ReplayOptions,
    summary: ReplaySummary,
    on_outcome: Callable[[CallOutcome], None] = lambda _: None,
    on_progress: Callable[[ReplaySummary], None] = lambda _: None,
    clock: Callable[[], float] = time.monotonic,
) -> ReplaySummary:
    """Send every call the ledger does not show as done; record each outcome as it finishes.

    Returns when all calls are done or, after ``sender.stop`` is set, when the
    calls in flight have finished.  Ctrl-C sets ``stop`` (see
    ``_stop_on_interrupt``) and is handled the same way (``summary.interrupted``).
    """
    started = clock()
    in_flight: dict[Future[CallOutcome | None], tuple[str, str]] = {}
    ledger_error: ConfigError | None = None
    unrecorded = 0
    """Calls that may have reached MAPI (sent or unknown) whose outcome the ledger refused."""

    def stop_for(error: ConfigError) -> None:
        nonlocal ledger_error
        if ledger_error is None:
            ledger_error = error
        sender.stop.set()

    def finish(done: set[Future[CallOutcome | None]]) -> None:
        nonlocal unrecorded
        for future in done:
            in_flight.pop(future)
            outcome = future.result()
            if outcome is None:  # stopped before it was sent
                continue
            try:
                ledger.record(
                    key=outcome.key,
                    subscription=outcome.call.subscription,
                    action=outcome.call.action,
                    source=outcome.call.event.source,
                    line=outcome.call.event.line,
                    status=outcome.status,
                    http_status=outcome.http_status,
                    attempts=outcome.attempts,
                    event_id=outcome.event_id,
                    message=outcome.message,
                )
            except ConfigError as exc:
                if outcome.status != "failed":
                    unrecorded += 1
                stop_for(exc)
            setattr(summary, outcome.status, getattr(summary, outcome.status) + 1)
            summary.retries += outcome.retries
            summary.rate_limited += outcome.rate_limited
            summary.retry_after_capped += outcome.retry_after_capped
            summary.longest_retry_after = max(
                summary.longest_retry_after, outcome.longest_retry_after
            )
            if outcome.status != "sent" and len(summary.problems) < MAX_LISTED:
                summary.problems.append(outcome)
            on_outcome(outcome)
        summary.elapsed = clock() - started
        summary.current_rate = sender.limiter.current_rate
        on_progress(summary)

    def wait_some() -> None:
        done, _ = wait(list(in_flight), timeout=0.5, return_when=FIRST_COMPLETED)
        finish(done)

    with (
        _stop_on_interrupt(sender.stop),
        ThreadPoolExecutor(max_workers=options.concurrency, thread_name_prefix="fbcli") as pool,
    ):
        try:
            for call in calls:
                if sender.stop.is_set():
                    break
                key = event_key(call.event.data, call.event.message_id)
                ident = (key, call.subscription)
                while ident in in_flight.values():
                    wait_some()
                if sender.stop.is_set():
                    break
                try:
                    recorded = ledger.status_of(key, call.subscription)
                except ConfigError as exc:
                    stop_for(exc)
                    break
                reason = skip_reason(recorded, options)
                if reason is not None:
                    setattr(summary, reason, getattr(summary, reason) + 1)
                    continue
                while len(in_flight) >= options.concurrency:
                    wait_some()
                if sender.stop.is_set():  # set while waiting: this call does not start
                    break
                in_flight[pool.submit(sender.send, call, key)] = ident
            while in_flight:
                wait_some()
        except KeyboardInterrupt:
            sender.stop.set()
            summary.interrupted = True
            while in_flight:
                try:
                    wait_some()
                except KeyboardInterrupt:
                    continue
    summary.elapsed = clock() - started
    if ledger_error is not None:
        raise _ledger_stopped(ledger_error, unrecorded)
    if sender.stop.is_set():
        summary.interrupted = True
    on_progress(summary)
    return summary


@contextmanager
def _stop_on_interrupt(stop: threading.Event) -> Iterator[None]:
    """In the main thread, make Ctrl-C (SIGINT) set ``stop`` instead of raising.

    A ``KeyboardInterrupt`` can land between any two steps of the thread that
    runs ``replay_calls``: between handing a call to a worker and noting it in
    flight, or between a call's end, its ledger record and its count.  That
    call's outcome could then be lost (sent, not recorded, and sent again by a
    rerun) or left out of the summary.  Where signals cannot be handled (not
    the main thread), ``KeyboardInterrupt`` is still caught as before.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, lambda _signum, _frame: stop.set())
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous if previous is not None else signal.SIG_DFL)


def _ledger_stopped(error: ConfigError, unrecorded: int) -> ConfigError:
    """The ledger's error, its hint telling what became of the calls that were in flight."""
    if unrecorded == 1:
        note = "sending stopped: 1 call that reached MAPI (or may have) is not recorded, "
        note += "and a rerun sends it again"
    elif unrecorded:
        note = f"sending stopped: {unrecorded} calls that reached MAPI (or may have) are not "
        note += "recorded, and a rerun sends them again"
    else:
        note = "sending stopped: every call that reached MAPI is recorded"
    hint = f"{error.hint}; {note}" if error.hint else note
    return ConfigError(error.message, where=error.where, hint=hint)


# -- pre-flight ------------------------------------------------------------------------


@dataclass(slots=True)
class Preflight:
    """The whole input checked once before anything is sent."""

    tally: PlanTally = field(default_factory=PlanTally)
    calls: int = 0
    problems: list[PlanRecord] = field(default_factory=list)

    @property
    def has_problems(self) -> bool:
        """Invalid or malformed input."""
        return bool(self.tally.count("invalid") or self.tally.count("malformed"))


def preflight(records: Iterable[PlanRecord], tally: PlanTally, *, keep: int = 20) -> Preflight:
    """Go through a plan stream made with ``tally``; keeps only the first ``keep`` problems."""
    result = Preflight(tally)
    for record in records:
        if isinstance(record, PlannedCall):
            result.calls += 1
        elif isinstance(record, Rejection | LineError) and len(result.problems) < keep:
            result.problems.append(record)
    return result


# -- the failed file -------------------------------------------------------------------

FAILED_KIND: Final = "fbcli.failed-call"


def failed_record(outcome: CallOutcome) -> dict[str, Any]:
    """One line of ``--failed``: the original event, where it came from, the call and why."""
    call = outcome.call
    return {
        "kind": FAILED_KIND,
        "event": call.event.data,
        "source": call.event.source,
        "line": call.event.line,
        "subscription": call.subscription,
        "action": call.action,
        "request": {"method": call.method, "url": call.url, "body": call.body},
        "status": outcome.status,
        "http_status": outcome.http_status,
        "message": outcome.message,
    }


def unwrap_failed(item: Event | LineError) -> Event | LineError:
    """A ``--failed`` line read back as input becomes its original event again."""
    if (
        isinstance(item, Event)
        and item.data.get("kind") == FAILED_KIND
        and isinstance(item.data.get("event"), dict)
    ):
        return Event(item.source, item.line, item.data["event"])
    return item
