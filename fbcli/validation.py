"""Steps 2 and 3 of the pipeline: drop empty values, coerce, validate.

The action schemas (``fbcli/schemas/<action>.json``, package data) are made
from the same field definitions the code uses (``build_schema``), and a test
checks that the shipped files are up to date.  Validation is jsonschema's,
with fbcli's own format checks (``date`` allows year ``0000``; ``date-time``
is RFC 3339; ``uri`` is an absolute URI) and its own plain-English messages.
jsonschema only sees what fails: each field is first checked by its schema
compiled into a small predicate (``compile_check``), true only when jsonschema
would find nothing, and jsonschema then words the errors of the fields that
failed.  jsonschema is imported on that slow path only.

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
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from fbcli.actions.base import (
    PRODUCT_ITEM_FIELDS,
    Action,
    ActionField,
    FieldType,
    Mode,
    normalize_number,
)
from fbcli.jsvalues import js_json, js_string

if TYPE_CHECKING:
    from jsonschema import Draft202012Validator, FormatChecker
    from jsonschema.exceptions import ValidationError

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

# ASCII digits only: ``\d`` alone also matches other scripts' digits ("٢٠٢٤").
_DATE_RE: Final = re.compile(r"(\d{4})-(\d{2})-(\d{2})", re.ASCII)
_DATETIME_RE: Final = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.\d+)?(?:[Zz]|[+-](\d{2}):(\d{2}))",
    re.ASCII,
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


FORMATS: Final[Mapping[str, Callable[[object], bool]]] = {
    "date": is_date,
    "date-time": is_datetime,
    "uri": is_uri,
}
"""fbcli's format checks, by JSON Schema format name (jsonschema's and the fast check's)."""


@cache
def format_checker() -> FormatChecker:
    """jsonschema's format checker with fbcli's own formats (jsonschema is imported here)."""
    from jsonschema import FormatChecker  # noqa: PLC0415 - only the slow path needs jsonschema

    checker = FormatChecker(formats=())
    for name, check in FORMATS.items():
        checker.checks(name)(check)
    return checker


@cache
def validator_for(action_name: str) -> Draft202012Validator:
    """A compiled validator for an action's fields; ``required`` is checked separately."""
    from jsonschema import Draft202012Validator  # noqa: PLC0415 - only the slow path needs it

    return Draft202012Validator(_field_schema(action_name), format_checker=format_checker())


def _field_schema(action_name: str) -> dict[str, Any]:
    return {k: v for k, v in load_schema(action_name).items() if k != "required"}


# -- the fast check -------------------------------------------------------------------

Check = Callable[[Any], bool]
"""A compiled schema: true when jsonschema would find no error; false: ask jsonschema."""

_ANNOTATIONS: Final = frozenset({"$schema", "title", "description"})
_KEYWORDS: Final = {
    "string": frozenset({"type", "format", "minLength"}),
    "number": frozenset({"type"}),
    "integer": frozenset({"type"}),
    "boolean": frozenset({"type"}),
    "null": frozenset({"type"}),
    "array": frozenset({"type", "items", "minItems"}),
    "object": frozenset({"type", "properties", "required", "additionalProperties"}),
}


def _never(value: Any) -> bool:
    return False


def _always(value: Any) -> bool:
    return True


def _is_str(value: Any) -> bool:
    return type(value) is str


STRING_CHECK: Final[Check] = _is_str
"""What ``{"type": "string"}`` compiles to: true for any ``str``."""


def _is_number(value: Any) -> bool:
    return type(value) is int or type(value) is float


def _is_int(value: Any) -> bool:
    return type(value) is int


def _is_bool(value: Any) -> bool:
    return type(value) is bool


def compile_check(schema: Any) -> Check:
    """Compile a schema into a predicate that is true only when jsonschema finds no error.

    The fast path of validation: valid payloads, nearly all of them, never
    reach jsonschema, whose error objects are only needed to word problems.
    It understands the subset of JSON Schema the action schemas and the
    mapping file's schema are written in: one ``type`` name, or a list of
    names with nothing else; ``format`` (``FORMATS``) and ``minLength`` on
    strings; ``items`` and ``minItems`` on arrays; ``properties``,
    ``required`` and ``additionalProperties: false`` on objects; ``enum`` of
    strings and ``const`` of a string or an integer, alone; annotations
    (``$schema``, ``title``, ``description``).  Any other keyword compiles to
    a check that is never true.  Types are tested by exact Python type, more
    strictly than jsonschema (``integer`` takes ``int`` only, not ``1.0``; a
    ``str`` subclass is not a string), so "false" means "ask jsonschema",
    never "invalid": the answers can only disagree in the safe direction.
    """
    if not isinstance(schema, Mapping):
        return _never
    kind = schema.get("type")
    if kind is None:
        return _compile_value_check(schema)
    if isinstance(kind, list):
        if not kind or not set(schema) <= {"type"} | _ANNOTATIONS:
            return _never
        checks = tuple(compile_check({"type": name}) for name in kind)
        return lambda value: any(check(value) for check in checks)
    keywords = _KEYWORDS.get(kind) if isinstance(kind, str) else None
    if keywords is None or not set(schema) <= keywords | _ANNOTATIONS:
        return _never
    if kind == "string":
        return _compile_string_check(schema)
    if kind == "number":
        return _is_number
    if kind == "integer":
        return _is_int
    if kind == "boolean":
        return _is_bool
    if kind == "null":
        return _is_null
    if kind == "array":
        least = schema.get("minItems", 0)
        if type(least) is not int:
            return _never
        check = _compile_array_check(compile_check(schema["items"]) if "items" in schema else None)
        return check if not least else lambda value: check(value) and len(value) >= least
    return _compile_object_check(schema)


def _is_null(value: Any) -> bool:
    return value is None


def _compile_string_check(schema: Mapping[str, Any]) -> Check:
    form = schema.get("format")
    least = schema.get("minLength", 0)
    if type(least) is not int:
        return _never
    if form is None:
        if not least:
            return _is_str
        return lambda value: type(value) is str and len(value) >= least
    checker = FORMATS.get(form) if isinstance(form, str) else None
    if checker is None:
        return _never
    matches = checker
    return lambda value: type(value) is str and len(value) >= least and matches(value)


def _compile_value_check(schema: Mapping[str, Any]) -> Check:
    """``enum`` of strings, or ``const`` of a string or an integer, with nothing else."""
    rest = set(schema) - _ANNOTATIONS
    if rest == {"enum"}:
        members = schema["enum"]
        if not isinstance(members, list) or not all(type(m) is str for m in members):
            return _never
        allowed = frozenset(members)
        return lambda value: type(value) is str and value in allowed
    if rest == {"const"}:
        wanted = schema["const"]
        if type(wanted) not in (str, int):
            return _never
        kind = type(wanted)
        return lambda value: type(value) is kind and value == wanted
    return _never


def _compile_array_check(item: Check | None) -> Check:
    if item is None:
        return lambda value: type(value) is list
    check = item

    def check_array(value: Any) -> bool:
        return type(value) is list and all(map(check, value))

    return check_array


def _compile_object_check(schema: Mapping[str, Any]) -> Check:
    raw_properties = schema.get("properties", {})
    required = schema.get("required", [])
    extra = schema.get("additionalProperties", True)
    if (
        not isinstance(raw_properties, Mapping)
        or not isinstance(required, list)
        or not all(isinstance(name, str) for name in required)
        or not isinstance(extra, bool)
    ):
        return _never
    properties = {name: compile_check(sub) for name, sub in raw_properties.items()}
    closed = extra is False
    wanted = tuple(required)

    def check_object(value: Any) -> bool:
        if type(value) is not dict:
            return False
        for key, member in value.items():
            check = properties.get(key)
            if check is None:
                if closed:
                    return False
            elif not check(member):
                return False
        return all(map(value.__contains__, wanted))

    return check_object


@cache
def payload_check(action_name: str) -> Check:
    """The fast check of an action's payloads (its schema without ``required``)."""
    return compile_check(_field_schema(action_name))


@cache
def field_checks(action_name: str) -> Mapping[str, Check]:
    """The fast check of each field of an action, by field name.

    A payload passes ``payload_check`` exactly when each of its keys has a
    check here and every value passes its field's check: the action schemas
    are closed objects whose ``required`` list is left to ``validate_payload``.
    """
    schema = _field_schema(action_name)
    properties = schema.get("properties", {})
    if schema.get("additionalProperties") is not False or not isinstance(properties, Mapping):
        return {}
    return {name: compile_check(sub) for name, sub in properties.items()}


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
        return _finite_int(stripped, 10)
    if _DECIMAL_RE.fullmatch(stripped):
        number = float(stripped)
        return normalize_number(number) if math.isfinite(number) else None
    match = _RADIX_RE.fullmatch(stripped)
    if match:
        return _finite_int(stripped, 0)
    return None


def _finite_int(text: str, base: int) -> int | None:
    """``int(text, base)``, or ``None`` when JavaScript reads it as Infinity (beyond a double)."""
    try:
        number = int(text, base)
        float(number)
    except (ValueError, OverflowError):  # more digits than int() converts; past a double
        return None
    return number


Coercer = Callable[[Any], Any]


def _to_string(value: Any) -> Any:
    if type(value) is str:
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return js_string(value)
    return value


def _to_number(value: Any) -> Any:
    number = js_number_of(value) if isinstance(value, str) else value
    if isinstance(number, float) and number.is_integer():
        number = normalize_number(number)
    return value if number is None else number


def _to_integer(value: Any) -> Any:
    number = js_number_of(value) if isinstance(value, str) else value
    if isinstance(number, float) and number.is_integer():
        number = normalize_number(number)
    return number if isinstance(number, int) else value


def _to_boolean(value: Any) -> Any:
    if value in ("true", "false"):
        return value == "true"
    return value


def _unchanged(value: Any) -> Any:
    return value


_SCALAR_COERCERS: Final[dict[str, Coercer]] = {
    "string": _to_string,
    "date": _to_string,
    "datetime": _to_string,
    "uri": _to_string,
    "number": _to_number,
    "integer": _to_integer,
    "boolean": _to_boolean,
}
_PRODUCT_COERCERS: Final = tuple(
    (key, kind == "string", _SCALAR_COERCERS[kind]) for key, kind in PRODUCT_ITEM_FIELDS.items()
)


def _coerce_scalar(kind: str, value: Any) -> Any:
    return _SCALAR_COERCERS.get(kind, _unchanged)(value)


def _clean_product(item: Any) -> Any:
    if not isinstance(item, dict):
        return item
    cleaned: dict[str, Any] = {}
    for key, is_string, coerce in _PRODUCT_COERCERS:
        value = item.get(key)
        if value is None or (value == "" and not is_string):
            continue
        cleaned[key] = coerce(value)
    return cleaned


def _to_string_list(value: Any) -> Any:
    items = value if isinstance(value, list) else [value]
    return [_to_string(v) for v in items if v is not None]


def _to_products(value: Any) -> Any:
    items = value if isinstance(value, list) else [value]
    return [_clean_product(v) for v in items if v is not None]


_COERCERS: Final[dict[str, Coercer]] = {
    **_SCALAR_COERCERS,
    "string_list": _to_string_list,
    "products": _to_products,
    "object": _unchanged,
}


def coercer_for(kind: FieldType) -> Coercer:
    """The function ``coerce_field`` applies to a field of this type."""
    return _COERCERS[kind]


def coerce_field(f: ActionField, value: Any) -> Any:
    """Coerce one field's value towards its type (best effort; the schema judges)."""
    return _COERCERS[f.type](value)


def prepare_payload(fields: Iterable[ActionField], resolved: Mapping[str, Any]) -> dict[str, Any]:
    """Drop ``null`` and ``""`` top-level values, then coerce each remaining field."""
    payload: dict[str, Any] = {}
    for f in fields:
        if f.name not in resolved:
            continue
        value = resolved[f.name]
        if value is None or (isinstance(value, str) and value == ""):
            continue
        payload[f.name] = _COERCERS[f.type](value)
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
    for name in required_fields(action, mode):
        if name not in payload:
            bucket = errors if mode == "cloud" else warnings
            message = f"required field '{name}' is missing"
            if mode == "direct":
                message += " (the browser SDK sends the call anyway)"
            bucket.append(Violation(name, message, sources.get(name)))
    checks = field_checks(action.name)
    failing = {k: v for k, v in payload.items() if not checks.get(k, _never)(v)}
    if failing:
        # jsonschema finds nothing in a field that passes its check (see compile_check),
        # and its errors in one field do not depend on the others (the object's own
        # errors, which have no field, are not reported): only the failing fields are
        # given to jsonschema, in the payload's order.  Likewise only the failing items
        # of a list whose schema is just ``items`` (``products``), renumbered back.
        kept: dict[str, list[int]] = {}
        for name, check in item_checks(action.name).items() if checks else ():
            value = failing.get(name)
            if isinstance(value, list):
                kept[name] = [i for i, item in enumerate(value) if not check(item)]
                failing[name] = [value[i] for i in kept[name]]
        errors.extend(schema_violations(action, failing if checks else payload, sources, kept))
    return errors, warnings


@cache
def item_checks(action_name: str) -> Mapping[str, Check]:
    """The fast check of the items of each list field whose schema is only ``type`` and ``items``.

    Such a list has no error of its own once it is a list: each of its errors
    is in one item and does not depend on the others.
    """
    properties = _field_schema(action_name).get("properties", {})
    return {
        name: compile_check(sub["items"])
        for name, sub in properties.items()
        if sub.get("type") == "array" and "items" in sub and set(sub) <= _LIST_KEYWORDS
    }


_LIST_KEYWORDS: Final = frozenset({"type", "items"}) | _ANNOTATIONS


def required_fields(action: Action, mode: Mode) -> tuple[str, ...]:
    """The fields of ``action`` required in ``mode``, in field order."""
    return tuple(f.name for f in action.fields if mode in f.modes and mode in f.required)


def schema_violations(
    action: Action,
    payload: Mapping[str, Any],
    sources: Mapping[str, str | None],
    kept: Mapping[str, list[int]] | None = None,
) -> list[Violation]:
    """jsonschema's errors for a payload (``required`` aside), worded, in field order.

    ``kept``: for a list field given with only some of its items, the
    original index of each item given (errors are renumbered with them).
    """
    errors: list[Violation] = []
    order = {f.name: i for i, f in enumerate(action.fields)}

    def path_of(error: ValidationError) -> list[str | int]:
        path = list(error.absolute_path)
        indices = kept.get(str(path[0])) if kept and len(path) > 1 else None
        if indices is not None and isinstance(path[1], int):
            path[1] = indices[path[1]]
        return path

    def position(error: ValidationError) -> tuple[int, list[str]]:
        path = [str(p) for p in path_of(error)]
        return (order.get(path[0], len(order)) if path else -1, path[1:])

    for error in sorted(validator_for(action.name).iter_errors(payload), key=position):
        path = path_of(error)
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
    return errors


def write_schemas(directory: Path) -> list[Path]:
    """Regenerate the shipped schemas (``python -c "from fbcli.validation import *; ..."``)."""
    from fbcli.actions import ACTIONS  # noqa: PLC0415 - avoids an import cycle

    written = []
    for action in ACTIONS.values():
        target = directory / f"{action.name}.json"
        target.write_text(json.dumps(build_schema(action), indent=2) + "\n", encoding="utf-8")
        written.append(target)
    return written
