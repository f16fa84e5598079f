"""The shapes every action is made of, and the body-building rules they share.

An action (``trackPurchase`` ...) is data: its fields (name, type, default
mapping, which modes require it) and, per mode, a table of *key rules* saying
where each key of the resolved payload lands in the request body.  Building a
body follows the Customer.io/Segment Friendbuy destination step by step:

1. ``friendbuyAttributes`` (an object) is spread into the payload; a key that
   is already there wins, and ``friendbuyAttributes`` itself goes.
2. Each key with a rule is converted and put at its target (``None``: dropped).
3. Each key without a rule goes to ``additionalProperties`` as a string
   (cloud) or to the top level unchanged (direct).
4. A value is set only when it is non-empty: ``""``, ``{}``, ``[]`` are never
   sent; ``0``, ``false`` and ``null`` are.
5. A ``finalize`` step per mode (direct: derive ``name``, drop a ``customer``
   without an id).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Literal

from fbcli.jsvalues import js_json, js_string, js_truthy
from fbcli.values import MISSING

Mode = Literal["cloud", "direct"]
MODES: Final[tuple[Mode, ...]] = ("cloud", "direct")
BOTH: Final = frozenset[Mode]({"cloud", "direct"})
CLOUD: Final = frozenset[Mode]({"cloud"})
DIRECT: Final = frozenset[Mode]({"direct"})
NONE: Final = frozenset[Mode]()

FieldType = Literal[
    "string",
    "number",
    "integer",
    "boolean",
    "date",
    "datetime",
    "uri",
    "object",
    "string_list",
    "products",
]

Converter = Callable[[Any], Any]
JsonObject = dict[str, Any]


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
    """For arrays of objects: how each item is built."""


@dataclass(frozen=True, slots=True)
class BodyMap:
    """How a payload object becomes a body object (the destination's ``EventMap``)."""

    rules: Mapping[str, KeyRule]
    unmapped: Literal["additionalProperties", "root", "drop"]
    defaults: Mapping[str, Any] = field(default_factory=dict)
    finalize: Callable[[JsonObject], JsonObject] | None = None
    build: Callable[[Mapping[str, Any]], JsonObject | None] = field(
        init=False, repr=False, compare=False
    )
    """``build_body`` for this map, compiled once from the rules (``compile_body_map``)."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "build", compile_body_map(self))


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

    def field_named(self, name: str) -> ActionField | None:
        """The field called ``name``, or ``None``."""
        for f in self.fields:
            if f.name == name:
                return f
        return None

    def fields_in(self, mode: Mode) -> tuple[ActionField, ...]:
        """The fields that exist in ``mode``."""
        return tuple(f for f in self.fields if mode in f.modes)


# -- converters (actions.md "Converters") ----------------------------------------------

_INTEGER_RE: Final = re.compile(r"-?(?:0|[1-9][0-9]*)")
_NUMBER_RE: Final = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?")
# re.ASCII: \d as in JavaScript (not other scripts' digits).
_DATE_RE: Final = re.compile(r"(?:(\d\d\d\d)-)?(\d\d)-(\d\d)(?:\D|$)", re.ASCII)


def to_string(value: Any) -> Any:
    """Numbers become their text; anything else is unchanged."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return js_string(value)
    return value


def to_integer(value: Any) -> Any:
    """Strings of the form ``-?(0|[1-9][0-9]*)`` become ints; anything else is unchanged.

    A digit run longer than ``int()`` converts (``sys.get_int_max_str_digits()``) stays
    unchanged too.
    """
    if isinstance(value, str) and _INTEGER_RE.fullmatch(value):
        try:
            return int(value)
        except ValueError:  # more digits than int() converts
            return value
    return value


def to_number(value: Any) -> Any:
    """Strings of the form ``-?(0|[1-9][0-9]*)(\\.[0-9]+)?`` become numbers; else unchanged.

    A number too large for a double (``"1" * 400``) stays unchanged too: JSON has no infinity.
    """
    if isinstance(value, str) and _NUMBER_RE.fullmatch(value):
        number = float(value)
        return normalize_number(number) if math.isfinite(number) else value
    return value


def to_date(value: Any) -> Any:
    """``YYYY-MM-DD`` (or ``MM-DD``) → ``{"year", "month", "day"}``; year ``0000`` is left out.

    A date object that already has numeric ``month`` and ``day`` passes through;
    anything else gives ``MISSING``, which is not sent.
    """
    if isinstance(value, dict):
        month, day, year = value.get("month"), value.get("day"), value.get("year", 0)
        if _is_number(month) and _is_number(day) and ("year" not in value or _is_number(year)):
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


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def normalize_number(value: float) -> int | float:
    """An integral float below 1e21 becomes an int (``10.0`` → ``10``, ``1e16`` → ``10…0``).

    JavaScript has one number type and ``JSON.stringify`` writes integral
    numbers below 1e21 without a fraction or exponent; this keeps fbcli's
    bodies byte-identical.
    """
    if value.is_integer() and abs(value) < 1e21:
        return int(value)
    return value


# -- body building ------------------------------------------------------------------


def is_non_empty(value: Any) -> bool:
    """The destination's ``isNonEmpty``: ``""``, ``{}`` and ``[]`` are empty; ``null`` is not."""
    if isinstance(value, str):
        return value != ""
    if isinstance(value, dict | list):
        return len(value) > 0
    return True


def stringify(value: Any) -> str:
    """The destination's ``stringify`` for ``additionalProperties`` values."""
    if isinstance(value, str):
        return value
    if value is None or isinstance(value, dict | list):
        return js_json(value)
    return js_string(value)


def spread_attributes(payload: Mapping[str, Any]) -> JsonObject:
    """Spread ``friendbuyAttributes`` into the payload; keys already present win."""
    attributes = payload.get("friendbuyAttributes")
    if not js_truthy(attributes):
        return dict(payload)
    rest = {k: v for k, v in payload.items() if k != "friendbuyAttributes"}
    if isinstance(attributes, dict):
        return {**attributes, **rest}
    return rest


def build_body(body_map: BodyMap, payload: Mapping[str, Any]) -> JsonObject | None:
    """Build a body object from a payload object, or ``None`` when nothing remains.

    Steps 1-5 of the module docstring; the work is done by ``body_map.build``,
    the map compiled once by ``compile_body_map``.
    """
    return body_map.build(payload)


_Placer = Callable[[JsonObject, Any], None]
"""Converts one payload value and puts it into the body (or drops it)."""


def _drop(body: JsonObject, raw: Any) -> None:
    return None


def _placer(rule: KeyRule) -> _Placer:
    """Step 2 for one key rule: convert, build array items, set when non-empty.

    Specialized by the rule's shape; each variant does what the general one
    (the last) does for that shape.  A non-empty string is tested inline:
    ``is_non_empty`` is true exactly for the strings that are truthy.
    """
    target = rule.target
    if target is None:
        return _drop
    convert, items = rule.convert, rule.items
    if convert is not None and items is None and len(target) == 1:
        name, to = target[0], convert

        def place_converted(body: JsonObject, raw: Any) -> None:
            value = to(raw)
            if type(value) is str:
                if value:
                    body[name] = value
            elif value is not MISSING and is_non_empty(value):
                body[name] = value

        return place_converted
    path = target

    def place(body: JsonObject, raw: Any) -> None:
        value = convert(raw) if convert is not None else raw
        if items is not None and isinstance(value, list):
            built = (items.build(item) if isinstance(item, dict) else None for item in value)
            value = [item for item in built if item is not None]
        if value is not MISSING and is_non_empty(value):
            _set_at(body, path, value)

    return place


def compile_body_map(body_map: BodyMap) -> Callable[[Mapping[str, Any]], JsonObject | None]:
    """Compile a body map into the function ``build_body`` runs for it.

    Each key's rule becomes a small function (``_placer``), looked up by key,
    or, for the commonest rule, a plain copy under a name, a name set inline;
    so building a body does no attribute look-ups on rules.  The steps and
    their order are those of the module docstring.  Without
    ``friendbuyAttributes`` the payload is read as it is (``spread_attributes``
    would only copy it).
    """
    copies = {
        key: rule.target[0]
        for key, rule in body_map.rules.items()
        if rule.target is not None
        and len(rule.target) == 1
        and rule.convert is None
        and rule.items is None
    }
    placers = {key: _placer(rule) for key, rule in body_map.rules.items() if key not in copies}
    unmapped = body_map.unmapped
    defaults = dict(body_map.defaults)
    finalize = body_map.finalize
    to_extra = unmapped == "additionalProperties"
    keep_unmapped = unmapped != "drop"

    def build(payload: Mapping[str, Any]) -> JsonObject | None:
        values = spread_attributes(payload) if "friendbuyAttributes" in payload else payload
        body: JsonObject = dict(defaults) if defaults else {}
        for key, raw in values.items():
            name = copies.get(key)
            if name is not None:  # the commonest rule, a plain copy, inline: see _placer
                if type(raw) is str:
                    if raw:
                        body[name] = raw
                elif raw is not MISSING and is_non_empty(raw):
                    body[name] = raw
                continue
            placer = placers.get(key)
            if placer is not None:
                placer(body, raw)
            elif keep_unmapped and is_non_empty(raw):
                if to_extra:
                    extra = body.get("additionalProperties")
                    if not isinstance(extra, dict):
                        extra = body["additionalProperties"] = {}
                    extra[key] = stringify(raw)
                else:
                    body[key] = raw
        if "additionalProperties" in body:
            body["additionalProperties"] = body.pop("additionalProperties")
        if finalize is not None:
            body = finalize(body)
        return body if body else None

    return build


def _set_at(body: JsonObject, target: tuple[str, ...], value: Any) -> None:
    node = body
    for key in target[:-1]:
        child = node.get(key)
        if not isinstance(child, dict):
            child = node[key] = {}
        node = child
    node[target[-1]] = value


def add_name(obj: Any) -> None:
    """Direct mode: ``name = "<firstName> <lastName>"`` when missing and both parts exist."""
    if not isinstance(obj, dict) or obj.get("name"):
        return
    first, last = obj.get("firstName"), obj.get("lastName")
    if first and last:
        obj["name"] = f"{js_string(first)} {js_string(last)}"


def finalize_flat(body: JsonObject) -> JsonObject:
    """Direct mode for flat payloads (customer, sign-up): derive ``name``."""
    add_name(body)
    return body


def flat_body_maps(common: Mapping[str, KeyRule]) -> tuple[BodyMap, BodyMap]:
    """Cloud and direct body maps of a flat customer payload (customer, sign-up).

    Cloud: ``customerId`` as text, the context fields, unknown keys into
    ``additionalProperties``.  Direct: ``customerId`` becomes ``id``, unknown
    keys stay at the top level, and ``name`` is derived.
    """
    cloud = BodyMap(
        rules={**common, "customerId": KeyRule(("customerId",), to_string), **CONTEXT_RULES},
        unmapped="additionalProperties",
    )
    direct = BodyMap(
        rules={**common, "customerId": KeyRule(("id",), to_string)},
        unmapped="root",
        finalize=finalize_flat,
    )
    return cloud, direct


def finalize_customer_name(body: JsonObject) -> JsonObject:
    """Direct mode for custom events: derive the nested customer's ``name``."""
    add_name(body.get("customer"))
    return body


def finalize_with_customer(body: JsonObject) -> JsonObject:
    """Direct mode for payloads with a nested ``customer``: derive its name, drop it without id."""
    customer = body.get("customer")
    add_name(customer)
    if isinstance(customer, dict) and not customer.get("id"):
        body = {k: v for k, v in body.items() if k != "customer"}
    return body


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

PRODUCT_KEYS: Final = ("sku", "name", "quantity", "price", "description", "category", "url")
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
