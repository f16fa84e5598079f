"""The five actions: every example and every pipeline rule of actions.md."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from fbcli.actions import ACTIONS
from fbcli.actions.base import to_date, to_integer, to_number, to_string
from fbcli.events import Event
from fbcli.jsonout import json_line
from fbcli.mappings import MappingConfig, build_subscription
from fbcli.plan import (
    PlannedCall,
    Rejection,
    compile_subscription,
    plan_subscription,
    setup_push,
    to_record,
)
from fbcli.validation import (
    build_schema,
    is_date,
    is_datetime,
    is_uri,
    load_schema,
    write_schemas,
)
from fbcli.values import MISSING
from tests.support import REPO
from tests.support.actions import MERCHANT, body, order, plan


def errors(action: str, event: dict[str, Any], **kwargs: Any) -> list[dict[str, str]]:
    call = plan(action, event, **kwargs)
    assert isinstance(call, Rejection), call
    return [v.to_dict() for v in call.errors]


# -- the examples of actions.md ---------------------------------------------------------


def test_example_identify_becomes_customer_request() -> None:
    event = {
        "type": "identify",
        "userId": 98765,
        "anonymousId": "anon-1",
        "context": {"ip": "8.8.8.8", "userAgent": "UA"},
        "traits": {"email": "test@example.com", "age": "99", "address": {"postalCode": 99999}},
    }
    call = plan("trackCustomer", event)
    assert isinstance(call, PlannedCall)
    assert (call.method, call.url) == ("POST", "https://mapi.fbot.me/v1/customer")
    assert call.body == {
        "customerId": "98765",
        "email": "test@example.com",
        "age": 99,
        "zipCode": "99999",
        "ipAddress": "8.8.8.8",
        "userAgent": "UA",
        "additionalProperties": {"anonymousId": "anon-1"},
    }


ORDER_PROPERTIES = {
    "order_id": "my order",
    "total": 45.97,
    "currency": "USD",
    "coupon": "coupon-xyzzy",
    "giftCardCodes": ["card-a", "card-b"],
    "products": [
        {"sku": "sku1", "name": "shorts", "price": 19.99, "quantity": 2},
        {"sku": "sku2", "price": 5.99},
    ],
    "email": "john.doe@example.com",
    "isNewCustomer": False,
    "loyaltyStatus": "out",
    "firstName": "John",
    "lastName": "Doe",
    "name": "John Doe",
    "age": 42,
    "birthday": "0000-12-25",
    "friendbuyAttributes": {"promotion": "winter 2022"},
}


def test_example_order_completed_becomes_purchase_request() -> None:
    event = {
        "event": "Order Completed",
        "userId": "john-doe-12345",
        "anonymousId": "fda7",
        "properties": ORDER_PROPERTIES,
    }
    call = plan("trackPurchase", event)
    assert isinstance(call, PlannedCall)
    assert call.url == "https://mapi.fbot.me/v1/event/purchase"
    assert call.body == {
        "orderId": "my order",
        "amount": 45.97,
        "currency": "USD",
        "couponCode": "coupon-xyzzy",
        "giftCardCodes": ["card-a", "card-b"],
        "customerId": "john-doe-12345",
        "email": "john.doe@example.com",
        "isNewCustomer": False,
        "firstName": "John",
        "lastName": "Doe",
        "products": [
            {"sku": "sku1", "name": "shorts", "quantity": 2, "price": 19.99},
            {"sku": "sku2", "name": "unknown", "quantity": 1, "price": 5.99},
        ],
        "additionalProperties": {
            "anonymousId": "fda7",
            "promotion": "winter 2022",
            "name": "John Doe",
            "loyaltyStatus": "out",
        },
    }


def test_example_download_becomes_custom_event_request() -> None:
    event = {
        "event": "Download",
        "userId": "john-doe-1234",
        "anonymousId": "960e",
        "properties": {
            "type": "application",
            "fileId": "MyApp",
            "email": "john.doe@example.com",
            "deduplicationId": "1234",
            "coupon": "coupon-thx1138",
            "referralCode": "referral-luh3417",
        },
    }
    call = plan("trackCustomEvent", event)
    assert isinstance(call, PlannedCall)
    assert call.url == "https://mapi.fbot.me/v1/event/custom"
    assert call.body == {
        "eventType": "Download",
        "email": "john.doe@example.com",
        "deduplicationId": "1234",
        "couponCode": "coupon-thx1138",
        "referralCode": "referral-luh3417",
        "additionalProperties": {
            "anonymousId": "960e",
            "customerId": "john-doe-1234",
            "fileId": "MyApp",
            "type": "application",
        },
    }


def test_example_page_becomes_direct_push() -> None:
    event = {
        "type": "page",
        "name": "Page Name",
        "category": "Page Category",
        "properties": {"title": "Page Title"},
    }
    call = plan("trackPage", event, mode="direct")
    assert isinstance(call, PlannedCall)
    assert call.push == (
        "track",
        "page",
        {"name": "Page Name", "category": "Page Category", "title": "Page Title"},
        True,
    )
    assert to_record(call)["push"] == [
        "track",
        "page",
        {"name": "Page Name", "category": "Page Category", "title": "Page Title"},
        True,
    ]


# -- step 3: coercion -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("traits", "expected"),
    [
        ({"age": "99"}, {"age": 99}),
        ({"age": 99.0}, {"age": 99}),
        ({"isNewCustomer": "true"}, {"isNewCustomer": True}),
        ({"isNewCustomer": "false"}, {"isNewCustomer": False}),
        ({"loyaltyStatus": True}, {"loyaltyStatus": "true"}),
        ({"address": {"postalCode": 2000}}, {"zipCode": "2000"}),
        ({"language": 7.5}, {"language": "7.5"}),
    ],
)
def test_customer_fields_are_coerced(traits: dict[str, Any], expected: dict[str, Any]) -> None:
    event = {"userId": 98765, "traits": {"email": "a@example.com", **traits}}
    assert body("trackCustomer", event) == {
        "customerId": "98765",
        "email": "a@example.com",
        **expected,
    }


def test_numeric_strings_become_numbers() -> None:
    assert body("trackPurchase", order(total="12.99"))["amount"] == 12.99
    assert body("trackPurchase", order(total="12"))["amount"] == 12


def test_order_id_number_becomes_string() -> None:
    assert body("trackPurchase", order(order_id=50002))["orderId"] == "50002"


def test_single_gift_card_code_becomes_a_list() -> None:
    assert body("trackPurchase", order(giftCardCodes="gc1"))["giftCardCodes"] == ["gc1"]


def test_single_product_object_becomes_a_list() -> None:
    result = body("trackPurchase", order(products={"sku": "s", "price": "5"}))
    assert result["products"] == [{"sku": "s", "name": "unknown", "quantity": 1, "price": 5}]


def test_product_items_keep_only_known_keys_and_convert() -> None:
    product = {
        "sku": 123,
        "name": "Tee",
        "quantity": "3",
        "price": "9.50",
        "description": "d",
        "category": "c",
        "url": "https://x.example/t",
        "image_url": "https://x.example/t.png",
        "product_id": "p-1",
        "brand": "b",
    }
    assert body("trackPurchase", order(products=[product]))["products"] == [
        {
            "sku": "123",
            "name": "Tee",
            "quantity": 3,
            "price": 9.5,
            "description": "d",
            "category": "c",
            "url": "https://x.example/t",
            "imageUrl": "https://x.example/t.png",
        }
    ]


def test_product_nulls_are_coerced_as_the_destination_does() -> None:
    """Nulls inside an item reach the validator, which makes text "", numbers 0: a null sku
    or name still gets its default, a null quantity or price is sent as 0 (a quirk)."""
    products = [{"sku": None, "name": None, "quantity": None, "price": 1}, {"price": None}]
    call = plan("trackPurchase", order(products=products))
    assert isinstance(call, PlannedCall)
    assert call.body["products"] == [
        {"sku": "unknown", "name": "unknown", "quantity": 0, "price": 1},
        {"sku": "unknown", "name": "unknown", "quantity": 1, "price": 0},
    ]
    assert [(w.field, w.quirk) for w in call.warnings] == [
        ("products/0/quantity", True),
        ("products/1/price", True),
    ]
    assert call.warnings[0].message == "'products/0/quantity': null is sent as the number 0"


def test_null_and_empty_product_items_are_dropped() -> None:
    products = [None, "", {"price": 2}]
    assert body("trackPurchase", order(products=products))["products"] == [
        {"sku": "unknown", "name": "unknown", "quantity": 1, "price": 2}
    ]


def test_product_without_price_is_an_error() -> None:
    assert errors("trackPurchase", order(products=[{"sku": "a", "price": 1}, {"sku": "b"}])) == [
        {
            "field": "products/1/price",
            "source": "$.properties.products[1].price",
            "message": "required field 'products/1/price' is missing",
        }
    ]


def test_fractional_quantity_is_an_error_at_its_pointer() -> None:
    assert errors("trackPurchase", order(products=[{"price": 1, "quantity": "1.5"}])) == [
        {
            "field": "products/0/quantity",
            "source": "$.properties.products[0].quantity",
            "message": "'products/0/quantity' must be an integer, got the string \"1.5\"",
        }
    ]


@pytest.mark.parametrize(("age", "sent"), [("1.5", 1.5), (36.5, 36.5), ("42", 42), (["7"], 7)])
def test_age_is_a_number_not_an_integer(age: Any, sent: float) -> None:
    """The destination declares ``age`` a number: 1.5 is sent as 1.5."""
    event = {"userId": "u", "traits": {"email": "a@example.com", "age": age}}
    assert body("trackCustomer", event)["age"] == sent
    assert (
        body("trackSignUp", {"userId": "u", "properties": {"email": "e", "age": age}})["age"]
        == sent
    )


def test_a_non_numeric_age_is_an_error() -> None:
    event = {"userId": "u", "traits": {"email": "a@example.com", "age": "old"}}
    assert errors("trackCustomer", event) == [
        {
            "field": "age",
            "source": "$.traits.age",
            "message": "'age' must be a number, got the string \"old\"",
        }
    ]


def test_missing_required_field_names_field_and_source() -> None:
    event = order()
    del event["properties"]["currency"]
    result = plan("trackPurchase", event)
    assert isinstance(result, Rejection)
    assert [v.describe() for v in result.errors] == [
        "required field 'currency' is missing — mapped from $.properties.currency"
    ]


def test_uncoercible_amount_is_an_error() -> None:
    assert errors("trackPurchase", order(total="forty")) == [
        {
            "field": "amount",
            "source": "$.properties.total",
            "message": "'amount' must be a number, got the string \"forty\"",
        }
    ]


def test_a_boolean_amount_is_sent_as_a_number_with_a_quirk() -> None:
    """The destination's validator coerces true to 1: fbcli sends the same, and warns."""
    call = plan("trackPurchase", order(total=True))
    assert isinstance(call, PlannedCall)
    assert call.body["amount"] == 1
    assert [w.to_dict() for w in call.warnings] == [
        {
            "field": "amount",
            "source": "$.properties.total",
            "message": "'amount': the boolean true is sent as the number 1",
        }
    ]
    assert call.warnings[0].quirk


def test_strict_makes_a_quirk_an_error() -> None:
    sub = build_subscription(
        name="s", action=ACTIONS["trackPurchase"], trigger="type != null", mode="cloud"
    )
    event = Event("events.jsonl", 1, {"type": "track", **order(total=True)})
    strict = plan_subscription(event, sub, mode="cloud", base_url="https://x", strict=True)
    assert isinstance(strict, Rejection)
    assert [v.field for v in strict.errors] == ["amount"]
    assert strict.warnings == ()
    planned = compile_subscription(sub, mode="cloud", base_url="https://x", strict=True)
    assert planned(event) == strict
    lenient = plan_subscription(event, sub, mode="cloud", base_url="https://x")
    assert isinstance(lenient, PlannedCall)


def test_amount_has_no_fallback_to_revenue() -> None:
    event = order(revenue=10)
    del event["properties"]["total"]
    assert errors("trackPurchase", event)[0]["message"] == "required field 'amount' is missing"


@pytest.mark.parametrize(
    ("birthday", "expected"),
    [
        ("1990-12-25", {"year": 1990, "month": 12, "day": 25}),
        ("0000-12-25", {"month": 12, "day": 25}),
        ("0000-02-29", {"month": 2, "day": 29}),
    ],
)
def test_birthday_becomes_a_date_object(birthday: str, expected: dict[str, int]) -> None:
    event = {"userId": "u", "traits": {"email": "a@example.com", "birthday": birthday}}
    assert body("trackCustomer", event)["birthday"] == expected


@pytest.mark.parametrize(
    "birthday", ["12/25/1990", "1990-12", "1990-13-01", "1990-02-30", "90-1-1"]
)
def test_birthday_must_be_a_full_date(birthday: str) -> None:
    event = {"userId": "u", "traits": {"email": "a@example.com", "birthday": birthday}}
    (error,) = errors("trackCustomer", event)
    assert error["field"] == "birthday"
    assert error["message"].startswith("'birthday' must be a date YYYY-MM-DD, got")


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        ("2024-01-15T10:00:00Z", True),
        ("2024-01-15t10:00:00.123+02:00", True),
        ("2024-01-15 10:00:00-05:30", True),
        ("2024-01-15T10:00:00", True),  # the zone is optional
        ("2024-01-15T10:00:00+0530", True),
        ("2024-01-15T10:00:00+05", True),
        ("2024-01-15T10:00:00+99:99", True),  # the offset is not range-checked
        ("2024-01-15\u00a010:00:00Z", True),  # any JavaScript white space separates
        ("2024-01-15T23:59:60Z", True),  # a leap second at 23:59 only
        ("2024-01-15T10:00:60Z", False),
        ("2024-01-15", False),
        ("2024-01-15T25:00:00Z", False),
        ("2024-01-15T 10:00:00Z", False),  # two separators
        ("2024-01-15T10:00Z", False),
        ("yesterday", False),
    ],
)
def test_customer_since_is_a_date_time_as_the_destination_reads_it(value: str, ok: bool) -> None:
    assert is_datetime(value) is ok
    event = {"userId": "u", "traits": {"email": "a@example.com", "customerSince": value}}
    result = plan("trackCustomer", event)
    assert isinstance(result, PlannedCall) is ok
    if isinstance(result, PlannedCall):
        assert result.body["additionalProperties"] == {"customerSince": value}


@pytest.mark.parametrize(
    ("url", "ok"),
    [
        ("https://shop.example.com/a?b=c", True),
        ("mailto:a@b.c", True),
        ("http://[::1]:8080/", True),
        ("http:/[::1]/x", True),  # ajv-formats: one slash may start an authority
        ("urn:", False),  # ajv-formats: something must follow the scheme
        ("http://example.com/a b", False),
        ("http://example.com/%zz", False),
        ("https://\u00e9.com/", False),  # not ASCII
        ("/cart", False),
        ("no", False),
    ],
)
def test_page_url_must_be_absolute_and_is_never_sent(url: str, ok: bool) -> None:
    assert is_uri(url) is ok
    event = {**order(), "context": {"page": {"url": url, "title": "T"}}}
    result = plan("trackPurchase", event)
    if ok:
        assert isinstance(result, PlannedCall)
        assert "pageUrl" not in result.body
        assert "pageTitle" not in result.body
        assert "additionalProperties" not in result.body
    else:
        assert isinstance(result, Rejection)
        assert result.errors[0].field == "pageUrl"
        assert result.errors[0].source == "$.context.page.url"


def test_is_date_ignores_non_strings() -> None:
    assert is_date(5)
    assert is_datetime(5)
    assert is_uri(5)


def test_dates_take_ascii_digits_only() -> None:
    arabic = "\u0662\u0660\u0662\u0664-\u0660\u0661-\u0660\u0662"  # 2024-01-02, Arabic-Indic
    zeros = "\u0660" * 4  # 0000 in Arabic-Indic digits, which int() reads as 0
    assert is_date("2024-01-02")
    assert not is_date(arabic)
    assert not is_date(zeros + "-01-02")
    assert not is_datetime(arabic + "T10:00:00Z")
    assert not is_datetime(zeros + "-01-02T10:00:00Z")  # passed the year-0000 check
    assert is_datetime("2024-01-02T10:00:00Z")


# -- step 2: empty values ---------------------------------------------------------------


def test_null_and_empty_string_fields_are_dropped() -> None:
    event = order(coupon="", email=None, attributionId="att-1")
    result = body("trackPurchase", event)
    assert "couponCode" not in result
    assert "email" not in result
    assert result["attributionId"] == "att-1"


def test_empty_required_string_is_missing() -> None:
    assert errors("trackPurchase", order(currency=""))[0]["message"] == (
        "required field 'currency' is missing"
    )


def test_zero_and_false_are_sent_empty_containers_are_not() -> None:
    result = body("trackPurchase", order(total=0, isNewCustomer=False, giftCardCodes=[]))
    assert result["amount"] == 0
    assert result["isNewCustomer"] is False
    assert "giftCardCodes" not in result


def test_no_supported_fields_is_a_rejection() -> None:
    result = plan("trackPurchase", {"properties": {"products": []}}, mode="direct")
    assert isinstance(result, Rejection)
    assert result.errors[0].message == "no supported fields: nothing would be sent"
    assert to_record(result)["errors"] == [
        {"message": "no supported fields: nothing would be sent"}
    ]


# -- step 4: friendbuyAttributes and additionalProperties --------------------------------


def test_friendbuy_attributes_spread_and_top_level_wins() -> None:
    attributes = {"coupon": "FB-COUPON", "currency": "EUR", "extra": "x"}
    result = body("trackPurchase", order(friendbuyAttributes=attributes))
    assert result["couponCode"] == "FB-COUPON"
    assert result["currency"] == "USD"
    assert result["additionalProperties"] == {"extra": "x"}
    assert "friendbuyAttributes" not in result


def test_friendbuy_attributes_coupon_loses_to_coupon_field() -> None:
    result = body("trackPurchase", order(coupon="C1", friendbuyAttributes={"coupon": "C2"}))
    assert result["couponCode"] == "C1"


def test_customer_attributes_gender_timezone_category_go_top_level() -> None:
    traits = {
        "email": "a@example.com",
        "friendbuyAttributes": {
            "gender": "f",
            "timezone": "Europe/Paris",
            "category": "vip",
            "x": 1,
        },
    }
    result = body("trackCustomer", {"userId": "u", "traits": traits})
    assert result["gender"] == "f"
    assert result["timezone"] == "Europe/Paris"
    assert result["category"] == "vip"
    assert result["additionalProperties"] == {"x": "1"}


def test_additional_properties_are_stringified_like_javascript() -> None:
    attributes = {
        "n": 5,
        "f": 1.0,
        "g": 0.5,
        "t": True,
        "o": {"a": 1, "b": [1, "x"]},
        "l": [1, 2],
        "z": None,
        "s": "text",
        "empty": "",
        "eo": {},
        "el": [],
    }
    result = body("trackPurchase", order(friendbuyAttributes=attributes))
    assert result["additionalProperties"] == {
        "n": "5",
        "f": "1",
        "g": "0.5",
        "t": "true",
        "o": '{"a":1,"b":[1,"x"]}',
        "l": "[1,2]",
        "z": "null",
        "s": "text",
    }


def test_age_and_birthday_are_not_sent_in_cloud_purchase() -> None:
    result = body("trackPurchase", order(age=42, birthday="1980-01-02"))
    assert "age" not in result
    assert "birthday" not in result
    assert "additionalProperties" not in result


def test_context_fields_are_sent_in_cloud() -> None:
    event = {**order(), "context": {"ip": "1.2.3.4", "userAgent": "UA"}}
    result = body("trackPurchase", event)
    assert (result["ipAddress"], result["userAgent"]) == ("1.2.3.4", "UA")


def test_customer_id_prefers_properties_customer_id() -> None:
    assert body("trackPurchase", order(customerId="c-9"))["customerId"] == "c-9"
    assert body("trackPurchase", order(customerId=None))["customerId"] == "u1"
    assert body("trackSignUp", {"userId": 7, "properties": {"email": "e@example.com"}}) == {
        "customerId": "7",
        "email": "e@example.com",
    }


def test_sign_up_body() -> None:
    properties = {
        "email": "e@example.com",
        "isNewCustomer": True,
        "loyaltyStatus": "in",
        "firstName": "F",
        "lastName": "L",
        "name": "F L",
        "age": "30",
        "birthday": "1994-05-06",
        "coupon": "C",
        "attributionId": "A",
        "referralCode": "R",
    }
    result = body("trackSignUp", {"userId": "u", "anonymousId": "an", "properties": properties})
    assert result == {
        "customerId": "u",
        "email": "e@example.com",
        "isNewCustomer": True,
        "loyaltyStatus": "in",
        "firstName": "F",
        "lastName": "L",
        "age": 30,
        "birthday": {"year": 1994, "month": 5, "day": 6},
        "couponCode": "C",
        "attributionId": "A",
        "referralCode": "R",
        "additionalProperties": {"anonymousId": "an", "name": "F L"},
    }


def test_custom_event_resolved_field_wins_over_event_property() -> None:
    event = {
        "event": "Quiz Finished",
        "userId": "u",
        "properties": {"email": "p@example.com", "score": 9, "customerId": "from-props"},
    }
    result = body("trackCustomEvent", event, mapping={"email": "field@example.com"})
    assert result["email"] == "field@example.com"
    assert result["additionalProperties"] == {"score": "9", "customerId": "from-props"}


def test_custom_event_without_email_is_invalid_in_cloud() -> None:
    assert errors("trackCustomEvent", {"event": "E", "userId": "u", "properties": {}}) == [
        {
            "field": "email",
            "source": "$.properties.email",
            "message": "required field 'email' is missing",
        }
    ]


def test_additional_properties_limits_warn_but_do_not_drop() -> None:
    attributes = {f"k{i}": "v" for i in range(11)} | {"long": "x" * 129}
    call = plan("trackPurchase", order(friendbuyAttributes=attributes))
    assert isinstance(call, PlannedCall)
    assert len(call.body["additionalProperties"]) == 12
    assert [w.to_dict() for w in call.warnings] == [
        {
            "field": "additionalProperties",
            "message": "12 additionalProperties; MAPI keeps at most 10 and silently drops the rest",
        },
        {
            "field": "additionalProperties/long",
            "message": "value is 129 characters; MAPI silently drops values over 128",
        },
    ]
    assert to_record(call)["warnings"][0]["field"] == "additionalProperties"


def test_template_rendering_an_object_warns() -> None:
    call = plan("trackPurchase", order(), mapping={"coupon": {"@template": "{{properties}}"}})
    assert isinstance(call, PlannedCall)
    assert call.body["couponCode"] == "[object Object]"
    assert call.warnings[0].field == "coupon"


# -- direct mode ------------------------------------------------------------------------


def test_direct_customer_uses_id_and_derives_name() -> None:
    traits = {"email": "a@example.com", "firstName": "Ada", "lastName": "Lovelace", "x": 1}
    call = plan(
        "trackCustomer", {"userId": 5, "anonymousId": "an", "traits": traits}, mode="direct"
    )
    assert isinstance(call, PlannedCall)
    assert call.push == (
        "track",
        "customer",
        {
            "id": "5",
            "anonymousId": "an",
            "email": "a@example.com",
            "firstName": "Ada",
            "lastName": "Lovelace",
            "name": "Ada Lovelace",
        },
        True,
    )


def test_direct_name_is_not_overwritten() -> None:
    traits = {"email": "a@example.com", "firstName": "A", "lastName": "L", "name": "Given"}
    assert (
        body("trackCustomer", {"userId": "u", "traits": traits}, mode="direct")["name"] == "Given"
    )


def test_direct_purchase_nests_customer() -> None:
    event = {
        "event": "Order Completed",
        "userId": "john-doe-12345",
        "anonymousId": "fda7",
        "properties": ORDER_PROPERTIES,
    }
    call = plan("trackPurchase", event, mode="direct")
    assert isinstance(call, PlannedCall)
    assert call.push is not None
    assert call.push[:2] == ("track", "purchase")
    assert call.push[3] is True
    assert call.body == {
        "promotion": "winter 2022",
        "id": "my order",
        "amount": 45.97,
        "currency": "USD",
        "couponCode": "coupon-xyzzy",
        "giftCardCodes": ["card-a", "card-b"],
        "products": [
            {"sku": "sku1", "name": "shorts", "quantity": 2, "price": 19.99},
            {"sku": "sku2", "name": "unknown", "quantity": 1, "price": 5.99},
        ],
        "customer": {
            "id": "john-doe-12345",
            "anonymousId": "fda7",
            "email": "john.doe@example.com",
            "isNewCustomer": False,
            "loyaltyStatus": "out",
            "firstName": "John",
            "lastName": "Doe",
            "name": "John Doe",
            "age": 42,
            "birthday": {"month": 12, "day": 25},
        },
    }


def test_direct_purchase_drops_customer_without_id() -> None:
    event = {"anonymousId": "an", "properties": {"order_id": "o", "total": 1, "currency": "USD"}}
    result = body("trackPurchase", event, mode="direct")
    assert "customer" not in result
    assert result == {"id": "o", "amount": 1, "currency": "USD"}


def test_direct_missing_required_field_is_a_warning() -> None:
    call = plan("trackCustomer", {"userId": "u", "traits": {}}, mode="direct")
    assert isinstance(call, PlannedCall)
    assert call.body == {"id": "u"}
    assert [w.field for w in call.warnings] == ["email"]


def test_direct_mode_pushes_values_as_the_mapping_made_them() -> None:
    """The browser destination neither drops nor coerces: what the cloud would refuse is
    pushed as it is, with a warning."""
    traits = {"age": "old", "firstName": 123, "isNewCustomer": "true", "lastName": None}
    call = plan("trackCustomer", {"userId": "u", "traits": traits}, mode="direct")
    assert isinstance(call, PlannedCall)
    assert call.body == {
        "id": "u",
        "age": "old",
        "firstName": 123,
        "isNewCustomer": "true",
        "lastName": None,
    }
    assert [w.field for w in call.warnings] == ["email", "age"]
    assert call.warnings[1].message == (
        "'age' must be a number, got the string \"old\" (the browser SDK sends the call anyway)"
    )


def test_direct_custom_event() -> None:
    event = {
        "event": "Video Played",
        "userId": "u1",
        "properties": {"videoId": "v1", "position": 42, "firstName": "A", "lastName": "B"},
    }
    call = plan("trackCustomEvent", event, mode="direct")
    assert isinstance(call, PlannedCall)
    assert call.push == (
        "track",
        "Video Played",
        {
            "videoId": "v1",
            "position": 42,
            "customer": {"id": "u1", "firstName": "A", "lastName": "B", "name": "A B"},
        },
    )


def test_direct_custom_event_without_customer_id_is_pushed_with_a_warning() -> None:
    call = plan("trackCustomEvent", {"event": "E", "properties": {"a": 1}}, mode="direct")
    assert isinstance(call, PlannedCall)
    assert call.push == ("track", "E", {"a": 1})
    assert [w.field for w in call.warnings] == ["customerId"]


def test_direct_custom_event_without_type_is_pushed_with_a_quirk() -> None:
    """The browser destination pushes ["track", undefined, P]: JSON writes the type as null."""
    call = plan("trackCustomEvent", {"properties": {"a": 1}, "userId": "u"}, mode="direct")
    assert isinstance(call, PlannedCall)
    assert call.push == ("track", None, {"a": 1, "customer": {"id": "u"}})
    assert [(w.field, w.quirk) for w in call.warnings] == [
        ("eventType", False),
        ("eventType", True),
    ]
    assert call.warnings[1].message == (
        "the push's event type is missing: the destination pushes it as it is"
    )


def test_direct_sign_up_is_flat_with_id() -> None:
    event = {
        "userId": "u",
        "properties": {"email": "e@example.com", "firstName": "F", "lastName": "L"},
    }
    assert body("trackSignUp", event, mode="direct") == {
        "id": "u",
        "email": "e@example.com",
        "firstName": "F",
        "lastName": "L",
        "name": "F L",
    }


def test_track_page_without_name_is_named_undefined() -> None:
    call = plan("trackPage", {"type": "page", "category": ""}, mode="direct")
    assert isinstance(call, PlannedCall)
    assert call.push == ("track", "page", {"name": "undefined"}, True)


def test_direct_context_fields_are_not_used() -> None:
    event = {**order(), "context": {"ip": "1.2.3.4", "page": {"url": "/not-absolute"}}}
    result = body("trackPurchase", event, mode="direct")
    assert "ipAddress" not in result


def test_setup_push_in_direct_mode_only() -> None:
    sub = build_subscription(
        name="s", action=ACTIONS["trackPage"], trigger='type = "page"', mode="direct"
    )
    assert setup_push(MappingConfig("m", "direct", MERCHANT, (sub,))) == ["merchant", MERCHANT]
    assert setup_push(MappingConfig("m", "cloud", None, ())) is None


# -- converters -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("function", "value", "expected"),
    [
        (to_string, 98765, "98765"),
        (to_string, 1.5, "1.5"),
        (to_string, True, True),
        (to_string, "x", "x"),
        (to_integer, "99", 99),
        (to_integer, "-0", 0),
        (to_integer, "007", "007"),
        (to_integer, "1.5", "1.5"),
        (to_integer, 3, 3),
        (to_number, "12.99", 12.99),
        (to_number, "12", 12),
        (to_number, "1e3", "1e3"),
        (to_number, ".5", ".5"),
        (to_date, "1990-01-02", {"year": 1990, "month": 1, "day": 2}),
        (to_date, "0000-01-02", {"month": 1, "day": 2}),
        (to_date, "01-02", {"month": 1, "day": 2}),
        (to_date, {"month": 1, "day": 2}, {"month": 1, "day": 2}),
        (to_date, {"month": "1", "day": 2}, MISSING),
        (to_date, "garbage", MISSING),
        (to_date, 19900102, MISSING),
    ],
)
def test_converters(function: Any, value: Any, expected: Any) -> None:
    assert function(value) == expected


def test_friendbuy_attribute_birthday_is_parsed_and_bad_one_dropped() -> None:
    good = {"email": "a@example.com", "friendbuyAttributes": {"birthday": "1990-01-02"}}
    assert body("trackCustomer", {"userId": "u", "traits": good})["birthday"] == {
        "year": 1990,
        "month": 1,
        "day": 2,
    }
    bad = {"email": "a@example.com", "friendbuyAttributes": {"birthday": "soon"}}
    assert "birthday" not in body("trackCustomer", {"userId": "u", "traits": bad})


# -- schemas ----------------------------------------------------------------------------

SCHEMA_DIR = REPO / "fbcli" / "schemas"


@pytest.mark.parametrize("name", list(ACTIONS))
def test_shipped_schema_is_up_to_date(name: str) -> None:
    assert load_schema(name) == build_schema(ACTIONS[name]), (
        "regenerate: python -c 'from pathlib import Path; from fbcli.validation import "
        'write_schemas; write_schemas(Path("fbcli/schemas"))\''
    )


def test_the_mapping_file_schema_names_every_registered_action_in_order() -> None:
    schema = json.loads((SCHEMA_DIR / "mappings.schema.json").read_text(encoding="utf-8"))
    subscription = schema["properties"]["subscriptions"]["items"]["properties"]
    assert subscription["action"]["enum"] == list(ACTIONS), "regenerate: see write_schemas"


def test_write_schemas_writes_what_is_shipped(tmp_path: Path) -> None:
    for path in SCHEMA_DIR.glob("*.json"):
        (tmp_path / path.name).write_bytes(path.read_bytes())
    for path in write_schemas(tmp_path):
        shipped = json.loads((SCHEMA_DIR / path.name).read_text(encoding="utf-8"))
        assert json.loads(path.read_text(encoding="utf-8")) == shipped, path.name


@pytest.mark.parametrize("path", sorted(SCHEMA_DIR.glob("*.json")), ids=lambda p: p.name)
def test_every_packaged_schema_is_a_valid_schema(path: Path) -> None:
    Draft202012Validator.check_schema(json.loads(path.read_text(encoding="utf-8")))


def test_schema_required_lists_cloud_required_fields() -> None:
    assert load_schema("trackPurchase")["required"] == ["orderId", "amount", "currency"]
    assert load_schema("trackCustomEvent")["required"] == [
        "eventType",
        "eventProperties",
        "customerId",
        "email",
    ]
    assert load_schema("trackPage")["required"] == []


@pytest.mark.parametrize(
    ("total", "expected"),
    [("1e3", 1000), (" 12 ", 12), ("007", 7), ("12.", 12), ("0x10", 16), ("-.5", -0.5)],
)
def test_numeric_strings_are_read_as_javascript_reads_them(total: str, expected: float) -> None:
    assert body("trackPurchase", order(total=total))["amount"] == expected


@pytest.mark.parametrize("total", ["1,5", "12abc", "1_000", "+0x10", "infinity", ""])
def test_text_javascript_does_not_read_as_a_number_is_an_error(total: str) -> None:
    result = errors("trackPurchase", order(total=total))[0]
    assert result["field"] == "amount"


@pytest.mark.parametrize(
    "total",
    [
        "Infinity",
        "-Infinity",
        "1e999",
        # Found by fuzzing: too many digits for int() raised; beyond a double is Infinity.
        "1" * 5000,
        "1" * 400,
        "-" + "1" * 400,
        "0x" + "f" * 4000,
        "0b" + "1" * 1100,
    ],
    ids=lambda total: total if len(total) < 20 else f"{total[:4]}...({len(total)})",
)
def test_text_beyond_a_double_is_sent_as_null_with_a_quirk(total: str) -> None:
    """The validator reads it as an infinite number and JSON writes that as null."""
    call = plan("trackPurchase", order(total=total))
    assert isinstance(call, PlannedCall)
    assert call.body["amount"] is None
    assert [(w.field, w.quirk) for w in call.warnings] == [("amount", True)]
    assert json.loads(json_line(to_record(call)))["request"]["body"]["amount"] is None


@pytest.mark.parametrize("total", [" ", "  ", "\t\n"])
def test_blank_text_is_sent_as_zero_with_a_quirk(total: str) -> None:
    call = plan("trackPurchase", order(total=total))
    assert isinstance(call, PlannedCall)
    assert call.body["amount"] == 0
    assert [(w.field, w.quirk) for w in call.warnings] == [("amount", True)]


def test_integer_text_beyond_2_53_is_the_nearest_double() -> None:
    assert body("trackPurchase", order(total="9" * 300))["amount"] == 1e300
    assert body("trackPurchase", order(total="0x" + "f" * 200))["amount"] == float(16**200 - 1)
    assert body("trackPurchase", order(total="9007199254740993"))["amount"] == 9007199254740992


def test_integers_beyond_2_53_are_read_as_javascript_reads_them() -> None:
    """JSON.parse gives the nearest double: the destination sends its shortest digits."""
    call = plan("trackCustomer", {"userId": 12345678901234567890123, "traits": {"email": "e"}})
    assert isinstance(call, PlannedCall)
    assert call.body["customerId"] == "1.2345678901234568e+22"
    assert [(w.field, w.quirk) for w in call.warnings] == [("customerId", True)]
    amount = body("trackPurchase", order(total=12345678901234567890))["amount"]
    assert json_line(amount) == "12345678901234567000\n"


def test_free_form_numbers_too_long_for_the_converters_become_null() -> None:
    """Found by fuzzing: to-integer raised on 5000 digits (friendbuyAttributes members are
    converted, not validated).  parseInt and parseFloat make Infinity of them: null."""
    digits = "1" * 5000
    customer = {"userId": "u", "traits": {"email": "a@b.c", "friendbuyAttributes": {"age": digits}}}
    assert body("trackCustomer", customer)["age"] is None
    products = [{"price": "1" * 400}, {"price": "2.5", "quantity": digits}]
    call = plan("trackPurchase", order(friendbuyAttributes={"products": products}))
    assert isinstance(call, PlannedCall)
    assert [(p["price"], p["quantity"]) for p in call.body["products"]] == [
        (None, 1),
        (2.5, None),
    ]
    assert [w.field for w in call.warnings] == ["products/0/price", "products/1/quantity"]
    assert json.loads(json_line(to_record(call)))["request"]["body"] == call.body
    event = {"event": "E", "userId": "u", "properties": {"age": digits}}
    direct = plan("trackCustomEvent", event, mode="direct")
    assert isinstance(direct, PlannedCall)
    assert direct.body["customer"]["age"] is None


def test_large_integral_amounts_are_written_as_javascript_writes_them() -> None:
    assert json.dumps(body("trackPurchase", order(total=1e16))["amount"]) == "10000000000000000"
    assert json.dumps(body("trackPurchase", order(total=1e21))["amount"]) == "1e+21"
