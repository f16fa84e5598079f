"""Run ``fbcli`` with a kill switch in its ledger: SIGKILL at an exact ledger moment.

    python tests/crashpoint.py SPEC fbcli-arguments...

``SPEC`` is ``none`` (run ``fbcli`` as is) or ``WHERE:N:DELAY``:

- ``record-before:N:0``: just before the ``N``-th ``Ledger.record`` (its INSERT);
- ``record-after:N:0``: just after the ``N``-th ``Ledger.record`` committed;
- ``record-during:N:DELAY``: ``DELAY`` seconds into the ``N``-th ``Ledger.record``
  (a thread kills the process while SQLite runs the INSERT, writes the WAL frames
  or waits for their fsync: ``sqlite3`` releases the GIL for all of that), or
  just after it when the write took less than ``DELAY``;
- ``open-during:0:DELAY``: ``DELAY`` seconds into opening the ledger (for a new
  one: creating the file, switching to WAL, creating the tables), or just after;
- ``close-during:0:DELAY``: ``DELAY`` seconds into ``Ledger.close`` (the WAL
  checkpoint), or just after.

The process kills itself with SIGKILL, the signal that cannot be caught:
nothing of fbcli's own runs after it, as in a power cut (the disk keeps what
SQLite had written).  Used by the crash-point sweep (``tests/chaos.py``).
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from typing import Any

from fbcli import ledger
from fbcli.cli import main


def die() -> None:
    """SIGKILL this process."""
    os.kill(os.getpid(), signal.SIGKILL)


def die_in(delay: float) -> None:
    """SIGKILL this process ``delay`` seconds from now, from another thread."""
    deadline = time.perf_counter() + delay

    def wait_then_die() -> None:
        while time.perf_counter() < deadline:
            pass  # a busy wait: sleep() is too coarse for a fraction of a millisecond
        die()

    threading.Thread(target=wait_then_die, daemon=True).start()


def install(spec: str) -> None:
    """Wrap ``Ledger.record`` or ``Ledger.close`` so that the process dies at ``spec``."""
    where, nth_text, delay_text = spec.split(":")
    nth, delay = int(nth_text), float(delay_text)
    opening, record, close = ledger.Ledger.__init__, ledger.Ledger.record, ledger.Ledger.close
    count = 0

    def killing_init(self: ledger.Ledger, *args: Any, **kwargs: Any) -> None:
        if where == "open-during":
            die_in(delay)
        opening(self, *args, **kwargs)
        if where == "open-during":
            time.sleep(10)  # opening was quicker than the delay: die right after it

    def killing_record(self: ledger.Ledger, **fields: Any) -> None:
        nonlocal count
        count += 1
        if count == nth and where == "record-before":
            die()
        if count == nth and where == "record-during":
            die_in(delay)
        record(self, **fields)
        if count == nth and where == "record-after":
            die()
        if count == nth and where == "record-during":
            time.sleep(10)  # the write was quicker than the delay: die right after it

    def killing_close(self: ledger.Ledger) -> None:
        if where == "close-during":
            die_in(delay)
        close(self)
        if where == "close-during":
            time.sleep(10)  # the checkpoint was quicker than the delay: die right after it

    ledger.Ledger.__init__ = killing_init  # type: ignore[method-assign]
    ledger.Ledger.record = killing_record  # type: ignore[method-assign]
    ledger.Ledger.close = killing_close  # type: ignore[method-assign]


if __name__ == "__main__":
    if sys.argv[1] != "none":
        install(sys.argv[1])
    sys.argv = ["fbcli", *sys.argv[2:]]
    main()
