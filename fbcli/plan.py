"""Event + mapping → ``PlannedCall | Rejection``: the one planning path.

``validate``, ``dry-run``, ``explain`` and ``replay`` all consume what this
module produces, so what is shown is what is sent.  Everything here is pure:
no I/O, no clock, no printing.

For one event and one matching subscription (actions.md "Pipeline"):

1. resolve each action field's mapping against the event (``map_fields``);
2. drop ``null``/``""`` values and coerce types (``validation.prepare_payload``);
3. validate against the action's schema (errors reject; warnings do not);
4. build the cloud request or the direct-mode push (``build_call``).

``plan_subscription`` is that pipeline as written, the reference.  Streams
(``plan_records``, ``plan_event``) run each subscription through a planner
compiled once per mapping file (``compile_subscription``): the same steps in
one pass, with everything that does not depend on the event worked out ahead.
It plans the events that become a call with no error and no warning (nearly
all of them) and hands every other event to ``plan_subscription``, so
rejections and warnings are worded in one place.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final, Generic, Literal, NamedTuple, TypeVar

from fbcli.actions.base import (
    PRODUCT_ITEM_FIELDS,
    Action,
    FieldType,
    JsonObject,
    Mode,
    build_body,
    normalize_number,
)
from fbcli.directives import path_keys
from fbcli.events import Event, LineError
from fbcli.validation import (
    STRING_CHECK,
    Check,
    Coercer,
    Violation,
    coercer_for,
    compile_check,
    field_checks,
    load_schema,
    prepare_payload,
    required_fields,
    validate_payload,
)
from fbcli.values import MISSING

if TYPE_CHECKING:
    from fbcli.directives import Resolver
    from fbcli.mappings import FieldMapping, MappingConfig, Subscription

DEFAULT_BASE_URL: Final = "https://mapi.fbot.me"
MAX_ADDITIONAL_PROPERTIES: Final = 10
MAX_ADDITIONAL_VALUE_CHARS: Final = 128

Status = Literal["planned", "invalid", "unmatched", "malformed"]
STATUSES: Final[tuple[Status, ...]] = ("planned", "invalid", "unmatched", "malformed")


@dataclass(frozen=True, slots=True)
class PlannedCall:
    """A call fbcli would make: a MAPI request (cloud) or a push (direct)."""

    event: Event
    subscription: str
    action: str
    mode: Mode
    body: JsonObject
    method: str | None = None
    url: str | None = None
    push: tuple[Any, ...] | None = None
    warnings: tuple[Violation, ...] = ()
    status: Literal["planned"] = "planned"


@dataclass(frozen=True, slots=True)
class Rejection:
    """An event a matching subscription cannot send: the reasons, per field."""

    event: Event
    subscription: str
    action: str
    errors: tuple[Violation, ...]
    warnings: tuple[Violation, ...] = ()
    status: Literal["invalid"] = "invalid"


@dataclass(frozen=True, slots=True)
class Unmatched:
    """An event no enabled subscription's trigger matches."""

    event: Event
    status: Literal["unmatched"] = "unmatched"


PlanRecord = PlannedCall | Rejection | Unmatched | LineError
"""One line of ``dry-run`` output; a ``LineError`` is a ``malformed`` line."""


def status_of(record: PlanRecord) -> Status:
    """The record's status: planned, invalid, unmatched or malformed."""
    return "malformed" if isinstance(record, LineError) else record.status


# -- steps 1-3 -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MappedPayload:
    """An event mapped onto one action's fields, before the body is built."""

    resolved: dict[str, Any]
    """Each field's raw value (fields resolving to nothing are absent)."""
    payload: dict[str, Any]
    """After dropping empty values and coercing."""
    errors: tuple[Violation, ...]
    warnings: tuple[Violation, ...]


def map_fields(subscription: Subscription, data: Mapping[str, Any], mode: Mode) -> MappedPayload:
    """Resolve, clean, coerce and validate one subscription's fields for one event."""
    resolved: dict[str, Any] = {}
    sources: dict[str, str | None] = {}
    warnings: list[Violation] = []
    for fm in subscription.fields:
        sources[fm.field] = fm.source
        value = fm.resolve(data)
        if value is MISSING:
            continue
        resolved[fm.field] = value
        if isinstance(value, str) and "[object Object]" in value and _has_template(fm.mapping):
            warnings.append(
                Violation(
                    fm.field,
                    "a template rendered an object as '[object Object]' (as mapping-kit does)",
                    fm.source,
                )
            )
    action = subscription.action
    payload = prepare_payload(action.fields_in(mode), resolved)
    errors, more_warnings = validate_payload(action, payload, mode=mode, sources=sources)
    return MappedPayload(resolved, payload, tuple(errors), (*warnings, *more_warnings))


def _has_template(mapping: Any) -> bool:
    if isinstance(mapping, dict):
        return "@template" in mapping or any(_has_template(v) for v in mapping.values())
    if isinstance(mapping, list):
        return any(_has_template(v) for v in mapping)
    return False


# -- step 4 ----------------------------------------------------------------------------


def lift_properties(action: Action, payload: Mapping[str, Any]) -> dict[str, Any]:
    """Custom events: lift every member of ``eventProperties`` to the top (fields win)."""
    if action.lift is None:
        return dict(payload)
    lifted = payload.get(action.lift)
    rest = {k: v for k, v in payload.items() if k != action.lift}
    return {**lifted, **rest} if isinstance(lifted, dict) else rest


def normalize_json(value: Any) -> Any:
    """Integral floats become ints, as JavaScript writes them (``10.0`` → ``10``)."""
    if isinstance(value, float):
        return normalize_number(value)
    if isinstance(value, dict):
        return {k: normalize_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [normalize_json(v) for v in value]
    return value


def additional_properties_warnings(body: Mapping[str, Any]) -> list[Violation]:
    """MAPI silently drops ``additionalProperties`` beyond 10 entries or 128 characters."""
    extra = body.get("additionalProperties")
    if not isinstance(extra, dict):
        return []
    warnings = []
    if len(extra) > MAX_ADDITIONAL_PROPERTIES:
        warnings.append(
            Violation(
                "additionalProperties",
                f"{len(extra)} additionalProperties; MAPI keeps at most "
                f"{MAX_ADDITIONAL_PROPERTIES} and silently drops the rest",
            )
        )
    for key, value in extra.items():
        if isinstance(value, str) and len(value) > MAX_ADDITIONAL_VALUE_CHARS:
            warnings.append(
                Violation(
                    f"additionalProperties/{key}",
                    f"value is {len(value)} characters; MAPI silently drops values over "
                    f"{MAX_ADDITIONAL_VALUE_CHARS}",
                )
            )
    return warnings


def build_call(
    event: Event,
    subscription: Subscription,
    mapped: MappedPayload,
    *,
    mode: Mode,
    base_url: str,
) -> PlannedCall | Rejection:
    """Turn a valid mapped payload into the request (cloud) or push (direct)."""
    action = subscription.action
    warnings = list(mapped.warnings)

    def reject(*errors: Violation) -> Rejection:
        return Rejection(event, subscription.name, action.name, errors, tuple(warnings))

    if mapped.errors:
        return reject(*mapped.errors)
    payload = lift_properties(action, mapped.payload)
    body = build_body(action.body_maps[mode], payload)
    if body is None:
        return reject(Violation(None, "no supported fields: nothing would be sent"))
    body = normalize_json(body)
    if mode == "cloud":
        assert action.cloud_path is not None
        warnings.extend(additional_properties_warnings(body))
        return PlannedCall(
            event,
            subscription.name,
            action.name,
            mode,
            body,
            method="POST",
            url=base_url.rstrip("/") + action.cloud_path,
            warnings=tuple(warnings),
        )
    push_type = action.direct_type or mapped.payload.get("eventType")
    if not isinstance(push_type, str):
        return reject(
            Violation(
                "eventType",
                "required field 'eventType' is missing: a custom event needs a type to be pushed",
                next((f.source for f in subscription.fields if f.field == "eventType"), None),
            )
        )
    push: tuple[Any, ...] = ("track", push_type, body)
    if action.direct_trailing_true:
        push = (*push, True)
    return PlannedCall(
        event, subscription.name, action.name, mode, body, push=push, warnings=tuple(warnings)
    )


def plan_subscription(
    event: Event, subscription: Subscription, *, mode: Mode, base_url: str
) -> PlannedCall | Rejection:
    """Steps 1-4 for one event and one (matching) subscription."""
    mapped = map_fields(subscription, event.data, mode)
    return build_call(event, subscription, mapped, mode=mode, base_url=base_url)


# -- the fast path ---------------------------------------------------------------------

Planner = Callable[[Event], PlannedCall | Rejection]
"""One subscription compiled for one mode and base URL: event in, call out."""

_Finish = Callable[[Any], Any]
"""Coerce and check one resolved value (not ``MISSING``, ``null`` or ``""``), or ``_FAIL``."""


class _Fail:
    """The type of ``_FAIL``: this field needs the slow path (an error or a warning)."""


_FAIL: Final = _Fail()


def _finisher(coerce: Coercer, check: Check, *, may_warn: bool) -> _Finish:
    """``prepare_payload``'s coercion, then the field's fast check; ``_FAIL`` if it fails.

    ``may_warn``: the field's mapping has a template, so a text holding
    ``[object Object]`` (a warning of ``map_fields``) fails too.
    """
    if may_warn:

        def finish_text(value: Any) -> Any:
            if isinstance(value, str) and "[object Object]" in value:
                return _FAIL
            value = coerce(value)
            return value if check(value) else _FAIL

        return finish_text

    def finish(value: Any) -> Any:
        value = coerce(value)
        return value if check(value) else _FAIL

    return finish


_Field = tuple[str, int, str, str, str, "Resolver", bool, _Finish]
"""A compiled field: its name; how many keys of a plain ``@path`` are looked up inline (0:
call the resolver), and those keys; the resolver; whether any ``str`` is kept as it is
(a string field: coercion and check keep every ``str``); the finisher."""


def _products_finisher(action_name: str) -> _Finish | None:
    """``_finisher`` for a ``products`` field in one pass: clean, coerce and check each item.

    It does what ``_to_products`` (``_clean_product`` on each item), then the
    field's compiled check (``check_array`` of ``check_object``) do, fused:
    the same coercions in the same order, each value checked as it is made,
    and the item's required keys; ``None`` when the action's item schema is
    not the closed object of ``PRODUCT_ITEM_FIELDS`` this assumes.
    """
    items = load_schema(action_name).get("properties", {}).get("products", {}).get("items", {})
    properties = items.get("properties", {})
    if items.get("additionalProperties") is not False or set(properties) != set(
        PRODUCT_ITEM_FIELDS
    ):
        return None
    plan = tuple(
        (key, kind == "string", coercer_for(kind), compile_check(properties[key]))
        for key, kind in PRODUCT_ITEM_FIELDS.items()
    )
    required = tuple(items.get("required", ()))

    def finish_products(value: Any) -> Any:
        out = []
        for item in value if isinstance(value, list) else [value]:
            if item is None:
                continue
            if not isinstance(item, dict):
                return _FAIL
            cleaned = {}
            for key, is_string, coerce, check in plan:
                member = item.get(key)
                if member is None or (member == "" and not is_string):
                    continue
                member = coerce(member)
                if not check(member):
                    return _FAIL
                cleaned[key] = member
            for key in required:
                if key not in cleaned:
                    return _FAIL
            out.append(cleaned)
        return out

    return finish_products


def _compile_field(fm: FieldMapping, kind: FieldType, check: Check, action_name: str) -> _Field:
    may_warn = _has_template(fm.mapping)
    keys = path_keys(fm.mapping) or ()
    inline = len(keys) if len(keys) <= 3 else 0
    first, second, third = (*keys[:inline], "", "", "")[:3]
    plain = kind == "string" and check is STRING_CHECK and not may_warn
    fused = _products_finisher(action_name) if kind == "products" and not may_warn else None
    finish = fused or _finisher(coercer_for(kind), check, may_warn=may_warn)
    return (fm.field, inline, first, second, third, fm.resolve, plain, finish)


def compile_subscription(subscription: Subscription, *, mode: Mode, base_url: str) -> Planner:
    """Compile ``plan_subscription`` for one subscription, once, into a fast planner.

    The planner does steps 1-4 in one pass over the fields, with everything
    that does not depend on the event worked out here: the fields in order with
    their resolvers, coercions and compiled schema checks
    (``validation.field_checks``), the required fields, the URL.  It handles
    the common case, a call that is planned with no error and no warning but
    the ``additionalProperties`` ones, and hands every other event to
    ``plan_subscription``, the reference path, so rejections and warnings are
    worded there and only there.  It agrees with ``plan_subscription`` because:

    - it takes the same values in the same order: each field's resolver, the
      same ``null``/``""`` dropping and the coercion ``prepare_payload``
      applies;
    - it only keeps a payload when ``validate_payload`` would find nothing: no
      required field missing (an error in cloud mode, a warning in direct
      mode) and every value passing its field's check, which is true only when
      jsonschema finds no error (``validation.compile_check``); any template
      that renders ``[object Object]`` (a warning) also goes the slow way;
    - the body is built by ``build_call``'s own steps, except that
      ``normalize_json`` is skipped when no ``object`` field holds a float:
      every other value of a valid payload is a string, a boolean, an int or a
      float the coercion already normalized, so it would change nothing.

    A subscription whose fields are not exactly the action's fields in this
    mode, in order and once each (``build_subscription`` always makes them so),
    is planned the slow way for every event.
    """
    action = subscription.action
    fields = action.fields_in(mode)
    by_name = {f.name: f for f in fields}
    names = [fm.field for fm in subscription.fields]
    order = [f.name for f in fields if f.name in names]
    if len(set(names)) != len(names) or names != order:
        return _slow_planner(subscription, mode=mode, base_url=base_url)
    checks = field_checks(action.name)
    compiled = tuple(
        _compile_field(fm, by_name[fm.field].type, checks.get(fm.field, _never), action.name)
        for fm in subscription.fields
    )
    required = required_fields(action, mode)
    objects = tuple(f.name for f in fields if f.type == "object")
    build = action.body_maps[mode].build
    lift = action.lift
    name, action_name = subscription.name, action.name
    url = base_url.rstrip("/") + action.cloud_path if action.cloud_path is not None else None
    push_type = action.direct_type
    trailing_true = action.direct_trailing_true
    cloud = mode == "cloud"

    def slow(event: Event) -> PlannedCall | Rejection:
        return plan_subscription(event, subscription, mode=mode, base_url=base_url)

    def plan(event: Event) -> PlannedCall | Rejection:
        data = event.data
        if type(data) is not dict:
            return slow(event)
        payload: dict[str, Any] = {}
        for key, inline, first, second, third, resolve, plain, finish in compiled:
            # Step 1, the resolver's lookup inlined for plain paths through objects
            # (path_keys); anything else on the way, the resolver itself.
            if inline == 2:
                node = data.get(first, MISSING)
                value = node.get(second, MISSING) if type(node) is dict else resolve(data)
            elif inline == 1:
                value = data.get(first, MISSING)
            elif inline == 3:
                node = data.get(first, MISSING)
                node = node.get(second, MISSING) if type(node) is dict else None
                value = node.get(third, MISSING) if type(node) is dict else resolve(data)
            else:
                value = resolve(data)
            # Steps 2 and 3: drop null and "", coerce, check.
            if value is MISSING or value is None:
                continue
            if type(value) is str:
                if not value:
                    continue
                if plain:  # a plain string field: coercion and check keep any str
                    payload[key] = value
                    continue
            elif isinstance(value, str) and value == "":
                continue
            value = finish(value)
            if value is _FAIL:
                return slow(event)
            payload[key] = value
        for key in required:
            if key not in payload:
                return slow(event)
        body = build(lift_properties(action, payload) if lift is not None else payload)
        if body is None:
            return slow(event)
        for key in objects:
            if key in payload and _holds_float(payload[key]):
                body = normalize_json(body)
                break
        if cloud:
            if url is None:
                return slow(event)
            extra = body.get("additionalProperties")
            warnings = () if extra is None else tuple(additional_properties_warnings(body))
            return PlannedCall(
                event, name, action_name, "cloud", body, method="POST", url=url, warnings=warnings
            )
        kind = push_type or payload.get("eventType")
        if not isinstance(kind, str):
            return slow(event)
        push: tuple[Any, ...] = ("track", kind, body)
        if trailing_true:
            push = (*push, True)
        return PlannedCall(event, name, action_name, "direct", body, push=push)

    return plan


def _slow_planner(subscription: Subscription, *, mode: Mode, base_url: str) -> Planner:
    def plan(event: Event) -> PlannedCall | Rejection:
        return plan_subscription(event, subscription, mode=mode, base_url=base_url)

    return plan


def _never(value: Any) -> bool:
    return False


def _holds_float(value: Any) -> bool:
    """Whether a float is anywhere in ``value`` (an iterative walk: no depth limit)."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, float):
            return True
        if isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


@dataclass(frozen=True, slots=True)
class CompiledConfig:
    """A mapping file compiled for planning: its enabled subscriptions, each with a planner."""

    config: MappingConfig
    base_url: str
    subscriptions: tuple[tuple[Subscription, Planner], ...]


def compile_config(config: MappingConfig, *, base_url: str = DEFAULT_BASE_URL) -> CompiledConfig:
    """Compile every enabled subscription of ``config`` (``compile_subscription``)."""
    return CompiledConfig(
        config,
        base_url,
        tuple(
            (s, compile_subscription(s, mode=config.mode, base_url=base_url)) for s in config.active
        ),
    )


_COMPILED: dict[tuple[int, str], CompiledConfig] = {}
_COMPILED_KEEP: Final = 8


def _compiled(config: MappingConfig, base_url: str) -> CompiledConfig:
    """``compile_config``, remembered for the last few configs (``diff`` plans with two)."""
    key = (id(config), base_url)
    compiled = _COMPILED.get(key)
    if compiled is None or compiled.config is not config:  # the id of a config since freed
        compiled = compile_config(config, base_url=base_url)
        if len(_COMPILED) >= _COMPILED_KEEP:
            del _COMPILED[next(iter(_COMPILED))]
        _COMPILED[key] = compiled
    return compiled


# -- whole streams ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PlanFilter:
    """Which events and calls to keep (``--action``, ``--where``, ``--lines``)."""

    actions: frozenset[str] | None = None
    where: Callable[[Mapping[str, Any]], bool] | None = None
    lines: tuple[int, int] | None = None

    def keeps_line(self, line: int) -> bool:
        """Whether ``--lines`` keeps this line number."""
        return self.lines is None or self.lines[0] <= line <= self.lines[1]


def plan_event(
    event: Event,
    config: MappingConfig,
    *,
    base_url: str = DEFAULT_BASE_URL,
    actions: frozenset[str] | None = None,
) -> list[PlannedCall | Rejection] | Unmatched:
    """All calls for one event, one per matching subscription in file order."""
    return _plan_compiled(event, _compiled(config, base_url), actions)


def _plan_compiled(
    event: Event, compiled: CompiledConfig, actions: frozenset[str] | None
) -> list[PlannedCall | Rejection] | Unmatched:
    data = event.data
    matched = [(s, plan) for s, plan in compiled.subscriptions if s.matches(data)]
    if not matched:
        return Unmatched(event)
    return [plan(event) for s, plan in matched if actions is None or s.action.name in actions]


@dataclass(slots=True)
class PlanTally:
    """Counts for the summary line and ``validate --format json``."""

    events: int = 0
    """Events read (malformed lines are not events)."""
    by_status: Counter[str] = field(default_factory=Counter)
    by_action: dict[str, Counter[str]] = field(default_factory=dict)
    problems: int = 0
    """Events with at least one invalid call, and malformed lines."""
    stopped: str | None = None
    """Why the run stopped early (``--limit``, ``--max-errors``), if it did."""

    def add_event(self, records: list[PlanRecord]) -> None:
        """Count one event's records (or one malformed line, which is not an event)."""
        self.add_keys(map(record_key, records), is_event=not isinstance(records[0], LineError))

    def add_keys(self, keys: Iterable[RecordKey], *, is_event: bool) -> None:
        """Count one item by its records' keys (``record_key``)."""
        if is_event:
            self.events += 1
        problem = False
        by_status, by_action = self.by_status, self.by_action
        for status, action in keys:
            by_status[status] += 1
            if status in {"invalid", "malformed"}:
                problem = True
            if action is not None:
                counts = by_action.get(action)
                if counts is None:
                    counts = by_action[action] = Counter()
                counts[status] += 1
        if problem:
            self.problems += 1

    def merge(self, other: PlanTally) -> None:
        """Add the counts of ``other`` (a tally of later items)."""
        self.events += other.events
        self.by_status.update(other.by_status)
        for action, counts in other.by_action.items():
            self.by_action.setdefault(action, Counter()).update(counts)
        self.problems += other.problems

    def count(self, status: Status) -> int:
        """How many records have this status."""
        return self.by_status[status]


T = TypeVar("T")

RecordKey = tuple[Status, str | None]
"""What ``PlanTally`` counts of a record: its status and action (``None``: no action)."""


def record_key(record: PlanRecord) -> RecordKey:
    """The record's status and, for a call or a rejection, its action."""
    if isinstance(record, LineError):
        return ("malformed", None)
    if isinstance(record, Unmatched):
        return ("unmatched", None)
    return (record.status, record.action)


class PlanGroup(NamedTuple, Generic[T]):
    """What one input item (an event or a malformed line) became, ready to be counted.

    ``outputs`` are its records, one per call, in order, or a stand-in for each
    (``fbcli.parallel`` sends rendered JSON text instead of records between
    processes); ``keys`` are what ``PlanTally`` counts of them.  A named tuple:
    it crosses between processes several times faster than a dataclass.
    """

    is_event: bool
    keys: tuple[RecordKey, ...]
    outputs: tuple[T, ...]


class PlanBatch(NamedTuple, Generic[T]):
    """Several items taken as one: their outputs and their counts (``fbcli.parallel``).

    Only where no ``--limit`` or ``--max-errors`` can stop between them.
    """

    tally: PlanTally
    outputs: list[T]


def plan_item(
    item: Event | LineError,
    compiled: CompiledConfig,
    selection: PlanFilter,
) -> list[PlanRecord] | None:
    """One item's records, in order; ``None`` when the selection drops the item."""
    if selection.lines is not None and not selection.keeps_line(item.line):
        return None
    if isinstance(item, LineError):
        return [item]
    if selection.where is not None and not selection.where(item.data):
        return None
    planned = _plan_compiled(item, compiled, selection.actions)
    if isinstance(planned, Unmatched):
        return None if selection.actions is not None else [planned]
    return list(planned) or None


def group_of(records: list[PlanRecord], render: Callable[[PlanRecord], T]) -> PlanGroup[T]:
    """The group of one item's records, with ``render`` of each record as its outputs."""
    return PlanGroup(
        not isinstance(records[0], LineError),
        tuple(map(record_key, records)),
        tuple(map(render, records)),
    )


def _same(record: PlanRecord) -> PlanRecord:
    """The render of ``plan_records``: the record itself."""
    return record


def plan_groups(
    items: Iterable[Event | LineError],
    compiled: CompiledConfig,
    selection: PlanFilter,
    render: Callable[[PlanRecord], T],
) -> Iterator[PlanGroup[T]]:
    """``plan_item`` over a stream: a group per item the selection keeps (records rendered)."""
    for item in items:
        records = plan_item(item, compiled, selection)
        if records is not None:
            yield group_of(records, render)


def take_groups(
    groups: Iterable[PlanGroup[T] | PlanBatch[T]],
    tally: PlanTally,
    *,
    limit: int | None = None,
    max_errors: int | None = None,
) -> Iterator[T]:
    """Count each group in ``tally`` and yield its outputs, in order, until a limit stops it.

    ``limit`` stops before the item after that many (events and malformed
    lines); ``max_errors`` stops after that many problem items.  Both set
    ``tally.stopped``.  Groups not taken are never asked for.  A batch is
    counted and yielded whole (it comes only when there is no limit).
    """
    for group in groups:
        if isinstance(group, PlanBatch):
            if limit is not None or max_errors is not None:
                raise ValueError("a batch cannot stop part-way: plan in groups to limit")
            tally.merge(group.tally)
            yield from group.outputs
            continue
        if limit is not None and tally.events + tally.count("malformed") >= limit:
            tally.stopped = f"stopped after --limit {limit} events"
            return
        tally.add_keys(group.keys, is_event=group.is_event)
        yield from group.outputs
        if max_errors is not None and tally.problems >= max_errors:
            tally.stopped = f"stopped after --max-errors {max_errors} problem events"
            return


def plan_records(
    items: Iterable[Event | LineError],
    config: MappingConfig,
    *,
    base_url: str = DEFAULT_BASE_URL,
    selection: PlanFilter | None = None,
    tally: PlanTally | None = None,
    limit: int | None = None,
    max_errors: int | None = None,
) -> Iterator[PlanRecord]:
    """Plan a stream of events, in input order: one record per call or line.

    ``limit`` stops after that many events (after filtering); ``max_errors``
    stops after that many problem events.  Both set ``tally.stopped``.
    """
    compiled = compile_config(config, base_url=base_url)
    groups = plan_groups(items, compiled, selection or PlanFilter(), _same)
    return take_groups(
        groups,
        tally if tally is not None else PlanTally(),
        limit=limit,
        max_errors=max_errors,
    )


# -- JSON records (the dry-run --format json contract) ---------------------------------


def to_record(record: PlanRecord) -> dict[str, Any]:
    """The JSON Lines record of cli.md, field for field, in its order."""
    if isinstance(record, LineError):
        return {
            "source": record.source,
            "line": record.line,
            "status": "malformed",
            "errors": [{"message": record.message}],
        }
    out: dict[str, Any] = {"source": record.event.source, "line": record.event.line}
    message_id = record.event.message_id
    if message_id is not None:
        out["messageId"] = message_id
    if isinstance(record, Unmatched):
        out["status"] = "unmatched"
        return out
    out["subscription"] = record.subscription
    out["action"] = record.action
    out["status"] = record.status
    if isinstance(record, PlannedCall):
        if record.push is not None:
            out["push"] = list(record.push)
        else:
            out["request"] = {"method": record.method, "url": record.url, "body": record.body}
        if record.warnings:
            out["warnings"] = [v.to_dict() for v in record.warnings]
    else:
        out["errors"] = [v.to_dict() for v in record.errors]
    return out


def setup_push(config: MappingConfig) -> list[str] | None:
    """Direct mode's setup push, ``["merchant", merchantId]``; ``None`` in cloud mode."""
    if config.mode != "direct" or config.merchant_id is None:
        return None
    return ["merchant", config.merchant_id]
