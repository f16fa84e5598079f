"""What a replay shows: progress on stderr, the summary, what the emulator received.

``ConsoleObserver`` is the ``session.ReplayObserver`` of the command line: it
prints notes and the pre-flight's problems, and draws the progress bar.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Final

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from fbcli.mappings import MappingConfig
from fbcli.plan import DEFAULT_BASE_URL
from fbcli.report import (
    _STATUS_STYLES,
    key_fields,
    literal,
    print_error,
    print_note,
    print_warning,
    render_plan,
    safe,
)

if TYPE_CHECKING:
    from rich.progress import Progress, ProgressColumn, TaskID

    from fbcli.lock import Holder
    from fbcli.replay import Preflight, ReplaySummary
    from fbcli.session import ReplayResult


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


_BAR_NEEDS: Final = 30
"""Columns the bar, the time left and their spaces take at least, beside the counts."""


def progress_parts(summary: ReplaySummary, completed: int, total: int) -> list[str]:
    """The progress line's parts, most important first: what was done (``7/12``), sent,
    failed, unknown, then retries and the rates; a narrow line keeps a prefix of them."""
    return [
        f"replay {completed}/{total}",
        f"sent {summary.sent}",
        f"failed {summary.failed}",
        f"unknown {summary.unknown}",
        f"retries {summary.retries}",
        f"{summary.achieved_rate:.1f}/s",
        f"(limit {rate_text(summary.current_rate)}/s)",
    ]


def fit_parts(parts: list[str], width: int) -> str:
    """``parts`` joined by `` · `` (the limit after the rate by a space), the last ones
    left out until the line fits ``width``; the first four (the counts) are always kept,
    without the separators when they are too long even so."""
    kept = len(parts)
    while True:
        line = " · ".join(parts[: min(kept, len(parts) - 1)])
        if kept == len(parts):
            line += f" {parts[-1]}"
        if len(line) <= width:
            return line
        if kept <= 4:  # the counts alone, as short as they go
            return " ".join([parts[0].removeprefix("replay "), *parts[1:4]])
        kept -= 1


class ReplayProgress:
    """Progress on stderr: a Rich bar on a terminal, a plain line every few seconds otherwise.

    On a terminal too narrow for the bar beside the counts, the bar is left out and then
    the rates and retries, so that the counts are always shown whole.
    """

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
        self._columns: dict[bool, tuple[ProgressColumn | str, ...]] = {}

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

            self._columns = {
                True: (
                    TextColumn("replay"),
                    BarColumn(),
                    MofNCompleteColumn(),
                    TextColumn("{task.fields[detail]}"),
                    TimeRemainingColumn(),
                ),
                False: (TextColumn("{task.fields[line]}"),),
            }
            self._progress = Progress(*self._columns[True], console=self.console, transient=True)
            self._progress.start()
            self._task = self._progress.add_task("replay", total=self.total, detail="", line="")
        return self

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            self._progress.stop()

    def update(self, summary: ReplaySummary) -> None:
        """Show the summary's counts (rate limited to one plain line per ``interval``)."""
        completed = summary.done + summary.skipped_already_sent + summary.skipped_unknown
        completed += summary.skipped_not_failed
        parts = progress_parts(summary, completed, self.total)
        detail = fit_parts(parts[1:], 1_000)
        if self._progress is not None and self._task is not None:
            width = self.console.width
            counts = f"{completed}/{self.total}"
            with_bar = width >= len("replay ") + len(counts) + len(detail) + _BAR_NEEDS
            self._progress.columns = self._columns[with_bar]
            line = fit_parts(parts, width - 1)
            self._progress.update(self._task, completed=completed, detail=detail, line=line)
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
            f"{summary.done} call{'' if summary.done == 1 else 's'} in {summary.elapsed:.1f} s "
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
                literal(call.event.at),
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
        title=f"the emulator received {len(calls)} call{'' if len(calls) == 1 else 's'}",
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


class ConsoleObserver:
    """What a replay tells, on stderr: notes, the pre-flight's problems, progress."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self._progress: ReplayProgress | None = None

    def note(self, message: str) -> None:
        """A plain line."""
        print_note(self.console, message)

    def waiting(self, holder: Holder) -> None:
        """Another fbcli holds the ledger."""
        print_note(self.console, f"waiting for the ledger: in use by {holder.describe()}")

    def rejected(self, check: Preflight, config: MappingConfig, sources: int) -> None:
        """The pre-flight's problems, as the dry-run table draws them; nothing was sent."""
        tally = check.tally
        render_plan(
            self.console, check.problems, tally, config, base_url=DEFAULT_BASE_URL, sources=sources
        )
        print_error(
            self.console,
            f"{tally.count('invalid')} invalid and {tally.count('malformed')} malformed: "
            "nothing was sent",
            hint="fix them, or add --skip-invalid to send the valid calls",
        )

    def progress(self, summary: ReplaySummary) -> None:
        """The progress bar (a terminal) or a plain line every few seconds."""
        if self._progress is None:
            self._progress = ReplayProgress(self.console, summary.to_send).__enter__()
        self._progress.update(summary)

    def close(self) -> None:
        """End the progress bar."""
        if self._progress is not None:
            self._progress.__exit__(None, None, None)
            self._progress = None


def render_replay_result(
    out: Console, err: Console, stdout: IO[str], result: ReplayResult, *, as_json: bool
) -> None:
    """A replay's summary (the table on ``out``, or one JSON object on ``stdout``) and its
    last words on ``err``: calls still unknown from earlier runs, refused credentials."""
    summary = result.summary
    if summary is None:  # the pre-flight refused the input: it said so already
        return
    if as_json:
        stdout.write(json.dumps(summary.to_dict(), ensure_ascii=False) + "\n")
    else:
        render_replay_summary(out, summary, target=result.base_url, ledger=result.ledger)
        if result.arrivals is not None:
            render_arrivals(out, result.arrivals)
    if summary.skipped_unknown:
        count = summary.skipped_unknown
        print_warning(
            err,
            f"{count} call{' is' if count == 1 else 's are'} still unknown from earlier runs "
            "(may have reached MAPI): check in Friendbuy, then fbcli ledger resolve KEY "
            "--as delivered or --as not-delivered (fbcli ledger list --status unknown)",
        )
    if result.auth_error is not None:
        print_error(err, result.auth_error)
