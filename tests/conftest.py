"""Shared fixtures: no real secret reaches a test; CLI runs that explain their failures."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fbcli.cli import app

REPO = Path(__file__).resolve().parent.parent
SAMPLES = REPO / "sample_events"


@pytest.fixture(autouse=True)
def _no_friendbuy_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Remove FRIENDBUY_* variables, so a real secret never reaches a test."""
    import os

    for name in list(os.environ):
        if name.startswith("FRIENDBUY_"):
            monkeypatch.delenv(name)
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setenv("COLUMNS", "100")


@dataclass(frozen=True)
class Run:
    """The outcome of one CLI run."""

    exit_code: int
    stdout: str
    stderr: str


RunCli = Callable[..., Run]


@pytest.fixture
def run_cli(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[RunCli]:
    """Run fbcli in a clean directory; on a failing test, show what it printed."""
    monkeypatch.chdir(tmp_path)
    runs: list[tuple[list[str], Run]] = []

    def run(*args: str, stdin: bytes | str | None = None) -> Run:
        result = CliRunner().invoke(app, list(args), input=stdin, catch_exceptions=False)
        outcome = Run(result.exit_code, result.stdout, result.stderr)
        runs.append((list(args), outcome))
        return outcome

    yield run
    for args, outcome in runs:
        print(f"$ fbcli {' '.join(args)}  → exit {outcome.exit_code}")
        print(outcome.stdout)
        print(outcome.stderr)
