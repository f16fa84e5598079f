"""Replay as people run it, measured: duplicates, seconds to stop, what was left behind.

    python bench/field.py [--source DIR] [--only NAME,...] [--json OUT]

Each scenario runs ``python -m fbcli`` in real child processes against the
emulator on 127.0.0.1 (in this process) and counts what arrived.  ``--source``
runs the fbcli found in another checkout instead (its folder is put first on
``PYTHONPATH``), so a run of an older commit and of this one, one after the
other, give the "before" and "after" of each figure:

    git worktree add /tmp/fbcli-old <commit>
    .venv/bin/python bench/field.py --source /tmp/fbcli-old
    .venv/bin/python bench/field.py

The scenarios use only options both versions know.  Figures:

- ``two-at-once``: two replays of the same 200 purchases started together (the
  same ledger): purchases that arrived twice.
- ``failed-file``: replay with answers lost on the way (``drop-after=0.3``) and
  400s, then ``replay FAILED_FILE``, then the original again: purchases that
  arrived twice.
- ``emulator-rerun``: ``replay --emulator`` twice: calls the second run sent.
- ``sigterm``: 8 SIGTERMs to a replay of standard input, each after a few
  calls (every answer takes 0.3 s, so calls are in flight), then a plain rerun:
  purchases that arrived twice, the exit codes, the slowest stop, and the
  copies of standard input left in the temporary folder.
- ``rename``: replay, rename the subscription in the mapping file, replay
  again: purchases sent again.
- ``failed-is-ledger``: ``--failed`` naming the ledger, then a rerun: purchases
  sent again.
- ``fifo``: a named pipe as input: calls sent (and whether it hung).
- ``pipe-exit``: ``fbcli validate ... | head -c 1``: the exit code (the full run
  exits 1).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(ROOT))

from fbcli.emulator import Emulator, EmulatorConfig, parse_faults  # noqa: E402

KEY = "0b3e5f1a-0000-4000-8000-00000000be7c"
SECRET = "bench-field-secret-5c2e"
MAPPINGS = """\
version: 1
mode: cloud
subscriptions:
  - name: {purchases}
    action: trackPurchase
    trigger: type = "track" and event = "Order Completed"
  - name: Customers
    action: trackCustomer
    trigger: type = "identify"
"""


def purchase(n: int) -> dict[str, Any]:
    return {
        "type": "track",
        "event": "Order Completed",
        "messageId": f"m-{n}",
        "userId": f"u{n}",
        "properties": {"order_id": f"o{n}", "total": 10 + n, "currency": "USD"},
    }


def gold(n: int) -> dict[str, Any]:
    traits = {"email": f"u{n}@example.com", "loyaltyStatus": "gold"}
    return {"type": "identify", "messageId": f"g-{n}", "userId": f"g{n}", "traits": traits}


class Field:
    """One scenario's folder, and how to run fbcli there."""

    def __init__(self, folder: Path, source: Path | None) -> None:
        self.folder = folder
        self.source = source
        self.state = folder / "state"
        self.tmp = folder / "tmp"
        self.tmp.mkdir()

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("FRIENDBUY_", "FBCLI_"))}
        env.update(
            FRIENDBUY_MAPI_KEY=KEY,
            FRIENDBUY_MAPI_SECRET=SECRET,
            FBCLI_STATE_DIR=str(self.state),
            TMPDIR=str(self.tmp),
            PYTHONUNBUFFERED="1",
        )
        if self.source is not None:
            env["PYTHONPATH"] = str(self.source)
        return env

    def events(self, name: str, events: Sequence[dict[str, Any]]) -> Path:
        path = self.folder / name
        path.write_text("".join(json.dumps(e) + "\n" for e in events), encoding="utf-8")
        return path

    def spawn(self, *args: str, stdin: Any = subprocess.DEVNULL) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [sys.executable, "-m", "fbcli", *args],
            cwd=self.folder,
            env=self.env(),
            stdin=stdin,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def run(self, *args: str, timeout: float = 120) -> tuple[int, str, str]:
        proc = self.spawn(*args)
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, err = proc.communicate()
            return -1, out, err + "\n(timed out)"
        return proc.returncode, out, err


def twice(emu: Emulator) -> int:
    """Purchases that arrived more than once (extra copies)."""
    counts = Counter(c.body["orderId"] for c in emu.calls() if c.path == "/v1/event/purchase")
    return sum(n - 1 for n in counts.values())


def wait_until(condition: Callable[[], bool], timeout: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def emulator(**kw: Any) -> Emulator:
    return Emulator(EmulatorConfig(key=KEY, secret=SECRET, **kw))


# -- the scenarios ---------------------------------------------------------------------


def two_at_once(field: Field) -> dict[str, Any]:
    path = field.events("e.jsonl", [purchase(n) for n in range(200)])
    with emulator() as emu:
        args = ("replay", str(path), "--base-url", emu.base_url, "--rate", "100", "--burst", "5")
        procs = [field.spawn(*args), field.spawn(*args)]
        codes = []
        for proc in procs:
            proc.communicate(timeout=120)
            codes.append(proc.returncode)
        return {"exit codes": sorted(codes), "purchases twice": twice(emu)}


def failed_file(field: Field) -> dict[str, Any]:
    path = field.events("e.jsonl", [purchase(n) for n in range(40)] + [gold(n) for n in range(5)])
    failed = field.folder / "failed.jsonl"
    with emulator(seed=3, faults=parse_faults("drop-after=0.3")) as emu:
        fast = ("--base-url", emu.base_url, "--rate", "500", "--burst", "10")
        field.run("replay", str(path), *fast, "--max-attempts", "4", "--failed", str(failed))
        field.run("replay", str(failed), *fast, "--max-attempts", "4")
        field.run("replay", str(path), *fast, "--max-attempts", "4")
        return {"purchases twice": twice(emu)}


def emulator_rerun(field: Field) -> dict[str, Any]:
    sample = ROOT / "sample_events" / "events.jsonl"
    args: tuple[str, ...] = ("replay", str(sample), "-m", str(ROOT / "mappings.yaml"))
    args = (*args, "--emulator", "--skip-invalid", "--format", "json")
    field.run(*args)
    code, out, err = field.run(*args)
    try:
        sent = json.loads(out)["sent"]
    except ValueError:
        sent = f"? ({err.strip()[:80]})"
    return {"second run sent": sent, "second exit code": code}


def sigterm(field: Field) -> dict[str, Any]:
    path = field.events("e.jsonl", [purchase(n) for n in range(200)])
    codes: list[int] = []
    slowest = 0.0
    with emulator(faults=parse_faults("slow=1@0.3")) as emu:  # answers take 0.3 s
        args = ("replay", "-", "--base-url", emu.base_url, "--rate", "30", "--ledger", "l.sqlite")
        for _ in range(8):
            with path.open("rb") as stdin:
                proc = field.spawn(*args, stdin=stdin)
            before = len(emu.calls())
            wait_until(lambda b=before: len(emu.calls()) >= b + 6)  # type: ignore[misc]
            started = time.monotonic()
            proc.send_signal(signal.SIGTERM)
            proc.communicate(timeout=120)
            slowest = max(slowest, time.monotonic() - started)
            codes.append(proc.returncode)
        field.run(
            "replay", str(path), "--base-url", emu.base_url, "--rate", "500", "--ledger", "l.sqlite"
        )
        left = sorted(p.name for p in field.tmp.iterdir())
        arrived = Counter(c.body["orderId"] for c in emu.calls())
        return {
            "purchases twice": twice(emu),
            "all 200 arrived": len(arrived) == 200,
            "exit codes": sorted(set(codes)),
            "slowest stop (s)": round(slowest, 2),
            "stdin copies left": len(left),
        }


def rename(field: Field) -> dict[str, Any]:
    path = field.events("e.jsonl", [purchase(n) for n in range(20)])
    old, new = field.folder / "old.yaml", field.folder / "new.yaml"
    old.write_text(MAPPINGS.format(purchases="Purchases"), encoding="utf-8")
    new.write_text(MAPPINGS.format(purchases="Track Purchase"), encoding="utf-8")
    with emulator() as emu:
        fast = ("--base-url", emu.base_url, "--rate", "500", "--ledger", "l.sqlite")
        field.run("replay", str(path), "-m", str(old), *fast)
        code, _, _ = field.run("replay", str(path), "-m", str(new), *fast)
        return {"purchases sent again": twice(emu), "exit code": code}


def failed_is_ledger(field: Field) -> dict[str, Any]:
    path = field.events("e.jsonl", [purchase(n) for n in range(50)] + [gold(1)])
    with emulator() as emu:
        fast = ("--base-url", emu.base_url, "--rate", "500", "--ledger", "l.sqlite")
        field.run("replay", str(path), *fast)
        code, _, _ = field.run("replay", str(path), *fast, "--failed", "l.sqlite")
        field.run("replay", str(path), *fast)
        return {"--failed LEDGER exit code": code, "purchases sent again": twice(emu)}


def fifo(field: Field) -> dict[str, Any]:
    events = [purchase(n) for n in range(30)]
    pipe = field.folder / "events.fifo"
    os.mkfifo(pipe)
    data = "".join(json.dumps(e) + "\n" for e in events)

    def feed() -> None:
        with contextlib.suppress(OSError), pipe.open("w", encoding="utf-8") as out:
            out.write(data)

    writer = threading.Thread(target=feed, daemon=True)
    writer.start()
    with emulator() as emu:
        code, _, _ = field.run(
            "replay", str(pipe), "--base-url", emu.base_url, "--rate", "500",
            "--ledger", "l.sqlite", timeout=30,
        )  # fmt: skip
        if code == -1:  # unblock the writer, if the reader hung
            with contextlib.suppress(OSError):
                fd = os.open(pipe, os.O_RDONLY | os.O_NONBLOCK)
                os.close(fd)
        return {"exit code": code, "calls sent (of 30)": len(emu.calls())}


def pipe_exit(field: Field) -> dict[str, Any]:
    sample = ROOT / "sample_events" / "events.jsonl"
    shell = (
        f"{sys.executable} -m fbcli validate {sample} -m {ROOT / 'mappings.yaml'} "
        "| head -c 1 >/dev/null; echo ${PIPESTATUS[0]}"
    )
    done = subprocess.run(
        ["bash", "-c", shell], cwd=field.folder, env=field.env(), capture_output=True,
        text=True, timeout=60, check=False,
    )  # fmt: skip
    return {"validate | head exit code (full run: 1)": done.stdout.strip()}


SCENARIOS: dict[str, Callable[[Field], dict[str, Any]]] = {
    "two-at-once": two_at_once,
    "failed-file": failed_file,
    "emulator-rerun": emulator_rerun,
    "sigterm": sigterm,
    "rename": rename,
    "failed-is-ledger": failed_is_ledger,
    "fifo": fifo,
    "pipe-exit": pipe_exit,
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, help="run the fbcli of this checkout")
    parser.add_argument("--only", help="comma-separated scenario names")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    names = args.only.split(",") if args.only else list(SCENARIOS)
    who = f"fbcli from {args.source}" if args.source else "this fbcli"
    print(f"{who}:")
    figures: dict[str, Any] = {}
    for name in names:
        with tempfile.TemporaryDirectory(prefix=f"fbcli-field-{name}-") as folder:
            started = time.monotonic()
            result = SCENARIOS[name](Field(Path(folder), args.source))
            result["seconds"] = round(time.monotonic() - started, 1)
        figures[name] = result
        print(f"  {name:18} " + " · ".join(f"{k}: {v}" for k, v in result.items()), flush=True)
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
