"""The MAPI client, against the real emulator on 127.0.0.1.

``httpx.MockTransport`` serves only what a socket cannot produce on demand: an
``expires`` without milliseconds or garbage, a 2xx without JSON, a redirect, a
token or a message crafted to leak, a body that cannot be decoded, a failure
while sending.
"""

from __future__ import annotations

import json
import socket
import threading
import traceback
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from fbcli.emulator import Emulator, EmulatorConfig, parse_faults
from fbcli.errors import ApiError, AuthError, ConfigError
from fbcli.hosts import check_base_url
from fbcli.mapi import (
    DEFAULT_BASE_URL,
    SHORT_LIVED,
    CallResult,
    Credentials,
    MapiClient,
    Timeouts,
    base_url_for,
    error_message,
    parse_expires,
    split_secret,
)

KEY = "3f2e7a51-8c1b-4f3e-9d6a-0b1c2d3e4f50"
SECRET = "mapi-secret-5b1f0c9e7d2a4e68"
CUSTOMER = {"customerId": "c-1", "email": "ada@example.com"}
START = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)


class Now:
    """A wall clock for the client that moves only when told to."""

    def __init__(self, at: datetime = START) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at


@pytest.fixture
def emu() -> Iterator[Emulator]:
    with Emulator(EmulatorConfig(key=KEY, secret=SECRET)) as emulator:
        yield emulator


@pytest.fixture
def client(emu: Emulator) -> Iterator[MapiClient]:
    with MapiClient(emu.base_url, Credentials(KEY, SECRET)) as mapi:
        yield mapi


def closed_port() -> int:
    """A port nothing listens on (bound, then closed)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


Handler = Callable[[httpx.Request], httpx.Response]


def mock_client(handler: Handler, *, secret: str = SECRET, **kwargs: Any) -> MapiClient:
    return MapiClient(
        "https://mapi.example.test",
        Credentials(KEY, secret),
        transport=httpx.MockTransport(handler),
        **kwargs,
    )


def token_reply(token: str = "tok-123", expires: object = "2030-01-01T13:00:00.000Z") -> Any:
    return httpx.Response(200, json={"tokenType": "Bearer", "token": token, "expires": expires})


class ScriptedMapi:
    """A MockTransport handler: authorization and calls answered by functions; records all."""

    def __init__(
        self,
        *,
        auth: Callable[[int], httpx.Response] = lambda _: token_reply(),
        call: Callable[[httpx.Request], httpx.Response] = lambda _: httpx.Response(
            201, json={"eventId": "e-1"}
        ),
    ) -> None:
        self.auth, self.call = auth, call
        self.requests: list[httpx.Request] = []
        self.auths = 0

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if request.url.path == "/v1/authorization":
            self.auths += 1
            return self.auth(self.auths)
        return self.call(request)


# -- authorization ----------------------------------------------------------------------


def test_authorize_then_send_returns_the_event_id(emu: Emulator, client: MapiClient) -> None:
    client.authorize()
    assert emu.stats()["tokens_issued"] == 1
    result = client.send("/v1/customer", CUSTOMER)
    assert result == CallResult(201, event_id=emu.calls()[0].event_id)
    assert result.ok
    assert not result.reauthorized
    assert emu.calls()[0].body == CUSTOMER


def test_send_authorizes_on_first_use_and_caches_the_token(
    emu: Emulator, client: MapiClient
) -> None:
    statuses = [client.send("/v1/customer", CUSTOMER).status for _ in range(3)]
    assert statuses == [201, 200, 200]
    assert emu.stats()["tokens_issued"] == 1


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2030-01-01T13:00:00.588Z", datetime(2030, 1, 1, 13, 0, 0, 588000, tzinfo=UTC)),
        ("2030-01-01T13:00:00Z", datetime(2030, 1, 1, 13, tzinfo=UTC)),
        ("2030-01-01T13:00:00", datetime(2030, 1, 1, 13, tzinfo=UTC)),
        (" 2030-01-01T14:00:00+01:00 ", datetime(2030, 1, 1, 13, tzinfo=UTC)),
        ("soon", START + SHORT_LIVED),
        ("", START + SHORT_LIVED),
        (None, START + SHORT_LIVED),
        (1893502800, START + SHORT_LIVED),
        ("2020-03-20T22:58:56.588Z", START + SHORT_LIVED),  # already past: clocks disagree
    ],
)
def test_parse_expires(value: object, expected: datetime) -> None:
    assert parse_expires(value, now=START) == expected


def test_token_is_refreshed_shortly_before_it_expires(emu: Emulator) -> None:
    start = datetime.now(UTC)
    now = Now(start)
    with MapiClient(emu.base_url, Credentials(KEY, SECRET), now=now) as client:
        assert client.send("/v1/customer", CUSTOMER).ok
        now.at = start + timedelta(seconds=3600 - 12)
        assert client.send("/v1/customer", CUSTOMER).ok
        assert emu.stats()["tokens_issued"] == 1
        now.at = start + timedelta(seconds=3600 - 5)  # within the last 10 s
        assert client.send("/v1/customer", CUSTOMER).ok
        assert emu.stats()["tokens_issued"] == 2


def test_short_lived_token_is_refreshed_a_quarter_of_its_life_early() -> None:
    with Emulator(EmulatorConfig(key=KEY, secret=SECRET, token_ttl=20)) as emu:
        start = datetime.now(UTC)
        now = Now(start)
        with MapiClient(emu.base_url, Credentials(KEY, SECRET), now=now) as client:
            client.authorize()
            now.at = start + timedelta(seconds=14)
            assert client.send("/v1/customer", CUSTOMER).ok
            assert emu.stats()["tokens_issued"] == 1
            now.at = start + timedelta(seconds=16)  # 20 s life: refresh 5 s early
            assert client.send("/v1/customer", CUSTOMER).ok
            assert emu.stats()["tokens_issued"] == 2


@pytest.mark.parametrize(
    ("expires", "kept_until", "renewed_at"),
    [
        ("2030-01-01T13:00:00Z", 3589, 3591),  # without milliseconds
        ("2030-01-01T13:00:00.250Z", 3589, 3591),
        ("not a date", 49, 51),  # garbage: 60 s, refreshed 10 s early
        (None, 49, 51),
    ],
)
def test_expires_drives_the_refresh(expires: object, kept_until: int, renewed_at: int) -> None:
    mapi = ScriptedMapi(auth=lambda _: token_reply(expires=expires))
    now = Now()
    with mock_client(mapi, now=now) as client:
        client.authorize()
        now.at = START + timedelta(seconds=kept_until)
        assert client.send("/v1/customer", CUSTOMER).ok
        assert mapi.auths == 1
        now.at = START + timedelta(seconds=renewed_at)
        assert client.send("/v1/customer", CUSTOMER).ok
        assert mapi.auths == 2


def test_revoked_token_reauthorizes_once_and_retries(emu: Emulator, client: MapiClient) -> None:
    client.authorize()
    emu.revoke_tokens()
    result = client.send("/v1/customer", CUSTOMER)
    assert result.status == 201
    assert result.reauthorized
    assert result.event_id == emu.calls()[0].event_id
    stats = emu.stats()
    assert (stats["tokens_issued"], stats["unauthorized_401"], stats["accepted"]) == (2, 1, 1)
    # The new token is kept: the next call neither re-authorizes nor says it did.
    again = client.send("/v1/customer", CUSTOMER)
    assert (again.status, again.reauthorized) == (200, False)
    assert emu.stats()["tokens_issued"] == 2


def test_persistent_401_comes_back_after_one_reauthorization() -> None:
    ticks = iter(range(0, 10**9, 10**6))  # each tick outlives any token: every token is stale

    with Emulator(EmulatorConfig(key=KEY, secret=SECRET), clock=lambda: float(next(ticks))) as emu:
        with MapiClient(emu.base_url, Credentials(KEY, SECRET)) as client:
            result = client.send("/v1/customer", CUSTOMER)
        stats = emu.stats()
    assert result.status == 401
    assert result.reauthorized
    assert not result.ok
    assert result.message is not None
    assert "revoked" in result.message
    assert (stats["tokens_issued"], stats["unauthorized_401"], stats["accepted"]) == (2, 2, 0)


def test_reauthorization_refused_raises_auth_error() -> None:
    mapi = ScriptedMapi(
        auth=lambda n: token_reply() if n == 1 else httpx.Response(401, json={"message": "no"}),
        call=lambda _: httpx.Response(401, json={"message": "expired"}),
    )
    with mock_client(mapi) as client, pytest.raises(AuthError, match="authorization refused: no"):
        client.send("/v1/customer", CUSTOMER)
    assert mapi.auths == 2


def secret_free(text: str, *secrets: str) -> bool:
    return not any(secret in text for secret in secrets)


def exception_texts(exc: BaseException) -> list[str]:
    return [str(exc), repr(exc), "".join(traceback.format_exception(exc))]


def test_bad_credentials_raise_auth_error_without_the_secret(emu: Emulator) -> None:
    wrong = "wrong-secret-0d9c8b7a6f5e"
    credentials = Credentials(KEY, wrong)
    with MapiClient(emu.base_url, credentials) as client:
        with pytest.raises(AuthError) as caught:
            client.authorize()
        exc = caught.value
        assert exc.status == 401
        assert exc.url == f"{emu.base_url}/v1/authorization"
        assert exc.message.startswith("authorization refused: the key or the secret is wrong")
        assert "(reference " in exc.message
        assert exc.hint is not None
        assert "\n" not in str(exc)
        for text in [*exception_texts(exc), repr(client), repr(credentials), str(credentials)]:
            assert secret_free(text, wrong, SECRET), text
        assert KEY in repr(credentials)
        with pytest.raises(AuthError):
            client.send("/v1/customer", CUSTOMER)
    assert emu.stats()["tokens_issued"] == 0
    assert emu.calls() == []


def test_no_token_in_repr_after_authorize(emu: Emulator, client: MapiClient) -> None:
    client.authorize()
    token = client._token
    assert token
    assert secret_free(repr(client), token, SECRET)
    assert emu.base_url in repr(client)


def test_echoed_secret_and_token_are_hidden() -> None:
    token = "tok-7f3a9c1e5b2d4680aa"
    mapi = ScriptedMapi(
        auth=lambda n: (
            token_reply(token)
            if n == 1
            else httpx.Response(
                401, json={"message": f"secret {SECRET} is revoked", "reference": SECRET}
            )
        ),
        call=lambda _: httpx.Response(401, json={"message": f"token {token} expired"}),
    )
    with mock_client(mapi) as client:
        client.authorize()
        with pytest.raises(AuthError) as caught:
            client.send("/v1/customer", CUSTOMER)
        assert "secret <hidden> is revoked (reference <hidden>)" in caught.value.message
        for text in [*exception_texts(caught.value), repr(client)]:
            assert secret_free(text, SECRET, token), text
    mapi = ScriptedMapi(
        auth=lambda _: token_reply(token),
        call=lambda _: httpx.Response(400, json={"message": f"bad {token} / {SECRET}"}),
    )
    with mock_client(mapi) as client:
        assert client.send("/v1/customer", CUSTOMER).message == "bad <hidden> / <hidden>"


def test_short_secrets_are_not_blanked_out_of_ordinary_words() -> None:
    mapi = ScriptedMapi(
        call=lambda _: httpx.Response(503, json={"message": "the emulator is busy"}),
    )
    with mock_client(mapi, secret="emulator") as client:
        assert client.send("/v1/customer", CUSTOMER).message == "the emulator is busy"


def test_authorization_server_error_is_an_api_error_not_an_auth_error(emu: Emulator) -> None:
    with (
        Emulator(EmulatorConfig(faults=parse_faults("5xx=1"))) as failing,
        MapiClient(failing.base_url, Credentials(KEY, SECRET)) as client,
        pytest.raises(ApiError) as caught,
    ):
        client.authorize()
    assert not isinstance(caught.value, AuthError)
    assert caught.value.status in (500, 502, 503, 504)
    assert caught.value.message.startswith("authorization failed: the emulator injected")


@pytest.mark.parametrize(
    "reply",
    [
        httpx.Response(200, json={"tokenType": "Bearer"}),
        httpx.Response(200, json=["token"]),
        httpx.Response(200, content=b"<html>ok</html>"),
        httpx.Response(200, json={"token": ""}),
        httpx.Response(200, json={"token": 42}),
    ],
)
def test_authorization_without_a_token_is_an_api_error(reply: httpx.Response) -> None:
    with (
        mock_client(ScriptedMapi(auth=lambda _: reply)) as client,
        pytest.raises(ApiError, match="authorization answered without a token"),
    ):
        client.authorize()


@pytest.mark.parametrize("token", ["tok en", "tok\r\nX-Injected: 1", "tök"])
def test_token_that_cannot_go_in_a_header_is_refused_unshown(token: str) -> None:
    with (
        mock_client(ScriptedMapi(auth=lambda _: token_reply(token))) as client,
        pytest.raises(ApiError, match="a token that cannot be sent") as caught,
    ):
        client.authorize()
    assert all(token not in text for text in exception_texts(caught.value))


def test_authorization_header_is_bearer_token_and_body_is_json() -> None:
    mapi = ScriptedMapi(auth=lambda _: token_reply("tok-abc.def_1"))
    with mock_client(mapi) as client:
        assert client.send("/v1/event/custom", {"eventType": "x", "email": "é@x"}).ok
    auth, call = mapi.requests
    assert "authorization" not in auth.headers
    assert json.loads(auth.content) == {"key": KEY, "secret": SECRET}
    assert call.headers["Authorization"] == "Bearer tok-abc.def_1"
    assert call.headers["Content-Type"] == "application/json"
    assert call.headers["User-Agent"].startswith("fbcli/")
    assert json.loads(call.content.decode("utf-8")) == {"eventType": "x", "email": "é@x"}


# -- call results ---------------------------------------------------------------------------


def test_400_names_the_field(emu: Emulator, client: MapiClient) -> None:
    result = client.send("/v1/customer", {"customerId": "c-1"})
    assert result.status == 400
    assert not result.ok
    assert result.message is not None
    assert result.message.startswith("required field 'email' is missing (reference ")
    assert result.event_id is None
    assert emu.calls() == []


def test_429_surfaces_retry_after() -> None:
    config = EmulatorConfig(key=KEY, secret=SECRET, rate_limit=0.5)
    with (  # time stands still: the bucket stays full
        Emulator(config, clock=lambda: 1000.0) as emu,
        MapiClient(emu.base_url, Credentials(KEY, SECRET)) as client,
    ):
        client.authorize()
        result = client.send("/v1/customer", CUSTOMER)
    assert (result.status, result.retry_after) == (429, "2")
    assert result.message is not None
    assert "rate limit" in result.message


def test_429_without_retry_after() -> None:
    config = EmulatorConfig(key=KEY, secret=SECRET, rate_limit=1.0, retry_after=False)
    with (
        Emulator(config, clock=lambda: 1000.0) as emu,
        MapiClient(emu.base_url, Credentials(KEY, SECRET)) as client,
    ):
        client.authorize()
        result = client.send("/v1/customer", CUSTOMER)
    assert (result.status, result.retry_after) == (429, None)


def test_404_is_a_status_not_an_exception(client: MapiClient) -> None:
    result = client.send("/v1/event/nope", CUSTOMER)
    assert result.status == 404
    assert result.message is not None
    assert "no endpoint" in result.message


@pytest.mark.parametrize(
    "reply",
    [
        httpx.Response(201, content=b"created"),
        httpx.Response(200, json={"eventId": 7}),
        httpx.Response(204),
    ],
)
def test_2xx_without_json_is_a_success_without_event_id(reply: httpx.Response) -> None:
    with mock_client(ScriptedMapi(call=lambda _: reply)) as client:
        result = client.send("/v1/customer", CUSTOMER)
    assert result.ok
    assert result.event_id is None


def test_redirects_are_not_followed() -> None:
    mapi = ScriptedMapi(
        call=lambda _: httpx.Response(302, headers={"Location": "https://elsewhere.test/steal"})
    )
    with mock_client(mapi) as client:
        result = client.send("/v1/customer", CUSTOMER)
    assert result.status == 302
    assert not result.ok
    assert [r.url.host for r in mapi.requests] == ["mapi.example.test"] * 2
    mapi = ScriptedMapi(
        auth=lambda _: httpx.Response(307, headers={"Location": "https://elsewhere.test/"})
    )
    with mock_client(mapi) as client, pytest.raises(ApiError) as caught:
        client.authorize()
    assert caught.value.status == 307
    assert len(mapi.requests) == 1


# -- transport failures ---------------------------------------------------------------------


def test_connection_refused_is_the_connect_phase() -> None:
    base_url = f"http://127.0.0.1:{closed_port()}"
    with (
        MapiClient(base_url, Credentials(KEY, SECRET)) as client,
        pytest.raises(ApiError, match="cannot reach MAPI: connection failed") as caught,
    ):
        client.authorize()
    assert caught.value.status is None
    assert isinstance(caught.value, ApiError)
    assert not isinstance(caught.value, AuthError)


def test_server_gone_after_authorization_is_the_connect_phase() -> None:
    with Emulator(EmulatorConfig(key=KEY, secret=SECRET)) as emu:
        client = MapiClient(emu.base_url, Credentials(KEY, SECRET))
        client.authorize()
    with client:
        result = client.send("/v1/customer", CUSTOMER)
    assert result == CallResult(None, "connect", message="connection failed")


@pytest.mark.parametrize(
    ("faults", "seed", "stat"),
    [
        # Seeds where the first request (authorization) is spared and the second is hit.
        ("drop-after=0.5", 5, "dropped_after"),
        ("drop-before=0.5", 5, "dropped_before"),
    ],
)
def test_dropped_connection_is_the_read_phase(faults: str, seed: int, stat: str) -> None:
    config = EmulatorConfig(key=KEY, secret=SECRET, faults=parse_faults(faults), seed=seed)
    with Emulator(config) as emu:
        with MapiClient(emu.base_url, Credentials(KEY, SECRET)) as client:
            client.authorize()
            result = client.send("/v1/customer", CUSTOMER)
        stats = emu.stats()
    assert result.status is None
    assert result.phase == "read"
    assert result.message == "the server closed the connection without an answer"
    assert (stats["tokens_issued"], stats[stat]) == (1, 1)
    assert stats["accepted"] == (1 if stat == "dropped_after" else 0)


def test_authorization_dropped_after_issuing_is_retried_then_an_api_error() -> None:
    config = EmulatorConfig(key=KEY, secret=SECRET, faults=parse_faults("drop-after=1"))
    waits: list[float] = []
    with Emulator(config) as emu:
        with (
            MapiClient(emu.base_url, Credentials(KEY, SECRET), sleep=waits.append) as client,
            pytest.raises(ApiError, match="without an answer"),
        ):
            client.authorize()
        assert emu.stats()["tokens_issued"] == 3
    assert waits == [0.5, 1.0]


def test_authorization_is_retried_after_5xx_and_429() -> None:
    config = EmulatorConfig(key=KEY, secret=SECRET, faults=parse_faults("5xx=0.5,429=0.3"), seed=11)
    waits: list[float] = []
    with Emulator(config) as emu:
        with MapiClient(emu.base_url, Credentials(KEY, SECRET), sleep=waits.append) as client:
            for _ in range(5):
                client.authorize()
        stats = emu.stats()
    assert stats["tokens_issued"] == 5
    assert len(waits) == stats["errors_5xx"] + stats["rate_limited_429"] > 0


def test_slow_answer_with_a_short_read_timeout_is_the_read_phase() -> None:
    config = EmulatorConfig(key=KEY, secret=SECRET, faults=parse_faults("slow=0.5@5"), seed=3)
    with Emulator(config) as emu:
        timeouts = Timeouts(connect=2.0, read=0.2)
        with MapiClient(emu.base_url, Credentials(KEY, SECRET), timeouts=timeouts) as client:
            client.authorize()
            result = client.send("/v1/customer", CUSTOMER)
    assert result == CallResult(None, "read", message="no answer in time (read timeout)")


@pytest.mark.parametrize(
    ("error", "phase", "message"),
    [
        (httpx.ConnectTimeout, "connect", "connection timed out"),
        (httpx.PoolTimeout, "connect", "no free connection in time"),
        (httpx.WriteError, "send", "connection broke while sending"),
        (httpx.WriteTimeout, "send", "sending timed out"),
        (httpx.ReadError, "read", "connection broke while waiting for the answer"),
        (httpx.ProxyError, "read", "ProxyError"),
    ],
)
def test_transport_errors_map_to_phases(
    error: type[httpx.TransportError], phase: str, message: str
) -> None:
    def fail(request: httpx.Request) -> httpx.Response:
        raise error(f"Authorization: Bearer tok-123 {SECRET}", request=request)

    with mock_client(ScriptedMapi(call=fail)) as client:
        result = client.send("/v1/customer", CUSTOMER)
    assert (result.status, result.phase, result.message) == (None, phase, message)


def gzipped(_: object) -> httpx.Response:
    """A 200 that claims gzip (fbcli asks for answers uncompressed)."""
    return httpx.Response(
        200, headers={"Content-Encoding": "gzip"}, stream=httpx.ByteStream(b"not gzip")
    )


def test_a_compressed_answer_is_not_decoded() -> None:
    """Nothing is inflated in memory: the status stands, the body is left unread."""
    mapi = ScriptedMapi(call=gzipped)
    with mock_client(mapi) as client:
        result = client.send("/v1/customer", CUSTOMER)
    assert result == CallResult(
        200, message="the answer is compressed (gzip), which fbcli does not read"
    )
    assert result.ok
    assert {r.headers["Accept-Encoding"] for r in mapi.requests} == {"identity"}
    with (
        mock_client(ScriptedMapi(auth=gzipped)) as client,
        pytest.raises(
            ApiError, match=r"authorization answer not read: the answer is compressed \(gzip\)"
        ),
    ):
        client.authorize()


# -- threads --------------------------------------------------------------------------------


def test_concurrent_sends_after_a_revoke_reauthorize_once(emu: Emulator) -> None:
    with MapiClient(emu.base_url, Credentials(KEY, SECRET), max_connections=8) as client:
        client.authorize()
        emu.revoke_tokens()
        barrier = threading.Barrier(8)
        results: list[CallResult] = []
        lock = threading.Lock()

        def work(n: int) -> None:
            barrier.wait()
            result = client.send("/v1/event/custom", {"eventType": f"t{n}", "email": "a@b.c"})
            with lock:
                results.append(result)

        threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(10)
    assert len(results) == 8
    assert all(result.status == 201 for result in results)
    assert 2 <= emu.stats()["tokens_issued"] <= 3  # the first, then one (at most two) more
    assert len(emu.calls()) == 8


# -- error messages -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        (422, b'{"error": "Unprocessable", "code": 0}', "Unprocessable"),
        (422, b'{"message": "  ", "error": "E"}', "E"),
        (500, b"<html>oops</html>", "Internal Server Error"),
        (502, b'{"code": 0, "reference": "r-2"}', "Bad Gateway (reference r-2)"),
        (599, b"", "HTTP 599"),
        (503, None, "Service Unavailable"),  # the body was not read
        (400, json.dumps({"message": "a\nb\x1b[31mc\td"}).encode(), "a b [31mc d"),
        (
            400,
            json.dumps({"message": "m", "reference": "r-1\nINJECTED"}).encode(),
            "m (reference r-1 INJECTED)",
        ),
        (400, b'{"message": "m", "reference": " "}', "m"),
        (400, json.dumps({"message": "x" * 1000}).encode(), "x" * 300),
        (400, b"[" * 100_000 + b"]" * 100_000, "Bad Request"),
        (400, b"\xff\xfe\x00garbage", "Bad Request"),
    ],
)
def test_error_message(status: int, body: bytes | None, expected: str) -> None:
    assert error_message(status, body) == expected


# -- base URLs and secrets ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("secret", "expected"),
    [
        ("sandbox:abc", ("sandbox", "abc")),
        (":abc", (None, ":abc")),
        ("abc", (None, "abc")),
        ("a:b:c", ("a", "b:c")),
    ],
)
def test_split_secret(secret: str, expected: tuple[str | None, str]) -> None:
    assert split_secret(secret) == expected


def test_base_url_for() -> None:
    assert base_url_for(None) == DEFAULT_BASE_URL == "https://mapi.fbot.me"
    assert base_url_for("sandbox") == "https://mapi.fbot-sandbox.me"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://mapi.fbot.me", "https://mapi.fbot.me"),
        ("https://mapi.fbot.me/", "https://mapi.fbot.me"),
        ("HTTPS://mapi.example.com:8443/base/", "HTTPS://mapi.example.com:8443/base"),
        ("http://127.0.0.1:8080", "http://127.0.0.1:8080"),
        ("http://localhost:1", "http://localhost:1"),
        ("http://[::1]:9000/", "http://[::1]:9000"),
    ],
)
def test_check_base_url_accepts(url: str, expected: str) -> None:
    assert check_base_url(url) == expected


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ftp://mapi.fbot.me", "must be an http(s) URL"),
        ("mapi.fbot.me", "must be an http(s) URL"),
        ("localhost", "must be an http(s) URL"),
        ("https://", "must be an http(s) URL"),
        ("http://mapi.fbot.me", "plain http is only allowed to this machine"),
        ("http://10.0.0.1", "plain http is only allowed to this machine"),
        ("https://user:hunter2-secret@mapi.fbot.me", "must not carry a user name or password"),
        ("http://user@localhost", "must not carry a user name or password"),
        ("https://mapi.fbot.me/?x=1", "must not carry a query or fragment"),
        ("https://mapi.fbot.me?", "must not carry a query or fragment"),
        ("https://mapi.fbot.me/#top", "must not carry a query or fragment"),
        ("https://mapi.fbot.me/?token=hunter2", "'https://mapi.fbot.me/' is followed by a query"),
        ("https://mapi.fbot.me#hunter2", "followed by a fragment"),
        ("https://[::1", "not a valid URL"),
        ("https://mapi.fbot.me:99999", "not a valid URL"),
        ("https://mapi.fbot.me:port", "not a valid URL"),
        (" https://mapi.fbot.me", "spaces or control characters"),
        ("https://mapi.fbot.me/\n", "spaces or control characters"),
    ],
)
def test_check_base_url_rejects(url: str, message: str) -> None:
    with pytest.raises(
        ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")
    ) as caught:
        check_base_url(url)
    assert "hunter2" not in str(caught.value)
    assert "\n" not in str(caught.value)


def test_client_checks_its_base_url() -> None:
    with pytest.raises(ConfigError, match="plain http"):
        MapiClient("http://mapi.fbot.me", Credentials(KEY, SECRET))
