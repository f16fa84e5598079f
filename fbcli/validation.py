"""Steps 2 and 3 of the cloud pipeline: drop empty values, coerce, validate.

This is what the Customer.io/Segment destination does between resolving a
subscription's mapping and calling the action (``@segment/actions-core``:
``removeEmptyValues``, then Ajv with ``coerceTypes: "array"`` and
``removeAdditional``, with ``ajv-formats``), written for fbcli's own field
definitions and checked against that code by the oracle (``tests/oracle/``).

Step 2, ``remove_empty_values``: at the top level a field that is ``null`` or
``""`` is dropped; in a list field, ``null`` items are dropped (and ``""``
items of the product list); nothing inside an object or a list item is
touched.  A list field holding a single value becomes a one-element list.

Step 3, ``settle_payload``: each field is coerced to its type, then checked;
what cannot be coerced is an error.  Coercion, as Ajv does it:

=============  ===============================================================
wanted type    accepted and converted
=============  ===============================================================
any scalar     a one-element list holding an acceptable value (``["a"]`` → ``"a"``)
string         numbers (``98765`` → ``"98765"``), booleans (``"true"``), ``null`` → ``""``
number         text JavaScript reads as a number (``"12.99"``, ``" 7 "``, ``"1e3"``,
               ``"0x10"``, ``"Infinity"``), booleans (1, 0), ``null`` → 0
integer        the same when the number is integral (``"99"``, ``"99.0"``; ``"1.5"``
               is an error)
boolean        ``"true"``/``"false"``, 1/0, ``null`` → false
object, list   nothing: the value must already be one
=============  ===============================================================

Product items keep only ``sku, name, quantity, price, description, category,
url, image_url`` (other keys are removed) and need ``price``.  Formats are
``ajv-formats``' (``date``: a calendar date, year ``0000`` a leap year;
``date-time``: a date, ``T``, ``t`` or one white-space character, and a time
whose zone is optional; ``uri``: RFC 3986 with a scheme, ``//`` or ``/``
before an authority, and a non-empty rest).

Some coercions the destination makes are surely not what anyone means:
``true`` as an amount of 1, a blank text or ``null`` as 0, ``null`` as
``false``, a required field present but empty.  fbcli makes them too, so
the body is the same, and reports each as a *quirk* warning naming the field
(``--strict`` makes quirks errors: ``plan.py``).

The shipped schemas (``fbcli/schemas/<action>.json``, package data) are made
from the same field definitions (``build_schema``): they document the types;
a test checks that they are up to date and that what passes here, they accept.
``compile_check`` compiles the subset of JSON Schema those schemas and the
mapping file's schema use into a predicate (the mapping file's fast check).
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Literal

from fbcli.actions.base import (
    PRODUCT_ITEM_FIELDS,
    Action,
    ActionField,
    Mode,
    normalize_number,
)
from fbcli.codegen import Source
from fbcli.jsvalues import js_json, js_string, js_to_number
from fbcli.text import kind_of, show_js, show_json
from fbcli.values import MISSING

if TYPE_CHECKING:
    from jsonschema import FormatChecker

SCHEMA_DIALECT: Final = "https://json-schema.org/draft/2020-12/schema"

FieldType = Literal[
    "string",
    "number",
    "integer",
    "boolean",
    "date",
    "datetime",
    "uri",
    "object",
    "string_list",
    "products",
]
"""The type of an action field: a name of ``FIELD_KINDS``, where each is defined."""


@dataclass(frozen=True, slots=True)
class Violation:
    """One problem with one field: an error that blocks the call, or a warning."""

    field: str | None
    """The action field, or a JSON pointer inside it (``products/0/price``)."""
    message: str
    source: str | None = None
    """The event path the field was mapped from (``$.properties.currency``)."""
    quirk: bool = False
    """A warning about something the destination does that is surely not meant (the body is
    the same as the destination's); ``--strict`` makes it an error."""
    kind: str | None = dataclasses.field(default=None, compare=False)
    """The kind of problem in words, the same for every value (``string with a currency
    sign``): what ``causes.CauseBook`` groups by; ``None``: the message is the kind."""
    example: str | None = dataclasses.field(default=None, compare=False)
    """The value the problem is about, as JSON text, clipped (``EXAMPLE_CHARS``), if any."""

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


def build_schema(action: Action) -> dict[str, Any]:
    """The JSON schema of an action's resolved fields (cloud ``required`` where cloud exists)."""
    mode: Mode = "cloud" if "cloud" in action.modes else "direct"
    properties = {
        f.name: {**FIELD_KINDS[f.type].schema, "description": f.description} for f in action.fields
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


# -- formats (ajv-formats, "full" mode) ------------------------------------------------

_JS_SPACE: Final = (
    "\t\n\v\f\r \u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009"
    "\u200a\u2028\u2029\u202f\u205f\u3000\ufeff"
)
"""JavaScript's ``\\s``: white space and line terminators."""
# re.ASCII: \d and case-insensitivity as in JavaScript (no other scripts' digits or letters).
_DATE_RE: Final = re.compile(r"(\d\d\d\d)-(\d\d)-(\d\d)", re.ASCII)
_DATE_TIME_SEPARATOR: Final = re.compile(f"[tT{_JS_SPACE}]")
_TIME_RE: Final = re.compile(
    r"(\d\d):(\d\d):(\d\d)(?:\.\d+)?(?:[zZ]|[+-]\d\d(?::?\d\d)?)?", re.ASCII
)
_DAYS: Final = (0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


def _uri_pattern() -> re.Pattern[str]:
    """RFC 3986's ``URI`` (appendix A), as ajv-formats reads it.

    Two departures from the RFC are ajv-formats', kept so fbcli accepts what
    the destination accepts: an authority may follow a single ``/`` as well as
    ``//``, and the part after the scheme may not be empty (``mailto:`` alone,
    ``a:?q`` are refused).  Letters match in either case.
    """
    hexdig = "[0-9a-f]"
    pct = f"%{hexdig}{{2}}"
    unreserved_subdelims = r"a-z0-9\-._~!$&'()*+,;="
    pchar = f"(?:[{unreserved_subdelims}:@]|{pct})"
    octet = r"(?:25[0-5]|2[0-4]\d|[01]?\d\d?)"
    ipv4 = rf"(?:{octet}\.){{3}}{octet}"
    h16 = f"{hexdig}{{1,4}}"
    ls32 = f"(?:{h16}:{h16}|{ipv4})"
    ipv6 = "|".join(
        (
            f"(?:{h16}:){{6}}{ls32}",
            f"::(?:{h16}:){{5}}{ls32}",
            f"(?:{h16})?::(?:{h16}:){{4}}{ls32}",
            f"(?:(?:{h16}:){{0,1}}{h16})?::(?:{h16}:){{3}}{ls32}",
            f"(?:(?:{h16}:){{0,2}}{h16})?::(?:{h16}:){{2}}{ls32}",
            f"(?:(?:{h16}:){{0,3}}{h16})?::{h16}:{ls32}",
            f"(?:(?:{h16}:){{0,4}}{h16})?::{ls32}",
            f"(?:(?:{h16}:){{0,5}}{h16})?::{h16}",
            f"(?:(?:{h16}:){{0,6}}{h16})?::",
        )
    )
    ip_future = rf"v{hexdig}+\.[{unreserved_subdelims}:]+"
    host = rf"(?:\[(?:{ipv6}|{ip_future})\]|{ipv4}|(?:[{unreserved_subdelims}]|{pct})*)"
    userinfo = rf"(?:(?:[{unreserved_subdelims}:]|{pct})*@)?"
    segment = f"{pchar}*"
    segment_nz = f"{pchar}+"
    authority_form = rf"/?/{userinfo}{host}(?::\d*)?(?:/{segment})*"
    absolute = rf"/(?:{segment_nz}(?:/{segment})*)?"
    rootless = rf"{segment_nz}(?:/{segment})*"
    tail = rf"(?:\?(?:{pchar}|[/?])*)?(?:#(?:{pchar}|[/?])*)?"
    scheme = r"[a-z][a-z0-9+\-.]*:"
    return re.compile(
        f"{scheme}(?:{authority_form}|{absolute}|{rootless}){tail}", re.ASCII | re.IGNORECASE
    )


_URI_RE: Final = _uri_pattern()


def _is_leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


def _calendar_date(text: str) -> bool:
    match = _DATE_RE.fullmatch(text)
    if match is None:
        return False
    year, month, day = (int(part) for part in match.group(1, 2, 3))
    return 1 <= month <= 12 and 1 <= day <= (29 if month == 2 and _is_leap(year) else _DAYS[month])


def is_date(value: object) -> bool:
    """A full ``YYYY-MM-DD`` calendar date (year ``0000`` is a leap year); non-strings pass."""
    return not isinstance(value, str) or _calendar_date(value)


def is_datetime(value: object) -> bool:
    """A date, one ``T``/``t``/white-space separator, a time (zone optional); non-strings pass.

    The time is ``hh:mm:ss`` with an optional fraction and zone (``Z``,
    ``+hh``, ``+hhmm`` or ``+hh:mm``), at most ``23:59:59`` or the leap
    second ``23:59:60``.
    """
    if not isinstance(value, str):
        return True
    parts = _DATE_TIME_SEPARATOR.split(value)
    if len(parts) != 2 or not _calendar_date(parts[0]):
        return False
    match = _TIME_RE.fullmatch(parts[1])
    if match is None:
        return False
    hour, minute, second = (int(part) for part in match.group(1, 2, 3))
    return (hour <= 23 and minute <= 59 and second <= 59) or (hour, minute, second) == (23, 59, 60)


def is_uri(value: object) -> bool:
    """An absolute URI (``_uri_pattern``); non-strings pass."""
    return not isinstance(value, str) or _URI_RE.fullmatch(value) is not None


FORMATS: Final[Mapping[str, Callable[[object], bool]]] = {
    "date": is_date,
    "date-time": is_datetime,
    "uri": is_uri,
}
"""fbcli's format checks, by JSON Schema format name (``settle`` and ``compile_check``)."""


@cache
def format_checker() -> FormatChecker:
    """jsonschema's format checker with fbcli's own formats (jsonschema is imported here)."""
    from jsonschema import FormatChecker  # noqa: PLC0415 - only tests and tools need jsonschema

    checker = FormatChecker(formats=())
    for name, check in FORMATS.items():
        checker.checks(name)(check)
    return checker


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


# -- step 2: empty values ---------------------------------------------------------------

DROPPED: Final = "{0} is None or {0} == ''"
"""Step 2's rule for a field's value, as the Python test every path runs (``{0}``: the value,
a name): ``null`` and ``""`` are dropped.  ``remove_empty_values`` runs it compiled; the
compiled planner writes it into its code."""

is_dropped: Final[Callable[[Any], bool]] = Source.predicate(DROPPED)


def remove_empty_values(
    fields: Iterable[ActionField], resolved: Mapping[str, Any]
) -> dict[str, Any]:
    """``removeEmptyValues`` at the top level, then list fields made lists (``arrifyFields``).

    A ``null`` or ``""`` field is dropped (``DROPPED``); a list field is made a
    list without its ``null`` items (the product list without its ``""`` items
    too: they are not objects, ``FieldKind.clean``); nothing is looked at
    inside objects or items.  Fields keep the order of ``fields``.
    """
    payload: dict[str, Any] = {}
    for f in fields:
        value = resolved.get(f.name, MISSING)
        if value is MISSING or is_dropped(value):
            continue
        payload[f.name] = FIELD_KINDS[f.type].clean(value)
    return payload


# -- step 3: coercion and checks ------------------------------------------------------


class _Fail:
    """The type of ``FAIL``."""


FAIL: Final = _Fail()
"""What a settler returns, when it reports no problems, for a value with a problem."""

Where = tuple[str | int, ...]
"""A path inside a field: keys and list indexes."""
Problem = tuple[Where, str, bool, str, Any]
"""A problem inside one field: where (a path inside the field), the message (``""``: a
required key is missing), whether it is an error (``False``: a quirk), its kind
(``Violation.kind``) and the value it is about (``MISSING``: none)."""
_EMPTY_REQUIRED: Final = (
    'a one-element list of null or "" counts as present: the destination accepts the event '
    "and leaves the field out"
)
Settler = Callable[[Any, "list[Problem] | None", Where], Any]
"""Coerce and check one field's value: the settled value.  With a list, problems are added
to it (the value as coerced, or as it was where it could not be); with ``None``, ``FAIL`` is
returned at the first problem, and for an infinite number, which the planner warns about
(the planner's fast path)."""

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
    "date-time": "a date-time (e.g. 2024-05-01T12:00:00Z)",
    "uri": "an absolute URI (e.g. https://example.com/page)",
}


def describe_value(value: Any) -> str:
    """A short, literal description of a value for messages: ``the string "abc"``."""
    text = show_js(value)
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


# -- kinds of problems (what ``causes`` groups by) ----------------------------------------

EXAMPLE_CHARS: Final = 40
"""The longest example value a ``Violation`` keeps (``example_of``)."""
MISSING_REQUIRED: Final = "missing required field"
EMPTY_LIST: Final = 'one-element list of null or ""'
CURRENCY_RE: Final = re.compile(r"[$€£¥]|\b[A-Z]{3}\b")
"""A currency sign or code in a text that should be a number."""
MONEY_RE: Final = re.compile(r"[$€£¥]\s*|\s*[$€£¥]|\s*\b[A-Z]{3}\b\s*")
"""A currency sign or code with the spaces around it, as it is taken out of a number."""
DECIMAL_COMMA_RE: Final = re.compile(r"-?\d+,\d{1,2}")
THOUSANDS_RE: Final = re.compile(r"-?\d{1,3}(?:,\d{3})+(?:\.\d+)?")
DATE_PARTS_RE: Final = re.compile(r"(\d{1,2})[/.](\d{1,2})[/.](\d{4})")
"""A date written day and month first (``12/25/1990``, ``25.12.1990``)."""
DATE_PREFIX_RE: Final = re.compile(r"(\d{4}-\d{2}-\d{2})[Tt ].*")
"""A date with a time after it."""
_PLAIN_DATE_RE: Final = re.compile(r"\d{4}-\d{2}-\d{2}")
_TIMESTAMP_RE: Final = re.compile(r"\d{9,13}(?:\.\d+)?")


def example_of(value: Any) -> str:
    """A value as a cause's example: compact JSON, clipped to ``EXAMPLE_CHARS`` (``…``)."""
    return show_json(value, EXAMPLE_CHARS, mark="…")


def _word_for(value: Any) -> str:
    """``a string``, ``a number``, ``a list``, ``an object``, ``null``, ``a boolean``."""
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, float) and not math.isfinite(value):
        return "an infinite number"
    return kind_of(value)


def number_text_kind(text: str, *, integer: bool = False) -> str:
    """The kind of a text that is not a number (``integer``: a whole one)."""
    bare = text.strip(_JS_SPACE)
    if not bare:
        return "empty"
    if CURRENCY_RE.search(bare) and any(c.isdigit() for c in bare):
        return "string with a currency sign"
    if THOUSANDS_RE.fullmatch(bare):
        return "string with a thousands separator"
    if DECIMAL_COMMA_RE.fullmatch(bare):
        return "string with a decimal comma"
    if bare.endswith("%") and js_to_number(bare[:-1]) is not None:
        return "string with a percent sign"
    if integer and js_to_number(bare) is not None:
        return "string with a fraction"
    return "string that is not a number"


def mismatch_kind(wanted: str, value: Any) -> str:
    """The kind of a value Ajv cannot coerce to the ``wanted`` JSON type."""
    if type(value) is list and len(value) == 1:
        value = value[0]
    numeric = wanted in ("number", "integer")
    if type(value) is str:
        if numeric:
            return number_text_kind(value, integer=wanted == "integer")
        if wanted == "boolean":
            return "string that is not true or false"
    if type(value) in (int, float) and math.isfinite(value):
        if wanted == "integer":
            return "number with a fraction"
        if wanted == "boolean":
            return "number other than 0 or 1"
    if type(value) is list and not value:
        return f"an empty list, not {_TYPE_WORDS[wanted]}"
    return f"{_word_for(value)}, not {_TYPE_WORDS[wanted]}"


def format_kind(format_name: str, value: Any) -> str:
    """The kind of a text that fails a format (``FORMATS``)."""
    text = value if isinstance(value, str) else ""
    if format_name == "date":
        if DATE_PREFIX_RE.fullmatch(text):
            return "date with a time"
        if DATE_PARTS_RE.fullmatch(text):
            return "date written DD/MM/YYYY or MM/DD/YYYY"
        return "not a date"
    if format_name == "date-time":
        if _PLAIN_DATE_RE.fullmatch(text):
            return "date without a time"
        if _TIMESTAMP_RE.fullmatch(text):
            return "Unix timestamp, not a date-time"
        return "not a date-time"
    if "://" not in text and "." in text and " " not in text:
        return "URL without a scheme"
    return "not an absolute URI"


def dropped_kind(value: Any) -> str:
    """The kind of a required field step 2 dropped: ``empty`` (``""``) or ``null``."""
    return "null" if value is None else "empty"


class _Wrong:
    """The type of ``_WRONG``."""


_WRONG: Final = _Wrong()
"""``_coerce``'s answer for a value Ajv cannot coerce to the type."""


def _is_type(kind: str, value: Any) -> bool:
    """Ajv's type test (``strictNumbers``: numbers are finite)."""
    if kind == "string":
        return type(value) is str
    if kind == "boolean":
        return type(value) is bool
    if type(value) is int:
        return True
    if type(value) is not float or not math.isfinite(value):
        return False
    return kind == "number" or value.is_integer()


def _convert(kind: str, value: Any) -> Any:
    """Ajv's ``coerceTypes`` for one scalar type, or ``_WRONG``."""
    if kind == "string":
        if type(value) is bool:
            return "true" if value else "false"
        if type(value) is int or type(value) is float:
            return js_string(value)
        return "" if value is None else _WRONG
    if kind == "boolean":
        if value == "false" or value is None or (type(value) in (int, float) and value == 0):
            return False
        if value == "true" or (type(value) in (int, float) and value == 1):
            return True
        return _WRONG
    # number and integer
    if type(value) is bool:
        return int(value)
    if value is None:
        return 0
    if type(value) is not str or not value:
        return _WRONG
    number = js_to_number(value)
    if number is None:
        return _WRONG
    if kind == "integer" and math.isfinite(number) and not float(number).is_integer():
        return _WRONG
    return number


def _coerce(kind: str, value: Any) -> Any:
    """Ajv's coercion of ``value`` to a scalar type: the value, converted, or ``_WRONG``.

    A value of the type is kept; a one-element list is unwrapped first; then
    ``_convert`` (a converted value is not checked again: ``"1e400"`` becomes
    an infinite number, as in Ajv).
    """
    if _is_type(kind, value):
        return value
    if type(value) is list and len(value) == 1:
        value = value[0]
        if _is_type(kind, value):
            return value
    return _convert(kind, value)


def _quirk(kind: str, before: Any, after: Any) -> tuple[str, str] | None:
    """Why a coercion the destination makes is surely not meant: (its kind, the message);
    ``None`` when it is meant."""
    if type(before) is list:
        before = before[0]
    if kind in ("number", "integer"):
        if type(before) is bool:
            message = f"the boolean {js_json(before)} is sent as the number {js_json(after)}"
            return "boolean sent as a number", message
        if before is None:
            return "null sent as 0", "null is sent as the number 0"
        if type(before) is str and not before.strip(_JS_SPACE):
            return (
                "blank text sent as 0",
                f"the blank text {js_json(before)} is sent as the number 0",
            )
    elif kind == "boolean" and before is None:
        return "null sent as false", "null is sent as false"
    return None


def _scalar_settler(kind: str, format_name: str | None = None) -> Settler:
    """The settler of a scalar JSON type (``string``, ``number``, ``integer``, ``boolean``),
    with a format (``FORMATS``) for text."""
    check_format = FORMATS[format_name] if format_name is not None else None
    words = _TYPE_WORDS[kind]
    numeric = kind in ("number", "integer")

    def settle(value: Any, problems: list[Problem] | None, at: Where) -> Any:
        settled: Any
        if kind == "string" and type(value) is str:  # the commonest cases, first
            settled = value
        elif (numeric and type(value) is int) or (kind == "boolean" and type(value) is bool):
            return value  # (an int is within 2**53 here: js_view makes wider ones floats)
        else:
            settled = _coerce(kind, value)
            if settled is _WRONG:
                if problems is None:
                    return FAIL
                message = f"must be {words}, got {describe_value(value)}"
                problems.append((at, message, True, mismatch_kind(kind, value), value))
                return value
            if settled is not value:
                quirk = _quirk(kind, value, settled)
                if quirk is not None:
                    if problems is None:
                        return FAIL
                    problems.append((at, quirk[1], False, quirk[0], value))
            if numeric and type(settled) is float:
                if problems is None and not math.isfinite(settled):
                    return FAIL  # JSON writes it as null: the planner warns (a quirk)
                settled = normalize_number(settled)  # as JSON writes it: 10.0 is 10
        if check_format is not None and not check_format(settled):
            if problems is None:
                return FAIL
            assert format_name is not None
            words_format = _FORMAT_WORDS[format_name]
            message = f"must be {words_format}, got {describe_value(settled)}"
            problems.append((at, message, True, format_kind(format_name, settled), settled))
        return settled

    return settle


def _settle_object(value: Any, problems: list[Problem] | None, at: Where) -> Any:
    if isinstance(value, dict):
        return value
    if problems is None:
        return FAIL
    message = f"must be an object, got {describe_value(value)}"
    problems.append((at, message, True, mismatch_kind("object", value), value))
    return value


def _list_settler(settle_item: Settler) -> Settler:
    """The settler of a list whose items are settled by ``settle_item``."""

    def settle(value: Any, problems: list[Problem] | None, at: Where) -> Any:
        items = []
        for index, item in enumerate(value):
            settled = settle_item(item, problems, (*at, index))
            if settled is FAIL:
                return FAIL
            items.append(settled)
        return items

    return settle


def _objects_settler(members: Mapping[str, Settler], required: tuple[str, ...]) -> Settler:
    """The settler of a list of objects: each member settled, unknown ones removed."""

    def settle(value: Any, problems: list[Problem] | None, at: Where) -> Any:
        items = []
        for index, item in enumerate(value):
            where = (*at, index)
            if not isinstance(item, dict):
                if problems is None:
                    return FAIL
                message = f"must be an object, got {describe_value(item)}"
                problems.append((where, message, True, mismatch_kind("object", item), item))
                items.append(item)
                continue
            settled_item = {}
            for key, member in item.items():  # keys of no member are removed
                settle_member = members.get(key)
                if settle_member is not None:
                    settled = settle_member(member, problems, (*where, key))
                    if settled is FAIL:
                        return FAIL
                    settled_item[key] = settled
            for key in required:
                if key not in settled_item:
                    if problems is None:
                        return FAIL
                    problems.append(((*where, key), "", True, MISSING_REQUIRED, MISSING))
            items.append(settled_item)
        return items

    return settle


@dataclass(frozen=True, slots=True)
class FieldKind:
    """One field type, defined once: its schema, and how steps 2 and 3 take a value of it.

    ``schema`` documents the type (``build_schema``); ``settle`` coerces and
    checks a value (step 3).  A list type's value is made a list in step 2,
    without its ``null`` items and, with ``drops_blank_items``, its ``""``
    items (``clean``); a list of objects has ``members`` (each of a type; any
    other key is removed), the ``required`` ones in every item.  ``keeps``
    are exact types ``settle`` returns as they are, and ``settles_to`` the
    exact types of what it returns (``None``: not known): the compiled planner
    writes them into its code, and ``tests/test_fastpath.py`` checks them on
    generated values.
    """

    schema: Mapping[str, Any]
    settle: Settler
    keeps: frozenset[type] = frozenset()
    settles_to: frozenset[type] | None = None
    is_list: bool = False
    drops_blank_items: bool = False
    members: Mapping[str, FieldType] | None = None
    required: tuple[str, ...] = ()

    def clean(self, value: Any) -> Any:
        """Step 2 for a value that is not dropped: a list type's made a list, items dropped."""
        if not self.is_list:
            return value
        if not isinstance(value, list):
            return [value]
        if self.drops_blank_items:
            return [item for item in value if item is not None and item != ""]
        return [item for item in value if item is not None]


_TEXT: Final = frozenset({str})
_NUMBERS: Final = frozenset({int, float})
_LIST: Final = frozenset({list})

_SCALAR_KINDS: Final[Mapping[FieldType, FieldKind]] = {
    "string": FieldKind({"type": "string"}, _scalar_settler("string"), _TEXT, _TEXT),
    "number": FieldKind({"type": "number"}, _scalar_settler("number"), frozenset({int}), _NUMBERS),
    "integer": FieldKind(
        {"type": "integer"}, _scalar_settler("integer"), frozenset({int}), _NUMBERS
    ),
    "boolean": FieldKind(
        {"type": "boolean"}, _scalar_settler("boolean"), frozenset({bool}), frozenset({bool})
    ),
    "date": FieldKind(
        {"type": "string", "format": "date"},
        _scalar_settler("string", "date"),
        settles_to=_TEXT,
    ),
    "datetime": FieldKind(
        {"type": "string", "format": "date-time"},
        _scalar_settler("string", "date-time"),
        settles_to=_TEXT,
    ),
    "uri": FieldKind(
        {"type": "string", "format": "uri"}, _scalar_settler("string", "uri"), settles_to=_TEXT
    ),
}


def _objects_kind(members: Mapping[str, FieldType], required: tuple[str, ...]) -> FieldKind:
    """A list of objects with these members (scalar types), the ``required`` ones needed."""
    return FieldKind(
        {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {name: {"type": kind} for name, kind in members.items()},
                "required": list(required),
                "additionalProperties": False,
            },
        },
        _objects_settler(
            {name: _SCALAR_KINDS[kind].settle for name, kind in members.items()}, required
        ),
        settles_to=_LIST,
        is_list=True,
        drops_blank_items=True,
        members=members,
        required=required,
    )


FIELD_KINDS: Final[Mapping[FieldType, FieldKind]] = {
    **_SCALAR_KINDS,
    "object": FieldKind({"type": "object"}, _settle_object, frozenset({dict})),
    "string_list": FieldKind(
        {"type": "array", "items": {"type": "string"}},
        _list_settler(_SCALAR_KINDS["string"].settle),
        settles_to=_LIST,
        is_list=True,
    ),
    "products": _objects_kind(PRODUCT_ITEM_FIELDS, ("price",)),
}
"""Every field type (``FieldType``) by name: a new type is a name there and an entry here."""


def settler_for(field_type: FieldType) -> Settler:
    """How a field of this type is coerced and checked (``Settler``)."""
    return FIELD_KINDS[field_type].settle


def required_fields(action: Action, mode: Mode) -> tuple[str, ...]:
    """The fields of ``action`` required in ``mode``, in field order."""
    return tuple(f.name for f in action.fields if mode in f.modes and mode in f.required)


def _pointer(field: str, path: Iterable[str | int]) -> str:
    return "/".join([field, *(str(p) for p in path)])


def _nested_source(source: str | None, path: Iterable[str | int]) -> str | None:
    if source is None:
        return None
    for part in path:
        source += f"[{part}]" if isinstance(part, int) else f".{part}"
    return source


def settle_payload(
    action: Action,
    payload: Mapping[str, Any],
    *,
    mode: Mode,
    sources: Mapping[str, str | None],
    resolved: Mapping[str, Any] | None = None,
) -> tuple[dict[str, Any], list[Violation], list[Violation]]:
    """Step 3 on a step-2 payload: ``(settled payload, errors, quirks)``, in field order.

    Errors are the values that cannot be coerced or fail their format, and the
    required fields of ``mode`` that are missing; quirks are the surely-unmeant
    coercions (module docstring) and required fields that are present but empty
    (``[""]`` or ``[null]`` unwrapped), which the destination accepts and
    does not send.  ``resolved``, the values before step 2, tells a missing
    required field that was empty (``""``, ``null``: dropped) from one the
    mapping gave nothing for (the kind of its error only).
    """
    fields, order = action.fields, action.positions
    settled: dict[str, Any] = {}
    problems: list[tuple[str, Problem]] = []
    for name, value in payload.items():
        found: list[Problem] = []
        settled[name] = FIELD_KINDS[fields[order[name]].type].settle(value, found, ())
        if found:
            problems.extend((name, problem) for problem in found)
    for name in required_fields(action, mode):
        if name not in settled:
            dropped = MISSING if resolved is None else resolved.get(name, MISSING)
            kind = MISSING_REQUIRED if dropped is MISSING else dropped_kind(dropped)
            problems.append((name, ((), "", True, kind, dropped)))
        elif settled[name] == "":
            problems.append((name, ((), _EMPTY_REQUIRED, False, EMPTY_LIST, payload[name])))
    errors: list[Violation] = []
    quirks: list[Violation] = []
    for name, (path, message, is_error, kind, value) in sorted(
        problems, key=lambda p: order.get(p[0], 0)
    ):
        pointer = _pointer(name, path)
        if not message:
            text = f"required field '{pointer}' is missing"
        elif is_error:
            text = f"'{pointer}' {message}"
        else:
            text = f"'{pointer}': {message}"
        violation = Violation(
            pointer,
            text,
            _nested_source(sources.get(name), path),
            not is_error,
            kind=kind,
            example=None if value is MISSING else example_of(value),
        )
        (errors if is_error else quirks).append(violation)
    return settled, errors, quirks


def write_schemas(directory: Path) -> list[Path]:
    """Regenerate the shipped schemas (``python -c "from fbcli.validation import *; ..."``):
    each action's, and the action names in the mapping file's."""
    from fbcli.actions import ACTIONS  # noqa: PLC0415 - avoids an import cycle

    written = []
    for action in ACTIONS.values():
        target = directory / f"{action.name}.json"
        target.write_text(json.dumps(build_schema(action), indent=2) + "\n", encoding="utf-8")
        written.append(target)
    # The mapping file's schema names the actions too: the registry's, in its order.
    target = directory / "mappings.schema.json"
    schema = json.loads(target.read_text(encoding="utf-8"))
    schema["properties"]["subscriptions"]["items"]["properties"]["action"]["enum"] = list(ACTIONS)
    target.write_text(json.dumps(schema, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    written.append(target)
    return written
