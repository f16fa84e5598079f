"""``fbcli diff``: changes per subscription, with exact counts and a few examples; JSON.

The view is printed once the input is read (the counts come first in each
group), but only ``examples`` events per subscription are kept, so memory
stays bounded.  Event data is always literal text with control characters
escaped.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import IO, Any, Final

from rich.console import Console
from rich.padding import Padding
from rich.text import Text

from fbcli.diff import (
    CALL_CHANGE_KINDS,
    CallDiff,
    DiffTally,
    EventDiff,
    FieldChange,
    SubscriptionCounts,
)
from fbcli.mappings import MappingConfig
from fbcli.plan import PlannedCall, Rejection
from fbcli.report import format_value, key_fields, literal, safe
from fbcli.text import plural
from fbcli.validation import Violation

MAX_FIELDS: Final = 12
"""Field changes listed per call; the rest are counted."""
VALUE_CHARS: Final = 48
"""Longest value shown in a field change."""
_STYLES: Final = {
    "changed": "yellow",
    "added": "green",
    "removed": "red",
    "unchanged": "dim",
    "planned": "green",
    "invalid": "bold red",
    "unmatched": "yellow",
}
_INDENT: Final = 6


def _indented(text: Text, indent: int) -> Padding:
    return Padding(text, (0, 0, 0, indent), expand=False)


def field_change_text(change: FieldChange) -> Text:
    """``amount: 45.97 → 50.97``, ``+couponCode: "X"``, ``-additionalProperties.name``."""
    path = safe(change.dotted)
    kind = change.kind
    if kind == "added":
        return Text(f"+{path}: {format_value(change.new, VALUE_CHARS)}", style=_STYLES["added"])
    if kind == "removed":
        return Text(f"-{path}", style=_STYLES["removed"])
    return Text(
        f"{path}: {format_value(change.old, VALUE_CHARS)} → {format_value(change.new, VALUE_CHARS)}"
    )


def _violations(violations: Iterable[Violation], mark: str, style: str) -> list[Text]:
    return [Text(f"{mark} {safe(v.describe())}", style=style) for v in violations]


def _key_fields(call: PlannedCall) -> Text:
    return Text(key_fields(call.body).replace("\n", " "), style="dim")


def _headline(call: CallDiff) -> Text:
    old, new = call.old, call.new
    if new is None:
        assert old is not None
        return Text(f"removed (was {old.status})", style=_STYLES["removed"])
    if old is None:
        return Text(f"added ({new.status})", style=_STYLES["added"])
    if old.status != new.status:
        return Text(f"{old.status} → {new.status}", style=_STYLES[new.status])
    if isinstance(new, Rejection):
        return Text("still invalid, other errors", style=_STYLES["invalid"])
    return Text("changed", style=_STYLES["changed"])


def call_details(call: CallDiff) -> list[Text]:
    """The lines under a changed call: what was added, removed or changed in it."""
    old, new = call.old, call.new
    lines: list[Text] = []
    if old is not None and new is not None and old.action != new.action:
        lines.append(Text(f"action: {old.action} → {new.action}"))
    targets = call.targets
    if targets is not None:
        lines.append(Text(safe(f"call: {targets[0]} → {targets[1]}")))
    if old is not None and new is not None:
        before = old.errors if isinstance(old, Rejection) else ()
        after = new.errors if isinstance(new, Rejection) else ()
        lines += _violations([v for v in before if v not in after], "-✗", "red")
        lines += _violations([v for v in after if v not in before], "+✗", "bold red")
        if isinstance(new, PlannedCall) and isinstance(old, Rejection):
            lines.append(_key_fields(new))
    else:
        call_now = new or old
        if isinstance(call_now, PlannedCall):
            lines.append(_key_fields(call_now))
        else:
            assert call_now is not None
            lines += _violations(call_now.errors, "✗", "red")
    shown = call.fields[:MAX_FIELDS]
    lines += [field_change_text(c) for c in shown]
    if len(call.fields) > len(shown):
        lines.append(Text(f"… {len(call.fields) - len(shown)} more fields", style="dim"))
    return lines


def _where(diff: EventDiff) -> Text:
    event = diff.event
    text = literal(f"{event.source}:{event.at}", "bold")
    if event.message_id is not None:
        text.append(" · ")
        text.append(literal(event.message_id))
    return text


def counts_text(counts: SubscriptionCounts) -> Text:
    """``Purchases (was Orders) → trackPurchase: 2 changed · 1 added · 5 unchanged``."""
    text = literal(counts.name, "bold")
    if counts.previous_name is not None:
        text.append(safe(f" (was {counts.previous_name})"), style="dim")
    text.append(f" → {counts.action}: ")
    parts = [(k, counts.counts[k]) for k in CALL_CHANGE_KINDS if counts.counts[k]]
    for i, (kind, count) in enumerate(parts):
        if i:
            text.append(" · ")
        text.append(f"{count} {kind}", style=_STYLES[kind])
    return text


def _title(old: MappingConfig, new: MappingConfig) -> Text:
    text = Text(safe(f"{old.path} → {new.path}"), style="bold")
    if old.mode != new.mode:
        text.append(f" · {old.mode} → {new.mode} mode")
    return text


def summary_text(tally: DiffTally) -> Text:
    """The last lines: exact counts of calls and events, or that nothing differs."""
    calls = tally.calls
    malformed = (
        f" · {plural(tally.malformed, 'malformed line')} (not compared)" if tally.malformed else ""
    )
    if not tally.differs:
        text = Text(
            f"No differences: {plural(tally.events, 'event')} give the same "
            f"{plural(calls['unchanged'], 'call')} under both mapping files",
            style="bold",
        )
        return text.append(f"\n{malformed[3:]}" if malformed else "")
    text = Text("Calls: ", style="bold")
    for i, kind in enumerate(CALL_CHANGE_KINDS):
        if i:
            text.append(", ")
        text.append(f"{calls[kind]} {kind}", style=_STYLES[kind] if calls[kind] else "dim")
    text.append("\nEvents: ", style="bold")
    text.append(f"{tally.events} · {tally.events_changed_status} changed status{malformed}")
    return text


def render_diff(
    console: Console,
    diffs: Iterable[EventDiff],
    tally: DiffTally,
    *,
    old: MappingConfig,
    new: MappingConfig,
    examples: int = 10,
) -> None:
    """Per subscription: exact counts, then up to ``examples`` changed events; then statuses."""
    shown: dict[str, list[tuple[EventDiff, CallDiff]]] = {}
    status_examples: list[EventDiff] = []
    for diff in diffs:
        for call in diff.changes:
            listed = shown.setdefault(call.subscription, [])
            if len(listed) < examples:
                listed.append((diff, call))
        if diff.status_changed and len(status_examples) < examples:
            status_examples.append(diff)
    console.print(_title(old, new))
    spaced = True
    for name, counts in tally.subscriptions.items():
        if not counts.counts.total():
            continue
        listed = shown.get(name, [])
        if listed or spaced:
            console.print()
        spaced = bool(listed)
        console.print(counts_text(counts))
        for diff, call in listed:
            console.print(_indented(_where(diff) + Text(" · ") + _headline(call), 2))
            for line in call_details(call):
                console.print(_indented(line, _INDENT))
        more = counts.counts.total() - counts.counts["unchanged"] - len(listed)
        if more:
            console.print(_indented(Text(f"… {more} more", style="dim"), 2))
    if tally.status_changes:
        console.print()
        heading = Text(f"Status changes: {plural(tally.events_changed_status, 'event')} (")
        for i, ((before, after), count) in enumerate(tally.status_changes.most_common()):
            if i:
                heading.append(" · ")
            heading.append(f"{before} → {after}: {count}")
        heading.append(")")
        heading.stylize("bold")
        console.print(heading)
        for diff in status_examples:
            line = _where(diff) + Text(" · ")
            line.append(f"{diff.old_status} → {diff.new_status}", style=_STYLES[diff.new_status])
            console.print(_indented(line, 2))
        more = tally.events_changed_status - len(status_examples)
        if more:
            console.print(_indented(Text(f"… {more} more", style="dim"), 2))
    console.print()
    console.print(summary_text(tally))


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, allow_nan=False, separators=(",", ":"))


def write_diff_json(stream: IO[str], diffs: Iterable[EventDiff], tally: DiffTally) -> None:
    """``diff --format json``: one object, ``changes`` streamed (one per line), ``summary`` last.

    Written as the events are read, so memory stays flat; the summary comes
    last because its counts are only known at the end.
    """
    stream.write('{"changes":[')
    separator = "\n"
    for diff in diffs:
        stream.write(separator + _dumps(diff.to_dict()))
        separator = ",\n"
    stream.write('\n],"summary":' + _dumps(tally.to_dict()) + "}\n")
