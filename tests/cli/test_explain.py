"""``fbcli explain``: one event's journey, checked against the one planning path."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from fbcli.errors import ConfigError
from fbcli.events import Event, LineError, read_events
from fbcli.explain import (
    Explanation,
    FieldTrace,
    Landing,
    SubscriptionTrace,
    explain_event,
    explanation_to_dict,
    find_event,
)
from fbcli.mappings import MappingConfig, default_mappings, load_mappings
from fbcli.plan import DEFAULT_BASE_URL, Rejection, Unmatched, plan_event, to_record
from fbcli.report.explain import explanation_tree, render_explanation, render_line_error
from fbcli.values import MISSING
from tests.support import REPO, SAMPLES, RunCli

EVENTS = SAMPLES / "events.jsonl"
CLOUD = REPO / "mappings.yaml"
DIRECT = SAMPLES / "mappings.direct.yaml"
MERCHANT = "1993d0f1-8206-4336-8c88-64e170f2419e"


def load(path: Path) -> MappingConfig:
    return load_mappings(path.read_bytes(), path=path.name)


def config_of(text: str) -> MappingConfig:
    return load_mappings(text, path="m.yaml")


def items(path: Path = EVENTS) -> list[Event | LineError]:
    with path.open("rb") as stream:
        return list(read_events(stream, path.name))


def sample_events() -> list[Event]:
    return [e for e in items() if isinstance(e, Event)]


def explain(data: dict[str, Any], config: MappingConfig | None = None) -> Explanation:
    return explain_event(
        Event("e.jsonl", 1, data), config or default_mappings(), base_url=DEFAULT_BASE_URL
    )


def applied(explanation: Explanation, index: int = 0) -> SubscriptionTrace:
    return [s for s in explanation.subscriptions if s.applied][index]


def field(explanation: Explanation, name: str, index: int = 0) -> FieldTrace:
    return next(f for f in applied(explanation, index).fields if f.field == name)


def render(explanation: Explanation, width: int = 100) -> str:
    out = io.StringIO()
    render_explanation(Console(file=out, width=width, color_system=None), explanation)
    return out.getvalue()


ORDER = {"type": "track", "event": "Order Completed", "userId": "u1"}


def order(**properties: Any) -> dict[str, Any]:
    return {**ORDER, "properties": {"order_id": "o1", "total": 10, "currency": "USD", **properties}}


# -- the same calls as plan_event --------------------------------------------------------


@pytest.mark.parametrize("mappings", [CLOUD, DIRECT], ids=["cloud", "direct"])
def test_the_calls_are_those_plan_event_makes(mappings: Path) -> None:
    config = load(mappings)
    for event in sample_events():
        explanation = explain_event(event, config, base_url=DEFAULT_BASE_URL)
        planned = plan_event(event, config)
        if isinstance(planned, Unmatched):
            assert explanation.status == "unmatched"
            assert explanation.calls == ()
            continue
        assert [to_record(c) for c in explanation.calls] == [to_record(c) for c in planned]
        subscriptions = explanation_to_dict(explanation)["subscriptions"]
        for call, sub in zip(planned, [s for s in subscriptions if "status" in s], strict=True):
            record = to_record(call)
            assert sub["status"] == record["status"]
            for key in ("request", "push"):
                assert sub.get(key) == record.get(key)
            assert [{k: v for k, v in e.items() if k != "hint"} for e in sub["errors"]] == (
                record.get("errors", [])
            )


def test_every_sent_value_is_read_from_the_final_body() -> None:
    config = load(CLOUD)
    for event in sample_events():
        explanation = explain_event(event, config, base_url=DEFAULT_BASE_URL)
        for trace in explanation.subscriptions:
            if trace.call is None or isinstance(trace.call, Rejection):
                continue
            for f in trace.fields:
                if f.landing is not None and f.landing.target is not None:
                    assert f.sent is not MISSING, (event.line, f.field)


def invalid_sample_lines() -> list[int]:
    config = load(CLOUD)
    lines = []
    for item in items():
        if isinstance(item, LineError):
            lines.append(item.line)
            continue
        planned = plan_event(item, config)
        if not isinstance(planned, Unmatched) and any(isinstance(c, Rejection) for c in planned):
            lines.append(item.line)
    return lines


def test_the_samples_hold_invalid_and_malformed_events() -> None:
    assert invalid_sample_lines() == [5, 6, 8, 10, 13, 14, 15]


@pytest.mark.parametrize("line", invalid_sample_lines())
def test_the_cause_and_its_source_are_on_the_first_screen(run_cli: RunCli, line: int) -> None:
    result = run_cli("explain", str(EVENTS), "--line", str(line), "-m", str(CLOUD))
    assert result.exit_code == 1
    screen = "\n".join(result.stdout.splitlines()[:40])
    item = next(i for i in items() if i.line == line)
    if isinstance(item, LineError):
        assert "malformed" in screen
        assert item.message.split(":")[0] in screen
        return
    explanation = explain_event(item, load(CLOUD), base_url=DEFAULT_BASE_URL)
    flat = " ".join(screen.replace("│", " ").split())
    for trace in explanation.subscriptions:
        for problem in trace.errors:
            assert " ".join(problem.message.split()) in flat
            assert problem.source is not None
            assert problem.source in flat


def test_the_invalid_samples_get_hints() -> None:
    config = load(CLOUD)
    hints = {}
    for event in sample_events():
        for trace in explain_event(event, config, base_url=DEFAULT_BASE_URL).subscriptions:
            hints.update({(event.line, p.field): p.hint for p in trace.errors})
    assert hints == {
        (5, "currency"): None,
        (6, "amount"): '"forty-two" is a string that is not a number',
        (8, "birthday"): "write the date as YYYY-MM-DD: 1990-12-25",
        (14, "email"): None,
        (15, "products/0/quantity"): '"1.5" is not a whole number, and quantity must be one',
    }


# -- triggers ------------------------------------------------------------------------------


def test_each_comparison_shows_the_value_the_event_holds() -> None:
    explanation = explain({"type": "track", "event": "Order Placed"})
    purchases = explanation.subscriptions[1]
    assert not purchases.matched
    assert [(c.test, c.result, c.actual) for c in purchases.checks] == [
        ('type = "track"', True, "track"),
        ('event = "Order Completed"', False, "Order Placed"),
    ]
    assert explanation.status == "unmatched"
    out = render(explanation)
    assert '✓ type = "track"  (type is "track")' in out
    assert '✗ event = "Order Completed"  (event is "Order Placed")' in out
    assert "→ unmatched: no enabled subscription's trigger matches" in out


@pytest.mark.parametrize(
    ("trigger", "data", "hint"),
    [
        ('event = "Order Completed"', {"event": "Order completed"}, "differs only in letter case"),
        ('event = "Order Completed"', {"event": "Order Completed "}, "differs only in spaces"),
        ('event = "Order Completed"', {"event": "Order Placed"}, None),
        (
            'properties.total = "10"',
            {"properties": {"total": 10}},
            "types are strict: the event has the number 10, not a string",
        ),
        (
            'properties.vip = "true"',
            {"properties": {"vip": True}},
            "types are strict: the event has the boolean true, not a string",
        ),
        (
            "properties.total = 10",
            {"properties": {"total": "10.0"}},
            'types are strict: the event has the string "10.0"',
        ),
        (
            "properties.vip = true",
            {"properties": {"vip": "true"}},
            'types are strict: the event has the string "true"',
        ),
        ("properties.vip = true", {"properties": {"vip": "yes"}}, None),
        ("properties.total = 10", {"properties": {"total": [10]}}, None),
        ("properties.plan = null", {"properties": {"plan": "x"}}, None),
        ("properties.total > 10", {"properties": {"total": 5}}, None),
        ('match(event, "Video *")', {"event": "video played"}, "would match ignoring letter case"),
        ('contains(event, "Video")', {"event": "Audio"}, None),
        ('match(event, "Video *")', {"event": 5}, None),
        (
            'properties.plan = "pro"',
            {"properties": {"Plan": "pro"}},
            "the event has properties.Plan (not plan)",
        ),
        ('plan = "pro"', {"PLAN": "pro"}, "the event has PLAN (not plan)"),
        ('properties.plan = "pro"', {"properties": {"tier": "pro"}}, None),
        ('properties.plan = "pro"', {}, None),
        ('!(event = "x") and event = "y"', {"event": "x"}, None),
    ],
)
def test_a_near_miss_in_a_trigger_gets_a_hint(
    trigger: str, data: dict[str, Any], hint: str | None
) -> None:
    config = config_of(
        f"version: 1\nsubscriptions:\n  - name: S\n    action: trackCustomer\n"
        f"    trigger: {json.dumps(trigger)}\n"
    )
    explanation = explain(data, config)
    check = explanation.subscriptions[0].checks[0]
    assert check.result is trigger.startswith("!")
    check = next(c for c in explanation.subscriptions[0].checks if not c.result)
    assert check.hint == hint
    if hint:
        assert f"{check.path} " in render(explanation)
        assert f": {hint})" in " ".join(render(explanation).replace("│", " ").split())


def test_disabled_subscriptions_are_shown_but_not_applied() -> None:
    config = load(CLOUD)
    explanation = explain(
        {"type": "track", "event": "Newsletter Subscribed", "userId": "u"}, config
    )
    newsletter = explanation.subscriptions[-1]
    assert newsletter.matched
    assert not newsletter.enabled
    assert not newsletter.applied
    assert explanation.status == "unmatched"
    assert (
        "Newsletter sign-ups → trackCustomEvent  line 23: disabled, not applied (would match)"
        in (render(explanation))
    )


# -- fields: where they come from and where they land ----------------------------------------


def test_file_overrides_name_their_line_and_constants_show() -> None:
    config = config_of(
        "version: 1\n"
        "subscriptions:\n"
        "  - name: P\n"
        "    action: trackPurchase\n"
        '    trigger: type = "track"\n'
        "    mapping:\n"
        "      amount: {'@path': '$.properties.revenue'}\n"
        "      currency: USD\n"
        "      coupon: null\n"
        "      orderId: {'@template': 'order-{{properties.order_id}}'}\n"
    )
    explanation = explain(order(revenue=12, coupon="C"), config)
    amount = field(explanation, "amount")
    assert (amount.origin, amount.line, amount.sources, amount.raw) == (
        "file",
        7,
        ("$.properties.revenue",),
        12,
    )
    currency = field(explanation, "currency")
    assert (currency.origin, currency.mapping, currency.sources) == ("file", "USD", ())
    coupon = field(explanation, "coupon")
    assert (coupon.origin, coupon.raw, coupon.landing) == ("unmapped", MISSING, None)
    out = render(explanation)
    assert "amount ← $.properties.revenue (m.yaml:7)" in out
    assert 'currency ← constant "USD" (m.yaml:8)' in out
    assert "orderId ← @template $.properties.order_id (m.yaml:10)" in out
    assert "unmapped: coupon" in out
    data = explanation_to_dict(explanation)["subscriptions"][0]["fields"]
    assert data[1] == {
        "field": "amount",
        "type": "number",
        "required": True,
        "origin": "file",
        "line": 7,
        "mapping": {"@path": "$.properties.revenue"},
        "sources": ["$.properties.revenue"],
        "raw": 12,
        "value": 12,
        "target": "amount",
        "note": "to-number",
        "sent": 12,
    }


def test_a_directive_without_paths_is_shown_by_its_argument() -> None:
    config = config_of(
        "version: 1\nsubscriptions:\n  - name: P\n    action: trackPurchase\n"
        "    trigger: type = \"track\"\n    mapping:\n      currency: {'@literal': USD}\n"
    )
    assert 'currency ← @literal "USD" (m.yaml:7)' in render(explain(order(), config))


def test_cloud_landings() -> None:
    data = {
        "type": "identify",
        "userId": 98765,
        "anonymousId": "anon-1",
        "context": {"ip": "8.8.8.8", "page": {"url": "https://x.example/"}},
        "traits": {
            "email": "a@example.com",
            "age": "99",
            "name": "",
            "language": None,
            "address": {"postalCode": 99999},
            "friendbuyAttributes": {"gender": "f", "email": "b@example.com", "n": None, "e": ""},
        },
    }
    explanation = explain(data)
    landings = {f.field: f.landing for f in applied(explanation).fields}
    assert landings["customerId"] == Landing(("customerId",), "to-string")
    assert landings["age"] == Landing(("age",), "to-integer")
    assert landings["anonymousId"] == Landing(("additionalProperties", "anonymousId"), "as text")
    assert landings["addressPostalCode"] == Landing(("zipCode",), "to-string")
    assert landings["pageUrl"] == Landing(None, "not sent")
    assert landings["name"] == Landing(None, "dropped as empty")
    assert landings["language"] == Landing(None, "dropped as empty")
    assert landings["lastName"] is None
    assert landings["friendbuyAttributes"] == Landing(None, "spread into the top level")
    customer_id = field(explanation, "customerId")
    assert (customer_id.raw, customer_id.value, customer_id.sent) == (98765, "98765", "98765")
    members = {
        m.key: (m.landing.describe(), m.sent)
        for m in field(explanation, "friendbuyAttributes").members
    }
    assert members == {
        "gender": ("gender", "f"),
        "email": ("not sent: the key email wins", MISSING),
        "n": ("additionalProperties.n (as text)", "null"),
        "e": ("dropped as empty", MISSING),
    }
    out = render(explanation)
    assert '98765 → "98765" → customerId (to-string)' in out
    assert '"anon-1" → additionalProperties.anonymousId (as text)' in out
    assert "null → dropped as empty" in out
    assert 'n: null → additionalProperties.n (as text) = "null"' in out


def test_custom_events_lift_each_property() -> None:
    config = load(CLOUD)
    data = {
        "type": "track",
        "event": "Download",
        "userId": "u1",
        "properties": {"fileId": 7, "email": "a@example.com", "coupon": "C", "empty": {}},
    }
    explanation = explain(data, config)
    lifted = field(explanation, "eventProperties")
    assert lifted.landing == Landing(None, "each member lifted to the top level")
    members = {m.key: m.landing.describe() for m in lifted.members}
    assert members == {
        "fileId": "additionalProperties.fileId (as text)",
        "email": "not sent: the field email wins",
        "coupon": "couponCode",
        "empty": "dropped as empty",
    }
    assert field(explanation, "customerId").landing == Landing(
        ("additionalProperties", "customerId"), "as text"
    )
    assert field(explanation, "ipAddress").landing is None
    assert 'fileId: 7 → additionalProperties.fileId (as text) = "7"' in render(explanation)


def test_direct_mode_landings() -> None:
    config = load(DIRECT)
    explanation = explain(
        {
            "type": "track",
            "event": "Video Played",
            "userId": 42,
            "properties": {"friendbuyAttributes": {"a": 1}, "position": 3},
        },
        config,
    )
    assert field(explanation, "eventType").landing == Landing(None, "the push type")
    assert field(explanation, "customerId").landing == Landing(("customer", "id"), "to-string")
    assert field(explanation, "ipAddress").landing == Landing(None, "not sent in this mode")
    assert field(explanation, "ipAddress").origin == "other mode"
    members = {m.key: m.landing.describe() for m in field(explanation, "eventProperties").members}
    assert members == {
        "friendbuyAttributes": "spread into the top level",
        "position": "position (top level)",
    }
    out = render(explanation)
    assert f'setup: friendbuyAPI.push(["merchant", "{MERCHANT}"])' in out
    assert "not sent in this mode: ipAddress, userAgent, pageUrl, pageTitle" in out
    assert 'push: friendbuyAPI.push(["track", "Video Played", <payload>])' in out
    assert "! required field 'email' is missing" not in out  # email is not required in direct mode
    page = explain({"type": "page", "name": "Home"}, config)
    assert 'push: friendbuyAPI.push(["track", "page", <payload>, true])' in render(page)
    assert explanation_to_dict(page)["setup"] == ["merchant", MERCHANT]


def test_a_purchase_customer_without_an_id_is_dropped_in_direct_mode() -> None:
    config = load(DIRECT)
    explanation = explain(
        {
            "type": "track",
            "event": "Order Completed",
            "properties": {
                "order_id": "o1",
                "total": 5,
                "currency": "USD",
                "email": "a@example.com",
            },
        },
        config,
    )
    assert explanation.status == "planned"
    assert field(explanation, "email").landing == Landing(
        None, "not sent: customer.email is dropped with a customer that has no id"
    )


def test_landings_are_shown_for_a_rejected_call_too() -> None:
    explanation = explain(order(friendbuyAttributes="x"))
    assert explanation.status == "invalid"
    assert field(explanation, "friendbuyAttributes").landing == Landing(
        None, "not sent (not an object)"
    )
    assert field(explanation, "orderId").landing == Landing(("orderId",), "to-string")
    assert field(explanation, "orderId").sent is MISSING


def test_direct_mode_warnings_and_no_supported_fields() -> None:
    config = load(DIRECT)
    explanation = explain(
        {"type": "track", "event": "Signed Up", "properties": {"x": None}}, config
    )
    trace = applied(explanation)
    assert [w.field for w in trace.warnings] == ["customerId", "email"]
    assert [(p.field, p.message, p.hint) for p in trace.errors] == [
        (None, "no supported fields: nothing would be sent", None)
    ]
    out = render(explanation)
    assert (
        "! required field 'customerId' is missing (the browser SDK sends the call anyway) — mapped"
        in out
    )
    assert "✗ no supported fields: nothing would be sent" in out
    hinted = explain(
        {"type": "track", "event": "Signed Up", "userId": "u", "properties": {"Email": "e@x"}},
        config,
    )
    [warning] = applied(hinted).warnings
    assert warning.hint == (
        'the event has properties.Email = "e@x"; to use it, map email: '
        '{"@path": "$.properties.Email"}'
    )
    assert 'hint: the event has properties.Email = "e@x"' in render(hinted)


def test_unusual_landings() -> None:
    config = config_of(
        "version: 1\nmode: direct\nmerchant_id: " + MERCHANT + "\nsubscriptions:\n"
        "  - {name: C, action: trackCustomEvent, trigger: 'type = \"track\"', "
        "mapping: {eventProperties: {'@path': '$.properties.p'}}}\n"
        "  - {name: P, action: trackPage, trigger: 'type = \"track\"', "
        "mapping: {category: {'@path': '$.properties.c'}}}\n"
        "  - {name: S, action: trackSignUp, trigger: 'type = \"track\"', "
        "mapping: {friendbuyAttributes: {'@path': '$.properties.f'}, "
        "birthday: {'@path': '$.properties.b'}}}\n"
    )
    explanation = explain(
        {
            "type": "track",
            "event": "E",
            "userId": "u",
            "properties": {"p": "text", "c": {"x": 1}, "f": {}, "b": {"x": 1}, "email": "e@x"},
        },
        config,
    )
    # The browser destination lifts only an object: text stays, a key of its own.
    assert field(explanation, "eventProperties").landing == Landing(
        ("eventProperties",), "top level"
    )
    assert field(explanation, "category", 1).landing == Landing(("category",), None)
    assert field(explanation, "friendbuyAttributes", 2).landing == Landing(
        None, "spread into the top level"
    )


def test_spreading_an_empty_friendbuy_attributes_sends_nothing() -> None:
    config = config_of(
        "version: 1\nsubscriptions:\n"
        "  - {name: C, action: trackCustomer, trigger: 'type = \"identify\"', "
        "mapping: {friendbuyAttributes: 0}}\n"
    )
    explanation = explain({"type": "identify", "userId": "u", "traits": {"email": "e@x"}}, config)
    assert field(explanation, "friendbuyAttributes").landing == Landing(None, "not sent (empty)")


def test_a_converted_field_names_its_converter_even_when_invalid() -> None:
    explanation = explain(
        {"type": "identify", "userId": "u", "traits": {"email": "e@x", "birthday": {"x": 1}}}
    )
    assert explanation.status == "invalid"
    assert field(explanation, "birthday").landing == Landing(("birthday",), "date")
    empty = explain(order(giftCardCodes=[]))
    assert field(empty, "giftCardCodes").landing == Landing(None, "dropped as empty")


def test_products_are_shown_as_sent() -> None:
    explanation = explain(order(products=[{"sku": 1, "price": 2, "colour": "red"}]))
    products = field(explanation, "products")
    assert products.landing == Landing(("products",), None)
    assert products.value == [{"sku": "1", "price": 2}]
    assert products.sent == [{"sku": "1", "name": "unknown", "quantity": 1, "price": 2}]


# -- errors and their hints ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("properties", "hint"),
    [
        (
            {"revenue": 10},
            (
                "the event has properties.revenue = 10; to use it, map amount: "
                '{"@path": "$.properties.revenue"}'
            ),
        ),
        (
            {"Total": 10, "amount": 11, "value": 12, "price": 13},
            (
                "the event has properties.Total = 10, properties.amount = 11, "
                'properties.value = 12; to use it, map amount: {"@path": "$.properties.Total"}'
            ),
        ),
        ({"total": None}, 'the mapping gives null, and empty values (null, "") are dropped'),
        ({"total": ""}, 'the mapping gives "", and empty values (null, "") are dropped'),
        ({"revenue": None, "value": ""}, None),
        ({"order total": 5}, "the event has properties.order total = 5"),
    ],
)
def test_a_missing_amount_points_at_similar_keys(
    properties: dict[str, Any], hint: str | None
) -> None:
    data = order(**properties)
    if "total" not in properties:
        del data["properties"]["total"]
    explanation = explain(data)
    errors = applied(explanation).errors
    assert [(e.field, e.source, e.hint) for e in errors] == [("amount", "$.properties.total", hint)]


def test_a_key_in_another_container_is_found() -> None:
    explanation = explain({"type": "identify", "userId": "u", "properties": {"email": "e@x"}})
    assert applied(explanation).errors[0].hint == (
        'the event has properties.email = "e@x"; to use it, map email: '
        '{"@path": "$.properties.email"}'
    )
    bare = explain({"type": "identify", "userId": "u"})
    assert applied(bare).errors[0].hint == "the event has no traits"
    traits = explain({"type": "identify", "userId": "u", "traits": {"name": "n"}})
    assert applied(traits).errors[0].hint is None


def test_a_missing_user_id_finds_user_id_spelled_otherwise() -> None:
    explanation = explain({"type": "identify", "user_id": "u", "traits": {"email": "e@x"}})
    assert applied(explanation).errors[0].hint == (
        'the event has user_id = "u"; to use it, map customerId: {"@path": "$.user_id"}'
    )


def test_a_missing_product_price_points_at_the_item() -> None:
    explanation = explain(order(products=[{"sku": "s", "amount": 3}]))
    [error] = applied(explanation).errors
    assert (error.field, error.source) == ("products/0/price", "$.properties.products[0].price")
    assert error.hint == "the event has properties.products[0].amount = 3"


@pytest.mark.parametrize(
    ("total", "hint"),
    [
        ("forty-two", '"forty-two" is a string that is not a number'),
        ("10,50", '"10,50" has a decimal comma; a number uses a dot: 10.50'),
        ("1,234.50", '"1,234.50" has thousands separators; a number has none: 1234.50'),
        ("$10", '"$10" has a currency sign or code; send the number alone: 10'),
        ("10 USD", '"10 USD" has a currency sign or code; send the number alone: 10'),
        ([1, 2], None),
        ({"a": 1}, "the mapping gives an object (keys: a); point it at one of its keys"),
    ],
)
def test_a_bad_amount_gets_a_hint(total: Any, hint: str | None) -> None:
    explanation = explain(order(total=total))
    assert [e.hint for e in applied(explanation).errors] == [hint]


def test_a_bad_amount_mentions_numeric_synonyms() -> None:
    explanation = explain(order(total="n/a", revenue=119.9, value="x"))
    assert applied(explanation).errors[0].hint == (
        '"n/a" is a string that is not a number; the event also has properties.revenue = 119.9'
    )
    listed = explain(order(total=[1, 2], revenue=2))
    assert applied(listed).errors[0].hint == "the event also has properties.revenue = 2"


@pytest.mark.parametrize(
    ("traits", "field_name", "hint"),
    [
        ({"birthday": "25/12/1990"}, "birthday", "write the date as YYYY-MM-DD: 1990-12-25"),
        ({"birthday": "12/25/1990"}, "birthday", "write the date as YYYY-MM-DD: 1990-12-25"),
        (
            {"birthday": "03.04.1990"},
            "birthday",
            "write the date as YYYY-MM-DD: 1990-03-04 if month first, 1990-04-03 if day first",
        ),
        ({"birthday": "1990-12-25T00:00:00Z"}, "birthday", "a date has no time: 1990-12-25"),
        (
            {"birthday": "Dec 25"},
            "birthday",
            "write the date as YYYY-MM-DD (0000 for an unknown year)",
        ),
        (
            {"customerSince": "2024-01-15"},
            "customerSince",
            "add a time, e.g. 2024-01-15T00:00:00Z",
        ),
        ({"customerSince": "yesterday"}, "customerSince", None),
        (
            {"isNewCustomer": "yes"},
            "isNewCustomer",
            'only true and false (or the strings "true" and "false") are booleans',
        ),
        ({"isNewCustomer": 2}, "isNewCustomer", None),
        ({"age": [36, 37]}, "age", None),
        ({"age": "1,5"}, "age", '"1,5" has a decimal comma; a number uses a dot: 1.5'),
        (
            {"email": {"home": "h@x"}},
            "email",
            "the mapping gives an object (keys: home); point it at one of its keys",
        ),
    ],
)
def test_type_and_format_errors_get_hints(
    traits: dict[str, Any], field_name: str, hint: str | None
) -> None:
    data = {"type": "identify", "userId": "u", "traits": {"email": "e@x", **traits}}
    [error] = applied(explain(data)).errors
    assert error.field == field_name
    assert error.hint == hint


@pytest.mark.parametrize(
    ("url", "hint"),
    [
        ("shop.example.com/x", "add the scheme: https://shop.example.com/x"),
        ("//shop.example.com/x", "add the scheme: https://shop.example.com/x"),
        ("not a url", None),
    ],
)
def test_a_relative_page_url_gets_a_hint(url: str, hint: str | None) -> None:
    data = {**order(), "context": {"page": {"url": url}}}
    [error] = applied(explain(data)).errors
    assert (error.field, error.hint) == ("pageUrl", hint)


def test_a_path_to_a_list_item_gets_no_similar_key_hint() -> None:
    config = config_of(
        "version: 1\nsubscriptions:\n  - name: P\n    action: trackPurchase\n"
        '    trigger: type = "track"\n    mapping:\n'
        "      currency: {'@path': '$.properties.c[0]'}\n"
    )
    explanation = explain(order(c=[]), config)
    assert [(e.field, e.hint) for e in applied(explanation).errors] == [("currency", None)]


def test_too_many_additional_properties_is_a_warning_without_a_source() -> None:
    config = load(CLOUD)
    properties = {f"p{i}": i for i in range(11)}
    explanation = explain(
        {
            "type": "track",
            "event": "Download",
            "userId": "u",
            "properties": {"email": "e@x", **properties},
        },
        config,
    )
    assert explanation.status == "planned"
    out = render(explanation)
    assert "! 12 additionalProperties; MAPI keeps at most 10 and silently drops the rest\n" in out


def test_item_errors_other_than_a_field_get_no_hint() -> None:
    explanation = explain(order(products=["x", {"price": "p"}]))
    errors = applied(explanation).errors
    assert [(e.field, e.hint) for e in errors] == [
        ("products/0", None),
        ("products/1/price", '"p" is a string that is not a number'),
    ]


def test_a_product_list_that_is_not_a_list_gets_no_item_hint() -> None:
    config = config_of(
        "version: 1\nsubscriptions:\n  - name: P\n    action: trackPurchase\n"
        '    trigger: type = "track"\n    mapping:\n'
        "      products: {'@template': '{{properties.p}}'}\n"
        "      giftCardCodes: [{'a': 1}]\n"
    )
    explanation = explain(order(p="x"), config)
    assert [(e.field, e.hint) for e in applied(explanation).errors] == [
        ("giftCardCodes/0", None),
        ("products/0", None),
    ]


def test_a_field_pointer_deeper_than_an_item_gets_no_hint() -> None:
    config = config_of(
        "version: 1\nsubscriptions:\n  - name: P\n    action: trackPurchase\n"
        '    trigger: type = "track"\n    mapping:\n'
        "      products: [{'price': 1, 'sku': {'@path': '$.properties.s'}}]\n"
    )
    explanation = explain(order(s={"a": [1]}), config)
    assert [(e.field, e.hint) for e in applied(explanation).errors] == [
        ("products/0/sku", "the mapping gives an object (keys: a); point it at one of its keys"),
    ]


# -- rendering ---------------------------------------------------------------------------------


def test_event_data_is_literal_and_fits_80_columns() -> None:
    data = order(email="[bold red]x[/bold red]\x1b[31m", coupon="[link=x]y\u202e")
    data["properties"]["total"] = "[b]1[/b]"
    data.update({f"k{i}": i for i in range(12)})
    explanation = explain(data)
    out = render(explanation, width=80)
    assert '"[bold red]x[/bold red]\\u001b[31m" → email' in out
    assert '"[link=x]y\\u202e" → couponCode' in out
    assert "\x1b" not in out
    assert "\u202e" not in out
    assert "… 4 more keys" in out
    assert all(len(line) <= 80 for line in out.splitlines())


def test_one_key_more_is_one_key() -> None:
    data = order()
    data.update({f"k{i}": i for i in range(9)})
    out = render(explain(data), width=80)
    assert "… 1 more key\n" in out


def test_the_tree_is_a_rich_tree() -> None:
    tree = explanation_tree(explain(order()))
    assert len(tree.children) == 3


def test_render_line_error() -> None:
    out = io.StringIO()
    render_line_error(
        Console(file=out, width=100, color_system=None),
        LineError("f.jsonl", 3, "invalid JSON at column 2"),
    )
    assert out.getvalue().splitlines() == [
        "f.jsonl line 3 → malformed: the line is not an event, so no trigger or mapping is applied",
        "└── ✗ invalid JSON at column 2",
    ]


def test_several_matches_each_get_a_call() -> None:
    config = config_of(
        "version: 1\nsubscriptions:\n"
        "  - {name: A, action: trackPurchase, trigger: 'type = \"track\"'}\n"
        "  - {name: B, action: trackCustomEvent, trigger: 'type = \"track\"'}\n"
    )
    explanation = explain(order(), config)
    assert explanation.status == "invalid"
    out = render(explanation)
    assert "→ invalid: 1 of 2 calls rejected, not sent (✗ below)" in out
    assert "✓ A → trackPurchase: planned" in out
    assert "✗ B → trackCustomEvent: invalid" in out
    assert "request: none (the event is invalid: nothing is sent)" in out
    assert "→ planned: 1 call planned" in render(explain(order()))


# -- finding the event -------------------------------------------------------------------------


def test_find_event() -> None:
    stream: list[Event | LineError] = [
        Event("f", 1, {"messageId": "a"}),
        LineError("f", 2, "bad"),
        Event("f", 4, {}),
    ]
    assert find_event(stream, source="f", line=2) == stream[1]
    assert find_event(stream, source="f", line=4) == stream[2]
    assert find_event(stream, source="f", message_id="a") == stream[0]
    with pytest.raises(ConfigError, match="no event on line 3: it is blank"):
        find_event(stream, source="f", line=3)
    with pytest.raises(ConfigError, match="no event on line 9: the last non-blank line is 4"):
        find_event(stream, source="f", line=9)
    with pytest.raises(ConfigError, match='no event with messageId "b"'):
        find_event(stream, source="f", message_id="b")
    with pytest.raises(ConfigError, match="empty file"):
        find_event([LineError("f", 0, "empty file: no events")], source="f", line=1)


# -- the command -------------------------------------------------------------------------------


def test_explain_a_planned_event(run_cli: RunCli) -> None:
    result = run_cli("explain", str(EVENTS), "--line", "4", "-m", str(CLOUD))
    assert result.exit_code == 0
    assert "→ planned: 1 call planned" in result.stdout
    assert "request: POST https://mapi.fbot.me/v1/event/purchase" in result.stdout
    assert '"promotion": "spring 2026"' in result.stdout


def test_explain_by_message_id_as_json(run_cli: RunCli) -> None:
    result = run_cli(
        "explain", str(EVENTS), "--message-id", "msg-0006", "-m", str(CLOUD), "-f", "json"
    )
    assert result.exit_code == 1
    out = json.loads(result.stdout)
    assert list(out) == [
        "source",
        "line",
        "messageId",
        "status",
        "mappings",
        "mode",
        "event",
        "subscriptions",
    ]
    assert (out["line"], out["status"]) == (6, "invalid")
    purchases = out["subscriptions"][1]
    assert list(purchases) == [
        "name",
        "action",
        "line",
        "enabled",
        "trigger",
        "matched",
        "checks",
        "status",
        "fields",
        "errors",
        "warnings",
    ]
    assert purchases["errors"] == [
        {
            "field": "amount",
            "source": "$.properties.total",
            "message": "'amount' must be a number, got the string \"forty-two\"",
            "hint": '"forty-two" is a string that is not a number',
        }
    ]
    assert out["subscriptions"][0]["checks"] == [
        {"test": 'type = "identify"', "path": "type", "result": False, "actual": "track"}
    ]


def test_explain_an_unmatched_event(run_cli: RunCli) -> None:
    result = run_cli("explain", str(EVENTS), "--line", "7", "-m", str(CLOUD), "--format", "json")
    assert result.exit_code == 0
    out = json.loads(result.stdout)
    assert out["status"] == "unmatched"
    check = out["subscriptions"][1]["checks"][1]
    assert check == {
        "test": 'event = "Order Completed"',
        "path": "event",
        "result": False,
        "actual": "Order Placed",
    }


NEAR_MISSES = REPO / "tests" / "cases" / "near-misses"


@pytest.mark.parametrize(
    ("line", "code", "expected"),
    [
        (
            1,
            0,
            '(event is "Order completed": differs only in letter case)',
        ),
        (2, 1, "hint: the event has properties.revenue = 10; to use it, map amount:"),
        (3, 1, 'hint: "10,50" has a decimal comma; a number uses a dot: 10.50'),
        (4, 1, 'hint: the event has traits.Email = "four@example.com"; to use it, map email:'),
        (5, 0, '"10.50" → 10.5 → amount (to-number)'),
    ],
)
def test_explain_near_misses(run_cli: RunCli, line: int, code: int, expected: str) -> None:
    events, mappings = str(NEAR_MISSES / "events.jsonl"), str(NEAR_MISSES / "mappings.yaml")
    result = run_cli("explain", events, "--line", str(line), "-m", mappings)
    assert result.exit_code == code
    assert expected in result.stdout
    as_json = run_cli("explain", events, "--line", str(line), "-m", mappings, "--format", "json")
    assert as_json.exit_code == code
    out = json.loads(as_json.stdout)
    if line == 1:
        assert out["subscriptions"][1]["checks"][1]["hint"] == "differs only in letter case"


def test_explain_a_malformed_line(run_cli: RunCli) -> None:
    table = run_cli("explain", str(EVENTS), "--line", "13", "-m", str(CLOUD))
    assert table.exit_code == 1
    assert "✗ expected a JSON object, got an array" in table.stdout
    as_json = run_cli("explain", str(EVENTS), "--line", "13", "-m", str(CLOUD), "-f", "json")
    assert as_json.exit_code == 1
    assert json.loads(as_json.stdout)["status"] == "malformed"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--line", "99"], "Error: no event on line 99: the last non-blank line is 16"),
        (["--message-id", "nope"], 'Error: no event with messageId "nope"'),
        ([], "Error: give exactly one of --line or --message-id"),
        (["--line", "1", "--message-id", "x"], "Error: give exactly one of --line or --message-id"),
    ],
)
def test_no_such_event_is_a_usage_error(run_cli: RunCli, args: list[str], message: str) -> None:
    result = run_cli("explain", str(EVENTS), "-m", str(CLOUD), *args)
    assert result.exit_code == 2
    assert result.stderr.startswith(message)
    assert result.stdout == ""


def test_a_blank_line_and_a_missing_file_are_usage_errors(run_cli: RunCli, tmp_path: Path) -> None:
    events = tmp_path / "e.jsonl"
    events.write_text('{"type": "identify"}\n\n{"type": "identify"}\n', encoding="utf-8")
    blank = run_cli("explain", str(events), "--line", "2")
    assert blank.exit_code == 2
    assert "no event on line 2: it is blank" in blank.stderr
    missing = run_cli("explain", str(tmp_path / "nope.jsonl"), "--line", "1")
    assert missing.exit_code == 2
    assert "no such file" in missing.stderr


def test_explain_reads_standard_input(run_cli: RunCli) -> None:
    result = run_cli(
        "explain",
        "-",
        "--line",
        "1",
        "--format",
        "json",
        stdin='{"type": "identify", "userId": "u"}\n',
    )
    assert result.exit_code == 1
    out = json.loads(result.stdout)
    assert (out["source"], out["mappings"], out["status"]) == ("-", "<built-in default>", "invalid")
