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


# -- batch envelopes, JSON arrays, compressions ---------------------------------------------


def test_a_batch_envelope_is_planned_event_by_event(run_cli: RunCli, tmp_path: Path) -> None:
    envelope = {"batch": [order(1), order(2), "oops"], "context": {"ip": "1.2.3.4"}}
    path = tmp_path / "batch.jsonl"
    path.write_text(jsonl(order(0), envelope))
    out = dry_run(run_cli, str(path), exit_code=1)
    assert [(r["line"], r.get("index"), r["status"]) for r in out] == [
        (1, None, "planned"),
        (2, 0, "planned"),
        (2, 1, "planned"),
        (2, None, "malformed"),
    ]
    assert out[3]["errors"] == [{"message": "batch[2]: expected a JSON object, got a string"}]
    table = run_cli("dry-run", str(path), "-m", MAPPINGS)
    assert table.exit_code == 1
    assert "   2[1]   track Order" in table.stdout
    explained = run_cli("explain", str(path), "--line", "2[1]", "-m", MAPPINGS, "-f", "json")
    assert explained.exit_code == 0
    assert (json.loads(explained.stdout)["index"], json.loads(explained.stdout)["messageId"]) == (
        1,
        "m-2",
    )
    several = run_cli("explain", str(path), "--line", "2", "-m", MAPPINGS)
    assert several.exit_code == 2
    assert several.stderr.splitlines() == [
        f"Error: line 2 holds a batch of 3 events: give --line 2[0] to 2[2] ({path})"
    ]
    bad = run_cli("explain", str(path), "--line", "2x", "-m", MAPPINGS)
    assert bad.exit_code == 2
    assert "--line must be a line number (12)" in bad.stderr


def test_a_pretty_printed_json_array_is_read_as_events(run_cli: RunCli, tmp_path: Path) -> None:
    path = tmp_path / "export.json"
    path.write_text(json.dumps([order(1), order(2)], indent=2))
    out = dry_run(run_cli, str(path))
    assert [(r["line"], r["index"], r["messageId"]) for r in out] == [(2, 0, "m-1"), (14, 1, "m-2")]
    result = run_cli("validate", str(path), "-m", MAPPINGS)
    assert result.exit_code == 0
    assert "2 events: 2 calls planned" in result.stdout


@pytest.mark.parametrize("suffix", ["bz2", "zst"])
def test_bzip2_and_zstd_inputs(run_cli: RunCli, tmp_path: Path, suffix: str) -> None:
    data = jsonl(order(1), order(2)).encode()
    if suffix == "bz2":
        import bz2

        packed = bz2.compress(data)
    else:
        zstandard = pytest.importorskip("zstandard")
        packed = zstandard.ZstdCompressor().compress(data)
    path = tmp_path / f"events.jsonl.{suffix}"
    path.write_bytes(packed)
    assert [r["messageId"] for r in dry_run(run_cli, str(path))] == ["m-1", "m-2"]
    piped = run_cli("dry-run", "-", "-m", MAPPINGS, "-f", "json", stdin=packed)
    assert [r["messageId"] for r in records(piped.stdout)] == ["m-1", "m-2"]


# -- the failed file of a replay, as input to every command ---------------------------------


def failed_file(tmp_path: Path, *events: dict[str, Any]) -> Path:
    """A failed file as ``replay --failed`` writes it, one line per planned call."""
    from fbcli.inputs import read_inputs
    from fbcli.mappings import load_mapping_file
    from fbcli.plan import PlannedCall, plan_records
    from fbcli.replay import CallOutcome, failed_record

    source = tmp_path / "events.jsonl"
    source.write_text(jsonl(*events))
    config = load_mapping_file(Path(MAPPINGS))
    lines = [
        failed_record(
            CallOutcome(record, f"key-{record.event.line}", "failed", 500, 1, 0, 0), target="t"
        )
        for record in plan_records(read_inputs([str(source)]), config)
        if isinstance(record, PlannedCall)
    ]
    path = tmp_path / "failed.jsonl"
    path.write_text(jsonl(*lines))
    return path


def test_a_failed_file_is_read_as_its_calls_by_every_command(
    run_cli: RunCli, tmp_path: Path
) -> None:
    identify = {
        "type": "identify",
        "userId": "u9",
        "messageId": "m-9",
        "traits": {"email": "a@b.co"},
    }
    path = str(failed_file(tmp_path, order(1), identify))
    out = dry_run(run_cli, path)
    assert [(r["source"], r["line"], r["status"], r["action"]) for r in out] == [
        (path, 1, "planned", "trackPurchase"),
        (path, 2, "planned", "trackCustomer"),
    ]
    validate = run_cli("validate", path, "-m", MAPPINGS)
    assert validate.exit_code == 0
    assert "2 events: 2 calls planned" in validate.stdout
    explain = run_cli("explain", path, "--line", "2", "-m", MAPPINGS, "-f", "json")
    assert explain.exit_code == 0
    assert json.loads(explain.stdout)["messageId"] == "m-9"
    diff = run_cli("diff", path, "-m", MAPPINGS, "-m", MAPPINGS)
    assert diff.exit_code == 0
    assert "2 events give the same 2 calls" in diff.stdout
    evaluated = run_cli("eval", path, "--trigger", 'type = "identify"')
    assert evaluated.exit_code == 0
    assert records(evaluated.stdout) == [{"line": 1, "match": False}, {"line": 2, "match": True}]


# -- dates: --since, --until and orderings in --where ----------------------------------------


def test_since_and_until_select_by_time_and_count_events_without_one(
    run_cli: RunCli, tmp_path: Path
) -> None:
    path = tmp_path / "events.jsonl"
    path.write_text(
        jsonl(
            order(1, timestamp="2026-01-30T23:00:00Z"),
            order(2, timestamp="2026-01-31T23:59:00Z"),
            order(3, timestamp=None, originalTimestamp="2026-01-31T08:00:00+02:00"),
            order(4, timestamp="2026-02-01T00:00:00Z"),
            order(5, timestamp="someday"),
        )
    )
    result = run_cli(
        "dry-run",
        str(path),
        "-m",
        MAPPINGS,
        "-f",
        "json",
        "--since",
        "2026-01-31",
        "--until",
        "2026-01-31",
    )
    assert result.exit_code == 0
    assert [r["messageId"] for r in records(result.stdout)] == ["m-2", "m-3"]
    assert result.stderr == (
        "Warning: 1 event without a time (timestamp, originalTimestamp, receivedAt, sentAt: "
        "the first present, as an ISO-8601 date and time) left out by --since/--until\n"
    )
    validate = run_cli("validate", str(path), "-m", MAPPINGS, "--since", "2026-02-01")
    assert validate.exit_code == 0
    assert "1 event: 1 call planned" in validate.stdout
    bad = run_cli("validate", str(path), "-m", MAPPINGS, "--until", "31/01/2026")
    assert bad.exit_code == 2
    assert "Error: --until must be an ISO-8601 date or date and time, not '31/01/2026'" in (
        bad.stderr
    )


def test_replay_where_orders_timestamps(run_cli: RunCli, tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    path.write_text(
        jsonl(order(1, timestamp="2025-12-31T10:00:00Z"), order(2), order(3, timestamp="x"))
    )
    ledger = str(tmp_path / "ledger.sqlite")
    args = ["replay", str(path), "-m", MAPPINGS, "--emulator", "--ledger", ledger, "-f", "json"]
    result = run_cli(*args, "--where", 'timestamp >= "2026-01-01"')
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout.splitlines()[-1])["sent"] == 1
    refused = run_cli(*args, "--where", 'userId >= "u"')
    assert refused.exit_code == 2
    assert "orders text, which only works for ISO-8601 dates and times" in refused.stderr
    dated = run_cli(*args, "--since", "2025-01-01", "--force")
    assert dated.exit_code == 0, dated.stderr
    assert json.loads(dated.stdout.splitlines()[-1])["sent"] == 2
    assert "1 event without a time" in dated.stderr
