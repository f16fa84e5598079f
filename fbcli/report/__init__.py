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
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Final

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
from fbcli.text import clip, plural, show_json
from fbcli.validation import Violation

if TYPE_CHECKING:
    from rich.progress import Progress, TaskID

    from fbcli.replay import ReplaySummary

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
    """A console whose broken pipe (``| head``) ends the command quietly, not with exit 1."""

    def on_broken_pipe(self) -> None:
        raise BrokenPipeError


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


def add_plan_row(table: Table, record: PlanRecord, config: MappingConfig, *, wide: bool) -> None:
    """One row per record: errors and warnings under the key fields (the file is a heading)."""
    status = status_of(record)
    status_text = Text(status, style=_STATUS_STYLES[status])
    if isinstance(record, LineError):
        where = str(record.line)
        problem = _violation_lines([Violation(None, record.message)], "✗", "red")
        table.add_row(literal(where), Text("—", style="dim"), "", problem, status_text)
        return
    event: Event = record.event
    location = literal(str(event.line))
    label = literal(event_label(event.data))
    if isinstance(record, Unmatched):
        table.add_row(location, label, Text("no subscription", style="dim"), "", status_text)
        return
    sub = Text(safe(record.subscription))
    sub.append(f"\n{_call_text(record, config)}", style="dim")
    details = Text()
    if isinstance(record, PlannedCall):
        details.append(key_fields(record.body, separator="  " if wide else "\n"))
        if record.warnings:
            details.append("\n")
            details.append_text(_violation_lines(record.warnings, "!", "yellow"))
    else:
        details.append_text(_violation_lines(record.errors, "✗", "red"))
    table.add_row(location, label, sub, details, status_text)


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
    output starts at once, however large the input.  With ``max_rows``, rows
    after that many are counted, not drawn (the summary still counts all).
    """
    console.print(Text(title_for(config, base_url), style="bold"))
    header = True
    table = plan_table(config, width=console.width)
    wide = console.width >= 140
    drawn = hidden = 0
    shown_source: str | None = None

    def flush() -> None:
        nonlocal table, header
        if table.row_count:
            console.print(table)
            header = False
            table = plan_table(config, width=console.width, header=header)

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
        add_plan_row(table, record, config, wide=wide)
        if table.row_count >= chunk:
            flush()
    if table.row_count:
        console.print(table)
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


# -- replay ----------------------------------------------------------------------------


def rate_text(rate: float) -> str:
    """A rate with two decimals at most (two digits below 1): ``20.98``, ``10``, ``0.0005``."""
    text = f"{rate:.2f}" if rate >= 1 else f"{rate:.2g}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def _eta(seconds: float) -> str:
    seconds = max(0, int(seconds))
    if seconds >= 3600:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
    if seconds >= 60:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds}s"


class ReplayProgress:
    """Progress on stderr: a Rich bar on a terminal, a plain line every few seconds otherwise."""

    def __init__(
        self,
        console: Console,
        total: int,
        *,
        interval: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.console = console
        self.total = total
        self.interval = interval
        self.clock = clock
        self._last = clock()
        self._shown = -1
        self._progress: Progress | None = None
        self._task: TaskID | None = None

    def __enter__(self) -> ReplayProgress:
        if self.console.is_terminal:
            # Only a replay on a terminal draws a bar: other commands never import it.
            from rich.progress import (  # noqa: PLC0415
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeRemainingColumn,
            )

            self._progress = Progress(
                TextColumn("replay"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[detail]}"),
                TimeRemainingColumn(),
                console=self.console,
                transient=True,
            )
            self._progress.start()
            self._task = self._progress.add_task("replay", total=self.total, detail="")
        return self

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            self._progress.stop()

    def update(self, summary: ReplaySummary) -> None:
        """Show the summary's counts (rate limited to one plain line per ``interval``)."""
        completed = summary.done + summary.skipped_already_sent + summary.skipped_unknown
        completed += summary.skipped_not_failed
        detail = (
            f"sent {summary.sent} · failed {summary.failed} · unknown {summary.unknown} · "
            f"retries {summary.retries} · {summary.achieved_rate:.1f}/s "
            f"(limit {rate_text(summary.current_rate)}/s)"
        )
        if self._progress is not None and self._task is not None:
            self._progress.update(self._task, completed=completed, detail=detail)
            return
        now = self.clock()
        if completed == self._shown or (
            now - self._last < self.interval and completed < self.total
        ):
            return
        self._last = now
        self._shown = completed
        rate = summary.achieved_rate
        eta = _eta((self.total - completed) / rate) if rate > 0 else "?"
        self.console.print(Text(f"replay: {completed}/{self.total} · {detail} · ETA {eta}"))


def render_replay_summary(
    console: Console, summary: ReplaySummary, *, target: str, ledger: Path | None = None
) -> None:
    """The final summary: counts, then the calls that failed or whose outcome is unknown."""
    console.print(Text(safe(f"replay to {target}"), style="bold"))
    if ledger is not None:
        console.print(Text(safe(f"ledger {ledger}"), style="dim"), soft_wrap=True)
    table = Table(box=box.SIMPLE_HEAD)
    table.add_column("outcome")
    table.add_column("calls", justify="right")
    rows = [
        ("sent", summary.sent, "green"),
        ("skipped (already sent)", summary.skipped_already_sent, "dim"),
        ("skipped (outcome unknown earlier)", summary.skipped_unknown, "yellow"),
        ("skipped (not failed before)", summary.skipped_not_failed, "dim"),
        ("failed", summary.failed, "bold red"),
        ("unknown (may have arrived)", summary.unknown, "bold yellow"),
        ("invalid events (not sent)", summary.invalid, "red"),
        ("unmatched events", summary.unmatched, "yellow"),
        ("malformed lines", summary.malformed, "red"),
        ("retries", summary.retries, ""),
        ("rate limited (429)", summary.rate_limited, ""),
        ("abandoned in flight (stopped)", summary.abandoned, "bold yellow"),
        ("found under a renamed subscription", summary.renamed, "dim"),
        (
            f"Retry-After capped (longest asked {summary.longest_retry_after:g} s)",
            summary.retry_after_capped,
            "yellow",
        ),
    ]
    for label, count, style in rows:
        if count or label in ("sent", "failed"):
            table.add_row(Text(label, style=style), str(count))
    console.print(table)
    console.print(
        Text(
            f"{summary.done} calls in {summary.elapsed:.1f} s "
            f"({summary.achieved_rate:.1f} calls/s)"
            + (
                f" · rate limit learned from the 429s: {rate_text(summary.current_rate)}/s"
                if summary.rate_limited
                else ""
            )
            + (f" · stopped by {summary.signal}" if summary.signal else "")
            + (" · interrupted: rerun to send the rest" if summary.interrupted else "")
        )
    )
    headings = {
        "failed": "failed (a rerun sends these again)",
        "unknown": "outcome unknown: may have reached MAPI, not resent (check in Friendbuy, "
        "then fbcli ledger resolve KEY --as delivered or --as not-delivered)",
    }
    for status, heading in headings.items():
        listed = [o for o in summary.problems if o.status == status]
        if not listed:
            continue
        console.print(Text(heading, style=_STATUS_STYLES[status]))
        problems = Table(box=box.SIMPLE_HEAD)
        problems.add_column("Line", justify="right", no_wrap=True)
        problems.add_column("Key", max_width=24, overflow="ellipsis", no_wrap=True)
        problems.add_column("Subscription → action", max_width=28, overflow="fold")
        problems.add_column("Why", ratio=1, overflow="fold")
        for outcome in listed:
            call = outcome.call
            problems.add_row(
                literal(str(call.event.line)),
                literal(outcome.key),
                literal(f"{call.subscription} → {call.action}"),
                literal(outcome.message or ""),
            )
        console.print(problems)


def render_arrivals(console: Console, calls: list[dict[str, Any]], *, limit: int = 20) -> None:
    """What the emulator received: one row per recorded call."""
    if not calls:
        console.print(Text("the emulator received no call", style="dim"))
        return
    table = Table(
        box=box.SIMPLE_HEAD,
        title=f"the emulator received {len(calls)} calls",
        title_justify="left",
    )
    table.add_column("#", justify="right")
    table.add_column("Path")
    table.add_column("Status", justify="right")
    table.add_column("Key fields", ratio=1, overflow="fold")
    for call in calls[:limit]:
        body = call.get("body")
        table.add_row(
            str(call.get("seq", "")),
            literal(str(call.get("path", ""))),
            str(call.get("status", "")),
            key_fields(body) if isinstance(body, dict) else "",
        )
    if len(calls) > limit:
        table.add_row("…", f"{len(calls) - limit} more", "", "")
    console.print(table)
