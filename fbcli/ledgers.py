"""``fbcli ledger``: find the ledgers, look at them, and decide by hand what a replay could not.

A replay leaves a call ``unknown`` when it may have reached MAPI but no answer
came; only someone who looks in Friendbuy's dashboard can say whether it
arrived.  These functions let them say so (``resolve``), start a call over
(``forget``), follow a renamed subscription (``rename``), or take in another
ledger file (``merge``).  Changes take the ledger's lock, so they never race a
running replay; looking does not.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from fbcli.errors import ConfigError
from fbcli.ledger import (
    EMULATOR_TARGET,
    Ledger,
    LedgerEntry,
    LedgerStatus,
    check_ledger_path,
    default_ledger_path,
    ledger_target,
)
from fbcli.lock import LedgerLock

Resolution = Literal["delivered", "not-delivered"]
WAIT_HINT = "changes wait until no replay holds the ledger: run this again when it has finished"


@dataclass(frozen=True, slots=True)
class Choice:
    """A ledger file, and the target to work on in it (``None``: every target)."""

    path: Path
    target: str | None


def default_ledgers(state_dir: Path) -> list[Path]:
    """The default ledgers in fbcli's state folder, by name."""
    folder = state_dir / "ledgers"
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.glob("*.sqlite") if p.is_file())


def choose(
    *,
    state_dir: Path,
    ledger: Path | None = None,
    target: str | None = None,
    emulator: bool = False,
    every: bool = False,
) -> list[Choice]:
    """Which ledger(s) a ``fbcli ledger`` command works on.

    ``--ledger PATH`` (every target in it, or ``--target``'s), ``--target URL`` or
    ``--emulator`` (that target's default ledger), or else the default ledgers:
    all of them when ``every`` (``status``), otherwise the only one there is.
    """
    if emulator and target is not None:
        raise ConfigError("give --target or --emulator, not both")
    wanted = EMULATOR_TARGET if emulator else (ledger_target(target) if target else None)
    if ledger is not None:
        return [Choice(ledger, wanted)]
    if wanted is not None:
        return [Choice(default_ledger_path(wanted, state_dir), wanted)]
    found = default_ledgers(state_dir)
    if every:
        return [Choice(path, None) for path in found]
    if not found:
        raise ConfigError(
            "there is no ledger yet: nothing was replayed with the default ledger",
            where=str(state_dir / "ledgers"),
            hint="give --ledger PATH for a ledger kept elsewhere",
        )
    if len(found) > 1:
        targets = ", ".join(_targets_of(path) for path in found)
        raise ConfigError(
            f"there are {len(found)} ledgers: say which with --target URL or --emulator "
            f"(targets: {targets})",
            where=str(state_dir / "ledgers"),
        )
    return [Choice(found[0], None)]


def _targets_of(path: Path) -> str:
    try:
        with Ledger(path, target=None, create=False) as opened:
            return " / ".join(opened.counts_by_target()) or path.stem
    except ConfigError:
        return path.stem


@contextmanager
def opened(choice: Choice, *, change: bool) -> Iterator[Ledger]:
    """The chosen ledger, opened; locked against replays when ``change`` is asked."""
    lock = LedgerLock(choice.path, command="fbcli ledger", wait_hint=WAIT_HINT) if change else None
    if lock is not None:
        if not choice.path.exists():
            raise ConfigError("there is no ledger here", where=str(choice.path))
        check_ledger_path(choice.path)
        lock.acquire()
    try:
        with Ledger(choice.path, target=choice.target, create=False) as ledger:
            if change and choice.target is None:
                targets = list(ledger.counts_by_target())
                if len(targets) > 1:
                    raise ConfigError(
                        f"the ledger holds calls for {len(targets)} targets: say which with "
                        f"--target URL ({', '.join(targets)})",
                        where=str(choice.path),
                    )
                ledger.target = targets[0] if targets else None
            yield ledger
    finally:
        if lock is not None:
            lock.release()


def status_rows(choices: Sequence[Choice]) -> list[dict[str, Any]]:
    """``{ledger, target, sent, unknown, failed, calls}`` per target of each ledger."""
    rows = []
    for choice in choices:
        with opened(choice, change=False) as ledger:
            for target, counts in ledger.counts_by_target().items():
                rows.append(
                    {
                        "ledger": str(choice.path),
                        "target": target,
                        "sent": counts.get("sent", 0),
                        "unknown": counts.get("unknown", 0),
                        "failed": counts.get("failed", 0),
                        "calls": sum(counts.values()),
                    }
                )
    return rows


def list_entries(
    choice: Choice,
    *,
    statuses: Sequence[LedgerStatus] = (),
    keys: Sequence[str] = (),
    subscription: str | None = None,
) -> Iterator[LedgerEntry]:
    """The calls of a ledger, oldest first, filtered."""
    with opened(choice, change=False) as ledger:
        yield from ledger.entries(statuses=statuses, keys=keys, subscription=subscription)


def resolve(
    choice: Choice,
    keys: Sequence[str],
    resolution: Resolution,
    *,
    subscription: str | None = None,
) -> int:
    """Say what became of calls: ``delivered`` (sent: never resent) or ``not-delivered``
    (failed: the next replay sends them).  How many calls changed."""
    status: LedgerStatus = "sent" if resolution == "delivered" else "failed"
    with opened(choice, change=True) as ledger:
        return ledger.mark(
            keys, status, subscription=subscription, note=f"marked {resolution} by hand"
        )


def forget(choice: Choice, keys: Sequence[str], *, subscription: str | None = None) -> int:
    """Delete calls from the ledger: the next replay sends them as new.  How many."""
    if not keys and subscription is None:
        raise ConfigError("say which calls to forget: KEY... and/or --subscription NAME")
    with opened(choice, change=True) as ledger:
        if keys:
            return ledger.forget(keys, subscription=subscription)
        assert subscription is not None
        return ledger.forget_subscription(subscription)


def rename(choice: Choice, old: str, new: str) -> int:
    """Give the calls of subscription ``old`` the name ``new``.  How many."""
    with opened(choice, change=True) as ledger:
        return ledger.rename(old, new)


def merge(choice: Choice, other: Path) -> int:
    """Take in the calls of another ledger file (a call in both keeps the safer status)."""
    with contextlib.suppress(OSError):
        if other.samefile(choice.path):
            raise ConfigError("cannot merge a ledger into itself", where=str(other))
    if choice.target is None:
        raise ConfigError("say which target's ledger takes them: --target URL or --emulator")
    if not choice.path.exists():
        choice.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    check_ledger_path(choice.path)
    lock = LedgerLock(choice.path, command="fbcli ledger merge", wait_hint=WAIT_HINT)
    lock.acquire()
    try:
        with Ledger(choice.path, target=choice.target) as ledger:
            return ledger.merge_from(other, only_target=True)
    finally:
        lock.release()
