"""The Friendbuy Merchant API client: authorization, one call, errors as values.

The only module that imports httpx, and the only one that touches the
``Authorization`` header.  One ``httpx.Client`` is shared by all worker
threads; the token is cached until shortly before it expires and refreshed
under a lock.  TLS verification is always on, redirects are never followed,
and plain ``http`` is accepted only for loopback hosts.

Nothing here prints, logs or puts a secret or token into an exception or a
``repr``: ``Credentials`` hides its secret, and errors carry the URL, the
status and MAPI's own message and reference only.  Each token is registered
with ``redact.hide`` as it arrives, so even the traceback of a bug shows it
blanked out.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Final, Literal

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

Phase = Literal["connect", "send", "read"]


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


def error_message(response: httpx.Response, *, hide: tuple[str, ...] = ()) -> str:
    """MAPI's error body as one plain line: its message and reference, or the reason phrase.

    Control characters become spaces, runs of spaces one space; each string in
    ``hide`` (a secret, a token) that MAPI might echo is replaced by ``<hidden>``.
    """
    message: str | None = None
    reference: str | None = None
    data = _json(response)
    if isinstance(data, dict):
        for key in ("message", "error"):
            if isinstance(data.get(key), str) and data[key].strip():
                message = data[key]
                break
        if isinstance(data.get("reference"), str) and data["reference"].strip():
            reference = _one_line(data["reference"], hide, limit=100)
    text = _one_line(message or response.reason_phrase or f"HTTP {response.status_code}", hide)
    return f"{text} (reference {reference})" if reference else text


def _one_line(text: str, hide: tuple[str, ...], *, limit: int = 300) -> str:
    for secret in hide:
        if len(secret) >= MIN_HIDDEN_LENGTH:
            text = text.replace(secret, "<hidden>")
    printable = "".join(c if c.isprintable() else " " for c in text)
    return " ".join(printable.split())[:limit]


def _json(response: httpx.Response) -> Any:
    """The body as JSON, or ``None`` when it is not JSON (or too deeply nested to read)."""
    try:
        return response.json()
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


class MapiClient:
    """One shared connection pool to MAPI; thread-safe.

    ``transport`` is for what a socket cannot produce in tests; real tests use
    the emulator on 127.0.0.1.
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
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.base_url = check_base_url(base_url)
        self._credentials = credentials
        self._now = now
        self._sleep = sleep
        self._lock = threading.Lock()
        self._token: str | None = None
        self._refresh_at = datetime.min.replace(tzinfo=UTC)
        self._generation = 0
        self._client = httpx.Client(
            base_url=self.base_url,
            timeout=httpx.Timeout(timeouts.read, connect=timeouts.connect),
            limits=httpx.Limits(
                max_connections=max_connections, max_keepalive_connections=max_connections
            ),
            headers={"User-Agent": f"fbcli/{__version__}", "Accept": "application/json"},
            follow_redirects=False,
            verify=True,
            transport=transport,
            trust_env=False,
        )

    # -- authorization -------------------------------------------------------------------

    def authorize(self) -> None:
        """Get a fresh token now (``AuthError`` when MAPI refuses the credentials)."""
        with self._lock:
            self._authorize_locked()

    def _authorize_locked(self) -> None:
        """Authorize, retrying what may pass on a second try (authorizing twice is harmless).

        Transport errors, 408, 429 and 5xx (but 501/505) are retried up to
        ``AUTH_ATTEMPTS`` times, waiting 0.5 s, then 1 s, ... (``Retry-After``
        when given, at most 10 s).
        """
        url = f"{self.base_url}/v1/authorization"
        body = {"key": self._credentials.key, "secret": self._credentials.secret}
        hide = (self._credentials.secret,)
        for attempt in range(1, AUTH_ATTEMPTS + 1):
            last = attempt == AUTH_ATTEMPTS
            try:
                response = self._client.post("/v1/authorization", json=body)
            except httpx.RequestError as exc:
                if last:
                    raise ApiError(f"cannot reach MAPI: {_describe(exc)}", url=url) from None
                self._sleep(0.5 * 2 ** (attempt - 1))
                continue
            status = response.status_code
            if not last and (status in (408, 429) or (status >= 500 and status not in (501, 505))):
                wait = _seconds(response.headers.get("Retry-After"))
                self._sleep(min(10.0, wait if wait is not None else 0.5 * 2 ** (attempt - 1)))
                continue
            break
        if response.status_code in (400, 401, 403, 422):
            raise AuthError(
                f"authorization refused: {error_message(response, hide=hide)}",
                url=url,
                status=response.status_code,
                hint="check FRIENDBUY_MAPI_KEY and FRIENDBUY_MAPI_SECRET (or --key, --secret-file)",
            )
        if not response.is_success:
            raise ApiError(
                f"authorization failed: {error_message(response, hide=hide)}",
                url=url,
                status=response.status_code,
            )
        data = _json(response)
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

    def _current_token(self) -> tuple[str, int]:
        with self._lock:
            if self._token is None or self._now() >= self._refresh_at:
                self._authorize_locked()
            assert self._token is not None
            return self._token, self._generation

    def _reauthorize(self, stale_generation: int) -> tuple[str, int]:
        with self._lock:
            if self._generation == stale_generation:
                self._authorize_locked()
            assert self._token is not None
            return self._token, self._generation

    # -- calls -------------------------------------------------------------------------

    def send(self, path: str, body: Mapping[str, Any]) -> CallResult:
        """POST one body; a 401 re-authorizes once and retries.  Never raises for HTTP.

        Raises ``AuthError``/``ApiError`` only when (re-)authorization itself fails.
        """
        content = json.dumps(body, ensure_ascii=False, allow_nan=False).encode("utf-8")
        token, generation = self._current_token()
        result = self._post(path, content, token)
        if result.status == 401:
            token, _ = self._reauthorize(generation)
            retried = self._post(path, content, token)
            return CallResult(
                retried.status,
                retried.phase,
                retried.event_id,
                retried.message,
                retried.retry_after,
                reauthorized=True,
            )
        return result

    def _post(self, path: str, content: bytes, token: str) -> CallResult:
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        try:
            response = self._client.post(path, content=content, headers=headers)
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            return CallResult(None, "connect", message=_describe(exc))
        except (httpx.WriteError, httpx.WriteTimeout) as exc:
            return CallResult(None, "send", message=_describe(exc))
        except httpx.RequestError as exc:
            # Read errors, a dropped connection, an answer that cannot be decoded:
            # the request may have arrived.
            return CallResult(None, "read", message=_describe(exc))
        if response.is_success:
            data = _json(response)
            event_id = data.get("eventId") if isinstance(data, dict) else None
            return CallResult(
                response.status_code, event_id=event_id if isinstance(event_id, str) else None
            )
        return CallResult(
            response.status_code,
            message=error_message(response, hide=(self._credentials.secret, token)),
            retry_after=response.headers.get("Retry-After"),
        )

    def __repr__(self) -> str:
        return f"MapiClient(base_url={self.base_url!r}, credentials={self._credentials!r})"

    def close(self) -> None:
        """Close the connection pool."""
        self._client.close()

    def __enter__(self) -> MapiClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


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
