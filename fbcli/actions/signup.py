"""trackSignUp: record an account sign-up (``POST /v1/event/account-sign-up``)."""

from __future__ import annotations

from fbcli.actions.base import (
    BOTH,
    PROFILE_RULES,
    REFERRAL_RULES,
    Action,
    attributes_field,
    context_fields,
    customer_fields,
    flat_body_maps,
    profile_fields,
    properties,
    referral_fields,
)

FIELDS = (
    *customer_fields(required=BOTH),
    *profile_fields(properties),
    *referral_fields(properties),
    attributes_field(properties),
    *context_fields(),
)

CLOUD_MAP, DIRECT_MAP = flat_body_maps({**PROFILE_RULES, **REFERRAL_RULES})

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
