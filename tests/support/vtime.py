"""Virtual time for real threads: replay's workers, the limiter and a model server, never sleeping.

``VirtualTime`` runs threads one at a time.  A thread runs until it sleeps
(``sleep``, ``wait``, or a :class:`VirtualEvent`'s ``wait``); when every thread
it knows of is asleep (or finished), the clock jumps to the earliest wake-up
and that one thread runs.  Ties wake in the order the sleeps began.  A
process stopped and continued (SIGSTOP, SIGCONT) is simulated by ``stopped``
intervals: nothing wakes inside one, so whatever was due wakes at its end.  Code
between two sleeps takes no virtual time, so a run is deterministic (given
seeded randomness) and as fast as the Python code it runs: 20 virtual seconds
of 8 workers at 100 calls/s take a fraction of a real second.

Only threads started by :meth:`VirtualTime.run` take part; they must not
block on anything but the clock (a lock held across a sleep would deadlock).
"""

from __future__ import annotations

import heapq
import itertools
import threading
from collections.abc import Callable, Sequence

__all__ = ["VirtualEvent", "VirtualTime"]


class VirtualTime:
    """A clock, ``sleep`` and ``wait`` for threads that take turns; see the module docstring."""

    def __init__(self, start: float = 0.0, *, stopped: Sequence[tuple[float, float]] = ()) -> None:
        self.now = start
        self.stopped = sorted(stopped)
        """Intervals ``[a, b)`` during which the process is stopped (SIGSTOP at ``a``, SIGCONT
        at ``b``): a thread due to wake inside one wakes at its end."""
        self._cond = threading.Condition()
        self._sleepers: list[tuple[float, int]] = []
        self._seq = itertools.count()
        self._awake: set[int] = set()
        """Tokens of sleepers chosen to run (each then leaves ``_wait_turn``)."""
        self._running = 0
        self._errors: list[BaseException] = []

    def clock(self) -> float:
        """The virtual time."""
        return self.now

    def sleep(self, seconds: float) -> None:
        """Sleep ``seconds`` of virtual time (other threads run meanwhile)."""
        self._sleep(max(0.0, seconds), None)

    def wait(self, event: threading.Event, seconds: float) -> bool:
        """``event.wait(seconds)`` in virtual time: True at once if set, else after the wait."""
        if event.is_set():
            return True
        self._sleep(max(0.0, seconds), event)
        return event.is_set()

    def _sleep(self, seconds: float, event: threading.Event | None) -> None:
        with self._cond:
            token = next(self._seq)
            heapq.heappush(self._sleepers, (self.now + seconds, token))
            if isinstance(event, VirtualEvent):
                event.waiters.add(token)
            self._running -= 1
            self._dispatch()
            while token not in self._awake:
                self._cond.wait()
            self._awake.discard(token)
            if isinstance(event, VirtualEvent):
                event.waiters.discard(token)

    def _dispatch(self) -> None:
        """When nothing runs, wake the earliest sleeper (the condition's lock is held)."""
        if self._running > 0 or not self._sleepers:
            return
        wake, token = heapq.heappop(self._sleepers)
        self.now = max(self.now, wake)
        for start, end in self.stopped:
            if start <= self.now < end:
                self.now = end
        self._running += 1
        self._awake.add(token)
        self._cond.notify_all()

    def wake_early(self, tokens: set[int]) -> None:
        """Move these sleepers' wake-up to now (a ``VirtualEvent`` was set)."""
        with self._cond:
            if not tokens:
                return
            self._sleepers = [
                (self.now if token in tokens else wake, token) for wake, token in self._sleepers
            ]
            heapq.heapify(self._sleepers)

    def run(self, targets: list[Callable[[], None]], *, timeout: float = 60.0) -> None:
        """Run each target in a thread of its own, taking turns from now on; wait for them all.

        The threads first run in the order given.  The first error raised in one
        of them is raised here (after every thread ended).
        """
        threads = []
        with self._cond:
            for index, target in enumerate(targets):
                token = next(self._seq)
                heapq.heappush(self._sleepers, (self.now, token))
                thread = threading.Thread(
                    target=self._thread, args=(token, target), name=f"virtual-{index}", daemon=True
                )
                threads.append(thread)
                thread.start()
            self._dispatch()
        for thread in threads:
            thread.join(timeout)
            if thread.is_alive():
                raise TimeoutError(f"{thread.name} still running after {timeout} real seconds")
        if self._errors:
            raise self._errors[0]

    def _thread(self, token: int, target: Callable[[], None]) -> None:
        with self._cond:
            while token not in self._awake:
                self._cond.wait()
            self._awake.discard(token)
        try:
            target()
        except Exception as exc:  # noqa: BLE001 - raised again by run(), in the caller
            self._errors.append(exc)
        finally:
            with self._cond:
                self._running -= 1
                self._dispatch()


class VirtualEvent(threading.Event):
    """A ``threading.Event`` whose ``wait`` sleeps in virtual time and whose ``set`` wakes it."""

    def __init__(self, vt: VirtualTime) -> None:
        super().__init__()
        self.vt = vt
        self.waiters: set[int] = set()

    def wait(self, timeout: float | None = None) -> bool:
        """Virtual: True at once if set; else sleep ``timeout`` (or until ``set``)."""
        assert timeout is not None, "a virtual wait needs a timeout"
        return self.vt.wait(self, timeout)

    def set(self) -> None:
        """Set the flag and wake the virtual sleepers waiting on it."""
        super().set()
        self.vt.wake_early(set(self.waiters))
