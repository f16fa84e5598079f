"""The ledger's lock, and the stop switch: real locks between real processes, real signals."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

from fbcli.errors import ConfigError
from fbcli.lock import Holder, LedgerLock
from fbcli.signals import Interrupted, StopSwitch

HOLD = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from fbcli.lock import LedgerLock
    lock = LedgerLock(Path(sys.argv[1]), command="holder")
    lock.acquire()
    print("held", flush=True)
    sys.stdin.readline()
    """
)


def hold(ledger: Path) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(ledger)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    assert proc.stdout.readline() == "held\n"
    return proc


def test_a_held_lock_is_refused_naming_its_holder(tmp_path: Path) -> None:
    ledger = tmp_path / "l.sqlite"
    holder = hold(ledger)
    try:
        with pytest.raises(ConfigError) as caught:
            LedgerLock(ledger).acquire()
        message = str(caught.value)
        assert message.startswith(f"the ledger is in use by another fbcli: pid {holder.pid} on ")
        assert ", since 20" in message
        assert message.endswith(f" UTC (holder) ({ledger})")
        assert caught.value.hint == "wait for it to finish, or add --wait to start when it has"
    finally:
        holder.communicate("\n", timeout=10)
    assert ledger.stat().st_mode & 0o777 == 0o600  # the lock made the (empty) ledger file
    with LedgerLock(ledger) as lock:  # released when its process ended
        assert lock.held
        assert f'"pid": {os.getpid()}'.encode() in lock.note_path.read_bytes()
        assert lock.note_path.stat().st_mode & 0o777 == 0o600
    assert not lock.note_path.exists()  # the note goes before the lock


def test_every_name_of_the_ledger_is_one_lock(tmp_path: Path) -> None:
    """A symbolic link, a hard link or another spelling of the ledger: the same lock."""
    ledger = tmp_path / "a" / "l.sqlite"
    ledger.parent.mkdir()
    ledger.touch(mode=0o600)
    (tmp_path / "b").mkdir()
    symlink = tmp_path / "b" / "alias.sqlite"
    symlink.symlink_to(ledger)
    hardlink = tmp_path / "b" / "hard.sqlite"
    os.link(ledger, hardlink)
    holder = hold(ledger)
    try:
        for name in (symlink, hardlink, tmp_path / "b" / ".." / "a" / "l.sqlite"):
            with pytest.raises(ConfigError, match="in use by another fbcli"):
                LedgerLock(name).acquire()
        with pytest.raises(ConfigError, match=f"pid {holder.pid} on "):
            LedgerLock(symlink).acquire()  # the note is found through the link too
    finally:
        holder.communicate("\n", timeout=10)


def test_a_killed_holder_leaves_no_stale_lock(tmp_path: Path) -> None:
    ledger = tmp_path / "l.sqlite"
    holder = hold(ledger)
    holder.kill()
    holder.communicate(timeout=10)
    assert b"holder" in (tmp_path / "l.sqlite.lock").read_bytes()  # its note is left behind
    with LedgerLock(ledger):
        pass


def test_wait_tries_again_until_the_holder_is_gone(tmp_path: Path) -> None:
    ledger = tmp_path / "l.sqlite"
    holder = hold(ledger)
    seen: list[Holder] = []
    naps: list[float] = []

    def nap(seconds: float) -> None:
        naps.append(seconds)
        if len(naps) == 3:
            holder.communicate("\n", timeout=10)

    lock = LedgerLock(ledger, sleep=nap)
    lock.acquire(wait=True, on_wait=seen.append)
    lock.release()
    assert [h.pid for h in seen] == [holder.pid]  # told once
    assert len(naps) >= 3


def test_the_note_is_only_a_courtesy(tmp_path: Path) -> None:
    """A note that cannot be written safely (a link, a folder, a pipe) is not written,
    and not followed; the lock holds all the same."""
    target = tmp_path / "elsewhere"
    target.write_text("keep", encoding="utf-8")
    (tmp_path / "a.sqlite.lock").symlink_to(target)
    (tmp_path / "b.sqlite.lock").mkdir()
    os.mkfifo(tmp_path / "c.sqlite.lock")
    for name in ("a", "b", "c"):
        with LedgerLock(tmp_path / f"{name}.sqlite") as lock:
            assert lock.held
    assert target.read_text(encoding="utf-8") == "keep"


def test_a_ledger_that_is_not_a_regular_file_or_not_private_is_refused(tmp_path: Path) -> None:
    (tmp_path / "folder.sqlite").mkdir()
    with pytest.raises(ConfigError, match="the ledger is not a regular file"):
        LedgerLock(tmp_path / "folder.sqlite").acquire()
    open_ledger = tmp_path / "open.sqlite"
    open_ledger.touch()
    open_ledger.chmod(0o666)
    with pytest.raises(ConfigError, match=r"the ledger can be written by other users"):
        LedgerLock(open_ledger).acquire()
    with pytest.raises(ConfigError, match="cannot create the ledger: No such file"):
        LedgerLock(tmp_path / "missing" / "l.sqlite").acquire()


@pytest.mark.parametrize(
    ("holder", "text"),
    [
        (Holder(12, "h", "2030-01-01T12:00:00+00:00", "fbcli replay"),
         "pid 12 on h, since 2030-01-01 12:00:00 UTC (fbcli replay)"),
        (Holder(None, None, None, None), "a process that did not say who it is"),
        (Holder(3, None, "yesterday", None), "pid 3, since yesterday"),
    ],
)  # fmt: skip
def test_holder_description(holder: Holder, text: str) -> None:
    assert holder.describe() == text


# -- the stop switch ------------------------------------------------------------------------


def test_outside_sending_a_signal_raises_interrupted_with_its_exit_code() -> None:
    switch = StopSwitch()
    with switch.installed(), pytest.raises(Interrupted) as caught:
        signal.raise_signal(signal.SIGTERM)
    assert caught.value.exit_code == 143
    assert switch.stop.is_set()
    assert switch.exit_code == 143
    assert signal.getsignal(signal.SIGTERM) == signal.SIG_DFL


def test_while_sending_the_first_signal_stops_and_the_second_abandons() -> None:
    switch = StopSwitch()
    with switch.installed(), switch.sending():
        signal.raise_signal(signal.SIGHUP)
        assert switch.stop.is_set()
        assert not switch.abandon.is_set()
        signal.raise_signal(signal.SIGINT)
        assert switch.abandon.is_set()
    assert switch.signum == signal.SIGHUP
    assert switch.exit_code == 129


def test_an_ignored_signal_stays_ignored() -> None:
    previous = signal.signal(signal.SIGHUP, signal.SIG_IGN)
    try:
        switch = StopSwitch()
        with switch.installed():
            assert signal.getsignal(signal.SIGHUP) == signal.SIG_IGN
            signal.raise_signal(signal.SIGHUP)
        assert not switch.stop.is_set()
    finally:
        signal.signal(signal.SIGHUP, previous)


def test_outside_the_main_thread_nothing_is_installed() -> None:
    seen: list[object] = []

    def run() -> None:
        with StopSwitch().installed():
            seen.append(signal.getsignal(signal.SIGTERM))

    worker = threading.Thread(target=run)
    worker.start()
    worker.join()
    assert seen == [signal.SIG_DFL]
