"""trackPurchase: record a purchase (``POST /v1/event/purchase``)."""

from __future__ import annotations

from fbcli.actions.base import (
    BOTH,
    CONTEXT_RULES,
    COPY,
    CUSTOMER_ID_FROM_PROPERTIES,
    DIRECT_CUSTOMER_RULES,
    DROP,
    PRODUCT_ITEM_MAP,
    Action,
    ActionField,
    BodyMap,
    KeyRule,
    add_name,
    context_fields,
    remove_customer_without_id,
    rules,
    to_number,
    to_string,
)


def _props(key: str) -> dict[str, str]:
    return {"@path": f"$.properties.{key}"}


FIELDS = (
    ActionField("orderId", "string", _props("order_id"), "The order's ID.", required=BOTH),
    ActionField(
        "amount", "number", _props("total"), "The purchase amount (no fallback).", required=BOTH
    ),
    ActionField("currency", "string", _props("currency"), "ISO 4217 currency code.", required=BOTH),
    ActionField("coupon", "string", _props("coupon"), "The coupon code used."),
    ActionField("attributionId", "string", _props("attributionId"), "Friendbuy attribution ID."),
    ActionField("referralCode", "string", _props("referralCode"), "Friendbuy referral code."),
    ActionField("giftCardCodes", "string_list", _props("giftCardCodes"), "Gift card codes used."),
    ActionField("products", "products", _props("products"), "The products purchased."),
    ActionField("customerId", "string", CUSTOMER_ID_FROM_PROPERTIES, "The customer's ID."),
    ActionField("anonymousId", "string", {"@path": "$.anonymousId"}, "The anonymous ID."),
    ActionField("email", "string", _props("email"), "The customer's email."),
    ActionField("isNewCustomer", "boolean", _props("isNewCustomer"), "A first-time customer."),
    ActionField("loyaltyStatus", "string", _props("loyaltyStatus"), "in, out or blocked."),
    ActionField("firstName", "string", _props("firstName"), "The customer's first name."),
    ActionField("lastName", "string", _props("lastName"), "The customer's last name."),
    ActionField("name", "string", _props("name"), "The customer's full name."),
    ActionField("age", "number", _props("age"), "The customer's age (direct mode only)."),
    ActionField("birthday", "date", _props("birthday"), "Birthday, YYYY-MM-DD (direct mode only)."),
    ActionField(
        "friendbuyAttributes",
        "object",
        _props("friendbuyAttributes"),
        "More attributes, spread into the body.",
        free_form=True,
    ),
    *context_fields(),
)

_ORDER = rules(
    amount=KeyRule(("amount",), to_number),
    currency=COPY,
    coupon="couponCode",
    attributionId=COPY,
    referralCode=COPY,
    giftCardCodes=COPY,
    products=KeyRule(("products",), items=PRODUCT_ITEM_MAP),
)

CLOUD_MAP = BodyMap(
    rules={
        **_ORDER,
        **rules(
            orderId=KeyRule(("orderId",), to_string),
            customerId=COPY,
            email=COPY,
            firstName=COPY,
            lastName=COPY,
            isNewCustomer=COPY,
            age=DROP,
            birthday=DROP,
        ),
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
