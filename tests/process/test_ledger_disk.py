"""A ledger that cannot be used: read-only, a full disk, damage — found before sending.

Each case runs ``fbcli replay`` for real against the emulator and checks the exit
code (2, as for every unusable path), a one-line error naming the ledger with a
hint that fits, and that the emulator saw no request at all: the ledger is opened
(and checked) before authorization.

Read-only: a file or folder without write permission.  As root (CI is root),
permissions do not bind, so the replay process drops ``CAP_DAC_OVERRIDE``,
``CAP_DAC_READ_SEARCH`` and ``CAP_FOWNER`` from its bounding set before it
starts (``prctl(PR_CAPBSET_DROP)``): it is then root bound by file modes, like
any user.  A full disk: ``RLIMIT_FSIZE`` in the replay process (no root, no
tmpfs needed); a write past the limit fails with ``EFBIG`` (SIGXFSZ ignored, as
CPython does anyway), which SQLite reports as ``SQLITE_FULL`` or, when a write
fails as a whole, ``SQLITE_IOERR_WRITE`` ("disk I/O error").
"""

from __future__ import annotations

import ctypes
import os
import random
import re
import resource
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from fbcli.emulator import Emulator, EmulatorConfig, parse_faults
from fbcli.ledger import Ledger, ledger_target
from tests.support.chaos import (
    KEY,
    SECRET,
    Inputs,
    audit,
    child_env,
    read_ledger,
    replay_args,
    run_replay,
    write_inputs,
)

PR_CAPBSET_DROP = 24
DAC_CAPABILITIES = (1, 2, 3)  # CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, CAP_FOWNER
FAST = ("--rate", "500", "--burst", "4", "--concurrency", "4")


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    with Emulator(EmulatorConfig(key=KEY, secret=SECRET)) as running:
        yield running


@pytest.fixture
def inputs(tmp_path: Path) -> Inputs:
    return write_inputs(tmp_path / "in", 30, seed=5)


def spawn(args: list[str], *, cwd: Path, preexec: Callable[[], None]) -> tuple[int, str, str]:
    """Run ``python -m fbcli ARGS`` with ``preexec`` run in the child before it starts."""
    result = subprocess.run(
        [sys.executable, "-m", "fbcli", *args],
        cwd=cwd,
        env=child_env(),
        capture_output=True,
        text=True,
        preexec_fn=preexec,
        timeout=120,
        check=False,
    )
    return result.returncode, result.stdout, result.stderr


def bound_by_file_modes() -> None:
    """In the child: as root, give up the capabilities that override file modes."""
    if os.geteuid() != 0:
        return
    libc = ctypes.CDLL(None, use_errno=True)
    for capability in DAC_CAPABILITIES:
        if libc.prctl(PR_CAPBSET_DROP, capability, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP) failed")


def file_size_limit(limit: int) -> Callable[[], None]:
    """In the child: no file may grow past ``limit`` bytes (a disk that is full there)."""

    def preexec() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return preexec


def unprivileged(args: list[str], *, cwd: Path) -> tuple[int, str, str]:
    try:
        return spawn(args, cwd=cwd, preexec=bound_by_file_modes)
    except subprocess.SubprocessError as exc:  # no CAP_SETPCAP: cannot drop them
        pytest.skip(f"cannot run a process bound by file modes here: {exc}")


def assert_refused(
    code: int, stderr: str, ledger: Path, emulator: Emulator, *, error: str, hint: str
) -> None:
    """Exit 2, ``Error: <error> (<ledger>)`` and one hint line; nothing reached the emulator."""
    assert code == 2, stderr
    lines = stderr.splitlines()
    assert lines[0] == f"Error: {error} ({ledger})", stderr
    assert len(lines) == 2
    assert lines[1].startswith("Hint: ")
    assert hint in lines[1]
    assert "Traceback" not in stderr
    assert emulator.stats()["requests"] == 0
    assert emulator.calls() == []


def make_ledger(inputs: Inputs, emulator: Emulator, ledger: Path) -> None:
    """The ledger a finished replay of ``inputs`` to ``emulator`` would have left."""
    with Ledger(ledger, target=ledger_target(emulator.base_url)) as opened:
        for n, planned in enumerate(inputs.expected.values(), start=1):
            opened.record(
                key=planned.key,
                subscription=planned.subscription,
                action="trackPurchase",
                source=str(inputs.events),
                line=n,
                status="sent",
                http_status=201,
                attempts=1,
                event_id=f"e-{n}",
                message=None,
            )


# -- read-only ----------------------------------------------------------------------------


def test_a_read_only_ledger_file(tmp_path: Path, inputs: Inputs, emulator: Emulator) -> None:
    ledger = tmp_path / "ledger.sqlite"
    make_ledger(inputs, emulator, ledger)
    before = ledger.read_bytes()
    ledger.chmod(0o444)
    code, _, stderr = unprivileged(
        replay_args(inputs, emulator.base_url, ledger, FAST), cwd=tmp_path
    )
    assert_refused(
        code,
        stderr,
        ledger,
        emulator,
        error="cannot use the ledger: attempt to write a readonly database",
        hint="make the ledger file and its folder writable",
    )
    assert ledger.read_bytes() == before


def test_a_ledger_in_a_read_only_folder(tmp_path: Path, inputs: Inputs, emulator: Emulator) -> None:
    folder = tmp_path / "locked"
    folder.mkdir()
    ledger = folder / "ledger.sqlite"
    make_ledger(inputs, emulator, ledger)
    folder.chmod(0o555)
    try:
        # SQLite cannot create the ledger's -wal and -shm files next to it.
        code, _, stderr = unprivileged(
            replay_args(inputs, emulator.base_url, ledger, FAST), cwd=tmp_path
        )
        assert_refused(
            code,
            stderr,
            ledger,
            emulator,
            error="cannot use the ledger: attempt to write a readonly database",
            hint="writable",
        )
        new = folder / "new.sqlite"
        code, _, stderr = unprivileged(
            replay_args(inputs, emulator.base_url, new, FAST), cwd=tmp_path
        )
        assert code == 2
        assert stderr.startswith(f"Error: cannot create the ledger: Permission denied ({new})")
        assert emulator.stats()["requests"] == 0
    finally:
        folder.chmod(0o755)


# -- a full disk ----------------------------------------------------------------------------


@pytest.mark.parametrize("limit", [0, 4096, 20_000])
def test_a_full_disk_at_the_start(
    tmp_path: Path, inputs: Inputs, emulator: Emulator, limit: int
) -> None:
    ledger = tmp_path / "ledger.sqlite"
    code, _, stderr = spawn(
        replay_args(inputs, emulator.base_url, ledger, FAST),
        cwd=tmp_path,
        preexec=file_size_limit(limit),
    )
    assert_refused(
        code,
        stderr,
        ledger,
        emulator,
        error="cannot use the ledger: disk I/O error (is the disk full?)",
        hint="free some disk space and rerun",
    )


def test_a_disk_that_fills_mid_run_stops_cleanly_and_loses_no_record(tmp_path: Path) -> None:
    """The WAL grows with each commit until the disk is "full": sending stops at once,
    what was committed stays, and a rerun sends each call at most once more."""
    inputs = write_inputs(tmp_path / "in", 200, seed=8)
    ledger = tmp_path / "ledger.sqlite"
    config = EmulatorConfig(key=KEY, secret=SECRET, seed=8, faults=parse_faults("5xx=0.1"))
    with Emulator(config) as emulator:
        args = replay_args(inputs, emulator.base_url, ledger, FAST)
        code, stdout, stderr = spawn(args, cwd=tmp_path, preexec=file_size_limit(200_000))
        assert code == 2, stderr
        lines = stderr.splitlines()
        assert lines[0] == (
            f"Error: cannot write the ledger: disk I/O error (is the disk full?) ({ledger})"
        ), stderr
        assert len(lines) == 2
        match = re.search(r"sending stopped: (\d+|every) call", lines[1])
        assert match is not None, lines[1]
        assert stdout == ""
        assert emulator.wait_idle()
        rows = read_ledger(ledger, emulator.base_url)  # opens, and is whole
        books = audit(
            rows, emulator.calls(), inputs.expected, lost=frozenset(), crashed=True, finished=False
        )
        assert books.violations == []
        assert 0 < len(rows) < 200
        unrecorded = 0 if match.group(1) == "every" else int(match.group(1))
        assert books.arrived_unledgered == unrecorded <= 4
        # A disk with room again: the rerun sends the rest, and only the unrecorded
        # calls a second time.
        rerun = run_replay(args, cwd=tmp_path)
        assert rerun.exit_code == 0, rerun.stderr
        assert emulator.wait_idle()
        done = audit(
            read_ledger(ledger, emulator.base_url),
            emulator.calls(),
            inputs.expected,
            lost=frozenset(),
            crashed=True,
        )
        assert done.violations == []
        assert done.ledger["sent"] == 200
        assert done.duplicates == unrecorded


# -- damage ---------------------------------------------------------------------------------


def _truncate_half(data: bytearray) -> bytearray:
    return data[: len(data) // 2]


def _truncate_to_a_page(data: bytearray) -> bytearray:
    return data[:4096]


def _garble_the_pages(data: bytearray) -> bytearray:
    """Noise over the first bytes of every page after the first (their b-tree headers)."""
    noise = random.Random(4)
    for page in range(4096, len(data), 4096):
        data[page : page + 12] = bytes(noise.randrange(256) for _ in range(12))
    return data


def _zero_the_last_page(data: bytearray) -> bytearray:
    data[-4096:] = bytes(4096)
    return data


def _garble_the_header(data: bytearray) -> bytearray:
    data[:16] = b"not an sqlite db"
    return data


MALFORMED = "cannot use the ledger: database disk image is malformed"


@pytest.mark.parametrize(
    ("damage", "error"),
    [
        (_truncate_half, MALFORMED),
        (_truncate_to_a_page, MALFORMED),
        (_garble_the_pages, MALFORMED),
        (_zero_the_last_page, MALFORMED),
        (_garble_the_header, "cannot use the ledger: file is not a database"),
    ],
)
def test_a_damaged_ledger_is_refused_before_anything_is_sent(
    tmp_path: Path,
    inputs: Inputs,
    emulator: Emulator,
    damage: Callable[[bytearray], bytearray],
    error: str,
) -> None:
    ledger = tmp_path / "ledger.sqlite"
    make_ledger(inputs, emulator, ledger)
    damaged = bytes(damage(bytearray(ledger.read_bytes())))
    ledger.write_bytes(damaged)
    code, _, stderr = spawn(
        replay_args(inputs, emulator.base_url, ledger, FAST), cwd=tmp_path, preexec=lambda: None
    )
    assert code == 2, stderr
    first, hint = stderr.splitlines()
    assert first == f"Error: {error} ({ledger})"
    assert "from a copy" in hint
    assert emulator.stats()["requests"] == 0
    assert ledger.read_bytes() == damaged  # left as it was found
