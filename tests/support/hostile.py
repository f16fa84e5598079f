"""Hostile HTTP servers for tests: stdlib sockets on 127.0.0.1 that answer as scripted.

``HostileServer`` reads each HTTP/1.1 request (head and ``Content-Length`` body)
and answers it with the script of its path: at once (``reply``), one byte at a
time from some point on (``trickle``), never (``silent``), cut off part-way
(``break_off``), or with a body of hundreds of megabytes (``flood``); over TLS
when given a server context (``self_signed_certificate`` makes one for
127.0.0.1).  It records each request with the number of the connection it came
on, so a test can tell a pooled connection from a new one.  ``MuteServer``
accepts connections and never reads or writes a byte: a TLS handshake, or a
request larger than the socket buffers, then waits forever; or it resets them.

Everything stops when the ``with`` block ends: scripts look at a stop event
between writes, and every socket is closed.  Used by ``tests/process/test_hostile.py``
and ``bench/hostile.py``.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import socket
import ssl
import struct
import subprocess
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Literal

TOKEN = "tok-hostile-5c0ffee5c0ffee5c0ffee"
_POLL = 0.1


@dataclass
class Exchange:
    """One request received, and the connection to answer it on."""

    path: str
    sock: socket.socket
    stopping: threading.Event

    def send(self, data: bytes) -> bool:
        """Send ``data``; ``False`` when the client is gone (or the server stops)."""
        view = memoryview(data)
        while view:
            if self.stopping.is_set():
                return False
            try:
                sent = self.sock.send(view)
            except TimeoutError:  # the client reads nothing now: try again
                continue
            except OSError:
                return False
            view = view[sent:]
        return True

    def hold(self) -> None:
        """Read and drop whatever comes until the client closes (or the server stops)."""
        while not self.stopping.is_set():
            try:
                if not self.sock.recv(65536):
                    return
            except TimeoutError:
                continue
            except OSError:
                return


Script = Callable[[Exchange], bool]
"""Answers one request; ``True`` to keep the connection for another request."""


def response(
    status: int,
    body: bytes | Mapping[str, Any] = b"",
    headers: Mapping[str, str] | None = None,
) -> bytes:
    """The bytes of a whole HTTP/1.1 answer (a mapping body is sent as JSON)."""
    payload = body if isinstance(body, bytes) else json.dumps(body).encode()
    lines = [f"HTTP/1.1 {status} Hostile", f"Content-Length: {len(payload)}"]
    if not isinstance(body, bytes):
        lines.append("Content-Type: application/json")
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + payload


def token_response(token: str = TOKEN) -> bytes:
    return response(200, {"tokenType": "Bearer", "token": token, "expires": "2999-01-01T00:00:00Z"})


def event_response(event_id: str = "e-hostile") -> bytes:
    return response(201, {"eventId": event_id, "createdOn": "2030-01-01T00:00:00Z"})


def head_length(data: bytes) -> int:
    """Where an answer's body starts (the length of its status line and headers)."""
    return data.index(b"\r\n\r\n") + 4


def reply(data: bytes) -> Script:
    """Answer at once; keep the connection."""
    return lambda exchange: exchange.send(data)


def trickle(data: bytes, *, start: int = 0, interval: float = 0.1) -> Script:
    """Send ``data[:start]`` at once, then one byte every ``interval`` seconds; then close."""

    def script(exchange: Exchange) -> bool:
        if not exchange.send(data[:start]):
            return False
        for offset in range(start, len(data)):
            if exchange.stopping.wait(interval) or not exchange.send(data[offset : offset + 1]):
                return False
        return False

    return script


def break_off(data: bytes, at: int) -> Script:
    """Send ``data[:at]``, then close the connection."""

    def script(exchange: Exchange) -> bool:
        exchange.send(data[:at])
        return False

    return script


def silent() -> Script:
    """Never answer: hold the connection until the client closes it."""

    def script(exchange: Exchange) -> bool:
        exchange.hold()
        return False

    return script


Framing = Literal["length", "chunked", "close"]


def flood(status: int, size: int, *, framing: Framing = "length") -> Script:
    """An answer of ``size`` bytes of body, sent as fast as the client takes them.

    ``length``: with its ``Content-Length``; ``chunked``: in 64 KiB chunks;
    ``close``: without a length, ended by closing the connection.
    """
    piece = b"x" * 65536

    def script(exchange: Exchange) -> bool:
        head = f"HTTP/1.1 {status} Hostile\r\nContent-Type: application/json\r\n"
        head += {
            "length": f"Content-Length: {size}\r\n",
            "chunked": "Transfer-Encoding: chunked\r\n",
            "close": "Connection: close\r\n",
        }[framing]
        if not exchange.send(head.encode() + b"\r\n"):
            return False
        left = size
        while left > 0:
            chunk = piece[: min(left, len(piece))]
            if framing == "chunked":
                chunk = f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n"
            if not exchange.send(chunk):
                return False
            left -= min(left, len(piece))
        if framing == "chunked":
            exchange.send(b"0\r\n\r\n")
        return False

    return script


@dataclass
class HostileServer:
    """An HTTP/1.1 server on 127.0.0.1 answering each path with its script (404 otherwise)."""

    scripts: Mapping[str, Script]
    context: ssl.SSLContext | None = None
    """A server-side TLS context: the server then speaks HTTPS."""
    requests: list[tuple[int, str]] = field(default_factory=list)
    """(connection number from 1, path) of each request, in order."""

    def __post_init__(self) -> None:
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []
        self._threads: list[threading.Thread] = []
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(_POLL)
        scheme = "http" if self.context is None else "https"
        self.base_url = f"{scheme}://127.0.0.1:{self._listener.getsockname()[1]}"

    def __enter__(self) -> HostileServer:
        self._start(self._accept)
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._stopping.set()
        for thread in self._threads:
            thread.join(5)
        with self._lock:
            for sock in self._sockets:
                sock.close()
        self._listener.close()

    @property
    def paths(self) -> list[str]:
        with self._lock:
            return [path for _, path in self.requests]

    def _start(self, target: Callable[..., None], *args: Any) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)
        self._threads.append(thread)
        thread.start()

    def _accept(self) -> None:
        number = 0
        while not self._stopping.is_set():
            try:
                sock, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            sock.settimeout(None if self.context else _POLL)  # TLS: a blocking handshake
            number += 1
            with self._lock:
                self._sockets.append(sock)
            self._start(self._serve, sock, number)

    def _serve(self, sock: socket.socket, number: int) -> None:
        if self.context is not None:
            try:
                sock = self.context.wrap_socket(sock, server_side=True)
            except OSError:  # the client gave up, or refused the certificate
                return
            sock.settimeout(_POLL)
            with self._lock:
                self._sockets.append(sock)
        pending = b""
        while not self._stopping.is_set():
            while b"\r\n\r\n" not in pending:
                data = self._recv(sock)
                if not data:
                    return
                pending += data
            head, _, pending = pending.partition(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            path = lines[0].split(" ")[1]
            length = 0
            for line in lines[1:]:
                name, _, value = line.partition(":")
                if name.strip().lower() == "content-length":
                    length = int(value)
            while len(pending) < length:
                data = self._recv(sock)
                if not data:
                    return
                pending += data
            pending = pending[length:]
            with self._lock:
                self.requests.append((number, path))
            script = self.scripts.get(path, reply(response(404, {"message": "no such path"})))
            if not script(Exchange(path, sock, self._stopping)):
                sock.close()
                return

    def _recv(self, sock: socket.socket) -> bytes:
        while not self._stopping.is_set():
            try:
                return sock.recv(65536)
            except TimeoutError:
                continue
            except OSError:
                return b""
        return b""


@dataclass
class MuteServer:
    """Accepts connections on 127.0.0.1 and never reads or writes a byte.

    With ``reset``, it reads the start of each request instead, then resets the
    connection (TCP RST) while the client is still sending.
    """

    reset: bool = False
    accepted: int = 0

    def __post_init__(self) -> None:
        self._stopping = threading.Event()
        self._sockets: list[socket.socket] = []
        self._listener = socket.socket()
        # A small receive buffer (inherited by each connection): a large request fills it,
        # and then the sender's buffer, at once.
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen()
        self._listener.settimeout(_POLL)
        self.port: int = self._listener.getsockname()[1]
        self._thread = threading.Thread(target=self._accept, daemon=True)

    def __enter__(self) -> MuteServer:
        self._thread.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._stopping.set()
        self._thread.join(5)
        for sock in self._sockets:
            sock.close()
        self._listener.close()

    def _accept(self) -> None:
        while not self._stopping.is_set():
            try:
                sock, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.accepted += 1
            if self.reset:
                sock.settimeout(2)
                with contextlib.suppress(OSError):
                    sock.recv(4096)  # the request has begun: the client is sending
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                sock.close()
            else:
                self._sockets.append(sock)


def self_signed_certificate(folder: Path) -> tuple[Path, Path] | None:
    """A certificate and key for 127.0.0.1 made with the openssl tool (``None`` without it)."""
    openssl = shutil.which("openssl")
    if openssl is None:
        return None
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
            "-nodes", "-keyout", str(key), "-out", str(cert), "-days", "2",
            "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return cert, key
