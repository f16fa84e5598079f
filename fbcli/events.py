"""Read a JSON Lines stream into ``Event`` and ``LineError`` values.

``read_events(stream, source)`` turns one binary stream (a file, a pipe,
standard input) into a stream of values, one per non-blank line:

- ``Event``: the line held one JSON object;
- ``LineError``: the line (or, with line 0, the whole input) cannot be used,
  with a one-line message that says why.

It never opens paths, never prints and never raises on bad input: a broken
line is reported and reading continues with the next one; a stream that
cannot be read further (corrupt gzip, an I/O error) ends with a ``LineError``.

The rules, in the order they are checked for each line:

- Compressed input is recognised by its magic bytes, not by file name: gzip
  (``1f 8b``), bzip2 (``BZh``) and zstd (``28 b5 2f fd``; with the optional
  ``zstandard`` package, else the input is refused with a line saying how to
  install it).  This works on non-seekable streams (pipes): the first four
  bytes are read and put back in front of the stream.  A JSON line starts
  with ``{`` or a space, never with those bytes.
- Lines end at ``\\n``; a trailing ``\\r`` (CRLF) and a UTF-8 byte order mark
  at the start of the input are ignored; the last line needs no newline.
  Lines are numbered from 1; blank lines are skipped but still counted.
- A line longer than ``max_line_bytes`` (not counting its line ending) is
  skipped, read in bounded chunks so it is never held in memory.
- The line is decoded as strict UTF-8 (so encoded surrogates are rejected,
  unlike ``json.loads(bytes)``, which also guesses UTF-16/32) and parsed as
  JSON. ``NaN``/``Infinity`` literals, numbers that overflow to infinity,
  integers longer than Python's int digit limit, nesting deeper than
  ``max_depth`` and lone surrogate escapes (``"\\ud800"``, which could not be
  written out as UTF-8 later) are rejected, so every ``Event.data`` can be
  encoded by ``json.dumps(..., allow_nan=False)`` and then to UTF-8.
- The value must be a JSON object.  A batch envelope (an object with a
  ``batch`` array and no ``type`` or ``event``: Segment's ``/v1/batch`` body)
  is its events instead, each at the envelope's line with its ``index``
  (``_batch_events``).
- An input that starts with ``[`` then ``{`` is a JSON array file, not JSON
  Lines: its objects are read one by one, each at the line it starts on, with
  its ``index`` (``_read_array``; at most ``MAX_ARRAY_BYTES``).
- Input without a single non-blank line gives ``LineError(source, 0,
  "empty file: no events")``.

The happy path per line is: ``readline``, a length check, one
``bytes.translate`` (digit runs and opening brackets, counted in one pass),
``orjson.loads`` and a type check. Nesting is only measured when the line
holds more than ``max_depth`` opening brackets.

orjson is the fast path; the standard library's ``json`` is the reference,
and the fallback when orjson is not installed. orjson only decides a line
when it agrees with ``json``, which is when it accepts the line and the line
has no run of 19 or more digits: orjson accepts strictly valid UTF-8 and
RFC 8259 JSON with no lone surrogate escapes and no number that overflows to
infinity, all of which ``json`` accepts too and decodes to equal values,
except integers beyond 64 bits (which orjson turns into floats; none has
fewer than 19 digits). Every other line (any error, a long digit run) goes
through ``json`` as before, so the messages are ``json``'s. Lone surrogates
are only looked for on that path (orjson refuses them), and only when the raw
line contains ``\\ud`` or ``\\uD``.
"""

from __future__ import annotations

import bz2
import gzip
import io
import json
import math
import re
import sys
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, BinaryIO, Final, NoReturn

from fbcli.text import clip

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer

_fast_loads: Callable[[bytes], Any] | None
try:
    from orjson import loads as _fast_loads
except ImportError:  # pragma: no cover - orjson is a dependency; json is the fallback
    _fast_loads = None

__all__ = [
    "BLOCK_BYTES",
    "MAX_DEPTH",
    "MAX_LINE_BYTES",
    "Block",
    "Event",
    "LineError",
    "read_block_events",
    "read_blocks",
    "read_events",
]

MAX_LINE_BYTES: Final = 1_048_576
"""Longest accepted line, in bytes, not counting its line ending (1 MB)."""

MAX_DEPTH: Final = 100
"""Deepest accepted nesting of JSON arrays and objects (the line's object is level 1)."""

_GZIP_MAGIC: Final = b"\x1f\x8b"
_BZIP2_MAGIC: Final = b"BZh"
_ZSTD_MAGIC: Final = b"\x28\xb5\x2f\xfd"
_READ_ERRORS: Final = (OSError, EOFError, zlib.error)
"""What reading (and decompressing) may raise: a ``LineError`` (``_read_error_message``)."""
ZSTD_MISSING: Final = (
    "zstd-compressed input needs the zstandard package: pip install 'fbcli[zstd]' "
    "(or decompress it first: zstd -dc FILE | fbcli ... -)"
)
_SHAPE: Final = bytes(
    48 if 48 <= byte <= 57 else 123 if byte in b"{[" else 32 for byte in range(256)
)
"""A ``bytes.translate`` table: ASCII digits become ``0``, ``{`` and ``[`` become ``{``,
every other byte a space: one pass gives both the digit runs and the brackets."""
_DIGIT_RUN: Final = b"0" * 19
_NOT_DECIDED: Final = object()
"""19 digits in a row: a number orjson may not decode as ``json`` does (see above)."""
_WIDE_RUN: Final = b"0" * 16
"""16 digits in a row: perhaps an integer beyond 2**53, which JavaScript rounds."""
_BOM: Final = b"\xef\xbb\xbf"
_BUFFER_SIZE: Final = 65_536
_CLIP: Final = 40


@dataclass(frozen=True, slots=True)
class Event:
    """One JSON object, from line ``line`` (1-based) of ``source`` (a path or ``-``)."""

    source: str
    line: int
    data: dict[str, Any]
    js_exact: bool = field(default=False, compare=False, repr=False)
    """Known to read the same in JavaScript: the line has no run of 16 digits (so no
    integer beyond 2**53) and no ``__proto__``.  ``False``: not known (the planner looks)."""
    index: int | None = None
    """Its place (from 0) in the ``batch`` of a batch envelope on its line (or in a JSON
    array file's array, then ``line`` is where it starts); ``None``: the line's only event."""

    @property
    def at(self) -> str:
        """Its line, and its place on the line when it shares it: ``12`` or ``12[3]``."""
        return str(self.line) if self.index is None else f"{self.line}[{self.index}]"

    @property
    def message_id(self) -> str | None:
        """``data["messageId"]`` when it is a string or an integer (as a string), else None."""
        value = self.data.get("messageId")
        if isinstance(value, str):
            return value
        if isinstance(value, int) and not isinstance(value, bool):
            return str(value)
        return None


@dataclass(frozen=True, slots=True)
class LineError:
    """A line of ``source`` that cannot be used; ``line`` 0 means the whole input."""

    source: str
    line: int
    message: str

    @property
    def where(self) -> str:
        """``source:line``, or just ``source`` when the error is about the whole input."""
        return f"{self.source}:{self.line}" if self.line else self.source


def read_events(
    stream: BinaryIO,
    source: str,
    *,
    max_line_bytes: int = MAX_LINE_BYTES,
    max_depth: int = MAX_DEPTH,
) -> Iterator[Event | LineError]:
    """Yield an ``Event`` or a ``LineError`` for each non-blank line of ``stream``.

    ``source`` names the stream in the values (the path as given, ``-`` for
    standard input). The stream is read, never closed; gzip data is
    decompressed transparently. See the module docstring for the rules.

    >>> [e.data for e in read_events(io.BytesIO(b'{"type": "track"}\\n'), "-")]
    [{'type': 'track'}]
    """
    with _Decoded(stream, source) as reader:
        if isinstance(reader, LineError):
            yield reader
        elif _is_array_file(reader):
            yield from _read_array(reader, source, max_depth)
        else:
            yield from _read_lines(reader, source, max_line_bytes, max_depth)


class _Decoded:
    """A context for reading ``stream`` decompressed: a buffered reader, or why there is none.

    Entering reads the first two bytes to sniff gzip's magic (they are put back
    in front of the stream) and, for gzip, the header and the first block,
    whose errors spoil the whole input: those come back as a ``LineError`` of
    line 0. Exiting closes the readers, never ``stream``.
    """

    def __init__(self, stream: BinaryIO, source: str) -> None:
        self._stream = stream
        self._source = source
        self._closing: list[io.BufferedIOBase] = []

    def __enter__(self) -> io.BufferedIOBase | LineError:
        try:
            head = _read_head(self._stream)
        except OSError as exc:
            return LineError(self._source, 0, _read_error_message(exc))
        buffered = io.BufferedReader(_PrefixedReader(head, self._stream), _BUFFER_SIZE)
        self._closing.append(buffered)
        reader: io.BufferedIOBase
        if head.startswith(_GZIP_MAGIC):
            reader = gzip.GzipFile(fileobj=buffered, mode="rb")
        elif head.startswith(_BZIP2_MAGIC):
            reader = bz2.BZ2File(buffered, "rb")
        elif head == _ZSTD_MAGIC:
            zstd = _ZstdReader.open(buffered)
            if zstd is None:
                return LineError(self._source, 0, ZSTD_MISSING)
            reader = zstd
        else:
            return buffered
        self._closing.insert(0, reader)
        try:
            reader.peek(1)  # the header and the first block: errors here spoil it all
        except _READ_ERRORS as exc:
            return LineError(self._source, 0, _read_error_message(exc, reader))
        return reader

    def __exit__(self, *exc: object) -> None:
        for reader in self._closing:
            reader.close()


BLOCK_BYTES: Final = 1_048_576
"""About how much of the input one ``Block`` holds (``read_blocks``)."""


@dataclass(frozen=True, slots=True)
class Block:
    """Whole lines of ``source``, from line ``first_line`` on, as read (``read_blocks``)."""

    source: str
    first_line: int
    data: bytes


def read_blocks(
    stream: BinaryIO,
    source: str,
    *,
    block_bytes: int = BLOCK_BYTES,
    max_line_bytes: int = MAX_LINE_BYTES,
) -> Iterator[Block | Event | LineError]:
    """``read_events`` in two halves, this the first: the input cut into blocks of lines.

    ``read_block_events`` turns each block into what ``read_events`` yields for
    those lines, so that blocks can be parsed apart (in other processes) and
    the results joined in order. What only the whole input can tell comes
    from here, in its place among the blocks, as ``read_events`` words it: a
    gzip or read error, a line too long to hold (it is skipped, read in
    bounded pieces), an input without a single non-blank line. Blocks end at
    a newline, except the last, and hold about ``block_bytes`` (more when a
    line is longer, up to ``max_line_bytes`` more).  A JSON array file
    (``read_events``) is not cut: its events come from here, as ``Event`` values.
    """
    with _Decoded(stream, source) as reader:
        if isinstance(reader, LineError):
            yield reader
        elif _is_array_file(reader):
            yield from _read_array(reader, source, MAX_DEPTH)
        else:
            yield from _cut_blocks(reader, source, block_bytes, max_line_bytes)


def _cut_blocks(
    reader: io.BufferedIOBase, source: str, block_bytes: int, max_line_bytes: int
) -> Iterator[Block | LineError]:
    read1 = reader.read1
    limit = max_line_bytes + 2  # as _read_lines: a line this long with no newline is too long
    line = 1  # the number of the first line in ``pending``
    pending = bytearray()  # read and not yet given out: whole lines, then part of one
    seen_content = False
    while True:
        try:
            chunk = read1(block_bytes)
        except _READ_ERRORS as exc:
            cut = pending.rfind(b"\n") + 1
            if cut:
                yield Block(source, line, bytes(pending[:cut]))
                line += pending.count(b"\n", 0, cut)
            yield LineError(source, line, _read_error_message(exc, reader))
            return
        if not chunk:
            break
        pending += chunk
        if len(pending) >= block_bytes:
            cut = pending.rfind(b"\n") + 1
            if cut:
                with memoryview(pending) as view:
                    block = bytes(view[:cut])
                del pending[:cut]
                seen_content = seen_content or _has_content(block, line)
                yield Block(source, line, block)
                line += block.count(b"\n")
        if len(pending) > limit and b"\n" not in pending:
            try:
                size, rest = _skip_long_line(read1, bytes(pending))
            except _READ_ERRORS as exc:
                yield LineError(source, line, _read_error_message(exc, reader))
                return
            seen_content = True
            limit_text = _format_limit(max_line_bytes)
            yield LineError(source, line, f"line is longer than {limit_text} ({size:,} bytes)")
            line += 1
            if rest is None:
                pending.clear()
                break
            pending = bytearray(rest)
    if pending:
        block = bytes(pending)
        seen_content = seen_content or _has_content(block, line)
        yield Block(source, line, block)
    if not seen_content:
        yield LineError(source, 0, "empty file: no events")


def _has_content(block: bytes, first_line: int) -> bool:
    """Whether a block holds a non-blank line (a byte order mark opening line 1 is blank)."""
    if first_line == 1 and block.startswith(_BOM):
        block = block[3:]
    return bool(block) and not block.isspace()


def _skip_long_line(read1: Callable[[int], bytes], first: bytes) -> tuple[int, bytes | None]:
    """Read past the end of a line that starts with ``first`` (no newline in it).

    Returns the line's size without its ending (as ``_skip_line``) and what
    was read after its newline (``None``: the input ended first).
    """
    size = len(first)
    last = first[-1:]
    while True:
        chunk = read1(_BUFFER_SIZE)
        if not chunk:
            return (size - 1 if last == b"\r" else size), None
        end = chunk.find(b"\n")
        if end < 0:
            size += len(chunk)
            last = chunk[-1:]
            continue
        size += end
        before = chunk[end - 1 : end] if end else last
        return (size - 1 if before == b"\r" else size), chunk[end + 1 :]


def read_block_events(
    block: Block, *, max_line_bytes: int = MAX_LINE_BYTES, max_depth: int = MAX_DEPTH
) -> Iterator[Event | LineError]:
    """What ``read_events`` yields for the lines of one block (see ``read_blocks``)."""
    reader = io.BytesIO(block.data)
    return _read_lines(
        reader, block.source, max_line_bytes, max_depth, first_line=block.first_line, whole=False
    )


def _read_lines(
    reader: io.BufferedIOBase,
    source: str,
    max_line_bytes: int,
    max_depth: int,
    *,
    first_line: int = 1,
    whole: bool = True,
) -> Iterator[Event | LineError]:
    """The lines of ``reader``, numbered from ``first_line``; ``whole``: it is all of the input."""
    readline = reader.readline
    decode = _DECODER.decode
    fast_loads = _fast_loads
    limit = max_line_bytes + 2  # room for the line ending, so a full line is seen whole
    lineno = first_line - 1
    seen_content = False
    while True:
        lineno += 1
        size = 0
        try:
            raw = readline(limit)
            if len(raw) > max_line_bytes:
                complete = raw[-1:] == b"\n" or len(raw) < limit  # or the last line, unended
                size = _line_size(raw) if complete else _skip_line(readline, raw)
        except _READ_ERRORS as exc:
            yield LineError(source, lineno, _read_error_message(exc, reader))
            return
        if not raw:
            break
        if size > max_line_bytes:
            seen_content = True
            limit_text = _format_limit(max_line_bytes)
            yield LineError(source, lineno, f"line is longer than {limit_text} ({size:,} bytes)")
            continue
        if lineno == 1 and raw.startswith(_BOM):
            raw = raw[3:]
        if not raw or raw.isspace():
            continue
        seen_content = True
        shape = raw.translate(_SHAPE)
        data: Any = _NOT_DECIDED
        if fast_loads is not None and _DIGIT_RUN not in shape:  # see the module docstring
            try:
                data = fast_loads(raw)
            except ValueError:  # orjson.JSONDecodeError: json below words the message
                data = _NOT_DECIDED
        if data is _NOT_DECIDED:  # the reference: json, and its messages
            data = _json_loads(raw, decode, max_depth)
            if type(data) is _Refused:
                yield LineError(source, lineno, data)
                continue
        # What both parsers' values must be, checked once for both.
        if not isinstance(data, dict):
            yield LineError(source, lineno, f"expected a JSON object, got {_json_type(data)}")
        elif shape.count(b"{") > max_depth and _deeper_than(data, max_depth):
            yield LineError(source, lineno, f"nesting deeper than {max_depth} levels")
        elif "batch" in data and _is_envelope(data):
            yield from _batch_events(source, lineno, data, _js_exact(raw, shape))
        else:
            yield Event(source, lineno, data, _js_exact(raw, shape))
    if whole and not seen_content:
        yield LineError(source, 0, "empty file: no events")


MAX_ARRAY_BYTES: Final = 128 * 1_048_576
"""The largest JSON array file read (128 MB, decompressed): it is held whole while read."""
_ARRAY_START: Final = re.compile(rb"[ \t\r\n]*\[[ \t\r\n]*\{")
_SPACE: Final = re.compile(r"[ \t\r\n]*")


def _is_array_file(reader: io.BufferedIOBase) -> bool:
    """Whether the input is one JSON array of objects (``[`` then ``{``, maybe spread over
    many lines), not JSON Lines.  A line holding an array of anything else (``[1, 2]``,
    ``[]``) is a JSON Lines line that is not an object, as before."""
    head = reader.peek(_BUFFER_SIZE)  # type: ignore[attr-defined]
    head = head[3:] if head.startswith(_BOM) else head
    return head[:1] in b"[ \t\r\n" and _ARRAY_START.match(head) is not None


def _read_array(
    reader: io.BufferedIOBase, source: str, max_depth: int
) -> Iterator[Event | LineError]:
    """The objects of a JSON array file, one by one, each at the line it starts on, with its
    ``index`` in the array; up to ``MAX_ARRAY_BYTES``, else one ``LineError``.

    The text is read whole, then parsed one member at a time (``json``'s decoder,
    with the checks of a line: no ``NaN``, no overflow, no lone surrogate, no
    nesting deeper than ``max_depth``), so only one event is held as objects at a
    time.  A member that is not an object is a ``LineError``; a JSON error stops
    the reading there (what follows cannot be found again).
    """
    try:
        data = reader.read(MAX_ARRAY_BYTES + 1)
    except _READ_ERRORS as exc:
        yield LineError(source, 0, _read_error_message(exc, reader))
        return
    if len(data) > MAX_ARRAY_BYTES:
        yield LineError(source, 0, _ARRAY_TOO_LARGE)
        return
    try:
        text = data.decode().removeprefix("\ufeff")
    except UnicodeDecodeError as exc:
        yield LineError(source, 0, f"invalid UTF-8 at byte {exc.start + 1} ({exc.reason})")
        return
    del data
    where = _Where(text)
    pos = _skip_space(text, _skip_space(text, 0) + 1)  # past "[": the first member
    index = 0
    while True:
        try:
            value, end = _DECODER.raw_decode(text, pos)
        except json.JSONDecodeError as exc:
            line, column = where(exc.pos)
            yield LineError(source, line, f"invalid JSON at column {column}: {_json_message(exc)}")
            return
        except (_NumberError, RecursionError, ValueError) as exc:
            yield LineError(source, where(pos)[0], f"array[{index}]: {_refusal(exc, max_depth)}")
            return
        line = where(pos)[0]
        problem = _member_problem(value, text[pos:end], max_depth)
        if problem is not None:
            yield LineError(source, line, f"array[{index}]: {problem}")
        else:
            raw = text[pos:end].encode()
            yield Event(source, line, value, _js_exact(raw, raw.translate(_SHAPE)), index)
        index += 1
        pos = _skip_space(text, end)
        if text.startswith(",", pos):
            pos = _skip_space(text, pos + 1)
            continue
        if not text.startswith("]", pos):
            line, column = where(pos)
            what = "the input ends" if pos >= len(text) else "expected ',' or ']'"
            yield LineError(
                source, line, f"invalid JSON at column {column}: {what} after array[{index - 1}]"
            )
            return
        break
    end = _skip_space(text, pos + 1)
    if end < len(text):
        line, column = where(end)
        yield LineError(source, line, f"invalid JSON at column {column}: data after the array")


_ARRAY_TOO_LARGE: Final = (
    f"a JSON array file over {MAX_ARRAY_BYTES // 1_048_576} MB: convert it to JSON Lines "
    "first (jq -c '.[]' FILE > FILE.jsonl)"
)


def _skip_space(text: str, pos: int) -> int:
    """The position of the first character at or after ``pos`` that is not JSON space."""
    found = _SPACE.match(text, pos)
    assert found is not None  # "*" matches the empty string
    return found.end()


class _Where:
    """Line and column (from 1) of positions in ``text``, asked for in increasing order."""

    def __init__(self, text: str) -> None:
        self._text = text
        self._pos = 0
        self._line = 1

    def __call__(self, pos: int) -> tuple[int, int]:
        self._line += self._text.count("\n", self._pos, pos)
        self._pos = pos
        return self._line, pos - self._text.rfind("\n", 0, pos)


def _member_problem(value: Any, raw: str, max_depth: int) -> str | None:
    """Why a member of a JSON array file is not an event (the checks of a line)."""
    if not isinstance(value, dict):
        return f"expected a JSON object, got {_json_type(value)}"
    if _deeper_than(value, max_depth):
        return f"nesting deeper than {max_depth} levels"
    if ("\\ud" in raw or "\\uD" in raw) and (code := _find_lone_surrogate(value)) is not None:
        return f"invalid Unicode escape \\u{code:04x}: lone surrogate"
    return None


def _refusal(exc: BaseException, max_depth: int) -> str:
    """The message of a value ``json`` refuses other than by syntax (``_json_loads``)."""
    if isinstance(exc, _NumberError):
        return str(exc)
    if isinstance(exc, RecursionError):
        return f"nesting deeper than {max_depth} levels"
    return _int_too_long_message()


ENVELOPE_DEFAULTS: Final = ("context", "integrations")
"""The members of a batch envelope that apply to each of its events (``_batch_events``)."""


def _is_envelope(data: dict[str, Any]) -> bool:
    """Whether an object is a batch envelope (the body of Segment's ``/v1/batch``): a
    ``batch`` array, and no ``type`` or ``event`` (which an event has)."""
    return type(data["batch"]) is list and "type" not in data and "event" not in data


def _batch_events(
    source: str, lineno: int, envelope: dict[str, Any], js_exact: bool
) -> Iterator[Event | LineError]:
    """The events of a batch envelope, each at the envelope's line with its ``index``.

    As Segment's HTTP API applies them, the envelope's ``context`` and
    ``integrations`` (objects) apply to every event: their members are added to
    the event's own object of that name, where it does not have them (the
    event's own win).  A member of ``batch`` that is not an object is a
    ``LineError`` naming its place.
    """
    defaults = {
        name: value
        for name in ENVELOPE_DEFAULTS
        if isinstance(value := envelope.get(name), dict) and value
    }
    for index, data in enumerate(envelope["batch"]):
        if not isinstance(data, dict):
            what = f"expected a JSON object, got {_json_type(data)}"
            yield LineError(source, lineno, f"batch[{index}]: {what}")
            continue
        for name, value in defaults.items():
            own = data.get(name)
            if own is None:
                data[name] = dict(value)
            elif isinstance(own, dict):
                data[name] = {**value, **own}
        yield Event(source, lineno, data, js_exact, index)


class _Refused(str):
    """The message of a line ``json`` refuses (``_json_loads``)."""


def _json_loads(raw: bytes, decode: Callable[[str], Any], max_depth: int) -> Any:
    """The line's value as ``json`` reads it, or, for a line it refuses, why (``_Refused``).

    Strict UTF-8, no ``NaN``/``Infinity`` and no number that overflows, ints
    within Python's digit limit, no lone surrogate escape (looked for only when
    the line holds ``\\ud`` or ``\\uD``).  A value that is text is returned
    as a ``str``, never a ``_Refused``: callers tell them apart by exact type.
    """
    try:
        # Without its line ending: a line cut off inside a string would otherwise be
        # refused for the ``\r`` of a CRLF ending, not for ending too soon.
        data = decode(raw.decode().rstrip("\r\n"))
    except UnicodeDecodeError as exc:
        return _Refused(f"invalid UTF-8 at byte {exc.start + 1} ({exc.reason})")
    except json.JSONDecodeError as exc:
        return _Refused(f"invalid JSON at column {exc.pos + 1}: {_json_message(exc)}")
    except _NumberError as exc:
        return _Refused(str(exc))
    except RecursionError:
        return _Refused(f"nesting deeper than {max_depth} levels")
    except ValueError:  # the only other one: int() refusing too many digits
        return _Refused(_int_too_long_message())
    if isinstance(data, dict) and (b"\\ud" in raw or b"\\uD" in raw):
        surrogate = _find_lone_surrogate(data)
        if surrogate is not None:
            return _Refused(f"invalid Unicode escape \\u{surrogate:04x}: lone surrogate")
    return data


def _json_message(exc: json.JSONDecodeError) -> str:
    """``json``'s message, whole: the two that end in "at" (the position ``json`` adds to
    its own text) say where by the column given before them, and a control character
    is named."""
    if exc.msg.endswith(" at"):
        what = exc.msg[: -len(" at")]
        if what == "Invalid control character" and exc.pos < len(exc.doc):
            what += f" U+{ord(exc.doc[exc.pos]):04X}"
        return f"{what} here"
    return exc.msg


def _js_exact(raw: bytes, shape: bytes) -> bool:
    """``Event.js_exact`` of a line: no 16-digit run, no ``__proto__``, no ``\\u`` escape.

    A backslash and an underscore are looked for first, one byte each (much the
    faster search): most lines have neither escape nor ``__proto__``.
    """
    return (
        _WIDE_RUN not in shape
        and (b"_" not in raw or b"__proto__" not in raw)
        and (b"\\" not in raw or b"\\u" not in raw)
    )


class _PrefixedReader(io.RawIOBase):
    """A raw stream that returns ``head`` and then the rest of ``stream``.

    This puts back the bytes read to sniff the gzip magic, so detection works
    on pipes that cannot seek. The wrapped stream is not closed.
    """

    def __init__(self, head: bytes, stream: BinaryIO) -> None:
        super().__init__()
        self._head = head
        self._stream = stream

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: WriteableBuffer, /) -> int:
        view = memoryview(buffer).cast("B")
        if self._head:
            size = min(len(view), len(self._head))
            view[:size] = self._head[:size]
            self._head = self._head[size:]
            if size == len(view) or self._head:
                return size
            view = view[size:]  # filled on: a first read is a whole buffer (``_is_array_file``)
            data = self._stream.read(len(view))
            view[: len(data)] = data
            return size + len(data)
        data = self._stream.read(len(view))
        view[: len(data)] = data
        return len(data)


class _ZstdDataError(OSError):
    """zstd data that cannot be decompressed (``zstandard.ZstdError``, as an ``OSError``)."""


class _ZstdRaw(io.RawIOBase):
    """The decompressed bytes of the zstd frames of ``source``, one after the other.

    ``zstandard``'s decompression objects, one per frame, so that input that
    ends inside a frame is told (``EOFError``), as gzip and bzip2 tell it.
    """

    def __init__(self, source: io.BufferedIOBase, zstandard: Any) -> None:
        super().__init__()
        self._source = source
        self._context = zstandard.ZstdDecompressor()
        self._error: type[Exception] = zstandard.ZstdError
        self._frame: Any = None
        self._out = memoryview(b"")

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: WriteableBuffer, /) -> int:
        while not self._out:
            chunk = self._source.read1(_BUFFER_SIZE)
            if not chunk:
                if self._frame is not None and not self._frame.eof:
                    raise EOFError("zstd")
                return 0
            out = []
            while chunk:
                if self._frame is None or self._frame.eof:
                    self._frame = self._context.decompressobj()
                try:
                    out.append(self._frame.decompress(chunk))
                except self._error as exc:
                    raise _ZstdDataError(
                        str(exc).removeprefix("zstd decompressor error: ")
                    ) from None
                chunk = self._frame.unused_data if self._frame.eof else b""
            self._out = memoryview(b"".join(out))
        view = memoryview(buffer).cast("B")
        size = min(len(view), len(self._out))
        view[:size] = self._out[:size]
        self._out = self._out[size:]
        return size


class _ZstdReader(io.BufferedReader):
    """zstd input, decompressed (every frame) by the optional ``zstandard`` package."""

    @classmethod
    def open(cls, buffered: io.BufferedIOBase) -> _ZstdReader | None:
        """A reader of ``buffered`` decompressed; ``None`` without ``zstandard``."""
        try:
            import zstandard  # noqa: PLC0415 - optional, and only for zstd input
        except ImportError:
            return None
        return cls(_ZstdRaw(buffered, zstandard), _BUFFER_SIZE)


def _read_head(stream: BinaryIO) -> bytes:
    """Read the first four bytes (fewer at end of input), looping over short reads."""
    head = b""
    while len(head) < 4:
        chunk = stream.read(4 - len(head))
        if not chunk:
            break
        head += chunk
    return head


def _line_size(raw: bytes) -> int:
    """The length of ``raw`` without its ``\\n`` or ``\\r\\n`` ending."""
    if raw.endswith(b"\r\n"):
        return len(raw) - 2
    if raw.endswith((b"\n", b"\r")):
        return len(raw) - 1
    return len(raw)


def _skip_line(readline: Callable[[int], bytes], first: bytes) -> int:
    """Read and drop the rest of a line that starts with ``first``; return its size.

    The rest is read in chunks of at most ``_BUFFER_SIZE`` bytes, so memory
    stays bounded however long the line is. The size excludes the line ending.
    """
    size = len(first)
    last = first
    while True:
        chunk = readline(_BUFFER_SIZE)
        if not chunk.endswith(b"\n"):
            size += len(chunk)
            if len(chunk) < _BUFFER_SIZE:  # end of input: the line has no newline
                return size - 1 if (chunk or last).endswith(b"\r") else size
            last = chunk
            continue
        size += len(chunk) - 1
        before_newline = chunk[-2:-1] or last[-1:]
        return size - 1 if before_newline == b"\r" else size


def _format_limit(size: int) -> str:
    if size % 1_048_576 == 0:
        return f"{size // 1_048_576} MB"
    if size % 1024 == 0:
        return f"{size // 1024} KB"
    return f"{size:,} bytes"


def _read_error_message(exc: BaseException, reader: object = None) -> str:
    """Describe an error from reading (and maybe decompressing, by ``reader``) the stream."""
    if isinstance(reader, bz2.BZ2File | _ZstdReader):
        name = "bzip2" if isinstance(reader, bz2.BZ2File) else "zstd"
        if isinstance(exc, EOFError):
            return f"{name} data is truncated: the compressed stream ended early"
        if isinstance(exc, _ZstdDataError):
            return f"zstd data is corrupt: {exc}"
        if type(exc) is OSError and exc.errno is None:  # bzip2's "Invalid data stream"
            return f"bzip2 data is corrupt: {str(exc).lower()}"
    if isinstance(exc, EOFError):
        return "gzip data is truncated: the compressed stream ended early"
    if isinstance(exc, zlib.error):
        # "Error -3 while decompressing data: invalid block type" -> "invalid block type"
        return f"gzip data is corrupt: {str(exc).rpartition(': ')[2]}"
    if isinstance(exc, gzip.BadGzipFile):
        detail = str(exc)
        if detail.startswith("Not a gzipped file"):  # a second member with no gzip magic
            detail = "unexpected data after the end of the compressed stream"
        elif detail[:1].isupper() and detail[1:2].islower():  # "Not a ..." but not "CRC ..."
            detail = detail[0].lower() + detail[1:]
        return f"gzip data is corrupt: {detail}"
    return f"read error: {exc}"


class _NumberError(Exception):
    """A JSON number the reader refuses: NaN, Infinity or an overflowing float."""


def _reject_constant(name: str) -> NoReturn:
    raise _NumberError(f"non-finite number {name} is not valid JSON")


def _parse_float(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise _NumberError(f"number {clip(text, _CLIP)} is out of range (it overflows to infinity)")
    return value


_DECODER: Final = json.JSONDecoder(parse_float=_parse_float, parse_constant=_reject_constant)
_ENCODER: Final = json.JSONEncoder(ensure_ascii=False)


def _int_too_long_message() -> str:
    return f"integer is too long (more than {sys.get_int_max_str_digits():,} digits)"


def _json_type(value: object) -> str:
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, bool):
        return "a boolean"
    if value is None:
        return "null"
    return "a number"


def _find_lone_surrogate(data: dict[str, Any]) -> int | None:
    """The code point of the first lone surrogate in any key or string, or None."""
    try:
        _ENCODER.encode(data).encode("utf-8")
    except UnicodeEncodeError as exc:
        return ord(exc.object[exc.start])
    return None


def _deeper_than(data: dict[str, Any], max_depth: int) -> bool:
    """Whether arrays and objects nest more than ``max_depth`` levels (iterative walk)."""
    stack: list[tuple[dict[str, Any] | list[Any], int]] = [(data, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > max_depth:
            return True
        children = node.values() if isinstance(node, dict) else node
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return False
