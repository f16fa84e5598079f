"""Hypothesis strategies shared by the fuzz properties (``tests/property/test_fuzz_*.py``).

- ``json_values``: what an event may hold, leaning on the values that break
  parsers and converters: digit runs longer than ``int()`` converts, numeric
  text in every form JavaScript reads (hex, exponents, blanks around), integers
  beyond 64 bits, floats at the edges, non-ASCII and non-ASCII digits.
- ``from_schema``: values that one of fbcli's action schemas
  (``fbcli/schemas/<action>.json``) accepts, built from the schema itself.
  hypothesis-jsonschema would do this, but its release does not run with the
  hypothesis this project uses; the schemas need only a few keywords.
  ``from_schema`` knows exactly those and raises for any other, so a schema
  that grows a keyword fails here loudly instead of being fuzzed wrongly.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import Any, Final

from hypothesis import strategies as st

TOO_MANY_DIGITS: Final = "1" * (max(sys.get_int_max_str_digits(), 4300) + 1)
"""One digit more than ``int()`` converts (Python's default limit is 4300 digits)."""

_LONG_TEXT: Final = {
    "400 digits": "1" * 400,
    "400 digits and a fraction": "1" * 400 + ".5",
    "too many digits": TOO_MANY_DIGITS,
    "too many digits, negative": "-" + TOO_MANY_DIGITS,
    "4000 hex digits": "0x" + "f" * 4000,
}
"""Numeric text too long to show in hypothesis's reports: drawn by name (see ``texts``)."""

NUMERIC_TEXT: Final = (
    "0",
    "-1",
    "007",
    "12.50",
    " 7 ",
    "1e3",
    "-2.5E-3",
    "12.",
    ".5",
    "0x1F",
    "0o17",
    "0b101",
    "1e400",
    "1" * 25,
    "\u0663",  # ARABIC-INDIC DIGIT THREE: str.isdigit() but not ASCII
    "\u00b2",  # SUPERSCRIPT TWO: str.isdigit() but not a decimal digit
    "\u0663\u0660\u0662\u0664-\u0660\u0665-\u0660\u0661",  # a date in Arabic-Indic digits
)
TEXT_SAMPLES: Final = (
    "",
    " ",
    "true",
    "false",
    "null",
    "in",
    "out",
    "blocked",
    "2024-05-01",
    "0000-12-10",
    "2024-02-30",
    "2021-03-04T05:06:07Z",
    "https://example.com/p?q=1",
    "[object Object]",
    "{{userId}}",
    "$.properties.total",
    "a\u0000b",
    "\u00e9\u20ac\U0001f600",
    "x" * 130,
)

KEY_SAMPLES: Final = (
    "",
    "a",
    "b",
    "0",
    "1",
    "01",
    "$",
    "@path",
    "_metadata",
    "\u00e9",
    "1" * 30,
)

long_texts: Final = st.sampled_from(sorted(_LONG_TEXT)).map(_LONG_TEXT.__getitem__)
"""Numeric text of hundreds or thousands of digits, some longer than ``int()`` converts."""

numeric_texts: Final = st.sampled_from(NUMERIC_TEXT) | long_texts
"""Text JavaScript (and fbcli's coercions) may read as a number."""

texts: Final = st.one_of(
    st.text(max_size=8),
    st.sampled_from(TEXT_SAMPLES),
    st.sampled_from(NUMERIC_TEXT),
    long_texts,
)
"""Short text, and the text samples above."""

integers: Final = st.one_of(
    st.integers(),
    st.sampled_from([0, -1, 2**53 + 1, 2**63, -(2**63) - 1, 2**64]),
    st.sampled_from([400, -400]).map(lambda power: (10 ** abs(power)) * (1 if power > 0 else -1)),
)
"""Any integer a JSON reader keeps exact: within 64 bits and far beyond."""


def floats(*, finite: bool = True) -> st.SearchStrategy[float]:
    """Floats at the edges too (``-0.0``, subnormals, the largest double; NaN and inf if asked)."""
    edges = [0.0, -0.0, 1e-7, 5e-324, 1e16, 1e21, 1.7976931348623157e308, 2.5]
    if not finite:
        edges += [float("nan"), float("inf"), float("-inf")]
    return st.one_of(
        st.floats(allow_nan=not finite, allow_infinity=not finite), st.sampled_from(edges)
    )


def json_scalars(*, finite: bool = True) -> st.SearchStrategy[Any]:
    """``null``, booleans, numbers and text; NaN and infinities only when ``finite`` is false."""
    return st.one_of(st.none(), st.booleans(), integers, floats(finite=finite), texts)


def json_values(
    keys: st.SearchStrategy[str] | None = None, *, finite: bool = True, max_leaves: int = 12
) -> st.SearchStrategy[Any]:
    """Any JSON value (objects keyed by ``keys``), nested a few levels."""
    key_strategy = keys if keys is not None else st.text(max_size=4) | st.sampled_from(KEY_SAMPLES)
    return st.recursive(
        json_scalars(finite=finite),
        lambda children: st.one_of(
            st.lists(children, max_size=4), st.dictionaries(key_strategy, children, max_size=4)
        ),
        max_leaves=max_leaves,
    )


def either(first: st.SearchStrategy[Any], second: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Half ``first``, half ``second`` (``first | second`` weighs each of their branches alike)."""
    return st.booleans().flatmap(lambda pick: first if pick else second)


def deep(value: Any, depth: int, key: str = "a") -> Any:
    """``value`` wrapped in ``depth`` levels of objects and arrays, alternately."""
    for level in range(depth):
        value = {key: value} if level % 2 else [value]
    return value


# -- values from a JSON schema -----------------------------------------------------------

_ANNOTATIONS: Final = frozenset({"$schema", "title", "description"})
_KEYWORDS: Final = frozenset(
    {"type", "format", "items", "properties", "required", "additionalProperties"}
)

dates: Final = st.one_of(
    st.dates().map(lambda d: f"{d.year:04d}-{d.month:02d}-{d.day:02d}"),
    st.dates().map(lambda d: f"0000-{d.month:02d}-{d.day:02d}"),  # year 0000: no year
)
"""``YYYY-MM-DD``: the ``date`` format (validation.is_date)."""

date_times: Final = st.builds(
    lambda moment, separator, fraction, offset: (
        f"{moment.year:04d}-{moment.month:02d}-{moment.day:02d}{separator}"
        f"{moment.hour:02d}:{moment.minute:02d}:{moment.second:02d}{fraction}{offset}"
    ),
    st.datetimes(),
    st.sampled_from(["T", "t", " "]),
    st.sampled_from(["", ".5", ".123456"]),
    st.sampled_from(["Z", "z", "+00:00", "-05:30", "+23:59"]),
)
"""RFC 3339 date-times: the ``date-time`` format (validation.is_datetime)."""

uris: Final = st.builds(
    lambda scheme, slashes, rest: f"{scheme}:{slashes}{rest}",
    st.sampled_from(["https", "http", "mailto", "urn", "x+y-z.1", "HTTP"]),
    st.sampled_from(["", "/", "//"]),
    st.text("abcXYZ019-._~!$&'()*+,;=:@/?#", min_size=1, max_size=12).filter(
        lambda rest: rest.count("#") <= 1 and not rest.startswith(("?", "#", "/"))
    ),
)
"""Absolute URIs: a scheme, a colon, RFC 3986 characters, something after the scheme
(validation.is_uri)."""

_STRINGS: Final[Mapping[str | None, st.SearchStrategy[str]]] = {
    None: texts,
    "date": dates,
    "date-time": date_times,
    "uri": uris,
}


def from_schema(
    schema: Mapping[str, Any], *, free_objects: st.SearchStrategy[dict[str, Any]]
) -> st.SearchStrategy[Any]:
    """Values ``schema`` accepts (formats as fbcli checks them).

    An object schema without ``properties`` (a free-form object) draws from
    ``free_objects``.  Raises ``ValueError`` for a keyword, type or format it
    does not know.
    """
    unknown = set(schema) - _ANNOTATIONS - _KEYWORDS
    if unknown:
        raise ValueError(f"from_schema does not know the keywords {sorted(unknown)}")
    kind = schema.get("type")
    if "format" in schema and kind != "string":
        raise ValueError(f"a format on a {kind}")
    if kind == "string":
        fmt = schema.get("format")
        if fmt not in _STRINGS:
            raise ValueError(f"from_schema does not know the format {fmt!r}")
        return _STRINGS[fmt]
    if kind == "integer":
        return integers
    if kind == "number":
        return integers | floats()
    if kind == "boolean":
        return st.booleans()
    if kind == "array":
        return st.lists(from_schema(schema["items"], free_objects=free_objects), max_size=3)
    if kind == "object":
        properties: Mapping[str, Any] | None = schema.get("properties")
        if properties is None:
            return free_objects
        if schema.get("additionalProperties", True) is not False:
            raise ValueError("from_schema only knows closed objects (additionalProperties: false)")
        required = set(schema.get("required", ()))
        drawn = {
            name: from_schema(sub, free_objects=free_objects) for name, sub in properties.items()
        }
        return st.fixed_dictionaries(
            {name: drawn[name] for name in properties if name in required},
            optional={name: drawn[name] for name in properties if name not in required},
        )
    raise ValueError(f"from_schema does not know the type {kind!r}")
