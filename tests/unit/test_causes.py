"""Tests of fbcli.causes: problems counted by cause, mergeable across processes."""

from __future__ import annotations

import io
import json
import pickle

from fbcli.causes import KEEP_LINES, CauseBook
from fbcli.events import read_events
from fbcli.mappings import load_mappings
from fbcli.plan import plan_records
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
