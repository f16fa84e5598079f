"""Tests of fbcli.causes: problems counted by cause, mergeable across processes."""

from __future__ import annotations

import io
import json
import pickle
from pathlib import Path

import pytest

from fbcli.causes import KEEP_LINES, Cause, CauseBook, CauseFinder, SeenHashes
from fbcli.events import read_events
from fbcli.ledger import event_key
from fbcli.mappings import MappingConfig, load_mappings
from fbcli.parallel import plan_in_parallel
from fbcli.plan import PlanFilter, PlanTally, compile_config, plan_item, plan_records, take_groups
from fbcli.validation import Violation
from tests.support import REPO

CONFIG = load_mappings((REPO / "mappings.yaml").read_bytes(), path="mappings.yaml")


def book_of(lines: list[str]) -> CauseBook:
    data = "".join(line + "\n" for line in lines).encode()
    book = CauseBook()
    book.add_all(plan_records(read_events(io.BytesIO(data), "in.jsonl"), CONFIG))
    return book


def purchase(line_id: int, amount: object) -> str:
    properties = {"order_id": f"o{line_id}", "total": amount, "currency": "USD"}
    return json.dumps(
        {
            "type": "track",
            "event": "Order Completed",
            "userId": f"u{line_id}",
            "properties": properties,
        }
    )


def test_the_same_problem_on_many_lines_is_one_cause_with_its_first_lines() -> None:
    book = book_of(["{not json"] * 5)
    [cause] = book.causes()
    assert (cause.count, cause.severity, cause.action) == (5, "error", None)
    assert cause.lines == tuple(f"in.jsonl:{n}" for n in range(1, KEEP_LINES + 1))


def test_causes_merge_across_books_and_survive_pickling() -> None:
    left, right = book_of(["{not json"] * 2), book_of(["[1]", "{not json"])
    left.merge(pickle.loads(pickle.dumps(right)))
    counts = sorted(cause.count for cause in left.causes())
    assert counts == [1, 3]
    assert left.causes()[0].to_json()["count"] == 3


def test_valid_and_unmatched_events_are_no_cause() -> None:
    assert book_of(['{"type": "page"}', purchase(1, 10)]).causes() == []


# -- kinds: value-independent grouping -----------------------------------------------------


def causes_by_kind(book: CauseBook) -> dict[str, Cause]:
    return {cause.kind: cause for cause in book.causes()}


def test_values_of_one_kind_are_one_cause_with_one_example_and_a_hint() -> None:
    book = book_of([purchase(n, f"${n},234.00") for n in range(1, 6)])
    [cause] = book.causes()
    assert (cause.action, cause.field, cause.kind) == (
        "trackPurchase",
        "amount",
        "string with a currency sign",
    )
    assert (cause.count, cause.source, cause.severity) == (5, "$.properties.total", "error")
    assert cause.example == '"$1,234.00"'
    assert cause.hint is not None
    assert '"@replace"' in cause.hint
    assert '"pattern": "$"' in cause.hint
    assert '"pattern2": ","' in cause.hint


@pytest.mark.parametrize(
    ("amount", "kind"),
    [
        ("1,234.50", "string with a thousands separator"),
        ("12,99", "string with a decimal comma"),
        ("forty-two", "string that is not a number"),
        ("", "empty"),
        (None, "null"),
        (True, "boolean sent as a number"),
        ([1, 2], "a list, not a number"),
        ({"value": 1}, "an object, not a number"),
        ("10%", "string with a percent sign"),
    ],
)
def test_each_kind_of_amount_problem_is_named(amount: object, kind: str) -> None:
    assert list(causes_by_kind(book_of([purchase(1, amount)]))) == [kind]


def test_a_missing_required_field_is_its_own_kind() -> None:
    event = json.loads(purchase(1, 10))
    del event["properties"]["currency"]
    [cause] = book_of([json.dumps(event)]).causes()
    assert (cause.field, cause.kind) == ("currency", "missing required field")
    assert cause.hint is not None
    assert "fbcli explain in.jsonl --line 1" in cause.hint


def test_list_items_are_grouped_across_indexes() -> None:
    event = json.loads(purchase(1, 10))
    event["properties"]["products"] = [{"price": 1, "quantity": "1.5"}] * 3
    [cause] = book_of([json.dumps(event)]).causes()
    assert (cause.field, cause.source) == (
        "products/*/quantity",
        "$.properties.products[*].quantity",
    )
    assert (cause.kind, cause.count) == ("string with a fraction", 3)


def test_malformed_lines_are_grouped_without_their_position() -> None:
    book = book_of(['{"a": 1,}', '{"abc": 12,}', "[1]"])
    kinds = causes_by_kind(book)
    assert kinds["invalid JSON"].count == 2
    assert kinds["expected a JSON object"].count == 1


def test_kinds_do_not_change_how_violations_compare() -> None:
    assert Violation("amount", "m", kind="a") == Violation("amount", "m", kind="b")


# -- what the records do not say ------------------------------------------------------------


def finder_book(lines: list[str], config: MappingConfig = CONFIG) -> CauseBook:
    data = "".join(line + "\n" for line in lines).encode()
    finder = CauseFinder(config)
    book = finder.new_book()
    for item in read_events(io.BytesIO(data), "in.jsonl"):
        records = plan_item(item, compile_config(config), PlanFilter())
        assert records is not None
        finder.note(book, item, records)
    return book


def named(line_id: int, name: str, **properties: object) -> str:
    event = json.loads(purchase(line_id, 10))
    event["event"] = name
    event["messageId"] = f"m{line_id}"
    event["properties"].update(properties)
    return json.dumps(event)


def test_near_misses_of_a_trigger_literal_name_its_subscription() -> None:
    book = finder_book(
        [named(1, "order_completed"), named(2, "Order-Completed"), named(3, "Order Completed")]
    )
    [cause] = book.causes()
    assert (cause.action, cause.severity, cause.count) == ("trackPurchase", "warning", 2)
    assert cause.kind.endswith('"Order Completed"')
    assert cause.lines == ("in.jsonl:1", "in.jsonl:2")
    assert cause.hint is not None
    assert 'subscription "Purchases"' in cause.hint
    assert "mappings.yaml:11" in cause.hint


def test_a_name_no_trigger_is_close_to_is_no_near_miss() -> None:
    assert finder_book([named(1, "Order Refunded")]).causes() == []


def test_an_optional_field_present_under_another_key_says_how_to_map_it() -> None:
    book = finder_book(
        [
            named(1, "Order Completed", referral_code="FRIEND-1"),
            named(2, "Order Completed", referral_code="FRIEND-2"),
            named(3, "Order Completed", referralCode="OK"),
        ]
    )
    [cause] = book.causes()
    assert (cause.action, cause.field, cause.severity) == (
        "trackPurchase",
        "referralCode",
        "warning",
    )
    assert (cause.count, cause.example) == (2, '"FRIEND-1"')
    assert cause.hint is not None
    assert 'referralCode: {"@path": "$.properties.referral_code"}' in cause.hint


def test_a_key_one_level_down_elsewhere_is_found_too() -> None:
    event = json.loads(named(1, "Order Completed"))
    event["context"] = {"referralCode": "FRIEND-1"}
    [cause] = finder_book([json.dumps(event)]).causes()
    assert cause.hint is not None
    assert '"$.context.referralCode"' in cause.hint


def test_duplicate_message_ids_are_counted_after_the_first() -> None:
    book = finder_book([named(1, "Order Completed")] * 3 + [named(4, "Order Completed")])
    [cause] = book.causes()
    assert (cause.kind, cause.count, cause.lines) == (
        "duplicate messageId",
        2,
        ("in.jsonl:2", "in.jsonl:3"),
    )
    assert book.duplicate_ids() == 2
    assert cause.hint is not None
    assert "only the first is sent" in cause.hint


def test_message_ids_are_duplicates_exactly_when_replay_keys_them_alike() -> None:
    def with_id(line_id: int, message_id: object) -> str:
        event = json.loads(named(line_id, "Order Completed"))
        event["messageId"] = message_id
        return json.dumps(event)

    # An empty messageId is no ledger key (each such event is keyed by its content, so
    # each is sent); an integer is keyed as its digits, the same key as the string.
    book = finder_book([with_id(1, ""), with_id(2, ""), with_id(3, 5), with_id(4, "5")])
    assert book.duplicate_ids() == 1
    assert book.causes()[0].lines == ("in.jsonl:4",)
    assert event_key({"messageId": ""}, "") != event_key({"messageId": "", "x": 1}, "")
    assert event_key({}, "5") == "5"


def test_duplicates_across_books_are_found_when_merged_in_order() -> None:
    first = finder_book([named(1, "Order Completed"), named(2, "Order Completed")])
    second = finder_book([named(2, "Order Completed"), named(1, "Order Completed")])
    first.merge(pickle.loads(pickle.dumps(second)))
    assert first.duplicate_ids() == 2
    assert first.causes()[0].lines == ("in.jsonl:1", "in.jsonl:2")


def test_parallel_workers_give_the_causes_of_one_process(tmp_path: Path) -> None:
    lines = [
        named(
            n % 40,
            "order_completed" if n % 7 == 0 else "Order Completed",
            total="$1.00" if n % 5 == 0 else 10,
            referral_code="R",
        )
        for n in range(300)
    ]
    data = "".join(line + "\n" for line in lines).encode()
    compiled = compile_config(CONFIG)
    finder = CauseFinder(CONFIG)
    results = []
    for jobs, batched in ((1, True), (2, True), (2, False)):
        tally, book = PlanTally(), CauseBook()
        groups = plan_in_parallel(
            [("in.jsonl", io.BytesIO(data))],
            compiled,
            PlanFilter(),
            lambda record: None,
            jobs=jobs,
            block_bytes=4096,
            batched=batched,
            causes=finder,
        )
        for _ in take_groups(groups, tally, causes=book):
            pass
        results.append([cause.to_json() for cause in book.causes()])
    assert results[0] == results[1] == results[2]
    kinds = {cause["kind"]: cause["count"] for cause in results[0]}
    assert kinds["duplicate messageId"] == 260
    assert kinds["string with a currency sign"] == 51  # 60, less the 9 near misses


def test_seen_hashes_is_a_set_of_64_bit_codes_in_8_bytes_each() -> None:
    seen = SeenHashes()
    codes = [0, 1, -1, 2**63, -(2**63), 12345, 12345 + 2**64, *range(10, 5000, 7)]
    expected: set[int] = set()
    for code in codes:
        key = (code & 0xFFFF_FFFF_FFFF_FFFF) or 1
        assert seen.add(code) is (key not in expected)
        expected.add(key)
    assert len(seen) == len(expected)
    assert all(not seen.add(code) for code in codes)  # every one is still there, grown
    copy = pickle.loads(pickle.dumps(seen))
    assert not copy.add(12345)
    assert copy.add(99_999_999)
