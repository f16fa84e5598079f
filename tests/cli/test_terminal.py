"""The tables in a real terminal: tmux at 80 and 120 columns, compared with golden captures.

Regenerate the captures after an intended change with ``FBCLI_UPDATE_GOLDEN=1``.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import time

import pytest

from tests.support import REPO, TESTS

GOLDEN = TESTS / "golden"
SCREENS = [
    ("dry-run", ["dry-run", "sample_events/events.jsonl", "-m", "mappings.yaml"], 80),
    ("dry-run", ["dry-run", "sample_events/events.jsonl", "-m", "mappings.yaml"], 120),
    ("validate", ["validate", "sample_events/events.jsonl", "-m", "mappings.yaml"], 80),
    ("validate", ["validate", "sample_events/events.jsonl", "-m", "mappings.yaml"], 120),
    (
        "dry-run-direct",
        ["dry-run", "sample_events/events.jsonl", "-m", "sample_events/mappings.direct.yaml"],
        80,
    ),
]


def _tmux(socket: str, *args: str) -> str:
    result = subprocess.run(
        ["tmux", "-L", socket, *args], capture_output=True, text=True, check=True, timeout=20
    )
    return result.stdout


def capture(args: list[str], width: int) -> str:
    """Run fbcli in a tmux window of the given width; return the screen's text."""
    if shutil.which("tmux") is None:  # pragma: no cover - .ci/run installs tmux
        if os.environ.get("CI"):
            pytest.fail("tmux is missing: .ci/run installs it")
        pytest.skip("tmux is not installed")
    socket = f"fbcli-test-{os.getpid()}-{width}"
    done = "__fbcli_done__"
    command = " ".join(
        [
            "env -u COLUMNS -u LINES -u NO_COLOR TERM=xterm-256color",
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
def test_table_in_a_real_terminal(name: str, args: list[str], width: int) -> None:
    screen = capture(args, width)
    golden = GOLDEN / f"{name}-{width}.txt"
    if os.environ.get("FBCLI_UPDATE_GOLDEN"):
        golden.write_text(screen, encoding="utf-8")
    assert screen == golden.read_text(encoding="utf-8")
    assert max(len(line) for line in screen.splitlines()) <= width
    assert "✗" in screen or name == "dry-run-direct"
