"""The HTML report's tests: hostile inputs, the page read back, a headless browser.

``write_hostile_inputs`` writes events with realistic mistakes whose values
(and whose file name, and the mapping file) try to break out of the page: a
``<script>``, an ``<img onerror>``, a ``javascript:`` URL, a ``</style>``.
``read_page`` parses a page (or a browser's dump of it) into the tags, the
attributes and the numbers the report marks with ids.

``find_browser`` finds Chromium (Debian's ``chromium``); without one the
browser tests skip, unless ``FBCLI_BROWSER_REQUIRED=1`` (CI), where it is a
failure.  ``Browser.dump_dom`` and ``Browser.screenshot`` run it headless,
every request it makes sent to a ``RequestCatcher``: a proxy on 127.0.0.1
that answers nothing and counts the connections.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import Any, Final

REQUIRED_ENV: Final = "FBCLI_BROWSER_REQUIRED"
BROWSERS: Final = ("chromium", "chromium-browser", "google-chrome", "chrome")
TIMEOUT: Final = 120.0

PAYLOADS: Final = (
    "<script>document.title='pwned1'</script>",
    '"><img src=x onerror="document.title=2">',
    "javascript:document.title='pwned3'",
    "</style><script>document.title=4</script>",
    "</pre></details><script>document.title=5</script>",
)
"""Values that would change the page's title if any of them ran."""

HOSTILE_NAME: Final = "\"><img src=x onerror=document.title='file'>.jsonl"
"""An input file name that is markup."""

HOSTILE_MAPPING: Final = """\
# </style><script>document.title='mapping'</script> "><img src=x onerror=alert(1)>
# </pre><img src="http://fbcli-payload.invalid/i.png"><link rel=stylesheet href=//x.invalid>
version: 1
mode: cloud
subscriptions:
  - name: "Purchases <script>document.title='sub'</script>"
    action: trackPurchase
    trigger: type = "track" and event = "Order Completed"
  - name: Customers
    action: trackCustomer
    trigger: type = "identify"
"""


def hostile_events() -> list[Any]:
    """Events with realistic mistakes, several of them carrying ``PAYLOADS``."""
    events: list[Any] = []
    for n, payload in enumerate(PAYLOADS):
        events.append(
            {
                "type": "track",
                "event": "Order Completed",
                "messageId": f"m-{n}",
                "userId": f"u{n}",
                "timestamp": f"2026-03-0{n + 1}T10:00:00Z",
                "properties": {"order_id": f"o{n}", "total": payload, "currency": "USD"},
            }
        )
        events.append(
            {
                "type": "identify",
                "messageId": f"c-{n}",
                "userId": f"u{n}",
                "timestamp": f"2026-03-0{n + 1}T11:00:00+02:00",
                "traits": {"email": payload, "birthday": payload, "website": payload},
            }
        )
    events.append(
        {
            "type": "track",
            "event": "Order Completed",
            "messageId": "m-ok",
            "userId": "u9",
            "properties": {"order_id": "o9", "total": 10, "currency": "USD"},
        }
    )
    events.append({"type": "page", "name": PAYLOADS[0], "timestamp": "not a time"})
    events.append("[1, 2]")
    events.append('{"broken": ' + json.dumps(PAYLOADS[1]))
    return events


def write_hostile_inputs(folder: Path) -> tuple[Path, Path]:
    """The events file (named ``HOSTILE_NAME``) and the mapping file, written in ``folder``."""
    events = folder / HOSTILE_NAME
    events.write_text(
        "".join((e if isinstance(e, str) else json.dumps(e)) + "\n" for e in hostile_events()),
        encoding="utf-8",
    )
    mapping = folder / "hostile.yaml"
    mapping.write_text(HOSTILE_MAPPING, encoding="utf-8")
    return events, mapping


class Page(HTMLParser):
    """A page parsed: its tags, every attribute, its title and the text of each id
    (an element's text includes its children's)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.attributes: list[tuple[str, str, str | None]] = []
        self.ids: dict[str, str] = {}
        self.title = ""
        self._open: list[tuple[str, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attributes += [(tag, name, value) for name, value in attrs]
        element_id = dict(attrs).get("id")
        if element_id is not None:
            self.ids[element_id] = ""
        if tag not in VOID:
            self._open.append((tag, element_id))

    def handle_endtag(self, tag: str) -> None:
        if any(name == tag for name, _ in self._open):
            while self._open and self._open.pop()[0] != tag:
                pass

    def handle_data(self, data: str) -> None:
        for _tag, element_id in self._open:
            if element_id is not None:
                self.ids[element_id] += data
        tags = [tag for tag, _ in self._open]
        if tags and tags[-1] == "title" and "svg" not in tags:
            self.title += data  # the page's title, not a chart's tooltip

    def number(self, element_id: str) -> int:
        """The number shown in the element with this id."""
        return int(self.ids[element_id].strip())


VOID: Final = frozenset({"meta", "br", "img", "input", "link", "hr", "rect", "line"})


def action_counts(html: str) -> dict[str, dict[str, int]]:
    """The counts table of a page: action → status → count (the non-zero ones)."""
    table = _ActionTable()
    table.feed(html)
    return table.counts


class _ActionTable(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.counts: dict[str, dict[str, int]] = {}
        self._action: str | None = None
        self._status: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "tr" and found.get("data-action"):
            self._action = found["data-action"]
            self.counts[self._action or ""] = {}
        if tag == "td" and self._action is not None and found.get("data-status"):
            self._status = found["data-status"]

    def handle_endtag(self, tag: str) -> None:
        if tag == "td":
            self._status = None
        if tag == "tr":
            self._action = None

    def handle_data(self, data: str) -> None:
        if self._action is not None and self._status is not None and data.strip():
            count = int(data)
            if count:
                self.counts[self._action][self._status] = count


def read_page(html: str) -> Page:
    """``html`` parsed."""
    page = Page()
    page.feed(html)
    page.close()
    return page


def find_browser() -> str | None:
    """A Chromium to run headless, if this machine has one."""
    for name in BROWSERS:
        found = shutil.which(name)
        if found:
            return found
    return None


def browser_required() -> bool:
    """Whether a missing browser is a failure (``FBCLI_BROWSER_REQUIRED=1``, set in CI)."""
    return os.environ.get(REQUIRED_ENV, "") not in ("", "0")


BROWSER_SERVICES: Final = ("google.com", "googleapis.com", "gvt1.com", "gstatic.com")
"""Where Chromium itself connects whatever page it shows (updates, sign-in), flags or not."""


class RequestCatcher:
    """A proxy on 127.0.0.1 that keeps the requests made to it and answers nothing."""

    def __init__(self) -> None:
        self._server = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._server.getsockname()[1]
        self.requests: list[bytes] = []
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self._server.accept()
            except OSError:
                return
            with conn:
                conn.settimeout(2)
                with contextlib.suppress(OSError):
                    self.requests.append(conn.recv(4096))
                with contextlib.suppress(OSError):
                    conn.sendall(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")

    def from_pages(self) -> list[bytes]:
        """The requests but the browser's own (to ``BROWSER_SERVICES``)."""
        return [r for r in self.requests if not _browser_service(_host(r))]

    def __enter__(self) -> RequestCatcher:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.close()
        self._thread.join(timeout=5)


def _browser_service(host: str) -> bool:
    name = host.rpartition(":")[0] or host
    return any(name == s or name.endswith(f".{s}") for s in BROWSER_SERVICES)


def _host(request: bytes) -> str:
    """``host:port`` of a proxied request's first line (``GET http://h/...``, ``CONNECT h:443``)."""
    words = request.split(b"\r\n", 1)[0].decode("latin-1").split()
    if len(words) < 2:
        return ""
    target = words[1]
    if words[0] == "CONNECT":
        return target
    host = target.split("://", 1)[-1].split("/", 1)[0]
    return host if ":" in host else f"{host}:80"


@dataclass(frozen=True)
class Browser:
    """Headless Chromium, every request sent to ``proxy_port``."""

    path: str
    proxy_port: int
    profile: Path

    def _run(self, *args: str) -> subprocess.CompletedProcess[str]:
        command = [
            self.path,
            "--headless",
            "--disable-gpu",
            "--no-sandbox",
            "--no-first-run",
            "--disable-extensions",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-default-apps",
            "--disable-domain-reliability",
            "--disable-client-side-phishing-detection",
            "--no-default-browser-check",
            "--disable-features=NetworkTimeServiceQuerying,OptimizationHints,MediaRouter,Translate",
            f"--user-data-dir={self.profile}",
            f"--proxy-server=http://127.0.0.1:{self.proxy_port}",
            "--proxy-bypass-list=<-loopback>",
            "--virtual-time-budget=3000",
            *args,
        ]
        return subprocess.run(command, capture_output=True, text=True, timeout=TIMEOUT, check=False)

    def dump_dom(self, page: Path) -> str:
        """The DOM after the page loaded (and whatever it ran did its work), as HTML."""
        done = self._run("--dump-dom", page.resolve().as_uri())
        assert done.returncode == 0, done.stderr[-2000:]
        return done.stdout

    def screenshot(self, page: Path, out: Path, *, width: int = 1000, height: int = 1400) -> None:
        """A PNG of the page as drawn at this window size."""
        done = self._run(
            "--hide-scrollbars",
            f"--window-size={width},{height}",
            f"--screenshot={out}",
            page.resolve().as_uri(),
        )
        assert done.returncode == 0, done.stderr[-2000:]
        assert out.is_file(), done.stderr[-2000:]


@contextlib.contextmanager
def browser(path: str, profile: Path) -> Iterator[tuple[Browser, RequestCatcher]]:
    """A headless browser and the catcher of every request it makes."""
    with RequestCatcher() as catcher:
        yield Browser(path, catcher.port, profile), catcher
