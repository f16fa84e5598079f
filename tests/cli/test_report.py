"""``--report PATH`` end to end: the page's numbers are the JSON summary's; bad paths refused."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from fbcli.emulator import Emulator, EmulatorConfig
from tests.support import REPO, SAMPLES, RunCli
from tests.support.report import PAYLOADS, action_counts, read_page, write_hostile_inputs

EVENTS = str(SAMPLES / "events.jsonl")
MAPPINGS = str(REPO / "mappings.yaml")
KEY = "11111111-2222-4333-8444-555555555555"
SECRET = "s3cr3t-value-that-must-never-show-0123456789"


def page_numbers(html: str) -> dict[str, object]:
    """The page's counts, shaped like ``validate --format json``'s."""
    page = read_page(html)
    numbers: dict[str, object] = {
        name: page.number(f"count-{name}")
        for name in ("events", "planned", "invalid", "unmatched", "malformed")
    }
    numbers["actions"] = action_counts(html)
    return numbers


def json_numbers(summary: dict[str, object]) -> dict[str, object]:
    return {k: summary[k] for k in ("events", "planned", "invalid", "unmatched", "malformed")} | {
        "actions": summary["actions"]
    }


def test_validate_report_shows_the_json_summarys_numbers(run_cli: RunCli, tmp_path: Path) -> None:
    plain = run_cli("validate", EVENTS, "-m", MAPPINGS, "-f", "json")
    result = run_cli("validate", EVENTS, "-m", MAPPINGS, "-f", "json", "--report", "r.html")
    assert result.exit_code == plain.exit_code == 1
    assert result.stdout == plain.stdout  # the report changes nothing else
    assert "report written to r.html" in result.stderr
    html = (tmp_path / "r.html").read_text(encoding="utf-8")
    summary = json.loads(result.stdout)
    assert page_numbers(html) == json_numbers(summary)
    page = read_page(html)
    # The timeline counts the same events: 14, five with an invalid call, one undated.
    assert page.number("timeline-events") == summary["events"] == 14
    assert page.number("timeline-problems") == 5
    assert page.number("timeline-undated") == 1
    assert "version: 1" in page.ids["mapping"]
    assert "fbcli validate --mappings" in page.ids["run"]
    # Every problem of the summary is counted under some cause.
    assert "missing required field" in page.ids["causes"]
    assert "invalid JSON" in page.ids["causes"]


def test_dry_run_report_in_parallel_matches_one_process(run_cli: RunCli, tmp_path: Path) -> None:
    big = tmp_path / "big.jsonl"
    lines = (SAMPLES / "events.jsonl").read_text(encoding="utf-8")
    big.write_text(lines * 300, encoding="utf-8")
    plain = run_cli("dry-run", str(big), "-m", MAPPINGS, "-f", "json", "-j", "1")
    one = run_cli(
        "dry-run", str(big), "-m", MAPPINGS, "-f", "json", "-j", "1", "--report", "1.html"
    )
    two = run_cli(
        "dry-run", str(big), "-m", MAPPINGS, "-f", "json", "-j", "2", "--report", "2.html"
    )
    assert plain.exit_code == one.exit_code == two.exit_code == 1
    assert one.stdout == two.stdout == plain.stdout
    first = read_page((tmp_path / "1.html").read_text(encoding="utf-8"))
    second = read_page((tmp_path / "2.html").read_text(encoding="utf-8"))
    for name in ("count-events", "count-invalid", "timeline-events", "timeline-problems"):
        assert first.ids[name] == second.ids[name]
    assert first.number("count-events") == 14 * 300
    assert first.number("timeline-problems") == 5 * 300
    assert first.ids["causes"] == second.ids["causes"]
    assert ">1500<" in (tmp_path / "2.html").read_text(encoding="utf-8")  # a cause's count


def test_max_errors_reports_what_the_summary_counted(run_cli: RunCli, tmp_path: Path) -> None:
    result = run_cli(
        "validate", EVENTS, "-m", MAPPINGS, "-f", "json", "--max-errors", "2", "--report", "r.html"
    )
    summary = json.loads(result.stdout)
    html = (tmp_path / "r.html").read_text(encoding="utf-8")
    assert page_numbers(html) == json_numbers(summary)
    page = read_page(html)
    assert page.number("timeline-events") == summary["events"]
    assert page.ids["stopped"] == summary["stopped"]


def test_hostile_values_are_escaped_everywhere(run_cli: RunCli, tmp_path: Path) -> None:
    events, mapping = write_hostile_inputs(tmp_path)
    result = run_cli("validate", events.name, "-m", mapping.name, "--report", "h.html")
    assert result.exit_code == 1
    html = (tmp_path / "h.html").read_text(encoding="utf-8")
    page = read_page(html)
    assert "script" not in page.tags
    assert "img" not in page.tags
    assert "a" not in page.tags
    assert not [a for a in page.attributes if a[1].startswith("on")]
    assert not [a for a in page.attributes if "javascript:" in (a[2] or "")]
    assert page.title == "fbcli validate report"
    assert page.tags.count("style") == 1
    # They are shown, as text: the file name, the mapping file, the values in messages.
    assert events.name in page.ids["causes"]
    assert "</style><script>document.title='mapping'</script>" in page.ids["mapping"]
    assert PAYLOADS[0][:20] in page.ids["causes"]
    assert "Content-Security-Policy" in html
    assert "default-src 'none'" in html


def test_control_characters_in_values_are_shown_escaped(run_cli: RunCli, tmp_path: Path) -> None:
    events = tmp_path / "e.jsonl"
    value = "a\u202eb\x1b[31mc"
    events.write_text(
        json.dumps({"type": "identify", "userId": "u", "traits": {"birthday": value}}) + "\n",
        encoding="utf-8",
    )
    run_cli("validate", str(events), "--report", "r.html")
    html = (tmp_path / "r.html").read_text(encoding="utf-8")
    assert "\u202e" not in html
    assert "\x1b" not in html
    assert "\\u202e" in html


@pytest.mark.parametrize("command", ["validate", "dry-run"])
def test_the_report_never_overwrites_an_input_or_the_mapping(
    run_cli: RunCli, tmp_path: Path, command: str
) -> None:
    events = tmp_path / "e.jsonl"
    events.write_bytes((SAMPLES / "events.jsonl").read_bytes())
    mapping = tmp_path / "m.yaml"
    mapping.write_bytes((REPO / "mappings.yaml").read_bytes())
    before = events.read_bytes(), mapping.read_bytes()
    os.link(events, tmp_path / "hard.html")
    (tmp_path / "link.html").symlink_to(tmp_path / "elsewhere.html")
    refused = {
        "e.jsonl": "--report must not be an input (e.jsonl)",
        "./sub/../e.jsonl": "--report must not be an input (e.jsonl)",
        "hard.html": "--report must not be an input (e.jsonl)",
        "m.yaml": "--report must not be the mapping file",
        "link.html": "--report is a symbolic link",
        ".": "--report is not a regular file",
    }
    (tmp_path / "sub").mkdir()
    for path, message in refused.items():
        result = run_cli(command, "e.jsonl", "-m", "m.yaml", "--report", path)
        assert result.exit_code == 2, path
        assert message in result.stderr, (path, result.stderr)
        assert result.stdout == ""  # refused before anything was read
    assert (events.read_bytes(), mapping.read_bytes()) == before
    assert not (tmp_path / "elsewhere.html").exists()


def test_the_report_replaces_a_file_whole(run_cli: RunCli, tmp_path: Path) -> None:
    old = tmp_path / "r.html"
    old.write_text("old report", encoding="utf-8")
    old.chmod(0o644)
    result = run_cli("validate", EVENTS, "-m", MAPPINGS, "--report", "r.html")
    assert result.exit_code == 1
    assert old.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert old.stat().st_mode & 0o777 == 0o600  # it quotes event values: private
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.html"]  # no temporary file left
    missing = run_cli("validate", EVENTS, "-m", MAPPINGS, "--report", "no/such/r.html")
    assert missing.exit_code == 2
    assert "--report cannot be written: no folder no/such (no/such/r.html)" in missing.stderr
    dash = run_cli("validate", EVENTS, "-m", MAPPINGS, "--report", "-")
    assert dash.exit_code == 2
    assert "--report needs a file: standard output carries" in dash.stderr
    assert not (tmp_path / "-").exists()


# -- replay ---------------------------------------------------------------------------


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    with Emulator(EmulatorConfig(key=KEY, secret=SECRET, seed=3)) as emu:
        yield emu


def test_replay_report_shows_the_summary_and_never_the_secret(
    run_cli: RunCli, tmp_path: Path, emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FRIENDBUY_MAPI_KEY", KEY)
    monkeypatch.setenv("FRIENDBUY_MAPI_SECRET", SECRET)
    monkeypatch.setenv("SOME_OTHER_VARIABLE", "environment-value-never-shown")
    result = run_cli(
        "replay",
        EVENTS,
        "-m",
        MAPPINGS,
        "--base-url",
        emulator.base_url,
        "--skip-invalid",
        "--rate",
        "1000",
        "--format",
        "json",
        "--ledger",
        "l.sqlite",
        "--report",
        "r.html",
    )
    assert result.exit_code == 4, result.stderr
    summary = json.loads(result.stdout)
    html = (tmp_path / "r.html").read_text(encoding="utf-8")
    page = read_page(html)
    for key in ("sent", "failed", "unknown", "invalid", "unmatched", "malformed"):
        assert page.number(f"outcome-{key}") == summary[key], key
    assert summary["sent"] == 7
    assert page.number("count-planned") == 7  # the pre-flight's
    assert "Rate over time" in html
    assert "<svg" in html
    assert SECRET not in html
    assert SECRET[:12] not in html
    assert "environment-value-never-shown" not in html
    assert "Authorization" not in html


def test_replay_report_when_the_preflight_refuses(run_cli: RunCli, tmp_path: Path) -> None:
    result = run_cli(
        "replay", EVENTS, "-m", MAPPINGS, "--emulator", "--ledger", "l.sqlite", "--report", "r.html"
    )
    assert result.exit_code == 1
    page = read_page((tmp_path / "r.html").read_text(encoding="utf-8"))
    assert "Nothing was sent" in page.ids["run"]
    assert page.number("count-invalid") == 5
    assert "replay" not in page.ids  # no outcomes: nothing was sent


def test_replay_refuses_a_report_without_a_folder_before_sending(
    run_cli: RunCli, tmp_path: Path
) -> None:
    result = run_cli(
        "replay", EVENTS, "-m", MAPPINGS, "--emulator", "--skip-invalid", "--ledger", "l.sqlite",
        "--report", "no/such/r.html",
    )  # fmt: skip
    assert result.exit_code == 2
    assert "--report cannot be written: no folder no/such" in result.stderr
    assert "sent" not in result.stderr
    assert not (tmp_path / "l.sqlite").exists()  # nothing was sent, no ledger was made


def test_replay_report_is_never_the_failed_file(run_cli: RunCli, tmp_path: Path) -> None:
    result = run_cli(
        "replay", EVENTS, "-m", MAPPINGS, "--emulator", "--skip-invalid", "--ledger", "l.sqlite",
        "--failed", "out.txt", "--report", "./out.txt",
    )  # fmt: skip
    assert result.exit_code == 2
    assert "--report must not be the --failed file" in result.stderr
    assert not (tmp_path / "out.txt").exists()
    again = run_cli(
        "replay", EVENTS, "-m", MAPPINGS, "--emulator", "--skip-invalid", "--ledger", "l.sqlite",
        "-f", "json",
    )  # fmt: skip
    assert json.loads(again.stdout)["sent"] == 7  # nothing was sent before


def test_replay_report_never_overwrites_the_ledger(run_cli: RunCli, tmp_path: Path) -> None:
    first = run_cli(
        "replay", EVENTS, "-m", MAPPINGS, "--emulator", "--skip-invalid", "--ledger", "l.sqlite"
    )
    assert first.exit_code == 4
    for path, what in [("l.sqlite", "the ledger"), (EVENTS, "an input")]:
        result = run_cli(
            "replay", EVENTS, "-m", MAPPINGS, "--emulator", "--ledger", "l.sqlite", "--report", path
        )
        assert result.exit_code == 2
        assert f"--report must not be {what}" in result.stderr
    again = run_cli(
        "replay",
        EVENTS,
        "-m",
        MAPPINGS,
        "--emulator",
        "--skip-invalid",
        "--ledger",
        "l.sqlite",
        "-f",
        "json",
    )
    assert json.loads(again.stdout)["skipped_already_sent"] == 7  # the ledger is intact
