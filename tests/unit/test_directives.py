"""Mapping-kit directives: resolution, validation with locations, source paths, properties."""

from __future__ import annotations

import datetime
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fbcli.directives import (
    KNOWN_DIRECTIVES,
    MAX_MAPPING_DEPTH,
    DirectiveError,
    compile_mapping,
    get_path,
    resolve_mapping,
    source_paths,
)
from fbcli.values import MISSING
from tests.support.directives import any_json, is_json_like, literal, path, scalars, valid_mappings

EVENT: dict[str, Any] = {
    "type": "track",
    "userId": "u1",
    "zero": 0,
    "false": False,
    "empty": "",
    "null": None,
    "space": " ",
    "zero_text": "0",
    "list": [],
    "obj": {},
    "sep": "_",
    "pathname": "properties.currency",
    "tpl": "Hi {{properties.first}}",
    "json_text": '{"a":[1,2.5],"b":null}',
    "properties": {
        "currency": "USD",
        "total": 10.0,
        "count": 3,
        "flag": True,
        "first": "Ada",
        "last": "Lovelace",
        "coupon": None,
        "tags": ["a", "b"],
        "nested": {"a": {"b": 1}},
        "html": "<b>Hi</b>",
        "mixed": "AaA",
    },
    "products": [{"productId": "p1", "price": 0.5}, {"productId": "p2", "price": 0.99}],
    "integrations": {"Actions Amplitude": {"session_id": "s1"}},
    "$": {"a": "dollar"},
}


def resolve(mapping: Any, data: Any = None) -> Any:
    return resolve_mapping(mapping, EVENT if data is None else data)


# --- @path --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("argument", "expected"),
    [
        ("$.properties.currency", "USD"),
        ("properties.currency", "USD"),
        ("$.products[1].productId", "p2"),
        ("$.products.1.productId", "p2"),
        ("products[0][productId]", MISSING),  # mapping-kit: "[productId]" is one key
        ('products[0]["productId"]', "p1"),  # a bracket next to a quote cuts
        ("products['0'].productId", "p1"),
        ("$.integrations.Actions Amplitude.session_id", "s1"),
        ("$.properties.tags", ["a", "b"]),
        ("$.zero.x", 0),
        ("$.false.x.y", False),
        ("$.empty.x", ""),
        ("$.null.x", None),
        ("$.properties.coupon", None),
        ("$.userId.x", MISSING),
        ("$.userId.0", MISSING),
        ("$.properties.count.x", MISSING),
        ("$.properties.flag.x", MISSING),
        ("$.obj.x", MISSING),
        ("$.list.0", MISSING),
        ("$.products.2", MISSING),
        ("$.products.01", MISSING),
        ("$.products.-1", MISSING),
        ("$.products.length", MISSING),
        ("$.nope", MISSING),
        ("$.nope.deeper", MISSING),
        ("[]", MISSING),  # one key, "[]"
        ("$", {"a": "dollar"}),
        ("$.$.a", "dollar"),
    ],
)
def test_path(argument: str, expected: Any) -> None:
    assert resolve(path(argument)) == expected
    assert get_path(EVENT, argument) == expected


@pytest.mark.parametrize("argument", ["", "$.", ".", "..", "$..."])
def test_path_to_the_whole_event(argument: str) -> None:
    """Also a path made only of dots: mapping-kit skips empty keys, and none is left."""
    assert resolve(path(argument)) is EVENT


@pytest.mark.parametrize(
    ("data", "argument", "expected"),
    [
        ([5, 6], "1", 6),
        ([5, 6], "$.x", MISSING),
        ("text", "$.x", MISSING),
        (0, "$.x", 0),
        (None, "a", None),
        ({"0": "zero"}, "[0]", "zero"),
        ({"a": [[1, 2]]}, "$.a[0][1]", 2),
    ],
)
def test_path_on_other_data(data: Any, argument: str, expected: Any) -> None:
    assert resolve_mapping(path(argument), data) == expected


def test_path_argument_can_be_a_directive() -> None:
    assert resolve({"@path": path("$.pathname")}) == "USD"
    assert resolve({"@path": {"@template": "products[{{zero}}].productId"}}) == "p1"
    assert resolve({"@path": {"@path": "$.zero"}}) is MISSING
    assert resolve({"@path": {"@path": "$.nope"}}) is MISSING


def test_long_paths_are_not_cached_but_work() -> None:
    key = "k" * 600
    assert resolve(path(f"$.{key}"), {key: 1}) == 1
    assert resolve({"@path": {"@path": "$.p"}}, {"p": f"$.{key}", key: 2}) == 2


# --- @template ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("{{properties.first}} {{properties.last}}", "Ada Lovelace"),
        ("{{{properties.html}}} {{properties.html}}", "<b>Hi</b> <b>Hi</b>"),
        ("{{ properties.first\t}}", "Ada"),
        ("[{{nope}}]", "[]"),
        ("[{{null}}]", "[]"),
        ("{{nope.deeper}}", ""),
        ("{{properties.total}}", "10"),
        ("{{properties.count}}", "3"),
        ("{{properties.flag}} {{false}}", "true false"),
        ("{{properties.tags}}", "a,b"),
        ("{{properties.nested}}", "[object Object]"),
        ("{{zero}}", "0"),
        ("{{products[1].productId}}", "p2"),
        ("no placeholders", "no placeholders"),
        ("", ""),
        ("{{properties.first}}}", "Ada}"),
        ("{{$.a}}", "dollar"),
        ("{{ }}", "[object Object]"),
        ("{{[]}}", ""),
        ("{{}}", "{{}}"),
    ],
)
def test_template(template: str, expected: str) -> None:
    assert resolve({"@template": template}) == expected


def test_template_keeps_the_empty_result_and_does_not_rescan() -> None:
    assert resolve({"out": {"@template": "{{nope}}"}}) == {"out": ""}
    assert resolve({"@template": "{{{a}}}"}, {"a": "{{b}}", "b": "x"}) == "{{b}}"


def test_template_argument_can_be_a_directive() -> None:
    assert resolve({"@template": path("$.tpl")}) == "Hi Ada"
    assert resolve({"@template": path("$.zero")}) is MISSING
    long_template = "x" * 600 + "{{userId}}"
    assert resolve({"@template": path("$.t")}, {"t": long_template, "userId": "u"}) == (
        "x" * 600 + "u"
    )


# --- @literal -----------------------------------------------------------------------------


def test_literal() -> None:
    assert resolve(literal("{{userId}}")) == "{{userId}}"
    assert resolve(literal(False)) is False
    assert resolve(literal(None)) is None
    assert resolve(literal({"a": path("$.userId"), "b": path("$.nope")})) == {"a": "u1"}


# --- @if ----------------------------------------------------------------------------------


def if_exists(target: str, **branches: Any) -> dict[str, Any]:
    return {"@if": {"exists": path(target), **branches}}


def if_blank(target: Any, **branches: Any) -> dict[str, Any]:
    condition = path(target) if isinstance(target, str) else target
    return {"@if": {"blank": condition, **branches}}


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("$.userId", "then"),
        ("$.empty", "then"),
        ("$.zero", "then"),
        ("$.false", "then"),
        ("$.list", "then"),
        ("$.nope", "else"),
        ("$.null", "else"),
    ],
)
def test_if_exists(target: str, expected: str) -> None:
    assert resolve(if_exists(target, then="then", **{"else": "else"})) == expected


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("$.userId", "then"),
        ("$.space", "then"),
        ("$.zero_text", "then"),
        ("$.obj", "then"),
        ("$.properties.count", "then"),
        ("$.nope", "else"),
        ("$.null", "else"),
        ("$.empty", "else"),
        ("$.zero", "else"),
        ("$.false", "else"),
        ("$.list", "else"),
        (literal([None]), "else"),
        (literal([""]), "else"),
        (literal([[]]), "else"),
        (literal([0]), "then"),
        (literal(0.0), "else"),
        (literal(True), "then"),
    ],
)
def test_if_blank(target: Any, expected: str) -> None:
    assert resolve(if_blank(target, then="then", **{"else": "else"})) == expected


@pytest.mark.parametrize(
    ("mapping", "expected"),
    [
        (if_exists("$.userId", then=None), None),
        (if_exists("$.userId"), MISSING),
        (if_exists("$.userId", **{"else": 1}), MISSING),
        (if_exists("$.nope", then=1), MISSING),
        (if_exists("$.nope", **{"else": 0}), MISSING),
        (if_exists("$.nope", **{"else": ""}), MISSING),
        (if_exists("$.nope", **{"else": False}), MISSING),
        (if_exists("$.nope", **{"else": None}), MISSING),
        (if_exists("$.nope", **{"else": []}), []),
        (if_exists("$.nope", **{"else": {}}), {}),
        (if_exists("$.nope", **{"else": path("$.userId")}), "u1"),
        (if_exists("$.userId", then=path("$.properties.currency")), "USD"),
        (if_blank("$.userId"), MISSING),
        (if_blank("$.nope", then=1), MISSING),
        (if_blank("$.nope", **{"else": 0}), MISSING),
        ({"@if": {"exists": True, "then": 1}}, 1),
        ({"@if": {"exists": path("$.nope"), "blank": path("$.userId"), "then": 1}}, MISSING),
        ({"@if": {"exists": None, "blank": path("$.userId"), "then": 1, "else": 2}}, 2),
        ({"@if": {"exists": path("$.userId"), "then": 1, "than": 3}}, 1),
    ],
)
def test_if_branches(mapping: Any, expected: Any) -> None:
    assert resolve(mapping) == expected
    assert resolve({"key": mapping}) == ({} if expected is MISSING else {"key": expected})


# --- @case --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("operator", "value", "expected"),
    [
        ("lower", path("$.properties.mixed"), "aaa"),
        ("upper", path("$.properties.mixed"), "AAA"),
        ("upper", "straße", "STRASSE"),
        ("lower", "AbC", "abc"),
        ("lower", path("$.empty"), ""),
        ("lower", path("$.zero"), 0),
        ("upper", path("$.null"), None),
        ("upper", path("$.obj"), {}),
        ("upper", path("$.properties.tags"), ["a", "b"]),
        ("lower", path("$.nope"), MISSING),
        ("lower", "", MISSING),
    ],
)
def test_case(operator: str, value: Any, expected: Any) -> None:
    assert resolve({"@case": {"operator": operator, "value": value}}) == expected


def test_case_without_value_gives_nothing() -> None:
    assert resolve({"@case": {"operator": "lower"}}) is MISSING


# --- @replace -----------------------------------------------------------------------------


def replace(value: Any, pattern: str, replacement: str | None = None, **more: Any) -> Any:
    options: dict[str, Any] = {"value": value, "pattern": pattern, **more}
    if replacement is not None:
        options["replacement"] = replacement
    return resolve({"@replace": options})


@pytest.mark.parametrize(
    ("value", "pattern", "replacement", "more", "expected"),
    [
        (path("$.properties.currency"), "U", "u", {}, "uSD"),
        ("aaa", "a", "b", {}, "bbb"),
        ("aaa", "a", "b", {"global": False}, "baa"),
        ("AaA", "a", "b", {"ignorecase": True}, "bbb"),
        ("AaA", "a", "b", {"ignorecase": True, "global": False}, "baA"),
        ("AaA", "a", "b", {"ignorecase": False}, "AbA"),
        ("a.b.c", ".", "-", {}, "a-b-c"),
        ("a+b", "(.*)", "x", {}, "a+b"),
        ("a-b", "-", None, {}, "ab"),
        ("a-b_c", "-", " ", {"pattern2": "_", "replacement2": "+"}, "a b+c"),
        ("ab", "a", "b", {"pattern2": "b", "replacement2": "c"}, "cc"),
        ("a_b", "a", "x", {"pattern2": "_"}, "xb"),
        ("a-b", "-", "+", {"pattern2": "", "replacement2": None}, "a+b"),
        ("a-b", "-", "+", {"pattern2": None}, "a+b"),
        ("abcab", "b", "[$&]", {}, "a[b]ca[b]"),
        ("abc", "b", "$$", {}, "a$c"),
        ("abc", "b", "[$`]", {}, "a[a]c"),
        ("abc", "b", "[$']", {}, "a[c]c"),
        ("abc", "b", "$1$", {}, "a$1$c"),
        ("aBc", "b", "<$&>", {"ignorecase": True, "global": False}, "a<B>c"),
        (path("$.zero"), "0", "zero", {}, "zero"),
        (path("$.properties.flag"), "t", "T", {}, "True"),
        (path("$.properties.total"), "0", "5", {}, "15"),
        (path("$.null"), "a", "b", {}, ""),
        (path("$.nope"), "a", "b", {}, ""),
        (path("$.obj"), "a", "b", {}, ""),
        (path("$.properties.tags"), "a", "b", {}, ""),
        ("", "a", "b", {}, MISSING),
        ("😀😀", "😀", "x", {}, "xx"),
    ],
)
def test_replace(
    value: Any, pattern: str, replacement: str | None, more: dict[str, Any], expected: Any
) -> None:
    assert replace(value, pattern, replacement, **more) == expected


# --- @arrayPath ---------------------------------------------------------------------------


SHAPE = {"id": path("$.productId"), "price": path("$.price")}


@pytest.mark.parametrize(
    ("argument", "expected"),
    [
        (["$.products"], EVENT["products"]),
        (["$.products", SHAPE], [{"id": "p1", "price": 0.5}, {"id": "p2", "price": 0.99}]),
        (["products", SHAPE], [{"id": "p1", "price": 0.5}, {"id": "p2", "price": 0.99}]),
        (["$.properties", {"c": path("$.currency")}], [{"c": "USD"}]),
        (["$.userId", SHAPE], "u1"),
        (["$.null", SHAPE], None),
        (["$.nope", SHAPE], MISSING),
        (["$.products", {}], EVENT["products"]),
        (["$.products", "shape"], EVENT["products"]),
        (["$.products", path("$.productId")], ["p1", "p2"]),
        (["$.products", path("$.nope")], [None, None]),
        (["$.properties.tags", {"v": path("$.x")}], [{}, {}]),
        (["$.properties.tags", path("")], ["a", "b"]),
        (["$.products", {}, {"@bogus": 1}], EVENT["products"]),
        (
            [
                {"@if": {"exists": path("$.products"), "then": path("$.products"), "else": []}},
                {"id": path("$.productId")},
            ],
            [{"id": "p1"}, {"id": "p2"}],
        ),
        ([{"@path": "$.nope"}, {"id": path("$.productId")}], MISSING),
    ],
)
def test_array_path(argument: Any, expected: Any) -> None:
    assert resolve({"@arrayPath": argument}) == expected


# --- @merge -------------------------------------------------------------------------------


def merge(objects: list[Any], direction: str = "right") -> Any:
    return resolve({"@merge": {"objects": objects, "direction": direction}})


def test_merge_directions() -> None:
    objects = [{"a": 1, "b": 1}, {"b": 2, "c": 2}]
    assert merge(objects, "right") == {"a": 1, "b": 2, "c": 2}
    assert merge(objects, "left") == {"b": 1, "c": 2, "a": 1}
    assert list(merge(objects, "left")) == ["b", "c", "a"]
    assert merge([path("$.properties.nested"), {"x": path("$.userId")}]) == {
        "a": {"b": 1},
        "x": "u1",
    }


def test_merge_ignores_non_objects() -> None:
    objects = [path("$.userId"), path("$.properties.tags"), path("$.nope"), path("$.null")]
    assert merge([*objects, {"x": 1}]) == {"x": 1}
    assert merge([]) == {}


def test_merge_missing_members_override_like_object_assign() -> None:
    assert merge([{"a": 1, "b": 1}, {"a": path("$.nope")}]) == {"b": 1}
    assert merge([{"a": path("$.nope")}, {"a": 1}], "left") == {}
    assert merge([{"a": path("$.nope"), "b": 1}]) == {"b": 1}
    assert merge([{"a": 1}, literal({"a": path("$.nope")})]) == {}
    assert merge([{"a": 1}, if_exists("$.userId", then={"a": path("$.nope")})]) == {}
    assert merge([{"a": 1, "b": 1}, {"@excludeWhenNull": {"a": path("$.nope"), "b": None}}]) == {
        "b": 1
    }
    inner = {"@merge": {"objects": [{"a": path("$.nope")}], "direction": "right"}}
    assert merge([{"a": 1}, inner]) == {}
    assert resolve({"out": inner}) == {"out": {}}


# --- @json --------------------------------------------------------------------------------


def encode(value: Any) -> Any:
    return resolve({"@json": {"value": value, "mode": "encode"}})


def decode(value: Any) -> Any:
    return resolve({"@json": {"value": value, "mode": "decode"}})


def test_json_encode() -> None:
    assert encode(path("$.properties.nested")) == '{"a":{"b":1}}'
    assert encode(path("$.properties.total")) == "10"
    assert encode(path("$.null")) == "null"
    assert encode(path("$.nope")) is MISSING
    assert encode(path("$.userId")) == '"u1"'
    assert encode({"a": path("$.nope"), "b": "é"}) == '{"b":"é"}'
    assert encode("x") == '"x"'


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"a":[1,2.5],"b":null}', {"a": [1, 2.5], "b": None}),
        ("123", 123),
        ('"x"', "x"),
        (" [true] ", [True]),
        ("not json", "not json"),
        ("", ""),
        ("NaN", "NaN"),
        ("[Infinity]", "[Infinity]"),
        ("-Infinity", "-Infinity"),
        ("1e400", "1e400"),
        ("[" * 150 + "]" * 150, "[" * 150 + "]" * 150),
        ("[" * 50000 + "]" * 50000, "[" * 50000 + "]" * 50000),
    ],
)
def test_json_decode(text: str, expected: Any) -> None:
    mapping = {"@json": {"value": path("$.t"), "mode": "decode"}}
    assert resolve(mapping, {"t": text}) == expected


def test_json_decode_passes_non_strings_through() -> None:
    assert decode(path("$.json_text")) == {"a": [1, 2.5], "b": None}
    assert decode(path("$.properties.total")) == 10.0
    assert decode(path("$.nope")) is MISSING
    assert decode(path("$.null")) is None


# --- @flatten -----------------------------------------------------------------------------


def flatten(value: Any, separator: Any = ".", **more: Any) -> Any:
    return resolve({"@flatten": {"value": value, "separator": separator, **more}})


@pytest.mark.parametrize(
    ("value", "separator", "more", "expected"),
    [
        (path("$.properties.nested"), ".", {}, {"a.b": 1}),
        (
            path("$.products"),
            "/",
            {},
            {"0/productId": "p1", "0/price": 0.5, "1/productId": "p2", "1/price": 0.99},
        ),
        (
            literal({"a": {"b": [1, {"c": 2}]}}),
            ".",
            {"omitArrays": True},
            {"a.b": [1, {"c": 2}]},
        ),
        (literal({"a": {"b": [1, {"c": 2}]}}), ".", {}, {"a.b.0": 1, "a.b.1.c": 2}),
        (path("$.userId"), ".", {}, {"": "u1"}),
        (path("$.null"), ".", {}, {"": None}),
        (path("$.nope"), ".", {}, {}),
        (literal({"a": {}, "b": [], "c": 1}), ".", {}, {"c": 1}),
        (literal({"": {"a": 1}, "b": {"": 2}}), ".", {}, {"a": 1, "b.": 2}),
        (path("$.properties.nested"), path("$.sep"), {}, {"a_b": 1}),
        (path("$.properties.nested"), path("$.zero"), {}, MISSING),
    ],
)
def test_flatten(value: Any, separator: Any, more: dict[str, Any], expected: Any) -> None:
    assert flatten(value, separator, **more) == expected


def test_flatten_without_value_gives_an_empty_object() -> None:
    assert resolve({"@flatten": {"separator": "."}}) == {}


def test_flatten_deep_values_without_recursion() -> None:
    deep: Any = 1
    for _ in range(3000):
        deep = {"k": deep}
    mapping = {"@flatten": {"value": path("$.d"), "separator": "."}}
    assert resolve(mapping, {"d": deep}) == {".".join(["k"] * 3000): 1}


# --- @excludeWhenNull ---------------------------------------------------------------------


def test_exclude_when_null() -> None:
    value = {
        "a": None,
        "b": {"c": None, "d": 1},
        "e": [None, {"f": None}],
        "g": {"h": None},
        "i": path("$.null"),
        "j": path("$.nope"),
    }
    assert resolve({"@excludeWhenNull": value}) == {
        "b": {"d": 1},
        "e": [None, {"f": None}],
        "g": {},
    }
    assert resolve({"@excludeWhenNull": path("$.null")}) is MISSING
    assert resolve({"k": {"@excludeWhenNull": path("$.null")}}) == {}
    assert resolve({"@excludeWhenNull": path("$.userId")}) == "u1"
    assert resolve({"@excludeWhenNull": [None]}) == [None]


def test_exclude_when_null_copies_instead_of_changing_the_event() -> None:
    data = {"p": {"a": None, "b": {"c": None}}}
    assert resolve({"@excludeWhenNull": path("$.p")}, data) == {"b": {}}
    assert data == {"p": {"a": None, "b": {"c": None}}}


# --- walking objects and arrays -----------------------------------------------------------


def test_missing_keys_are_dropped_at_every_depth_and_nulls_kept() -> None:
    mapping = {
        "a": path("$.userId"),
        "b": path("$.nope"),
        "c": None,
        "d": {"e": path("$.nope"), "f": {"g": path("$.nope")}},
        "h": [path("$.nope"), 1, {"i": path("$.nope"), "j": path("$.null")}, [path("$.nope")]],
    }
    assert resolve(mapping) == {
        "a": "u1",
        "c": None,
        "d": {"f": {}},
        "h": [None, 1, {"j": None}, [None]],
    }


@pytest.mark.parametrize("constant", [5, "x", None, True, 1.5, [], {}, [1, {"a": [2]}]])
def test_constants(constant: Any) -> None:
    assert resolve(constant) == constant


def test_results_are_fresh_containers() -> None:
    resolver = compile_mapping({"a": [1, {"b": 2}]})
    first = resolver(EVENT)
    first["a"][1]["b"] = 3
    assert resolver(EVENT) == {"a": [1, {"b": 2}]}


def test_metadata_beside_a_directive_is_ignored() -> None:
    assert resolve({"@path": "$.userId", "_metadata": {"@anything": [1]}}) == "u1"
    assert resolve({"_metadata": 1}) == {"_metadata": 1}


# --- invalid mappings ---------------------------------------------------------------------


INVALID: list[tuple[Any, tuple[str | int, ...], str]] = [
    ({"@foo": 1}, ("@foo",), "unknown directive @foo"),
    ({"a": [{"@Path": "$.a"}]}, ("a", 0, "@Path"), "known directives: @arrayPath"),
    ({"a": {"@path": "$.a", "@template": "x"}}, ("a",), "several directives"),
    ({"@path": "$.a", "b": 1}, (), "mixed with other keys (b)"),
    ({"@path": {}}, ("@path",), "@path expects"),
    ({"@path": False}, ("@path",), "not false"),
    ({"@path": 1}, ("@path",), "not 1"),
    ({"@path": None}, ("@path",), "not null"),
    ({"@path": ["$.a"]}, ("@path",), "@path expects"),
    ({"@path": {"@path": 1}}, ("@path", "@path"), "@path expects"),
    ({"@template": 1}, ("@template",), "@template expects"),
    ({"@template": {"a": 1}}, ("@template",), "@template expects"),
    ({"@literal": {"a": [1, {"@bad": 2}]}}, ("@literal", "a", 1, "@bad"), "unknown"),
    ({"@if": "x"}, ("@if",), "@if expects an object"),
    ({"@if": {"@path": "$.a"}}, ("@if",), "@if expects an object"),
    ({"@if": {"then": 1}}, ("@if",), "@if needs a condition"),
    ({"@if": {"exists": False, "then": 1}}, ("@if",), "@if needs a condition"),
    ({"@if": {"blank": "", "then": 1}}, ("@if",), "@if needs a condition"),
    ({"@if": {"exists": path("$.a"), "then": {"@path": 1}}}, ("@if", "then", "@path"), "@path"),
    ({"@if": {"exists": path("$.a"), "else": {"@x": 1}}}, ("@if", "else", "@x"), "unknown"),
    ({"@if": {"exists": path("$.a"), "than": {"@no": 1}}}, ("@if", "than", "@no"), "unknown"),
    ({"@if": {"exists": 1, "blank": {"@bad": 1}}}, ("@if", "blank", "@bad"), "unknown"),
    ({"@if": {"exists": {"@bad": 1}}}, ("@if", "exists", "@bad"), "unknown"),
    ({"@case": [1]}, ("@case",), "@case expects an object"),
    ({"@case": {"value": "x"}}, ("@case",), "@case needs an operator"),
    ({"@case": {"operator": "title", "value": "x"}}, ("@case", "operator"), '"title"'),
    ({"@case": {"operator": None}}, ("@case", "operator"), "not null"),
    ({"@case": {"operator": "lower", "value": 5}}, ("@case", "value"), "string or a directive"),
    ({"@case": {"operator": "lower", "value": {"x": 1}}}, ("@case", "value"), "directive"),
    ({"@replace": "x"}, ("@replace",), "@replace expects an object"),
    ({"@replace": {"value": "x"}}, ("@replace",), "needs a pattern"),
    ({"@replace": {"pattern": "a"}}, ("@replace",), "needs a value"),
    ({"@replace": {"value": None, "pattern": "a"}}, ("@replace", "value"), "value"),
    ({"@replace": {"value": 5, "pattern": "a"}}, ("@replace", "value"), "value"),
    ({"@replace": {"value": "x", "pattern": "abcdefghijk"}}, ("@replace", "pattern"), "10"),
    ({"@replace": {"value": "x", "pattern": "😀" * 6}}, ("@replace", "pattern"), "(12)"),
    ({"@replace": {"value": "x", "pattern": ""}}, ("@replace", "pattern"), "empty"),
    ({"@replace": {"value": "x", "pattern": None}}, ("@replace", "pattern"), "string"),
    ({"@replace": {"value": "x", "pattern": 5}}, ("@replace", "pattern"), "string"),
    (
        {"@replace": {"value": "x", "pattern": "a", "replacement": "12345678901"}},
        ("@replace", "replacement"),
        "longer than 10",
    ),
    (
        {"@replace": {"value": "x", "pattern": "a", "replacement": None}},
        ("@replace", "replacement"),
        "string",
    ),
    (
        {"@replace": {"value": "x", "pattern": "a", "pattern2": "abcdefghijk"}},
        ("@replace", "pattern2"),
        "longer than 10",
    ),
    (
        {"@replace": {"value": "x", "pattern": "a", "replacement2": "abcdefghijk"}},
        ("@replace", "replacement2"),
        "longer than 10",
    ),
    (
        {"@replace": {"value": "x", "pattern": "a", "global": "yes"}},
        ("@replace", "global"),
        "true or false",
    ),
    (
        {"@replace": {"value": "x", "pattern": "a", "ignorecase": None}},
        ("@replace", "ignorecase"),
        "true or false",
    ),
    (
        {"@replace": {"value": "x", "pattern": "a", "extra": {"@bad": 1}}},
        ("@replace", "extra", "@bad"),
        "unknown",
    ),
    ({"@arrayPath": "$.x"}, ("@arrayPath",), "@arrayPath expects [path, item-shape]"),
    ({"@arrayPath": []}, ("@arrayPath",), "@arrayPath expects"),
    ({"@arrayPath": [5]}, ("@arrayPath", 0), "path must be a string or a directive"),
    ({"@arrayPath": [{"a": 1}]}, ("@arrayPath", 0), "path must be"),
    ({"@arrayPath": ["$.x", {"a": {"@no": 1}}]}, ("@arrayPath", 1, "a", "@no"), "unknown"),
    ({"@merge": [{}]}, ("@merge",), "@merge expects an object"),
    ({"@merge": {"objects": [{}]}}, ("@merge",), "needs a direction"),
    ({"@merge": {"objects": [{}], "direction": "up"}}, ("@merge", "direction"), '"up"'),
    ({"@merge": {"objects": [], "direction": path("$.d")}}, ("@merge", "direction"), "left"),
    ({"@merge": {"direction": "left"}}, ("@merge",), "needs objects"),
    ({"@merge": {"objects": {}, "direction": "left"}}, ("@merge", "objects"), "an array"),
    ({"@merge": {"objects": [{}, 1], "direction": "left"}}, ("@merge", "objects", 1), "not 1"),
    ({"@merge": {"objects": [[]], "direction": "left"}}, ("@merge", "objects", 0), "not []"),
    (
        {"@merge": {"objects": [{"a": {"@x": 1}}], "direction": "left"}},
        ("@merge", "objects", 0, "a", "@x"),
        "unknown",
    ),
    ({"@json": 1}, ("@json",), "@json expects an object"),
    ({"@json": {"value": "x", "mode": "pretty"}}, ("@json", "mode"), '"pretty"'),
    ({"@json": {"value": "x"}}, ("@json",), "needs a mode"),
    ({"@json": {"mode": "encode"}}, ("@json",), "needs a value"),
    ({"@json": {"value": 0, "mode": "encode"}}, ("@json", "value"), "truthy"),
    ({"@json": {"value": "", "mode": "encode"}}, ("@json", "value"), "truthy"),
    ({"@json": {"value": None, "mode": "decode"}}, ("@json", "value"), "truthy"),
    ({"@json": {"value": {"@no": 1}, "mode": "decode"}}, ("@json", "value", "@no"), "unknown"),
    ({"@flatten": "x"}, ("@flatten",), "@flatten expects an object"),
    ({"@flatten": {"value": 1}}, ("@flatten",), "needs a separator"),
    ({"@flatten": {"value": 1, "separator": ""}}, ("@flatten", "separator"), "empty"),
    ({"@flatten": {"value": 1, "separator": 1}}, ("@flatten", "separator"), "string"),
    (
        {"@flatten": {"value": 1, "separator": ".", "omitArrays": "yes"}},
        ("@flatten", "omitArrays"),
        "true or false",
    ),
    ({"@flatten": {"value": {"@no": 1}, "separator": "."}}, ("@flatten", "value", "@no"), "no"),
    ({"@excludeWhenNull": {"@nope": 1}}, ("@excludeWhenNull", "@nope"), "unknown"),
    ({"a": float("nan")}, ("a",), "not a JSON number"),
    ({"a": float("inf")}, ("a",), "not a JSON number"),
    ([datetime.date(2024, 1, 1)], (0,), "date is not a JSON value"),
    ({"a": {1: "x"}}, ("a",), "keys must be strings"),
    ({"@if": {1: "x"}}, ("@if",), "keys must be strings"),
    ({1: {"@path": "$.a"}}, (), "keys must be strings"),
    (datetime.date(2024, 1, 1), (), "not a JSON value"),
]


@pytest.mark.parametrize(("mapping", "location", "fragment"), INVALID)
def test_invalid_mappings(mapping: Any, location: tuple[str | int, ...], fragment: str) -> None:
    with pytest.raises(DirectiveError) as caught:
        compile_mapping(mapping)
    assert caught.value.location == location
    assert fragment in str(caught.value)
    assert str(caught.value) == caught.value.message


def test_directive_error_is_a_value_error_and_lists_known_directives() -> None:
    with pytest.raises(ValueError, match="known directives") as caught:
        compile_mapping({"@foo": 1})
    assert isinstance(caught.value, DirectiveError)
    for name in KNOWN_DIRECTIVES:
        assert name in str(caught.value)


def test_valid_edge_cases_compile() -> None:
    compile_mapping({"@replace": {"value": "x", "pattern": "😀" * 5, "replacement": "1234567890"}})
    compile_mapping({"@if": {"blank": path("$.a")}})
    compile_mapping({"@merge": {"objects": [], "direction": "left"}})


def nest(depth: int) -> Any:
    mapping: Any = path("$.a")
    for _ in range(depth):
        mapping = {"k": mapping}
    return mapping


def test_mapping_depth_is_limited() -> None:
    assert resolve(nest(MAX_MAPPING_DEPTH - 1), {"a": 1}) is not MISSING
    with pytest.raises(DirectiveError, match="nests more than") as caught:
        compile_mapping(nest(5000))
    assert len(caught.value.location) == MAX_MAPPING_DEPTH + 1
    deep_literal: Any = 1
    for _ in range(200):
        deep_literal = {"@literal": deep_literal}
    with pytest.raises(DirectiveError, match="nests more than"):
        compile_mapping(deep_literal)


def test_a_digit_key_longer_than_int_converts_is_no_index() -> None:
    """Found by fuzzing: int() refused such a key, so compiling and resolving raised."""
    digits = "1" * 5000
    assert resolve(path(f"$.list.{digits}")) is MISSING
    assert resolve(path(f"$.products.{digits}")) is MISSING
    assert resolve_mapping(path(f"$.a.{digits}"), {"a": {digits: "x"}}) == "x"
    assert resolve_mapping({"@template": f"<{{{{a.{digits}}}}}>"}, {"a": [1]}) == "<>"
    dynamic = {"@path": {"@path": "$.p"}}
    assert resolve_mapping(dynamic, {"p": f"a.{digits}", "a": [1]}) is MISSING
    assert source_paths(path(f"$.a.{digits}")) == [f"$.a.{digits}"]


# --- source_paths -------------------------------------------------------------------------


def test_source_paths() -> None:
    mapping = {
        "a": path("$.properties.currency"),
        "b": path("properties.currency"),
        "c": {"@template": "{{properties.first}} {{ products[0].id }} {{ products.0.id }}"},
        "d": {"@arrayPath": ["$.products", {"id": path("$.productId")}]},
        "e": {"@arrayPath": [path("$.items"), {"id": path("$.productId")}]},
        "f": {"@if": {"exists": path("$.coupon"), "then": {"@path": {"@path": "$.name"}}}},
        "g": [path(""), path("$.a[0].b"), path(".."), {"@template": path("$.tpl")}],
        "h": {"@merge": {"objects": [path("$.traits")], "direction": "left"}},
        "i": {"@path": "$.x", "_metadata": {"@path": "$.hidden"}},
    }
    assert source_paths(mapping) == [
        "$.properties.currency",
        "$.properties.first",
        "$.products[0].id",
        "$.products",
        "$.items",
        "$.coupon",
        "$.name",
        "$",
        "$.a[0].b",
        "$.tpl",
        "$.traits",
        "$.x",
    ]


def test_source_paths_never_raises() -> None:
    assert source_paths({"@path": 1, "@template": 2, "@arrayPath": [], "@foo": path("$.y")}) == [
        "$.y"
    ]
    assert source_paths(nest(5000)) == []
    assert source_paths([1, "x", None, {"@arrayPath": "$.z"}]) == []


# --- properties ---------------------------------------------------------------------------


keys = st.sampled_from(["a", "b", "0", "1", "x y", "$", "t"])
events = st.dictionaries(
    keys,
    st.recursive(
        scalars,
        lambda children: (
            st.lists(children, max_size=3) | st.dictionaries(keys, children, max_size=3)
        ),
        max_leaves=10,
    ),
    max_size=5,
)


@settings(max_examples=300, deadline=None)
@given(valid_mappings, events)
def test_valid_mappings_resolve_to_json_or_missing(mapping: Any, event: dict[str, Any]) -> None:
    resolver = compile_mapping(mapping)
    result = resolver(event)
    assert result is MISSING or is_json_like(result)
    if result is not MISSING:
        json.dumps(result, allow_nan=False)
    assert all(text.startswith("$") for text in source_paths(mapping))


@settings(max_examples=300, deadline=None)
@given(any_json, events)
def test_compile_either_succeeds_or_raises_directive_error(
    mapping: Any, event: dict[str, Any]
) -> None:
    failure: DirectiveError | None = None
    try:
        resolver = compile_mapping(mapping)
    except DirectiveError as error:
        failure = error
    if failure is not None:
        assert isinstance(failure.location, tuple)
        assert failure.message
        return
    result = resolver(event)
    assert result is MISSING or is_json_like(result)
    source_paths(mapping)


def test_a_proto_member_of_an_object_mapping_has_no_effect() -> None:
    """mapping-kit assigns it (a prototype) and then copies the object without it."""
    mapping = {"__proto__": {"a": 1}, "b": {"__proto__": [1], "c": path("$.userId")}}
    assert resolve(mapping) == {"b": {"c": "u1"}}
    assert resolve({"@literal": {"__proto__": 1}}) == {}
