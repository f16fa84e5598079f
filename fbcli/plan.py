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
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Final, Generic, Literal, NamedTuple, TypeVar

from fbcli.actions import ACTIONS
from fbcli.actions.base import (
    ALWAYS_NON_EMPTY,
    PROTOTYPE_NAMES,
    PUSH_TYPE_FIELD,
    SPREAD_FIELD,
    Action,
    ActionCrashError,
    BodyMap,
    JsonObject,
    Mode,
    Notes,
    build_body,
    emit_place,
    emit_unmapped,
    normalize_number,
)
from fbcli.codegen import Source
from fbcli.directives import path_keys
from fbcli.errors import ConfigError
from fbcli.events import Event, LineError
from fbcli.jsvalues import JsTypeError, js_json, js_view
from fbcli.text import plural
from fbcli.triggers import compile_option, emit_test, getter, parse_instant
from fbcli.validation import (
    DROPPED,
    FAIL,
    FIELD_KINDS,
    FieldKind,
    Violation,
    remove_empty_values,
    required_fields,
    settle_payload,
)
from fbcli.values import MISSING

if TYPE_CHECKING:
    from fbcli.causes import CauseBook, CauseFinder
    from fbcli.mappings import FieldMapping, MappingConfig, Subscription

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


def map_fields(
    subscription: Subscription, data: Mapping[str, Any], mode: Mode, *, exact: bool = False
) -> MappedPayload:
    """Resolve each field, then (cloud) drop empty values, coerce and validate.

    The event is read as JavaScript reads it (``js_view``: integers beyond
    2**53 become the nearest double), and so are the mapping's constants; a
    field that comes out different from the exact reading gets a quirk warning
    (``exact``: the event is known to read the same, ``Event.js_exact``).
    In direct mode nothing is dropped or coerced: what the cloud pipeline
    would refuse (and missing required fields) are warnings.
    """
    view = data if exact else js_view(data)
    resolved: dict[str, Any] = {}
    sources: dict[str, str | None] = {}
    warnings: list[Violation] = []
    failures: list[Violation] = []
    for fm in subscription.fields:
        sources[fm.field] = fm.source
        try:
            value = fm.resolve(view)
            from_exact = fm.resolve(data) if view is not data else value
        except JsTypeError as exc:
            failures.append(
                Violation(
                    fm.field,
                    f"'{fm.field}': {exc}; mapping-kit fails on it",
                    fm.source,
                    kind="value mapping-kit fails on",
                )
            )
            continue
        if value is MISSING:
            continue
        # A plain path's value in an event known to read the same is the event's own.
        held = value if exact and fm.plain else js_view(value, resolved=True)
        if held is not value or from_exact != value:
            warnings.append(_held_differently(fm, value, from_exact))
        resolved[fm.field] = held
        if isinstance(value, str) and "[object Object]" in value and _has_template(fm.mapping):
            warnings.append(
                Violation(
                    fm.field,
                    "a template rendered an object as '[object Object]' (as mapping-kit does)",
                    fm.source,
                    kind="template rendered an object as [object Object]",
                )
            )
    action = subscription.action
    cleaned = remove_empty_values(action.fields_in(mode), resolved)
    payload, errors, quirks = settle_payload(
        action, cleaned, mode=mode, sources=sources, resolved=resolved
    )
    if mode == "direct":
        warnings.extend(
            Violation(
                v.field,
                f"{v.message} ({DIRECT_ANYWAY})",
                v.source,
                kind=v.kind,
                example=v.example,
            )
            for v in errors
        )
        return MappedPayload(resolved, dict(resolved), tuple(failures), tuple(warnings))
    return MappedPayload(resolved, payload, (*failures, *errors), (*warnings, *quirks))


DIRECT_ANYWAY: Final = "the browser SDK sends the call anyway"


def _held_differently(fm: FieldMapping, value: Any, exact: Any) -> Violation:
    """The quirk of a value the destination holds otherwise than its JSON says."""
    if exact != value or js_view(value) is not value:
        what = "holds an integer beyond 2**53, which the destination reads as the nearest double"
        kind = "integer beyond 2**53"
    else:
        what = "holds a member named __proto__, which mapping-kit drops (it sets a prototype)"
        kind = "member named __proto__"
    return Violation(fm.field, f"'{fm.field}' {what}", fm.source, quirk=True, kind=kind)


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


_PLAIN: Final = frozenset({str, int, bool, type(None)})
"""Exact types ``normalize_json`` never changes."""


def normalize_json(value: Any, notes: Notes | None = None, at: str = "") -> Any:
    """Numbers as ``JSON.stringify`` writes them: ``value`` itself when none changes.

    Integral floats JavaScript holds exactly become ints (``10.0`` → ``10``);
    an infinite number becomes ``null`` (noted in ``notes``, when given, at its
    key path).  An object or a list is copied only when something in it changes.
    """
    if isinstance(value, float):
        if not math.isfinite(value):
            if notes is not None:
                notes.append((at, "is an infinite number: JSON writes it as null"))
            return None
        return normalize_number(value)
    if isinstance(value, dict):
        changed: dict[Any, Any] | None = None
        for key, item in value.items():
            if type(item) in _PLAIN:
                continue
            new = normalize_json(item, notes, f"{at}/{key}" if at else key)
            if new is not item:
                if changed is None:
                    changed = dict(value)
                changed[key] = new
        return value if changed is None else changed
    if isinstance(value, list):
        copied: list[Any] | None = None
        for index, item in enumerate(value):
            if type(item) in _PLAIN:
                continue
            new = normalize_json(item, notes, f"{at}/{index}")
            if new is not item:
                if copied is None:
                    copied = list(value)
                copied[index] = new
        return value if copied is None else copied
    return value


def cloud_url(action: Action, base_url: str) -> str | None:
    """The URL of a cloud call: the base URL and the action's MAPI path (``None``: no path)."""
    if action.cloud_path is None:
        return None
    return base_url.rstrip("/") + action.cloud_path


def push_of(action: Action, kind: Any, body: JsonObject) -> tuple[Any, ...]:
    """The direct-mode push: ``("track", <type>, body)``, and ``true`` when the action adds it.

    ``kind`` is the action's ``direct_type``, else its payload's ``eventType``
    (``MISSING``: pushed as ``None``).
    """
    push: tuple[Any, ...] = ("track", None if kind is MISSING else kind, body)
    return (*push, True) if action.direct_trailing_true else push


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
                kind=f"more than {MAX_ADDITIONAL_PROPERTIES} additionalProperties",
            )
        )
    for key, value in extra.items():
        if isinstance(value, str) and len(value) > MAX_ADDITIONAL_VALUE_CHARS:
            warnings.append(
                Violation(
                    f"additionalProperties/{key}",
                    f"value is {len(value)} characters; MAPI silently drops values over "
                    f"{MAX_ADDITIONAL_VALUE_CHARS}",
                    kind=f"value over {MAX_ADDITIONAL_VALUE_CHARS} characters",
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
            kind=message.split(":", 1)[0],
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
        message = f"{crash.message}, so it sends nothing"
        return reject(Violation(crash.field, message, kind=crash.message.split(":", 1)[0]))
    if body is None:
        return reject(
            Violation(
                None, "no supported fields: nothing would be sent", kind="no supported fields"
            )
        )
    body = normalize_json(body, notes)
    warnings.extend(quirk_warnings(notes))
    push: tuple[Any, ...] | None = None
    if mode == "direct":
        kind = action.direct_type or mapped.payload.get(PUSH_TYPE_FIELD, MISSING)
        if not (isinstance(kind, str) and kind):
            source = (f.source for f in subscription.fields if f.field == PUSH_TYPE_FIELD)
            warnings.append(
                Violation(
                    PUSH_TYPE_FIELD,
                    f"the push's event type is {'missing' if kind is MISSING else js_json(kind)}: "
                    "the destination pushes it as it is",
                    next(source, None),
                    quirk=True,
                    kind="push event type missing or not text",
                )
            )
        push = push_of(action, kind, body)
    if strict and any(w.quirk for w in warnings):
        quirks = [w for w in warnings if w.quirk]
        warnings = [w for w in warnings if not w.quirk]
        return reject(*quirks)
    if push is not None:
        return PlannedCall(
            event, subscription.name, action.name, mode, body, push=push, warnings=tuple(warnings)
        )
    url = cloud_url(action, base_url)
    assert url is not None
    warnings.extend(additional_properties_warnings(body))
    return PlannedCall(
        event,
        subscription.name,
        action.name,
        mode,
        body,
        method="POST",
        url=url,
        warnings=tuple(warnings),
    )


def plan_subscription(
    event: Event, subscription: Subscription, *, mode: Mode, base_url: str, strict: bool = False
) -> PlannedCall | Rejection:
    """Steps 1-4 for one event and one (matching) subscription."""
    mapped = map_fields(subscription, event.data, mode, exact=event.js_exact)
    return build_call(event, subscription, mapped, mode=mode, base_url=base_url, strict=strict)


# -- the compiled planner ---------------------------------------------------------------

Planner = Callable[[Event], PlannedCall | Rejection]
"""One subscription compiled for one mode and base URL: event in, call out."""

_RENDERING: Final = ("@template", "@json", "@replace")
"""Directives that can turn an event's number into text."""


class _Unreadable:
    """The type of ``_ASK``."""


_ASK: Final = _Unreadable()
"""An inlined path met a value that is not an object on the way: ask the resolver."""


def compile_subscription(
    subscription: Subscription, *, mode: Mode, base_url: str, strict: bool = False
) -> Planner:
    """Compile ``plan_subscription`` for one subscription into one Python function.

    The function (generated code, ``fbcli.codegen``) does steps 1-4 in one
    pass, with all that does not depend on the event written into it: each
    field in order with its lookups, its step 2 and 3 and its landing, the
    required fields, the URL.  It plans the common case, a call with no error
    and no warning but the ``additionalProperties`` ones, and hands every
    other event to ``plan_subscription``, the reference path, so rejections
    and warnings are worded there and only there.  Each step's code comes from
    the definition the reference path runs:

    - step 1: each field's resolver; a plain ``@path`` is looked up inline
      (``directives.path_keys`` says when that is the resolver's answer), the
      objects on the way looked up once for all fields;
    - step 2: ``validation.DROPPED`` written in, ``FieldKind.clean`` for lists;
    - step 3: ``FieldKind.settle``, asked to fail at the first problem, except
      for a value of a type it ``keeps``; a required field that is missing or
      settles to ``""`` goes the slow way (``settle_payload`` would report it);
    - step 4: the action's body rules, each placed by the code of
      ``actions.base.emit_place`` (or ``emit_unmapped``), knowing the settled
      types (``FieldKind.settles_to``, ``Converter.keeps``); a payload that
      spreads ``friendbuyAttributes``, lifts ``eventProperties`` or is
      prepared (direct mode) is built by the action's own builder, as the
      reference does; then ``normalize_json``, ``cloud_url``/``push_of`` and
      ``additional_properties_warnings``.

    Any template rendering ``[object Object]``, any integer beyond 2**53 (or
    ``__proto__``) in a resolved value or, when a mapping renders text
    (``@template``, ``@json``, ``@replace``), anywhere in an event the reader
    does not know to read the same in JavaScript (``Event.js_exact``), any
    note of the body builder, crash or infinite number goes the slow way.

    A subscription whose fields are not exactly the action's fields in this
    mode, in order and once each (``build_subscription`` always makes them so),
    that unmaps a required field (no call could be planned without an error or
    a warning) or whose mapping holds an integer beyond 2**53, is planned the
    slow way for every event.
    """
    action = subscription.action
    fields = action.fields_in(mode)
    names = [fm.field for fm in subscription.fields]
    if (
        len(set(names)) != len(names)
        or names != [f.name for f in fields if f.name in names]
        or any(js_view(fm.mapping) is not fm.mapping for fm in subscription.fields)
        or not set(required_fields(action, mode)) <= set(names)
    ):
        return _slow_planner(subscription, mode=mode, base_url=base_url, strict=strict)
    return _PlannerSource(subscription, mode, base_url, strict).compile()


@dataclass(slots=True)
class _Held:
    """A field of a planner being generated, and the locals its code leaves behind."""

    name: str
    kind: FieldKind
    value: str
    """The field's value in the payload (settled, in cloud mode), ``MISSING`` when absent."""
    fused_items: bool = False
    """The items are built in step 3 already (``value`` holds them built, or only settled
    when the payload spreads ``friendbuyAttributes``: the builder builds them then)."""


class _PlannerSource:
    """The generated code of one subscription's planner (``compile_subscription``)."""

    def __init__(self, subscription: Subscription, mode: Mode, base_url: str, strict: bool):
        self.subscription = subscription
        self.action = subscription.action
        self.mode = mode
        self.cloud = mode == "cloud"
        self.body_map = self.action.body_maps[mode]
        self.src = Source()
        self.slow = self.src.const(
            _slow_planner(subscription, mode=mode, base_url=base_url, strict=strict)
        )
        self.missing = self.src.const(MISSING)
        self.url = cloud_url(self.action, base_url)
        self.required = frozenset(required_fields(self.action, mode))
        self.kinds = {f.name: FIELD_KINDS[f.type] for f in self.action.fields_in(mode)}
        self.nodes: dict[tuple[str, ...], tuple[str, str]] = {}
        self.fields: list[_Held] = []
        self.fused = self.fusable()
        self.by_builder = ""
        """A local: true when a fused body is built by the builder after all."""

    def compile(self) -> Planner:
        src, slow = self.src, self.slow
        src.line(0, "def plan(event):")
        src.line(1, "data = event.data")
        src.line(1, "if type(data) is not dict:")
        src.line(2, f"return {slow}(event)")
        src.line(1, "look = not event.js_exact")
        if any(_uses(fm.mapping, _RENDERING) for fm in self.subscription.fields):
            src.line(1, f"if look and {src.const(js_view)}(data) is not data:")
            src.line(2, f"return {slow}(event)")
        src.line(1, "try:")
        # The spread field first: a payload that spreads it is built by the builder,
        # which wants a list of objects settled, not built (``build_items``).
        fields = self.subscription.fields
        spread = [fm for fm in fields if fm.field == SPREAD_FIELD]
        for fm in (*spread, *(fm for fm in fields if fm.field != SPREAD_FIELD)):
            self.field(fm)
            if fm.field == SPREAD_FIELD and self.fused:
                self.spread_by_builder()
        order = {fm.field: i for i, fm in enumerate(fields)}
        self.fields.sort(key=lambda held: order[held.name])
        if self.fused:
            self.place_fields()
        else:
            self.build_payload()
        self.finish()
        src.line(1, f"except ({src.const(JsTypeError)}, {src.const(ActionCrashError)}):")
        src.line(2, f"return {slow}(event)")
        planner: Planner = src.compile("plan")
        return planner

    def spread_by_builder(self) -> None:
        """Whether the body is built by the builder after all (a local, ``by_builder``): when
        a member of ``friendbuyAttributes`` is named like a field, the spread lets the
        field's value take the member's place (``spread_attributes``), which only the
        builder's own order of keys gives."""
        src, missing = self.src, self.missing
        spread = self.fields[-1].value
        names = src.const(frozenset(fm.field for fm in self.subscription.fields))
        self.by_builder = src.name("by_builder")
        test = f"{spread} is not {missing} and not {spread}.keys().isdisjoint({names})"
        src.line(2, f"{self.by_builder} = {test}")

    def fusable(self) -> bool:
        """Whether the fields can be placed into the body as they are settled, in order.

        Only when the builder would meet exactly the fields, in order: cloud mode, a
        body map of rules with no preparing, defaults or finishing, no lifted field,
        and no field named like an ``Object.prototype`` member.  (A payload holding
        ``friendbuyAttributes`` is built by the builder instead: ``place_fields``.)
        """
        body_map = self.body_map
        return (
            self.cloud
            and body_map.custom is None
            and body_map.prepare is None
            and body_map.finalize is None
            and not body_map.defaults
            and self.action.lift is None
            and not any(fm.field in PROTOTYPE_NAMES for fm in self.subscription.fields)
        )

    # -- steps 1 to 3, a field at a time --------------------------------------------------

    def node(self, keys: tuple[str, ...]) -> tuple[str, str]:
        """The locals holding ``data[k1]...[kn]`` (``MISSING`` where a key is absent, ``_ASK``
        past a value that is not an object) and whether it is a ``dict``; looked up once,
        before the first field that needs them."""
        found = self.nodes.get(keys)
        if found is not None:
            return found
        src = self.src
        node, is_dict = src.name("node"), src.name("is_dict")
        key = src.const(keys[-1])
        if len(keys) == 1:
            src.line(2, f"{node} = data.get({key}, {self.missing})")
        else:
            parent, parent_is_dict = self.node(keys[:-1])
            other = f"{parent} if {parent} is {self.missing} else {src.const(_ASK)}"
            src.line(
                2, f"{node} = {parent}.get({key}, {self.missing}) if {parent_is_dict} else {other}"
            )
        src.line(2, f"{is_dict} = type({node}) is dict")
        self.nodes[keys] = (node, is_dict)
        return node, is_dict

    def lookup(self, fm: FieldMapping, value: str) -> None:
        """Step 1: ``value`` = the field's value, inline for a plain ``@path``."""
        src = self.src
        resolve = f"{src.const(fm.resolve)}(data)"
        keys = path_keys(fm.mapping)
        if keys is None:
            src.line(2, f"{value} = {resolve}")
            return
        last = src.const(keys[-1])
        if len(keys) == 1:
            src.line(2, f"{value} = data.get({last}, {self.missing})")
            return
        parent, is_dict = self.node(keys[:-1])
        other = f"{parent} if {parent} is {self.missing} else {resolve}"
        src.line(2, f"{value} = {parent}.get({last}, {self.missing}) if {is_dict} else {other}")

    def field(self, fm: FieldMapping) -> None:
        """Steps 1 to 3 of one field: its value settled (cloud) or checked (direct) into a
        local, ``MISSING`` when it is not in the payload."""
        src, slow, missing = self.src, self.slow, self.missing
        kind = self.kinds[fm.field]
        raw = src.name("raw")
        held = _Held(fm.field, kind, src.name("f"))
        self.fields.append(held)
        self.lookup(fm, raw)
        # Absent, or dropped in step 2 (kept as it is in direct mode, but not "present").
        src.line(2, f"if {raw} is {missing} or {DROPPED.format(raw)}:")
        if fm.field in self.required:
            src.line(3, f"return {slow}(event)")
        else:
            src.line(3, f"{held.value} = {missing if self.cloud else raw}")
        view = f"{src.const(js_view)}({raw}, resolved=True)"
        src.line(2, f"elif look and type({raw}) is not str and {view} is not {raw}:")
        src.line(3, f"return {slow}(event)")
        src.line(2, "else:")
        if _has_template(fm.mapping):
            src.line(3, f'if type({raw}) is str and "[object Object]" in {raw}:')
            src.line(4, f"return {slow}(event)")
        checked = raw
        if kind.is_list:
            checked = src.name("checked")
            src.line(3, f"{checked} = {src.const(kind.clean)}({raw})")
        rule = self.body_map.rules.get(fm.field)
        items = rule.items if rule is not None else None
        if self.fused and kind.members is not None and items is not None and _plain(items):
            held.fused_items = True
            indent = 3
            if self.by_builder:  # settled for the builder (build_payload), or built here
                src.line(3, f"if {self.by_builder}:")
                self.settle(kind, checked, held.value, 4, blank_fails=False)
                src.line(3, "else:")
                indent = 4
            self.build_items(kind, items, checked, held.value, indent)
            return
        settled = held.value if self.cloud else src.name("settled")
        self.settle(kind, checked, settled, 3)
        if not self.cloud:
            src.line(3, f"{held.value} = {raw}")

    def settle(
        self, kind: FieldKind, value: str, settled: str, indent: int, *, blank_fails: bool = True
    ) -> None:
        """Step 3 of one value: ``settled`` = ``value`` kept or settled, or the slow way (and
        with ``blank_fails``, for a field, when it settles to ``""``)."""
        src = self.src
        if kind.keeps:
            keeps = sorted(kind.keeps, key=lambda t: t.__name__)
            test = " or ".join(f"type({value}) is {src.const(t)}" for t in keeps)
            src.line(indent, f"if {test}:")
            src.line(indent + 1, f"{settled} = {value}")
            src.line(indent, "else:")
            indent += 1
        src.line(indent, f"{settled} = {src.const(kind.settle)}({value}, None, ())")
        blank = f" or {settled} == ''" if blank_fails else ""
        src.line(indent, f"if {settled} is {src.const(FAIL)}{blank}:")
        src.line(indent + 1, f"return {self.slow}(event)")

    def build_items(
        self, kind: FieldKind, items: BodyMap, checked: str, built: str, indent: int
    ) -> None:
        """Steps 3 and 4 of a list of objects at once: each item's members settled and put
        where the item rules say, as ``FieldKind.settle`` then ``_build_items`` would."""
        src, slow = self.src, self.slow
        assert kind.members is not None
        item, key, member, body = src.name("item"), src.name("key"), src.name("m"), src.name("b")
        at = indent + 1
        src.line(indent, f"{built} = []")
        src.line(indent, f"for {item} in {checked}:")
        src.line(at, f"if type({item}) is not dict:")
        src.line(at + 1, f"return {slow}(event)")
        defaults = f"dict({src.const(dict(items.defaults))})" if items.defaults else "{}"
        src.line(at, f"{body} = {defaults}")
        seen = {name: src.name("seen") for name in kind.required}
        for flag in seen.values():
            src.line(at, f"{flag} = False")
        src.line(at, f"for {key}, {member} in {item}.items():")
        for index, (name, member_type) in enumerate(kind.members.items()):
            member_kind = FIELD_KINDS[member_type]
            src.line(at + 1, f"{'if' if index == 0 else 'elif'} {key} == {src.const(name)}:")
            settled = src.name("s")
            self.settle(member_kind, member, settled, at + 2, blank_fails=False)
            if name in seen:
                src.line(at + 2, f"{seen[name]} = True")
            rule = items.rules.get(name)
            if rule is None:
                emit_unmapped(src, at + 2, items.unmapped, src.const(name), settled, body=body)
            else:
                types = member_kind.settles_to
                emit_place(src, at + 2, name, rule, settled, kinds=types, body=body)
        if seen:
            src.line(at, f"if not ({' and '.join(seen.values())}):")
            src.line(at + 1, f"return {slow}(event)")
        src.line(at, f"if {body}:")
        src.line(at + 1, f"{built}.append({body})")

    # -- step 4 ---------------------------------------------------------------------------

    def build_payload(self, indent: int = 2) -> None:
        """The payload of the present fields, then the action's builder (``build_call``)."""
        src, slow, missing = self.src, self.slow, self.missing
        src.line(indent, "payload = {}")
        for held in self.fields:
            src.line(indent, f"if {held.value} is not {missing}:")
            src.line(indent + 1, f"payload[{src.const(held.name)}] = {held.value}")
        given = "payload"
        if self.action.lift is not None:
            given = f"{src.const(lift_properties)}({src.const(self.action)}, payload)"
        src.line(indent, "notes = []")
        src.line(indent, f"body = {src.const(self.body_map.build)}({given}, notes)")
        src.line(indent, "if body is None or notes:")
        src.line(indent + 1, f"return {slow}(event)")
        # Settled values and converted ones are as JSON writes them already: only the
        # members of object fields may not be, and in direct mode anything.
        self.normalize(indent, every=not self.cloud)

    def normalize(self, indent: int, *, every: bool = False) -> None:
        """``normalize_json`` on the body when it may change it: when a field whose settled
        type is not known (an object) is present, or ``every`` time."""
        src = self.src
        unknown = [h.value for h in self.fields if h.kind.settles_to is None]
        if not (every or unknown):
            return
        if not every:
            present = " or ".join(f"{value} is not {self.missing}" for value in unknown)
            src.line(indent, f"if {present}:")
            indent += 1
        src.line(indent, f"body = {src.const(normalize_json)}(body, notes)")
        src.line(indent, "if notes:")
        src.line(indent + 1, f"return {self.slow}(event)")

    def place_fields(self) -> None:
        """Step 4 as the fields are met: each present field where its rule puts it, after
        the members ``friendbuyAttributes`` spreads (``spread_attributes``), each where the
        builder's placer for its key (``BodyMap.placers``) puts it."""
        src, missing, body_map = self.src, self.missing, self.body_map
        spread = next((h.value for h in self.fields if h.name == SPREAD_FIELD), None)
        indent = 2
        if self.by_builder:
            src.line(2, f"if {self.by_builder}:")
            self.build_payload(3)
            src.line(2, "else:")
            indent = 3
        src.line(indent, "notes = []")
        src.line(indent, "body = {}")
        if spread is not None:
            src.line(indent, f"if {spread} is not {missing}:")
            src.line(indent + 1, f"placers = {src.const(body_map.placers)}")
            src.line(indent + 1, f"for key, raw in {spread}.items():")
            src.line(indent + 2, f"if key == {src.const(SPREAD_FIELD)}:")
            src.line(indent + 3, "continue")
            src.line(indent + 2, "place = placers.get(key)")
            src.line(indent + 2, "if place is not None:")
            src.line(indent + 3, "place(body, raw, notes)")
            src.line(indent + 2, "else:")
            emit_unmapped(src, indent + 3, body_map.unmapped, "key", "raw")
        for held in self.fields:
            if held.value == spread:
                continue
            at = indent
            if held.name not in self.required:
                src.line(indent, f"if {held.value} is not {missing}:")
                at += 1
            # A settled text is never "" here (that went the slow way).
            types = held.kind.settles_to
            non_empty = types == frozenset({str})
            rule = self.body_map.rules.get(held.name)
            if rule is None:
                always = non_empty or (types is not None and types <= ALWAYS_NON_EMPTY)
                unmapped = self.body_map.unmapped
                emit_unmapped(src, at, unmapped, src.const(held.name), held.value, non_empty=always)
            else:
                if held.fused_items:
                    rule = replace(rule, items=None)
                emit_place(src, at, held.name, rule, held.value, kinds=types, non_empty=non_empty)
        src.line(indent, "if not body or notes:")
        src.line(indent + 1, f"return {self.slow}(event)")
        self.normalize(indent)

    def finish(self) -> None:
        """The call: a MAPI request (cloud) or a push (direct)."""
        src, slow, action = self.src, self.slow, self.action
        call = f"{src.const(PlannedCall)}(event, {src.const(self.subscription.name)}, "
        call += f"{src.const(action.name)}, {src.const(self.mode)}, body, "
        if self.cloud:
            if self.url is None:
                src.line(2, f"return {slow}(event)")
                return
            src.line(2, 'if body.get("additionalProperties") is None:')
            src.line(3, "warnings = ()")
            src.line(2, "else:")
            src.line(3, f"warnings = tuple({src.const(additional_properties_warnings)}(body))")
            url = src.const(self.url)
            src.line(2, f'return {call}method="POST", url={url}, warnings=warnings)')
            return
        if action.direct_type:
            kind = src.const(action.direct_type)
        else:
            kind = src.name("kind")
            src.line(2, f"{kind} = payload.get({src.const(PUSH_TYPE_FIELD)}, {self.missing})")
            src.line(2, f"if not (isinstance({kind}, str) and {kind}):")
            src.line(3, f"return {slow}(event)")
        src.line(2, f"return {call}push={src.const(push_of)}({src.const(action)}, {kind}, body))")


def _plain(body_map: BodyMap) -> bool:
    """A body map of rules alone: no preparing, spreading or finishing of its own."""
    return body_map.custom is None and body_map.prepare is None and body_map.finalize is None


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
    dispatchers: dict[frozenset[str] | None, Dispatcher] = field(
        default_factory=dict, repr=False, compare=False
    )
    """``dispatcher`` by ``actions``, compiled when first asked for."""

    @property
    def known(self) -> frozenset[str]:
        """The names of its subscriptions."""
        return frozenset(s.name for s, _ in self.subscriptions)

    def dispatcher(self, actions: frozenset[str] | None = None) -> Dispatcher:
        """All calls for one event, one per matching subscription in file order (generated).

        Each subscription's trigger is evaluated (``triggers.emit_test``'s code, the
        event's top-level keys looked up once for all), then the matching ones whose
        action is in ``actions`` (``None``: any) are planned; ``Unmatched`` when no
        trigger matches.
        """
        dispatch = self.dispatchers.get(actions)
        if dispatch is None:
            dispatch = self.dispatchers[actions] = _compile_dispatch(self, actions)
        return dispatch


Dispatcher = Callable[[Event], "list[PlannedCall | Rejection] | Unmatched"]
"""What ``CompiledConfig.dispatcher`` compiles: one event in, its calls (or ``Unmatched``) out."""


def _compile_dispatch(compiled: CompiledConfig, actions: frozenset[str] | None) -> Dispatcher:
    src = Source()
    subscriptions = compiled.subscriptions
    missing = src.const(MISSING)
    keys: dict[str, str] = {}

    def value(path: str) -> str:
        if "." in path:
            return f"{src.const(getter(path))}(data)"
        local = keys.get(path)
        if local is None:
            local = keys[path] = src.name("key")
        return local

    tests = [emit_test(src, s.node, value) for s, _ in subscriptions]
    src.line(0, "def dispatch(event):")
    src.line(1, "data = event.data")
    src.line(1, "if type(data) is not dict:")
    fallback = f"{src.const(_plan_matching)}(event, {src.const(compiled)}, {src.const(actions)})"
    src.line(2, f"return {fallback}")
    for path, local in keys.items():
        src.line(1, f"{local} = data.get({src.const(path)}, {missing})")
    matched = [src.name("matched") for _ in subscriptions]
    for name, test in zip(matched, tests, strict=True):
        src.line(1, f"{name} = {test}")
    src.line(1, f"if not ({' or '.join(matched) or 'False'}):")
    src.line(2, f"return {src.const(Unmatched)}(event)")
    src.line(1, "calls = []")
    for name, (subscription, planner) in zip(matched, subscriptions, strict=True):
        if actions is None or subscription.action.name in actions:
            src.line(1, f"if {name}:")
            src.line(2, f"calls.append({src.const(planner)}(event))")
    src.line(1, "return calls")
    dispatch: Dispatcher = src.compile("dispatch")
    return dispatch


def _plan_matching(
    event: Event, compiled: CompiledConfig, actions: frozenset[str] | None
) -> list[PlannedCall | Rejection] | Unmatched:
    """What the dispatcher does, for an event whose data is not a ``dict``."""
    data = event.data
    matched = [(s, plan) for s, plan in compiled.subscriptions if s.matches(data)]
    if not matched:
        return Unmatched(event)
    return [plan(event) for s, plan in matched if actions is None or s.action.name in actions]


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
    """Which events and calls to keep (``--action``, ``--where``, ``--lines``, ``--since``,
    ``--until``)."""

    actions: frozenset[str] | None = None
    where: Callable[[Mapping[str, Any]], bool] | None = None
    lines: tuple[int, int] | None = None
    since: datetime | None = None
    """Events at this instant or later (``--since``)."""
    until: datetime | None = None
    """Events before this instant (``--until``: a date is the end of that day)."""

    def keeps_line(self, line: int) -> bool:
        """Whether ``--lines`` keeps this line number."""
        return self.lines is None or self.lines[0] <= line <= self.lines[1]

    @property
    def dated(self) -> bool:
        """Whether ``--since`` or ``--until`` is given."""
        return self.since is not None or self.until is not None

    def keeps_time(self, data: Mapping[str, Any]) -> bool | None:
        """Whether ``--since`` and ``--until`` keep the event; ``None``: it has no time
        (``event_time``), and is left out."""
        when = event_time(data)
        if when is None:
            return None
        return (self.since is None or when >= self.since) and (
            self.until is None or when < self.until
        )

    @classmethod
    def parse(
        cls,
        *,
        actions: Iterable[str] | None = None,
        where: str | None = None,
        lines: str | None = None,
        since: str | None = None,
        until: str | None = None,
    ) -> PlanFilter:
        """The filter of ``--action`` (names), ``--where`` (a trigger), ``--lines``
        (``10-20``, ``10-``, ``-20`` or ``15``), ``--since`` and ``--until`` (ISO-8601
        dates or dates and times); ``ConfigError`` names a bad one."""
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
            since=_parse_date(since, "--since", end_of_day=False),
            until=_parse_date(until, "--until", end_of_day=True),
        )


TIME_KEYS: Final = ("timestamp", "originalTimestamp", "receivedAt", "sentAt")
"""Where an event's time is read (``event_time``): the first of these that is present."""


def event_time(data: Mapping[str, Any]) -> datetime | None:
    """The event's time: the first of ``TIME_KEYS`` present (not null), as an instant if it
    is an ISO-8601 date or date and time (``triggers.parse_instant``), else ``None``."""
    for key in TIME_KEYS:
        value = data.get(key)
        if value is not None:
            return parse_instant(value)
    return None


def undated_note(count: int) -> str:
    """What ``--since``/``--until`` say of the events they left out for want of a time."""
    return (
        f"{plural(count, 'event')} without a time ({', '.join(TIME_KEYS)}: the first present, "
        "as an ISO-8601 date and time) left out by --since/--until"
    )


def _parse_date(text: str | None, option: str, *, end_of_day: bool) -> datetime | None:
    """``--since``/``--until``: an ISO-8601 date (``2026-01-31``: its start, or with
    ``end_of_day`` its end) or date and time (an offset, or UTC)."""
    if text is None:
        return None
    instant = parse_instant(text.strip())
    if instant is None:
        raise ConfigError(
            f"{option} must be an ISO-8601 date or date and time, not '{text}'",
            hint=f"e.g. {option} 2026-01-31 or {option} 2026-01-31T12:00:00+02:00",
        )
    if end_of_day and len(text.strip()) == 10:
        instant += timedelta(days=1)
    return instant


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
    return compiled.dispatcher(actions)(event)


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

    @property
    def undated(self) -> int:
        """Events ``--since``/``--until`` left out for want of a time (``event_time``)."""
        return self.by_status["undated"]

    def add_undated(self) -> None:
        """Count one event left out for want of a time."""
        self.by_status["undated"] += 1


T = TypeVar("T")

RecordKey = tuple[Status | Literal["undated"], str | None]
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
    causes: CauseBook | None = None
    """The item's causes, when they are looked for (``CauseFinder``)."""


class PlanBatch(NamedTuple, Generic[T]):
    """Several items taken as one: their outputs and their counts (``fbcli.parallel``).

    Only where no ``--limit`` or ``--max-errors`` can stop between them.
    """

    tally: PlanTally
    outputs: list[T]
    causes: CauseBook | None = None
    """The items' causes, when they are looked for (``CauseFinder``)."""


# -- lines of a failed file (``replay --failed``) read back as input ----------------------

FAILED_KIND: Final = "fbcli.failed-call"
"""The ``kind`` of a line of a ``--failed`` file (``replay.failed_record`` writes them)."""


@dataclass(frozen=True, slots=True)
class FailedRef:
    """What a line of a ``--failed`` file says of its call: its ledger row (target, key,
    subscription), its action, and the status it ended with."""

    key: str | None
    subscription: str | None
    action: str | None
    status: Literal["sent", "failed", "unknown"] | None = None
    target: str | None = None


def unwrap_failed(item: Event | LineError) -> tuple[Event | LineError, FailedRef | None]:
    """A ``--failed`` line read back as input: its original event (at the line of the
    failed file), and its call; any other item as it is, and ``None``."""
    if (
        isinstance(item, Event)
        and item.data.get("kind") == FAILED_KIND
        and isinstance(item.data.get("event"), dict)
    ):
        ledger = item.data.get("ledger")
        ledger = ledger if isinstance(ledger, dict) else {}

        def text(value: Any) -> str | None:
            return value if isinstance(value, str) and value else None

        status = item.data.get("status")
        ref = FailedRef(
            text(ledger.get("key")),
            text(ledger.get("subscription")) or text(item.data.get("subscription")),
            text(item.data.get("action")),
            status if status in ("sent", "failed", "unknown") else None,
            text(ledger.get("target")),
        )
        return Event(item.source, item.line, item.data["event"]), ref
    return item, None


def keeps_call(record: PlanRecord, ref: FailedRef, known: Collection[str]) -> bool:
    """Whether a record of a failed line's event is that line's call (or its renamed self)."""
    if not isinstance(record, PlannedCall | Rejection):
        return False
    if record.subscription == ref.subscription:
        return True
    return ref.subscription not in known and record.action == ref.action


def original_events(items: Iterable[Event | LineError]) -> Iterator[Event | LineError]:
    """``items`` with each line of a failed file as its original event (``unwrap_failed``)."""
    for item in items:
        yield unwrap_failed(item)[0]


UNDATED: Final[list[PlanRecord]] = []
"""What ``plan_item`` gives for an event ``--since``/``--until`` leave out because it has no
time (``event_time``): counted apart (``PlanTally.undated``), never shown."""
UNDATED_KEY: Final[RecordKey] = ("undated", None)


def plan_item(
    item: Event | LineError,
    compiled: CompiledConfig,
    selection: PlanFilter,
) -> list[PlanRecord] | None:
    """One item's records, in order; ``None`` when the selection drops the item.

    A line of a ``--failed`` file is its original event, of which only its own call
    is kept (the subscription it names, or, when the mapping file no longer has that
    name, the call of the same action): the call ``replay`` would send again.  When
    the mapping file no longer makes that call, the event is unmatched.
    """
    if selection.lines is not None and not selection.keeps_line(item.line):
        return None
    if isinstance(item, LineError):
        return [item]
    ref = None
    if item.data.get("kind") == FAILED_KIND:
        item, ref = unwrap_failed(item)
        assert isinstance(item, Event)
    if selection.where is not None and not selection.where(item.data):
        return None
    if selection.dated:
        kept = selection.keeps_time(item.data)
        if not kept:
            return None if kept is False else UNDATED
    planned = _plan_compiled(item, compiled, selection.actions)
    if isinstance(planned, Unmatched):
        return None if selection.actions is not None else [planned]
    if ref is not None:
        known = compiled.known
        return [r for r in planned if keeps_call(r, ref, known)] or [Unmatched(item)]
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
    *,
    causes: CauseFinder | None = None,
    into: CauseBook | None = None,
) -> Iterator[PlanGroup[T]]:
    """``plan_item`` over a stream: a group per item the selection keeps (records rendered).

    ``causes``: each group carries its item's causes (a ``CauseBook`` of its own), or,
    given ``into``, they are all noted in that one book.
    """
    for item in items:
        records = plan_item(item, compiled, selection)
        if records is UNDATED:
            yield PlanGroup(False, (UNDATED_KEY,), ())
        elif records is not None:
            group = group_of(records, render)
            if causes is not None:
                book = causes.new_book() if into is None else into
                causes.note(book, item, records)
                if into is None:
                    group = group._replace(causes=book)
            yield group


def plan_batch(
    items: Iterable[Event | LineError],
    compiled: CompiledConfig,
    selection: PlanFilter,
    render: Callable[[PlanRecord], T | None],
    *,
    join_text: bool = False,
    causes: CauseFinder | None = None,
) -> PlanBatch[T | str]:
    """``plan_groups`` taken as one: the groups' counts, and their outputs but ``None``.

    ``join_text``: the outputs are text, joined into one (``fbcli.parallel`` sends a
    block's JSON lines back so).  ``causes``: the batch carries its items' causes (one
    ``CauseBook``).  Only where no ``--limit`` or ``--max-errors`` can stop between the
    items.
    """
    tally = PlanTally()
    outputs: list[T | str] = []
    add, keep = tally.add_keys, outputs.append
    book = causes.new_book() if causes is not None else None
    for group in plan_groups(items, compiled, selection, render, causes=causes, into=book):
        add(group.keys, is_event=group.is_event)
        for output in group.outputs:
            if output is not None:
                keep(output)
    if join_text and outputs:
        outputs = ["".join(map(str, outputs))]
    return PlanBatch(tally, outputs, book)


def take_groups(
    groups: Iterable[PlanGroup[T] | PlanBatch[T]],
    tally: PlanTally,
    *,
    limit: int | None = None,
    max_errors: int | None = None,
    causes: CauseBook | None = None,
) -> Iterator[T]:
    """Count each group in ``tally`` and yield its outputs, in order, until a limit stops it.

    ``limit`` stops before the item after that many (events and malformed
    lines); ``max_errors`` stops after that many problem items.  Both set
    ``tally.stopped``.  Groups not taken are never asked for.  A batch is
    counted and yielded whole (it comes only when there is no limit).
    ``causes``: the groups' causes are merged into it, in order.
    """
    for group in groups:
        if isinstance(group, PlanBatch):
            if limit is not None or max_errors is not None:
                raise ValueError("a batch cannot stop part-way: plan in groups to limit")
            tally.merge(group.tally)
            if causes is not None and group.causes is not None:
                causes.merge(group.causes)
            yield from group.outputs
            continue
        if limit is not None and tally.events + tally.count("malformed") >= limit:
            tally.stopped = f"stopped after --limit {limit} events"
            return
        tally.add_keys(group.keys, is_event=group.is_event)
        if causes is not None and group.causes is not None:
            causes.merge(group.causes)
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
    if record.event.index is not None:
        out["index"] = record.event.index
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
