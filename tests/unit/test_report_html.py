"""The report's collector and page, pure: notes counted per event, days, buckets, escaping."""

from __future__ import annotations

from collections import Counter

import pytest

from fbcli.causes import CauseFinder
from fbcli.events import Event, LineError
from fbcli.mappings import default_mappings
from fbcli.plan import PlanTally, Unmatched, plan_event, plan_records
from fbcli.redact import hide
from fbcli.report.html import buckets, rate_buckets, render_html
from fbcli.reportdata import NO_TIMESTAMP, ReportCollector, ReportData, RunInfo, day_of
from tests.support.report import PAYLOADS, read_page


@pytest.mark.parametrize(
    ("timestamp", "day"),
    [
        ("2026-03-02T09:14:00Z", "2026-03-02"),
        ("2026-03-02T23:30:00-02:00", "2026-03-03"),  # UTC's day
        ("2026-03-02T00:30:00+02:00", "2026-03-01"),
        ("2026-03-02T09:14:00.123456", "2026-03-02"),  # no zone: taken as UTC
        ("2026-03-02", "2026-03-02"),
        ("0001-01-01T00:00:00+05:00", NO_TIMESTAMP),  # before year 1 in UTC
        ("yesterday", NO_TIMESTAMP),
        (1709370840, NO_TIMESTAMP),
        (None, NO_TIMESTAMP),
    ],
)
def test_day_of_an_event(timestamp: object, day: str) -> None:
    assert day_of({"timestamp": timestamp}) == day


def _events() -> list[Event | LineError]:
    def event(line: int, day: str | None, **traits: str) -> Event:
        data: dict[str, object] = {"type": "identify", "userId": f"u{line}", "traits": traits}
        if day is not None:
            data["timestamp"] = f"{day}T10:00:00Z"
        return Event("e.jsonl", line, data)

    return [
        event(1, "2026-03-01", email="u1@example.com"),
        event(2, "2026-03-01", email="u2@example.com", birthday="12/25/1990"),
        Event("e.jsonl", 3, {"type": "page", "timestamp": "2026-03-03T10:00:00Z"}),
        LineError("e.jsonl", 4, "invalid JSON at column 3: oops"),
        event(5, None, birthday="x"),
    ]


def test_the_collector_counts_events_once_and_problems_per_event() -> None:
    collector = ReportCollector()
    tally = PlanTally()
    noting = collector.wrap(lambda record: record)
    records = plan_records(_events(), default_mappings(), tally=tally)
    outputs = list(collector.take(noting(record) for record in records))
    assert len(outputs) == tally.events + tally.count("malformed")
    assert collector.events == Counter({"2026-03-01": 2, "2026-03-03": 1, NO_TIMESTAMP: 1})
    assert collector.problems == Counter({"2026-03-01": 1, NO_TIMESTAMP: 1})
    assert sum(collector.events.values()) == tally.events
    assert sum(collector.problems.values()) + collector.malformed == tally.problems


def test_a_replays_records_are_noted_and_their_causes_found() -> None:
    config = default_mappings()
    collector = ReportCollector(finder=CauseFinder(config))
    for item in _events():
        if isinstance(item, LineError):
            collector.add_records([item])
            continue
        planned = plan_event(item, config)
        collector.add_records([planned] if isinstance(planned, Unmatched) else planned)
    kinds = {cause.kind for cause in collector.causes.causes()}
    assert "invalid JSON" in kinds
    assert collector.malformed == 1


def test_an_event_with_several_calls_counts_once() -> None:
    collector = ReportCollector()
    event = Event("e.jsonl", 1, {"timestamp": "2026-03-01T10:00:00Z"})
    again = Event("e.jsonl", 1, {"timestamp": "2026-03-01T10:00:00Z"})  # same line, read twice
    noting = collector.wrap(lambda record: None)
    notes = [noting(Unmatched(event)), noting(Unmatched(event)), noting(Unmatched(again))]
    list(collector.take(notes))
    assert collector.events == Counter({"2026-03-01": 2})


def test_buckets_are_days_then_weeks_months_years() -> None:
    unit, found = buckets(Counter({"2026-03-01": 2, "2026-03-04": 1}), Counter({"2026-03-04": 1}))
    assert unit == "day"
    assert found == [
        ("2026-03-01", 2, 0),
        ("2026-03-02", 0, 0),
        ("2026-03-03", 0, 0),
        ("2026-03-04", 1, 1),
    ]
    unit, found = buckets(Counter({"2026-01-01": 1, "2026-06-30": 3}), Counter())
    assert unit == "week"
    assert found[0] == ("2025-12-29", 1, 0)  # the Monday of its week
    assert found[-1] == ("2026-06-29", 3, 0)
    assert len(found) == 27
    unit, found = buckets(Counter({"2020-01-31": 1, "2026-03-01": 1}), Counter())
    assert unit == "month"
    assert len(found) == 6 * 12 + 3
    unit, found = buckets(Counter({"1970-01-01": 1, "2026-03-01": 1, NO_TIMESTAMP: 4}), Counter())
    assert unit == "year"
    assert [label for label, _, _ in found][:2] == ["1970", "1971"]
    assert len(found) == 57
    assert buckets(Counter({NO_TIMESTAMP: 3}), Counter()) == ("day", [])


@pytest.mark.parametrize(
    ("days", "unit", "count"),
    [
        (["9999-12-31"], "day", 1),
        (["9999-12-01", "9999-12-31"], "day", 31),
        (["9999-01-01", "9999-12-31"], "week", 53),
        (["9995-01-01", "9999-12-31"], "month", 60),
        (["0001-01-01", "9999-12-31"], "year", 9999),
    ],
)
def test_buckets_reach_the_last_day_there_is(days: list[str], unit: str, count: int) -> None:
    found_unit, found = buckets(Counter(dict.fromkeys(days, 1)), Counter())
    assert (found_unit, len(found)) == (unit, count)
    assert sum(ev for _, ev, _ in found) == len(days)


def test_rate_buckets_spread_what_each_sample_saw_finish() -> None:
    width, found = rate_buckets([(0.0, 0), (0.5, 5), (1.2, 12), (2.9, 20)])
    assert width == 0.1
    assert sum(calls for _, calls in found) == 20
    assert found[5] == (0.5, 5)
    width, found = rate_buckets([(0.0, 0), (300.0, 3000)])
    assert width == 5
    assert len(found) == 60
    assert found[-1] == (295.0, 3000)
    assert rate_buckets([(0.0, 0), (1.0, 0)]) == (1.0, [])
    assert rate_buckets([]) == (1.0, [])


def _data(**run: object) -> ReportData:
    info = {
        "command": "validate",
        "command_line": "fbcli validate e.jsonl",
        "version": "9.9",
        "started": "2026-03-01T00:00:00+00:00",
        "mapping_path": "m.yaml",
        "mapping_text": "version: 1\n",
    } | run
    return ReportData(RunInfo(**info), PlanTally(), ReportCollector())  # type: ignore[arg-type]


def test_every_text_is_escaped_and_secrets_hidden() -> None:
    secret = "a-registered-secret-value-0123456789"
    hide(secret)
    page_html = render_html(
        _data(
            command_line=f"fbcli validate {PAYLOADS[1]} {secret}",
            mapping_path=PAYLOADS[0],
            mapping_text="\n".join(PAYLOADS) + "\n# \u202e reversed",
        )
    )
    page = read_page(page_html)
    assert "script" not in page.tags
    assert "img" not in page.tags
    assert not [a for a in page.attributes if a[1].startswith("on")]
    assert secret not in page_html
    assert "&lt;hidden&gt;" in page_html
    assert "\u202e" not in page_html
    assert PAYLOADS[3] in page.ids["mapping"]
    assert page.title == "fbcli validate report"


def test_a_mapping_file_with_crlf_line_ends_shows_as_its_lines() -> None:
    page = read_page(render_html(_data(mapping_text="version: 1\r\nmode: cloud\r\n# a\rb\r\n")))
    assert "version: 1\nmode: cloud\n# a\\rb\n" in page.ids["mapping"]  # a lone CR escaped


def test_the_page_has_no_script_and_loads_nothing() -> None:
    page_html = render_html(_data(mapping_text=None))
    page = read_page(page_html)
    assert "script" not in page.tags
    assert not [a for a in page.attributes if a[1] in {"src", "href"}]
    assert "http://" not in page_html.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert "https://" not in page_html
    csp = [v for tag, name, v in page.attributes if tag == "meta" and name == "content"]
    assert any("default-src 'none'" in (v or "") for v in csp)
    assert "The built-in mapping" in page.ids["mapping"]


def test_causes_show_their_example_and_hint_escaped_and_stop_at_a_limit() -> None:
    data = _data()
    book = data.collected.causes
    for line in range(1, 203):
        book.add(LineError("e.jsonl", line, f"{PAYLOADS[line % len(PAYLOADS)]} #{line}"))
    for entry in book.entries.values():
        entry.example, entry.hint = PAYLOADS[1], PAYLOADS[0]
    page_html = render_html(data)
    page = read_page(page_html)
    assert "script" not in page.tags
    assert "img" not in page.tags
    assert not [a for a in page.attributes if a[1].startswith("on")]
    assert PAYLOADS[1] in page.ids["causes"]  # the example, shown as text
    assert "e.g. <code" in page_html
    assert "2 more causes (2 records) not listed." in page.ids["causes"]
