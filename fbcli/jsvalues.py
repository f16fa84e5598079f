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
  objects are ``[object Object]``.
- ``js_json``: compact ``JSON.stringify``: no spaces, non-ASCII kept as is, lone
  surrogates escaped as ``\\udXXX``, numbers as ``js_number``, ``NaN`` and
  ``Infinity`` as ``null``; an object member whose value is ``MISSING`` is left
  out and a ``MISSING`` array item is ``null``.
- ``js_truthy``: ``""``, ``0``, ``NaN``, ``false``, ``null`` and ``MISSING`` are
  falsy; everything else, ``[]`` and ``{}`` included, is truthy.

Choices where JavaScript cannot be copied exactly:

- Integers render exactly, in decimal (``str(n)``): fbcli's JSON reader keeps
  them exact, while JavaScript would round beyond 2**53.  Only an integer too
  long for ``str`` (over 4300 digits) renders as JavaScript would see it:
  ``Infinity``.
- Object keys keep their insertion order (JavaScript lists integer-like keys
  first).
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

__all__ = ["js_json", "js_number", "js_string", "js_truthy"]

_SURROGATE: Final = re.compile("[\ud800-\udfff]")


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
        return "[object Object]"
    return str(value)


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


def js_string(value: Any) -> str:
    """Render ``value`` as JavaScript's ``String(value)`` would."""
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
            for key, member in item.items():
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


def js_truthy(value: Any) -> bool:
    """JavaScript truthiness: ``""``, ``0``, ``NaN``, ``false``, ``null``, ``MISSING`` are falsy."""
    if value is None or value is MISSING:
        return False
    if isinstance(value, (dict, list, tuple)):
        return True
    if isinstance(value, float):
        return not (value == 0 or math.isnan(value))
    return bool(value)
