"""JavaScript-style rendering of JSON values, as mapping-kit produces them.

Segment's mapping-kit runs on JavaScript, so the text it makes from a value is
JavaScript's: ``String(value)`` in templates and ``@replace``,
``JSON.stringify(value)`` in ``@json``, and JavaScript truthiness in ``@if``.
This module reproduces those three for the values fbcli handles (what
``json.loads`` returns, plus ``MISSING``, which plays JavaScript's
``undefined``).

- ``js_number``: ``Number#toString``: the shortest digits that round-trip
  (Python's ``repr`` digits), written in plain notation for decimal exponents
  from -7 to 20 and in ``1.5e+21`` notation outside it; ``-0`` is ``"0"``.
- ``js_string``: ``String(value)``; arrays are joined with ``,`` (``null`` and
  ``undefined`` items render as nothing, nested arrays are joined too) and
  objects are ``[object Object]`` (an object with a ``toString`` member makes
  JavaScript throw: ``JsTypeError``).
- ``js_json``: compact ``JSON.stringify``: no spaces, non-ASCII kept as is, lone
  surrogates escaped as ``\\udXXX``, numbers as ``js_number``, ``NaN`` and
  ``Infinity`` as ``null``; an object member whose value is ``MISSING`` is left
  out and a ``MISSING`` array item is ``null``.
- ``js_truthy``: ``""``, ``0``, ``NaN``, ``false``, ``null`` and ``MISSING`` are
  falsy; everything else, ``[]`` and ``{}`` included, is truthy.
- ``js_to_number``: ``Number(text)`` for a string (``None`` for ``NaN``).
- ``js_int`` and ``js_view``: values as the destination holds them once it
  has parsed the JSON and mapping-kit has resolved it: an integer beyond
  2**53 becomes the nearest double (or infinity), as ``JSON.parse`` makes it,
  and object members named ``__proto__`` are gone (an object whose
  ``__proto__`` was a non-empty object is ``Inheriting``: never empty).

Choices where JavaScript cannot be copied exactly:

- Integers render exactly, in decimal (``str(n)``): fbcli's JSON reader keeps
  them exact, while JavaScript would round beyond 2**53.  Only an integer too
  long for ``str`` (over 4300 digits) renders as JavaScript would see it:
  ``Infinity``.
- Object keys are written in JavaScript's order: array indexes (``"0"``,
  ``"17"``, up to 2**32 - 2) first, ascending, then the other keys in
  insertion order.
- A top-level ``MISSING`` given to ``js_json`` renders as ``null``
  (``JSON.stringify(undefined)`` returns ``undefined``, not text); callers that
  care check for ``MISSING`` first.
- Values that are not JSON values (tuples render like arrays, anything else
  through ``str``) are handled only so that nothing raises.

Arrays and objects are walked with explicit stacks, not recursion, so no
nesting depth makes these functions raise.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any, Final

from fbcli.values import MISSING

__all__ = [
    "MAX_EXACT_INTEGER",
    "Inheriting",
    "JsTypeError",
    "js_int",
    "js_items",
    "js_json",
    "js_number",
    "js_string",
    "js_to_number",
    "js_truthy",
    "js_view",
]

_SURROGATE: Final = re.compile("[\ud800-\udfff]")

MAX_EXACT_INTEGER: Final = 2**53
"""The largest integer every integer up to which a JavaScript number holds exactly."""


def js_number(value: float) -> str:
    """Render ``value`` as JavaScript's ``Number#toString`` (and ``String(n)``) would."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    if value == 0:
        return "0"
    sign = "-" if value < 0 else ""
    mantissa, _, exponent = repr(abs(float(value))).partition("e")
    whole, _, fraction = mantissa.partition(".")
    digits = whole + fraction
    # The value is 0.<digits> * 10**point once leading zeros are removed.
    point = len(whole) + (int(exponent) if exponent else 0)
    significant = digits.lstrip("0")
    point -= len(digits) - len(significant)
    significant = significant.rstrip("0")
    count = len(significant)
    if count <= point <= 21:
        text = significant + "0" * (point - count)
    elif 0 < point <= 21:
        text = significant[:point] + "." + significant[point:]
    elif -6 < point <= 0:
        text = "0." + "0" * -point + significant
    else:
        power = point - 1
        suffix = f"e+{power}" if power >= 0 else f"e-{-power}"
        head = significant[0] if count == 1 else significant[0] + "." + significant[1:]
        text = head + suffix
    return sign + text


def _int_text(value: int) -> str:
    try:
        return str(value)
    except ValueError:  # over sys.get_int_max_str_digits(), far beyond a double's range
        return "Infinity" if value > 0 else "-Infinity"


def _scalar_string(value: Any) -> str:
    """``String(value)`` for anything but an array."""
    if isinstance(value, str):
        return value
    if value is None:
        return "null"
    if value is MISSING:
        return "undefined"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return _int_text(value)
    if isinstance(value, float):
        return js_number(value)
    if isinstance(value, dict):
        if "toString" in value:
            raise JsTypeError(_NOT_TEXT)
        if type(value) is Inheriting:
            return _inherited_string(value)
        return "[object Object]"
    return str(value)


_NOT_TEXT: Final = (
    "an object with a member named toString cannot be written as text in JavaScript "
    "(TypeError: Cannot convert object to primitive value)"
)


def _inherited_string(value: Inheriting) -> str:
    """``String(value)`` through its prototype: a list's ``join``, or an object's ``toString``."""
    prototype = value.prototype
    if isinstance(prototype, list):  # Array.prototype.toString joins what it inherits
        return _join([value.get(str(i), item) for i, item in enumerate(prototype)])
    if "toString" in prototype:
        raise JsTypeError(_NOT_TEXT)
    return "[object Object]"


def _join(items: list[Any] | tuple[Any, ...]) -> str:
    """``Array#join(",")``, nested arrays included, without recursion."""
    parts: list[str] = []
    frames = [iter(items)]
    first = [True]
    while frames:
        for item in frames[-1]:
            if first[-1]:
                first[-1] = False
            else:
                parts.append(",")
            if isinstance(item, (list, tuple)):
                frames.append(iter(item))
                first.append(True)
                break
            if item is not None and item is not MISSING:
                parts.append(_scalar_string(item))
        else:
            frames.pop()
            first.pop()
    return "".join(parts)


class JsTypeError(ValueError):
    """JavaScript throws where fbcli was asked to do the same (``js_string`` of some objects)."""


def js_string(value: Any) -> str:
    """Render ``value`` as JavaScript's ``String(value)`` would.

    Raises ``JsTypeError`` where JavaScript throws: an object (also inside an
    array) with a member named ``toString``, which JSON makes a text, not a
    function.
    """
    if isinstance(value, (list, tuple)):
        return _join(value)
    return _scalar_string(value)


def _quote(text: str) -> str:
    quoted = json.dumps(text, ensure_ascii=False)
    if _SURROGATE.search(quoted) is None:
        return quoted
    return _SURROGATE.sub(lambda match: f"\\u{ord(match.group()):04x}", quoted)


class _Token(str):
    """Literal JSON text queued by ``js_json`` (as opposed to a string value)."""

    __slots__ = ()


_COMMA: Final = _Token(",")
_END_ARRAY: Final = _Token("]")
_END_OBJECT: Final = _Token("}")


def js_json(value: Any) -> str:
    """Render ``value`` as JavaScript's compact ``JSON.stringify(value)`` would."""
    out: list[str] = []
    stack: list[Any] = [value]
    while stack:
        item = stack.pop()
        if type(item) is _Token:
            out.append(item)
        elif isinstance(item, str):
            out.append(_quote(item))
        elif item is None or item is MISSING:
            out.append("null")
        elif isinstance(item, bool):
            out.append("true" if item else "false")
        elif isinstance(item, int):
            out.append(_int_text(item))
        elif isinstance(item, float):
            out.append(js_number(item) if math.isfinite(item) else "null")
        elif isinstance(item, dict):
            queued: list[Any] = []
            for key, member in js_items(item):
                if member is MISSING:
                    continue
                name = _quote(key if isinstance(key, str) else js_string(key))
                queued.append(_Token(f"{',' if queued else ''}{name}:"))
                queued.append(member)
            out.append("{")
            stack.append(_END_OBJECT)
            stack.extend(reversed(queued))
        elif isinstance(item, (list, tuple)):
            queued = []
            for member in item:
                if queued:
                    queued.append(_COMMA)
                queued.append(member)
            out.append("[")
            stack.append(_END_ARRAY)
            stack.extend(reversed(queued))
        else:
            out.append(_quote(str(item)))
    return "".join(out)


_MAX_INDEX: Final = 2**32 - 2


def _is_index(key: Any) -> bool:
    """An array index as JavaScript orders object keys: ``0`` or ``[1-9][0-9]*`` up to 2**32 - 2."""
    return (
        isinstance(key, str)
        and key.isascii()
        and key.isdigit()
        and (key == "0" or key[0] != "0")
        and len(key) <= 10
        and int(key) <= _MAX_INDEX
    )


def js_items(value: dict[Any, Any]) -> list[tuple[Any, Any]]:
    """An object's members in JavaScript's order: array indexes ascending, then the rest."""
    items = list(value.items())
    if not any(type(k) is str and k[:1].isdigit() and _is_index(k) for k, _ in items):
        return items
    indexes = sorted((kv for kv in items if _is_index(kv[0])), key=lambda kv: int(kv[0]))
    return indexes + [kv for kv in items if not _is_index(kv[0])]


def js_truthy(value: Any) -> bool:
    """JavaScript truthiness: ``""``, ``0``, ``NaN``, ``false``, ``null``, ``MISSING`` are falsy."""
    if value is None or value is MISSING:
        return False
    if isinstance(value, (dict, list, tuple)):
        return True
    if isinstance(value, float):
        return not (value == 0 or math.isnan(value))
    return bool(value)


# -- numbers as JavaScript holds them -----------------------------------------------------

_JS_SPACE: Final = (
    " \t\n\v\f\r\u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007"
    "\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000\ufeff"
)
"""JavaScript's white space and line terminators (what ``String#trim`` and ``Number`` strip)."""
_DECIMAL_RE: Final = re.compile(
    r"[+-]?(?:Infinity|(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?)", re.ASCII
)
_RADIX_RE: Final = re.compile(r"0(?:[xX][0-9a-fA-F]+|[oO][0-7]+|[bB][01]+)", re.ASCII)
_LONGEST_FINITE_DIGITS: Final = 309
"""An integer with more digits than this is beyond the largest double (about 1.8e308)."""


def js_int(value: int) -> int | float:
    """The integer as a JavaScript number: exact up to 2**53, else the nearest double.

    Beyond the largest double it is an infinity (``JSON.parse`` of a 400-digit
    integer gives ``Infinity``).
    """
    if -MAX_EXACT_INTEGER <= value <= MAX_EXACT_INTEGER:
        return value
    try:
        return float(value)
    except OverflowError:
        return math.inf if value > 0 else -math.inf


def _digits_int(text: str, base: int) -> int | float:
    """``int(text, base)`` as a JavaScript number, for digit runs of any length."""
    digits = text.lstrip("+-")
    if base == 10 and len(digits.lstrip("0")) > _LONGEST_FINITE_DIGITS:
        return -math.inf if text.startswith("-") else math.inf
    try:
        return js_int(int(text, base))
    except ValueError:  # more digits than int() converts: far beyond a double
        return -math.inf if text.startswith("-") else math.inf


def js_to_number(text: str) -> int | float | None:
    """JavaScript's ``Number(text)``, or ``None`` where it gives ``NaN``.

    White space around is ignored; blank text is ``0``; decimal literals (with
    an optional sign, fraction and exponent), ``Infinity`` and the ``0x``,
    ``0o``, ``0b`` forms (unsigned) are numbers; anything else is ``NaN``.
    Integral results are ints when JavaScript holds them exactly (``js_int``).
    """
    stripped = text.strip(_JS_SPACE)
    if not stripped:
        return 0
    if _RADIX_RE.fullmatch(stripped):
        return _digits_int(stripped, 0)
    if not _DECIMAL_RE.fullmatch(stripped):
        return None
    if stripped.lstrip("+-").isdigit():
        return (
            _digits_int(stripped, 10)
            if stripped.lstrip("+-0")
            else (-0.0 if stripped.startswith("-") else 0)
        )
    number = float(stripped.replace("Infinity", "inf"))
    if number.is_integer() and -MAX_EXACT_INTEGER <= number <= MAX_EXACT_INTEGER:
        return -0.0 if number == 0 and math.copysign(1, number) < 0 else int(number)
    return number


def js_view(value: Any, *, resolved: bool = False) -> Any:
    """``value`` as the destination holds it: integers beyond 2**53 as ``JSON.parse`` reads them.

    Every integer beyond 2**53 is the nearest double (``js_int``).  With
    ``resolved`` (a value mapping-kit has resolved), no object has a member
    named ``__proto__`` either: mapping-kit copies objects with
    ``Object.assign``, which turns such a member into the copy's prototype, so
    it is gone from the JSON.  The same object when nothing changes; otherwise a
    copy of the objects and arrays on the way.  Iterative: no nesting depth makes
    it raise.
    """
    if type(value) in _UNCHANGED or not _differs_in_js(value, resolved):
        return value
    return _rebuild(value, resolved)


_UNCHANGED: Final = frozenset({str, float, bool, type(None)})
"""Exact types ``js_view`` returns as they are (no integer, no container)."""


def _is_wide(item: Any) -> bool:
    return type(item) is int and not -MAX_EXACT_INTEGER <= item <= MAX_EXACT_INTEGER


def _differs_in_js(value: Any, resolved: bool) -> bool:
    """Whether ``js_view`` changes anything: a wide integer, or (resolved) a ``__proto__``."""
    stack = [value]
    while stack:
        item = stack.pop()
        if type(item) is int:
            if not -MAX_EXACT_INTEGER <= item <= MAX_EXACT_INTEGER:
                return True
        elif isinstance(item, dict):
            if resolved and "__proto__" in item:
                return True
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


def _rebuild(value: Any, resolved: bool) -> Any:
    """A copy of ``value`` with ``js_view``'s changes (containers rebuilt top-down)."""
    if not isinstance(value, dict | list):
        return js_int(value) if _is_wide(value) else value
    root: list[Any] = [None]
    # (container copy, key or index in it, original child) still to convert
    pending: list[tuple[Any, Any, Any]] = [(root, 0, value)]
    while pending:
        parent, slot, item = pending.pop()
        if isinstance(item, dict):
            copy: Any = {k: v for k, v in item.items() if not (resolved and k == "__proto__")}
            prototype = item.get("__proto__") if resolved else None
            if isinstance(prototype, dict | list) and prototype:
                copy = Inheriting(copy)
                copy.prototype = prototype
            parent[slot] = copy
            pending.extend((copy, k, v) for k, v in copy.items() if _needs_work(v, resolved))
        elif isinstance(item, list):
            copy = list(item)
            parent[slot] = copy
            pending.extend((copy, i, v) for i, v in enumerate(item) if _needs_work(v, resolved))
        else:
            parent[slot] = js_int(item)
    return root[0]


class Inheriting(dict[Any, Any]):
    """An object mapping-kit gave a prototype with members (from a ``__proto__`` member).

    JSON does not show inherited members, but the destination's emptiness test
    (``for ... in``) sees them: such an object is never empty there; and
    ``String()`` finds its ``toString`` there (``js_string``).
    """

    prototype: dict[Any, Any] | list[Any]


def _needs_work(item: Any, resolved: bool) -> bool:
    return _is_wide(item) or (isinstance(item, dict | list) and _differs_in_js(item, resolved))
