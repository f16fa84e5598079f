"""Acceptance cases as data: ``tests/cases/<name>/{mappings.yaml,events.jsonl,expected.jsonl}``.

Each case is ``fbcli dry-run events.jsonl -m mappings.yaml --format json`` run
in the case's folder; its output must equal ``expected.jsonl`` record for
record (key order aside).  A new case is a new folder.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fbcli.cli import app
from tests.support import TESTS

CASES = sorted(p for p in (TESTS / "cases").iterdir() if p.is_dir())


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
