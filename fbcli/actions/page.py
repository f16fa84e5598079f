"""trackPage: a page view (direct mode only: ``["track", "page", P, true]``).

The browser destination builds this payload itself, not with ``mapEvent``:
``name`` is the field's value when it is JavaScript-truthy and otherwise the
literal string ``"undefined"`` (so widgets can still be targeted); ``category``
and ``title`` are left out only when missing or ``""`` (``null``, ``{}`` or
``0`` are pushed as they are).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fbcli.actions.base import (
    COPY,
    DIRECT,
    Action,
    ActionField,
    BodyMap,
    JsonObject,
    Notes,
    rules,
)
from fbcli.jsvalues import js_truthy
from fbcli.values import MISSING

FIELDS = (
    ActionField("name", "string", {"@path": "$.name"}, "The page name.", modes=DIRECT),
    ActionField("category", "string", {"@path": "$.category"}, "The page category.", modes=DIRECT),
    ActionField(
        "title", "string", {"@path": "$.properties.title"}, "The page title.", modes=DIRECT
    ),
)


def build_page(payload: Mapping[str, Any], notes: Notes) -> JsonObject:
    """The page payload: ``name`` (or ``"undefined"``), then ``category`` and ``title``."""
    name = payload.get("name", MISSING)
    body: JsonObject = {"name": name if js_truthy(name) else "undefined"}
    for key in ("category", "title"):
        value = payload.get(key, MISSING)
        if value is not MISSING and value != "":
            body[key] = value
    return body


DIRECT_MAP = BodyMap(
    rules=rules(name=COPY, category=COPY, title=COPY),
    unmapped="drop",
    custom=build_page,
)

ACTION = Action(
    name="trackPage",
    title="Track Page",
    description="Record when a customer visits a page (direct mode only).",
    fields=FIELDS,
    modes=DIRECT,
    cloud_path=None,
    direct_type="page",
    suggested_trigger='type = "page"',
    body_maps={"direct": DIRECT_MAP},
)
