"""The long oracle run: many seeded events planned by fbcli and by the destination's code.

    python bench/oracle.py [--events N] [--seed S] [--mode cloud|direct] [--show K]

Run it with the project's interpreter (``.venv/bin/python bench/oracle.py``).
For each mode it draws ``--events`` cases (default 50,000) from
``tests/oracle/corpus.py`` with ``--seed`` (default: a new one, printed, so a
run can be repeated), plans each with fbcli and with the Customer.io/Segment
destination's own published code (``tests/oracle/harness.js``, installed as
``tests/oracle/client.py`` says), and prints the agreement per mode: the share
of events for which both send the same call or both send nothing, then how
many of the others differ on purpose (``compare.known_difference``, with the
reason) and how many otherwise.  The first ``--show`` disagreements that are
not on purpose (default 5) are printed in full.  Exit code 1 when any event
disagrees other than on purpose, 2 when the oracle cannot run here.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BATCH = 2_000
"""Cases per request batch: the harness answers a batch while the next is prepared."""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=50_000, help="cases per mode")
    parser.add_argument("--seed", type=int, default=None, help="default: a random one")
    parser.add_argument("--mode", choices=("cloud", "direct"), action="append")
    parser.add_argument("--show", type=int, default=5, help="disagreements printed in full")
    args = parser.parse_args(argv)

    sys.path.insert(0, str(ROOT))  # tests/ is not installed: run from the checkout
    from fbcli.actions.base import Mode
    from tests.oracle.client import Unavailable, start_oracle
    from tests.oracle.compare import Tally, run_cases
    from tests.oracle.corpus import cases

    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(2**31)
    modes: list[Mode] = args.mode or ["cloud", "direct"]
    oracle = start_oracle()
    if isinstance(oracle, Unavailable):
        print(f"the oracle cannot run: {oracle.reason}", file=sys.stderr)
        return 2
    print(f"seed {seed}, {args.events:,} events per mode")
    tally = Tally()
    with oracle:
        for mode in modes:
            started = time.perf_counter()
            drawn = cases(seed, args.events, mode)
            for start in range(0, len(drawn), BATCH):
                run_cases(oracle, drawn[start : start + BATCH], tally=tally)
            seconds = time.perf_counter() - started
            compared = tally.compared.get(mode, 0)
            agreed = tally.agreed.get(mode, 0)
            known = sum(1 for result, _ in tally.known if result.case.mode == mode)
            unknown = sum(1 for result in tally.differences if result.case.mode == mode)
            print(
                f"{mode}: {agreed:,} of {compared:,} events agree "
                f"({100 * tally.rate(mode):.2f} %); {known:,} differ on purpose, "
                f"{unknown:,} otherwise; {seconds:.1f} s"
            )
    if tally.skipped:
        print(f"{tally.skipped:,} events fbcli's reader refuses were not compared")
    for reason, count in Counter(reason for _, reason in tally.known).most_common():
        print(f"on purpose ({count:,}): {reason}")
    for result in tally.differences[: args.show]:
        print()
        print(result.describe())
    return 1 if tally.differences else 0


if __name__ == "__main__":
    sys.exit(main())
