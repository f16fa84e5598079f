"""Tests for fbcli.events: JSONL (plain or gzip, any stream) -> Event | LineError."""

from __future__ import annotations

import gzip
import io
import json
import os
import threading
import tracemalloc
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fbcli.events import MAX_DEPTH, MAX_LINE_BYTES, Event, LineError, read_events
from tests.support.events import BOM, FRAGMENTS, JSON_VALUES, check_invariants

GZIP_HEADER = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"  # deflate, no flags, mtime 0
THREE_LINES = b'{"a":1}\n{"a":2}\n{"a":3}\n'


def read(data: bytes, **options: int) -> list[Event | LineError]:
    return list(read_events(io.BytesIO(data), "f.jsonl", **options))


def summary(items: list[Event | LineError]) -> list[tuple[int, object]]:
    """(line, data) for events and (line, message) for errors, for compact asserts."""
    return [(i.line, i.data if isinstance(i, Event) else i.message) for i in items]


def only_error(data: bytes, **options: int) -> LineError:
    items = read(data, **options)
    assert len(items) == 1
    assert isinstance(items[0], LineError)
    return items[0]


class TrickleStream(io.BytesIO):
    """A stream that returns at most one byte per read, like a slow pipe."""

    def read(self, size: int | None = -1, /) -> bytes:
        return super().read(1)


class FailingStream(io.BytesIO):
    """A stream whose reads fail with EIO once ``good`` bytes have been read."""

    def __init__(self, data: bytes, good: int) -> None:
        super().__init__(data)
        self.good = good

    def read(self, size: int | None = -1, /) -> bytes:
        if self.tell() >= self.good:
            raise OSError(5, "Input/output error")
        limit = self.good - self.tell()
        return super().read(limit if size is None or size < 0 else min(size, limit))


# --- the values -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"messageId": "m-1"}, "m-1"),
        ({"messageId": 42}, "42"),
        ({"messageId": True}, None),
        ({"messageId": 1.5}, None),
        ({"messageId": None}, None),
        ({}, None),
    ],
)
def test_message_id(data: dict[str, Any], expected: str | None) -> None:
    assert Event("f", 1, data).message_id == expected


def test_where() -> None:
    assert LineError("f.jsonl", 3, "x").where == "f.jsonl:3"
    assert LineError("-", 0, "x").where == "-"


def test_values_are_frozen() -> None:
    event = Event("f", 1, {})
    with pytest.raises(AttributeError):
        event.line = 2  # type: ignore[misc]


def test_defaults() -> None:
    assert MAX_LINE_BYTES == 1_048_576
    assert MAX_DEPTH == 100


# --- good input -----------------------------------------------------------------------------


def test_good_lines_yield_events() -> None:
    items = read(b'{"type":"track","messageId":"m-1"}\n{"type":"identify"}\n')
    assert items == [
        Event("f.jsonl", 1, {"type": "track", "messageId": "m-1"}),
        Event("f.jsonl", 2, {"type": "identify"}),
    ]


def test_bom_and_crlf_file_yields_only_events() -> None:
    items = read(BOM + b'{"a":"\xc3\xa9"}\r\n\r\n{"b":[1,2]}\r\n{"c":null}')
    assert items == [
        Event("f.jsonl", 1, {"a": "é"}),
        Event("f.jsonl", 3, {"b": [1, 2]}),
        Event("f.jsonl", 4, {"c": None}),
    ]


def test_last_line_without_newline() -> None:
    assert summary(read(b'{"a":1}\n{"a":2}')) == [(1, {"a": 1}), (2, {"a": 2})]


def test_blank_lines_are_skipped_but_counted() -> None:
    items = read(b'\n  \n{"a":1}\n\t\r\n\n{"a":2}\n\n')
    assert summary(items) == [(3, {"a": 1}), (6, {"a": 2})]


def test_bom_only_counts_at_the_start() -> None:
    items = read(b'{"a":1}\n' + BOM + b'{"a":2}\n')
    assert summary(items) == [(1, {"a": 1}), (2, "invalid JSON at column 1: Expecting value")]


def test_stream_is_not_closed() -> None:
    stream = io.BytesIO(b'{"a":1}\n')
    assert len(list(read_events(stream, "-"))) == 1
    assert not stream.closed


def test_short_reads() -> None:
    stream = TrickleStream(b'{"a":1}\n\n{"b":2}')
    assert summary(list(read_events(stream, "-"))) == [(1, {"a": 1}), (3, {"b": 2})]


def test_paired_surrogate_escape_is_fine() -> None:
    assert summary(read(b'{"a":"\\ud83d\\ude00","b":"\\\\ud800"}')) == [
        (1, {"a": "\U0001f600", "b": "\\ud800"})
    ]


def test_underflowing_float_is_fine() -> None:
    assert summary(read(b'{"a":1e-999}')) == [(1, {"a": 0.0})]


# --- bad lines ------------------------------------------------------------------------------


def test_invalid_utf8() -> None:
    assert only_error(b'{"a":"\xff"}').message == "invalid UTF-8 at byte 7 (invalid start byte)"


def test_encoded_surrogate_is_invalid_utf8() -> None:
    error = only_error(b'{"a":"\xed\xa0\x80"}')
    assert error.message == "invalid UTF-8 at byte 7 (invalid continuation byte)"


def test_truncated_utf8() -> None:
    error = only_error(b'{"a":"\xc3')
    assert error.message == "invalid UTF-8 at byte 7 (unexpected end of data)"


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (b'{"type": "track" "event": "x"}', "invalid JSON at column 18: Expecting ',' delimiter"),
        (b'{"a":1', "invalid JSON at column 7: Expecting ',' delimiter"),
        (b'{"a":1\n', "invalid JSON at column 7: Expecting ',' delimiter"),
        (b'{"a":1\r\n', "invalid JSON at column 7: Expecting ',' delimiter"),
        (b'{"a":\r\n', "invalid JSON at column 6: Expecting value"),
        (b'{"a":1}\rx\r\n', "invalid JSON at column 9: Extra data"),
        (b"{'a':1}", "invalid JSON at column 2: Expecting property name enclosed in double quotes"),
        (b'{"a":1} x', "invalid JSON at column 9: Extra data"),
        (b'{"a":"\\x"}', "invalid JSON at column 7: Invalid \\escape"),
        (b'{"a":"\\Ud800"}', "invalid JSON at column 7: Invalid \\escape"),
        (b"\x0c{}", "invalid JSON at column 1: Expecting value"),
        # A line cut off inside a string: the same message whatever its line ending.
        (b'{"type":"track","ev', "invalid JSON at column 17: Unterminated string starting here"),
        (b'{"type":"track","ev\n', "invalid JSON at column 17: Unterminated string starting here"),
        (
            b'{"type":"track","ev\r\n',
            "invalid JSON at column 17: Unterminated string starting here",
        ),
        (b'{"a":"x\ty"}', "invalid JSON at column 8: Invalid control character U+0009 here"),
        (b'{"a":"x\ry"}\r\n', "invalid JSON at column 8: Invalid control character U+000D here"),
    ],
)
def test_invalid_json(line: bytes, message: str) -> None:
    assert only_error(line).message == message


@pytest.mark.parametrize(
    ("line", "kind"),
    [
        (b"[1, 2]", "an array"),
        (b'"text"', "a string"),
        (b"12.5", "a number"),
        (b"-3", "a number"),
        (b"true", "a boolean"),
        (b"false", "a boolean"),
        (b"null", "null"),
    ],
)
def test_not_an_object(line: bytes, kind: str) -> None:
    assert only_error(line).message == f"expected a JSON object, got {kind}"


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (b'{"a": NaN}', "non-finite number NaN is not valid JSON"),
        (b'{"a": [Infinity]}', "non-finite number Infinity is not valid JSON"),
        (b'{"a": {"b": -Infinity}}', "non-finite number -Infinity is not valid JSON"),
        (b"NaN", "non-finite number NaN is not valid JSON"),
        (b'{"a": 1e999}', "number 1e999 is out of range (it overflows to infinity)"),
        (b'{"a": -1.5E+400}', "number -1.5E+400 is out of range (it overflows to infinity)"),
        (
            b'{"a": ' + b"9" * 400 + b".0}",
            f"number {'9' * 37}... is out of range (it overflows to infinity)",
        ),
    ],
)
def test_non_finite_numbers(line: bytes, message: str) -> None:
    assert only_error(line).message == message


def test_integer_with_too_many_digits() -> None:
    error = only_error(b'{"a": ' + b"7" * 5000 + b"}")
    assert error.message == "integer is too long (more than 4,300 digits)"


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (b'{"a":"\\ud800"}', "invalid Unicode escape \\ud800: lone surrogate"),
        (b'{"a":["x","\\uDFFF"]}', "invalid Unicode escape \\udfff: lone surrogate"),
        (b'{"\\uDc00":1}', "invalid Unicode escape \\udc00: lone surrogate"),
        (b'{"a":"\\ude00\\ud83d"}', "invalid Unicode escape \\ude00: lone surrogate"),
    ],
)
def test_lone_surrogate(line: bytes, message: str) -> None:
    assert only_error(line).message == message


def nested(depth: int) -> bytes:
    """An object whose arrays nest ``depth`` levels in all (the object is level 1)."""
    return b'{"a":' + b"[" * (depth - 1) + b"]" * (depth - 1) + b"}"


def test_nesting_up_to_the_limit_is_fine() -> None:
    (event,) = read(nested(100))
    assert isinstance(event, Event)


def test_nesting_deeper_than_the_limit() -> None:
    assert only_error(nested(101)).message == "nesting deeper than 100 levels"


def test_nesting_limit_is_an_option() -> None:
    items = read(nested(3) + b"\n" + nested(4) + b"\n" + b'{"a":[{},{},{},{}]}', max_depth=3)
    assert summary(items) == [
        (1, {"a": [[]]}),
        (2, "nesting deeper than 3 levels"),
        (3, {"a": [{}, {}, {}, {}]}),
    ]


def test_brackets_in_strings_are_not_nesting() -> None:
    line = b'{"a":"' + b"[{" * 200 + b'"}'
    assert summary(read(line)) == [(1, {"a": "[{" * 200})]


@pytest.mark.parametrize("line", [b"[" * 100_000, nested(50_000), b'{"a":' * 50_000])
def test_very_deep_nesting_is_caught(line: bytes) -> None:
    assert only_error(line).message == "nesting deeper than 100 levels"


def test_line_longer_than_1_mb() -> None:
    exact = b'{"a":"' + b"x" * (MAX_LINE_BYTES - 8) + b'"}'
    assert len(exact) == MAX_LINE_BYTES
    items = read(exact + b"\r\n" + exact + b"x\n" + b'{"b":1}')
    assert summary(items) == [
        (1, {"a": "x" * (MAX_LINE_BYTES - 8)}),
        (2, "line is longer than 1 MB (1,048,577 bytes)"),
        (3, {"b": 1}),
    ]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b'{"a":"xxx"}\n', "line is longer than 10 bytes (11 bytes)"),
        (b'{"a":"xxx"}\r\n', "line is longer than 10 bytes (11 bytes)"),
        (b'{"a":"xxx"}', "line is longer than 10 bytes (11 bytes)"),
        (b'{"a":"xxx"}\r', "line is longer than 10 bytes (11 bytes)"),
        (b'{"a":"xxxx"}\n', "line is longer than 10 bytes (12 bytes)"),
        (b'{"a":"xxxxx"}\r\n', "line is longer than 10 bytes (13 bytes)"),
        (b'{"a":"xxxxx"}\r', "line is longer than 10 bytes (13 bytes)"),
        (b'{"a":"xxxxx"}', "line is longer than 10 bytes (13 bytes)"),
        (b'{"a":"xxxx"}\r\n', "line is longer than 10 bytes (12 bytes)"),  # \r|\n split
        (b'{"a":"xxxx"}\r', "line is longer than 10 bytes (12 bytes)"),
        (b'{"a":"' + b"x" * 200_000 + b'"}\r\n', "line is longer than 10 bytes (200,008 bytes)"),
        (b'{"a":"' + b"x" * 200_000 + b'"}\n', "line is longer than 10 bytes (200,008 bytes)"),
        (b'{"a":"' + b"x" * 200_000 + b'"}\r', "line is longer than 10 bytes (200,008 bytes)"),
        (b'{"a":"' + b"x" * 200_000 + b'"}', "line is longer than 10 bytes (200,008 bytes)"),
        (b'{"a":"' + b"x" * 131_064 + b'"}', "line is longer than 10 bytes (131,072 bytes)"),
    ],
)
def test_long_line_sizes(data: bytes, message: str) -> None:
    assert summary(read(data, max_line_bytes=10)) == [(1, message)]
    if data.endswith(b"\n"):
        items = read(data + b'{"b":1}', max_line_bytes=10)
        assert summary(items) == [(1, message), (2, {"b": 1})]


def test_line_at_the_limit_is_fine() -> None:
    assert summary(read(b'{"a":"xx"}\r\n{"b":1}', max_line_bytes=10)) == [
        (1, {"a": "xx"}),
        (2, {"b": 1}),
    ]


@pytest.mark.parametrize(("limit", "shown"), [(2048, "2 KB"), (3 * 1_048_576, "3 MB")])
def test_line_limit_units(limit: int, shown: str) -> None:
    error = only_error(b'{"a":"' + b"x" * limit + b'"}', max_line_bytes=limit)
    assert error.message == f"line is longer than {shown} ({limit + 8:,} bytes)"


def test_long_line_is_read_in_bounded_memory() -> None:
    stream = io.BytesIO(b'{"a":"' + b"x" * (8 * MAX_LINE_BYTES) + b'"}\n{"b":1}\n')
    tracemalloc.start()
    try:
        items = list(read_events(stream, "big.jsonl"))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert summary(items) == [(1, "line is longer than 1 MB (8,388,616 bytes)"), (2, {"b": 1})]
    assert peak < 3 * MAX_LINE_BYTES


# --- empty input ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "data",
    [b"", b"\n", b"  \r\n\n\t\n", BOM, BOM + b"\r\n", gzip.compress(b""), gzip.compress(b"\n")],
)
def test_empty_file(data: bytes) -> None:
    assert read(data) == [LineError("f.jsonl", 0, "empty file: no events")]


def test_file_of_bad_lines_is_not_empty() -> None:
    assert summary(read(b"[]\n")) == [(1, "expected a JSON object, got an array")]


# --- the run goes on ------------------------------------------------------------------------


def test_reading_continues_after_each_bad_line() -> None:
    lines = [
        b'{"n":1}',
        b"",
        b'{"a":"\xff"}',
        b'{"a":',
        b"[]",
        b'{"a":NaN}',
        b'{"a":1e999}',
        b'{"a":' + b"1" * 5000 + b"}",
        b'{"a":"\\ud800"}',
        nested(101),
        b"[" * 10_000,
        b'{"a":"' + b"x" * 300 + b'"}',
        b'{"n":2}',
    ]
    items = read(b"\n".join(lines) + b"\n", max_line_bytes=200)
    assert summary(items) == [
        (1, {"n": 1}),
        (3, "invalid UTF-8 at byte 7 (invalid start byte)"),
        (4, "invalid JSON at column 6: Expecting value"),
        (5, "expected a JSON object, got an array"),
        (6, "non-finite number NaN is not valid JSON"),
        (7, "number 1e999 is out of range (it overflows to infinity)"),
        (8, "line is longer than 200 bytes (5,006 bytes)"),
        (9, "invalid Unicode escape \\ud800: lone surrogate"),
        (10, "line is longer than 200 bytes (206 bytes)"),
        (11, "line is longer than 200 bytes (10,000 bytes)"),
        (12, "line is longer than 200 bytes (308 bytes)"),
        (13, {"n": 2}),
    ]
    items = read(b"\n".join(lines) + b"\n")
    assert [item.line for item in items] == [1, *range(3, 14)]
    assert summary(items)[6:10] == [
        (8, "integer is too long (more than 4,300 digits)"),
        (9, "invalid Unicode escape \\ud800: lone surrogate"),
        (10, "nesting deeper than 100 levels"),
        (11, "nesting deeper than 100 levels"),
    ]


# --- gzip -----------------------------------------------------------------------------------


def test_gzip_is_detected_by_content() -> None:
    items = read(gzip.compress(BOM + b'{"a":1}\r\n\n{"a":2}'))
    assert summary(items) == [(1, {"a": 1}), (3, {"a": 2})]


def test_gzip_with_several_members_and_padding() -> None:
    data = gzip.compress(THREE_LINES) + b"\0\0" + gzip.compress(b'{"a":4}')
    assert [item.line for item in read(data)] == [1, 2, 3, 4]


def test_gzip_through_a_pipe() -> None:
    lines = [json.dumps({"messageId": f"m-{n}", "n": n}).encode() for n in range(20_000)]
    payload = gzip.compress(b"\n".join(lines))
    read_fd, write_fd = os.pipe()

    def write() -> None:
        with os.fdopen(write_fd, "wb") as pipe:
            pipe.write(payload)

    writer = threading.Thread(target=write)
    writer.start()
    try:
        with os.fdopen(read_fd, "rb", buffering=0) as pipe:
            assert not pipe.seekable()
            items = list(read_events(pipe, "-"))
    finally:
        writer.join()
    assert len(items) == 20_000
    assert all(isinstance(item, Event) for item in items)
    assert items[-1] == Event("-", 20_000, {"messageId": "m-19999", "n": 19_999})


def test_gzip_with_short_reads() -> None:
    stream = TrickleStream(gzip.compress(THREE_LINES))
    assert [item.line for item in read_events(stream, "-")] == [1, 2, 3]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"\x1f\x8b", "gzip data is truncated: the compressed stream ended early"),
        (GZIP_HEADER, "gzip data is truncated: the compressed stream ended early"),
        (
            GZIP_HEADER[:2] + b"\x09" + GZIP_HEADER[3:],
            "gzip data is corrupt: unknown compression method",
        ),
        (GZIP_HEADER + b"\xff" * 20, "gzip data is corrupt: invalid block type"),
    ],
)
def test_unreadable_gzip_start(data: bytes, message: str) -> None:
    assert read(data) == [LineError("f.jsonl", 0, message)]


def with_trailer(crc: bytes | None = None, size: bytes | None = None) -> bytes:
    data = bytearray(gzip.compress(THREE_LINES, mtime=0))
    if crc is not None:
        data[-8:-4] = crc
    if size is not None:
        data[-4:] = size
    return bytes(data)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (with_trailer()[:-5], "gzip data is truncated: the compressed stream ended early"),
        (
            with_trailer() + b"\x1f\x8b\x08",
            "gzip data is truncated: the compressed stream ended early",
        ),
        (with_trailer() + GZIP_HEADER + b"\xff", "gzip data is corrupt: invalid block type"),
        (
            with_trailer() + b"junk",
            "gzip data is corrupt: unexpected data after the end of the compressed stream",
        ),
        (with_trailer(crc=b"\1\0\0\0"), "gzip data is corrupt: CRC check failed 0x1 != 0x6d109ffd"),
        (with_trailer(size=b"\0\0\0\0"), "gzip data is corrupt: incorrect length of data produced"),
    ],
)
def test_corrupt_gzip_stops_at_the_line_being_read(data: bytes, message: str) -> None:
    assert summary(read(data)) == [(1, {"a": 1}), (2, {"a": 2}), (3, {"a": 3}), (4, message)]


def test_truncated_gzip_keeps_the_lines_before() -> None:
    lines = b"".join(
        json.dumps({"n": n, "pad": "x" * (n % 97)}).encode() + b"\n" for n in range(5000)
    )
    data = gzip.compress(lines)
    items = read(data[: len(data) // 2])
    *events, last = items
    assert len(events) > 100
    assert [event.line for event in events] == list(range(1, len(events) + 1))
    assert all(isinstance(event, Event) for event in events)
    assert last == LineError(
        "f.jsonl", len(events) + 1, "gzip data is truncated: the compressed stream ended early"
    )


# --- I/O errors -----------------------------------------------------------------------------


def test_read_error_at_the_start() -> None:
    items = list(read_events(FailingStream(b'{"a":1}\n', good=0), "f.jsonl"))
    assert items == [LineError("f.jsonl", 0, "read error: [Errno 5] Input/output error")]


def test_read_error_stops_at_the_line_being_read() -> None:
    data = b'{"a":1}\n{"a":2}\n{"a":3}\n'
    items = list(read_events(FailingStream(data, good=12), "f.jsonl"))
    assert summary(items) == [(1, {"a": 1}), (2, "read error: [Errno 5] Input/output error")]


def test_read_error_inside_gzip() -> None:
    data = gzip.compress(THREE_LINES)
    items = list(read_events(FailingStream(data, good=5), "f.jsonl"))
    assert items == [LineError("f.jsonl", 0, "read error: [Errno 5] Input/output error")]


# --- properties -----------------------------------------------------------------------------


LIMITS = st.sampled_from([4, 16, 64, MAX_LINE_BYTES])
DEPTHS = st.sampled_from([1, 2, 3, MAX_DEPTH])


@settings(max_examples=150, deadline=None)
@given(data=st.binary(max_size=300), max_line_bytes=LIMITS, max_depth=DEPTHS)
def test_any_bytes(data: bytes, max_line_bytes: int, max_depth: int) -> None:
    items = read(data, max_line_bytes=max_line_bytes, max_depth=max_depth)
    check_invariants(items, data.count(b"\n") + 1)


@settings(max_examples=50, deadline=None)
@given(data=st.binary(max_size=100))
def test_any_bytes_after_gzip_magic(data: bytes) -> None:
    check_invariants(read(b"\x1f\x8b" + data), None)


LINES = st.one_of(
    JSON_VALUES.map(lambda value: json.dumps(value).encode()),
    JSON_VALUES.map(lambda value: json.dumps(value, ensure_ascii=False).encode()),
    FRAGMENTS,
    st.binary(max_size=20),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    lines=st.lists(LINES, max_size=8),
    separator=st.sampled_from([b"\n", b"\r\n"]),
    compress=st.booleans(),
    max_line_bytes=LIMITS,
    max_depth=DEPTHS,
)
def test_jsonish_lines(
    lines: list[bytes], separator: bytes, compress: bool, max_line_bytes: int, max_depth: int
) -> None:
    content = separator.join(lines)
    data = gzip.compress(content) if compress else content
    items = read(data, max_line_bytes=max_line_bytes, max_depth=max_depth)
    check_invariants(items, content.count(b"\n") + 1)


OBJECTS = st.dictionaries(st.text(max_size=5), JSON_VALUES, max_size=4)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    objects=st.lists(OBJECTS, min_size=1, max_size=6),
    separator=st.sampled_from([b"\n", b"\r\n"]),
    ascii_only=st.booleans(),
    compress=st.booleans(),
)
def test_objects_round_trip(
    objects: list[dict[str, Any]], separator: bytes, ascii_only: bool, compress: bool
) -> None:
    content = separator.join(json.dumps(o, ensure_ascii=ascii_only).encode() for o in objects)
    data = gzip.compress(content) if compress else content
    assert read(data) == [Event("f.jsonl", n, o) for n, o in enumerate(objects, start=1)]


# -- bzip2 and zstd -------------------------------------------------------------------------


def test_bzip2_is_detected_by_content_and_may_hold_several_streams() -> None:
    import bz2

    data = bz2.compress(THREE_LINES) + bz2.compress(b'{"a":4}\n')
    assert summary(read(data)) == [(1, {"a": 1}), (2, {"a": 2}), (3, {"a": 3}), (4, {"a": 4})]


@pytest.mark.parametrize(
    ("cut", "message"),
    [
        (lambda d: d[:20], "bzip2 data is truncated: the compressed stream ended early"),
        (lambda d: b"BZh9" + b"x" * 40, "bzip2 data is corrupt: invalid data stream"),
    ],
)
def test_broken_bzip2(cut: Any, message: str) -> None:
    import bz2

    assert only_error(cut(bz2.compress(THREE_LINES))) == LineError("f.jsonl", 0, message)


def test_zstd_frames_are_read_one_after_the_other() -> None:
    zstandard = pytest.importorskip("zstandard")
    compress = zstandard.ZstdCompressor().compress
    data = compress(THREE_LINES) + compress(b'{"a":4}\n')
    assert summary(read(data)) == [(1, {"a": 1}), (2, {"a": 2}), (3, {"a": 3}), (4, {"a": 4})]


def test_zstd_truncated_or_corrupt() -> None:
    zstandard = pytest.importorskip("zstandard")
    lines = b"".join(b'{"n":%d}\n' % n for n in range(20_000))
    data = zstandard.ZstdCompressor(write_content_size=False).compress(lines)
    items = read(data[: len(data) // 2])
    assert isinstance(items[-1], LineError)
    assert items[-1].message == "zstd data is truncated: the compressed stream ended early"
    assert all(isinstance(i, Event) for i in items[:-1])
    bad = only_error(b"\x28\xb5\x2f\xfd" + b"garbage" * 3)
    assert bad.line == 0
    assert bad.message.startswith("zstd data is corrupt: ")


def test_zstd_without_zstandard_says_how_to_get_it(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    from fbcli.events import ZSTD_MISSING

    monkeypatch.setitem(sys.modules, "zstandard", None)
    assert only_error(b"\x28\xb5\x2f\xfd\x00\x00") == LineError("f.jsonl", 0, ZSTD_MISSING)
    assert "pip install 'fbcli[zstd]'" in ZSTD_MISSING


# -- batch envelopes and JSON array files ---------------------------------------------------


def test_a_batch_envelope_is_read_as_its_events() -> None:
    envelope = {
        "batch": [
            {"type": "track", "event": "A", "context": {"ip": "own"}},
            {"type": "identify", "userId": "u1"},
            5,
        ],
        "context": {"ip": "1.2.3.4", "library": {"name": "analytics-node"}},
        "integrations": {"All": False},
        "writeKey": "w",
    }
    items = read(b'{"type":"track"}\n' + json.dumps(envelope).encode() + b"\n")
    first, a, b, bad = items
    assert isinstance(first, Event)
    assert (first.line, first.index, first.at) == (1, None, "1")
    assert isinstance(a, Event)
    assert isinstance(b, Event)
    assert [(e.line, e.index, e.at) for e in (a, b)] == [(2, 0, "2[0]"), (2, 1, "2[1]")]
    # The envelope's context and integrations apply to each event; the event's own win.
    assert a.data["context"] == {"ip": "own", "library": {"name": "analytics-node"}}
    assert b.data["context"] == {"ip": "1.2.3.4", "library": {"name": "analytics-node"}}
    assert b.data["integrations"] == {"All": False}
    assert bad == LineError("f.jsonl", 2, "batch[2]: expected a JSON object, got a number")


def test_an_event_with_a_batch_member_is_an_event() -> None:
    line = b'{"type":"track","event":"x","batch":[1]}\n'
    (item,) = read(line)
    assert isinstance(item, Event)
    assert item.index is None


def test_a_json_array_file_is_read_as_events_at_their_lines() -> None:
    data = b'[\n  {"type": "track",\n   "event": "A"},\n  {"type": "identify"}\n]\n'
    items = read(data)
    assert [(i.line, i.index) for i in items if isinstance(i, Event)] == [(2, 0), (4, 1)]
    assert read(BOM + b'[{"a":1},{"a":2}]') == [
        Event("f.jsonl", 1, {"a": 1}, index=0),
        Event("f.jsonl", 1, {"a": 2}, index=1),
    ]


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (
            b'[{"a":1},\n 5,\n {"a":NaN}]',
            [
                (2, "array[1]: expected a JSON object, got a number"),
                (3, "array[2]: non-finite number NaN is not valid JSON"),
            ],
        ),
        (
            b'[{"a":1}\n {"a":2}]',
            [(2, "invalid JSON at column 2: expected ',' or ']' after array[0]")],
        ),
        (b'[{"a":1},\n {"a":', [(2, "invalid JSON at column 7: Expecting value")]),
        (b'[{"a":1}]\n{"a":2}\n', [(2, "invalid JSON at column 1: data after the array")]),
        (
            b'[{"a":1e400}]',
            [(1, "array[0]: number 1e400 is out of range (it overflows to infinity)")],
        ),
        (b'[{"a":"\\ud800"}]', [(1, "array[0]: invalid Unicode escape \\ud800: lone surrogate")]),
    ],
)
def test_broken_json_array_files(data: bytes, expected: list[tuple[int, str]]) -> None:
    errors = [(i.line, i.message) for i in read(data) if isinstance(i, LineError)]
    assert errors == expected


def test_a_json_array_file_over_the_limit_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    from fbcli import events

    monkeypatch.setattr(events, "MAX_ARRAY_BYTES", 20)
    error = only_error(b'[{"a":1},{"a":2},{"a":3}]')
    assert error.line == 0
    assert error.message.startswith("a JSON array file over ")
    assert "jq -c '.[]' FILE > FILE.jsonl" in error.message


@pytest.mark.parametrize("data", [b"[1, 2]\n", b"[]\n", b' [ "x" ]\n'])
def test_a_line_holding_another_array_is_still_a_line(data: bytes) -> None:
    assert only_error(data) == LineError("f.jsonl", 1, "expected a JSON object, got an array")
