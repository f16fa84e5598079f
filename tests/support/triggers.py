"""Trigger helpers: literal-exact equality, the leaves of a tree, the semantics table
interpreted plainly (``interpret``, the oracle of the compiled triggers), generated
trigger texts."""

from __future__ import annotations

import operator
import sys
from collections.abc import Callable, Mapping
from typing import Any, assert_never

from hypothesis import strategies as st

from fbcli.triggers import And, Call, Compare, Node, Not, Or
from fbcli.values import MISSING
from tests.support.strategies import TOO_MANY_DIGITS


def same(left: object, right: object) -> bool:
    """Equal and of the same literal types (``==`` alone takes True for 1 and 1 for 1.0)."""
    return left == right and repr(left) == repr(right)


def leaf_nodes(node: Node) -> list[Compare | Call]:
    match node:
        case Compare() | Call():
            return [node]
        case Not(operand):
            return leaf_nodes(operand)
        case And(items) | Or(items):
            return [leaf for item in items for leaf in leaf_nodes(item)]
        case _:
            assert_never(node)


# -- the oracle: the semantics table interpreted ------------------------------------------


def plain_lookup(event: Any, path: str) -> Any:
    """The value at a dotted path: keys of objects, digit segments index lists."""
    current: Any = event
    for segment in path.split("."):
        if isinstance(current, Mapping):
            if segment not in current:
                return MISSING
            current = current[segment]
        elif isinstance(current, list | tuple) and is_index(segment):
            index = int(segment)
            if index >= len(current):
                return MISSING
            current = current[index]
        else:
            return MISSING
    return current


def is_index(segment: str) -> bool:
    if not (segment.isascii() and segment.isdigit()):
        return False
    limit = sys.get_int_max_str_digits()
    return limit == 0 or len(segment) <= limit


ORDER: dict[str, Callable[[Any, Any], bool]] = {
    "=": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}


def compare(actual: Any, op: str, literal: Any) -> bool:
    absent = actual is MISSING or actual is None
    if literal is None:
        return absent if op == "=" else op == "!=" and not absent
    if isinstance(literal, bool):
        equal = isinstance(actual, bool) and actual == literal
    elif isinstance(literal, str):
        equal = isinstance(actual, str) and actual == literal
    else:
        number = isinstance(actual, int | float) and not isinstance(actual, bool)
        return number and bool(ORDER[op](actual, literal))
    return equal if op == "=" else op == "!=" and not equal and not absent


def glob(actual: Any, pattern: str) -> bool:
    if not isinstance(actual, str):
        return False
    if len(pattern) >= 2 and pattern[0] == "*" and pattern[-1] == "*":
        return pattern[1:-1] in actual
    if pattern.startswith("*"):
        return actual.endswith(pattern[1:])
    if pattern.endswith("*"):
        return actual.startswith(pattern[:-1])
    return actual == pattern


def interpret(node: Node, event: Any) -> bool:
    """The oracle: a trigger evaluated by walking it, each leaf by the table."""
    match node:
        case Compare(path, op, value):
            return compare(plain_lookup(event, path), op, value)
        case Call(func, path, arg):
            actual = plain_lookup(event, path)
            if func == "contains":
                return isinstance(actual, str) and arg in actual
            return glob(actual, arg)
        case Not(operand):
            return not interpret(operand, event)
        case And(items):
            return all(interpret(item, event) for item in items)
        case Or(items):
            return any(interpret(item, event) for item in items)
        case _:
            assert_never(node)


SEGMENTS = st.one_of(
    st.sampled_from(["a", "b", "type", "event", "items", "$", "-", "_x", "\u00e9", "null2"]),
    st.sampled_from(
        ["0", "1", "01", "007", "\u0663", "\u00b2"]
    ),  # indexes, and digits that are not
    st.from_regex(r"[\w$-]{1,5}", fullmatch=True),
    st.sampled_from([19, 20, len(TOO_MANY_DIGITS)]).map(lambda n: "1" * n),
)


PATHS = st.lists(SEGMENTS, min_size=1, max_size=4).map(".".join)


LITERALS = st.one_of(
    st.sampled_from(["null", "true", "false", "0", "-1", "2.5", "1e3", "-0.0", "1e400"]),
    st.sampled_from(["1" * 30, TOO_MANY_DIGITS]),
    st.text(max_size=6).map(
        lambda text: '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
    ),
    st.sampled_from(['"\\u00e9"', '"\\ud800"', '"\\x"', '"\\u12"', '"open', "'single'"]),
    st.sampled_from(['"line\nbreak"', '"\r"', '"\t\x00"']),  # raw control characters
)


OPERATORS = st.sampled_from(["=", "!=", "<", "<=", ">", ">=", "==", "=<", ""])


LEAVES = st.one_of(
    st.builds(lambda p, op, lit: f"{p} {op} {lit}", PATHS, OPERATORS, LITERALS),
    st.builds(
        lambda func, p, arg: f"{func}({p}, {arg})",
        st.sampled_from(["contains", "match", "CONTAINS", "starts"]),
        PATHS,
        LITERALS,
    ),
)


EXPRESSIONS = st.recursive(
    LEAVES,
    lambda children: st.one_of(
        st.builds(
            lambda a, word, b: f"{a} {word} {b}",
            children,
            st.sampled_from(["and", "or", "AND", "&&"]),
            children,
        ),
        st.builds(
            lambda prefix, a: prefix + a, st.sampled_from(["!", "not ", "! ", "!!"]), children
        ),
        children.map(lambda a: f"({a})"),
    ),
    max_leaves=6,
)


TOKENS = ["(", ")", ",", "!", "and", "or", "not", "=", '"', "\\", ".", "1.", "\n", "\t", "\x00"]


@st.composite
def trigger_texts(draw: st.DrawFn) -> str:
    """A grammatical trigger, often spoiled at one place."""
    text = draw(EXPRESSIONS)
    how = draw(st.sampled_from(["keep", "keep", "drop", "insert", "cut"]))
    if how == "keep" or not text:
        return text
    at = draw(st.integers(min_value=0, max_value=len(text)))
    if how == "drop":
        return text[:at] + text[at + 1 :]
    if how == "cut":
        return text[:at]
    return text[:at] + draw(st.sampled_from(TOKENS)) + text[at:]
