"""ISO-8601 instants in command-line triggers and in --since/--until (``fbcli.triggers``,
``fbcli.plan``); mapping-file triggers keep the destination's rules."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from fbcli.errors import ConfigError
from fbcli.plan import PlanFilter, event_time
from fbcli.triggers import compile_option, compile_trigger, parse_instant, parse_trigger


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-01-31", datetime(2026, 1, 31, tzinfo=UTC)),
        ("2026-01-31T12:00:00Z", datetime(2026, 1, 31, 12, tzinfo=UTC)),
        ("2026-01-31T12:00:00", datetime(2026, 1, 31, 12, tzinfo=UTC)),
        (
            "2026-01-31T12:00:00.250+02:00",
            datetime(2026, 1, 31, 12, 0, 0, 250_000, tzinfo=timezone(timedelta(hours=2))),
        ),
        ("yesterday", None),
        ("2026", None),
        ("2026-13-01", None),
        (20260131, None),
        (None, None),
    ],
)
def test_parse_instant(text: object, expected: datetime | None) -> None:
    assert parse_instant(text) == expected


EVENTS: list[dict[str, Any]] = [
    {"timestamp": "2025-12-31T23:59:59Z"},
    {"timestamp": "2026-01-01T00:30:00+01:00"},  # 2025-12-31T23:30Z
    {"timestamp": "2026-01-01T00:00:00Z"},
    {"timestamp": "2026-01-02"},
    {"timestamp": "not a date"},
    {"timestamp": 1767225600},
    {},
]


def test_command_line_orderings_compare_instants() -> None:
    since = compile_option('timestamp >= "2026-01-01"', "--where")
    assert [since(e) for e in EVENTS] == [False, False, True, True, False, False, False]
    before = compile_option('not (timestamp < "2026-01-01T00:00:00Z")', "--where")
    assert [before(e) for e in EVENTS] == [False, False, True, True, True, True, True]


def test_command_line_orderings_of_other_text_are_refused() -> None:
    with pytest.raises(ConfigError) as caught:
        compile_option('userId > "abc"', "--where")
    assert str(caught.value).startswith(
        "bad trigger in --where: 'userId > \"abc\"' orders text, which only works for ISO-8601"
    )


def test_mapping_file_triggers_keep_the_destination_rules() -> None:
    # In a mapping file, ordering text never matches: the destination's semantics.
    match = compile_trigger(parse_trigger('timestamp >= "2026-01-01"'))
    assert [match(e) for e in EVENTS] == [False] * len(EVENTS)


def test_event_time_falls_back_to_the_other_times() -> None:
    assert event_time({"originalTimestamp": "2026-01-01", "sentAt": "2027-01-01"}) == datetime(
        2026, 1, 1, tzinfo=UTC
    )
    assert event_time({"timestamp": None, "receivedAt": "2026-01-02"}) == datetime(
        2026, 1, 2, tzinfo=UTC
    )
    assert event_time({"timestamp": "soon", "sentAt": "2026-01-02"}) is None
    assert event_time({}) is None


def test_since_and_until() -> None:
    chosen = PlanFilter.parse(since="2026-01-01", until="2026-01-01")
    assert chosen.since == datetime(2026, 1, 1, tzinfo=UTC)
    assert chosen.until == datetime(2026, 1, 2, tzinfo=UTC)  # a date: its whole day
    assert [chosen.keeps_time(e) for e in EVENTS] == [False, False, True, False, None, None, None]
    exact = PlanFilter.parse(until="2026-01-01T00:00:00Z")
    assert exact.until == datetime(2026, 1, 1, tzinfo=UTC)
    assert exact.keeps_time(EVENTS[2]) is False  # --until is exclusive


@pytest.mark.parametrize("option", ["since", "until"])
def test_bad_dates_are_usage_errors(option: str) -> None:
    with pytest.raises(ConfigError, match=f"--{option} must be an ISO-8601 date"):
        PlanFilter.parse(**{option: "last week"})
