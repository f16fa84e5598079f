"""Replay the way people run it: several processes, signals from outside, the failed-file
workflow of docs/replay.md, renamed subscriptions, files that are links, pipes or the wrong thing.

Every test runs ``fbcli`` in real child processes against the emulator on
127.0.0.1, and counts what arrived: a purchase that arrives twice is a
referral reward paid twice.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from fbcli.emulator import Emulator, EmulatorConfig, parse_faults
from fbcli.ledger import Ledger, default_ledger_path, ledger_target

KEY = "7d1e4c2a-0000-4000-8000-0000000f1e1d"
SECRET = "field-secret-never-printed-4b7d"

GOOD_MAPPINGS = """\
version: 1
mode: cloud
subscriptions:
  - name: Customers
    action: trackCustomer
    trigger: type = "identify"
  - name: Purchases
    action: trackPurchase
    trigger: type = "track" and event = "Order Completed"
"""


def purchase(n: int, **extra: Any) -> dict[str, Any]:
    return {
        "type": "track",
        "event": "Order Completed",
        "messageId": f"m-{n}",
        "userId": f"u{n}",
        "properties": {"order_id": f"o{n}", "total": 10 + n, "currency": "USD", **extra},
    }


def gold(n: int) -> dict[str, Any]:
    """A customer the emulator refuses (400): loyaltyStatus must be in, out or blocked."""
    traits = {"email": f"u{n}@example.com", "loyaltyStatus": "gold"}
    return {"type": "identify", "messageId": f"g-{n}", "userId": f"u{n}", "traits": traits}


def write_events(path: Path, events: Sequence[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(e) + "\n" for e in events), encoding="utf-8")
    return path


@pytest.fixture
def state() -> Path:
    """The state folder the child processes share (the conftest's, for this test)."""
    return Path(os.environ["FBCLI_STATE_DIR"])


def env(**extra: str) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("FRIENDBUY_")}
    base.update(FRIENDBUY_MAPI_KEY=KEY, FRIENDBUY_MAPI_SECRET=SECRET, PYTHONUNBUFFERED="1", **extra)
    return base


def spawn(
    args: Sequence[str],
    *,
    cwd: Path,
    stdin: int | None = None,
    extra_env: dict[str, str] | None = None,
    prefix: Sequence[str] = (),
) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [*prefix, sys.executable, "-m", "fbcli", *args],
        cwd=cwd,
        env=env(**(extra_env or {})),
        stdin=stdin if stdin is not None else subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def run(
    args: Sequence[str],
    *,
    cwd: Path,
    timeout: float = 60,
    stdin_data: str | None = None,
    **kw: Any,
) -> tuple[int, str, str]:
    if stdin_data is not None:
        kw["stdin"] = subprocess.PIPE
    proc = spawn(args, cwd=cwd, **kw)
    out, err = proc.communicate(stdin_data, timeout=timeout)
    return proc.returncode, out, err


def wait_until(condition: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def orders(emu: Emulator) -> Counter[str]:
    """How many times each purchase (by order id) arrived."""
    return Counter(c.body["orderId"] for c in emu.calls() if c.path == "/v1/event/purchase")


@pytest.fixture
def emu() -> Iterator[Emulator]:
    with Emulator(EmulatorConfig(key=KEY, secret=SECRET, seed=11)) as emulator:
        yield emulator


def replay_args(path: Path, emu: Emulator, *more: str) -> list[str]:
    return ["replay", str(path), "--base-url", emu.base_url, "--format", "json", *more]


# -- 1. two replays at once ------------------------------------------------------------


def test_two_replays_started_together_send_each_call_once(tmp_path: Path, emu: Emulator) -> None:
    """A cron job and a manual run of the same backfill: one runs, the other is refused
    at once, naming the holder; together they deliver each of the 200 purchases once."""
    path = write_events(tmp_path / "e.jsonl", [purchase(n) for n in range(200)])
    args = replay_args(path, emu, "--rate", "100", "--burst", "5")
    first, second = spawn(args, cwd=tmp_path), spawn(args, cwd=tmp_path)
    results = {p.pid: (p, *p.communicate(timeout=60)) for p in (first, second)}
    codes = sorted(p.returncode for p, _, _ in results.values())
    assert codes == [0, 2], [err for _, _, err in results.values()]
    (winner,) = [p for p, _, _ in results.values() if p.returncode == 0]
    (_, _, refused_err) = next(r for r in results.values() if r[0].returncode == 2)
    assert f"the ledger is in use by another fbcli: pid {winner.pid} on " in refused_err
    assert "since 20" in refused_err
    assert "Hint: wait for it to finish, or add --wait" in refused_err
    arrived = orders(emu)
    assert len(arrived) == 200
    assert set(arrived.values()) == {1}


def test_wait_starts_when_the_holder_is_done_and_sends_nothing_twice(
    tmp_path: Path, emu: Emulator
) -> None:
    path = write_events(tmp_path / "e.jsonl", [purchase(n) for n in range(100)])
    holder = spawn(replay_args(path, emu, "--rate", "50"), cwd=tmp_path)
    wait_until(lambda: len(emu.calls()) >= 5)
    waiter = spawn(replay_args(path, emu, "--rate", "500", "--wait"), cwd=tmp_path)
    out_h, err_h = holder.communicate(timeout=60)
    out_w, err_w = waiter.communicate(timeout=60)
    assert holder.returncode == 0, err_h
    assert waiter.returncode == 0, err_w
    assert f"waiting for the ledger: in use by pid {holder.pid} on " in err_w
    assert json.loads(out_h)["sent"] == 100
    second = json.loads(out_w)
    assert (second["sent"], second["skipped_already_sent"]) == (0, 100)
    assert set(orders(emu).values()) == {1}


def test_the_lock_of_a_killed_replay_is_not_stale(tmp_path: Path, emu: Emulator) -> None:
    """SIGKILL leaves the lock file behind, but not the lock: the next run goes ahead."""
    path = write_events(tmp_path / "e.jsonl", [purchase(n) for n in range(80)])
    victim = spawn(replay_args(path, emu, "--rate", "40", "--concurrency", "4"), cwd=tmp_path)
    wait_until(lambda: len(emu.calls()) >= 10)
    victim.kill()
    victim.communicate(timeout=10)
    code, out, err = run(replay_args(path, emu, "--rate", "500"), cwd=tmp_path)
    assert code == 0, err
    assert json.loads(out)["skipped_already_sent"] >= 10 - 4
    arrived = orders(emu)
    assert len(arrived) == 80
    assert sum(arrived.values()) - 80 <= 4  # only the calls in flight at the kill


# -- 2. the default ledger is the target's: failed files, reruns, other spellings ------------


def test_the_readmes_failed_file_workflow_sends_nothing_twice(tmp_path: Path) -> None:
    """replay → replay FAILED_FILE → replay the original again, with answers lost on the way:
    no purchase arrives twice (before: 14 unsafe calls were sent twice)."""
    events = [purchase(n) for n in range(40)] + [gold(n) for n in range(5)]
    path = write_events(tmp_path / "e.jsonl", events)
    failed = tmp_path / "failed.jsonl"
    config = EmulatorConfig(key=KEY, secret=SECRET, seed=3, faults=parse_faults("drop-after=0.3"))
    with Emulator(config) as emu:
        fast = ("--rate", "500", "--burst", "10", "--max-attempts", "4")
        code, out, err = run(
            [*replay_args(path, emu, *fast), "--failed", str(failed)], cwd=tmp_path
        )
        first = json.loads(out)
        assert code == 1, err
        assert first["unknown"] > 0
        assert first["failed"] >= 5
        lines = failed.read_text(encoding="utf-8").splitlines()
        assert len(lines) == first["failed"] + first["unknown"]
        code, out, err = run(replay_args(failed, emu, *fast), cwd=tmp_path)
        again = json.loads(out)
        assert again["skipped_unknown"] == first["unknown"]  # the same rows: left alone
        code, out, err = run(replay_args(path, emu, *fast), cwd=tmp_path)
        third = json.loads(out)
        assert third["skipped_unknown"] == first["unknown"]
        assert third["sent"] == 0
        arrived = orders(emu)
    assert max(arrived.values()) == 1, [o for o, n in arrived.items() if n > 1]


def test_two_spellings_of_a_base_url_are_one_ledger(
    tmp_path: Path, emu: Emulator, state: Path
) -> None:
    path = write_events(tmp_path / "e.jsonl", [purchase(n) for n in range(5)])
    port = emu.base_url.rsplit(":", 1)[1]
    for url in (f"http://127.0.0.1:{port}", f"http://localhost:{port}/", f"HTTP://[::1]:{port}"):
        if url.startswith("HTTP://[::1]"):
            continue  # the emulator listens on IPv4 only; the ledger file is what matters
        code, out, err = run(["replay", str(path), "--base-url", url, "-f", "json"], cwd=tmp_path)
        assert code == 0, err
        assert json.loads(out)["sent"] in (0, 5)
    assert set(orders(emu).values()) == {1}
    (ledger,) = (state / "ledgers").glob("*.sqlite")
    assert ledger == default_ledger_path(ledger_target(f"http://[::1]:{port}"), state)


def test_a_ledger_of_fbcli_0_1_next_to_the_input_is_merged_and_nothing_resent(
    tmp_path: Path, emu: Emulator
) -> None:
    path = write_events(tmp_path / "e.jsonl", [purchase(n) for n in range(10)])
    code, _, err = run(
        replay_args(path, emu, "--ledger", str(tmp_path / "old.sqlite")), cwd=tmp_path
    )
    assert code == 0, err
    # What fbcli 0.1 left: version 1, the target as written (with its trailing slash).
    legacy = Path(f"{path}.fbcli-ledger.sqlite")
    (tmp_path / "old.sqlite").rename(legacy)
    with contextlib.closing(sqlite3.connect(legacy)) as db, db:
        db.execute("UPDATE meta SET value = '1' WHERE key = 'version'")
        db.execute("UPDATE calls SET target = ?", (emu.base_url + "/",))
    code, out, err = run(replay_args(path, emu), cwd=tmp_path)
    assert code == 0, err
    summary = json.loads(out)
    assert (summary["sent"], summary["skipped_already_sent"]) == (0, 10)
    assert f"merged 10 recorded calls of {legacy}" in err
    code, out, err = run(replay_args(path, emu), cwd=tmp_path)
    assert "merged" not in err  # once
    assert set(orders(emu).values()) == {1}


# -- 3. renamed subscriptions ----------------------------------------------------------


def test_a_renamed_subscription_does_not_resend(tmp_path: Path, emu: Emulator) -> None:
    path = write_events(tmp_path / "e.jsonl", [purchase(n) for n in range(12)])
    before = tmp_path / "before.yaml"
    before.write_text(GOOD_MAPPINGS, encoding="utf-8")
    after = tmp_path / "after.yaml"
    after.write_text(GOOD_MAPPINGS.replace("Purchases", "Track Purchase"), encoding="utf-8")
    code, out, err = run(
        [*replay_args(path, emu, "--lines", "1-8"), "-m", str(before)], cwd=tmp_path
    )
    assert json.loads(out)["sent"] == 8
    code, out, err = run([*replay_args(path, emu), "-m", str(after)], cwd=tmp_path)
    assert code == 0, err
    summary = json.loads(out)
    assert (summary["sent"], summary["skipped_already_sent"], summary["renamed"]) == (4, 8, 8)
    assert set(orders(emu).values()) == {1}
    code, out, err = run(["ledger", "list", "--format", "json"], cwd=tmp_path)
    rows = [json.loads(line) for line in out.splitlines()]
    assert {r["subscription"] for r in rows} == {"Track Purchase"}  # the ledger followed


AMBIGUOUS = """\
version: 1
mode: cloud
subscriptions:
  - name: {a}
    action: trackCustomEvent
    trigger: type = "track" and event = "Download"
  - name: {b}
    action: trackCustomEvent
    trigger: type = "track" and event = "Download" and properties.fileId != null
"""


def test_an_ambiguous_rename_is_refused_with_a_hint_until_told(
    tmp_path: Path, emu: Emulator
) -> None:
    download = {
        "type": "track",
        "event": "Download",
        "messageId": "d-1",
        "userId": "u1",
        "properties": {"email": "u1@example.com", "fileId": "f"},
    }
    path = write_events(tmp_path / "e.jsonl", [download])
    old = tmp_path / "old.yaml"
    old.write_text(AMBIGUOUS.format(a="Downloads", b="File downloads"), encoding="utf-8")
    new = tmp_path / "new.yaml"
    new.write_text(AMBIGUOUS.format(a="All downloads", b="Files"), encoding="utf-8")
    code, out, err = run([*replay_args(path, emu), "-m", str(old)], cwd=tmp_path)
    assert json.loads(out)["sent"] == 2
    code, out, err = run([*replay_args(path, emu), "-m", str(new)], cwd=tmp_path)
    assert code == 2
    assert "cannot tell whether 'All downloads' was already sent" in err
    assert "fbcli ledger rename OLD NEW" in err
    assert len(emu.calls()) == 2
    for a, b in (("Downloads", "All downloads"), ("File downloads", "Files")):
        code, out, err = run(["ledger", "rename", a, b], cwd=tmp_path)
        assert code == 0, err
    code, out, err = run([*replay_args(path, emu), "-m", str(new)], cwd=tmp_path)
    assert code == 0, err
    assert json.loads(out)["skipped_already_sent"] == 2
    assert len(emu.calls()) == 2


# -- 4. the ledger command -------------------------------------------------------------


def test_unknown_calls_are_decided_with_the_ledger_command(tmp_path: Path) -> None:
    path = write_events(tmp_path / "e.jsonl", [purchase(n) for n in range(20)])
    config = EmulatorConfig(key=KEY, secret=SECRET, seed=4, faults=parse_faults("drop-after=0.4"))
    with Emulator(config) as emu:
        code, out, err = run(replay_args(path, emu, "--rate", "500"), cwd=tmp_path)
        first = json.loads(out)
        assert code == 1
        assert first["unknown"] >= 3
        code, out, err = run(["ledger", "status", "--format", "json"], cwd=tmp_path)
        (row,) = json.loads(out)["ledgers"]
        assert row["target"] == ledger_target(emu.base_url)
        assert (row["sent"], row["unknown"]) == (first["sent"], first["unknown"])
        code, out, err = run(["ledger", "list", "--status", "unknown", "-f", "json"], cwd=tmp_path)
        unknown = [json.loads(line)["key"] for line in out.splitlines()]
        assert len(unknown) == first["unknown"]
        delivered, lost = unknown[0], unknown[1:]
        code, out, err = run(["ledger", "resolve", delivered, "--as", "delivered"], cwd=tmp_path)
        assert (code, out.strip()) == (0, "1 call marked delivered"), err
        code, out, err = run(
            ["ledger", "resolve", *lost, "--as", "not-delivered", "-f", "json"], cwd=tmp_path
        )
        assert json.loads(out) == {"changed": len(lost)}
        code, out, err = run(["ledger", "list", "--format", "json", delivered], cwd=tmp_path)
        (entry,) = [json.loads(line) for line in out.splitlines()]
        assert entry["status"] == "sent"
        assert entry["message"].startswith("marked delivered by hand (was unknown")
        port = int(emu.base_url.rsplit(":", 1)[1])
    # The lost ones go again (to the same target, now without faults); the delivered one not.
    with Emulator(EmulatorConfig(key=KEY, secret=SECRET, port=port)) as clean:
        code, out, err = run(replay_args(path, clean, "--rate", "500"), cwd=tmp_path)
        assert code == 0, err
        summary = json.loads(out)
        assert (summary["sent"], summary["skipped_already_sent"]) == (len(lost), 20 - len(lost))
        assert {c.body["orderId"] for c in clean.calls()} == {f"o{k[2:]}" for k in lost}
    code, out, err = run(["ledger", "forget", delivered], cwd=tmp_path)
    assert (code, out.strip()) == (0, "1 call forgotten")
    code, out, err = run(["ledger", "list", "--status", "unknown"], cwd=tmp_path)
    assert out.strip().endswith("0 calls")


def test_a_ledger_kept_elsewhere_is_merged_and_one_default_ledger_per_target(
    tmp_path: Path, emu: Emulator
) -> None:
    path = write_events(tmp_path / "e.jsonl", [purchase(n) for n in range(6)])
    kept = tmp_path / "kept.sqlite"
    code, out, err = run(replay_args(path, emu, "--ledger", str(kept)), cwd=tmp_path)
    assert json.loads(out)["sent"] == 6
    code, out, err = run(["ledger", "merge", str(kept), "--target", emu.base_url], cwd=tmp_path)
    assert (code, out.strip()) == (0, f"6 calls taken from {kept}"), err
    code, out, err = run(replay_args(path, emu), cwd=tmp_path)
    assert json.loads(out)["skipped_already_sent"] == 6
    code, out, err = run(["ledger", "status", "--format", "json"], cwd=tmp_path)
    assert [r["target"] for r in json.loads(out)["ledgers"]] == [ledger_target(emu.base_url)]
    code, out, err = run(["replay", str(path), "--emulator", "-f", "json"], cwd=tmp_path)
    assert json.loads(out)["sent"] == 6
    code, out, err = run(["ledger", "list"], cwd=tmp_path)
    assert code == 2
    assert "there are 2 ledgers: say which with --target URL or --emulator" in err
    code, out, err = run(["ledger", "list", "--emulator", "-f", "json"], cwd=tmp_path)
    assert len(out.splitlines()) == 6
    assert set(orders(emu).values()) == {1}


def default_ledger_of(tmp_path: Path, base_url: str) -> Path:
    return default_ledger_path(ledger_target(base_url), Path(os.environ["FBCLI_STATE_DIR"]))


def test_a_ledger_of_another_user_or_writable_by_others_is_refused(
    tmp_path: Path, emu: Emulator
) -> None:
    path = write_events(tmp_path / "e.jsonl", [purchase(1)])
    ledger = tmp_path / "l.sqlite"
    Ledger(ledger, target="x").close()
    ledger.chmod(0o666)
    code, _, err = run(replay_args(path, emu, "--ledger", str(ledger)), cwd=tmp_path)
    assert code == 2
    assert f"Error: the ledger can be written by other users (mode 0666) ({ledger})" in err
    assert f"Hint: chmod go-w {ledger}" in err
    ledger.chmod(0o600)
    if os.geteuid() == 0:
        os.chown(ledger, 4242, 4242)
        code, _, err = run(replay_args(path, emu, "--ledger", str(ledger)), cwd=tmp_path)
        assert code == 2
        assert f"Error: the ledger belongs to another user (uid 4242) ({ledger})" in err
    assert emu.calls() == []


def test_a_state_folder_others_can_write_is_refused(tmp_path: Path, emu: Emulator) -> None:
    path = write_events(tmp_path / "e.jsonl", [purchase(1)])
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    code, _, err = run(
        replay_args(path, emu), cwd=tmp_path, extra_env={"FBCLI_STATE_DIR": str(shared)}
    )
    assert code == 2
    assert "the ledger folder can be written by other users (mode 0777)" in err
    assert emu.calls() == []


# -- 5. signals from outside -------------------------------------------------------------


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGTERM, 143), (signal.SIGHUP, 129)])
def test_sigterm_and_sighup_stop_cleanly_and_lose_nothing(
    tmp_path: Path, emu: Emulator, signum: int, code: int
) -> None:
    """docker stop, systemd, CI cancel, a closed terminal: stop sending, record what finished,
    remove the copy of standard input, exit 128 + signal; reruns send each purchase once."""
    events = [purchase(n) for n in range(120)]
    data = "".join(json.dumps(e) + "\n" for e in events)
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    signals = 0
    source = tmp_path / "events.jsonl"
    source.write_text(data, encoding="utf-8")
    for _ in range(4):
        with source.open("rb") as stdin:  # standard input is copied: it cannot be read twice
            proc = spawn(
                ["replay", "-", "--base-url", emu.base_url, "-f", "json", "--rate", "60"],
                cwd=tmp_path,
                stdin=stdin.fileno(),
                extra_env={"TMPDIR": str(scratch)},
            )
        before = len(emu.calls())
        with contextlib.suppress(AssertionError):
            wait_until(lambda b=before: len(emu.calls()) >= b + 8, timeout=10)  # type: ignore[misc]
        started = time.monotonic()
        proc.send_signal(signum)
        out, err = proc.communicate(timeout=20)
        stopped_in = time.monotonic() - started
        if json.loads(out)["sent"] + json.loads(out)["skipped_already_sent"] == 120:
            break  # done before the signal landed
        signals += 1
        assert proc.returncode == code, err
        summary = json.loads(out)
        assert summary["signal"] == signal.Signals(signum).name
        assert summary["interrupted"] is True
        assert stopped_in < 5, stopped_in
        assert list(scratch.iterdir()) == []  # the copy of standard input is gone
    assert signals >= 2
    rc, out, err = run(replay_args_stdin(emu), cwd=tmp_path, stdin_data=data)
    assert rc == 0, err
    arrived = orders(emu)
    assert len(arrived) == 120
    assert set(arrived.values()) == {1}


def replay_args_stdin(emu: Emulator) -> list[str]:
    return ["replay", "-", "--base-url", emu.base_url, "--format", "json", "--rate", "500"]


def test_a_second_signal_abandons_the_calls_in_flight_as_unknown(tmp_path: Path) -> None:
    """A server that takes 8 s per answer: the second SIGTERM ends the run at once, and the
    purchases in flight are recorded as possibly delivered, so no rerun sends them again."""
    path = write_events(tmp_path / "e.jsonl", [purchase(n) for n in range(10)])
    config = EmulatorConfig(key=KEY, secret=SECRET, faults=parse_faults("slow=1@8"))
    with Emulator(config) as slow:
        proc = spawn(replay_args(path, slow, "--rate", "100", "--concurrency", "3"), cwd=tmp_path)
        wait_until(lambda: slow.stats()["requests"] >= 4)  # authorization and 3 calls
        started = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        time.sleep(0.3)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=20)
        assert time.monotonic() - started < 2.5
        assert proc.returncode == 143, err
        summary = json.loads(out)
        assert (summary["abandoned"], summary["unknown"], summary["sent"]) == (3, 3, 0)
        assert "abandoned while in flight" in summary["problems"][0]["message"]
        port = int(slow.base_url.rsplit(":", 1)[1])
    with Emulator(EmulatorConfig(key=KEY, secret=SECRET, port=port)) as emu:  # the same target
        code, out, err = run(replay_args(path, emu, "--rate", "100"), cwd=tmp_path)
        assert code == 1, err  # delivered what it sent, but 3 calls are still undecided
        rerun = json.loads(out)
        assert (rerun["skipped_unknown"], rerun["sent"]) == (3, 7)  # may have arrived: not resent
        assert "3 calls are still unknown from earlier runs" in err
        assert len(orders(emu)) == 7


def test_one_signal_gives_the_calls_in_flight_a_grace_period_then_abandons_them(
    tmp_path: Path,
) -> None:
    path = write_events(tmp_path / "e.jsonl", [purchase(n) for n in range(10)])
    # Every answer takes 9 s (the authorization's too): the calls are still in flight when
    # the 5 s grace after the signal is over.
    config = EmulatorConfig(key=KEY, secret=SECRET, faults=parse_faults("slow=1@9"))
    with Emulator(config) as emu:
        proc = spawn(replay_args(path, emu, "--concurrency", "2"), cwd=tmp_path)
        wait_until(lambda: emu.stats()["requests"] >= 3, timeout=30)
        started = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
        stopped_in = time.monotonic() - started
        assert proc.returncode == 143, err
        assert 4.5 <= stopped_in < 8, stopped_in  # the 5 s grace, then out
        summary = json.loads(out)
        assert (summary["abandoned"], summary["unknown"]) == (2, 2)


def test_sigterm_stops_validate_with_143_and_no_traceback(tmp_path: Path) -> None:
    path = write_events(tmp_path / "e.jsonl", [purchase(n) for n in range(200_000)])
    proc = spawn(["validate", str(path), "--jobs", "1"], cwd=tmp_path)
    time.sleep(1.0)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=20)
    assert proc.returncode == 143, err
    assert out.count("\n") < 200_000  # stopped part-way
    assert err.strip().endswith("Stopped (SIGTERM).")
    assert "Traceback" not in err


# -- 6. files ------------------------------------------------------------------------------


def _refused(code: int, err: str, emu: Emulator, text: str) -> None:
    assert code == 2, err
    assert text in err, err
    assert emu.calls() == []


def test_the_failed_file_is_never_a_link_a_device_the_ledger_or_an_input(
    tmp_path: Path, emu: Emulator
) -> None:
    path = write_events(tmp_path / "e.jsonl", [purchase(n) for n in range(5)] + [gold(1)])
    ledger = tmp_path / "l.sqlite"
    code, _, err = run(
        replay_args(path, emu, "--ledger", str(ledger), "--lines", "1"), cwd=tmp_path
    )
    assert code == 0, err
    emu.calls()  # one purchase arrived
    kept = ledger.read_bytes()
    base = [*replay_args(path, emu, "--ledger", str(ledger)), "--failed"]
    target = tmp_path / "victim.txt"
    target.write_text("keep me", encoding="utf-8")
    link = tmp_path / "link.jsonl"
    link.symlink_to(target)
    hard = tmp_path / "hard.jsonl"
    os.link(path, hard)
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    cases = {
        str(link): "is a symbolic link",
        "/dev/null": "is not a regular file",
        str(fifo): "is not a regular file",
        str(tmp_path): "is not a regular file",
        str(ledger): "must not be the ledger",
        f"{ledger}-wal": "must not be the ledger's -wal file",
        f"{ledger}.lock": "must not be the ledger's lock note",
        str(hard): f"must not be an input ({path})",
        str(tmp_path / "." / "e.jsonl"): f"must not be an input ({path})",
    }
    before = len(emu.calls())
    for failed, why in cases.items():
        code, _, err = run([*base, failed], cwd=tmp_path, timeout=20)
        assert code == 2, (failed, err)
        assert why in err, (failed, err)
    assert len(emu.calls()) == before
    assert target.read_text(encoding="utf-8") == "keep me"
    assert path.read_bytes() == hard.read_bytes() != b""
    assert ledger.read_bytes()[:100] == kept[:100]
    code, out, err = run(replay_args(path, emu, "--ledger", str(ledger)), cwd=tmp_path)
    assert json.loads(out)["skipped_already_sent"] == 1  # the ledger still knows


def test_a_full_disk_on_the_failed_file_stops_like_a_full_ledger(
    tmp_path: Path, emu: Emulator
) -> None:
    """Each refused event is 100 KB, so the failed file reaches the size limit of the
    process (RLIMIT_FSIZE, a disk full there) long before the ledger does."""
    padding = "x" * 100_000
    refused = [{**gold(n), "traits": {**gold(n)["traits"], "note": padding}} for n in range(30)]
    path = write_events(tmp_path / "e.jsonl", refused)
    failed = tmp_path / "failed.jsonl"
    # Python ignores SIGXFSZ: a write past the limit fails with EFBIG, as on a full disk.
    code, out, err = run(
        [*replay_args(path, emu, "--rate", "500", "--concurrency", "2"), "--failed", str(failed)],
        cwd=tmp_path,
        prefix=["prlimit", "--fsize=1000000:1000000"],
    )
    assert code == 2, err
    said = err
    lines = err.splitlines()
    assert lines[0].startswith("Error: cannot write the failed file: File too large (")
    assert "sending stopped:" in lines[1]
    assert "could not be written to the failed file" in lines[1]
    assert "fbcli ledger list --status failed" in lines[1]
    assert "Traceback" not in err
    assert len(emu.calls()) == 0  # refused by MAPI: none was accepted
    code, out, err = run(["ledger", "list", "--status", "failed", "-f", "json"], cwd=tmp_path)
    in_ledger = len(out.splitlines())
    assert 9 <= in_ledger < 30  # every outcome is in the ledger; sending stopped
    written = [json.loads(line) for line in failed.read_text(encoding="utf-8").splitlines()]
    assert all(r["kind"] == "fbcli.failed-call" for r in written)  # whole lines only
    missing = in_ledger - len(written)
    assert f"sending stopped: {missing} call{'s' if missing != 1 else ''} not delivered" in said
    code, out, err = run(replay_args(failed, emu, "--rate", "500"), cwd=tmp_path)
    assert json.loads(out)["malformed"] == 0  # the failed file replays as it is


def test_named_pipes_and_process_substitution_are_read_twice(tmp_path: Path, emu: Emulator) -> None:
    events = [purchase(n) for n in range(30)]
    data = "".join(json.dumps(e) + "\n" for e in events)
    fifo = tmp_path / "events.fifo"
    os.mkfifo(fifo)

    def feed() -> None:
        with fifo.open("w", encoding="utf-8") as out:
            out.write(data)

    writer = threading.Thread(target=feed)
    writer.start()
    code, out, err = run(replay_args(fifo, emu, "--rate", "500"), cwd=tmp_path)
    writer.join(timeout=10)
    assert code == 0, err
    assert json.loads(out)["sent"] == 30
    source = write_events(tmp_path / "more.jsonl", [purchase(n) for n in range(30, 40)])
    shell = (
        f"{sys.executable} -m fbcli replay <(cat {source}) --base-url {emu.base_url} "
        "--format json --rate 500"
    )
    done = subprocess.run(
        ["bash", "-c", shell], cwd=tmp_path, env=env(), capture_output=True, text=True,
        timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["sent"] == 10
    assert set(orders(emu).values()) == {1}
    assert len(orders(emu)) == 40


# -- 7. a reader that goes away: the exit code still says what happened ------------------------


@pytest.mark.parametrize(
    "command",
    [
        "validate {samples}/events.jsonl -m {repo}/mappings.yaml",
        "dry-run {samples}/events.jsonl -m {repo}/mappings.yaml",
        "dry-run {samples}/events.jsonl -m {repo}/mappings.yaml --format json",
    ],
)
def test_a_closed_stdout_keeps_the_exit_code(tmp_path: Path, command: str) -> None:
    from tests.support import REPO, SAMPLES

    args = command.format(samples=SAMPLES, repo=REPO)
    shell = f"{sys.executable} -m fbcli {args} | head -c 1 >/dev/null; echo ${{PIPESTATUS[0]}}"
    done = subprocess.run(
        ["bash", "-c", shell], cwd=tmp_path, env=env(COLUMNS="80"), capture_output=True,
        text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.stdout.strip() == "1", done.stderr  # as the full run: the samples hold mistakes
    assert "Traceback" not in done.stderr
    assert "BrokenPipe" not in done.stderr


def test_a_replay_whose_reader_goes_away_finishes_and_says_so(tmp_path: Path) -> None:
    from tests.support import REPO, SAMPLES

    shell = (
        f"{sys.executable} -m fbcli replay {SAMPLES}/events.jsonl -m {REPO}/mappings.yaml "
        "--emulator --skip-invalid --rate 100 2>&1 | head -c 1 >/dev/null; echo ${PIPESTATUS[0]}"
    )
    done = subprocess.run(
        ["bash", "-c", shell], cwd=tmp_path, env=env(), capture_output=True, text=True,
        timeout=60, check=False,
    )  # fmt: skip
    assert done.stdout.strip() == "4", done.stderr
    code, out, _ = run(["ledger", "status", "--emulator", "--format", "json"], cwd=tmp_path)
    assert code == 0
    (row,) = json.loads(out)["ledgers"]
    assert row["sent"] == 7  # every call was sent and recorded, though no one read a line


def test_a_pipe_as_the_ledger_is_refused_before_a_lock_file_is_made_beside_it(
    tmp_path: Path, emu: Emulator
) -> None:
    path = write_events(tmp_path / "e.jsonl", [purchase(1)])
    fifo = tmp_path / "ledger.fifo"
    os.mkfifo(fifo)
    code, _, err = run(replay_args(path, emu, "--ledger", str(fifo)), cwd=tmp_path, timeout=20)
    _refused(code, err, emu, "the ledger is not a regular file (a device or a pipe)")
    assert not Path(f"{fifo}.lock").exists()


# -- found by attacking the above ------------------------------------------------------------


def test_two_names_of_one_ledger_are_one_lock(tmp_path: Path, emu: Emulator) -> None:
    """A symbolic link and a hard link to the ledger: the second replay is refused.

    The holder has 10 s of calls to make, so a busy machine still asks while it runs."""
    path = write_events(tmp_path / "e.jsonl", [purchase(n) for n in range(200)])
    for folder in ("a", "b", "c"):
        (tmp_path / folder).mkdir(mode=0o700)
    ledger = tmp_path / "a" / "ledger.sqlite"
    (tmp_path / "b" / "alias.sqlite").symlink_to(ledger)
    holder = spawn(replay_args(path, emu, "--rate", "20", "--ledger", str(ledger)), cwd=tmp_path)
    wait_until(lambda: len(emu.calls()) >= 2)
    os.link(ledger, tmp_path / "c" / "hard.sqlite")
    for other in (tmp_path / "b" / "alias.sqlite", tmp_path / "c" / "hard.sqlite"):
        code, _, err = run(replay_args(path, emu, "--ledger", str(other)), cwd=tmp_path)
        assert code == 2, err
        assert "the ledger is in use by another fbcli" in err
    holder.communicate(timeout=60)
    assert set(orders(emu).values()) == {1}


def test_a_failed_file_replayed_with_another_ledger_keeps_unknown_calls_unknown(
    tmp_path: Path,
) -> None:
    """The failed file of a CI run replayed on a laptop (another state folder): the calls it
    says ended unknown are not resent without --retry-unknown."""
    path = write_events(tmp_path / "e.jsonl", [purchase(n) for n in range(20)])
    failed = tmp_path / "failed.jsonl"
    config = EmulatorConfig(key=KEY, secret=SECRET, seed=5, faults=parse_faults("drop-after=0.4"))
    with Emulator(config) as emu:
        code, out, _ = run(
            [*replay_args(path, emu, "--rate", "500"), "--failed", str(failed)], cwd=tmp_path
        )
        unknown = json.loads(out)["unknown"]
        assert unknown > 0
        laptop = {"FBCLI_STATE_DIR": str(tmp_path / "laptop")}
        code, out, err = run(replay_args(failed, emu), cwd=tmp_path, extra_env=laptop)
        assert code == 1, err
        assert json.loads(out)["skipped_unknown"] == unknown
        assert max(orders(emu).values()) == 1


def test_a_failed_file_line_whose_call_no_longer_applies_is_counted(
    tmp_path: Path, emu: Emulator
) -> None:
    path = write_events(tmp_path / "e.jsonl", [gold(n) for n in range(3)])
    failed = tmp_path / "failed.jsonl"
    code, out, _ = run([*replay_args(path, emu), "--failed", str(failed)], cwd=tmp_path)
    assert json.loads(out)["failed"] == 3
    purchases_only = tmp_path / "p.yaml"
    purchases_only.write_text(GOOD_MAPPINGS.replace("trackCustomer", "trackSignUp"), "utf-8")
    code, out, err = run([*replay_args(failed, emu), "-m", str(purchases_only)], cwd=tmp_path)
    assert code == 0, err
    assert json.loads(out)["unmatched"] == 3


@pytest.mark.parametrize("what", ["stdin", "mapping", "secret"])
def test_the_failed_file_is_never_standard_input_the_mapping_or_the_secret_file(
    tmp_path: Path, emu: Emulator, what: str
) -> None:
    path = write_events(tmp_path / "e.jsonl", [purchase(1), gold(1)])
    mapping = tmp_path / "m.yaml"
    mapping.write_text(GOOD_MAPPINGS, encoding="utf-8")
    secret = tmp_path / "secret"
    secret.write_text(SECRET, encoding="utf-8")
    secret.chmod(0o600)
    victim = {"stdin": path, "mapping": mapping, "secret": secret}[what]
    before = victim.read_bytes()
    args = ["replay", "-" if what == "stdin" else str(path), "-m", str(mapping)]
    args += ["--base-url", emu.base_url, "--failed", str(victim)]
    if what == "secret":
        args += ["--secret-file", str(secret)]
    with path.open("rb") as stdin:
        proc = spawn(args, cwd=tmp_path, stdin=stdin.fileno())
        _, err = proc.communicate(timeout=60)
    assert proc.returncode == 2, err
    assert "--failed must not be" in err
    assert victim.read_bytes() == before
    assert emu.calls() == []


def test_a_legacy_ledger_beside_another_input_of_the_folder_is_merged(
    tmp_path: Path, emu: Emulator
) -> None:
    """fbcli 0.1 kept one ledger, beside the first input of a run (a.jsonl): a later replay
    of b.jsonl alone still finds it."""
    a = write_events(tmp_path / "a.jsonl", [purchase(1)])
    b = write_events(tmp_path / "b.jsonl", [purchase(n) for n in range(2, 5)])
    legacy = Path(f"{a}.fbcli-ledger.sqlite")
    code, _, err = run(
        ["replay", str(a), str(b), "--base-url", emu.base_url, "--ledger", str(legacy)],
        cwd=tmp_path,
    )
    assert code == 0, err
    with contextlib.closing(sqlite3.connect(legacy)) as db, db:
        db.execute("UPDATE meta SET value = '1' WHERE key = 'version'")
    code, out, err = run(replay_args(b, emu), cwd=tmp_path)
    assert code == 0, err
    assert json.loads(out)["skipped_already_sent"] == 3
    assert set(orders(emu).values()) == {1}


def test_a_disabled_subscription_replaced_by_a_copy_is_a_rename(
    tmp_path: Path, emu: Emulator
) -> None:
    path = write_events(tmp_path / "e.jsonl", [purchase(n) for n in range(3)])
    v1 = tmp_path / "v1.yaml"
    v1.write_text(GOOD_MAPPINGS, encoding="utf-8")
    v2 = tmp_path / "v2.yaml"
    v2.write_text(
        GOOD_MAPPINGS.replace(
            '  - name: Purchases\n    action: trackPurchase\n    trigger: type = "track" and '
            'event = "Order Completed"\n',
            '  - name: Purchases\n    action: trackPurchase\n    trigger: type = "track" and '
            'event = "Order Completed"\n    enabled: false\n'
            '  - name: Purchases v2\n    action: trackPurchase\n    trigger: type = "track" and '
            'event = "Order Completed"\n',
        ),
        encoding="utf-8",
    )
    assert "Purchases v2" in v2.read_text(encoding="utf-8")
    run([*replay_args(path, emu), "-m", str(v1)], cwd=tmp_path)
    code, out, err = run([*replay_args(path, emu), "-m", str(v2)], cwd=tmp_path)
    assert code == 0, err
    assert json.loads(out)["skipped_already_sent"] == 3
    assert set(orders(emu).values()) == {1}


def test_force_does_not_send_a_call_twice_in_one_run(tmp_path: Path, emu: Emulator) -> None:
    path = write_events(tmp_path / "e.jsonl", [purchase(n) for n in range(3)])
    run(replay_args(path, emu), cwd=tmp_path)
    code, out, err = run([*replay_args(path, emu, "--force"), str(path)], cwd=tmp_path)
    assert code == 0, err
    summary = json.loads(out)
    assert (summary["sent"], summary["skipped_already_sent"]) == (3, 3)
    assert set(orders(emu).values()) == {2}  # the first run's, and --force's once


def test_a_ledger_in_a_folder_others_may_write_is_refused(tmp_path: Path, emu: Emulator) -> None:
    path = write_events(tmp_path / "e.jsonl", [purchase(1)])
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    code, _, err = run(replay_args(path, emu, "--ledger", str(shared / "l.sqlite")), cwd=tmp_path)
    _refused(code, err, emu, "the ledger's folder can be written by other users (mode 0777)")
    shared.chmod(0o1777)  # sticky, as /tmp: only a file's owner may replace it
    code, _, err = run(replay_args(path, emu, "--ledger", str(shared / "l.sqlite")), cwd=tmp_path)
    assert code == 0, err


def test_merging_a_ledger_into_itself_is_refused_and_merging_twice_changes_nothing(
    tmp_path: Path, emu: Emulator
) -> None:
    path = write_events(tmp_path / "e.jsonl", [purchase(1)])
    kept = tmp_path / "kept.sqlite"
    run(replay_args(path, emu, "--ledger", str(kept)), cwd=tmp_path)
    code, _, err = run(["ledger", "merge", str(kept), "--ledger", str(kept)], cwd=tmp_path)
    assert code == 2
    assert "cannot merge a ledger into itself" in err
    for _ in range(2):
        code, _, err = run(["ledger", "merge", str(kept), "--target", emu.base_url], cwd=tmp_path)
        assert code == 0, err
    code, out, _ = run(["ledger", "list", "--target", emu.base_url, "-f", "json"], cwd=tmp_path)
    (entry,) = [json.loads(line) for line in out.splitlines()]
    assert entry["attempts"] == 1


def test_closed_and_full_standard_streams_keep_the_exit_code(tmp_path: Path) -> None:
    from tests.support import REPO, SAMPLES

    replay = f"replay {SAMPLES}/events.jsonl -m {REPO}/mappings.yaml --emulator --skip-invalid"
    for redirect, code in (
        (">&-", "4"), ("2>&-", "4"), (">/dev/full", "4"), (">&- 2>&-", "4"),
    ):  # fmt: skip
        shell = f"{sys.executable} -m fbcli {replay} {redirect}; echo $?"
        done = subprocess.run(
            ["bash", "-c", shell], cwd=tmp_path, env=env(), capture_output=True, text=True,
            timeout=60, check=False,
        )  # fmt: skip
        assert done.stdout.strip().splitlines()[-1] == code, (redirect, done.stderr)
        assert "Traceback" not in done.stderr
    _, out, _ = run(["ledger", "status", "--emulator", "-f", "json"], cwd=tmp_path)
    assert json.loads(out)["ledgers"][0]["sent"] == 7  # the first run sent; the others skipped


def test_a_signal_right_after_start_exits_quietly(tmp_path: Path) -> None:
    """SIGTERM during start-up (imports, the mapping file): 143 and no traceback."""
    from tests.support import SAMPLES

    for delay in (0.0, 0.05, 0.1, 0.2, 0.3):
        proc = spawn(["validate", str(SAMPLES / "events.jsonl")], cwd=tmp_path)
        time.sleep(delay)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
        # -15: before Python ran a line of fbcli; 1: validate was done already.
        assert proc.returncode in (143, 1, -15), (delay, err)
        assert "Traceback" not in err, (delay, err)


def test_a_relative_state_folder_is_refused(tmp_path: Path, emu: Emulator) -> None:
    path = write_events(tmp_path / "e.jsonl", [purchase(1)])
    code, _, err = run(replay_args(path, emu), cwd=tmp_path, extra_env={"FBCLI_STATE_DIR": "st"})
    _refused(code, err, emu, "FBCLI_STATE_DIR must be an absolute path, not 'st'")
