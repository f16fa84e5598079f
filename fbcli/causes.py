"""Problems grouped by cause: one line per cause, not one row per event.

``validate`` and ``dry-run`` feed every record to a ``CauseBook``; it keeps a
count, the first few line numbers and one example per cause, and merges with
the books of other processes (``parallel``).  ``causes()`` lists them, most
frequent first.  Pure: no I/O.

A cause is keyed by action, field, kind of problem and event path, so "178
events whose ``amount`` is a string with a currency sign" is one cause.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Final, Literal

from fbcli.events import LineError
from fbcli.plan import PlanRecord, Rejection, Unmatched
from fbcli.validation import Violation

Severity = Literal["error", "warning"]

KEEP_LINES: Final = 3
"""How many line numbers a cause keeps (the first ones read)."""

_Key = tuple[str | None, str | None, str, str | None, str]
"""action, field, kind, source, severity."""


@dataclass(frozen=True, slots=True)
class Cause:
    """One cause of problems: what it is, how often, where first, an example, a hint."""

    action: str | None
    """The action (``trackPurchase``), ``None`` for a problem of the file or the event."""
    field: str | None
    """The action field (``amount``), ``None`` when the problem is not one field's."""
    kind: str
    """The kind of problem in words (``string with a currency sign``)."""
    source: str | None
    """The event path the field is mapped from (``$.properties.revenue``), if any."""
    severity: Severity
    count: int
    """How many records have it."""
    lines: tuple[str, ...]
    """Where the first ones are: ``file:line``."""
    example: str | None
    """One example, as text (a JSON value, clipped), if there is one."""
    hint: str | None = None
    """What would fix it, if fbcli can tell."""

    def to_json(self) -> dict[str, Any]:
        """The cause as ``--format json`` shows it."""
        return {
            "action": self.action,
            "field": self.field,
            "kind": self.kind,
            "source": self.source,
            "severity": self.severity,
            "count": self.count,
            "lines": list(self.lines),
            "example": self.example,
            "hint": self.hint,
        }


@dataclass(slots=True)
class _Entry:
    count: int = 0
    lines: list[str] = field(default_factory=list)
    example: str | None = None
    hint: str | None = None


@dataclass(slots=True)
class CauseBook:
    """Causes counted as records arrive; mergeable, picklable."""

    entries: dict[_Key, _Entry] = field(default_factory=dict)

    def add(self, record: PlanRecord) -> None:
        """Count the problems of one record (a call's warnings, a rejection's errors and
        warnings, a malformed line); unmatched events are not problems here."""
        if isinstance(record, LineError):
            self._count((None, None, _line_kind(record.message), None, "error"), record.where)
            return
        if isinstance(record, Unmatched):
            return
        where = f"{record.event.source}:{record.event.at}"
        if isinstance(record, Rejection):
            self._violations(record.action, record.errors, "error", where)
        self._violations(record.action, record.warnings, "warning", where)

    def add_all(self, records: Iterable[PlanRecord]) -> None:
        for record in records:
            self.add(record)

    def merge(self, other: CauseBook) -> None:
        """Add another book's counts (its lines after this one's)."""
        for key, theirs in other.entries.items():
            mine = self.entries.setdefault(key, _Entry())
            mine.count += theirs.count
            mine.lines.extend(theirs.lines[: KEEP_LINES - len(mine.lines)])
            if mine.example is None:
                mine.example = theirs.example
            if mine.hint is None:
                mine.hint = theirs.hint

    def causes(self) -> list[Cause]:
        """Every cause, most frequent first (errors before warnings on a tie)."""
        found = [
            Cause(
                action=action,
                field=name,
                kind=kind,
                source=source,
                severity=severity,  # type: ignore[arg-type]
                count=entry.count,
                lines=tuple(entry.lines),
                example=entry.example,
                hint=entry.hint,
            )
            for (action, name, kind, source, severity), entry in self.entries.items()
        ]
        found.sort(key=lambda cause: (-cause.count, cause.severity != "error"))
        return found

    def _violations(
        self, action: str, violations: Iterable[Violation], severity: Severity, where: str
    ) -> None:
        for violation in violations:
            key = (action, violation.field, violation.message, violation.source, severity)
            self._count(key, where)

    def _count(self, key: _Key, where: str) -> None:
        entry = self.entries.get(key)
        if entry is None:
            entry = self.entries[key] = _Entry()
        entry.count += 1
        if len(entry.lines) < KEEP_LINES:
            entry.lines.append(where)


def _line_kind(message: str) -> str:
    """A malformed line's message without its column or byte position."""
    return message.split(" at ", 1)[0] if message.startswith("invalid ") else message
