"""The problems grouped by cause, one line each: the end of ``validate`` and ``dry-run``.

``trackPurchase.amount: string with a currency sign (from $.properties.total) —
178 events (lines 12, 40, 77 …), e.g. "$1,234.00" → hint``: errors first
(``✗``), then warnings (``!``), each most frequent first.  A cause longer than
the console is wide goes on under itself (a hanging indent), so the marks stay
in a column; event text is shown literally.
"""

from __future__ import annotations

from typing import Final

from rich.console import Console
from rich.table import Table
from rich.text import Text

from fbcli.causes import Cause, CauseBook, clip_example, describe_lines, label
from fbcli.report import safe
from fbcli.text import plural

MAX_CAUSES: Final = 20
"""Causes listed; the others are counted."""


def cause_line(cause: Cause, *, one_source: bool) -> Text:
    """One cause as its line (without a mark)."""
    unit = "event" if cause.action is not None or label(cause) == "messageId" else "line"
    if label(cause) == "input":
        unit = "input"
    text = Text()
    text.append(safe(label(cause)), style="bold")
    text.append(safe(f": {cause.kind}"))
    if cause.source is not None and cause.field is not None:
        text.append(safe(f" (from {cause.source})"), style="dim")
    where = "" if unit == "input" else f" ({describe_lines(cause, one_source=one_source)})"
    text.append(safe(f" — {plural(cause.count, unit, grouped=True)}{where}"))
    if cause.example is not None and unit == "event":
        text.append(safe(f", e.g. {clip_example(cause.example)}"))
    elif cause.example is not None:
        text.append(safe(f": {clip_example(cause.example, 100)}"))
    if cause.hint:
        text.append(safe(f" → {cause.hint}"), style="dim")
    return text


def render_causes(console: Console, book: CauseBook | None, *, sources: int) -> None:
    """``Problems by cause:`` and a line per cause (nothing when there is none, or no book)."""
    causes = sorted(book.causes() if book else (), key=lambda cause: cause.severity != "error")
    if not causes:
        return
    console.print(Text(f"Problems by cause ({len(causes)}):", style="bold"))
    grid = Table.grid(padding=(0, 1))
    grid.add_column(width=1, no_wrap=True)
    grid.add_column(ratio=1, overflow="fold")
    for cause in causes[:MAX_CAUSES]:
        error = cause.severity == "error"
        mark = Text("✗" if error else "!", style="red" if error else "yellow")
        grid.add_row(mark, cause_line(cause, one_source=sources == 1))
    console.print(grid)
    hidden = len(causes) - MAX_CAUSES
    if hidden > 0:
        console.print(
            Text(
                f"… {plural(hidden, 'more cause')} (validate --format json lists them all)",
                style="yellow",
            )
        )
