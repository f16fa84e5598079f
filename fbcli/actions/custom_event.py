"""trackCustomEvent: record any other event (``POST /v1/event/custom``).

Every member of ``eventProperties`` is lifted to the top of the payload first
(a resolved field wins over an event property of the same name).  In cloud
mode only a few keys are then sent by name and EVERYTHING else, ``customerId``
included, goes into ``additionalProperties`` as strings: that is what the
Customer.io/Segment destination sends, and fbcli sends the same body.  In
direct mode the customer's fields nest under ``customer`` (which stays even
without an id) and every other key, ``coupon`` too, stays as it is.
"""

from __future__ import annotations

from fbcli.actions.base import (
    BOTH,
    CLOUD,
    CLOUD_CUSTOMER_RULES,
    CONTEXT_RULES,
    COPY,
    DIRECT_CUSTOMER_RULES,
    REFERRAL_RULES,
    Action,
    ActionField,
    BodyMap,
    KeyRule,
    add_name,
    context_fields,
    customer_fields,
    rules,
)

FIELDS = (
    ActionField(
        "eventType", "string", {"@path": "$.event"}, "The type of the event.", required=BOTH
    ),
    ActionField(
        "eventProperties",
        "object",
        {"@path": "$.properties"},
        "The event's properties, each sent at the top level.",
        required=BOTH,
        free_form=True,
    ),
    ActionField(
        "deduplicationId",
        "string",
        {"@path": "$.properties.deduplicationId"},
        "Prevents the same event from being rewarded twice.",
    ),
    *customer_fields(
        required=BOTH,
        email_required=CLOUD,
        email="The customer's email (required in cloud mode).",
    ),
    *context_fields(),
)

CLOUD_MAP = BodyMap(
    rules={
        **rules(eventType=COPY, deduplicationId=COPY),
        **REFERRAL_RULES,
        **CLOUD_CUSTOMER_RULES,
        **CONTEXT_RULES,
    },
    unmapped="additionalProperties",
)

DIRECT_MAP = BodyMap(
    rules={**rules(eventType=KeyRule(None), deduplicationId=COPY), **DIRECT_CUSTOMER_RULES},
    unmapped="root",
    prepare=add_name,
)

ACTION = Action(
    name="trackCustomEvent",
    title="Track Custom Event",
    description="Record when a customer completes any custom event.",
    fields=FIELDS,
    modes=BOTH,
    cloud_path="/v1/event/custom",
    direct_type=None,
    suggested_trigger=None,
    body_maps={"cloud": CLOUD_MAP, "direct": DIRECT_MAP},
    direct_trailing_true=False,
    lift="eventProperties",
    deduplicated_by="deduplicationId",
)
