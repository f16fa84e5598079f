"""``--report`` against a path that changes while a replay runs (real processes).

The path is checked when the replay starts; a replay can last hours, and a
symbolic link made at that path meanwhile must not aim the report's write at
the ledger (which would lose the record of what was sent, and a rerun with a
new ledger would send every purchase again).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

from tests.support import REPO

MAPPINGS = str(REPO / "mappings.yaml")


def purchases(path: Path, count: int) -> Path:
    lines = [
        {
            "type": "track",
            "event": "Order Completed",
            "messageId": f"m{n}",
            "userId": "u1",
            "properties": {"order_id": f"o{n}", "total": 10, "currency": "USD"},
        }
        for n in range(count)
    ]
    path.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    return path


def replay(tmp_path: Path, *more: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "fbcli",
        "replay",
        "events.jsonl",
        "-m",
        MAPPINGS,
        "--emulator",
        "--ledger",
        "l.sqlite",
        *more,
    ]


def link_the_report_to_the_ledger_mid_replay(tmp_path: Path, *more: str) -> tuple[int, str, str]:
    """A replay with ``--report r.html`` at 6 calls a second, and, once it is sending (its
    path checked), ``r.html`` made a symbolic link to its ledger: exit code, out, err."""
    args = replay(tmp_path, "--rate", "6", "--burst", "1", *more, "--report", "r.html")
    proc = subprocess.Popen(
        args, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    deadline = time.monotonic() + 30
    while not (tmp_path / "l.sqlite").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)  # the path has been checked: the replay is sending
    (tmp_path / "r.html").symlink_to("l.sqlite")
    out, err = proc.communicate(timeout=60)
    return proc.returncode, out, err


def test_a_link_made_at_the_report_path_mid_replay_never_overwrites_the_ledger(
    tmp_path: Path,
) -> None:
    purchases(tmp_path / "events.jsonl", 12)
    code, out, err = link_the_report_to_the_ledger_mid_replay(tmp_path)
    assert code == 2, err
    assert "--report must not be the ledger" in err
    assert (tmp_path / "r.html").is_symlink()
    rerun = subprocess.run(
        [*replay(tmp_path), "-f", "json"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert rerun.returncode == 0, rerun.stderr
    summary = json.loads(rerun.stdout)
    assert (summary["sent"], summary["skipped_already_sent"]) == (0, 12)  # the ledger is intact
    assert "sent         12" in out


def test_write_file_can_replace_a_link_rather_than_follow_it(tmp_path: Path) -> None:
    """``write_file(follow=False)`` replaces a link at the path, never the file it points to."""
    from fbcli.inputs import write_file

    victim = tmp_path / "victim"
    victim.write_text("keep", encoding="utf-8")
    link = tmp_path / "r.html"
    link.symlink_to(victim)
    write_file(link, b"page", private=True, follow=False)
    assert victim.read_text(encoding="utf-8") == "keep"
    assert not link.is_symlink()
    assert link.read_bytes() == b"page"
    assert link.stat().st_mode & 0o777 == 0o600


def test_a_report_that_cannot_be_written_never_hides_the_replays_own_exit_code(
    tmp_path: Path,
) -> None:
    """Exit 4 (every valid call delivered, an invalid event left out) stays 4 when the
    report cannot be written at the end; the error is still said."""
    events = purchases(tmp_path / "events.jsonl", 12)
    with events.open("a", encoding="utf-8") as out:
        out.write('{"type": "track", "event": "Order Completed", "properties": {}}\n')
    code, _, err = link_the_report_to_the_ledger_mid_replay(tmp_path, "--skip-invalid")
    assert code == 4, err
    assert "--report must not be the ledger" in err
