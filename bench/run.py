"""fbcli's benchmark suite: one command, figures and ratios measured side by side.

    python bench/run.py [--quick] [--sizes 100000,1000000] [--skip-replay]
                        [--timeout S] [--replay-calls N] [--json OUT]

Run it with the project's interpreter (``.venv/bin/python bench/run.py``): the
fbcli it measures is the one installed next to that interpreter.

What it does, in order (every measured thing runs in its own process):

1. Generates the event files once (``bench/generate.py``, seed 1, ~10 % broken
   lines) into ``bench/.data/`` and reuses them on later runs.
2. Startup: the median wall time of 5 runs (after one warm-up) of ``fbcli
   --help`` and of ``fbcli validate`` on a 10-line file.
3. Throughput, for each size: the ceiling (``bench/ceiling.py``: parse only),
   the baseline (``bench/baseline.py``: what a user would write), ``fbcli
   validate`` and ``fbcli dry-run --format json``, output to ``/dev/null``,
   each in one process (``--jobs 1``) and as fbcli runs by default (one worker
   per CPU for inputs over 16 MB); in events/s and peak RSS, and the ratio to
   the baseline of the same size.  The targets are judged on the default runs.
4. Replay CPU per call: ``fbcli replay`` of N valid events (one call each) with
   ``--rate 100000 --burst 100 --concurrency 16`` against an unthrottled
   emulator, minus a 10-event run (start-up, authorization, ledger set-up);
   beside it the floor, the same calls made with httpx alone from 16 threads
   (``bench/httpx_floor.py``).
5. Replay rate accuracy: ``--rate 200 --burst 1`` for 20 s (``--quick``: 5 s);
   the achieved rate and the busiest one-second window, from the times at
   which the emulator received the calls.

Method:

- Each process is started with ``subprocess.Popen`` and reaped with
  ``os.wait4(pid)``, which returns that one child's resource usage: its CPU
  time (user + system), its workers' included, and its peak RSS
  (``ru_maxrss``: the largest of it and its workers).  The RSS of the whole
  process tree (main process and workers) is also summed from ``/proc`` every
  50 ms; its peak ("all RSS") is what the memory targets are judged on.  No
  other process is counted (``RUSAGE_CHILDREN`` would give the maximum over
  all children so far).
  Linux only: a pidfd waits for the process with a timeout, and ``ru_maxrss``
  is read as kilobytes.
- Wall time runs from just before ``Popen`` to the return of ``wait4``; it
  includes interpreter start-up, as a user sees it.  Runs are sequential.
- The emulator runs inside this process (``fbcli.emulator.Emulator``, threads),
  so its CPU is not counted in replay's; it is shown separately.
- A measured run longer than ``--timeout`` is killed: its events/s is then an
  upper bound (``<``) and its RSS a lower bound (``≥``).
- Each throughput row records a hash of the ``fbcli/`` sources it started
  with (``src``); the run ends with a warning when fbcli changed meanwhile.
- Only 127.0.0.1 is contacted.  Other work on the machine skews wall times:
  the load average at the start is printed with the results.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import resource
import select
import shlex
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fbcli.emulator import Emulator, EmulatorConfig
from fbcli.parallel import auto_jobs

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
DATA = BENCH / ".data"
MAPPINGS = ROOT / "mappings.yaml"
SEED = 1
MB = 1_000_000

# -- targets (see docs/performance.md) ---------------------------------------------------

VALIDATE_RATIO = 8.0
DRY_RUN_RATIO = 5.0
RSS_LIMIT_MB = 150.0
RSS_GROWTH = 0.20
STARTUP_LIMIT_S = 0.3
REPLAY_CPU_LIMIT_MS = 1.0
RATE = 200.0
RATE_BURST = 1
RATE_TOLERANCE = 0.02


# -- measuring one process -------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Measurement:
    """One process run: what it cost, how it ended, what it printed (when captured)."""

    command: list[str]
    wall_s: float
    cpu_s: float
    """User + system CPU seconds of the process (and any children it waited for)."""
    max_rss_mb: float
    """The peak RSS of the largest single process: the main one or a worker."""
    tree_rss_mb: float
    """The peak of the RSS summed over the process and its children, sampled every 50 ms."""
    exit_code: int
    timed_out: bool
    stdout: str = ""
    stderr_tail: str = ""

    def json_out(self) -> dict[str, Any]:
        """The process's standard output read as one JSON object (``{}`` when it is not)."""
        try:
            value = json.loads(self.stdout)
        except ValueError:
            return {}
        return value if isinstance(value, dict) else {}


RSS_SAMPLE_S = 0.05


def tree_rss_mb(pid: int) -> float:
    """The RSS of a process and all its descendants now, from /proc (0 once it is gone)."""
    total = 0
    todo = [pid]
    while todo:
        current = todo.pop()
        try:
            status = Path(f"/proc/{current}/status").read_text()
            children = Path(f"/proc/{current}/task/{current}/children").read_text().split()
        except OSError:
            continue
        for line in status.splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1]) * 1024
        todo.extend(int(child) for child in children)
    return total / MB


def child_env(*, credentials: bool = False) -> dict[str, str]:
    """The environment for measured runs: no FRIENDBUY_* secrets, no colour, 100 columns."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("FRIENDBUY_")}
    env.update(NO_COLOR="1", COLUMNS="100")
    if credentials:  # the emulator accepts any key and secret
        env.update(FRIENDBUY_MAPI_KEY="bench-key", FRIENDBUY_MAPI_SECRET="bench-secret")
    return env


def measure(
    command: Sequence[str],
    *,
    timeout: float,
    capture: bool = False,
    env: dict[str, str] | None = None,
) -> Measurement:
    """Run ``command`` to completion (or ``timeout``); its wall time, CPU and peak RSS."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        stdout: Any = out if capture else subprocess.DEVNULL
        start = time.perf_counter()
        process = subprocess.Popen(
            list(command), stdout=stdout, stderr=err, env=env or child_env(), cwd=ROOT
        )
        # A pidfd names this process even after it exits: no risk of killing a reused pid.
        pidfd = os.pidfd_open(process.pid)
        tree_rss = 0.0
        try:
            deadline = start + timeout
            while True:
                left = deadline - time.perf_counter()
                if left <= 0 or select.select([pidfd], [], [], min(left, RSS_SAMPLE_S))[0]:
                    break
                tree_rss = max(tree_rss, tree_rss_mb(process.pid))
            timed_out = not select.select([pidfd], [], [], 0)[0]
            if timed_out:
                signal.pidfd_send_signal(pidfd, signal.SIGKILL)
            _, status, usage = os.wait4(process.pid, 0)
        finally:
            os.close(pidfd)
        wall = time.perf_counter() - start
        process.returncode = os.waitstatus_to_exitcode(status)  # already reaped
        out.seek(0)
        err.seek(0)
        stderr = err.read().decode("utf-8", "replace")
        return Measurement(
            command=list(command),
            wall_s=wall,
            cpu_s=usage.ru_utime + usage.ru_stime,
            max_rss_mb=usage.ru_maxrss * 1024 / MB,  # Linux: kilobytes
            tree_rss_mb=max(tree_rss, usage.ru_maxrss * 1024 / MB),
            exit_code=process.returncode,
            timed_out=timed_out,
            stdout=out.read().decode("utf-8", "replace") if capture else "",
            stderr_tail="\n".join(stderr.strip().splitlines()[-3:]),
        )


# -- results ---------------------------------------------------------------------------


@dataclass(slots=True)
class Target:
    """One target of the issue: what was measured against what, and whether it was met."""

    name: str
    wanted: str
    measured: str
    met: bool | None
    """``None``: not measured in this run."""
    note: str = ""


@dataclass(slots=True)
class Report:
    """Everything measured in one invocation."""

    started: str
    profile: str
    machine: dict[str, Any]
    sizes: list[int]
    throughput: list[dict[str, Any]] = field(default_factory=list)
    startup: list[dict[str, Any]] = field(default_factory=list)
    replay: dict[str, Any] = field(default_factory=dict)
    targets: list[Target] = field(default_factory=list)
    commands: list[str] = field(default_factory=list)


def say(text: str = "") -> None:
    """Print a line now (the run takes minutes)."""
    print(text, flush=True)


def fmt_int(value: float) -> str:
    """``1,234,567``."""
    return f"{value:,.0f}"


def fbcli_command() -> list[str]:
    """The ``fbcli`` console script next to this interpreter, else ``python -m fbcli``."""
    script = Path(sys.executable).parent / "fbcli"
    return [str(script)] if script.exists() else [sys.executable, "-m", "fbcli"]


def table(headers: Sequence[str], rows: Sequence[Sequence[str]], right: set[int]) -> list[str]:
    """A plain-text table; columns in ``right`` are right-aligned."""
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(
            c.rjust(widths[i]) if i in right else c.ljust(widths[i]) for i, c in enumerate(cells)
        ).rstrip()

    return [line(headers), line(["-" * w for w in widths]), *(line(r) for r in rows)]


# -- the data --------------------------------------------------------------------------


def data_file(report: Report, events: int, *, valid_only: bool = False) -> Path:
    """The cached event file for ``events`` lines, generated on first use."""
    kind = "valid" if valid_only else "mixed"
    path = DATA / f"{kind}-{events}-seed{SEED}.jsonl"
    if not path.exists():
        DATA.mkdir(parents=True, exist_ok=True)
        command = [sys.executable, str(BENCH / "generate.py"), str(path)]
        command += ["--events", str(events), "--seed", str(SEED)]
        if valid_only:
            command.append("--valid-only")
        say(f"  generating {path.relative_to(ROOT)} ...")
        started = time.perf_counter()
        subprocess.run(command, check=True, cwd=ROOT)
        say(f"  ... {time.perf_counter() - started:.1f} s, {path.stat().st_size / MB:,.0f} MB")
        report.commands.append(shlex.join(command))
    return path


def ten_line_file(source: Path) -> Path:
    """The first 10 lines of ``source``, for start-up timings."""
    path = DATA / "ten-lines.jsonl"
    with source.open("rb") as src:
        lines = [src.readline() for _ in range(10)]
    path.write_bytes(b"".join(lines))
    return path


# -- the measurements ------------------------------------------------------------------


def run_startup(report: Report, ten: Path, *, repeats: int = 5) -> None:
    """Median wall time of ``fbcli --help`` and ``fbcli validate`` on 10 lines."""
    fbcli = fbcli_command()
    cases: list[tuple[str, list[str], bool]] = [
        ("python -c pass (floor)", [sys.executable, "-c", "pass"], False),
        ("fbcli --help", [*fbcli, "--help"], True),
        ("fbcli validate (10 lines)", [*fbcli, "validate", str(ten), "-m", str(MAPPINGS)], True),
    ]
    rows = []
    for name, command, targeted in cases:
        measure(command, timeout=60)  # warm-up: page cache, .pyc files
        runs = [measure(command, timeout=60) for _ in range(repeats)]
        median = statistics.median(m.wall_s for m in runs)
        rss = max(m.max_rss_mb for m in runs)
        met = median <= STARTUP_LIMIT_S if targeted else None
        report.startup.append(
            {
                "name": name,
                "median_s": median,
                "runs_s": [m.wall_s for m in runs],
                "max_rss_mb": rss,
                "exit_code": runs[-1].exit_code,
                "met": met,
            }
        )
        report.commands.append(f"{shlex.join(command)}   # x{repeats}, median")
        if targeted:
            report.targets.append(
                Target(
                    f"startup: {name}",
                    f"<= {STARTUP_LIMIT_S} s",
                    f"{median:.3f} s",
                    met,
                )
            )
        rows.append(
            [
                name,
                f"{median:.3f} s",
                f"{min(m.wall_s for m in runs):.3f} s",
                f"{rss:.0f} MB",
                f"<= {STARTUP_LIMIT_S} s" if targeted else "",
                verdict(met),
            ]
        )
    say()
    say(f"Startup (median of {repeats} runs, wall time):")
    for text in table(
        ["command", "median", "best", "peak RSS", "target", "result"], rows, {1, 2, 3}
    ):
        say("  " + text)


def verdict(met: bool | None) -> str:
    """``PASS``, ``MISSED`` or ``-``."""
    return "-" if met is None else ("PASS" if met else "MISSED")


def run_throughput(report: Report, sizes: list[int], *, timeout: float) -> None:
    """Ceiling, baseline, validate and dry-run for each size."""
    fbcli = fbcli_command()
    python = sys.executable
    for size in sizes:
        path = data_file(report, size)
        jobs = auto_jobs([str(path)])  # what fbcli picks by default (no --jobs)
        say()
        say(f"Throughput on {fmt_int(size)} lines ({path.stat().st_size / MB:,.0f} MB):")
        cases: list[tuple[str, list[str], bool, str, float | None]] = [
            (
                "ceiling (parse only)",
                [python, str(BENCH / "ceiling.py"), str(path)],
                True,
                "",
                None,
            ),
            ("baseline", [python, str(BENCH / "baseline.py"), str(path)], True, "", None),
            (
                "fbcli validate --jobs 1",
                [*fbcli, "validate", str(path), "-m", str(MAPPINGS), "--jobs", "1"],
                False,
                "",
                None,
            ),
            (
                f"fbcli validate (jobs {jobs})",
                [*fbcli, "validate", str(path), "-m", str(MAPPINGS)],
                False,
                "validate",
                VALIDATE_RATIO,
            ),
            (
                "fbcli dry-run -f json --jobs 1",
                [*fbcli, "dry-run", str(path), "-m", str(MAPPINGS), "-f", "json", "--jobs", "1"],
                False,
                "",
                None,
            ),
            (
                f"fbcli dry-run -f json (jobs {jobs})",
                [*fbcli, "dry-run", str(path), "-m", str(MAPPINGS), "--format", "json"],
                False,
                "dry-run",
                DRY_RUN_RATIO,
            ),
        ]
        baseline_rate: float | None = None
        for name, command, capture, key, ratio_target in cases:
            limit = max(timeout, 300.0) if capture else timeout
            source = source_fingerprint()
            m = measure(command, timeout=limit, capture=capture)
            report.commands.append(shlex.join(command) + ("" if capture else " > /dev/null"))
            rate = size / m.wall_s
            if name == "baseline" and not m.timed_out:
                baseline_rate = rate
            ratio = rate / baseline_rate if baseline_rate else None
            extra = m.json_out()
            label = name
            if "parser" in extra:
                label = f"ceiling ({extra['parser']}, parse only)"
            row = {
                "size": size,
                "name": label,
                "key": key,
                "wall_s": m.wall_s,
                "cpu_s": m.cpu_s,
                "events_per_s": rate,
                "max_rss_mb": m.max_rss_mb,
                "tree_rss_mb": m.tree_rss_mb,
                "jobs": jobs if "--jobs" not in command else 1,
                "ratio": ratio,
                "ratio_target": ratio_target,
                "exit_code": m.exit_code,
                "timed_out": m.timed_out,
                "source": source,
                "output": extra,
            }
            report.throughput.append(row)
            bound = "<" if m.timed_out else ""
            say(
                f"  {label:<28} {bound}{fmt_int(rate):>9} ev/s  {m.wall_s:7.1f} s  "
                f"cpu {m.cpu_s:6.1f} s  RSS {'≥' if m.timed_out else ''}{m.max_rss_mb:5.0f} MB"
                f" (all processes {m.tree_rss_mb:.0f} MB)"
                + (f"  {bound}{ratio:.2f}x baseline" if ratio is not None else "")
                + ("  TIMED OUT" if m.timed_out else f"  exit {m.exit_code}")
                + f"  src {source}"
            )
            if extra:
                say(f"  {'':<28} {json.dumps(extra)}")
            if m.exit_code not in (0, 1) and not m.timed_out:
                say(f"  {'':<28} stderr: {m.stderr_tail}")


def throughput_targets(report: Report, sizes: list[int]) -> None:
    """The events/s ratio and RSS targets, judged at the largest size."""
    largest = max(sizes)
    note = "" if largest >= 1_000_000 else f"target is for 1M events; measured at {largest:,}"
    rows = {(r["size"], r["key"]): r for r in report.throughput if r["key"]}
    for key, wanted in (("validate", VALIDATE_RATIO), ("dry-run", DRY_RUN_RATIO)):
        row = rows.get((largest, key))
        if row is None or row["ratio"] is None:
            report.targets.append(Target(f"{key} events/s", f">= {wanted:g}x baseline", "-", None))
            continue
        bound = "<" if row["timed_out"] else ""
        report.targets.append(
            Target(
                f"{key} events/s ({largest:,} events)",
                f">= {wanted:g}x baseline",
                f"{bound}{row['ratio']:.2f}x ({bound}{fmt_int(row['events_per_s'])} ev/s)",
                judge(row["ratio"] >= wanted, partial=row["timed_out"]),
                note,
            )
        )
    for key in ("validate", "dry-run"):
        big = rows.get((largest, key))
        if big is None:
            continue
        rss = big["tree_rss_mb"]  # the main process and its workers together
        # A killed run's RSS is a lower bound: it can show a miss, never a pass.
        bound, partial = ("≥", True) if big["timed_out"] else ("", False)
        report.targets.append(
            Target(
                f"{key} peak RSS ({largest:,} events)",
                f"<= {RSS_LIMIT_MB:g} MB",
                f"{bound}{rss:.0f} MB",
                judge(rss <= RSS_LIMIT_MB, partial=partial),
                note,
            )
        )
        # Against the next smaller size run with as many processes (the 100k figure for 1M).
        smaller = [
            r
            for (size, k), r in rows.items()
            if k == key and size < largest and r.get("jobs") == big.get("jobs")
        ]
        small = max(smaller, key=lambda r: r["size"], default=None)
        if small is None:
            report.targets.append(
                Target(
                    f"{key} RSS growth",
                    f"within {RSS_GROWTH:.0%}",
                    "-",
                    None,
                    "no smaller size ran with as many worker processes",
                )
            )
            continue
        growth = rss / small["tree_rss_mb"] - 1
        report.targets.append(
            Target(
                f"{key} RSS {largest:,} vs {small['size']:,} events",
                f"within {RSS_GROWTH:.0%}",
                f"{bound}{growth:+.0%} ({small['tree_rss_mb']:.0f} → {bound}{rss:.0f} MB)",
                judge(abs(growth) <= RSS_GROWTH, partial=partial),
                note,
            )
        )


def judge(ok: bool, *, partial: bool) -> bool | None:
    """``ok``, except that a bound from a killed run that looks fine proves nothing (``None``).

    A killed run's events/s is an upper bound and its RSS a lower bound: either
    can show a miss, neither a pass.
    """
    if partial and ok:
        return None
    return ok


def replay_command(path: Path, base_url: str, ledger: Path, *options: str) -> list[str]:
    """``fbcli replay FILE --base-url URL --ledger L --format json`` plus ``options``."""
    return [
        *fbcli_command(),
        "replay",
        str(path),
        "-m",
        str(MAPPINGS),
        "--base-url",
        base_url,
        "--ledger",
        str(ledger),
        "--format",
        "json",
        *options,
    ]


def cpu_self() -> float:
    """This process's CPU seconds so far (user + system): the in-process emulator's cost."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def run_replay_cpu(report: Report, calls: int, tmp: Path, *, timeout: float) -> None:
    """CPU per call of replay at ``--concurrency 16`` against an unthrottled emulator."""
    small_file = data_file(report, 10, valid_only=True)
    big_file = data_file(report, calls, valid_only=True)
    options = ("--rate", "100000", "--burst", "100", "--concurrency", "16")
    env = child_env(credentials=True)
    results: list[tuple[Measurement, int, float]] = []
    for n, path in ((10, small_file), (calls, big_file)):
        with Emulator(EmulatorConfig()) as emulator:
            command = replay_command(path, emulator.base_url, tmp / f"ledger-{n}.sqlite", *options)
            before = cpu_self()
            m = measure(command, timeout=timeout, capture=True, env=env)
            emulator_cpu = cpu_self() - before
            accepted = len(emulator.calls())
        report.commands.append(
            "FRIENDBUY_MAPI_KEY=… FRIENDBUY_MAPI_SECRET=… " + shlex.join(command)
        )
        sent = int(m.json_out().get("sent", 0))
        if m.exit_code != 0 or sent != accepted:
            say(f"  replay of {n} events: exit {m.exit_code}, sent {sent}, emulator {accepted}")
            say(f"  stderr: {m.stderr_tail}")
        results.append((m, sent, emulator_cpu))
    (small, small_sent, _), (big, big_sent, emulator_cpu) = results
    with Emulator(EmulatorConfig()) as emulator:
        floor_script = str(BENCH / "httpx_floor.py")
        command = [sys.executable, floor_script, emulator.base_url, str(calls), "16"]
        floor = measure(command, timeout=timeout, capture=True).json_out()
    report.commands.append(shlex.join(command))
    floor_ms = float(floor.get("cpu_s", 0.0)) / max(int(floor.get("calls", 0)), 1) * 1000
    per_call_ms = (big.cpu_s - small.cpu_s) / max(big_sent - small_sent, 1) * 1000
    emulator_ms = emulator_cpu / max(big_sent, 1) * 1000
    met = per_call_ms <= REPLAY_CPU_LIMIT_MS if not big.timed_out and big_sent else None
    report.replay["cpu"] = {
        "calls": big_sent,
        "cpu_s": big.cpu_s,
        "wall_s": big.wall_s,
        "small_calls": small_sent,
        "small_cpu_s": small.cpu_s,
        "cpu_ms_per_call": per_call_ms,
        "emulator_cpu_ms_per_call": emulator_ms,
        "httpx_floor_ms_per_call": floor_ms,
        "calls_per_s": big_sent / big.wall_s,
        "max_rss_mb": big.max_rss_mb,
        "timed_out": big.timed_out,
    }
    report.targets.append(
        Target(
            "replay CPU per call (--concurrency 16)",
            f"<= {REPLAY_CPU_LIMIT_MS:g} ms",
            f"{per_call_ms:.2f} ms",
            met,
            f"httpx alone, same calls: {floor_ms:.2f} ms",
        )
    )
    say()
    say("Replay CPU (unthrottled emulator in the runner process; replay's own CPU only):")
    say(
        f"  {big_sent:,} calls: {big.cpu_s:.2f} s CPU, {big.wall_s:.2f} s wall "
        f"({big_sent / big.wall_s:,.0f} calls/s), peak RSS {big.max_rss_mb:.0f} MB"
    )
    say(f"  {small_sent} calls (start-up, authorization, ledger): {small.cpu_s:.2f} s CPU")
    say(
        f"  => {per_call_ms:.2f} ms CPU per call (target <= {REPLAY_CPU_LIMIT_MS:g} ms: "
        f"{verdict(met)}); the emulator used {emulator_ms:.2f} ms per call"
    )
    say(
        f"  floor: the same number of calls made with httpx alone (bench/httpx_floor.py, "
        f"16 threads): {floor_ms:.2f} ms CPU per call, statuses {floor.get('statuses')}"
    )


def parse_iso(text: str) -> float:
    """``2026-03-02T10:00:00.123Z`` → POSIX seconds."""
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def window_counts(times: Sequence[float], width: float = 1.0) -> list[int]:
    """For each call (sorted times), the calls in the window ``[t, t + width)`` it starts.

    The maximum is the busiest window of any position: a window that holds
    the most calls can always be slid right until it starts at a call.
    """
    counts = []
    end = 0
    for start, t in enumerate(times):
        end = max(end, start)
        while end < len(times) and times[end] < t + width:
            end += 1
        counts.append(end - start)
    return counts


def run_replay_rate(report: Report, seconds: int, tmp: Path, *, timeout: float) -> None:
    """Achieved rate and busiest window at ``--rate 200 --burst 1``."""
    calls = int(RATE * seconds)
    path = data_file(report, calls, valid_only=True)
    options = ("--rate", f"{RATE:g}", "--burst", str(RATE_BURST))
    with Emulator(EmulatorConfig()) as emulator:
        command = replay_command(path, emulator.base_url, tmp / "ledger-rate.sqlite", *options)
        m = measure(command, timeout=max(timeout, seconds * 3.0), capture=True,
                    env=child_env(credentials=True))  # fmt: skip
        recorded = [c for c in emulator.calls() if c.path != "/v1/authorization"]
    report.commands.append("FRIENDBUY_MAPI_KEY=… FRIENDBUY_MAPI_SECRET=… " + shlex.join(command))
    times = sorted(parse_iso(c.received_at) for c in recorded)
    summary = m.json_out()
    if len(times) < 2:
        say(f"  rate run failed: exit {m.exit_code}; {m.stderr_tail}")
        report.targets.append(Target("replay achieved rate", f"{RATE:g}/s ± 2 %", "-", None))
        return
    span = times[-1] - times[0]
    achieved = (len(times) - 1) / span
    counts = window_counts(times)
    window = max(counts)
    over = sum(1 for c in counts if c > RATE + RATE_BURST)
    error = achieved / RATE - 1
    rate_met = abs(error) <= RATE_TOLERANCE
    window_met = window <= RATE + RATE_BURST
    report.replay["rate"] = {
        "calls": len(times),
        "span_s": span,
        "achieved_rate": achieved,
        "replay_reported_rate": summary.get("achieved_rate"),
        "busiest_window": window,
        "windows_over_limit": over,
        "wall_s": m.wall_s,
        "cpu_s": m.cpu_s,
    }
    report.targets.append(
        Target(
            f"replay --rate {RATE:g} achieved rate ({seconds} s)",
            f"{RATE:g}/s ± {RATE_TOLERANCE:.0%}",
            f"{achieved:.2f}/s ({error:+.2%})",
            rate_met,
            "" if seconds >= 20 else "target is for 20 s",
        )
    )
    report.targets.append(
        Target(
            "replay busiest 1-second window",
            f"<= {RATE + RATE_BURST:g} calls",
            f"{window} calls",
            window_met,
            f"{over} of {len(counts)} windows over" if over else "",
        )
    )
    say()
    say(f"Replay rate (--rate {RATE:g} --burst {RATE_BURST}, {len(times):,} calls):")
    say(
        f"  emulator saw {len(times):,} calls over {span:.2f} s: {achieved:.2f} calls/s "
        f"({error:+.2%}); replay reported {summary.get('achieved_rate')}/s over "
        f"{summary.get('elapsed_seconds')} s"
    )
    say(
        f"  busiest 1-s window (arrival times, ms resolution): {window} calls; "
        f"{over} of {len(counts):,} windows (one starting at each call) above {RATE + RATE_BURST:g}"
    )


# -- the whole run ---------------------------------------------------------------------


def source_fingerprint() -> str:
    """A short hash of fbcli's sources (``fbcli/**/*.py``, ``*.json``, ``*.yaml``) right now.

    Others may edit fbcli while the benchmarks run: each measured fbcli run
    records the fingerprint it started with, so mixed versions show.
    """
    digest = hashlib.sha256()
    for path in sorted(ROOT.joinpath("fbcli").rglob("*")):
        if path.suffix in (".py", ".json", ".yaml") and path.is_file():
            digest.update(path.relative_to(ROOT).as_posix().encode() + b"\0")
            digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()[:8]


def machine_info() -> dict[str, Any]:
    """Where and on what the figures were measured."""
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    ).stdout.strip()
    dirty = subprocess.run(
        ["git", "status", "--porcelain", "--", "fbcli"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    ).stdout.strip()
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "commit": commit + (" + uncommitted changes in fbcli/" if dirty else ""),
        "fbcli sources": source_fingerprint(),
    }


def print_targets(report: Report) -> None:
    """The summary table of the issue's targets."""
    rows = [[t.name, t.wanted, t.measured, verdict(t.met), t.note] for t in report.targets]
    say()
    say("Targets:")
    for text in table(["target", "wanted", "measured", "result", "note"], rows, set()):
        say("  " + text)


def print_throughput_table(report: Report) -> None:
    """All throughput rows in one table."""
    rows = []
    for r in report.throughput:
        bound = "<" if r["timed_out"] else ""
        target = f">= {r['ratio_target']:g}x" if r["ratio_target"] else ""
        met: bool | None = None
        if r["ratio_target"] and r["ratio"] is not None:
            met = judge(r["ratio"] >= r["ratio_target"], partial=r["timed_out"])
        rows.append(
            [
                r["name"],
                fmt_int(r["size"]),
                f"{'>' if r['timed_out'] else ''}{r['wall_s']:.1f}",
                f"{r['cpu_s']:.1f}",
                bound + fmt_int(r["events_per_s"]),
                ("≥" if r["timed_out"] else "") + f"{r['max_rss_mb']:.0f}",
                ("≥" if r["timed_out"] else "") + f"{r['tree_rss_mb']:.0f}",
                "" if r["ratio"] is None else f"{bound}{r['ratio']:.2f}x",
                target,
                verdict(met) if r["ratio_target"] else "",
                r["source"],
            ]
        )
    say()
    say("Throughput (wall time, one process per row, output to /dev/null):")
    headers = ["run", "events", "seconds", "CPU s", "events/s", "RSS MB", "all RSS MB"]
    headers += ["vs baseline", "target", "result", "src"]
    for text in table(headers, rows, {1, 2, 3, 4, 5, 6, 7}):
        say("  " + text)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The options; ``--quick`` changes the defaults of the others."""
    parser = argparse.ArgumentParser(description="fbcli benchmarks (see bench/run.py docstring)")
    parser.add_argument("--quick", action="store_true", help="small sizes: about 1-2 minutes")
    parser.add_argument("--sizes", help="comma-separated event counts (default 100000,1000000)")
    parser.add_argument("--skip-replay", action="store_true", help="no replay measurements")
    parser.add_argument("--timeout", type=float, help="seconds per measured run (default 150)")
    parser.add_argument("--replay-calls", type=int, help="calls for the replay CPU run")
    parser.add_argument("--json", type=Path, help="also write the results here as JSON")
    args = parser.parse_args(argv)
    default_sizes = "10000,100000" if args.quick else "100000,1000000"
    try:
        args.sizes = sorted({int(s) for s in (args.sizes or default_sizes).split(",")})
    except ValueError:
        parser.error("--sizes takes comma-separated integers")
    if not args.sizes or min(args.sizes) < 10:
        parser.error("--sizes: at least one size, each >= 10")
    args.timeout = args.timeout or (45.0 if args.quick else 150.0)
    args.replay_calls = args.replay_calls or (1000 if args.quick else 5000)
    args.rate_seconds = 5 if args.quick else 20
    return args


def main(argv: list[str] | None = None) -> int:
    """Run the benchmarks; print the tables; exit 0 (missed targets are reported, not errors)."""
    args = parse_args(argv)
    began = time.perf_counter()
    report = Report(
        started=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        profile="quick" if args.quick else "default",
        machine=machine_info(),
        sizes=args.sizes,
    )
    say(f"fbcli benchmarks · {report.started} · profile {report.profile}")
    say("  " + " · ".join(f"{k} {v}" for k, v in report.machine.items()))
    steps: list[Callable[[Path], None]] = [
        lambda tmp: run_startup(report, ten_line_file(data_file(report, min(args.sizes)))),
        lambda tmp: run_throughput(report, args.sizes, timeout=args.timeout),
    ]
    if not args.skip_replay:
        steps += [
            lambda tmp: run_replay_cpu(report, args.replay_calls, tmp, timeout=args.timeout),
            lambda tmp: run_replay_rate(report, args.rate_seconds, tmp, timeout=args.timeout),
        ]
    with tempfile.TemporaryDirectory(prefix="fbcli-bench-") as tmp:
        for step in steps:
            step(Path(tmp))
    throughput_targets(report, args.sizes)
    print_throughput_table(report)
    print_targets(report)
    say()
    say("Commands run (from the repository root):")
    for command in report.commands:
        say("  " + command)
    say()
    sources = {report.machine["fbcli sources"], source_fingerprint()}
    sources |= {r["source"] for r in report.throughput}
    if len(sources) > 1:
        say(
            f"WARNING: fbcli/ changed during the run (sources {', '.join(sorted(sources))}): "
            "rows measured different code; run again for comparable figures."
        )
    say(f"Total time {time.perf_counter() - began:.0f} s.")
    if args.json is not None:
        payload = asdict(report)
        args.json.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
