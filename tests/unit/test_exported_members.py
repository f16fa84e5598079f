"""The public API: ``fbcli.__all__`` is exactly what the package exports, and it works."""

from __future__ import annotations

import inspect
import re
import subprocess
import sys
from pathlib import Path

import pytest

import fbcli
from tests.support import REPO, SAMPLES


def test_all_is_exactly_what_the_package_exports() -> None:
    assert len(set(fbcli.__all__)) == len(fbcli.__all__)
    assert set(fbcli.__all__) == {*fbcli._EXPORTS, "__version__"}
    public = {name for name in dir(fbcli) if not name.startswith("_")} | {"__version__"}
    assert public == set(fbcli.__all__)


@pytest.mark.parametrize("name", [n for n in fbcli.__all__ if n != "__version__"])
def test_each_export_resolves_to_a_documented_core_object(name: str) -> None:
    value = getattr(fbcli, name)
    assert inspect.getdoc(value), f"fbcli.{name} has no docstring"
    module = getattr(value, "__module__", "")
    assert module.startswith("fbcli."), module
    assert not module.startswith(("fbcli.cli", "fbcli.commands", "fbcli.report")), module


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        fbcli.nope  # noqa: B018


def test_importing_fbcli_imports_nothing_else() -> None:
    code = "import fbcli, sys; print(sorted(m for m in sys.modules if m.startswith('fbcli')))"
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO
    )
    assert done.stdout.strip() == "['fbcli']"


def test_the_packages_example_runs(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The example in ``fbcli.__doc__`` (and the README), on the samples."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "mappings.yaml").write_bytes((REPO / "mappings.yaml").read_bytes())
    (tmp_path / "events.jsonl").write_bytes((SAMPLES / "events.jsonl").read_bytes())
    assert fbcli.__doc__ is not None
    example = "\n".join(line[4:] for line in fbcli.__doc__.splitlines() if line.startswith("    "))
    printed: list[tuple[object, ...]] = []
    exec(example, {"print": lambda *args: printed.append(args)})
    assert len(printed) == 7
    assert all(str(url).startswith("https://mapi.fbot.me/v1/") for url, _ in printed)


def test_planning_one_event_and_reading_the_errors() -> None:
    config = fbcli.default_mappings()
    event = fbcli.Event("test", 1, {"type": "track", "event": "Order Completed"})
    (rejection,) = fbcli.plan_event(event, config)  # type: ignore[misc]
    assert isinstance(rejection, fbcli.Rejection)
    assert {v.field for v in rejection.errors} >= {"orderId", "amount", "currency"}
    with pytest.raises(fbcli.MappingFileError):
        fbcli.load_mappings("version: 1\nmode: cloud\nsubscriptions: 3\n", path="m.yaml")


def test_the_readmes_python_example_runs(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "mappings.yaml").write_bytes((REPO / "mappings.yaml").read_bytes())
    (tmp_path / "sample_events").mkdir()
    (tmp_path / "sample_events" / "events.jsonl").write_bytes(
        (SAMPLES / "events.jsonl").read_bytes()
    )
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    (example,) = re.findall(r"```python\n(.*?)```", readme, re.S)
    printed: list[tuple[object, ...]] = []
    exec(example, {"print": lambda *args: printed.append(args)})
    assert len(printed) == 7
