"""Replay against the real emulator on 127.0.0.1: sent once, retried, recorded, resumable."""

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
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from fbcli.emulator import Emulator, EmulatorConfig, parse_faults
from fbcli.errors import ApiError, AuthError, ConfigError
from fbcli.events import Event
from fbcli.ledger import Ledger
from fbcli.mapi import CallResult, Credentials, MapiClient
from fbcli.mappings import default_mappings
from fbcli.plan import PlannedCall, plan_event, unwrap_failed
from fbcli.ratelimit import RateLimiter
from fbcli.replay import (
    KeyedCall,
    ReplayOptions,
    ReplaySummary,
    Sender,
    is_safe_to_repeat,
    replay_calls,
    skip_reason,
)
from fbcli.retry import RetryPolicy
from fbcli.signals import StopSwitch
from tests.support import REPO, SAMPLES, RunCli

KEY = "3f2c1d9e-0000-4000-8000-00000000abcd"
SECRET = "s3cr3t-never-printed-9d8c7b"


def purchase(n: int, **extra: Any) -> dict[str, Any]:
    return {
        "type": "track",
        "event": "Order Completed",
        "messageId": f"m-{n}",
        "userId": f"u{n}",
        "properties": {"order_id": f"o{n}", "total": 10 + n, "currency": "USD", **extra},
    }


def identify(n: int) -> dict[str, Any]:
    return {
        "type": "identify",
        "messageId": f"i-{n}",
        "userId": f"u{n}",
        "traits": {"email": f"u{n}@example.com"},
    }


def write_events(path: Path, events: list[Any]) -> str:
    path.write_text(
        "".join((e if isinstance(e, str) else json.dumps(e)) + "\n" for e in events),
        encoding="utf-8",
    )
    return str(path)


@pytest.fixture
def creds(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FRIENDBUY_MAPI_KEY", KEY)
    monkeypatch.setenv("FRIENDBUY_MAPI_SECRET", SECRET)


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    with Emulator(EmulatorConfig(key=KEY, secret=SECRET, seed=7)) as emu:
        yield emu


def replay(run_cli: RunCli, *args: str, stdin: str | None = None) -> Any:
    if stdin is None:
        return run_cli("replay", *args, "--format", "json")
    return run_cli("replay", *args, "--format", "json", stdin=stdin)


def summary_of(result: Any) -> dict[str, Any]:
    assert result.stdout, result.stderr
    return json.loads(result.stdout)  # type: ignore[no-any-return]


FAST = ("--rate", "1000", "--burst", "10")


# -- the happy path -------------------------------------------------------------------


def test_replay_sends_exactly_what_dry_run_shows(
    run_cli: RunCli, tmp_path: Path, emulator: Emulator, creds: None
) -> None:
    path = write_events(tmp_path / "e.jsonl", [purchase(1), identify(2), purchase(3)])
    dry = run_cli("dry-run", path, "-f", "json", "--base-url", emulator.base_url)
    planned = [json.loads(line)["request"] for line in dry.stdout.splitlines()]
    result = replay(run_cli, path, "--base-url", emulator.base_url, *FAST)
    assert result.exit_code == 0
    summary = summary_of(result)
    assert (summary["sent"], summary["failed"], summary["unknown"]) == (3, 0, 0)
    arrived = emulator.calls()
    assert sorted((c.path, json.dumps(c.body, sort_keys=True)) for c in arrived) == sorted(
        (p["url"].removeprefix(emulator.base_url), json.dumps(p["body"], sort_keys=True))
        for p in planned
    )
    assert SECRET not in result.stdout + result.stderr


def test_rerun_skips_what_was_delivered_and_force_resends(
    run_cli: RunCli, tmp_path: Path, emulator: Emulator, creds: None
) -> None:
    path = write_events(tmp_path / "e.jsonl", [purchase(1), purchase(2)])
    assert summary_of(replay(run_cli, path, "--base-url", emulator.base_url, *FAST))["sent"] == 2
    again = summary_of(replay(run_cli, path, "--base-url", emulator.base_url, *FAST))
    assert (again["sent"], again["skipped_already_sent"]) == (0, 2)
    assert len(emulator.calls()) == 2
    forced = summary_of(replay(run_cli, path, "--base-url", emulator.base_url, "--force", *FAST))
    assert forced["sent"] == 2
    assert len(emulator.calls()) == 4
    # One ledger per target, in the state folder; nothing is written next to the input.
    assert not Path(f"{path}.fbcli-ledger.sqlite").exists()
    (ledger,) = (Path(os.environ["FBCLI_STATE_DIR"]) / "ledgers").glob("*.sqlite")
    assert ledger.name.startswith("localhost-")


def test_ledger_is_private_and_holds_no_secret(
    run_cli: RunCli, tmp_path: Path, emulator: Emulator, creds: None
) -> None:
    path = write_events(tmp_path / "e.jsonl", [purchase(1), {**purchase(2), "properties": {}}])
    ledger = tmp_path / "my.ledger"
    failed = tmp_path / "failed.jsonl"
    result = replay(
        run_cli,
        path,
        "--base-url",
        emulator.base_url,
        "--ledger",
        str(ledger),
        "--failed",
        str(failed),
        "--skip-invalid",
        *FAST,
    )
    assert result.exit_code == 4  # --skip-invalid left the invalid event out; all else sent
    for artefact in (ledger, failed):
        assert artefact.stat().st_mode & 0o777 == 0o600
    for artefact in tmp_path.iterdir():
        assert SECRET.encode() not in artefact.read_bytes()
    with contextlib.closing(sqlite3.connect(ledger)) as db:
        rows = db.execute("SELECT event_key, status FROM calls").fetchall()
    assert rows == [("m-1", "sent")]


# -- pre-flight -----------------------------------------------------------------------


def test_invalid_events_stop_the_run_before_anything_is_sent(
    run_cli: RunCli, tmp_path: Path, emulator: Emulator, creds: None
) -> None:
    path = write_events(tmp_path / "e.jsonl", [purchase(1), "{oops", purchase(2)])
    result = run_cli("replay", path, "--base-url", emulator.base_url)
    assert result.exit_code == 1
    assert "Error: 0 invalid and 1 malformed: nothing was sent" in result.stderr
    assert "--skip-invalid" in result.stderr
    assert emulator.calls() == []
    skipped = summary_of(
        replay(run_cli, path, "--base-url", emulator.base_url, "--skip-invalid", *FAST)
    )
    assert (skipped["sent"], skipped["malformed"]) == (2, 1)


def test_broken_mapping_file_exits_2(
    run_cli: RunCli, tmp_path: Path, emulator: Emulator, creds: None
) -> None:
    (tmp_path / "m.yaml").write_text("subscriptions: [", encoding="utf-8")
    path = write_events(tmp_path / "e.jsonl", [purchase(1)])
    result = run_cli(
        "replay", path, "-m", str(tmp_path / "m.yaml"), "--base-url", emulator.base_url
    )
    assert result.exit_code == 2
    assert emulator.calls() == []


def test_direct_mode_mapping_cannot_be_replayed(run_cli: RunCli, tmp_path: Path) -> None:
    path = write_events(tmp_path / "e.jsonl", [purchase(1)])
    result = run_cli("replay", path, "-m", str(SAMPLES / "mappings.direct.yaml"), "--emulator")
    assert result.exit_code == 2
    assert "cloud mode" in result.stderr


# -- credentials and targets -----------------------------------------------------------


def test_no_credentials_is_a_usage_error(run_cli: RunCli, tmp_path: Path) -> None:
    path = write_events(tmp_path / "e.jsonl", [purchase(1)])
    result = run_cli("replay", path)
    assert result.exit_code == 2
    assert "no MAPI credentials" in result.stderr
    assert "--emulator" in result.stderr


def test_wrong_secret_exits_3_and_sends_nothing(
    run_cli: RunCli, tmp_path: Path, emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FRIENDBUY_MAPI_KEY", KEY)
    secret_file = tmp_path / "secret"
    secret_file.write_text("not-the-secret-42\n", encoding="utf-8")
    secret_file.chmod(0o600)
    path = write_events(tmp_path / "e.jsonl", [purchase(1)])
    result = run_cli(
        "replay", path, "--base-url", emulator.base_url, "--secret-file", str(secret_file)
    )
    assert result.exit_code == 3
    assert result.stderr.startswith("Error: authorization refused")
    assert f"{emulator.base_url}/v1/authorization, HTTP 401" in result.stderr
    assert "not-the-secret-42" not in result.stdout + result.stderr
    assert emulator.calls() == []


def test_secret_file_and_key_option(run_cli: RunCli, tmp_path: Path, emulator: Emulator) -> None:
    secret_file = tmp_path / "secret"
    secret_file.write_text(SECRET + "\n", encoding="utf-8")
    secret_file.chmod(0o600)
    path = write_events(tmp_path / "e.jsonl", [purchase(1)])
    result = replay(
        run_cli,
        path,
        "--base-url",
        emulator.base_url,
        "--key",
        KEY,
        "--secret-file",
        str(secret_file),
    )
    assert summary_of(result)["sent"] == 1


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://example.com", "plain http is only allowed to this machine"),
        ("ftp://127.0.0.1", "must be an http(s) URL"),
    ],
)
def test_base_url_rules(
    run_cli: RunCli, tmp_path: Path, creds: None, url: str, message: str
) -> None:
    path = write_events(tmp_path / "e.jsonl", [purchase(1)])
    result = run_cli("replay", path, "--base-url", url)
    assert result.exit_code == 2
    assert message in result.stderr


def test_unreachable_host_fails_each_call_after_retries(
    run_cli: RunCli, tmp_path: Path, creds: None
) -> None:
    path = write_events(tmp_path / "e.jsonl", [purchase(1)])
    with Emulator() as emu:
        url = emu.base_url
    result = run_cli("replay", path, "--base-url", url, "--max-attempts", "2")
    assert result.exit_code == 1
    assert "cannot reach MAPI" in result.stderr
    assert url in result.stderr


def test_sandbox_secret_picks_sandbox_host(
    run_cli: RunCli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FRIENDBUY_MAPI_KEY", KEY)
    monkeypatch.setenv("FRIENDBUY_MAPI_SECRET", "sandbox:abc")
    path = write_events(tmp_path / "e.jsonl", [purchase(1)])
    result = run_cli("replay", path, "--connect-timeout", "0.2", "--max-attempts", "1")
    assert "https://mapi.fbot-sandbox.me/v1/authorization" in result.stderr
    assert "abc" not in result.stderr.replace("fbot-sandbox", "")


# -- failures, retries, unknown outcomes -----------------------------------------------


def test_400_is_final_and_goes_to_the_failed_file_which_replays(
    run_cli: RunCli, tmp_path: Path, emulator: Emulator, creds: None
) -> None:
    gold = {**identify(2), "traits": {"email": "u2@example.com", "loyaltyStatus": "gold"}}
    path = write_events(tmp_path / "e.jsonl", [purchase(1), gold])
    failed = tmp_path / "failed.jsonl"
    result = replay(run_cli, path, "--base-url", emulator.base_url, "--failed", str(failed), *FAST)
    summary = summary_of(result)
    assert result.exit_code == 1
    assert (summary["sent"], summary["failed"]) == (1, 1)
    problem = summary["problems"][0]
    assert (problem["http_status"], problem["attempts"], problem["line"]) == (400, 1, 2)
    assert "loyaltyStatus" in problem["message"]
    assert "reference" in problem["message"]
    (record,) = [json.loads(line) for line in failed.read_text(encoding="utf-8").splitlines()]
    assert record["event"] == gold
    assert (record["status"], record["http_status"], record["line"]) == ("failed", 400, 2)
    assert record["request"]["url"] == f"{emulator.base_url}/v1/customer"
    unwrapped, ref = unwrap_failed(Event("f", 1, record))
    assert isinstance(unwrapped, Event)
    assert unwrapped.data == gold
    assert ref is not None
    assert (ref.key, ref.subscription, ref.action) == ("i-2", "Track Customer", "trackCustomer")
    assert record["ledger"]["key"] == "i-2"
    assert record["ledger"]["subscription"] == "Track Customer"
    # The failed file is replay input for the same (default) ledger: the same call again.
    again = summary_of(
        replay(run_cli, str(failed), "--base-url", emulator.base_url, "--only-failed", *FAST)
    )
    assert (again["sent"], again["failed"]) == (0, 1)
    assert len(emulator.calls()) == 1
    plain_rerun = summary_of(replay(run_cli, path, "--base-url", emulator.base_url, *FAST))
    assert (plain_rerun["skipped_already_sent"], plain_rerun["failed"]) == (1, 1)


def test_5xx_faults_are_retried_until_sent(run_cli: RunCli, tmp_path: Path, creds: None) -> None:
    events = [purchase(n) for n in range(20)]
    path = write_events(tmp_path / "e.jsonl", events)
    config = EmulatorConfig(key=KEY, secret=SECRET, seed=3, faults=parse_faults("5xx=0.3"))
    with Emulator(config) as emu:
        result = replay(run_cli, path, "--base-url", emu.base_url, "--max-attempts", "10", *FAST)
        summary = summary_of(result)
        assert summary["sent"] == 20
        assert summary["retries"] > 0
        assert emu.stats()["errors_5xx"] == summary["retries"]
        assert len(emu.calls()) == 20


def test_429_storm_slows_down_and_honours_retry_after(
    run_cli: RunCli, tmp_path: Path, creds: None
) -> None:
    events = [identify(n) for n in range(12)]
    path = write_events(tmp_path / "e.jsonl", events)
    config = EmulatorConfig(key=KEY, secret=SECRET, rate_limit=20, burst=2)
    with Emulator(config) as emu:
        result = replay(
            run_cli,
            path,
            "--base-url",
            emu.base_url,
            "--rate",
            "200",
            "--burst",
            "5",
            "--concurrency",
            "4",
            "--max-attempts",
            "10",
        )
        summary = summary_of(result)
        assert result.exit_code == 0
        assert summary["sent"] == 12
        assert summary["rate_limited"] > 0
        assert emu.stats()["rate_limited_429"] == summary["rate_limited"]
        assert len({c.body["customerId"] for c in emu.calls()}) == 12


def test_unknown_outcomes_are_recorded_and_left_alone(tmp_path: Path) -> None:
    """Purchases whose answer is lost are `unknown`; customers (upserts) are retried."""
    outcomes = _send_with_results(
        purchase(1), [CallResult(None, "read", message="no answer in time (read timeout)")]
    )
    assert outcomes.status == "unknown"
    assert outcomes.attempts == 1
    assert "may have reached MAPI" in (outcomes.message or "")
    upsert = _send_with_results(
        identify(1),
        [CallResult(None, "read", message="connection broke"), CallResult(201, event_id="e")],
    )
    assert (upsert.status, upsert.attempts, upsert.event_id) == ("sent", 2, "e")
    forced = _send_with_results(
        purchase(1),
        [CallResult(None, "send"), CallResult(201)],
        retry_unknown=True,
    )
    assert (forced.status, forced.attempts) == ("sent", 2)
    connect = _send_with_results(purchase(1), [CallResult(None, "connect"), CallResult(201)])
    assert (connect.status, connect.attempts) == ("sent", 2)


def test_exhausted_retries_fail_or_stay_unknown() -> None:
    failing = _send_with_results(purchase(1), [CallResult(503, message="busy")] * 3)
    assert (failing.status, failing.attempts) == ("failed", 3)
    assert failing.message == "HTTP 503: busy (gave up after 3 attempts)"
    lost = _send_with_results(identify(1), [CallResult(None, "read")] * 3)
    assert lost.status == "failed"


def test_a_lost_answer_keeps_the_outcome_unknown_whatever_the_last_retry_got() -> None:
    """With --retry-unknown, a purchase whose answer was lost and whose retries then fail
    may still have been counted: it is `unknown` (a plain rerun leaves it alone), not
    `failed` (a plain rerun would send it again)."""
    lost_then_503 = [CallResult(None, "read", message="connection broke"), CallResult(503)]
    purchase_outcome = _send_with_results(purchase(1), lost_then_503, retry_unknown=True)
    assert (purchase_outcome.status, purchase_outcome.attempts) == ("unknown", 2)
    assert purchase_outcome.message == (
        "HTTP 503 (gave up after 2 attempts); an earlier attempt may have reached MAPI"
    )
    # Harmless to repeat, so a plain rerun may send it again: failed.
    customer_outcome = _send_with_results(identify(1), lost_then_503)
    assert customer_outcome.status == "failed"
    # Never sent (the connection could not be made), then 503: failed.
    refused_then_503 = [CallResult(None, "connect"), CallResult(503)]
    assert _send_with_results(purchase(1), refused_then_503).status == "failed"
    # A final 4xx after a lost answer: the first attempt may still have counted.
    lost_then_401 = [CallResult(None, "read"), CallResult(401, message="token revoked")]
    final = _send_with_results(purchase(1), lost_then_401, retry_unknown=True)
    assert (final.status, final.attempts) == ("unknown", 2)
    assert final.message == "HTTP 401: token revoked; an earlier attempt may have reached MAPI"


def test_429_feeds_the_shared_limiter() -> None:
    limiter = _FakeLimiter()
    outcome = _send_with_results(
        purchase(1), [CallResult(429, retry_after="2"), CallResult(201)], limiter=limiter
    )
    assert (outcome.status, outcome.rate_limited, outcome.retries) == ("sent", 1, 1)
    assert limiter.throttled == [2.0]
    assert limiter.successes == 1


class _FakeLimiter(RateLimiter):
    """Grants what ``grants`` says (then always), records what the sender asked and told."""

    def __init__(self, grants: Sequence[bool] = ()) -> None:
        super().__init__(1000, clock=lambda: 0.0, sleep=lambda _: None)
        self.grants = list(grants)
        self.asked: list[tuple[threading.Event | None, float | None]] = []
        self.throttled: list[float | None] = []
        self.successes = 0

    def acquire(
        self, *, stop: threading.Event | None = None, deadline: float | None = None
    ) -> bool:
        self.asked.append((stop, deadline))
        return self.grants.pop(0) if self.grants else True

    def throttle(self, retry_after: float | None = None) -> None:
        self.throttled.append(retry_after)

    def record_success(self) -> None:
        self.successes += 1


class _ScriptedClient:
    def __init__(self, results: Sequence[CallResult | ApiError]) -> None:
        self.results = list(results)
        self.sent: list[str] = []

    def send(self, path: str, body: Any, *, deadline: float | None = None) -> CallResult:
        self.sent.append(path)
        result = self.results.pop(0)
        if isinstance(result, ApiError):
            raise result
        return result


def _planned(event: dict[str, Any]) -> PlannedCall:
    calls = plan_event(Event("e.jsonl", 1, event), default_mappings())
    assert isinstance(calls, list)
    assert isinstance(calls[0], PlannedCall)
    return calls[0]


def _send_with_results(
    event: dict[str, Any],
    results: Sequence[CallResult | ApiError],
    *,
    retry_unknown: bool = False,
    limiter: RateLimiter | None = None,
    stop: threading.Event | None = None,
    policy: RetryPolicy | None = None,
) -> Any:
    policy = policy or RetryPolicy(max_attempts=len(results), base_delay=0.001, max_delay=0.001)
    sender = Sender(
        _ScriptedClient(results),
        limiter or _FakeLimiter(),
        ReplayOptions(retry_unknown=retry_unknown, policy=policy),
        stop=stop or threading.Event(),
    )
    return sender.send(_planned(event), "k")


class _InstantStop(threading.Event):
    """A stop event whose waits return at once (recorded): a retry's wait takes no time."""

    def __init__(self) -> None:
        super().__init__()
        self.waits: list[float] = []

    def wait(self, timeout: float | None = None) -> bool:
        assert timeout is not None
        self.waits.append(timeout)
        return self.is_set()


# -- waits: the rate limiter's and the retries' (interruptible, bounded, capped) ------------


def test_the_limiter_is_asked_with_stop_and_the_calls_deadline() -> None:
    limiter = _FakeLimiter()
    stop = _InstantStop()
    sender = Sender(
        _ScriptedClient([CallResult(503), CallResult(201)]),
        limiter,
        ReplayOptions(policy=RetryPolicy(max_total=42.0, base_delay=0.001, max_delay=0.001)),
        stop=stop,
        clock=lambda: 1000.0,
    )
    outcome = sender.send(_planned(purchase(1)), "k")
    assert outcome is not None
    assert (outcome.status, outcome.attempts) == ("sent", 2)
    assert limiter.asked == [(stop, 1042.0), (stop, 1042.0)]  # each attempt, one deadline


def test_a_call_the_limiter_cannot_start_within_its_budget_fails_unsent() -> None:
    client = _ScriptedClient([CallResult(201)])
    sender = Sender(client, _FakeLimiter([False]), ReplayOptions(), stop=threading.Event())
    outcome = sender.send(_planned(purchase(1)), "k")
    assert outcome is not None
    assert (outcome.status, outcome.attempts, outcome.http_status) == ("failed", 0, None)
    assert outcome.message == ("not sent: the rate limiter's wait exceeded --max-call-time (300 s)")
    assert client.sent == []


def test_a_real_limiter_refuses_a_slot_beyond_the_budget_without_waiting() -> None:
    now = [0.0]
    slept: list[float] = []

    def wait(_stop: threading.Event, seconds: float) -> bool:
        slept.append(seconds)
        return False

    limiter = RateLimiter(0.5, clock=lambda: now[0], sleep=slept.append, wait=wait)
    assert limiter.acquire()  # the next slot is 2 s away
    policy = RetryPolicy(max_total=1.5)
    client = _ScriptedClient([CallResult(201)])
    sender = Sender(
        client, limiter, ReplayOptions(policy=policy), stop=threading.Event(), clock=lambda: now[0]
    )
    outcome = sender.send(_planned(purchase(1)), "k")
    assert outcome is not None
    assert (outcome.status, outcome.attempts) == ("failed", 0)
    assert "--max-call-time (1.5 s)" in (outcome.message or "")
    assert slept == []
    assert client.sent == []


def test_a_stop_while_waiting_for_the_limiter_sends_nothing() -> None:
    stop = threading.Event()

    class StoppedWhileWaiting(_FakeLimiter):
        def acquire(
            self, *, stop: threading.Event | None = None, deadline: float | None = None
        ) -> bool:
            assert stop is not None
            stop.set()  # Ctrl-C during the wait: the limiter says no
            return False

    client = _ScriptedClient([CallResult(201)])
    sender = Sender(client, StoppedWhileWaiting(), ReplayOptions(), stop=stop)
    assert sender.send(_planned(purchase(1)), "k") is None
    assert client.sent == []


def test_a_retry_the_limiter_cannot_start_in_time_ends_the_call() -> None:
    failed = _send_with_results(
        purchase(1), [CallResult(503), CallResult(201)], limiter=_FakeLimiter([True, False])
    )
    assert (failed.status, failed.attempts, failed.http_status) == ("failed", 1, 503)
    assert failed.message == (
        "HTTP 503 (gave up after 1 attempt: the rate limiter's wait exceeded "
        "--max-call-time (300 s))"
    )
    lost = [CallResult(None, "read", message="connection broke"), CallResult(201)]
    unknown = _send_with_results(
        purchase(1), lost, retry_unknown=True, limiter=_FakeLimiter([True, False])
    )
    assert unknown.status == "unknown"  # the first attempt may have arrived
    stop = threading.Event()

    class StopsOnRetry(_FakeLimiter):
        def acquire(
            self, *, stop: threading.Event | None = None, deadline: float | None = None
        ) -> bool:
            if self.asked:
                assert stop is not None
                stop.set()
                return False
            return super().acquire(stop=stop, deadline=deadline)

    stopped = _send_with_results(
        purchase(1), [CallResult(503), CallResult(201)], limiter=StopsOnRetry(), stop=stop
    )
    assert (stopped.status, stopped.attempts) == ("failed", 1)
    assert stopped.message == "HTTP 503 (stopped before retrying)"


def test_a_stop_during_a_retrys_wait_ends_the_call_without_asking_the_limiter() -> None:
    class StoppedWhileWaiting(_InstantStop):
        def wait(self, timeout: float | None = None) -> bool:
            self.set()  # Ctrl-C during the retry's wait
            return super().wait(timeout)

    limiter = _FakeLimiter()
    stop = StoppedWhileWaiting()
    outcome = _send_with_results(
        purchase(1), [CallResult(503), CallResult(201)], limiter=limiter, stop=stop
    )
    assert (outcome.status, outcome.attempts) == ("failed", 1)
    assert outcome.message == "HTTP 503 (stopped before retrying)"
    assert len(limiter.asked) == 1  # the first attempt's token only


def test_a_huge_retry_after_is_capped_for_the_call_and_the_limiter() -> None:
    limiter = _FakeLimiter()
    stop = _InstantStop()
    outcome = _send_with_results(
        purchase(1),
        [CallResult(429, retry_after="99999"), CallResult(201, event_id="e")],
        limiter=limiter,
        stop=stop,
        policy=RetryPolicy(),
    )
    assert (outcome.status, outcome.attempts, outcome.retries) == ("sent", 2, 1)
    assert limiter.throttled == [60.0]
    assert stop.waits == [60.0]
    assert (outcome.retry_after_capped, outcome.longest_retry_after) == (1, 99999.0)
    assert outcome.message is None


def test_capped_retry_afters_are_said_when_the_call_ends_badly() -> None:
    stop = _InstantStop()
    twice = [CallResult(429, retry_after="99999"), CallResult(429, retry_after="7200")]
    failed = _send_with_results(purchase(1), twice, stop=stop, policy=RetryPolicy(max_attempts=2))
    assert failed.message == (
        "HTTP 429 (gave up after 2 attempts); 2 Retry-After values (largest 99999 s) capped at 60 s"
    )
    assert (failed.retry_after_capped, failed.longest_retry_after) == (2, 99999.0)
    then_400 = [CallResult(429, retry_after="3600"), CallResult(400, message="bad")]
    final = _send_with_results(purchase(1), then_400, stop=stop, policy=RetryPolicy())
    assert final.message == "HTTP 400: bad; Retry-After 3600 s capped at 60 s"


def test_a_wait_that_would_end_after_the_budget_ends_the_call_at_once() -> None:
    stop = _InstantStop()
    outcome = _send_with_results(
        purchase(1),
        [CallResult(429, retry_after="45"), CallResult(201)],
        stop=stop,
        policy=RetryPolicy(max_total=30.0),
    )
    assert (outcome.status, outcome.attempts) == ("failed", 1)
    assert outcome.message == (
        "HTTP 429 (gave up after 1 attempt: waiting 45 s more would exceed --max-call-time (30 s))"
    )
    assert stop.waits == []  # not waited out


def test_the_summary_counts_capped_retry_afters_and_rounds_the_rate() -> None:
    import io

    from rich.console import Console

    from fbcli.replay import CallOutcome
    from fbcli.report.replay import ReplayProgress, rate_text, render_replay_summary

    call = _planned(purchase(1))
    summary = ReplaySummary(to_send=3, sent=2, failed=1, elapsed=2.0, rate_limited=3)
    summary.current_rate = 20.978912
    summary.retry_after_capped, summary.longest_retry_after = 2, 99999.0
    summary.problems = [
        CallOutcome(call, "m-1", "failed", 429, 2, 1, 2, message="HTTP 429", retry_after_capped=2)
    ]
    data = summary.to_dict()
    assert (data["retry_after_capped"], data["longest_retry_after"]) == (2, 99999.0)
    assert data["current_rate"] == 20.979
    out = io.StringIO()
    console = Console(file=out, width=100, color_system=None)
    render_replay_summary(console, summary, target="T")
    text = out.getvalue()
    assert "Retry-After capped (longest asked 99999 s)" in text
    assert "rate limit learned from the 429s: 20.98/s" in text
    with ReplayProgress(console, 3, clock=lambda: 0.0) as progress:
        progress.update(summary)
    assert "(limit 20.98/s)" in out.getvalue()
    assert "20.978" not in out.getvalue()
    texts = [rate_text(x) for x in (20.9789, 10.0, 100.004, 0.05, 0.000512)]
    assert texts == ["20.98", "10", "100", "0.05", "0.00051"]


def test_a_passing_authorization_failure_is_retried_within_the_calls_bounds() -> None:
    """A 429 storm or 5xx during a token refresh outlasting the client's own three tries:
    the call was not sent, so it is retried like a refused connection, not failed."""
    url = "http://127.0.0.1:9/v1/authorization"
    storm = ApiError("authorization failed: storm", url=url, status=429)
    unreachable = ApiError("cannot reach MAPI: connection failed", url=url)
    outcome = _send_with_results(purchase(1), [storm, unreachable, CallResult(201, event_id="e")])
    assert (outcome.status, outcome.attempts, outcome.retries) == ("sent", 3, 2)
    assert outcome.rate_limited == 1
    stop = threading.Event()
    gave_up = _send_with_results(purchase(1), [storm, storm], stop=stop)
    assert (gave_up.status, gave_up.http_status) == ("failed", 429)  # never sent: not unknown
    assert gave_up.message == "HTTP 429: authorization failed: storm (gave up after 2 attempts)"
    assert not stop.is_set()
    broken = ApiError("authorization failed: Not Found", url=url, status=404)
    assert _send_with_results(purchase(1), [broken, CallResult(201)]).attempts == 1


def test_refused_credentials_fail_the_call_and_stop_the_run() -> None:
    stop = threading.Event()
    refused = AuthError("authorization refused", url="http://127.0.0.1:9", status=401)
    outcome = _send_with_results(purchase(1), [refused, CallResult(201)], stop=stop)
    assert (outcome.status, outcome.attempts, outcome.http_status) == ("failed", 1, 401)
    assert stop.is_set()


def test_a_stopped_run_starts_no_new_call() -> None:
    """Ctrl-C (or a ledger that cannot be written) while a call waits for the rate limiter."""
    stop = threading.Event()
    stop.set()
    client = _ScriptedClient([CallResult(201)])
    sender = Sender(client, _FakeLimiter(), ReplayOptions(), stop=stop)
    assert sender.send(_planned(purchase(1)), "k") is None
    assert client.sent == []


def test_safe_to_repeat() -> None:
    assert is_safe_to_repeat(_planned(identify(1)))
    assert not is_safe_to_repeat(_planned(purchase(1)))


@pytest.mark.parametrize(
    ("recorded", "options", "expected"),
    [
        (None, ReplayOptions(), None),
        ("sent", ReplayOptions(), "skipped_already_sent"),
        ("failed", ReplayOptions(), None),
        ("unknown", ReplayOptions(), "skipped_unknown"),
        ("unknown", ReplayOptions(retry_unknown=True), None),
        ("sent", ReplayOptions(force=True), None),
        (None, ReplayOptions(only_failed=True), "skipped_not_failed"),
        ("failed", ReplayOptions(only_failed=True), None),
        ("sent", ReplayOptions(only_failed=True), "skipped_already_sent"),
    ],
)
def test_skip_reasons(recorded: Any, options: ReplayOptions, expected: str | None) -> None:
    assert skip_reason(recorded, options) == expected


def test_token_revoked_mid_run_reauthorizes(run_cli: RunCli, tmp_path: Path, creds: None) -> None:
    events = [purchase(n) for n in range(30)]
    path = write_events(tmp_path / "e.jsonl", events)
    with Emulator(EmulatorConfig(key=KEY, secret=SECRET)) as emu:
        stop = threading.Event()

        def revoke() -> None:
            while not stop.wait(0.05):
                emu.revoke_tokens()

        revoker = threading.Thread(target=revoke)
        revoker.start()
        try:
            summary = summary_of(replay(run_cli, path, "--base-url", emu.base_url, "--rate", "200"))
        finally:
            stop.set()
            revoker.join()
        assert summary["sent"] == 30
        assert emu.stats()["tokens_issued"] > 1
        assert len(emu.calls()) == 30


# -- the emulator quick start and stdin ------------------------------------------------


def test_emulator_quick_start(run_cli: RunCli) -> None:
    result = run_cli(
        "replay",
        str(SAMPLES / "events.jsonl"),
        "-m",
        str(REPO / "mappings.yaml"),
        "--emulator",
        "--skip-invalid",
        "--rate",
        "100",
    )
    # Exit 4: every call was delivered; the samples' deliberate mistakes were left out.
    assert result.exit_code == 4
    assert "the emulator received 7 calls" in result.stdout
    assert "/v1/event/purchase" in result.stdout
    assert not list(SAMPLES.glob("*.fbcli-ledger.sqlite*"))
    # The built-in emulator is one target whatever its port: a rerun sends nothing again.
    again = run_cli(
        "replay",
        str(SAMPLES / "events.jsonl"),
        "-m",
        str(REPO / "mappings.yaml"),
        "--emulator",
        "--skip-invalid",
        "--format",
        "json",
    )
    assert again.exit_code == 4
    summary = summary_of(again)
    assert (summary["sent"], summary["skipped_already_sent"]) == (0, 7)


def test_stdin_is_read_twice_and_shares_the_targets_ledger(
    run_cli: RunCli, tmp_path: Path, emulator: Emulator, creds: None
) -> None:
    data = "".join(json.dumps(e) + "\n" for e in [purchase(1), purchase(2)])
    ok = replay(run_cli, "-", "--base-url", emulator.base_url, *FAST, stdin=data)
    assert summary_of(ok)["sent"] == 2
    path = write_events(tmp_path / "e.jsonl", [purchase(1), purchase(2), purchase(3)])
    again = summary_of(replay(run_cli, path, "--base-url", emulator.base_url, *FAST))
    assert (again["sent"], again["skipped_already_sent"]) == (1, 2)
    assert len(emulator.calls()) == 3


def test_failed_file_must_not_be_an_input(
    run_cli: RunCli, tmp_path: Path, emulator: Emulator, creds: None
) -> None:
    path = write_events(tmp_path / "e.jsonl", [purchase(1)])
    result = run_cli("replay", path, "--failed", path, "--base-url", emulator.base_url)
    assert result.exit_code == 2
    assert f"--failed must not be an input ({path})" in result.stderr


def test_table_summary(run_cli: RunCli, tmp_path: Path, emulator: Emulator, creds: None) -> None:
    path = write_events(tmp_path / "e.jsonl", [purchase(1)])
    result = run_cli("replay", path, "--base-url", emulator.base_url, *FAST)
    assert result.exit_code == 0
    assert f"replay to {emulator.base_url}" in result.stdout
    assert "replay: 1/1" in result.stderr


# -- interruption and crashes (real processes) -----------------------------------------


def _spawn(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "fbcli", *args],
        env=env,
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FRIENDBUY_")}
    env.update(FRIENDBUY_MAPI_KEY=KEY, FRIENDBUY_MAPI_SECRET=SECRET, PYTHONUNBUFFERED="1")
    return env


def _wait_for_calls(emu: Emulator, count: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while len(emu.calls()) < count:
        assert time.monotonic() < deadline, "the replay did not start"
        time.sleep(0.02)


def test_ctrl_c_stops_cleanly_and_a_rerun_sends_the_rest(tmp_path: Path) -> None:
    events = [purchase(n) for n in range(40)]
    path = write_events(tmp_path / "e.jsonl", events)
    with Emulator(EmulatorConfig(key=KEY, secret=SECRET)) as emu:
        args = ["replay", path, "--base-url", emu.base_url, "--rate", "20", "-f", "json"]
        proc = _spawn(args, _env(), tmp_path)
        _wait_for_calls(emu, 5)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
        assert proc.returncode == 130, err
        first = json.loads(out)
        assert first["interrupted"] is True
        assert 5 <= first["sent"] < 40
        assert "Traceback" not in err
        rerun = _spawn([*args[:-2], "--rate", "500", "-f", "json"], _env(), tmp_path)
        out, err = rerun.communicate(timeout=30)
        assert rerun.returncode == 0, err
        second = json.loads(out)
        assert second["skipped_already_sent"] == first["sent"]
        assert first["sent"] + second["sent"] == 40
        bodies = [c.body["orderId"] for c in emu.calls()]
        assert sorted(bodies) == sorted(f"o{n}" for n in range(40))


def test_sigkill_then_rerun_sends_everything_with_few_duplicates(tmp_path: Path) -> None:
    events = [purchase(n) for n in range(60)]
    path = write_events(tmp_path / "e.jsonl", events)
    concurrency = 4
    with Emulator(EmulatorConfig(key=KEY, secret=SECRET)) as emu:
        args = [
            "replay",
            path,
            "--base-url",
            emu.base_url,
            "--rate",
            "40",
            "--burst",
            "4",
            "--concurrency",
            str(concurrency),
            "-f",
            "json",
        ]
        proc = _spawn(args, _env(), tmp_path)
        _wait_for_calls(emu, 15)
        proc.kill()
        proc.communicate(timeout=10)
        rerun = _spawn([*args[:5], "500", *args[6:]], _env(), tmp_path)
        _out, err = rerun.communicate(timeout=30)
        assert rerun.returncode == 0, err
        orders = [c.body["orderId"] for c in emu.calls()]
        assert set(orders) == {f"o{n}" for n in range(60)}
        duplicates = len(orders) - len(set(orders))
        assert duplicates <= concurrency


def test_lost_answers_purchases_unknown_customers_retried(
    run_cli: RunCli, tmp_path: Path, creds: None
) -> None:
    events = [purchase(n) for n in range(12)] + [identify(n) for n in range(12)]
    path = write_events(tmp_path / "e.jsonl", events)
    config = EmulatorConfig(key=KEY, secret=SECRET, seed=4, faults=parse_faults("drop-after=0.3"))
    with Emulator(config) as emu:
        args = ("--base-url", emu.base_url, "--max-attempts", "10", *FAST)
        first = replay(run_cli, path, *args)
        summary = summary_of(first)
        assert first.exit_code == 1
        assert summary["unknown"] > 0
        assert summary["failed"] == 0
        assert summary["sent"] + summary["unknown"] == 24
        unknown = [p for p in summary["problems"] if p["status"] == "unknown"]
        assert all(p["action"] == "trackPurchase" for p in unknown)
        assert all("may have reached MAPI" in p["message"] for p in unknown)
        # Every dropped answer was recorded by the emulator: the books balance.
        arrived = emu.calls()
        assert len(arrived) == summary["sent"] + summary["unknown"] + summary["retries"]
        table = run_cli("replay", path, *args)
        assert "skipped (outcome unknown earlier)" in table.stdout
        again = summary_of(replay(run_cli, path, *args))
        assert again["skipped_unknown"] == summary["unknown"]
        assert again["sent"] == 0
        resent = summary_of(replay(run_cli, path, *args, "--retry-unknown"))
        assert resent["sent"] == summary["unknown"]


def test_summary_lists_failed_and_unknown_calls_apart() -> None:
    import io

    from rich.console import Console

    from fbcli.replay import CallOutcome, ReplaySummary
    from fbcli.report.replay import render_replay_summary

    call = _planned(purchase(1))
    summary = ReplaySummary(sent=1, failed=1, unknown=1, elapsed=2.0)
    summary.problems = [
        CallOutcome(call, "m-1", "failed", 400, 1, 0, 0, message="HTTP 400: bad 'email'"),
        CallOutcome(call, "m-1", "unknown", None, 1, 0, 0, message="no answer in time"),
    ]
    out = io.StringIO()
    render_replay_summary(Console(file=out, width=100, color_system=None), summary, target="T")
    text = out.getvalue()
    assert text.index("failed (a rerun sends these again)") < text.index("outcome unknown")
    assert "HTTP 400: bad 'email'" in text
    assert "no answer in time" in text
    assert "3 calls in 2.0 s (1.5 calls/s)" in text


def test_emulator_command_serves_until_interrupted(tmp_path: Path) -> None:
    import httpx

    log = tmp_path / "calls.jsonl"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "fbcli",
            "emulator",
            "--port",
            "0",
            "--log",
            str(log),
            "--seed",
            "1",
        ],
        stderr=subprocess.PIPE,
        text=True,
        env=_env(),
    )
    try:
        assert proc.stderr is not None
        first = proc.stderr.readline()
        assert first.startswith("MAPI emulator listening on http://127.0.0.1:")
        hint = proc.stderr.readline()
        assert hint.startswith("try: FRIENDBUY_MAPI_KEY=any-key FRIENDBUY_MAPI_SECRET=any-secret")
        url = first.split(" on ")[1].split(" ")[0]
        with httpx.Client(base_url=url, trust_env=False) as client:
            token = client.post("/v1/authorization", json={"key": KEY, "secret": SECRET}).json()
            headers = {"Authorization": f"Bearer {token['token']}"}
            body = {"customerId": "c1", "email": "c1@example.com"}
            assert client.post("/v1/customer", json=body, headers=headers).status_code == 201
            assert len(client.get("/_emulator/calls").json()) == 1
    finally:
        proc.send_signal(signal.SIGINT)
        _, rest = proc.communicate(timeout=10)
    assert proc.returncode == 130
    assert "Traceback" not in rest
    assert json.loads(log.read_text(encoding="utf-8"))["path"] == "/v1/customer"
    assert log.stat().st_mode & 0o777 == 0o600


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--faults", "teapot=0.1"], "bad fault 'teapot=0.1'"),
        (["--faults", "5xx=2"], "5xx"),
    ],
)
def test_emulator_command_bad_options(run_cli: RunCli, args: list[str], message: str) -> None:
    result = run_cli("emulator", "--port", "0", *args)
    assert result.exit_code == 2
    assert message in result.stderr


def test_emulator_command_port_in_use(run_cli: RunCli) -> None:
    with Emulator() as emu:
        port = emu.base_url.rsplit(":", 1)[1]
        result = run_cli("emulator", "--port", port)
    assert result.exit_code == 2
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr


# -- the ledger failing mid-run, and Ctrl-C while it commits ---------------------------------


class _FailingLedger(Ledger):
    """A real ledger whose writes start failing after ``ok`` of them (as on a full disk)."""

    def __init__(self, path: Path, *, target: str, ok: int) -> None:
        super().__init__(path, target=target)
        self.ok = ok
        self.refused = 0

    def record(self, **fields: Any) -> None:
        if self.ok <= 0:
            self.refused += 1
            raise ConfigError("cannot write the ledger: disk I/O error", where=str(self.path))
        self.ok -= 1
        super().record(**fields)


def test_replay_stops_at_the_first_ledger_write_that_fails(tmp_path: Path) -> None:
    with Emulator(EmulatorConfig(key=KEY, secret=SECRET)) as emulator:
        url = emulator.base_url
        calls = [_retarget(_planned(purchase(n)), url) for n in range(40)]
        ledger = _FailingLedger(tmp_path / "ledger.sqlite", target=url, ok=10)
        summary = ReplaySummary(to_send=40)
        stop = threading.Event()
        with MapiClient(url, Credentials(KEY, SECRET)) as client:
            sender = Sender(client, RateLimiter(1000, burst=4), ReplayOptions(), stop=stop)
            with pytest.raises(ConfigError) as caught:
                replay_calls(
                    calls, sender=sender, ledger=ledger, options=ReplayOptions(), summary=summary
                )
        ledger.close()
        assert stop.is_set()
        arrived = len(emulator.calls())
    error = caught.value
    assert error.message == "cannot write the ledger: disk I/O error"
    assert error.where == str(tmp_path / "ledger.sqlite")
    # The failed write and the calls in flight then: at most --concurrency (4).
    assert 1 <= ledger.refused <= 4
    assert arrived == 10 + ledger.refused
    assert error.hint is not None
    assert f"sending stopped: {ledger.refused} call" in error.hint
    assert summary.sent == arrived  # counted, though not recorded


def _retarget(call: Any, base_url: str) -> KeyedCall:
    from dataclasses import replace

    assert call.url is not None
    retargeted = replace(call, url=base_url + call.url.removeprefix("https://mapi.fbot.me"))
    return KeyedCall(retargeted, call.event.data["messageId"], alone=True)


class _InterruptedLedger(Ledger):
    """A real ledger; Ctrl-C arrives while the ``nth`` record commits (SQLite's fsync)."""

    def __init__(self, path: Path, *, target: str, nth: int) -> None:
        super().__init__(path, target=target)
        self.left = nth

    def record(self, **fields: Any) -> None:
        super().record(**fields)
        self.left -= 1
        if self.left == 0:
            signal.raise_signal(signal.SIGINT)  # handled as the C call returns: here


def test_ctrl_c_during_a_ledger_commit_loses_no_outcome(tmp_path: Path) -> None:
    """A KeyboardInterrupt raised between a call's record and its count (or between
    handing a call to a worker and noting it in flight) lost that outcome; Ctrl-C now
    only asks the run to stop."""
    before = signal.getsignal(signal.SIGINT)
    with Emulator(EmulatorConfig(key=KEY, secret=SECRET)) as emulator:
        url = emulator.base_url
        calls = [_retarget(_planned(purchase(n)), url) for n in range(40)]
        ledger = _InterruptedLedger(tmp_path / "ledger.sqlite", target=url, nth=5)
        summary = ReplaySummary(to_send=40)
        recorded: list[str] = []
        switch = StopSwitch()
        with (
            MapiClient(url, Credentials(KEY, SECRET)) as client,
            switch.installed(),
            switch.sending(),
        ):
            sender = Sender(client, RateLimiter(200, burst=2), ReplayOptions(), stop=switch.stop)
            replay_calls(
                calls,
                sender=sender,
                ledger=ledger,
                options=ReplayOptions(),
                summary=summary,
                abandon=switch.abandon,
                on_outcome=lambda outcome: recorded.append(outcome.key),
            )
        rows = list(ledger.entries())
        ledger.close()
        arrived = len(emulator.calls())
    assert summary.interrupted
    assert 5 <= summary.sent < 40
    assert summary.sent == len(rows) == len(recorded) == arrived
    assert signal.getsignal(signal.SIGINT) is before


class _UnreadableLedger(Ledger):
    """A real ledger whose lookups start failing after ``ok`` of them (damage found late)."""

    def __init__(self, path: Path, *, target: str, ok: int) -> None:
        super().__init__(path, target=target)
        self.ok = ok

    def lookup(self, key: str, subscription: str, action: str, **kwargs: Any) -> Any:
        if self.ok <= 0:
            raise ConfigError("cannot read the ledger: database disk image is malformed")
        self.ok -= 1
        return super().lookup(key, subscription, action, **kwargs)


def test_replay_stops_when_the_ledger_cannot_be_read(tmp_path: Path) -> None:
    with Emulator(EmulatorConfig(key=KEY, secret=SECRET)) as emulator:
        url = emulator.base_url
        calls = [_retarget(_planned(purchase(n)), url) for n in range(30)]
        ledger = _UnreadableLedger(tmp_path / "ledger.sqlite", target=url, ok=8)
        with MapiClient(url, Credentials(KEY, SECRET)) as client:
            sender = Sender(
                client, RateLimiter(1000, burst=4), ReplayOptions(), stop=threading.Event()
            )
            with pytest.raises(ConfigError) as caught:
                replay_calls(
                    calls,
                    sender=sender,
                    ledger=ledger,
                    options=ReplayOptions(),
                    summary=ReplaySummary(to_send=30),
                )
        rows = list(ledger.entries())
        ledger.close()
        arrived = len(emulator.calls())
    assert caught.value.hint == "sending stopped: every call that reached MAPI is recorded"
    # Of the 8 calls looked up, those already sending were sent and recorded; those
    # still waiting for the rate limiter when sending stopped were not sent.
    assert len(rows) == arrived
    assert 8 - 4 <= arrived <= 8


def test_a_keyboard_interrupt_outside_the_main_thread_still_stops_cleanly(tmp_path: Path) -> None:
    """Signals reach only the main thread; elsewhere a KeyboardInterrupt (here raised by a
    progress callback) is still caught: calls in flight finish and are recorded."""
    results: list[ReplaySummary] = []
    with Emulator(EmulatorConfig(key=KEY, secret=SECRET)) as emulator:
        url = emulator.base_url
        calls = [_retarget(_planned(purchase(n)), url) for n in range(30)]
        outcomes: list[str] = []

        def interrupt_at_the_third(outcome: Any) -> None:
            outcomes.append(outcome.key)
            if len(outcomes) == 3:
                raise KeyboardInterrupt

        def run() -> None:
            ledger = Ledger(tmp_path / "ledger.sqlite", target=url)  # used in this thread only
            with MapiClient(url, Credentials(KEY, SECRET)) as client:
                limiter = RateLimiter(200, burst=2)
                sender = Sender(client, limiter, ReplayOptions(), stop=threading.Event())
                results.append(
                    replay_calls(
                        calls,
                        sender=sender,
                        ledger=ledger,
                        options=ReplayOptions(),
                        summary=ReplaySummary(to_send=30),
                        on_outcome=interrupt_at_the_third,
                    )
                )
            ledger.close()

        worker = threading.Thread(target=run)
        worker.start()
        worker.join(timeout=30)
        arrived = len(emulator.calls())
    (summary,) = results
    assert summary.interrupted
    assert 3 <= summary.sent < 30
    assert summary.sent == arrived


@pytest.mark.parametrize("width", [40, 60, 80, 100, 140])
def test_the_progress_line_keeps_its_counts_on_a_narrow_terminal(width: int) -> None:
    import io

    from rich.console import Console

    from fbcli.report.replay import ReplayProgress

    summary = ReplaySummary(to_send=12345, sent=4990, failed=7, unknown=3, retries=12)
    summary.elapsed, summary.current_rate = 96.0, 10.0
    console = Console(file=io.StringIO(), width=width, force_terminal=True, color_system=None)
    with ReplayProgress(console, 12345, clock=lambda: 0.0) as progress:
        progress.update(summary)
        assert progress._progress is not None
        shown = Console(file=io.StringIO(), width=width, color_system=None)
        shown.print(progress._progress.get_renderable())
    line = shown.file.getvalue().rstrip("\n")  # type: ignore[attr-defined]
    assert "\n" not in line
    assert len(line) <= width
    for count in ("5000/12345", "sent 4990", "failed 7", "unknown 3"):
        assert count in line
    assert "…" not in line
    assert ("━" in line) == (width >= 140)
    assert ("retries 12" in line) == (width >= 80)
    assert ("52.1/s (limit 10/s)" in line) == (width >= 100)
