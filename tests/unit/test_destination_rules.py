"""The destination's rules the oracle taught fbcli, each with a concrete event.

Every expectation here is what the Customer.io/Segment Friendbuy destination's
own code sends for that event (``tests/property/test_oracle.py`` runs that code on
thousands more); a rule that is surely not meant also carries a quirk
warning, and ``--strict`` makes that an error.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from fbcli.jsonout import json_line
from fbcli.plan import PlannedCall, Rejection, to_record
from tests.support import RunCli
from tests.support.actions import body, order, plan


def quirks(call: PlannedCall | Rejection) -> list[str | None]:
    return [w.field for w in call.warnings if w.quirk]


# -- cloud: the validator's coercions ----------------------------------------------------


def test_a_one_element_list_is_read_as_its_item() -> None:
    traits = {"email": ["a@b.c"], "isNewCustomer": [True], "firstName": [5]}
    assert body("trackCustomer", {"userId": "u", "traits": traits}) == {
        "customerId": "u",
        "email": "a@b.c",
        "isNewCustomer": True,
        "firstName": "5",
    }


def test_one_and_zero_are_booleans() -> None:
    event = {"userId": "u", "traits": {"email": "e", "isNewCustomer": 1}}
    assert body("trackCustomer", event)["isNewCustomer"] is True
    event = {"userId": "u", "traits": {"email": "e", "isNewCustomer": 0}}
    assert body("trackCustomer", event)["isNewCustomer"] is False


def test_a_required_field_of_one_null_item_is_accepted_and_left_out() -> None:
    """``[null]`` passes the empty-value step, then the validator makes it ""."""
    call = plan("trackSignUp", {"userId": "u", "properties": {"email": [None]}})
    assert isinstance(call, PlannedCall)
    assert call.body == {"customerId": "u"}
    assert quirks(call) == ["email"]


def test_a_single_null_boolean_is_false_with_a_quirk() -> None:
    call = plan("trackCustomer", {"userId": "u", "traits": {"email": "e", "isNewCustomer": [None]}})
    assert isinstance(call, PlannedCall)
    assert call.body["isNewCustomer"] is False
    assert quirks(call) == ["isNewCustomer"]


def test_a_list_for_an_object_field_is_an_error() -> None:
    call = plan(
        "trackCustomer", {"userId": "u", "traits": {"email": "e", "friendbuyAttributes": [{}]}}
    )
    assert isinstance(call, Rejection)
    assert call.errors[0].message == "'friendbuyAttributes' must be an object, got a list [{}]"


# -- cloud: building the body -------------------------------------------------------------


def test_keys_named_like_object_members_reach_the_top_level() -> None:
    """The rules are looked up in a JavaScript object: ``constructor`` finds ``Object``."""
    event = {
        "event": "E",
        "userId": "u",
        "properties": {"email": "e", "constructor": {"a": 1}, "toString": 5, "valueOf": "v"},
    }
    call = plan("trackCustomEvent", event)
    assert isinstance(call, PlannedCall)
    assert call.body == {
        "eventType": "E",
        "email": "e",
        "Object": {"a": 1},
        "toString": 5,
        "valueOf": "v",
        "additionalProperties": {"customerId": "u"},
    }
    assert quirks(call) == ["constructor", "toString", "valueOf"]


def test_a_friendbuy_attributes_member_named_friendbuy_attributes_is_lost() -> None:
    attributes = {"friendbuyAttributes": {"x": 1}, "k": "v"}
    event = {"userId": "u", "traits": {"email": "e", "friendbuyAttributes": attributes}}
    assert body("trackCustomer", event)["additionalProperties"] == {"k": "v"}


def test_objects_as_text_list_index_keys_first() -> None:
    """``JSON.stringify`` writes an object's index-like keys first, in numeric order."""
    event = {
        "event": "E",
        "userId": "u",
        "properties": {"email": "e", "plan": {"tier": "gold", "10": "a", "2": "b"}},
    }
    assert body("trackCustomEvent", event)["additionalProperties"]["plan"] == (
        '{"2":"b","10":"a","tier":"gold"}'
    )


def test_an_object_with_a_to_string_member_breaks_a_template() -> None:
    """JavaScript cannot write it as text: mapping-kit throws, nothing is sent."""
    call = plan(
        "trackPurchase",
        order(coupon={"toString": "x"}),
        mapping={"coupon": {"@template": "{{properties.coupon}}"}},
    )
    assert isinstance(call, Rejection)
    assert call.errors[0].field == "coupon"
    assert "Cannot convert object to primitive value" in call.errors[0].message
    blank = plan(
        "trackPurchase",
        order(coupon={"toString": "x"}),
        mapping={"coupon": {"@if": {"blank": {"@path": "$.properties.coupon"}, "then": "y"}}},
    )
    assert isinstance(blank, Rejection)


def test_a_member_named_proto_is_dropped_by_mapping_kit() -> None:
    """It becomes a prototype: gone from the JSON, but the object is no longer empty."""
    properties = {
        "email": "e",
        "meta": {"__proto__": {"a": 1}, "b": 2},
        "empty": {"__proto__": {"a": 1}},
    }
    call = plan("trackCustomEvent", {"event": "E", "userId": "u", "properties": properties})
    assert isinstance(call, PlannedCall)
    assert call.body["additionalProperties"] == {
        "customerId": "u",
        "meta": '{"b":2}',
        "empty": "{}",
    }
    assert quirks(call) == ["eventProperties"]


# -- direct mode --------------------------------------------------------------------------


def test_direct_custom_events_keep_coupon_as_it_is() -> None:
    event = {"event": "E", "userId": "u", "properties": {"coupon": "C1", "referralCode": "R"}}
    assert body("trackCustomEvent", event, mode="direct") == {
        "coupon": "C1",
        "referralCode": "R",
        "customer": {"id": "u"},
    }


def test_a_direct_custom_event_keeps_a_customer_without_id() -> None:
    event = {"event": "E", "anonymousId": "a1", "properties": {"x": 1}}
    assert body("trackCustomEvent", event, mode="direct") == {
        "x": 1,
        "customer": {"anonymousId": "a1"},
    }


def test_direct_event_properties_that_are_not_an_object_are_pushed_as_they_are() -> None:
    event = {"event": "E", "userId": "u", "properties": "text"}
    assert body("trackCustomEvent", event, mode="direct") == {
        "eventProperties": "text",
        "customer": {"id": "u"},
    }


def test_direct_name_is_derived_before_the_attributes_are_spread() -> None:
    """From the payload as mapped: a friendbuyAttributes first name does not count, and a
    JavaScript-truthy first name that is not text does."""
    spread = {"lastName": "Doe", "friendbuyAttributes": {"firstName": "Ada"}}
    assert "name" not in body("trackCustomer", {"userId": "u", "traits": spread}, mode="direct")
    call = plan(
        "trackCustomer",
        {"userId": "u", "traits": {"firstName": [], "lastName": "Doe"}},
        mode="direct",
    )
    assert isinstance(call, PlannedCall)
    assert call.body == {"id": "u", "lastName": "Doe", "name": " Doe"}
    assert quirks(call) == ["name"]


def test_direct_page_names_a_falsy_name_undefined_and_keeps_null_category() -> None:
    call = plan(
        "trackPage",
        {"type": "page", "name": 0, "category": None, "properties": {"title": {}}},
        mode="direct",
    )
    assert isinstance(call, PlannedCall)
    assert call.push == (
        "track",
        "page",
        {"name": "undefined", "category": None, "title": {}},
        True,
    )


@pytest.mark.parametrize(
    ("products", "field"),
    [("sku-1", "products"), ([None], "products/0")],
)
def test_direct_products_the_destination_cannot_read_send_nothing(
    products: Any, field: str
) -> None:
    call = plan(
        "trackPurchase",
        {"userId": "u", "properties": {"order_id": "o", "products": products}},
        mode="direct",
    )
    assert isinstance(call, Rejection)
    assert call.errors[0].field == field


def test_direct_products_that_are_not_objects_are_sent_as_defaults() -> None:
    properties = {"order_id": "o", "products": [5, "ab", {"price": "2", "extra": 1}]}
    call = plan("trackPurchase", {"userId": "u", "properties": properties}, mode="direct")
    assert isinstance(call, PlannedCall)
    defaults = {"sku": "unknown", "name": "unknown", "quantity": 1}
    assert call.body["products"] == [defaults, defaults, {**defaults, "price": 2}]
    assert quirks(call) == ["products/0", "products/1"]


def test_a_direct_customer_key_the_destination_cannot_nest_into_sends_nothing() -> None:
    text = plan(
        "trackCustomEvent",
        {"event": "E", "userId": "u", "properties": {"customer": "vip"}},
        mode="direct",
    )
    assert isinstance(text, Rejection)
    assert text.errors[0].field == "customer"
    null = plan(
        "trackPurchase",
        {"properties": {"order_id": "o", "friendbuyAttributes": {"customer": None}}},
        mode="direct",
    )
    assert isinstance(null, Rejection)


def test_a_direct_customer_that_is_a_list_keeps_the_id_out_of_sight() -> None:
    """The id is set on the array (so the customer stays), and JSON does not show it."""
    properties = {"order_id": "o", "friendbuyAttributes": {"customer": ["x"]}}
    call = plan("trackPurchase", {"userId": "u", "properties": properties}, mode="direct")
    assert isinstance(call, PlannedCall)
    assert call.body == {"id": "o", "customer": ["x"]}
    assert json.loads(json_line(to_record(call)))["push"][2] == {"id": "o", "customer": ["x"]}
    assert quirks(call) == ["customer.id"]


def test_direct_friendbuy_attributes_spread_as_javascript_spreads_them() -> None:
    listed = {"userId": "u", "traits": {"friendbuyAttributes": ["a", "b"]}}
    assert body("trackCustomer", listed, mode="direct") == {"0": "a", "1": "b", "id": "u"}
    falsy = {"userId": "u", "traits": {"friendbuyAttributes": 0}}
    assert body("trackCustomer", falsy, mode="direct") == {"friendbuyAttributes": 0, "id": "u"}


def test_a_direct_null_birthday_sends_nothing() -> None:
    call = plan("trackCustomer", {"userId": "u", "traits": {"birthday": None}}, mode="direct")
    assert isinstance(call, Rejection)
    assert call.errors[0].field == "birthday"


@pytest.mark.parametrize(("customer_id", "kept"), [("0", True), (0, True), ([], False)])
def test_a_direct_purchase_customer_stays_when_its_id_is_javascript_truthy(
    customer_id: Any, kept: bool
) -> None:
    event = {"properties": {"order_id": "o", "customerId": customer_id, "email": "e"}}
    assert ("customer" in body("trackPurchase", event, mode="direct")) is kept


# -- --strict -------------------------------------------------------------------------------


def test_strict_validate_and_dry_run_make_quirks_errors(run_cli: RunCli, tmp_path: Path) -> None:
    events = tmp_path / "events.jsonl"
    event = {
        "type": "track",
        "event": "Order Completed",
        "userId": "u1",
        "properties": {"order_id": "o1", "total": True, "currency": "USD"},
    }
    events.write_text(json.dumps(event) + "\n", encoding="utf-8")
    lenient = run_cli("dry-run", str(events), "--format", "json")
    assert lenient.exit_code == 0
    [record] = [json.loads(line) for line in lenient.stdout.splitlines()]
    assert record["status"] == "planned"
    assert record["request"]["body"]["amount"] == 1
    assert record["warnings"][0]["field"] == "amount"
    strict = run_cli("dry-run", str(events), "--format", "json", "--strict")
    assert strict.exit_code == 1
    [record] = [json.loads(line) for line in strict.stdout.splitlines()]
    assert record["status"] == "invalid"
    assert record["errors"] == [
        {
            "field": "amount",
            "source": "$.properties.total",
            "message": "'amount': the boolean true is sent as the number 1",
        }
    ]
    validated = run_cli("validate", str(events), "--format", "json", "--strict")
    assert validated.exit_code == 1
    assert json.loads(validated.stdout)["invalid"] == 1
    assert run_cli("validate", str(events), "--format", "json").exit_code == 0
