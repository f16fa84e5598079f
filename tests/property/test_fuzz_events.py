"""Fuzzing the JSON Lines reader (``fbcli.events.read_events``) on arbitrary bytes.

Inputs are built line by line from JSON, broken JSON, NULs, invalid UTF-8,
byte order marks, blanks, lines around the length limit and far beyond it
(across the reader's 64 KiB chunks), joined by any mix of ``\\n``, ``\\r\\n``
and stray ``\\r``, plain or gzip-compressed (one member or two).  Each input is
checked against a model of the rules in the module docstring of
``fbcli.events``:

- it never raises;
- every non-blank line gives exactly one value, numbered with its line, in
  order; blank lines give nothing; a line over the limit is a ``LineError``
  that states its exact size;
- a line is an ``Event`` exactly when the standard library's ``json`` reads it
  (strict UTF-8, no byte order mark but on line 1) as an object with no NaN,
  infinity, lone surrogate or nesting deeper than the limit, and then with the
  same data;
- an input with no such line gives the one ``empty file`` error, line 0.

Corrupt gzip (cut short, a byte flipped) must still never raise, number its
lines in increasing order and end at the first read error.
"""

from __future__ import annotations

import gzip
import io
import json
import math
import re
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fbcli.events import MAX_LINE_BYTES, Event, LineError, read_events
from tests.support import examples
from tests.support.events import FRAGMENTS, JSON_VALUES, check_invariants
from tests.support.strategies import deep, json_values

# A failing example's huge values (thousands of digits) would make hypothesis warn about
# its repr, and filterwarnings = error would turn the warning into the reported failure.
pytestmark = pytest.mark.filterwarnings("ignore:Generating overly large repr")

BOM = b"\xef\xbb\xbf"
GZIP_MAGIC = b"\x1f\x8b"
COMPRESSED_MAGIC = (GZIP_MAGIC, b"BZh", b"\x28\xb5\x2f\xfd")
"""What input read as gzip, bzip2 or zstd starts with."""
CHUNK = 65_536  # the reader's buffer: long lines are skipped in chunks of this size
SOURCE = "f.jsonl"
LIMITS = st.sampled_from([4, 16, 64, MAX_LINE_BYTES])
DEPTHS = st.sampled_from([1, 2, 3, 100])

# -- the model ---------------------------------------------------------------------------


class _RefusedError(Exception):
    """A number the reader refuses: NaN, an infinity, a float that overflows."""


def _refuse(text: str) -> Any:
    raise _RefusedError(text)


def _finite(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):
        raise _RefusedError(text)
    return number


def _depth(value: Any) -> int:
    stack, deepest = [(value, 1)], 0
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict | list):
            deepest = max(deepest, level)
            members = item.values() if isinstance(item, dict) else item
            stack.extend((member, level + 1) for member in members)
    return deepest


def accepted(line: bytes, max_depth: int) -> dict[str, Any] | None:
    """The object the reader must accept ``line`` as (json is the reference), or ``None``."""
    try:
        text = line.decode("utf-8")
        data = json.loads(text, parse_constant=_refuse, parse_float=_finite)
        json.dumps(data, ensure_ascii=False).encode("utf-8")  # lone surrogates
    except (ValueError, RecursionError, _RefusedError):  # also UnicodeError, JSONDecodeError
        return None
    if not isinstance(data, dict) or _depth(data) > max_depth:
        return None
    return data


ARRAY_START = re.compile(rb"[ \t\r\n]*\[[ \t\r\n]*\{")
"""What a JSON array file starts with (after a byte order mark)."""


def check_array(items: list[Event | LineError], content: bytes, max_depth: int) -> None:
    """A JSON array file: its members, in order, when it is all valid; else a ``LineError``
    at some point (the reading stops at a JSON error)."""
    text = content.removeprefix(BOM)
    model = accepted(b'{"members":' + text + b"}", max_depth + 2)  # an object, an array
    members = model["members"] if model is not None else None
    if members is not None and all(isinstance(m, dict) and _depth(m) <= max_depth for m in members):
        assert [(i.index, repr(i.data)) for i in items if isinstance(i, Event)] == [
            (n, repr(m)) for n, m in enumerate(members)
        ]
        assert all(isinstance(i, Event) for i in items)
    else:
        assert any(isinstance(i, LineError) for i in items)


def expected_lines(content: bytes, max_line_bytes: int) -> dict[int, bytes | int]:
    """Each line that must give a value: its text, or its size when it is over the limit."""
    lines = content.split(b"\n")
    if lines[-1] == b"":
        lines.pop()
    expected: dict[int, bytes | int] = {}
    for number, line in enumerate(lines, start=1):
        size = len(line) - line.endswith(b"\r")
        if size > max_line_bytes:
            expected[number] = size
            continue
        text = line.removeprefix(BOM) if number == 1 else line
        if text.strip():  # bytes.strip(): the ASCII blanks, as bytes.isspace()
            expected[number] = text
    return expected


def check_against_model(
    data: bytes, content: bytes, *, max_line_bytes: int, max_depth: int
) -> list[Event | LineError]:
    items = list(
        read_events(io.BytesIO(data), SOURCE, max_line_bytes=max_line_bytes, max_depth=max_depth)
    )
    check_invariants(items, None)
    if data == content and content.startswith(COMPRESSED_MAGIC):  # read as compressed, and not
        check_gzip_failure(items)
        return items
    if ARRAY_START.match(content.removeprefix(BOM)):  # a JSON array file
        check_array(items, content, max_depth)
        return items
    expected = expected_lines(content, max_line_bytes)
    if not expected:
        assert items == [LineError(SOURCE, 0, "empty file: no events")]
        return items
    assert [item.line for item in items] == list(expected)
    for item in items:
        assert item.source == SOURCE
        line = expected[item.line]
        if isinstance(line, int):
            assert isinstance(item, LineError)
            assert item.message.startswith("line is longer than ")
            assert item.message.endswith(f" ({line:,} bytes)")
            continue
        model = accepted(line, max_depth)
        if model is None:
            assert isinstance(item, LineError), line
        else:
            assert isinstance(item, Event), (line, item)
            assert repr(item.data) == repr(model)
    return items


# -- inputs ------------------------------------------------------------------------------

OBJECT_LINES = st.one_of(
    json_values(max_leaves=6).map(lambda value: json.dumps({"v": value}).encode()),
    st.dictionaries(st.text(max_size=4), JSON_VALUES, max_size=3).map(
        lambda value: json.dumps(value, ensure_ascii=False).encode("utf-8", "surrogatepass")
    ),
    st.integers(min_value=0, max_value=4).map(lambda n: json.dumps(deep(1, n)).encode()),
    st.sampled_from([99, 100, 101]).map(lambda n: json.dumps({"a": deep(1, n - 1)}).encode()),
)
ODD_LINES = st.one_of(
    FRAGMENTS,
    st.binary(max_size=24),
    st.sampled_from(
        [
            b"\x00",
            b'{"a":"\x00"}',
            b'{"a":1}\x00',
            b"\x0b\x0c \t",  # blanks that bytes.isspace() knows
            b"\xc2\xa0",  # NO-BREAK SPACE: not a blank to the reader
            b'{"a":1}\r{"b":2}',  # a stray CR is not a line end
            b'{"a":"\\u0000"}',
            b'{"a":"\\ud800"}',
            b'{"\\udc00":1}',
            b'{"a":' + b"9" * 4301 + b"}",
            b'{"a":1e309}',
            b'{"a":-1e-400}',
            b"\xef\xbb\xbf{}",
            b"\xff\xfe{\x00}\x00",  # UTF-16
        ]
    ),
)
LINES = st.one_of(OBJECT_LINES, OBJECT_LINES, ODD_LINES)
ENDINGS = st.sampled_from([b"\n", b"\n", b"\r\n", b"\r\r\n", b"\n\r", b"\r", b""])


@st.composite
def contents(draw: st.DrawFn, lines: st.SearchStrategy[bytes] = LINES) -> bytes:
    """Lines, each with its own ending (or none: two lines run together)."""
    parts = draw(st.lists(st.tuples(lines, ENDINGS), max_size=8))
    head = draw(st.sampled_from([b"", b"", BOM, b"\n", BOM + b"\n"]))
    return head + b"".join(line + ending for line, ending in parts)


def compress(content: bytes, members: int) -> bytes:
    if members == 0:
        return content
    if members == 1:
        return gzip.compress(content, mtime=0)
    middle = len(content) // 2
    return gzip.compress(content[:middle], mtime=0) + gzip.compress(content[middle:], mtime=0)


@settings(max_examples=examples(400), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    content=contents(),
    members=st.sampled_from([0, 0, 1, 2]),
    max_line_bytes=LIMITS,
    max_depth=DEPTHS,
)
def test_fuzz_reader_lines_match_the_model(
    content: bytes, members: int, max_line_bytes: int, max_depth: int
) -> None:
    data = compress(content, members)
    check_against_model(data, content, max_line_bytes=max_line_bytes, max_depth=max_depth)


@settings(max_examples=examples(300), deadline=None)
@given(data=st.binary(max_size=400), max_line_bytes=LIMITS, max_depth=DEPTHS)
def test_fuzz_reader_arbitrary_bytes_match_the_model(
    data: bytes, max_line_bytes: int, max_depth: int
) -> None:
    check_against_model(data, data, max_line_bytes=max_line_bytes, max_depth=max_depth)


@st.composite
def huge_lines(draw: st.DrawFn) -> bytes:
    """A line just under, at or over a chunk boundary of the reader, often ending in CR."""
    limit = draw(st.sampled_from([16, MAX_LINE_BYTES]))
    chunks = draw(st.integers(min_value=0, max_value=2))
    offset = draw(st.integers(min_value=-3, max_value=3))
    size = max(0, limit + 2 + chunks * CHUNK + offset)
    body = draw(st.sampled_from([b"x", b'{"a":"', b" "]))
    return (body * size)[:size] + draw(st.sampled_from([b"", b"\r"]))


@settings(max_examples=examples(60), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    content=contents(st.one_of(huge_lines(), LINES)),
    max_line_bytes=st.sampled_from([16, MAX_LINE_BYTES]),
    members=st.sampled_from([0, 1]),
)
def test_fuzz_reader_huge_lines_match_the_model(
    content: bytes, max_line_bytes: int, members: int
) -> None:
    data = compress(content, members)
    check_against_model(data, content, max_line_bytes=max_line_bytes, max_depth=100)


@settings(max_examples=examples(200), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    content=contents(),
    cut=st.integers(min_value=0),
    flip=st.none() | st.tuples(st.integers(min_value=0), st.integers(min_value=1, max_value=255)),
)
def test_fuzz_reader_corrupt_gzip_fails_cleanly(
    content: bytes, cut: int, flip: tuple[int, int] | None
) -> None:
    data = bytearray(gzip.compress(content, mtime=0))
    if flip is not None:
        data[flip[0] % len(data)] ^= flip[1]
    data = data[: len(data) - cut % len(data)]
    items = list(read_events(io.BytesIO(bytes(data)), SOURCE))
    check_invariants(items, None)
    check_gzip_failure(items, required=False)  # a flipped byte may leave the data readable


def check_gzip_failure(items: list[Event | LineError], *, required: bool = True) -> None:
    """Lines in increasing order, ended by the one error that stopped the reading."""
    numbers = [item.line for item in items if item.line]
    assert numbers == sorted(set(numbers))
    failures = [
        n
        for n, item in enumerate(items)
        if isinstance(item, LineError)
        and item.message.startswith(("gzip data", "bzip2 data", "zstd data", "read error"))
    ]
    assert failures == [len(items) - 1] or (failures == [] and not required)
