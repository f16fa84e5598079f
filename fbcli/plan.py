"""Event + mapping → ``PlannedCall | Rejection``: the one planning path.

``validate``, ``dry-run``, ``explain`` and ``replay`` all consume what this
module produces, so what is shown is what is sent.  Everything here is pure:
no I/O, no clock, no printing.

For one event and one matching subscription, what the Customer.io/Segment
destination does (its code is fbcli's oracle: ``tests/oracle/``):

1. resolve each action field's mapping against the event (``map_fields``),
   numbers as JavaScript holds them;
2. cloud: drop ``null``/``""`` values (``validation.remove_empty_values``);
3. cloud: coerce and validate (``validation.settle_payload``; errors reject,
   warnings do not); direct mode does neither, and warns instead;
4. build the cloud request or the direct-mode push (``build_call``).

Where the destination does something surely not meant (``true`` sent as an
amount of 1, a key named ``constructor`` sent as ``Object``, an integer beyond
2**53 rounded ...), fbcli does the same, so the body is the destination's,
and warns with a *quirk* naming the field; with ``strict`` a quirk is an error.

``plan_subscription`` is that pipeline as written, the reference.  Streams
(``plan_records``, ``plan_event``) run each subscription through a planner
compiled once per mapping file (``compile_subscription``): the same steps in
one pass, with everything that does not depend on the event worked out ahead.
It plans the events that become a call with no error and no warning (nearly
all of them) and hands every other event to ``plan_subscription``, so
rejections and warnings are worded in one place.
"""

from __future__ import annotations

import math
import sys
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final, Generic, Literal, NamedTuple, TypeVar

from fbcli.actions import ACTIONS
from fbcli.actions.base import (
    Action,
    ActionCrashError,
    FieldType,
    JsonObject,
    Mode,
    Notes,
    build_body,
    normalize_number,
)
from fbcli.directives import path_keys
from fbcli.errors import ConfigError
from fbcli.events import Event, LineError
from fbcli.jsvalues import MAX_EXACT_INTEGER, JsTypeError, js_json, js_view
from fbcli.triggers import compile_option
from fbcli.validation import (
    FAIL,
    LIST_TYPES,
    Violation,
    remove_empty_values,
    required_fields,
    settle_payload,
    settler_for,
)
from fbcli.values import MISSING

if TYPE_CHECKING:
    from fbcli.directives import Resolver
    from fbcli.mappings import FieldMapping, MappingConfig, Subscription
    from fbcli.validation import Settler

DEFAULT_BASE_URL: Final = "https://mapi.fbot.me"
MAX_ADDITIONAL_PROPERTIES: Final = 10
MAX_ADDITIONAL_VALUE_CHARS: Final = 128

Status = Literal["planned", "invalid", "unmatched", "malformed"]
STATUSES: Final[tuple[Status, ...]] = ("planned", "invalid", "unmatched", "malformed")


@dataclass(frozen=True, slots=True)
class PlannedCall:
    """A call fbcli would make: a MAPI request (cloud) or a push (direct)."""

    event: Event
    subscription: str
    action: str
    mode: Mode
    body: JsonObject
    method: str | None = None
    url: str | None = None
    push: tuple[Any, ...] | None = None
    warnings: tuple[Violation, ...] = ()
    status: Literal["planned"] = "planned"


@dataclass(frozen=True, slots=True)
class Rejection:
    """An event a matching subscription cannot send: the reasons, per field."""

    event: Event
    subscription: str
    action: str
    errors: tuple[Violation, ...]
    warnings: tuple[Violation, ...] = ()
    status: Literal["invalid"] = "invalid"


@dataclass(frozen=True, slots=True)
class Unmatched:
    """An event no enabled subscription's trigger matches."""

    event: Event
    status: Literal["unmatched"] = "unmatched"


PlanRecord = PlannedCall | Rejection | Unmatched | LineError
"""One line of ``dry-run`` output; a ``LineError`` is a ``malformed`` line."""


def status_of(record: PlanRecord) -> Status:
    """The record's status: planned, invalid, unmatched or malformed."""
    return "malformed" if isinstance(record, LineError) else record.status


# -- steps 1-3 -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MappedPayload:
    """An event mapped onto one action's fields, before the body is built."""

    resolved: dict[str, Any]
    """Each field's value as the mapping resolves it, numbers as JavaScript holds them
    (fields resolving to nothing are absent)."""
    payload: dict[str, Any]
    """What the action's code is given: cloud, after dropping empty values and coercing;
    direct, the resolved values as they are."""
    errors: tuple[Violation, ...]
    warnings: tuple[Violation, ...]


def map_fields(subscription: Subscription, data: Mapping[str, Any], mode: Mode) -> MappedPayload:
    """Resolve each field, then (cloud) drop empty values, coerce and validate.

    The event is read as JavaScript reads it (``js_view``: integers beyond
    2**53 become the nearest double), and so are the mapping's constants; a
    field that comes out different from the exact reading gets a quirk warning.
    In direct mode nothing is dropped or coerced: what the cloud pipeline
    would refuse (and missing required fields) are warnings.
    """
    view = js_view(data)
    resolved: dict[str, Any] = {}
    sources: dict[str, str | None] = {}
    warnings: list[Violation] = []
    failures: list[Violation] = []
    for fm in subscription.fields:
        sources[fm.field] = fm.source
        try:
            value = fm.resolve(view)
            exact = fm.resolve(data) if view is not data else value
        except JsTypeError as exc:
            failures.append(
                Violation(fm.field, f"'{fm.field}': {exc}; mapping-kit fails on it", fm.source)
            )
            continue
        if value is MISSING:
            continue
        held = js_view(value, resolved=True)
        if held is not value or exact != value:
            warnings.append(_held_differently(fm, value, exact))
        resolved[fm.field] = held
        if isinstance(value, str) and "[object Object]" in value and _has_template(fm.mapping):
            warnings.append(
                Violation(
                    fm.field,
                    "a template rendered an object as '[object Object]' (as mapping-kit does)",
                    fm.source,
                )
            )
    action = subscription.action
    cleaned = remove_empty_values(action.fields_in(mode), resolved)
    payload, errors, quirks = settle_payload(action, cleaned, mode=mode, sources=sources)
    if mode == "direct":
        warnings.extend(
            Violation(v.field, f"{v.message} ({DIRECT_ANYWAY})", v.source) for v in errors
        )
        return MappedPayload(resolved, dict(resolved), tuple(failures), tuple(warnings))
    return MappedPayload(resolved, payload, (*failures, *errors), (*warnings, *quirks))


DIRECT_ANYWAY: Final = "the browser SDK sends the call anyway"


def _held_differently(fm: FieldMapping, value: Any, exact: Any) -> Violation:
    """The quirk of a value the destination holds otherwise than its JSON says."""
    if exact != value or js_view(value) is not value:
        what = "holds an integer beyond 2**53, which the destination reads as the nearest double"
    else:
        what = "holds a member named __proto__, which mapping-kit drops (it sets a prototype)"
    return Violation(fm.field, f"'{fm.field}' {what}", fm.source, quirk=True)


def _has_template(mapping: Any) -> bool:
    return _uses(mapping, ("@template",))


def _uses(mapping: Any, names: tuple[str, ...]) -> bool:
    """Whether any of the directives ``names`` is anywhere in ``mapping``."""
    if isinstance(mapping, dict):
        return any(k in names for k in mapping) or any(_uses(v, names) for v in mapping.values())
    if isinstance(mapping, list):
        return any(_uses(v, names) for v in mapping)
    return False


# -- step 4 ----------------------------------------------------------------------------


def lift_properties(action: Action, payload: Mapping[str, Any]) -> dict[str, Any]:
    """Custom events: the destination's ``moveEventPropertiesToRoot``.

    When ``eventProperties`` is an object (a list: its indexes are keys;
    ``null``: nothing) its members are lifted to the top, where a field of the
    same name wins, and it goes; anything else (text, a number, missing) is
    left where it is.
    """
    if action.lift is None:
        return dict(payload)
    lifted = payload.get(action.lift, MISSING)
    if not (lifted is None or isinstance(lifted, dict | list)):
        return dict(payload)
    members = (
        {} if lifted is None else lifted if isinstance(lifted, dict) else dict(enumerate(lifted))
    )
    merged = {**{str(k): v for k, v in members.items()}, **payload}
    del merged[action.lift]
    return merged


def normalize_json(value: Any, notes: Notes | None = None, at: str = "") -> Any:
    """Numbers as ``JSON.stringify`` writes them.

    Integral floats JavaScript holds exactly become ints (``10.0`` → ``10``);
    an infinite number becomes ``null`` (noted in ``notes``, when given, at its
    key path).
    """
    if isinstance(value, float):
        if not math.isfinite(value):
            if notes is not None:
                notes.append((at, "is an infinite number: JSON writes it as null"))
            return None
        return normalize_number(value)
    if isinstance(value, dict):
        return {k: normalize_json(v, notes, f"{at}/{k}" if at else k) for k, v in value.items()}
    if isinstance(value, list):
        return [normalize_json(v, notes, f"{at}/{i}") for i, v in enumerate(value)]
    return value


def additional_properties_warnings(body: Mapping[str, Any]) -> list[Violation]:
    """MAPI silently drops ``additionalProperties`` beyond 10 entries or 128 characters."""
    extra = body.get("additionalProperties")
    if not isinstance(extra, dict):
        return []
    warnings = []
    if len(extra) > MAX_ADDITIONAL_PROPERTIES:
        warnings.append(
            Violation(
                "additionalProperties",
                f"{len(extra)} additionalProperties; MAPI keeps at most "
                f"{MAX_ADDITIONAL_PROPERTIES} and silently drops the rest",
            )
        )
    for key, value in extra.items():
        if isinstance(value, str) and len(value) > MAX_ADDITIONAL_VALUE_CHARS:
            warnings.append(
                Violation(
                    f"additionalProperties/{key}",
                    f"value is {len(value)} characters; MAPI silently drops values over "
                    f"{MAX_ADDITIONAL_VALUE_CHARS}",
                )
            )
    return warnings


def quirk_warnings(notes: Notes) -> list[Violation]:
    """The body builder's notes as quirk warnings."""
    return [
        Violation(
            where or None,
            f"'{where}' {message}" if where else message,
            quirk=True,
        )
        for where, message in notes
    ]


def build_call(
    event: Event,
    subscription: Subscription,
    mapped: MappedPayload,
    *,
    mode: Mode,
    base_url: str,
    strict: bool = False,
) -> PlannedCall | Rejection:
    """Turn a valid mapped payload into the request (cloud) or push (direct).

    ``strict``: quirk warnings are errors (the call is rejected).
    """
    action = subscription.action
    warnings = list(mapped.warnings)

    def reject(*errors: Violation) -> Rejection:
        return Rejection(event, subscription.name, action.name, errors, tuple(warnings))

    if mapped.errors:
        return reject(*mapped.errors)
    payload = lift_properties(action, mapped.payload)
    notes: Notes = []
    try:
        body = build_body(action.body_maps[mode], payload, notes)
    except ActionCrashError as crash:
        return reject(Violation(crash.field, f"{crash.message}, so it sends nothing"))
    if body is None:
        return reject(Violation(None, "no supported fields: nothing would be sent"))
    body = normalize_json(body, notes)
    warnings.extend(quirk_warnings(notes))
    push: tuple[Any, ...] | None = None
    if mode == "direct":
        kind = action.direct_type or mapped.payload.get("eventType", MISSING)
        if not (isinstance(kind, str) and kind):
            warnings.append(
                Violation(
                    "eventType",
                    f"the push's event type is {'missing' if kind is MISSING else js_json(kind)}: "
                    "the destination pushes it as it is",
                    next((f.source for f in subscription.fields if f.field == "eventType"), None),
                    quirk=True,
                )
            )
        push = ("track", None if kind is MISSING else kind, body)
        if action.direct_trailing_true:
            push = (*push, True)
    if strict and any(w.quirk for w in warnings):
        quirks = [w for w in warnings if w.quirk]
        warnings = [w for w in warnings if not w.quirk]
        return reject(*quirks)
    if push is not None:
        return PlannedCall(
            event, subscription.name, action.name, mode, body, push=push, warnings=tuple(warnings)
        )
    assert action.cloud_path is not None
    warnings.extend(additional_properties_warnings(body))
    return PlannedCall(
        event,
        subscription.name,
        action.name,
        mode,
        body,
        method="POST",
        url=base_url.rstrip("/") + action.cloud_path,
        warnings=tuple(warnings),
    )


def plan_subscription(
    event: Event, subscription: Subscription, *, mode: Mode, base_url: str, strict: bool = False
) -> PlannedCall | Rejection:
    """Steps 1-4 for one event and one (matching) subscription."""
    mapped = map_fields(subscription, event.data, mode)
    return build_call(event, subscription, mapped, mode=mode, base_url=base_url, strict=strict)


# -- the fast path ---------------------------------------------------------------------

Planner = Callable[[Event], PlannedCall | Rejection]
"""One subscription compiled for one mode and base URL: event in, call out."""

_Field = tuple[str, int, str, str, str, "Resolver", bool, bool, "Settler"]
"""A compiled field: its name; how many keys of a plain ``@path`` are looked up inline (0:
call the resolver), and those keys; the resolver; whether any ``str`` is kept as it is
(a string field with no format and no template); whether its mapping has a template (a
text holding ``[object Object]`` is a warning); its settler."""

_RENDERING: Final = ("@template", "@json", "@replace")
"""Directives that can turn an event's number into text."""


def _compile_field(fm: FieldMapping, kind: FieldType) -> _Field:
    templated = _has_template(fm.mapping)
    keys = path_keys(fm.mapping) or ()
    inline = len(keys) if len(keys) <= 3 else 0
    first, second, third = (*keys[:inline], "", "", "")[:3]
    plain = kind == "string" and not templated
    return (fm.field, inline, first, second, third, fm.resolve, plain, templated, settler_for(kind))


def _needs_normalizing(value: Any) -> bool:
    """Whether ``normalize_json`` would change ``value``: an integral or infinite float in it.

    An iterative walk, cheaper than ``normalize_json``'s copy; no depth limit.
    """
    stack = [value]
    while stack:
        item = stack.pop()
        if type(item) is float:
            if item.is_integer() or not math.isfinite(item):
                return True
        elif isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


def _is_wide(value: Any) -> bool:
    """Whether ``js_view`` changes ``value``: an integer beyond 2**53, a ``__proto__`` member."""
    if type(value) is int:
        return not -MAX_EXACT_INTEGER <= value <= MAX_EXACT_INTEGER
    return isinstance(value, dict | list) and js_view(value, resolved=True) is not value


def compile_subscription(
    subscription: Subscription, *, mode: Mode, base_url: str, strict: bool = False
) -> Planner:
    """Compile ``plan_subscription`` for one subscription, once, into a fast planner.

    The planner does steps 1-4 in one pass over the fields, with everything
    that does not depend on the event worked out here: the fields in order with
    their resolvers and settlers, the required fields, the URL.  It handles the
    common case, a call that is planned with no error and no warning but the
    ``additionalProperties`` ones, and hands every other event to
    ``plan_subscription``, the reference path, so rejections and warnings are
    worded there and only there.  It agrees with ``plan_subscription`` because:

    - it takes the same values in the same order: each field's resolver, the
      same dropping of ``null``/``""`` (``remove_empty_values``, inlined for
      scalars) and the same settler (``validation.settler_for``), asked to
      fail at the first problem instead of listing them;
    - it only keeps a payload when ``settle_payload`` would find nothing: no
      required field missing or empty (an error or a quirk in cloud mode, a
      warning in direct mode) and every value settling without a problem; any
      template that renders ``[object Object]`` (a warning) also goes the slow
      way, and so does any integer beyond 2**53 (a quirk) in a resolved value
      or, when a mapping renders text (``@template``, ``@json``, ``@replace``),
      anywhere in the event;
    - the body is built by ``build_call``'s own steps; any note of the body
      builder, any crash and any infinite number go the slow way;
      ``normalize_json`` runs only when the body holds an integral or infinite
      float (``_needs_normalizing``), as it would change nothing otherwise, and
      in cloud mode that is looked for only when an object field was given:
      settled values and the converters' results are normalized already;
    - an event the reader knows to read the same in JavaScript
      (``Event.js_exact``) is not searched for wide integers or ``__proto__``.

    A subscription whose fields are not exactly the action's fields in this
    mode, in order and once each (``build_subscription`` always makes them so),
    or whose mapping holds an integer beyond 2**53, is planned the slow way for
    every event.
    """
    action = subscription.action
    fields = action.fields_in(mode)
    by_name = {f.name: f for f in fields}
    names = [fm.field for fm in subscription.fields]
    order = [f.name for f in fields if f.name in names]
    if (
        len(set(names)) != len(names)
        or names != order
        or any(js_view(fm.mapping) is not fm.mapping for fm in subscription.fields)
    ):
        return _slow_planner(subscription, mode=mode, base_url=base_url, strict=strict)
    compiled = tuple(_compile_field(fm, by_name[fm.field].type) for fm in subscription.fields)
    lists = frozenset(f.name for f in fields if f.type in LIST_TYPES)
    objects = tuple(f.name for f in fields if f.type == "object")
    products = frozenset(f.name for f in fields if f.type == "products")
    renders = any(_uses(fm.mapping, _RENDERING) for fm in subscription.fields)
    required = required_fields(action, mode)
    build = action.body_maps[mode].build
    lift = action.lift
    name, action_name = subscription.name, action.name
    url = base_url.rstrip("/") + action.cloud_path if action.cloud_path is not None else None
    push_type = action.direct_type
    trailing_true = action.direct_trailing_true
    cloud = mode == "cloud"

    def slow(event: Event) -> PlannedCall | Rejection:
        return plan_subscription(event, subscription, mode=mode, base_url=base_url, strict=strict)

    def plan(event: Event) -> PlannedCall | Rejection:
        try:
            return fast(event)
        except (JsTypeError, ActionCrashError):
            return slow(event)

    def fast(event: Event) -> PlannedCall | Rejection:
        data = event.data
        look = not event.js_exact  # else no resolved value can hold what js_view changes
        if type(data) is not dict or (look and renders and js_view(data) is not data):
            return slow(event)
        payload: dict[str, Any] = {}
        present: set[str] = set()
        for key, inline, first, second, third, resolve, plain, templated, settle in compiled:
            # Step 1, the resolver's lookup inlined for plain paths through objects
            # (path_keys); anything else on the way, the resolver itself.
            if inline == 2:
                node = data.get(first, MISSING)
                value = node.get(second, MISSING) if type(node) is dict else resolve(data)
            elif inline == 1:
                value = data.get(first, MISSING)
            elif inline == 3:
                node = data.get(first, MISSING)
                node = node.get(second, MISSING) if type(node) is dict else None
                value = node.get(third, MISSING) if type(node) is dict else resolve(data)
            else:
                value = resolve(data)
            if value is MISSING:
                continue
            if type(value) is str:
                if templated and "[object Object]" in value:
                    return slow(event)
                if not value:
                    if not cloud:
                        payload[key] = value
                    continue
                if plain:  # a plain string field: settling keeps any str
                    payload[key] = value
                    present.add(key)
                    continue
            elif value is None:
                if not cloud:
                    payload[key] = value
                continue
            elif look and _is_wide(value):
                return slow(event)
            # Steps 2 and 3: the list fields' step 2, then coerce and check.
            checked = value
            if key in lists:
                if type(value) is list:
                    checked = [
                        item
                        for item in value
                        if item is not None and (key not in products or item != "")
                    ]
                else:
                    checked = [value]
            settled = settle(checked, None, ())
            if settled is FAIL or settled == "":
                return slow(event)
            payload[key] = settled if cloud else value
            present.add(key)
        for key in required:
            if key not in present:
                return slow(event)
        notes: Notes = []
        body = build(lift_properties(action, payload) if lift is not None else payload, notes)
        if body is None or notes:
            return slow(event)
        # Settled values and converted ones are normalized already: only the members of
        # object fields, and anything in direct mode, may not be.
        if (not cloud or any(k in payload for k in objects)) and _needs_normalizing(body):
            body = normalize_json(body, notes)
            if notes:
                return slow(event)
        if cloud:
            if url is None:
                return slow(event)
            extra = body.get("additionalProperties")
            warnings = () if extra is None else tuple(additional_properties_warnings(body))
            return PlannedCall(
                event, name, action_name, "cloud", body, method="POST", url=url, warnings=warnings
            )
        kind = push_type or payload.get("eventType", MISSING)
        if not (isinstance(kind, str) and kind):
            return slow(event)
        push: tuple[Any, ...] = ("track", kind, body)
        if trailing_true:
            push = (*push, True)
        return PlannedCall(event, name, action_name, "direct", body, push=push)

    return plan


def _slow_planner(
    subscription: Subscription, *, mode: Mode, base_url: str, strict: bool = False
) -> Planner:
    def plan(event: Event) -> PlannedCall | Rejection:
        return plan_subscription(event, subscription, mode=mode, base_url=base_url, strict=strict)

    return plan


@dataclass(frozen=True, slots=True)
class CompiledConfig:
    """A mapping file compiled for planning: its enabled subscriptions, each with a planner."""

    config: MappingConfig
    base_url: str
    subscriptions: tuple[tuple[Subscription, Planner], ...]
    strict: bool = False


def compile_config(
    config: MappingConfig, *, base_url: str = DEFAULT_BASE_URL, strict: bool = False
) -> CompiledConfig:
    """Compile every enabled subscription of ``config`` (``compile_subscription``).

    ``strict``: quirk warnings are errors.
    """
    return CompiledConfig(
        config,
        base_url,
        tuple(
            (s, compile_subscription(s, mode=config.mode, base_url=base_url, strict=strict))
            for s in config.active
        ),
        strict,
    )


_COMPILED: dict[tuple[int, str], CompiledConfig] = {}
_COMPILED_KEEP: Final = 8


def _compiled(config: MappingConfig, base_url: str) -> CompiledConfig:
    """``compile_config``, remembered for the last few configs (``diff`` plans with two)."""
    key = (id(config), base_url)
    compiled = _COMPILED.get(key)
    if compiled is None or compiled.config is not config:  # the id of a config since freed
        compiled = compile_config(config, base_url=base_url)
        if len(_COMPILED) >= _COMPILED_KEEP:
            del _COMPILED[next(iter(_COMPILED))]
        _COMPILED[key] = compiled
    return compiled


# -- whole streams ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PlanFilter:
    """Which events and calls to keep (``--action``, ``--where``, ``--lines``)."""

    actions: frozenset[str] | None = None
    where: Callable[[Mapping[str, Any]], bool] | None = None
    lines: tuple[int, int] | None = None

    def keeps_line(self, line: int) -> bool:
        """Whether ``--lines`` keeps this line number."""
        return self.lines is None or self.lines[0] <= line <= self.lines[1]

    @classmethod
    def parse(
        cls,
        *,
        actions: Iterable[str] | None = None,
        where: str | None = None,
        lines: str | None = None,
    ) -> PlanFilter:
        """The filter of ``--action`` (names), ``--where`` (a trigger) and ``--lines``
        (``10-20``, ``10-``, ``-20`` or ``15``); ``ConfigError`` names a bad one."""
        names = list(actions or [])
        unknown = [a for a in names if a not in ACTIONS]
        if unknown:
            raise ConfigError(
                f"unknown action '{unknown[0]}'", hint=f"actions: {', '.join(ACTIONS)}"
            )
        return cls(
            actions=frozenset(names) if names else None,
            where=compile_option(where, "--where") if where else None,
            lines=_parse_lines(lines),
        )


def _parse_lines(text: str | None) -> tuple[int, int] | None:
    """``--lines``: a range of line numbers, both ends included."""
    if text is None:
        return None
    if not text.strip():
        raise ConfigError("--lines must look like 10-20, 10-, -20 or 15, not an empty value")
    start, sep, end = text.partition("-")
    try:
        first = int(start) if start.strip() else 1
        last = (int(end) if end.strip() else sys.maxsize) if sep else first
    except ValueError:
        raise ConfigError(f"--lines must look like 10-20, 10-, -20 or 15, not '{text}'") from None
    if first < 1 or last < first:
        raise ConfigError(f"--lines range '{text}' is empty")
    return first, last


def plan_event(
    event: Event,
    config: MappingConfig,
    *,
    base_url: str = DEFAULT_BASE_URL,
    actions: frozenset[str] | None = None,
) -> list[PlannedCall | Rejection] | Unmatched:
    """All calls for one event, one per matching subscription in file order."""
    return _plan_compiled(event, _compiled(config, base_url), actions)


def _plan_compiled(
    event: Event, compiled: CompiledConfig, actions: frozenset[str] | None
) -> list[PlannedCall | Rejection] | Unmatched:
    data = event.data
    matched = [(s, plan) for s, plan in compiled.subscriptions if s.matches(data)]
    if not matched:
        return Unmatched(event)
    return [plan(event) for s, plan in matched if actions is None or s.action.name in actions]


@dataclass(slots=True)
class PlanTally:
    """Counts for the summary line and ``validate --format json``."""

    events: int = 0
    """Events read (malformed lines are not events)."""
    by_status: Counter[str] = field(default_factory=Counter)
    by_action: dict[str, Counter[str]] = field(default_factory=dict)
    problems: int = 0
    """Events with at least one invalid call, and malformed lines."""
    stopped: str | None = None
    """Why the run stopped early (``--limit``, ``--max-errors``), if it did."""

    def add_event(self, records: list[PlanRecord]) -> None:
        """Count one event's records (or one malformed line, which is not an event)."""
        self.add_keys(map(record_key, records), is_event=not isinstance(records[0], LineError))

    def add_keys(self, keys: Iterable[RecordKey], *, is_event: bool) -> None:
        """Count one item by its records' keys (``record_key``)."""
        if is_event:
            self.events += 1
        problem = False
        by_status, by_action = self.by_status, self.by_action
        for status, action in keys:
            by_status[status] += 1
            if status in {"invalid", "malformed"}:
                problem = True
            if action is not None:
                counts = by_action.get(action)
                if counts is None:
                    counts = by_action[action] = Counter()
                counts[status] += 1
        if problem:
            self.problems += 1

    def merge(self, other: PlanTally) -> None:
        """Add the counts of ``other`` (a tally of later items)."""
        self.events += other.events
        self.by_status.update(other.by_status)
        for action, counts in other.by_action.items():
            self.by_action.setdefault(action, Counter()).update(counts)
        self.problems += other.problems

    def count(self, status: Status) -> int:
        """How many records have this status."""
        return self.by_status[status]


T = TypeVar("T")

RecordKey = tuple[Status, str | None]
"""What ``PlanTally`` counts of a record: its status and action (``None``: no action)."""


def record_key(record: PlanRecord) -> RecordKey:
    """The record's status and, for a call or a rejection, its action."""
    if isinstance(record, LineError):
        return ("malformed", None)
    if isinstance(record, Unmatched):
        return ("unmatched", None)
    return (record.status, record.action)


class PlanGroup(NamedTuple, Generic[T]):
    """What one input item (an event or a malformed line) became, ready to be counted.

    ``outputs`` are its records, one per call, in order, or a stand-in for each
    (``fbcli.parallel`` sends rendered JSON text instead of records between
    processes); ``keys`` are what ``PlanTally`` counts of them.  A named tuple:
    it crosses between processes several times faster than a dataclass.
    """

    is_event: bool
    keys: tuple[RecordKey, ...]
    outputs: tuple[T, ...]


class PlanBatch(NamedTuple, Generic[T]):
    """Several items taken as one: their outputs and their counts (``fbcli.parallel``).

    Only where no ``--limit`` or ``--max-errors`` can stop between them.
    """

    tally: PlanTally
    outputs: list[T]


def plan_item(
    item: Event | LineError,
    compiled: CompiledConfig,
    selection: PlanFilter,
) -> list[PlanRecord] | None:
    """One item's records, in order; ``None`` when the selection drops the item."""
    if selection.lines is not None and not selection.keeps_line(item.line):
        return None
    if isinstance(item, LineError):
        return [item]
    if selection.where is not None and not selection.where(item.data):
        return None
    planned = _plan_compiled(item, compiled, selection.actions)
    if isinstance(planned, Unmatched):
        return None if selection.actions is not None else [planned]
    return list(planned) or None


def group_of(records: list[PlanRecord], render: Callable[[PlanRecord], T]) -> PlanGroup[T]:
    """The group of one item's records, with ``render`` of each record as its outputs."""
    return PlanGroup(
        not isinstance(records[0], LineError),
        tuple(map(record_key, records)),
        tuple(map(render, records)),
    )


def _same(record: PlanRecord) -> PlanRecord:
    """The render of ``plan_records``: the record itself."""
    return record


def plan_groups(
    items: Iterable[Event | LineError],
    compiled: CompiledConfig,
    selection: PlanFilter,
    render: Callable[[PlanRecord], T],
) -> Iterator[PlanGroup[T]]:
    """``plan_item`` over a stream: a group per item the selection keeps (records rendered)."""
    for item in items:
        records = plan_item(item, compiled, selection)
        if records is not None:
            yield group_of(records, render)


def take_groups(
    groups: Iterable[PlanGroup[T] | PlanBatch[T]],
    tally: PlanTally,
    *,
    limit: int | None = None,
    max_errors: int | None = None,
) -> Iterator[T]:
    """Count each group in ``tally`` and yield its outputs, in order, until a limit stops it.

    ``limit`` stops before the item after that many (events and malformed
    lines); ``max_errors`` stops after that many problem items.  Both set
    ``tally.stopped``.  Groups not taken are never asked for.  A batch is
    counted and yielded whole (it comes only when there is no limit).
    """
    for group in groups:
        if isinstance(group, PlanBatch):
            if limit is not None or max_errors is not None:
                raise ValueError("a batch cannot stop part-way: plan in groups to limit")
            tally.merge(group.tally)
            yield from group.outputs
            continue
        if limit is not None and tally.events + tally.count("malformed") >= limit:
            tally.stopped = f"stopped after --limit {limit} events"
            return
        tally.add_keys(group.keys, is_event=group.is_event)
        yield from group.outputs
        if max_errors is not None and tally.problems >= max_errors:
            tally.stopped = f"stopped after --max-errors {max_errors} problem events"
            return


def plan_records(
    items: Iterable[Event | LineError],
    config: MappingConfig,
    *,
    base_url: str = DEFAULT_BASE_URL,
    selection: PlanFilter | None = None,
    tally: PlanTally | None = None,
    limit: int | None = None,
    max_errors: int | None = None,
) -> Iterator[PlanRecord]:
    """Plan a stream of events, in input order: one record per call or line.

    ``limit`` stops after that many events (after filtering); ``max_errors``
    stops after that many problem events.  Both set ``tally.stopped``.
    """
    compiled = compile_config(config, base_url=base_url)
    groups = plan_groups(items, compiled, selection or PlanFilter(), _same)
    return take_groups(
        groups,
        tally if tally is not None else PlanTally(),
        limit=limit,
        max_errors=max_errors,
    )


# -- JSON records (the dry-run --format json contract) ---------------------------------


def to_record(record: PlanRecord) -> dict[str, Any]:
    """The JSON Lines record of docs/debugging.md (dry-run), field for field, in its order."""
    if isinstance(record, LineError):
        return {
            "source": record.source,
            "line": record.line,
            "status": "malformed",
            "errors": [{"message": record.message}],
        }
    out: dict[str, Any] = {"source": record.event.source, "line": record.event.line}
    message_id = record.event.message_id
    if message_id is not None:
        out["messageId"] = message_id
    if isinstance(record, Unmatched):
        out["status"] = "unmatched"
        return out
    out["subscription"] = record.subscription
    out["action"] = record.action
    out["status"] = record.status
    if isinstance(record, PlannedCall):
        if record.push is not None:
            out["push"] = list(record.push)
        else:
            out["request"] = {"method": record.method, "url": record.url, "body": record.body}
        if record.warnings:
            out["warnings"] = [v.to_dict() for v in record.warnings]
    else:
        out["errors"] = [v.to_dict() for v in record.errors]
    return out


def setup_push(config: MappingConfig) -> list[str] | None:
    """Direct mode's setup push, ``["merchant", merchantId]``; ``None`` in cloud mode."""
    if config.mode != "direct" or config.merchant_id is None:
        return None
    return ["merchant", config.merchant_id]
