"""trackSignUp: record an account sign-up (``POST /v1/event/account-sign-up``)."""

from __future__ import annotations

from fbcli.actions.base import (
    BOTH,
    COPY,
    CUSTOMER_ID_FROM_PROPERTIES,
    Action,
    ActionField,
    KeyRule,
    context_fields,
    flat_body_maps,
    rules,
    to_date,
    to_integer,
)


def _props(key: str) -> dict[str, str]:
    return {"@path": f"$.properties.{key}"}


FIELDS = (
    ActionField(
        "customerId", "string", CUSTOMER_ID_FROM_PROPERTIES, "The customer's ID.", required=BOTH
    ),
    ActionField("anonymousId", "string", {"@path": "$.anonymousId"}, "The anonymous ID."),
    ActionField("email", "string", _props("email"), "The customer's email.", required=BOTH),
    ActionField("isNewCustomer", "boolean", _props("isNewCustomer"), "A first-time customer."),
    ActionField("loyaltyStatus", "string", _props("loyaltyStatus"), "in, out or blocked."),
    ActionField("firstName", "string", _props("firstName"), "The customer's first name."),
    ActionField("lastName", "string", _props("lastName"), "The customer's last name."),
    ActionField("name", "string", _props("name"), "The customer's full name."),
    ActionField("age", "number", _props("age"), "The customer's age."),
    ActionField("birthday", "date", _props("birthday"), "Birthday, YYYY-MM-DD (year 0000: none)."),
    ActionField("coupon", "string", _props("coupon"), "The coupon code used."),
    ActionField("attributionId", "string", _props("attributionId"), "Friendbuy attribution ID."),
    ActionField("referralCode", "string", _props("referralCode"), "Friendbuy referral code."),
    ActionField(
        "friendbuyAttributes",
        "object",
        _props("friendbuyAttributes"),
        "More attributes, spread into the body.",
        free_form=True,
    ),
    *context_fields(),
)

_COMMON = rules(
    email=COPY,
    isNewCustomer=COPY,
    loyaltyStatus=COPY,
    firstName=COPY,
    lastName=COPY,
    age=KeyRule(("age",), to_integer),
    birthday=KeyRule(("birthday",), to_date),
    coupon="couponCode",
    attributionId=COPY,
    referralCode=COPY,
)

CLOUD_MAP, DIRECT_MAP = flat_body_maps(_COMMON)

ACTION = Action(
    name="trackSignUp",
    title="Track Sign Up",
    description="Record when a customer signs up for an account.",
    fields=FIELDS,
    modes=BOTH,
    cloud_path="/v1/event/account-sign-up",
    direct_type="sign_up",
    suggested_trigger='type = "track" and event = "Signed Up"',
    body_maps={"cloud": CLOUD_MAP, "direct": DIRECT_MAP},
)
