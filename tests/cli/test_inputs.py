"""The inputs users have: folders, globs, missing files, batches, arrays, failed files,
other compressions, date filters (``fbcli.inputs``, ``fbcli.events``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.support import REPO, RunCli

MAPPINGS = str(REPO / "mappings.yaml")

ORDER: dict[str, Any] = {
    "type": "track",
    "event": "Order Completed",
    "messageId": "m-1",
    "userId": "u1",
    "timestamp": "2026-01-15T10:00:00Z",
    "properties": {"order_id": "o1", "total": 10, "currency": "USD"},
}


def order(number: int, **extra: Any) -> dict[str, Any]:
    return {**ORDER, "messageId": f"m-{number}", **extra}


def jsonl(*events: Any) -> str:
    return "".join((e if isinstance(e, str) else json.dumps(e)) + "\n" for e in events)


def records(stdout: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stdout.splitlines()]


def dry_run(run_cli: RunCli, *args: str, exit_code: int = 0) -> list[dict[str, Any]]:
    result = run_cli("dry-run", *args, "-m", MAPPINGS, "-f", "json")
    assert result.exit_code == exit_code, result.stderr
    return records(result.stdout)


# -- missing inputs: the same usage error in every command ------------------------------

COMMANDS: list[list[str]] = [
    ["validate", "-m", MAPPINGS],
    ["dry-run", "-m", MAPPINGS],
    ["explain", "-m", MAPPINGS, "--line", "1"],
    ["diff", "-m", MAPPINGS, "-m", MAPPINGS],
    ["replay", "-m", MAPPINGS, "--emulator", "--ledger", "LEDGER"],
    ["eval", "--trigger", 'type = "track"'],
    ["init", "-o", "-"],
]


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: c[0])
def test_a_missing_input_is_a_usage_error_in_every_command(
    run_cli: RunCli, tmp_path: Path, command: list[str]
) -> None:
    missing = str(tmp_path / "nope.jsonl")
    args = [str(tmp_path / "l.sqlite") if a == "LEDGER" else a for a in command]
    result = run_cli(args[0], missing, *args[1:])
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [f"Error: no such file ({missing})"]


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: c[0])
def test_a_glob_matching_nothing_is_a_usage_error_in_every_command(
    run_cli: RunCli, tmp_path: Path, command: list[str]
) -> None:
    pattern = str(tmp_path / "exports" / "*.jsonl.gz")
    args = [str(tmp_path / "l.sqlite") if a == "LEDGER" else a for a in command]
    result = run_cli(args[0], pattern, *args[1:])
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [f"Error: no file matches this pattern ({pattern})"]


# -- folders and globs --------------------------------------------------------------------


def test_a_folder_is_read_recursively_in_sorted_order(run_cli: RunCli, tmp_path: Path) -> None:
    import gzip

    folder = tmp_path / "exports"
    (folder / "2026-02").mkdir(parents=True)
    (folder / ".hidden").mkdir()
    (folder / "b.jsonl").write_text(jsonl(order(2)))
    (folder / "a.ndjson").write_text(jsonl(order(1)))
    (folder / "2026-02" / "c.json.gz").write_bytes(gzip.compress(jsonl(order(3)).encode()))
    (folder / ".hidden" / "x.jsonl").write_text(jsonl(order(9)))
    (folder / ".seen.jsonl").write_text(jsonl(order(9)))
    (folder / "notes.txt").write_text("not events\n")
    (folder / "events.fbcli-ledger.sqlite").write_bytes(b"SQLite format 3\x00")
    (folder / "events.jsonl.lock").write_text("pid 1\n")
    out = dry_run(run_cli, str(folder))
    assert [(r["source"], r["messageId"]) for r in out] == [
        (str(folder / "2026-02" / "c.json.gz"), "m-3"),
        (str(folder / "a.ndjson"), "m-1"),
        (str(folder / "b.jsonl"), "m-2"),
    ]


def test_a_quoted_glob_is_expanded_and_messages_name_the_real_file(
    run_cli: RunCli, tmp_path: Path
) -> None:
    (tmp_path / "one.jsonl").write_text(jsonl(order(1)))
    (tmp_path / "two.jsonl").write_text(jsonl(order(2), "{broken"))
    result = run_cli("validate", str(tmp_path / "*.jsonl"), "-m", MAPPINGS, "-f", "json")
    assert result.exit_code == 1
    summary = json.loads(result.stdout)
    assert summary["events"] == 2
    problem = summary["problems"][0]
    assert (problem["source"], problem["line"]) == (str(tmp_path / "two.jsonl"), 2)


def test_explain_refuses_a_pattern_naming_several_files(run_cli: RunCli, tmp_path: Path) -> None:
    for name in ("a", "b"):
        (tmp_path / f"{name}.jsonl").write_text(jsonl(order(1)))
    pattern = str(tmp_path / "*.jsonl")
    result = run_cli("explain", pattern, "--line", "1", "-m", MAPPINGS)
    assert result.exit_code == 2
    assert result.stderr.splitlines()[0] == (
        f"Error: explain reads one file, and this names 2 ({pattern})"
    )
    one = run_cli("explain", str(tmp_path / "a.*"), "--line", "1", "-m", MAPPINGS)
    assert one.exit_code == 0, one.stderr
