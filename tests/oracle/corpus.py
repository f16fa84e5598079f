"""Seeded cases for the oracle: an event, an action, a mode and the mapping's overrides.

``cases(seed, count, mode)`` draws ``count`` cases from ``random.Random(seed)``,
the same ones on every machine.  Each is an event shaped for one action (an
``identify`` with traits for trackCustomer, a ``track`` with properties, a
``page``), with values at the paths the action's default mappings read, and
now and then a mapping override (another path, a constant, a template, an
``@if``, ``@arrayPath`` over the products ...).  The values lean on what breaks
converters and validators: numeric text in every form JavaScript reads,
blanks, ``null`` inside objects and lists, one-element lists, integers beyond
2**53, dates and date-times at their edges, URIs of every shape, and object
keys that are also names on JavaScript's ``Object.prototype``.  About half of
the fields get an ordinary value of their type, so that most events are sent
and their bodies compared, not only their rejections.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Final

from fbcli.actions import ACTIONS
from fbcli.actions.base import PRODUCT_ITEM_FIELDS, ActionField, Mode
from fbcli.directives import DirectiveError, compile_mapping, source_paths

JsonObject = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Case:
    """One event planned with one subscription of ``action`` in ``mode``."""

    mode: Mode
    action: str
    overrides: JsonObject
    """Field → mapping overrides of the default mappings (``None`` unmaps the field)."""
    event: JsonObject


NUMERIC_TEXT: Final = (
    "0", "-0", "1", "-1", "42", "1.5", "-2.25", "1.0", "10.00", "007", "08", " 7 ", "\t3\n",
    "1e3", "1E3", "-2.5E-3", "12.", ".5", "+5", "0x1F", "0X10", "0o17", "0b101", "1_000",
    "1,5", "Infinity", "-Infinity", "NaN", "1e400", "-1e400", "1" * 25, "9007199254740993",
    "\u0663", "\u00b2", "\u00a05",
)  # fmt: skip
TEXT: Final = (
    "", " ", "  ", "\u00a0", "a", "abc", "true", "false", "TRUE", "null", "undefined",
    "in", "out", "blocked", "USD", "[object Object]", "{}", "[]", "{{userId}}", "$.userId",
    "\u00e9\u20ac\U0001f600", "a\u0000b", "line\nbreak", "x" * 130,
)  # fmt: skip
DATES: Final = (
    "2024-05-01", "1990-12-31", "0000-12-25", "2024-02-29", "2023-02-29", "2000-02-29",
    "1900-02-29", "0000-02-29", "2024-02-30", "2024-13-01", "2024-00-10", "2024-04-31",
    "2024-5-1", "24-05-01", "05-01", "12/25/1990", "2024-05-01T10:00:00Z", "2024-05-01 ",
    " 2024-05-01", "2024/05/01", "20240501", "\u0662\u0660\u0662\u0664-05-01",
    "2024-05-01x", "2024-05-0a",
)  # fmt: skip
DATE_TIMES: Final = (
    "2021-03-04T05:06:07Z", "2021-03-04t05:06:07z", "2021-03-04 05:06:07Z",
    "2021-03-04T05:06:07", "2021-03-04T05:06:07.123456+05:30", "2021-03-04T05:06:07+0530",
    "2021-03-04T05:06:07+05", "2021-03-04T05:06:07-23:59", "2021-03-04T05:06:07+24:00",
    "2021-03-04T23:59:60Z", "2021-03-04T12:59:60Z", "2021-03-04T24:00:00Z",
    "2021-03-04T05:06Z", "2021-03-04", "2021-03-04TT05:06:07Z", "2021-03-04\u00a005:06:07Z",
    "2021-03-04\n05:06:07Z", "0000-01-01T00:00:00Z", "2021-02-29T00:00:00Z",
    "2024-02-29T00:00:00.Z", "2021-03-04T05:06:07.5Z", "2021-03-04T05:06:07,5Z",
    "2021-03-04T05:06:07 Z",
)  # fmt: skip
URIS: Final = (
    "https://example.com/p?q=1#f", "http://example.com", "HTTPS://EXAMPLE.COM/", "mailto:a@b.c",
    "urn:isbn:0451450523", "x+y-z.1:rest", "https:", "https:/", "https://", "https:///p",
    "http://[::1]:8080/", "http://[v1.x]/", "http://[::1", "http://256.1.1.1/",
    "http://a b.com/", "http://example.com/a b", "http://example.com/%zz", "http://ex%41.com",
    "http://user:pw@host:99999/", "http://host:port/", "1http://x", "example.com/page",
    "/relative/path", "//host/path", "https://\u00e9.com/", "http://x.com/\u00e9",
    "https://example.com/?q={a}", "javascript:alert(1)", "a:b", "https://example.com/#a#b",
    "http://example.com/ ", "http://example.com/\\", "http://x.com/'\"",
)  # fmt: skip
NUMBERS: Final = (
    0, -0.0, 1, -1, 2, 42, 99, 1.5, -2.25, 2.5, 0.1, 1e-7, 5e-324, 1e16, 1e21, 1.5e300,
    1.7976931348623157e308, 2**31, 2**53, 2**53 + 1, 2**63, 12345678901234567890123, -(2**64),
)  # fmt: skip
PROTOTYPE_KEYS: Final = (
    "constructor", "toString", "valueOf", "hasOwnProperty", "__proto__", "isPrototypeOf",
    "propertyIsEnumerable", "toLocaleString", "__defineGetter__", "__lookupSetter__",
)  # fmt: skip
"""Names on JavaScript's ``Object.prototype``: a lookup by key finds them on any object."""
OTHER_KEYS: Final = (
    "", "a", "b", "0", "1", "01", "x y", "$", "@path", "_metadata", "\u00e9", "customer",
    "additionalProperties", "id", "promotion", "fileId", "type", "length",
)  # fmt: skip


def scalar(rng: random.Random) -> Any:
    """Any awkward scalar: text, numeric text, a number, a boolean or null."""
    pool = rng.randrange(7)
    if pool == 0:
        return rng.choice(TEXT)
    if pool == 1:
        return rng.choice(NUMERIC_TEXT)
    if pool == 2:
        return rng.choice(NUMBERS)
    if pool == 3:
        return rng.choice((True, False, None))
    if pool == 4:
        return rng.choice(DATES + DATE_TIMES)
    if pool == 5:
        return rng.choice(URIS)
    return "".join(rng.choice("aZ09 .-_é\u0663") for _ in range(rng.randrange(0, 6)))


def awkward(rng: random.Random, depth: int = 0) -> Any:
    """An awkward value: mostly a scalar, sometimes a short list or a small object."""
    pick = rng.random()
    if depth >= 2 or pick < 0.7:
        return scalar(rng)
    if pick < 0.85:
        return [awkward(rng, depth + 1) for _ in range(rng.choice((0, 1, 1, 2, 3)))]
    return {key(rng): awkward(rng, depth + 1) for _ in range(rng.randrange(0, 3))}


def key(rng: random.Random) -> str:
    """An object key: ordinary, odd, or a name JavaScript objects inherit."""
    pick = rng.random()
    if pick < 0.1:
        return rng.choice(PROTOTYPE_KEYS)
    if pick < 0.4:
        return rng.choice(OTHER_KEYS)
    return rng.choice(("promotion", "segment", "tier", "plan", "channel", "source", "k"))


def good(rng: random.Random, kind: str, name: str) -> Any:
    """An ordinary value for a field of this type (what a well-behaved source sends)."""
    if kind == "number":
        return rng.choice((45.97, 10, 0, 19.99, 100.5, "12.99", 7))
    if kind == "integer":
        return rng.choice((42, 18, 0, 99, "37"))
    if kind == "boolean":
        return rng.choice((True, False))
    if kind == "date":
        return rng.choice(("1990-12-31", "0000-12-25", "2004-02-29", "1985-07-04"))
    if kind == "datetime":
        return rng.choice(("2021-03-04T05:06:07Z", "2019-11-30T23:00:00+01:00"))
    if kind == "uri":
        return rng.choice(("https://shop.example.com/checkout", "https://example.com/p?q=1"))
    if kind == "string_list":
        return rng.choice((["card-a", "card-b"], ["gc1"], []))
    if kind == "products":
        return [product(rng, sane=True) for _ in range(rng.randrange(1, 3))]
    if kind == "object":
        return {"promotion": "winter 2022"} if rng.random() < 0.5 else {}
    if name == "email":
        return rng.choice(("john.doe@example.com", "ada@example.org"))
    if name == "currency":
        return rng.choice(("USD", "EUR", "usd"))
    if name == "loyaltyStatus":
        return rng.choice(("in", "out", "blocked"))
    if name in ("customerId", "orderId"):
        return rng.choice(("john-doe-12345", "cust-00042", 98765, "o-1"))
    return rng.choice(("John", "Doe", "value", "Page Name", "Ada Lovelace", "x"))


def value_for(rng: random.Random, kind: str, name: str) -> Any:
    """A field's value: ordinary (about half the time), or awkward for any type."""
    pick = rng.random()
    if pick < 0.55:
        return good(rng, kind, name)
    if pick < 0.65 and kind in ("date", "datetime", "uri"):
        return rng.choice({"date": DATES, "datetime": DATE_TIMES, "uri": URIS}[kind])
    if pick < 0.72:
        return rng.choice(("", None, [], {}, " "))
    if pick < 0.8:
        return [value_for(rng, kind, name)]  # a one-element list
    if kind == "products" and pick < 0.9:
        return product(rng, sane=False)  # a single item, not a list
    return awkward(rng)


def product(rng: random.Random, *, sane: bool) -> Any:
    """A product item: the usual keys, and extra ones, nulls and odd values unless ``sane``."""
    if not sane and rng.random() < 0.12:
        return rng.choice((None, "", "sku-1", 5, [], ["x"], {}))
    item: JsonObject = {}
    for name, kind in PRODUCT_ITEM_FIELDS.items():
        if rng.random() < (0.9 if name == "price" else 0.45):
            if sane or rng.random() < 0.6:
                item[name] = good_item(rng, name, kind)
            else:
                item[name] = rng.choice((None, "", awkward(rng), scalar(rng)))
    if rng.random() < 0.3:
        item[rng.choice(("product_id", "brand", "variant", *PROTOTYPE_KEYS[:3]))] = scalar(rng)
    return item


def good_item(rng: random.Random, name: str, kind: str) -> Any:
    if kind == "number":
        return rng.choice((19.99, 5.99, 10, "12.50", 0))
    if kind == "integer":
        return rng.choice((1, 2, 3, "2"))
    if name == "url" or name == "image_url":
        return "https://example.com/p/1.png"
    return rng.choice(("sku1", "shorts", "Apparel", "A nice thing", 1234))


def attributes(rng: random.Random, names: Sequence[str]) -> JsonObject:
    """A free-form object whose members often land on the action's named body keys."""
    members: JsonObject = {}
    for _ in range(rng.randrange(1, 5)):
        pick = rng.random()
        if pick < 0.4:
            name = rng.choice(names)
        elif pick < 0.5:
            name = rng.choice(PROTOTYPE_KEYS)
        else:
            name = key(rng)
        members[name] = scalar(rng) if rng.random() < 0.6 else awkward(rng)
    return members


BODY_KEYS: Final = (
    "email", "firstName", "lastName", "name", "age", "birthday", "coupon", "couponCode",
    "attributionId", "referralCode", "isNewCustomer", "loyaltyStatus", "gender", "timezone",
    "category", "language", "customerId", "anonymousId", "deduplicationId", "eventType",
    "ipAddress", "userAgent", "pageUrl", "pageTitle", "products", "giftCardCodes", "amount",
    "currency", "orderId", "zipCode", "country", "customer", "additionalProperties", "id",
    "friendbuyAttributes", "eventProperties",
)  # fmt: skip
"""Keys the actions place by name somewhere: what free-form members most often collide with."""


def _set(event: JsonObject, path: str, value: Any) -> None:
    keys = path.removeprefix("$.").split(".")
    node = event
    for name in keys[:-1]:
        child = node.get(name)
        if not isinstance(child, dict):
            child = node[name] = {}
        node = child
    node[keys[-1]] = value


def _skeleton(rng: random.Random, action: str) -> JsonObject:
    kind = {"trackCustomer": "identify", "trackPage": "page"}.get(action, "track")
    event: JsonObject = {"type": kind, "messageId": f"m-{rng.getrandbits(32):08x}"}
    if kind == "track":
        event["event"] = {
            "trackPurchase": "Order Completed",
            "trackSignUp": "Signed Up",
        }.get(action, rng.choice(("Download", "Video Played", "Referral Shared")))
        event["properties"] = {}
    elif kind == "identify":
        event["traits"] = {}
    else:
        event["properties"] = {}
    if rng.random() < 0.7:
        event["userId"] = rng.choice(("john-doe-12345", "u1", 98765, 0))
    if rng.random() < 0.5:
        event["anonymousId"] = rng.choice(("anon-1", "fda7"))
    if rng.random() < 0.6:
        event["context"] = {
            "ip": "8.8.8.8",
            "userAgent": "Mozilla/5.0",
            "page": {"url": "https://shop.example.com/", "title": "Shop"},
        }
    return event


Override = Callable[[random.Random, ActionField, str], Any]


def _other_path(rng: random.Random, spec: ActionField, path: str) -> Any:
    base = path.rsplit(".", 1)[0] if "." in path.removeprefix("$.") else "$.properties"
    return {"@path": f"{base}.{rng.choice(('alt', 'value', spec.name, '0', 'a.b'))}"}


def _constant(rng: random.Random, spec: ActionField, path: str) -> Any:
    return rng.choice((scalar(rng), good(rng, spec.type, spec.name), awkward(rng)))


def _template(rng: random.Random, spec: ActionField, path: str) -> Any:
    inner = path.removeprefix("$.")
    return {"@template": rng.choice((f"{{{{{inner}}}}}", f"id-{{{{{inner}}}}}", "{{userId}}"))}


def _if(rng: random.Random, spec: ActionField, path: str) -> Any:
    test = rng.choice(("exists", "blank"))
    return {
        "@if": {test: {"@path": path}, "then": {"@path": path}, "else": _constant(rng, spec, path)}
    }


def _literal(rng: random.Random, spec: ActionField, path: str) -> Any:
    return {"@literal": _constant(rng, spec, path)}


def _case(rng: random.Random, spec: ActionField, path: str) -> Any:
    return {"@case": {"value": {"@path": path}, "operator": rng.choice(("lower", "upper"))}}


def _json(rng: random.Random, spec: ActionField, path: str) -> Any:
    return {"@json": {"value": {"@path": path}, "mode": rng.choice(("encode", "decode"))}}


OVERRIDES: Final[tuple[Override, ...]] = (
    _other_path, _constant, _template, _if, _literal, _case, _json,
)  # fmt: skip


def _products_mapping(rng: random.Random) -> Any:
    shape = {
        "sku": {"@path": "$.id"},
        "price": {"@path": "$.cost"},
        "quantity": {"@path": "$.qty"},
        "name": {"@path": "$.title"},
    }
    return {"@arrayPath": ["$.properties.items", shape]}


def _items(rng: random.Random) -> list[Any]:
    return [
        {
            "id": rng.choice(("s1", 7, None)),
            "cost": rng.choice((1.5, "2", None, "x")),
            "qty": rng.choice((1, "3", None, 2.5)),
            "title": "t",
        }
        for _ in range(rng.randrange(0, 3))
    ]


def make_case(rng: random.Random, mode: Mode) -> Case:
    """One case: an action of ``mode``, an event for it, and maybe some overrides."""
    action = ACTIONS[rng.choice([name for name, a in ACTIONS.items() if mode in a.modes])]
    event = _skeleton(rng, action.name)
    fields = action.fields_in(mode)
    for spec in fields:
        paths = source_paths(spec.default)
        if spec.name == "eventProperties":
            continue  # all of $.properties: filled by the other fields and extras below
        chance = 0.85 if mode in spec.required else 0.4
        for path in paths:
            if rng.random() < chance:
                if spec.free_form:
                    value: Any = attributes(rng, BODY_KEYS) if rng.random() < 0.8 else awkward(rng)
                else:
                    value = value_for(rng, spec.type, spec.name)
                _set(event, path, value)
    if action.name == "trackCustomEvent":
        properties = event.setdefault("properties", {})
        if isinstance(properties, dict):
            properties.update(attributes(rng, BODY_KEYS))
        if rng.random() < 0.05:
            event["properties"] = rng.choice((None, "text", [], [{"a": 1}], 5))
    if rng.random() < 0.05:
        _set(event, "$.context.page", rng.choice(("https://x.com", None, [])))
    overrides: JsonObject = {}
    if rng.random() < 0.3:
        for spec in rng.sample(list(fields), k=min(len(fields), rng.randrange(1, 3))):
            paths = source_paths(spec.default)
            path = paths[0] if paths else "$.properties.x"
            if rng.random() < 0.15:
                overrides[spec.name] = None
                continue
            mapping = rng.choice(OVERRIDES)(rng, spec, path)
            try:
                compile_mapping(mapping)
            except DirectiveError:  # a constant holding an "@" key: not a valid mapping
                continue
            overrides[spec.name] = mapping
    if action.name == "trackPurchase" and rng.random() < 0.1:
        overrides["products"] = _products_mapping(rng)
        _set(event, "$.properties.items", _items(rng))
    return Case(mode, action.name, overrides, event)


def cases(seed: int, count: int, mode: Mode) -> list[Case]:
    """``count`` cases of ``mode``, the same for the same ``seed`` on every machine."""
    rng = random.Random(f"{seed}:{mode}")  # test data, not secrets
    return [make_case(rng, mode) for _ in range(count)]
