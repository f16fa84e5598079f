"""The Friendbuy Merchant API client: authorization, one call, errors as values.

The only module that imports httpx (and httpcore, the transport under it), and
the only one that touches the ``Authorization`` header.  One ``httpx.Client``
is shared by all worker threads; the token is cached until shortly before it
expires and refreshed under a lock.  TLS verification is always on, redirects
are never followed, and plain ``http`` is accepted only for loopback hosts.

Bounded whatever the server does
================================
- **Time.**  ``send`` and ``authorize`` take a ``deadline`` (an instant of
  ``clock``, ``time.monotonic`` by default).  Everything the attempt does ends
  by then: waiting for another thread's authorization, authorizing (with its
  retries and their waits), connecting, TLS, sending, and reading the status
  line, the headers and the body.  httpx's timeouts bound each socket
  operation, so a server trickling one byte a second never trips them; here
  each socket operation gets ``min(its timeout, time left)`` instead
  (``_DeadlineBackend``, given to httpcore's connection pool through its
  public ``network_backend`` parameter).  A request cut short says how far it
  got: ``connect`` (nothing was sent) or ``send``/``read`` (it may have reached
  MAPI), with ``DEADLINE_MESSAGE``.  Not bounded: the host name lookup
  (``getaddrinfo`` cannot be interrupted), which only a host name, never
  loopback, needs.
- **Size.**  At most ``MAX_ANSWER`` bytes of any answer's body are read; the
  rest is left unread and the connection is closed, not pooled again.  Answers
  are asked for uncompressed (``Accept-Encoding: identity``) and a compressed
  one is not decoded, so nothing inflates in memory either.
- **Stop.**  The waits between authorization attempts, and for another
  thread's authorization, end as soon as ``stop`` (Ctrl-C) is set.

Nothing here prints, logs or puts a secret or token into an exception or a
``repr``: ``Credentials`` hides its secret, and errors carry the URL, the
status and MAPI's own message and reference only.  Each token is registered
with ``redact.hide`` as it arrives, so even the traceback of a bug shows it
blanked out.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import re
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Final, Literal, TypeVar

import httpcore
import httpx

from fbcli import __version__, redact
from fbcli.errors import ApiError, AuthError
from fbcli.hosts import check_base_url

DEFAULT_BASE_URL: Final = "https://mapi.fbot.me"
AUTH_ATTEMPTS: Final = 3
REFRESH_MARGIN: Final = timedelta(seconds=10)
"""Refresh a token this long before it expires (Segment's destination does the same);
for tokens that live less than four times that, a quarter of their lifetime."""

SHORT_LIVED: Final = timedelta(seconds=60)
"""How long a token is trusted when its ``expires`` is missing, unreadable or already past."""
MIN_HIDDEN_LENGTH: Final = 12
"""Secrets and tokens this long or longer are blanked out of MAPI's messages; shorter
strings are too likely to be ordinary words (a real MAPI secret is far longer)."""
_TOKEN_CHARS: Final = re.compile(r"[\x21-\x7e]+")
"""A token must fit in a header as is: printable ASCII, no spaces."""

MAX_ANSWER: Final = 64 * 1024
"""The most bytes of an answer's body that are read (2xx and errors, authorization included).

MAPI answers with small JSON objects (an event id and a date; an error's message and
reference): a few hundred bytes.  64 KiB leaves room for a gateway's HTML error page, is
what httpcore reads from a socket at once (so the limit costs at most one read more), and
bounds what the answers of all calls in flight hold to 64 KiB each (4 MiB at the highest
``--concurrency``, 64), whatever the servers send."""
DEADLINE_MESSAGE: Final = "no complete answer within the call's time limit (--max-call-time)"
"""The message of an attempt that its deadline cut short."""
_BODY_CUT: Final = (
    "the rest of the answer did not come within the call's time limit (--max-call-time)"
)
_LOCK_POLL: Final = 0.05
"""How often a thread waiting for another thread's authorization looks at its deadline and stop."""

Phase = Literal["connect", "send", "read"]
_Problem = Literal["large", "cut", "broken", "compressed"]
"""Why an answer's body was not read: too large, cut by the deadline, broken off, compressed."""
_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class Credentials:
    """A MAPI key and secret; the secret never shows in a ``repr``."""

    key: str
    secret: str = field(repr=False)

    def __repr__(self) -> str:
        return f"Credentials(key={self.key!r}, secret=<hidden>)"


def split_secret(secret: str) -> tuple[str | None, str]:
    """The ``ENV:SECRET`` convention: ``("sandbox", "abc")`` for ``sandbox:abc``.

    A colon at position 0 (or none) means no environment.
    """
    env, sep, rest = secret.partition(":")
    if sep and env:
        return env, rest
    return None, secret


def base_url_for(environment: str | None) -> str:
    """``https://mapi.fbot.me``, or ``https://mapi.fbot-ENV.me`` for an environment."""
    return DEFAULT_BASE_URL if environment is None else f"https://mapi.fbot-{environment}.me"


@dataclass(frozen=True, slots=True)
class Timeouts:
    """Connect and read timeouts, in seconds."""

    connect: float = 5.0
    read: float = 30.0


@dataclass(frozen=True, slots=True)
class CallResult:
    """What one HTTP attempt gave: a status, or a transport failure and its phase."""

    status: int | None
    phase: Phase | None = None
    """For a transport failure: ``connect`` (never sent) or ``send``/``read`` (may have arrived)."""
    event_id: str | None = None
    message: str | None = None
    retry_after: str | None = None
    reauthorized: bool = False

    @property
    def ok(self) -> bool:
        """A 2xx answer."""
        return self.status is not None and 200 <= self.status < 300


def error_message(status: int, body: bytes | None, *, hide: tuple[str, ...] = ()) -> str:
    """MAPI's error body as one plain line: its message and reference, or the reason phrase.

    ``body`` is the answer's body as read (``None`` when it was not read).  Control
    characters become spaces, runs of spaces one space; each string in ``hide`` (a
    secret, a token) that MAPI might echo is replaced by ``<hidden>``.
    """
    message: str | None = None
    reference: str | None = None
    data = _json(body)
    if isinstance(data, dict):
        for key in ("message", "error"):
            if isinstance(data.get(key), str) and data[key].strip():
                message = data[key]
                break
        if isinstance(data.get("reference"), str) and data["reference"].strip():
            reference = _one_line(data["reference"], hide, limit=100)
    text = _one_line(message or httpx.codes.get_reason_phrase(status) or f"HTTP {status}", hide)
    return f"{text} (reference {reference})" if reference else text


def _one_line(text: str, hide: tuple[str, ...], *, limit: int = 300) -> str:
    text = redact.scrub(text, tuple(s for s in hide if len(s) >= MIN_HIDDEN_LENGTH))
    printable = "".join(c if c.isprintable() else " " for c in text)
    return " ".join(printable.split())[:limit]


def _json(body: bytes | None) -> Any:
    """The body as JSON, or ``None`` when there is none or it is not JSON (or too deeply nested)."""
    if body is None:
        return None
    try:
        return json.loads(body)
    except (ValueError, RecursionError):
        return None


def _seconds(value: str | None) -> float | None:
    """A ``Retry-After`` given in seconds (an HTTP date is left to the default wait)."""
    try:
        seconds = float(value) if value is not None else None
    except ValueError:
        return None
    return seconds if seconds is not None and 0 <= seconds < float("inf") else None


def parse_expires(value: object, *, now: datetime) -> datetime:
    """``expires`` with or without milliseconds, as an aware datetime (naive means UTC).

    Missing, unparseable, or not after ``now`` (the clocks disagree) → ``now`` plus
    ``SHORT_LIVED``, so the token is refreshed soon but not before every call.
    """
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.strip())
        except ValueError:
            pass
        else:
            aware = parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
            if aware > now:
                return aware
    return now + SHORT_LIVED


# -- the transport: httpx on httpcore, every socket operation bounded by a deadline ---------


class _Attempt(threading.local):
    """The calling thread's attempt: the instant it must end by, and whether that cut it short.

    Per thread, because a request (connecting, sending, reading its answer) runs in
    the thread that makes it, and pooled connections pass from thread to thread
    between requests.
    """

    def __init__(self, clock: Callable[[], float]) -> None:
        self.clock = clock
        self.deadline: float | None = None
        self.cut = False

    def remaining(self) -> float | None:
        """Seconds left (negative when past), or ``None`` without a deadline."""
        return None if self.deadline is None else self.deadline - self.clock()

    def over(self) -> bool:
        remaining = self.remaining()
        return remaining is not None and remaining <= 0

    def bounded(
        self,
        operation: Callable[[float | None], _T],
        timeout: float | None,
        timeout_error: type[httpcore.TimeoutException],
    ) -> _T:
        """``operation(min(timeout, time left))``; when the time left was the shorter and
        ran out, the attempt is marked as cut (the error is raised as it is)."""
        remaining = self.remaining()
        if remaining is None or (timeout is not None and timeout <= remaining):
            return operation(timeout)
        if remaining <= 0:
            self.cut = True
            raise timeout_error("the call's time limit was reached")
        try:
            return operation(remaining)
        except timeout_error:
            self.cut = True
            raise


class _DeadlineStream(httpcore.NetworkStream):
    """A connection of httpcore's own ``SyncBackend``, each operation bounded by the deadline."""

    def __init__(self, stream: httpcore.NetworkStream, attempt: _Attempt) -> None:
        self._stream = stream
        self._attempt = attempt

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        # One recv(), TLS records included (CPython bounds a whole SSL read by its timeout).
        return self._attempt.bounded(
            lambda limit: self._stream.read(max_bytes, limit), timeout, httpcore.ReadTimeout
        )

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        """Like httpcore's own write, except that each ``send`` gets the time left rather
        than the whole timeout again, so a peer reading a byte a second cannot stretch it."""
        sock: socket.socket = self._stream.get_extra_info("socket")
        view = memoryview(buffer)
        while view:
            sent = self._attempt.bounded(
                functools.partial(_send, sock, view), timeout, httpcore.WriteTimeout
            )
            view = view[sent:]

    def close(self) -> None:
        self._stream.close()

    def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        # CPython bounds a whole handshake by the socket's timeout.
        stream = self._attempt.bounded(
            lambda limit: self._stream.start_tls(ssl_context, server_hostname, limit),
            timeout,
            httpcore.ConnectTimeout,
        )
        return _DeadlineStream(stream, self._attempt)

    def get_extra_info(self, info: str) -> Any:
        return self._stream.get_extra_info(info)


def _send(sock: socket.socket, data: memoryview, timeout: float | None) -> int:
    try:
        sock.settimeout(timeout)
        return sock.send(data)
    except TimeoutError as exc:
        raise httpcore.WriteTimeout(str(exc)) from exc
    except OSError as exc:
        raise httpcore.WriteError(str(exc)) from exc


class _DeadlineBackend(httpcore.NetworkBackend):
    """httpcore's ``SyncBackend``, its connections bounded by the calling thread's deadline."""

    def __init__(self, attempt: _Attempt) -> None:
        self._attempt = attempt
        self._sockets = httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        stream = self._attempt.bounded(
            lambda limit: self._sockets.connect_tcp(
                host, port, limit, local_address, socket_options
            ),
            timeout,
            httpcore.ConnectTimeout,
        )
        return _DeadlineStream(stream, self._attempt)


_HTTPX_ERRORS: Final[tuple[tuple[type[Exception], type[httpx.TransportError]], ...]] = (
    (httpcore.ConnectTimeout, httpx.ConnectTimeout),
    (httpcore.ReadTimeout, httpx.ReadTimeout),
    (httpcore.WriteTimeout, httpx.WriteTimeout),
    (httpcore.PoolTimeout, httpx.PoolTimeout),
    (httpcore.TimeoutException, httpx.TimeoutException),
    (httpcore.ConnectError, httpx.ConnectError),
    (httpcore.ReadError, httpx.ReadError),
    (httpcore.WriteError, httpx.WriteError),
    (httpcore.NetworkError, httpx.NetworkError),
    (httpcore.ProxyError, httpx.ProxyError),
    (httpcore.UnsupportedProtocol, httpx.UnsupportedProtocol),
    (httpcore.LocalProtocolError, httpx.LocalProtocolError),
    (httpcore.RemoteProtocolError, httpx.RemoteProtocolError),
    (httpcore.ProtocolError, httpx.ProtocolError),
)
"""httpcore's errors and the httpx errors they become, the most specific first: what
``httpx.HTTPTransport`` does (a test checks this list against httpx's own)."""


@contextmanager
def _httpx_errors() -> Iterator[None]:
    try:
        yield
    except Exception as exc:
        for core, mapped in _HTTPX_ERRORS:
            if isinstance(exc, core):
                raise mapped(str(exc)) from exc
        raise


class _DeadlineTransport(httpx.BaseTransport):
    """``httpx.HTTPTransport`` (HTTP/1.1) on httpcore's pool with ``_DeadlineBackend``.

    ``HTTPTransport`` takes no network backend, so this does what its
    ``handle_request`` does, with public parts of httpx and httpcore only.  TLS is
    verified against certifi's bundle, as httpx does, and the environment
    (``SSL_CERT_FILE``, ``SSL_CERT_DIR``) is ignored.
    """

    def __init__(self, attempt: _Attempt, *, max_connections: int) -> None:
        self._pool = httpcore.ConnectionPool(
            ssl_context=httpx.create_ssl_context(verify=True, trust_env=False),
            max_connections=max_connections,
            max_keepalive_connections=max_connections,
            keepalive_expiry=5.0,
            network_backend=_DeadlineBackend(attempt),
        )

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        assert isinstance(request.stream, httpx.SyncByteStream)
        core = httpcore.Request(
            method=request.method,
            url=httpcore.URL(
                scheme=request.url.raw_scheme,
                host=request.url.raw_host,
                port=request.url.port,
                target=request.url.raw_path,
            ),
            headers=request.headers.raw,
            content=request.stream,
            extensions=request.extensions,
        )
        with _httpx_errors():
            answer = self._pool.handle_request(core)
        assert isinstance(answer.stream, Iterable)
        return httpx.Response(
            answer.status,
            headers=answer.headers,
            stream=_AnswerStream(answer.stream),
            extensions=answer.extensions,
        )

    def close(self) -> None:
        with _httpx_errors():
            self._pool.close()


class _AnswerStream(httpx.SyncByteStream):
    """httpcore's body stream, its errors made httpx's."""

    def __init__(self, stream: Iterable[bytes]) -> None:
        self._stream = stream

    def __iter__(self) -> Iterator[bytes]:
        with _httpx_errors():
            yield from self._stream

    def close(self) -> None:
        close = getattr(self._stream, "close", None)
        if callable(close):
            close()


@dataclass(frozen=True, slots=True)
class _Answer:
    """An answer whose status line and headers arrived; its body as far as it was read."""

    status: int
    retry_after: str | None
    body: bytes | None
    """The whole body, or ``None`` when it was not read to its end (see ``problem``)."""
    problem: _Problem | None = None
    note: str | None = None
    """The problem in words."""

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


class MapiClient:
    """One shared connection pool to MAPI; thread-safe.

    ``transport`` is for what a socket cannot produce in tests (real tests use the
    emulator or a scripted server on 127.0.0.1); without it, the client's own
    transport bounds every socket operation by the attempt's deadline.  ``clock``
    is the clock of deadlines (``time.monotonic``: the sockets wait in real time).
    ``stop`` (Ctrl-C) ends the waits between authorization attempts and for another
    thread's authorization.  ``sleep`` replaces those waits in tests (``stop`` is
    then looked at after each).
    """

    def __init__(
        self,
        base_url: str,
        credentials: Credentials,
        *,
        timeouts: Timeouts = Timeouts(),
        transport: httpx.BaseTransport | None = None,
        max_connections: int = 16,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        sleep: Callable[[float], None] | None = None,
        stop: threading.Event | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.base_url = check_base_url(base_url)
        self._credentials = credentials
        self._timeouts = timeouts
        self._now = now
        self._sleep = sleep
        self._stop = stop if stop is not None else threading.Event()
        self._attempt = _Attempt(clock)
        self._lock = threading.Lock()
        self._token: str | None = None
        self._refresh_at = datetime.min.replace(tzinfo=UTC)
        self._generation = 0
        self._client = httpx.Client(
            base_url=self.base_url,
            timeout=httpx.Timeout(timeouts.read, connect=timeouts.connect),
            headers={
                "User-Agent": f"fbcli/{__version__}",
                "Accept": "application/json",
                "Accept-Encoding": "identity",
            },
            follow_redirects=False,
            transport=(
                transport
                if transport is not None
                else _DeadlineTransport(self._attempt, max_connections=max_connections)
            ),
            trust_env=False,
        )

    # -- authorization -------------------------------------------------------------------

    def authorize(self, *, deadline: float | None = None) -> None:
        """Get a fresh token now (``AuthError`` when MAPI refuses the credentials).

        ``ApiError`` when MAPI cannot be reached or answers with an error, when no token
        came by ``deadline`` (an instant of ``clock``), or when ``stop`` was set.
        """
        with self._until(deadline), self._token_lock():
            self._authorize_locked()

    @property
    def _authorization_url(self) -> str:
        return f"{self.base_url}/v1/authorization"

    def _authorize_locked(self) -> None:
        """Authorize (see ``_authorization``) and keep the token; the lock is held."""
        url = self._authorization_url
        hide = (self._credentials.secret,)
        answer = self._authorization()
        if answer.status in (400, 401, 403, 422):
            raise AuthError(
                f"authorization refused: {_answer_message(answer, hide)}",
                url=url,
                status=answer.status,
                hint="check FRIENDBUY_MAPI_KEY and FRIENDBUY_MAPI_SECRET (or --key, --secret-file)",
            )
        if not answer.ok:
            raise ApiError(
                f"authorization failed: {_answer_message(answer, hide)}",
                url=url,
                status=answer.status,
            )
        if answer.problem == "cut":
            raise ApiError(f"authorization: {DEADLINE_MESSAGE}", url=url)
        if answer.body is None:
            raise ApiError(f"authorization answer not read: {answer.note}", url=url)
        data = _json(answer.body)
        token = data.get("token") if isinstance(data, dict) else None
        if not isinstance(token, str) or not token:
            raise ApiError("authorization answered without a token", url=url)
        redact.hide(token)
        if not _TOKEN_CHARS.fullmatch(token):
            raise ApiError("authorization answered with a token that cannot be sent", url=url)
        now = self._now()
        expires = parse_expires(data.get("expires"), now=now)
        self._token = token
        self._refresh_at = expires - min(REFRESH_MARGIN, max(expires - now, timedelta(0)) / 4)
        self._generation += 1

    def _authorization(self) -> _Answer:
        """``POST /v1/authorization``, retried where a second try may pass (authorizing twice
        is harmless); the last answer, or ``ApiError`` when none came.

        A transport error, 408, 429, 5xx (but 501/505) and a 2xx whose body broke off are
        retried, up to ``AUTH_ATTEMPTS`` attempts in all, after 0.5 s, then 1 s, ...
        (``Retry-After`` when given, at most 10 s).  No attempt starts once ``stop`` is
        set, and no retry whose wait would end at or past the deadline: the last
        answer or error then stands.
        """
        url = self._authorization_url
        credentials = {"key": self._credentials.key, "secret": self._credentials.secret}
        content = json.dumps(credentials, ensure_ascii=False).encode("utf-8")
        headers = {"Content-Type": "application/json"}
        attempt = 0
        while True:
            attempt += 1
            if self._stop.is_set():
                raise self._stopped()
            backoff = 0.5 * 2 ** (attempt - 1)
            error: ApiError | None = None
            try:
                answer = self._exchange("/v1/authorization", content, headers)
            except httpx.RequestError as exc:
                if self._cut(exc):
                    raise ApiError(f"authorization: {DEADLINE_MESSAGE}", url=url) from None
                error = ApiError(f"cannot reach MAPI: {_describe(exc)}", url=url)
                wait = backoff
            else:
                status = answer.status
                if status in (408, 429) or (status >= 500 and status not in (501, 505)):
                    given = _seconds(answer.retry_after)
                    wait = min(10.0, given if given is not None else backoff)
                elif answer.ok and answer.problem == "broken":
                    wait = backoff
                else:
                    return answer
            if attempt == AUTH_ATTEMPTS or not self._fits(wait):
                if error is not None:
                    raise error
                return answer
            if self._pause(wait):
                raise self._stopped()

    def _stopped(self) -> ApiError:
        return ApiError("authorization stopped: fbcli is stopping", url=self._authorization_url)

    def _fits(self, wait: float) -> bool:
        """Whether a wait of ``wait`` seconds ends before the attempt's deadline."""
        remaining = self._attempt.remaining()
        return remaining is None or wait < remaining

    def _pause(self, seconds: float) -> bool:
        """Wait ``seconds``, or until ``stop`` is set; whether it is set."""
        if self._sleep is None:
            return self._stop.wait(seconds)
        self._sleep(seconds)
        return self._stop.is_set()

    @contextmanager
    def _token_lock(self) -> Iterator[None]:
        """The token lock.  Waiting for it (another thread is authorizing) ends with an
        ``ApiError`` at the attempt's deadline or when ``stop`` is set."""
        if not self._lock.acquire(blocking=False):
            while True:
                remaining = self._attempt.remaining()
                if remaining is not None and remaining <= 0:
                    raise ApiError(
                        f"authorization: {DEADLINE_MESSAGE}", url=self._authorization_url
                    )
                if self._stop.is_set():
                    raise self._stopped()
                poll = _LOCK_POLL if remaining is None else min(_LOCK_POLL, remaining)
                if self._lock.acquire(timeout=poll):
                    break
        try:
            yield
        finally:
            self._lock.release()

    def _current_token(self) -> tuple[str, int]:
        with self._token_lock():
            if self._token is None or self._now() >= self._refresh_at:
                self._authorize_locked()
            assert self._token is not None
            return self._token, self._generation

    def _reauthorize(self, stale_generation: int) -> tuple[str, int]:
        with self._token_lock():
            if self._generation == stale_generation:
                self._authorize_locked()
            assert self._token is not None
            return self._token, self._generation

    # -- calls -------------------------------------------------------------------------

    def send(
        self, path: str, body: Mapping[str, Any], *, deadline: float | None = None
    ) -> CallResult:
        """POST one body; a 401 re-authorizes once and retries.  Never raises for HTTP.

        The whole attempt (the token, the request, a 401's re-authorization and resend)
        ends by ``deadline``, an instant of ``clock`` (``None``: only the timeouts bound
        each step).  A request it cuts short is a transport failure with
        ``DEADLINE_MESSAGE``, whose phase says whether it may have reached MAPI.  Once a
        status line and headers arrived the status stands, even when the body then did
        not (too large, cut short, broken off): a 2xx is then a success without event id,
        whose ``message`` says why.

        Raises ``AuthError``/``ApiError`` only when (re-)authorization itself fails
        (also when no token came by the deadline, or ``stop`` was set meanwhile): the
        call was not sent then.
        """
        content = json.dumps(body, ensure_ascii=False, allow_nan=False).encode("utf-8")
        with self._until(deadline):
            token, generation = self._current_token()
            result = self._post(path, content, token)
            if result.status == 401:
                token, _ = self._reauthorize(generation)
                retried = self._post(path, content, token)
                return dataclasses.replace(retried, reauthorized=True)
            return result

    def _post(self, path: str, content: bytes, token: str) -> CallResult:
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        try:
            answer = self._exchange(path, content, headers)
        except httpx.RequestError as exc:
            return self._failure(exc)
        if answer.ok:
            data = _json(answer.body)
            event_id = data.get("eventId") if isinstance(data, dict) else None
            return CallResult(
                answer.status,
                event_id=event_id if isinstance(event_id, str) else None,
                message=answer.note,
            )
        return CallResult(
            answer.status,
            message=_answer_message(answer, (self._credentials.secret, token)),
            retry_after=answer.retry_after,
        )

    def _exchange(self, path: str, content: bytes, headers: Mapping[str, str]) -> _Answer:
        """POST ``content``: the status, ``Retry-After`` and at most ``MAX_ANSWER`` bytes of body.

        Raises httpx's ``RequestError`` when no status line and headers came.  The
        answer is closed before this returns; httpcore closes a connection whose answer
        was not read to its end rather than pool it again.
        """
        attempt = self._attempt
        attempt.cut = False
        remaining = attempt.remaining()
        if remaining is not None and remaining <= 0:
            attempt.cut = True
            raise httpx.PoolTimeout("the call's time limit was reached before the request")
        read = self._timeouts.read
        timeout = httpx.Timeout(
            read,
            connect=self._timeouts.connect,
            pool=read if remaining is None else min(read, remaining),
        )
        with self._client.stream(
            "POST", path, content=content, headers=headers, timeout=timeout
        ) as response:
            body, problem, note = self._read_body(response)
            return _Answer(
                response.status_code, response.headers.get("Retry-After"), body, problem, note
            )

    def _read_body(
        self, response: httpx.Response
    ) -> tuple[bytes | None, _Problem | None, str | None]:
        """At most ``MAX_ANSWER`` bytes of an answer's body; what kept the rest unread."""
        encoding = response.headers.get("Content-Encoding", "identity").strip().lower()
        if encoding not in ("", "identity"):
            shown = _one_line(encoding, (), limit=40)
            return (
                None,
                "compressed",
                f"the answer is compressed ({shown}), which fbcli does not read",
            )
        too_large = f"the answer is larger than {MAX_ANSWER // 1024} KiB (not read)"
        length = response.headers.get("Content-Length", "").strip()
        if length.isascii() and length.isdigit() and (len(length) > 12 or int(length) > MAX_ANSWER):
            return None, "large", too_large
        body = bytearray()
        try:
            for chunk in response.iter_bytes():
                body += chunk
                if len(body) > MAX_ANSWER:
                    return None, "large", too_large
        except httpx.RequestError as exc:
            if self._cut(exc):
                return None, "cut", _BODY_CUT
            return None, "broken", "the answer broke off before its end"
        return bytes(body), None, None

    def _cut(self, exc: httpx.RequestError) -> bool:
        """Whether the attempt's deadline (rather than a timeout of its own) ended a request."""
        return isinstance(exc, httpx.TimeoutException) and (
            self._attempt.cut or self._attempt.over()
        )

    def _failure(self, exc: httpx.RequestError) -> CallResult:
        """A request that got no status line and headers, as a result with its phase."""
        phase: Phase
        if isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout):
            phase = "connect"
        elif isinstance(exc, httpx.WriteError | httpx.WriteTimeout):
            phase = "send"
        else:
            # Read errors, a dropped connection, a garbled answer: the request may have arrived.
            phase = "read"
        return CallResult(
            None, phase, message=DEADLINE_MESSAGE if self._cut(exc) else _describe(exc)
        )

    @contextmanager
    def _until(self, deadline: float | None) -> Iterator[None]:
        """The calling thread's attempt ends by ``deadline`` meanwhile."""
        attempt = self._attempt
        previous = attempt.deadline
        attempt.deadline, attempt.cut = deadline, False
        try:
            yield
        finally:
            attempt.deadline = previous

    def __repr__(self) -> str:
        return f"MapiClient(base_url={self.base_url!r}, credentials={self._credentials!r})"

    def close(self) -> None:
        """Close the connection pool."""
        self._client.close()

    def __enter__(self) -> MapiClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _answer_message(answer: _Answer, hide: tuple[str, ...]) -> str:
    """An error answer in one line: MAPI's message (or the reason phrase), and why the body
    was not read, if it was not."""
    text = error_message(answer.status, answer.body, hide=hide)
    return f"{text}; {answer.note}" if answer.note else text


def _describe(exc: httpx.RequestError) -> str:
    """A request error in plain words, without any request header."""
    if isinstance(exc, httpx.ConnectError) and "CERTIFICATE_VERIFY_FAILED" in str(exc):
        return "the server's TLS certificate could not be verified"
    names = {
        httpx.ConnectTimeout: "connection timed out",
        httpx.ConnectError: "connection failed",
        httpx.PoolTimeout: "no free connection in time",
        httpx.ReadTimeout: "no answer in time (read timeout)",
        httpx.WriteTimeout: "sending timed out",
        httpx.WriteError: "connection broke while sending",
        httpx.ReadError: "connection broke while waiting for the answer",
        httpx.RemoteProtocolError: "the server closed the connection without an answer",
        httpx.DecodingError: "the answer could not be decoded",
    }
    for kind, text in names.items():
        if isinstance(exc, kind):
            return text
    return type(exc).__name__
