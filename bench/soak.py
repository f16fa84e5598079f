"""The chaos soak, long profile: many events under every fault, then many SIGKILLs.

    python bench/soak.py [--quick] [--events N] [--seed S] [--faults SPEC]
                         [--kill-points K] [--kill-events M] [--concurrency C]
                         [--keep DIR] [--json OUT]

Run it with the project's interpreter (``.venv/bin/python bench/soak.py``).  It
uses the harness of the bounded CI tests (``tests/chaos.py``; its docstring
states the invariants) with bigger numbers, and exits 1 when any invariant fails.

1. Soak: ``--events`` events (default 20,000; ``--quick`` 3,000) replayed by a
   real ``fbcli replay`` process against the emulator with every fault mixed
   (5xx, 429 with ``Retry-After``, 429 storms without, slow replies beyond the
   read timeout, connections dropped before and after the call is recorded,
   tokens revoked, tokens expiring every 2 s); then plain reruns until nothing
   failed, a rerun that must send nothing, and a rerun with
   ``--retry-unknown``.  The books are audited after each step.
2. Crash points: ``--kill-points`` replays (default 60; ``--quick`` 20) of
   ``--kill-events`` events each, SIGKILLed at moments spread over start-up,
   authorization, sending, ledger commits and the end, each rerun until done.

Figures printed: events soaked, faults injected by kind, calls recorded,
duplicates (and the most copies of one call), the ledger's counts after each
step, kill points by phase with the calls in flight and the duplicates each
left, and the time taken.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent


def say(text: str) -> None:
    print(text, flush=True)


def soak(directory: Path, args: argparse.Namespace) -> tuple[dict[str, Any], list[str]]:
    from tests.support.chaos import SoakSettings, run_soak

    settings = SoakSettings(events=args.events, seed=args.seed)
    if args.faults:
        settings = SoakSettings(events=args.events, seed=args.seed, faults=args.faults)
    say(f"== soak: {settings.events:,} events, faults {settings.faults}")
    say(f"   token TTL {settings.token_ttl} s, read timeout {settings.read_timeout} s, client:")
    say(f"   {' '.join(settings.client)}")
    result = run_soak(directory, settings, say=lambda line: say("   " + line))
    say("")
    say(f"events soaked           {settings.events:,}")
    say("faults injected:")
    for kind, count in result.faults.items():
        say(f"  {kind:42} {count:,}")
    for step, books in result.books:
        run = dict(result.runs)[step]
        figures = books.figures()
        say(f"after {step} ({run.seconds:.1f} s, exit {run.exit_code}):")
        say(f"  ledger {figures['ledger']}, calls recorded {figures['recorded']:,}")
        say(
            f"  arrived {figures['arrived']:,} = sent {books.sent_arrived:,} + unknown that "
            f"arrived {books.unknown_arrived:,} + failed that arrived {books.failed_arrived:,}"
        )
        say(
            f"  duplicates {figures['duplicates']:,} (of calls not harmless to repeat: "
            f"{figures['unsafe_duplicates']:,}), most copies of one call "
            f"{figures['max_copies']}, answers lost {figures['lost_answers']:,}, unknown "
            f"that never arrived {figures['unknown_not_arrived']:,}"
        )
    say(
        f"--retry-unknown resent {result.retry_unknown_resent:,} calls of unknown outcome: "
        f"{result.duplicates_from_retry_unknown:,} of them now counted twice"
    )
    say(f"soak time               {result.seconds:.1f} s")
    figures = {
        "events": settings.events,
        "faults_spec": settings.faults,
        "faults": result.faults,
        "steps": [
            {"step": step, "seconds": round(dict(result.runs)[step].seconds, 2), **b.figures()}
            for step, b in result.books
        ],
        "retry_unknown_resent": result.retry_unknown_resent,
        "duplicates_from_retry_unknown": result.duplicates_from_retry_unknown,
        "seconds": round(result.seconds, 1),
    }
    return figures, result.violations


def sweep(directory: Path, args: argparse.Namespace) -> tuple[dict[str, Any], list[str]]:
    from tests.support.chaos import kill_points, run_kill_point

    points = kill_points(args.kill_points, calls=args.kill_events, seed=args.seed)
    say(
        f"== crash points: {len(points)} SIGKILLs, {args.kill_events} events each, "
        f"--concurrency {args.concurrency}"
    )
    started = time.monotonic()
    rows: list[dict[str, Any]] = []
    violations: list[str] = []
    for index, point in enumerate(points):
        result = run_kill_point(
            directory / f"point-{index}",
            point,
            events=args.kill_events,
            seed=args.seed * 1000 + index,
            concurrency=args.concurrency,
        )
        in_flight = result.after_kill.arrived_unledgered
        duplicates = result.after_reruns.duplicates
        say(
            f"   {point!s:44} requests {result.requests_at_kill:4}  "
            f"rows {sum(result.after_kill.ledger.values()):4}  in flight {in_flight}  "
            f"duplicates {duplicates}  most copies {result.after_reruns.max_copies}  "
            f"reruns {result.reruns}  {result.seconds:.1f} s"
        )
        if result.exit_code != -9:
            violations.append(f"{point}: the replay was not killed")
        if duplicates > args.concurrency:
            violations.append(f"{point}: {duplicates} duplicates > --concurrency")
        violations += [f"{point}: {v}" for v in result.violations]
        rows.append(
            {
                "point": str(point),
                "phase": point.phase,
                "requests_at_kill": result.requests_at_kill,
                "rows_after_kill": sum(result.after_kill.ledger.values()),
                "in_flight": in_flight,
                "duplicates": duplicates,
                "max_copies": result.after_reruns.max_copies,
                "reruns": result.reruns,
            }
        )
    seconds = time.monotonic() - started
    phases = Counter(row["phase"] for row in rows)
    say("")
    say(f"kill points             {len(rows)} ({', '.join(f'{p} {n}' for p, n in phases.items())})")
    say(
        f"calls in flight at kill {sum(r['in_flight'] for r in rows)} in all, at most "
        f"{max((r['in_flight'] for r in rows), default=0)} at once"
    )
    say(
        f"duplicates after rerun  {sum(r['duplicates'] for r in rows)} in all, at most "
        f"{max((r['duplicates'] for r in rows), default=0)} per kill "
        f"(--concurrency {args.concurrency}); most copies of one call "
        f"{max((r['max_copies'] for r in rows), default=0)}"
    )
    say(f"sweep time              {seconds:.1f} s")
    return {"points": rows, "seconds": round(seconds, 1)}, violations


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="3,000 events and 20 kill points")
    parser.add_argument("--events", type=int, help="events to soak (default 20,000)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--faults", help="the emulator's --faults (default: every kind)")
    parser.add_argument("--kill-points", type=int, help="SIGKILLs (default 60)")
    parser.add_argument("--kill-events", type=int, default=40, help="events per kill point")
    parser.add_argument("--concurrency", type=int, default=4, help="of the killed replays")
    parser.add_argument("--skip-soak", action="store_true")
    parser.add_argument("--skip-kills", action="store_true")
    parser.add_argument("--keep", type=Path, help="keep the files here (events, ledgers)")
    parser.add_argument("--json", type=Path, help="write the figures here")
    args = parser.parse_args()
    args.events = args.events or (3000 if args.quick else 20_000)
    args.kill_points = args.kill_points or (20 if args.quick else 60)
    sys.path.insert(0, str(ROOT))  # the harness lives in tests/

    started = time.monotonic()
    figures: dict[str, Any] = {}
    violations: list[str] = []
    with tempfile.TemporaryDirectory(prefix="fbcli-soak-") as scratch:
        directory = args.keep or Path(scratch)
        if not args.skip_soak:
            figures["soak"], found = soak(directory / "soak", args)
            violations += found
        if not args.skip_kills:
            figures["kills"], found = sweep(directory / "kills", args)
            violations += found
    figures["seconds"] = round(time.monotonic() - started, 1)
    figures["violations"] = violations
    say(f"total time              {figures['seconds']:.1f} s")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    for violation in violations:
        say(f"VIOLATION: {violation}")
    say("the books balance" if not violations else f"{len(violations)} violations")
    return 1 if violations else 0


if __name__ == "__main__":
    sys.exit(main())
