"""trackCustomer: create or update a customer (``POST /v1/customer``)."""

from __future__ import annotations

from fbcli.actions.base import (
    BOTH,
    COPY,
    PROFILE_RULES,
    Action,
    ActionField,
    KeyRule,
    attributes_field,
    context_fields,
    flat_body_maps,
    rules,
    to_string,
    traits,
)

FIELDS = (
    ActionField("customerId", "string", {"@path": "$.userId"}, "The customer's ID.", required=BOTH),
    ActionField("anonymousId", "string", {"@path": "$.anonymousId"}, "The anonymous ID."),
    ActionField("email", "string", traits("email"), "The customer's email.", required=BOTH),
    ActionField("firstName", "string", traits("firstName"), "The customer's first name."),
    ActionField("lastName", "string", traits("lastName"), "The customer's last name."),
    ActionField("name", "string", traits("name"), "The customer's full name."),
    ActionField("age", "number", traits("age"), "The customer's age."),
    ActionField("birthday", "date", traits("birthday"), "Birthday, YYYY-MM-DD (year 0000: none)."),
    ActionField("language", "string", traits("language"), "The customer's language."),
    ActionField(
        "customerSince",
        "datetime",
        traits("customerSince"),
        "When the customer first joined (RFC 3339).",
    ),
    ActionField("loyaltyStatus", "string", traits("loyaltyStatus"), "in, out or blocked."),
    ActionField("isNewCustomer", "boolean", traits("isNewCustomer"), "A first-time customer."),
    ActionField("addressCountry", "string", traits("address.country"), "Country."),
    ActionField("addressState", "string", traits("address.state"), "State or region."),
    ActionField("addressCity", "string", traits("address.city"), "City."),
    ActionField("addressPostalCode", "string", traits("address.postalCode"), "Postal code."),
    attributes_field(traits),
    *context_fields(),
)

_COMMON = {
    **PROFILE_RULES,
    **rules(
        language=COPY,
        addressCountry="country",
        addressState="state",
        addressCity="city",
        addressPostalCode=KeyRule(("zipCode",), to_string),
        gender=COPY,
        timezone=COPY,
        category=COPY,
    ),
}

CLOUD_MAP, DIRECT_MAP = flat_body_maps(_COMMON)

ACTION = Action(
    name="trackCustomer",
    title="Track Customer",
    description="Create a customer in Friendbuy or update it if it exists.",
    fields=FIELDS,
    modes=BOTH,
    cloud_path="/v1/customer",
    direct_type="customer",
    suggested_trigger='type = "identify"',
    body_maps={"cloud": CLOUD_MAP, "direct": DIRECT_MAP},
    idempotent=True,
)
