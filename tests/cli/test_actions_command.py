"""``fbcli actions`` and ``fbcli.catalog``: docs made of the definitions, agreeing with the code."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pytest

from fbcli.actions import ACTIONS, Action
from fbcli.actions.base import MODES, BodyMap, KeyRule, Mode, build_body, converter
from fbcli.catalog import (
    Landing,
    describe_action,
    describe_actions,
    describe_default,
    describe_field,
    markdown_action,
    markdown_code,
    markdown_reference,
    suggest_action_name,
)
from fbcli.events import Event
from fbcli.mappings import load_mappings
from fbcli.plan import PlannedCall, lift_properties, plan_subscription
from fbcli.validation import load_schema
from tests.support import RunCli

# -- the catalog agrees with the engine ------------------------------------------------

SAMPLE_VALUES: dict[str, Any] = {
    "string": "s-1",
    "integer": "7",
    "number": "2.5",
    "boolean": True,
    "date": "2020-01-02",
    "datetime": "2020-01-02T03:04:05Z",
    "uri": "https://example.com/a",
    "object": {"member": "m-1"},
    "string list": ["a"],
    "products": [{"price": 1}],
}
CONVERTED: dict[str, tuple[Any, Any]] = {
    "to-string": (98765, "98765"),
    "to-integer": ("99", 99),
    "to-number": ("12.5", 12.5),
    "date": ("2020-01-02", {"year": 2020, "month": 1, "day": 2}),
}


def _at(body: dict[str, Any], key: str) -> Any:
    node: Any = body
    for part in key.split("."):
        assert isinstance(node, dict)
        assert part in node, f"{key} not in {body}"
        node = node[part]
    return node


def _mentions(body: Any, key: str) -> bool:
    if isinstance(body, dict):
        return key in body or any(_mentions(v, key) for v in body.values())
    return False


def _build(action: Action, mode: Mode, payload: dict[str, Any]) -> dict[str, Any]:
    body = build_body(action.body_maps[mode], lift_properties(action, payload))
    assert body is not None
    return body


def _check_landing(body_map: BodyMap, name: str, lands: Landing, value: Any) -> None:
    """Build a body from one key (plus an id, so nested customers are kept) and look."""
    base = {"customerId": "c-1"} if name != "customerId" else {}
    if lands.kind == "key":
        assert lands.key is not None
        raw, expected = CONVERTED[lands.convert] if lands.convert else (value, value)
        body = build_body(body_map, {**base, name: raw})
        assert body is not None
        if body_map.rules[name].items is not None:  # each item is built: checked on its own
            assert len(_at(body, lands.key)) == len(raw)
        else:
            assert _at(body, lands.key) == expected
    elif lands.kind == "additionalProperties":
        body = build_body(body_map, {**base, name: "text"})
        assert body is not None
        assert body["additionalProperties"][name] == "text"
    elif lands.kind == "top-level":
        body = build_body(body_map, {**base, name: "text"})
        assert body is not None
        assert body[name] == "text"
    else:
        assert lands.kind == "not-sent"
        body = build_body(body_map, {**base, name: "text"}) or {}
        assert not _mentions(body, name)
        assert "text" not in json.dumps(body)


@pytest.mark.parametrize(
    ("action", "mode"),
    [(a, m) for a in ACTIONS.values() for m in MODES if m in a.modes],
    ids=lambda v: v.name if isinstance(v, Action) else v,
)
def test_every_documented_landing_is_what_build_body_does(action: Action, mode: Mode) -> None:
    doc = describe_action(action, mode)
    assert [f.name for f in doc.fields] == [f.name for f in action.fields_in(mode)]
    body_map = action.body_maps[mode]
    for f in doc.fields:
        lands = f.body[mode]
        value = SAMPLE_VALUES[f.type]
        if lands.kind == "spread":
            body = _build(action, mode, {"customerId": "c-1", f.name: {"zz": "spread-me"}})
            assert f.name not in body
            assert "spread-me" in json.dumps(body)
        elif lands.kind == "lifted":
            body = _build(action, mode, {"customerId": "c-1", f.name: {"lifted": "up"}})
            assert f.name not in json.dumps(body)
            assert "up" in json.dumps(body)
        elif lands.kind == "push-type":
            assert action.direct_type is None
        else:
            _check_landing(body_map, f.name, lands, value)
        for item in f.items:
            rule = body_map.rules[f.name]
            assert rule.items is not None
            _check_landing(rule.items, item.name, item.body[mode], SAMPLE_VALUES[item.type])
    for key, lands in doc.other_keys.get(mode, ()):
        _check_landing(body_map, key, lands, "v")
    if mode in doc.unmapped:
        _check_landing(body_map, "someUnknownKey", doc.unmapped[mode], "v")


def test_the_push_type_field_is_the_one_plan_pushes() -> None:
    doc = describe_action(ACTIONS["trackCustomEvent"], "direct")
    (push_type,) = [f for f in doc.fields if f.body["direct"].kind == "push-type"]
    config = load_mappings(
        "version: 1\nmode: direct\nmerchant_id: 1993d0f1-8206-4336-8c88-64e170f2419e\n"
        'subscriptions:\n  - name: C\n    action: trackCustomEvent\n    trigger: type = "track"\n'
        f"    mapping:\n      {push_type.name}: the_type\n",
        path="m.yaml",
    )
    event = Event("e", 1, {"type": "track", "event": "Download", "userId": "u", "properties": {}})
    call = plan_subscription(event, config.subscriptions[0], mode="direct", base_url="")
    assert isinstance(call, PlannedCall)
    assert call.push is not None
    assert call.push[1] == "the_type"
    assert "the_type" not in json.dumps(call.body)


def test_required_and_types_come_from_the_definitions_and_the_schema() -> None:
    for action in ACTIONS.values():
        schema = load_schema(action.name)
        doc = describe_action(action)
        for f, field in zip(doc.fields, action.fields, strict=True):
            assert f.type == field.type.replace("_", " ")
            assert f.description == schema["properties"][f.name]["description"]
            assert set(f.required) == set(field.required) & set(doc.modes) & field.modes
    (products,) = [f for f in describe_action(ACTIONS["trackPurchase"]).fields if f.items]
    price = next(i for i in products.items if i.name == "price")
    assert price.required == ("cloud", "direct")
    assert price.type == "number"
    sku = next(i for i in products.items if i.name == "sku")
    assert sku.default == "unknown"


# -- rendering pieces ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mapping", "plain", "markdown"),
    [
        (None, "(none)", "(none)"),
        ({"@path": "$.a.b"}, "$.a.b", "`$.a.b`"),
        ({"@template": "{{a}} {{b}}"}, "{{a}} {{b}} (template)", "`{{a}} {{b}}` (template)"),
        (
            {
                "@if": {
                    "exists": {"@path": "$.x"},
                    "then": {"@path": "$.x"},
                    "else": {"@path": "$.y"},
                }
            },
            "$.x if it exists, else $.y",
            "`$.x` if it exists, else `$.y`",
        ),
        (
            {"@if": {"exists": {"@path": "$.c"}, "then": "yes", "else": {"@path": "$.y"}}},
            '"yes" if $.c exists, else $.y',
            '`"yes"` if `$.c` exists, else `$.y`',
        ),
        (
            {"@if": {"blank": {"@path": "$.c"}, "then": {"@path": "$.c"}}},
            "$.c if it is not blank, else nothing",
            "`$.c` if it is not blank, else nothing",
        ),
        ({"@if": {"exists": {"@path": "$.c"}}}, "nothing if $.c exists, else nothing", None),
        ("USD", '"USD"', '`"USD"`'),
        (
            {"@case": {"value": "a", "mode": "upper"}},
            '{"@case":{"value":"a","mode":"upper"}}',
            None,
        ),
        ({"a": 1, "b": 2}, '{"a":1,"b":2}', None),
    ],
)
def test_describe_default(mapping: Any, plain: str, markdown: str | None) -> None:
    assert describe_default(mapping) == plain
    if markdown is not None:
        assert describe_default(mapping, markdown_code) == markdown


def test_markdown_code_escapes_pipes_and_backticks() -> None:
    assert markdown_code("a|b") == "`a\\|b`"
    assert markdown_code("a`b") == "`` a`b ``"


@pytest.mark.parametrize(
    ("landing", "text"),
    [
        (Landing("key", "customer.id", "to-string"), "customer.id (to-string)"),
        (Landing("key", "email"), "email"),
        (Landing("additionalProperties"), "additionalProperties (as text)"),
        (Landing("top-level"), "top level"),
        (Landing("not-sent"), "not sent"),
        (Landing("spread"), "spread into the top level"),
        (Landing("lifted"), "each member lifted to the top"),
        (Landing("push-type"), "the push type, not in the payload"),
        (Landing("absent"), "—"),
    ],
)
def test_landing_texts(landing: Landing, text: str) -> None:
    assert landing.describe() == text
    assert landing.to_dict()["kind"] == landing.kind


def test_a_converter_is_shown_by_its_own_name() -> None:
    @converter("to-upper-case")
    def to_upper_case(value: Any) -> Any:
        return value

    action = ACTIONS["trackSignUp"]
    cloud = action.body_maps["cloud"]
    patched = replace(
        action,
        body_maps={
            **action.body_maps,
            "cloud": replace(
                cloud, rules={**cloud.rules, "email": KeyRule(("email",), to_upper_case)}
            ),
        },
    )
    email = next(f for f in action.fields if f.name == "email")
    assert describe_field(patched, email, "cloud").body["cloud"] == Landing(
        "key", "email", "to-upper-case"
    )


def test_describe_rejects_a_mode_the_action_lacks_and_filters_fields() -> None:
    with pytest.raises(ValueError, match="does not exist in cloud mode"):
        describe_action(ACTIONS["trackPage"], "cloud")
    cloud = describe_action(ACTIONS["trackPurchase"], "cloud")
    assert cloud.modes == ("cloud",)
    assert cloud.action_modes == ("cloud", "direct")
    assert cloud.push is None
    assert cloud.push_type is None
    assert cloud.endpoint == "POST /v1/event/purchase"
    direct = describe_action(ACTIONS["trackPurchase"], "direct")
    assert "ipAddress" not in [f.name for f in direct.fields]
    assert direct.endpoint is None
    assert direct.push == '["track", "purchase", P, true]'
    assert describe_action(ACTIONS["trackCustomEvent"]).push == '["track", "<eventType>", P]'
    assert [d.name for d in describe_actions("cloud")] == [
        "trackCustomer",
        "trackPurchase",
        "trackSignUp",
        "trackCustomEvent",
    ]
    page = describe_action(ACTIONS["trackPage"])
    assert page.carriers == ()
    assert page.other_keys == {}
    assert page.unmapped == {}


def test_suggest_action_name() -> None:
    assert suggest_action_name("trackPurchse") == "trackPurchase"
    assert suggest_action_name("TRACKPAGE") == "trackPage"
    assert suggest_action_name("zzz") is None


def test_markdown_of_one_action_in_one_mode() -> None:
    text = markdown_action(describe_action(ACTIONS["trackPurchase"], "cloud"))
    assert text.startswith("#### trackPurchase\n")
    assert "| field | type | default mapping | required | cloud body |\n" in text
    assert "direct" not in text.split("\n", 3)[3].split("|---")[0]
    assert "Each item of `products`" in text
    assert "customer.id" not in text


# -- the command -----------------------------------------------------------------------


def _flat(text: str) -> str:
    """The output with wrapping undone (runs of whitespace become one space)."""
    return " ".join(text.split())


def _widest(text: str) -> int:
    return max(len(line.rstrip()) for line in text.splitlines())


def test_actions_lists_the_five(run_cli: RunCli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    result = run_cli("actions")
    assert result.exit_code == 0
    for action in ACTIONS.values():
        assert action.name in result.stdout
        assert action.title in result.stdout
    assert "POST /v1/customer" in result.stdout
    assert "push sign_up" in result.stdout
    assert 'type = "identify"' in result.stdout
    assert _widest(result.stdout) <= 80


def test_actions_list_filtered_by_mode(run_cli: RunCli) -> None:
    result = run_cli("actions", "--mode", "cloud")
    assert result.exit_code == 0
    assert "trackPage" not in result.stdout
    assert "push " not in result.stdout


@pytest.mark.parametrize("name", list(ACTIONS))
def test_actions_name_shows_every_field_at_80_columns(
    run_cli: RunCli, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    result = run_cli("actions", name)
    assert result.exit_code == 0
    assert _widest(result.stdout) <= 80
    for field in ACTIONS[name].fields:
        assert field.name in result.stdout
    assert f"fbcli actions {name} --schema" in result.stdout


def test_actions_name_content(run_cli: RunCli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    result = run_cli("actions", "trackPurchase")
    assert result.exit_code == 0
    out = _flat(result.stdout)
    assert "$.properties.customerId if it exists, else $.userId" in out
    assert "direct: customer.id (to-string)" in out
    assert "spread into the top level" in out
    assert "Each item of products" in out
    assert "imageUrl" in out
    assert "a warning, not an error" in out
    custom = run_cli("actions", "trackCustomEvent", "--mode", "cloud")
    assert custom.exit_code == 0
    assert "each member lifted to the top" in _flat(custom.stdout)
    assert "coupon → couponCode" in _flat(custom.stdout)
    assert "direct" not in custom.stdout
    assert "required (cloud)" not in custom.stdout
    page = run_cli("actions", "trackPage")
    assert page.exit_code == 0
    assert "a warning" not in page.stdout


def test_actions_schema(run_cli: RunCli) -> None:
    result = run_cli("actions", "trackSignUp", "--schema")
    assert result.exit_code == 0
    assert json.loads(result.stdout) == load_schema("trackSignUp")
    assert result.stdout.startswith("{\n  ")


def test_actions_markdown(run_cli: RunCli) -> None:
    result = run_cli("actions", "--markdown")
    assert result.exit_code == 0
    assert result.stdout == markdown_reference()
    one = run_cli("actions", "trackPage", "--markdown")
    assert one.exit_code == 0
    assert one.stdout == markdown_action(describe_action(ACTIONS["trackPage"]))
    direct = run_cli("actions", "--markdown", "--mode", "direct")
    assert direct.exit_code == 0
    assert direct.stdout == markdown_reference("direct")
    assert "ipAddress" not in direct.stdout


def test_actions_json(run_cli: RunCli) -> None:
    listing = run_cli("actions", "--format", "json", "--mode", "direct")
    assert listing.exit_code == 0
    actions = json.loads(listing.stdout)["actions"]
    assert [a["name"] for a in actions] == [a for a in ACTIONS if a != "trackPage"] + ["trackPage"]
    assert actions[0]["modes"] == ["cloud", "direct"]
    assert actions[0]["endpoint"] is None
    assert actions[0]["push_type"] == "customer"
    one = run_cli("actions", "trackPurchase", "-f", "json")
    assert one.exit_code == 0
    doc = json.loads(one.stdout)
    fields = {f["name"]: f for f in doc["fields"]}
    assert list(fields) == [f.name for f in ACTIONS["trackPurchase"].fields]
    customer_id = fields["customerId"]
    assert customer_id["default"]["@if"]["else"] == {"@path": "$.userId"}
    assert customer_id["body"]["direct"] == {
        "kind": "key",
        "key": "customer.id",
        "convert": "to-string",
        "text": "customer.id (to-string)",
    }
    assert customer_id["required"] == []
    assert fields["products"]["items"][3]["name"] == "price"
    assert doc["unmapped"] == {
        "cloud": {"kind": "additionalProperties"},
        "direct": {"kind": "top-level"},
    }
    assert doc["other_keys"] == {"cloud": {}, "direct": {}}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["trackPurchse"], "unknown action 'trackPurchse' (did you mean 'trackPurchase'?)"),
        (["nothing"], "unknown action 'nothing'"),
        (["trackPage", "--mode", "cloud"], "trackPage does not exist in cloud mode"),
        (["--schema"], "--schema needs an action NAME"),
        (["trackPage", "--schema", "--markdown"], "give --schema or --markdown, not both"),
        (["--markdown", "--format", "json"], "leave out --format json"),
    ],
)
def test_actions_usage_errors(run_cli: RunCli, args: list[str], message: str) -> None:
    result = run_cli("actions", *args)
    assert result.exit_code == 2
    assert message in result.stderr
    assert result.stdout == ""


def test_unknown_action_without_a_close_name_has_no_guess(run_cli: RunCli) -> None:
    result = run_cli("actions", "nothing")
    assert result.exit_code == 2
    assert "did you mean" not in result.stderr
    assert "actions: trackCustomer, trackPurchase" in result.stderr
