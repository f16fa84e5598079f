"""trackCustomer: create or update a customer (``POST /v1/customer``)."""

from __future__ import annotations

from fbcli.actions.base import (
    BOTH,
    COPY,
    Action,
    ActionField,
    KeyRule,
    context_fields,
    flat_body_maps,
    rules,
    to_date,
    to_integer,
    to_string,
)


def _traits(key: str) -> dict[str, str]:
    return {"@path": f"$.traits.{key}"}


FIELDS = (
    ActionField("customerId", "string", {"@path": "$.userId"}, "The customer's ID.", required=BOTH),
    ActionField("anonymousId", "string", {"@path": "$.anonymousId"}, "The anonymous ID."),
    ActionField("email", "string", _traits("email"), "The customer's email.", required=BOTH),
    ActionField("firstName", "string", _traits("firstName"), "The customer's first name."),
    ActionField("lastName", "string", _traits("lastName"), "The customer's last name."),
    ActionField("name", "string", _traits("name"), "The customer's full name."),
    ActionField("age", "number", _traits("age"), "The customer's age."),
    ActionField("birthday", "date", _traits("birthday"), "Birthday, YYYY-MM-DD (year 0000: none)."),
    ActionField("language", "string", _traits("language"), "The customer's language."),
    ActionField(
        "customerSince",
        "datetime",
        _traits("customerSince"),
        "When the customer first joined (RFC 3339).",
    ),
    ActionField("loyaltyStatus", "string", _traits("loyaltyStatus"), "in, out or blocked."),
    ActionField("isNewCustomer", "boolean", _traits("isNewCustomer"), "A first-time customer."),
    ActionField("addressCountry", "string", _traits("address.country"), "Country."),
    ActionField("addressState", "string", _traits("address.state"), "State or region."),
    ActionField("addressCity", "string", _traits("address.city"), "City."),
    ActionField("addressPostalCode", "string", _traits("address.postalCode"), "Postal code."),
    ActionField(
        "friendbuyAttributes",
        "object",
        _traits("friendbuyAttributes"),
        "More attributes, spread into the body.",
        free_form=True,
    ),
    *context_fields(),
)

_COMMON = rules(
    email=COPY,
    firstName=COPY,
    lastName=COPY,
    age=KeyRule(("age",), to_integer),
    birthday=KeyRule(("birthday",), to_date),
    language=COPY,
    loyaltyStatus=COPY,
    isNewCustomer=COPY,
    addressCountry="country",
    addressState="state",
    addressCity="city",
    addressPostalCode=KeyRule(("zipCode",), to_string),
    gender=COPY,
    timezone=COPY,
    category=COPY,
)

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
)
