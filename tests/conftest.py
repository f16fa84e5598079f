"""Shared fixtures: no real secret reaches a test; CLI runs that explain their failures.

Also the hypothesis settings profiles, chosen by the ``HYPOTHESIS_PROFILE``
environment variable:

- ``ci`` (the default, in CI and locally): hypothesis's own ``ci`` profile
  (derandomized, so every run draws the same examples; no example database;
  no deadline; failures print a reproduction blob) with ``CI_EXAMPLES``
  examples per property;
- ``long`` (``bench/fuzz.py``): ``LONG_EXAMPLES`` random examples per property,
  remembered in ``.hypothesis/``, for a longer hunt.

Properties that set their own budget take it from ``examples(n)``: ``n`` under
``ci``, scaled by the profile's ``max_examples`` under any other profile.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings
from typer.testing import CliRunner

from fbcli.cli import app
from tests.support import CI_EXAMPLES, LONG_EXAMPLES, Run, RunCli

settings.register_profile("ci", settings.get_profile("ci"), max_examples=CI_EXAMPLES)
settings.register_profile(
    "long",
    max_examples=LONG_EXAMPLES,
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture(autouse=True)
def _no_friendbuy_env(
    monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Remove FRIENDBUY_* variables, so a real secret never reaches a test; give each test
    a state folder of its own (the default ledgers), never the user's."""
    for name in list(os.environ):
        if name.startswith(("FRIENDBUY_", "FBCLI_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("FBCLI_STATE_DIR", str(tmp_path_factory.mktemp("state")))
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setenv("COLUMNS", "100")


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
