"""The rate limiter under 429s and pauses, end to end: figures, and the old algorithm's beside.

    python bench/throttle.py [--quick] [--only NAME,...] [--seconds S] [--repeat N]
                             [--baseline REV | --no-baseline | --baseline-only]
                             [--timeline] [--json OUT]

Run it with the project's interpreter (``.venv/bin/python bench/throttle.py``).
Every scenario runs ``fbcli emulator`` in one process and ``fbcli replay`` in
another, over 127.0.0.1, and reads what arrived from the emulator's
``/_emulator/calls`` (the time each accepted call was received, millisecond
resolution; authorizations left out).  ``--baseline REV`` (default: the last
commit with the previous limiter) runs each scenario again with the ``fbcli``
package of that commit (``git archive``, then ``python -m fbcli`` with that
copy first on ``PYTHONPATH``; the emulator is always today's) and prints both
figures and their ratio.

Scenarios (``--seconds`` S, default 20; ``--quick``: 8):

- ``limit80``: the emulator allows 80 calls/s (``--rate-limit 80 --burst 10``:
  a leaky bucket of 10; ``Retry-After`` on every 429); ``replay --rate 100
  --concurrency 8``.  The calls accepted in the S seconds from the first one,
  as a share of 80/s.
- ``limit80-strict``: the same with a bucket of 1 (the emulator's default):
  two arrivals closer than 12.5 ms, jitter included, get 429.
- ``random429``: 1 % of the requests answered 429 (``Retry-After: 1``), no
  limit; ``--rate 100 --concurrency 8``: the share of 100/s.
- ``storm``: 429 storms of 2 s (``storm=0.001@2``, seed 3; odd storms send
  ``Retry-After``, even ones do not); ``--rate 100 --concurrency 8``, run 6 s
  past S so that a late storm's end shows.  For each storm that starts in the
  S seconds, the seconds from its end until a one-second window (starting at
  an arrival) holds 90 calls; when that does not happen before the next storm
  (or the end), the time there was counts (``storms_not_recovered``), unless
  it was under 3 s (not judged).  Storm starts are read from
  ``/_emulator/stats`` every 50 ms.
- ``overload``: the emulator allows 10 calls/s, ``--rate 100 --concurrency
  8``: the share of 10/s, and the 429s per call accepted.
- ``sigstop``: no limit, ``--rate 50 --burst 5 --concurrency 16``; the
  replay is stopped (SIGSTOP) 3 s after its first call, and continued
  (SIGCONT) 2 s later: the busiest one-second window of arrivals (the limiter
  allows ``rate + burst`` tokens per second), overall and from the resume on.
- ``hold``: from the third request on (the first is the authorization), a
  429 storm of an hour with ``Retry-After: 3600`` (the most the emulator
  sends; ``storm=0.3@3600``, seed 2); ``replay --rate 10``, Ctrl-C (SIGINT) 2 s
  after it started: the seconds from Ctrl-C to the end of the process (killed
  after 20 s).
- ``deadline``: the same storm, ``replay --rate 10 --max-call-time 5`` of 20
  events: the seconds until the replay ends by itself (killed after 60 s).

Wall times on a shared machine are noisy: ``--repeat N`` runs each scenario N
times and prints the median with the range.  ``--timeline`` prints each run's
arrivals per half second (``|`` where a storm began).  Only 127.0.0.1 is
contacted.
"""

from __future__ import annotations

import argparse
import json
import os
import select
import shlex
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
DATA = BENCH / ".data"
MAPPINGS = ROOT / "mappings.yaml"
BASELINE_REV = "f475d8a"
"""The last commit with the previous limiter (halving and a global pause on every 429)."""
RECOVERED = 90
"""Calls in a one-second window that mean the rate is back after a storm (of 100/s)."""
STORM_SECONDS = 2.0
STORM_TAIL_S = 6.0
"""The storm scenario's replay runs this much past S, so that a late storm's end shows."""
STATS_POLL_S = 0.05
JUDGE_S = 3.0
"""A storm followed by another (or the end) sooner than this after its end is not judged."""


@dataclass(frozen=True, slots=True)
class Scenario:
    """One end-to-end run: the emulator's options, replay's, and what is measured."""

    name: str
    emulator: tuple[str, ...]
    replay: tuple[str, ...]
    reference: float
    """The rate the achieved rate is a share of (the server's limit, or ``--rate``)."""
    kind: str = "rate"
    """``rate``, ``storm``, ``sigstop``, ``hold`` or ``deadline``."""
    events: int = 0
    """Events to replay; 0: enough for the run at the reference rate."""
    headline: str = "share"
    """The figure that sums the scenario up."""


def scenarios() -> list[Scenario]:
    """Every scenario, in the order they run."""
    fast = ("--rate", "100", "--concurrency", "8")
    hour_storm = ("--faults", "storm=0.3@3600", "--seed", "2")
    return [
        Scenario("limit80", ("--rate-limit", "80", "--burst", "10"), fast, 80.0),
        Scenario("limit80-strict", ("--rate-limit", "80", "--burst", "1"), fast, 80.0),
        Scenario("random429", ("--faults", "429=0.01", "--seed", "1"), fast, 100.0),
        Scenario(
            "storm",
            ("--faults", f"storm=0.001@{STORM_SECONDS:g}", "--seed", "3"),
            fast,
            100.0,
            kind="storm",
            headline="recovery_s_max",
        ),
        Scenario("overload", ("--rate-limit", "10"), fast, 10.0),
        Scenario(
            "sigstop",
            (),
            ("--rate", "50", "--burst", "5", "--concurrency", "16"),
            50.0,
            kind="sigstop",
            headline="busiest_1s_after_resume",
        ),
        Scenario(
            "hold", hour_storm, ("--rate", "10"), 10.0, "hold", 200, headline="seconds_to_stop"
        ),
        Scenario(
            "deadline",
            hour_storm,
            ("--rate", "10", "--max-call-time", "5"),
            10.0,
            "deadline",
            20,
            headline="seconds_to_end",
        ),
    ]


# -- processes ---------------------------------------------------------------------------


def say(text: str = "") -> None:
    """Print a line now (the run takes minutes)."""
    print(text, flush=True)


def child_env(pythonpath: Path | None) -> dict[str, str]:
    """No FRIENDBUY_* secrets but fake ones (the emulator takes any); the baseline first."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("FRIENDBUY_")}
    env.update(NO_COLOR="1", COLUMNS="100")
    env.update(FRIENDBUY_MAPI_KEY="bench-key", FRIENDBUY_MAPI_SECRET="bench-secret")
    env.pop("PYTHONPATH", None)
    if pythonpath is not None:
        env["PYTHONPATH"] = str(pythonpath)
    return env


class EmulatorProcess:
    """``fbcli emulator --port 0 ...`` in a child process: its base URL, its admin endpoints."""

    def __init__(self, options: Sequence[str], cwd: Path) -> None:
        command = [sys.executable, "-m", "fbcli", "emulator", "--port", "0", *options]
        self.process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            env=child_env(None),
            cwd=cwd,
        )
        self.base_url = self._read_url()

    def _read_url(self) -> str:
        assert self.process.stderr is not None
        deadline = time.monotonic() + 20.0
        seen = b""
        while time.monotonic() < deadline:
            ready, _, _ = select.select([self.process.stderr], [], [], 0.1)
            if not ready:
                continue
            chunk = os.read(self.process.stderr.fileno(), 4096)
            if not chunk:
                break
            seen += chunk
            for line in seen.decode("utf-8", "replace").splitlines():
                if "listening on " in line:
                    return line.split("listening on ", 1)[1].split()[0]
        self.close()
        raise RuntimeError(f"the emulator did not start: {seen.decode('utf-8', 'replace')}")

    def get(self, path: str) -> Any:
        """A JSON admin endpoint (``/_emulator/...``)."""
        with urllib.request.urlopen(self.base_url + path, timeout=10) as response:
            return json.loads(response.read())

    def arrivals(self) -> list[float]:
        """The times (POSIX seconds) the accepted MAPI calls were received, sorted."""
        return sorted(
            datetime.fromisoformat(c["received_at"].replace("Z", "+00:00")).timestamp()
            for c in self.get("/_emulator/calls")
            if c["path"] != "/v1/authorization"
        )

    def close(self) -> None:
        """Stop the emulator (SIGINT: a clean stop), killed if it lingers."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process.stderr is not None:
            self.process.stderr.close()


class StatsPoller:
    """Reads ``/_emulator/stats`` every 50 ms: when each storm started, when a call came."""

    def __init__(self, emulator: EmulatorProcess) -> None:
        self.emulator = emulator
        self.storm_starts: list[float] = []
        self.first_accepted: float | None = None
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        storms = 0
        before = time.time()
        while not self._done.is_set():
            try:
                stats = self.emulator.get("/_emulator/stats")
            except OSError:
                break
            now = time.time()
            if stats["storms"] > storms:  # started between the two readings: the middle
                self.storm_starts += [(before + now) / 2] * (stats["storms"] - storms)
                storms = stats["storms"]
            if self.first_accepted is None and stats["accepted"] > 1:  # the token, then a call
                self.first_accepted = time.monotonic()
            before = now
            self._done.wait(STATS_POLL_S)

    def stop(self) -> None:
        """Stop polling."""
        self._done.set()
        self._thread.join(timeout=5)


def events_file(count: int) -> Path:
    """``count`` valid events (one call each), generated once into ``bench/.data``."""
    path = DATA / f"valid-{count}-seed1.jsonl"
    if not path.exists():
        DATA.mkdir(parents=True, exist_ok=True)
        command = [sys.executable, str(BENCH / "generate.py"), str(path)]
        command += ["--events", str(count), "--seed", "1", "--valid-only"]
        subprocess.run(command, check=True, cwd=ROOT)
    return path


# -- measures ----------------------------------------------------------------------------


def window_counts(times: Sequence[float], width: float = 1.0) -> list[int]:
    """For each arrival (sorted times), the arrivals in the window ``[t, t + width)``."""
    counts = []
    end = 0
    for start, t in enumerate(times):
        end = max(end, start)
        while end < len(times) and times[end] < t + width:
            end += 1
        counts.append(end - start)
    return counts


def recovery_seconds(
    times: Sequence[float], storm_end: float, needed: float, horizon: float
) -> float | None:
    """Seconds from ``storm_end`` to the first window ``[t, t + 1)`` holding ``needed`` calls.

    ``None`` when no such window starts before ``horizon``.
    """
    for t, count in zip(times, window_counts(times), strict=True):
        if storm_end <= t < horizon and count >= needed:
            return t - storm_end
    return None


def timeline(times: Sequence[float], start: float, storms: Sequence[float]) -> str:
    """Arrivals per half second from ``start``; ``|`` before the one where a storm began."""
    counts: dict[int, int] = {}
    for t in times:
        slot = int((t - start) * 2)
        counts[slot] = counts.get(slot, 0) + 1
    marks = {int((s - start) * 2) for s in storms}
    last = max(counts, default=0)
    return " ".join(("|" if i in marks else "") + str(counts.get(i, 0)) for i in range(last + 1))


@dataclass(slots=True)
class Result:
    """The figures of one run of one scenario."""

    figures: dict[str, float | None] = field(default_factory=dict)
    summary: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    timeline: str = ""


@dataclass(slots=True)
class Run:
    """A replay process being driven."""

    scenario: Scenario
    seconds: float
    process: subprocess.Popen[bytes]
    poller: StatsPoller
    started: float
    result: Result
    resumed: float = 0.0


def run_scenario(
    scenario: Scenario, seconds: float, tmp: Path, pythonpath: Path | None
) -> tuple[Result, str]:
    """Run one scenario once; its figures and the replay command line."""
    events = scenario.events or int(scenario.reference * (seconds + STORM_TAIL_S) * 1.5) + 50
    path = events_file(events)
    emulator = EmulatorProcess(scenario.emulator, tmp)
    ledger = tmp / f"ledger-{scenario.name}-{time.monotonic_ns()}.sqlite"
    command = [sys.executable, "-m", "fbcli", "replay", str(path), "-m", str(MAPPINGS)]
    command += ["--base-url", emulator.base_url, "--ledger", str(ledger), "--format", "json"]
    command += list(scenario.replay)
    poller = StatsPoller(emulator)
    result = Result()
    try:
        with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
            # cwd: not the repository, whose fbcli/ would shadow the baseline's.
            process = subprocess.Popen(
                command, stdout=out, stderr=err, env=child_env(pythonpath), cwd=tmp
            )
            run = Run(scenario, seconds, process, poller, time.monotonic(), result)
            try:
                drive(run)
            finally:
                if process.poll() is None:
                    process.kill()
                    process.wait()
            out.seek(0)
            err.seek(0)
            text = out.read().decode("utf-8", "replace").strip()
            result.summary = json.loads(text) if text.startswith("{") else {}
            tail = err.read().decode("utf-8", "replace").strip().splitlines()[-1:]
            if process.returncode not in (0, 1, 130):
                result.notes.append(f"replay exit {process.returncode}: {' '.join(tail)}")
        poller.stop()
        measure(run, emulator.arrivals())
    finally:
        poller.stop()
        emulator.close()
    return result, shlex.join(["FRIENDBUY_MAPI_KEY=… FRIENDBUY_MAPI_SECRET=…", *command[1:]])


def drive(run: Run) -> None:
    """Signal the replay as the scenario says; wait for it to end (or kill it)."""
    process, figures = run.process, run.result.figures
    if run.scenario.kind == "hold":
        time.sleep(2.0)
        interrupted = time.monotonic()
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=20)
            figures["seconds_to_stop"] = time.monotonic() - interrupted
        except subprocess.TimeoutExpired:
            figures["seconds_to_stop"] = None
            run.result.notes.append("still running 20 s after Ctrl-C: killed")
        return
    if run.scenario.kind == "deadline":
        try:
            process.wait(timeout=60)
            figures["seconds_to_end"] = time.monotonic() - run.started
        except subprocess.TimeoutExpired:
            figures["seconds_to_end"] = None
            run.result.notes.append("still running after 60 s: killed")
        return
    deadline = time.monotonic() + 30.0
    while run.poller.first_accepted is None and process.poll() is None:
        if time.monotonic() > deadline:
            raise RuntimeError("no call arrived in 30 s")
        time.sleep(0.01)
    first = run.poller.first_accepted or time.monotonic()
    if run.scenario.kind == "sigstop":
        time.sleep(max(0.0, first + 3.0 - time.monotonic()))
        process.send_signal(signal.SIGSTOP)
        time.sleep(2.0)
        run.resumed = time.time()
        process.send_signal(signal.SIGCONT)
    tail = STORM_TAIL_S if run.scenario.kind == "storm" else 0.5
    end = first + run.seconds + tail
    while process.poll() is None and time.monotonic() < end:
        time.sleep(0.05)
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        run.result.notes.append("did not stop 30 s after Ctrl-C: killed")


def measure(run: Run, times: list[float]) -> None:
    """The run's figures from the arrival times (and the replay's JSON summary)."""
    result, scenario = run.result, run.scenario
    figures = result.figures
    figures["calls"] = len(times)
    if len(times) < 2 or scenario.kind in ("hold", "deadline"):
        return
    start = times[0]
    result.timeline = timeline(times, start, run.poller.storm_starts)
    inside = [t for t in times if t < start + run.seconds]
    figures["share"] = len(inside) / run.seconds / scenario.reference
    figures["busiest_1s"] = max(window_counts(times))
    if scenario.kind == "sigstop":
        after = [t for t in times if t >= run.resumed - 0.05]
        figures["busiest_1s_after_resume"] = max(window_counts(after)) if after else 0
    if scenario.kind == "storm":
        storm_recoveries(run, times)
    rate_limited = result.summary.get("rate_limited")
    if isinstance(rate_limited, int):
        figures["429s_per_call"] = rate_limited / len(times)
    learned = result.summary.get("current_rate")
    if isinstance(learned, (int, float)):
        figures["learned_rate"] = float(learned)


def storm_recoveries(run: Run, times: list[float]) -> None:
    """Seconds back to 90 calls per second after each storm the run can judge.

    A storm after which the rate is not back before the next storm (or the
    end) counts with the time there was, a lower bound (noted), unless that
    was under ``JUDGE_S``: then it is left out (noted).
    """
    result = run.result
    starts = [s for s in run.poller.storm_starts if s < times[0] + run.seconds]
    recoveries: list[float] = []
    for index, storm_start in enumerate(starts):
        storm_end = storm_start + STORM_SECONDS
        following = run.poller.storm_starts[index + 1 :]
        horizon = following[0] if following else times[-1]
        seconds = recovery_seconds(times, storm_end, RECOVERED, horizon)
        if seconds is not None:
            recoveries.append(seconds)
            continue
        until = "the next storm" if following else "the end"
        if horizon - storm_end < JUDGE_S:
            result.notes.append(f"storm {index + 1}: {until} came too soon to judge")
            continue
        result.notes.append(f"storm {index + 1}: not back by {until}, {horizon - storm_end:.1f} s")
        recoveries.append(horizon - storm_end)
        result.figures["storms_not_recovered"] = (
            result.figures.get("storms_not_recovered") or 0
        ) + 1
    result.figures["storms"] = len(starts)
    result.figures["recovery_s_median"] = statistics.median(recoveries) if recoveries else None
    result.figures["recovery_s_max"] = max(recoveries) if recoveries else None


# -- the report --------------------------------------------------------------------------


def baseline_tree(rev: str, tmp: Path) -> Path:
    """The ``fbcli`` package of commit ``rev``, extracted under ``tmp``: the directory to import."""
    target = tmp / f"baseline-{rev}"
    target.mkdir()
    archive = subprocess.run(
        ["git", "archive", "--format=tar", rev, "fbcli"], cwd=ROOT, check=True, capture_output=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(target)], input=archive, check=True)
    return target


def aggregate(runs: list[Result]) -> dict[str, dict[str, Any]]:
    """Median and range of each figure over the runs (``None``: the run could not tell)."""
    merged: dict[str, dict[str, Any]] = {}
    for key in dict.fromkeys(k for r in runs for k in r.figures):
        values = [r.figures.get(key) for r in runs]
        known = [float(v) for v in values if v is not None]
        merged[key] = {
            "median": statistics.median(known) if known else None,
            "min": min(known, default=None),
            "max": max(known, default=None),
            "missing": len(values) - len(known),
        }
    return merged


def fmt(key: str, stats: dict[str, Any] | None) -> str:
    """A figure as text, median [min-max]: ``91.2%``, ``1.40 s``, ``55``."""
    if stats is None:
        return "-"
    if stats["median"] is None:
        return "none (killed)" if stats["missing"] else "-"

    def one(value: float) -> str:
        if key == "share":
            return f"{value:.1%}"
        if key.startswith(("seconds", "recovery")):
            return f"{value:.2f} s"
        if key in ("429s_per_call", "learned_rate"):
            return f"{value:.3g}"
        return f"{value:.0f}"

    text = one(stats["median"])
    if stats["min"] != stats["max"]:
        text += f" [{one(stats['min'])}-{one(stats['max'])}]"
    if stats["missing"]:
        text += f" ({stats['missing']} killed)"
    return text


def ratio(new: dict[str, Any] | None, old: dict[str, Any] | None) -> str:
    """``new / old`` of the medians, when both are known."""
    if not new or not old or new["median"] is None or not old["median"]:
        return ""
    return f"{new['median'] / old['median']:.2f}x"


def table(rows: Sequence[Sequence[str]]) -> list[str]:
    """Plain text columns, the first left-aligned."""
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return [
        "  ".join(
            cell.ljust(width) if i == 0 else cell.rjust(width)
            for i, (cell, width) in enumerate(zip(row, widths, strict=True))
        )
        for row in rows
    ]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The options."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help="8-second runs")
    parser.add_argument("--only", help="comma-separated scenario names")
    parser.add_argument("--seconds", type=float, help="seconds measured per run (default 20)")
    parser.add_argument("--repeat", type=int, default=1, help="runs per scenario (default 1)")
    parser.add_argument("--baseline", default=BASELINE_REV, help="the commit to compare with")
    parser.add_argument("--no-baseline", action="store_true", help="measure today's code only")
    parser.add_argument("--baseline-only", action="store_true", help="measure the baseline only")
    parser.add_argument("--timeline", action="store_true", help="arrivals per half second")
    parser.add_argument("--json", type=Path, help="also write the results here as JSON")
    args = parser.parse_args(argv)
    args.seconds = args.seconds or (8.0 if args.quick else 20.0)
    names = [s.name for s in scenarios()]
    args.only = args.only.split(",") if args.only else names
    unknown = set(args.only) - set(names)
    if unknown:
        parser.error(f"unknown scenarios {sorted(unknown)}; known: {', '.join(names)}")
    if args.repeat < 1:
        parser.error("--repeat must be >= 1")
    if args.no_baseline and args.baseline_only:
        parser.error("--no-baseline and --baseline-only exclude each other")
    return args


def main(argv: list[str] | None = None) -> int:
    """Run the scenarios; print the figures and their ratios; exit 0."""
    args = parse_args(argv)
    began = time.monotonic()
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    say(f"fbcli throttle bench · {args.seconds:g} s per run · {args.repeat} run(s) · load {load}")
    report: dict[str, Any] = {"seconds": args.seconds, "repeat": args.repeat, "scenarios": {}}
    with tempfile.TemporaryDirectory(prefix="fbcli-throttle-") as tmp_name:
        tmp = Path(tmp_name)
        versions: list[tuple[str, Path | None]] = [] if args.baseline_only else [("now", None)]
        if not args.no_baseline:
            versions.append((f"before ({args.baseline})", baseline_tree(args.baseline, tmp)))
        both = len(versions) == 2
        headlines = [["scenario", "figure", *(label for label, _ in versions)]]
        headlines[0] += ["now/before"] if both else []
        for scenario in scenarios():
            if scenario.name not in args.only:
                continue
            say()
            emulator = " ".join(scenario.emulator) or "(no limit)"
            say(f"== {scenario.name}: emulator {emulator}; replay {' '.join(scenario.replay)}")
            entry: dict[str, Any] = {}
            for label, pythonpath in versions:
                runs = []
                for _ in range(args.repeat):
                    result, command = run_scenario(scenario, args.seconds, tmp, pythonpath)
                    runs.append(result)
                    shown = {
                        k: None if v is None else round(v, 3) for k, v in result.figures.items()
                    }
                    say(f"  {label}: {shown} {'; '.join(result.notes)}")
                    if args.timeline and result.timeline:
                        say(f"    per 0.5 s: {result.timeline}")
                entry[label] = {"figures": aggregate(runs), "command": command}
            report["scenarios"][scenario.name] = entry
            columns = [entry[label]["figures"] for label, _ in versions]
            rows = [["figure", *(label for label, _ in versions)]]
            rows[0] += ["now/before"] if both else []
            for key in columns[0]:
                row = [key, *(fmt(key, c.get(key)) for c in columns)]
                rows.append(
                    row + ([ratio(columns[0].get(key), columns[1].get(key))] if both else [])
                )
            for line in table(rows):
                say("  " + line)
            key = scenario.headline
            headline = [scenario.name, key, *(fmt(key, c.get(key)) for c in columns)]
            headlines.append(
                headline + ([ratio(columns[0].get(key), columns[1].get(key))] if both else [])
            )
    say()
    say("Summary (median over the runs):")
    for line in table(headlines):
        say("  " + line)
    say()
    say(f"Total time {time.monotonic() - began:.0f} s.")
    if args.json is not None:
        args.json.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
