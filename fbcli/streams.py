"""Standard streams that outlive their readers, so an exit code always says what happened."""

from __future__ import annotations

import contextlib
import os
from typing import IO, Any


class ClosedPipeSafe:
    """A standard stream that survives its reader going away (``fbcli validate … | head``).

    Python ignores SIGPIPE, so a write to a closed pipe raises ``BrokenPipeError``
    wherever it happens; a full disk (``> /dev/full``) raises ``OSError``.  This
    stream catches both, points the file descriptor at ``/dev/null`` and goes
    on, so the command runs to its end and its exit code still says what it
    found (a replay goes on sending and recording, too).  An error other than a
    closed pipe is told on standard error at the end (``failure``).
    """

    def __init__(self, stream: IO[str] | None, fd: int) -> None:
        self._stream: IO[str] = stream if stream is not None else devnull_text(fd)
        self._fd = fd
        self.failure: OSError | None = None

    def _lost(self, exc: OSError) -> None:
        if not isinstance(exc, BrokenPipeError) and self.failure is None:
            self.failure = exc
        devnull = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(devnull, self._fd)
        finally:
            os.close(devnull)
        with contextlib.suppress(OSError, ValueError):
            self._stream.flush()  # what was buffered goes to /dev/null now

    def write(self, text: str) -> int:
        try:
            return self._stream.write(text)
        except OSError as exc:
            self._lost(exc)
            return len(text)

    def flush(self) -> None:
        try:
            self._stream.flush()
        except OSError as exc:
            self._lost(exc)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def devnull_text(fd: int) -> IO[str]:
    """A text stream on ``fd`` pointed at ``/dev/null`` (a stream closed before fbcli ran)."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    if devnull != fd:
        os.dup2(devnull, fd)
        os.close(devnull)
    return open(fd, "w", encoding="utf-8", closefd=False)
