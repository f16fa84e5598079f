"""What the tests share: paths, the CLI runner's result, example budgets, helpers by topic.

Test modules import from here (and from ``tests.oracle``), never from one another.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from hypothesis import settings

TESTS: Final = Path(__file__).resolve().parent.parent
"""The tests folder (its data: ``cases/``, ``golden/``, ``mapping_cases/``)."""
REPO: Final = TESTS.parent
SAMPLES: Final = REPO / "sample_events"

CI_EXAMPLES: Final = 100
"""Examples per property under the ``ci`` profile (``tests/conftest.py``)."""
LONG_EXAMPLES: Final = 2_000
"""Examples per property under the ``long`` profile (``bench/fuzz.py``)."""


def examples(ci: int) -> int:
    """A property's example budget: ``ci`` under the ci profile, scaled under the others."""
    return max(1, ci * settings().max_examples // CI_EXAMPLES)


@dataclass(frozen=True)
class Run:
    """The outcome of one CLI run."""

    exit_code: int
    stdout: str
    stderr: str


RunCli = Callable[..., Run]


def state_folder() -> Path:
    """This test's state folder (``tests/conftest.py`` gives each test one)."""
    return Path(os.environ["FBCLI_STATE_DIR"])
