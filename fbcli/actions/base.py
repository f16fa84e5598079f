"""The shapes every action is made of, and the body-building rules they share.

An action (``trackPurchase`` ...) is data: its fields (name, type, default
mapping, which modes require it) and, per mode, a table of *key rules* saying
where each key of the payload lands in the request body.  Building a body is
the destination's ``mapEvent`` (``@segment/actions-shared``), step by step:

1. ``prepare`` (direct mode: ``name`` is derived from ``firstName`` and
   ``lastName`` when it is missing, on the payload as the mapping made it).
2. ``friendbuyAttributes``, when JavaScript-truthy, goes; when it is an object
   (or a list: its indexes are keys) its members are spread in first, so a
   key already in the payload wins.
3. Each key, in order: with a rule, it is converted and put at its target
   (``None``: dropped); a list with an item map is built item by item.
   Without a rule it goes to ``additionalProperties`` as text (cloud), to the
   top level unchanged (direct), or nowhere (product items).  The rules are
   looked up in a JavaScript object, so a key named like a member of
   ``Object.prototype`` (``constructor``, ``toString`` ...) finds one: the
   value goes to the top level as it is, under that member's name (``Object``
   for ``constructor``; ``__proto__`` is lost).
4. A value is set only when it is non-empty: ``""``, ``{}``, ``[]`` and
   missing values are never sent; ``0``, ``false`` and ``null`` are.
5. ``finalize`` (direct purchases: a ``customer`` without an id goes); a body
   with nothing left is ``None`` ("no supported fields").

Where the destination's code throws (it reads a member of ``null``, or sets
one on text), ``ActionCrashError`` is raised: the destination sends nothing.  What
it does that is surely not meant, and fbcli does the same, is noted (``Note``)
for the planner to warn about.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final, Literal

from fbcli.codegen import Source
from fbcli.jsvalues import (
    MAX_EXACT_INTEGER,
    Inheriting,
    JsTypeError,
    js_int,
    js_json,
    js_number,
    js_string,
    js_truthy,
)
from fbcli.values import MISSING, is_number

if TYPE_CHECKING:
    from fbcli.validation import FieldType

Mode = Literal["cloud", "direct"]
MODES: Final[tuple[Mode, ...]] = ("cloud", "direct")
BOTH: Final = frozenset[Mode]({"cloud", "direct"})
CLOUD: Final = frozenset[Mode]({"cloud"})
DIRECT: Final = frozenset[Mode]({"direct"})
NONE: Final = frozenset[Mode]()


JsonObject = dict[str, Any]
Note = tuple[str, str]
"""A quirk of the destination met while building a body: the key path and what happened."""
Notes = list[Note]


class ActionCrashError(Exception):
    """The destination's code throws on this payload, so it sends nothing."""

    def __init__(self, field: str | None, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


@dataclass(frozen=True, slots=True)
class ActionField:
    """One field of an action: what it is, where it comes from by default."""

    name: str
    type: FieldType
    default: Any
    """The default mapping (a mapping-kit directive or constant); ``None``: none."""
    description: str
    required: frozenset[Mode] = NONE
    """Modes in which the field is required (cloud: an error; direct: a warning)."""
    modes: frozenset[Mode] = BOTH
    """Modes in which the field exists at all."""
    free_form: bool = False
    """An object left exactly as it is (nulls inside survive)."""


@dataclass(frozen=True, slots=True)
class KeyRule:
    """Where one key of the payload lands in the body, and how it is converted."""

    target: tuple[str, ...] | None
    """The key path in the body; ``None`` drops the key."""
    convert: Converter | None = None
    items: BodyMap | None = None
    """For lists of objects: how each item is built."""


Builder = Callable[[Mapping[str, Any], Notes], "JsonObject | None"]
"""Build a body from a payload (raises ``ActionCrashError``); quirks met are added to the notes."""


@dataclass(frozen=True, slots=True)
class BodyMap:
    """How a payload object becomes a body object (the destination's ``EventMap``)."""

    rules: Mapping[str, KeyRule]
    unmapped: Literal["additionalProperties", "root", "drop"]
    defaults: Mapping[str, Any] = field(default_factory=dict)
    prepare: Callable[[JsonObject, Notes], JsonObject] | None = None
    """Run on the payload before it is mapped (direct mode: derive ``name``)."""
    finalize: Callable[[JsonObject], JsonObject] | None = None
    custom: Builder | None = None
    """A builder of the action's own instead of ``mapEvent`` (trackPage); the rules are then
    only what the docs show."""
    _compiled: tuple[Builder, Mapping[str, _Placer]] | None = field(
        default=None, init=False, repr=False, compare=False
    )

    @property
    def build(self) -> Builder:
        """``build_body`` for this map: ``custom``, else compiled from the rules when first
        asked for (``compile_body_map``)."""
        return self.custom or self.compiled()[0]

    @property
    def placers(self) -> Mapping[str, _Placer]:
        """The compiled builder's placer of each key with a rule (and of each key named like
        a member of ``Object.prototype``): the code ``build`` runs for a key."""
        return self.compiled()[1]

    def compiled(self) -> tuple[Builder, Mapping[str, _Placer]]:
        """``compile_body_map`` of this map, compiled when first asked for."""
        compiled = self._compiled
        if compiled is None:
            compiled = compile_body_map(self)
            object.__setattr__(self, "_compiled", compiled)
        return compiled


@dataclass(frozen=True, slots=True)
class Action:
    """A Friendbuy action: its fields and how its payload becomes a request."""

    name: str
    title: str
    description: str
    fields: tuple[ActionField, ...]
    modes: frozenset[Mode]
    cloud_path: str | None
    """MAPI path (cloud), e.g. ``/v1/event/purchase``."""
    direct_type: str | None
    """The push type (direct), e.g. ``purchase``; ``None``: taken from ``eventType``."""
    suggested_trigger: str | None
    body_maps: Mapping[Mode, BodyMap]
    direct_trailing_true: bool = True
    lift: str | None = None
    """A field whose object members are lifted to the top of the payload first."""
    idempotent: bool = False
    """Sending the same call twice does no harm (a customer upsert)."""
    deduplicated_by: str | None = None
    """A body key that, when set, makes Friendbuy ignore a repeat of the call."""

    def safe_to_repeat(self, body: Mapping[str, Any]) -> bool:
        """Whether sending a call of this action with this body twice does no harm.

        MAPI has no idempotency key: only an idempotent action, or a call that
        carries its action's deduplication key, may be sent again safely.
        """
        return self.idempotent or (
            self.deduplicated_by is not None and bool(body.get(self.deduplicated_by))
        )

    positions: Mapping[str, int] = field(init=False, repr=False, compare=False)
    """Each field's position in ``fields``, by name."""
    _in_mode: Mapping[Mode, tuple[ActionField, ...]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        positions = {f.name: i for i, f in enumerate(self.fields)}
        in_mode = {m: tuple(f for f in self.fields if m in f.modes) for m in MODES}
        object.__setattr__(self, "positions", positions)
        object.__setattr__(self, "_in_mode", in_mode)

    def field_named(self, name: str) -> ActionField | None:
        """The field called ``name``, or ``None``."""
        position = self.positions.get(name)
        return None if position is None else self.fields[position]

    def fields_in(self, mode: Mode) -> tuple[ActionField, ...]:
        """The fields that exist in ``mode``."""
        return self._in_mode[mode]


# -- converters (docs/actions.md, "From an event to a call") ----------------------------


@dataclass(frozen=True, slots=True)
class Converter:
    """One of the destination's converters, defined once: its name, what it does, what it keeps.

    ``name`` is how ``fbcli actions`` and ``fbcli explain`` show it; calling the
    converter converts.  ``keeps`` are exact types whose values it always
    returns as they are, so the compiled planner leaves them alone without a
    call (``tests/test_fastpath.py`` checks the claim on generated values).
    """

    name: str
    convert: Callable[[Any], Any]
    keeps: tuple[type, ...] = ()

    def __call__(self, value: Any) -> Any:
        return self.convert(value)


def converter(
    name: str, *, keeps: tuple[type, ...] = ()
) -> Callable[[Callable[[Any], Any]], Converter]:
    """Define a converter: ``@converter("to-string", keeps=(str, ...))`` on its function."""

    def define(function: Callable[[Any], Any]) -> Converter:
        return Converter(name, function, keeps)

    return define


_NOT_NUMBERS: Final = (str, bool, type(None), dict, list)
_NOT_TEXT: Final = (int, float, bool, type(None), dict, list)

_INTEGER_RE: Final = re.compile(r"-?(?:0|[1-9][0-9]*)")
_NUMBER_RE: Final = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?")
# re.ASCII: \d as in JavaScript (not other scripts' digits).
_DATE_RE: Final = re.compile(r"(?:(\d\d\d\d)-)?(\d\d)-(\d\d)(?:\D|$)", re.ASCII)
_LONGEST_FINITE: Final = 309
"""Digits beyond which an integer is past the largest double (about 1.8e308)."""


@converter("to-string", keeps=_NOT_NUMBERS)
def to_string(value: Any) -> Any:
    """``enjoinString``: numbers become their JavaScript text; anything else is unchanged."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return js_string(value)
    return value


@converter("to-integer", keeps=_NOT_TEXT)
def to_integer(value: Any) -> Any:
    """``enjoinInteger``: text of the form ``-?(0|[1-9][0-9]*)`` becomes a number.

    The number JavaScript's ``parseInt`` makes of it: beyond 2**53 the nearest
    double, beyond the largest double an infinity.  Anything else is unchanged.
    """
    if isinstance(value, str) and _INTEGER_RE.fullmatch(value):
        if len(value.lstrip("-")) > _LONGEST_FINITE:
            return -math.inf if value.startswith("-") else math.inf
        number = js_int(int(value))
        return normalize_number(number) if isinstance(number, float) else number
    return value


@converter("to-number", keeps=_NOT_TEXT)
def to_number(value: Any) -> Any:
    """``enjoinNumber``: text of the form ``-?(0|[1-9][0-9]*)(\\.[0-9]+)?`` becomes a number.

    As ``parseFloat`` reads it (a number past the largest double is an
    infinity, which JSON writes as ``null``); anything else is unchanged.
    """
    if isinstance(value, str) and _NUMBER_RE.fullmatch(value):
        return normalize_number(float(value))
    return value


@converter("date")
def to_date(value: Any) -> Any:
    """``parseDate``: ``YYYY-MM-DD`` (or ``MM-DD``) → ``{"month", "day", "year"}``.

    Year ``0000`` is left out.  An object that already has numeric ``month``
    and ``day`` (and ``year``, if any) passes through; ``null`` makes the
    destination's code throw (``ActionCrashError``); anything else gives ``MISSING``,
    which is not sent.
    """
    if value is None:
        raise ActionCrashError(None, "null is not a date: the destination's parseDate fails on it")
    if isinstance(value, dict):
        month, day, year = value.get("month"), value.get("day"), value.get("year", 0)
        if is_number(month) and is_number(day) and ("year" not in value or is_number(year)):
            return value
        return MISSING
    if not isinstance(value, str):
        return MISSING
    match = _DATE_RE.match(value)
    if match is None:
        return MISSING
    date: JsonObject = {"month": int(match.group(2)), "day": int(match.group(3))}
    if match.group(1) and match.group(1) != "0000":
        date["year"] = int(match.group(1))
    return date


def normalize_number(value: float) -> int | float:
    """An integral float below 1e21 becomes the int ``JSON.stringify`` writes for it.

    JavaScript has one number type and writes integral numbers below 1e21
    without a fraction or exponent: ``10.0`` → ``10``.  Beyond 2**53 a double
    is written with its shortest digits and zeros (``1.2345678901234567e19`` →
    ``12345678901234567000``, not the double's exact ``...168``): the int is
    that one, which reads back as the same double.  This keeps fbcli's bodies
    byte-identical to the destination's.
    """
    if value.is_integer() and abs(value) < 1e21:
        if -MAX_EXACT_INTEGER <= value <= MAX_EXACT_INTEGER:
            return int(value)
        return int(js_number(value))
    return value


# -- body building ------------------------------------------------------------------

PROTOTYPE_NAMES: Final = frozenset(
    {
        "constructor",
        "__defineGetter__",
        "__defineSetter__",
        "hasOwnProperty",
        "__lookupGetter__",
        "__lookupSetter__",
        "isPrototypeOf",
        "propertyIsEnumerable",
        "toString",
        "valueOf",
        "__proto__",
        "toLocaleString",
    }
)
"""The members of JavaScript's ``Object.prototype``: every object "has" them."""


def is_non_empty(value: Any) -> bool:
    """The destination's ``isNonEmpty``: missing, ``""``, ``{}`` and ``[]`` are empty.

    An object with inherited members (``Inheriting``) is not empty, as ``for ... in``
    sees them.
    """
    if isinstance(value, str):
        return value != ""
    if isinstance(value, dict | list):
        return len(value) > 0 or type(value) is Inheriting
    return value is not MISSING


def stringify(value: Any) -> str:
    """The destination's ``stringify`` for ``additionalProperties`` values."""
    if isinstance(value, str):
        return value
    if value is None or isinstance(value, dict | list):
        return js_json(value)
    return js_string(value)


SPREAD_FIELD: Final = "friendbuyAttributes"
"""The payload key whose members ``build_body`` spreads into the top level."""
PUSH_TYPE_FIELD: Final = "eventType"
"""The field a direct-mode push takes its type from, for an action with no ``direct_type``."""


def spread_attributes(payload: Mapping[str, Any]) -> JsonObject:
    """``friendbuyAttributes`` spread into the payload (keys already there win), then gone.

    Only when it is JavaScript-truthy: ``null``, ``0``, ``false`` and ``""``
    stay in the payload as they are.  A list spreads its items under their
    indexes (``"0"``, ``"1"`` ...); other truthy values just go.
    """
    attributes = payload.get(SPREAD_FIELD, MISSING)
    if not js_truthy(attributes):
        return dict(payload)
    if isinstance(attributes, dict):
        merged = {**attributes, **payload}
    elif isinstance(attributes, list):
        merged = {**{str(i): v for i, v in enumerate(attributes)}, **payload}
    else:
        merged = dict(payload)
    del merged[SPREAD_FIELD]  # its own member of that name is gone with it
    return merged


def build_body(
    body_map: BodyMap, payload: Mapping[str, Any], notes: Notes | None = None
) -> JsonObject | None:
    """Build a body object from a payload object, or ``None`` when nothing remains.

    Steps 1-5 of the module docstring; the work is done by ``body_map.build``,
    the map compiled once by ``compile_body_map``.  Raises ``ActionCrashError``.
    """
    return body_map.build(payload, [] if notes is None else notes)


_Placer = Callable[[JsonObject, Any, Notes], None]
"""Converts one payload value and puts it into the body (or drops it)."""

ALWAYS_NON_EMPTY: Final = frozenset({int, float, bool, type(None)})
"""Exact types whose every value ``is_non_empty``."""


def emit_place(
    src: Source,
    indent: int,
    key: str,
    rule: KeyRule,
    value: str,
    *,
    kinds: frozenset[type] | None = None,
    non_empty: bool = False,
    body: str = "body",
) -> None:
    """Emit the code of step 3 for one key rule: convert, build list items, set when non-empty.

    The one definition of where a value with a rule lands, for every builder:
    ``compile_body_map``'s (any payload) and the compiled planner's (a payload
    it settled itself).  The code reads the local ``value``, writes into the
    local ``body`` (or another) and ``notes``, and raises ``ActionCrashError``
    where the destination's code throws.  ``kinds``, the exact types ``value``
    can have when the caller knows them, lets the code skip a converter that
    keeps them (``Converter.keeps``) and a non-empty test that cannot fail (as
    can ``non_empty``: the caller knows ``value`` is not empty).
    """
    target = rule.target
    if target is None:
        src.line(indent, "pass")
        return
    convert, items = rule.convert, rule.items
    if convert is not None and not (kinds is not None and kinds <= frozenset(convert.keeps)):
        converted = src.name("x")
        src.line(indent, "try:")
        src.line(indent + 1, f"{converted} = {src.const(convert.convert)}({value})")
        src.line(indent, f"except {src.const(ActionCrashError)} as crash:")
        prefix = src.const(f"'{key}': ")
        raise_ = f"raise {src.const(ActionCrashError)}({src.const(key)}, {prefix} + crash.message)"
        src.line(indent + 1, f"{raise_} from None")
        value, kinds, non_empty = converted, None, False
    if items is not None:
        built = src.name("x")
        call = f"{src.const(_build_items)}({src.const(key)}, {src.const(items)}, {value}, notes)"
        src.line(indent, f"{built} = {call}")
        value, kinds, non_empty = built, frozenset({list}), False
    if not (non_empty or (kinds is not None and kinds <= ALWAYS_NON_EMPTY)):
        src.line(indent, f"if {src.const(is_non_empty)}({value}):")
        indent += 1
    if len(target) == 1:
        src.line(indent, f"{body}[{src.const(target[0])}] = {value}")
    else:
        src.line(indent, f"{src.const(_set_at)}({body}, {src.const(target)}, {value}, notes)")


def emit_unmapped(
    src: Source,
    indent: int,
    unmapped: Literal["additionalProperties", "root", "drop"],
    key: str,
    value: str,
    *,
    non_empty: bool = False,
    body: str = "body",
) -> None:
    """Emit the code of step 3 for a key without a rule (``key``: an expression of the key).

    The one definition of where such a value lands: as text into
    ``additionalProperties`` (made when first needed), at the top level, or
    nowhere; only when non-empty (``non_empty``: the caller knows it is).  ``body``: the
    local to write into.
    """
    if unmapped == "drop":
        src.line(indent, "pass")
        return
    if not non_empty:
        src.line(indent, f"if {src.const(is_non_empty)}({value}):")
        indent += 1
    if unmapped == "root":
        src.line(indent, f"{body}[{key}] = {value}")
        return
    extra = src.name("extra")
    src.line(indent, f'{extra} = {body}.get("additionalProperties")')
    src.line(indent, f"if not isinstance({extra}, dict):")
    src.line(indent + 1, f'{extra} = {body}["additionalProperties"] = {{}}')
    src.line(indent, f"{extra}[{key}] = {src.const(stringify)}({value})")


def _build_items(key: str, items: BodyMap, value: Any, notes: Notes) -> list[Any]:
    """A list built item by item with the item map (the destination's ``reduce``)."""
    if not isinstance(value, list):
        raise ActionCrashError(
            key, f"'{key}' is {_kind(value)}, not a list: the destination's code fails on it"
        )
    built: list[Any] = []
    for index, item in enumerate(value):
        if isinstance(item, dict):
            one = items.build(item, notes)
        elif item is None:
            raise ActionCrashError(
                f"{key}/{index}",
                f"'{key}/{index}' is null: the destination's code fails on it",
            )
        else:  # its JavaScript keys (indexes, if any) have no rule: the defaults only
            one = dict(items.defaults) or None
            message = f"is {_kind(item)}, not an object: the destination sends {js_json(one)}"
            notes.append((f"{key}/{index}", message))
        if one is not None:
            built.append(one)
    return built


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"the boolean {js_json(value)}"
    if isinstance(value, int | float):
        return f"the number {js_json(value)}"
    if isinstance(value, str):
        return "text"
    return "a list" if isinstance(value, list) else "an object"


def _prototype_placer(key: str, *, unmapped: str) -> _Placer:
    """A key named like a member of ``Object.prototype``: the lookup finds that member.

    Its value goes to the top level unconverted, under the member's ``name``
    (``Object`` for ``constructor``); ``__proto__`` sets the body's prototype
    and is not in the JSON.  Noted wherever a key without a rule would have
    landed elsewhere.
    """
    name = "Object" if key == "constructor" else key
    differs = unmapped != "root" or name != key

    def place(body: JsonObject, raw: Any, notes: Notes) -> None:
        if not is_non_empty(raw):
            return
        if key == "__proto__":
            notes.append((key, "is lost: the destination makes it the body's prototype"))
            return
        body[name] = raw
        if differs:
            where = f"the top-level key '{name}'" if name != key else "the top level"
            message = f"is a name JavaScript objects inherit: the destination sends it to {where}"
            notes.append((key, message))

    return place


def compile_body_map(body_map: BodyMap) -> tuple[Builder, Mapping[str, _Placer]]:
    """Compile a body map into the function ``build_body`` runs for it (generated code),
    and its placers by key.

    Each key with a rule gets a small function of its own, the rule's code
    from ``emit_place``; a key named like a member of ``Object.prototype``
    without a rule gets ``_prototype_placer``; the loop puts any other key
    where ``emit_unmapped`` says.  The steps and their order are those of the
    module docstring.
    """
    src = Source()
    names: dict[str, str] = {}
    for key, rule in body_map.rules.items():
        names[key] = name = src.name("place")
        src.line(0, f"def {name}(body, value, notes):")
        emit_place(src, 1, key, rule, "value")
    placers: dict[str, _Placer] = {
        key: _prototype_placer(key, unmapped=body_map.unmapped)
        for key in PROTOTYPE_NAMES - set(body_map.rules)
    }
    src.line(0, "def build(payload, notes):")
    if body_map.prepare is not None:
        src.line(1, f"payload = {src.const(body_map.prepare)}(dict(payload), notes)")
    spread = f"{src.const(spread_attributes)}(payload)"
    src.line(1, f"values = {spread} if {src.const(SPREAD_FIELD)} in payload else payload")
    defaults = f"dict({src.const(dict(body_map.defaults))})" if body_map.defaults else "{}"
    src.line(1, f"body = {defaults}")
    src.line(1, f"placers = {src.const(placers)}")
    src.line(1, "for key, raw in values.items():")
    src.line(2, "place = placers.get(key)")
    src.line(2, "if place is not None:")
    src.line(3, "place(body, raw, notes)")
    src.line(2, "else:")
    emit_unmapped(src, 3, body_map.unmapped, "key", "raw")
    if body_map.finalize is not None:
        src.line(1, f"body = {src.const(body_map.finalize)}(body)")
    src.line(1, "return body if body else None")
    build: Builder = src.compile("build")
    placers.update({key: src.namespace[name] for key, name in names.items()})
    return build, placers


def _set_at(body: JsonObject, target: tuple[str, ...], value: Any, notes: Notes) -> None:
    """Set ``value`` at a key path, as the destination does.

    An intermediate key that is missing becomes ``{}``; one that holds an
    object is set inside (a copy: the payload's objects are never changed);
    a list takes the value as a property JSON does not show; anything else
    makes the destination's code throw.
    """
    if len(target) == 1:
        body[target[0]] = value
        return
    node = body
    for key in target[:-1]:
        child = node.get(key, MISSING)
        if child is MISSING:
            child = node[key] = {}
        elif isinstance(child, dict):
            child = node[key] = dict(child)
        elif isinstance(child, list):
            where = ".".join(target)
            notes.append((where, f"is set on '{key}', a list: JSON does not show it"))
            held = node[key] = ListWithProperties(child)
            held.properties.update(getattr(child, "properties", {}))
            held.properties[target[-1]] = value
            return
        else:
            where = ".".join(target)
            raise ActionCrashError(
                key,
                f"'{key}' is {_kind(child)}: the destination's code fails to set '{where}' on it",
            )
        node = child
    node[target[-1]] = value


class ListWithProperties(list[Any]):
    """A JavaScript array that was given named properties: JSON shows only its items."""

    def __init__(self, items: list[Any]) -> None:
        super().__init__(items)
        self.properties: dict[str, Any] = {}


def add_name(payload: JsonObject, notes: Notes) -> JsonObject:
    """Direct mode, before mapping: ``name = "<firstName> <lastName>"`` when ``name`` is falsy.

    Both parts must be JavaScript-truthy; they are written as JavaScript writes
    them in a template (``[object Object]`` for an object: noted).
    """
    if js_truthy(payload.get("name", MISSING)):
        return payload
    first, last = payload.get("firstName", MISSING), payload.get("lastName", MISSING)
    if js_truthy(first) and js_truthy(last):
        try:
            payload["name"] = f"{js_string(first)} {js_string(last)}"
        except JsTypeError as exc:
            raise ActionCrashError(
                "name", f"'name' is derived from firstName and lastName: {exc}"
            ) from None
        if not (isinstance(first, str) and isinstance(last, str)):
            derived = js_json(payload["name"])
            notes.append(("name", f"is made of a first or last name that is not text: {derived}"))
    return payload


def flat_body_maps(common: Mapping[str, KeyRule]) -> tuple[BodyMap, BodyMap]:
    """Cloud and direct body maps of a flat customer payload (customer, sign-up).

    Cloud: ``customerId`` as text, the context fields, unknown keys into
    ``additionalProperties``.  Direct: ``name`` is derived, ``customerId``
    becomes ``id``, unknown keys stay at the top level.
    """
    cloud = BodyMap(
        rules={**common, "customerId": KeyRule(("customerId",), to_string), **CONTEXT_RULES},
        unmapped="additionalProperties",
    )
    direct = BodyMap(
        rules={**common, "customerId": KeyRule(("id",), to_string)},
        unmapped="root",
        prepare=add_name,
    )
    return cloud, direct


def remove_customer_without_id(body: JsonObject) -> JsonObject:
    """Direct purchases: a ``customer`` (an object) without a truthy ``id`` goes.

    A ``null`` customer makes the destination's code throw (``ActionCrashError``).
    """
    customer = body.get("customer", MISSING)
    if customer is None:
        raise ActionCrashError("customer", "'customer' is null: the destination's code fails on it")
    if not isinstance(customer, dict | list):
        return body
    held = customer if isinstance(customer, dict) else getattr(customer, "properties", {})
    if js_truthy(held.get("id", MISSING)):
        return body
    return {k: v for k, v in body.items() if k != "customer"}


# -- the rule tables shared by several actions ----------------------------------------

COPY: Final = KeyRule(("<self>",))
"""Placeholder: ``rules()`` replaces it by a rule that keeps the key's name."""
DROP: Final = KeyRule(None)


def rules(**entries: KeyRule | str | tuple[str, ...]) -> dict[str, KeyRule]:
    """Build a rule table: ``COPY`` keeps the name, a string renames, a tuple nests."""
    table: dict[str, KeyRule] = {}
    for key, entry in entries.items():
        if entry is COPY:
            table[key] = KeyRule((key,))
        elif isinstance(entry, str):
            table[key] = KeyRule((entry,))
        elif isinstance(entry, tuple):
            table[key] = KeyRule(entry)
        else:
            table[key] = entry
    return table


CONTEXT_RULES: Final = rules(ipAddress=COPY, userAgent=COPY, pageUrl=DROP, pageTitle=DROP)

REFERRAL_RULES: Final = rules(coupon="couponCode", attributionId=COPY, referralCode=COPY)
"""The coupon and attribution keys, wherever they come from (``referral_fields``, an event's
properties)."""

CLOUD_CUSTOMER_RULES: Final = rules(email=COPY, firstName=COPY, lastName=COPY, isNewCustomer=COPY)
"""Cloud events (purchase, custom event): the customer keys MAPI takes at the top level."""

PROFILE_RULES: Final = rules(
    email=COPY,
    isNewCustomer=COPY,
    loyaltyStatus=COPY,
    firstName=COPY,
    lastName=COPY,
    age=KeyRule(("age",), to_integer),
    birthday=KeyRule(("birthday",), to_date),
)
"""A flat customer payload (customer, sign-up): the customer's keys, in both modes."""

DIRECT_CUSTOMER_RULES: Final = rules(
    customerId=KeyRule(("customer", "id"), to_string),
    anonymousId=("customer", "anonymousId"),
    email=("customer", "email"),
    isNewCustomer=("customer", "isNewCustomer"),
    loyaltyStatus=("customer", "loyaltyStatus"),
    firstName=("customer", "firstName"),
    lastName=("customer", "lastName"),
    name=("customer", "name"),
    age=KeyRule(("customer", "age"), to_integer),
    birthday=KeyRule(("customer", "birthday"), to_date),
)
"""Direct mode: customer fields nest under ``customer`` (purchase, custom event)."""

PRODUCT_ITEM_MAP: Final = BodyMap(
    rules=rules(
        sku=KeyRule(("sku",), to_string),
        name=COPY,
        quantity=KeyRule(("quantity",), to_integer),
        price=KeyRule(("price",), to_number),
        description=COPY,
        category=COPY,
        url=COPY,
        image_url="imageUrl",
    ),
    unmapped="drop",
    defaults={"sku": "unknown", "name": "unknown", "quantity": 1},
)

PRODUCT_ITEM_FIELDS: Final[dict[str, FieldType]] = {
    "sku": "string",
    "name": "string",
    "quantity": "integer",
    "price": "number",
    "description": "string",
    "category": "string",
    "url": "string",
    "image_url": "string",
}


def context_fields() -> tuple[ActionField, ...]:
    """The four context fields every cloud action has (``pageUrl``/``pageTitle`` never sent)."""
    return (
        ActionField(
            "ipAddress", "string", {"@path": "$.context.ip"}, "The user's IP address.", modes=CLOUD
        ),
        ActionField(
            "userAgent",
            "string",
            {"@path": "$.context.userAgent"},
            "The user's browser user agent.",
            modes=CLOUD,
        ),
        ActionField(
            "pageUrl",
            "uri",
            {"@path": "$.context.page.url"},
            "The URL of the page (validated, not sent).",
            modes=CLOUD,
        ),
        ActionField(
            "pageTitle",
            "string",
            {"@path": "$.context.page.title"},
            "The title of the page (validated, not sent).",
            modes=CLOUD,
        ),
    )


CUSTOMER_ID_FROM_PROPERTIES: Final = {
    "@if": {
        "exists": {"@path": "$.properties.customerId"},
        "then": {"@path": "$.properties.customerId"},
        "else": {"@path": "$.userId"},
    }
}
"""``$.properties.customerId`` when it exists (not null), else ``$.userId``."""

FieldSource = Callable[[str], dict[str, str]]
"""Where an action's fields are read from by default: a key → its ``@path`` mapping."""


def properties(key: str) -> dict[str, str]:
    """The default mapping ``{"@path": "$.properties.<key>"}`` (track events)."""
    return {"@path": f"$.properties.{key}"}


def traits(key: str) -> dict[str, str]:
    """The default mapping ``{"@path": "$.traits.<key>"}`` (identify events)."""
    return {"@path": f"$.traits.{key}"}


def customer_fields(
    *,
    required: frozenset[Mode] = NONE,
    email_required: frozenset[Mode] | None = None,
    email: str = "The customer's email.",
) -> tuple[ActionField, ...]:
    """Who a track event's customer is: ``customerId``, ``anonymousId`` and ``email``.

    ``required``: the modes requiring the ID and (unless ``email_required``
    says otherwise) the email; ``email`` describes the email field.
    """
    return (
        ActionField(
            "customerId",
            "string",
            CUSTOMER_ID_FROM_PROPERTIES,
            "The customer's ID.",
            required=required,
        ),
        ActionField("anonymousId", "string", {"@path": "$.anonymousId"}, "The anonymous ID."),
        ActionField(
            "email",
            "string",
            properties("email"),
            email,
            required=required if email_required is None else email_required,
        ),
    )


def profile_fields(
    source: FieldSource,
    *,
    age: str = "The customer's age.",
    birthday: str = "Birthday, YYYY-MM-DD (year 0000: none).",
) -> tuple[ActionField, ...]:
    """What a track event says of its customer, from ``isNewCustomer`` to ``birthday``."""
    return (
        ActionField("isNewCustomer", "boolean", source("isNewCustomer"), "A first-time customer."),
        ActionField("loyaltyStatus", "string", source("loyaltyStatus"), "in, out or blocked."),
        ActionField("firstName", "string", source("firstName"), "The customer's first name."),
        ActionField("lastName", "string", source("lastName"), "The customer's last name."),
        ActionField("name", "string", source("name"), "The customer's full name."),
        ActionField("age", "number", source("age"), age),
        ActionField("birthday", "date", source("birthday"), birthday),
    )


def referral_fields(source: FieldSource) -> tuple[ActionField, ...]:
    """The coupon and the Friendbuy attribution of a purchase or a sign-up."""
    return (
        ActionField("coupon", "string", source("coupon"), "The coupon code used."),
        ActionField(
            "attributionId", "string", source("attributionId"), "Friendbuy attribution ID."
        ),
        ActionField("referralCode", "string", source("referralCode"), "Friendbuy referral code."),
    )


def attributes_field(source: FieldSource) -> ActionField:
    """``friendbuyAttributes``: more attributes, spread into the body."""
    return ActionField(
        "friendbuyAttributes",
        "object",
        source("friendbuyAttributes"),
        "More attributes, spread into the body.",
        free_form=True,
    )
