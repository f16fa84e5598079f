"""``fbcli explain`` as a Rich tree: the event, the triggers, each call's fields, the request.

The verdict comes first in each matched subscription (its errors, each with
its source path and a hint), so the cause of a rejection is on the first
screen; the field-by-field account and the final request follow.  Event data
is always literal text (``literal``/``safe``), never markup.
"""

from __future__ import annotations

import json
from typing import Any, Final

from rich.console import Console
from rich.text import Text
from rich.tree import Tree

from fbcli.events import LineError
from fbcli.explain import (
    Explanation,
    FieldTrace,
    Landing,
    Problem,
    SubscriptionTrace,
    TriggerCheck,
)
from fbcli.plan import PlannedCall
from fbcli.report import event_label, format_value, literal, safe
from fbcli.text import plural
from fbcli.values import MISSING

_STYLES: Final = {
    "planned": "green",
    "invalid": "bold red",
    "unmatched": "yellow",
    "malformed": "bold red",
}
MAX_EVENT_KEYS: Final = 12
"""Top-level keys of the event shown (one line each, cut to the width)."""
VALUE_CHARS: Final = 60
"""Longest value shown in a field's line, as compact JSON."""


def _one_line(text: str, style: str = "") -> Text:
    return Text(safe(text), style=style, no_wrap=True, overflow="ellipsis")


def _verdict(explanation: Explanation) -> str:
    calls = explanation.calls
    if not calls:
        return "no enabled subscription's trigger matches (not an error)"
    rejected = sum(1 for c in calls if not isinstance(c, PlannedCall))
    count = f"{len(calls)} call" + ("s" if len(calls) > 1 else "")
    if rejected:
        return f"{rejected} of {count} rejected, not sent (✗ below)"
    return f"{count} planned"


def _lines(text: str, style: str = "") -> Text:
    """Multi-line event text, each line made safe (``safe`` would escape the newlines)."""
    return Text("\n").join(literal(line, style) for line in text.split("\n"))


def render_explanation(console: Console, explanation: Explanation) -> None:
    """Print the explanation as one tree."""
    console.print(explanation_tree(explanation))


def explanation_tree(explanation: Explanation) -> Tree:
    """The tree ``render_explanation`` prints."""
    event = explanation.event
    status = explanation.status
    header = Text(safe(f"{event.source} line {event.at}"), style="bold")
    if event.message_id is not None:
        header.append(safe(f" · {event.message_id}"))
    header.append(safe(f" · {event_label(event.data)}"))
    where = explanation.base_url if explanation.mode == "cloud" else "friendbuyAPI.push"
    header.append("\n")
    header.append(safe(f"{explanation.mappings} · {explanation.mode} mode · {where}"), style="dim")
    if explanation.setup is not None:
        setup = json.dumps(list(explanation.setup), ensure_ascii=False)
        header.append("\n")
        header.append(safe(f"setup: friendbuyAPI.push({setup})"), style="dim")
    header.append("\n→ ")
    header.append(status, style=_STYLES[status])
    header.append(f": {_verdict(explanation)}")
    tree = Tree(header, guide_style="dim")
    _add_event(tree, event.data)
    _add_triggers(tree, explanation)
    for trace in explanation.subscriptions:
        if trace.applied:
            _add_call(tree, trace, explanation.mappings)
    return tree


def _add_event(tree: Tree, data: dict[str, Any]) -> None:
    node = tree.add(Text("event (abridged)", style="bold"))
    keys = list(data)
    for key in keys[:MAX_EVENT_KEYS]:
        node.add(_one_line(f"{key}: {format_value(data[key], 400)}"))
    if len(keys) > MAX_EVENT_KEYS:
        node.add(Text(f"… {plural(len(keys) - MAX_EVENT_KEYS, 'more key')}", style="dim"))


def _mark(ok: bool) -> Text:
    return Text("✓ ", style="green") if ok else Text("✗ ", style="red")


def _add_triggers(tree: Tree, explanation: Explanation) -> None:
    count = len(explanation.subscriptions)
    node = tree.add(Text(f"triggers ({count} subscriptions, in file order)", style="bold"))
    for trace in explanation.subscriptions:
        label = Text()
        if not trace.enabled:
            label.append("○ ", style="dim")
        else:
            label.append_text(_mark(trace.matched))
        label.append(safe(trace.name), style="bold")
        label.append(safe(f" → {trace.action}"))
        if trace.line is not None:
            label.append(f"  line {trace.line}", style="dim")
        if not trace.enabled:
            would = "would match" if trace.matched else "would not match"
            label.append(f": disabled, not applied ({would})", style="dim")
            node.add(label)
            continue
        sub = node.add(label)
        for check in trace.checks:
            sub.add(_check_text(check))


def _check_text(check: TriggerCheck) -> Text:
    text = _mark(check.result)
    text.append(safe(check.test))
    actual = "is missing" if check.actual is MISSING else f"is {format_value(check.actual, 40)}"
    text.append(safe(f"  ({check.path} {actual}"), style="dim")
    if check.hint:
        text.append(": ", style="dim")
        text.append(safe(check.hint), style="yellow")
    text.append(")", style="dim")
    return text


def _add_call(tree: Tree, trace: SubscriptionTrace, mappings: str) -> None:
    call = trace.call
    planned = isinstance(call, PlannedCall)
    label = _mark(planned)
    label.append(safe(trace.name), style="bold")
    label.append(safe(f" → {trace.action}: "))
    label.append(
        "planned" if planned else "invalid", style=_STYLES["planned" if planned else "invalid"]
    )
    node = tree.add(label)
    for problem in trace.errors:
        node.add(_problem_text(problem, "✗ ", "red"))
    for warning in trace.warnings:
        node.add(_problem_text(warning, "! ", "yellow"))
    _add_fields(node, trace, mappings)
    _add_request(node, trace)


def _problem_text(problem: Problem, mark: str, style: str) -> Text:
    text = Text(mark, style=style)
    text.append(safe(problem.message), style=style)
    if problem.source:
        text.append(safe(f" — mapped from {problem.source}"))
    if problem.hint:
        text.append("\n")
        text.append("hint: ", style="bold yellow")
        text.append(safe(problem.hint), style="yellow")
    return text


def _add_fields(node: Tree, trace: SubscriptionTrace, mappings: str) -> None:
    failed = {(p.field or "").partition("/")[0] for p in trace.errors}
    shown = [f for f in trace.fields if f.raw is not MISSING]
    fields = node.add(
        Text(f"fields ({len(shown)} of {len(trace.fields)} with a value)", style="bold")
    )
    for f in shown:
        field_node = fields.add(_field_text(f, failed, mappings))
        for member in f.members:
            text = Text(safe(f"{member.key}: {format_value(member.value, 40)} → "))
            text.append_text(_landing_text(member.landing, member.value, member.sent))
            field_node.add(text)
    groups = (
        ("nothing in the event", lambda f: f.origin in ("default", "file")),
        ("unmapped", lambda f: f.origin == "unmapped"),
        ("not sent in this mode", lambda f: f.origin == "other mode"),
    )
    for title, wanted in groups:
        names = [f for f in trace.fields if f.raw is MISSING and wanted(f)]
        if names:
            text = Text(f"{title}: ", style="dim")
            for i, f in enumerate(names):
                if i:
                    text.append(", ", style="dim")
                text.append(safe(f.field), style="red" if f.field in failed else "dim")
            fields.add(text)


def _mapping_text(f: FieldTrace) -> str:
    mapping = f.mapping
    if isinstance(mapping, dict) and list(mapping) == ["@path"] and f.sources:
        return f.sources[0]
    if isinstance(mapping, dict) and len(mapping) == 1 and str(next(iter(mapping))).startswith("@"):
        directive = next(iter(mapping))
        reads = ", ".join(f.sources)
        return (
            f"{directive} {reads}"
            if reads
            else f"{directive} {format_value(mapping[directive], 40)}"
        )
    return f"constant {format_value(mapping, 40)}"


def _field_text(f: FieldTrace, failed: set[str], mappings: str) -> Text:
    text = _mark(False) if f.field in failed else Text()
    text.append(safe(f.field), style="bold")
    text.append(safe(f" ← {_mapping_text(f)}"))
    origin = "default" if f.origin == "default" else f"{mappings}:{f.line}"
    text.append(safe(f" ({origin})"), style="dim")
    text.append("\n  ")
    text.append(format_value(f.raw, VALUE_CHARS))
    if f.value is not MISSING and format_value(f.value, VALUE_CHARS) != format_value(
        f.raw, VALUE_CHARS
    ):
        text.append(" → ")
        text.append(format_value(f.value, VALUE_CHARS))
    text.append(" → ")
    text.append_text(_landing_text(f.landing or Landing(None), f.value, f.sent))
    return text


def _landing_text(landing: Landing, value: Any, sent: Any) -> Text:
    style = "cyan" if landing.target is not None else "dim"
    text = Text(safe(landing.describe()), style=style)
    if sent is not MISSING and format_value(sent, VALUE_CHARS) != format_value(value, VALUE_CHARS):
        text.append(safe(f" = {format_value(sent, VALUE_CHARS)}"))
    return text


def _add_request(node: Tree, trace: SubscriptionTrace) -> None:
    call = trace.call
    if not isinstance(call, PlannedCall):
        node.add(Text("request: none (the event is invalid: nothing is sent)", style="dim"))
        return
    if call.push is not None:
        head = ", ".join(json.dumps(p, ensure_ascii=False) for p in call.push[:2])
        tail = ", true" if len(call.push) > 3 else ""
        label = literal(f"push: friendbuyAPI.push([{head}, <payload>{tail}])", style="bold")
    else:
        label = literal(f"request: {call.method} {call.url}", style="bold")
    request = node.add(label)
    request.add(_lines(json.dumps(call.body, ensure_ascii=False, indent=2)))


def render_line_error(console: Console, error: LineError) -> None:
    """A malformed line: where it is and why it cannot be read."""
    header = Text(safe(f"{error.source} line {error.line}"), style="bold")
    header.append(" → ")
    header.append("malformed", style=_STYLES["malformed"])
    header.append(": the line is not an event, so no trigger or mapping is applied")
    tree = Tree(header, guide_style="dim")
    tree.add(Text("✗ ", style="red") + literal(error.message, style="red"))
    console.print(tree)
