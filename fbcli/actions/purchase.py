"""trackPurchase: record a purchase (``POST /v1/event/purchase``)."""

from __future__ import annotations

from fbcli.actions.base import (
    BOTH,
    CLOUD_CUSTOMER_RULES,
    CONTEXT_RULES,
    COPY,
    DIRECT_CUSTOMER_RULES,
    DROP,
    PRODUCT_ITEM_MAP,
    REFERRAL_RULES,
    Action,
    ActionField,
    BodyMap,
    KeyRule,
    add_name,
    attributes_field,
    context_fields,
    customer_fields,
    profile_fields,
    properties,
    referral_fields,
    remove_customer_without_id,
    rules,
    to_number,
    to_string,
)

FIELDS = (
    ActionField("orderId", "string", properties("order_id"), "The order's ID.", required=BOTH),
    ActionField(
        "amount",
        "number",
        properties("total"),
        "The purchase amount (no fallback).",
        required=BOTH,
    ),
    ActionField(
        "currency", "string", properties("currency"), "ISO 4217 currency code.", required=BOTH
    ),
    *referral_fields(properties),
    ActionField(
        "giftCardCodes", "string_list", properties("giftCardCodes"), "Gift card codes used."
    ),
    ActionField("products", "products", properties("products"), "The products purchased."),
    *customer_fields(),
    *profile_fields(
        properties,
        age="The customer's age (direct mode only).",
        birthday="Birthday, YYYY-MM-DD (direct mode only).",
    ),
    attributes_field(properties),
    *context_fields(),
)

_ORDER = {
    **rules(amount=KeyRule(("amount",), to_number), currency=COPY),
    **REFERRAL_RULES,
    **rules(giftCardCodes=COPY, products=KeyRule(("products",), items=PRODUCT_ITEM_MAP)),
}

CLOUD_MAP = BodyMap(
    rules={
        **_ORDER,
        **rules(orderId=KeyRule(("orderId",), to_string), customerId=COPY),
        **CLOUD_CUSTOMER_RULES,
        **rules(age=DROP, birthday=DROP),
        **CONTEXT_RULES,
    },
    unmapped="additionalProperties",
)

DIRECT_MAP = BodyMap(
    rules={
        **_ORDER,
        **rules(
            orderId=KeyRule(("id",), to_string),
        ),
        **DIRECT_CUSTOMER_RULES,
    },
    unmapped="root",
    prepare=add_name,
    finalize=remove_customer_without_id,
)

ACTION = Action(
    name="trackPurchase",
    title="Track Purchase",
    description="Record when a customer makes a purchase.",
    fields=FIELDS,
    modes=BOTH,
    cloud_path="/v1/event/purchase",
    direct_type="purchase",
    suggested_trigger='type = "track" and event = "Order Completed"',
    body_maps={"cloud": CLOUD_MAP, "direct": DIRECT_MAP},
)
