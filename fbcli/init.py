"""``fbcli init``: a starting mapping file from what an event export holds.

Two pure steps:

1. ``count_events(items)`` streams the events once and keeps only counts: per
   ``type``, per action whose *suggested trigger* matches (``type =
   "identify"`` → trackCustomer, ``"Order Completed"`` → trackPurchase,
   ``"Signed Up"`` → trackSignUp, ``type = "page"`` → trackPage; the triggers
   are the actions' own, not a copy), and per name of every other track
   event.  Memory stays bounded: at most ``MAX_NAMES`` distinct names are
   kept, and names over ``MAX_NAME_CHARS`` characters are only counted.
2. ``suggest_mapping(counts, mode=...)`` writes the YAML text: one
   subscription per action whose suggested trigger matched (trackPage only in
   direct mode; in cloud mode a comment says so), the standard subscriptions
   that matched nothing commented out, then each other track event name as a
   commented-out trackCustomEvent subscription, most frequent first (at most
   ``MAX_CUSTOM``).  The order is deterministic (count, then name).

Event names are written so that any text survives: a trigger string uses the
trigger language's JSON escapes (``\\"``, ``\\\\``, ``\\uXXXX`` for anything
not printable) and YAML scalars are plain only when that is unambiguous, else
single-quoted.  Subscription names are labels: non-printable characters are
shown as ``\\uXXXX`` text and long names are shortened; the trigger always
holds the exact name.
"""

from __future__ import annotations

import json
import pathlib
import shlex
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Final

from fbcli.actions import ACTIONS
from fbcli.actions.base import Mode
from fbcli.errors import ConfigError
from fbcli.events import Event, LineError
from fbcli.mappings import MERCHANT_ID_ENV, PLACEHOLDER_MERCHANT_ID
from fbcli.text import loose, plural
from fbcli.triggers import Compare, compile_trigger, leaves, parse_trigger
from fbcli.yamltext import yaml_scalar

MAX_CUSTOM: Final = 50
"""Most custom-event subscriptions listed (commented out) in the file."""
MAX_NAMES: Final = 10_000
"""Most distinct track event names counted; events with further names are counted together."""
MAX_NAME_CHARS: Final = 200
"""Longer event names are counted but not listed (they would make unwieldy triggers)."""
MAX_LABEL_CHARS: Final = 60
"""Subscription names longer than this are shortened (the trigger keeps the full name)."""
CUSTOM_ACTION: Final = "trackCustomEvent"
_KEEP_PROBLEMS: Final = 3
_COMMENT_COLUMN: Final = 40


@dataclass(frozen=True, slots=True)
class EventCounts:
    """What an event export holds, as counts (see ``count_events``)."""

    sources: tuple[str, ...]
    """The inputs, in the order they were read."""
    events: int
    malformed: int
    """Lines that could not be read as an event."""
    unreadable: int
    """Inputs that could not be read at all (missing, empty, corrupt)."""
    problems: tuple[LineError, ...]
    """The first few malformed lines and unreadable inputs, to show."""
    types: Mapping[str, int]
    """Events per ``type`` (``(none)``: missing or not a string)."""
    suggested: Mapping[str, int]
    """Events per action whose suggested trigger they match."""
    track_names: Mapping[str, int]
    """Other track events per ``event`` name."""
    unsubscribed_types: Mapping[str, int]
    """Events that are not track events and match no suggested trigger, per type."""
    unnamed_tracks: int = 0
    """Other track events without a usable name (missing, not a string, empty)."""
    long_names: int = 0
    """Other track events whose name is over ``MAX_NAME_CHARS`` characters."""
    overflow: int = 0
    """Other track events whose name came after ``MAX_NAMES`` distinct names."""


def count_events(items: Iterable[Event | LineError], *, max_names: int = MAX_NAMES) -> EventCounts:
    """Stream the events once and count what ``suggest_mapping`` needs."""
    triggers = {
        name: compile_trigger(parse_trigger(action.suggested_trigger))
        for name, action in ACTIONS.items()
        if action.suggested_trigger is not None
    }
    sources: dict[str, None] = {}
    types: Counter[str] = Counter()
    suggested: Counter[str] = Counter()
    names: Counter[str] = Counter()
    unsubscribed: Counter[str] = Counter()
    problems: list[LineError] = []
    events = malformed = unreadable = unnamed = long_names = overflow = 0
    for item in items:
        sources.setdefault(item.source)
        if isinstance(item, LineError):
            if item.line:
                malformed += 1
            else:
                unreadable += 1
            if len(problems) < _KEEP_PROBLEMS:
                problems.append(item)
            continue
        events += 1
        data = item.data
        kind = data.get("type")
        kind = kind if isinstance(kind, str) else "(none)"
        if kind in types or len(types) < max_names:
            types[kind] += 1
        matched = [name for name, matches in triggers.items() if matches(data)]
        suggested.update(matched)
        if matched:
            continue
        if kind != "track":
            if kind in unsubscribed or len(unsubscribed) < max_names:
                unsubscribed[kind] += 1
            continue
        name = data.get("event")
        if not isinstance(name, str) or not name:
            unnamed += 1
        elif len(name) > MAX_NAME_CHARS:
            long_names += 1
        elif name in names or len(names) < max_names:
            names[name] += 1
        else:
            overflow += 1
    return EventCounts(
        sources=tuple(sources),
        events=events,
        malformed=malformed,
        unreadable=unreadable,
        problems=tuple(problems),
        types=dict(types),
        suggested=dict(suggested),
        track_names=dict(names),
        unnamed_tracks=unnamed,
        long_names=long_names,
        overflow=overflow,
        unsubscribed_types=dict(unsubscribed),
    )


# -- the suggestion ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SuggestedSubscription:
    """One subscription of the suggested file (written, or commented out)."""

    name: str
    action: str
    trigger: str
    count: int


@dataclass(frozen=True, slots=True)
class MappingSuggestion:
    """What ``suggest_mapping`` writes, before it becomes text."""

    mode: Mode
    subscriptions: tuple[SuggestedSubscription, ...]
    """Written as they are (the first custom one disabled when it is the only one)."""
    unmatched_standard: tuple[SuggestedSubscription, ...]
    """Standard subscriptions no event matched: commented out, to adapt."""
    custom: tuple[SuggestedSubscription, ...]
    """Custom-event subscriptions, commented out, most frequent first."""
    unlisted_names: int
    """Track event names left out of ``custom`` (over ``MAX_CUSTOM``)."""
    other_mode: tuple[SuggestedSubscription, ...]
    """Standard subscriptions of the other mode that events matched (trackPage in cloud)."""
    near_misses: tuple[NearMiss, ...] = ()
    """Track event names that differ from a standard trigger's only in case or punctuation."""


@dataclass(frozen=True, slots=True)
class NearMiss:
    """Events named like a standard subscription's event but for case or punctuation."""

    name: str
    count: int
    literal: str
    """The name the subscription's trigger takes (``Order Completed``)."""
    subscription: str
    """The subscription's name (``Track Purchase``)."""

    def describe(self) -> str:
        """``12 events named "order_completed" ...``: one line, with what to do."""
        literal = json.dumps(self.literal, ensure_ascii=False)
        name = _printable(json.dumps(self.name, ensure_ascii=False))
        return (
            f"{plural(self.count, 'event', grouped=True)} named {name} "
            f"{'differs' if self.count == 1 else 'differ'} only in case or "
            f"punctuation from {literal}: the {self.subscription} subscription takes only "
            f"{literal}; fix the name where it is sent, or widen its trigger: "
            f"(event = {literal} or event = {name})"
        )


def _standard_literals(mode: Mode) -> dict[str, tuple[str, str]]:
    """``loose`` name → (the event name, the subscription) of each standard trigger's
    ``event = "..."`` in ``mode``."""
    found: dict[str, tuple[str, str]] = {}
    for action in ACTIONS.values():
        if action.suggested_trigger is None or mode not in action.modes:
            continue
        for leaf in leaves(parse_trigger(action.suggested_trigger)):
            if isinstance(leaf, Compare) and leaf.path == "event" and isinstance(leaf.value, str):
                found.setdefault(loose(leaf.value), (leaf.value, action.title))
    return found


def _by_count(counts: Mapping[str, int]) -> list[tuple[str, int]]:
    return sorted(counts.items(), key=lambda item: (-item[1], item[0]))


def _printable(text: str) -> str:
    """Each character that is not printable (but a space) as ``\\uXXXX`` (surrogate pairs)."""
    out = []
    for ch in text:
        if ch.isprintable() or ch == " ":
            out.append(ch)
            continue
        code = ord(ch)
        if code > 0xFFFF:
            code -= 0x10000
            out.append(f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}")
        else:
            out.append(f"\\u{code:04x}")
    return "".join(out)


def trigger_for(event_name: str) -> str:
    """``type = "track" and event = "<name>"``, the name as an exact, printable string literal."""
    literal = _printable(json.dumps(event_name, ensure_ascii=False))
    return f'type = "track" and event = {literal}'


def _label(event_name: str) -> str:
    label = _printable(event_name)
    if len(label) > MAX_LABEL_CHARS:
        label = label[: MAX_LABEL_CHARS - 1].rstrip() + "…"
    return label


def _unique(name: str, taken: set[str]) -> str:
    unique, n = name, 2
    while unique in taken:
        unique = f"{name} ({n})"
        n += 1
    taken.add(unique)
    return unique


def suggest_subscriptions(counts: EventCounts, *, mode: Mode = "cloud") -> MappingSuggestion:
    """Decide the file's subscriptions (see the module docstring).

    Raises ``ConfigError`` when nothing in the events can be subscribed to.
    """
    subscriptions: list[SuggestedSubscription] = []
    unmatched: list[SuggestedSubscription] = []
    other_mode: list[SuggestedSubscription] = []
    for action in ACTIONS.values():
        if action.suggested_trigger is None:
            continue
        found = counts.suggested.get(action.name, 0)
        sub = SuggestedSubscription(action.title, action.name, action.suggested_trigger, found)
        if mode not in action.modes:
            if found:
                other_mode.append(sub)
        elif found:
            subscriptions.append(sub)
        else:
            unmatched.append(sub)
    taken = {s.name for s in (*subscriptions, *unmatched, *other_mode)}
    literals = _standard_literals(mode)
    near: list[NearMiss] = []
    names: dict[str, int] = {}
    for name, n in counts.track_names.items():
        standard = literals.get(loose(name))
        if standard is not None and standard[0] != name:
            near.append(NearMiss(name, n, *standard))
        else:
            names[name] = n
    if not subscriptions and not names:
        names = dict(counts.track_names)  # nothing else to write: list them after all
    listed = _by_count(names)[:MAX_CUSTOM]
    custom = [
        SuggestedSubscription(_unique(_label(name), taken), CUSTOM_ACTION, trigger_for(name), n)
        for name, n in listed
    ]
    if not subscriptions and not custom:
        found_types = ", ".join(f"{n:,} {t}" for t, n in _by_count(counts.types)) or "none"
        hint = None
        if any(s.action == "trackPage" for s in other_mode):
            hint = "page events become trackPage calls in direct mode: add --mode direct"
        raise ConfigError(
            f"nothing in the events to subscribe to (events by type: {found_types})", hint=hint
        )
    return MappingSuggestion(
        mode=mode,
        subscriptions=tuple(subscriptions),
        unmatched_standard=tuple(unmatched),
        custom=tuple(custom),
        unlisted_names=len(names) - len(listed),
        other_mode=tuple(other_mode),
        near_misses=tuple(sorted(near, key=lambda m: (-m.count, m.name))),
    )


# -- YAML text ------------------------------------------------------------------------


def _subscription_lines(sub: SuggestedSubscription, note: str, *, prefix: str = "") -> list[str]:
    first = f"  {prefix}- name: {yaml_scalar(sub.name)}"
    if note:
        first = f"{first.ljust(_COMMENT_COLUMN - 2)}  # {note}"
    return [
        first,
        f"  {prefix}  action: {sub.action}",
        f"  {prefix}  trigger: {yaml_scalar(sub.trigger)}",
    ]


def describe_counts(counts: EventCounts) -> str:
    """``14 events (4 identify, 9 track, 1 page); 2 malformed lines skipped``."""
    text = plural(counts.events, "event", grouped=True)
    if counts.types:
        text += " (" + ", ".join(f"{n:,} {t}" for t, n in _by_count(counts.types)) + ")"
    if counts.malformed:
        text += f"; {plural(counts.malformed, 'malformed line', grouped=True)} skipped"
    if counts.unreadable:
        text += f"; {plural(counts.unreadable, 'input', grouped=True)} not readable"
    return _printable(text)


def summary_lines(suggestion: MappingSuggestion) -> list[str]:
    """What the file holds, for the message after writing it."""
    lines = []
    custom = len(suggestion.custom)
    if suggestion.subscriptions:
        actions = ", ".join(s.action for s in suggestion.subscriptions)
        lines.append(
            f"{plural(len(suggestion.subscriptions), 'subscription', grouped=True)} ({actions})"
        )
    else:
        lines.append("1 custom-event subscription, disabled (enable it to send)")
        custom -= 1
    if custom:
        text = f"{plural(custom, 'other track event', grouped=True)} listed, commented out"
        if suggestion.unlisted_names:
            text += f" (and {suggestion.unlisted_names:,} more not listed)"
        lines.append(text)
    return lines


def _sources_text(sources: tuple[str, ...]) -> str:
    shown = ", ".join(_printable(s) for s in sources[:3])
    if len(sources) > 3:
        shown += f" and {len(sources) - 3} more"
    return shown


def _events_args(sources: tuple[str, ...]) -> str:
    if not sources or len(sources) > 3:
        return "EVENTS"
    return shlex.join(_printable(s) for s in sources)


def render_suggestion(
    suggestion: MappingSuggestion, counts: EventCounts, *, merchant_id: str | None = None
) -> str:
    """The mapping file's text: comments that explain, then the subscriptions.

    In direct mode, without ``merchant_id``, the file holds the placeholder
    ``PLACEHOLDER_MERCHANT_ID``: it loads with a warning, and ``FRIENDBUY_MERCHANT_ID``
    replaces it.
    """
    lines = [
        f"# fbcli mapping file, started by `fbcli init` from {_sources_text(counts.sources)}:",
        f"# {describe_counts(counts)}.",
        "# Fields not listed under `mapping` keep their default mapping (`fbcli actions NAME`).",
        f"# Check it: fbcli validate {_events_args(counts.sources)} -m THIS-FILE",
        "version: 1",
        f"mode: {suggestion.mode}",
    ]
    if suggestion.mode == "direct":
        if merchant_id is None:
            lines.append(
                f"merchant_id: {PLACEHOLDER_MERCHANT_ID}   # placeholder: put your Friendbuy "
                f"merchant ID here, or set {MERCHANT_ID_ENV}"
            )
        else:
            lines.append(f"merchant_id: {merchant_id}")
    lines += ["", "subscriptions:"]
    active = list(suggestion.subscriptions)
    custom = list(suggestion.custom)
    if not active:
        first = custom.pop(0)
        lines += _subscription_lines(first, plural(first.count, "event", grouped=True))
        lines += ["    enabled: false          # no standard event found: enable it to send", ""]
    for sub in active:
        lines += [*_subscription_lines(sub, plural(sub.count, "matching event", grouped=True)), ""]
    for sub in suggestion.unmatched_standard:
        lines += [
            f"  # No event matched {sub.action}'s suggested trigger; adapt it and uncomment:",
            *_subscription_lines(sub, "", prefix="# "),
            "",
        ]
    if custom:
        lines.append(
            "  # Other track events, most frequent first. "
            "Uncomment one to send it as a custom event:"
        )
        for sub in custom:
            lines += [
                *_subscription_lines(sub, plural(sub.count, "event", grouped=True), prefix="# "),
                "",
            ]
    notes = [f"{miss.describe()}." for miss in suggestion.near_misses]
    if suggestion.unlisted_names:
        unlisted = plural(suggestion.unlisted_names, "more track event name", grouped=True)
        notes.append(f"{unlisted} not listed.")
    left_out = counts.long_names + counts.overflow
    if left_out:
        notes.append(
            f"{plural(left_out, 'more track event', grouped=True)} not listed "
            f"(names over {MAX_NAME_CHARS} characters, or past {MAX_NAMES:,} names)."
        )
    if counts.unnamed_tracks:
        notes.append(
            f"{plural(counts.unnamed_tracks, 'track event', grouped=True)} without an event name."
        )
    for sub in suggestion.other_mode:
        other = "direct" if suggestion.mode == "cloud" else "cloud"
        notes.append(
            f"{plural(sub.count, 'event', grouped=True)} for {sub.action} ({sub.trigger}): "
            f"{other} mode only, see fbcli init --mode {other}."
        )
    if counts.unsubscribed_types:
        kinds = ", ".join(f"{n:,} {t}" for t, n in _by_count(counts.unsubscribed_types))
        notes.append(f"No Friendbuy action takes these events: {_printable(kinds)}.")
    lines += [f"# {note}" for note in notes]
    while lines[-1] == "":
        lines.pop()
    return "\n".join(lines) + "\n"


def suggest_mapping(counts: EventCounts, *, mode: Mode = "cloud") -> str:
    """A starting mapping file (YAML with comments) for the counted events.

    Raises ``ConfigError`` when nothing in the events can be subscribed to.
    """
    return render_suggestion(suggest_subscriptions(counts, mode=mode), counts)


def check_output(target: pathlib.Path | None, *, force: bool) -> None:
    """``fbcli init -o PATH`` never overwrites a file without ``--force``, nor a folder."""
    if target is not None and target.is_dir():
        raise ConfigError("the output is a directory", where=str(target))
    if target is not None and target.exists() and not force:
        raise ConfigError(
            "the file already exists",
            where=str(target),
            hint="add --force to overwrite it, or write elsewhere with -o PATH",
        )


def start_mapping(
    items: Iterable[Event | LineError], *, mode: Mode, merchant_id: str | None = None
) -> tuple[str, EventCounts, MappingSuggestion]:
    """A starting mapping file (its text) from an export, with the counts and the
    suggestion it was made from; ``ConfigError`` when there is no event to start from."""
    counts = count_events(items)
    if not counts.events:
        first = counts.problems[0] if counts.problems else None
        hint = f"{first.where}: {first.message}" if first else None
        raise ConfigError("no events to start from", hint=hint)
    suggestion = suggest_subscriptions(counts, mode=mode)
    return render_suggestion(suggestion, counts, merchant_id=merchant_id), counts, suggestion
