"""The subscription condition language of Segment/Customer.io (an FQL subset).

A trigger such as ``type = "track" and (event = "Download" or match(event, "Video *"))``
is tokenized, parsed by recursive descent into a small immutable AST, and then
compiled once into Python code (:func:`compile_trigger`, from the one definition
of the semantics below, :func:`emit_test`), which :func:`evaluate_trigger` runs,
:func:`trace_trigger` runs leaf by leaf for ``fbcli explain``, and the compiled
planner writes into its own code.  A plain interpreter of the same table is kept
in the tests, as the oracle the compiled code is checked against.  Everything
here is pure.

Grammar::

    expr       := or
    or         := and ("or" and)*
    and        := unary ("and" unary)*
    unary      := ("!" | "not") unary | primary
    primary    := "(" expr ")" | call | comparison
    call       := ("contains" | "match") "(" path "," string ")"
    comparison := path op literal          op: = != < <= > >=
    literal    := string | number | true | false | null
    path       := segment ("." segment)*   segment: letters (any script), digits, _ $ -

- Keywords are lowercase and reserved: ``and or not true false null contains
  match`` cannot be a whole one-segment path (``properties.match`` is fine).
- The first segment of a path cannot read as a number (``1.5 = 2`` is an error);
  later segments may be all digits, which index arrays (``properties.items.0.sku``).
- Strings take double quotes and JSON escapes (``\\" \\\\ \\/ \\b \\f \\n \\r \\t
  \\uXXXX``).  Numbers are ``-?digits[.digits][e[+-]digits]``; one with a ``.``
  or an exponent is a float, otherwise an int; a float that overflows is an error.
- ``and`` binds tighter than ``or``; chains are n-ary (``a and b and c`` is one
  :class:`And` of three), but a parenthesized group stays its own node, so
  ``(a and b) and c`` is ``And(And(a, b), c)``.  That is what lets
  :func:`format_trigger` round-trip exactly.
- Errors are :class:`TriggerSyntaxError` with a 1-based column into the text
  (a newline in the text counts as one character, like any other).

Semantics (``v`` is the value at the path, ``MISSING`` when the path does not
resolve; "number" means an ``int`` or ``float`` but never a ``bool``)::

    literal        =                      !=                           < <= > >=
    -------------  ---------------------  ---------------------------  -----------------
    null           v missing or null      v present and not null       false
    "s" (string)   v is the string "s"    v present, not null, and     false
                                          not the string "s"
    true / false   v is that boolean      v present, not null, and     false
                                          not that boolean
    number n       v is a number == n     v is a number != n           v is a number and
                   (1 matches 1.0)        (strings, bools, null,       v op n
                                          missing: false)

    contains(p, "x")   v is a string containing "x" (case-sensitive)
    match(p, "x*")     v is a string and: "x*" starts with x, "*x" ends with x,
                       "*x*" contains x, no leading/trailing * is equality;
                       a * anywhere else is literal; "*" matches any string

Decisions where Segment's documentation of the language is silent (docs/mapping-file.md,
"Triggers", states them for users):

- ``!= true`` / ``!= false`` follow the string rule: true for every present
  value that is not that boolean (so ``!= true`` is true for ``"true"`` and 1).
- A JSON ``null`` counts as absent for ``!=`` with a string or boolean literal,
  just as ``= null`` and ``!= null`` treat it: ``x != "abc"`` is false when x is
  null or missing.
- Objects and arrays never equal a literal, so ``=`` is false and ``!=`` with a
  string or boolean is true for them; ``!=`` with a number is false.
- A digit segment indexes a list (no negative indexes); on an object it is an
  ordinary key.  Walking through a missing key or a scalar gives ``MISSING``.
- Evaluation never raises, whatever JSON shapes the event holds.
"""

from __future__ import annotations

import json
import math
import re
import sys
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, Final, Literal, TypeAlias, assert_never

from fbcli.codegen import Source
from fbcli.errors import ConfigError
from fbcli.text import clip
from fbcli.values import MISSING

__all__ = [
    "And",
    "Call",
    "Compare",
    "Node",
    "Not",
    "Or",
    "TraceStep",
    "TriggerSyntaxError",
    "compile_trigger",
    "emit_test",
    "evaluate_trigger",
    "format_trigger",
    "getter",
    "lookup",
    "parse_trigger",
    "trace_trigger",
]

Value: TypeAlias = str | int | float | bool | None
"""A literal in a comparison."""

Predicate: TypeAlias = Callable[[Mapping[str, Any]], bool]
"""A compiled trigger: event in, match out."""

OPERATORS: Final = ("=", "!=", "<", "<=", ">", ">=")
FUNCTIONS: Final = ("contains", "match")
KEYWORDS: Final = frozenset({"and", "or", "not", "true", "false", "null", *FUNCTIONS})

_PATH_RE: Final = re.compile(r"[\w$-]+(?:\.[\w$-]+)*")
_NUMBER_RE: Final = re.compile(r"-?[0-9]+(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")
_IDENT_CHAR_RE: Final = re.compile(r"[\w$.-]")
_SIMPLE_ESCAPES: Final = frozenset('"\\/bfnrt')
_HEX_DIGITS: Final = frozenset("0123456789abcdefABCDEF")


class TriggerSyntaxError(ValueError):
    """A trigger that does not parse, with the 1-based column of the problem."""

    def __init__(self, message: str, column: int, text: str) -> None:
        super().__init__(message, column, text)
        self.message = message
        self.column = column
        self.text = text

    def __str__(self) -> str:
        return f"{self.message} at column {self.column}"


# --------------------------------------------------------------------- the AST


def _is_path(path: str) -> bool:
    return (
        _PATH_RE.fullmatch(path) is not None
        and path not in KEYWORDS
        and _NUMBER_RE.fullmatch(path) is None
    )


def _check_path(path: str) -> None:
    if not _is_path(path):
        raise ValueError(f"invalid trigger path {path!r}")


@dataclass(frozen=True, slots=True)
class Compare:
    """``path op value``, e.g. ``properties.revenue >= 10``."""

    path: str
    op: str
    value: Value

    def __post_init__(self) -> None:
        _check_path(self.path)
        if self.op not in OPERATORS:
            raise ValueError(f"unknown operator {self.op!r}")
        if not isinstance(self.value, str | int | float | None):
            raise TypeError(f"unsupported literal {self.value!r}")
        if isinstance(self.value, float) and not math.isfinite(self.value):
            raise ValueError(f"non-finite number {self.value!r}")


@dataclass(frozen=True, slots=True)
class Call:
    """``func(path, "arg")`` with ``func`` one of ``contains``, ``match``."""

    func: str
    path: str
    arg: str

    def __post_init__(self) -> None:
        if self.func not in FUNCTIONS:
            raise ValueError(f"unknown function {self.func!r}")
        _check_path(self.path)


@dataclass(frozen=True, slots=True)
class Not:
    """``!operand`` (or ``not operand``)."""

    operand: Node


@dataclass(frozen=True, slots=True)
class And:
    """``a and b and ...``: at least two items."""

    items: tuple[Node, ...]

    def __post_init__(self) -> None:
        if len(self.items) < 2:
            raise ValueError("And needs at least two items")


@dataclass(frozen=True, slots=True)
class Or:
    """``a or b or ...``: at least two items."""

    items: tuple[Node, ...]

    def __post_init__(self) -> None:
        if len(self.items) < 2:
            raise ValueError("Or needs at least two items")


Node: TypeAlias = Compare | Call | Not | And | Or


@dataclass(frozen=True, slots=True)
class TraceStep:
    """One leaf of a trigger checked against one event, for ``explain``."""

    text: str
    result: bool
    actual: Any


# --------------------------------------------------------------- the tokenizer

_Kind: TypeAlias = Literal["(", ")", ",", "!", "op", "string", "number", "word", "keyword", "end"]


@dataclass(frozen=True, slots=True)
class _Token:
    kind: _Kind
    text: str
    column: int
    value: Value = None


def _tokenize(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        column = i + 1
        if c.isspace():
            i += 1
        elif c in "(),":
            kind: _Kind = "(" if c == "(" else ")" if c == ")" else ","
            tokens.append(_Token(kind, c, column))
            i += 1
        elif c in "!<>=":
            two = text[i : i + 2]
            if two in ("!=", "<=", ">="):
                tokens.append(_Token("op", two, column))
                i += 2
            elif two == "==":
                raise TriggerSyntaxError("unknown operator '==' (use '=')", column, text)
            else:
                tokens.append(_Token("!" if c == "!" else "op", c, column))
                i += 1
        elif c == '"':
            i = _scan_string(text, i, tokens)
        else:
            i = _scan_word(text, i, tokens)
    tokens.append(_Token("end", "", n + 1))
    return tokens


def _scan_string(text: str, start: int, tokens: list[_Token]) -> int:
    i, n = start + 1, len(text)
    while i < n:
        c = text[i]
        if c == '"':
            source = text[start : i + 1]
            value = json.loads(source, strict=False)
            tokens.append(_Token("string", source, start + 1, value))
            return i + 1
        if c == "\\":
            escape = text[i + 1 : i + 2]
            if escape in _SIMPLE_ESCAPES:
                i += 2
            elif escape == "u":
                digits = text[i + 2 : i + 6]
                if len(digits) != 4 or not _HEX_DIGITS.issuperset(digits):
                    raise TriggerSyntaxError(
                        "invalid \\u escape (expected 4 hex digits)", i + 1, text
                    )
                i += 6
            elif escape == "":
                break
            else:
                raise TriggerSyntaxError(f"invalid escape '\\{escape}'", i + 1, text)
        else:
            i += 1
    raise TriggerSyntaxError("unterminated string", start + 1, text)


def _scan_word(text: str, start: int, tokens: list[_Token]) -> int:
    column = start + 1
    number = _NUMBER_RE.match(text, start)
    if number and not _IDENT_CHAR_RE.match(text, number.end()):
        tokens.append(
            _Token("number", number.group(), column, _number(number.group(), column, text))
        )
        return number.end()
    word = _PATH_RE.match(text, start)
    if word is None:
        c = text[start]
        hint = {
            "'": " (strings take double quotes)",
            "&": " (use 'and')",
            "|": " (use 'or')",
        }.get(c, "")
        raise TriggerSyntaxError(f"unexpected character {c!r}{hint}", column, text)
    end = word.end()
    if text[end : end + 1] == ".":
        if re.fullmatch(r"-?[0-9]+", word.group()):
            raise TriggerSyntaxError(f"invalid number '{word.group()}.'", column, text)
        raise TriggerSyntaxError("expected a path segment after '.'", end + 2, text)
    kind: _Kind = "keyword" if word.group() in KEYWORDS else "word"
    tokens.append(_Token(kind, word.group(), column))
    return end


def _number(source: str, column: int, text: str) -> int | float:
    if any(c in source for c in ".eE"):
        value = float(source)
        if not math.isfinite(value):
            raise TriggerSyntaxError(f"number out of range: {source}", column, text)
        return value
    try:
        return int(source)
    except ValueError:  # more digits than sys.get_int_max_str_digits() allows
        raise TriggerSyntaxError("number has too many digits", column, text) from None


# ------------------------------------------------------------------ the parser


_CONTROL_RE: Final = re.compile(r"[\x00-\x1f]")


def _describe(token: _Token) -> str:
    if token.kind == "end":
        return "end of trigger"
    text = clip(token.text, 40)
    if token.kind != "string":
        return f"'{text}'"
    # A string may hold raw control characters (a line break): escaped, the message is one line.
    return _CONTROL_RE.sub(lambda match: json.dumps(match.group())[1:-1], text)


def _case_hint(token: _Token) -> str:
    if token.kind == "word" and token.text.lower() in KEYWORDS:
        return " (keywords are lowercase)"
    return ""


MAX_NESTING = 50
"""Parentheses and negations nest at most this deep (deeper is surely a mistake)."""


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = _tokenize(text)
        self.pos = 0
        self.depth = 0

    def nest(self, token: _Token) -> None:
        self.depth += 1
        if self.depth > MAX_NESTING:
            raise self.error(f"nested deeper than {MAX_NESTING} levels", token)

    def peek(self) -> _Token:
        return self.tokens[self.pos]

    def advance(self) -> _Token:
        token = self.tokens[self.pos]
        self.pos += 1
        return token

    def error(self, message: str, token: _Token) -> TriggerSyntaxError:
        return TriggerSyntaxError(message, token.column, self.text)

    def at_keyword(self, word: str) -> bool:
        token = self.peek()
        return token.kind == "keyword" and token.text == word

    def parse(self) -> Node:
        if self.peek().kind == "end":
            raise TriggerSyntaxError("empty trigger", 1, self.text)
        node = self.parse_or()
        token = self.peek()
        if token.kind == ")":
            raise self.error("unexpected ')'", token)
        if token.kind != "end":
            raise self.error(
                f"expected 'and', 'or' or end of trigger, found {_describe(token)}"
                + _case_hint(token),
                token,
            )
        return node

    def parse_or(self) -> Node:
        items = [self.parse_and()]
        while self.at_keyword("or"):
            self.advance()
            items.append(self.parse_and())
        return items[0] if len(items) == 1 else Or(tuple(items))

    def parse_and(self) -> Node:
        items = [self.parse_unary()]
        while self.at_keyword("and"):
            self.advance()
            items.append(self.parse_unary())
        return items[0] if len(items) == 1 else And(tuple(items))

    def parse_unary(self) -> Node:
        if self.peek().kind == "!" or self.at_keyword("not"):
            self.nest(self.advance())
            node = Not(self.parse_unary())
            self.depth -= 1
            return node
        return self.parse_primary()

    def parse_primary(self) -> Node:
        token = self.peek()
        if token.kind == "(":
            self.nest(self.advance())
            node = self.parse_or()
            if self.peek().kind != ")":
                raise self.error(f"expected ')' to close '(' at column {token.column}", self.peek())
            self.advance()
            self.depth -= 1
            return node
        if token.kind == "keyword" and token.text in FUNCTIONS:
            return self.parse_call()
        if token.kind == "word":
            if self.tokens[self.pos + 1].kind == "(":
                known = ", ".join(FUNCTIONS)
                raise self.error(f"unknown function '{token.text}' (known: {known})", token)
            return self.parse_comparison()
        if token.kind == ")":
            raise self.error("unexpected ')'", token)
        raise self.error(f"expected a condition, found {_describe(token)}", token)

    def parse_call(self) -> Call:
        func = self.advance()
        opening = self.peek()
        if opening.kind != "(":
            raise self.error(f"expected '(' after '{func.text}'", opening)
        self.advance()
        path = self.peek()
        if path.kind != "word":
            raise self.error(
                f"expected a path as the first argument of {func.text}(), found {_describe(path)}",
                path,
            )
        self.advance()
        comma = self.peek()
        if comma.kind != ",":
            raise self.error(
                f"expected ',' after '{path.text}' in {func.text}(), found {_describe(comma)}",
                comma,
            )
        self.advance()
        arg = self.peek()
        if arg.kind != "string":
            raise self.error(
                f"expected a string as the second argument of {func.text}(), "
                f"found {_describe(arg)}",
                arg,
            )
        self.advance()
        if self.peek().kind != ")":
            raise self.error(
                f"expected ')' to close '{func.text}(' at column {opening.column}", self.peek()
            )
        self.advance()
        assert isinstance(arg.value, str)  # a string token's value is its decoded text
        return Call(func.text, path.text, arg.value)

    def parse_comparison(self) -> Compare:
        path = self.advance()
        op = self.peek()
        if op.kind != "op":
            raise self.error(
                f"expected an operator after '{path.text}', found {_describe(op)}"
                + _case_hint(path),
                op,
            )
        self.advance()
        literal = self.peek()
        value: Value
        if literal.kind in ("string", "number"):
            value = literal.value
        elif literal.kind == "keyword" and literal.text in ("true", "false", "null"):
            value = {"true": True, "false": False, "null": None}[literal.text]
        else:
            hint = _case_hint(literal) or (
                " (strings take double quotes)" if literal.kind == "word" else ""
            )
            raise self.error(
                f"expected a value after '{op.text}', found {_describe(literal)}{hint}", literal
            )
        self.advance()
        return Compare(path.text, op.text, value)


def parse_trigger(text: str) -> Node:
    """Parse a trigger into its AST; raise :class:`TriggerSyntaxError` if it is not valid."""
    return _Parser(text).parse()


# --------------------------------------------------------------- the formatter

_PREC_OR, _PREC_AND, _PREC_UNARY = 1, 2, 3


def _format_string(value: str) -> str:
    text = json.dumps(value, ensure_ascii=False)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate: keep the text printable
        text = json.dumps(value)
    return text


def _format_value(value: Value) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return _format_string(value)
    return repr(value)


def _format(node: Node, min_prec: int) -> str:
    match node:
        case Compare(path, op, value):
            text, prec = f"{path} {op} {_format_value(value)}", _PREC_UNARY
        case Call(func, path, arg):
            text, prec = f"{func}({path}, {_format_string(arg)})", _PREC_UNARY
        case Not(operand):
            text, prec = "!" + _format(operand, _PREC_UNARY), _PREC_UNARY
        case And(items):
            text = " and ".join(_format(item, _PREC_UNARY) for item in items)
            prec = _PREC_AND
        case Or(items):
            text = " or ".join(_format(item, _PREC_AND) for item in items)
            prec = _PREC_OR
        case _:
            assert_never(node)
    return f"({text})" if prec < min_prec else text


def format_trigger(node: Node) -> str:
    """The canonical text of a trigger: ``!`` for not, parentheses only where needed.

    Parentheses appear where precedence needs them and around a group nested
    in a group of the same kind (``(a and b) and c``), so that
    ``parse_trigger(format_trigger(node)) == node`` always holds.
    """
    return _format(node, 0)


# ------------------------------------------------------------- evaluation


def _is_index(segment: str) -> bool:
    """ASCII digits that ``int()`` converts: an index into a list.

    Digits beyond ``sys.get_int_max_str_digits()`` are no index (``int()``
    refuses them, and no list is that long): the path gives ``MISSING`` there,
    as an index past the end does.
    """
    if not (segment.isascii() and segment.isdigit()):
        return False
    limit = sys.get_int_max_str_digits()
    return limit == 0 or len(segment) <= limit


_Getter: TypeAlias = Callable[[Mapping[str, Any]], Any]


@lru_cache(maxsize=1024)
def getter(path: str) -> _Getter:
    """The value at ``path`` in an event, or ``MISSING``: ``lookup``, with the path split once.

    Each segment is a key of an object; an all-digit segment is also an index
    into a list.  Anything else (a missing key, an index past the end, a step
    into a string, number, bool or null) gives ``MISSING``.
    """
    steps = tuple((s, int(s) if _is_index(s) else None) for s in path.split("."))

    def get(event: Mapping[str, Any]) -> Any:
        current: Any = event
        for key, index in steps:
            if isinstance(current, dict):
                current = current.get(key, MISSING)
                if current is MISSING:
                    return MISSING
            elif isinstance(current, Mapping):
                if key not in current:
                    return MISSING
                current = current[key]
            elif index is not None and isinstance(current, list | tuple):
                if index >= len(current):
                    return MISSING
                current = current[index]
            else:
                return MISSING
        return current

    return get


def lookup(event: Mapping[str, Any], path: str) -> Any:
    """The value at a dotted path in ``event``, or ``MISSING`` (``getter``)."""
    return getter(path)(event)


_OPERATORS: Final = {"=": "==", "!=": "!=", "<": "<", "<=": "<=", ">": ">", ">=": ">="}


def emit_test(
    src: Source, node: Node, value: Callable[[str], str], *, instants: bool = False
) -> str:
    """The Python expression of a trigger: the semantics table of the module docstring.

    The one definition of what a trigger means: ``compile_trigger`` compiles
    it, ``evaluate_trigger`` and ``trace_trigger`` run that, and the compiled
    planner writes it into its code (``plan.compile_config``).  ``value(path)``
    is an expression of the value at ``path`` (``MISSING`` when it does not
    resolve), evaluated at most once.  The expression never raises.
    ``instants``: a command-line trigger (``compile_option``), whose ordering
    comparisons with text compare ISO-8601 instants (``_instant_test``).
    """
    match node:
        case Compare(path, op, literal) if instants and op in ORDERING and type(literal) is str:
            instant = parse_instant(literal)
            assert instant is not None  # compile_option refused any other text
            return _instant_test(src, op, instant, value(path))
        case Compare(path, op, literal):
            return _compare_test(src, op, literal, value(path))
        case Call(func, path, arg):
            return _call_test(src, func, arg, value(path))
        case Not(operand):
            return f"(not {emit_test(src, operand, value, instants=instants)})"
        case And(items) | Or(items):
            joint = " and " if isinstance(node, And) else " or "
            return (
                "(" + joint.join(emit_test(src, i, value, instants=instants) for i in items) + ")"
            )
        case _:
            assert_never(node)


def _compare_test(src: Source, op: str, literal: Value, actual: str) -> str:
    """``path op literal``: a row of the semantics table (``actual``: the value's expression)."""
    a = src.name("a")
    first, missing = f"({a} := {actual})", src.const(MISSING)
    absent = f"{a} is {missing} or {a} is None"
    if literal is None:
        if op == "=":
            return f"({first} is {missing} or {a} is None)"
        return f"({first} is not {missing} and {a} is not None)" if op == "!=" else "False"
    if isinstance(literal, bool):
        if op == "=":
            return f"({first} is {literal})"
        return f"({first} is not {literal} and not ({absent}))" if op == "!=" else "False"
    if isinstance(literal, str):
        text = src.const(literal)
        if op == "=":
            return f"(isinstance({first}, str) and {a} == {text})"
        if op == "!=":
            return f"({first} is not {missing} and {a} is not None and {a} != {text})"
        return "False"
    number = src.const(literal)
    is_number = f"isinstance({first}, (int, float)) and not isinstance({a}, bool)"
    return f"({is_number} and {a} {_OPERATORS[op]} {number})"


def _call_test(src: Source, func: str, arg: str, actual: str) -> str:
    """``contains(path, "x")`` and ``match(path, "x*")`` on the value's expression."""
    a = src.name("a")
    text = f"isinstance(({a} := {actual}), str)"
    if func == "contains" or (len(arg) >= 2 and arg[0] == "*" and arg[-1] == "*"):
        return f"({text} and {src.const(arg if func == 'contains' else arg[1:-1])} in {a})"
    if arg.startswith("*"):
        return f"({text} and {a}.endswith({src.const(arg[1:])}))"
    if arg.endswith("*"):
        return f"({text} and {a}.startswith({src.const(arg[:-1])}))"
    return f"({text} and {a} == {src.const(arg)})"


def value_of(src: Source, event: str) -> Callable[[str], str]:
    """The ``value`` of ``emit_test`` for an event held in the local ``event``: a key of a
    ``dict`` looked up inline, any other path by its getter."""
    missing = src.const(MISSING)

    def value(path: str) -> str:
        get = f"{src.const(getter(path))}({event})"
        if "." in path:
            return get
        return f"({event}.get({src.const(path)}, {missing}) if type({event}) is dict else {get})"

    return value


_COMPILED: dict[str, Predicate] = {}
_COMPILED_KEEP: Final = 1024


def compile_trigger(node: Node, *, instants: bool = False) -> Predicate:
    """Compile a trigger once into a predicate: event in, match out (``emit_test``'s code).

    Compiled predicates are kept by the trigger's text (``format_trigger``), not by
    node: nodes compare ``1`` equal to ``true`` and to ``1.0``.
    """
    text = ("instants " if instants else "") + format_trigger(node)
    predicate = _COMPILED.get(text)
    if predicate is None:
        src = Source()
        test = emit_test(src, node, value_of(src, "event"), instants=instants)
        src.line(0, "def match(event):")
        src.line(1, f"return {test}")
        predicate = src.compile("match")
        if len(_COMPILED) >= _COMPILED_KEEP:
            _COMPILED.clear()
        _COMPILED[text] = predicate
    return predicate


def evaluate_trigger(node: Node, event: Mapping[str, Any]) -> bool:
    """Whether ``event`` satisfies the trigger (``compile_trigger``; never raises)."""
    return compile_trigger(node)(event)


# --------------------------------------------------------------- the tracer


def _leaves(node: Node) -> Iterator[Compare | Call]:
    match node:
        case Compare() | Call():
            yield node
        case Not(operand):
            yield from _leaves(operand)
        case And(items) | Or(items):
            for item in items:
                yield from _leaves(item)
        case _:
            assert_never(node)


def leaves(node: Node) -> list[Compare | Call]:
    """Every comparison and call of a trigger, in source order."""
    return list(_leaves(node))


def trace_trigger(node: Node, event: Mapping[str, Any]) -> list[TraceStep]:
    """Every leaf (comparison or call) checked against ``event``, in source order.

    All leaves are evaluated, with no short-circuit, so ``explain`` can show
    why each part did or did not match.  ``actual`` is the looked-up value or
    ``MISSING``.
    """
    return [
        TraceStep(format_trigger(leaf), evaluate_trigger(leaf, event), lookup(event, leaf.path))
        for leaf in _leaves(node)
    ]


def parse_instant(value: object) -> datetime | None:
    """An ISO-8601 date or date and time as an instant (aware ``datetime``), else ``None``.

    ``2026-01-31`` is midnight UTC of that day; a time without an offset is UTC;
    ``Z`` and ``+02:00`` offsets are honoured (``datetime.fromisoformat``'s forms).
    """
    if not isinstance(value, str) or not 10 <= len(value) <= 40 or not value[:4].isdigit():
        return None
    try:
        instant = datetime.fromisoformat(value)
    except ValueError:
        return None
    return instant if instant.tzinfo is not None else instant.replace(tzinfo=UTC)


ORDERING: Final = frozenset({"<", "<=", ">", ">="})


def _instant_test(src: Source, op: str, literal: datetime, actual: str) -> str:
    """``path op "ISO date"`` on the command line: the value, an ISO-8601 string too, is
    compared with the literal as instants; any other value does not match."""
    a = src.name("t")
    parse = src.const(parse_instant)
    return f"(({a} := {parse}({actual})) is not None and {a} {_OPERATORS[op]} {src.const(literal)})"


def text_orderings(node: Node) -> list[Compare]:
    """The comparisons of ``node`` that order text (``<``, ``<=``, ``>``, ``>=`` with a
    string): in a mapping file these never match, as in the destination."""
    return [
        leaf
        for leaf in _leaves(node)
        if isinstance(leaf, Compare) and leaf.op in ORDERING and isinstance(leaf.value, str)
    ]


def compile_option(text: str, option: str) -> Predicate:
    """A trigger given on the command line (``--where``, ``--trigger``), compiled;
    ``ConfigError`` says which option holds the mistake.

    Unlike a mapping file's trigger (where, as in the destination, ordering text
    never matches), ``<``, ``<=``, ``>`` and ``>=`` with a string compare ISO-8601
    dates and times as instants (``parse_instant``); any other string is refused.
    """
    try:
        node = parse_trigger(text)
    except TriggerSyntaxError as exc:
        raise ConfigError(f"bad trigger in {option}: {exc}") from None
    orderings = text_orderings(node)
    for leaf in orderings:
        if parse_instant(leaf.value) is None:
            raise ConfigError(
                f"bad trigger in {option}: '{format_trigger(leaf)}' orders text, which "
                "only works for ISO-8601 dates and times",
                hint='compare a number, or a date like "2026-01-31" or "2026-01-31T12:00:00Z" '
                "(a date is midnight UTC; a time without an offset is UTC)",
            )
    return compile_trigger(node, instants=bool(orderings))
