"""Event + mapping → ``PlannedCall | Rejection``: the one planning path.

``validate``, ``dry-run``, ``explain`` and ``replay`` all consume what this
module produces, so what is shown is what is sent.  Everything here is pure:
no I/O, no clock, no printing.

For one event and one matching subscription (actions.md "Pipeline"):

1. resolve each action field's mapping against the event (``map_fields``);
2. drop ``null``/``""`` values and coerce types (``validation.prepare_payload``);
3. validate against the action's schema (errors reject; warnings do not);
4. build the cloud request or the direct-mode push (``build_call``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Literal

from fbcli.actions.base import Action, JsonObject, Mode, build_body, normalize_number
from fbcli.events import Event, LineError
from fbcli.mappings import MappingConfig, Subscription
from fbcli.validation import Violation, prepare_payload, validate_payload
from fbcli.values import MISSING

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
    matched = [s for s in config.active if s.matches(event.data)]
    if not matched:
        return Unmatched(event)
    return [
        plan_subscription(event, s, mode=config.mode, base_url=base_url)
        for s in matched
        if actions is None or s.action.name in actions
    ]


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
        if not isinstance(records[0], LineError):
            self.events += 1
        for record in records:
            status = status_of(record)
            self.by_status[status] += 1
            if isinstance(record, PlannedCall | Rejection):
                self.by_action.setdefault(record.action, Counter())[status] += 1
        if any(status_of(r) in ("invalid", "malformed") for r in records):
            self.problems += 1

    def count(self, status: Status) -> int:
        """How many records have this status."""
        return self.by_status[status]


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
    selection = selection or PlanFilter()
    tally = tally if tally is not None else PlanTally()
    for item in items:
        if limit is not None and tally.events + tally.count("malformed") >= limit:
            tally.stopped = f"stopped after --limit {limit} events"
            return
        if not selection.keeps_line(item.line):
            continue
        records: list[PlanRecord]
        if isinstance(item, LineError):
            records = [item]
        else:
            if selection.where is not None and not selection.where(item.data):
                continue
            planned = plan_event(item, config, base_url=base_url, actions=selection.actions)
            if isinstance(planned, Unmatched):
                if selection.actions is not None:
                    continue
                records = [planned]
            elif not planned:
                continue
            else:
                records = list(planned)
        tally.add_event(records)
        yield from records
        if max_errors is not None and tally.problems >= max_errors:
            tally.stopped = f"stopped after --max-errors {max_errors} problem events"
            return


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
