"""The mapping file (``mappings.yaml``): load, check, fill in defaults.

Loading is three steps, each reporting its first mistake as a
``MappingFileError`` with the file, line and column in the YAML:

1. **YAML, safely.**  PyYAML composes the node tree (nothing is constructed
   from tags); fbcli turns the nodes into plain JSON values itself, keeping
   each node's position.  Files over ``MAX_FILE_BYTES``, text that is not
   UTF-8 (a BOM is fine), more than ``MAX_NODES`` values after alias expansion
   (an "alias bomb"), nesting deeper than ``MAX_DEPTH``, duplicate keys, merge
   keys, several documents and non-JSON values (``.inf``, ``.nan``,
   ``!!binary``, ``!!python/...`` and any other tag) are refused.  Plain
   scalars are read with the YAML 1.2 core schema, as JSON users expect: only
   ``true``/``false`` are booleans (``country: NO`` stays a string), numbers
   are decimal, ``0o`` octal or ``0x`` hexadecimal (``0123`` is 123, not
   YAML 1.1's octal 83; ``12:30`` is text, not its base-60 750) and dates
   stay strings.  Counting nodes and depth while composing keeps even a
   hostile 1 MB file to a couple of seconds and far from the recursion limit.
2. **Shape**, against the file's own JSON schema
   (``fbcli/schemas/mappings.schema.json``).
3. **Meaning**: the merchant ID is a UUID, actions exist in the file's mode,
   fields exist for their action (in that mode), directives compile, triggers
   parse, names are unique, and direct mode has a merchant ID.

The module is pure: it reads no file and no environment variable (the value
of ``FRIENDBUY_MERCHANT_ID`` is passed in; when the file relies on it and it
is not a UUID, that is a ``ConfigError``, not a mistake in the file).
"""

from __future__ import annotations

import codecs
import json
import math
import os
import pathlib
import re
from bisect import bisect_left
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING, Any, Final, Generic, Literal, TypeVar

import yaml

from fbcli.actions import ACTIONS
from fbcli.actions.base import Action, Mode
from fbcli.directives import (
    DirectiveError,
    Resolver,
    compile_mapping,
    path_keys,
    source_paths,
)
from fbcli.errors import ConfigError, MappingFileError
from fbcli.inputs import read_bounded
from fbcli.text import did_you_mean, kind_of, show_quoted
from fbcli.triggers import Node, TriggerSyntaxError, compile_trigger, parse_trigger
from fbcli.validation import Check, compile_check

if TYPE_CHECKING:
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import ValidationError

MAX_FILE_BYTES: Final = 1_048_576
MAX_NODES: Final = 100_000
MAX_DEPTH: Final = 64
BUILT_IN: Final = "<built-in default>"
MERCHANT_ID_ENV: Final = "FRIENDBUY_MERCHANT_ID"
PLACEHOLDER_MERCHANT_ID: Final = "00000000-0000-0000-0000-000000000000"
"""The ``merchant_id`` ``fbcli init --mode direct`` writes when it is given none: a file
holding it loads (the command line warns), and ``FRIENDBUY_MERCHANT_ID`` replaces it."""

_UUID_RE: Final = re.compile(
    r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
)
_YAML_TAG: Final = "tag:yaml.org,2002:"
_BREAK_RE: Final = re.compile("\r\n|[\r\n\x85\u2028\u2029]")
"""A line break as PyYAML counts lines."""
_BLANKS: Final = frozenset(" \t\r\n\x85\u2028\u2029")
_HEX_RE: Final = re.compile(r"[0-9a-fA-F]+")
_SURROGATE_RE: Final = re.compile("[\ud800-\udfff]")
_YAML11_BOOLEANS: Final = frozenset({"yes", "no", "y", "n", "on", "off"})

Path = tuple[str | int, ...]


@dataclass(frozen=True, slots=True)
class FieldMapping:
    """How one action field of one subscription is filled."""

    field: str
    mapping: Any
    """The mapping-kit value (directive or constant)."""
    resolve: Resolver
    sources: tuple[str, ...]
    """The event paths it reads (``$.properties.total``)."""
    origin: Literal["default", "file"]
    line: int | None = None
    """The YAML line of an override."""
    source: str | None = dataclass_field(init=False, repr=False, compare=False)
    """The event paths as one string for messages, or ``None``."""
    plain: bool = dataclass_field(init=False, repr=False, compare=False)
    """A plain ``@path``: the value is the event's own (``directives.path_keys``)."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "source", ", ".join(self.sources) if self.sources else None)
        object.__setattr__(self, "plain", path_keys(self.mapping) is not None)


@dataclass(frozen=True, slots=True)
class Subscription:
    """One subscription: when it fires (trigger) and what it sends (action, fields)."""

    name: str
    action: Action
    trigger: str
    node: Node
    matches: Callable[[Mapping[str, Any]], bool]
    fields: tuple[FieldMapping, ...]
    enabled: bool = True
    line: int | None = None


@dataclass(frozen=True, slots=True)
class MappingConfig:
    """A loaded, checked mapping file."""

    path: str
    mode: Mode
    merchant_id: str | None
    subscriptions: tuple[Subscription, ...]
    warnings: tuple[str, ...] = dataclass_field(default=(), compare=False)
    """What is surely a mistake although the file is valid, one line each, located
    (``file:line:column``): a constant that looks like an event path (``lint_constant``)."""

    @property
    def active(self) -> tuple[Subscription, ...]:
        """The enabled subscriptions, in file order."""
        return tuple(s for s in self.subscriptions if s.enabled)


# -- step 1: YAML with positions -------------------------------------------------------


_E = TypeVar("_E", bound=MappingFileError)


@dataclass(slots=True)
class YamlPositions:
    source: str
    """The decoded YAML text the marks index into."""
    values: dict[Path, tuple[int, int]]
    keys: dict[Path, tuple[int, int]]
    scalars: dict[Path, yaml.ScalarNode]

    def at(self, path: Path, *, key: bool = False) -> tuple[int, int] | None:
        """The (line, column) of a value (or of its key), falling back to its parents."""
        table = self.keys if key else self.values
        while path:
            if path in table:
                return table[path]
            path = path[:-1]
        return self.values.get(())

    def in_scalar(self, path: Path, offset: int) -> tuple[int, int] | None:
        """The (line, column) of character ``offset`` of the string at ``path``, if known."""
        node = self.scalars.get(path)
        if node is None:
            return None
        return _locate_in_scalar(self.source, node, offset)


class LocatedChecker(Generic[_E]):
    """Checks a document ``parse_yaml`` read: each mistake an ``error`` at its line and column.

    What the mapping file's checks and the case file's share: where a value (or
    its key) is, and the mistakes any YAML document can make (a key it does not
    know, a value of the wrong kind).
    """

    error: type[_E]
    """The exception raised (``MappingFileError``, ``CaseFileError``)."""

    def __init__(self, path: str, positions: YamlPositions) -> None:
        self.path = path
        self.positions = positions

    def fail(self, message: str, at: Path, *, key: bool = False, hint: str | None = None) -> _E:
        """An error located at the value (or key) at ``at``, or its nearest parent."""
        line, column = self.positions.at(at, key=key) or (None, None)
        return self.error(message, path=self.path, line=line, column=column, hint=hint)

    def line(self, at: Path) -> int:
        """The line of the value at ``at`` (1 when it is not known)."""
        return (self.positions.at(at) or (1, 1))[0]

    def keys(self, value: Mapping[str, Any], allowed: Sequence[str], at: Path, what: str) -> None:
        """Refuse a key of ``value`` not in ``allowed`` (``what`` names the mapping)."""
        for key in value:
            if key not in allowed:
                raise self.fail(
                    f"unknown key '{key}' in {what}{did_you_mean(key, allowed)}",
                    (*at, key),
                    key=True,
                    hint=f"the keys of {what} are: {', '.join(allowed)}",
                )

    def typed(
        self, value: Any, check: Callable[[Any], bool], at: Path, name: str, wanted: str
    ) -> None:
        """Refuse a value ``check`` does not accept: ``'name' must be <wanted>, not a list``."""
        if not check(value):
            raise self.fail(f"'{name}' must be {wanted}, not {kind_of(value)}", at)


def _mark(node: yaml.Node) -> tuple[int, int]:
    return node.start_mark.line + 1, node.start_mark.column + 1


def _position(source: str, index: int, mark: yaml.Mark | None = None) -> tuple[int, int]:
    """The 1-based (line, column) of ``source[index]``, counted as PyYAML does.

    Counting starts at ``mark`` (a known earlier position), else at the start.
    """
    start, line, column = (mark.index, mark.line, mark.column) if mark else (0, 0, 0)
    segment = source[start:index]
    breaks = list(_BREAK_RE.finditer(segment))
    if not breaks:
        return line + 1, column + len(segment) + 1
    return line + len(breaks) + 1, len(segment) - breaks[-1].end() + 1


def _skip_properties(source: str, index: int) -> int:
    """Where a node's content starts: after its anchor (``&a``) and tag, if any.

    A node's start mark is at its first property; properties hold no blanks and
    are followed by blanks, line breaks or comments.
    """
    while index < len(source) and source[index] in "&!":
        while index < len(source) and source[index] not in _BLANKS:
            index += 1
        while index < len(source) and (source[index] in _BLANKS or source[index] == "#"):
            if source[index] == "#":
                found = _BREAK_RE.search(source, index)
                index = found.start() if found else len(source)
            else:
                index += 1
    return index


def _source_chars(source: str, node: yaml.ScalarNode) -> list[tuple[str, int, int]]:
    """The non-blank characters a scalar's source contributes, with their source span.

    Quotes, a block scalar's header and blanks (spaces, tabs, line breaks: what
    YAML folds) are skipped; ``''`` in single quotes and escapes in double
    quotes count as the one character they stand for.
    """
    start, end, style = (
        _skip_properties(source, node.start_mark.index),
        node.end_mark.index,
        node.style,
    )
    if style in ("|", ">"):
        header = _BREAK_RE.search(source, start, end)
        start = header.end() if header else end
    elif style in ("'", '"'):
        start, end = start + 1, end - 1
    chars: list[tuple[str, int, int]] = []
    i = start
    while i < end:
        char, size = source[i], 1
        if style == "'" and char == "'":
            size = 2
        elif style == '"' and char == "\\":
            code = source[i + 1 : i + 2]
            if code in yaml.scanner.Scanner.ESCAPE_CODES:
                size = 2 + yaml.scanner.Scanner.ESCAPE_CODES[code]
                digits = source[i + 2 : i + size]
                number = int(digits, 16) if _HEX_RE.fullmatch(digits) else -1
                char = chr(number) if 0 <= number <= 0x10FFFF else "\ufffd"
            elif code in yaml.scanner.Scanner.ESCAPE_REPLACEMENTS:
                char, size = yaml.scanner.Scanner.ESCAPE_REPLACEMENTS[code], 2
            else:  # an escaped line break: nothing
                char = " "
        if char not in _BLANKS:
            chars.append((char, i, i + size))
        i += size
    return chars


def _locate_in_scalar(source: str, node: yaml.ScalarNode, offset: int) -> tuple[int, int] | None:
    """The (line, column) in the file of character ``offset`` of a scalar's value.

    The value's non-blank characters are matched one to one with those of its
    source; a blank (or the end) is placed right after the non-blank before it.
    ``None`` when the two do not agree (a case this reading does not know).
    """
    value: str = node.value
    kept = [k for k, char in enumerate(value) if char not in _BLANKS]
    chars = _source_chars(source, node)
    if [value[k] for k in kept] != [char for char, _, _ in chars]:
        return None
    if not chars:
        return _mark(node)
    j = bisect_left(kept, offset)
    if j < len(kept) and kept[j] == offset:
        index = chars[j][1]
    elif j > 0:
        index = chars[j - 1][2]
    else:
        index = chars[0][1]
    return _position(source, index, node.start_mark)


def _core_schema_resolvers() -> dict[Any, list[tuple[str, re.Pattern[str]]]]:
    """Implicit tags of the YAML 1.2 core schema (plus ``<<``, to refuse merge keys)."""
    table: dict[Any, list[tuple[str, re.Pattern[str]]]] = {}
    for tag, pattern, first in (
        ("null", r"~|null|Null|NULL|", ["~", "n", "N", ""]),
        ("bool", r"true|True|TRUE|false|False|FALSE", list("tTfF")),
        ("int", r"[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+", list("-+0123456789")),
        (
            "float",
            (
                r"[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
                r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN)"
            ),
            list("-+.0123456789"),
        ),
        ("merge", r"<<", ["<"]),
    ):
        regexp = re.compile(f"^(?:{pattern})$")
        for char in first:
            table.setdefault(char, []).append((_YAML_TAG + tag, regexp))
    return table


_CORE_PATTERNS: Final = {
    tag: regexp for entries in _core_schema_resolvers().values() for tag, regexp in entries
}


class _Loader(yaml.SafeLoader):
    """PyYAML's safe loader, used only to compose nodes, with YAML 1.2 core scalars.

    ``compose_node`` is PyYAML's recursive step; counting it refuses deep
    nesting before Python's recursion limit is anywhere near.
    """

    yaml_implicit_resolvers = _core_schema_resolvers()

    def __init__(self, text: str, path: str) -> None:
        super().__init__(text)
        self.path = path
        self.depth = 0
        self.nodes = 0

    def compose_node(self, parent: yaml.Node | None, index: int) -> yaml.Node | None:
        self.depth += 1
        self.nodes += 1
        try:
            if self.depth > MAX_DEPTH + 1 or self.nodes > MAX_NODES:
                mark = self.peek_event().start_mark  # type: ignore[no-untyped-call]
                raise MappingFileError(
                    f"the YAML is nested deeper than {MAX_DEPTH} levels"
                    if self.depth > MAX_DEPTH + 1
                    else f"the YAML holds more than {MAX_NODES:,} values",
                    path=self.path,
                    line=mark.line + 1,
                    column=mark.column + 1,
                )
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1


def _tag_name(tag: str) -> str:
    return "!!" + tag.removeprefix(_YAML_TAG) if tag.startswith(_YAML_TAG) else tag


class _Builder:
    """Turns a composed YAML node tree into JSON values, recording positions."""

    def __init__(self, path: str, source: str):
        self.file = path
        self.count = 0
        self.positions = YamlPositions(source, {}, {}, {})

    def fail(self, message: str, node: yaml.Node, hint: str | None = None) -> MappingFileError:
        line, column = _mark(node)
        return MappingFileError(message, path=self.file, line=line, column=column, hint=hint)

    def refuse_tag(self, node: yaml.Node) -> MappingFileError:
        return self.fail(
            f"the YAML tag '{_tag_name(node.tag)}' is not allowed",
            node,
            hint="fbcli reads plain data only: strings, numbers, true/false, null, "
            "lists and mappings",
        )

    def build(self, node: yaml.Node, path: Path = ()) -> Any:
        self.count += 1
        if self.count > MAX_NODES:
            raise self.fail(
                f"the YAML expands to more than {MAX_NODES:,} values",
                node,
                hint="aliases (*name) repeat what they name; nest them less",
            )
        if len(path) > MAX_DEPTH:
            raise self.fail(f"the YAML is nested deeper than {MAX_DEPTH} levels", node)
        self.positions.values.setdefault(path, _mark(node))
        if isinstance(node, yaml.MappingNode):
            if node.tag != _YAML_TAG + "map":
                raise self.refuse_tag(node)
            out: dict[str, Any] = {}
            for key_node, value_node in node.value:
                key = self.key(key_node)
                if key in out:
                    first = self.positions.keys[(*path, key)][0]
                    raise self.fail(
                        f"duplicate key {show_quoted(key)}; it is first used on line {first}",
                        key_node,
                    )
                self.positions.keys[(*path, key)] = _mark(key_node)
                out[key] = self.build(value_node, (*path, key))
            return out
        if isinstance(node, yaml.SequenceNode):
            if node.tag != _YAML_TAG + "seq":
                raise self.refuse_tag(node)
            return [self.build(item, (*path, i)) for i, item in enumerate(node.value)]
        assert isinstance(node, yaml.ScalarNode)
        self.positions.scalars[path] = node
        return self.scalar(node)

    def key(self, node: yaml.Node) -> str:
        if not isinstance(node, yaml.ScalarNode):
            kind = "a list" if isinstance(node, yaml.SequenceNode) else "a mapping"
            raise self.fail(f"a mapping key must be a plain value, not {kind}", node)
        if node.tag == _YAML_TAG + "merge":
            raise self.fail(
                "YAML merge keys (<<) are not supported", node, hint="write the keys out in full"
            )
        if node.tag != _YAML_TAG + "str" and node.tag not in _CORE_PATTERNS:
            raise self.refuse_tag(node)
        return self.text(node)  # a key is its text: '1: x' has the key "1"

    def text(self, node: yaml.ScalarNode) -> str:
        text: str = node.value
        if _SURROGATE_RE.search(text):
            raise self.fail(
                "an escape names a UTF-16 surrogate (\\uD800-\\uDFFF), which is not a character",
                node,
            )
        return text

    def scalar(self, node: yaml.ScalarNode) -> Any:
        text: str = node.value
        tag = node.tag.removeprefix(_YAML_TAG)
        if tag == "str":
            return self.text(node)
        pattern = _CORE_PATTERNS.get(node.tag)
        if pattern is None or tag == "merge":
            raise self.refuse_tag(node)
        if not pattern.match(text):
            raise self.fail(f"{show_quoted(text)} is not a valid {_tag_name(node.tag)} value", node)
        if tag == "null":
            return None
        if tag == "bool":
            return text.lower() == "true"
        if tag == "int":
            return self.integer(text, node)
        special = text.lstrip("+-").lower() in (".inf", ".nan")
        number = math.inf if special else float(text)
        if not math.isfinite(number):
            raise self.fail(
                f"{show_quoted(text)} is not a JSON number",
                node,
                hint="JSON has no infinity or NaN; quote the value to make it a string",
            )
        return number

    def integer(self, text: str, node: yaml.ScalarNode) -> int:
        if text.startswith(("0o", "0x")):
            return int(text[2:], 8 if text[1] == "o" else 16)
        try:
            return int(text)
        except ValueError:  # more digits than Python converts
            raise self.fail(
                f"the number {show_quoted(text)} has too many digits",
                node,
                hint="quote it to make it a string",
            ) from None


def _reader_error(
    exc: yaml.reader.ReaderError, text: str, path: str, what: str
) -> MappingFileError:
    """A character YAML does not allow (control characters, U+FFFE ...)."""
    line, column = _position(text, int(exc.position))
    character = int(exc.character)
    return MappingFileError(
        f"{what} contains the character U+{character:04X}, which YAML does not allow",
        path=path,
        line=line,
        column=column,
        hint=f'remove it, or write it as the escape "\\u{character:04X}" inside double quotes',
    )


_TOKEN_NAMES: Final = {
    "directive": "a %-directive",
    "document start": "'---'",
    "document end": "'...'",
    "stream start": "the start of the file",
    "stream end": "the end of the file",
    "block sequence start": "the start of an indented list",
    "block mapping start": "the start of an indented mapping",
    "block end": "the end of an indented block",
    "alias": "an alias",
    "anchor": "an anchor",
    "tag": "a tag",
    "scalar": "a value",
}
_TOKEN_RE: Final = re.compile(f"'?<({'|'.join(_TOKEN_NAMES)})>'?")


def _plain_yaml_text(text: str | None) -> str:
    """PyYAML's wording with its token names (``'<stream end>'``) in words."""
    text = (text or "").replace("\n", " ")
    return _TOKEN_RE.sub(lambda m: _TOKEN_NAMES[m.group(1)], text)


def _syntax_message(exc: yaml.MarkedYAMLError, what: str) -> tuple[str, str | None]:
    """A one-line message (and hint) for PyYAML's syntax error."""
    problem = _plain_yaml_text(exc.problem)
    context = _plain_yaml_text(exc.context)
    if problem == "but found another document":
        return f"{what} holds more than one YAML document", "remove the second '---'"
    if problem == "second occurrence":
        return f"YAML syntax error: {context.replace('; first occurrence', '')}", None
    if "'@'" in problem or "'`'" in problem:
        return (
            f"YAML syntax error: {problem}",
            'YAML reserves @ and `: quote text that starts with them, e.g. "@path"',
        )
    if "'\\t'" in problem:
        return f"YAML syntax error: {problem}", "YAML does not allow tabs here; indent with spaces"
    if context.startswith("while ") and problem:
        return f"YAML syntax error {context}: {problem}", None
    return f"YAML syntax error: {problem or context or 'invalid YAML'}", None


def parse_yaml(data: bytes | str, path: str, what: str) -> tuple[Any, YamlPositions]:
    raw = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else data
    if len(raw) > MAX_FILE_BYTES:
        raise MappingFileError(
            f"{what} is too large: {len(raw):,} bytes, over the limit of {MAX_FILE_BYTES:,}",
            path=path,
        )
    raw = raw.removeprefix(codecs.BOM_UTF8)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        before = raw[: exc.start].decode("utf-8")  # all valid up to the bad byte
        line, column = _position(before, len(before))  # lines as PyYAML counts them
        raise MappingFileError(
            f"{what} is not valid UTF-8: byte 0x{raw[exc.start]:02X} cannot be read",
            path=path,
            line=line,
            column=column,
            hint="save the file as UTF-8",
        ) from None
    try:
        loader = _Loader(text, path)
    except yaml.reader.ReaderError as exc:
        raise _reader_error(exc, text, path, what) from None
    try:
        try:
            node = loader.get_single_node()
        except (ValueError, OverflowError):  # PyYAML's chr() on an escape such as "\UFFFFFFFF"
            here = loader.get_mark()
            raise MappingFileError(
                "YAML syntax error: an escape names a character that does not exist",
                path=path,
                line=here.line + 1,
                column=here.column + 1,
            ) from None
        if node is None or (node.tag == _YAML_TAG + "null" and node.value == ""):
            raise MappingFileError(f"{what} is empty", path=path)
        builder = _Builder(path, text)
        value = builder.build(node)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        message, hint = _syntax_message(exc, what)
        raise MappingFileError(
            message,
            path=path,
            line=mark.line + 1 if mark else None,
            column=mark.column + 1 if mark else None,
            hint=hint,
        ) from None
    finally:
        loader.dispose()
    return value, builder.positions


# -- step 2: shape ---------------------------------------------------------------------


@cache
def mapping_file_schema() -> dict[str, Any]:
    """The JSON schema of the mapping file (package data)."""
    text = resources.files("fbcli").joinpath("schemas", "mappings.schema.json").read_text("utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


_TYPE_NAMES: Final = {
    "object": "a mapping",
    "array": "a list",
    "string": "a string",
    "boolean": "true or false",
    "number": "a number",
    "integer": "a whole number",
    "null": "null",
}


def _name_of(path: Path) -> str:
    """How a message names the value at ``path``."""
    if not path:
        return "the mapping file"
    if isinstance(path[-1], int):
        return "a subscription" if path[0] == "subscriptions" and len(path) == 2 else "an entry"
    return f"'{path[-1]}'"


def _type_message(wanted: Any, value: Any, path: Path) -> tuple[str, str | None]:
    names = [_TYPE_NAMES[t] for t in (wanted if isinstance(wanted, list) else [wanted])]
    message = f"{_name_of(path)} must be {' or '.join(names)}, not {kind_of(value)}"
    if path == ():
        return message, "start the file with 'version: 1' and a 'subscriptions:' list"
    if wanted == "string" and isinstance(value, bool | int | float):
        return message, f"quote it to make it a string: {json.dumps(json.dumps(value))}"
    if wanted == "boolean" and isinstance(value, str) and value.lower() in _YAML11_BOOLEANS:
        return message, "write true or false (in YAML 1.2, yes/no/on/off are strings)"
    return message, None


def _shape_message(error: ValidationError) -> tuple[str, str | None, Path, bool]:
    """(message, hint, path, point at the key?) for a schema error."""
    path: Path = tuple(error.absolute_path)
    in_subscription = len(path) == 2 and path[0] == "subscriptions"
    where = "a subscription" if in_subscription else "the mapping file"
    value: Any = error.instance
    expected: Any = error.validator_value
    schema: Any = error.schema
    if error.validator == "additionalProperties":
        allowed = sorted(schema.get("properties", {}))
        extra = next(k for k in value if k not in allowed)
        return (
            f"unknown key {show_quoted(extra)} in {where}{did_you_mean(extra, allowed)}",
            f"the keys of {where} are: {', '.join(allowed)}",
            (*path, extra),
            True,
        )
    if error.validator == "required":
        missing = next(k for k in expected if k not in value)
        return f"{where} has no '{missing}'", None, path, False
    name = _name_of(path)
    if error.validator == "enum":
        known = [str(v) for v in expected]
        if path[-1] == "action" and isinstance(value, str):
            return (
                f"unknown action {show_quoted(value)}{did_you_mean(value, known)}",
                f"the actions are: {', '.join(known)}",
                path,
                False,
            )
        suggestion = did_you_mean(value, known) if isinstance(value, str) else ""
        choices = f"{', '.join(known[:-1])} or {known[-1]}"
        return (
            f"{name} must be {choices}, not {show_quoted(value)}{suggestion}",
            None,
            path,
            False,
        )
    if error.validator == "const" and path == ("version",):
        return (
            f"unsupported mapping file version {show_quoted(value)}",
            f"this fbcli reads 'version: {json.dumps(expected)}'",
            path,
            False,
        )
    if error.validator == "const":
        return (
            f"{name} must be {show_quoted(expected)}, not {show_quoted(value)}",
            None,
            path,
            False,
        )
    if error.validator == "type":
        return (*_type_message(expected, value, path), path, False)
    if error.validator == "minLength":
        return f"{name} must not be empty", None, path, False
    if error.validator == "minItems":
        return (
            f"{name} is empty",
            "a mapping file needs at least one subscription",
            path,
            False,
        )
    message = error.message.replace("\n", " ")
    return f"{name} is not valid: {message}", None, path, False


@cache
def _shape_check() -> Check:
    return compile_check(mapping_file_schema())


@cache
def _shape_validator() -> Draft202012Validator:
    from jsonschema import Draft202012Validator  # noqa: PLC0415 - only a broken file needs it

    return Draft202012Validator(mapping_file_schema())


def _check_shape(document: Any, checker: LocatedChecker[MappingFileError]) -> None:
    """Check the file against its schema: the compiled check, then jsonschema to word a failure."""
    if _shape_check()(document):
        return
    errors = list(_shape_validator().iter_errors(document))
    if not errors:
        return
    # Report the error the user meets first in the file; at one place, the most specific,
    # and a missing key last (it is often a misspelled one, reported as unknown).
    error = min(
        errors,
        key=lambda e: (
            checker.positions.at(tuple(e.absolute_path)) or (0, 0),
            e.validator == "required",
            -len(e.absolute_path),
        ),
    )
    message, hint, at, key = _shape_message(error)
    raise checker.fail(message, at, key=key, hint=hint)


# -- step 3: meaning -------------------------------------------------------------------


def compile_field(
    mapping: Any, *, field: str = "", origin: Literal["default", "file"], line: int | None
) -> FieldMapping:
    """Compile one field's mapping (raises ``DirectiveError``)."""
    resolve = compile_mapping(mapping)
    return FieldMapping(field, mapping, resolve, tuple(source_paths(mapping)), origin, line)


@cache
def _default_field(action_name: str, field: str) -> FieldMapping:
    action = ACTIONS[action_name]
    spec = action.field_named(field)
    assert spec is not None
    return compile_field(spec.default, field=field, origin="default", line=None)


def build_subscription(
    *,
    name: str,
    action: Action,
    trigger: str,
    mode: Mode,
    overrides: Mapping[str, FieldMapping | None] | None = None,
    enabled: bool = True,
    line: int | None = None,
) -> Subscription:
    """A subscription from its parts; fields not overridden keep their defaults.

    ``overrides`` maps a field to its compiled mapping, or to ``None`` to unmap it;
    only the action's fields in ``mode`` are used.  Raises ``TriggerSyntaxError``
    for a bad trigger.
    """
    node = parse_trigger(trigger)
    overrides = overrides or {}
    fields: list[FieldMapping] = []
    for spec in action.fields_in(mode):
        if spec.name in overrides:
            override = overrides[spec.name]
            if override is not None:
                fields.append(override)
        elif spec.default is not None:
            fields.append(_default_field(action.name, spec.name))
    return Subscription(
        name=name,
        action=action,
        trigger=trigger,
        node=node,
        matches=compile_trigger(node),
        fields=tuple(fields),
        enabled=enabled,
        line=line,
    )


_PATH_LIKE_RE: Final = re.compile(r"\$\.[^\s{}]+|(?:properties|traits|context)\.[\w.\-\[\]]+")
"""A constant that is surely meant as an event path: ``$.a.b``, ``properties.x``."""


def _path_like_constants(mapping: Any, at: Path = ()) -> list[tuple[Path, str]]:
    """The text constants of a field mapping that look like event paths, with where they are:
    the mapping itself, or strings inside its plain objects and lists (not inside directives,
    whose arguments are paths, templates or deliberate constants)."""
    if isinstance(mapping, str):
        return [(at, mapping)] if _PATH_LIKE_RE.fullmatch(mapping.strip()) else []
    if isinstance(mapping, dict) and not any(key.startswith("@") for key in mapping):
        return [
            found
            for key, value in mapping.items()
            for found in _path_like_constants(value, (*at, key))
        ]
    if isinstance(mapping, list):
        return [
            found
            for i, value in enumerate(mapping)
            for found in _path_like_constants(value, (*at, i))
        ]
    return []


class _Checker(LocatedChecker[MappingFileError]):
    """Checks the meaning of a mapping file whose shape is right (step 3)."""

    error = MappingFileError

    def __init__(self, path: str, positions: YamlPositions) -> None:
        super().__init__(path, positions)
        self.warnings: list[str] = []

    def lint_constant(self, field: str, mapping: Any, at: Path) -> None:
        """Warn about a constant that looks like an event path: it is sent as that text."""
        for where, text in _path_like_constants(mapping, at):
            line, column = self.positions.at(where) or (None, None)
            place = self.path + (f":{line}:{column}" if line is not None else "")
            path = text.strip()
            path = path if path.startswith("$.") else f"$.{path}"
            wrapped = json.dumps({"@path": path}, ensure_ascii=False)
            self.warnings.append(
                f"'{field}' is the constant text {json.dumps(text, ensure_ascii=False)}, sent "
                f"as it is, not the event's value there ({place}); to read the event, "
                + (f"write {field}: {wrapped}" if where == at else f"write {wrapped} there")
            )

    def trigger_error(self, exc: TriggerSyntaxError, at: Path) -> MappingFileError:
        """Point at the offending character inside the YAML scalar holding the trigger."""
        exact = self.positions.in_scalar(at, exc.column - 1)
        if exact is not None:
            return MappingFileError(
                f"bad trigger: {exc.message}", path=self.path, line=exact[0], column=exact[1]
            )
        return self.fail(f"bad trigger at column {exc.column}: {exc.message}", at)

    def directive_error(
        self, exc: DirectiveError, at: Path, *, prefix: str = "bad mapping"
    ) -> MappingFileError:
        """Point at the key (``@foo``, ``exists``) or list entry the directive error names."""
        where: Path = (*at, *exc.location)
        key = bool(where) and isinstance(where[-1], str)
        return self.fail(f"{prefix}: {exc.message}", where, key=key)

    def merchant_id(self, document: Mapping[str, Any], mode: Mode, env: str | None) -> str | None:
        merchant_id: str | None = document.get("merchant_id")
        if merchant_id is not None and not _UUID_RE.fullmatch(merchant_id):
            raise self.fail(
                f"merchant_id {show_quoted(merchant_id)} is not a UUID",
                ("merchant_id",),
                hint="a merchant ID looks like 1993d0f1-8206-4336-8c88-64e170f2419e",
            )
        if mode != "direct" or merchant_id not in (None, PLACEHOLDER_MERCHANT_ID):
            return merchant_id
        env = (env or "").strip()
        if not env:
            if merchant_id is not None:  # the placeholder, with nothing to replace it
                self.warnings.append(
                    f"merchant_id in {self.path} is the placeholder {PLACEHOLDER_MERCHANT_ID}: "
                    f"put your Friendbuy merchant ID there or set {MERCHANT_ID_ENV}"
                )
                return merchant_id
            raise self.fail(
                "direct mode needs a merchant_id",
                ("mode",),
                hint=f"add 'merchant_id: <uuid>' to the file or set {MERCHANT_ID_ENV}",
            )
        return check_merchant_id(env, source=MERCHANT_ID_ENV)

    def subscription(self, raw: Mapping[str, Any], index: int, mode: Mode) -> Subscription:
        at: Path = ("subscriptions", index)
        action = ACTIONS[raw["action"]]
        if mode not in action.modes:
            only = " and ".join(sorted(action.modes))
            raise self.fail(
                f"action '{action.name}' is available in {only} mode only; "
                f"this file is mode: {mode}",
                (*at, "action"),
                hint="set 'mode: direct' at the top of the file" if mode == "cloud" else None,
            )
        overrides: dict[str, FieldMapping | None] = {}
        for field, mapping in (raw.get("mapping") or {}).items():
            field_at: Path = (*at, "mapping", field)
            spec = action.field_named(field)
            known = [f.name for f in action.fields_in(mode)]
            if spec is None:
                raise self.fail(
                    f"unknown field {show_quoted(field)} for {action.name}"
                    + did_you_mean(field, known),
                    field_at,
                    key=True,
                    hint=f"the fields of {action.name} are: {', '.join(known)}",
                )
            if mode not in spec.modes:
                only = " and ".join(sorted(spec.modes))
                raise self.fail(
                    f"field '{field}' of {action.name} exists in {only} mode only; "
                    f"this file is mode: {mode}",
                    field_at,
                    key=True,
                    hint=f"the fields of {action.name} in {mode} mode are: {', '.join(known)}",
                )
            if mapping is None:
                overrides[field] = None
                continue
            line = (self.positions.at(field_at, key=True) or (None, None))[0]
            self.lint_constant(field, mapping, field_at)
            try:
                overrides[field] = compile_field(mapping, field=field, origin="file", line=line)
            except DirectiveError as exc:
                raise self.directive_error(
                    exc, field_at, prefix=f"bad mapping for '{field}'"
                ) from None
        try:
            return build_subscription(
                name=raw["name"],
                action=action,
                trigger=raw["trigger"],
                mode=mode,
                overrides=overrides,
                enabled=raw.get("enabled", True),
                line=(self.positions.at(at) or (None, None))[0],
            )
        except TriggerSyntaxError as exc:
            raise self.trigger_error(exc, (*at, "trigger")) from None


def check_merchant_id(value: str, *, source: str) -> str:
    """``value`` when it is a UUID (a merchant ID), else ``ConfigError`` naming ``source``."""
    if not _UUID_RE.fullmatch(value):
        raise ConfigError(
            f"{source} is not a UUID: {show_quoted(value)}",
            hint="a merchant ID looks like 1993d0f1-8206-4336-8c88-64e170f2419e",
        )
    return value


def load_mappings(
    data: bytes | str, *, path: str, merchant_id_env: str | None = None
) -> MappingConfig:
    """Load and check a mapping file's content (``path`` is only used in messages).

    ``merchant_id_env`` is the value of ``FRIENDBUY_MERCHANT_ID``, used in
    direct mode when the file has no ``merchant_id``.  Raises
    ``MappingFileError`` for any mistake in the file, located in it, and
    ``ConfigError`` when the file relies on ``merchant_id_env`` and that is not
    a UUID.
    """
    document, positions = parse_yaml(data, path, "the mapping file")
    checker = _Checker(path, positions)
    _check_shape(document, checker)
    mode: Mode = document.get("mode") or "cloud"
    merchant_id = checker.merchant_id(document, mode, merchant_id_env)
    subscriptions: list[Subscription] = []
    seen: dict[str, int] = {}
    for index, raw in enumerate(document["subscriptions"]):
        name = raw["name"]
        if name in seen:
            first = positions.at(("subscriptions", seen[name], "name"), key=True)
            raise checker.fail(
                f"duplicate subscription name {show_quoted(name)}"
                + (f"; it is first used on line {first[0]}" if first else ""),
                ("subscriptions", index, "name"),
                hint="give each subscription its own name",
            )
        seen[name] = index
        subscriptions.append(checker.subscription(raw, index, mode))
    return MappingConfig(path, mode, merchant_id, tuple(subscriptions), tuple(checker.warnings))


def _is_json(text: str) -> bool:
    try:
        json.loads(text)
    except (ValueError, RecursionError):  # deep nesting is refused by the YAML step
        return False
    return True


def load_mapping_file(
    path: str | os.PathLike[str] | None = None, *, merchant_id: str | None = None
) -> MappingConfig:
    """The mapping file at ``path``; without one, ``./mappings.yaml`` when there is one, else
    the built-in default (``default_mappings``).  ``merchant_id``: the direct-mode merchant ID
    when the file has none (``FRIENDBUY_MERCHANT_ID``)."""
    if path is None:
        local = pathlib.Path("mappings.yaml")
        if not local.is_file():
            return default_mappings()
        path = local
    data = read_bounded(pathlib.Path(path), "mapping file", limit=MAX_FILE_BYTES)
    return load_mappings(data, path=str(path), merchant_id_env=merchant_id)


def load_field_mapping(text: str, *, path: str) -> FieldMapping:
    """One field mapping given as JSON or YAML text (``fbcli eval --mapping``).

    Raises ``MappingFileError`` located in the text (``path`` names it in messages).
    JSON is read as YAML, for the positions; tabs, which YAML refuses but JSON
    allows between tokens, are read as spaces when the text is valid JSON.
    """
    if "\t" in text and _is_json(text):
        text = text.replace("\t", " ")  # strict JSON has tabs only between tokens
    value, positions = parse_yaml(text, path, "the mapping")
    try:
        return compile_field(value, origin="file", line=None)
    except DirectiveError as exc:
        raise _Checker(path, positions).directive_error(exc, ()) from None


def default_mappings() -> MappingConfig:
    """The built-in mapping: the suggested trigger of each cloud action, default fields."""
    subscriptions = tuple(
        build_subscription(
            name=action.title, action=action, trigger=action.suggested_trigger, mode="cloud"
        )
        for action in ACTIONS.values()
        if action.suggested_trigger is not None and "cloud" in action.modes
    )
    return MappingConfig(BUILT_IN, "cloud", None, subscriptions)
