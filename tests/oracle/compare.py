"""fbcli against the oracle: plan each case both ways and compare what would be sent.

For a case (``corpus.Case``) fbcli builds the subscription (the action's
default mappings with the case's overrides), reads the event from its JSON
text with fbcli's own reader, and plans it; the oracle runs the destination's
code on the same text with the same full mapping (every field the
subscription maps, as mapping-kit sees it).  An outcome is either "sent", with
the call (cloud: the URL and the JSON body; direct: the whole push), or
"rejected" (nothing is sent: fbcli's ``Rejection``, the destination's thrown
error).  Two outcomes agree when both reject, or both send the same call:
values compared as JSON, object keys in any order, numbers as JavaScript
writes them (``1`` and ``1.0`` are the same number; ``true`` is not ``1``).

A disagreement fbcli makes on purpose is *known* (``known_difference``): it
is counted apart, with its reason, and is not a failure.  Both are decisions
of fbcli's mapping directives, documented with them (docs/mapping-file.md, "Field
mapping directives"): ``@path`` never indexes text (mapping-kit reads
``$.properties.0`` of ``"abc"`` as ``"a"``, and ``.length`` as 3), and
``@json`` decoding keeps as text what holds a number past a double
(mapping-kit's ``JSON.parse`` makes it ``Infinity``, which JSON writes as
``null``).
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Literal

from fbcli.actions import ACTIONS
from fbcli.directives import get_path, source_paths
from fbcli.events import Event, read_events
from fbcli.jsvalues import js_json
from fbcli.mappings import FieldMapping, Subscription, build_subscription, compile_field
from fbcli.plan import (
    DEFAULT_BASE_URL,
    PlannedCall,
    Rejection,
    compile_subscription,
    plan_subscription,
    to_record,
)
from tests.oracle.client import JsonObject, Oracle
from tests.oracle.corpus import Case

TRIGGER: Final = 'type != "never"'
"""The trigger of the subscriptions built here: bodies are compared, not triggers."""

Status = Literal["sent", "rejected"]


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one side does with one case: send a call (its canonical JSON) or reject."""

    status: Status
    call: str | None = None
    """The canonical JSON of the request (cloud: url and body) or the push (direct)."""
    detail: str = ""
    """The errors or warnings, for reports."""


@dataclass(frozen=True, slots=True)
class Result:
    """One case, fbcli's outcome and the oracle's."""

    case: Case
    text: str
    """The event as the JSON text both sides read."""
    fbcli: Outcome
    oracle: Outcome
    warnings: tuple[str, ...] = ()
    """Fields fbcli warned about on a sent call."""

    @property
    def agrees(self) -> bool:
        """Both reject, or both send the same call."""
        if self.fbcli.status != self.oracle.status:
            return False
        return self.fbcli.status == "rejected" or self.fbcli.call == self.oracle.call

    def describe(self) -> str:
        """A few lines for a failure report: the case, then each side's outcome."""
        overrides = f" overrides {json.dumps(self.case.overrides)}" if self.case.overrides else ""
        lines = [
            f"{self.case.mode} {self.case.action}{overrides}",
            f"  event:  {self.text}",
            f"  fbcli:  {_outcome_text(self.fbcli)}",
            f"  oracle: {_outcome_text(self.oracle)}",
        ]
        return "\n".join(lines)


def _outcome_text(outcome: Outcome) -> str:
    return f"{outcome.status} {outcome.call or ''} {outcome.detail}".rstrip()


def canonical(value: Any) -> str:
    """JSON text with object keys sorted, numbers written as JavaScript writes them."""
    return js_json(_sorted(value))


def _sorted(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _sorted(value[k]) for k in sorted(value)}
    if isinstance(value, list | tuple):
        return [_sorted(v) for v in value]
    return value


def subscription_for(case: Case) -> Subscription:
    """The subscription of a case: the action's defaults, the case's overrides."""
    overrides: dict[str, FieldMapping | None] = {
        name: None
        if mapping is None
        else compile_field(mapping, field=name, origin="file", line=None)
        for name, mapping in case.overrides.items()
    }
    return build_subscription(
        name="oracle",
        action=ACTIONS[case.action],
        trigger=TRIGGER,
        mode=case.mode,
        overrides=overrides,
    )


def full_mapping(subscription: Subscription) -> JsonObject:
    """The mapping as the destination is given it: every mapped field, in field order."""
    return {fm.field: fm.mapping for fm in subscription.fields}


def event_text(case: Case) -> str:
    """The case's event as one line of JSON (integers exact, non-ASCII as it is)."""
    return json.dumps(case.event, ensure_ascii=False, allow_nan=False)


def read_event(text: str) -> Event | None:
    """The event as fbcli reads the line, or ``None`` when fbcli's reader refuses it."""
    [item] = read_events(io.BytesIO(text.encode("utf-8", "surrogatepass") + b"\n"), "oracle")
    return item if isinstance(item, Event) else None


def fbcli_outcome(record: PlannedCall | Rejection) -> Outcome:
    """fbcli's outcome: a planned call's request or push, or the rejection's errors."""
    if isinstance(record, Rejection):
        return Outcome("rejected", detail="; ".join(v.describe() for v in record.errors))
    warnings = "; ".join(f"warning {v.field}: {v.message}" for v in record.warnings)
    if record.push is not None:
        return Outcome("sent", canonical(list(record.push)), warnings)
    return Outcome("sent", canonical({"url": record.url, "body": record.body}), warnings)


def oracle_outcome(mode: str, answer: Mapping[str, Any]) -> Outcome:
    """The destination's outcome from the harness's answer."""
    error = answer.get("error")
    detail = f"{error['name']}: {error['message']}" if isinstance(error, dict) else ""
    if mode == "direct":
        pushes = answer.get("pushes") or []
        if not pushes:
            return Outcome("rejected", detail=detail or "nothing pushed")
        [push] = pushes
        return Outcome("sent", canonical(push), detail)
    calls = [r for r in answer.get("requests", []) if not r["url"].endswith("/v1/authorization")]
    if not calls:
        return Outcome("rejected", detail=detail or "no request")
    [call] = calls
    return Outcome(
        "sent", canonical({"url": call["url"], "body": json.loads(call["body"])}), detail
    )


def _reads_through_text(data: Any, path: str) -> bool:
    """Whether the ``@path`` ``path`` reads a character (or the length) of a text on its way."""
    parts = path.removeprefix("$.").replace("[", ".").replace("]", "").split(".")
    for depth in range(1, len(parts)):
        value = get_path(data, ".".join(parts[:depth]))
        key = parts[depth]
        if isinstance(value, str) and (
            key == "length" or (key.isdigit() and int(key) < len(value.encode("utf-16-le")) // 2)
        ):
            return True
    return False


def _decodes_past_a_double(data: Any, mapping: Any) -> bool:
    """Whether ``mapping`` holds a ``@json`` decode of text with a number past a double."""
    stack = [mapping]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            options = node.get("@json")
            if isinstance(options, dict) and options.get("mode") == "decode":
                for path in source_paths(options.get("value")):
                    text = get_path(data, path)
                    if isinstance(text, str) and _overflows(text):
                        return True
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return False


def _overflows(text: str) -> bool:
    try:
        value = json.loads(text)
    except ValueError:
        return False
    return "inf" in repr(value)


def known_difference(result: Result) -> str | None:
    """Why fbcli disagrees with the destination on purpose here, or ``None``."""
    subscription = subscription_for(result.case)
    for fm in subscription.fields:
        if any(_reads_through_text(result.case.event, p) for p in source_paths(fm.mapping)):
            return "@path through text: mapping-kit indexes it, fbcli does not (documented)"
        if _decodes_past_a_double(result.case.event, fm.mapping):
            return "@json decode of a number past a double: fbcli keeps the text (documented)"
    return None


@dataclass
class Tally:
    """Agreement counts of a run, per mode, and the disagreeing results."""

    compared: dict[str, int] = field(default_factory=dict)
    agreed: dict[str, int] = field(default_factory=dict)
    skipped: int = 0
    """Cases whose event fbcli's reader refuses (outside planning)."""
    differences: list[Result] = field(default_factory=list)
    """Disagreements fbcli does not make on purpose: failures."""
    known: list[tuple[Result, str]] = field(default_factory=list)
    """Disagreements fbcli makes on purpose, with the reason."""

    def add(self, result: Result) -> None:
        mode = result.case.mode
        self.compared[mode] = self.compared.get(mode, 0) + 1
        if result.agrees:
            self.agreed[mode] = self.agreed.get(mode, 0) + 1
            return
        reason = known_difference(result)
        if reason is None:
            self.differences.append(result)
        else:
            self.known.append((result, reason))

    def rate(self, mode: str) -> float:
        """The share of the mode's cases that agree (1.0 when there are none)."""
        compared = self.compared.get(mode, 0)
        return self.agreed.get(mode, 0) / compared if compared else 1.0


def run_cases(oracle: Oracle, cases: Sequence[Case], *, tally: Tally | None = None) -> Tally:
    """Plan every case with fbcli (both planning paths) and the oracle; count agreement.

    Raises ``AssertionError`` when fbcli's compiled planner and its reference
    planner disagree: that is a bug of its own, whatever the oracle says.
    """
    tally = tally or Tally()
    prepared: list[tuple[Case, str, Outcome, tuple[str, ...]]] = []
    requests: list[JsonObject] = []
    for case in cases:
        text = event_text(case)
        item = read_event(text)
        if item is None:
            tally.skipped += 1
            continue
        subscription = subscription_for(case)
        planner = compile_subscription(subscription, mode=case.mode, base_url=DEFAULT_BASE_URL)
        record = planner(item)
        reference = plan_subscription(item, subscription, mode=case.mode, base_url=DEFAULT_BASE_URL)
        assert to_record(record) == to_record(reference), (to_record(record), to_record(reference))
        warned = (
            tuple(v.field or "" for v in record.warnings) if isinstance(record, PlannedCall) else ()
        )
        prepared.append((case, text, fbcli_outcome(record), warned))
        requests.append(
            {
                "op": case.mode,
                "action": case.action,
                "mapping": full_mapping(subscription),
                "event": json.loads(text),
            }
        )
    for (case, text, mine, warned), answer in zip(prepared, oracle.ask(requests), strict=True):
        tally.add(Result(case, text, mine, oracle_outcome(case.mode, answer), warned))
    return tally


def run_all(oracle: Oracle, batches: Iterable[Sequence[Case]]) -> Tally:
    """``run_cases`` over several batches (a long run is made of many), one tally."""
    tally = Tally()
    for batch in batches:
        run_cases(oracle, batch, tally=tally)
    return tally
