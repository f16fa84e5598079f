"""Hypothesis strategies for field mappings (mapping-kit directives) and events."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from fbcli.directives import KNOWN_DIRECTIVES
from fbcli.jsvalues import js_truthy
from fbcli.values import MISSING
from tests.support.strategies import TOO_MANY_DIGITS


def path(text: str) -> dict[str, Any]:
    return {"@path": text}


def literal(value: Any) -> dict[str, Any]:
    return {"@literal": value}


def is_json_like(value: Any) -> bool:
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            if not all(isinstance(key, str) for key in item):
                return False
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
        elif item is MISSING or not (item is None or isinstance(item, (str, bool, int, float))):
            return False
    return True


scalars = (
    st.none()
    | st.booleans()
    | st.integers(-3, 3)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(alphabet="ab{}.$0 ", max_size=6)
    | st.sampled_from(['{"a":[1]}', "[1,2]", "NaN", "", "0"])
)


path_texts = st.sampled_from(
    ["", "$.", "$.a", "a.b", "$.a[0]", "$.a.0.b", "$.b.1", "..", "$", "x y", "$.t", "$.a.$"]
) | st.text(alphabet="ab.[]01 $", max_size=8)


path_directives = path_texts.map(path)


templates = st.text(alphabet="ab.{} $0t", max_size=14)


short_text = st.text(alphabet="aAb$&'`.", min_size=1, max_size=3)


mapping_keys = st.sampled_from(["a", "b", "c"])


def directive_mappings(children: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    truthy_children = children.filter(js_truthy)
    objectish = st.dictionaries(mapping_keys, children, max_size=2) | path_directives
    return st.one_of(
        st.lists(children, max_size=3),
        st.dictionaries(mapping_keys, children, max_size=3),
        path_directives,
        path_directives.map(lambda inner: {"@path": inner}),
        templates.map(lambda text: {"@template": text}),
        path_directives.map(lambda inner: {"@template": inner}),
        children.map(literal),
        st.builds(
            lambda condition, key, then, other: {
                "@if": {key: condition, "then": then, "else": other}
            },
            path_directives,
            st.sampled_from(["exists", "blank"]),
            children,
            children,
        ),
        st.builds(
            lambda operator, value: {"@case": {"operator": operator, "value": value}},
            st.sampled_from(["lower", "upper"]),
            path_directives | st.text(max_size=3),
        ),
        st.builds(
            lambda value, pattern, replacement, flags, pattern2: {
                "@replace": {
                    "value": value,
                    "pattern": pattern,
                    "replacement": replacement,
                    "global": flags[0],
                    "ignorecase": flags[1],
                    "pattern2": pattern2,
                }
            },
            path_directives | st.text(alphabet="aAb$", max_size=4),
            short_text,
            st.text(alphabet="aAb$&'`.", max_size=4),
            st.tuples(st.booleans(), st.booleans()),
            st.none() | short_text,
        ),
        st.builds(
            lambda root, shape: {"@arrayPath": [root, shape]},
            path_texts | path_directives,
            children,
        ),
        st.builds(
            lambda objects, direction: {"@merge": {"objects": objects, "direction": direction}},
            st.lists(objectish, max_size=3),
            st.sampled_from(["left", "right"]),
        ),
        st.builds(
            lambda value, mode: {"@json": {"value": value, "mode": mode}},
            truthy_children | path_directives,
            st.sampled_from(["encode", "decode"]),
        ),
        st.builds(
            lambda value, separator, omit: {
                "@flatten": {"value": value, "separator": separator, "omitArrays": omit}
            },
            children,
            st.sampled_from([".", "_"]) | path_directives,
            st.booleans(),
        ),
        children.map(lambda value: {"@excludeWhenNull": value}),
    )


valid_mappings = st.recursive(scalars | path_directives, directive_mappings, max_leaves=8)


option_keys = st.sampled_from(
    [
        "a",
        "_metadata",
        "exists",
        "blank",
        "then",
        "else",
        "value",
        "operator",
        "pattern",
        "replacement",
        "mode",
        "objects",
        "direction",
        "separator",
        "omitArrays",
        "global",
        "@foo",
        *KNOWN_DIRECTIVES,
    ]
)


any_json = st.recursive(
    scalars | st.sampled_from(["lower", "encode", "decode", "left", "right", "$.a"]),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(option_keys, children, max_size=3)
    ),
    max_leaves=12,
)


PATH_TEXTS = st.one_of(
    st.sampled_from(["", "$", "$.", ".", "..", "[]", "$.a", "a.0", "a[1]", "$.a.01", "p"]),
    st.sampled_from(["$.a.", "a.", "$.a[", "a."]).map(lambda head: head + TOO_MANY_DIGITS),
    st.sampled_from(["$.a.\u0663", "a.\u00b2", "$.a." + "1" * 25]),
    st.text(alphabet="ap.[]0$", max_size=6),
)


TEMPLATES = st.builds(
    lambda before, inner, after: f"{before}{{{{{inner}}}}}{after}",
    st.text(max_size=3),
    PATH_TEXTS,
    st.sampled_from(["", "x", "{{p}}", "}}"]),
)


PATH_MAPPINGS = st.one_of(
    PATH_TEXTS.map(lambda text: {"@path": text}),
    TEMPLATES.map(lambda text: {"@template": text}),
    st.just({"@path": {"@path": "$.p"}}),
    st.just({"@template": {"@path": "$.p"}}),
    st.just({"@json": {"value": {"@path": "$.p"}, "mode": "decode"}}),
    PATH_TEXTS.map(lambda text: {"@arrayPath": [text, {"x": {"@path": "$.0"}}]}),
)


MAPPINGS = st.one_of(
    valid_mappings,
    any_json,
    st.recursive(PATH_MAPPINGS, directive_mappings, max_leaves=6),
)
