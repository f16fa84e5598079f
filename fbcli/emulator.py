"""A local Friendbuy MAPI emulator: a real HTTP/1.1 server to replay against safely.

``Emulator(config).start()`` serves on loopback (port 0 picks a free port) in a
daemon thread and returns its base URL; ``stop()`` ends it.  It speaks MAPI as
described in docs/replay.md ("``fbcli emulator``"):

- ``POST /v1/authorization`` with ``{"key", "secret"}`` issues an opaque,
  JWT-looking token valid for ``token_ttl`` seconds;
- ``POST /v1/customer`` (201 the first time a ``customerId`` is seen, 200
  after), ``/v1/event/purchase``, ``/v1/event/account-sign-up`` and
  ``/v1/event/custom`` (201) check the token (``Bearer <token>`` or the bare
  token) and the body's required fields and the types of the documented
  optional ones; ``additionalProperties`` entries with values over 128
  characters, then entries beyond the tenth, are silently dropped, as MAPI does;
- every error has MAPI's body ``{"error", "message", "code", "reference"}``.

Each request goes through these steps, in this order; the first that answers wins:

1. ``drop_before`` fault: close the connection without a reply (not recorded);
2. a 429 storm raging, or the ``storm`` fault starting one → 429 (odd storms
   with ``Retry-After``, the seconds left; even ones without);
3. the rate limit (a leaky bucket over every non-``/_emulator`` request) → 429;
4. the ``429`` fault → 429; 5. the ``5xx`` fault → 500/502/503/504;
6. the ``revoke`` fault: every token issued so far is revoked;
7. 404 (unknown path) and 405 (wrong method);
8. the token (authorization: the credentials) → 401;
9. the body (JSON object, required fields, types) → 400;
10. ``slow`` fault: wait ``slow_seconds`` (``stop()`` cuts the wait short);
11. record the call (authorization: issue the token);
12. ``drop_after`` fault: close the connection without a reply;
13. reply.

The fault dice are thrown for every request, the same number of throws each
time, from ``random.Random(seed)``: with a seed, a sequential run meets the
same faults every time.  (The ``storm`` and ``revoke`` dice are thrown only
when their rate is above 0, so adding them changed no earlier seeded run.)
``/_emulator/calls`` (GET, DELETE) and ``/_emulator/stats`` (GET) need no
token and are never limited or faulted.

The server is the standard library's ``ThreadingHTTPServer``: a test or a
replay needs no extra dependency, and the emulator shares no code with the
client it checks.  It never prints; no traceback escapes a handler.
"""

from __future__ import annotations

import base64
import copy
import hmac
import http.server
import json
import math
import os
import random
import secrets
import select
import selectors
import socket
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http import HTTPStatus
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Final, NoReturn
from urllib.parse import urlsplit

from fbcli.hosts import is_loopback
from fbcli.values import is_number

__all__ = [
    "Emulator",
    "EmulatorConfig",
    "FaultSpec",
    "RecordedCall",
    "is_loopback",
    "parse_faults",
]

MAX_BODY_BYTES: Final = 1_000_000
"""Larger request bodies get 413 (MAPI's limit is unknown; events are small)."""
MAX_ADDITIONAL_PROPERTIES: Final = 10
MAX_ADDITIONAL_PROPERTY_LENGTH: Final = 128
MAX_TOKEN_TTL: Final = 10 * 366 * 24 * 3600.0

AUTHORIZATION_PATH: Final = "/v1/authorization"
ADMIN_PREFIX: Final = "/_emulator"

_SERVER_ERRORS: Final = (500, 502, 503, 504)
_STAT_KEYS: Final = (
    "requests",
    "accepted",
    "rejected_400",
    "unauthorized_401",
    "other_4xx",
    "rate_limited_429",
    "errors_5xx",
    "dropped_before",
    "dropped_after",
    "slow",
    "storms",
    "storm_429",
    "revoked",
    "tokens_issued",
    "internal_errors",
)

# -- faults -------------------------------------------------------------------------------

_FAULT_KINDS: Final = {
    "5xx": "error_5xx",
    "429": "error_429",
    "slow": "slow",
    "drop-before": "drop_before",
    "drop-after": "drop_after",
    "storm": "storm",
    "revoke": "revoke",
}
_RATE_FIELDS: Final = (
    "error_5xx",
    "error_429",
    "slow",
    "drop_before",
    "drop_after",
    "storm",
    "revoke",
)
_TIMED_KINDS: Final = {"slow": "slow_seconds", "storm": "storm_seconds"}
"""The kinds that take ``@SECONDS``, and the field that holds the seconds."""


@dataclass(frozen=True, slots=True)
class FaultSpec:
    """How often each fault strikes: rates from 0 (never) to 1 (every request).

    The text form (``parse_faults``, ``str()``) is ``KIND=RATE[,KIND=RATE...]``
    with kinds ``5xx``, ``429``, ``slow`` (``slow=RATE@SECONDS``),
    ``drop-before``, ``drop-after``, ``storm`` (``storm=RATE@SECONDS``) and
    ``revoke``; ``none`` or ``""`` is no fault.
    """

    error_5xx: float = 0.0
    """Reply 500, 502, 503 or 504 (chosen at random) without recording."""
    slow: float = 0.0
    """Delay the reply by ``slow_seconds``, then handle the request normally."""
    slow_seconds: float = 2.0
    drop_before: float = 0.0
    """Close the connection without a reply; the call is not recorded."""
    drop_after: float = 0.0
    """Record the call, then close the connection without a reply."""
    error_429: float = 0.0
    """Reply 429 (with ``Retry-After: 1`` unless the config turns it off)."""
    storm: float = 0.0
    """Start a 429 storm (when none is raging): every request gets 429 for
    ``storm_seconds``.  Storms alternate: the first, third... send ``Retry-After``
    (the seconds left in the storm, rounded up; unless the config turns it off),
    the second, fourth... send none, like a gateway that gives no hint."""
    storm_seconds: float = 2.0
    revoke: float = 0.0
    """Revoke every token issued so far, then handle the request: it, and every
    call that comes with one of those tokens, gets 401 (a token expired or revoked early)."""

    def __post_init__(self) -> None:
        for name in _RATE_FIELDS:
            rate = getattr(self, name)
            if not 0.0 <= rate <= 1.0:  # NaN fails this too
                raise ValueError(f"fault rate {name} must be from 0 to 1, not {rate!r}")
        for name in _TIMED_KINDS.values():
            seconds = getattr(self, name)
            if not (0.0 < seconds <= 3600.0):
                raise ValueError(f"{name} must be above 0 and at most 3600, not {seconds!r}")

    def __str__(self) -> str:
        parts = []
        for kind, name in _FAULT_KINDS.items():
            rate = getattr(self, name)
            if rate:
                timed = _TIMED_KINDS.get(kind)
                seconds = f"@{_format_number(getattr(self, timed))}" if timed else ""
                parts.append(f"{kind}={_format_number(rate)}{seconds}")
        return ",".join(parts) or "none"


def _format_number(number: float) -> str:
    """Shortest exact form: ``0.05``, ``1``, ``1e-07``."""
    return repr(float(number)).removesuffix(".0")


def parse_faults(text: str) -> FaultSpec:
    """Parse ``"5xx=0.05,slow=0.1@1.5,drop-before=0.02,drop-after=0.02,429=0.01"``.

    Kinds are case-insensitive and ``_`` may stand for ``-``; each kind at most
    once; rates are numbers from 0 to 1; only ``slow`` and ``storm`` take
    ``@SECONDS`` (above 0, at most 3600; default 2).  ``""`` and ``"none"`` mean no fault.
    Raises ``ValueError`` with a one-line message naming the bad part.
    """
    stripped = text.strip()
    if stripped.lower() in ("", "none"):
        return FaultSpec()
    values: dict[str, float] = {}
    for part in stripped.split(","):
        item = part.strip()
        name, equals, value = item.partition("=")
        kind = name.strip().lower().replace("_", "-")
        if not item:
            raise ValueError(f"empty item in fault spec {text!r}")
        if not equals or not kind:
            raise ValueError(f"bad fault {item!r}: expected KIND=RATE, e.g. 5xx=0.05")
        rate_field = _FAULT_KINDS.get(kind)
        if rate_field is None:
            raise ValueError(
                f"bad fault {item!r}: unknown kind {name.strip()!r} "
                f"(expected {', '.join(_FAULT_KINDS)})"
            )
        if rate_field in values:
            raise ValueError(f"bad fault {item!r}: {kind} is given more than once")
        rate_text, at, seconds_text = value.partition("@")
        timed = _TIMED_KINDS.get(kind)
        if at and timed is None:
            raise ValueError(f"bad fault {item!r}: only slow and storm take @SECONDS")
        values[rate_field] = _parse_number(item, rate_text, "rate", 0.0, 1.0, low_inclusive=True)
        if at and timed is not None:
            values[timed] = _parse_number(
                item, seconds_text, "seconds", 0.0, 3600.0, low_inclusive=False
            )
    return FaultSpec(**values)


def _parse_number(
    item: str, text: str, what: str, low: float, high: float, *, low_inclusive: bool
) -> float:
    try:
        number = float(text)
    except ValueError:
        raise ValueError(f"bad fault {item!r}: {what} {text.strip()!r} is not a number") from None
    above_low = number >= low if low_inclusive else number > low
    if not (above_low and number <= high):
        bounds = (
            f"from {low:g} to {high:g}" if low_inclusive else f"above {low:g}, at most {high:g}"
        )
        raise ValueError(f"bad fault {item!r}: {what} must be {bounds}")
    return number


# -- configuration and records ------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class EmulatorConfig:
    """Everything that shapes the emulator's behaviour; checked on creation."""

    host: str = "127.0.0.1"
    port: int = 0
    """0: a free port, chosen by the system."""
    rate_limit: float | None = None
    """Requests per second allowed (a leaky bucket); ``None``: unlimited."""
    burst: int = 1
    """The leaky bucket's size: requests allowed back to back."""
    retry_after: bool = True
    """Send ``Retry-After`` (whole seconds, at least 1) with every 429."""
    token_ttl: float = 3600.0
    faults: FaultSpec = field(default_factory=FaultSpec)
    seed: int | None = None
    """Seeds the fault dice, so runs are reproducible."""
    key: str | None = None
    """When set, authorization needs exactly this key (and ``secret``)."""
    secret: str | None = None
    log_path: Path | None = None
    """Append each accepted call here as one JSON line (a new file gets mode 0600)."""

    def __post_init__(self) -> None:
        if not 0 <= self.port <= 65535:
            raise ValueError(f"port must be from 0 to 65535, not {self.port}")
        if self.rate_limit is not None and not (0.0 < self.rate_limit < math.inf):
            raise ValueError(f"rate limit must be a positive number, not {self.rate_limit!r}")
        if self.burst < 1:
            raise ValueError(f"burst must be at least 1, not {self.burst}")
        if not (0.0 < self.token_ttl <= MAX_TOKEN_TTL):
            raise ValueError(
                f"token TTL must be above 0 and at most 10 years, not {self.token_ttl!r}"
            )


@dataclass(frozen=True, slots=True)
class RecordedCall:
    """One accepted call, as it arrived (after ``additionalProperties`` trimming)."""

    seq: int
    """1, 2, 3... in the order calls were accepted; never reused."""
    method: str
    path: str
    body: dict[str, Any]
    event_id: str
    status: int
    """The status the call was (or, after ``drop_after``, would have been) answered with."""
    received_at: str
    """When the request arrived: ISO 8601 UTC with milliseconds and ``Z``."""
    faults: tuple[str, ...] = ()
    """The faults that struck this accepted call: ``slow`` (the reply was late: a
    client with a shorter read timeout never saw it) and ``drop-after`` (no reply)."""

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready copy (the form of ``/_emulator/calls`` and the log)."""
        return {
            "seq": self.seq,
            "method": self.method,
            "path": self.path,
            "body": copy.deepcopy(self.body),
            "event_id": self.event_id,
            "status": self.status,
            "received_at": self.received_at,
            "faults": list(self.faults),
        }


# -- body checks --------------------------------------------------------------------------

_Check = Callable[[Any, str], str | None]
"""A field check: (value, field name) → a message naming the field, or ``None`` when fine."""


def _is_integer(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    return isinstance(value, int) or (isinstance(value, float) and value.is_integer())


def _string(value: Any, name: str) -> str | None:
    return None if isinstance(value, str) else f"'{name}' must be a string"


def _boolean(value: Any, name: str) -> str | None:
    return None if isinstance(value, bool) else f"'{name}' must be a boolean"


def _integer(value: Any, name: str) -> str | None:
    return None if _is_integer(value) else f"'{name}' must be an integer"


def _number(value: Any, name: str) -> str | None:
    return None if is_number(value) else f"'{name}' must be a number"


def _loyalty_status(value: Any, name: str) -> str | None:
    if value in ("in", "out", "blocked") and isinstance(value, str):
        return None
    return f"'{name}' must be one of in, out, blocked"


def _string_list(value: Any, name: str) -> str | None:
    if not isinstance(value, list):
        return f"'{name}' must be an array of strings"
    for index, item in enumerate(value):
        if not isinstance(item, str):
            return f"'{name}/{index}' must be a string"
    return None


def _string_map(value: Any, name: str) -> str | None:
    if not isinstance(value, dict):
        return f"'{name}' must be an object of strings"
    for key, item in value.items():
        if not isinstance(item, str):
            return f"'{name}/{key}' must be a string"
    return None


def _birthday(value: Any, name: str) -> str | None:
    if not isinstance(value, dict):
        return f"'{name}' must be an object with month, day and an optional year"
    for part, low, high in (("month", 1, 12), ("day", 1, 31), ("year", 1, 9999)):
        if part not in value:
            if part == "year":
                continue
            return f"required field '{name}/{part}' is missing"
        number = value[part]
        if not _is_integer(number) or not low <= number <= high:
            return f"'{name}/{part}' must be an integer from {low} to {high}"
    return None


_PRODUCT_FIELDS: Final[Mapping[str, _Check]] = {
    "sku": _string,
    "name": _string,
    "quantity": _integer,
    "price": _number,
    "description": _string,
    "category": _string,
    "url": _string,
    "imageUrl": _string,
}


def _products(value: Any, name: str) -> str | None:
    if not isinstance(value, list):
        return f"'{name}' must be an array of objects"
    for index, product in enumerate(value):
        where = f"{name}/{index}"
        if not isinstance(product, dict):
            return f"'{where}' must be an object"
        problem = _check_fields(product, (("sku", _string),), _PRODUCT_FIELDS, prefix=f"{where}/")
        if problem is not None:
            return problem
    return None


def _check_fields(
    body: Mapping[str, Any],
    required: tuple[tuple[str, _Check], ...],
    optional: Mapping[str, _Check],
    *,
    prefix: str = "",
) -> str | None:
    """The first problem: a required field missing or empty, or a known field of a wrong type."""
    for name, check in required:
        value = body.get(name)
        if value is None:
            return f"required field '{prefix}{name}' is missing"
        if value == "" and isinstance(value, str):
            return f"required field '{prefix}{name}' is empty"
        problem = check(value, prefix + name)
        if problem is not None:
            return problem
    for name, check in optional.items():
        if name in body:
            problem = check(body[name], prefix + name)
            if problem is not None:
                return problem
    return None


@dataclass(frozen=True, slots=True)
class _Endpoint:
    required: tuple[tuple[str, _Check], ...]
    optional: Mapping[str, _Check]
    upsert: bool = False
    """``/v1/customer``: 201 for a new ``customerId``, 200 for one seen before."""


_COMMON: Final[Mapping[str, _Check]] = {
    "firstName": _string,
    "lastName": _string,
    "isNewCustomer": _boolean,
    "couponCode": _string,
    "attributionId": _string,
    "referralCode": _string,
    "ipAddress": _string,
    "userAgent": _string,
    "additionalProperties": _string_map,
}
_PERSON: Final[Mapping[str, _Check]] = {
    "age": _integer,
    "birthday": _birthday,
    "timezone": _string,
    "loyaltyStatus": _loyalty_status,
}
_ENDPOINTS: Final[Mapping[str, _Endpoint]] = {
    "/v1/customer": _Endpoint(
        required=(("customerId", _string), ("email", _string)),
        optional={
            **_COMMON,
            **_PERSON,
            **dict.fromkeys(
                ("gender", "zipCode", "state", "city", "country", "category", "language"), _string
            ),
        },
        upsert=True,
    ),
    "/v1/event/purchase": _Endpoint(
        required=(("orderId", _string), ("amount", _number), ("currency", _string)),
        optional={
            **_COMMON,
            "email": _string,
            "customerId": _string,
            "giftCardCodes": _string_list,
            "products": _products,
        },
    ),
    "/v1/event/account-sign-up": _Endpoint(
        required=(("customerId", _string), ("email", _string)),
        optional={**_COMMON, **_PERSON},
    ),
    "/v1/event/custom": _Endpoint(
        required=(("eventType", _string), ("email", _string)),
        optional={**_COMMON, "customerId": _string, "deduplicationId": _string},
    ),
}


def _trim_additional_properties(body: dict[str, Any]) -> dict[str, Any]:
    """Drop values over 128 characters, then entries beyond the tenth (MAPI does it silently)."""
    extra = body.get("additionalProperties")
    if not isinstance(extra, dict):
        return body
    kept = [(k, v) for k, v in extra.items() if len(v) <= MAX_ADDITIONAL_PROPERTY_LENGTH]
    return {**body, "additionalProperties": dict(kept[:MAX_ADDITIONAL_PROPERTIES])}


def _reject_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not JSON")


def _finite_float(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):
        raise ValueError(f"{text} is out of range")
    return number


def _parse_json_object(raw: bytes) -> dict[str, Any] | str:
    """The body as a JSON object, or a message saying why it is not one.

    ``NaN``, ``Infinity`` and numbers that overflow to infinity are not JSON here,
    so every recorded body can be written out again as strict JSON.
    """
    try:
        value = json.loads(
            raw.decode("utf-8"), parse_constant=_reject_constant, parse_float=_finite_float
        )
    except (ValueError, RecursionError):
        return "the body is not valid JSON"
    if not isinstance(value, dict):
        return "the body must be a JSON object"
    return value


# -- replies ------------------------------------------------------------------------------


def _iso(moment: datetime) -> str:
    """ISO 8601 UTC with milliseconds and ``Z``: ``2020-03-20T22:58:56.588Z``."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _b64(data: Mapping[str, Any]) -> str:
    raw = json.dumps(data, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


@dataclass(frozen=True, slots=True)
class _Reply:
    status: int
    body: Any = None
    headers: tuple[tuple[str, str], ...] = ()
    drop: bool = False
    """Close the connection without any reply."""
    close: bool = False
    """Reply, then close the connection (the request could not be read in full)."""


_DROP: Final = _Reply(0, drop=True)


def _error(
    status: int, message: str, *, headers: tuple[tuple[str, str], ...] = (), close: bool = False
) -> _Reply:
    """MAPI's error body: ``{"error", "message", "code", "reference"}``."""
    body = {
        "error": HTTPStatus(status).phrase,
        "message": message,
        "code": status,
        "reference": str(uuid.uuid4()),
    }
    return _Reply(status, body, headers, close=close)


@dataclass(frozen=True, slots=True)
class _Request:
    method: str
    path: str
    authorization: str | None
    body: bytes
    received_at: str


@dataclass(frozen=True, slots=True)
class _Roll:
    """The fault dice for one request, all thrown up front."""

    drop_before: bool
    error_429: bool
    error_5xx: int | None
    slow: bool
    drop_after: bool
    storm: bool = False
    revoke: bool = False


class LeakyBucket:
    """A leaky bucket of ``burst`` requests draining at ``rate`` per second.

    Written here because the server must stay standard-library only.  With
    ``level`` the water in the bucket, at each request at time ``now``:
    ``level = max(0, level - (now - last) * rate)``; the request is admitted
    when ``level + 1 <= burst`` (then ``level += 1``); otherwise it is refused,
    adds nothing, and must wait ``(level + 1 - burst) / rate`` seconds.
    """

    def __init__(self, rate: float, burst: int) -> None:
        self._rate = rate
        self._burst = burst
        self._level = 0.0
        self._last: float | None = None

    def take(self, now: float) -> float | None:
        """``None`` when admitted, else the seconds until a slot frees up."""
        if self._last is not None:
            self._level = max(0.0, self._level - (now - self._last) * self._rate)
        self._last = now
        if self._level + 1 <= self._burst:
            self._level += 1
            return None
        return (self._level + 1 - self._burst) / self._rate


# -- the emulator -------------------------------------------------------------------------


def check_call(path: str, body: Mapping[str, Any]) -> str | None:
    """What MAPI would refuse (400) in a call's body, as the emulator words it, or ``None``
    when it takes it (``path``: ``/v1/customer`` ...; ``KeyError`` for another path)."""
    endpoint = _ENDPOINTS[path]
    return _check_fields(body, endpoint.required, endpoint.optional)


class Emulator:
    """The MAPI emulator: configure, ``start()`` (or ``with``), inspect, ``stop()``.

    ``clock`` (seconds, monotonic) drives token expiry and the rate limit, so
    tests can move time without sleeping.  ``on_request(path)`` is called as each
    request comes in, ``on_reply(path, accepted)`` just before its reply goes
    out (``accepted``: the calls accepted so far), from the request's thread:
    for tests that act at a given moment (a kill) and tools that watch.
    Thread-safe.
    """

    def __init__(
        self,
        config: EmulatorConfig = EmulatorConfig(),
        *,
        clock: Callable[[], float] = time.monotonic,
        on_request: Callable[[str], None] | None = None,
        on_reply: Callable[[str, int], None] | None = None,
    ) -> None:
        self.config = config
        self._clock = clock
        self._on_request = on_request
        self._on_reply = on_reply
        self._lock = threading.Lock()
        self._life_lock = threading.Lock()
        self._rng = random.Random(config.seed)  # noqa: S311 -- fault dice: seedable on purpose
        self._bucket = (
            LeakyBucket(config.rate_limit, config.burst) if config.rate_limit is not None else None
        )
        self._tokens: dict[str, float] = {}
        self._storm_until = -math.inf
        self._customers: set[str] = set()
        self._calls: list[RecordedCall] = []
        self._seq = 0
        self._stats = dict.fromkeys(_STAT_KEYS, 0)
        self._stopping = threading.Event()
        self._stopped = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._wake: tuple[socket.socket, socket.socket] | None = None
        """``stop()`` writes to the second socket to wake the accept loop reading the first."""
        self._log: IO[str] | None = None
        self._connections: set[socket.socket] = set()
        self._base_url: str | None = None

    # -- life cycle ---------------------------------------------------------------------

    def start(self) -> str:
        """Bind and serve in a daemon thread; return the base URL. Binding errors raise OSError."""
        with self._life_lock:
            if self._stopping.is_set():
                raise RuntimeError("this emulator was stopped; create a new one")
            if self._base_url is not None:
                return self._base_url
            host = self.config.host
            server_class = _Server6 if ":" in host else _Server
            server = server_class((host.strip("[]"), self.config.port), _Handler)
            server.emulator = self
            try:
                if self.config.log_path is not None:
                    self._log = _open_log(self.config.log_path)
            except OSError:
                server.server_close()
                raise
            self._wake = socket.socketpair()
            thread = threading.Thread(
                target=self._accept_loop,
                args=(server, self._wake[0]),
                name="fbcli-emulator",
                daemon=True,
            )
            thread.start()
            self._server, self._thread = server, thread
            self._base_url = f"http://{_url_host(host)}:{server.server_port}"
            return self._base_url

    def stop(self) -> None:
        """Stop serving, cut in-flight requests short, close the socket and the log. Idempotent."""
        with self._life_lock:
            if self._stopped.is_set():
                return
            self._stopping.set()
            if self._server is not None and self._thread is not None and self._wake is not None:
                self._wake[1].send(b"!")
                self._thread.join()
                with self._lock:
                    connections = list(self._connections)
                for connection in connections:
                    with suppress(OSError):
                        connection.shutdown(socket.SHUT_RDWR)
                self._server.server_close()
                for end in self._wake:
                    end.close()
            with self._lock:
                if self._log is not None:
                    self._log.close()
                    self._log = None
            self._stopped.set()

    def _accept_loop(self, server: _Server, wake: socket.socket) -> None:
        """Accept connections until ``stop()`` writes to the wake-up socket.

        Unlike ``serve_forever``, which polls for its stop flag, this wakes at
        once: ``stop()`` takes no fixed delay and an idle server never wakes up.
        """
        with selectors.DefaultSelector() as selector:
            selector.register(server, selectors.EVENT_READ)
            selector.register(wake, selectors.EVENT_READ)
            while not self._stopping.is_set():
                for key, _ in selector.select():
                    if key.fileobj is server and not self._stopping.is_set():
                        server.handle_request()

    def serve_forever(self) -> None:
        """Start if needed, block until ``stop()`` or Ctrl-C, then stop cleanly.

        ``KeyboardInterrupt`` propagates after the clean stop.
        """
        self.start()
        try:
            self._stopped.wait()
        finally:
            self.stop()

    def __enter__(self) -> Emulator:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT``; only after ``start()``."""
        if self._base_url is None:
            raise RuntimeError("the emulator is not started")
        return self._base_url

    # -- inspection ---------------------------------------------------------------------

    def calls(self) -> list[RecordedCall]:
        """The accepted calls so far, in order."""
        with self._lock:
            return list(self._calls)

    def stats(self) -> dict[str, int]:
        """Counts of requests by outcome (``/_emulator`` requests not included).

        ``requests`` (all), ``accepted`` (recorded calls), ``rejected_400``,
        ``unauthorized_401``, ``other_4xx`` (404, 405, 413), ``rate_limited_429``
        (limit, fault and storm), ``errors_5xx`` (fault), ``dropped_before``,
        ``dropped_after``, ``slow``, ``storms`` (storms started), ``storm_429``
        (429s answered in storms), ``revoked`` (revoke faults), ``tokens_issued``,
        ``internal_errors`` (emulator bugs, answered 500: should stay 0).
        """
        with self._lock:
            return dict(self._stats)

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Wait until no connection is open or waiting to be accepted; ``False`` on timeout.

        After a client gave up or died, a request it sent may still be in the
        emulator (a ``slow`` fault), or not yet accepted (a client killed just
        after sending), and be recorded later: wait for this before reading
        ``calls()`` as the final word.  A connection counts from its accept
        (``_Server.process_request``) to its close (``shutdown_request``).
        """
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                busy = bool(self._connections)
            if not busy and not self._pending():
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.01)

    def _pending(self) -> bool:
        """Whether a connection waits in the listening socket's backlog."""
        server = self._server
        if server is None or self._stopping.is_set():
            return False
        with suppress(OSError, ValueError):  # closed meanwhile
            readable, _, _ = select.select([server.socket], [], [], 0)
            return bool(readable)
        return False

    def revoke_tokens(self) -> None:
        """Make every issued token invalid (the next call gets 401)."""
        with self._lock:
            self._tokens.clear()

    # -- request handling (called from handler threads) ---------------------------------

    def _register(self, connection: socket.socket) -> None:
        with self._lock:
            self._connections.add(connection)

    def _unregister(self, connection: socket.socket) -> None:
        with self._lock:
            self._connections.discard(connection)

    def _count(self, key: str) -> None:
        with self._lock:
            self._stats[key] += 1

    def _count_reply(self, reply: _Reply) -> None:
        """Count an error reply under its status (the caller holds the lock)."""
        key = {400: "rejected_400", 401: "unauthorized_401", 429: "rate_limited_429"}.get(
            reply.status, "other_4xx"
        )
        self._stats[key] += 1

    def _reject(self, reply: _Reply) -> _Reply:
        with self._lock:
            self._count_reply(reply)
        return reply

    def _refuse_early(self, reply: _Reply) -> _Reply:
        """A request that could not be read (bad framing): counted, never faulted."""
        with self._lock:
            self._stats["requests"] += 1
            self._count_reply(reply)
        return reply

    def _process(self, request: _Request) -> _Reply:
        """Run one request through the steps in the module docstring, between the hooks."""
        if self._on_request is not None:
            self._on_request(request.path)
        reply = self._steps(request)
        if self._on_reply is not None:
            self._on_reply(request.path, self.stats()["accepted"])
        return reply

    def _steps(self, request: _Request) -> _Reply:
        """The steps in the module docstring."""
        if request.path == ADMIN_PREFIX or request.path.startswith(ADMIN_PREFIX + "/"):
            return self._admin(request)
        with self._lock:
            self._stats["requests"] += 1
            roll = self._roll()
            early = self._early_reply(roll)
            if early is not None:
                return early
            if roll.revoke:
                self._tokens.clear()
                self._stats["revoked"] += 1
        endpoint = _ENDPOINTS.get(request.path)
        if endpoint is None and request.path != AUTHORIZATION_PATH:
            return self._reject(_error(404, f"there is no endpoint at {request.path}"))
        if request.method != "POST":
            return self._reject(
                _error(405, f"{request.path} only accepts POST", headers=(("Allow", "POST"),))
            )
        if endpoint is None:
            return self._authorize(request, roll)
        if not self._token_valid(request.authorization):
            message = (
                "the Authorization header is missing"
                if not request.authorization
                else "the token is invalid, expired or revoked"
            )
            return self._reject(_error(401, message, headers=(("WWW-Authenticate", "Bearer"),)))
        body = _parse_json_object(request.body)
        if isinstance(body, str):
            return self._reject(_error(400, body))
        problem = _check_fields(body, endpoint.required, endpoint.optional)
        if problem is not None:
            return self._reject(_error(400, problem))
        if not self._wait_if_slow(roll):
            return _DROP
        with self._lock:
            status = 201
            if endpoint.upsert:
                customer_id = body["customerId"]
                status = 200 if customer_id in self._customers else 201
                self._customers.add(customer_id)
            event_id = str(uuid.uuid4())
            self._seq += 1
            call = RecordedCall(
                seq=self._seq,
                method=request.method,
                path=request.path,
                body=_trim_additional_properties(body),
                event_id=event_id,
                status=status,
                received_at=request.received_at,
                faults=tuple(
                    kind
                    for kind, struck in (("slow", roll.slow), ("drop-after", roll.drop_after))
                    if struck
                ),
            )
            self._calls.append(call)
            self._stats["accepted"] += 1
            if self._log is not None:
                self._log.write(json.dumps(call.to_dict(), ensure_ascii=False) + "\n")
                self._log.flush()
            if roll.drop_after:
                self._stats["dropped_after"] += 1
                return _DROP
        return _Reply(status, {"eventId": event_id, "createdOn": _iso(datetime.now(UTC))})

    def _roll(self) -> _Roll:
        """Throw the dice: the same throws for every request, so a seed gives the same faults.

        Six throws, then one for ``storm`` and one for ``revoke`` when their rate is above 0.
        """
        faults, rng = self.config.faults, self._rng
        drop_before = rng.random() < faults.drop_before
        error_429 = rng.random() < faults.error_429
        error_5xx = rng.random() < faults.error_5xx
        server_error = rng.choice(_SERVER_ERRORS)
        slow = rng.random() < faults.slow
        drop_after = rng.random() < faults.drop_after
        storm = faults.storm > 0 and rng.random() < faults.storm
        revoke = faults.revoke > 0 and rng.random() < faults.revoke
        return _Roll(
            drop_before,
            error_429,
            server_error if error_5xx else None,
            slow,
            drop_after,
            storm,
            revoke,
        )

    def _early_reply(self, roll: _Roll) -> _Reply | None:
        """Steps 1-5: drop, storm, rate limit, 429 and 5xx faults (the caller holds the lock)."""
        if roll.drop_before:
            self._stats["dropped_before"] += 1
            return _DROP
        now = self._clock()
        if roll.storm and now >= self._storm_until:
            self._storm_until = now + self.config.faults.storm_seconds
            self._stats["storms"] += 1
        if now < self._storm_until:
            self._stats["rate_limited_429"] += 1
            self._stats["storm_429"] += 1
            message = "the emulator is in an injected 429 storm"
            if self._stats["storms"] % 2:
                return self._too_many(self._storm_until - now, message)
            return _error(429, message)
        if self._bucket is not None:
            wait = self._bucket.take(now)
            if wait is not None:
                self._stats["rate_limited_429"] += 1
                return self._too_many(wait, "the rate limit is exceeded")
        if roll.error_429:
            self._stats["rate_limited_429"] += 1
            return self._too_many(1.0, "the emulator injected a rate-limit reply")
        if roll.error_5xx is not None:
            self._stats["errors_5xx"] += 1
            return _error(roll.error_5xx, "the emulator injected a server error")
        return None

    def _too_many(self, wait: float, message: str) -> _Reply:
        headers: tuple[tuple[str, str], ...] = ()
        if self.config.retry_after:
            headers = (("Retry-After", str(max(1, math.ceil(wait)))),)
        return _error(429, message, headers=headers)

    def _wait_if_slow(self, roll: _Roll) -> bool:
        """The slow fault; ``False`` when ``stop()`` cut the wait short (then drop)."""
        if not roll.slow:
            return True
        self._count("slow")
        return not self._stopping.wait(self.config.faults.slow_seconds)

    def _token_valid(self, header: str | None) -> bool:
        """``Bearer <token>`` or the bare token (Segment sends that), issued and not expired."""
        if not header:
            return False
        scheme, _, rest = header.strip().partition(" ")
        token = rest.strip() if scheme.lower() == "bearer" else header.strip()
        with self._lock:
            expiry = self._tokens.get(token)
            return expiry is not None and self._clock() < expiry

    def _authorize(self, request: _Request, roll: _Roll) -> _Reply:
        body = _parse_json_object(request.body)
        if isinstance(body, str):
            return self._reject(_error(400, body))
        key, secret = body.get("key"), body.get("secret")
        if not (isinstance(key, str) and key and isinstance(secret, str) and secret):
            return self._reject(_error(401, "'key' and 'secret' must be non-empty strings"))
        config = self.config
        if (config.key is not None and not _same(key, config.key)) or (
            config.secret is not None and not _same(secret, config.secret)
        ):
            return self._reject(_error(401, "the key or the secret is wrong"))
        if not self._wait_if_slow(roll):
            return _DROP
        token = ""
        with self._lock:
            now = self._clock()
            self._tokens = {t: e for t, e in self._tokens.items() if e > now}
            expires = datetime.now(UTC) + timedelta(seconds=config.token_ttl)
            token = issue_token(expires)
            self._tokens[token] = now + config.token_ttl
            self._stats["tokens_issued"] += 1
            if roll.drop_after:
                self._stats["dropped_after"] += 1
                return _DROP
        return _Reply(200, {"tokenType": "Bearer", "token": token, "expires": _iso(expires)})

    def _admin(self, request: _Request) -> _Reply:
        """``/_emulator/calls`` (GET, DELETE), ``/_emulator/stats`` (GET): no token, no faults."""
        allowed = {f"{ADMIN_PREFIX}/calls": "GET, DELETE", f"{ADMIN_PREFIX}/stats": "GET"}.get(
            request.path
        )
        if allowed is None:
            return _error(404, f"there is no endpoint at {request.path}")
        if request.method not in allowed.split(", "):
            return _error(
                405, f"{request.path} only accepts {allowed}", headers=(("Allow", allowed),)
            )
        if request.path.endswith("/stats"):
            return _Reply(200, self.stats())
        if request.method == "DELETE":
            with self._lock:
                deleted = len(self._calls)
                self._calls.clear()
            return _Reply(200, {"deleted": deleted})
        return _Reply(200, [call.to_dict() for call in self.calls()])


def _same(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode(), expected.encode())


def issue_token(expires: datetime) -> str:
    """Opaque and random, shaped like a JWT (header.payload.signature); never parsed back."""
    header = _b64({"alg": "HS256", "typ": "JWT"})
    payload = _b64(
        {"iss": "fbcli-emulator", "exp": int(expires.timestamp()), "jti": uuid.uuid4().hex}
    )
    return f"{header}.{payload}.{secrets.token_urlsafe(32)}"


def _open_log(path: Path) -> IO[str]:
    """Open for appending; a new file is created with mode 0600 (calls may hold personal data).

    Lines are UTF-8; a lone surrogate (``"\\ud800"`` is valid JSON) cannot be
    encoded, and ``backslashreplace`` writes it back as that same JSON escape.
    """
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    return os.fdopen(descriptor, "a", encoding="utf-8", errors="backslashreplace")


def _url_host(host: str) -> str:
    """The host for the base URL: unspecified addresses become loopback; IPv6 gets brackets."""
    bare = host.strip("[]")
    if bare in ("0.0.0.0", ""):  # noqa: S104 -- compared, not bound
        return "127.0.0.1"
    if bare == "::":
        return "[::1]"
    return f"[{bare}]" if ":" in bare else bare


# -- HTTP plumbing ------------------------------------------------------------------------


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    emulator: Emulator

    def handle_error(self, *args: Any, **kwargs: Any) -> None:
        """Silence: a client that went away is not worth a traceback on stderr."""

    def process_request(self, request: Any, client_address: Any) -> None:
        """Count the connection from its accept, before its thread starts (``wait_idle``)."""
        self.emulator._register(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        """The connection's thread is done with it (however it ended)."""
        try:
            super().shutdown_request(request)
        finally:
            self.emulator._unregister(request)


class _Server6(_Server):
    address_family = socket.AF_INET6


class _Handler(http.server.BaseHTTPRequestHandler):
    """HTTP/1.1, keep-alive; every reply has a Content-Length; ``Connection: close`` honoured."""

    protocol_version = "HTTP/1.1"
    server_version = "fbcli-emulator"
    sys_version = ""
    disable_nagle_algorithm = True
    """Headers and body go out in two writes: without this, each reply waits for a delayed ACK."""
    timeout = 60.0
    """An idle keep-alive connection is closed after this many seconds."""
    server: _Server

    def setup(self) -> None:
        super().setup()
        self.server.emulator._register(self.connection)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.emulator._unregister(self.connection)

    def handle_one_request(self) -> None:
        if self.server.emulator._stopping.is_set():  # registered just before stop(): leave
            self.close_connection = True
            return
        super().handle_one_request()

    def log_message(self, *args: Any) -> None:
        """Never print."""

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def do_PUT(self) -> None:
        self._serve()

    def do_PATCH(self) -> None:
        self._serve()

    def do_DELETE(self) -> None:
        self._serve()

    def do_OPTIONS(self) -> None:
        self._serve()

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """The base class's errors (bad request line, unsupported method) with MAPI's body."""
        self.close_connection = True
        with suppress(OSError):
            self._send(_error(code, message or HTTPStatus(code).phrase))

    def _serve(self) -> None:
        emulator = self.server.emulator
        try:
            request = self._read_request()
        except OSError:  # the client went away while sending
            self.close_connection = True
            return
        try:
            if isinstance(request, _Reply):
                reply = emulator._refuse_early(request)
            else:
                reply = emulator._process(request)
        except Exception:  # noqa: BLE001 -- an emulator bug answers 500 (counted), no traceback
            emulator._count("internal_errors")
            reply = _error(500, "the emulator failed to handle this request", close=True)
        try:
            self._send(reply)
        except OSError:
            self.close_connection = True

    def _read_request(self) -> _Request | _Reply:
        received_at = _iso(datetime.now(UTC))
        if self.headers.get("Transfer-Encoding") is not None:
            return _error(400, "send the body with a Content-Length, not chunked", close=True)
        length_text = self.headers.get("Content-Length", "0").strip()
        if not (length_text.isascii() and length_text.isdigit()):
            return _error(400, "the Content-Length header is not a number", close=True)
        if len(length_text) > 12 or (length := int(length_text)) > MAX_BODY_BYTES:
            return _error(413, f"the body is over {MAX_BODY_BYTES} bytes", close=True)
        body = self.rfile.read(length)
        if len(body) < length:
            raise ConnectionResetError("the client closed the connection mid-body")
        return _Request(
            method=self.command,
            path=urlsplit(self.path).path,
            authorization=self.headers.get("Authorization"),
            body=body,
            received_at=received_at,
        )

    def _send(self, reply: _Reply) -> None:
        if reply.drop:
            self.close_connection = True
            return
        payload = b"" if reply.body is None else json.dumps(reply.body).encode()
        self.send_response(reply.status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        for name, value in reply.headers:
            self.send_header(name, value)
        if reply.close or self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)
