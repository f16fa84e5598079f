"""Hold a ledger for a whole run, so two replays never send the same calls at once.

The lock is an ``flock`` on the ledger file itself: every name of the file (a
symbolic link, a hard link, ``..``, another spelling) is one lock, and the
kernel releases it when its process ends, however it ends (SIGKILL, a crash:
nothing stale is left to clear by hand).  ``flock`` locks do not meddle with
SQLite's own (``fcntl``) locks on the same file; the descriptor is closed only
after the ledger's connection, as closing it earlier would drop SQLite's locks.
The ledger lives on a local disk: SQLite's WAL mode does not work over NFS.

While it holds the lock, the holder leaves a note beside the ledger's real
path (``<ledger>.lock``: pid, host, start time, command), so that a process
refused the lock can say who holds it; the note is removed before the lock
is let go (a killed holder leaves its note, which the next holder replaces).
The note is a courtesy: when it cannot be written (a read-only folder, a link
or another user's file there), the lock holds all the same.
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
from typing import Any, Final

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
    """The lock of one ledger file; ``acquire`` then ``release`` (or use ``with``).

    ``wait_hint``: the hint when the lock is refused (a command without ``--wait``
    says something else).
    """

    def __init__(
        self,
        ledger: Path,
        *,
        command: str = "fbcli",
        wait_hint: str = "wait for it to finish, or add --wait to start when it has",
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.ledger = ledger
        self.command = command
        self.wait_hint = wait_hint
        self._sleep = sleep
        self._fd: int | None = None
        self._note: Path | None = None

    @property
    def note_path(self) -> Path:
        """Where the holder's note is: beside the ledger's real path."""
        return Path(os.path.realpath(self.ledger) + ".lock")

    def acquire(
        self, *, wait: bool = False, on_wait: Callable[[Holder], None] | None = None
    ) -> None:
        """Take the lock (creating the ledger file, mode 0600, if it does not exist), or raise
        ``ConfigError`` naming its holder.

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
                    holder = _read_holder(self.note_path)
                    if not wait:
                        raise ConfigError(
                            f"the ledger is in use by another fbcli: {holder.describe()}",
                            where=str(self.ledger),
                            hint=self.wait_hint,
                        ) from None
                    if not told and on_wait is not None:
                        on_wait(holder)
                    told = True
                    self._sleep(POLL_SECONDS)
                except OSError as exc:
                    raise ConfigError(
                        f"cannot lock the ledger: {exc.strerror or exc}", where=str(self.ledger)
                    ) from None
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd
        self._write_note()

    def _open(self) -> int:
        """The ledger file, opened to be locked (read only: ``flock`` needs no more)."""
        try:
            with contextlib.suppress(FileExistsError):  # made 0600, unless another was first
                os.close(os.open(self.ledger, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
        except OSError as exc:
            raise ConfigError(
                f"cannot create the ledger: {exc.strerror or exc}", where=str(self.ledger)
            ) from None
        try:
            fd = os.open(self.ledger, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
        except OSError as exc:
            raise ConfigError(
                f"cannot open the ledger: {exc.strerror or exc}", where=str(self.ledger)
            ) from None
        try:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode):
                raise ConfigError(
                    "the ledger is not a regular file (a device or a pipe)",
                    where=str(self.ledger),
                )
            check_private(self.ledger, info, what="the ledger")
        except BaseException:
            os.close(fd)
            raise
        return fd

    def _write_note(self) -> None:
        """Leave the holder's note (a courtesy: nothing is refused when it cannot be)."""
        note = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "started": datetime.now(UTC).isoformat(timespec="seconds"),
            "command": self.command,
        }
        flags = os.O_WRONLY | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0)
        flags |= getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NONBLOCK", 0)
        path = self.note_path
        try:
            fd = os.open(path, flags, 0o600)
        except OSError:
            return
        try:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode) or info.st_uid != os.geteuid():
                return
            os.ftruncate(fd, 0)
            os.write(fd, json.dumps(note).encode())
            self._note = path
        except OSError:
            return
        finally:
            os.close(fd)

    def release(self) -> None:
        """Let the lock go (its note is removed first, while it is still held)."""
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        if self._note is not None:
            with contextlib.suppress(OSError):
                self._note.unlink()
            self._note = None
        os.close(fd)  # releases the flock

    @property
    def held(self) -> bool:
        """Whether this object holds the lock."""
        return self._fd is not None

    def __enter__(self) -> LedgerLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def _read_holder(note: Path) -> Holder:
    """The holder's note (empty when there is none, or it cannot be read safely)."""
    data: Any = {}
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    try:
        fd = os.open(note, flags)
        try:
            if stat.S_ISREG(os.fstat(fd).st_mode):
                raw = os.read(fd, MAX_HOLDER_BYTES)
                data = json.loads(raw.decode("utf-8")) if raw else {}
        finally:
            os.close(fd)
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
