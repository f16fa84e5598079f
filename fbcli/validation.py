"""Steps 2 and 3 of the pipeline: drop empty values, coerce, validate.

The action schemas (``fbcli/schemas/<action>.json``, package data) are made
from the same field definitions the code uses (``build_schema``), and a test
checks that the shipped files are up to date.  Validation is jsonschema's,
with fbcli's own format checks (``date`` allows year ``0000``; ``date-time``
is RFC 3339; ``uri`` is an absolute URI) and its own plain-English messages.

Coercion follows the destination's (Ajv's ``coerceTypes: "array"``) where it
helps and stops where it would hide a mistake:

=============  ===============================================================
wanted type    accepted and converted
=============  ===============================================================
string         numbers (``98765`` → ``"98765"``) and booleans (``"true"``)
number         numeric strings as JavaScript reads them (``"12.99"`` → 12.99,
               ``" 7 "``, ``"1e3"``, ``"0x10"``); booleans are NOT numbers
integer        the same when the number is integral (``"99"``, ``"99.0"``);
               ``"1.5"`` is an error
boolean        ``"true"`` and ``"false"``
list           a single value becomes a one-element list
=============  ===============================================================
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any, Final

from jsonschema import Draft202012Validator, FormatChecker
from jsonschema.exceptions import ValidationError

from fbcli.actions.base import (
    PRODUCT_ITEM_FIELDS,
    Action,
    ActionField,
    FieldType,
    Mode,
    normalize_number,
)
from fbcli.jsvalues import js_json, js_string

SCHEMA_DIALECT: Final = "https://json-schema.org/draft/2020-12/schema"


@dataclass(frozen=True, slots=True)
class Violation:
    """One problem with one field: an error that blocks the call, or a warning."""

    field: str | None
    """The action field, or a JSON pointer inside it (``products/0/price``)."""
    message: str
    source: str | None = None
    """The event path the field was mapped from (``$.properties.currency``)."""

    def describe(self) -> str:
        """The message with its source: ``... — mapped from $.properties.currency``."""
        if self.source:
            return f"{self.message} — mapped from {self.source}"
        return self.message

    def to_dict(self) -> dict[str, str]:
        """The JSON form: ``field``, ``source`` (when known) and ``message``."""
        out: dict[str, str] = {}
        if self.field is not None:
            out["field"] = self.field
        if self.source is not None:
            out["source"] = self.source
        out["message"] = self.message
        return out


# -- schemas --------------------------------------------------------------------------

_TYPE_SCHEMAS: Final[dict[FieldType, dict[str, Any]]] = {
    "string": {"type": "string"},
    "number": {"type": "number"},
    "integer": {"type": "integer"},
    "boolean": {"type": "boolean"},
    "date": {"type": "string", "format": "date"},
    "datetime": {"type": "string", "format": "date-time"},
    "uri": {"type": "string", "format": "uri"},
    "object": {"type": "object"},
    "string_list": {"type": "array", "items": {"type": "string"}},
    "products": {
        "type": "array",
        "items": {
            "type": "object",
            "properties": {name: {"type": kind} for name, kind in PRODUCT_ITEM_FIELDS.items()},
            "required": ["price"],
            "additionalProperties": False,
        },
    },
}


def build_schema(action: Action) -> dict[str, Any]:
    """The JSON schema of an action's resolved fields (cloud ``required`` where cloud exists)."""
    mode: Mode = "cloud" if "cloud" in action.modes else "direct"
    properties = {
        f.name: {**_TYPE_SCHEMAS[f.type], "description": f.description} for f in action.fields
    }
    return {
        "$schema": SCHEMA_DIALECT,
        "title": action.title,
        "description": action.description,
        "type": "object",
        "properties": properties,
        "required": [f.name for f in action.fields if mode in f.required],
        "additionalProperties": False,
    }


@cache
def load_schema(action_name: str) -> dict[str, Any]:
    """The shipped schema of an action (package data ``fbcli/schemas/<name>.json``)."""
    text = resources.files("fbcli").joinpath("schemas", f"{action_name}.json").read_text("utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


# -- formats --------------------------------------------------------------------------

_DATE_RE: Final = re.compile(r"(\d{4})-(\d{2})-(\d{2})")
_DATETIME_RE: Final = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.\d+)?(?:[Zz]|[+-](\d{2}):(\d{2}))"
)
_URI_RE: Final = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:[^\s\x00-\x1f\x7f]*")


def _valid_date(year: str, month: str, day: str) -> bool:
    try:
        dt.date(int(year) or 2000, int(month), int(day))
    except ValueError:
        return False
    return True


def is_date(value: object) -> bool:
    """A full ``YYYY-MM-DD`` calendar date; year ``0000`` means "no year"."""
    if not isinstance(value, str):
        return True
    match = _DATE_RE.fullmatch(value)
    return match is not None and _valid_date(*match.group(1, 2, 3))


def is_datetime(value: object) -> bool:
    """An RFC 3339 date-time (``2021-03-04T05:06:07Z``, offsets and fractions allowed)."""
    if not isinstance(value, str):
        return True
    match = _DATETIME_RE.fullmatch(value)
    if match is None or match.group(1) == "0000":
        return False
    hour, minute, second = (int(x) for x in match.group(4, 5, 6))
    offset_ok = match.group(7) is None or (int(match.group(7)) <= 23 and int(match.group(8)) <= 59)
    return (
        _valid_date(*match.group(1, 2, 3))
        and hour <= 23
        and minute <= 59
        and second <= 60
        and offset_ok
    )


def is_uri(value: object) -> bool:
    """An absolute URI: a scheme, a colon, and no whitespace or control characters."""
    return not isinstance(value, str) or _URI_RE.fullmatch(value) is not None


FORMAT_CHECKER: Final = FormatChecker(formats=())
FORMAT_CHECKER.checks("date")(is_date)
FORMAT_CHECKER.checks("date-time")(is_datetime)
FORMAT_CHECKER.checks("uri")(is_uri)


@cache
def validator_for(action_name: str) -> Draft202012Validator:
    """A compiled validator for an action's fields; ``required`` is checked separately."""
    schema = {k: v for k, v in load_schema(action_name).items() if k != "required"}
    return Draft202012Validator(schema, format_checker=FORMAT_CHECKER)


# -- empty values and coercion --------------------------------------------------------

_DECIMAL_RE: Final = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_INTEGER_TEXT_RE: Final = re.compile(r"[+-]?[0-9]+")
_RADIX_RE: Final = re.compile(r"0([xX][0-9a-fA-F]+|[oO][0-7]+|[bB][01]+)")
_JS_SPACE: Final = (
    " \t\n\v\f\r\u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007"
    "\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000\ufeff"
)


def js_number_of(text: str) -> int | float | None:
    """The number JavaScript's ``+text`` gives for a numeric string, or ``None``.

    Like Ajv's type coercion (``x == +x``): surrounding whitespace is ignored,
    and decimal (``"12.99"``, ``"1e3"``, ``"007"``, ``"12."``), hex, octal and
    binary forms are numbers.  Blank text and non-finite results are not.
    """
    stripped = text.strip(_JS_SPACE)
    if not stripped:
        return None
    if _INTEGER_TEXT_RE.fullmatch(stripped):
        return int(stripped)
    if _DECIMAL_RE.fullmatch(stripped):
        number = float(stripped)
        return normalize_number(number) if math.isfinite(number) else None
    match = _RADIX_RE.fullmatch(stripped)
    if match:
        return int(stripped, 0)
    return None


_STRING_TYPES: Final = frozenset({"string", "date", "datetime", "uri"})


def _coerce_scalar(kind: str, value: Any) -> Any:
    if kind in _STRING_TYPES:
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, int | float):
            return js_string(value)
        return value
    if kind in ("number", "integer"):
        number = js_number_of(value) if isinstance(value, str) else value
        if isinstance(number, float) and number.is_integer():
            number = normalize_number(number)
        if kind == "integer" and not isinstance(number, int):
            return value
        return value if number is None else number
    if kind == "boolean" and value in ("true", "false"):
        return value == "true"
    return value


def _clean_product(item: Any) -> Any:
    if not isinstance(item, dict):
        return item
    cleaned: dict[str, Any] = {}
    for key, kind in PRODUCT_ITEM_FIELDS.items():
        value = item.get(key)
        if value is None or (value == "" and kind != "string"):
            continue
        cleaned[key] = _coerce_scalar(kind, value)
    return cleaned


def coerce_field(f: ActionField, value: Any) -> Any:
    """Coerce one field's value towards its type (best effort; the schema judges)."""
    kind = f.type
    if kind == "string_list":
        items = value if isinstance(value, list) else [value]
        return [_coerce_scalar("string", v) for v in items if v is not None]
    if kind == "products":
        items = value if isinstance(value, list) else [value]
        return [_clean_product(v) for v in items if v is not None]
    if kind == "object":
        return value
    return _coerce_scalar(kind, value)


def prepare_payload(fields: Iterable[ActionField], resolved: Mapping[str, Any]) -> dict[str, Any]:
    """Drop ``null`` and ``""`` top-level values, then coerce each remaining field."""
    payload: dict[str, Any] = {}
    for f in fields:
        if f.name not in resolved:
            continue
        value = resolved[f.name]
        if value is None or (isinstance(value, str) and value == ""):
            continue
        payload[f.name] = coerce_field(f, value)
    return payload


# -- validation -----------------------------------------------------------------------

_TYPE_WORDS: Final = {
    "string": "a string",
    "number": "a number",
    "integer": "an integer",
    "boolean": "a boolean (true or false)",
    "object": "an object",
    "array": "a list",
}
_FORMAT_WORDS: Final = {
    "date": "a date YYYY-MM-DD",
    "date-time": "an RFC 3339 date-time (e.g. 2024-05-01T12:00:00Z)",
    "uri": "an absolute URI (e.g. https://example.com/page)",
}


def describe_value(value: Any) -> str:
    """A short, literal description of a value for messages: ``the string "abc"``."""
    text = js_json(value)
    if len(text) > 40:
        text = text[:37] + "..."
    if isinstance(value, str):
        return f"the string {text}"
    if isinstance(value, bool):
        return f"the boolean {text}"
    if isinstance(value, int | float):
        return f"the number {text}"
    if isinstance(value, list):
        return f"a list {text}"
    if isinstance(value, dict):
        return f"an object {text}"
    return text


def _pointer(field: str, path: Iterable[str | int]) -> str:
    return "/".join([field, *(str(p) for p in path)])


def _nested_source(source: str | None, path: Iterable[str | int]) -> str | None:
    if source is None:
        return None
    for part in path:
        source += f"[{part}]" if isinstance(part, int) else f".{part}"
    return source


def _message(error: ValidationError, pointer: str) -> str:
    if error.validator == "type":
        wanted = error.validator_value
        words = _TYPE_WORDS.get(wanted, str(wanted)) if isinstance(wanted, str) else str(wanted)
        return f"'{pointer}' must be {words}, got {describe_value(error.instance)}"
    if error.validator == "format":
        words = _FORMAT_WORDS.get(str(error.validator_value), str(error.validator_value))
        return f"'{pointer}' must be {words}, got {describe_value(error.instance)}"
    return f"'{pointer}': {error.message}"


def validate_payload(
    action: Action,
    payload: Mapping[str, Any],
    *,
    mode: Mode,
    sources: Mapping[str, str | None],
) -> tuple[list[Violation], list[Violation]]:
    """Check a prepared payload: ``(errors, warnings)``.

    Missing required fields are errors in cloud mode and warnings in direct
    mode (the browser destination pushes such calls anyway).
    """
    errors: list[Violation] = []
    warnings: list[Violation] = []
    for f in action.fields_in(mode):
        if mode in f.required and f.name not in payload:
            bucket = errors if mode == "cloud" else warnings
            message = f"required field '{f.name}' is missing"
            if mode == "direct":
                message += " (the browser SDK sends the call anyway)"
            bucket.append(Violation(f.name, message, sources.get(f.name)))
    order = {f.name: i for i, f in enumerate(action.fields)}

    def position(error: ValidationError) -> tuple[int, list[str]]:
        path = [str(p) for p in error.absolute_path]
        return (order.get(path[0], len(order)) if path else -1, path[1:])

    for error in sorted(validator_for(action.name).iter_errors(payload), key=position):
        path = list(error.absolute_path)
        if not path:
            continue
        field = str(path[0])
        rest = path[1:]
        if error.validator == "required":
            required: list[str] = list(error.schema.get("required", []))
            rest = [*rest, next(k for k in required if k not in error.instance)]
            message = f"required field '{_pointer(field, rest)}' is missing"
        else:
            message = _message(error, _pointer(field, rest))
        errors.append(
            Violation(_pointer(field, rest), message, _nested_source(sources.get(field), rest))
        )
    return errors, warnings


def write_schemas(directory: Path) -> list[Path]:
    """Regenerate the shipped schemas (``python -c "from fbcli.validation import *; ..."``)."""
    from fbcli.actions import ACTIONS  # noqa: PLC0415 - avoids an import cycle

    written = []
    for action in ACTIONS.values():
        target = directory / f"{action.name}.json"
        target.write_text(json.dumps(build_schema(action), indent=2) + "\n", encoding="utf-8")
        written.append(target)
    return written
