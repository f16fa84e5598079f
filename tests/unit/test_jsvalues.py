"""JavaScript-style rendering: String(), JSON.stringify(), Number#toString, truthiness."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fbcli.jsvalues import (
    Inheriting,
    JsTypeError,
    js_int,
    js_items,
    js_json,
    js_number,
    js_string,
    js_to_number,
    js_truthy,
    js_view,
)
from fbcli.values import MISSING


@pytest.mark.parametrize(
    ("number", "text"),
    [
        (1.0, "1"),
        (0.5, "0.5"),
        (-0.5, "-0.5"),
        (1e21, "1e+21"),
        (1e-7, "1e-7"),
        (1.5e-7, "1.5e-7"),
        (123456789012345680000.0, "123456789012345680000"),
        (1e16, "10000000000000000"),
        (-0.0, "0"),
        (0.0, "0"),
        (0.0001, "0.0001"),
        (0.000001, "0.000001"),
        (123.456, "123.456"),
        (0.1 + 0.2, "0.30000000000000004"),
        (-2.5e-10, "-2.5e-10"),
        (1.7976931348623157e308, "1.7976931348623157e+308"),
        (5e-324, "5e-324"),
        (1.2345e25, "1.2345e+25"),
        (float("nan"), "NaN"),
        (float("inf"), "Infinity"),
        (float("-inf"), "-Infinity"),
    ],
)
def test_js_number(number: float, text: str) -> None:
    assert js_number(number) == text


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_js_number_round_trips(number: float) -> None:
    text = js_number(number)
    assert float(text) == number
    assert not text.endswith(".0")


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (None, "null"),
        (MISSING, "undefined"),
        (True, "true"),
        (False, "false"),
        (0, "0"),
        (-12, "-12"),
        (12345678901234567890, "12345678901234567890"),
        (1.0, "1"),
        ("text", "text"),
        ("", ""),
        ([], ""),
        ([None], ""),
        ([MISSING, None], ","),
        (["a", "b"], "a,b"),
        ([1, [2, [3, None]], {}, True], "1,2,3,,[object Object],true"),
        ([[], []], ","),
        (("a", 1.5), "a,1.5"),
        ({}, "[object Object]"),
        ({"a": 1}, "[object Object]"),
    ],
)
def test_js_string(value: Any, text: str) -> None:
    assert js_string(value) == text


def test_js_string_huge_integers_render_as_javascript_numbers() -> None:
    assert js_string(10**5000) == "Infinity"
    assert js_string(-(10**5000)) == "-Infinity"


def test_js_string_of_deeply_nested_arrays_does_not_recurse() -> None:
    value: Any = "x"
    for _ in range(5000):
        value = [value]
    assert js_string(value) == "x"


def test_js_string_of_other_types_uses_str() -> None:
    assert js_string(complex(1, 2)) == "(1+2j)"


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (None, "null"),
        (MISSING, "null"),
        (True, "true"),
        (1, "1"),
        (1.0, "1"),
        (1e21, "1e+21"),
        (float("nan"), "null"),
        (float("inf"), "null"),
        ('é\n"\\', '"é\\n\\"\\\\"'),
        ("\x01\x7f", '"\\u0001\x7f"'),
        ("\ud800", '"\\ud800"'),
        ([], "[]"),
        ({}, "{}"),
        ([[]], "[[]]"),
        ([1, MISSING, None], "[1,null,null]"),
        ({"a": 1, "b": MISSING, "c": [1.5, "x"]}, '{"a":1,"c":[1.5,"x"]}'),
        ({"b": MISSING, "a": {"x": {}}}, '{"a":{"x":{}}}'),
        ({1: "a"}, '{"1":"a"}'),
        (("a",), '["a"]'),
        (complex(1, 2), '"(1+2j)"'),
    ],
)
def test_js_json(value: Any, text: str) -> None:
    assert js_json(value) == text


def test_js_json_of_deeply_nested_values_does_not_recurse() -> None:
    value: Any = 1
    for _ in range(5000):
        value = {"a": [value]}
    assert js_json(value) == '{"a":[' * 5000 + "1" + "]}" * 5000


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=5), children, max_size=4)
    ),
    max_leaves=20,
)


def _numbers_as_floats(value: Any) -> Any:
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, list):
        return [_numbers_as_floats(item) for item in value]
    return {key: _numbers_as_floats(item) for key, item in value.items()}


@given(json_values)
def test_js_json_is_json_with_the_same_value(value: Any) -> None:
    text = js_json(value)
    assert _numbers_as_floats(json.loads(text)) == _numbers_as_floats(value)


@pytest.mark.parametrize(
    ("value", "truthy"),
    [
        ("", False),
        (0, False),
        (0.0, False),
        (-0.0, False),
        (math.nan, False),
        (False, False),
        (None, False),
        (MISSING, False),
        ([], True),
        ({}, True),
        ((), True),
        ("0", True),
        (" ", True),
        (1, True),
        (-1.5, True),
        (True, True),
    ],
)
def test_js_truthy(value: Any, truthy: bool) -> None:
    assert js_truthy(value) is truthy


@pytest.mark.parametrize(
    ("text", "number"),
    [
        ("", 0),
        (" \t\n", 0),
        ("12.50", 12.5),
        (" 7 ", 7),
        ("1e3", 1000),
        ("-2.5E-3", -0.0025),
        ("12.", 12),
        (".5", 0.5),
        ("+5", 5),
        ("0x1F", 31),
        ("0o17", 15),
        ("0b101", 5),
        ("\u00a05", 5),
        ("Infinity", math.inf),
        ("-Infinity", -math.inf),
        ("1e400", math.inf),
        ("1" * 400, math.inf),
        ("9007199254740993", 9007199254740992.0),
        ("+0x1F", None),
        ("1_000", None),
        ("1,5", None),
        ("infinity", None),
        ("--1", None),
        ("1e", None),
        (".", None),
        ("\u0663", None),
    ],
)
def test_js_to_number_is_javascripts_number(text: str, number: Any) -> None:
    result = js_to_number(text)
    assert result == number
    assert type(result) is type(number) or isinstance(number, float)


def test_js_to_number_keeps_the_sign_of_zero() -> None:
    zero = js_to_number("-0")
    assert isinstance(zero, float)
    assert math.copysign(1, zero) == -1


def test_js_json_writes_index_keys_first_as_javascript_orders_them() -> None:
    assert (
        js_json({"b": 1, "10": 2, "2": 3, "01": 4, "a": 5}) == '{"2":3,"10":2,"b":1,"01":4,"a":5}'
    )
    assert js_json({"4294967295": 1, "4294967294": 2}) == '{"4294967294":2,"4294967295":1}'
    assert js_items({"x": 1}) == [("x", 1)]


def test_js_int_is_the_nearest_double_beyond_2_53() -> None:
    assert js_int(2**53) == 2**53
    assert type(js_int(2**53 + 1)) is float
    assert js_int(2**53 + 1) == 2.0**53
    assert js_int(10**400) == math.inf
    assert js_int(-(10**400)) == -math.inf


def test_js_view_converts_wide_integers_and_leaves_the_rest_alone() -> None:
    plain = {"a": [1, {"b": "c"}]}
    assert js_view(plain) is plain
    inner: dict[str, Any] = {"b": 12345678901234567890}
    wide: dict[str, Any] = {"a": [1, inner], "c": {"d": 1}}
    viewed = js_view(wide)
    assert viewed == {"a": [1, {"b": 1.2345678901234567e19}], "c": {"d": 1}}
    assert viewed["c"] is wide["c"]  # untouched branches are shared
    assert inner["b"] == 12345678901234567890  # the original is not changed


def test_js_view_of_resolved_values_drops_proto_members() -> None:
    value = {"a": {"__proto__": {"x": 1}, "b": 2}, "__proto__": None}
    assert js_view(value) is value
    resolved = js_view(value, resolved=True)
    assert resolved == {"a": {"b": 2}}
    assert type(resolved["a"]) is Inheriting  # its prototype has members: never empty
    assert type(resolved) is dict  # a null prototype has none


def test_an_object_with_a_to_string_member_cannot_be_text() -> None:
    with pytest.raises(JsTypeError):
        js_string({"toString": "x"})
    with pytest.raises(JsTypeError):
        js_string([1, [{"toString": 1}]])
    assert js_string({"valueOf": 1}) == "[object Object]"


def test_an_object_that_inherits_is_written_through_its_prototype() -> None:
    """String() of it finds toString on the prototype: a list's join, or a member's."""
    listed = js_view({"x": {"__proto__": [".-_", "b"], "plan": 1, "1": "own"}}, resolved=True)
    assert js_string(listed["x"]) == ".-_,own"
    assert js_json(listed["x"]) == '{"1":"own","plan":1}'
    broken = js_view({"x": {"__proto__": {"toString": 1}}}, resolved=True)
    with pytest.raises(JsTypeError):
        js_string(broken["x"])
    plain = js_view({"x": {"__proto__": {"a": 1}}}, resolved=True)
    assert js_string(plain["x"]) == "[object Object]"
