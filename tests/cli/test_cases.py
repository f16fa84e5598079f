"""Acceptance cases as data: ``tests/cases/<name>/{mappings.yaml,events.jsonl,expected.jsonl}``.

Each case is ``fbcli dry-run events.jsonl -m mappings.yaml --format json`` run
in the case's folder; its output must equal ``expected.jsonl`` record for
record (key order aside).  A new case is a new folder.

A case of a whole export (``realistic-export``: ``events.jsonl.gz``, made by
``tests/support/export.py``, with a byte order mark, CRLF lines and the
mistakes real exports have) is judged by what ``validate`` says of it: its
JSON summary without the per-event problems (``summary.json``) and its
problems grouped by cause at 100 columns (``causes.txt``).
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fbcli.cli import app
from tests.support import TESTS
from tests.support.export import export_bytes

CASES = sorted(p.parent for p in (TESTS / "cases").glob("*/expected.jsonl"))
EXPORT = TESTS / "cases" / "realistic-export"


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_case(case: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(case)
    result = CliRunner().invoke(
        app, ["dry-run", "events.jsonl", "-m", "mappings.yaml", "--format", "json"]
    )
    expected = [
        json.loads(line)
        for line in (case / "expected.jsonl").read_text(encoding="utf-8").splitlines()
    ]
    actual = [json.loads(line) for line in result.stdout.splitlines()]
    assert actual == expected, result.stderr
    has_problems = any(r["status"] in ("invalid", "malformed") for r in expected)
    assert result.exit_code == (1 if has_problems else 0)


def test_there_are_cases() -> None:
    assert len(CASES) >= 3


def test_the_export_case_is_what_its_generator_makes() -> None:
    assert gzip.decompress((EXPORT / "events.jsonl.gz").read_bytes()) == export_bytes()


def test_the_export_cases_summary_is_its_golden(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(EXPORT)
    result = CliRunner().invoke(app, ["validate", "events.jsonl.gz", "--format", "json"])
    assert result.exit_code == 1, result.stderr
    summary = json.loads(result.stdout)
    del summary["problems"]
    assert summary == json.loads((EXPORT / "summary.json").read_text(encoding="utf-8"))


def test_the_export_cases_causes_are_its_golden(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(EXPORT)
    monkeypatch.setenv("COLUMNS", "100")
    result = CliRunner().invoke(app, ["--no-color", "validate", "events.jsonl.gz"])
    assert result.exit_code == 1, result.stderr
    section = result.stdout[result.stdout.index("Problems by cause") :]
    lines = [line.rstrip() for line in section.splitlines()]
    assert lines == (EXPORT / "causes.txt").read_text(encoding="utf-8").splitlines()
