"""trackPage: a page view (direct mode only: ``["track", "page", P, true]``).

The payload always has ``name``: when the event has none it is the literal
string ``"undefined"`` (as the browser destination sends), so widgets can
still be targeted.
"""

from __future__ import annotations

from fbcli.actions.base import COPY, DIRECT, Action, ActionField, BodyMap, JsonObject, rules

FIELDS = (
    ActionField("name", "string", {"@path": "$.name"}, "The page name.", modes=DIRECT),
    ActionField("category", "string", {"@path": "$.category"}, "The page category.", modes=DIRECT),
    ActionField(
        "title", "string", {"@path": "$.properties.title"}, "The page title.", modes=DIRECT
    ),
)


def _finalize(body: JsonObject) -> JsonObject:
    if "name" not in body:
        body = {"name": "undefined", **body}
    return body


DIRECT_MAP = BodyMap(
    rules=rules(name=COPY, category=COPY, title=COPY),
    unmapped="drop",
    finalize=_finalize,
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
