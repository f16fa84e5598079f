"""Two mapping files over the same events: what changes (``fbcli diff``).

Pure: events in, ``EventDiff`` values out, counts in a ``DiffTally``.  Each
event is read once and planned with both mapping files (``plan_event``), so
standard input works and memory stays flat however long the input.

**Pairing.**  The calls of one event under OLD and NEW are paired by
subscription name: an event gives at most one call (planned or invalid) per
subscription, so each pair is one of

- *added*: NEW has a call for the subscription, OLD has none;
- *removed*: OLD has one, NEW has none;
- *changed*: both have one and they differ: the status (planned ↔ invalid),
  the action, the request (method and URL, or the push type), the body (or
  the push payload), or, for two invalid calls, the errors;
- *unchanged*: both have one and they are the same.

Renames: a subscription whose name is in only one of the files is paired, as
a fallback, with one of the same action whose name is in only the other file,
by rank among those (the first unpaired ``trackPurchase`` of OLD with the
first unpaired ``trackPurchase`` of NEW, and so on); only enabled
subscriptions take part.  The pair is reported under its NEW name, with the
OLD one as ``previous_name``; a subscription with no counterpart shows as
calls removed (or added).

**Field changes.**  Bodies are compared recursively: objects by key, lists by
position, leaves by JSON value (``1`` and ``true``, ``"1"`` and ``1`` differ;
``1`` and ``1.0`` do not).  A change is named by a dotted path
(``additionalProperties.name``, ``products.0.price``; a key that is not a
plain name is written ``["a.b"]``).  A value present on one side only is one
change, however large (``+products`` with the whole list).

**Statuses.**  An event's status is ``unmatched`` when no subscription
matches it, ``invalid`` when any of its calls is, else ``planned``.
Malformed lines are the same under both files: they are counted, not
compared.  Warnings do not count as differences (they follow from the body).
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Final, Literal

from fbcli.events import Event, LineError
from fbcli.mappings import MappingConfig, Subscription
from fbcli.plan import (
    DEFAULT_BASE_URL,
    PlannedCall,
    Rejection,
    Unmatched,
    plan_event,
    to_record,
)
from fbcli.values import MISSING, same_value

EventStatus = Literal["planned", "invalid", "unmatched"]
CallChangeKind = Literal["added", "removed", "changed", "unchanged"]
FieldChangeKind = Literal["added", "removed", "changed"]
Outcome = PlannedCall | Rejection
JsonPath = tuple[str | int, ...]

CALL_CHANGE_KINDS: Final[tuple[CallChangeKind, ...]] = ("changed", "added", "removed", "unchanged")
_PLAIN_KEY: Final = re.compile(r"[A-Za-z_$][A-Za-z0-9_$-]*\Z")


# -- field changes ---------------------------------------------------------------------


def dotted_path(path: JsonPath) -> str:
    """``("products", 0, "price")`` → ``products.0.price``; odd keys as ``["a.b"]``."""
    out = ""
    for step in path:
        if isinstance(step, str) and not _PLAIN_KEY.match(step):
            out += f"[{json.dumps(step, ensure_ascii=False)}]"
        else:
            out += f".{step}" if out else str(step)
    return out


@dataclass(frozen=True, slots=True)
class FieldChange:
    """One difference inside a body: a value added, removed or changed at ``path``."""

    path: JsonPath
    old: Any = MISSING
    new: Any = MISSING

    @property
    def kind(self) -> FieldChangeKind:
        """``added`` (no old value), ``removed`` (no new value) or ``changed``."""
        if self.old is MISSING:
            return "added"
        if self.new is MISSING:
            return "removed"
        return "changed"

    @property
    def dotted(self) -> str:
        """The path as text: ``products.0.price``."""
        return dotted_path(self.path)

    def to_dict(self) -> dict[str, Any]:
        """``{"path": ..., "change": ..., "old": ..., "new": ...}`` (absent sides left out)."""
        out: dict[str, Any] = {"path": self.dotted, "change": self.kind}
        if self.old is not MISSING:
            out["old"] = self.old
        if self.new is not MISSING:
            out["new"] = self.new
        return out


def diff_values(old: Any, new: Any, path: JsonPath = ()) -> Iterator[FieldChange]:
    """The changes from ``old`` to ``new``: NEW's keys in order, then keys only OLD has."""
    if isinstance(old, dict) and isinstance(new, dict):
        for key, value in new.items():
            if key in old:
                yield from diff_values(old[key], value, (*path, key))
            else:
                yield FieldChange((*path, key), new=value)
        for key, value in old.items():
            if key not in new:
                yield FieldChange((*path, key), old=value)
    elif isinstance(old, list) and isinstance(new, list):
        for index, (before, after) in enumerate(zip(old, new, strict=False)):
            yield from diff_values(before, after, (*path, index))
        for index in range(len(old), len(new)):
            yield FieldChange((*path, index), new=new[index])
        for index in range(len(new), len(old)):
            yield FieldChange((*path, index), old=old[index])
    elif not same_value(old, new):
        yield FieldChange(path, old, new)


# -- calls -----------------------------------------------------------------------------


def call_target(call: PlannedCall) -> str:
    """Where a call goes: ``POST https://…/v1/event/purchase``, ``push ["track","purchase",…]``."""
    if call.push is None:
        return f"{call.method} {call.url}"
    shown = ["…" if isinstance(part, dict) else json.dumps(part) for part in call.push]
    return f"push [{','.join(shown)}]"


@dataclass(frozen=True, slots=True)
class CallDiff:
    """One subscription's calls for one event under OLD and NEW, compared."""

    subscription: str
    """The subscription's name in NEW (its name in OLD when NEW has no counterpart)."""
    previous_name: str | None
    """Its name in OLD, when the pair is a rename."""
    old: Outcome | None
    new: Outcome | None
    kind: CallChangeKind
    fields: tuple[FieldChange, ...] = ()
    """Changes in the body, when both calls are planned."""

    @property
    def action(self) -> str:
        """The action of the NEW call (of the OLD one when it was removed)."""
        call = self.new or self.old
        assert call is not None
        return call.action

    @property
    def targets(self) -> tuple[str, str] | None:
        """``(old, new)`` request or push target, when both are planned and they differ."""
        if isinstance(self.old, PlannedCall) and isinstance(self.new, PlannedCall):
            before, after = call_target(self.old), call_target(self.new)
            if before != after:
                return before, after
        return None

    def to_dict(self) -> dict[str, Any]:
        """The JSON form: names, change, statuses, field changes and both dry-run records."""
        out: dict[str, Any] = {"subscription": self.subscription}
        if self.previous_name is not None:
            out["previous_name"] = self.previous_name
        out["action"] = self.action
        out["change"] = self.kind
        out["status"] = {
            "old": self.old.status if self.old else None,
            "new": self.new.status if self.new else None,
        }
        if self.targets is not None:
            out["call"] = dict(zip(("old", "new"), self.targets, strict=True))
        if isinstance(self.old, PlannedCall) and isinstance(self.new, PlannedCall):
            out["fields"] = [change.to_dict() for change in self.fields]
        out["old"] = _call_record(self.old)
        out["new"] = _call_record(self.new)
        return out


def _call_record(call: Outcome | None) -> dict[str, Any] | None:
    """The dry-run record of a call, without the event's location (the event has it)."""
    if call is None:
        return None
    record = to_record(call)
    for key in ("source", "line", "messageId"):
        record.pop(key, None)
    return record


def compare_calls(
    subscription: str, previous_name: str | None, old: Outcome | None, new: Outcome | None
) -> CallDiff:
    """Compare one subscription's calls (either may be absent, not both)."""
    if old is None or new is None:
        kind: CallChangeKind = "added" if old is None else "removed"
        return CallDiff(subscription, previous_name, old, new, kind)
    fields: tuple[FieldChange, ...] = ()
    if isinstance(old, PlannedCall) and isinstance(new, PlannedCall):
        fields = tuple(diff_values(old.body, new.body))
        same = not fields and call_target(old) == call_target(new)
    elif isinstance(old, Rejection) and isinstance(new, Rejection):
        same = old.errors == new.errors
    else:
        same = False
    same = same and old.action == new.action
    return CallDiff(
        subscription, previous_name, old, new, "unchanged" if same else "changed", fields
    )


# -- subscriptions ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SubscriptionPair:
    """A subscription of OLD and its counterpart in NEW (either may be missing)."""

    name: str
    """The NEW name, or the OLD one when NEW has no counterpart."""
    old: Subscription | None
    new: Subscription | None

    @property
    def previous_name(self) -> str | None:
        """The OLD name, when it differs (a rename)."""
        if self.old is not None and self.old.name != self.name:
            return self.old.name
        return None

    @property
    def action(self) -> str:
        """The NEW action, or the OLD one when NEW has no counterpart."""
        subscription = self.new or self.old
        assert subscription is not None
        return subscription.action.name


def pair_subscriptions(old: MappingConfig, new: MappingConfig) -> tuple[SubscriptionPair, ...]:
    """Pair the subscriptions by name, then renames by (action, rank); NEW's order first."""
    new_names = {s.name for s in new.subscriptions}
    orphans: dict[str, list[Subscription]] = {}
    for subscription in old.active:
        if subscription.name not in new_names:
            orphans.setdefault(subscription.action.name, []).append(subscription)
    by_name = {s.name: s for s in old.subscriptions}
    pairs: list[SubscriptionPair] = []
    for subscription in new.subscriptions:
        counterpart = by_name.get(subscription.name)
        candidates = orphans.get(subscription.action.name)
        if counterpart is None and subscription.enabled and candidates:
            counterpart = candidates.pop(0)
        pairs.append(SubscriptionPair(subscription.name, counterpart, subscription))
    paired = {p.old.name for p in pairs if p.old is not None}
    pairs.extend(
        SubscriptionPair(s.name, s, None) for s in old.subscriptions if s.name not in paired
    )
    return tuple(pairs)


# -- events ----------------------------------------------------------------------------


def event_status(planned: list[Outcome] | Unmatched) -> EventStatus:
    """``unmatched``; ``invalid`` when any call is; else ``planned``."""
    if isinstance(planned, Unmatched):
        return "unmatched"
    return "invalid" if any(isinstance(c, Rejection) for c in planned) else "planned"


@dataclass(frozen=True, slots=True)
class EventDiff:
    """One event under OLD and NEW: both statuses and every subscription's calls compared."""

    event: Event
    old_status: EventStatus
    new_status: EventStatus
    calls: tuple[CallDiff, ...]
    """Every pair of calls, unchanged ones included, in subscription order."""

    @property
    def changes(self) -> tuple[CallDiff, ...]:
        """The pairs that are not unchanged."""
        return tuple(c for c in self.calls if c.kind != "unchanged")

    @property
    def status_changed(self) -> bool:
        """Whether the event's status differs between OLD and NEW."""
        return self.old_status != self.new_status

    @property
    def differs(self) -> bool:
        """Whether anything about this event differs."""
        return self.status_changed or bool(self.changes)

    def to_dict(self) -> dict[str, Any]:
        """The JSON form: location, both statuses and the changed calls."""
        out: dict[str, Any] = {"source": self.event.source, "line": self.event.line}
        if self.event.index is not None:
            out["index"] = self.event.index
        if self.event.message_id is not None:
            out["messageId"] = self.event.message_id
        out["status"] = {"old": self.old_status, "new": self.new_status}
        out["calls"] = [c.to_dict() for c in self.changes]
        return out


class MappingDiff:
    """Compares events under two mapping files (the subscriptions paired once)."""

    def __init__(
        self, old: MappingConfig, new: MappingConfig, *, base_url: str = DEFAULT_BASE_URL
    ) -> None:
        self.old = old
        self.new = new
        self.base_url = base_url
        self.pairs = pair_subscriptions(old, new)
        self._by_old = {p.old.name: p for p in self.pairs if p.old is not None}
        self._by_new = {p.new.name: p for p in self.pairs if p.new is not None}

    def compare(self, event: Event) -> EventDiff:
        """Plan ``event`` with both files and compare, subscription by subscription."""
        before = plan_event(event, self.old, base_url=self.base_url)
        after = plan_event(event, self.new, base_url=self.base_url)
        olds = {} if isinstance(before, Unmatched) else {c.subscription: c for c in before}
        news = {} if isinstance(after, Unmatched) else {c.subscription: c for c in after}
        calls: list[CallDiff] = []
        for pair in self.pairs:
            old = olds.get(pair.old.name) if pair.old is not None else None
            new = news.get(pair.new.name) if pair.new is not None else None
            if old is not None or new is not None:
                calls.append(compare_calls(pair.name, pair.previous_name, old, new))
        return EventDiff(event, event_status(before), event_status(after), tuple(calls))


# -- whole streams ---------------------------------------------------------------------


@dataclass(slots=True)
class SubscriptionCounts:
    """Per subscription (pair): how many calls were added, removed, changed, unchanged."""

    name: str
    action: str
    previous_name: str | None = None
    counts: Counter[CallChangeKind] = field(default_factory=Counter)

    def to_dict(self) -> dict[str, Any]:
        """``{"action": ..., "changed": n, "added": n, "removed": n, "unchanged": n}``."""
        out: dict[str, Any] = {"action": self.action}
        if self.previous_name is not None:
            out["previous_name"] = self.previous_name
        out.update({kind: self.counts[kind] for kind in CALL_CHANGE_KINDS})
        return out


@dataclass(slots=True)
class DiffTally:
    """Counts over the whole input: events, malformed lines, calls, status changes."""

    events: int = 0
    malformed: int = 0
    unreadable: list[LineError] = field(default_factory=list)
    """Inputs that could not be read at all (missing, empty, a directory)."""
    subscriptions: dict[str, SubscriptionCounts] = field(default_factory=dict)
    status_changes: Counter[tuple[EventStatus, EventStatus]] = field(default_factory=Counter)
    calls: Counter[CallChangeKind] = field(default_factory=Counter)

    def start(self, pairs: Iterable[SubscriptionPair]) -> None:
        """One counter per subscription pair, in pairing order."""
        for pair in pairs:
            self.subscriptions.setdefault(
                pair.name, SubscriptionCounts(pair.name, pair.action, pair.previous_name)
            )

    def add(self, diff: EventDiff) -> None:
        """Count one event."""
        self.events += 1
        for call in diff.calls:
            self.subscriptions[call.subscription].counts[call.kind] += 1
            self.calls[call.kind] += 1
        if diff.status_changed:
            self.status_changes[diff.old_status, diff.new_status] += 1

    @property
    def events_changed_status(self) -> int:
        """How many events' status differs between OLD and NEW."""
        return self.status_changes.total()

    @property
    def differs(self) -> bool:
        """Whether any call or status differs (the exit code of ``fbcli diff``)."""
        return self.events_changed_status > 0 or any(
            self.calls[k] for k in CALL_CHANGE_KINDS if k != "unchanged"
        )

    def to_dict(self) -> dict[str, Any]:
        """The ``summary`` of ``diff --format json``."""
        return {
            "differs": self.differs,
            "events": self.events,
            "malformed": self.malformed,
            "calls": {kind: self.calls[kind] for kind in CALL_CHANGE_KINDS},
            "status_changes": self.events_changed_status,
            "status_transitions": [
                {"old": old, "new": new, "events": count}
                for (old, new), count in self.status_changes.most_common()
            ],
            "subscriptions": {name: c.to_dict() for name, c in self.subscriptions.items()},
        }


def diff_events(
    items: Iterable[Event | LineError],
    old: MappingConfig,
    new: MappingConfig,
    *,
    base_url: str = DEFAULT_BASE_URL,
    tally: DiffTally | None = None,
) -> Iterator[EventDiff]:
    """Compare each event under ``old`` and ``new``; yield the events that differ, in order.

    Every event and malformed line is counted in ``tally``.
    """
    differ = MappingDiff(old, new, base_url=base_url)
    tally = tally if tally is not None else DiffTally()
    tally.start(differ.pairs)
    for item in items:
        if isinstance(item, LineError):
            tally.malformed += 1
            if item.line == 0:
                tally.unreadable.append(item)
            continue
        diff = differ.compare(item)
        tally.add(diff)
        if diff.differs:
            yield diff
