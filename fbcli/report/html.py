"""The ``--report`` file: one self-contained HTML page to share.  Pure: data in, text out.

``render_html(ReportData) -> str``.  What it shows: the run (command line,
fbcli version, time, never the environment), the counts per action and
status (``jsonout.validate_summary`` of the command's own tally, so the same
numbers as ``--format json``), a replay's outcomes (``ReplaySummary.to_dict``)
and its rate over time, the timeline of events and problems per day, the
problems grouped by cause, and the mapping file's text.

Safe to open whatever the events hold:

- no script at all, and a Content-Security-Policy that allows none, nor any
  request (``default-src 'none'``: no font, image or style from elsewhere;
  the charts are inline SVG, the styles one inline ``<style>``);
- every text from an event, a mapping file or a message is escaped
  (``html.escape``, quotes too, so attribute values are safe), its control
  characters shown as escapes (``report.safe``: bidirectional controls cannot
  reorder what is shown) and the registered secrets and tokens blanked out
  (``redact.redact``).
"""

from __future__ import annotations

import datetime as dt
import html
import math
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from typing import Final

from fbcli.causes import Cause, describe_lines, label
from fbcli.jsonout import validate_summary
from fbcli.plan import STATUSES
from fbcli.redact import redact
from fbcli.report import safe
from fbcli.reportdata import NO_TIMESTAMP, ReportData
from fbcli.text import plural

CSP: Final = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
    "base-uri 'none'; form-action 'none'"
)
"""No script, no request: only the inline style (and ``data:`` images) may load."""

MAX_CAUSES: Final = 200
"""Causes listed at most (the rest are counted in one line)."""

CHART_WIDTH: Final = 760
CHART_HEIGHT: Final = 180
MAX_BAR_WIDTH: Final = 36.0
_PAD_LEFT: Final = 48
_PAD_BOTTOM: Final = 22
_PAD_TOP: Final = 10

_STYLE: Final = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:0;color:#1d232a;
background:#f6f7f9}
main{max-width:980px;margin:0 auto;padding:20px 24px 40px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:14px 0 8px}
section{background:#fff;border:1px solid #dde1e6;border-radius:8px;padding:4px 16px 14px;
margin-top:14px}
dl.run{display:grid;grid-template-columns:max-content 1fr;gap:2px 14px;margin:10px 0 0}
dl.run dt{color:#5b6570}dl.run dd{margin:0;overflow-wrap:anywhere}
code,pre{font:12.5px/1.4 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}
pre{background:#f3f4f6;padding:10px;border-radius:6px;overflow:auto;white-space:pre}
table{border-collapse:collapse;width:100%;margin:6px 0}
th,td{text-align:left;padding:4px 8px;border-bottom:1px solid #e6e8eb;vertical-align:top}
th{font-weight:600;color:#3b444d;background:#fafbfc}
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}
.cards{display:flex;flex-wrap:wrap;gap:10px;margin:10px 0}
.card{border:1px solid #dde1e6;border-radius:6px;padding:6px 14px;min-width:90px}
.card b{display:block;font-size:22px;font-variant-numeric:tabular-nums}
.planned,.sent{color:#17803d}.invalid,.malformed,.failed{color:#c0262d}
.unmatched,.unknown{color:#9a6700}
.error{color:#c0262d;font-weight:600}.warning{color:#9a6700;font-weight:600}
.note{color:#5b6570}.hint{color:#17803d}
table.causes{table-layout:fixed}table.causes td,table.causes th{overflow-wrap:anywhere}
code.ex{white-space:pre-wrap}
svg{max-width:100%;height:auto;display:block}
svg text{font:11px system-ui,sans-serif;fill:#5b6570}
svg .ev{fill:#8fb3d9}svg .pb{fill:#d4454b}svg .rt{fill:#4c9a6a}svg .ax{stroke:#b7bec6}
.legend span{display:inline-block;width:10px;height:10px;margin:0 4px 0 12px}
.legend .ev{background:#8fb3d9}.legend .pb{background:#d4454b}
summary{cursor:pointer;font-weight:600}
"""


def _e(value: object) -> str:
    """Text for the page: secrets blanked out, control characters shown, HTML escaped."""
    return html.escape(safe(redact(str(value))), quote=True)


def _block(text: str) -> str:
    """Multi-line text (a mapping file) for a ``<pre>``: ``_e`` line by line (a CRLF line
    end is a line end, not a ``\r`` shown on every line)."""
    return "\n".join(_e(line.removesuffix("\r")) for line in text.split("\n"))


def render_html(data: ReportData) -> str:
    """The whole report page."""
    run = data.run
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">',
        '<meta name="referrer" content="no-referrer">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>fbcli {_e(run.command)} report</title>",
        f"<style>{_STYLE}</style></head><body><main>",
        f"<h1>fbcli {_e(run.command)} report</h1>",
        _run_section(data),
        _counts_section(data),
    ]
    if data.replay is not None:
        parts.append(_replay_section(data))
    parts += [
        _timeline_section(data),
        _causes_section(data.collected.causes.causes()),
        _mapping_section(data),
        (
            f'<footer><p class="note">Written by fbcli {_e(run.version)}: a page without '
            "scripts that loads nothing from elsewhere.</p></footer>"
        ),
        "</main></body></html>",
    ]
    return "\n".join(parts) + "\n"


def _run_section(data: ReportData) -> str:
    run = data.run
    rows = [
        ("Command", f"<code>{_e(run.command_line)}</code>"),
        ("fbcli", _e(run.version)),
        ("Run at", _e(run.started)),
        ("Mapping file", f"<code>{_e(run.mapping_path)}</code>"),
    ]
    items = "".join(f"<dt>{name}</dt><dd>{value}</dd>" for name, value in rows)
    notes = "".join(f'<p class="note">{_e(note)}</p>' for note in data.notes)
    return f'<section id="run"><dl class="run">{items}</dl>{notes}</section>'


def _counts_section(data: ReportData) -> str:
    summary = validate_summary(data.tally, [])
    cards = [("events", summary["events"])] + [(s, summary[s]) for s in STATUSES]
    card_html = "".join(
        f'<div class="card"><b class="{_e(name)}" id="count-{_e(name)}">{count}</b>{_e(name)}</div>'
        for name, count in cards
    )
    head = "".join(f'<th class="n">{_e(s)}</th>' for s in STATUSES)
    rows = []
    for action, counts in summary["actions"].items():
        cells = "".join(
            f'<td class="n" data-status="{_e(s)}">{counts.get(s, 0)}</td>' for s in STATUSES
        )
        name = _e(action)
        rows.append(f'<tr data-action="{name}"><td><code>{name}</code></td>{cells}</tr>')
    table = (
        f'<table id="actions"><thead><tr><th>action</th>{head}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table>"
        if rows
        else '<p class="note">No call was planned or rejected.</p>'
    )
    stopped = (
        f'<p class="note" id="stopped">{_e(data.tally.stopped)}</p>' if data.tally.stopped else ""
    )
    title = "Pre-flight: events and calls" if data.replay is not None else "Events and calls"
    return (
        f'<section id="counts"><h2>{title}</h2><div class="cards">{card_html}</div>'
        f"{table}{stopped}"
        '<p class="note">Calls are counted per action and status; an event may make several '
        "calls or none (unmatched); malformed lines are not events.</p></section>"
    )


_OUTCOMES: Final = (
    ("sent", "sent"),
    ("skipped_already_sent", "skipped (already sent)"),
    ("skipped_unknown", "skipped (outcome unknown earlier)"),
    ("skipped_not_failed", "skipped (not failed before)"),
    ("failed", "failed"),
    ("unknown", "unknown (may have arrived)"),
    ("invalid", "invalid events (not sent)"),
    ("unmatched", "unmatched events"),
    ("malformed", "malformed lines"),
    ("retries", "retries"),
    ("rate_limited", "rate limited (429)"),
    ("retry_after_capped", "Retry-After capped"),
    ("abandoned", "abandoned in flight (stopped)"),
    ("renamed", "found under a renamed subscription"),
)


def _replay_section(data: ReportData) -> str:
    assert data.replay is not None
    summary = data.replay.to_dict()
    rows = "".join(
        f'<tr><td class="{key}">{_e(label)}</td>'
        f'<td class="n" id="outcome-{key}">{summary[key]}</td></tr>'
        for key, label in _OUTCOMES
        if summary[key] or key in ("sent", "failed", "unknown")
    )
    line = (
        f"{plural(data.replay.done, 'call')} in {summary['elapsed_seconds']} s "
        f"({summary['achieved_rate']} calls/s)"
        + (f"; stopped by {summary['signal']}" if summary["signal"] else "")
        + ("; interrupted: rerun to send the rest" if summary["interrupted"] else "")
    )
    problems = "".join(
        f"<tr><td><code>{_e(p['source'])}:{p['line']}</code></td>"
        f'<td class="{_e(p["status"])}">{_e(p["status"])}</td>'
        f"<td><code>{_e(p['subscription'])} → {_e(p['action'])}</code></td>"
        f"<td>{_e(p['message'] or '')}</td></tr>"
        for p in summary["problems"]
    )
    listed = (
        "<h2>Calls not delivered</h2><table><thead><tr><th>where</th><th>outcome</th>"
        f"<th>subscription → action</th><th>why</th></tr></thead><tbody>{problems}</tbody></table>"
        if problems
        else ""
    )
    return (
        '<section id="replay"><h2>Replay outcomes</h2>'
        f'<table id="outcomes"><thead><tr><th>outcome</th><th class="n">calls</th></tr></thead>'
        f"<tbody>{rows}</tbody></table><p>{_e(line)}</p>"
        f"<h2>Rate over time</h2>{_rate_chart(data.collected.samples)}{listed}</section>"
    )


# -- charts ---------------------------------------------------------------------------


def _bars(
    bars: Sequence[tuple[str, float, float, str]], *, top: float, axis: tuple[str, str], unit: str
) -> str:
    """An inline SVG bar chart: (label, value, overlay value, tooltip) per bar."""
    width, height = CHART_WIDTH, CHART_HEIGHT
    plot_w = width - _PAD_LEFT - 8
    plot_h = height - _PAD_TOP - _PAD_BOTTOM
    step = min(MAX_BAR_WIDTH, plot_w / max(1, len(bars)))
    gap = min(2.0, step * 0.2)
    shapes = []
    for index, (_label, value, overlay, tip) in enumerate(bars):
        x = _PAD_LEFT + index * step
        shapes.append(f"<g><title>{_e(tip)}</title>")
        for cls, amount in (("ev" if unit != "rate" else "rt", value), ("pb", overlay)):
            if amount <= 0:
                continue
            h = max(1.0, amount / top * plot_h)
            y = _PAD_TOP + plot_h - h
            shapes.append(
                f'<rect class="{cls}" x="{x + gap / 2:.2f}" y="{y:.2f}" '
                f'width="{max(0.5, step - gap):.2f}" height="{h:.2f}"/>'
            )
        shapes.append("</g>")
    base = _PAD_TOP + plot_h
    top_text = f"{top:g}" if unit == "rate" else f"{int(top)}"
    last = (
        f'<text x="{_PAD_LEFT + step * len(bars):.2f}" y="{height - 6}" '
        f'text-anchor="end">{_e(axis[1])}</text>'
        if len(bars) > 1
        else ""
    )
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" role="img">'
        f'<line class="ax" x1="{_PAD_LEFT}" y1="{base}" x2="{width - 8}" y2="{base}"/>'
        f'<line class="ax" x1="{_PAD_LEFT}" y1="{_PAD_TOP}" x2="{_PAD_LEFT}" y2="{base}"/>'
        f'<text x="{_PAD_LEFT - 4}" y="{_PAD_TOP + 9}" text-anchor="end">{_e(top_text)}</text>'
        f'<text x="{_PAD_LEFT - 4}" y="{base}" text-anchor="end">0</text>'
        f'<text x="{_PAD_LEFT}" y="{height - 6}">{_e(axis[0])}</text>{last}'
        f"{''.join(shapes)}</svg>"
    )


def _nice_top(value: float) -> float:
    """The chart's top: ``value`` rounded up to 1, 2 or 5 times a power of ten."""
    if value <= 0:
        return 1.0
    power = 10 ** math.floor(math.log10(value))
    for factor in (1, 2, 5, 10):
        if value <= factor * power:
            return float(factor * power)
    return float(10 * power)  # pragma: no cover - the loop always returns


def buckets(events: Counter[str], problems: Counter[str]) -> tuple[str, list[tuple[str, int, int]]]:
    """The timeline's unit (day, week, month or year) and its buckets, first to last day:
    (label, events, events with problems), empty ones included; without a timestamp left out.
    """
    days = sorted(d for d in events if d != NO_TIMESTAMP)
    if not days:
        return "day", []
    first, last = dt.date.fromisoformat(days[0]), dt.date.fromisoformat(days[-1])
    span = (last - first).days + 1
    unit = "day" if span <= 92 else "week" if span <= 731 else "month" if span <= 3660 else "year"
    key = _BUCKET_KEYS[unit]

    found: dict[str, list[int]] = {}
    day, stride = first, _stride(unit)
    while True:
        found.setdefault(key(day), [0, 0])
        if last - day < stride:  # (never past ``last``: 9999-12-31 has no next day)
            break
        day += stride
    found.setdefault(key(last), [0, 0])
    for name in days:
        counts = found[key(dt.date.fromisoformat(name))]
        counts[0] += events[name]
        counts[1] += problems.get(name, 0)
    return unit, sorted((label, ev, pb) for label, (ev, pb) in found.items())


_BUCKET_KEYS: Final[dict[str, Callable[[dt.date], str]]] = {
    "day": dt.date.isoformat,
    "week": lambda day: (day - dt.timedelta(days=day.weekday())).isoformat(),
    "month": lambda day: day.isoformat()[:7],
    "year": lambda day: day.isoformat()[:4],
}
"""A day's bucket, by unit: the day, the Monday of its week, its month, its year."""


def _stride(unit: str) -> dt.timedelta:
    """A step from a day that reaches the next day, week, month or year, never beyond."""
    if unit == "day":
        return dt.timedelta(days=1)
    if unit == "week":
        return dt.timedelta(days=7)
    if unit == "month":
        return dt.timedelta(days=28)
    return dt.timedelta(days=365)


def _timeline_section(data: ReportData) -> str:
    collected = data.collected
    unit, found = buckets(collected.events, collected.problems)
    undated = collected.events.get(NO_TIMESTAMP, 0)
    undated_problems = collected.problems.get(NO_TIMESTAMP, 0)
    total = sum(collected.events.values())
    with_problems = sum(collected.problems.values())
    chart = '<p class="note">No event has a timestamp.</p>'
    if found:
        top = _nice_top(max(ev for _, ev, _ in found))
        bars = [
            (label, ev, pb, f"{unit} {label}: {plural(ev, 'event')}, {pb} with problems")
            for label, ev, pb in found
        ]
        chart = _bars(bars, top=top, axis=(found[0][0], found[-1][0]), unit="events") + (
            '<p class="legend"><span class="ev"></span>events<span class="pb"></span>'
            "events with problems (an invalid call)</p>"
        )
    lines = [
        (
            f'<span id="timeline-events">{total}</span> events by the day of their timestamp '
            f'(UTC, per {unit}), <span id="timeline-problems">{with_problems}</span> with '
            f'problems; <span id="timeline-undated">{undated}</span> without a timestamp '
            f"({undated_problems} with problems)."
        )
    ]
    if collected.malformed:
        lines.append(f"{plural(collected.malformed, 'malformed line')}: not events, not drawn.")
    text = "".join(f'<p class="note">{line}</p>' for line in lines)
    return f'<section id="timeline"><h2>Events over time</h2>{chart}{text}</section>'


_RATE_WIDTHS: Final = (0.1, 0.2, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 1800)
MAX_RATE_BARS: Final = 60


def rate_buckets(samples: Iterable[tuple[float, int]]) -> tuple[float, list[tuple[float, int]]]:
    """A replay's progress as (bucket width in seconds, [(bucket start, calls finished)]):
    at most 60 buckets of a round width; calls count in the bucket of the sample that saw
    them finish."""
    points = sorted(samples)
    if not points or points[-1][1] == 0:
        return 1.0, []
    total = max(points[-1][0], 1e-3)
    width = next((w for w in _RATE_WIDTHS if total / w <= MAX_RATE_BARS), 3600.0)
    count = max(1, math.ceil(total / width))
    done = [0] * count
    previous = 0
    for elapsed, finished in points:
        done[min(count - 1, int(elapsed / width))] += finished - previous
        previous = finished
    return float(width), [(index * width, calls) for index, calls in enumerate(done)]


def _rate_chart(samples: list[tuple[float, int]]) -> str:
    width, found = rate_buckets(samples)
    if not found:
        return '<p class="note">No call finished in this run.</p>'
    bars = []
    for start, calls in found:
        rate = calls / width
        end = start + width
        bars.append(
            (f"{start:g}", rate, 0.0, f"{start:g} to {end:g} s: {rate:.1f} calls/s ({calls} calls)")
        )
    top = _nice_top(max(rate for _, rate, _, _ in bars))
    end = found[-1][0] + width
    chart = _bars(bars, top=top, axis=("0 s", f"{end:g} s"), unit="rate")
    return chart + f'<p class="note">Calls finished per second, in buckets of {width:g} s.</p>'


# -- causes and the mapping file --------------------------------------------------------


def _cause_row(cause: Cause, *, one_source: bool) -> str:
    source = f"<br><code>{_e(cause.source)}</code>" if cause.source else ""
    example = (
        f'<br>e.g. <code class="ex">{_e(cause.example)}</code>' if cause.example is not None else ""
    )
    hint = f'<br><span class="hint">{_e(cause.hint)}</span>' if cause.hint else ""
    return (
        f'<tr><td class="n">{cause.count}</td><td class="{_e(cause.severity)}">'
        f"{_e(cause.severity)}</td><td><code>{_e(label(cause))}</code>{source}</td>"
        f"<td>{_e(cause.kind)}{example}{hint}</td>"
        f"<td>{_e(describe_lines(cause, one_source=one_source))}</td></tr>"
    )


def _causes_section(causes: list[Cause]) -> str:
    if not causes:
        return (
            '<section id="causes"><h2>Problems by cause</h2>'
            '<p class="note">No problem and no warning.</p></section>'
        )
    causes = sorted(causes, key=lambda cause: cause.severity != "error")  # as the table
    shown = causes[:MAX_CAUSES]
    rest = causes[MAX_CAUSES:]
    more = (
        f'<p class="note">{plural(len(rest), "more cause")} ({sum(c.count for c in rest)} '
        "records) not listed.</p>"
        if rest
        else ""
    )
    sources = {where.rpartition(":")[0] for cause in causes for where in cause.lines}
    one_source = len(sources) <= 1
    rows = "".join(_cause_row(cause, one_source=one_source) for cause in shown)
    named = (
        f'<p class="note">Lines of {_e(next(iter(sources)))}.</p>' if one_source and sources else ""
    )
    return (
        '<section id="causes"><h2>Problems by cause</h2>'
        '<table class="causes"><colgroup><col style="width:8%"><col style="width:11%">'
        '<col style="width:23%"><col style="width:44%"><col style="width:14%"></colgroup>'
        '<thead><tr><th class="n">count</th><th>severity</th><th>where</th>'
        "<th>problem, example and hint</th><th>first lines</th></tr></thead>"
        f"<tbody>{rows}</tbody></table>{named}{more}</section>"
    )


def _mapping_section(data: ReportData) -> str:
    run = data.run
    if run.mapping_text is None:
        body = (
            '<p class="note">The built-in mapping: each action\'s suggested trigger, default '
            "fields (fbcli actions lists them).</p>"
        )
    else:
        body = (
            f"<details><summary><code>{_e(run.mapping_path)}</code></summary>"
            f"<pre>{_block(run.mapping_text)}</pre></details>"
        )
    return f'<section id="mapping"><h2>The mapping file</h2>{body}</section>'
