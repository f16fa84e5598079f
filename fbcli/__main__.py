"""``python -m fbcli`` and the ``fbcli`` console script: the process's first steps.

Before anything is imported: the standard file descriptors 0, 1 and 2 are made
to exist (``fbcli … >&-`` would otherwise let the next file opened, a ledger
say, become "standard output"), and SIGINT, SIGTERM and SIGHUP end the process
quietly with ``128 + signal`` (a signal during start-up would otherwise print
a traceback).  Each command then installs its own handlers (``fbcli.signals``).
"""

from __future__ import annotations

import os
import signal
from types import FrameType


def _exit_quietly(signum: int, _frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)


def main() -> None:
    """Open what is closed, quiet the start-up signals, then run the CLI."""
    for fd in (0, 1, 2):
        try:
            os.fstat(fd)
        except OSError:
            opened = os.open(os.devnull, os.O_RDWR)  # the lowest free descriptor: this one
            if opened != fd:  # pragma: no cover - only when a lower one was closed too
                os.dup2(opened, fd)
                os.close(opened)
    for name in ("SIGINT", "SIGTERM", "SIGHUP"):
        signum = getattr(signal, name, None)
        if signum is not None and signal.getsignal(signum) != signal.SIG_IGN:
            signal.signal(signum, _exit_quietly)
    from fbcli.cli import main as run_cli  # noqa: PLC0415 - after the handlers, on purpose

    run_cli()


if __name__ == "__main__":
    main()
