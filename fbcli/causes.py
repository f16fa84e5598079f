"""Problems grouped by cause: one line per cause, not one row per event.

``validate`` and ``dry-run`` feed every record to a ``CauseBook``; it keeps a
count, the first few line numbers and one example per cause, and merges with
the books of other processes (``parallel``).  ``causes()`` lists them, most
frequent first.  Pure: no I/O.

A cause is keyed by action, field, kind of problem and event path, so "178
events whose ``amount`` is a string with a currency sign" is one cause.  The
kind is the violation's own (``validation.Violation.kind``: worded where the
violation is made, the same for every value); a malformed line's is its
message without its position.

Beyond the violations of each record, a ``CauseFinder`` (made once from the
mapping file) looks, for each event, for what the records do not say:

- **near misses**: an event named like a trigger's ``event = "..."`` literal
  but for letter case, spaces or punctuation (``order_completed`` for ``Order
  Completed``) that did not reach that trigger's subscription;
- **present but not mapped**: an optional field whose plain ``@path`` finds
  nothing in an event that has an obviously matching key (``referral_code``
  for ``referralCode``, ``text.loose``) at the top or one level down;
- **duplicate messageIds**: events whose ``messageId`` an earlier event has.
  Only a 64-bit hash of each id is kept (``hash``; the processes of a run
  share the seed): two different ids could collide, with odds of about 1 in
  2**64 / n**2, so a few million ids are counted exactly in practice.
"""

from __future__ import annotations

import json
import shlex
from array import array
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final, Literal

from fbcli.directives import path_keys
from fbcli.events import Event, LineError
from fbcli.plan import PlannedCall, PlanRecord, Rejection, Unmatched
from fbcli.text import clip, loose
from fbcli.triggers import Compare, Node, leaves
from fbcli.validation import (
    CURRENCY_RE,
    MISSING_REQUIRED,
    Violation,
    example_of,
)

if TYPE_CHECKING:
    from fbcli.mappings import MappingConfig, Subscription

__all__ = ["KEEP_LINES", "Cause", "CauseBook", "CauseFinder", "Severity"]

Severity = Literal["error", "warning"]

KEEP_LINES: Final = 3
"""How many line numbers a cause keeps (the first ones read)."""

DUPLICATE_ID: Final = "duplicate messageId"
"""The kind of the cause of events whose messageId an earlier event has."""
DUPLICATE_HINT: Final = (
    "replay sends each subscription's call once per messageId (its ledger's key): "
    "of events sharing one, only the first is sent, the others are skipped as already sent"
)
NOT_MAPPED: Final = "present but not mapped"
"""The kind of an optional field that the events have under another key."""
NEAR_MISS: Final = "event name differs only in case or punctuation from"
"""The kind of a near miss, before the trigger's literal."""

_SHAPES_KEPT: Final = 4096
"""Event shapes whose unmapped keys ``CauseFinder`` remembers (then it looks each time)."""
_NAMES_KEPT: Final = 4096
"""Event names whose near miss ``CauseFinder`` remembers."""

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


class SeenHashes:
    """A set of 64-bit hashes in 8 bytes each (a ``set`` of ints takes about 60): the
    messageIds seen, a million of them in 16 MB.  Open addressing, linear probing, grown
    to keep it at most half full; 0 marks a free slot (a hash of 0 is kept as 1)."""

    __slots__ = ("_mask", "_slots", "_used")

    def __init__(self, capacity: int = 8) -> None:
        self._slots = array("Q", bytes(8 * capacity))
        self._mask = capacity - 1
        self._used = 0

    def __len__(self) -> int:
        return self._used

    def add(self, code: int) -> bool:
        """Add ``code``; whether it is new."""
        code = (code & 0xFFFF_FFFF_FFFF_FFFF) or 1
        slots, mask = self._slots, self._mask
        index = code & mask
        while True:
            held = slots[index]
            if held == 0:
                break
            if held == code:
                return False
            index = (index + 1) & mask
        slots[index] = code
        self._used += 1
        if self._used * 2 > mask:
            self._grow()
        return True

    def _grow(self) -> None:
        slots = array("Q", bytes(16 * len(self._slots)))
        mask = len(slots) - 1
        for code in self._slots:
            if code:
                index = code & mask
                while slots[index]:
                    index = (index + 1) & mask
                slots[index] = code
        self._slots, self._mask = slots, mask


@dataclass(slots=True)
class CauseBook:
    """Causes counted as records arrive; mergeable, picklable.

    ``ids`` holds the hashes of the messageIds seen; ``firsts`` the hash and
    place of each one seen first in this book, in order, for the book it is
    merged into (which counts those it had already seen as duplicates).
    """

    entries: dict[_Key, _Entry] = field(default_factory=dict)
    ids: SeenHashes = field(default_factory=SeenHashes)
    firsts: list[tuple[int, str, int]] = field(default_factory=list)

    def add(self, record: PlanRecord) -> None:
        """Count the problems of one record (a call's warnings, a rejection's errors and
        warnings, a malformed line); unmatched events are not problems here."""
        if isinstance(record, LineError):
            kind = _line_kind(record.message) if record.line else record.message
            self._count((None, None, kind, None, "error"), record.where, example=record.message)
            return
        if isinstance(record, Unmatched):
            return
        errors = record.errors if isinstance(record, Rejection) else ()
        if not errors and not record.warnings:  # nearly every call: nothing to count
            return
        where = f"{record.event.source}:{record.event.at}"
        self._violations(record.action, errors, "error", where)
        self._violations(record.action, record.warnings, "warning", where)

    def add_all(self, records: Iterable[PlanRecord]) -> None:
        for record in records:
            self.add(record)

    def add_message_id(self, message_id: str, source: str, line: int) -> None:
        """Count an event's messageId: a duplicate when an earlier event had it."""
        code = hash(message_id)
        if not self.ids.add(code):
            self._count(
                _DUPLICATE_KEY, f"{source}:{line}", example=example_of(message_id)
            ).hint = DUPLICATE_HINT
            return
        self.firsts.append((code, source, line))

    def merge(self, other: CauseBook) -> None:
        """Add another book's counts (a book of later records: its lines after this one's)."""
        add = self.ids.add
        for code, source, line in other.firsts:
            if not add(code):
                self._count(_DUPLICATE_KEY, f"{source}:{line}").hint = DUPLICATE_HINT
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

    def duplicate_ids(self) -> int:
        """Events whose messageId an earlier event has."""
        entry = self.entries.get(_DUPLICATE_KEY)
        return entry.count if entry is not None else 0

    def _violations(
        self, action: str, violations: Iterable[Violation], severity: Severity, where: str
    ) -> None:
        for violation in violations:
            kind = violation.kind or violation.message
            name, source = _grouped(violation.field), _grouped(violation.source)
            key = (action, name, kind, source, severity)
            entry = self._count(key, where, example=violation.example)
            if entry.count == 1:
                entry.hint = _hint(violation, kind, name, source, where)

    def _count(self, key: _Key, where: str, *, example: str | None = None) -> _Entry:
        entry = self.entries.get(key)
        if entry is None:
            entry = self.entries[key] = _Entry(example=example)
        elif entry.example is None:
            entry.example = example
        entry.count += 1
        if len(entry.lines) < KEEP_LINES:
            entry.lines.append(where)
        return entry

    def add_cause(self, key: _Key, where: str, example: str | None, hint: str) -> None:
        """Count one record of a cause found beside the violations (``CauseFinder``)."""
        entry = self._count(key, where, example=example)
        if entry.hint is None:
            entry.hint = hint


_DUPLICATE_KEY: Final[_Key] = (None, None, DUPLICATE_ID, "$.messageId", "warning")


def _grouped(pointer: str | None) -> str | None:
    """A field pointer or event path with its list indexes as ``*`` (``products/*/price``,
    ``$.properties.products[*].price``), so every item's problem is one cause."""
    if pointer is None or not any(c.isdigit() for c in pointer):
        return pointer
    parts = pointer.split("/")
    if len(parts) > 1:
        return "/".join("*" if part.isdigit() else part for part in parts)
    out, index = [], 0
    while index < len(pointer):
        if pointer[index] == "[":
            end = pointer.find("]", index)
            if end > index and pointer[index + 1 : end].isdigit():
                out.append("[*]")
                index = end + 1
                continue
        out.append(pointer[index])
        index += 1
    return "".join(out)


def _line_kind(message: str) -> str:
    """A malformed line's message without its position, column, byte or size."""
    for prefix, kind in _LINE_KINDS:
        if message.startswith(prefix):
            return kind
    return message


_LINE_KINDS: Final = (
    ("invalid JSON", "invalid JSON"),
    ("invalid UTF-8", "invalid UTF-8"),
    ("invalid Unicode escape", "invalid Unicode escape (a lone surrogate)"),
    ("line is longer than", "line too long"),
    ("expected a JSON object", "expected a JSON object"),
    ("nesting deeper than", "nesting too deep"),
    ("non-finite number", "non-finite number (NaN or Infinity)"),
    ("number ", "number out of range"),
    ("integer is too long", "integer too long"),
)


# -- hints -------------------------------------------------------------------------------


def _plain_source(source: str | None) -> str | None:
    """The source when it is one plain path (``$.properties.total``), else ``None``."""
    if source is None or "," in source or "*" in source or "[" in source:
        return None
    return source if source.startswith("$.") else None


def _directive(mapping: Mapping[str, Any]) -> str:
    return json.dumps(mapping, ensure_ascii=False)


def _replace_hint(source: str | None, field_name: str, patterns: list[tuple[str, str]]) -> str:
    """``map the field with @replace ...`` for one or two literal replacements."""
    plain = _plain_source(source)
    if plain is None:
        return "send the number alone"
    replace: dict[str, Any] = {"value": {"@path": plain}}
    for index, (pattern, replacement) in enumerate(patterns[:2]):
        suffix = "" if index == 0 else "2"
        replace[f"pattern{suffix}"] = pattern
        replace[f"replacement{suffix}"] = replacement
    return f"send the number alone, or map {field_name}: {_directive({'@replace': replace})}"


def _template_hint(source: str | None, field_name: str, before: str, after: str) -> str | None:
    plain = _plain_source(source)
    if plain is None:
        return None
    template = f"{before}{{{{{plain.removeprefix('$.')}}}}}{after}"
    return f"map {field_name}: {_directive({'@template': template})}"


def _example_text(example: str | None) -> str:
    """The text an example holds (its JSON decoded when it was not clipped)."""
    if example is None:
        return ""
    try:
        value = json.loads(example)
    except ValueError:
        return example.strip('"')
    return value if isinstance(value, str) else example


def _hint(violation: Violation, kind: str, name: str | None, source: str | None, where: str) -> str:
    """What fixes a violation's kind, when fbcli can tell; else how to look at one event."""
    field_name = (name or "").split("/")[-1]
    text = _example_text(violation.example)
    if kind == "string with a currency sign":
        signs = [(m.group(), "") for m in CURRENCY_RE.finditer(text)][:1]
        if "," in text:
            signs.append((",", ""))
        return "the destination cannot read it as a number; " + _replace_hint(
            source, field_name, signs or [("$", "")]
        )
    if kind == "string with a thousands separator":
        return "the destination cannot read it as a number; " + _replace_hint(
            source, field_name, [(",", "")]
        )
    if kind == "string with a decimal comma":
        return "the destination cannot read it as a number; " + _replace_hint(
            source, field_name, [(",", ".")]
        )
    if kind == "string with a percent sign":
        return "the destination cannot read it as a number; " + _replace_hint(
            source, field_name, [("%", "")]
        )
    hint: str | None = None
    if kind == "date without a time":
        hint = _template_hint(source, field_name, "", "T00:00:00Z")
    elif kind == "URL without a scheme":
        hint = _template_hint(source, field_name, "https://", "")
    elif kind == "date written DD/MM/YYYY or MM/DD/YYYY":
        hint = "send dates as YYYY-MM-DD: no directive reorders a date"
    elif kind == "empty":
        hint = 'the events have "" there, which the destination drops: the field is missing'
    elif kind == "null":
        hint = "the events have null there, which the destination drops: the field is missing"
    if hint is not None:
        return hint
    file, _, line = where.rpartition(":")
    look = f"fbcli explain {shlex.quote(file)} --line {line}"
    if kind == MISSING_REQUIRED and source is not None:
        return f"nothing at {source}; see what the event has: {look}"
    return f"see one: {look}"


# -- what the records do not say ---------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Literal:
    """A trigger's ``event = "..."``: its text and the subscriptions that test it."""

    text: str
    action: str
    subscriptions: tuple[str, ...]
    where: str


@dataclass(frozen=True, slots=True)
class _Optional:
    """An optional field mapped from a plain path of one or two keys."""

    field: str
    keys: tuple[str, ...]
    wanted: frozenset[str]
    """The ``loose`` names that would be an obvious match."""


def _event_literals(node: Node) -> Iterable[str]:
    for leaf in leaves(node):
        if (
            isinstance(leaf, Compare)
            and leaf.path == "event"
            and leaf.op == "="
            and isinstance(leaf.value, str)
        ):
            yield leaf.value


class CauseFinder:
    """What a mapping file lets fbcli look for in each event beyond its records' violations
    (the module docstring): made once per run, inherited by the worker processes."""

    def __init__(self, config: MappingConfig) -> None:
        self.path = config.path
        self.literals: dict[str, _Literal] = {}
        exact: set[str] = set()
        self.optional: dict[
            str, tuple[Subscription, tuple[_Optional, ...], frozenset[tuple[str, ...]]]
        ] = {}
        for subscription in config.active:
            for text in _event_literals(subscription.node):
                exact.add(text)
                known = self.literals.get(loose(text))
                subs = (*known.subscriptions, subscription.name) if known else (subscription.name,)
                where = f"{config.path}:{subscription.line}" if subscription.line else config.path
                self.literals[loose(text)] = _Literal(
                    text, subscription.action.name, subs, known.where if known else where
                )
            self.optional[subscription.name] = (
                subscription,
                _optional_fields(subscription, config),
                frozenset(keys for fm in subscription.fields if (keys := path_keys(fm.mapping))),
            )
        self.exact = frozenset(exact)
        self._names: dict[str, _Literal | None] = {}
        self._shapes: dict[tuple[Any, ...], tuple[tuple[_Optional, tuple[str, str]], ...]] = {}

    def new_book(self) -> CauseBook:
        """An empty book to note items in."""
        return CauseBook()

    def note(self, book: CauseBook, item: Event | LineError, records: list[PlanRecord]) -> None:
        """Count what one item (an event or a malformed line) and its records say."""
        if isinstance(item, LineError):
            book.add(item)
            return
        message_id = item.message_id
        if message_id:  # an empty one is no key: replay keys such an event by its content
            book.add_message_id(message_id, item.source, item.line)
        reached: list[str] = []
        for record in records:
            if isinstance(record, Unmatched | LineError):
                continue
            reached.append(record.subscription)
            book.add(record)
            self._unmapped(book, record)
        name = item.data.get("event")
        if type(name) is str and self.literals:
            self._near_miss(book, item, name, reached)

    def _near_miss(self, book: CauseBook, event: Event, name: str, reached: list[str]) -> None:
        if name in self.exact:
            return
        names = self._names
        if name in names:
            found = names[name]
        else:
            found = self.literals.get(loose(name))
            if len(names) < _NAMES_KEPT:
                names[name] = found
        if found is None or any(s in reached for s in found.subscriptions):
            return
        subscription = found.subscriptions[0]
        literal = json.dumps(found.text, ensure_ascii=False)
        key = (found.action, None, f"{NEAR_MISS} {literal}", "$.event", "warning")
        hint = (
            f'subscription "{subscription}" ({found.where}) takes only event = {literal}: '
            f"widen its trigger, e.g. (event = {literal} or event = "
            f"{json.dumps(name, ensure_ascii=False)}), or fix the name where it is sent"
        )
        book.add_cause(key, f"{event.source}:{event.line}", example_of(name), hint)

    def _unmapped(self, book: CauseBook, record: PlannedCall | Rejection) -> None:
        subscription, fields, mapped = self.optional[record.subscription]
        if not fields:
            return
        data = record.event.data
        shape = (record.subscription, *data, *(tuple(v) for v in data.values() if type(v) is dict))
        found = self._shapes.get(shape)
        if found is None:
            found = _present_elsewhere(fields, mapped, data)
            if len(self._shapes) < _SHAPES_KEPT:
                self._shapes[shape] = found
        for optional, (container, key) in found:
            node = data.get(container) if container else data
            value = node.get(key) if isinstance(node, dict) else None
            if value is None or value == "":
                continue
            path = f"$.{container}.{key}" if container else f"$.{key}"
            mapping = _directive({"@path": path})
            hint = (
                f'map it under subscription "{subscription.name}" '
                f"({self.path}{f':{subscription.line}' if subscription.line else ''}): "
                f"{optional.field}: {mapping}"
            )
            source = "$." + ".".join(optional.keys)
            kind = f"{NOT_MAPPED}: the events have {path.removeprefix('$.')}"
            key_ = (record.action, optional.field, kind, source, "warning")
            book.add_cause(
                key_, f"{record.event.source}:{record.event.line}", example_of(value), hint
            )


def _optional_fields(subscription: Subscription, config: MappingConfig) -> tuple[_Optional, ...]:
    """The subscription's optional fields mapped from a plain path one or two keys long."""
    action = subscription.action
    found = []
    for fm in subscription.fields:
        spec = action.field_named(fm.field)
        if spec is None or config.mode in spec.required:
            continue
        keys = path_keys(fm.mapping)
        if keys is None or len(keys) > 2:
            continue
        wanted = {loose(fm.field), loose(keys[-1])}
        default_keys = path_keys(spec.default)
        if default_keys:
            wanted.add(loose(default_keys[-1]))
        found.append(_Optional(fm.field, keys, frozenset(wanted)))
    return tuple(found)


def _present_elsewhere(
    fields: tuple[_Optional, ...], mapped: frozenset[tuple[str, ...]], data: Mapping[str, Any]
) -> tuple[tuple[_Optional, tuple[str, str]], ...]:
    """Each field whose path finds no key in ``data`` but whose name is a key of ``data`` or of
    an object in it that no field is mapped from, with that key's place (``("", key)``: at
    the top).  Keys only, never values: the answer is the same for every event of a shape."""
    places = [("", key) for key in data]
    for container, member in data.items():
        if type(member) is dict:
            places.extend((container, key) for key in member)
    found = []
    for optional in fields:
        node: Any = data
        present = True
        for key in optional.keys:
            if type(node) is not dict or key not in node:
                present = False
                break
            node = node[key]
        if present:
            continue
        for container, key in places:
            place = (container, key) if container else (key,)
            if loose(key) in optional.wanted and place not in mapped:
                found.append((optional, (container, key)))
                break
    return tuple(found)


def describe_lines(cause: Cause, *, one_source: bool) -> str:
    """``lines 12, 40, 77 …``: where a cause's first records are (file names dropped when
    there is one input)."""
    shown = [where.rpartition(":")[2] if one_source else where for where in cause.lines]
    text = ", ".join(shown)
    if cause.count > len(cause.lines):
        text += " …"
    return f"{'line' if len(cause.lines) == 1 and cause.count == 1 else 'lines'} {text}"


def label(cause: Cause) -> str:
    """What a cause is about: ``trackPurchase.amount``, ``trackPurchase``, ``messageId``,
    ``malformed line`` or ``input``."""
    if cause.action is not None:
        return f"{cause.action}.{cause.field}" if cause.field else cause.action
    if cause.kind == DUPLICATE_ID:
        return "messageId"
    return "malformed line" if all(":" in where for where in cause.lines) else "input"


def clip_example(example: str, limit: int = 40) -> str:
    """An example as a one-line summary shows it."""
    return clip(example, limit, "…")
