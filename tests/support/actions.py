"""Planning one event through one subscription of an action (unit tests of the actions)."""

from __future__ import annotations

from typing import Any

from fbcli.actions import ACTIONS
from fbcli.actions.base import Mode
from fbcli.events import Event
from fbcli.mappings import MappingConfig, build_subscription, compile_field
from fbcli.plan import PlannedCall, Rejection, plan_event

MERCHANT = "1993d0f1-8206-4336-8c88-64e170f2419e"


def plan(
    action: str,
    event: dict[str, Any],
    *,
    mode: Mode = "cloud",
    mapping: dict[str, Any] | None = None,
) -> PlannedCall | Rejection:
    """Plan one event through one subscription of ``action`` that always matches."""
    overrides = {
        name: None if value is None else compile_field(value, field=name, origin="file", line=1)
        for name, value in (mapping or {}).items()
    }
    sub = build_subscription(
        name="s", action=ACTIONS[action], trigger="type != null", mode=mode, overrides=overrides
    )
    config = MappingConfig("m.yaml", mode, MERCHANT if mode == "direct" else None, (sub,))
    result = plan_event(Event("events.jsonl", 1, {"type": "track", **event}), config)
    assert isinstance(result, list)
    assert len(result) == 1
    return result[0]


def body(action: str, event: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    call = plan(action, event, **kwargs)
    assert isinstance(call, PlannedCall), call
    return call.body


def order(**properties: Any) -> dict[str, Any]:
    return {
        "userId": "u1",
        "properties": {"order_id": "o1", "total": 10, "currency": "USD", **properties},
    }
