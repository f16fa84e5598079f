"""The chaos harness: faulty emulator, real replay processes, kills, and the books.

Shared by ``tests/process/test_chaos.py`` (bounded for CI), ``tests/process/test_ledger_disk.py``
and ``bench/soak.py`` (the long profile).  Everything runs for real: the
emulator on 127.0.0.1 in this process, ``fbcli replay`` in child processes,
the ledger on disk.

The books.  Every event generated here has a unique ``messageId`` and e-mail
and matches exactly one subscription, so a planned call is known by its
e-mail, both in the ledger (``messageId`` → event key) and in each body the
emulator recorded.  A recorded call's answer is *lost* when a fault struck it
that the client cannot have survived: ``drop-after`` always, ``slow`` when the
fault's seconds exceed the client's read timeout.  Otherwise it was
*delivered*.  :func:`audit` compares the ledger with the recorded calls and
lists every invariant that does not hold:

- every ledger row is a planned call, and every recorded call is one;
- a call the ledger shows as ``sent`` carries the event id of a delivered copy;
- without a crash: at most one delivered copy per call; ``sent`` has exactly
  one, ``failed`` and ``unknown`` none; a ``failed`` call that arrived (its
  answer lost) is one that is harmless to repeat; and, unless
  ``--retry-unknown`` was used, a call that is not harmless to repeat arrived
  at most once.  So the only duplicates are copies whose answer was lost and
  that were resent because resending them is harmless (or asked for);
- after a run that was not killed: every planned call has a ledger row.

After a kill, the calls that reached the emulator but have no ledger row are
the calls that were in flight: at most ``--concurrency``, and a rerun sends
exactly those again (``run_kill_point`` checks both, and that the ledger
opens and passes SQLite's ``integrity_check`` after every kill).
"""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Literal

from fbcli.emulator import (
    Emulator,
    EmulatorConfig,
    RecordedCall,
    parse_faults,
)
from fbcli.ledger import Ledger, ledger_target

KEY: Final = "5e2b1a4c-0000-4000-8000-00000000c4a0"
SECRET: Final = "chaos-secret-never-printed-7f3e"
CRASHPOINT: Final = Path(__file__).with_name("crashpoint.py")

MAPPINGS: Final = """\
version: 1
mode: cloud
subscriptions:
  - name: Customers
    action: trackCustomer
    trigger: type = "identify"
  - name: Purchases
    action: trackPurchase
    trigger: type = "track" and event = "Order Completed"
  - name: Sign-ups
    action: trackSignUp
    trigger: type = "track" and event = "Signed Up"
  - name: Downloads
    action: trackCustomEvent
    trigger: type = "track" and event = "Download"
  - name: Videos
    action: trackCustomEvent
    trigger: type = "track" and event = "Video Played"
"""

SAFE_TO_REPEAT: Final = frozenset({"Customers", "Downloads"})
"""Customer upserts, and custom events that carry a ``deduplicationId`` (docs/replay.md)."""


# -- the input ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Expected:
    """One planned call, as the harness made it."""

    key: str
    """The ledger's event key: the event's ``messageId``."""
    subscription: str
    safe: bool
    """Harmless to repeat: a rerun or a retry after a lost answer may send it again."""


@dataclass(frozen=True, slots=True)
class Inputs:
    """The files of one scenario and what they plan, by e-mail."""

    events: Path
    mappings: Path
    expected: dict[str, Expected]


def chaos_event(n: int, rng: random.Random) -> tuple[dict[str, Any], str]:
    """Event ``n`` and its subscription: 30 % customers, 35 % purchases, 15 % sign-ups,
    10 % downloads (with a ``deduplicationId``), 10 % videos (without)."""
    email = f"u{n}@example.com"
    base: dict[str, Any] = {"messageId": f"m-{n}", "userId": f"u{n}"}
    roll = rng.random()
    if roll < 0.30:
        return {**base, "type": "identify", "traits": {"email": email}}, "Customers"
    if roll < 0.65:
        properties = {"order_id": f"o-{n}", "total": 10 + n % 90, "currency": "USD"}
        event = {"type": "track", "event": "Order Completed"}
        return {**base, **event, "properties": {**properties, "email": email}}, "Purchases"
    if roll < 0.80:
        sign_up = {"type": "track", "event": "Signed Up", "properties": {"email": email}}
        return {**base, **sign_up}, "Sign-ups"
    if roll < 0.90:
        properties = {"email": email, "deduplicationId": f"dl-{n}"}
        return {**base, "type": "track", "event": "Download", "properties": properties}, "Downloads"
    video = {"type": "track", "event": "Video Played", "properties": {"email": email}}
    return {**base, **video}, "Videos"


def write_inputs(directory: Path, count: int, *, seed: int) -> Inputs:
    """``count`` events (one call each) and the mapping file, written into ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    expected: dict[str, Expected] = {}
    lines = []
    for n in range(count):
        event, subscription = chaos_event(n, rng)
        email = f"u{n}@example.com"
        expected[email] = Expected(event["messageId"], subscription, subscription in SAFE_TO_REPEAT)
        lines.append(json.dumps(event) + "\n")
    events = directory / "events.jsonl"
    events.write_text("".join(lines), encoding="utf-8")
    mappings = directory / "mappings.yaml"
    mappings.write_text(MAPPINGS, encoding="utf-8")
    return Inputs(events, mappings, expected)


# -- running fbcli -----------------------------------------------------------------------


def child_env() -> dict[str, str]:
    """This environment without FRIENDBUY_* and colour, with the harness's credentials."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("FRIENDBUY_")}
    env.update(
        FRIENDBUY_MAPI_KEY=KEY,
        FRIENDBUY_MAPI_SECRET=SECRET,
        NO_COLOR="1",
        COLUMNS="100",
        PYTHONUNBUFFERED="1",
    )
    return env


def replay_args(inputs: Inputs, base_url: str, ledger: Path, options: Sequence[str]) -> list[str]:
    """``fbcli replay`` arguments for the scenario, with a JSON summary on stdout."""
    return [
        "replay",
        str(inputs.events),
        "-m",
        str(inputs.mappings),
        "--base-url",
        base_url,
        "--ledger",
        str(ledger),
        "--format",
        "json",
        *options,
    ]


@dataclass(frozen=True, slots=True)
class Run:
    """One finished (or killed) replay process."""

    exit_code: int
    summary: dict[str, Any]
    stderr: str
    seconds: float


def _finish(process: subprocess.Popen[str], started: float, timeout: float) -> Run:
    try:
        out, err = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        out, err = process.communicate()
        raise AssertionError(f"replay did not finish in {timeout} s: {err[-2000:]}") from None
    try:
        summary = json.loads(out) if out.strip() else {}
    except ValueError:
        summary = {}
    return Run(process.returncode, summary, err, time.monotonic() - started)


def start_replay(
    args: Sequence[str], *, cwd: Path, kill_spec: str = "none"
) -> subprocess.Popen[str]:
    """Start ``fbcli`` in a child process through ``crashpoint.py`` (``none``: no kill)."""
    return subprocess.Popen(
        [sys.executable, str(CRASHPOINT), kill_spec, *args],
        cwd=cwd,
        env=child_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def run_replay(args: Sequence[str], *, cwd: Path, timeout: float = 300.0) -> Run:
    """Run ``fbcli`` to the end."""
    started = time.monotonic()
    return _finish(start_replay(args, cwd=cwd), started, timeout)


# -- the books ---------------------------------------------------------------------------


@dataclass(slots=True)
class Books:
    """The ledger and the emulator's recorded calls, side by side."""

    planned: int = 0
    ledger: Counter[str] = field(default_factory=Counter)
    """Ledger rows by status: sent, failed, unknown."""
    unledgered: int = 0
    """Planned calls without a ledger row."""
    recorded: int = 0
    """Calls the emulator accepted (copies included)."""
    arrived: int = 0
    """Planned calls that reached the emulator at least once."""
    duplicates: int = 0
    """Copies beyond the first, over all calls."""
    max_copies: int = 0
    lost_answers: int = 0
    """Recorded copies whose answer the client cannot have had."""
    sent_arrived: int = 0
    unknown_arrived: int = 0
    unknown_not_arrived: int = 0
    failed_arrived: int = 0
    """Calls harmless to repeat whose answer was lost and whose retries then failed."""
    arrived_unledgered: int = 0
    """Calls that reached the emulator without a ledger row: in flight at a kill."""
    unsafe_duplicates: int = 0
    """Duplicates of calls that are not harmless to repeat (purchases, sign-ups...)."""
    violations: list[str] = field(default_factory=list)

    def balanced(self) -> bool:
        """The headline equation: what arrived is what the ledger shows as arrived."""
        return self.arrived == (
            self.sent_arrived + self.unknown_arrived + self.failed_arrived + self.arrived_unledgered
        )

    def figures(self) -> dict[str, Any]:
        """The books as plain numbers."""
        return {
            "planned": self.planned,
            "ledger": dict(sorted(self.ledger.items())),
            "unledgered": self.unledgered,
            "recorded": self.recorded,
            "arrived": self.arrived,
            "duplicates": self.duplicates,
            "unsafe_duplicates": self.unsafe_duplicates,
            "max_copies": self.max_copies,
            "lost_answers": self.lost_answers,
            "unknown_arrived": self.unknown_arrived,
            "unknown_not_arrived": self.unknown_not_arrived,
            "failed_arrived": self.failed_arrived,
            "arrived_unledgered": self.arrived_unledgered,
        }


LedgerRow = tuple[str, str, str | None]
"""(subscription, status, event id) of one call."""


def read_ledger(path: Path, target: str) -> dict[str, LedgerRow]:
    """The ledger's rows for ``target`` by event key, read through fbcli's own ``Ledger``
    (which refuses a damaged file), after SQLite's full ``integrity_check``."""
    db = sqlite3.connect(path)
    try:
        check = [row[0] for row in db.execute("PRAGMA integrity_check")]
    finally:
        db.close()
    assert check == ["ok"], f"the ledger is damaged: {check[:3]}"
    with Ledger(path, target=ledger_target(target)) as ledger:
        return {e.event_key: (e.subscription, e.status, e.event_id) for e in ledger.entries()}


def audit(
    rows: dict[str, LedgerRow],
    calls: Sequence[RecordedCall],
    expected: dict[str, Expected],
    *,
    lost: frozenset[str],
    crashed: bool = False,
    finished: bool = True,
    retry_unknown: bool = False,
) -> Books:
    """Compare the ledger with the recorded calls; see the module docstring.

    ``lost``: the fault names whose answer the client cannot have had.
    ``crashed``: a replay was killed since the emulator started (calls in
    flight then may have arrived twice).  ``finished``: the last replay ran to
    its end (every planned call has a row).  ``retry_unknown``: a replay used
    ``--retry-unknown``.
    """
    books = Books(planned=len(expected), recorded=len(calls))
    problems = books.violations
    by_key = {e.key: (email, e) for email, e in expected.items()}
    copies: dict[str, list[RecordedCall]] = defaultdict(list)
    for call in calls:
        email = call.body.get("email")
        if email not in expected:
            problems.append(f"recorded call #{call.seq} ({call.path}) was never planned")
            continue
        copies[email].append(call)
    for key, (subscription, status, _) in rows.items():
        if key not in by_key:
            problems.append(f"ledger row {key!r} is not a planned call")
        elif by_key[key][1].subscription != subscription:
            problems.append(f"ledger row {key!r} has subscription {subscription!r}")
        books.ledger[status] += 1
    for email, planned in expected.items():
        arrived = copies.get(email, [])
        delivered = [c for c in arrived if not lost & set(c.faults)]
        books.lost_answers += len(arrived) - len(delivered)
        books.duplicates += max(0, len(arrived) - 1)
        books.max_copies = max(books.max_copies, len(arrived))
        if not planned.safe:
            books.unsafe_duplicates += max(0, len(arrived) - 1)
        books.arrived += bool(arrived)
        row = rows.get(planned.key)
        name = f"{planned.key} ({planned.subscription})"
        if row is None:
            books.unledgered += 1
            books.arrived_unledgered += bool(arrived)
            if finished:
                problems.append(f"{name} has no ledger row after a finished run")
            continue
        _, status, event_id = row
        if status == "sent":
            books.sent_arrived += bool(arrived)
            if event_id not in {c.event_id for c in delivered}:
                problems.append(f"{name} is sent with event id {event_id!r}, never delivered")
        elif status == "unknown":
            books.unknown_arrived += bool(arrived)
            books.unknown_not_arrived += not arrived
        else:
            books.failed_arrived += bool(arrived)
            if arrived and not planned.safe and not crashed:
                problems.append(f"{name} is failed but reached MAPI: it must be unknown")
        if crashed:
            continue
        if len(delivered) > 1:
            problems.append(f"{name} was delivered {len(delivered)} times")
        if (status == "sent") != (len(delivered) == 1):
            problems.append(f"{name} is {status} with {len(delivered)} delivered copies")
        if not planned.safe and not retry_unknown and len(arrived) > 1:
            problems.append(f"{name} is not harmless to repeat and arrived {len(arrived)} times")
    if not books.balanced():
        problems.append(f"the books do not balance: {books.figures()}")
    return books


# -- the emulator ------------------------------------------------------------------------


def hooked_emulator(
    config: EmulatorConfig,
    *,
    before: Callable[[str], None],
    after: Callable[[str, int], None],
) -> Emulator:
    """The emulator, calling ``before(path)`` as each request comes in and
    ``after(path, accepted calls so far)`` just before its reply goes out."""
    return Emulator(config, on_request=before, on_reply=after)


def fault_figures(stats: dict[str, int]) -> dict[str, int]:
    """The faults the emulator injected, by kind, from its ``stats()``."""
    return {
        "5xx": stats["errors_5xx"],
        "429 single, with Retry-After": stats["rate_limited_429"] - stats["storm_429"],
        "429 storms with Retry-After": (stats["storms"] + 1) // 2,
        "429 storms without Retry-After": stats["storms"] // 2,
        "429 in storms": stats["storm_429"],
        "slow replies": stats["slow"],
        "dropped before recording": stats["dropped_before"],
        "dropped after recording": stats["dropped_after"],
        "tokens revoked": stats["revoked"],
        "401 answered (expired or revoked tokens)": stats["unauthorized_401"],
        "tokens issued": stats["tokens_issued"],
    }


# -- the soak ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SoakSettings:
    """One soak: how many events, which faults, how fast the client goes."""

    events: int = 2500
    seed: int = 1
    faults: str = (
        "5xx=0.03,429=0.002,slow=0.01@1.5,drop-before=0.01,drop-after=0.01,"
        "storm=0.001@1,revoke=0.004"
    )
    token_ttl: float = 2.0
    """Tokens expire every few seconds (the client refreshes them ahead of time)."""
    rate_limit: float | None = None
    """The emulator's own limit (storms of 429 with Retry-After); ``None``: none."""
    read_timeout: float = 1.0
    """Shorter than the slow fault's seconds: a slow reply is a lost answer."""
    client: tuple[str, ...] = (
        "--rate",
        "400",
        "--burst",
        "8",
        "--concurrency",
        "8",
        "--max-attempts",
        "12",
        "--max-call-time",
        "30",
        "--connect-timeout",
        "1",
    )
    max_reruns: int = 5

    @property
    def timeout(self) -> float:
        """Seconds one replay may take: generous (about 60 calls a second under these faults)."""
        return max(300.0, self.events / 10)


@dataclass(slots=True)
class Soak:
    """What a soak did and found."""

    settings: SoakSettings
    runs: list[tuple[str, Run]] = field(default_factory=list)
    books: list[tuple[str, Books]] = field(default_factory=list)
    faults: dict[str, int] = field(default_factory=dict)
    retry_unknown_resent: int = 0
    """Calls of unknown outcome that ``--retry-unknown`` sent again."""
    duplicates_from_retry_unknown: int = 0
    """Copies beyond the first of calls not harmless to repeat, after that rerun: the
    unknown calls that had arrived and were sent again (and any answer lost again
    and resent under ``--retry-unknown``).  MAPI counts each twice."""
    seconds: float = 0.0

    @property
    def violations(self) -> list[str]:
        """Every invariant that failed, after which step."""
        return [f"after {step}: {v}" for step, books in self.books for v in books.violations]


def lost_kinds(faults: str, read_timeout: float) -> frozenset[str]:
    """The faults after which the client cannot have had the answer."""
    spec = parse_faults(faults)
    lost = {"drop-after"}
    if spec.slow and spec.slow_seconds > read_timeout:
        lost.add("slow")
    return frozenset(lost)


def run_soak(directory: Path, settings: SoakSettings, *, say: Callable[[str], None]) -> Soak:
    """Replay under every fault, rerun until nothing failed, then rerun with --retry-unknown.

    Steps: 1. the first replay; 2. plain reruns until no call is ``failed`` (they
    send the failed calls again and leave the ``unknown`` ones alone, as
    docs/replay.md says); 3. one more plain rerun, which must send nothing; 4. a rerun with
    ``--retry-unknown``, which sends the unknown calls again: those that had
    arrived are now duplicates, counted and documented.  The books are audited
    after every step, with the faults still on.
    """
    started = time.monotonic()
    soak = Soak(settings)
    inputs = write_inputs(directory, settings.events, seed=settings.seed)
    ledger = directory / "ledger.sqlite"
    lost = lost_kinds(settings.faults, settings.read_timeout)
    config = EmulatorConfig(
        key=KEY,
        secret=SECRET,
        seed=settings.seed,
        faults=parse_faults(settings.faults),
        token_ttl=settings.token_ttl,
        rate_limit=settings.rate_limit,
        burst=8,
    )
    options = (*settings.client, "--read-timeout", str(settings.read_timeout))
    with Emulator(config) as emulator:
        url = emulator.base_url

        def step(name: str, *extra: str, retry_unknown: bool = False) -> Books:
            args = replay_args(inputs, url, ledger, (*options, *extra))
            run = run_replay(args, cwd=directory, timeout=settings.timeout)
            soak.runs.append((name, run))
            assert run.exit_code in (0, 1), f"{name}: exit {run.exit_code}: {run.stderr[-2000:]}"
            assert emulator.wait_idle(), "the emulator is still busy"
            rows = read_ledger(ledger, url)
            books = audit(
                rows, emulator.calls(), inputs.expected, lost=lost, retry_unknown=retry_unknown
            )
            soak.books.append((name, books))
            summary = {k: v for k, v in run.summary.items() if k != "problems"}
            say(f"{name}: exit {run.exit_code} in {run.seconds:.1f} s, {summary}")
            say(f"  books: {books.figures()}")
            return books

        books = step("first replay")
        reruns = 0
        while books.ledger["failed"] and reruns < settings.max_reruns:
            reruns += 1
            books = step(f"rerun {reruns}")
        final = step("rerun with nothing left to send")
        unknown_before, arrived_before = books.ledger["unknown"], books.unknown_arrived
        assert final.recorded == books.recorded, "a rerun with nothing left sent something"
        resent = step("rerun with --retry-unknown", "--retry-unknown", retry_unknown=True)
        soak.retry_unknown_resent = unknown_before
        soak.duplicates_from_retry_unknown = resent.unsafe_duplicates
        # Each unknown call that had arrived and is now sent arrived twice (at least).
        assert resent.unsafe_duplicates >= arrived_before - resent.ledger["unknown"]
        soak.faults = fault_figures(emulator.stats())
    soak.seconds = time.monotonic() - started
    return soak


# -- the crash-point sweep ---------------------------------------------------------------

Phase = Literal["start-up", "authorization", "mid-send", "ledger commit", "end"]


@dataclass(frozen=True, slots=True)
class KillPoint:
    """A moment to SIGKILL a replay, and how the harness gets there.

    ``how``: ``timer`` (the parent kills after ``delay`` seconds), ``auth-before``
    and ``auth-after`` (the emulator kills the client as the first authorization
    request is handled, before or after the token is issued, before the reply),
    ``call`` (as the ``nth`` accepted call is recorded, before its reply), or a
    kill switch inside the child (``crashpoint.py``): ``open-during`` (``delay``
    seconds into opening, for a new ledger creating, the ledger), ``record-before``,
    ``record-during`` (``delay`` seconds into the ``nth`` ledger write: the
    INSERT, its WAL write or its fsync), ``record-after`` (just after the ``nth``
    commit), ``close-during`` (``delay`` seconds into closing the ledger, which
    checkpoints the WAL).
    """

    phase: Phase
    how: str
    nth: int = 0
    delay: float = 0.0

    def child_spec(self) -> str:
        """The kill switch for ``crashpoint.py`` (``none`` for kills from outside)."""
        if self.how.startswith(("record-", "close-", "open-")):
            return f"{self.how}:{self.nth}:{self.delay:.6f}"
        return "none"

    def __str__(self) -> str:
        detail = f" #{self.nth}" if self.nth else ""
        detail += f" +{self.delay * 1000:.2f} ms" if self.delay else ""
        return f"{self.phase}: {self.how}{detail}"


KILL_TEMPLATE: Final[tuple[tuple[Phase, str], ...]] = (
    ("start-up", "timer"),
    ("authorization", "auth-before"),
    ("mid-send", "call"),
    ("ledger commit", "record-during"),
    ("ledger commit", "record-before"),
    ("end", "record-after-last"),
    ("start-up", "open-during"),
    ("authorization", "auth-after"),
    ("mid-send", "call"),
    ("ledger commit", "record-during"),
    ("ledger commit", "record-after"),
    ("end", "close-during"),
    ("start-up", "timer"),
    ("authorization", "auth-after"),
    ("mid-send", "call"),
    ("ledger commit", "record-during"),
    ("ledger commit", "record-before"),
    ("end", "close-during"),
    ("mid-send", "call"),
    ("ledger commit", "record-after"),
)
"""Twenty kill points: 3 in start-up, 3 in authorization, 4 mid-send, 7 at a ledger
commit, 3 at the end; more points go round again with new details."""

START_UP_SECONDS: Final = 0.3
"""Timer kills land within this long after the start: in the interpreter's start or
fbcli's imports (a replay process takes half a second or more to import, read its
input and open its ledger before its first request)."""


def kill_points(count: int, *, calls: int, seed: int) -> list[KillPoint]:
    """``count`` kill points in the order of ``KILL_TEMPLATE``, their details drawn from ``seed``.

    Details: the timer's delay, the call (1 to ``calls - 1``) or ledger write (1 to
    ``calls``) to kill at, and how far into a ledger write (0 to 4 ms: a commit with
    its fsync takes about 4 ms on the machine this was written on), into creating
    the ledger (0 to 5 ms; about 4 ms there) or into closing it (0 to 16 ms: the
    WAL checkpoint takes about 16 ms there).
    """
    rng = random.Random(seed)
    points = []
    for index in range(count):
        phase, how = KILL_TEMPLATE[index % len(KILL_TEMPLATE)]
        if how == "timer":
            point = KillPoint(phase, how, delay=rng.uniform(0.0, START_UP_SECONDS))
        elif how == "call":
            point = KillPoint(phase, how, nth=rng.randint(1, calls - 1))
        elif how == "record-after-last":
            point = KillPoint(phase, "record-after", nth=calls)
        elif how in ("record-before", "record-after"):
            point = KillPoint(phase, how, nth=rng.randint(1, calls))
        elif how == "record-during":
            point = KillPoint(phase, how, nth=rng.randint(1, calls), delay=rng.uniform(0, 0.004))
        elif how == "open-during":
            point = KillPoint(phase, how, delay=rng.uniform(0, 0.005))
        elif how == "close-during":
            point = KillPoint(phase, how, delay=rng.uniform(0, 0.016))
        else:
            point = KillPoint(phase, how)
        points.append(point)
    return points


@dataclass(slots=True)
class CrashResult:
    """One kill point: what the kill left, and how the reruns ended."""

    point: KillPoint
    exit_code: int
    after_kill: Books
    after_reruns: Books
    reruns: int
    seconds: float
    requests_at_kill: int = 0
    """Requests the emulator had seen when the kill came (0: killed during start-up)."""

    @property
    def violations(self) -> list[str]:
        """Invariants that failed after the kill or after the reruns."""
        return [f"after the kill: {v}" for v in self.after_kill.violations] + [
            f"after the reruns: {v}" for v in self.after_reruns.violations
        ]


class Killer:
    """Kills the replay process once, at its kill point, from whichever thread gets there."""

    def __init__(self, point: KillPoint) -> None:
        self.point = point
        self.process: subprocess.Popen[str] | None = None
        self.requests = 0
        """Requests the emulator has seen."""
        self.requests_at_kill: int | None = None
        self._lock = threading.Lock()

    def kill(self) -> None:
        """SIGKILL the process, the first time only."""
        with self._lock:
            if self.requests_at_kill is None and self.process is not None:
                self.requests_at_kill = self.requests
                self.process.kill()

    def before(self, path: str) -> None:
        """The emulator got a request."""
        with self._lock:
            self.requests += 1
        if self.point.how == "auth-before" and path == AUTHORIZATION:
            self.kill()

    def after(self, path: str, accepted: int) -> None:
        """The emulator is about to answer a request."""
        how = self.point.how
        if (how == "auth-after" and path == AUTHORIZATION) or (
            how == "call" and accepted >= self.point.nth
        ):
            self.kill()


AUTHORIZATION: Final = "/v1/authorization"
SWEEP_FAULTS: Final = "5xx=0.05"
"""5xx only: calls stay in flight longer (retries) and no answer is ever lost, so every
duplicate in the sweep comes from a kill."""
CRASH_OPTIONS: Final = ("--rate", "400", "--burst", "4", "--max-attempts", "10")


def run_kill_point(
    directory: Path, point: KillPoint, *, events: int, seed: int, concurrency: int
) -> CrashResult:
    """Replay, SIGKILL the replay at ``point``, check the books, rerun until done, check again."""
    started = time.monotonic()
    inputs = write_inputs(directory, events, seed=seed)
    ledger = directory / "ledger.sqlite"
    options = (*CRASH_OPTIONS, "--concurrency", str(concurrency))
    killer = Killer(point)
    config = EmulatorConfig(key=KEY, secret=SECRET, seed=seed, faults=parse_faults(SWEEP_FAULTS))
    with hooked_emulator(config, before=killer.before, after=killer.after) as emulator:
        args = replay_args(inputs, emulator.base_url, ledger, options)
        begun = time.monotonic()
        killer.process = start_replay(args, cwd=directory, kill_spec=point.child_spec())
        if point.how == "timer":
            time.sleep(point.delay)
            killer.kill()
        killed = _finish(killer.process, begun, 60.0)
        assert emulator.wait_idle(), "the emulator is still busy"
        seen = killer.requests_at_kill
        if seen is None:  # killed from inside: everything the emulator saw came before
            seen = emulator.stats()["requests"]
        assert killed.exit_code == -signal.SIGKILL, (
            f"{point}: the replay was not killed (exit {killed.exit_code}): {killed.stderr[-2000:]}"
        )
        after_kill = audit(
            read_ledger(ledger, emulator.base_url),
            emulator.calls(),
            inputs.expected,
            lost=frozenset(),
            crashed=True,
            finished=False,
        )
        reruns = 0
        while True:
            reruns += 1
            run = run_replay(args, cwd=directory, timeout=60.0)
            assert run.exit_code in (0, 1), f"{point}: rerun exit {run.exit_code}: {run.stderr}"
            if run.exit_code == 0 or reruns == 4:
                break
        assert emulator.wait_idle(), "the emulator is still busy"
        after_reruns = audit(
            read_ledger(ledger, emulator.base_url),
            emulator.calls(),
            inputs.expected,
            lost=frozenset(),
            crashed=True,
        )
    result = CrashResult(
        point, killed.exit_code, after_kill, after_reruns, reruns, time.monotonic() - started, seen
    )
    books = result.after_reruns
    if books.ledger != Counter(sent=events):
        books.violations.append(f"not every call is sent after the reruns: {books.ledger}")
    if books.duplicates != after_kill.arrived_unledgered:
        books.violations.append(
            f"{books.duplicates} duplicates, but {after_kill.arrived_unledgered} calls were "
            "in flight at the kill"
        )
    if after_kill.arrived_unledgered > concurrency:
        after_kill.violations.append(
            f"{after_kill.arrived_unledgered} calls arrived without a ledger row "
            f"(--concurrency {concurrency})"
        )
    return result
