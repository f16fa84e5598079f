"""What the HTML report (``--report``) shows, collected as a command runs.  Pure: no I/O.

``validate`` and ``dry-run`` plan in worker processes (``fbcli.parallel``),
each of which applies the command's render function to every record.
``ReportCollector.wrap`` wraps that function so that, beside its output, it
sends back a small ``Note`` of the record: whether it is the first record of
its item, the day of its event's ``timestamp`` and its status.
``ReportCollector.take`` unwraps the outputs in the main process, in input
order: exactly the groups the command's ``PlanTally`` counts
(``plan.take_groups``), so the report's numbers are the summary's.  The
causes are the command's own ``CauseBook`` (the one its table and JSON
summary show, filled in the workers).  A replay hands over its records as it
plans them (``add_records``: its ``CauseFinder`` notes them in the book) and
its progress (``sample``).

The timeline counts events, by the UTC day of their ``timestamp`` (Segment's
field, ISO-8601), and among them the events with a problem (an invalid
call: ``PlanTally.problems`` without malformed lines, which are not events).
An event without a readable timestamp counts under ``NO_TIMESTAMP``.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

from fbcli.causes import CauseBook, CauseFinder
from fbcli.events import LineError
from fbcli.plan import PlanRecord, PlanTally, status_of

if TYPE_CHECKING:
    from fbcli.replay import ReplaySummary

NO_TIMESTAMP: Final = ""
"""The day of an event without a readable ``timestamp``."""

Note = tuple[bool, str, str]
"""What the report needs of one record: first of its item, day, status."""


def day_of(data: dict[str, Any]) -> str:
    """The UTC day (``2026-03-02``) of an event's ``timestamp``, or ``NO_TIMESTAMP``.

    Without a time zone, the time is taken as UTC (Segment writes ``Z``).
    """
    value = data.get("timestamp")
    if not isinstance(value, str):
        return NO_TIMESTAMP
    try:
        moment = dt.datetime.fromisoformat(value)
        if moment.tzinfo is not None:
            moment = moment.astimezone(dt.UTC)
    except (ValueError, OverflowError):
        return NO_TIMESTAMP
    return moment.date().isoformat()


def note_of(record: PlanRecord, *, first: bool) -> Note:
    """The note of one record (``first``: the first record of its item)."""
    if isinstance(record, LineError):
        return (first, NO_TIMESTAMP, "malformed")
    day = day_of(record.event.data) if first else NO_TIMESTAMP
    return (first, day, status_of(record))


class _Noting:
    """A render function that also notes each record: what a worker applies."""

    def __init__(self, render: Callable[[PlanRecord], object]) -> None:
        self.render = render
        self._last: object = None
        """The last record's event (held, so that ``is`` cannot meet a reused address)."""

    def __call__(self, record: PlanRecord) -> tuple[object, Note]:
        item = record if isinstance(record, LineError) else record.event
        first = item is not self._last
        self._last = item
        return (self.render(record), note_of(record, first=first))


@dataclass(slots=True)
class ReportCollector:
    """Counts for the report, as records arrive: causes, the timeline, replay progress."""

    causes: CauseBook = field(default_factory=CauseBook)
    """The run's causes: the command's own book (validate, dry-run), or the one a replay's
    ``finder`` fills."""
    finder: CauseFinder | None = None
    """What finds a replay's causes in its pre-flight's records (``add_records``)."""
    events: Counter[str] = field(default_factory=Counter)
    """Events per day (``NO_TIMESTAMP``: without one)."""
    problems: Counter[str] = field(default_factory=Counter)
    """Events with an invalid call, per day."""
    malformed: int = 0
    """Malformed lines (not events: they have no timestamp)."""
    samples: list[tuple[float, int]] = field(default_factory=list)
    """A replay's progress: (seconds since sending began, calls finished)."""
    _day: str = NO_TIMESTAMP
    _problem: bool = False

    def wrap(self, render: Callable[[PlanRecord], object]) -> Callable[[PlanRecord], object]:
        """``render``, whose outputs carry notes: give what it made to ``take``."""
        return _Noting(render)

    def take(self, outputs: Iterable[Any]) -> Iterator[Any]:
        """The outputs of the ``wrap``-ped render, their notes counted."""
        for output, note in outputs:
            self.add(note)
            yield output

    def add(self, note: Note) -> None:
        """Count one record's note."""
        first, day, status = note
        if first:
            self._day, self._problem = day, False
            if status == "malformed":
                self.malformed += 1
            else:
                self.events[day] += 1
        if status == "invalid" and not self._problem:
            self._problem = True
            self.problems[self._day] += 1

    def add_records(self, records: Iterable[PlanRecord]) -> None:
        """Count one item's records (a replay's pre-flight)."""
        records = list(records)
        for index, record in enumerate(records):
            self.add(note_of(record, first=index == 0))
        if self.finder is not None and records:
            first = records[0]
            self.finder.note(
                self.causes, first if isinstance(first, LineError) else first.event, records
            )

    def sample(self, elapsed: float, done: int) -> None:
        """A replay's progress: ``done`` calls finished ``elapsed`` seconds after it began."""
        self.samples.append((elapsed, done))


@dataclass(frozen=True, slots=True)
class RunInfo:
    """What was run: shown at the top of the report (never the environment or a secret)."""

    command: str
    """The command's name (``validate``)."""
    command_line: str
    """The command line as given (options and arguments), secrets left out."""
    version: str
    started: str
    """When it ran: ISO-8601, UTC, to the second."""
    mapping_path: str
    mapping_text: str | None
    """The mapping file's text (``None`` for the built-in mapping)."""


@dataclass(frozen=True, slots=True)
class ReportData:
    """Everything ``report.html.render_html`` draws: the same objects the summary prints."""

    run: RunInfo
    tally: PlanTally
    """The command's tally (a replay's: its pre-flight's)."""
    collected: ReportCollector
    replay: ReplaySummary | None = None
    """A replay's summary (``None``: nothing was sent, or not a replay)."""
    notes: tuple[str, ...] = ()
    """Sentences about the run as a whole (``nothing was sent: ...``)."""
