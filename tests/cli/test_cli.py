"""The command line: validate, dry-run and eval, their output contracts and exit codes."""

from __future__ import annotations

import gzip
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from fbcli.cli import app
from tests.support import REPO, SAMPLES, RunCli

GOOD: dict[str, Any] = {
    "type": "track",
    "event": "Order Completed",
    "messageId": "m-1",
    "userId": "u1",
    "properties": {"order_id": "o1", "total": 10, "currency": "USD"},
}


def jsonl(*events: Any) -> str:
    return "".join((e if isinstance(e, str) else json.dumps(e)) + "\n" for e in events)


def write(path: Path, text: str | bytes) -> str:
    if isinstance(text, str):
        path.write_text(text, encoding="utf-8")
    else:
        path.write_bytes(text)
    return str(path)


def records(stdout: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stdout.splitlines()]


# -- the dry-run JSON Lines contract ----------------------------------------------------


def test_dry_run_json_lines_contract(run_cli: RunCli, tmp_path: Path) -> None:
    missing_currency = {**GOOD, "messageId": "m-4", "properties": {"order_id": "o2", "total": 5}}
    unmatched = {"type": "track", "event": "Order Placed", "messageId": "m-5"}
    path = write(
        tmp_path / "events.jsonl",
        jsonl(
            {"type": "identify", "userId": "u0"}, "", GOOD, missing_currency, unmatched, '{"a": 1,'
        ),
    )
    result = run_cli("dry-run", path, "--format", "json")
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert lines[1] == (
        f'{{"source":"{path}","line":3,"messageId":"m-1","subscription":"Track Purchase",'
        '"action":"trackPurchase","status":"planned","request":{"method":"POST",'
        '"url":"https://mapi.fbot.me/v1/event/purchase","body":{"orderId":"o1","amount":10,'
        '"currency":"USD","customerId":"u1"}}}'
    )
    out = records(result.stdout)
    assert [(r["line"], r["status"]) for r in out] == [
        (1, "invalid"),
        (3, "planned"),
        (4, "invalid"),
        (5, "unmatched"),
        (6, "malformed"),
    ]
    assert list(out[0]) == ["source", "line", "subscription", "action", "status", "errors"]
    assert out[2]["errors"] == [
        {
            "field": "currency",
            "source": "$.properties.currency",
            "message": "required field 'currency' is missing",
        }
    ]
    assert out[3] == {"source": path, "line": 5, "messageId": "m-5", "status": "unmatched"}
    assert out[4]["errors"][0]["message"].startswith("invalid JSON at column 9")
    assert list(out[4]) == ["source", "line", "status", "errors"]


def test_dry_run_event_matching_two_subscriptions_gives_two_calls(
    run_cli: RunCli, tmp_path: Path
) -> None:
    mappings = write(
        tmp_path / "m.yaml",
        """
subscriptions:
  - {name: A, action: trackPurchase, trigger: 'event = "Order Completed"'}
  - {name: B, action: trackCustomEvent, trigger: 'type = "track"', mapping: {email: x@example.com}}
""",
    )
    path = write(tmp_path / "e.jsonl", jsonl(GOOD))
    result = run_cli("dry-run", path, "-m", mappings, "-f", "json")
    assert result.exit_code == 0
    assert [(r["subscription"], r["action"]) for r in records(result.stdout)] == [
        ("A", "trackPurchase"),
        ("B", "trackCustomEvent"),
    ]


def test_dry_run_direct_mode_push_records(run_cli: RunCli) -> None:
    result = run_cli(
        "dry-run",
        str(SAMPLES / "events.jsonl"),
        "-m",
        str(SAMPLES / "mappings.direct.yaml"),
        "--format",
        "json",
        "--lines",
        "12",
    )
    assert result.exit_code == 0
    (record,) = records(result.stdout)
    assert record["push"] == [
        "track",
        "page",
        {"name": "Pricing", "category": "Marketing", "title": "Pricing — Example Shop"},
        True,
    ]
    assert "request" not in record


def test_dry_run_table_shows_setup_push_in_direct_mode(run_cli: RunCli) -> None:
    result = run_cli(
        "dry-run", str(SAMPLES / "events.jsonl"), "-m", str(SAMPLES / "mappings.direct.yaml")
    )
    assert 'setup: friendbuyAPI.push(["merchant", "1993d0f1-8206-4336-8c88-64e170f2419e"])' in (
        result.stdout
    )
    assert "push page" in result.stdout


def test_base_url_is_shown_in_urls(run_cli: RunCli, tmp_path: Path) -> None:
    path = write(tmp_path / "e.jsonl", jsonl(GOOD))
    result = run_cli("dry-run", path, "-f", "json", "--base-url", "http://127.0.0.1:8080/")
    assert records(result.stdout)[0]["request"]["url"] == "http://127.0.0.1:8080/v1/event/purchase"
    bad = run_cli("dry-run", path, "--base-url", "ftp://x")
    assert bad.exit_code == 2
    assert bad.stderr == "Error: the base URL must be an http(s) URL, not 'ftp://x'\n"
    secret = run_cli("dry-run", path, "--base-url", "https://user:pw123@example.com")
    assert secret.exit_code == 2
    assert "pw123" not in secret.stdout + secret.stderr
    plain = run_cli("dry-run", path, "--base-url", "http://example.com")
    assert plain.exit_code == 2
    assert "plain http is only allowed to this machine" in plain.stderr


# -- the table --------------------------------------------------------------------------


def test_dry_run_table_on_samples(run_cli: RunCli) -> None:
    result = run_cli("dry-run", str(SAMPLES / "events.jsonl"), "-m", str(REPO / "mappings.yaml"))
    assert result.exit_code == 1
    out = result.stdout
    assert max(len(line) for line in out.splitlines()) <= 100
    assert "POST /v1/event/purchase" in out
    assert "✗ required field 'currency'" in out
    assert "$.properties.currency" in out
    assert re.search(
        r"14 events: 7 calls planned, 5 invalid · 2 events unmatched · 2 lines malformed · "
        r"trackCustomer 2\s+planned,\s+1 invalid",
        out,
    )


def test_table_shows_terminal_escapes_and_markup_literally(run_cli: RunCli, tmp_path: Path) -> None:
    event = {**GOOD, "properties": {**GOOD["properties"], "order_id": "\x1b[31mred[/] [bold]x"}}
    path = write(tmp_path / "e.jsonl", jsonl(event))
    result = run_cli("dry-run", path)
    assert "\x1b" not in result.stdout
    assert "\\x1b[31mred[/] [bold]x" in result.stdout


def test_no_color_and_plain_output_when_piped(run_cli: RunCli, tmp_path: Path) -> None:
    path = write(tmp_path / "e.jsonl", jsonl(GOOD))
    result = run_cli("--no-color", "dry-run", path)
    assert "\x1b[" not in result.stdout


# -- validate ---------------------------------------------------------------------------


def test_validate_json_summary(run_cli: RunCli) -> None:
    result = run_cli(
        "validate", str(SAMPLES / "events.jsonl"), "-m", str(REPO / "mappings.yaml"), "-f", "json"
    )
    assert result.exit_code == 1
    summary = json.loads(result.stdout)
    assert {k: summary[k] for k in ("events", "planned", "invalid", "unmatched", "malformed")} == {
        "events": 14,
        "planned": 7,
        "invalid": 5,
        "unmatched": 2,
        "malformed": 2,
    }
    assert summary["actions"]["trackPurchase"] == {"planned": 2, "invalid": 3}
    assert {p["status"] for p in summary["problems"]} == {"invalid", "malformed"}
    assert len(summary["problems"]) == 7


def test_validate_clean_file_exits_zero(run_cli: RunCli, tmp_path: Path) -> None:
    path = write(tmp_path / "e.jsonl", jsonl(GOOD, {"type": "page"}))
    result = run_cli("validate", path)
    assert result.exit_code == 0
    assert "2 events: 1 call planned · 1 event unmatched" in result.stdout


def test_validate_strict_counts_unmatched(run_cli: RunCli, tmp_path: Path) -> None:
    path = write(tmp_path / "e.jsonl", jsonl(GOOD, {"type": "page"}))
    result = run_cli("validate", path, "--strict")
    assert result.exit_code == 1
    assert "unmatched" in result.stdout


def test_validate_max_errors_stops_early(run_cli: RunCli, tmp_path: Path) -> None:
    path = write(tmp_path / "e.jsonl", jsonl(*["{bad"] * 5, GOOD))
    result = run_cli("validate", path, "--max-errors", "2", "-f", "json")
    summary = json.loads(result.stdout)
    assert summary["malformed"] == 2
    assert summary["stopped"] == "stopped after --max-errors 2 problem events"
    assert result.exit_code == 1


# -- filters ----------------------------------------------------------------------------


def test_filters_action_where_lines_limit(run_cli: RunCli) -> None:
    sample = str(SAMPLES / "events.jsonl")
    mappings = str(REPO / "mappings.yaml")
    by_action = records(
        run_cli("dry-run", sample, "-m", mappings, "-f", "json", "--action", "trackSignUp").stdout
    )
    assert [(r["line"], r["status"]) for r in by_action] == [
        (2, "planned"),
        (10, "malformed"),
        (13, "malformed"),
        (14, "invalid"),
    ]
    where = run_cli(
        "dry-run", sample, "-m", mappings, "-f", "json", "--where", 'userId = "cust-1001"'
    )
    assert [r["line"] for r in records(where.stdout)] == [1, 3, 9, 10, 13]
    assert where.exit_code == 1
    lines = records(
        run_cli("dry-run", sample, "-m", mappings, "-f", "json", "--lines", "5-7").stdout
    )
    assert [r["line"] for r in lines] == [5, 6, 7]
    limited = records(
        run_cli("dry-run", sample, "-m", mappings, "-f", "json", "--limit", "3").stdout
    )
    assert [r["line"] for r in limited] == [1, 2, 3]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--lines", "x"], "--lines must look like 10-20"),
        (["--lines", "9-3"], "--lines range '9-3' is empty"),
        (["--where", "type = "], "bad trigger in --where"),
        (["--action", "trackPurchases"], "unknown action 'trackPurchases'"),
    ],
)
def test_bad_filters_are_usage_errors(
    run_cli: RunCli, tmp_path: Path, args: list[str], message: str
) -> None:
    path = write(tmp_path / "e.jsonl", jsonl(GOOD))
    result = run_cli("dry-run", path, *args)
    assert result.exit_code == 2
    assert message in result.stderr
    assert result.stderr.startswith("Error: ")


def test_open_ended_line_ranges(run_cli: RunCli, tmp_path: Path) -> None:
    path = write(tmp_path / "e.jsonl", jsonl(GOOD, GOOD, GOOD))
    assert [
        r["line"] for r in records(run_cli("dry-run", path, "-f", "json", "--lines", "2-").stdout)
    ] == [2, 3]
    assert [
        r["line"] for r in records(run_cli("dry-run", path, "-f", "json", "--lines", "-2").stdout)
    ] == [1, 2]


# -- inputs -----------------------------------------------------------------------------


def test_stdin_and_gzip_and_several_files(run_cli: RunCli, tmp_path: Path) -> None:
    gz = write(tmp_path / "e.jsonl.gz", gzip.compress(jsonl(GOOD).encode()))
    result = run_cli("dry-run", "-", gz, "-f", "json", stdin=jsonl(GOOD, GOOD))
    assert [(r["source"], r["line"]) for r in records(result.stdout)] == [
        ("-", 1),
        ("-", 2),
        (gz, 1),
    ]
    assert result.exit_code == 0
    table = run_cli("dry-run", "-", gz, stdin=jsonl(GOOD))
    lines = table.stdout.splitlines()
    assert "- (standard input)" in lines
    assert gz in lines  # each file a heading of its own, never folded into a cell
    assert "2 events: 2 calls planned" in table.stdout


BAD_INPUTS = [
    ("malformed JSON", b'{"type": "track",\n', "invalid JSON at column 18"),
    ("not an object", b"[1, 2]\n", "expected a JSON object, got an array"),
    ("invalid UTF-8", b'{"type": "tr\xffack"}\n', "invalid UTF-8 at byte 13"),
    ("nesting", b'{"a": ' + b"[" * 150 + b"]" * 150 + b"}\n", "nesting deeper than 100 levels"),
    ("NaN", b'{"type": "track", "x": NaN}\n', "NaN"),
    ("Infinity", b'{"type": "track", "x": -Infinity}\n', "Infinity"),
    ("empty file", b"", "empty file: no events"),
]


@pytest.mark.parametrize(
    ("data", "message"), [b[1:] for b in BAD_INPUTS], ids=[b[0] for b in BAD_INPUTS]
)
def test_bad_input_is_reported_and_the_run_goes_on(
    run_cli: RunCli, tmp_path: Path, data: bytes, message: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    bad = write(tmp_path / "bad.jsonl", data)
    good = write(tmp_path / "good.jsonl", jsonl(GOOD))
    result = run_cli("dry-run", bad, good, "-f", "json")
    assert result.exit_code == 1
    out = records(result.stdout)
    assert out[0]["status"] == "malformed"
    assert out[0]["source"] == bad
    assert message in out[0]["errors"][0]["message"]
    assert out[-1]["status"] == "planned"
    table = run_cli("validate", bad)
    assert table.exit_code == 1
    assert message.split(" at ", maxsplit=1)[0] in table.stdout
    assert "Traceback" not in table.stdout + table.stderr


def test_huge_line_is_skipped(run_cli: RunCli, tmp_path: Path) -> None:
    huge = b'{"type": "track", "x": "' + b"a" * 1_100_000 + b'"}\n'
    path = write(tmp_path / "huge.jsonl", huge + jsonl(GOOD).encode())
    out = records(run_cli("dry-run", path, "-f", "json").stdout)
    assert out[0]["status"] == "malformed"
    assert out[0]["errors"][0]["message"].startswith("line is longer than 1 MB")
    assert (out[1]["line"], out[1]["status"]) == (2, "planned")


@pytest.mark.parametrize(
    ("name", "message"),
    [("missing.jsonl", "no such file"), ("adir", "the folder holds no event files")],
)
def test_missing_file_and_empty_directory_are_usage_errors(
    run_cli: RunCli, tmp_path: Path, name: str, message: str
) -> None:
    (tmp_path / "adir").mkdir()
    good = write(tmp_path / "good.jsonl", jsonl(GOOD))
    result = run_cli("dry-run", str(tmp_path / name), good, "-f", "json")
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.splitlines()[0] == f"Error: {message} ({tmp_path / name})"


def test_bom_crlf_and_no_trailing_newline_are_fine(run_cli: RunCli, tmp_path: Path) -> None:
    data = b"\xef\xbb\xbf" + json.dumps(GOOD).encode() + b"\r\n\r\n" + json.dumps(GOOD).encode()
    path = write(tmp_path / "e.jsonl", data)
    result = run_cli("validate", path)
    assert result.exit_code == 0
    assert "2 events: 2 calls planned" in result.stdout


# -- mapping files ----------------------------------------------------------------------


def test_broken_mapping_file_exits_2_with_location(run_cli: RunCli, tmp_path: Path) -> None:
    mappings = write(
        tmp_path / "m.yaml",
        "subscriptions:\n  - name: A\n    action: trackPurchase\n    trigger: event = Order\n",
    )
    path = write(tmp_path / "e.jsonl", jsonl(GOOD))
    result = run_cli("validate", path, "-m", mappings)
    assert result.exit_code == 2
    assert result.stderr.startswith("Error: bad trigger:")
    assert f"({mappings}:4:" in result.stderr


def test_missing_mapping_file(run_cli: RunCli, tmp_path: Path) -> None:
    path = write(tmp_path / "e.jsonl", jsonl(GOOD))
    result = run_cli("dry-run", path, "-m", str(tmp_path / "nope.yaml"))
    assert result.exit_code == 2
    assert result.stderr == f"Error: mapping file not found ({tmp_path / 'nope.yaml'})\n"


def test_mappings_yaml_in_current_directory_is_used(run_cli: RunCli, tmp_path: Path) -> None:
    write(
        tmp_path / "mappings.yaml",
        "subscriptions:\n  - {name: Only, action: trackPurchase, trigger: 'type = \"track\"'}\n",
    )
    path = write(tmp_path / "e.jsonl", jsonl(GOOD))
    out = records(run_cli("dry-run", path, "-f", "json").stdout)
    assert out[0]["subscription"] == "Only"


def test_built_in_default_without_mapping_file(run_cli: RunCli, tmp_path: Path) -> None:
    path = write(tmp_path / "e.jsonl", jsonl(GOOD))
    result = run_cli("dry-run", path)
    assert "<built-in default> · cloud mode" in result.stdout


def test_direct_mode_merchant_id_from_environment(
    run_cli: RunCli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    mappings = write(
        tmp_path / "m.yaml",
        "mode: direct\nsubscriptions:\n"
        "  - {name: P, action: trackPage, trigger: 'type = \"page\"'}\n",
    )
    path = write(tmp_path / "e.jsonl", jsonl({"type": "page"}))
    missing = run_cli("dry-run", path, "-m", mappings)
    assert missing.exit_code == 2
    assert "direct mode needs a merchant_id" in missing.stderr
    assert "Hint: " in missing.stderr
    monkeypatch.setenv("FRIENDBUY_MERCHANT_ID", "1993d0f1-8206-4336-8c88-64e170f2419e")
    assert run_cli("dry-run", path, "-m", mappings).exit_code == 0


# -- eval -------------------------------------------------------------------------------


def test_eval_trigger(run_cli: RunCli, tmp_path: Path) -> None:
    path = write(tmp_path / "e.jsonl", jsonl(GOOD, {"type": "page"}, "nope"))
    result = run_cli("eval", "--trigger", 'event = "Order Completed"', path)
    assert result.stdout.splitlines()[:2] == ['{"line":1,"match":true}', '{"line":2,"match":false}']
    assert records(result.stdout)[2]["status"] == "malformed"
    assert result.exit_code == 1


def test_eval_mapping(run_cli: RunCli, tmp_path: Path) -> None:
    path = write(tmp_path / "e.jsonl", jsonl(GOOD, {"type": "page"}))
    result = run_cli("eval", "--mapping", '{"@path": "$.properties.total"}', path)
    assert result.stdout.splitlines() == ['{"line":1,"value":10}', '{"line":2}']
    assert result.exit_code == 0
    yaml_form = run_cli("eval", "--mapping", "'@template': '{{userId}}-{{event}}'", path)
    assert records(yaml_form.stdout)[0] == {"line": 1, "value": "u1-Order Completed"}


def test_eval_several_files_adds_source(run_cli: RunCli, tmp_path: Path) -> None:
    a = write(tmp_path / "a.jsonl", jsonl(GOOD))
    b = write(tmp_path / "b.jsonl", jsonl(GOOD))
    result = run_cli("eval", "-t", "userId != null", a, b)
    assert records(result.stdout) == [
        {"source": a, "line": 1, "match": True},
        {"source": b, "line": 1, "match": True},
    ]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--trigger", "a = = 1"], "bad trigger in --trigger"),
        (["--mapping", '{"@nope": 1}'], "bad mapping"),
        ([], "give exactly one of --trigger or --mapping"),
        (["-t", "a = 1", "--mapping", "1"], "give exactly one of --trigger or --mapping"),
    ],
)
def test_eval_bad_expressions_exit_2(
    run_cli: RunCli, tmp_path: Path, args: list[str], message: str
) -> None:
    path = write(tmp_path / "e.jsonl", jsonl(GOOD))
    result = run_cli("eval", *args, path)
    assert result.exit_code == 2
    assert message in result.stderr


# -- the program as a whole --------------------------------------------------------------


def test_version(run_cli: RunCli) -> None:
    result = run_cli("--version")
    assert result.exit_code == 0
    assert re.fullmatch(r"fbcli \d+\.\d+\.\d+\n", result.stdout)


def command_names() -> list[str]:
    import typer.main

    group = typer.main.get_command(app)
    assert hasattr(group, "commands")
    names = []
    for name, command in sorted(group.commands.items()):
        names.append(name)
        names += [f"{name} {sub}" for sub in sorted(getattr(command, "commands", {}))]
    return names


@pytest.mark.parametrize("command", command_names())
def test_every_command_has_help_with_an_example_and_a_section_in_the_docs(
    run_cli: RunCli, command: str
) -> None:
    """Every command and subcommand: an example in its help, and that help generated into
    docs/commands.md (whose blocks tests/cli/test_docs.py keeps current)."""
    result = run_cli(*command.split(), "--help")
    assert result.exit_code == 0
    assert "Example: fbcli" in result.stdout
    commands_md = (REPO / "docs" / "commands.md").read_text(encoding="utf-8")
    assert f"\n## `fbcli {command}`\n" in commands_md or f"\n### `fbcli {command}`\n" in commands_md
    assert f"\n<!-- [[[generated: fbcli {command} --help]]] -->\n" in commands_md


def test_help_documents_exit_codes(run_cli: RunCli) -> None:
    result = run_cli("--help")
    assert result.exit_code == 0
    text = " ".join(result.stdout.split())
    assert "2 usage, mapping-file or ledger error" in text
    assert "4 replay --skip-invalid" in text
    assert "130/143/129 stopped by SIGINT/SIGTERM/SIGHUP" in text


def test_python_dash_m_and_broken_pipe(tmp_path: Path) -> None:
    events = tmp_path / "e.jsonl"
    events.write_text(jsonl(*[GOOD] * 3000), encoding="utf-8")
    proc = subprocess.run(
        f"{sys.executable} -m fbcli dry-run {events} -f json | head -n 1",
        shell=True,
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,
    )
    assert proc.stdout.count("\n") == 1
    assert "Traceback" not in proc.stderr
    assert proc.stderr == ""


# -- review findings ---------------------------------------------------------------------


@pytest.mark.parametrize("columns", ["abc", "0", "-5", ""])
def test_bad_columns_falls_back_to_100(
    run_cli: RunCli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, columns: str
) -> None:
    monkeypatch.setenv("COLUMNS", columns)
    path = write(tmp_path / "e.jsonl", jsonl(GOOD))
    result = run_cli("dry-run", path)
    assert result.exit_code == 0
    assert "1 event: 1 call planned" in result.stdout
    assert max(len(line) for line in result.stdout.splitlines()) == 100


@pytest.mark.parametrize("value", ["", " "])
def test_blank_lines_option_is_an_error(run_cli: RunCli, tmp_path: Path, value: str) -> None:
    path = write(tmp_path / "e.jsonl", jsonl(GOOD))
    result = run_cli("dry-run", path, "--lines", value)
    assert result.exit_code == 2
    assert "--lines must look like" in result.stderr


def test_validate_shows_warnings(run_cli: RunCli, tmp_path: Path) -> None:
    many = {f"k{i}": i for i in range(11)}
    event = {**GOOD, "properties": {**GOOD["properties"], "friendbuyAttributes": many}}
    path = write(tmp_path / "e.jsonl", jsonl(event))
    result = run_cli("validate", path, "-f", "json")
    assert result.exit_code == 0
    summary = json.loads(result.stdout)
    assert summary["problems"] == []
    assert summary["warnings"][0]["warnings"][0]["field"] == "additionalProperties"
    table = run_cli("validate", path)
    assert "! 11 additionalProperties" in table.stdout


def test_calls_and_events_are_counted_apart(run_cli: RunCli, tmp_path: Path) -> None:
    mappings = write(
        tmp_path / "m.yaml",
        "subscriptions:\n"
        "  - {name: A, action: trackPurchase, trigger: 'type = \"track\"'}\n"
        "  - {name: B, action: trackSignUp, trigger: 'type = \"track\"'}\n",
    )
    path = write(tmp_path / "e.jsonl", jsonl(GOOD))
    result = run_cli("validate", path, "-m", mappings)
    assert "1 event: 1 call planned, 1 invalid" in result.stdout


def test_dry_run_json_says_when_it_stopped_early(run_cli: RunCli, tmp_path: Path) -> None:
    path = write(tmp_path / "e.jsonl", jsonl(GOOD, GOOD, GOOD))
    result = run_cli("dry-run", path, "-f", "json", "--limit", "2")
    assert len(records(result.stdout)) == 2
    assert result.stderr == "Warning: stopped after --limit 2 events\n"


@pytest.mark.parametrize("columns", ["60", "100"])
def test_missing_single_input_is_named_whole_on_a_line_of_its_own(
    run_cli: RunCli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, columns: str
) -> None:
    # A long path (as pytest's own temporary folders often are) is never folded into a cell.
    folder = tmp_path / ("a-rather-long-folder-name-" * 4)
    folder.mkdir()
    missing = str(folder / "evnets.jsonl")
    monkeypatch.setenv("COLUMNS", columns)
    result = run_cli("validate", missing)
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [f"Error: no such file ({missing})"]
    result = run_cli(
        "dry-run", str(SAMPLES / "events.jsonl"), missing, "-m", str(REPO / "mappings.yaml")
    )
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [f"Error: no such file ({missing})"]


def test_bidi_controls_are_escaped(run_cli: RunCli, tmp_path: Path) -> None:
    event = {**GOOD, "properties": {**GOOD["properties"], "order_id": "\u202eabc"}}
    path = write(tmp_path / "e.jsonl", jsonl(event))
    result = run_cli("dry-run", path)
    assert "\u202e" not in result.stdout
    assert "\\u202eabc" in result.stdout


def test_empty_no_color_is_ignored(
    run_cli: RunCli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from fbcli.report import make_console

    monkeypatch.setenv("NO_COLOR", "")
    path = write(tmp_path / "e.jsonl", jsonl(GOOD))
    assert run_cli("dry-run", path).exit_code == 0
    console = make_console(sys.stdout, stderr=False, no_color=False, columns="100")
    assert console.width == 100


def test_validate_table_draws_the_first_200_problems(run_cli: RunCli, tmp_path: Path) -> None:
    path = write(tmp_path / "e.jsonl", jsonl(*["{bad"] * 205, GOOD))
    result = run_cli("validate", path)
    assert result.exit_code == 1
    assert "… 5 more rows not shown (--show-all" in result.stdout
    assert "1 event: 1 call planned · 205 lines malformed" in result.stdout
    everything = run_cli("validate", path, "--show-all")
    assert "more rows not shown" not in everything.stdout
    table = everything.stdout.split("Problems by cause")[0]
    assert table.count("malformed") == 206


@pytest.mark.parametrize("command", command_names())
def test_every_commands_help_lists_its_exit_codes(run_cli: RunCli, command: str) -> None:
    result = run_cli(*command.split(), "--help")
    assert "Exit codes" in result.stdout
    assert "{" not in result.stdout.splitlines()[0]  # FILES..., not {FILE}
