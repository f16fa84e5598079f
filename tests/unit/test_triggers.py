"""Tests of fbcli.triggers: the parser, the formatter, the evaluator, the compiler, the tracer.

fbcli evaluates a trigger one way, by compiling it (``emit_test``); the tests check
that against ``interpret``, the semantics table of the module docstring written out
plainly, here as an oracle.
"""

from __future__ import annotations

import re
from types import MappingProxyType
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fbcli.triggers import (
    And,
    Call,
    Compare,
    Node,
    Not,
    Or,
    TraceStep,
    TriggerSyntaxError,
    compile_trigger,
    evaluate_trigger,
    format_trigger,
    lookup,
    parse_trigger,
    trace_trigger,
)
from fbcli.values import MISSING
from tests.support.triggers import interpret, leaf_nodes, plain_lookup, same

A = Compare("a", "=", 1)
B = Compare("b", "=", 2)
C = Compare("c", "=", 3)
D = Compare("d", "=", 4)


# ------------------------------------------------------------------ parsing


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a = 1", A),
        ("  a=1  ", A),
        ("a = 1\nand\tb = 2", And((A, B))),
        ("a = 1 and b = 2 and c = 3", And((A, B, C))),
        ("a = 1 or b = 2 or c = 3", Or((A, B, C))),
        ("a = 1 or b = 2 and c = 3", Or((A, And((B, C))))),
        ("a = 1 and b = 2 or c = 3", Or((And((A, B)), C))),
        ("a = 1 and b = 2 or c = 3 and d = 4", Or((And((A, B)), And((C, D))))),
        ("(a = 1 or b = 2) and c = 3", And((Or((A, B)), C))),
        ("(a = 1 and b = 2) and c = 3", And((And((A, B)), C))),
        ("a = 1 and (b = 2 and c = 3)", And((A, And((B, C))))),
        ("((((a = 1))))", A),
        ("((a = 1 or (b = 2 and (c = 3))))", Or((A, And((B, C))))),
        ("!a = 1", Not(A)),
        ("not a = 1", Not(A)),
        ("not(a = 1)", Not(A)),
        ("!(a = 1 or b = 2)", Not(Or((A, B)))),
        ("!!a = 1", Not(Not(A))),
        ("not !not a = 1", Not(Not(Not(A)))),
        ("!a = 1 and b = 2", And((Not(A), B))),
        ("not a = 1 or b = 2", Or((Not(A), B))),
        ('contains(event, "Video")', Call("contains", "event", "Video")),
        ('match ( event , "Video *" )', Call("match", "event", "Video *")),
        (
            'type = "track" and (event = "Download" or match(event, "Video *"))',
            And(
                (
                    Compare("type", "=", "track"),
                    Or((Compare("event", "=", "Download"), Call("match", "event", "Video *"))),
                )
            ),
        ),
    ],
)
def test_parse_structure(text: str, expected: Node) -> None:
    assert same(parse_trigger(text), expected)


@pytest.mark.parametrize("op", ["=", "!=", "<", "<=", ">", ">="])
def test_every_operator(op: str) -> None:
    assert same(parse_trigger(f"x {op} 1"), Compare("x", op, 1))
    assert same(parse_trigger(f"x{op}1"), Compare("x", op, 1))


@pytest.mark.parametrize(
    ("literal", "value"),
    [
        ("1", 1),
        ("-5", -5),
        ("0", 0),
        ("-0", 0),
        ("007", 7),
        ("123456789012345678901234567890", 123456789012345678901234567890),
        ("1.0", 1.0),
        ("-2.5", -2.5),
        ("1e3", 1000.0),
        ("2E-2", 0.02),
        ("1.5e+2", 150.0),
        ("-0.0", -0.0),
        ("true", True),
        ("false", False),
        ("null", None),
        ('""', ""),
        ('"abc"', "abc"),
        ('"123"', "123"),
        ('"true"', "true"),
        ('"café ☕"', "café ☕"),
        (r'"a\"b"', 'a"b'),
        (r'"a\\b"', "a\\b"),
        (r'"a\/b"', "a/b"),
        (r'"\b\f\n\r\t"', "\b\f\n\r\t"),
        (r'"\u00e9\u00E9"', "éé"),
        (r'"\ud83d\ude00"', "\U0001f600"),
        (r'"\ud800"', "\ud800"),
        ('"tab\there"', "tab\there"),
        ('"and or not ( ) , = !"', "and or not ( ) , = !"),
    ],
)
def test_literals(literal: str, value: Any) -> None:
    assert same(parse_trigger(f"x = {literal}"), Compare("x", "=", value))


@pytest.mark.parametrize(
    "path",
    [
        "type",
        "messageId",
        "anonymousId",
        "context.library.name",
        "properties.items.0.sku",
        "traits.$id",
        "properties.first-name",
        "properties.snake_case",
        "_private",
        "$special",
        "-dash",
        "prénom.ville",
        "1st",
        "1.5x",
        "properties.and",
        "properties.match",
        "nothing.true.null",
        "truex",
        "properties.0.1.2",
    ],
)
def test_paths(path: str) -> None:
    assert parse_trigger(f"{path} = 1") == Compare(path, "=", 1)
    assert parse_trigger(f'contains({path}, "x")') == Call("contains", path, "x")


@pytest.mark.parametrize(
    ("text", "message", "column"),
    [
        ("", "empty trigger", 1),
        ("   \t\n", "empty trigger", 1),
        ("event Order", "expected an operator after 'event', found 'Order'", 7),
        ('event = "Order', "unterminated string", 9),
        ('a = "abc\\', "unterminated string", 5),
        ("a = 1)", "unexpected ')'", 6),
        (")", "unexpected ')'", 1),
        ("()", "unexpected ')'", 2),
        ("(a = 1", "expected ')' to close '(' at column 1", 7),
        ("x = 1 and ((a = 1) or b = 2", "expected ')' to close '(' at column 11", 28),
        ("(a = 1 b", "expected ')' to close '(' at column 1", 8),
        ('startswith(a, "x")', "unknown function 'startswith' (known: contains, match)", 1),
        ('a = 1 or Contains(a, "x")', "unknown function 'Contains' (known: contains, match)", 10),
        (
            "a = 1 AND b = 2",
            "expected 'and', 'or' or end of trigger, found 'AND' (keywords are lowercase)",
            7,
        ),
        ("a = 1 b = 2", "expected 'and', 'or' or end of trigger, found 'b'", 7),
        ("a = 1 (", "expected 'and', 'or' or end of trigger, found '('", 7),
        ("a = 1 not b = 2", "expected 'and', 'or' or end of trigger, found 'not'", 7),
        ("a = TRUE", "expected a value after '=', found 'TRUE' (keywords are lowercase)", 5),
        (
            "event = Order",
            "expected a value after '=', found 'Order' (strings take double quotes)",
            9,
        ),
        ("a = ", "expected a value after '=', found end of trigger", 5),
        ("a >= (", "expected a value after '>=', found '('", 6),
        ("a = and", "expected a value after '=', found 'and'", 5),
        ("a = = 1", "expected a value after '=', found '='", 5),
        ("a", "expected an operator after 'a', found end of trigger", 2),
        ("a ! b", "expected an operator after 'a', found '!'", 3),
        ("NOT a = 1", "expected an operator after 'NOT', found 'a' (keywords are lowercase)", 5),
        ("a = 'x'", 'unexpected character "\'" (strings take double quotes)', 5),
        ("a = 1 && b = 2", "unexpected character '&' (use 'and')", 7),
        ("a = 1 || b = 2", "unexpected character '|' (use 'or')", 7),
        ("a = 1 # note", "unexpected character '#'", 7),
        ("a = 1 ; b", "unexpected character ';'", 7),
        ("a == 1", "unknown operator '==' (use '=')", 3),
        ("a. = 1", "expected a path segment after '.'", 3),
        ("a..b = 1", "expected a path segment after '.'", 3),
        (".a = 1", "unexpected character '.'", 1),
        ("x = 1.", "invalid number '1.'", 5),
        ("x = -2.", "invalid number '-2.'", 5),
        ("x = 1e999", "number out of range: 1e999", 5),
        ("x = " + "9" * 5000, "number has too many digits", 5),
        ("x = 1.5.3", "expected a value after '=', found '1.5.3' (strings take double quotes)", 5),
        ('a = "\\q"', "invalid escape '\\q'", 6),
        ('a = "\\u12"', "invalid \\u escape (expected 4 hex digits)", 6),
        ('a = "\\u12zz"', "invalid \\u escape (expected 4 hex digits)", 6),
        ("1.5 = 2", "expected a condition, found '1.5'", 1),
        ('"a" = "a"', 'expected a condition, found "a"', 1),
        ("and", "expected a condition, found 'and'", 1),
        ("a = 1 and", "expected a condition, found end of trigger", 10),
        ("a = 1 or or b = 1", "expected a condition, found 'or'", 10),
        ("!", "expected a condition, found end of trigger", 2),
        ("true = 1", "expected a condition, found 'true'", 1),
        ("= 1", "expected a condition, found '='", 1),
        (", a", "expected a condition, found ','", 1),
        ("contains = 1", "expected '(' after 'contains'", 10),
        (
            'contains("a", "x")',
            'expected a path as the first argument of contains(), found "a"',
            10,
        ),
        ("match(not, 1)", "expected a path as the first argument of match(), found 'not'", 7),
        ('contains(a "x")', "expected ',' after 'a' in contains(), found \"x\"", 12),
        ("match(a, x)", "expected a string as the second argument of match(), found 'x'", 10),
        ("match(a, 1)", "expected a string as the second argument of match(), found '1'", 10),
        ('match(a, "x"', "expected ')' to close 'match(' at column 6", 13),
        ('match(a, "x", "y")', "expected ')' to close 'match(' at column 6", 13),
        (
            "a = " + "b" * 50,
            f"expected a value after '=', found '{'b' * 37}...' (strings take double quotes)",
            5,
        ),
        (
            'a "' + "x" * 50 + '"',
            f"expected an operator after 'a', found \"{'x' * 36}...",
            3,
        ),
    ],
)
def test_syntax_errors(text: str, message: str, column: int) -> None:
    with pytest.raises(TriggerSyntaxError) as caught:
        parse_trigger(text)
    error = caught.value
    assert (error.message, error.column, error.text) == (message, column, text)
    assert str(error) == f"{message} at column {column}"
    assert 1 <= error.column <= len(text) + 1


def test_syntax_error_is_a_value_error() -> None:
    error = TriggerSyntaxError("unexpected ')'", 6, "a = 1)")
    assert isinstance(error, ValueError)
    assert str(error) == "unexpected ')' at column 6"
    assert error.args == ("unexpected ')'", 6, "a = 1)")


# ----------------------------------------------------------------- the AST


@pytest.mark.parametrize(
    "build",
    [
        lambda: Compare("and", "=", 1),
        lambda: Compare("null", "=", 1),
        lambda: Compare("1.5", "=", 1),
        lambda: Compare("-3", "=", 1),
        lambda: Compare("a..b", "=", 1),
        lambda: Compare("", "=", 1),
        lambda: Compare("a b", "=", 1),
        lambda: Compare("a", "==", 1),
        lambda: Compare("a", "=", float("nan")),
        lambda: Compare("a", "=", float("-inf")),
        lambda: Call("startswith", "a", "x"),
        lambda: Call("contains", "1", "x"),
        lambda: And(()),
        lambda: And((A,)),
        lambda: Or((A,)),
    ],
)
def test_invalid_nodes(build: Any) -> None:
    with pytest.raises(ValueError, match=r"."):
        build()


def test_invalid_literal_type() -> None:
    literal: Any = [1]
    with pytest.raises(TypeError, match="unsupported literal"):
        Compare("a", "=", literal)


def test_nodes_are_frozen_and_slotted() -> None:
    assert not hasattr(A, "__dict__")
    node: Any = A
    with pytest.raises(AttributeError):
        node.path = "b"


# ------------------------------------------------------------ formatting


@pytest.mark.parametrize(
    ("node", "text"),
    [
        (A, "a = 1"),
        (Or((And((A, B)), C)), "a = 1 and b = 2 or c = 3"),
        (And((Or((A, B)), C)), "(a = 1 or b = 2) and c = 3"),
        (And((A, B, C)), "a = 1 and b = 2 and c = 3"),
        (Or((A, B, C)), "a = 1 or b = 2 or c = 3"),
        (And((And((A, B)), C)), "(a = 1 and b = 2) and c = 3"),
        (Or((Or((A, B)), C)), "(a = 1 or b = 2) or c = 3"),
        (Not(A), "!a = 1"),
        (Not(Not(A)), "!!a = 1"),
        (Not(And((A, B))), "!(a = 1 and b = 2)"),
        (Not(Or((A, B))), "!(a = 1 or b = 2)"),
        (And((Not(A), Not(Or((B, C))))), "!a = 1 and !(b = 2 or c = 3)"),
        (Call("contains", "event", 'say "hi"'), 'contains(event, "say \\"hi\\"")'),
        (Call("match", "event", "Video *"), 'match(event, "Video *")'),
        (Compare("x", "=", "café"), 'x = "café"'),
        (Compare("x", "=", "a\nb\\"), 'x = "a\\nb\\\\"'),
        (Compare("x", "=", "\ud800"), 'x = "\\ud800"'),
        (Compare("x", "!=", None), "x != null"),
        (Compare("x", "=", True), "x = true"),
        (Compare("x", "=", False), "x = false"),
        (Compare("x", "<", 1.0), "x < 1.0"),
        (Compare("x", ">=", -0.0), "x >= -0.0"),
        (Compare("x", "<=", 1e16), "x <= 1e+16"),
        (Compare("x", ">", 1.5e-7), "x > 1.5e-07"),
        (Compare("x", "=", 10**20), "x = 100000000000000000000"),
    ],
)
def test_format(node: Node, text: str) -> None:
    assert format_trigger(node) == text
    assert same(parse_trigger(text), node)


def test_format_canonicalizes() -> None:
    node = parse_trigger('not ( ( a=1 ) and   contains(b,"\\u0041") )')
    assert format_trigger(node) == '!(a = 1 and contains(b, "A"))'


# ----------------------------------------------------------------- lookup

EVENT: dict[str, Any] = {
    "type": "track",
    "event": "Order Completed",
    "anonymousId": "anon-1",
    "messageId": "m-1",
    "userId": None,
    "properties": {
        "s_true": "true",
        "b_true": True,
        "b_false": False,
        "n_123": 123,
        "n_456": 456,
        "s_123": "123",
        "f_1": 1.0,
        "i_1": 1,
        "zero": 0,
        "null": None,
        "empty": "",
        "abc": "abc",
        "star": "a*b",
        "obj": {"a": 1},
        "arr": [1, 2],
        "tup": (10, 20),
        "numkeys": {"0": "zero"},
        "items": [{"sku": "A-1"}, {"sku": "B-2"}],
    },
    "context": {"library": {"name": "analytics.js"}},
}


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("type", "track"),
        ("userId", None),
        ("properties.items.0.sku", "A-1"),
        ("properties.items.1", {"sku": "B-2"}),
        ("properties.items.2.sku", MISSING),
        ("properties.items.sku", MISSING),
        ("properties.items.-1", MISSING),
        ("properties.arr.\u0661", MISSING),  # a non-ASCII digit is no index
        ("properties.tup.1", 20),
        ("properties.numkeys.0", "zero"),
        ("properties.obj.0", MISSING),
        ("properties.nope", MISSING),
        ("properties.nope.deeper", MISSING),
        ("type.length", MISSING),
        ("properties.n_123.x", MISSING),
        ("properties.null.x", MISSING),
        ("properties.b_true.x", MISSING),
        ("context.library.name", "analytics.js"),
    ],
)
def test_lookup(path: str, expected: Any) -> None:
    assert lookup(EVENT, path) == expected
    assert lookup(MappingProxyType(EVENT), path) == expected


# -------------------------------------------------------------- semantics


def check(text: str, event: Any) -> bool:
    """Evaluate one way after another and insist they agree."""
    node = parse_trigger(text)
    result = interpret(node, event)
    assert evaluate_trigger(node, event) is result
    assert compile_trigger(node)(event) is result
    assert compile_trigger(node)(MappingProxyType(event)) is result
    if isinstance(node, Compare | Call):
        [step] = trace_trigger(node, event)
        assert step.result is result
    return result


SEMANTICS = [
    # Types are strict: strings, booleans and numbers never equal each other.
    ('properties.s_true = "true"', True),
    ('properties.b_true = "true"', False),
    ("properties.b_true = true", True),
    ("properties.b_false = false", True),
    ("properties.b_false = true", False),
    ("properties.s_true = true", False),
    ("properties.i_1 = true", False),
    ("properties.zero = false", False),
    ("properties.b_true = 1", False),
    ("properties.b_false = 0", False),
    ("properties.n_123 = 123", True),
    ("properties.s_123 = 123", False),
    ('properties.n_123 = "123"', False),
    ('properties.s_123 = "123"', True),
    ("properties.f_1 = 1", True),
    ("properties.i_1 = 1.0", True),
    ("properties.n_123 = 1.23e2", True),
    ("properties.n_123 = 124", False),
    # Ordering: numbers only.
    ("properties.n_123 > 100", True),
    ("properties.n_123 < 100", False),
    ("properties.n_123 >= 123", True),
    ("properties.n_123 <= 122.5", False),
    ("properties.n_123 <= 123.0", True),
    ("properties.n_123 < 123", False),
    ("properties.s_123 > 100", False),
    ("properties.b_true > 0", False),
    ("properties.b_true >= 1", False),
    ('properties.n_123 > "100"', False),
    ('properties.s_123 > "100"', False),
    ("properties.n_123 > true", False),
    ("properties.n_123 >= null", False),
    ("properties.null <= null", False),
    ("properties.missing < 1", False),
    ("properties.null < 1", False),
    ("properties.obj > 0", False),
    ("properties.arr > 0", False),
    # != with a number: only other numbers.
    ("properties.n_123 != 456", True),
    ("properties.n_456 != 456", False),
    ("properties.f_1 != 1", False),
    ("properties.s_123 != 456", False),
    ("properties.missing != 456", False),
    ("properties.null != 456", False),
    ("properties.b_true != 456", False),
    ("properties.obj != 1", False),
    # != with a string: every present value but that string (null counts as absent).
    ('properties.abc != "abc"', False),
    ('properties.s_123 != "abc"', True),
    ('properties.n_123 != "123"', True),
    ('properties.b_true != "true"', True),
    ('properties.empty != "abc"', True),
    ('properties.empty != ""', False),
    ('properties.obj != "abc"', True),
    ('properties.arr != "abc"', True),
    ('properties.missing != "abc"', False),
    ('properties.null != "abc"', False),
    # != with a boolean: the same rule as strings.
    ("properties.b_true != true", False),
    ("properties.b_false != true", True),
    ("properties.b_true != false", True),
    ("properties.s_true != true", True),
    ("properties.i_1 != true", True),
    ("properties.zero != false", True),
    ("properties.obj != true", True),
    ("properties.missing != true", False),
    ("properties.null != false", False),
    # null: = null is missing-or-null, != null is exists.
    ("properties.missing = null", True),
    ("properties.null = null", True),
    ("userId = null", True),
    ("properties.empty = null", False),
    ("properties.zero = null", False),
    ("properties.b_false = null", False),
    ("properties.obj = null", False),
    ("properties.arr = null", False),
    ("properties.missing != null", False),
    ("properties.null != null", False),
    ("properties.empty != null", True),
    ("properties.zero != null", True),
    ("properties.b_false != null", True),
    ("properties.obj != null", True),
    ("properties.arr != null", True),
    # Objects and arrays never equal a literal.
    ('properties.obj = "x"', False),
    ("properties.obj = 1", False),
    ("properties.arr = 1", False),
    ("properties.obj = true", False),
    ('properties.arr = "[1, 2]"', False),
    # contains: strings only, case-sensitive.
    ('contains(event, "Order")', True),
    ('contains(event, "der Com")', True),
    ('contains(event, "order")', False),
    ('contains(event, "")', True),
    ('contains(properties.n_123, "12")', False),
    ('contains(properties.arr, "1")', False),
    ('contains(properties.b_true, "true")', False),
    ('contains(properties.null, "")', False),
    ('contains(properties.missing, "")', False),
    # match: a leading and/or trailing *, otherwise exact; strings only.
    ('match(event, "Order*")', True),
    ('match(event, "order*")', False),
    ('match(event, "Completed*")', False),
    ('match(event, "*Completed")', True),
    ('match(event, "*Order")', False),
    ('match(event, "*der Com*")', True),
    ('match(event, "*Order Completed*")', True),
    ('match(event, "*order*")', False),
    ('match(event, "Order Completed")', True),
    ('match(event, "Order")', False),
    ('match(event, "Or*ed")', False),
    ('match(properties.star, "a*b")', True),
    ('match(properties.star, "*a*b*")', True),
    ('match(event, "*")', True),
    ('match(event, "**")', True),
    ('match(properties.empty, "*")', True),
    ('match(properties.empty, "")', True),
    ('match(properties.n_123, "1*")', False),
    ('match(properties.n_123, "*")', False),
    ('match(properties.missing, "*")', False),
    ('match(properties.obj, "*")', False),
    # Paths into the whole event, arrays and non-objects.
    ('messageId = "m-1"', True),
    ('anonymousId = "anon-1"', True),
    ('context.library.name = "analytics.js"', True),
    ('properties.items.0.sku = "A-1"', True),
    ('properties.items.1.sku = "B-2"', True),
    ('properties.items.1.sku = "A-1"', False),
    ("properties.items.2.sku = null", True),
    ("properties.items.2.sku != null", False),
    ("properties.arr.0 = 1", True),
    ("properties.arr.1 > 1", True),
    ("properties.arr.-1 = null", True),
    ("properties.tup.0 = 10", True),
    ('properties.numkeys.0 = "zero"', True),
    ("properties.nope.deeper = null", True),
    ('properties.nope.deeper != "x"', False),
    ("type.length = null", True),
    ("properties.n_123.x = null", True),
    ("properties.null.x = null", True),
    ("properties.items.sku = null", True),
    # Boolean structure: and binds tighter than or; not and ! negate.
    ('type = "track" or type = "nope" and event = "nope"', True),
    ('type = "nope" and event = "Order Completed" or type = "track"', True),
    ('(type = "track" or type = "nope") and event = "nope"', False),
    ('!(type = "track")', False),
    ('not type = "nope"', True),
    ('!!type = "track"', True),
    ('type = "track" and event = "Order Completed" and messageId = "m-1"', True),
    ('type = "track" and event = "Order Completed" and messageId = "m-2"', False),
    ('type = "a" or type = "b" or type = "track"', True),
    ('type = "a" or type = "b" or type = "c"', False),
    ('type = "track" and event = "nope"', False),
    ('type = "nope" or event = "nope"', False),
]


@pytest.mark.parametrize(("text", "expected"), SEMANTICS)
def test_semantics(text: str, expected: bool) -> None:
    assert check(text, EVENT) is expected


@pytest.mark.parametrize(
    "event",
    [{}, {"properties": None}, {"properties": []}, {"properties": "x"}, {"properties": {"n": []}}],
)
def test_odd_shapes(event: dict[str, Any]) -> None:
    exists = event == {"properties": {"n": []}}
    assert check("properties.n = null", event) is not exists
    assert check("properties.n != null", event) is exists
    assert check('properties.n.0 != "x"', event) is False


def test_a_digit_segment_longer_than_int_converts_is_no_index() -> None:
    """Found by fuzzing: int() refused such a segment, so lookup and compile_trigger raised."""
    digits = "1" * 5000
    node = parse_trigger(f"a.{digits} = null")
    events: list[dict[str, Any]] = [{"a": [1, 2]}, {"a": []}, {}]
    for event in events:
        assert lookup(event, f"a.{digits}") is MISSING
        assert evaluate_trigger(node, event) is True
        assert compile_trigger(node)(event) is True
        assert trace_trigger(node, event)[0].actual is MISSING
    assert lookup({"a": {digits: 1}}, f"a.{digits}") == 1  # still a key of an object
    assert compile_trigger(node)({"a": {digits: 1}}) is False


# ------------------------------------------------------------------ trace


def test_trace_every_leaf_without_short_circuit() -> None:
    node = parse_trigger(
        'type = "nope" and (event = "Order Completed" or !contains(properties.abc, "b"))'
        " and properties.missing > 1"
    )
    assert evaluate_trigger(node, EVENT) is False
    assert trace_trigger(node, EVENT) == [
        TraceStep('type = "nope"', False, "track"),
        TraceStep('event = "Order Completed"', True, "Order Completed"),
        TraceStep('contains(properties.abc, "b")', True, "abc"),
        TraceStep("properties.missing > 1", False, MISSING),
    ]


def test_trace_shows_objects() -> None:
    [step] = trace_trigger(parse_trigger("properties.obj != null"), EVENT)
    assert step == TraceStep("properties.obj != null", True, {"a": 1})


# ------------------------------------------------------------- properties

SEGMENT_CHARS = re.compile(r"[\w$-]+(?:\.[\w$-]+)*")


def _constructible(path: str) -> bool:
    try:
        Compare(path, "=", 1)
    except ValueError:
        return False
    return True


any_paths = st.from_regex(r"[\w$-]{1,6}(\.[\w$-]{1,4}){0,3}", fullmatch=True).filter(
    lambda p: SEGMENT_CHARS.fullmatch(p) is not None and _constructible(p)
)
any_literals = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(),
)
any_leaves = st.one_of(
    st.builds(Compare, any_paths, st.sampled_from(["=", "!=", "<", "<=", ">", ">="]), any_literals),
    st.builds(Call, st.sampled_from(["contains", "match"]), any_paths, st.text()),
)


def trees(leaves: st.SearchStrategy[Node]) -> st.SearchStrategy[Node]:
    def grow(children: st.SearchStrategy[Node]) -> st.SearchStrategy[Node]:
        groups = st.lists(children, min_size=2, max_size=3).map(tuple)
        return st.one_of(children.map(Not), groups.map(And), groups.map(Or))

    return st.recursive(leaves, grow, max_leaves=8)


@settings(max_examples=300, deadline=None)
@given(trees(any_leaves))
def test_format_round_trips(node: Node) -> None:
    text = format_trigger(node)
    assert same(parse_trigger(text), node)
    assert format_trigger(parse_trigger(text)) == text


KEYS = ["a", "b", "0", "1"]
small_paths = st.builds(
    lambda first, rest: ".".join([first, *rest]),
    st.sampled_from(["a", "b"]),
    st.lists(st.sampled_from(KEYS), max_size=2),
)
small_literals = st.one_of(
    st.sampled_from([None, True, False, 0, 1, 1.0, -2.5, "", "a", "ab", "1", "true"]),
    any_literals,
)
small_leaves = st.one_of(
    st.builds(
        Compare, small_paths, st.sampled_from(["=", "!=", "<", "<=", ">", ">="]), small_literals
    ),
    st.builds(
        Call,
        st.sampled_from(["contains", "match"]),
        small_paths,
        st.sampled_from(["", "*", "**", "a", "a*", "*b", "*a*", "a*b", "ab"]),
    ),
)
json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-3, 3),
    st.floats(allow_infinity=True, allow_nan=True),
    st.sampled_from([1.0, -2.5, 0.0]),
    st.text(alphabet="ab1*", max_size=3),
)
json_values = st.recursive(
    json_scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=3), st.dictionaries(st.sampled_from(KEYS), children, max_size=3)
    ),
    max_leaves=10,
)
events = st.dictionaries(st.sampled_from(KEYS), json_values, max_size=4)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(trees(small_leaves), events)
def test_compiled_agrees_with_interpreter(node: Node, event: dict[str, Any]) -> None:
    result = interpret(node, event)
    assert evaluate_trigger(node, event) is result
    assert compile_trigger(node)(event) is result
    assert compile_trigger(node)(MappingProxyType(event)) is result
    leaves = leaf_nodes(node)
    steps = trace_trigger(node, event)
    assert len(steps) == len(leaves)
    for step, leaf in zip(steps, leaves, strict=True):
        assert step.text == format_trigger(leaf)
        assert step.actual is plain_lookup(event, leaf.path)
        assert step.result is interpret(leaf, event)


TOKENS = [
    "a",
    "b.0",
    "x.y",
    "=",
    "!=",
    "<",
    "<=",
    ">",
    ">=",
    "!",
    "not",
    "and",
    "or",
    "(",
    ")",
    ",",
    "contains",
    "match",
    "true",
    "false",
    "null",
    "1",
    "-2.5e3",
    '"s"',
    '"\\u00e9"',
    '"',
    "\\",
    ".",
    "1.",
    "'",
    "AND",
    "==",
]


@settings(max_examples=500, deadline=None)
@given(
    st.one_of(
        st.text(),
        st.text(alphabet='ab1 ."\\=!<>(),-*'),
        st.lists(st.sampled_from(TOKENS), max_size=12).map(" ".join),
        st.lists(st.sampled_from(TOKENS), max_size=12).map("".join),
    )
)
def test_parse_never_fails_unexpectedly(text: str) -> None:
    try:
        node = parse_trigger(text)
    except TriggerSyntaxError as caught:
        error = caught
    else:
        assert same(parse_trigger(format_trigger(node)), node)
        return
    assert 1 <= error.column <= len(text) + 1
    assert error.text == text
    assert error.message


def test_a_string_with_raw_control_characters_is_named_on_one_line() -> None:
    """Found by fuzzing: a raw line break in a string went into the message as it was."""
    with pytest.raises(TriggerSyntaxError) as caught:
        parse_trigger('type "a\nb\t"')
    assert caught.value.message == "expected an operator after 'type', found \"a\\nb\\t\""
    assert parse_trigger('type = "a\nb"') == Compare("type", "=", "a\nb")  # still a string


@pytest.mark.parametrize("opener", ["(", "!", "not ", "!("])
def test_deep_nesting_is_a_located_syntax_error(opener: str) -> None:
    text = opener * 200 + 'type = "track"' + ")" * (200 if "(" in opener else 0)
    with pytest.raises(TriggerSyntaxError) as caught:
        parse_trigger(text)
    assert caught.value.message == "nested deeper than 50 levels"
    assert 1 <= caught.value.column <= len(text)
    ok = "(" * 50 + 'type = "track"' + ")" * 50
    assert isinstance(parse_trigger(ok), Compare)
