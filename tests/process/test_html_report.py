"""The ``--report`` page in a real browser: headless Chromium draws it, runs nothing, asks nothing.

Reports are made from events full of markup (``tests/support/report.py``), then
opened with ``chromium --headless --dump-dom``: the DOM after loading has the
sections and the JSON summary's numbers, the same title (no payload ran: each
would have changed it), no ``<script>`` and no ``on*`` attribute.  Every request
the browser makes goes to a proxy on 127.0.0.1 that counts them: none for a
report, and one for a control page with an image on the web (so the count can
fail).  Without Chromium these tests skip, unless ``FBCLI_BROWSER_REQUIRED=1``
(CI, which installs it): then they fail.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import REPO, SAMPLES, RunCli
from tests.support.report import (
    Browser,
    RequestCatcher,
    action_counts,
    browser,
    browser_required,
    find_browser,
    read_page,
    write_hostile_inputs,
)

SECTIONS = ("run", "counts", "timeline", "causes", "mapping")


@pytest.fixture(scope="module")
def chromium() -> str:
    found = find_browser()
    if found is None:
        reason = "no Chromium here (apt-get install chromium): the report's browser tests skip"
        if browser_required():
            pytest.fail(f"{reason}, but FBCLI_BROWSER_REQUIRED is set")
        pytest.skip(reason)
    return found


@pytest.fixture
def headless(
    chromium: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Browser, RequestCatcher]]:
    with browser(chromium, tmp_path_factory.mktemp("profile")) as pair:
        yield pair


def test_a_hostile_report_renders_runs_nothing_and_asks_nothing(
    run_cli: RunCli, tmp_path: Path, headless: tuple[Browser, RequestCatcher]
) -> None:
    chrome, catcher = headless
    events, mapping = write_hostile_inputs(tmp_path)
    result = run_cli(
        "validate", events.name, "-m", mapping.name, "-f", "json", "--report", "h.html"
    )
    assert result.exit_code == 1
    summary = json.loads(result.stdout)

    dom = chrome.dump_dom(tmp_path / "h.html")
    page = read_page(dom)
    assert page.title == "fbcli validate report"  # each payload would have changed it
    assert all(section in page.ids for section in SECTIONS)
    for status in ("planned", "invalid", "unmatched", "malformed"):
        assert page.number(f"count-{status}") == summary[status]
    assert page.number("count-events") == summary["events"]
    assert action_counts(dom) == summary["actions"]
    assert page.number("timeline-events") == summary["events"]
    assert "script" not in page.tags
    assert not [a for a in page.attributes if a[1].lower().startswith("on")]
    assert {"img", "iframe", "object", "embed", "a", "link", "base"}.isdisjoint(page.tags)
    assert "svg" in page.tags
    assert events.name in page.ids["causes"]  # shown as text
    assert "document.title='mapping'" in page.ids["mapping"]
    assert catcher.from_pages() == []


def test_the_request_catcher_sees_a_page_that_asks(
    tmp_path: Path, headless: tuple[Browser, RequestCatcher]
) -> None:
    """The control: without the report's policy, an image on the web is asked for."""
    chrome, catcher = headless
    control = tmp_path / "control.html"
    control.write_text(
        '<!DOCTYPE html><title>control</title><img src="http://fbcli-test.invalid/x.png">',
        encoding="utf-8",
    )
    chrome.dump_dom(control)
    assert any(b"fbcli-test.invalid" in request for request in catcher.from_pages())


def test_a_script_would_be_seen(tmp_path: Path, headless: tuple[Browser, RequestCatcher]) -> None:
    """The control: a page whose script runs changes its title in the dumped DOM."""
    chrome, _ = headless
    control = tmp_path / "control.html"
    control.write_text(
        "<!DOCTYPE html><title>control</title><script>document.title='ran'</script>",
        encoding="utf-8",
    )
    assert read_page(chrome.dump_dom(control)).title == "ran"


def test_a_replay_report_renders_its_outcomes_and_rate(
    run_cli: RunCli, tmp_path: Path, headless: tuple[Browser, RequestCatcher]
) -> None:
    chrome, catcher = headless
    result = run_cli(
        "replay", str(SAMPLES / "events.jsonl"), "-m", str(REPO / "mappings.yaml"),
        "--emulator", "--skip-invalid", "--ledger", "l.sqlite", "--rate", "1000",
        "-f", "json", "--report", "r.html",
    )  # fmt: skip
    assert result.exit_code == 4, result.stderr
    summary = json.loads(result.stdout)
    page = read_page(chrome.dump_dom(tmp_path / "r.html"))
    assert page.title == "fbcli replay report"
    assert all(section in page.ids for section in (*SECTIONS, "replay"))
    for key in ("sent", "failed", "unknown", "invalid", "unmatched", "malformed"):
        assert page.number(f"outcome-{key}") == summary[key]
    assert "Rate over time" in page.ids["replay"]
    assert catcher.from_pages() == []


def test_the_report_draws_on_a_screenshot(
    run_cli: RunCli, tmp_path: Path, headless: tuple[Browser, RequestCatcher]
) -> None:
    chrome, catcher = headless
    run_cli(
        "validate", str(SAMPLES / "events.jsonl"), "-m", str(REPO / "mappings.yaml"),
        "--report", "r.html",
    )  # fmt: skip
    shot = tmp_path / "r.png"
    chrome.screenshot(tmp_path / "r.html", shot, width=800, height=600)
    data = shot.read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    assert len(data) > 10_000  # drawn, not a blank page
    assert catcher.from_pages() == []
