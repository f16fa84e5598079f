"""One event's journey: triggers, field mappings, validation, the final call.

``explain_event`` builds an :class:`Explanation` for one event and one mapping
file.  It is pure and it never maps anything itself: the triggers are traced
with ``trace_trigger``, each matching subscription goes through
``plan.map_fields`` and ``plan.build_call`` (exactly what ``plan_event`` does),
so the request shown is the request ``dry-run`` shows and ``replay`` sends.
What this module adds is the account of it:

- for each subscription in file order, every comparison of its trigger with
  the value the event holds, and a hint on a near miss (letter case, strict
  types, a similarly named key);
- for each field of each matched subscription: where its mapping comes from
  (the default or a line of the file), the event paths it reads, the raw
  value, the value after coercion, and where it lands in the request, read
  from the action's body rules (a key, ``additionalProperties.<key>``, not
  sent, dropped as empty, not sent in this mode, spread or lifted);
- each validation error with its field, its source path and, where one is
  clear from the event, a hint.

Hints state facts about the event ("the event has ``properties.revenue``"),
never guesses about intent, so a hint is never wrong.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal

from fbcli.actions.base import (
    PRODUCT_ITEM_FIELDS,
    Action,
    JsonObject,
    Mode,
    is_non_empty,
)
from fbcli.directives import get_path
from fbcli.errors import ConfigError
from fbcli.events import Event, LineError
from fbcli.jsvalues import js_to_number, js_truthy
from fbcli.mappings import FieldMapping, MappingConfig, Subscription
from fbcli.plan import (
    MappedPayload,
    PlannedCall,
    Rejection,
    build_call,
    map_fields,
    setup_push,
    to_record,
)
from fbcli.text import loose, show_json
from fbcli.triggers import Call, Compare, Node, Not, evaluate_trigger, lookup, trace_trigger
from fbcli.validation import (
    DATE_PARTS_RE,
    DATE_PREFIX_RE,
    DECIMAL_COMMA_RE,
    MONEY_RE,
    THOUSANDS_RE,
    FieldType,
    Violation,
)
from fbcli.values import MISSING

__all__ = [
    "Explanation",
    "FieldTrace",
    "Landing",
    "MemberLanding",
    "Problem",
    "SubscriptionTrace",
    "TriggerCheck",
    "explain_event",
    "explanation_to_dict",
    "find_event",
]

SPREAD: Final = "friendbuyAttributes"
"""The free-form field whose members are spread into the top of the body."""

_SYNONYMS: Final = (
    frozenset({"total", "revenue", "amount", "value", "price", "ordertotal", "grandtotal"}),
    frozenset({"orderid", "ordernumber", "orderno", "transactionid"}),
    frozenset({"email", "emailaddress", "mail"}),
    frozenset({"currency", "currencycode"}),
    frozenset({"userid", "customerid"}),
    frozenset({"firstname", "givenname"}),
    frozenset({"lastname", "familyname", "surname"}),
    frozenset({"coupon", "couponcode", "discountcode", "promocode"}),
    frozenset({"quantity", "qty"}),
)
"""Names that commonly mean the same thing, compared after ``_norm``."""

_CONTAINERS: Final = ("$.properties", "$.traits", "$.context.traits")
"""Where events keep user data; a key missing from one may sit in another."""

_SOURCE_RE: Final = re.compile(r"(\$(?:\.[^.\[\]]+|\[\d+\])*)\.([^.\[\]]+)")
_SIMPLE_KEY_RE: Final = re.compile(r"[^.\[\]\s]+")

Status = Literal["planned", "invalid", "unmatched"]

_CUT: Final = "…"
"""How a value cut short in a hint ends."""


# -- the explanation ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TriggerCheck:
    """One comparison (or call) of a trigger, checked against the event."""

    test: str
    """The comparison as written, e.g. ``event = "Order Completed"``."""
    path: str
    result: bool
    actual: Any
    """The event's value at ``path``, or ``MISSING``."""
    hint: str | None = None


@dataclass(frozen=True, slots=True)
class Landing:
    """Where a value lands in the request body."""

    target: tuple[str, ...] | None
    """The key path in the body (``("customer", "id")``); ``None``: not in the body."""
    note: str | None = None
    """How: ``to-number``, ``as text``, or why not: ``dropped as empty`` ..."""

    def describe(self) -> str:
        """``amount (to-number)``, ``additionalProperties.x (as text)``, ``not sent``."""
        if self.target is None:
            return self.note or "not sent"
        where = ".".join(self.target)
        return f"{where} ({self.note})" if self.note else where


@dataclass(frozen=True, slots=True)
class MemberLanding:
    """One member of a spread (``friendbuyAttributes``) or lifted (``eventProperties``) object."""

    key: str
    value: Any
    landing: Landing
    sent: Any = MISSING


@dataclass(frozen=True, slots=True)
class FieldTrace:
    """One action field of one matched subscription, from the event to the body."""

    field: str
    type: FieldType
    required: bool
    origin: Literal["default", "file", "unmapped", "other mode"]
    """``unmapped``: the file maps it to null (or it has no default); ``other mode``:
    the field does not exist in this mode."""
    line: int | None
    """The line of the file's override."""
    mapping: Any
    """The mapping-kit value (``MISSING`` when unmapped)."""
    sources: tuple[str, ...]
    raw: Any
    """What the mapping resolved to (``MISSING``: nothing)."""
    value: Any
    """After dropping empty values and coercing (``MISSING``: dropped or nothing)."""
    landing: Landing | None
    """``None`` when there was nothing to send."""
    sent: Any = MISSING
    """The value in the final body (planned calls only)."""
    members: tuple[MemberLanding, ...] = ()


@dataclass(frozen=True, slots=True)
class Problem:
    """A validation error (or warning) with a hint where the event makes one clear."""

    field: str | None
    source: str | None
    message: str
    hint: str | None = None

    def to_dict(self) -> dict[str, str]:
        """``field``, ``source`` (when known), ``message`` and ``hint`` (when there is one)."""
        out = Violation(self.field, self.message, self.source).to_dict()
        if self.hint:
            out["hint"] = self.hint
        return out


@dataclass(frozen=True, slots=True)
class SubscriptionTrace:
    """One subscription: its trigger checked, and if it matched, its call explained."""

    name: str
    action: str
    line: int | None
    enabled: bool
    trigger: str
    matched: bool
    checks: tuple[TriggerCheck, ...]
    fields: tuple[FieldTrace, ...] = ()
    errors: tuple[Problem, ...] = ()
    warnings: tuple[Problem, ...] = ()
    call: PlannedCall | Rejection | None = None
    """The planned call or rejection (matched, enabled subscriptions only)."""

    @property
    def applied(self) -> bool:
        """Enabled and matched: the subscription yields a call (or a rejection)."""
        return self.call is not None


@dataclass(frozen=True, slots=True)
class Explanation:
    """One event's journey through one mapping file."""

    event: Event
    mappings: str
    mode: Mode
    base_url: str
    subscriptions: tuple[SubscriptionTrace, ...]
    setup: tuple[str, ...] | None = None
    """Direct mode's setup push ``("merchant", id)``."""

    @property
    def calls(self) -> tuple[PlannedCall | Rejection, ...]:
        """The calls, one per applied subscription, in file order (as ``plan_event``)."""
        return tuple(s.call for s in self.subscriptions if s.call is not None)

    @property
    def status(self) -> Status:
        """``invalid`` if any call is rejected, ``unmatched`` if none applies, else ``planned``."""
        calls = self.calls
        if not calls:
            return "unmatched"
        return "invalid" if any(isinstance(c, Rejection) for c in calls) else "planned"


# -- finding the event -------------------------------------------------------------------


def find_event(
    items: Iterable[Event | LineError],
    *,
    source: str,
    line: int | None = None,
    message_id: str | None = None,
    index: int | None = None,
) -> Event | LineError:
    """The event on ``line`` (or the first with ``message_id``); a malformed line as is.

    On a line holding a batch envelope, the event at ``index`` (from 0); with no
    ``index``, its only event.  Raises ``ConfigError`` when there is no such event
    (a blank line, a line past the end, a batch of several events and no
    ``index``, no such ``messageId``) or the input cannot be read at all.
    Reading stops at the event.
    """
    last = 0
    held: list[Event | LineError] = []  # the items of a batch on ``line``, passed over
    plain = False
    for item in items:
        if item.line == 0:
            assert isinstance(item, LineError)
            raise ConfigError(item.message, where=item.source)
        last = item.line
        if line is not None and item.line == line:
            place = _place(item)
            if place is None and index is None:
                return item
            if place is not None and place == index:
                return item
            if place is not None:
                held.append(item)
            plain = place is None
            continue
        if line is not None and item.line > line:
            break
        if isinstance(item, Event) and message_id is not None and item.message_id == message_id:
            return item
    if len(held) == 1 and index is None:
        return held[0]
    if line is not None:
        raise ConfigError(_no_event_on(line, index, len(held), last, plain=plain), where=source)
    raise ConfigError(f"no event with messageId {json.dumps(message_id)}", where=source)


def _place(item: Event | LineError) -> int | None:
    """An item's place in the batch on its line (a bad member's too); ``None``: no batch."""
    if isinstance(item, Event):
        return item.index
    found = re.match(r"batch\[(\d+)\]: ", item.message)
    return int(found[1]) if found else None


def _no_event_on(line: int, index: int | None, held: int, last: int, *, plain: bool) -> str:
    """Why ``find_event`` found no event on ``line`` (at ``index``): ``held``, the items of
    the batch on that line; ``plain``: the line holds one event, not a batch."""
    if held:
        places = f"{line}[0] to {line}[{held - 1}]"
        if index is None:
            return f"line {line} holds a batch of {held} events: give --line {places}"
        return f"no event {line}[{index}]: line {line} holds a batch of {held} ({places})"
    if plain:
        return f"no event {line}[{index}]: line {line} holds no batch (give --line {line})"
    why = "it is blank" if line < last else f"the last non-blank line is {last}"
    return f"no event on line {line}: {why}"


def parse_line(text: str) -> tuple[int, int | None]:
    """``explain --line``: ``12`` (the event on line 12) or ``12[3]`` (the event at index 3,
    from 0, of the batch on line 12); ``ConfigError`` for anything else."""
    found = re.fullmatch(r"\s*(\d+)\s*(?:\[\s*(\d+)\s*\])?\s*", text)
    if found is None or int(found[1]) < 1:
        raise ConfigError(
            f"--line must be a line number (12), or a line and a place in its batch (12[3]), "
            f"not '{text}'"
        )
    return int(found[1]), int(found[2]) if found[2] is not None else None


# -- explaining --------------------------------------------------------------------------


def explain_event(event: Event, config: MappingConfig, *, base_url: str) -> Explanation:
    """Explain what ``plan_event`` does with ``event``, subscription by subscription."""
    subscriptions = tuple(
        _explain_subscription(event, s, config.mode, base_url) for s in config.subscriptions
    )
    setup = setup_push(config)
    return Explanation(
        event,
        config.path,
        config.mode,
        base_url,
        subscriptions,
        tuple(setup) if setup is not None else None,
    )


def _explain_subscription(
    event: Event, subscription: Subscription, mode: Mode, base_url: str
) -> SubscriptionTrace:
    data = event.data
    leaves = list(_leaves(subscription.node))
    checks = tuple(
        TriggerCheck(
            step.text,
            leaf.path,
            step.result,
            step.actual,
            None if step.result else _trigger_hint(leaf, step.actual, data),
        )
        for leaf, step in zip(leaves, trace_trigger(subscription.node, data), strict=True)
    )
    matched = subscription.matches(data)
    trace = SubscriptionTrace(
        subscription.name,
        subscription.action.name,
        subscription.line,
        subscription.enabled,
        subscription.trigger,
        matched,
        checks,
    )
    if not (matched and subscription.enabled):
        return trace
    mapped = map_fields(subscription, data, mode)
    call = build_call(event, subscription, mapped, mode=mode, base_url=base_url)
    body = call.body if isinstance(call, PlannedCall) else None
    fields = tuple(_field_trace(subscription, mode, mapped, body))
    by_field = {f.field: f for f in fields}
    errors = call.errors if isinstance(call, Rejection) else ()
    return SubscriptionTrace(
        trace.name,
        trace.action,
        trace.line,
        trace.enabled,
        trace.trigger,
        trace.matched,
        trace.checks,
        fields=fields,
        errors=tuple(_problem(v, data, subscription.action, by_field) for v in errors),
        warnings=tuple(_problem(v, data, subscription.action, by_field) for v in call.warnings),
        call=call,
    )


def _leaves(node: Node) -> Iterator[Compare | Call]:
    """The comparisons and calls of a trigger in source order (as ``trace_trigger``)."""
    if isinstance(node, Compare | Call):
        yield node
    elif isinstance(node, Not):
        yield from _leaves(node.operand)
    else:
        for item in node.items:
            yield from _leaves(item)


# -- fields and where they land ------------------------------------------------------------


def _field_trace(
    subscription: Subscription, mode: Mode, mapped: MappedPayload, body: JsonObject | None
) -> Iterator[FieldTrace]:
    mappings: dict[str, FieldMapping] = {fm.field: fm for fm in subscription.fields}
    lander = _Lander(subscription.action, mode, mapped.payload, body)
    for spec in subscription.action.fields:
        required = mode in spec.required
        if mode not in spec.modes:
            yield FieldTrace(
                spec.name,
                spec.type,
                required,
                origin="other mode",
                line=None,
                mapping=MISSING,
                sources=(),
                raw=MISSING,
                value=MISSING,
                landing=Landing(None, "not sent in this mode"),
            )
            continue
        fm = mappings.get(spec.name)
        raw = mapped.resolved.get(spec.name, MISSING)
        value = mapped.payload.get(spec.name, MISSING)
        landing: Landing | None = None
        members: tuple[MemberLanding, ...] = ()
        if value is not MISSING:
            landing, members = lander.field(spec.name, value)
        elif raw is not MISSING:
            landing = Landing(None, "dropped as empty")
        yield FieldTrace(
            spec.name,
            spec.type,
            required,
            origin=fm.origin if fm is not None else "unmapped",
            line=fm.line if fm is not None else None,
            mapping=fm.mapping if fm is not None else MISSING,
            sources=fm.sources if fm is not None else (),
            raw=raw,
            value=value,
            landing=landing,
            sent=lander.sent(landing),
            members=members,
        )


def _members(value: dict[Any, Any] | list[Any]) -> Iterable[tuple[Any, Any]]:
    """An object's members, or a list's items under their indexes (as JavaScript spreads)."""
    return value.items() if isinstance(value, dict) else enumerate(value)


@dataclass(frozen=True, slots=True)
class _Lander:
    """Where payload keys land: the action's body rules (``build_body``'s table) read out."""

    action: Action
    mode: Mode
    payload: Mapping[str, Any]
    body: JsonObject | None
    """The final body of a planned call (``None`` for a rejection)."""

    def field(self, name: str, value: Any) -> tuple[Landing, tuple[MemberLanding, ...]]:
        """Where a field's value lands, and for a lifted or spread object, each member's."""
        if name == self.action.lift:
            if value is None:
                return Landing(None, "not sent (null: nothing to lift)"), ()
            if not isinstance(value, dict | list):  # direct mode: it stays, a key of its own
                return self.key(name, value), ()
            fields = set(self.payload) - {name}
            return Landing(None, "each member lifted to the top level"), tuple(
                self.member(str(key), member, fields, "the field")
                for key, member in _members(value)
            )
        if name == SPREAD:
            return self.spread(value)
        return self.key(name, value), ()

    def spread(self, value: Any) -> tuple[Landing, tuple[MemberLanding, ...]]:
        """``friendbuyAttributes``: each member to the top level, where no key is already."""
        if not js_truthy(value):
            return Landing(None, "not sent (empty)"), ()
        if not isinstance(value, dict | list):
            return Landing(None, "not sent (not an object)"), ()
        top = set(self.payload)
        return Landing(None, "spread into the top level"), tuple(
            self.member(str(key), member, top, "the key") for key, member in _members(value)
        )

    def member(self, key: str, value: Any, taken: set[str], what: str) -> MemberLanding:
        """One member of a lifted or spread object: a key already there wins."""
        if key in taken:
            landing = Landing(None, f"not sent: {what} {key} wins")
        elif key == SPREAD and isinstance(value, dict | list) and js_truthy(value):
            landing = Landing(None, "spread into the top level")
        else:
            landing = self.key(key, value)
        return MemberLanding(key, value, landing, self.sent(landing))

    def key(self, key: str, value: Any) -> Landing:
        """One payload key through the body rules."""
        body_map = self.action.body_maps[self.mode]
        rule = body_map.rules.get(key)
        if rule is None:
            if body_map.unmapped == "drop":
                return Landing(None, "not sent")
            if not is_non_empty(value):
                return Landing(None, "dropped as empty")
            if body_map.unmapped == "additionalProperties":
                return self.check(Landing(("additionalProperties", key), "as text"))
            return self.check(Landing((key,), "top level"))
        if rule.target is None:
            if key == "eventType" and self.mode == "direct" and self.action.direct_type is None:
                return Landing(None, "the push type")
            return Landing(None, "not sent")
        if not is_non_empty(value):
            return Landing(None, "dropped as empty")
        note = rule.convert.name if rule.convert is not None else None
        return self.check(Landing(rule.target, note))

    def check(self, landing: Landing) -> Landing:
        """For a planned call, a target the final body lacks is said so (and why, if known)."""
        if self.sent(landing) is not MISSING or self.body is None or landing.target is None:
            return landing
        where = ".".join(landing.target)
        if landing.target[0] == "customer" and "customer" not in self.body:
            return Landing(None, f"not sent: {where} is dropped with a customer that has no id")
        return Landing(None, f"not sent: {where} is not in the final body")

    def sent(self, landing: Landing | None) -> Any:
        """The value at the landing's target in the final body, or ``MISSING``."""
        if self.body is None or landing is None or landing.target is None:
            return MISSING
        node: Any = self.body
        for key in landing.target:
            if not isinstance(node, dict) or key not in node:
                return MISSING
            node = node[key]
        return node


# -- hints -------------------------------------------------------------------------------


def _norm(key: str) -> str:
    """A key compared loosely (``text.loose``)."""
    return loose(key)


def _trigger_hint(leaf: Compare | Call, actual: Any, data: Mapping[str, Any]) -> str | None:
    """Why a comparison that failed was close: letter case, spaces, strict types, a key."""
    if actual is MISSING:
        parent, _, key = leaf.path.rpartition(".")
        container = lookup(data, parent) if parent else data
        if isinstance(container, dict):
            for other in container:
                if other != key and _norm(other) == _norm(key):
                    where = f"{parent}.{other}" if parent else other
                    return f"the event has {where} (not {key})"
        return None
    if isinstance(leaf, Call):
        if isinstance(actual, str) and evaluate_trigger(
            Call(leaf.func, "v", leaf.arg.casefold()), {"v": actual.casefold()}
        ):
            return "would match ignoring letter case"
        return None
    wanted = leaf.value
    if leaf.op != "=" or wanted is None:
        return None
    if isinstance(wanted, str) and isinstance(actual, str):
        if actual.casefold() == wanted.casefold():
            return "differs only in letter case"
        if actual.strip() == wanted.strip():
            return "differs only in spaces"
        return None
    if isinstance(wanted, str) and _is_scalar(actual) and json.dumps(actual) == wanted:
        shown = show_json(actual, mark=_CUT)
        return f"types are strict: the event has {_kind(actual)} {shown}, not a string"
    if (
        not isinstance(wanted, str)
        and isinstance(actual, str)
        and (
            actual.strip() == json.dumps(wanted)
            or (not isinstance(wanted, bool) and js_to_number(actual) == wanted)
        )
    ):
        return f"types are strict: the event has the string {show_json(actual, mark=_CUT)}"
    return None


def _is_scalar(value: Any) -> bool:
    return isinstance(value, bool | int | float)


def _kind(value: Any) -> str:
    return "the boolean" if isinstance(value, bool) else "the number"


def _problem(
    violation: Violation, data: Mapping[str, Any], action: Action, fields: Mapping[str, FieldTrace]
) -> Problem:
    hint = _hint(violation, data, action, fields)
    return Problem(violation.field, violation.source, violation.message, hint)


def _hint(
    violation: Violation, data: Mapping[str, Any], action: Action, fields: Mapping[str, FieldTrace]
) -> str | None:
    if violation.field is None:
        return None
    name, _, rest = violation.field.partition("/")
    trace = fields.get(name)
    if trace is None:
        return None
    pointer = rest.split("/") if rest else []
    if len(pointer) not in (0, 2) or (pointer and not pointer[0].isdigit()):
        return None
    if len(trace.sources) == 1 and pointer:
        sources: tuple[str, ...] = (f"{trace.sources[0]}[{pointer[0]}].{pointer[1]}",)
    else:
        sources = () if pointer else trace.sources
    if violation.message.startswith("required field"):
        if not pointer and trace.raw is not MISSING:
            shown = show_json(trace.raw, mark=_CUT)
            return f'the mapping gives {shown}, and empty values (null, "") are dropped'
        return _missing_hint(data, sources, name if not pointer else None)
    value = _value_in(trace.value, pointer)
    kind = PRODUCT_ITEM_FIELDS.get(pointer[1]) if pointer else trace.type
    hint = _value_hint(value, kind, pointer[1] if pointer else name)
    if kind in ("number", "integer") and not pointer:
        also = [
            f"{where} = {show_json(v, mark=_CUT)}"
            for where, v in _similar(data, trace.sources)
            if _is_scalar(v) and not isinstance(v, bool)
        ]
        if also:
            hint = (hint + "; " if hint else "") + "the event also has " + ", ".join(also)
    return hint


def _value_in(value: Any, pointer: list[str]) -> Any:
    if not pointer:
        return value
    if isinstance(value, list) and int(pointer[0]) < len(value):
        item = value[int(pointer[0])]
        if isinstance(item, dict):
            return item.get(pointer[1], MISSING)
    return MISSING


def _missing_hint(
    data: Mapping[str, Any], sources: tuple[str, ...], field: str | None
) -> str | None:
    found = _similar(data, sources)
    if found:
        shown = ", ".join(f"{where} = {show_json(v, mark=_CUT)}" for where, v in found)
        hint = f"the event has {shown}"
        where = found[0][0]
        if field is not None and _is_simple_path(where):
            hint += f'; to use it, map {field}: {{"@path": "$.{where}"}}'
        return hint
    for source in sources:
        split = _SOURCE_RE.fullmatch(source)
        if split is not None and split.group(1) != "$":
            parent = split.group(1)
            if get_path(data, parent) is MISSING:
                return f"the event has no {parent.removeprefix('$.')}"
    return None


def _is_simple_path(where: str) -> bool:
    return all(_SIMPLE_KEY_RE.fullmatch(part) for part in re.split(r"\.|\[\d+\]\.?", where) if part)


def _similar(data: Mapping[str, Any], sources: tuple[str, ...]) -> list[tuple[str, Any]]:
    """Keys near each source path: the same name in other letters or another container,
    or a common synonym (``revenue`` for ``total``); only non-empty values, at most 3."""
    found: dict[str, Any] = {}
    for source in sources:
        split = _SOURCE_RE.fullmatch(source)
        if split is None:
            continue
        parent, key = split.group(1), split.group(2)
        wanted = _norm(key)
        group = next((g for g in _SYNONYMS if wanted in g), frozenset({wanted}))
        containers = [parent]
        if parent in _CONTAINERS:
            containers += [c for c in _CONTAINERS if c != parent]
        for container in containers:
            node = data if container == "$" else get_path(data, container)
            if not isinstance(node, dict):
                continue
            for other, value in node.items():
                if container == parent and other == key:
                    continue
                if value is None or value == "" or _norm(other) not in group:
                    continue
                where = f"{container}.{other}".removeprefix("$.").removeprefix("$")
                found.setdefault(where, value)
    return list(found.items())[:3]


def _value_hint(value: Any, kind: str | None, name: str) -> str | None:
    if isinstance(value, dict) and kind not in ("object", None):
        keys = ", ".join(list(value)[:5])
        return f"the mapping gives an object (keys: {keys}); point it at one of its keys"
    if kind in ("number", "integer"):
        return _number_hint(value, name, integer=kind == "integer")
    if not isinstance(value, str):
        return None
    if kind == "boolean":
        return 'only true and false (or the strings "true" and "false") are booleans'
    if kind == "date":
        return _date_hint(value)
    if kind == "datetime" and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        return f"add a time, e.g. {value}T00:00:00Z"
    if kind == "uri" and "://" not in value and "." in value and " " not in value:
        return f"add the scheme: https://{value.removeprefix('//')}"
    return None


def _number_hint(value: Any, name: str, *, integer: bool) -> str | None:
    number = js_to_number(value) if isinstance(value, str) else value
    shown = show_json(value, mark=_CUT)
    if integer and isinstance(number, int | float):
        return f"{shown} is not a whole number, and {name} must be one"
    if not isinstance(value, str):
        return None
    text = value.strip()
    if DECIMAL_COMMA_RE.fullmatch(text) and not integer:
        return f"{shown} has a decimal comma; a number uses a dot: {text.replace(',', '.')}"
    if THOUSANDS_RE.fullmatch(text):
        return f"{shown} has thousands separators; a number has none: {text.replace(',', '')}"
    bare = MONEY_RE.sub("", text)
    if bare != text and js_to_number(bare) is not None:
        return f"{shown} has a currency sign or code; send the number alone: {bare}"
    return f"{shown} is a string that is not a number"


def _date_hint(value: str) -> str | None:
    prefix = DATE_PREFIX_RE.fullmatch(value)
    if prefix:
        return f"a date has no time: {prefix.group(1)}"
    parts = DATE_PARTS_RE.fullmatch(value)
    if parts is None:
        return "write the date as YYYY-MM-DD (0000 for an unknown year)"
    first, second, year = int(parts.group(1)), int(parts.group(2)), parts.group(3)
    month_first = f"{year}-{first:02d}-{second:02d}"
    day_first = f"{year}-{second:02d}-{first:02d}"
    if first > 12 >= second:
        return f"write the date as YYYY-MM-DD: {day_first}"
    if second > 12 >= first:
        return f"write the date as YYYY-MM-DD: {month_first}"
    return f"write the date as YYYY-MM-DD: {month_first} if month first, {day_first} if day first"


# -- JSON ----------------------------------------------------------------------------------


def explanation_to_dict(explanation: Explanation) -> dict[str, Any]:
    """The ``explain --format json`` object (keys documented in docs/debugging.md)."""
    event = explanation.event
    out: dict[str, Any] = {"source": event.source, "line": event.line}
    if event.index is not None:
        out["index"] = event.index
    if event.message_id is not None:
        out["messageId"] = event.message_id
    out["status"] = explanation.status
    out["mappings"] = explanation.mappings
    out["mode"] = explanation.mode
    if explanation.setup is not None:
        out["setup"] = list(explanation.setup)
    out["event"] = event.data
    out["subscriptions"] = [_subscription_dict(s) for s in explanation.subscriptions]
    return out


def _subscription_dict(trace: SubscriptionTrace) -> dict[str, Any]:
    out: dict[str, Any] = {
        "name": trace.name,
        "action": trace.action,
        "line": trace.line,
        "enabled": trace.enabled,
        "trigger": trace.trigger,
        "matched": trace.matched,
        "checks": [_check_dict(c) for c in trace.checks],
    }
    if trace.call is None:
        return out
    record = to_record(trace.call)
    out["status"] = record["status"]
    out["fields"] = [_field_dict(f) for f in trace.fields]
    out["errors"] = [p.to_dict() for p in trace.errors]
    out["warnings"] = [p.to_dict() for p in trace.warnings]
    for key in ("request", "push"):
        if key in record:
            out[key] = record[key]
    return out


def _check_dict(check: TriggerCheck) -> dict[str, Any]:
    out: dict[str, Any] = {"test": check.test, "path": check.path, "result": check.result}
    if check.actual is not MISSING:
        out["actual"] = check.actual
    if check.hint:
        out["hint"] = check.hint
    return out


def _landing_dict(landing: Landing | None) -> dict[str, Any]:
    if landing is None:
        return {}
    out: dict[str, Any] = {"target": ".".join(landing.target) if landing.target else None}
    if landing.note:
        out["note"] = landing.note
    return out


def _field_dict(trace: FieldTrace) -> dict[str, Any]:
    out: dict[str, Any] = {
        "field": trace.field,
        "type": trace.type,
        "required": trace.required,
        "origin": trace.origin,
    }
    if trace.line is not None:
        out["line"] = trace.line
    if trace.mapping is not MISSING:
        out["mapping"] = trace.mapping
    out["sources"] = list(trace.sources)
    out.update({k: v for k, v in (("raw", trace.raw), ("value", trace.value)) if v is not MISSING})
    out.update(_landing_dict(trace.landing))
    if trace.sent is not MISSING:
        out["sent"] = trace.sent
    if trace.members:
        out["members"] = [
            {
                "key": m.key,
                "value": m.value,
                **_landing_dict(m.landing),
                **({"sent": m.sent} if m.sent is not MISSING else {}),
            }
            for m in trace.members
        ]
    return out
