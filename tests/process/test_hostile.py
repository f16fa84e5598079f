"""The MAPI client, and replay, against hostile servers on 127.0.0.1 (``tests/hostile.py``).

Whatever the server does (trickles the status line, the headers or the body,
over plain http or TLS; never answers; stalls the TLS handshake; never reads
the request; resets or cuts off the connection; answers with hundreds of
megabytes), an attempt ends by its deadline, says honestly how far the request
got, reads at most ``MAX_ANSWER`` bytes of any answer, and keeps memory flat.
The deadline tests give every trickle pauses far shorter than the timeouts, so
that only the deadline can end them.
"""

from __future__ import annotations

import json
import os
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpcore
import httpx
import pytest

from fbcli.errors import ApiError, AuthError
from fbcli.ledger import Ledger, ledger_target
from fbcli.mapi import (
    _HTTPX_ERRORS,
    DEADLINE_MESSAGE,
    MAX_ANSWER,
    CallResult,
    Credentials,
    MapiClient,
    Timeouts,
    _Attempt,
    _httpx_errors,
)
from tests.support.hostile import (
    TOKEN,
    HostileServer,
    MuteServer,
    break_off,
    event_response,
    flood,
    head_length,
    reply,
    response,
    self_signed_certificate,
    silent,
    token_response,
    trickle,
)

KEY = "3f2e7a51-8c1b-4f3e-9d6a-0b1c2d3e4f50"
SECRET = "mapi-secret-hostile-7d2a4e685b1f0c9e"
AUTH = "/v1/authorization"
CALL = "/v1/customer"
OTHER = "/v1/event/custom"
CUSTOMER = {"customerId": "c-1", "email": "ada@example.com"}
LIMIT = 1.0
"""The time limit of the in-process attempts, in seconds."""
SLACK = 0.7
"""How late past its deadline an attempt may end (tests share two cores with others)."""
TIMEOUTS = Timeouts(connect=3.0, read=3.0)
"""Longer than every pause of the servers here and than ``LIMIT``: only deadlines end them."""
MB = 1024 * 1024
TOO_LARGE = "the answer is larger than 64 KiB (not read)"
BODY_CUT = "the rest of the answer did not come within the call's time limit (--max-call-time)"
AUTH_CUT = f"authorization: {DEADLINE_MESSAGE}"
STATUS_LINE = len(b"HTTP/1.1 201 Hostile\r\n")


def client(base_url: str, **kwargs: Any) -> MapiClient:
    return MapiClient(base_url, Credentials(KEY, SECRET), timeouts=TIMEOUTS, **kwargs)


def timed(work: Callable[[], Any]) -> tuple[Any, float]:
    """``work()`` (or the exception it raised) and the seconds it took."""
    started = time.monotonic()
    try:
        outcome = work()
    except ApiError as exc:
        outcome = exc
    return outcome, time.monotonic() - started


def within_limit(elapsed: float, limit: float = LIMIT) -> bool:
    return limit - 0.05 <= elapsed < limit + SLACK


def seed_token(mapi: MapiClient) -> None:
    """Give the client a token as if it had authorized (a mute server cannot issue one)."""
    mapi._token = "tok-seeded-0123456789"
    mapi._refresh_at = datetime.max.replace(tzinfo=UTC)


def send_by(mapi: MapiClient, limit: float = LIMIT, path: str = CALL, **body: Any) -> Any:
    return timed(lambda: mapi.send(path, body or CUSTOMER, deadline=time.monotonic() + limit))


# -- a call cut short: how far it got ----------------------------------------------------------


@pytest.mark.parametrize(
    "start", [0, STATUS_LINE + 5], ids=["trickled status line", "trickled headers"]
)
def test_an_answer_trickled_before_its_status_ends_at_the_deadline(start: int) -> None:
    scripts = {AUTH: reply(token_response()), CALL: trickle(event_response(), start=start)}
    with HostileServer(scripts) as server, client(server.base_url) as mapi:
        mapi.authorize()
        result, elapsed = send_by(mapi)
    assert result == CallResult(None, "read", message=DEADLINE_MESSAGE)
    assert within_limit(elapsed), elapsed
    assert server.paths == [AUTH, CALL]


def test_a_server_that_never_answers_ends_at_the_deadline() -> None:
    with (
        HostileServer({AUTH: reply(token_response()), CALL: silent()}) as server,
        client(server.base_url) as mapi,
    ):
        mapi.authorize()
        result, elapsed = send_by(mapi)
    assert result == CallResult(None, "read", message=DEADLINE_MESSAGE)
    assert within_limit(elapsed), elapsed


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        (event_response(), CallResult(201, message=BODY_CUT)),
        (
            response(503, {"message": "busy"}, {"Retry-After": "7"}),
            CallResult(503, message=f"Service Unavailable; {BODY_CUT}", retry_after="7"),
        ),
    ],
    ids=["201", "503"],
)
def test_a_body_trickled_after_the_status_ends_at_the_deadline_and_the_status_stands(
    answer: bytes, expected: CallResult
) -> None:
    scripts = {AUTH: reply(token_response()), CALL: trickle(answer, start=head_length(answer))}
    with HostileServer(scripts) as server, client(server.base_url) as mapi:
        mapi.authorize()
        result, elapsed = send_by(mapi)
    assert result == expected
    assert within_limit(elapsed), elapsed


def test_a_stalled_tls_handshake_ends_at_the_deadline_before_anything_is_sent() -> None:
    with MuteServer() as mute, client(f"https://127.0.0.1:{mute.port}") as mapi:
        seed_token(mapi)
        result, elapsed = send_by(mapi)
        error, auth_elapsed = timed(lambda: mapi.authorize(deadline=time.monotonic() + LIMIT))
    assert result == CallResult(None, "connect", message=DEADLINE_MESSAGE)
    assert within_limit(elapsed), elapsed
    assert isinstance(error, ApiError)
    assert error.message == AUTH_CUT
    assert within_limit(auth_elapsed), auth_elapsed


def test_a_request_the_server_never_reads_ends_at_the_deadline_while_sending() -> None:
    with MuteServer() as mute, client(f"http://127.0.0.1:{mute.port}") as mapi:
        seed_token(mapi)
        result, elapsed = send_by(mapi, customerId="c-1", pad="x" * (32 * MB))
    assert result == CallResult(None, "send", message=DEADLINE_MESSAGE)
    assert within_limit(elapsed), elapsed


def test_an_attempt_without_time_left_sends_nothing() -> None:
    with (
        HostileServer({AUTH: reply(token_response())}) as server,
        client(server.base_url) as mapi,
    ):
        mapi.authorize()
        late = mapi.send(CALL, CUSTOMER, deadline=time.monotonic())
        with pytest.raises(ApiError) as caught:
            mapi.authorize(deadline=time.monotonic() - 1)
    assert late == CallResult(None, "connect", message=DEADLINE_MESSAGE)
    assert caught.value.message == AUTH_CUT
    assert server.paths == [AUTH]


def test_a_body_that_breaks_off_after_the_status_keeps_the_status() -> None:
    answer = event_response()
    scripts = {AUTH: reply(token_response()), CALL: break_off(answer, head_length(answer) + 3)}
    with HostileServer(scripts) as server, client(server.base_url) as mapi:
        result = mapi.send(CALL, CUSTOMER)
    assert result == CallResult(201, message="the answer broke off before its end")


def test_a_connection_reset_while_sending_may_have_reached_mapi() -> None:
    """httpcore answers a write error by reading whatever answer came: the read phase."""
    with MuteServer(reset=True) as mute, client(f"http://127.0.0.1:{mute.port}") as mapi:
        seed_token(mapi)
        result = mapi.send(CALL, {"customerId": "c-1", "pad": "x" * (32 * MB)})
    assert (result.status, result.phase) == (None, "read")
    assert result.message in (
        "the server closed the connection without an answer",
        "connection broke while waiting for the answer",
    )


def test_a_socket_operation_without_time_left_does_not_start() -> None:
    attempt = _Attempt(lambda: 10.0)
    attempt.deadline = 9.5
    with pytest.raises(httpcore.ReadTimeout, match="time limit"):
        attempt.bounded(lambda _: pytest.fail("started"), 3.0, httpcore.ReadTimeout)
    assert attempt.cut
    attempt.deadline, attempt.cut = 20.0, False
    assert attempt.bounded(lambda limit: limit, 3.0, httpcore.ReadTimeout) == 3.0
    assert attempt.bounded(lambda limit: limit, None, httpcore.ReadTimeout) == 10.0
    assert not attempt.cut


def test_without_a_deadline_the_timeouts_still_apply() -> None:
    timeouts = Timeouts(connect=1.0, read=0.3)
    with (
        HostileServer({AUTH: reply(token_response()), CALL: silent()}) as server,
        MapiClient(server.base_url, Credentials(KEY, SECRET), timeouts=timeouts) as mapi,
    ):
        result, elapsed = timed(lambda: mapi.send(CALL, CUSTOMER))
    assert result == CallResult(None, "read", message="no answer in time (read timeout)")
    assert elapsed < 0.3 + SLACK


# -- authorization -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "start",
    [0, STATUS_LINE + 5, head_length(token_response())],
    ids=["trickled status line", "trickled headers", "trickled body"],
)
def test_a_trickled_authorization_ends_at_the_deadline_and_is_not_retried(start: int) -> None:
    with (
        HostileServer({AUTH: trickle(token_response(), start=start)}) as server,
        client(server.base_url) as mapi,
    ):
        error, elapsed = timed(lambda: mapi.authorize(deadline=time.monotonic() + LIMIT))
        in_call, call_elapsed = send_by(mapi)
    for caught, seconds in ((error, elapsed), (in_call, call_elapsed)):
        assert isinstance(caught, ApiError)
        assert not isinstance(caught, AuthError)
        assert caught.message == AUTH_CUT
        assert within_limit(seconds), seconds
    assert server.paths == [AUTH, AUTH]  # no retry after the deadline; the call never went


def test_an_authorization_body_that_breaks_off_is_retried() -> None:
    answer = token_response()
    waits: list[float] = []
    with (
        HostileServer({AUTH: break_off(answer, head_length(answer) + 3)}) as server,
        client(server.base_url, sleep=waits.append) as mapi,
        pytest.raises(ApiError) as caught,
    ):
        mapi.authorize()
    assert (
        caught.value.message == "authorization answer not read: the answer broke off before its end"
    )
    assert waits == [0.5, 1.0]
    assert server.paths == [AUTH] * 3


class Clock:
    """A monotonic clock that moves when the client waits (the servers answer at once)."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.waits: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.now += seconds


@pytest.mark.parametrize(
    ("retry_after", "limit", "waits"),
    [
        (None, 1.2, [0.5]),  # then 1 s would end past the deadline
        (None, 2.0, [0.5, 1.0]),  # every retry fits
        ("5", 3.0, []),  # MAPI's wait does not fit
        ("0.25", 3.0, [0.25, 0.25]),
    ],
)
def test_authorization_retries_only_when_their_wait_ends_before_the_deadline(
    retry_after: str | None, limit: float, waits: list[float]
) -> None:
    headers = {"Retry-After": retry_after} if retry_after else {}
    clock = Clock()
    with (
        HostileServer({AUTH: reply(response(503, {"message": "busy"}, headers))}) as server,
        client(server.base_url, clock=clock, sleep=clock.sleep) as mapi,
        pytest.raises(ApiError) as caught,
    ):
        mapi.authorize(deadline=clock.now + limit)
    assert (caught.value.message, caught.value.status) == ("authorization failed: busy", 503)
    assert clock.waits == waits
    assert server.paths == [AUTH] * (len(waits) + 1)


def test_stop_ends_the_wait_between_authorization_attempts() -> None:
    stop = threading.Event()
    busy = reply(response(503, {"message": "busy"}, {"Retry-After": "10"}))
    with HostileServer({AUTH: busy}) as server, client(server.base_url, stop=stop) as mapi:
        timer = threading.Timer(0.3, stop.set)
        timer.start()
        error, elapsed = timed(mapi.authorize)
        timer.join()
        again, again_elapsed = timed(lambda: mapi.send(CALL, CUSTOMER))
    for caught in (error, again):
        assert isinstance(caught, ApiError)
        assert caught.message == "authorization stopped: fbcli is stopping"
    assert 0.25 < elapsed < 0.3 + SLACK
    assert again_elapsed < 0.1
    assert server.paths == [AUTH]  # nothing more once stopped


def test_waiting_for_another_threads_authorization_keeps_its_own_deadline_and_stop() -> None:
    stop = threading.Event()
    with (
        HostileServer({AUTH: silent()}) as server,
        client(server.base_url, stop=stop) as mapi,
    ):
        holder: list[Any] = []
        thread = threading.Thread(
            target=lambda: holder.append(
                timed(lambda: mapi.authorize(deadline=time.monotonic() + 2.5))
            )
        )
        thread.start()
        while server.paths != [AUTH]:  # the holder is authorizing, with the lock
            time.sleep(0.01)
        waited, elapsed = send_by(mapi, limit=0.4)
        timer = threading.Timer(0.3, stop.set)
        timer.start()
        stopped, stopped_elapsed = timed(lambda: mapi.send(CALL, CUSTOMER))
        timer.join()
        thread.join(10)
    assert isinstance(waited, ApiError)
    assert waited.message == AUTH_CUT
    assert within_limit(elapsed, 0.4), elapsed
    assert isinstance(stopped, ApiError)
    assert stopped.message == "authorization stopped: fbcli is stopping"
    assert within_limit(stopped_elapsed, 0.3), stopped_elapsed
    [(held, held_elapsed)] = holder
    assert isinstance(held, ApiError)
    assert held.message == AUTH_CUT  # its request was in flight: it ran to its own deadline
    assert within_limit(held_elapsed, 2.5), held_elapsed
    assert server.paths == [AUTH]


# -- answer sizes ------------------------------------------------------------------------------


@pytest.mark.parametrize("framing", ["length", "chunked", "close"])
def test_a_huge_answer_is_not_read_and_its_connection_is_not_reused(framing: Any) -> None:
    scripts = {
        AUTH: reply(token_response()),
        CALL: flood(201, 300 * MB, framing=framing),
        OTHER: reply(event_response("e-after")),
    }
    with HostileServer(scripts) as server, client(server.base_url) as mapi:
        result, elapsed = timed(lambda: mapi.send(CALL, CUSTOMER))
        after = mapi.send(OTHER, CUSTOMER)
    assert result == CallResult(201, message=TOO_LARGE)
    assert result.ok  # the status is what counts; the event id is unknown
    assert elapsed < 2.0
    assert after == CallResult(201, event_id="e-after")
    (flooded, _), (next_one, _) = server.requests[-2:]
    assert next_one != flooded  # a new connection: the flooded one was closed


def test_a_huge_error_answer_keeps_its_status() -> None:
    scripts = {AUTH: reply(token_response()), CALL: flood(503, 300 * MB, framing="chunked")}
    with HostileServer(scripts) as server, client(server.base_url) as mapi:
        result = mapi.send(CALL, CUSTOMER)
    assert result == CallResult(503, message=f"Service Unavailable; {TOO_LARGE}")


@pytest.mark.parametrize("framing", ["length", "chunked", "close"])
def test_a_huge_authorization_answer_is_an_api_error(framing: Any) -> None:
    with (
        HostileServer({AUTH: flood(200, 300 * MB, framing=framing)}) as server,
        client(server.base_url) as mapi,
        pytest.raises(ApiError) as caught,
    ):
        mapi.authorize()
    assert caught.value.message == f"authorization answer not read: {TOO_LARGE}"
    assert not isinstance(caught.value, AuthError)
    assert server.paths == [AUTH]


def test_an_answer_of_exactly_the_limit_is_read() -> None:
    pad = MAX_ANSWER - len(json.dumps({"eventId": "e-edge", "pad": ""}).encode())
    edge = {"eventId": "e-edge", "pad": "x" * pad}
    scripts = {
        AUTH: reply(token_response()),
        CALL: reply(response(201, edge)),
        OTHER: flood(201, MAX_ANSWER + 1, framing="close"),
    }
    with HostileServer(scripts) as server, client(server.base_url) as mapi:
        assert mapi.send(CALL, CUSTOMER) == CallResult(201, event_id="e-edge")
        assert mapi.send(OTHER, CUSTOMER) == CallResult(201, message=TOO_LARGE)


CHILD = r"""
import json, sys
from fbcli.errors import ApiError
from fbcli.mapi import Credentials, MapiClient

def kib(field):
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])

calls, authorizations = sys.argv[1:3]
credentials = Credentials("key", "mapi-secret-0123456789")
with MapiClient(calls, credentials) as client:
    client.send("/v1/event/custom", {"eventType": "warm-up", "email": "a@b.c"})
    before = kib("VmRSS")
    call = client.send("/v1/customer", {"customerId": "c-1", "email": "a@b.c"})
with MapiClient(authorizations, credentials) as client:
    try:
        client.authorize()
        authorization = None
    except ApiError as exc:
        authorization = exc.message
print(json.dumps({"before": before, "peak": kib("VmHWM"), "call": call.message,
                  "authorization": authorization}))
"""
"""In a fresh process, so that its peak memory (``VmHWM``) is this scenario's."""


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads /proc/self/status")
def test_memory_stays_flat_under_answers_of_300_mb() -> None:
    calls = HostileServer(
        {
            AUTH: reply(token_response()),
            OTHER: reply(event_response()),
            CALL: flood(201, 300 * MB, framing="chunked"),
        }
    )
    authorizations = HostileServer({AUTH: flood(200, 300 * MB, framing="close")})
    with calls, authorizations:
        child = subprocess.run(
            [sys.executable, "-c", CHILD, calls.base_url, authorizations.base_url],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    assert child.returncode == 0, child.stderr
    report = json.loads(child.stdout)
    assert report["call"] == TOO_LARGE
    assert report["authorization"] == f"authorization answer not read: {TOO_LARGE}"
    assert report["peak"] - report["before"] < 20 * 1024, report  # KiB


# -- the transport -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    made = self_signed_certificate(tmp_path_factory.mktemp("tls"))
    if made is None:
        pytest.skip("needs the openssl command")
    return made


def test_over_tls_calls_work_and_end_at_the_deadline(
    certificate: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    cert, key = certificate
    served = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    served.load_cert_chain(cert, key)
    trusting = ssl.create_default_context(cafile=str(cert))
    # fbcli trusts certifi's bundle only; for this test, the test's own certificate.
    monkeypatch.setattr(httpx, "create_ssl_context", lambda **_: trusting)
    scripts = {
        AUTH: reply(token_response()),
        CALL: reply(event_response("e-tls")),
        OTHER: trickle(event_response(), start=STATUS_LINE + 5),
    }
    with HostileServer(scripts, context=served) as server, client(server.base_url) as mapi:
        assert mapi.send(CALL, CUSTOMER) == CallResult(201, event_id="e-tls")
        big = mapi.send(CALL, {"customerId": "c-1", "pad": "x" * (4 * MB)})
        result, elapsed = send_by(mapi, path=OTHER)
    assert big == CallResult(201, event_id="e-tls")  # written in many partial TLS sends
    assert result == CallResult(None, "read", message=DEADLINE_MESSAGE)
    assert within_limit(elapsed), elapsed
    assert server.base_url.startswith("https://")


def test_httpcore_errors_become_the_httpx_errors_httpx_makes_of_them() -> None:
    """mapi's transport repeats what ``httpx.HTTPTransport`` does with httpcore's errors
    (a private part of httpx, read here only): this fails when httpx changes it."""
    from httpx._transports.default import _load_httpcore_exceptions

    theirs = _load_httpcore_exceptions()
    assert {core for core, _ in _HTTPX_ERRORS} == set(theirs)
    for core in theirs:
        candidates = [mapped for known, mapped in theirs.items() if issubclass(core, known)]
        expected = next(c for c in candidates if all(issubclass(c, o) for o in candidates))
        with pytest.raises(httpx.TransportError) as caught, _httpx_errors():
            raise core("message")
        assert type(caught.value) is expected, core
        assert str(caught.value) == "message"
    with pytest.raises(KeyError), _httpx_errors():
        raise KeyError("not httpcore's")
    assert issubclass(httpcore.ReadTimeout, httpcore.TimeoutException)


# -- replay, end to end ------------------------------------------------------------------------


def purchase(n: int) -> dict[str, Any]:
    return {
        "type": "track",
        "event": "Order Completed",
        "messageId": f"m-{n}",
        "userId": f"u{n}",
        "properties": {"order_id": f"o{n}", "total": 10 + n, "currency": "USD"},
    }


@pytest.fixture
def events(tmp_path: Path) -> Path:
    path = tmp_path / "e.jsonl"
    path.write_text(json.dumps(purchase(1)) + "\n", encoding="utf-8")
    return path


def fbcli(tmp_path: Path, *args: str) -> tuple[subprocess.CompletedProcess[str], float]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FRIENDBUY_")}
    env.update(FRIENDBUY_MAPI_KEY=KEY, FRIENDBUY_MAPI_SECRET=SECRET)
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "fbcli", *args],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    return done, time.monotonic() - started


def test_replay_against_a_mapi_trickling_a_byte_a_second_ends_at_max_call_time(
    tmp_path: Path, events: Path
) -> None:
    """Issue 10's scenario: it ran 120 s past ``--read-timeout 2 --max-call-time 5``."""
    purchase_path = "/v1/event/purchase"
    scripts = {AUTH: reply(token_response()), purchase_path: trickle(event_response(), interval=1)}
    ledger = tmp_path / "ledger.sqlite"
    with HostileServer(scripts) as server:
        done, elapsed = fbcli(
            tmp_path,
            "replay", str(events), "--base-url", server.base_url, "--ledger", str(ledger),
            "--read-timeout", "2", "--max-call-time", "5", "--format", "json",
        )  # fmt: skip
    assert done.returncode == 1, done.stderr
    summary = json.loads(done.stdout)
    assert (summary["sent"], summary["unknown"], summary["failed"]) == (0, 1, 0)
    [problem] = summary["problems"]
    assert problem["status"] == "unknown"
    assert problem["message"].startswith(DEADLINE_MESSAGE)
    assert 5 <= elapsed < 5 + 2.5, elapsed  # 5 s, and the start-up of a Python process
    assert server.paths == [AUTH, purchase_path]  # sent once, not resent
    with Ledger(ledger, target=ledger_target(server.base_url)) as book:
        assert book.counts() == {"unknown": 1}
    for text in (done.stdout, done.stderr):
        assert SECRET not in text
        assert TOKEN not in text


def test_replay_against_a_trickling_authorization_ends_at_max_call_time(
    tmp_path: Path, events: Path
) -> None:
    with HostileServer({AUTH: trickle(token_response(), interval=0.5)}) as server:
        done, elapsed = fbcli(
            tmp_path,
            "replay", str(events), "--base-url", server.base_url,
            "--ledger", str(tmp_path / "ledger.sqlite"),
            "--read-timeout", "2", "--max-call-time", "2",
        )  # fmt: skip
    assert done.returncode == 1, done.stderr
    assert f"Error: {AUTH_CUT}" in done.stderr
    assert 2 <= elapsed < 2 + 2.5, elapsed
    assert server.paths == [AUTH]
    assert SECRET not in done.stdout + done.stderr
