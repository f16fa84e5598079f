"""The fast paths agree with the reference paths, on generated data, messages included.

Each fast path of the planning path is checked against the slow path it
stands for:

- the JSON Lines reader: orjson against the standard library's ``json``;
- the compiled schema checks against jsonschema; each field's settler asked to
  fail fast against the same settler listing its problems, and what settles
  without an error against jsonschema on the shipped schema;
- the compiled planner of a subscription (generated code) against
  ``plan_subscription`` (``map_fields`` then ``build_call``), record for record,
  and what its code takes on trust: each field type's ``keeps`` and
  ``settles_to``, each converter's ``keeps``;
- the compiled body builder (generated code) against ``build_body`` interpreted
  here, the destination's ``mapEventHelper`` line by line;
- the compiled trigger leaf (against the tests' interpreter) and the inlined
  ``@path`` lookups;
- ``json_line`` (orjson) against ``json.dumps``, and the streamed ``validate``
  summary against ``json.dumps`` of the whole summary;
- start-up: what each command imports.
"""

from __future__ import annotations

import io
import json
import math
import subprocess
import sys
from collections import Counter
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fbcli import events as events_module
from fbcli import jsonout
from fbcli import plan as plan_module
from fbcli.actions import ACTIONS
from fbcli.actions.base import (
    PRODUCT_ITEM_MAP,
    PROTOTYPE_NAMES,
    ActionCrashError,
    BodyMap,
    Converter,
    JsonObject,
    Mode,
    Notes,
    _set_at,
    build_body,
    is_non_empty,
    spread_attributes,
    stringify,
)
from fbcli.cli import DEFAULT_BASE_URL as CLI_DEFAULT_BASE_URL
from fbcli.directives import compile_mapping, path_keys
from fbcli.events import Event, LineError, read_events
from fbcli.jsonout import json_line, validate_summary, write_json_lines, write_validate_summary
from fbcli.mappings import MappingConfig, default_mappings, load_mappings
from fbcli.plan import (
    DEFAULT_BASE_URL,
    PlannedCall,
    PlanRecord,
    PlanTally,
    compile_subscription,
    plan_records,
    plan_subscription,
    status_of,
    to_record,
)
from fbcli.triggers import compile_trigger, parse_trigger
from fbcli.validation import (
    FAIL,
    FIELD_KINDS,
    Problem,
    compile_check,
    format_checker,
    load_schema,
    required_fields,
    settle_payload,
    settler_for,
)
from fbcli.values import MISSING
from tests.support import REPO
from tests.support.triggers import interpret

SLOW = settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))


# -- the reader: orjson agrees with json -------------------------------------------------


def read_both(data: bytes, monkeypatch: pytest.MonkeyPatch) -> tuple[str, str]:
    """``read_events`` with orjson, then with json only, each as one repr (types exact)."""
    fast = repr(list(read_events(io.BytesIO(data), "f.jsonl")))
    with monkeypatch.context() as patch:
        patch.setattr(events_module, "_fast_loads", None)
        slow = repr(list(read_events(io.BytesIO(data), "f.jsonl")))
    return fast, slow


NUMBER_TEXT = st.from_regex(
    r"-?(0|[1-9][0-9]{0,24})(\.[0-9]{1,24})?([eE][+-]?[0-9]{1,4})?", fullmatch=True
)
SCALAR_TEXT = st.one_of(
    NUMBER_TEXT,
    st.sampled_from(
        [
            "NaN",
            "Infinity",
            "-Infinity",
            "1e400",
            "-1e400",
            "1e-400",
            "-0",
            "-0.0",
            "18446744073709551615",
            "18446744073709551616",
            "-9223372036854775809",
            "1" * 5000,
            '"\\ud800"',
            '"\\udc00x"',
            '"\\ud83d\\ude00"',
            '"\\u0000\\n\\t\\"\\\\"',
            '"é€😀"',
            "true",
            "null",
            "01",
            "1.",
            ".5",
            "[]",
            "{}",
            '{"a":1,"a":2}',
            "[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]",
        ]
    ),
    st.text(max_size=8).map(lambda t: json.dumps(t, ensure_ascii=False)),
)
RAW_LINES = st.one_of(
    st.lists(st.tuples(st.text(max_size=4), SCALAR_TEXT), max_size=4).map(
        lambda members: (
            "{" + ",".join(f"{json.dumps(k, ensure_ascii=False)}:{v}" for k, v in members) + "}"
        )
    ),
    SCALAR_TEXT,
).map(lambda text: text.encode("utf-8", "surrogatepass"))


@settings(max_examples=400, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    lines=st.lists(
        st.one_of(RAW_LINES, st.binary(max_size=12), st.sampled_from([b"\xed\xa0\x80", b"\xff"])),
        max_size=6,
    ),
    separator=st.sampled_from([b"\n", b"\r\n"]),
)
def test_reader_orjson_agrees_with_json(
    lines: list[bytes], separator: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    fast, slow = read_both(separator.join(lines), monkeypatch)
    assert fast == slow


@SLOW
@given(number=NUMBER_TEXT)
def test_reader_numbers_are_json_numbers(number: str, monkeypatch: pytest.MonkeyPatch) -> None:
    fast, slow = read_both(f'{{"n": {number}, "m": [{number}]}}\n'.encode(), monkeypatch)
    assert fast == slow


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (b'{"a": 123456789012345678901234567890}', None),
        (b'{"a": -9223372036854775809}', None),
        (b'{"a": "\\ud800"}', "invalid Unicode escape \\ud800: lone surrogate"),
        (b'{"a": 1e400}', "number 1e400 is out of range (it overflows to infinity)"),
        (b'{"a": NaN}', "non-finite number NaN is not valid JSON"),
        (b'{"a": "\xed\xa0\x80"}', "invalid UTF-8 at byte 8 (invalid continuation byte)"),
        (b"[1]", "expected a JSON object, got an array"),
        (b"[" * 101 + b"]" * 101, "expected a JSON object, got an array"),
        (b'{"a":' * 101 + b"1" + b"}" * 101, "nesting deeper than 100 levels"),
        (b'{"a":' * 1100 + b"1" + b"}" * 1100, "nesting deeper than 100 levels"),
    ],
)
def test_reader_lines_orjson_leaves_to_json(
    line: bytes, message: str | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    fast, slow = read_both(line, monkeypatch)
    assert fast == slow
    (item,) = read_events(io.BytesIO(line), "f")
    if message is None:
        assert isinstance(item, Event)
        assert item.data["a"] == json.loads(line)["a"]
    else:
        assert isinstance(item, LineError)
        assert item.message == message


# -- compiled schema checks -------------------------------------------------------------

VALUES = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(min_value=-(10**20), max_value=10**20),
        st.floats(allow_nan=False, allow_infinity=False),
        st.sampled_from([0.0, -0.0, 10.0, 1.5, 1e-7, 1e21, 2.5e-5, 1e16]),
        st.sampled_from(
            [
                "",
                "abc",
                "12.50",
                " 7 ",
                "0x10",
                "1e3",
                "1.5",
                "99",
                "99.0",
                "true",
                "false",
                "2024-05-01",
                "0000-12-10",
                "2023-02-29",
                "12/25/1990",
                "2021-03-04T05:06:07Z",
                "2021-03-04t05:06:07.5+02:00",
                "2021-13-04T05:06:07Z",
                "https://example.com/a?b=c",
                "mailto:someone@example.com",
                "not a uri",
                "[object Object]",
                "in",
                "x" * 130,
                "é😀",
            ]
        ),
    ),
    lambda children: st.one_of(
        st.lists(children, max_size=3),
        st.dictionaries(
            st.sampled_from(["sku", "name", "quantity", "price", "product_id", "a", "b"]),
            children,
            max_size=4,
        ),
    ),
    max_leaves=6,
)
PRODUCTS = st.lists(
    st.one_of(
        st.fixed_dictionaries(
            {"price": VALUES},
            optional={
                "sku": VALUES,
                "name": VALUES,
                "quantity": VALUES,
                "description": VALUES,
                "category": VALUES,
                "url": VALUES,
                "image_url": VALUES,
                "product_id": VALUES,
            },
        ),
        VALUES,
    ),
    max_size=3,
)
ACTION_NAMES = sorted(ACTIONS)


def jsonschema_finds_nothing(schema: Mapping[str, Any], value: Any) -> bool:
    from jsonschema import Draft202012Validator

    validator = Draft202012Validator(dict(schema), format_checker=format_checker())
    return not any(True for _ in validator.iter_errors(value))


@SLOW
@given(action=st.sampled_from(ACTION_NAMES), data=st.data())
def test_a_settler_fails_fast_exactly_when_it_finds_a_problem(action: str, data: Any) -> None:
    """The fast path's answer (``FAIL`` or the value) is the listing settler's, problem-free
    (an infinite number fails too: the planner warns about it)."""
    fields = {f.name: f for f in ACTIONS[action].fields}
    name = data.draw(st.sampled_from(sorted(fields)))
    value = data.draw(PRODUCTS if name == "products" else VALUES)
    if fields[name].type in ("products", "string_list") and not isinstance(value, list):
        value = [value]  # step 2 made it a list
    settle = settler_for(fields[name].type)
    problems: list[Problem] = []
    listed = settle(value, problems, ())
    fast = settle(value, None, ())
    if problems or _holds_infinity(listed):
        assert fast is FAIL
    else:
        assert repr(fast) == repr(listed)


@SLOW
@given(kind=st.sampled_from(sorted(FIELD_KINDS)), data=st.data())
def test_a_field_type_keeps_and_settles_to_what_it_declares(kind: str, data: Any) -> None:
    """``FieldKind.keeps`` and ``settles_to``, which the compiled planner writes into its code:
    a value of a kept type is returned as it is, and what settles is of a declared type."""
    field_kind = FIELD_KINDS[kind]  # type: ignore[index]
    value = data.draw(PRODUCTS if field_kind.members is not None else VALUES)
    if field_kind.is_list:
        value = field_kind.clean(value)
    problems: list[Problem] = []
    settled = field_kind.settle(value, problems, ())
    if type(value) in field_kind.keeps:
        assert settled is value
        assert not problems
    if not problems and field_kind.settles_to is not None:
        assert type(settled) in field_kind.settles_to


CONVERTERS = sorted(
    {
        rule.convert
        for action in ACTIONS.values()
        for body_map in (*action.body_maps.values(), PRODUCT_ITEM_MAP)
        for rule in body_map.rules.values()
        if rule.convert is not None
    },
    key=lambda c: c.name,
)


@SLOW
@given(convert=st.sampled_from(CONVERTERS), value=st.one_of(VALUES, PRODUCTS))
def test_a_converter_keeps_what_it_declares(convert: Converter, value: Any) -> None:
    """``Converter.keeps``: the compiled planner skips a converter for a value of those types."""
    if type(value) in convert.keeps:
        assert convert(value) is value


@SLOW
@given(action=st.sampled_from(ACTION_NAMES), data=st.data())
def test_what_settles_without_an_error_the_shipped_schema_accepts(action: str, data: Any) -> None:
    """The shipped schemas document the types: a settled value jsonschema refuses would make
    them wrong.  (Ajv does not check a coerced value again: an infinite number, from text
    such as "1e400", is left out; JSON writes it as null.)"""
    properties = load_schema(action)["properties"]
    name = data.draw(st.sampled_from(sorted(properties)))
    value = data.draw(PRODUCTS if name == "products" else VALUES)
    payload, errors, _ = settle_payload(ACTIONS[action], {name: value}, mode="direct", sources={})
    if not errors and not _holds_infinity(payload):
        assert jsonschema_finds_nothing(properties[name], payload[name])


def _holds_infinity(value: Any) -> bool:
    if isinstance(value, dict):
        return any(_holds_infinity(v) for v in value.values())
    if isinstance(value, list):
        return any(_holds_infinity(v) for v in value)
    return isinstance(value, float) and math.isinf(value)


@SLOW
@given(value=st.one_of(VALUES, PRODUCTS))
def test_compiled_checks_of_each_kind_agree_with_jsonschema(value: Any) -> None:
    """Within the subset, the fast check is exact for exact types (the safe direction else)."""
    schemas = [sub for action in ACTION_NAMES for sub in load_schema(action)["properties"].values()]
    for schema in schemas:
        passes = compile_check(schema)(value)
        if passes:
            assert jsonschema_finds_nothing(schema, value)


@pytest.mark.parametrize(
    "schema",
    [
        {"type": "string", "format": "email"},
        {"type": ["string", "null"], "minLength": 1},
        {"type": []},
        {"type": "string", "minLength": 1.5},
        {"type": "array", "minItems": "1"},
        {"enum": ["a", 1]},
        {"enum": "a"},
        {"const": None},
        {"const": 1, "type": "string"},
        {"const": "a", "enum": ["a"]},
        {"type": "object", "additionalProperties": {"type": "string"}},
        {"type": "object", "required": "price"},
        {"enum": [1]},
        {},
        [],
    ],
)
def test_schemas_outside_the_subset_always_ask_jsonschema(schema: Any) -> None:
    check = compile_check(schema)
    values: list[Any] = ["a", 1, None, {}, [], {"price": 1}]
    assert not any(check(v) for v in values)


MAPPING_SCHEMAS: list[Any] = [
    {"type": "string", "minLength": 1},
    {"type": ["string", "null"]},
    {"type": ["object", "null"]},
    {"type": "array", "minItems": 1, "items": {"type": "integer"}},
    {"type": "array", "minItems": 2},
    {"enum": ["cloud", "direct"]},
    {"const": 1},
    {"const": "a"},
    {"type": "null"},
]
MAPPING_VALUES = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(-2, 2),
        st.sampled_from([1.0, 0.5, float("nan")]),
        st.sampled_from(["", "a", "cloud", "direct", "é"]),
    ),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=2), inner),
    max_leaves=5,
)


@SLOW
@given(value=MAPPING_VALUES)
def test_checks_of_the_mapping_keywords_are_exact_for_exact_types(value: Any) -> None:
    exact = not _holds_float(value)  # 1.0 is an integer to jsonschema, not to the check
    for schema in MAPPING_SCHEMAS:
        passes, valid = compile_check(schema)(value), jsonschema_finds_nothing(schema, value)
        assert passes == valid if exact else valid or not passes, schema


MAPPING_DOCUMENTS = st.fixed_dictionaries(
    {},
    optional={
        "version": st.sampled_from([1, 2, "1", 1.0, True]),
        "mode": st.sampled_from(["cloud", "direct", "Cloud", None]),
        "merchant_id": st.sampled_from([None, "m", 3]),
        "subscriptions": st.lists(
            st.fixed_dictionaries(
                {},
                optional={
                    "name": st.sampled_from(["", "A", 1]),
                    "action": st.sampled_from(["trackCustomer", "trackPage", "nope"]),
                    "trigger": st.sampled_from(["", 'type = "identify"', None]),
                    "enabled": st.sampled_from([True, False, "yes"]),
                    "mapping": st.sampled_from([None, {}, {"email": None}, [], "x"]),
                    "extra": st.just(1),
                },
            ),
            max_size=2,
        ),
        "other": st.just(1),
    },
)


@SLOW
@given(document=MAPPING_DOCUMENTS)
def test_the_mapping_file_check_agrees_with_jsonschema(document: Any) -> None:
    from fbcli.mappings import mapping_file_schema

    schema = mapping_file_schema()
    passes, valid = compile_check(schema)(document), jsonschema_finds_nothing(schema, document)
    assert passes == valid if not _holds_float(document) else valid or not passes


def _holds_float(value: Any) -> bool:
    if isinstance(value, dict):
        return any(_holds_float(v) for v in value.values())
    if isinstance(value, list):
        return any(_holds_float(v) for v in value)
    return isinstance(value, float)


def test_the_subset_compiles_the_shipped_schemas() -> None:
    for action in ACTION_NAMES:
        schema = load_schema(action)
        assert compile_check({k: v for k, v in schema.items() if k != "required"})({}) is True


def test_required_fields_are_those_of_the_mode() -> None:
    assert required_fields(ACTIONS["trackPurchase"], "cloud") == ("orderId", "amount", "currency")
    assert "email" not in required_fields(ACTIONS["trackCustomEvent"], "direct")


# -- the compiled body builder ----------------------------------------------------------


def reference_build_body(
    body_map: BodyMap, payload: Mapping[str, Any], notes: Notes
) -> JsonObject | None:
    """``build_body`` interpreted: the destination's ``mapEventHelper``, line by line."""
    if body_map.custom is not None:
        return body_map.custom(payload, notes)
    if body_map.prepare is not None:
        payload = body_map.prepare(dict(payload), notes)
    values = spread_attributes(payload)
    body: JsonObject = dict(body_map.defaults)
    for key, raw in values.items():
        rule = body_map.rules.get(key)
        if rule is None and key in PROTOTYPE_NAMES:
            name = "Object" if key == "constructor" else key
            if is_non_empty(raw):
                if key != "__proto__":
                    body[name] = raw
                if body_map.unmapped != "root" or name != key or key == "__proto__":
                    notes.append((key, "prototype"))
            continue
        if rule is None:
            if body_map.unmapped == "drop" or not is_non_empty(raw):
                continue
            if body_map.unmapped == "additionalProperties":
                extra = body.get("additionalProperties")
                if not isinstance(extra, dict):
                    extra = body["additionalProperties"] = {}
                extra[key] = stringify(raw)
            else:
                body[key] = raw
            continue
        if rule.target is None:
            continue
        try:
            value = rule.convert(raw) if rule.convert is not None else raw
        except ActionCrashError as crash:
            raise ActionCrashError(key, crash.message) from None
        if rule.items is not None:
            if not isinstance(value, list):
                raise ActionCrashError(key, "not a list")
            items = []
            for index, item in enumerate(value):
                if item is None:
                    raise ActionCrashError(f"{key}/{index}", "null")
                if isinstance(item, dict):
                    built = reference_build_body(rule.items, item, notes)
                else:
                    built = dict(rule.items.defaults) or None
                    notes.append((f"{key}/{index}", "defaults"))
                if built is not None:
                    items.append(built)
            value = items
        if is_non_empty(value):
            _set_at(body, rule.target, value, notes)
    if body_map.finalize is not None:
        body = body_map.finalize(body)
    return body if body else None


def built(body_map: BodyMap, payload: Mapping[str, Any], reference: bool) -> str:
    """The body and how many notes, or the crash, as one text."""
    notes: Notes = []
    try:
        if reference:
            body = reference_build_body(body_map, payload, notes)
        else:
            body = build_body(body_map, payload, notes)
    except ActionCrashError as crash:
        return f"crash at {crash.field}"
    return f"{body!r} {[where for where, _ in notes]}"


BODY_MAPS = [
    (f"{name}/{mode}", body_map)
    for name, action in sorted(ACTIONS.items())
    for mode, body_map in sorted(action.body_maps.items())
]
BODY_KEYS = sorted(
    {key for _, body_map in BODY_MAPS for key in body_map.rules}
    | {"friendbuyAttributes", "additionalProperties", "unknown", "customer"}
    | {"constructor", "toString", "__proto__"}
)


@SLOW
@given(
    body_map=st.sampled_from([m for _, m in BODY_MAPS]),
    payload=st.dictionaries(
        st.sampled_from(BODY_KEYS),
        st.one_of(
            VALUES,
            PRODUCTS,
            st.dictionaries(st.sampled_from(BODY_KEYS), VALUES, max_size=4),
            st.just(MISSING),
        ),
        max_size=8,
    ),
)
def test_compiled_body_builder_is_the_interpreted_one(
    body_map: BodyMap, payload: dict[str, Any]
) -> None:
    payload = {k: v for k, v in payload.items() if v is not MISSING}
    assert built(body_map, payload, reference=False) == built(body_map, payload, reference=True)


# -- the compiled planner ---------------------------------------------------------------

TEST_MAPPINGS = """
version: 1
subscriptions:
  - name: Templates
    action: trackCustomEvent
    trigger: type = "track"
    mapping:
      eventType: { "@template": "{{event}}-{{properties.obj}}" }
      deduplicationId: { "@template": "{{properties.obj}}" }
      eventProperties: { "@path": "$.properties" }
      customerId: { "@if": { "exists": { "@path": "$.userId" },
                             "then": { "@path": "$.userId" }, "else": "anonymous" } }
      email: { "@path": "$.context.page.url" }
  - name: Customers with literals
    action: trackCustomer
    trigger: type = "identify"
    mapping:
      language: { "@literal": "en" }
      age: { "@path": "$.traits.deep.age.years" }
      name: null
  - name: Items by index
    action: trackPurchase
    trigger: type = "track"
    mapping:
      orderId: { "@path": "$.properties.products.0.sku" }
      amount: { "@path": "$.properties.total" }
  - name: Sign-ups without an email, attributes from elsewhere
    action: trackSignUp
    trigger: type = "track"
    mapping:
      email: null
      friendbuyAttributes: { "@path": "$.properties.obj" }
  - name: Purchases with a constant amount and attributes from the traits
    action: trackPurchase
    trigger: type = "track"
    mapping:
      amount: 12.5
      friendbuyAttributes: { "@path": "$.traits.friendbuyAttributes" }
      loyaltyStatus: { "@path": "$.properties.obj" }
"""


def configs() -> list[MappingConfig]:
    return [
        default_mappings(),
        load_mappings((REPO / "mappings.yaml").read_bytes(), path="mappings.yaml"),
        load_mappings(
            (REPO / "sample_events" / "mappings.direct.yaml").read_bytes(),
            path="mappings.direct.yaml",
        ),
        load_mappings(TEST_MAPPINGS, path="test.yaml"),
    ]


SUBSCRIPTIONS = [(config, s) for config in configs() for s in config.subscriptions]

PROPERTY_KEYS = [
    "order_id",
    "total",
    "currency",
    "coupon",
    "attributionId",
    "referralCode",
    "giftCardCodes",
    "products",
    "customerId",
    "email",
    "isNewCustomer",
    "loyaltyStatus",
    "firstName",
    "lastName",
    "name",
    "age",
    "birthday",
    "friendbuyAttributes",
    "deduplicationId",
    "title",
    "obj",
]
TRAIT_KEYS = [
    "email",
    "firstName",
    "lastName",
    "name",
    "age",
    "birthday",
    "language",
    "customerSince",
    "loyaltyStatus",
    "isNewCustomer",
    "address",
    "friendbuyAttributes",
    "deep",
]


def members(keys: list[str]) -> st.SearchStrategy[dict[str, Any]]:
    return st.dictionaries(
        st.sampled_from(keys),
        st.one_of(
            VALUES,
            PRODUCTS,
            st.dictionaries(st.sampled_from([*PROPERTY_KEYS[:8], "country", "city"]), VALUES),
        ),
        max_size=10,
    )


EVENTS = st.fixed_dictionaries(
    {"type": st.sampled_from(["track", "identify", "page"])},
    optional={
        "event": st.sampled_from(["Order Completed", "Signed Up", "Download", "Video Played"]),
        "name": VALUES,
        "category": VALUES,
        "userId": VALUES,
        "anonymousId": VALUES,
        "properties": st.one_of(members(PROPERTY_KEYS), VALUES),
        "traits": st.one_of(members(TRAIT_KEYS), VALUES),
        "context": st.one_of(
            st.fixed_dictionaries(
                {},
                optional={
                    "ip": VALUES,
                    "userAgent": VALUES,
                    "page": st.one_of(
                        st.fixed_dictionaries({}, optional={"url": VALUES, "title": VALUES}),
                        VALUES,
                    ),
                },
            ),
            VALUES,
        ),
    },
)


# Mostly valid events, so that the fast path's successes are checked as much as its refusals.
TEXT = st.one_of(
    st.text(min_size=1, max_size=10),
    st.sampled_from(["USD", "a@b.c", "[object Object]", "v" * 130, "é😀", "12", ""]),
)
NUMBER = st.one_of(
    st.integers(min_value=-(10**6), max_value=10**6),
    st.floats(min_value=-1e6, max_value=1e6, allow_nan=False),
    st.sampled_from(["12.50", " 7 ", 10.0, 1e-7, 2.5e-5, 1e21, 2.0]),
)
STRINGISH = st.one_of(TEXT, TEXT, st.integers(), st.floats(allow_nan=False, allow_infinity=False))
DATE = st.sampled_from(["2024-05-01", "0000-12-10", "1990-02-28"])
DATETIME = st.sampled_from(["2021-03-04T05:06:07Z", "2024-05-01T12:00:00.123+02:00"])
URI = st.sampled_from(["https://shop.example.com/p/1", "mailto:a@b.c"])
BOOLEAN = st.one_of(st.booleans(), st.sampled_from(["true", "false"]))
FREE = st.dictionaries(
    st.sampled_from(["age", "score", "tier", "email", "birthday", "customer", "obj"]),
    st.one_of(NUMBER, TEXT, BOOLEAN, st.none(), st.lists(NUMBER, max_size=2)),
    max_size=4,
)
ITEM = st.fixed_dictionaries(
    {"price": NUMBER},
    optional={
        "sku": STRINGISH,
        "name": TEXT,
        "quantity": st.sampled_from([1, 2, 1.0, "3", "2.0"]),
        "category": TEXT,
        "image_url": URI,
        "product_id": TEXT,
    },
)


def mostly(good: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """``good`` about 19 times in 20, else anything."""
    return st.integers(min_value=0, max_value=19).flatmap(lambda i: VALUES if i == 19 else good)


GOOD_EVENTS = st.fixed_dictionaries(
    {
        "type": st.sampled_from(["track", "identify", "page"]),
        "event": st.sampled_from(["Order Completed", "Signed Up", "Download", "Video Played"]),
        "userId": mostly(STRINGISH),
        "properties": st.fixed_dictionaries(
            {"order_id": mostly(STRINGISH), "total": mostly(NUMBER), "email": mostly(TEXT)},
            optional={
                "currency": mostly(TEXT),
                "coupon": mostly(STRINGISH),
                "products": mostly(st.lists(ITEM, max_size=3)),
                "giftCardCodes": mostly(st.lists(STRINGISH, max_size=2)),
                "isNewCustomer": mostly(BOOLEAN),
                "firstName": mostly(TEXT),
                "age": mostly(NUMBER),
                "birthday": mostly(DATE),
                "friendbuyAttributes": mostly(FREE),
                "deduplicationId": mostly(STRINGISH),
                "obj": st.one_of(FREE, TEXT),
                "title": mostly(TEXT),
            },
        ),
        "traits": st.fixed_dictionaries(
            {"email": mostly(TEXT)},
            optional={
                "firstName": mostly(TEXT),
                "age": mostly(NUMBER),
                "birthday": mostly(DATE),
                "customerSince": mostly(DATETIME),
                "isNewCustomer": mostly(BOOLEAN),
                "address": mostly(st.fixed_dictionaries({}, optional={"country": STRINGISH})),
                "friendbuyAttributes": mostly(FREE),
                "deep": st.fixed_dictionaries({"age": st.fixed_dictionaries({"years": NUMBER})}),
                **{f"extra{i}": TEXT for i in range(12)},
            },
        ),
        "context": st.fixed_dictionaries(
            {},
            optional={
                "ip": mostly(TEXT),
                "page": st.fixed_dictionaries({"url": mostly(URI), "title": mostly(TEXT)}),
            },
        ),
    },
    optional={"anonymousId": mostly(TEXT), "name": mostly(TEXT), "category": mostly(TEXT)},
)


@settings(max_examples=600, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    data=st.one_of(EVENTS, GOOD_EVENTS, GOOD_EVENTS),
    which=st.integers(min_value=0, max_value=len(SUBSCRIPTIONS) - 1),
)
def test_compiled_planner_is_plan_subscription(data: dict[str, Any], which: int) -> None:
    config, subscription = SUBSCRIPTIONS[which]
    event = Event("e.jsonl", 7, data)
    for base_url in (DEFAULT_BASE_URL, "http://127.0.0.1:8080/"):
        fast = compile_subscription(subscription, mode=config.mode, base_url=base_url)(event)
        slow = plan_subscription(event, subscription, mode=config.mode, base_url=base_url)
        assert repr(fast) == repr(slow)
        assert json_line(to_record(fast)) == json_line(to_record(slow))


def test_the_planner_takes_the_fast_path_for_valid_events(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Valid events never reach ``plan_subscription`` (the point of the fast path)."""
    config = load_mappings((REPO / "mappings.yaml").read_bytes(), path="mappings.yaml")
    purchases = next(s for s in config.subscriptions if s.action.name == "trackPurchase")
    planner = compile_subscription(purchases, mode="cloud", base_url=DEFAULT_BASE_URL)
    event = Event(
        "e",
        1,
        {
            "type": "track",
            "event": "Order Completed",
            "userId": "u1",
            "properties": {
                "order_id": "o1",
                "total": "10.50",
                "currency": "USD",
                "products": [{"sku": 1, "price": "2.0", "quantity": 1.0, "product_id": "p"}],
                "friendbuyAttributes": {"score": 10.0, "tags": [1.0, 2.5]},
            },
        },
    )

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the slow path was taken")

    monkeypatch.setattr(plan_module, "plan_subscription", refuse)
    call = planner(event)
    assert isinstance(call, PlannedCall)
    assert call.body["amount"] == 10.5
    assert call.body["products"] == [{"sku": "1", "name": "unknown", "quantity": 1, "price": 2}]
    assert repr(call.body["additionalProperties"]) == repr({"score": "10", "tags": "[1,2.5]"})


def test_a_subscription_not_built_by_build_subscription_is_planned_the_slow_way() -> None:
    config = default_mappings()
    sub = config.subscriptions[0]
    odd = replace(sub, fields=(*sub.fields, sub.fields[0]))  # mapped twice: the later one wins
    event = Event("e", 1, {"type": "identify", "userId": "u1", "traits": {"email": "a@b.c"}})
    fast = compile_subscription(odd, mode="cloud", base_url=DEFAULT_BASE_URL)(event)
    slow = plan_subscription(event, odd, mode="cloud", base_url=DEFAULT_BASE_URL)
    assert repr(fast) == repr(slow)


# -- triggers and paths -----------------------------------------------------------------


class Text(str):
    """A str subclass, which the compiled leaf must treat as a string."""

    __slots__ = ()


class ReadOnly(Mapping[str, Any]):
    """A mapping that is not a dict, which the compiled leaf must still read."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.data = data

    def __getitem__(self, key: str) -> Any:
        return self.data[key]

    def __iter__(self) -> Any:
        return iter(self.data)

    def __len__(self) -> int:
        return len(self.data)


@SLOW
@given(
    value=st.one_of(VALUES, st.just(Text("track")), st.just("track")),
    trigger=st.sampled_from(['type = "track"', 'type = "track" and event = "x"', "type = 1"]),
    wrap=st.booleans(),
)
def test_compiled_key_equality_is_the_interpreter(value: Any, trigger: str, wrap: bool) -> None:
    node = parse_trigger(trigger)
    data: dict[str, Any] = {"type": value, "event": "x"}
    event: Mapping[str, Any] = ReadOnly(data) if wrap else data
    assert compile_trigger(node)(event) == interpret(node, event)


@SLOW
@given(
    data=st.dictionaries(
        st.sampled_from(["a", "b", "0"]),
        st.one_of(VALUES, st.dictionaries(st.sampled_from(["a", "b", "0"]), VALUES, max_size=3)),
        max_size=3,
    ),
    path=st.sampled_from(["$.a", "$.a.b", "$.a.0", "a.b.a", "$.b.a.0", "$.a[0]", "$.a.b.a.b"]),
)
def test_inlined_path_lookups_are_the_resolver(data: dict[str, Any], path: str) -> None:
    mapping = {"@path": path}
    keys = path_keys(mapping)
    assert keys is not None
    node: Any = data
    for key in keys:
        if not isinstance(node, dict):
            return  # the planner calls the resolver here
        node = node.get(key, MISSING)
    assert repr(node) == repr(compile_mapping(mapping)(data))


def test_path_keys_only_for_plain_paths() -> None:
    assert path_keys({"@path": "$.properties.total"}) == ("properties", "total")
    assert path_keys({"@path": "$"}) == ("$",)
    assert path_keys({"@path": "."}) is None
    assert path_keys({"@path": {"@path": "$.x"}}) is None
    assert path_keys({"@template": "{{a}}"}) is None
    assert path_keys({"@path": "$.a", "_metadata": {}}) is None
    assert path_keys("$.a") is None


# -- JSON output ------------------------------------------------------------------------

OUTPUT_VALUES = st.recursive(
    st.one_of(
        VALUES,
        st.floats(),
        st.integers(),
        st.text(),
        st.sampled_from(["\ud800", "null", "e-mail", "0.00001", "\b\f\x7f\u2028"]),
        st.just(MISSING),
    ),
    lambda children: st.one_of(
        st.lists(children, max_size=3),
        st.tuples(children, children),
        st.dictionaries(st.text(max_size=3), children, max_size=3),
        st.dictionaries(st.integers(), children, max_size=2),
    ),
    max_leaves=8,
)


def outcome(function: Any, value: Any) -> str:
    try:
        return repr(function(value))
    except (TypeError, ValueError) as exc:
        return type(exc).__name__


@settings(max_examples=500, deadline=None, suppress_health_check=list(HealthCheck))
@given(value=OUTPUT_VALUES)
def test_json_line_is_json_dumps(value: Any) -> None:
    def reference(v: Any) -> str:
        return json.dumps(v, ensure_ascii=False, allow_nan=False, separators=(",", ":")) + "\n"

    assert outcome(json_line, value) == outcome(reference, value)


@pytest.mark.parametrize(
    "value",
    [
        math.nan,
        math.inf,
        -math.inf,
        1e-7,
        -2.5e-5,
        5e-324,
        1e-300,
        1e16,
        1e21,
        -0.0,
        MISSING,
        "\ud800",
        2**64,
        -(2**63) - 1,
        {1: 2},
        {"a": (1, None)},
        "null e-1 0.00001",
        "\b\f\x00\x1f\x7f\u2028</",
    ],
)
def test_json_line_where_orjson_differs(value: Any) -> None:
    def reference(v: Any) -> str:
        return json.dumps(v, ensure_ascii=False, allow_nan=False, separators=(",", ":")) + "\n"

    assert outcome(json_line, {"k": [value]}) == outcome(reference, {"k": [value]})


@SLOW
@given(value=st.floats(allow_nan=False, allow_infinity=False))
def test_json_line_floats(value: float) -> None:
    assert json_line([value]) == json.dumps([value], separators=(",", ":")) + "\n"


def test_json_line_without_orjson(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(jsonout, "_orjson_dumps", None)
    assert json_line({"a": [1.0, "é"]}) == '{"a":[1.0,"é"]}\n'


def sample_records() -> tuple[list[PlanRecord], PlanTally]:
    config = load_mappings((REPO / "mappings.yaml").read_bytes(), path="mappings.yaml")
    lines = b"".join(
        path.read_bytes().rstrip(b"\n") + b"\n"
        for path in sorted((REPO / "tests" / "cases").glob("*/events.jsonl"))
    )
    lines += (REPO / "sample_events" / "events.jsonl").read_bytes()
    many = {f"k{i}": "v" * (100 + 5 * i) for i in range(12)}  # warnings: too many, too long
    warned: dict[str, Any] = {
        "type": "identify",
        "userId": "u9",
        "traits": {"email": "a@b.c", **many},
    }
    warned["traits"]["friendbuyAttributes"] = dict(many)
    lines += json.dumps(warned).encode() + b"\n"
    tally = PlanTally()
    items = read_events(io.BytesIO(lines * 5), "all.jsonl")
    records = list(plan_records(items, config, tally=tally))
    return records, tally


def test_json_lines_are_json_dumps_of_each_record() -> None:
    records, _ = sample_records()
    out = io.StringIO()
    write_json_lines(out, records)
    assert out.getvalue() == "".join(
        json.dumps(to_record(r), ensure_ascii=False, allow_nan=False, separators=(",", ":")) + "\n"
        for r in records
    )
    assert len(records) > jsonout.JSON_LINES_BATCH  # several batches


def test_long_lines_are_written_before_they_pile_up() -> None:
    """``--jobs`` hands ``write_lines`` a block of records as one line: memory stays bounded."""
    writes: list[int] = []

    class Sink(io.StringIO):
        def write(self, text: str) -> int:
            writes.append(len(text))
            return len(text)

    block = "x" * 300_000 + "\n"
    jsonout.write_lines(Sink(), [block] * 20)
    assert sum(writes) == 20 * len(block)
    assert len(writes) >= 20 * len(block) // jsonout.JSON_LINES_CHARS
    assert max(writes) < jsonout.JSON_LINES_CHARS + len(block)


def test_json_lines_written_before_an_error_are_kept() -> None:
    records, _ = sample_records()

    def failing() -> Any:
        yield from records[:3]
        raise RuntimeError("bug")

    out = io.StringIO()
    with pytest.raises(RuntimeError):
        write_json_lines(out, failing())
    assert out.getvalue().count("\n") == 3


@pytest.mark.parametrize("spool", [10, jsonout.SPOOL_IN_MEMORY])
@pytest.mark.parametrize("stopped", [None, "stopped after --max-errors 1 problem events"])
def test_streamed_validate_summary_is_json_dumps_of_the_summary(
    spool: int, stopped: str | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(jsonout, "SPOOL_IN_MEMORY", spool)
    records, tally = sample_records()
    tally.stopped = stopped
    noteworthy = [
        r
        for r in records
        if status_of(r) in ("invalid", "malformed") or (isinstance(r, PlannedCall) and r.warnings)
    ]
    assert any(isinstance(r, PlannedCall) for r in noteworthy)
    out = io.StringIO()
    write_validate_summary(out, tally, iter(noteworthy))
    expected = json.dumps(validate_summary(tally, noteworthy), ensure_ascii=False) + "\n"
    assert out.getvalue() == expected
    empty = io.StringIO()
    write_validate_summary(empty, tally, [])
    assert empty.getvalue() == json.dumps(validate_summary(tally, []), ensure_ascii=False) + "\n"


def test_tally_counts_each_status() -> None:
    records, tally = sample_records()
    statuses = Counter(status_of(r) for r in records)
    assert dict(tally.by_status) == dict(statuses)
    per_action: dict[str, Counter[str]] = {}
    for r in records:
        if not isinstance(r, LineError) and hasattr(r, "action"):
            per_action.setdefault(r.action, Counter())[status_of(r)] += 1
    assert tally.by_action == per_action


# -- start-up ---------------------------------------------------------------------------


def test_cli_default_base_url_is_the_planner_s() -> None:
    assert CLI_DEFAULT_BASE_URL == DEFAULT_BASE_URL


def imported_by(*args: str, stdin: bytes = b"") -> set[str]:
    """The top-level packages imported by ``fbcli ARGS`` (run in a fresh interpreter)."""
    code = (
        "import sys\n"
        "from fbcli.cli import main\n"
        f"sys.argv = ['fbcli', *{list(args)!r}]\n"
        "try:\n"
        "    main()\n"
        "except SystemExit:\n"
        "    pass\n"
        "finally:\n"
        "    names = sorted({m.split('.')[0] for m in sys.modules})\n"
        "    import json\n"
        "    sys.stderr.write(json.dumps(names))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], input=stdin, capture_output=True, check=True, cwd=REPO
    )
    last = result.stderr.decode().strip().splitlines()[-1]
    modules: set[str] = set(json.loads(last))
    return modules


def test_help_imports_only_typer() -> None:
    modules = imported_by("--help")
    assert not modules & {"rich", "httpx", "jsonschema", "yaml", "orjson"}


def test_validate_json_imports_neither_httpx_nor_rich() -> None:
    events = (REPO / "sample_events" / "events.jsonl").read_bytes()
    modules = imported_by("validate", "-", "--format", "json", stdin=events)
    assert "httpx" not in modules
    assert "rich" not in modules
    assert "orjson" in modules


def test_validate_table_does_not_import_httpx() -> None:
    events = (REPO / "sample_events" / "events.jsonl").read_bytes()
    assert "httpx" not in imported_by("validate", "-", stdin=events)


def test_valid_events_and_mapping_file_need_no_jsonschema(tmp_path: Path) -> None:
    """jsonschema (about 40 ms to import) only words failures: of events or of the file."""
    events = b'{"type": "identify", "userId": "u1", "traits": {"email": "a@example.com"}}\n'
    mappings = str(REPO / "mappings.yaml")
    assert "jsonschema" not in imported_by("validate", "-", "-m", mappings, stdin=events)
    broken = tmp_path / "broken.yaml"
    broken.write_text("subscriptions: []\n")
    assert "jsonschema" in imported_by("validate", "-", "-m", str(broken), stdin=events)


def test_no_float_is_lost_by_skipping_normalize() -> None:
    """Integral floats in free-form fields still become ints (normalize_json ran)."""
    config = default_mappings()
    customers = next(s for s in config.subscriptions if s.action.name == "trackCustomer")
    event = Event(
        "e",
        1,
        {
            "type": "identify",
            "userId": "u",
            "traits": {"email": "a@b.c", "friendbuyAttributes": {"age": 30.0, "x": math.pi}},
        },
    )
    call = compile_subscription(customers, mode="cloud", base_url=DEFAULT_BASE_URL)(event)
    assert isinstance(call, PlannedCall)
    assert repr(call.body["age"]) == "30"


def planned_both_ways(action: Any, mode: Mode, data: Any) -> tuple[str, str]:
    """The fast planner's and ``plan_subscription``'s records for one event, as reprs."""
    from fbcli.mappings import build_subscription

    sub = build_subscription(name="s", action=action, trigger="type != null", mode=mode)
    event = Event("e", 1, data)
    fast = compile_subscription(sub, mode=mode, base_url=DEFAULT_BASE_URL)(event)
    slow = plan_subscription(event, sub, mode=mode, base_url=DEFAULT_BASE_URL)
    return repr(fast), repr(slow)


def test_rare_events_take_the_slow_path() -> None:
    properties: dict[str, Any] = {"currency": "USD", "total": 1}
    purchase: dict[str, Any] = {"type": "track", "userId": "u", "properties": properties}
    # a str subclass that is empty; not a dict at all
    odd_text: dict[str, Any] = {**purchase, "properties": {**purchase["properties"]}}
    odd_text["properties"]["order_id"] = Text("")
    fast, slow = planned_both_ways(ACTIONS["trackPurchase"], "cloud", odd_text)
    assert fast == slow
    assert "required field 'orderId' is missing" in fast
    fast, slow = planned_both_ways(ACTIONS["trackPurchase"], "cloud", ReadOnly(purchase))
    assert fast == slow


def test_actions_the_fast_path_cannot_finish_take_the_slow_path() -> None:
    from fbcli.actions.base import NONE

    page = ACTIONS["trackPage"]
    nothing_sent = replace(page, body_maps={"direct": BodyMap(rules={}, unmapped="drop")})
    fast, slow = planned_both_ways(nothing_sent, "direct", {"type": "page", "name": "Home"})
    assert fast == slow
    assert "no supported fields" in fast

    custom = ACTIONS["trackCustomEvent"]
    untyped = replace(
        custom,
        fields=tuple(
            replace(f, required=NONE) if f.name == "eventType" else f for f in custom.fields
        ),
    )
    data = {"type": "track", "userId": "u", "properties": {"email": "a@b.c"}}
    fast, slow = planned_both_ways(untyped, "direct", data)
    assert fast == slow
    assert "the push's event type is missing" in fast

    no_path = replace(ACTIONS["trackSignUp"], cloud_path=None)
    with pytest.raises(AssertionError):
        planned_both_ways(no_path, "cloud", data)


def test_the_reader_marks_the_lines_javascript_reads_the_same(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``Event.js_exact`` lets the fast path skip looking for integers beyond 2**53."""
    lines = (
        b'{"a":1,"b":"123456789012345"}\n{"a":12345678901234567}\n'
        b'{"__proto__":{}}\n{"\\u005f_proto__":1}\n{"a":"1234567890123456"}\n'
    )
    fast = [e.js_exact for e in read_events(io.BytesIO(lines), "f.jsonl") if isinstance(e, Event)]
    assert fast == [True, False, False, False, False]
    monkeypatch.setattr(events_module, "_fast_loads", None)
    slow = [e.js_exact for e in read_events(io.BytesIO(lines), "f.jsonl") if isinstance(e, Event)]
    assert slow == fast


def test_an_event_not_known_exact_is_looked_through() -> None:
    data = {"type": "identify", "userId": 12345678901234567890, "traits": {"email": "e"}}
    fast, slow = planned_both_ways(ACTIONS["trackCustomer"], "cloud", data)
    assert fast == slow
    assert "12345678901234567000" in fast
    assert "beyond 2**53" in fast
