"""One policy for the signals that ask fbcli to stop: SIGINT (Ctrl-C), SIGTERM, SIGHUP.

Every command: the signal raises :class:`Interrupted` in the main thread (a
``KeyboardInterrupt``, so every ``finally`` runs: temporary files are removed,
worker processes stopped), and fbcli exits ``128 + signal``: 130 for SIGINT,
143 for SIGTERM, 129 for SIGHUP.

While a replay sends calls, a signal must not land between two steps of the
main thread (a call handed to a worker but not yet noted, an outcome taken
from a worker but not yet in the ledger): a :class:`StopSwitch` in *sending*
mode only sets flags, which the replay reads between steps:

1. the first signal sets ``stop``: no new call and no new attempt starts,
   waits (rate limiter, backoff, authorization) end at once, and the calls in
   flight finish their current attempt and are recorded;
2. a second signal, or ``STOP_GRACE`` seconds after the first with calls
   still in flight, sets ``abandon``: the calls still in flight are recorded
   as possibly delivered (``unknown``; ``failed`` when repeating them is
   harmless) and fbcli exits without waiting for their answers.

A signal that was ignored when fbcli started (``nohup``, a background job of
a script) stays ignored.  Outside the main thread nothing is installed.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any, Final

STOP_SIGNALS: Final = tuple(
    s
    for s in (signal.SIGINT, getattr(signal, "SIGTERM", None), getattr(signal, "SIGHUP", None))
    if s
)
STOP_GRACE: Final = 5.0
"""Seconds the calls in flight get to finish after a stop, before they are abandoned
(less than the 10 s ``docker stop`` and most supervisors give before SIGKILL)."""


class Interrupted(KeyboardInterrupt):
    """A stop signal arrived; ``exit_code`` is ``128 + signal``."""

    def __init__(self, signum: int = signal.SIGINT) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum

    @property
    def exit_code(self) -> int:
        """130 (SIGINT), 143 (SIGTERM), 129 (SIGHUP)."""
        return 128 + self.signum


class StopSwitch:
    """Flags that stop a replay, and the signal handlers that set them.

    ``stop`` and ``abandon`` are plain events: a library caller may set them
    from any thread without installing anything.  :meth:`installed` installs
    the handlers (main thread only) for the duration of a ``with``; they raise
    :class:`Interrupted` except inside :meth:`sending`, where they set the
    flags (see the module docstring).
    """

    def __init__(self) -> None:
        self.stop = threading.Event()
        self.abandon = threading.Event()
        self.signum: int | None = None
        """The first stop signal received (None when none was)."""
        self._sending = False

    def request_stop(self, signum: int = signal.SIGINT) -> None:
        """What the first signal does (the second abandons)."""
        if self.stop.is_set():
            self.abandon.set()
            return
        self.signum = signum
        self.stop.set()

    def _on_signal(self, signum: int, _frame: FrameType | None) -> None:
        if self._sending:
            self.request_stop(signum)
            return
        if self.signum is None:
            self.signum = signum
        self.stop.set()
        raise Interrupted(signum)

    @property
    def exit_code(self) -> int | None:
        """``128 + signal`` once a signal arrived."""
        return None if self.signum is None else 128 + self.signum

    @contextmanager
    def installed(self) -> Iterator[StopSwitch]:
        """Install the handlers of ``STOP_SIGNALS`` (not those ignored) for the block."""
        if threading.current_thread() is not threading.main_thread():
            yield self
            return
        previous: dict[int, Callable[[int, FrameType | None], Any] | int | None] = {}
        try:
            for signum in STOP_SIGNALS:
                handler = signal.getsignal(signum)
                if handler == signal.SIG_IGN:
                    continue
                previous[signum] = handler
                signal.signal(signum, self._on_signal)
            yield self
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)

    @contextmanager
    def sending(self) -> Iterator[None]:
        """Within the block, signals set ``stop`` and ``abandon`` instead of raising."""
        self._sending = True
        try:
            yield
        finally:
            self._sending = False


@contextmanager
def stop_signals_raise() -> Iterator[None]:
    """For every command: SIGTERM and SIGHUP raise ``Interrupted`` like Ctrl-C does."""
    with StopSwitch().installed():
        yield
