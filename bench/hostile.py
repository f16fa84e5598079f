"""Issue 10, measured: ``fbcli replay`` against a MAPI that trickles or floods its answers.

    python bench/hostile.py [--source DIR] [--size-mb N] [--timeout S] [--json OUT]

Run it with the project's interpreter (``.venv/bin/python bench/hostile.py``).
Each scenario is one real ``fbcli replay`` process (``python -m fbcli``) sending
one purchase, with ``--read-timeout 2 --max-call-time 5``, to a scripted server
of ``tests/hostile.py`` on 127.0.0.1:

- ``call-trickle``: the authorization is answered at once; the purchase's
  answer comes one byte a second from its status line on (the issue's case).
- ``auth-trickle``: the authorization's answer comes one byte a second.
- ``call-flood``: the purchase is answered 201 with a body of ``--size-mb``
  MiB (chunked, so that no ``Content-Length`` gives it away).
- ``auth-flood``: the authorization is answered 200 with such a body.

``--source DIR`` runs the fbcli of another checkout instead (it goes first on
``PYTHONPATH``), to measure before a change, e.g. the main branch::

    mkdir /tmp/before && git archive main | tar -x -C /tmp/before
    .venv/bin/python bench/hostile.py --source /tmp/before

Printed per scenario: wall seconds (start-up included), exit code, the peak
RSS of the fbcli process (``ru_maxrss``, through ``bench/run.py``'s
``measure``), and the outcome (the summary's counts, or the error line).  A
run longer than ``--timeout`` is killed and marked so.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
KEY = "bench-key"
SECRET = "bench-secret-0123456789"
MIB = 1024 * 1024


def scenarios(size: int) -> dict[str, dict[str, Any]]:
    """Each scenario's server scripts, by name."""
    from tests.support.hostile import event_response, flood, reply, token_response, trickle

    auth, purchase = "/v1/authorization", "/v1/event/purchase"
    return {
        "call-trickle": {
            auth: reply(token_response()),
            purchase: trickle(event_response(), interval=1),
        },
        "auth-trickle": {
            auth: trickle(token_response(), interval=1),
            purchase: reply(event_response()),
        },
        "call-flood": {
            auth: reply(token_response()),
            purchase: flood(201, size, framing="chunked"),
        },
        "auth-flood": {auth: flood(200, size, framing="chunked")},
    }


def child_env(source: str | None) -> dict[str, str]:
    """The environment of the fbcli processes: bench credentials, and ``source`` first on
    ``PYTHONPATH`` (they run with ``python -P``, so the working directory does not come
    first)."""
    from run import child_env as bench_env  # bench/run.py

    env = bench_env()
    env.update(FRIENDBUY_MAPI_KEY=KEY, FRIENDBUY_MAPI_SECRET=SECRET)
    if source:
        env["PYTHONPATH"] = str(Path(source).resolve())
    return env


def run(name: str, scripts: dict[str, Any], args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    """One scenario: its server, one fbcli replay process, the figures."""
    from run import measure  # bench/run.py

    from tests.support.hostile import HostileServer

    events = tmp / f"{name}.jsonl"
    event = {
        "type": "track",
        "event": "Order Completed",
        "messageId": f"m-{name}",
        "userId": "u1",
        "properties": {"order_id": "o1", "total": 10, "currency": "USD"},
    }
    events.write_text(json.dumps(event) + "\n", encoding="utf-8")
    env = child_env(args.source)
    with HostileServer(scripts) as server:
        command = [
            sys.executable, "-P", "-m", "fbcli", "replay", str(events),
            "--base-url", server.base_url, "--ledger", str(tmp / f"{name}.sqlite"),
            "--read-timeout", "2", "--max-call-time", "5", "--format", "json",
        ]  # fmt: skip
        done = measure(command, timeout=args.timeout, capture=True, env=env)
    summary = done.json_out()
    if summary:
        keys = ("sent", "unknown", "failed")
        outcome = ", ".join(f"{key} {summary[key]}" for key in keys if summary.get(key))
    else:
        outcome = done.stderr_tail.splitlines()[-1] if done.stderr_tail else ""
    return {
        "scenario": name,
        "wall_s": round(done.wall_s, 2),
        "exit_code": done.exit_code,
        "timed_out": done.timed_out,
        "max_rss_mb": round(done.max_rss_mb, 1),
        "outcome": outcome,
        "requests": server.paths,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--source", help="an fbcli checkout to measure instead of this one")
    parser.add_argument("--size-mb", type=int, default=300, help="flood size in MiB (300)")
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds per run (600)")
    parser.add_argument("--only", action="append", help="run only this scenario (repeatable)")
    parser.add_argument("--json", type=Path, help="also write the rows to this file")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT))  # the scripted servers live in tests/
    sys.path.insert(0, str(BENCH))  # measure() lives in bench/run.py
    where = subprocess.run(
        [sys.executable, "-P", "-c", "import fbcli; print(fbcli.__file__)"],
        env=child_env(args.source),
        capture_output=True,
        text=True,
        check=True,
    )
    print(f"fbcli measured: {Path(where.stdout.strip()).parent}", flush=True)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, scripts in scenarios(args.size_mb * MIB).items():
            if args.only and name not in args.only:
                continue
            row = run(name, scripts, args, Path(tmp))
            rows.append(row)
            print(
                f"{name:13} {row['wall_s']:8.2f} s  exit {row['exit_code']}"
                f"{' (killed)' if row['timed_out'] else ''}  "
                f"RSS {row['max_rss_mb']:8.1f} MB  {row['outcome']}",
                flush=True,
            )
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
