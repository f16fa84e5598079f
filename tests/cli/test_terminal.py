"""The tables in a real terminal: tmux at 60, 80 and 120 columns, compared with golden captures.

Below 80 columns validate and dry-run draw each record as a block of labelled lines.
The replay captures (against the built-in emulator, one call at a time) have the
emulator's port, the state folder and the timings replaced by placeholders.

Regenerate the captures after an intended change with ``FBCLI_UPDATE_GOLDEN=1``.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.support import REPO, TESTS

GOLDEN = TESTS / "golden"
UPDATE = bool(os.environ.get("FBCLI_UPDATE_GOLDEN"))
"""Read when the module is imported: the tests' own environment has no FBCLI_ variable."""
DRY_RUN = ["dry-run", "sample_events/events.jsonl", "-m", "mappings.yaml"]
VALIDATE = ["validate", "sample_events/events.jsonl", "-m", "mappings.yaml"]
REPLAY = [
    "replay",
    "sample_events/events.jsonl",
    "-m",
    "mappings.yaml",
    "--emulator",
    "--skip-invalid",
    "--rate",
    "1000",
    "--burst",
    "10",
    "-c",
    "1",
]
SCREENS = [
    *(("dry-run", DRY_RUN, width) for width in (60, 80, 120)),
    *(("validate", VALIDATE, width) for width in (60, 80, 120)),
    *(("replay", REPLAY, width) for width in (60, 80, 120)),
    (
        "dry-run-direct",
        ["dry-run", "sample_events/events.jsonl", "-m", "sample_events/mappings.direct.yaml"],
        80,
    ),
]
_VARYING = [
    (re.compile(r"127\.0\.0\.1:\d+"), "127.0.0.1:PORT"),
    (re.compile(r"ledger \S+"), "ledger STATE/ledger.sqlite"),
    (re.compile(r"in \d+\.\d s \(\d+\.\d calls/s\)"), "in T s (R calls/s)"),
]


def _tmux(socket: str, *args: str) -> str:
    result = subprocess.run(
        ["tmux", "-L", socket, *args], capture_output=True, text=True, check=True, timeout=20
    )
    return result.stdout


def capture(args: list[str], width: int, *, state: Path | None = None) -> str:
    """Run fbcli in a tmux window of the given width; return the screen's text
    (``state``: the state folder, ``FBCLI_STATE_DIR``)."""
    if shutil.which("tmux") is None:  # pragma: no cover - .ci/run installs tmux
        if os.environ.get("CI"):
            pytest.fail("tmux is missing: .ci/run installs it")
        pytest.skip("tmux is not installed")
    socket = f"fbcli-test-{os.getpid()}-{width}"
    done = "__fbcli_done__"
    command = " ".join(
        [
            "env -u COLUMNS -u LINES -u NO_COLOR TERM=xterm-256color",
            f"FBCLI_STATE_DIR={shlex.quote(str(state))}" if state else "",
            shlex.quote(sys.executable),
            "-m fbcli",
            *map(shlex.quote, args),
            f"; echo {done}; sleep 30",
        ]
    )
    try:
        _tmux(socket, "new-session", "-d", "-s", "t", "-x", str(width), "-y", "50", "-c", str(REPO))
        _tmux(socket, "set-option", "-g", "history-limit", "5000")
        _tmux(socket, "respawn-pane", "-k", "-t", "t", command)
        deadline = time.monotonic() + 20
        while True:
            screen = _tmux(socket, "capture-pane", "-p", "-J", "-S", "-", "-E", "-", "-t", "t")
            if done in screen:
                break
            assert time.monotonic() < deadline, screen
            time.sleep(0.1)
    finally:
        subprocess.run(["tmux", "-L", socket, "kill-server"], capture_output=True, check=False)
    lines = [line.rstrip() for line in screen.split(done)[0].splitlines()]
    while lines and not lines[-1]:
        lines.pop()
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize(
    ("name", "args", "width"), SCREENS, ids=[f"{n}-{w}" for n, _, w in SCREENS]
)
def test_table_in_a_real_terminal(name: str, args: list[str], width: int, tmp_path: Path) -> None:
    screen = capture(args, width, state=tmp_path)
    for pattern, placeholder in _VARYING:
        screen = pattern.sub(placeholder, screen)
    golden = GOLDEN / f"{name}-{width}.txt"
    if UPDATE:
        golden.write_text(screen, encoding="utf-8")
    assert screen == golden.read_text(encoding="utf-8")
    if name != "replay":  # its URL and ledger path are on lines of their own, never wrapped
        assert max(len(line) for line in screen.splitlines()) <= width
    assert "✗" in screen or name in ("dry-run-direct", "replay")
    if width < 80 and name in ("dry-run", "validate"):
        assert "line 5" in screen  # the stacked layout: a block per record
