"""Replay under 429s and pauses: the adaptive limiter with the real ``Sender``.

Most tests run a whole replay in virtual time against a model server
(``tests/throttle_sim.py``): deterministic, a fraction of a second each.  A
few run for real, bounded to seconds: ``fbcli replay`` in a child process
against the emulator on 127.0.0.1 (this process), stopped and continued with
SIGSTOP/SIGCONT, interrupted with SIGINT.  The figures over longer runs, and
those of the previous algorithm, are ``bench/throttle.py``'s.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from subprocess import PIPE, Popen
from typing import Any

import pytest

from fbcli.emulator import Emulator, EmulatorConfig, RecordedCall, parse_faults
from tests.support.throttle_sim import Run, ServerModel, Storm, simulate

KEY = "5e2b1a4c-0000-4000-8000-00000000f10d"
SECRET = "throttle-secret-never-printed-1c9a"


def busiest_second(times: Sequence[float]) -> int:
    """The most times in any closed window ``[t, t + 1]``."""
    ordered = sorted(times)
    best, lo = 0, 0
    for hi, t in enumerate(ordered):
        while ordered[lo] < t - 1.0:
            lo += 1
        best = max(best, hi - lo + 1)
    return best


def check_the_hard_bound(run: Run, rate: float, burst: int = 1) -> None:
    """No one-second window of attempt starts holds more than ``rate + burst``."""
    assert busiest_second(run.starts) <= rate + burst


# -- in virtual time ------------------------------------------------------------------------


def test_near_a_limit_the_rate_settles_just_under_it() -> None:
    """(a) 80 calls/s allowed (a leaky bucket of 10), --rate 100 --concurrency 8."""
    run = simulate(ServerModel(limit=80, burst=10), rate=100, seconds=20)
    assert run.share(80) >= 0.95
    assert run.share(80, start=5) >= 0.95  # steady state, not only the start
    assert 0.9 * 80 <= run.limiter.current_rate <= 1.15 * 80
    assert len(run.server.refused) <= 0.05 * len(run.server.admitted)
    check_the_hard_bound(run, 100)


def test_near_a_strict_limit_too() -> None:
    """A leaky bucket of 1: two calls closer than 12.5 ms get 429, jitter or not."""
    run = simulate(ServerModel(limit=80, burst=1), rate=100, seconds=20)
    assert run.share(80) >= 0.8
    check_the_hard_bound(run, 100)


def test_isolated_429s_do_not_slow_replay_down() -> None:
    """(b) 1 % of the answers are 429 (Retry-After: 1), no limit."""
    run = simulate(ServerModel(random_429=0.01), rate=100, seconds=20)
    assert run.share(100) >= 0.95
    assert len(run.server.refused) >= 10  # there were 429s
    assert all(o.status == "sent" for o in run.outcomes)
    check_the_hard_bound(run, 100)


@pytest.mark.parametrize("retry_after", [True, False])
def test_after_a_storm_the_rate_is_back_within_seconds(retry_after: bool) -> None:
    """(c) every request refused for 2 s, with Retry-After (the seconds left) or without."""
    storm = Storm(5.0, 7.0, retry_after)
    run = simulate(ServerModel(storms=[storm]), rate=100, seconds=12)
    assert run.admitted_between(0, 5) >= 0.95 * 500
    assert run.admitted_between(storm.end + 1, storm.end + 2) >= 90
    assert run.admitted_between(storm.end + 2, 12) >= 0.95 * 100 * (12 - storm.end - 2)
    if retry_after:  # everybody paused as Retry-After said: a handful of 429s, no more
        assert len(run.server.refused) <= 8 + 4
    check_the_hard_bound(run, 100)


def test_a_server_that_keeps_refusing_gets_a_pause_per_retry_after_and_the_floor() -> None:
    """(d) a real overload: every request refused from 2 s on, with Retry-After: 1."""
    storms = [Storm(2.0 + k, 3.0 + k, True) for k in range(60)]  # Retry-After: 1 each time
    run = simulate(ServerModel(storms=storms), rate=100, seconds=20)
    assert run.limiter.current_rate == pytest.approx(100 / 20)  # the floor
    during = [t for t in run.server.refused if 2.0 <= t < 20.0]
    assert len(during) <= 25  # 18 s: about one attempt per pause, not 100 per second
    assert busiest_second([t for t in run.starts if 3.0 <= t < 20.0]) <= 2


def test_a_limit_far_below_the_rate_is_found_without_hammering() -> None:
    """A server allowing 10 calls/s for --rate 100: down to the floor, then near 10."""
    run = simulate(ServerModel(limit=10, burst=1), rate=100, seconds=20)
    assert run.share(10, start=10) >= 0.7
    assert 5 <= run.limiter.current_rate <= 13
    assert len(run.server.refused) <= 0.3 * len(run.server.admitted)
    check_the_hard_bound(run, 100)


# -- for real: replay in a child process, the emulator here -------------------------------


def _events(path: Path, count: int) -> str:
    """``count`` customer events (one upsert call each)."""
    lines = (
        json.dumps(
            {
                "type": "identify",
                "messageId": f"m-{n}",
                "userId": f"u{n}",
                "traits": {"email": f"u{n}@example.com"},
            }
        )
        for n in range(count)
    )
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return str(path)


@contextmanager
def _replay(path: str, emu: Emulator, tmp: Path, *options: str) -> Iterator[Popen[str]]:
    """``fbcli replay`` in a child process, killed on the way out if it is still running."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("FRIENDBUY_")}
    env.update(FRIENDBUY_MAPI_KEY=KEY, FRIENDBUY_MAPI_SECRET=SECRET, PYTHONUNBUFFERED="1")
    command = [sys.executable, "-m", "fbcli", "replay", path, "--base-url", emu.base_url]
    command += ["--ledger", str(tmp / "ledger"), "--format", "json", *options]
    process = Popen(command, env=env, cwd=tmp, stdout=PIPE, stderr=PIPE, text=True)
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()


def _arrivals(calls: list[RecordedCall]) -> list[float]:
    return sorted(
        datetime.fromisoformat(c.received_at.replace("Z", "+00:00")).timestamp()
        for c in calls
        if c.path != "/v1/authorization"
    )


def _wait_for(emu: Emulator, count: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while len(emu.calls()) < count:
        assert time.monotonic() < deadline, "the replay did not start"
        time.sleep(0.01)


def _stop(process: Popen[str]) -> tuple[str, str]:
    process.send_signal(signal.SIGINT)
    return process.communicate(timeout=30)


def test_replay_converges_near_a_real_limit(tmp_path: Path) -> None:
    """(a) for real, over 8 s: the emulator allows 80 calls/s, replay asks for 100."""
    seconds = 8.0
    path = _events(tmp_path / "e.jsonl", 1200)
    config = EmulatorConfig(key=KEY, secret=SECRET, rate_limit=80, burst=10)
    with Emulator(config) as emu:
        with _replay(path, emu, tmp_path, "--rate", "100", "--concurrency", "8") as replay:
            _wait_for(emu, 2)  # the authorization, then a call
            time.sleep(seconds + 0.3)
            out, err = _stop(replay)
        times = _arrivals(emu.calls())
    assert replay.returncode in (0, 130), err
    summary = json.loads(out)
    inside = [t for t in times if t < times[0] + seconds]
    assert len(inside) / seconds >= 0.85 * 80, (len(inside), summary)
    assert summary["rate_limited"] > 0
    assert isinstance(summary["current_rate"], float)


def test_sigstop_then_sigcont_starts_no_burst_of_stale_reservations(tmp_path: Path) -> None:
    """--rate 50 --burst 5 with 16 workers, stopped 1.5 s: the second after the pause
    holds at most rate + burst calls (the previous limiter let about 70 through)."""
    path = _events(tmp_path / "e.jsonl", 400)
    with Emulator(EmulatorConfig(key=KEY, secret=SECRET)) as emu:
        options = ("--rate", "50", "--burst", "5", "--concurrency", "16")
        with _replay(path, emu, tmp_path, *options) as replay:
            _wait_for(emu, 20)
            time.sleep(1.0)
            replay.send_signal(signal.SIGSTOP)
            time.sleep(1.5)
            resumed = time.time()
            replay.send_signal(signal.SIGCONT)
            time.sleep(2.0)
            _stop(replay)
        times = _arrivals(emu.calls())
    after = [t for t in times if t >= resumed - 0.05]
    assert after, "nothing arrived after the pause"
    # rate + burst, and a few calls of jitter between the client and the emulator's clock
    assert busiest_second(after) <= 50 + 5 + 3
    assert busiest_second(times) <= 50 + 5 + 3


def _storm_from_the_third_request() -> EmulatorConfig:
    """The authorization and one call pass; then a 429 storm of an hour, Retry-After 3600."""
    faults = parse_faults("storm=0.3@3600")
    return EmulatorConfig(key=KEY, secret=SECRET, faults=faults, seed=2)


def test_ctrl_c_ends_a_wait_for_a_huge_retry_after_at_once(tmp_path: Path) -> None:
    path = _events(tmp_path / "e.jsonl", 50)
    with (
        Emulator(_storm_from_the_third_request()) as emu,
        _replay(path, emu, tmp_path, "--rate", "10") as replay,
    ):
        deadline = time.monotonic() + 20
        while emu.stats()["storm_429"] < 1:
            assert time.monotonic() < deadline, "no storm"
            time.sleep(0.01)
        time.sleep(0.5)  # everybody waits: the limiter for 60 s (capped), the call too
        interrupted = time.monotonic()
        out, err = _stop(replay)
        took = time.monotonic() - interrupted
    assert replay.returncode == 130, err
    assert took < 5.0  # was: never (the limiter slept for the whole Retry-After)
    summary = json.loads(out)
    assert summary["interrupted"] is True
    assert summary["retry_after_capped"] >= 1
    assert summary["longest_retry_after"] >= 3000


def test_a_wait_beyond_max_call_time_fails_the_calls_at_once(tmp_path: Path) -> None:
    path = _events(tmp_path / "e.jsonl", 10)
    with Emulator(_storm_from_the_third_request()) as emu:
        started = time.monotonic()
        with _replay(path, emu, tmp_path, "--rate", "10", "--max-call-time", "2") as replay:
            out, err = replay.communicate(timeout=30)
            took = time.monotonic() - started
    assert replay.returncode == 1, err
    assert took < 15.0
    summary: dict[str, Any] = json.loads(out)
    assert (summary["sent"], summary["failed"]) == (1, 9)
    messages = [p["message"] for p in summary["problems"]]
    assert any("Retry-After 3600 s capped at 60 s" in m for m in messages), messages
    assert any("the rate limiter's wait exceeded --max-call-time (2 s)" in m for m in messages)
