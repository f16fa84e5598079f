"""The long fuzzing run: every fuzz property with many random examples, counted and timed.

    python bench/fuzz.py [--profile long|ci] [PYTEST_ARGS...]

Run it with the project's interpreter (``.venv/bin/python bench/fuzz.py``).  It
runs ``pytest tests/property/test_fuzz_*.py`` with ``HYPOTHESIS_PROFILE`` set (``long``
by default: the profile registered in ``tests/conftest.py``, random examples,
remembered in ``.hypothesis/`` so that a failure found once is tried first next
time) and hypothesis's statistics on, then prints, per property, the examples
run (passing, failing and invalid, over all phases), the seconds spent and why
it stopped; then the events the properties record (planned or rejected, the
known gaps ...).  Arguments after the options go to pytest as they are, e.g.
``-k plan`` or ``-x``.  On a failure, pytest's report comes first; the exit
code is pytest's.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FUZZ_TESTS = sorted(
    str(p.relative_to(ROOT)) for p in (ROOT / "tests" / "property").glob("test_fuzz_*.py")
)
STATISTICS = "Hypothesis Statistics"

_TEST_RE = re.compile(r"^(tests/\S+::\S+):$")
_PHASE_RE = re.compile(r"^\s+- during (\w+) phase \(([\d.]+) seconds\):")
_COUNTS_RE = re.compile(r"^\s+- (\d+) passing, (\d+) failing, and (\d+) invalid test cases")
_STOPPED_RE = re.compile(r"^\s+- Stopped because (.+)")
_EVENT_RE = re.compile(r"^\s+\* ([\d.]+%), (.+)")
_NOISE = ("Draw for ", "Retried draw ", "Aborted test ", "gave up because")
"""Events hypothesis records about its own drawing, not the properties'."""


@dataclass
class Property:
    """What hypothesis reported for one test."""

    name: str
    examples: int = 0
    failing: int = 0
    seconds: float = 0.0
    stopped: str = ""
    events: list[str] = field(default_factory=list)


def parse_statistics(text: str) -> list[Property]:
    """The properties of a ``--hypothesis-show-statistics`` report, in order."""
    found: list[Property] = []
    _, _, report = text.partition(STATISTICS)
    for line in report.splitlines():
        if match := _TEST_RE.match(line):
            found.append(Property(match.group(1)))
        elif not found:
            continue
        elif match := _PHASE_RE.match(line):
            found[-1].seconds += float(match.group(2))
        elif match := _COUNTS_RE.match(line):
            passing, failing, invalid = (int(n) for n in match.groups())
            found[-1].examples += passing + failing + invalid
            found[-1].failing += failing
        elif match := _STOPPED_RE.match(line):
            found[-1].stopped = match.group(1)
        elif (match := _EVENT_RE.match(line)) and not match.group(2).startswith(_NOISE):
            found[-1].events.append(f"{match.group(1):>7}  {match.group(2)[:90]}")
    return found


def render(properties: list[Property], profile: str, wall: float) -> str:
    width = max((len(p.name) for p in properties), default=10)
    lines = [
        f"Fuzz properties, profile {profile!r} ({wall:.1f} s wall time in all):",
        f"  {'property':<{width}}  {'examples':>8}  {'failing':>7}  {'seconds':>7}  stopped",
        f"  {'-' * width}  {'-' * 8}  {'-' * 7}  {'-' * 7}  -------",
    ]
    lines.extend(
        f"  {p.name:<{width}}  {p.examples:>8,}  {p.failing:>7}  {p.seconds:>7.1f}  {p.stopped}"
        for p in properties
    )
    total = sum(p.examples for p in properties)
    seconds = sum(p.seconds for p in properties)
    lines.append(f"  {'total':<{width}}  {total:>8,}  {'':>7}  {seconds:>7.1f}")
    for p in properties:
        if p.events:
            lines.append(f"\nEvents of {p.name}:")
            lines.extend(f"  {event}" for event in p.events)
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--profile", default="long", help="hypothesis profile (default: long)")
    options, pytest_args = parser.parse_known_args(argv)
    command = [
        sys.executable,
        "-m",
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        "--hypothesis-show-statistics",
        *FUZZ_TESTS,
        *pytest_args,
    ]
    env = {**os.environ, "HYPOTHESIS_PROFILE": options.profile}
    print(f"$ HYPOTHESIS_PROFILE={options.profile} pytest {' '.join(command[3:])}", flush=True)
    start = time.perf_counter()
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - start
    output = result.stdout + result.stderr
    before, _, _ = output.partition(STATISTICS)
    if result.returncode != 0:
        print(before.rstrip())
    summary = [line for line in output.splitlines() if re.search(r"\d+ (passed|failed)", line)]
    print(render(parse_statistics(output), options.profile, wall))
    print(f"\npytest: {summary[-1].strip('= ') if summary else 'no summary'}")
    return result.returncode


if __name__ == "__main__":
    sys.exit(main())
