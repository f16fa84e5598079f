"""Hold a ledger for a whole run, so two replays never send the same calls at once.

A lock file beside the ledger (``<ledger>.lock``, mode 0600) locked with
``flock``: the kernel releases the lock when its process ends, however it
ends (SIGKILL, a crash, a power cut: nothing stale is left behind to clear by
hand).  While it holds the lock, the holder keeps its pid, host, start time
and command in the file, so that a process refused the lock can say who holds
it.  The file is never deleted: deleting a lock file lets a third process lock
a new file while a second still waits on the old one.

``flock`` locks work between processes of one machine, and over NFS where
the server supports them (Linux maps them to NFS byte-range locks).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socket
import stat
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Final

from fbcli.errors import ConfigError
from fbcli.ledger import check_private

POLL_SECONDS: Final = 0.2
"""How often ``--wait`` tries the lock again."""
MAX_HOLDER_BYTES: Final = 4096


@dataclass(frozen=True, slots=True)
class Holder:
    """Who holds a lock, as the holder wrote it."""

    pid: int | None
    host: str | None
    started: str | None
    command: str | None

    def describe(self) -> str:
        """``pid 4242 on build-7, since 2026-12-06 20:15:03 UTC (fbcli replay)``."""
        parts = []
        if self.pid is not None:
            parts.append(f"pid {self.pid}" + (f" on {self.host}" if self.host else ""))
        if self.started:
            try:
                moment = datetime.fromisoformat(self.started).astimezone(UTC)
                parts.append(f"since {moment:%Y-%m-%d %H:%M:%S} UTC")
            except ValueError:
                parts.append(f"since {self.started}")
        text = ", ".join(parts) or "a process that did not say who it is"
        return f"{text} ({self.command})" if self.command else text


class LedgerLock:
    """The lock of one ledger file; ``acquire`` then ``release`` (or use ``with``)."""

    def __init__(
        self,
        ledger: Path,
        *,
        command: str = "fbcli",
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.ledger = ledger
        self.path = ledger.with_name(ledger.name + ".lock")
        self.command = command
        self._sleep = sleep
        self._fd: int | None = None

    def acquire(
        self, *, wait: bool = False, on_wait: Callable[[Holder], None] | None = None
    ) -> None:
        """Take the lock, or raise ``ConfigError`` naming its holder.

        With ``wait``, try again every ``POLL_SECONDS`` until it is free, calling
        ``on_wait`` once with the holder first (the caller says it waits); the
        wait ends only when the lock is taken or a signal interrupts it.
        """
        fd = self._open()
        told = False
        try:
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    holder = _read_holder(fd)
                    if not wait:
                        raise ConfigError(
                            f"the ledger is in use by another fbcli: {holder.describe()}",
                            where=str(self.ledger),
                            hint="wait for it to finish, or add --wait to start when it has",
                        ) from None
                    if not told and on_wait is not None:
                        on_wait(holder)
                    told = True
                    self._sleep(POLL_SECONDS)
                except OSError as exc:
                    raise ConfigError(
                        f"cannot lock the ledger: {exc.strerror or exc}", where=str(self.path)
                    ) from None
            self._write_holder(fd)
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd

    def _open(self) -> int:
        flags = os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
        try:
            fd = os.open(self.path, flags, 0o600)
        except OSError as exc:
            raise ConfigError(
                f"cannot create the ledger's lock file {self.path.name}: {exc.strerror or exc}",
                where=str(self.ledger),
                hint="make the ledger's folder writable, or give another --ledger path",
            ) from None
        try:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode):
                raise ConfigError(
                    "the ledger's lock file is not a regular file", where=str(self.path)
                )
            check_private(self.path, info, what="the ledger's lock file")
        except BaseException:
            os.close(fd)
            raise
        return fd

    def _write_holder(self, fd: int) -> None:
        holder = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "started": datetime.now(UTC).isoformat(timespec="seconds"),
            "command": self.command,
        }
        data = json.dumps(holder).encode()
        with contextlib.suppress(OSError):  # who holds it is a courtesy, not the lock
            os.ftruncate(fd, 0)
            os.pwrite(fd, data, 0)

    def release(self) -> None:
        """Let the lock go (the holder's note is cleared first)."""
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        with contextlib.suppress(OSError):
            os.ftruncate(fd, 0)
        os.close(fd)  # closing the last descriptor releases the flock

    @property
    def held(self) -> bool:
        """Whether this object holds the lock."""
        return self._fd is not None

    def __enter__(self) -> LedgerLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def _read_holder(fd: int) -> Holder:
    try:
        raw = os.pread(fd, MAX_HOLDER_BYTES, 0)
        data = json.loads(raw.decode("utf-8")) if raw else {}
    except (OSError, ValueError):
        data = {}
    if not isinstance(data, dict):
        data = {}

    def text(name: str) -> str | None:
        value = data.get(name)
        return (
            "".join(c for c in value if c.isprintable())[:200] if isinstance(value, str) else None
        )

    pid = data.get("pid")
    return Holder(
        pid if isinstance(pid, int) and not isinstance(pid, bool) else None,
        text("host"),
        text("started"),
        text("command"),
    )
