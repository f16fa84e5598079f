"""``fbcli ledger``: the ledgers and their calls, as tables."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from fbcli.ledger import LedgerEntry
from fbcli.report import literal, safe

_STYLES = {"sent": "green", "unknown": "bold yellow", "failed": "bold red"}


def render_status(console: Console, rows: list[dict[str, Any]]) -> None:
    """One row per ledger and target: calls sent, unknown and failed."""
    if not rows:
        console.print(Text("no calls recorded yet", style="dim"))
        return
    for path in dict.fromkeys(row["ledger"] for row in rows):
        console.print(Text(safe(path), style="bold"), soft_wrap=True)
        table = Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False)
        table.add_column("Target", ratio=1, overflow="fold")
        for status in ("sent", "unknown", "failed"):
            table.add_column(status, justify="right", style=_STYLES[status])
        table.add_column("calls", justify="right")
        for row in rows:
            if row["ledger"] == path:
                table.add_row(
                    literal(row["target"]),
                    *(str(row[s]) for s in ("sent", "unknown", "failed", "calls")),
                )
        console.print(table)


def render_entries(console: Console, entries: Iterable[LedgerEntry], *, limit: int) -> int:
    """The calls, a row each (at most ``limit``); how many there were in all."""
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False)
    table.add_column("Key", overflow="fold", max_width=40)
    table.add_column("Subscription → action", overflow="fold", max_width=30)
    table.add_column("Status", no_wrap=True)
    table.add_column("Last attempt", no_wrap=True)
    table.add_column("Why", ratio=1, overflow="fold")
    total = 0
    for entry in entries:
        total += 1
        if total > limit:
            continue
        status = entry.status + (f" {entry.http_status}" if entry.http_status else "")
        table.add_row(
            literal(entry.event_key),
            literal(f"{entry.subscription} → {entry.action}"),
            Text(status, style=_STYLES[entry.status]),
            literal(entry.last_attempt_at[:19].replace("T", " ")),
            literal(entry.message or ""),
        )
    if total:
        console.print(table)
    if total > limit:
        console.print(Text(f"… {total - limit} more (--limit, or --format json)", style="yellow"))
    console.print(Text(f"{total} call{'s' if total != 1 else ''}", style="bold"))
    return total
