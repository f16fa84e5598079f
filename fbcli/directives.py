"""Mapping-kit directives: compile a field mapping once, resolve it per event.

A field mapping is a JSON value in which objects with one ``@``-key are
directives (``@path``, ``@template``, ``@literal``, ``@if``, ``@arrayPath``,
``@case``, ``@replace``, ``@merge``, ``@json``, ``@flatten``,
``@excludeWhenNull``); everything else is a constant, and objects and arrays are
walked.  The semantics are those of Segment's mapping-kit as written down in
docs/mapping-file.md ("Field mapping directives").

``compile_mapping`` checks the whole mapping up front and raises
``DirectiveError`` (message plus ``location``, the key path inside the mapping)
for anything mapping-kit would reject, at load time or at run time for every
event.  It returns a resolver: a closure that takes one event and returns the
mapped value or ``MISSING``.  Paths are split, templates parsed and options
checked at compile time, so resolvers only walk data; they never raise, and they
recurse only as deep as the mapping (at most ``MAX_MAPPING_DEPTH`` levels),
never as deep as the event.  Results may share objects with the event (``@path``
returns the event's own sub-objects): treat them as read-only.

Decisions where mapping-kit's own documentation is silent (mapping-kit's behaviour unless
said; docs/mapping-file.md states them for users):

- A directive inside an array that resolves to nothing becomes ``null`` in place
  (mapping-kit keeps ``undefined`` there, which its JSON body turns into
  ``null``); arrays keep their length.  Objects inside arrays are cleaned of
  missing keys like any other object.
- ``@merge`` works like ``Object.assign``: a member that resolves to nothing in
  an object written in ``objects`` (or built by ``@literal``/``@if``/
  ``@excludeWhenNull``/``@merge`` there) still overrides, so it removes the same
  key coming from an earlier object (``right``) or later one (``left``).
  Entries that resolve to arrays or strings are ignored, like other non-objects.
- ``@path``: only a leading ``$.`` is stripped (mapping-kit removes the first
  ``$.`` anywhere); ``$`` alone is a key named ``$``.  A path is cut into keys
  as mapping-kit's ``get`` cuts it (``_split``: ``a[0]`` and ``a["b"]`` are two
  keys, ``a[b]`` is one; a path of dots only is the whole event).  Array
  items are reached by canonical decimal indexes only (``0``, ``12``, not
  ``01``, ``-1`` or ``length``); objects by their own keys only; a string is
  not indexed (a non-object).
- A directive that should produce a path or template text (``@path``,
  ``@template`` arguments, a ``@flatten`` separator) but resolves to something
  other than a string makes the directive give nothing (mapping-kit throws for
  that event).
- ``@template`` placeholders are plain paths: ``{{$.a}}`` looks up a key named
  ``$`` (as in mapping-kit); ``{{ }}`` is the whole event.  Substituted text is
  never scanned again for placeholders.  Whitespace trimmed inside the braces
  is JavaScript's (``String#trim``).
- ``@if``: ``exists`` or ``blank`` must be a directive or a JavaScript-truthy
  constant (mapping-kit throws at run time when neither is truthy, so
  ``exists: false`` alone is invalid); with both keys present, ``exists`` wins
  even when it is ``null``.
  The ``blank`` test is JavaScript's ``value != ''``, so ``[null]``, ``[""]``
  and ``[[]]`` are blank too, and objects are never blank.
- ``@case`` and ``@replace``: ``value`` must be a string or a directive; a
  constant ``""`` gives nothing (mapping-kit tests the option's truthiness).
  Upper/lower casing is Python's full Unicode casing (``ß`` upper-cases to
  ``SS`` as in JavaScript).
- ``@replace``: lengths are counted in UTF-16 code units, as in JavaScript;
  ``replacement`` must be a string when given; ``pattern2``/``replacement2``
  follow the same rules (``null`` or ``""`` ``pattern2`` means no second pair);
  the replacement text keeps JavaScript's ``$$``, ``$&``, `` $` `` and ``$'``
  substitutions.
- ``@json``: ``value`` and ``mode`` are required; ``mode`` must be exactly
  ``encode`` or ``decode``; a constant ``value`` of ``null``, ``false``, ``0``
  or ``""`` is invalid (mapping-kit throws for it on every event).  Decoding
  treats as "not JSON" (text returned unchanged) anything Python's ``json``
  rejects, ``NaN``/``Infinity``/overflowing numbers, and documents nested
  deeper than ``MAX_MAPPING_DEPTH`` levels.  Decoded integers stay exact.
- ``@arrayPath``: the first item is a path string or a directive whose *result*
  is the array (not a path); the item shape is used only when it is a non-empty
  object (a directive counts); a root that is neither an array nor an object is
  returned as is; items beyond the second are ignored.  An item that resolves
  to nothing becomes ``null``.
- ``@merge``: ``direction`` must be the constant ``left`` or ``right``;
  ``objects`` may be empty (gives ``{}``).
- ``@flatten``: ``separator`` is a non-empty string or a directive;
  ``omitArrays`` must be a boolean when given; a missing ``value`` gives ``{}``;
  a scalar value ``v`` gives ``{"": v}``; empty objects and arrays disappear; a
  key reached through an empty-string key is not prefixed by the separator.
- ``@excludeWhenNull`` does not look inside arrays at all (their objects keep
  their nulls).
- Unknown option keys inside a directive's object (``{"@if": {..., "than":
  1}}``) are ignored, but their values must still be valid mappings.
- Every constant must be a JSON value: strings, finite numbers, booleans,
  ``null``, arrays and objects with string keys (YAML dates, ``.inf`` or
  integer keys are invalid).  Mappings nested deeper than ``MAX_MAPPING_DEPTH``
  are invalid.
- ``source_paths`` writes array indexes as ``[0]``, the whole event as ``$``,
  and leaves out paths inside an ``@arrayPath`` item shape (they are relative
  to each item).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from functools import lru_cache
from typing import Any, Final

from fbcli.jsvalues import js_json, js_string, js_truthy
from fbcli.text import show_js
from fbcli.values import MISSING

__all__ = [
    "KNOWN_DIRECTIVES",
    "MAX_MAPPING_DEPTH",
    "DirectiveError",
    "Location",
    "Resolver",
    "compile_mapping",
    "get_path",
    "path_keys",
    "resolve_mapping",
    "source_paths",
]

Resolver = Callable[[Any], Any]
"""A compiled mapping: event in, mapped value (or ``MISSING``) out."""

Location = tuple[str | int, ...]
"""Keys and array indexes leading from the mapping's root to a problem."""

MAX_MAPPING_DEPTH: Final = 100
"""How deeply mappings (and documents decoded by ``@json``) may nest."""

MAX_PATTERN_LENGTH: Final = 10
MAX_REPLACEMENT_LENGTH: Final = 10

_Segment = tuple[str, int | None]  # key, and the key as an array index if it is one
_Path = tuple[_Segment, ...]  # () is the whole event

_SPLIT_RE: Final = re.compile(r"""\[(?=["'\d])|\.|(?<=["'\d])\]+""", re.ASCII)
"""Where mapping-kit's ``get`` cuts a path: dots, and brackets next to a quote or digit."""
_PLACEHOLDER_RE: Final = re.compile(r"\{\{\{([^}]+)\}\}\}|\{\{([^}]+)\}\}")
_JS_WHITESPACE: Final = (
    " \t\n\v\f\r\u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008"
    "\u2009\u200a\u2028\u2029\u202f\u205f\u3000\ufeff"
)
_CACHED_TEXT_LENGTH: Final = 512


class DirectiveError(ValueError):
    """An invalid mapping: ``message`` says what, ``location`` where in the mapping."""

    def __init__(self, message: str, location: Location = ()) -> None:
        super().__init__(message)
        self.message = message
        self.location = location

    def __str__(self) -> str:
        return self.message


# --- paths -------------------------------------------------------------------------------


def _index(key: str) -> int | None:
    if key.isascii() and key.isdigit() and (len(key) == 1 or key[0] != "0"):
        try:
            return int(key)
        except ValueError:  # more digits than int() converts: past the end of any array
            return None
    return None


def _split_uncached(path: str) -> _Path:
    if path in ("", "."):
        return ()
    keys = [key.replace("'", "").replace('"', "") for key in _SPLIT_RE.split(path) if key]
    return tuple((key, _index(key)) for key in keys)


_split_cached = lru_cache(maxsize=1024)(_split_uncached)


def _split(path: str) -> _Path:
    """Split a path into keys as mapping-kit's ``get`` does (none: the whole value).

    A dot separates keys; a bracket only when a quote or a digit is next to it
    (``a[0].b``, ``a["b c"]``; ``a[b]`` is one key, ``a[b]``); quotes are then
    removed from every key; empty keys are skipped, so ``..`` is the whole value.
    """
    if len(path) > _CACHED_TEXT_LENGTH:
        return _split_uncached(path)
    return _split_cached(path)


def _strip_root(path: str) -> str:
    return path[2:] if path.startswith("$.") else path


def _walk(data: Any, path: _Path) -> Any:
    value = data
    for key, index in path:
        if isinstance(value, dict):
            value = value.get(key, MISSING)
        elif isinstance(value, list):
            if index is None or index >= len(value):
                return MISSING
            value = value[index]
        elif js_truthy(value):
            return MISSING
        else:
            return value  # a falsy value met on the way is the result
    return value


def get_path(data: Any, path: str) -> Any:
    """Look ``path`` up in ``data`` as ``@path`` does; ``MISSING`` if it is not there."""
    return _walk(data, _split(_strip_root(path)))


def _show_path(path: _Path) -> str:
    return "$" + "".join(f"[{index}]" if index is not None else f".{key}" for key, index in path)


# --- templates ---------------------------------------------------------------------------


_Template = tuple[tuple[str, ...], tuple[_Path, ...]]


def _parse_template_uncached(text: str) -> _Template:
    literals: list[str] = []
    holes: list[_Path] = []
    position = 0
    for match in _PLACEHOLDER_RE.finditer(text):
        literals.append(text[position : match.start()])
        inner = match.group(1) if match.group(1) is not None else match.group(2)
        holes.append(_split(inner.strip(_JS_WHITESPACE)))
        position = match.end()
    literals.append(text[position:])
    return tuple(literals), tuple(holes)


_parse_template_cached = lru_cache(maxsize=256)(_parse_template_uncached)


def _parse_template(text: str) -> _Template:
    if len(text) > _CACHED_TEXT_LENGTH:
        return _parse_template_uncached(text)
    return _parse_template_cached(text)


def _render(template: _Template, data: Any) -> str:
    literals, holes = template
    parts = [literals[0]]
    for number, hole in enumerate(holes, start=1):
        value = _walk(data, hole)
        if isinstance(value, str):
            parts.append(value)
        elif value is not None and value is not MISSING:
            parts.append(js_string(value))
        parts.append(literals[number])
    return "".join(parts)


# --- value helpers -----------------------------------------------------------------------


def _js_length(text: str) -> int:
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def _is_blank(value: Any) -> bool:
    """JavaScript's ``value == null || value == ''``."""
    if value is None or value is MISSING:
        return True
    if isinstance(value, str):
        return value == ""
    if isinstance(value, (bool, int, float)):
        return value == 0
    if isinstance(value, list | dict):  # == turns it into text (which may throw: JsTypeError)
        return js_string(value) == ""
    return False


def _drop_nulls(value: dict[Any, Any]) -> dict[Any, Any]:
    """Copy ``value`` without null members, in nested objects too (not in arrays)."""
    root: dict[Any, Any] = {}
    stack = [(value, root)]
    while stack:
        source, target = stack.pop()
        for key, member in source.items():
            if member is None:
                continue
            if isinstance(member, dict):
                copy: dict[Any, Any] = {}
                target[key] = copy
                stack.append((member, copy))
            else:
                target[key] = member
    return root


def _flatten(value: Any, separator: str, omit_arrays: bool) -> dict[str, Any]:
    """mapping-kit's ``flattenObject(value, '', separator, omitArrays)``, without recursion."""

    def members(container: Any) -> Any:
        if isinstance(container, dict):
            return iter(container.items())
        return ((str(number), item) for number, item in enumerate(container))

    def is_container(item: Any) -> bool:
        return isinstance(item, dict) or (not omit_arrays and isinstance(item, list))

    if not is_container(value):
        return {} if value is MISSING else {"": value}
    flat: dict[str, Any] = {}
    frames: list[tuple[Any, str]] = [(members(value), "")]
    while frames:
        iterator, prefix = frames[-1]
        for key, item in iterator:
            name = key if isinstance(key, str) else js_string(key)
            full = f"{prefix}{separator}{name}" if prefix else name
            if is_container(item):
                frames.append((members(item), full))
                break
            flat[full] = item
        else:
            frames.pop()
    return flat


def _finite_float(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):
        raise ValueError(text)
    return number


def _reject_constant(text: str) -> Any:
    raise ValueError(text)


def _nests_deeper(value: Any, limit: int) -> bool:
    stack = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, (dict, list)):
            if depth >= limit:
                return True
            members = item.values() if isinstance(item, dict) else item
            stack.extend((member, depth + 1) for member in members)
    return False


def _decode(text: str) -> Any:
    try:
        value = json.loads(text, parse_float=_finite_float, parse_constant=_reject_constant)
    except (ValueError, RecursionError):
        return text
    if _nests_deeper(value, MAX_MAPPING_DEPTH):
        return text
    return value


_REPLACE_MATCH: Final = 0
_REPLACE_BEFORE: Final = 1
_REPLACE_AFTER: Final = 2


def _replacement_parts(replacement: str) -> list[str | int]:
    """Split a JavaScript replacement string into text and ``$&`` `` $` `` ``$'`` tokens."""
    parts: list[str | int] = []
    text: list[str] = []
    position = 0
    while position < len(replacement):
        char = replacement[position]
        follower = replacement[position + 1 : position + 2]
        if char == "$" and follower in ("$", "&", "`", "'"):
            if follower == "$":
                text.append("$")
            else:
                parts.append("".join(text))
                text = []
                parts.append("&`'".index(follower))
            position += 2
        else:
            text.append(char)
            position += 1
    parts.append("".join(text))
    return [part for part in parts if part != ""]


def _replacer(
    pattern: str, replacement: str, *, replace_all: bool, ignore_case: bool
) -> Callable[[str], str]:
    """``text.replace(new RegExp(escaped pattern, flags), replacement)`` as a function."""
    count = 0 if replace_all else 1
    parts = _replacement_parts(replacement)
    if all(isinstance(part, str) for part in parts):
        literal = "".join(str(part) for part in parts)
        if not ignore_case:
            if replace_all:
                return lambda text: text.replace(pattern, literal)
            return lambda text: text.replace(pattern, literal, 1)
        caseless = re.compile(re.escape(pattern), re.IGNORECASE)
        return lambda text: caseless.sub(lambda _match: literal, text, count)

    regex = re.compile(re.escape(pattern), re.IGNORECASE if ignore_case else 0)

    def expand(match: re.Match[str]) -> str:
        pieces: list[str] = []
        for part in parts:
            if isinstance(part, str):
                pieces.append(part)
            elif part == _REPLACE_MATCH:
                pieces.append(match.group())
            elif part == _REPLACE_BEFORE:
                pieces.append(match.string[: match.start()])
            else:
                pieces.append(match.string[match.end() :])
        return "".join(pieces)

    return lambda text: regex.sub(expand, text, count)


# --- compiling ---------------------------------------------------------------------------


def _is_directive(value: Any) -> bool:
    return isinstance(value, dict) and any(
        isinstance(key, str) and key.startswith("@") for key in value
    )


def _constant(value: Any) -> Resolver:
    return lambda _data: value


def _check_scalar(value: Any, location: Location) -> None:
    if value is None or isinstance(value, (str, bool, int)):
        return
    if isinstance(value, float):
        if math.isfinite(value):
            return
        raise DirectiveError(f"{value!r} is not a JSON number", location)
    raise DirectiveError(
        f"a {type(value).__name__} is not a JSON value (quote it to make it a string)", location
    )


def _directive_name(node: dict[Any, Any], location: Location) -> str | None:
    names = [key for key in node if isinstance(key, str) and key.startswith("@")]
    if not names:
        return None
    if len(names) > 1:
        raise DirectiveError(
            f"one object holds several directives ({', '.join(names)}); "
            "put each directive in its own object",
            location,
        )
    name = names[0]
    others = [str(key) for key in node if key not in (name, "_metadata")]
    if others:
        raise DirectiveError(
            f"directive {name} is mixed with other keys ({', '.join(others)}); "
            "a directive object holds only the directive (and _metadata)",
            location,
        )
    if name not in _COMPILERS:
        raise DirectiveError(
            f"unknown directive {name}; known directives: {', '.join(KNOWN_DIRECTIVES)}",
            (*location, name),
        )
    return name


def _compile(node: Any, location: Location, depth: int, keep: bool = False) -> Resolver:
    """Compile one mapping node.

    ``keep`` asks a plain object built here to keep members that resolve to
    ``MISSING`` (only ``@merge`` wants that, to copy ``Object.assign``).
    """
    if depth > MAX_MAPPING_DEPTH:
        raise DirectiveError(
            f"the mapping nests more than {MAX_MAPPING_DEPTH} levels deep", location
        )
    if isinstance(node, dict):
        name = _directive_name(node, location)
        if name is None:
            return _compile_object(node, location, depth, keep)
        return _COMPILERS[name](node[name], (*location, name), depth + 1, keep)
    if isinstance(node, list):
        return _compile_array(node, location, depth)
    _check_scalar(node, location)
    return _constant(node)


_Entry = tuple[str, Resolver | None, Any]


def _compile_entries(node: dict[Any, Any], location: Location, depth: int) -> list[_Entry]:
    """The members of an object mapping; a ``__proto__`` member is left out.

    mapping-kit builds the object by assignment, which makes such a member the
    object's prototype, and then copies it with ``Object.assign``, which drops
    the prototype: the member has no effect at all.
    """
    entries: list[_Entry] = []
    for key, value in node.items():
        if not isinstance(key, str):
            raise DirectiveError(f"object keys must be strings, not {key!r}", location)
        if key == "__proto__":
            continue
        if isinstance(value, (dict, list)):
            entries.append((key, _compile(value, (*location, key), depth + 1), None))
        else:
            _check_scalar(value, (*location, key))
            entries.append((key, None, value))
    return entries


def _compile_object(node: dict[Any, Any], location: Location, depth: int, keep: bool) -> Resolver:
    entries = _compile_entries(node, location, depth)
    if keep:

        def resolve_keeping(data: Any) -> Any:
            return {key: const if fn is None else fn(data) for key, fn, const in entries}

        return resolve_keeping

    def resolve_object(data: Any) -> Any:
        result = {}
        for key, fn, const in entries:
            if fn is None:
                result[key] = const
            else:
                value = fn(data)
                if value is not MISSING:
                    result[key] = value
        return result

    return resolve_object


def _compile_array(node: list[Any], location: Location, depth: int) -> Resolver:
    items: list[tuple[Resolver | None, Any]] = []
    for number, value in enumerate(node):
        if isinstance(value, (dict, list)):
            items.append((_compile(value, (*location, number), depth + 1), None))
        else:
            _check_scalar(value, (*location, number))
            items.append((None, value))

    def resolve_array(data: Any) -> Any:
        result = []
        for fn, const in items:
            if fn is None:
                result.append(const)
            else:
                value = fn(data)
                result.append(None if value is MISSING else value)
        return result

    return resolve_array


def _options(name: str, arg: Any, location: Location, expected: str) -> dict[str, Any]:
    if not isinstance(arg, dict) or _is_directive(arg):
        raise DirectiveError(f"{name} expects an object {expected}, not {show_js(arg)}", location)
    for key in arg:
        if not isinstance(key, str):
            raise DirectiveError(f"object keys must be strings, not {key!r}", location)
    return arg


def _check_unknown(
    options: dict[str, Any], known: tuple[str, ...], location: Location, depth: int
) -> None:
    """Options mapping-kit ignores must still be valid mappings."""
    for key, value in options.items():
        if key not in known:
            _compile(value, (*location, key), depth)


def _string_or_directive(
    name: str, value: Any, location: Location, depth: int, what: str
) -> Resolver | str:
    if isinstance(value, str):
        return value
    if _is_directive(value):
        return _compile(value, location, depth)
    raise DirectiveError(
        f"{name} {what} must be a string or a directive, not {show_js(value)}", location
    )


def _path_resolver(path: str) -> Resolver:
    segments = _split(_strip_root(path))
    if not segments:
        return lambda data: data
    if len(segments) == 1:
        key = segments[0][0]

        def resolve_key(data: Any) -> Any:
            if isinstance(data, dict):
                return data.get(key, MISSING)
            return _walk(data, segments)

        return resolve_key
    if len(segments) == 2:
        first, second = segments[0][0], segments[1][0]

        def resolve_two_keys(data: Any) -> Any:
            # The usual shape ($.properties.total through two objects) in two lookups;
            # anything else (a list, a scalar on the way) takes the general walk.
            if type(data) is dict:
                inner = data.get(first, MISSING)
                if type(inner) is dict:
                    return inner.get(second, MISSING)
            return _walk(data, segments)

        return resolve_two_keys
    return lambda data: _walk(data, segments)


def _compile_path(arg: Any, location: Location, depth: int, keep: bool) -> Resolver:
    if isinstance(arg, str):
        return _path_resolver(arg)
    if not _is_directive(arg):
        raise DirectiveError(
            '@path expects a path such as "$.properties.currency" or a directive, '
            f"not {show_js(arg)}",
            location,
        )
    inner = _compile(arg, location, depth)

    def resolve_dynamic_path(data: Any) -> Any:
        path = inner(data)
        return get_path(data, path) if isinstance(path, str) else MISSING

    return resolve_dynamic_path


def _compile_template(arg: Any, location: Location, depth: int, keep: bool) -> Resolver:
    if isinstance(arg, str):
        template = _parse_template(arg)
        if not template[1]:
            return _constant(arg)
        return lambda data: _render(template, data)
    if not _is_directive(arg):
        raise DirectiveError(
            f'@template expects template text such as "{{{{properties.name}}}}" '
            f"or a directive, not {show_js(arg)}",
            location,
        )
    inner = _compile(arg, location, depth)

    def resolve_dynamic_template(data: Any) -> Any:
        text = inner(data)
        return _render(_parse_template(text), data) if isinstance(text, str) else MISSING

    return resolve_dynamic_template


def _compile_literal(arg: Any, location: Location, depth: int, keep: bool) -> Resolver:
    return _compile(arg, location, depth, keep)


def _compile_if(arg: Any, location: Location, depth: int, keep: bool) -> Resolver:
    options = _options("@if", arg, location, "with exists or blank, then and else")
    _check_unknown(options, ("exists", "blank", "then", "else"), location, depth)
    if not (js_truthy(options.get("exists", MISSING)) or js_truthy(options.get("blank", MISSING))):
        raise DirectiveError(
            "@if needs a condition: exists or blank, usually a directive such as "
            '{"@path": "$.properties.coupon"}',
            location,
        )
    use_exists = "exists" in options
    condition_key = "exists" if use_exists else "blank"
    condition = _compile(options[condition_key], (*location, condition_key), depth)
    if "blank" in options and use_exists:
        _compile(options["blank"], (*location, "blank"), depth)
    then = (
        _compile(options["then"], (*location, "then"), depth, keep) if "then" in options else None
    )
    otherwise = None
    if "else" in options:
        compiled_else = _compile(options["else"], (*location, "else"), depth, keep)
        if js_truthy(options["else"]):
            otherwise = compiled_else

    if use_exists:

        def resolve_exists(data: Any) -> Any:
            value = condition(data)
            if value is not MISSING and value is not None:
                return MISSING if then is None else then(data)
            return MISSING if otherwise is None else otherwise(data)

        return resolve_exists

    def resolve_blank(data: Any) -> Any:
        if not _is_blank(condition(data)):
            return MISSING if then is None else then(data)
        return MISSING if otherwise is None else otherwise(data)

    return resolve_blank


def _compile_case(arg: Any, location: Location, depth: int, keep: bool) -> Resolver:
    options = _options("@case", arg, location, 'with operator ("lower" or "upper") and value')
    _check_unknown(options, ("operator", "value"), location, depth)
    operator = options.get("operator", MISSING)
    if operator not in ("lower", "upper"):
        where = (*location, "operator") if "operator" in options else location
        raise DirectiveError(
            f'@case operator must be "lower" or "upper", not {show_js(operator)}'
            if operator is not MISSING
            else '@case needs an operator: "lower" or "upper"',
            where,
        )
    if "value" not in options:
        return _constant(MISSING)
    value = _string_or_directive("@case", options["value"], (*location, "value"), depth, "value")
    if value == "":
        return _constant(MISSING)
    source = _constant(value) if isinstance(value, str) else value
    upper = operator == "upper"

    def resolve_case(data: Any) -> Any:
        text = source(data)
        if isinstance(text, str):
            return text.upper() if upper else text.lower()
        return text

    return resolve_case


def _replace_text(
    options: dict[str, Any],
    key: str,
    location: Location,
    *,
    minimum: int,
    maximum: int,
    nullable: bool = False,
) -> str:
    value = options.get(key)
    if value is None and (nullable or key not in options):
        return ""
    if not isinstance(value, str):
        raise DirectiveError(
            f"@replace {key} must be a string, not {show_js(value)}", (*location, key)
        )
    length = _js_length(value)
    if length < minimum:
        raise DirectiveError(f"@replace {key} must not be empty", (*location, key))
    if length > maximum:
        raise DirectiveError(
            f"@replace {key} is longer than {maximum} characters ({length})", (*location, key)
        )
    return value


def _replace_flag(options: dict[str, Any], key: str, location: Location, default: bool) -> bool:
    value = options.get(key, default)
    if not isinstance(value, bool):
        raise DirectiveError(
            f"@replace {key} must be true or false, not {show_js(value)}", (*location, key)
        )
    return value


def _compile_replace(arg: Any, location: Location, depth: int, keep: bool) -> Resolver:
    options = _options("@replace", arg, location, "with value, pattern and replacement")
    known = ("value", "pattern", "replacement", "global", "ignorecase", "pattern2", "replacement2")
    _check_unknown(options, known, location, depth)
    if "pattern" not in options:
        raise DirectiveError("@replace needs a pattern (the text to replace)", location)
    pattern = _replace_text(options, "pattern", location, minimum=1, maximum=MAX_PATTERN_LENGTH)
    replacement = _replace_text(
        options, "replacement", location, minimum=0, maximum=MAX_REPLACEMENT_LENGTH
    )
    pattern2 = _replace_text(
        options, "pattern2", location, minimum=0, maximum=MAX_PATTERN_LENGTH, nullable=True
    )
    replacement2 = _replace_text(
        options, "replacement2", location, minimum=0, maximum=MAX_REPLACEMENT_LENGTH, nullable=True
    )
    replace_all = _replace_flag(options, "global", location, default=True)
    ignore_case = _replace_flag(options, "ignorecase", location, default=False)
    if "value" not in options:
        raise DirectiveError("@replace needs a value (the text to change)", location)
    value = _string_or_directive("@replace", options["value"], (*location, "value"), depth, "value")
    if value == "":
        return _constant(MISSING)
    source = _constant(value) if isinstance(value, str) else value
    first = _replacer(pattern, replacement, replace_all=replace_all, ignore_case=ignore_case)
    second = (
        _replacer(pattern2, replacement2, replace_all=replace_all, ignore_case=ignore_case)
        if pattern2
        else None
    )

    def resolve_replace(data: Any) -> Any:
        text = source(data)
        if isinstance(text, str):
            pass
        elif isinstance(text, (bool, int, float)):
            text = js_string(text)
        else:
            return ""
        text = first(text)
        return text if second is None else second(text)

    return resolve_replace


def _compile_array_path(arg: Any, location: Location, depth: int, keep: bool) -> Resolver:
    if not isinstance(arg, list) or not arg:
        raise DirectiveError(
            f'@arrayPath expects [path, item-shape], such as ["$.properties.products", '
            f'{{"id": {{"@path": "$.product_id"}}}}], not {show_js(arg)}',
            location,
        )
    first = arg[0]
    if isinstance(first, str):
        root = _path_resolver(first)
    elif _is_directive(first):
        root = _compile(first, (*location, 0), depth)
    else:
        raise DirectiveError(
            f"@arrayPath path must be a string or a directive, not {show_js(first)}",
            (*location, 0),
        )
    shape = None
    if len(arg) > 1:
        compiled_shape = _compile(arg[1], (*location, 1), depth)
        if isinstance(arg[1], dict) and arg[1]:
            shape = compiled_shape
    if shape is None:
        return root
    item_shape = shape

    def resolve_array_path(data: Any) -> Any:
        value = root(data)
        if isinstance(value, list):
            items = value
        elif isinstance(value, dict):
            items = [value]
        else:
            return value
        result = []
        for item in items:
            mapped = item_shape(item)
            result.append(None if mapped is MISSING else mapped)
        return result

    return resolve_array_path


def _compile_merge(arg: Any, location: Location, depth: int, keep: bool) -> Resolver:
    options = _options(
        "@merge", arg, location, 'with objects (an array) and direction ("left" or "right")'
    )
    _check_unknown(options, ("objects", "direction"), location, depth)
    direction = options.get("direction", MISSING)
    if direction not in ("left", "right"):
        raise DirectiveError(
            f'@merge direction must be "left" or "right", not {show_js(direction)}'
            if direction is not MISSING
            else '@merge needs a direction: "left" or "right"',
            (*location, "direction") if "direction" in options else location,
        )
    objects = options.get("objects", MISSING)
    if not isinstance(objects, list):
        raise DirectiveError(
            f"@merge objects must be an array of objects or directives, not {show_js(objects)}"
            if objects is not MISSING
            else "@merge needs objects: an array of objects or directives",
            (*location, "objects") if "objects" in options else location,
        )
    sources: list[Resolver] = []
    for number, entry in enumerate(objects):
        where = (*location, "objects", number)
        if not isinstance(entry, dict):
            raise DirectiveError(
                f"@merge objects must hold objects or directives, not {show_js(entry)}", where
            )
        sources.append(_compile(entry, where, depth + 1, keep=True))
    if direction == "left":
        sources.reverse()

    def resolve_merge(data: Any) -> Any:
        merged: dict[str, Any] = {}
        for source in sources:
            value = source(data)
            if isinstance(value, dict):
                merged.update(value)
        if not keep and any(value is MISSING for value in merged.values()):
            return {key: value for key, value in merged.items() if value is not MISSING}
        return merged

    return resolve_merge


def _compile_json(arg: Any, location: Location, depth: int, keep: bool) -> Resolver:
    options = _options("@json", arg, location, 'with value and mode ("encode" or "decode")')
    _check_unknown(options, ("value", "mode"), location, depth)
    mode = options.get("mode", MISSING)
    if mode not in ("encode", "decode"):
        raise DirectiveError(
            f'@json mode must be "encode" or "decode", not {show_js(mode)}'
            if mode is not MISSING
            else '@json needs a mode: "encode" or "decode"',
            (*location, "mode") if "mode" in options else location,
        )
    if "value" not in options:
        raise DirectiveError("@json needs a value", location)
    if not js_truthy(options["value"]):
        raise DirectiveError(
            "@json value must be a directive or a truthy constant, "
            f"not {show_js(options['value'])}",
            (*location, "value"),
        )
    source = _compile(options["value"], (*location, "value"), depth)

    if mode == "encode":

        def resolve_encode(data: Any) -> Any:
            value = source(data)
            return MISSING if value is MISSING else js_json(value)

        return resolve_encode

    def resolve_decode(data: Any) -> Any:
        value = source(data)
        return _decode(value) if isinstance(value, str) else value

    return resolve_decode


def _compile_flatten(arg: Any, location: Location, depth: int, keep: bool) -> Resolver:
    options = _options("@flatten", arg, location, "with value, separator and omitArrays")
    _check_unknown(options, ("value", "separator", "omitArrays"), location, depth)
    if "separator" not in options:
        raise DirectiveError('@flatten needs a separator, such as "."', location)
    separator = _string_or_directive(
        "@flatten", options["separator"], (*location, "separator"), depth, "separator"
    )
    if separator == "":
        raise DirectiveError("@flatten separator must not be empty", (*location, "separator"))
    omit_arrays = options.get("omitArrays", False)
    if not isinstance(omit_arrays, bool):
        raise DirectiveError(
            f"@flatten omitArrays must be true or false, not {show_js(omit_arrays)}",
            (*location, "omitArrays"),
        )
    source = (
        _compile(options["value"], (*location, "value"), depth)
        if "value" in options
        else _constant(MISSING)
    )
    if isinstance(separator, str):
        text = separator
        return lambda data: _flatten(source(data), text, omit_arrays)
    dynamic = separator

    def resolve_flatten(data: Any) -> Any:
        joiner = dynamic(data)
        if not isinstance(joiner, str):
            return MISSING
        return _flatten(source(data), joiner, omit_arrays)

    return resolve_flatten


def _compile_exclude_when_null(arg: Any, location: Location, depth: int, keep: bool) -> Resolver:
    source = _compile(arg, location, depth, keep)

    def resolve_exclude_when_null(data: Any) -> Any:
        value = source(data)
        if value is None:
            return MISSING
        if isinstance(value, dict):
            return _drop_nulls(value)
        return value

    return resolve_exclude_when_null


_Compiler = Callable[[Any, Location, int, bool], Resolver]

_COMPILERS: Final[dict[str, _Compiler]] = {
    "@arrayPath": _compile_array_path,
    "@case": _compile_case,
    "@excludeWhenNull": _compile_exclude_when_null,
    "@flatten": _compile_flatten,
    "@if": _compile_if,
    "@json": _compile_json,
    "@literal": _compile_literal,
    "@merge": _compile_merge,
    "@path": _compile_path,
    "@replace": _compile_replace,
    "@template": _compile_template,
}

KNOWN_DIRECTIVES: Final = tuple(_COMPILERS)
"""The directive names fbcli knows, sorted."""


# --- public API --------------------------------------------------------------------------


def compile_mapping(mapping: Any) -> Resolver:
    """Check ``mapping`` and return a resolver that maps one event to a value or ``MISSING``.

    Raises ``DirectiveError`` if the mapping is invalid.
    """
    return _compile(mapping, (), 0)


def path_keys(mapping: Any) -> tuple[str, ...] | None:
    """The keys a plain ``{"@path": "$.a.b"}`` mapping reads, or ``None`` for any other mapping.

    For callers that inline the lookup: while each value on the way is a
    ``dict``, ``data[a][b]`` (``MISSING`` where a key is absent) is exactly what
    the mapping's resolver returns; when one is not a ``dict``, they must call
    the resolver.  ``None`` too for the whole event (``$``) and paths with no
    segment.
    """
    if not isinstance(mapping, dict) or len(mapping) != 1:
        return None
    path = mapping.get("@path")
    if not isinstance(path, str):
        return None
    segments = _split(_strip_root(path))
    if not segments:
        return None
    return tuple(key for key, _ in segments)


def resolve_mapping(mapping: Any, data: Any) -> Any:
    """Compile ``mapping`` and resolve it against ``data`` (for one-off use)."""
    return compile_mapping(mapping)(data)


def source_paths(mapping: Any) -> list[str]:
    """The event paths ``mapping`` reads, as ``$.a.b`` / ``$.a[0].b``, in order, once each.

    Collected statically: string ``@path`` arguments, ``@arrayPath`` roots and the
    placeholders of constant ``@template`` text.  Never raises, even for invalid
    mappings.
    """
    found: dict[str, None] = {}

    def add(path: _Path) -> None:
        found.setdefault(_show_path(path), None)

    stack: list[tuple[Any, int]] = [(mapping, 0)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_MAPPING_DEPTH:
            continue
        children: list[Any] = []
        if isinstance(node, list):
            children = node
        elif isinstance(node, dict):
            for key, value in node.items():
                if key == "@path" and isinstance(value, str):
                    add(_split(_strip_root(value)))
                elif key == "@template" and isinstance(value, str):
                    for hole in _parse_template(value)[1]:
                        add(hole)
                elif key == "@arrayPath" and isinstance(value, list):
                    if value and isinstance(value[0], str):
                        add(_split(_strip_root(value[0])))
                    elif value:
                        children.append(value[0])
                elif key != "_metadata" or not _is_directive(node):
                    children.append(value)
        stack.extend((child, depth + 1) for child in reversed(children))
    return list(found)
