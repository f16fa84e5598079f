"""Send planned calls for real: rate limited, retried, recorded, never twice.

``replay_calls`` composes the parts: the planned calls come from
``replay_items`` (the same planner dry-run shows, plus the ledger key of each
event), the ``RateLimiter`` spaces attempts ahead of time, the ``RetryPolicy``
decides after a failure, the ``MapiClient`` makes one attempt, and the
``Ledger`` records each outcome as it finishes.  ``fbcli.session`` runs the
whole replay (inputs, ledger, pre-flight, sending) around it.

Threads: the calling thread reads the plan, consults and writes the ledger
and keeps at most ``concurrency`` calls in flight on daemon worker threads;
workers only send.  Because an outcome is committed before the next call is
handed out, a run killed at any moment leaves at most ``concurrency`` calls
whose outcome is not in the ledger, and a rerun sends those (and only those)
again.

Stopping (``fbcli.signals``): once ``stop`` is set no new call and no new
attempt starts, waits end at once, and the calls in flight finish their
current attempt and are recorded.  Once ``abandon`` is set (a second signal),
or ``grace`` seconds after the stop, the calls still in flight are recorded
as possibly delivered without waiting for their answers: ``unknown``, or
``failed`` when repeating them is harmless, so a rerun never sends twice what
may have arrived.

When the ledger, or the ``--failed`` file, cannot be written mid-run (a full
disk, a file made read-only, damage), sending stops the same way and
``replay_calls`` raises a ``ConfigError`` whose hint says how many calls
could not be recorded.  Sending on without a ledger could send calls twice.
"""

from __future__ import annotations

import queue
import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, wait
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final, Literal, Protocol
from urllib.parse import urlsplit

from fbcli.actions import ACTIONS
from fbcli.errors import ApiError, AuthError, ConfigError, FbcliError
from fbcli.events import Event, LineError
from fbcli.ledger import Ambiguous, Found, Ledger, LedgerStatus, Lookup, event_key
from fbcli.plan import (
    FAILED_KIND,
    UNDATED,
    CompiledConfig,
    FailedRef,
    PlanFilter,
    PlannedCall,
    PlanRecord,
    PlanTally,
    Rejection,
    plan_item,
    status_of,
    unwrap_failed,
)
from fbcli.ratelimit import RateLimiter
from fbcli.retry import RetryPolicy, classify, parse_retry_after
from fbcli.text import plural

if TYPE_CHECKING:
    from fbcli.mapi import CallResult

MAX_LISTED: Final = 100
"""Failed and unknown calls kept in the summary for display (all are in the ledger)."""
WAIT_STEP: Final = 0.1
"""How often the main thread looks at ``stop`` and ``abandon`` while calls are in flight."""


class CallSender(Protocol):
    """What sends one attempt (``MapiClient.send``)."""

    def send(self, path: str, body: Any, *, deadline: float | None = None) -> CallResult: ...


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
    abandoned: int = 0
    """Calls in flight when sending was abandoned (counted in ``unknown`` or ``failed`` too)."""
    renamed: int = 0
    """Calls found in the ledger under their subscription's old name."""
    elapsed: float = 0.0
    current_rate: float = 0.0
    """The rate limiter's rate now (lower than ``--rate`` after 429s)."""
    retry_after_capped: int = 0
    """``Retry-After`` values above the policy's ``max_retry_after``, honoured only up to it."""
    longest_retry_after: float = 0.0
    """The largest ``Retry-After`` that was capped, as asked (seconds)."""
    interrupted: bool = False
    signal: str | None = None
    """The signal that stopped the run (``SIGTERM``), if one did."""
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
            "abandoned": self.abandoned,
            "renamed": self.renamed,
            "elapsed_seconds": round(self.elapsed, 3),
            "achieved_rate": round(self.achieved_rate, 3),
            "current_rate": round(self.current_rate, 3),
            "interrupted": self.interrupted,
            "signal": self.signal,
            "problems": [
                {
                    "source": o.call.event.source,
                    "line": o.call.event.line,
                    "key": o.key,
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
    """Whether sending the call twice does no harm: a property of its action.

    Customer upserts are idempotent, and Friendbuy does not reward a second
    custom event with the same type and ``deduplicationId``.  Purchases and
    sign-ups have no such guarantee: MAPI has no idempotency key.
    """
    return ACTIONS[call.action].safe_to_repeat(call.body)


def api_path(call: PlannedCall) -> str:
    """The request path of a planned cloud call (``/v1/event/purchase``)."""
    assert call.url is not None
    return urlsplit(call.url).path


Ident = tuple[str, str]
"""A call's identity in a run: (event key, subscription)."""


class Sender:
    """Sends one planned call to the end: attempts, waits, retries, an outcome.

    Every attempt starts through a gate: none starts once ``stop`` is set or the
    run has abandoned its calls in flight (``abandon``), and the gate knows
    which calls are in the middle of an attempt, so that abandoning records
    exactly those as possibly delivered.
    """

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
        self._gate = threading.Lock()
        self._attempting: set[Ident] = set()
        self._abandoned = False
        self.auth_error: AuthError | None = None
        """Set when MAPI refused the credentials mid-run (the run then stops)."""

    def _begin_attempt(self, ident: Ident) -> bool:
        """Whether an attempt of ``ident`` may start now (then it counts as attempting)."""
        with self._gate:
            if self._abandoned or self.stop.is_set():
                return False
            self._attempting.add(ident)
            return True

    def _end_attempt(self, ident: Ident) -> None:
        with self._gate:
            self._attempting.discard(ident)

    def abandon(self) -> set[Ident]:
        """Let no attempt start from now on; the calls in the middle of one."""
        with self._gate:
            self._abandoned = True
            return set(self._attempting)

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
        ident = (key, call.subscription)
        started = self.clock()
        deadline = started + policy.max_total
        attempts = retries = rate_limited = capped = 0
        longest_retry_after = 0.0
        may_have_arrived = False
        """An earlier attempt of this call may have reached MAPI (no answer came)."""
        granted = self.limiter.acquire(stop=self.stop, deadline=deadline)
        if self.stop.is_set() or (granted and not self._begin_attempt(ident)):
            return None  # stopped (or abandoned) before it was sent
        if not granted:
            message = f"not sent: {_limiter_wait(policy)}"
            return CallOutcome(call, key, "failed", None, 0, 0, 0, message=message)
        while True:
            attempts += 1
            result: CallResult | _NotSent
            try:
                result = self.client.send(path, call.body, deadline=deadline)
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
            finally:
                self._end_attempt(ident)
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
                        if granted and self._begin_attempt(ident):
                            continue
                        limiter_late = not granted
                # Not delivered for sure only if no attempt may have arrived: with
                # --retry-unknown, a purchase whose answer was lost and whose last retry
                # got a 503 may still have been counted by MAPI.
                status: LedgerStatus = "unknown" if may_have_arrived and not safe else "failed"
                gave_up = f"gave up after {plural(attempts, 'attempt')}"
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


# -- the plan of a replay: calls with their ledger keys -----------------------------------


@dataclass(frozen=True, slots=True)
class ReplayItem:
    """One input item's records, with the ledger key of its event (``None``: a bad line),
    and, for a line of a failed file, what the line says of its call."""

    records: list[PlanRecord]
    key: str | None
    ref: FailedRef | None = None


def replay_items(
    items: Iterable[Event | LineError],
    compiled: CompiledConfig,
    selection: PlanFilter,
    tally: PlanTally,
    *,
    known: Collection[str],
) -> Iterator[ReplayItem]:
    """The plan of a replay, item by item, in input order, counted in ``tally``.

    A line of a ``--failed`` file becomes its original event, planned again, of
    which only its own call is kept (the subscription it names, or, when the
    mapping file no longer has that name, the call of the same action), under
    the ledger key it carries: replaying a failed file updates the same rows.
    When the mapping file no longer makes that call, the line counts as an
    unmatched event.
    """
    for item in items:
        original, ref = unwrap_failed(item)
        records = plan_item(item, compiled, selection)
        if records is None:
            continue
        if records is UNDATED:
            tally.add_undated()
            continue
        tally.add_event(records)
        key = None
        if isinstance(original, Event):
            key = (ref.key if ref else None) or event_key(original.data, original.message_id)
        yield ReplayItem(records, key, ref)


@dataclass(frozen=True, slots=True)
class KeyedCall:
    """A planned call, its event's ledger key, and whether it is its event's only call of
    its action (a renamed subscription can then be followed); ``was``: the status a
    failed file's line says the call ended with."""

    call: PlannedCall
    key: str
    alone: bool
    was: LedgerStatus | None = None

    @property
    def ident(self) -> Ident:
        """(event key, subscription)."""
        return (self.key, self.call.subscription)


def keyed(item: ReplayItem) -> Iterator[KeyedCall]:
    """The planned calls of one item, with their ledger keys."""
    actions = [r.action for r in item.records if isinstance(r, PlannedCall | Rejection)]
    was = item.ref.status if item.ref else None
    for record in item.records:
        if isinstance(record, PlannedCall):
            assert item.key is not None
            yield KeyedCall(record, item.key, actions.count(record.action) == 1, was)


def keyed_calls(items: Iterable[ReplayItem], summary: ReplaySummary) -> Iterator[KeyedCall]:
    """The planned calls of a replay plan; the rest is counted in the summary."""
    for item in items:
        yield from keyed(item)
        for record in item.records:
            if isinstance(record, PlannedCall):
                continue
            status = status_of(record)
            if status == "invalid":
                summary.invalid += 1
            elif status == "unmatched":
                summary.unmatched += 1
            else:
                summary.malformed += 1


def lookup(ledger: Ledger, keyed: KeyedCall, known: Collection[str]) -> Lookup:
    """What the ledger knows of a call (following a renamed subscription).

    A failed file's line whose call ended ``unknown`` stays unknown when this ledger
    does not know the call (the file replayed with another ledger): it may have
    reached MAPI, so it is not sent without ``--retry-unknown``.
    """
    call = keyed.call
    found = ledger.lookup(keyed.key, call.subscription, call.action, known=known, alone=keyed.alone)
    if found is None and keyed.was == "unknown":
        return Found("unknown", call.subscription)
    return found


def decide(found: Lookup, options: ReplayOptions, *, since: str) -> Skip | None:
    """Why not to send a call the ledger knows as ``found``, or ``None`` to send it.

    ``since``: when this run started (the ledger's clock); with ``--force``, a call
    this run already sent (the same call twice in the input) is not sent again.
    """
    if isinstance(found, Found) and options.force:
        return (
            "skipped_already_sent"
            if found.status == "sent" and found.last_attempt_at >= since
            else None
        )
    return skip_reason(found.status if isinstance(found, Found) else None, options)


# -- sending -----------------------------------------------------------------------------


class _Workers:
    """``concurrency`` daemon threads that run submitted calls.

    Daemon threads, unlike ``ThreadPoolExecutor``'s, do not hold the process at
    exit: once the run has abandoned its calls in flight (recorded as possibly
    delivered), fbcli ends without waiting for their answers.
    """

    def __init__(self, count: int) -> None:
        self._queue: queue.SimpleQueue[tuple[Future[Any], Callable[[], Any]] | None] = (
            queue.SimpleQueue()
        )
        self._threads = [
            threading.Thread(target=self._work, name=f"fbcli-{n}", daemon=True)
            for n in range(count)
        ]
        for thread in self._threads:
            thread.start()

    def submit(self, work: Callable[[], Any]) -> Future[Any]:
        future: Future[Any] = Future()
        self._queue.put((future, work))
        return future

    def _work(self) -> None:
        while (task := self._queue.get()) is not None:
            future, work = task
            if not future.set_running_or_notify_cancel():  # pragma: no cover - never cancelled
                continue
            try:
                future.set_result(work())
            except BaseException as exc:  # noqa: BLE001 - handed to the main thread
                future.set_exception(exc)

    def close(self) -> None:
        """Let the threads end once their current work is done (without waiting for them)."""
        for _ in self._threads:
            self._queue.put(None)


@dataclass(slots=True)
class _Stopped:
    """Why sending stopped early because fbcli could not keep a record."""

    error: ConfigError
    unrecorded: int = 0
    """Calls that may have reached MAPI (sent or unknown) whose outcome the ledger refused."""
    kind: Literal["ledger", "failed file"] = "ledger"


def replay_calls(
    calls: Iterable[KeyedCall],
    *,
    sender: Sender,
    ledger: Ledger,
    options: ReplayOptions,
    summary: ReplaySummary,
    known: Collection[str] = (),
    abandon: threading.Event | None = None,
    grace: float = 5.0,
    on_outcome: Callable[[CallOutcome], None] = lambda _: None,
    on_progress: Callable[[ReplaySummary], None] = lambda _: None,
    clock: Callable[[], float] = time.monotonic,
) -> ReplaySummary:
    """Send every call the ledger does not show as done; record each outcome as it finishes.

    Returns when all calls are done or, after ``sender.stop`` is set, when the
    calls in flight have finished, or were abandoned (``abandon`` set, or
    ``grace`` seconds passed since the stop); see the module docstring.
    ``known``: every subscription name of the mapping file (to follow renames).
    ``on_outcome`` may raise ``FbcliError`` (the failed file cannot be
    written): sending then stops as for the ledger.  ``on_progress`` only
    shows: a closed stream there is ignored.
    """
    started = clock()
    since = ledger.now()
    abandon = abandon or threading.Event()
    in_flight: dict[Future[CallOutcome | None], KeyedCall] = {}
    stopped: _Stopped | None = None
    renamed_from: dict[Ident, str] = {}
    show = [on_progress]
    stop_seen: float | None = None

    def stop_for(error: ConfigError, kind: Literal["ledger", "failed file"]) -> None:
        nonlocal stopped
        if stopped is None:
            stopped = _Stopped(error, kind=kind)
        sender.stop.set()

    def keep(outcome: CallOutcome) -> None:
        """Record one outcome in the ledger, then count it and hand it on."""
        call = outcome.call
        ident = (outcome.key, call.subscription)
        try:
            ledger.record(
                key=outcome.key,
                subscription=call.subscription,
                action=call.action,
                source=call.event.source,
                line=call.event.line,
                status=outcome.status,
                http_status=outcome.http_status,
                attempts=outcome.attempts,
                event_id=outcome.event_id,
                message=outcome.message,
                renamed_from=renamed_from.pop(ident, None),
            )
        except ConfigError as exc:
            stop_for(exc, "ledger")
            if outcome.status != "failed" and stopped is not None and stopped.kind == "ledger":
                stopped.unrecorded += 1
        setattr(summary, outcome.status, getattr(summary, outcome.status) + 1)
        summary.retries += outcome.retries
        summary.rate_limited += outcome.rate_limited
        summary.retry_after_capped += outcome.retry_after_capped
        summary.longest_retry_after = max(summary.longest_retry_after, outcome.longest_retry_after)
        if outcome.status != "sent" and len(summary.problems) < MAX_LISTED:
            summary.problems.append(outcome)
        if stopped is not None and stopped.kind == "failed file":
            if outcome.status != "sent":
                stopped.unrecorded += 1
            return
        try:
            on_outcome(outcome)
        except FbcliError as exc:
            error = (
                exc if isinstance(exc, ConfigError) else ConfigError(exc.message, where=exc.where)
            )
            stop_for(error, "failed file")
            if stopped is not None and stopped.kind == "failed file":
                stopped.unrecorded += 1

    def progress() -> None:
        summary.elapsed = clock() - started
        summary.current_rate = sender.limiter.current_rate
        if show:
            try:
                show[0](summary)
            except OSError:  # the progress stream closed (a pipe): sending goes on
                show.clear()

    def finish(done: Iterable[Future[CallOutcome | None]]) -> None:
        for future in done:
            in_flight.pop(future)
            outcome = future.result()
            if outcome is not None:  # None: stopped before it was sent
                keep(outcome)
        progress()

    def abandon_in_flight() -> None:
        """Record the calls in the middle of an attempt as possibly delivered; drop the rest."""
        attempting = sender.abandon()
        finish([f for f in in_flight if f.done()])
        for future, keyed in list(in_flight.items()):
            in_flight.pop(future)
            if keyed.ident not in attempting:
                continue  # waiting (rate limiter, backoff): it was not sent
            safe = is_safe_to_repeat(keyed.call)
            summary.abandoned += 1
            keep(
                CallOutcome(
                    keyed.call,
                    keyed.key,
                    "failed" if safe else "unknown",
                    None,
                    1,
                    0,
                    0,
                    message="abandoned while in flight when fbcli was stopped: it may have "
                    "reached MAPI"
                    + ("" if safe else "; not resent (fbcli ledger resolve, once checked)"),
                )
            )
        progress()

    def wait_some() -> None:
        nonlocal stop_seen
        done, _ = wait(list(in_flight), timeout=WAIT_STEP, return_when=FIRST_COMPLETED)
        finish(done)
        if sender.stop.is_set() and stop_seen is None:
            stop_seen = clock()
        if in_flight and (
            abandon.is_set() or (stop_seen is not None and clock() - stop_seen >= grace)
        ):
            abandon_in_flight()

    workers = _Workers(options.concurrency)
    try:
        for keyed in calls:
            if sender.stop.is_set():
                break
            while any(k.ident == keyed.ident for k in in_flight.values()):
                wait_some()
            if sender.stop.is_set():
                break
            try:
                found = lookup(ledger, keyed, known)
            except ConfigError as exc:
                stop_for(exc, "ledger")
                break
            if isinstance(found, Ambiguous):  # pre-flight refuses these; the ledger changed
                stop_for(_ambiguous_error([(keyed, found)]), "ledger")
                break
            if isinstance(found, Found) and found.subscription != keyed.call.subscription:
                summary.renamed += 1
            reason = decide(found, options, since=since)
            if reason is not None:
                setattr(summary, reason, getattr(summary, reason) + 1)
                if isinstance(found, Found) and found.subscription != keyed.call.subscription:
                    try:
                        ledger.follow_rename(keyed.key, found.subscription, keyed.call.subscription)
                    except ConfigError as exc:
                        stop_for(exc, "ledger")
                        break
                continue
            if isinstance(found, Found) and found.subscription != keyed.call.subscription:
                renamed_from[keyed.ident] = found.subscription
            while len(in_flight) >= options.concurrency:
                wait_some()
            if sender.stop.is_set():  # set while waiting: this call does not start
                break
            in_flight[workers.submit(_bind(sender, keyed))] = keyed
        while in_flight:
            wait_some()
    except KeyboardInterrupt:
        # Where no ``StopSwitch`` turns signals into flags (a library caller, another
        # thread), a KeyboardInterrupt may still land here: stop, and record what is done.
        sender.stop.set()
        while in_flight:
            try:
                wait_some()
            except KeyboardInterrupt:
                abandon.set()
    finally:
        workers.close()
    summary.elapsed = clock() - started
    if sender.stop.is_set() and (stopped is None or not summary.interrupted):
        summary.interrupted = stopped is None and sender.auth_error is None
    if stopped is not None:
        raise _stopped_error(stopped)
    progress()
    return summary


def _bind(sender: Sender, keyed: KeyedCall) -> Callable[[], CallOutcome | None]:
    return lambda: sender.send(keyed.call, keyed.key)


def _stopped_error(stopped: _Stopped) -> ConfigError:
    """The error that stopped sending, its hint telling what became of the calls in flight."""
    count = stopped.unrecorded
    calls = "1 call" if count == 1 else f"{count} calls"
    if stopped.kind == "failed file":
        note = (
            f"sending stopped: {calls} not delivered could not be written to the failed file "
            "(the ledger has them all: fbcli ledger list --status failed --status unknown)"
            if count
            else "sending stopped: every outcome is in the ledger and the failed file"
        )
    elif count:
        verb = "is" if count == 1 else "are"
        pronoun = "it" if count == 1 else "them"
        note = (
            f"sending stopped: {calls} that reached MAPI (or may have) {verb} not recorded, "
            f"and a rerun sends {pronoun} again"
        )
    else:
        note = "sending stopped: every call that reached MAPI is recorded"
    error = stopped.error
    hint = f"{error.hint}; {note}" if error.hint else note
    return ConfigError(error.message, where=error.where, hint=hint)


def _ambiguous_error(cases: list[tuple[KeyedCall, Ambiguous]]) -> ConfigError:
    """Calls the ledger cannot tell apart after a subscription was renamed or removed."""
    keyed, found = cases[0]
    names = " and ".join(f"'{n}'" for n in found.names)
    more = f" (and {len(cases) - 1} more)" if len(cases) > 1 else ""
    return ConfigError(
        f"the ledger has calls of {keyed.call.action} for event {keyed.key} under {names}, "
        f"which the mapping file no longer has, so it cannot tell whether "
        f"'{keyed.call.subscription}' was already sent{more}: nothing was sent",
        hint="if a subscription was renamed, tell the ledger: fbcli ledger rename OLD NEW; "
        "if it was removed, fbcli ledger forget --subscription OLD",
    )


# -- pre-flight ------------------------------------------------------------------------


@dataclass(slots=True)
class Preflight:
    """The whole input checked once before anything is sent, and the ledger asked."""

    tally: PlanTally = field(default_factory=PlanTally)
    calls: int = 0
    to_send: int = 0
    """Calls the ledger does not show as done (those the run will send)."""
    problems: list[PlanRecord] = field(default_factory=list)
    ambiguous: list[tuple[KeyedCall, Ambiguous]] = field(default_factory=list)
    beside: Counter[tuple[str, str]] = field(default_factory=Counter)
    """New calls of (subscription, another subscription) whose event already had a call of
    the same action delivered under the other one: perhaps the same call twice."""
    foreign: Counter[str] = field(default_factory=Counter)
    """Lines of failed files written for another target, by that target."""

    @property
    def has_problems(self) -> bool:
        """Invalid or malformed input."""
        return bool(self.tally.count("invalid") or self.tally.count("malformed"))

    def ambiguity(self) -> ConfigError | None:
        """The error that refuses the run when calls cannot be matched to the ledger."""
        return _ambiguous_error(self.ambiguous) if self.ambiguous else None


def preflight(
    items: Iterable[ReplayItem],
    tally: PlanTally,
    *,
    ledger: Ledger | None = None,
    options: ReplayOptions | None = None,
    known: Collection[str] = (),
    target: str | None = None,
    stop: threading.Event | None = None,
    keep: int = 20,
) -> Preflight:
    """Go through a replay plan counted in ``tally``; keeps only the first ``keep`` problems.

    With a ``ledger``, each call is looked up as ``replay_calls`` will: ``to_send``
    counts those it will send, calls that cannot be told apart after a renamed
    subscription are listed in ``ambiguous``, and new calls beside a delivered
    one of the same action are counted in ``beside``; failed-file lines written
    for another ``target`` are counted in ``foreign``.  A set ``stop`` ends the
    pass early (the caller then stops).
    """
    result = Preflight(tally)
    options = options or ReplayOptions()
    for item in items:
        if stop is not None and stop.is_set():
            break
        if item.ref is not None and item.ref.target and target and item.ref.target != target:
            result.foreign[item.ref.target] += 1
        for record in item.records:
            if isinstance(record, Rejection | LineError) and len(result.problems) < keep:
                result.problems.append(record)
        for call in keyed(item):
            result.calls += 1
            if ledger is None:
                result.to_send += 1
                continue
            found = lookup(ledger, call, known)
            if isinstance(found, Ambiguous):
                result.ambiguous.append((call, found))
                continue
            if found is None:
                for other in ledger.siblings(call.key, call.call.action, call.call.subscription):
                    result.beside[(call.call.subscription, other)] += 1
            if skip_reason(found.status if found else None, options) is None:
                result.to_send += 1
    return result


# -- the failed file -------------------------------------------------------------------


def failed_record(outcome: CallOutcome, *, target: str | None = None) -> dict[str, Any]:
    """One line of ``--failed``: the original event, where it came from, the call, why, and
    the call's ledger row (so that replaying the file updates that row)."""
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
        "ledger": {"target": target, "key": outcome.key, "subscription": call.subscription},
    }
