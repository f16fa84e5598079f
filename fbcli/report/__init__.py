"""Everything fbcli shows: tables, summaries, messages, JSON Lines.

The only package (besides ``cli.py``) that imports rich; one module per
command that needs more than a table (``report/explain.py`` ...).  Rendering functions
take a ``Console``; event data is always wrapped in ``Text`` (never parsed as
markup) and control characters are shown escaped, so an event cannot move the
cursor, change colours or inject Rich markup.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import IO, Any, Final, cast

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from fbcli.actions import ACTIONS
from fbcli.errors import FbcliError
from fbcli.events import Event, LineError
from fbcli.jsonout import validate_summary as validate_summary
from fbcli.jsonout import write_json_lines as write_json_lines
from fbcli.jsonout import write_validate_summary as write_validate_summary
from fbcli.mappings import MappingConfig
from fbcli.plan import (
    STATUSES,
    PlannedCall,
    PlanRecord,
    PlanTally,
    Rejection,
    Unmatched,
    setup_push,
    status_of,
)
from fbcli.report.lines import Line, LineWriter
from fbcli.text import clip, plural, show_json
from fbcli.validation import Violation

_CONTROL_RE: Final = re.compile(
    r"[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]"
)
"""Control characters, and the bidirectional controls that can reorder what is shown."""
DEFAULT_WIDTH: Final = 100
_STATUS_STYLES: Final = {
    "failed": "bold red",
    "unknown": "bold yellow",
    "planned": "green",
    "invalid": "bold red",
    "unmatched": "yellow",
    "malformed": "bold red",
}
_KEY_FIELDS: Final = (
    "customerId",
    "id",
    "orderId",
    "amount",
    "currency",
    "eventType",
    "email",
    "deduplicationId",
    "name",
    "category",
)


class _Console(Console):
    """A console whose broken pipe (``| head``) ends the command quietly, not with exit 1,
    and which asks whether its file is a terminal once (rich asks at every print: a
    system call each time, thousands in a large table)."""

    _terminal_of: object = None
    _terminal: bool = False

    def on_broken_pipe(self) -> None:
        raise BrokenPipeError

    @property
    def is_terminal(self) -> bool:
        file = self.file
        if self._terminal_of is not file:
            self._terminal_of, self._terminal = file, bool(Console.is_terminal.fget(self))  # type: ignore[attr-defined]
        return self._terminal


def make_console(stream: IO[str], *, stderr: bool, no_color: bool, columns: str | None) -> Console:
    """A console for stdout or stderr: terminal width on a terminal, else ``COLUMNS`` or 100.

    Messages on stderr are never wrapped, so each stays one line.
    """
    width: int | None = None
    if not stream.isatty():
        try:
            width = int(columns or DEFAULT_WIDTH)
        except ValueError:
            width = DEFAULT_WIDTH
        if width < 40:
            width = DEFAULT_WIDTH
    return _Console(
        file=stream,
        stderr=stderr,
        width=width,
        no_color=no_color,
        highlight=False,
        soft_wrap=stderr,
        emoji=False,
    )


def safe(text: str) -> str:
    """Control characters shown as escapes (``\\x1b``), so data cannot drive the terminal."""
    return _CONTROL_RE.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), text)


def literal(text: str, style: str = "") -> Text:
    """Event text as a rich ``Text``: literal, never markup, control characters escaped."""
    return Text(safe(text), style=style)


def compact(value: Any) -> str:
    """A value as compact JSON text (strings unquoted)."""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def format_value(value: Any, limit: int) -> str:
    """A value as compact JSON, cut to ``limit`` characters, control characters escaped."""
    return safe(show_json(value, limit, mark="…", compact=True))


def event_label(data: Mapping[str, Any]) -> str:
    """``track Order Completed``, ``identify``, ``page Home``: what an event is."""
    kind = data.get("type")
    label = kind if isinstance(kind, str) else "?"
    name = data.get("event") if kind == "track" else data.get("name")
    if isinstance(name, str) and name:
        label += f" {name}"
    return clip(label, 40, "…")


_LABEL_KEYS: Final = ("type", "event", "name")
"""What ``event_label`` reads of an event: all a table row shows of its data."""


def row_record(record: PlanRecord) -> PlanRecord:
    """The record as a table row needs it: its event's data cut to what ``event_label``
    reads.  ``dry-run``'s planning workers send their records back so, a few bytes
    instead of the whole event (which no row draws)."""
    if isinstance(record, LineError):
        return record
    data = record.event.data
    shown: dict[str, Any] = {key: data[key] for key in _LABEL_KEYS if key in data}
    return replace(record, event=replace(record.event, data=shown))


def key_fields(body: Mapping[str, Any], *, separator: str = "\n") -> str:
    """The fields that identify a call, ``orderId=o1 amount=10 currency=USD``, then ``+N``."""
    flat: dict[str, Any] = dict(body)
    customer = body.get("customer")
    if isinstance(customer, dict):
        flat.update({k: v for k, v in customer.items() if k not in flat})
    shown = [f"{k}={safe(clip(compact(flat[k]), 36, '…'))}" for k in _KEY_FIELDS if k in flat]
    rest = len(body) - sum(1 for k in _KEY_FIELDS if k in body)
    if rest > 0:
        shown.append(f"+{rest} more")
    return separator.join(shown)


def _call_text(record: PlannedCall | Rejection, config: MappingConfig) -> str:
    action = ACTIONS.get(record.action)
    if config.mode == "direct":
        kind = action.direct_type if action and action.direct_type else "custom"
        if isinstance(record, PlannedCall) and record.push is not None:
            kind = str(record.push[1])
        return f"push {kind}"
    path = action.cloud_path if action else ""
    return f"POST {path}"


def _violation_lines(violations: Iterable[Violation], mark: str, style: str) -> Text:
    text = Text()
    for i, v in enumerate(violations):
        if i:
            text.append("\n")
        text.append(f"{mark} ", style=style)
        text.append(safe(v.describe()), style=style)
    return text


def _widths(width: int) -> tuple[int, int, int]:
    """Fixed widths of the Line, Event and Subscription columns for a console width."""
    line = 7 if width >= 90 else 5
    if width >= 140:
        return line, 24, 32
    if width >= 90:
        return line, 16, 25
    return line, 11, 19


def plan_table(config: MappingConfig, *, width: int, header: bool = True) -> Table:
    """An empty dry-run table; every chunk of rows uses the same fixed layout."""
    line, event, subscription = _widths(width)
    table = Table(
        box=box.SIMPLE_HEAD, pad_edge=False, expand=True, show_edge=False, show_header=header
    )
    table.add_column("Line", justify="right", width=line, overflow="fold")
    table.add_column("Event", width=event, overflow="fold")
    table.add_column("Subscription", width=subscription, overflow="fold")
    table.add_column("Key fields / problems", ratio=1, overflow="fold")
    table.add_column("Status", width=9, no_wrap=True)
    return table


def _row_cells(
    record: PlanRecord, config: MappingConfig, *, wide: bool
) -> tuple[Text, Text, Text, Text, Text]:
    """The five cells of a record's row: Line, Event, Subscription, Key fields / problems,
    Status."""
    status = status_of(record)
    status_text = Text(status, style=_STATUS_STYLES[status])
    if isinstance(record, LineError):
        where = str(record.line)
        problem = _violation_lines([Violation(None, record.message)], "✗", "red")
        return literal(where), Text("—", style="dim"), Text(""), problem, status_text
    event: Event = record.event
    location = literal(event.at)
    label = literal(event_label(event.data))
    if isinstance(record, Unmatched):
        return location, label, Text("no subscription", style="dim"), Text(""), status_text
    sub = Text(safe(record.subscription))
    sub.append(f"\n{_call_text(record, config)}", style="dim")
    return location, label, sub, _details(record, wide=wide), status_text


def _details(record: PlannedCall | Rejection, *, wide: bool) -> Text:
    """Key fields (``wide``: on one line) and warnings, or the errors."""
    details = Text()
    if isinstance(record, PlannedCall):
        details.append(key_fields(record.body, separator="  " if wide else "\n"))
        if record.warnings:
            details.append("\n")
            details.append_text(_violation_lines(record.warnings, "!", "yellow"))
    else:
        details.append_text(_violation_lines(record.errors, "✗", "red"))
    return details


def add_plan_row(table: Table, record: PlanRecord, config: MappingConfig, *, wide: bool) -> None:
    """One row per record: errors and warnings under the key fields (the file is a heading)."""
    table.add_row(*_row_cells(record, config, wide=wide))


def _draw_row(writer: LineWriter, cells: tuple[Text, ...], widths: tuple[int, ...]) -> None:
    """A row as ``plan_table`` draws it: the cells side by side, three spaces apart
    (padding, divider, padding), each column exactly its width."""
    line, event, subscription, details, status = cells
    drawn = [
        writer.cell(line, widths[0], right=True),
        writer.cell(event, widths[1]),
        writer.cell(subscription, widths[2]),
        writer.cell(details, widths[3]),
        writer.cell(status, widths[4], no_wrap=True),
    ]
    height = max(len(column) for column in drawn)
    for column, width in zip(drawn, widths, strict=True):
        column.extend([" " * width] * (height - len(column)))
    if writer.plain:  # the lines are text: joined at once
        rows = zip(*cast("list[list[str]]", drawn), strict=True)
        writer.add_text("\n".join("   ".join(row) for row in rows))
        return
    for row in zip(*drawn, strict=True):
        parts: list[Line] = []
        for part in row:
            if parts:
                parts.append("   ")
            parts.append(part)
        writer.add(parts)


NARROW: Final = 80
"""Below this width each record is a block of labelled lines, not a table row."""
_LABEL: Final = 12
"""The width of the stacked layout's labels (``subscription``)."""


def _draw_block(writer: LineWriter, record: PlanRecord, config: MappingConfig) -> None:
    """A record as a block of labelled lines, for terminals too narrow for the table::

    line 5                                              invalid
      event         track Order Completed
      subscription  Purchases
      call          POST /v1/event/purchase
      ✗ required field 'currency' is missing — mapped from
        $.properties.currency
    """
    width = writer.width
    status = status_of(record)
    number = record.line if isinstance(record, LineError) else record.event.line
    head = f"line {number}"
    gap = max(1, width - len(head) - len(status))
    writer.add(
        [
            writer.cell(Text(head, style="bold"), len(head))[0],
            " " * gap,
            writer.cell(Text(status, style=_STATUS_STYLES[status]), len(status))[0],
        ],
        strip=True,
    )
    if isinstance(record, LineError):
        _draw_marked(writer, [Violation(None, record.message)], "✗", "red")
        return
    _draw_labelled(writer, "event", literal(event_label(record.event.data)))
    if isinstance(record, Unmatched):
        _draw_labelled(writer, "subscription", Text("none", style="dim"))
        return
    _draw_labelled(writer, "subscription", literal(record.subscription))
    _draw_labelled(writer, "call", Text(_call_text(record, config), style="dim"))
    if isinstance(record, PlannedCall):
        _draw_labelled(writer, "key fields", Text(key_fields(record.body, separator="  ")))
        _draw_marked(writer, record.warnings, "!", "yellow")
    else:
        _draw_marked(writer, record.errors, "✗", "red")


def _draw_labelled(writer: LineWriter, label: str, value: Text) -> None:
    """``  label         value``, the value wrapped under itself; below 40 columns the
    value goes under the label."""
    width = writer.width
    if width < 40:
        writer.add([f"  {label}"], strip=True)
        indent, lines = "    ", writer.cell(value, width - 4)
    else:
        indent = " " * (_LABEL + 4)
        lines = writer.cell(value, width - len(indent))
        writer.add([f"  {label:<{_LABEL}}  ", lines.pop(0)], strip=True)
    for line in lines:
        writer.add([indent, line], strip=True)


def _draw_marked(
    writer: LineWriter, violations: Iterable[Violation], mark: str, style: str
) -> None:
    """``  ✗ message``, the message wrapped under itself."""
    width = writer.width
    for violation in violations:
        lines = writer.cell(Text(safe(violation.describe()), style=style), max(1, width - 4))
        writer.add(["  ", writer.cell(Text(f"{mark} ", style=style), 2)[0], lines[0]], strip=True)
        for line in lines[1:]:
            writer.add(["    ", line], strip=True)


def file_problem(error: LineError) -> Text:
    """``✗ events.jsonl: no such file`` (malformed): an input that could not be read at all."""
    text = Text("✗ ", style="red")
    text.append(safe(f"{error.source}: {error.message}"), style="red")
    text.append(" (malformed)", style=_STATUS_STYLES["malformed"])
    return text


def summary_text(tally: PlanTally) -> Text:
    """``16 events: 7 calls planned, 5 invalid · 2 events unmatched · 2 lines malformed``.

    Calls are counted per matching subscription, so an event can give several.
    """
    text = Text(f"{plural(tally.events, 'event')}: ", style="bold")
    planned, invalid = tally.count("planned"), tally.count("invalid")
    parts = [
        (f"{plural(planned, 'call')} planned", "green"),
        (f"{invalid} invalid", _STATUS_STYLES["invalid"]),
        (f"{plural(tally.count('unmatched'), 'event')} unmatched", "yellow"),
        (f"{plural(tally.count('malformed'), 'line')} malformed", _STATUS_STYLES["malformed"]),
    ]
    shown = [(p, style) for i, (p, style) in enumerate(parts) if i == 0 or not p.startswith("0 ")]
    for i, (part, style) in enumerate(shown):
        if i:
            text.append(", " if part.endswith("invalid") else " · ")
        text.append(part, style=style if not part.startswith("0 ") else "dim")
    for action, counts in tally.by_action.items():
        detail = ", ".join(f"{counts[s]} {s}" for s in STATUSES if counts[s])
        text.append(f" · {action} {detail}", style="dim")
    if tally.stopped:
        text.append(f" ({tally.stopped})", style="yellow")
    return text


def title_for(config: MappingConfig, base_url: str) -> str:
    """The table title: the mapping file, the mode, where calls would go."""
    where = base_url if config.mode == "cloud" else "friendbuyAPI.push"
    title = safe(f"{config.path} · {config.mode} mode · {where}")
    setup = setup_push(config)
    if setup is not None:
        title += "\n" + safe(f"setup: friendbuyAPI.push({json.dumps(setup)})")
    return title


def render_plan(
    console: Console,
    records: Iterable[PlanRecord],
    tally: PlanTally,
    config: MappingConfig,
    *,
    base_url: str,
    sources: int,
    chunk: int = 100,
    max_rows: int | None = None,
) -> None:
    """Print the dry-run (or validate) table as records arrive, then the summary line.

    Rows are printed in chunks with one fixed layout, so memory stays flat and
    output starts at once, however large the input; they are drawn line by line
    (``report.lines``), with the characters ``plan_table`` would draw.  Below
    ``NARROW`` columns each record is a block of labelled lines instead.  With
    ``max_rows``, rows after that many are counted, not drawn (the summary still
    counts all).
    """
    console.print(Text(title_for(config, base_url), style="bold"))
    width = console.width
    stacked = width < NARROW
    line, event, subscription = _widths(width)
    widths = (line, event, subscription, width - line - event - subscription - 21, 9)
    wide = width >= 140
    writer = LineWriter(console)
    header = not stacked
    drawn = hidden = pending = 0
    shown_source: str | None = None

    def flush() -> None:
        nonlocal pending
        writer.flush()
        pending = 0

    for record in records:
        if max_rows is not None and drawn >= max_rows:
            hidden += 1
            continue
        drawn += 1
        # File names go on lines of their own, never folded into a narrow cell: a whole
        # file's problem (missing, unreadable), and with several inputs a heading per file.
        if isinstance(record, LineError) and not record.line:
            flush()
            console.print(file_problem(record), soft_wrap=True)
            continue
        source = record.source if isinstance(record, LineError) else record.event.source
        if sources > 1 and source != shown_source:
            flush()
            heading = "- (standard input)" if source == "-" else source
            console.print(Text(safe(heading), style="bold"), soft_wrap=True)
            shown_source = source
        if header:  # the column headings (and their rule) once, above the first row
            console.print(plan_table(config, width=width))
            header = False
        if stacked:
            _draw_block(writer, record, config)
        else:
            _draw_row(writer, _row_cells(record, config, wide=wide), widths)
        pending += 1
        if pending >= chunk:
            flush()
    flush()
    if hidden:
        console.print(
            Text(
                f"… {hidden} more rows not shown (--show-all to draw them, "
                "or --format json for a summary with every problem)",
                style="yellow",
            )
        )
    console.print(summary_text(tally))


def print_error(console: Console, error: FbcliError | str, *, hint: str | None = None) -> None:
    """``Error: <what> (<where>)`` and an optional ``Hint:`` line, on the given console."""
    console.print(Text("Error: ", style="bold red") + Text(safe(str(error))))
    hint = hint or (error.hint if isinstance(error, FbcliError) else None)
    if hint:
        console.print(Text("Hint: ", style="bold") + Text(safe(hint)))


def print_note(console: Console, message: str) -> None:
    """A plain line (never markup) on the given console."""
    console.print(Text(safe(message)))


def print_warning(console: Console, message: str) -> None:
    """``Warning: <message>`` on the given console."""
    console.print(Text("Warning: ", style="bold yellow") + Text(safe(message)))
