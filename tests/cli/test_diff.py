"""fbcli diff: two mapping files over the same events — pairing, field changes, views."""

from __future__ import annotations

import gzip
import io
import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from fbcli.diff import (
    DiffTally,
    FieldChange,
    MappingDiff,
    compare_calls,
    diff_events,
    diff_values,
    dotted_path,
    event_status,
    pair_subscriptions,
)
from fbcli.events import Event, LineError
from fbcli.mappings import MappingConfig, load_mappings
from fbcli.plan import PlannedCall, Rejection, Unmatched
from fbcli.report import format_value
from fbcli.report.diff import (
    VALUE_CHARS,
    call_details,
    field_change_text,
    render_diff,
    write_diff_json,
)
from fbcli.validation import Violation
from fbcli.values import same_value
from tests.support import REPO, SAMPLES, RunCli

SAMPLE_MAPPINGS = (REPO / "mappings.yaml").read_text(encoding="utf-8")


def config(text: str, path: str = "m.yaml") -> MappingConfig:
    return load_mappings(text, path=path)


def mapping_file(*subscriptions: str, mode: str = "cloud", extra: str = "") -> str:
    body = "".join(f"  - {s}\n" for s in subscriptions)
    return f"version: 1\nmode: {mode}\n{extra}subscriptions:\n{body}"


PURCHASES = "{name: Purchases, action: trackPurchase, trigger: 'type = \"track\"'"
CUSTOMERS = "{name: Customers, action: trackCustomer, trigger: 'type = \"identify\"'}"


def event(data: dict[str, Any], line: int = 1) -> Event:
    return Event("events.jsonl", line, data)


ORDER: dict[str, Any] = {
    "type": "track",
    "event": "Order Completed",
    "messageId": "m-1",
    "userId": "u1",
    "properties": {"order_id": "o1", "total": "45.97", "revenue": 50.97, "currency": "USD"},
}


def jsonl(*events: Any) -> str:
    return "".join((e if isinstance(e, str) else json.dumps(e)) + "\n" for e in events)


def sample_dir(tmp_path: Path, new_yaml: str) -> None:
    """The layout of the example in docs/debugging.md: mappings.yaml, new.yaml, the samples."""
    (tmp_path / "sample_events").mkdir()
    shutil.copy(SAMPLES / "events.jsonl", tmp_path / "sample_events" / "events.jsonl")
    (tmp_path / "mappings.yaml").write_text(SAMPLE_MAPPINGS, encoding="utf-8")
    (tmp_path / "new.yaml").write_text(new_yaml, encoding="utf-8")


def docs_new_yaml() -> str:
    """The new.yaml of docs/debugging.md: the edits it shows, applied to mappings.yaml."""
    text = SAMPLE_MAPPINGS.replace(
        '    trigger: type = "track" and event = "Order Completed"\n',
        '    trigger: type = "track" and match(event, "Order *")\n'
        "    mapping:\n"
        '      amount: { "@path": "$.properties.revenue" }\n'
        "      coupon: null\n",
    ).replace(
        '    trigger: type = "track" and event = "Signed Up"\n',
        '    trigger: type = "track" and event = "Signed Up"\n'
        "    mapping:\n"
        "      loyaltyStatus: in\n",
    )
    assert text.count("mapping:\n") == SAMPLE_MAPPINGS.count("mapping:\n") + 2
    return text


# -- field changes ---------------------------------------------------------------------


def test_dotted_paths() -> None:
    assert dotted_path(("amount",)) == "amount"
    assert dotted_path(("additionalProperties", "name")) == "additionalProperties.name"
    assert dotted_path(("products", 0, "price")) == "products.0.price"
    assert dotted_path(("additionalProperties", "a.b", "0")) == 'additionalProperties["a.b"]["0"]'
    assert dotted_path((0,)) == "0"
    assert dotted_path(()) == ""


def test_diff_values_recursive_with_dotted_paths() -> None:
    old = {
        "amount": 45.97,
        "products": [{"sku": "a", "price": 10}, {"sku": "b"}],
        "additionalProperties": {"name": "Ada", "plan": "pro"},
        "same": {"x": [1, 2]},
    }
    new = {
        "amount": 50.97,
        "couponCode": "X",
        "products": [{"sku": "a", "price": 12}],
        "additionalProperties": {"plan": "pro"},
        "same": {"x": [1, 2]},
    }
    changes = [(c.dotted, c.kind, c.old, c.new) for c in diff_values(old, new)]
    assert [c[:2] for c in changes] == [
        ("amount", "changed"),
        ("couponCode", "added"),
        ("products.0.price", "changed"),
        ("products.1", "removed"),
        ("additionalProperties.name", "removed"),
    ]
    assert changes[0][2:] == (45.97, 50.97)
    assert [c.to_dict() for c in diff_values({"a": [1]}, {"a": [1, {"b": 2}]})] == [
        {"path": "a.1", "change": "added", "new": {"b": 2}}
    ]


@pytest.mark.parametrize(
    ("old", "new", "same"),
    [
        (1, 1.0, True),
        (1, True, False),
        (True, True, True),
        (False, 0, False),
        ("1", 1, False),
        (None, None, True),
        ({"a": [1, True]}, {"a": [1.0, True]}, True),
        ({"a": 1}, {"b": 1}, False),
        ([1, 2], [1], False),
        ([1], {"0": 1}, False),
    ],
)
def test_same_value_is_json_equality(old: Any, new: Any, same: bool) -> None:
    assert same_value(old, new) is same
    assert (not list(diff_values({"v": old}, {"v": new}))) is same


def test_a_type_change_is_one_change() -> None:
    (change,) = diff_values({"price": "10"}, {"price": 10})
    assert change.to_dict() == {"path": "price", "change": "changed", "old": "10", "new": 10}
    (change,) = diff_values({"p": {"a": 1}}, {"p": [1]})
    assert change.kind == "changed"


# -- pairing ---------------------------------------------------------------------------


def test_pairing_by_name_then_renames_by_action_and_rank() -> None:
    old = config(
        mapping_file(
            CUSTOMERS,
            PURCHASES + "}",
            "{name: Old custom, action: trackCustomEvent, trigger: 'event = \"A\"'}",
            "{name: Gone, action: trackSignUp, trigger: 'event = \"S\"'}",
            "{name: Off, action: trackCustomEvent, trigger: 'event = \"B\"', enabled: false}",
        )
    )
    new = config(
        mapping_file(
            "{name: Custom B, action: trackCustomEvent, trigger: 'event = \"B\"', enabled: false}",
            "{name: New custom, action: trackCustomEvent, trigger: 'event = \"A\"'}",
            "{name: Orders, action: trackPurchase, trigger: 'event = \"X\"'}",
            CUSTOMERS,
        )
    )
    pairs = {p.name: p for p in pair_subscriptions(old, new)}
    assert list(pairs) == ["Custom B", "New custom", "Orders", "Customers", "Gone", "Off"]
    assert pairs["Custom B"].old is None  # disabled: takes no part in renames
    assert pairs["New custom"].previous_name == "Old custom"
    assert pairs["Orders"].previous_name == "Purchases"
    assert pairs["Gone"].new is None
    assert pairs["Gone"].action == "trackSignUp"
    assert pairs["Off"].new is None
    assert pairs["Customers"].previous_name is None


def test_a_rename_pairs_the_calls() -> None:
    old = config(mapping_file(PURCHASES + "}"))
    new = config(
        mapping_file(
            "{name: Orders, action: trackPurchase, trigger: 'type = \"track\"', "
            "mapping: {amount: {'@path': '$.properties.revenue'}}}"
        )
    )
    diff = MappingDiff(old, new).compare(event(ORDER))
    (call,) = diff.changes
    assert (call.subscription, call.previous_name, call.kind) == ("Orders", "Purchases", "changed")
    assert [c.to_dict() for c in call.fields] == [
        {"path": "amount", "change": "changed", "old": 45.97, "new": 50.97}
    ]
    assert call.to_dict()["previous_name"] == "Purchases"


# -- calls -----------------------------------------------------------------------------


def _calls(mapping: str, data: dict[str, Any]) -> list[PlannedCall | Rejection]:
    planned = MappingDiff(config(mapping), config(mapping)).compare(event(data)).calls
    return [c.new for c in planned if c.new is not None]


def test_compare_calls_kinds() -> None:
    (planned,) = _calls(mapping_file(PURCHASES + "}"), ORDER)
    (invalid,) = _calls(mapping_file(PURCHASES + "}"), {**ORDER, "properties": {}})
    assert isinstance(invalid, Rejection)
    assert compare_calls("P", None, None, planned).kind == "added"
    assert compare_calls("P", None, planned, None).kind == "removed"
    assert compare_calls("P", None, planned, planned).kind == "unchanged"
    assert compare_calls("P", None, invalid, invalid).kind == "unchanged"
    assert compare_calls("P", None, planned, invalid).kind == "changed"
    other_errors = Rejection(invalid.event, "P", "trackPurchase", (Violation("x", "bad"),))
    assert compare_calls("P", None, invalid, other_errors).kind == "changed"
    other_action = Rejection(invalid.event, "P", "trackSignUp", invalid.errors)
    assert compare_calls("P", None, invalid, other_action).kind == "changed"


def test_a_new_url_is_a_change() -> None:
    (call,) = _calls(mapping_file(PURCHASES + "}"), ORDER)
    assert isinstance(call, PlannedCall)
    moved = PlannedCall(
        call.event, call.subscription, call.action, call.mode, call.body, "POST", "http://x/y"
    )
    diff = compare_calls("P", None, call, moved)
    assert diff.kind == "changed"
    assert not diff.fields
    assert diff.targets == (f"POST {call.url}", "POST http://x/y")
    assert diff.to_dict()["call"] == {"old": f"POST {call.url}", "new": "POST http://x/y"}
    assert call_details(diff)[0].plain == f"call: POST {call.url} → POST http://x/y"


def test_cloud_to_direct_changes_the_push_not_the_body() -> None:
    old = config(mapping_file(PURCHASES + "}"))
    new = config(
        mapping_file(
            PURCHASES + "}",
            mode="direct",
            extra="merchant_id: " + "1" * 8 + "-1111-4111-8111-" + "1" * 12 + "\n",
        )
    )
    (call,) = MappingDiff(old, new).compare(event(ORDER)).changes
    assert call.targets is not None
    assert call.targets[1] == 'push ["track","purchase",…,true]'


def test_event_status() -> None:
    (planned,) = _calls(mapping_file(PURCHASES + "}"), ORDER)
    (invalid,) = _calls(mapping_file(PURCHASES + "}"), {**ORDER, "properties": {}})
    assert event_status(Unmatched(event(ORDER))) == "unmatched"
    assert event_status([planned]) == "planned"
    assert event_status([planned, invalid]) == "invalid"


# -- streams ---------------------------------------------------------------------------


def test_diff_events_counts_everything_and_yields_the_differences() -> None:
    old = config(mapping_file(PURCHASES + "}", CUSTOMERS))
    new = config(
        mapping_file(
            PURCHASES + ", mapping: {amount: {'@path': '$.properties.revenue'}}}",
            "{name: Customers, action: trackCustomer, trigger: 'type = \"nothing\"'}",
        )
    )
    items: list[Event | LineError] = [
        event(ORDER, 1),
        LineError("events.jsonl", 2, "invalid JSON"),
        event({"type": "identify", "userId": "u", "traits": {"email": "a@b.c"}}, 3),
        event({"type": "page"}, 4),
        LineError("missing.jsonl", 0, "no such file"),
    ]
    tally = DiffTally()
    diffs = list(diff_events(items, old, new, tally=tally))
    assert [d.event.line for d in diffs] == [1, 3]
    assert (tally.events, tally.malformed) == (3, 2)
    assert tally.unreadable == [items[-1]]
    assert tally.differs
    summary = tally.to_dict()
    assert summary["calls"] == {"changed": 1, "added": 0, "removed": 1, "unchanged": 0}
    assert summary["status_transitions"] == [{"old": "planned", "new": "unmatched", "events": 1}]
    assert summary["subscriptions"]["Customers"]["removed"] == 1
    assert diffs[1].to_dict()["calls"][0]["new"] is None


def test_no_difference() -> None:
    same = config(mapping_file(PURCHASES + "}"))
    tally = DiffTally()
    assert not list(diff_events([event(ORDER)], same, same, tally=tally))
    assert not tally.differs
    assert tally.calls["unchanged"] == 1


# -- the view --------------------------------------------------------------------------


def render(diffs: Any, tally: DiffTally, old: MappingConfig, new: MappingConfig, **kw: Any) -> str:
    out = io.StringIO()
    console = Console(file=out, width=80, color_system=None)
    render_diff(console, diffs, tally, old=old, new=new, **kw)
    return out.getvalue()


def test_field_change_texts() -> None:
    assert (
        field_change_text(FieldChange(("amount",), 45.97, 50.97)).plain == "amount: 45.97 → 50.97"
    )
    assert field_change_text(FieldChange(("couponCode",), new="X")).plain == '+couponCode: "X"'
    removed = FieldChange(("additionalProperties", "name"), old="Ada")
    assert field_change_text(removed).plain == "-additionalProperties.name"
    assert format_value("x" * 100, VALUE_CHARS).endswith("…")
    assert len(format_value("x" * 100, VALUE_CHARS)) == 48
    assert format_value("\x1b[31m", VALUE_CHARS) == '"\\u001b[31m"'


def test_the_view_caps_examples_but_counts_exactly() -> None:
    old = config(mapping_file(PURCHASES + "}"))
    new = config(mapping_file(PURCHASES + ", mapping: {currency: EUR}}"))
    events = [event({**ORDER, "messageId": f"m-{i}"}, i) for i in range(1, 15)]
    tally = DiffTally()
    text = render(diff_events(events, old, new, tally=tally), tally, old, new, examples=3)
    assert "Purchases → trackPurchase: 14 changed" in text
    assert text.count('currency: "USD" → "EUR"') == 3
    assert "… 11 more" in text
    assert "Calls: 14 changed, 0 added, 0 removed, 0 unchanged" in text


def test_many_field_changes_are_capped_per_call() -> None:
    (call,) = _calls(mapping_file(PURCHASES + "}"), ORDER)
    assert isinstance(call, PlannedCall)
    other = PlannedCall(
        call.event,
        call.subscription,
        call.action,
        call.mode,
        {**call.body, **{f"k{i}": i for i in range(15)}},
        call.method,
        call.url,
    )
    lines = [line.plain for line in call_details(compare_calls("P", None, call, other))]
    assert lines[:2] == ["+k0: 0", "+k1: 1"]
    assert lines[-1] == "… 3 more fields"
    assert len(lines) == 13


def test_the_view_of_a_rename_to_direct_mode() -> None:
    old = config(mapping_file(PURCHASES + "}"), "old.yaml")
    new = config(
        mapping_file(
            "{name: Orders, action: trackPurchase, trigger: 'type = \"track\"'}",
            mode="direct",
            extra="merchant_id: 1993d0f1-8206-4336-8c88-64e170f2419e\n",
        ),
        "new.yaml",
    )
    data = {k: v for k, v in ORDER.items() if k != "messageId"}
    tally = DiffTally()
    text = render(diff_events([event(data, 7)], old, new, tally=tally), tally, old, new)
    assert text.startswith("old.yaml → new.yaml · cloud → direct mode\n")
    assert "Orders (was Purchases) → trackPurchase: 1 changed" in text
    assert "  events.jsonl:7 · changed\n" in text
    assert "call: POST https://mapi.fbot.me/v1/event/purchase → push" in text
    assert tally.to_dict()["subscriptions"]["Orders"]["previous_name"] == "Purchases"


def test_an_action_change_is_shown() -> None:
    (invalid,) = _calls(mapping_file(PURCHASES + "}"), {**ORDER, "properties": {}})
    assert isinstance(invalid, Rejection)
    other = Rejection(invalid.event, "P", "trackSignUp", invalid.errors)
    lines = [line.plain for line in call_details(compare_calls("P", None, invalid, other))]
    assert lines == ["action: trackPurchase → trackSignUp"]


def test_status_changes_are_listed_and_capped() -> None:
    old = config(mapping_file(PURCHASES + "}"))
    new = config(mapping_file(PURCHASES + ", mapping: {currency: null}}"))
    events = [event({**ORDER, "messageId": f"m-{i}"}, i) for i in range(1, 5)]
    tally = DiffTally()
    text = render(diff_events(events, old, new, tally=tally), tally, old, new, examples=2)
    assert "Status changes: 4 events (planned → invalid: 4)" in text
    assert "events.jsonl:1 · m-1 · planned → invalid" in text
    assert text.count("+✗ required field 'currency' is missing") == 2
    assert text.count("… 2 more") == 2


def test_event_data_is_shown_literally() -> None:
    old = config(mapping_file(PURCHASES + "}"))
    new = config(mapping_file(PURCHASES + ", mapping: {currency: EUR}}"))
    hostile = {**ORDER, "messageId": "[bold]m\x1b[2J", "properties": {**ORDER["properties"]}}
    hostile["properties"]["currency"] = "[red]US\x07"
    tally = DiffTally()
    text = render(diff_events([event(hostile)], old, new, tally=tally), tally, old, new)
    assert "[bold]m\\x1b[2J" in text
    assert '"[red]US\\u0007" → "EUR"' in text
    assert "\x1b" not in text
    assert "\x07" not in text


def test_json_is_one_object_with_changes_then_summary() -> None:
    old = config(mapping_file(PURCHASES + "}"))
    out = io.StringIO()
    tally = DiffTally()
    write_diff_json(out, diff_events([event(ORDER)], old, old, tally=tally), tally)
    document = json.loads(out.getvalue())
    assert list(document) == ["changes", "summary"]
    assert document["changes"] == []
    assert document["summary"]["differs"] is False


# -- the command -----------------------------------------------------------------------


def test_the_docs_example(run_cli: RunCli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The example of docs/debugging.md (its output is checked there by tests/cli/test_docs.py),
    in an 80-column terminal."""
    monkeypatch.setenv("COLUMNS", "80")
    sample_dir(tmp_path, docs_new_yaml())
    result = run_cli("diff", "sample_events/events.jsonl", "-m", "mappings.yaml", "-m", "new.yaml")
    assert result.exit_code == 1
    actual = "".join(line.rstrip() + "\n" for line in result.stdout.splitlines())
    assert max(len(line) for line in result.stdout.splitlines()) <= 80
    assert "amount: 129.9 → 119.9" in actual
    assert "-couponCode" in actual
    assert '+loyaltyStatus: "in"' in actual


def test_the_docs_json_example(run_cli: RunCli, tmp_path: Path) -> None:
    sample_dir(tmp_path, docs_new_yaml())
    result = run_cli(
        "diff", "sample_events/events.jsonl", "-m", "mappings.yaml", "-m", "new.yaml", "-f", "json"
    )
    assert result.exit_code == 1
    document = json.loads(result.stdout)
    summary = document["summary"]
    assert summary["calls"] == {"changed": 6, "added": 1, "removed": 0, "unchanged": 6}
    assert summary["events"] == 14
    assert summary["malformed"] == 2
    assert summary["status_changes"] == 2
    assert summary["subscriptions"]["Purchases"] == {
        "action": "trackPurchase",
        "changed": 5,
        "added": 1,
        "removed": 0,
        "unchanged": 0,
    }
    assert len(document["changes"]) == 7
    first = document["changes"][0]
    assert (first["line"], first["messageId"]) == (2, "msg-0002")
    assert first["calls"][0]["fields"] == [
        {"path": "loyaltyStatus", "change": "added", "new": "in"}
    ]
    assert result.stdout.count("\n") == 7 + 2  # one change per line, streamed


def test_same_mapping_twice_exits_0(run_cli: RunCli) -> None:
    events, mappings = str(SAMPLES / "events.jsonl"), str(REPO / "mappings.yaml")
    result = run_cli("diff", events, "-m", mappings, "-m", mappings)
    assert result.exit_code == 0
    assert "No differences: 14 events give the same 12 calls" in result.stdout
    assert "2 malformed lines (not compared)" in result.stdout


def test_cloud_against_direct_over_the_samples(run_cli: RunCli) -> None:
    events = str(SAMPLES / "events.jsonl")
    result = run_cli(
        "diff",
        events,
        "-m",
        str(REPO / "mappings.yaml"),
        "-m",
        str(SAMPLES / "mappings.direct.yaml"),
        "-f",
        "json",
    )
    assert result.exit_code == 1
    summary = json.loads(result.stdout)["summary"]
    assert summary["subscriptions"]["Page views"]["added"] == 1
    assert summary["subscriptions"]["Newsletter sign-ups"]["removed"] == 0
    changes = json.loads(result.stdout)["changes"]
    purchase = next(c for c in changes if c["line"] == 3)["calls"][0]
    assert purchase["call"]["new"] == 'push ["track","purchase",…,true]'


@pytest.mark.parametrize("times", [0, 1, 3])
def test_m_must_be_given_twice(run_cli: RunCli, times: int) -> None:
    mappings = str(REPO / "mappings.yaml")
    args = [a for _ in range(times) for a in ("-m", mappings)]
    result = run_cli("diff", str(SAMPLES / "events.jsonl"), *args)
    assert result.exit_code == 2
    wording = {0: "not 0 times", 1: "not 1 time", 3: "not 3 times"}[times]
    assert f"give -m exactly twice, {wording}" in result.stderr


def test_a_broken_new_mapping_file_is_located(run_cli: RunCli, tmp_path: Path) -> None:
    broken = tmp_path / "new.yaml"
    broken.write_text(mapping_file(PURCHASES + ", mapping: {couponCode: X}}"), encoding="utf-8")
    result = run_cli(
        "diff", str(SAMPLES / "events.jsonl"), "-m", str(REPO / "mappings.yaml"), "-m", str(broken)
    )
    assert result.exit_code == 2
    assert re.search(r"Error: unknown field 'couponCode' .*new\.yaml:4:\d+\)", result.stderr)
    assert result.stdout == ""


def test_stdin_and_gzip_are_read_once(run_cli: RunCli, tmp_path: Path) -> None:
    old, new = tmp_path / "old.yaml", tmp_path / "new.yaml"
    old.write_text(mapping_file(PURCHASES + "}"), encoding="utf-8")
    new.write_text(mapping_file(PURCHASES + ", mapping: {currency: EUR}}"), encoding="utf-8")
    packed = tmp_path / "more.jsonl.gz"
    packed.write_bytes(gzip.compress(jsonl({**ORDER, "messageId": "gz-1"}).encode()))
    result = run_cli(
        "diff", "-", str(packed), "-m", str(old), "-m", str(new), "-f", "json", stdin=jsonl(ORDER)
    )
    assert result.exit_code == 1
    changes = json.loads(result.stdout)["changes"]
    assert [(c["source"], c["messageId"]) for c in changes] == [("-", "m-1"), (str(packed), "gz-1")]


def test_an_unreadable_input_exits_2(run_cli: RunCli, tmp_path: Path) -> None:
    mappings = str(REPO / "mappings.yaml")
    result = run_cli("diff", str(tmp_path / "nope.jsonl"), "-m", mappings, "-m", mappings)
    assert result.exit_code == 2
    assert "Error: no such file (" in result.stderr
    assert "nope.jsonl)" in result.stderr


def test_help_has_an_example(run_cli: RunCli) -> None:
    result = run_cli("diff", "--help")
    assert result.exit_code == 0
    assert "Example: fbcli diff" in result.stdout


# -- near misses: the mistakes a diff should make plain --------------------------------

NEAR_MISS_EVENTS = [
    {**ORDER, "messageId": "nm-1"},
    {
        "type": "identify",
        "messageId": "nm-2",
        "userId": "u4",
        "traits": {"Email": "four@example.com"},
    },
]


@pytest.mark.parametrize(
    ("old_subscription", "new_subscription", "expected"),
    [
        pytest.param(  # a trigger off by one word: every order unmatched, then planned
            "{name: P, action: trackPurchase, trigger: 'event = \"Order Complete\"'}",
            "{name: P, action: trackPurchase, trigger: 'event = \"Order Completed\"'}",
            ["events.jsonl:1 · nm-1 · added (planned)", "unmatched → planned: 1"],
            id="trigger-off-by-one-word",
        ),
        pytest.param(  # the wrong property name: amount missing, then mapped
            "{name: P, action: trackPurchase, trigger: 'type = \"track\"', "
            "mapping: {amount: {'@path': '$.properties.totl'}}}",
            "{name: P, action: trackPurchase, trigger: 'type = \"track\"'}",
            [
                "nm-1 · invalid → planned",
                "-✗ required field 'amount' is missing — mapped from $.properties.totl",
            ],
            id="wrong-property-name",
        ),
        pytest.param(  # a string amount, read as a number, against a number
            "{name: P, action: trackPurchase, trigger: 'type = \"track\"'}",
            "{name: P, action: trackPurchase, trigger: 'type = \"track\"', "
            "mapping: {amount: {'@path': '$.properties.revenue'}}}",
            ["nm-1 · changed", "amount: 45.97 → 50.97"],
            id="string-amount",
        ),
        pytest.param(  # a missing email (the event says Email)
            "{name: C, action: trackCustomer, trigger: 'type = \"identify\"'}",
            "{name: C, action: trackCustomer, trigger: 'type = \"identify\"', "
            "mapping: {email: {'@path': '$.traits.Email'}}}",
            ["nm-2 · invalid → planned", "-✗ required field 'email' is missing"],
            id="missing-email",
        ),
    ],
)
def test_near_misses(
    run_cli: RunCli,
    tmp_path: Path,
    old_subscription: str,
    new_subscription: str,
    expected: list[str],
) -> None:
    events = tmp_path / "events.jsonl"
    events.write_text(jsonl(*NEAR_MISS_EVENTS), encoding="utf-8")
    (tmp_path / "old.yaml").write_text(mapping_file(old_subscription), encoding="utf-8")
    (tmp_path / "new.yaml").write_text(mapping_file(new_subscription), encoding="utf-8")
    result = run_cli("diff", "events.jsonl", "-m", "old.yaml", "-m", "new.yaml")
    assert result.exit_code == 1
    for text in expected:
        assert text in result.stdout
    back = run_cli("diff", "events.jsonl", "-m", "new.yaml", "-m", "old.yaml", "-f", "json")
    assert back.exit_code == 1
    assert json.loads(back.stdout)["summary"]["differs"] is True


def test_a_removed_subscription_and_an_invalid_call_added(run_cli: RunCli, tmp_path: Path) -> None:
    (tmp_path / "events.jsonl").write_text(jsonl(*NEAR_MISS_EVENTS), encoding="utf-8")
    (tmp_path / "old.yaml").write_text(
        mapping_file("{name: P, action: trackPurchase, trigger: 'type = \"track\"'}"),
        encoding="utf-8",
    )
    (tmp_path / "new.yaml").write_text(
        mapping_file("{name: C, action: trackCustomer, trigger: 'type = \"identify\"'}"),
        encoding="utf-8",
    )
    result = run_cli("diff", "events.jsonl", "-m", "old.yaml", "-m", "new.yaml")
    assert result.exit_code == 1
    assert "nm-1 · removed (was planned)" in result.stdout
    assert "orderId=o1" in result.stdout
    assert "nm-2 · added (invalid)" in result.stdout
    assert "✗ required field 'email' is missing" in result.stdout
    back = run_cli("diff", "events.jsonl", "-m", "new.yaml", "-m", "old.yaml")
    assert "nm-2 · removed (was invalid)" in back.stdout
