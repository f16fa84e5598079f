"""Mapping tests as data: load case files, run their events, compare, update.

A case file (YAML) names events and what each must become::

    mappings: ../mappings.yaml        # optional, relative to the case file
    cases:
      - name: order completed becomes a purchase
        event: {type: track, event: Order Completed, userId: u1, properties: {...}}
        expect:
          - subscription: Purchases    # optional when the event makes one call
            status: planned
            body: {orderId: o1, amount: 10}
      - name: page views are ignored in cloud mode
        event: {type: page}
        expect: unmatched

Each case's event is planned with ``plan.plan_event`` (the dry-run path) and
the outcome compared with ``expect``:

- ``unmatched``: no subscription's trigger matches the event.
- A list of calls (one mapping is a list of one): one entry per call the
  event makes.  An entry naming a ``subscription`` is paired with that
  subscription's call; the others with the remaining calls, in order.
  ``status`` is ``planned`` or ``invalid`` (default: ``invalid`` when
  ``errors`` is given, else ``planned``); ``action`` is compared when given;
  ``body`` is a subset match, ``body_exact`` an exact one; ``push`` (direct
  mode), ``errors`` and ``warnings`` (lists of ``{field, source, message}``
  subsets) are subset matches.

Subset match: a mapping matches when every expected key matches (an expected
``null`` matches an absent key: bodies never hold null); a list matches
element by element and must have the same length; scalars are equal as JSON
values (``1`` equals ``1.0``; ``true`` is not ``1``; ``"10"`` is not ``10``).

``plan_update`` rewrites the expectations of failing cases from their
output, editing the YAML text in place (see its docstring).

A mistake in a case file is a ``CaseFileError`` located at its line and
column.  The module is pure: it reads no file (``cli.py`` finds and reads
case files and their mapping files) and never prints.
"""

from __future__ import annotations

import codecs
import copy
import json
import os
import pathlib
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Literal, TypeGuard

import yaml

from fbcli.actions import ACTIONS
from fbcli.errors import CaseFileError, ConfigError, MappingFileError
from fbcli.events import Event
from fbcli.inputs import read_bounded
from fbcli.mappings import (
    MAX_FILE_BYTES,
    LocatedChecker,
    MappingConfig,
    load_mapping_file,
    load_mappings,
    parse_yaml,
)
from fbcli.plan import DEFAULT_BASE_URL, PlannedCall, Rejection, Unmatched, plan_event
from fbcli.text import did_you_mean, kind_of, show_json
from fbcli.validation import Violation
from fbcli.values import same_value
from fbcli.yamltext import LINE_WIDTH, dump_yaml

UNMATCHED: Final = "unmatched"
NO_EXPECTATION: Final = "no expectation: run 'fbcli test --update' to fill it in from the output"
FILE_KEYS: Final = ("version", "mappings", "cases")
CASE_KEYS: Final = ("name", "event", "expect")
CALL_KEYS: Final = (
    "subscription",
    "action",
    "status",
    "body",
    "body_exact",
    "push",
    "errors",
    "warnings",
)
VIOLATION_KEYS: Final = ("field", "source", "message")
VALUE_CHARS: Final = 60
"""Longest value quoted in a difference."""

YamlPath = tuple[str | int, ...]
Outcome = list[PlannedCall | Rejection] | Unmatched
"""What ``plan_event`` makes of one event."""

_CASE_FILE_RE: Final = re.compile(rb"^(?:cases|'cases'|\"cases\")[ \t]*:", re.MULTILINE)
_NAME_RE: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


# -- the model -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CallExpectation:
    """What one call of an event must be."""

    status: Literal["planned", "invalid"]
    subscription: str | None = None
    action: str | None = None
    body: dict[str, Any] | None = None
    exact: bool = False
    """``body_exact``: the body must equal ``body``, no key more."""
    push: list[Any] | None = None
    errors: list[Any] | None = None
    warnings: list[Any] | None = None


Expectation = tuple[CallExpectation, ...] | Literal["unmatched"] | None
"""The calls an event must make, ``"unmatched"``, or ``None`` when not written yet."""


@dataclass(frozen=True, slots=True)
class Case:
    """One named event and what it must become."""

    name: str
    line: int
    event: dict[str, Any]
    event_line: int
    expect: Expectation
    exact: bool = False
    """Whether the case uses ``body_exact`` (kept by ``--update``)."""

    @property
    def named(self) -> frozenset[str]:
        """The subscriptions its expectation names (``--update`` keeps naming them)."""
        if not isinstance(self.expect, tuple):
            return frozenset()
        return frozenset(c.subscription for c in self.expect if c.subscription is not None)


@dataclass(frozen=True, slots=True)
class CaseFile:
    """A loaded, checked case file."""

    path: str
    cases: tuple[Case, ...]
    mappings: str | None = None
    """The mapping file it names, relative to the case file."""
    mappings_line: int | None = None
    text: str = ""
    """The decoded YAML text (for ``--update``)."""
    document: dict[str, Any] = field(default_factory=dict)
    bom: bool = False


def is_case_file(data: bytes) -> bool:
    """Whether YAML text has a top-level ``cases:`` key (how directories are searched)."""
    return _CASE_FILE_RE.search(data) is not None


def _is_mapping(value: Any) -> TypeGuard[dict[str, Any]]:
    return isinstance(value, dict)


class _Checker(LocatedChecker[CaseFileError]):
    """Checks a parsed case file, raising ``CaseFileError`` at the first mistake."""

    error = CaseFileError

    def document(self, document: Any) -> tuple[str | None, list[Any]]:
        if not _is_mapping(document):
            raise self.fail(
                f"a case file must be a mapping, not {kind_of(document)}",
                (),
                hint="start the file with 'cases:' and a list of cases",
            )
        self.keys(document, FILE_KEYS, (), "a case file")
        if "version" in document and document["version"] != 1:
            raise self.fail(
                f"unsupported case file version {json.dumps(document['version'])}",
                ("version",),
                hint="this fbcli reads 'version: 1'",
            )
        mappings = document.get("mappings")
        if mappings is not None:
            self.typed(mappings, _is_text, ("mappings",), "mappings", "a path")
        if "cases" not in document:
            raise self.fail("a case file has no 'cases'", (), hint="add 'cases:' and a list")
        cases = document["cases"]
        self.typed(cases, _is_list, ("cases",), "cases", "a list")
        if not cases:
            raise self.fail("'cases' is empty", ("cases",), hint="a case file needs a case")
        return mappings, cases

    def case(self, raw: Any, index: int) -> Case:
        at: YamlPath = ("cases", index)
        if not _is_mapping(raw):
            raise self.fail(f"a case must be a mapping, not {kind_of(raw)}", at)
        self.keys(raw, CASE_KEYS, at, "a case")
        for required in ("name", "event"):
            if required not in raw:
                raise self.fail(
                    f"a case has no '{required}'", at, hint="a case has a name, an event, an expect"
                )
        self.typed(raw["name"], _is_text, (*at, "name"), "name", "a non-empty string")
        self.typed(raw["event"], _is_mapping, (*at, "event"), "event", "a mapping (one event)")
        expect, exact = self.expect(raw.get("expect"), (*at, "expect"))
        return Case(
            name=raw["name"],
            line=self.line(at),
            event=raw["event"],
            event_line=self.line((*at, "event")),
            expect=expect,
            exact=exact,
        )

    def expect(self, raw: Any, at: YamlPath) -> tuple[Expectation, bool]:
        if raw is None:
            return None, False
        if isinstance(raw, str):
            if raw != UNMATCHED:
                raise self.fail(
                    f"'expect' must be 'unmatched' or a list of calls, not '{raw}'",
                    at,
                    hint="a call is written e.g. [{status: planned, body: {orderId: o1}}]",
                )
            return UNMATCHED, False
        items: list[tuple[Any, YamlPath]]
        if _is_mapping(raw):
            items = [(raw, at)]
        elif isinstance(raw, list):
            items = [(item, (*at, i)) for i, item in enumerate(raw)]
        else:
            raise self.fail(
                f"'expect' must be 'unmatched' or a list of calls, not {kind_of(raw)}", at
            )
        if not items:
            raise self.fail(
                "'expect' is empty",
                at,
                hint="write 'expect: unmatched' for an event that must match no subscription",
            )
        calls = tuple(self.call(item, where) for item, where in items)
        return calls, any(c.exact for c in calls)

    def call(self, raw: Any, at: YamlPath) -> CallExpectation:
        if not _is_mapping(raw):
            raise self.fail(f"an expected call must be a mapping, not {kind_of(raw)}", at)
        self.keys(raw, CALL_KEYS, at, "an expected call")
        status = raw.get("status", "invalid" if "errors" in raw else "planned")
        if status not in ("planned", "invalid"):
            hint = "write 'expect: unmatched' instead" if status == UNMATCHED else None
            raise self.fail(
                f"'status' of a call must be planned or invalid, not {json.dumps(status)}",
                (*at, "status"),
                hint=hint,
            )
        for name in ("subscription", "action"):
            if name in raw:
                self.typed(raw[name], _is_text, (*at, name), name, "a non-empty string")
        if "action" in raw and raw["action"] not in ACTIONS:
            raise self.fail(
                f"unknown action '{raw['action']}'{did_you_mean(raw['action'], list(ACTIONS))}",
                (*at, "action"),
                hint=f"the actions are: {', '.join(ACTIONS)}",
            )
        if "body" in raw and "body_exact" in raw:
            raise self.fail("give 'body' or 'body_exact', not both", (*at, "body_exact"), key=True)
        only = {"planned": ("body", "body_exact", "push"), "invalid": ("errors",)}
        for other, names in only.items():
            for name in names:
                if name in raw and status != other:
                    raise self.fail(
                        f"'{name}' goes with status {other}, not {status}", (*at, name), key=True
                    )
        body_key = "body_exact" if "body_exact" in raw else "body"
        body = raw.get(body_key)
        if body is not None:
            self.typed(body, _is_mapping, (*at, body_key), body_key, "a mapping")
        push = raw.get("push")
        if push is not None:
            self.typed(push, _is_list, (*at, "push"), "push", "a list")
        return CallExpectation(
            status=status,
            subscription=raw.get("subscription"),
            action=raw.get("action"),
            body=body,
            exact=body_key == "body_exact",
            push=push,
            errors=self.violations(raw, "errors", at),
            warnings=self.violations(raw, "warnings", at),
        )

    def violations(self, raw: dict[str, Any], name: str, at: YamlPath) -> list[Any] | None:
        items = raw.get(name)
        if items is None:
            return None
        self.typed(items, _is_list, (*at, name), name, "a list")
        for i, item in enumerate(items):
            where: YamlPath = (*at, name, i)
            if not _is_mapping(item):
                raise self.fail(
                    f"an entry of '{name}' must be a mapping such as {{field: currency}}, "
                    f"not {kind_of(item)}",
                    where,
                )
            self.keys(item, VIOLATION_KEYS, where, f"an entry of '{name}'")
        result: list[Any] = items
        return result


def _is_text(value: Any) -> bool:
    return isinstance(value, str) and bool(value.strip())


def _is_list(value: Any) -> bool:
    return isinstance(value, list)


def load_case_file(data: bytes | str, *, path: str) -> CaseFile:
    """Load and check a case file's content (``path`` is used in messages and as the source).

    Raises ``CaseFileError`` for any mistake, with the file, line and column.
    """
    document, positions = parse_yaml(data, path, "the case file")
    checker = _Checker(path, positions)
    mappings, raw_cases = checker.document(document)
    cases: list[Case] = []
    seen: dict[str, int] = {}
    for index, raw in enumerate(raw_cases):
        case = checker.case(raw, index)
        if case.name in seen:
            raise checker.fail(
                f"duplicate case name '{case.name}'; it is first used on line {seen[case.name]}",
                ("cases", index, "name"),
            )
        seen[case.name] = case.line
        cases.append(case)
    bom = data.startswith(codecs.BOM_UTF8) if isinstance(data, bytes) else data.startswith("\ufeff")
    return CaseFile(
        path=path,
        cases=tuple(cases),
        mappings=mappings,
        mappings_line=checker.line(("mappings",)) if mappings is not None else None,
        text=positions.source,
        document=document,
        bom=bom,
    )


# -- running and comparing -------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CaseResult:
    """One case run: the outcome and how it differs from the expectation."""

    case: Case
    outcome: Outcome
    differences: tuple[str, ...]

    @property
    def passed(self) -> bool:
        """Whether the outcome is what the case expects."""
        return not self.differences


@dataclass(frozen=True, slots=True)
class FileResult:
    """A case file's results, with the mapping file they ran against."""

    case_file: CaseFile
    mappings: str
    mode: str
    results: tuple[CaseResult, ...]

    @property
    def path(self) -> str:
        """The case file's path, as given."""
        return self.case_file.path

    @property
    def failed(self) -> int:
        """How many cases failed."""
        return sum(1 for r in self.results if not r.passed)


@dataclass(frozen=True, slots=True)
class SuiteResult:
    """Every case file's results."""

    files: tuple[FileResult, ...]

    @property
    def total(self) -> int:
        """How many cases ran."""
        return sum(len(f.results) for f in self.files)

    @property
    def failed(self) -> int:
        """How many cases failed."""
        return sum(f.failed for f in self.files)

    @property
    def passed(self) -> int:
        """How many cases passed."""
        return self.total - self.failed


def run_case_file(
    case_file: CaseFile, config: MappingConfig, *, base_url: str = DEFAULT_BASE_URL
) -> FileResult:
    """Plan each case's event against the mapping and compare with its expectation."""
    results = []
    for case in case_file.cases:
        event = Event(case_file.path, case.event_line, case.event)
        outcome = plan_event(event, config, base_url=base_url)
        results.append(CaseResult(case, outcome, tuple(compare_outcome(case.expect, outcome))))
    return FileResult(case_file, config.path, config.mode, tuple(results))


def _child(path: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    if _NAME_RE.fullmatch(key):
        return f"{path}.{key}"
    return f"{path}[{json.dumps(key, ensure_ascii=False)}]"


def match_value(expected: Any, actual: Any, path: str, *, exact: bool = False) -> list[str]:
    """The differences between an expected value and the actual one, field by field.

    Subset match unless ``exact``: expected keys only, and an expected ``null``
    matches an absent key.  Lists match element-wise and must be as long.
    """
    out: list[str] = []
    _match(expected, actual, path, exact, out)
    return out


def _match(expected: Any, actual: Any, path: str, exact: bool, out: list[str]) -> None:
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            out.append(f"{path}: expected a mapping, got {show_json(actual, VALUE_CHARS)}")
            return
        for key, value in expected.items():
            where = _child(path, key)
            if key not in actual:
                if value is not None:
                    out.append(f"missing {where}")
            elif value is None and actual[key] is not None:
                out.append(f"{where}: expected no value, got {show_json(actual[key], VALUE_CHARS)}")
            else:
                _match(value, actual[key], where, exact, out)
        if exact:
            out.extend(
                f"unexpected {_child(path, key)}: {show_json(value, VALUE_CHARS)}"
                for key, value in actual.items()
                if key not in expected
            )
    elif isinstance(expected, list):
        if not isinstance(actual, list):
            out.append(f"{path}: expected a list, got {show_json(actual, VALUE_CHARS)}")
        elif len(expected) != len(actual):
            out.append(f"{path}: expected {_items(len(expected))}, got {len(actual)}")
        else:
            for i, (e, a) in enumerate(zip(expected, actual, strict=True)):
                _match(e, a, _child(path, i), exact, out)
    elif not same_value(expected, actual):
        wanted, got = show_json(expected, VALUE_CHARS), show_json(actual, VALUE_CHARS)
        out.append(f"{path}: expected {wanted}, got {got}")


def _items(count: int, word: str = "item") -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def _describe(violations: Sequence[Violation]) -> str:
    return "; ".join(v.describe() for v in violations)


def _match_violations(expected: list[Any], actual: Sequence[Violation], name: str) -> list[str]:
    if len(expected) != len(actual):
        word = name.removesuffix("s")
        got = f": {_describe(actual)}" if actual else ""
        return [f"{name}: expected {_items(len(expected), word)}, got {len(actual)}{got}"]
    return match_value(expected, [v.to_dict() for v in actual], name)


def _compare_call(expected: CallExpectation, call: PlannedCall | Rejection) -> list[str]:
    out: list[str] = []
    if expected.action is not None and expected.action != call.action:
        out.append(f"action: expected {expected.action}, got {call.action}")
    if isinstance(call, Rejection):
        if expected.status != "invalid":
            out.append(
                f"status: expected {expected.status}, got invalid ({_describe(call.errors)})"
            )
            return out
        if expected.errors is not None:
            out.extend(_match_violations(expected.errors, call.errors, "errors"))
    else:
        if expected.status != "planned":
            out.append(f"status: expected {expected.status}, got planned")
            return out
        if expected.body is not None:
            out.extend(match_value(expected.body, call.body, "body", exact=expected.exact))
        if expected.push is not None:
            if call.push is None:
                out.append("push: expected a push, got a MAPI request (the mapping is cloud mode)")
            else:
                out.extend(match_value(expected.push, list(call.push), "push"))
    if expected.warnings is not None:
        out.extend(_match_violations(expected.warnings, call.warnings, "warnings"))
    return out


def _call_names(calls: Sequence[PlannedCall | Rejection]) -> str:
    return ", ".join(f"{c.subscription} ({c.status})" for c in calls)


def _pair(
    expected: Sequence[CallExpectation], calls: Sequence[PlannedCall | Rejection]
) -> tuple[
    list[tuple[CallExpectation, PlannedCall | Rejection]],
    list[CallExpectation],
    list[PlannedCall | Rejection],
]:
    """Expectations naming a subscription take its call; the rest take the others in order."""
    free = list(calls)
    pairs: dict[int, PlannedCall | Rejection] = {}
    missing: list[CallExpectation] = []
    for i, exp in enumerate(expected):
        if exp.subscription is None:
            continue
        call = next((c for c in free if c.subscription == exp.subscription), None)
        if call is None:
            missing.append(exp)
        else:
            pairs[i] = call
            free.remove(call)
    for i, exp in enumerate(expected):
        if exp.subscription is None:
            if free:
                pairs[i] = free.pop(0)
            else:
                missing.append(exp)
    return [(expected[i], pairs[i]) for i in sorted(pairs)], missing, free


def compare_outcome(expect: Expectation, outcome: Outcome) -> list[str]:
    """How an event's outcome differs from its expectation (empty: it passes)."""
    if expect is None:
        return [NO_EXPECTATION]
    if expect == UNMATCHED:
        if isinstance(outcome, Unmatched):
            return []
        if len(outcome) == 1:
            got = f"{outcome[0].status} (subscription {outcome[0].subscription})"
        else:
            got = f"{len(outcome)} calls ({_call_names(outcome)})"
        return [f"status: expected unmatched, got {got}"]
    if isinstance(outcome, Unmatched):
        wanted = expect[0].status if len(expect) == 1 else f"{len(expect)} calls"
        return [f"status: expected {wanted}, got unmatched (no subscription's trigger matches)"]
    pairs, missing, extra = _pair(expect, outcome)
    several = len(expect) > 1 or len(outcome) > 1
    out: list[str] = []
    for exp, call in pairs:
        prefix = f"{call.subscription}: " if several else ""
        out.extend(prefix + difference for difference in _compare_call(exp, call))
    unnamed = [e for e in missing if e.subscription is None]
    if unnamed:
        out.append(f"expected {_items(len(expect), 'call')}, got {len(outcome)}")
    out.extend(
        f"no call from subscription '{e.subscription}' (the event made: {_call_names(outcome)})"
        for e in missing
        if e.subscription is not None
    )
    out.extend(
        f"unexpected call from subscription '{c.subscription}' ({c.status}, {c.action})"
        for c in extra
    )
    return out


def expectation_from(
    outcome: Outcome, *, exact: bool = False, named: frozenset[str] = frozenset()
) -> Any:
    """The ``expect`` value (plain YAML data) that the outcome passes.

    Unmatched → ``"unmatched"``; a planned call → its status and full body; an
    invalid one → its status and the fields of its errors.  Calls name their
    subscription when the event makes several, or when it is in ``named``.
    """
    if isinstance(outcome, Unmatched):
        return UNMATCHED
    several = len(outcome) > 1
    items: list[dict[str, Any]] = []
    for call in outcome:
        item: dict[str, Any] = {}
        if several or call.subscription in named:
            item["subscription"] = call.subscription
        item["status"] = call.status
        if isinstance(call, PlannedCall):
            item["body_exact" if exact else "body"] = copy.deepcopy(call.body)
        else:
            item["errors"] = [
                {"field": v.field} if v.field is not None else {"message": v.message}
                for v in call.errors
            ]
        items.append(item)
    return items


# -- --update --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CaseUpdate:
    """A case whose expectation ``--update`` rewrites."""

    case: Case
    differences: tuple[str, ...]
    """How the old expectation differed (``NO_EXPECTATION`` when there was none)."""
    expect: Any


@dataclass(frozen=True, slots=True)
class FileUpdate:
    """A case file's new content, or ``None`` when no case needs an update."""

    path: str
    updates: tuple[CaseUpdate, ...]
    data: bytes | None
    rewritten: bool = False
    """The file was dumped anew (comments and layout lost) instead of edited in place."""


def plan_update(result: FileResult) -> FileUpdate:
    """New expectations, from the current output, for the cases that fail or have none.

    Passing cases keep theirs (a subset stays a subset).  The file is edited in
    place: each rewritten ``expect`` value is replaced and a missing one is
    added after the case's last key, so comments, order and layout elsewhere
    are kept.  When that cannot be done (an ``expect`` that is an alias or
    anchored), the whole file is written anew and ``rewritten`` is set.
    """
    case_file = result.case_file
    updates: list[tuple[int, CaseUpdate]] = [
        (
            i,
            CaseUpdate(
                r.case,
                r.differences,
                expectation_from(r.outcome, exact=r.case.exact, named=r.case.named),
            ),
        )
        for i, r in enumerate(result.results)
        if not r.passed
    ]
    if not updates:
        return FileUpdate(case_file.path, (), None)
    expects = {i: u.expect for i, u in updates}
    target = copy.deepcopy(case_file.document)
    for i, expect in expects.items():
        target["cases"][i]["expect"] = expect
    text, rewritten = _rewrite(case_file.text, expects, target, case_file.path)
    data = (codecs.BOM_UTF8 if case_file.bom else b"") + text.encode("utf-8")
    return FileUpdate(case_file.path, tuple(u for _, u in updates), data, rewritten)


class _SpliceError(Exception):
    """The file cannot be edited in place."""


def _same_document(text: str, target: dict[str, Any], path: str) -> bool:
    try:
        value, _ = parse_yaml(text, path, "the case file")
    except MappingFileError:
        return False
    return json.dumps(value) == json.dumps(target)


def _rewrite(
    text: str, expects: dict[int, Any], target: dict[str, Any], path: str
) -> tuple[str, bool]:
    """Edit the ``expect`` values in place; fall back to dumping the whole document."""
    try:
        edited = _splice(text, expects)
    except _SpliceError:
        pass
    else:
        if _same_document(edited, target, path):
            return edited, False
    newline = "\r\n" if "\r\n" in text else "\n"
    dumped = dump_yaml(target, flow=False).replace("\n", newline) + newline
    assert _same_document(dumped, target, path), "the YAML dump does not read back the same"
    return dumped, True


def _content_end(node: yaml.Node, text: str) -> int:
    """Where a node's content ends: its last scalar or flow collection, not what follows."""
    while isinstance(node, yaml.CollectionNode) and not node.flow_style and node.value:
        last = node.value[-1]
        node = last[1] if isinstance(last, tuple) else last
    end: int = node.end_mark.index
    while end > node.start_mark.index and text[end - 1] in "\r\n":
        end -= 1
    return end


def _lookup(node: yaml.MappingNode, key: str) -> tuple[yaml.Node, yaml.Node] | None:
    return next(((k, v) for k, v in node.value if getattr(k, "value", None) == key), None)


def _render(value: Any, *, column: int, flow: bool, newline: str, block: bool = False) -> str:
    """The text after ``expect:``: on the same line, or as an indented block.

    In a flow collection it must be one line; elsewhere it is one line when it
    fits and the old value was not a block.
    """
    if isinstance(value, str):
        return " " + value
    inline = dump_yaml(value, flow=True)
    if flow or (not block and column + len("expect: ") + len(inline) <= LINE_WIDTH):
        return " " + inline
    indent = column + 2
    lines = dump_yaml(value, flow=False, width=LINE_WIDTH - indent).split("\n")
    return "".join(newline + " " * indent + line for line in lines)


def _splice(text: str, expects: dict[int, Any]) -> str:
    root = yaml.compose(text, Loader=yaml.SafeLoader)
    assert isinstance(root, yaml.MappingNode)  # the file was read and checked before
    found = _lookup(root, "cases")
    assert found is not None
    cases_node = found[1]
    assert isinstance(cases_node, yaml.SequenceNode)
    in_flow = bool(root.flow_style or cases_node.flow_style)
    newline = "\r\n" if "\r\n" in text else "\n"
    edits: list[tuple[int, int, str]] = []
    for index, expect in expects.items():
        case_node = cases_node.value[index]
        assert isinstance(case_node, yaml.MappingNode)
        flow = in_flow or bool(case_node.flow_style)
        column = case_node.value[0][0].start_mark.column
        pair = _lookup(case_node, "expect")
        if pair is None:
            end = _content_end(case_node.value[-1][1], text)
            lead = ", expect:" if flow else newline + " " * column + "expect:"
            edits.append(
                (end, end, lead + _render(expect, column=column, flow=flow, newline=newline))
            )
            continue
        key_node, value_node = pair
        colon = text.find(":", key_node.end_mark.index)
        if value_node.start_mark.index <= colon:
            raise _SpliceError  # an alias: its node is the anchored one, earlier in the file
        end = _content_end(value_node, text)
        block = isinstance(value_node, yaml.CollectionNode) and not value_node.flow_style
        new = _render(expect, column=column, flow=flow, newline=newline, block=block)
        edits.append((colon + 1, end, new))
    for start, end, new in sorted(edits, reverse=True):
        text = text[:start] + new + text[end:]
    return text


# -- finding case files and their mapping files --------------------------------------------

CASES_DIR: Final = pathlib.Path("fbcli-tests")
"""Where ``fbcli test`` looks when it is given no case file."""


def find_case_files(
    given: Sequence[pathlib.Path] | None, *, default: pathlib.Path = CASES_DIR
) -> list[tuple[pathlib.Path, bytes]]:
    """The case files given, and under each directory every ``*.yaml``/``*.yml`` with a
    top-level ``cases:`` (hidden folders left out), each once, with its bytes."""
    if not given:
        if not default.is_dir():
            raise ConfigError(
                f"no case files given, and there is no ./{default}/ directory",
                hint="fbcli test CASES... (case files or directories holding them)",
            )
        given = [default]
    found: dict[pathlib.Path, tuple[pathlib.Path, bytes]] = {}
    for root in given:
        if not root.is_dir():
            found.setdefault(root.resolve(), (root, _read_case_file(root)))
            continue
        members = [
            (path, _read_case_file(path))
            for path in sorted(root.rglob("*"))
            if path.suffix in (".yaml", ".yml")
            and path.is_file()
            and not any(part.startswith(".") for part in path.relative_to(root).parts)
        ]
        cases = [(path, data) for path, data in members if is_case_file(data)]
        if not cases:
            raise ConfigError(
                "no case files here: no *.yaml or *.yml file with a top-level 'cases:' key",
                where=str(root),
            )
        for path, data in cases:
            found.setdefault(path.resolve(), (path, data))
    return list(found.values())


def _read_case_file(path: pathlib.Path) -> bytes:
    return read_bounded(path, "case file", limit=MAX_FILE_BYTES)


class CaseConfigs:
    """The mapping file of each case file: its own ``mappings:`` (relative to it), else
    ``-m``, else the default; each file loaded once."""

    def __init__(self, mappings: pathlib.Path | None, *, merchant_id: str | None) -> None:
        self._given = mappings
        self._merchant_id = merchant_id
        self._loaded: dict[str | None, MappingConfig] = {}

    def of(self, path: pathlib.Path, case_file: CaseFile) -> MappingConfig:
        """The mapping file of ``case_file`` (read from ``path``)."""
        if case_file.mappings is None:
            if None not in self._loaded:
                self._loaded[None] = load_mapping_file(self._given, merchant_id=self._merchant_id)
            return self._loaded[None]
        target = path.parent / case_file.mappings
        key = os.path.normpath(target)
        if key not in self._loaded:
            try:
                data = read_bounded(target, "mapping file", limit=MAX_FILE_BYTES)
            except ConfigError as exc:
                where = f"{case_file.path}:{case_file.mappings_line}"
                raise ConfigError(exc.message, where=key, hint=f"named in {where}") from None
            self._loaded[key] = load_mappings(data, path=key, merchant_id_env=self._merchant_id)
        return self._loaded[key]
