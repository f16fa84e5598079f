"""The dry-run table against ``--format json``: wall times and their ratio, side by side.

    python bench/table.py [--events 100000] [--columns 80,120] [--runs 1]

Run it with the project's interpreter (``.venv/bin/python bench/table.py``).  The
event file is ``bench/generate.py``'s (seed 1, ~10 % broken lines), cached in
``bench/.data/`` as ``bench/run.py`` caches it.  Each measured run is one
``fbcli dry-run`` process (default ``--jobs``), its output written to a file in a
temporary folder, ``COLUMNS`` set to the width (the table's layout depends on it;
JSON's does not).  Wall time includes interpreter start-up.  With ``--runs N`` the
median of N runs is shown.  The target: the table takes at most 3 times as long
as JSON on 100,000 events.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
DATA = BENCH / ".data"
SEED = 1
TARGET = 3.0


def data_file(events: int) -> Path:
    """The cached event file for ``events`` lines (the one ``bench/run.py`` uses)."""
    path = DATA / f"mixed-{events}-seed{SEED}.jsonl"
    if not path.exists():
        DATA.mkdir(parents=True, exist_ok=True)
        command = [sys.executable, str(BENCH / "generate.py"), str(path)]
        subprocess.run([*command, "--events", str(events), "--seed", str(SEED)], check=True)
    return path


def timed(args: list[str], *, columns: int, out: Path) -> float:
    """Seconds ``fbcli ARGS > out`` took (exit 0 or 1: problems in the data are expected)."""
    env = {**os.environ, "COLUMNS": str(columns)}
    env.pop("NO_COLOR", None)
    started = time.perf_counter()
    with out.open("wb") as stream:
        done = subprocess.run(
            [sys.executable, "-m", "fbcli", *args], stdout=stream, env=env, cwd=ROOT, check=False
        )
    elapsed = time.perf_counter() - started
    if done.returncode not in (0, 1):
        sys.exit(f"fbcli {' '.join(args)} exited {done.returncode}")
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--columns", default="80,120", help="widths, comma-separated")
    parser.add_argument("--runs", type=int, default=1)
    args = parser.parse_args()
    path = data_file(args.events)
    base = ["dry-run", str(path), "-m", str(ROOT / "mappings.yaml")]
    widths = [int(w) for w in args.columns.split(",")]
    print(f"{args.events:,} events ({path.name}), load average {os.getloadavg()[0]:.2f}")
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "out"
        json_time = statistics.median(
            timed([*base, "--format", "json"], columns=widths[0], out=out) for _ in range(args.runs)
        )
        print(f"  json             {json_time:7.2f} s  ({out.stat().st_size / 1e6:,.0f} MB)")
        worst = 0.0
        for width in widths:
            table_time = statistics.median(
                timed(base, columns=width, out=out) for _ in range(args.runs)
            )
            ratio = table_time / json_time
            worst = max(worst, ratio)
            print(
                f"  table, {width:3} cols {table_time:7.2f} s  ({out.stat().st_size / 1e6:,.0f} MB)"
                f"  ratio {ratio:.2f}"
            )
    verdict = "within" if worst <= TARGET else "over"
    print(f"worst ratio {worst:.2f}: {verdict} the target of {TARGET:g}")
    return 0 if worst <= TARGET else 1


if __name__ == "__main__":
    sys.exit(main())
