"""``validate`` and ``dry-run`` end with the problems grouped by cause; the mapping file's
path-like constants warn at load time; ``init`` points near misses at their subscription."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.support import REPO, RunCli

MAPPINGS = str(REPO / "mappings.yaml")


def purchase(n: int, total: object, *, name: str = "Order Completed", **more: object) -> str:
    properties = {"order_id": f"o{n}", "total": total, "currency": "USD", **more}
    event = {"type": "track", "event": name, "userId": f"u{n}", "messageId": f"m{n % 50}"}
    return json.dumps({**event, "properties": properties})


def write_events(tmp_path: Path) -> str:
    lines = [purchase(n, f"${n},000.00" if n % 3 == 0 else 10) for n in range(1, 61)]
    lines += [purchase(61, 10, name="order_completed"), purchase(62, 10, referral_code="F1")]
    lines.append('{"type": "track",}')
    path = tmp_path / "events.jsonl"
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return str(path)


def test_validate_ends_with_one_line_per_cause(
    run_cli: RunCli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "400")
    events = write_events(tmp_path)
    result = run_cli("validate", events, "-m", MAPPINGS)
    assert result.exit_code == 1
    # One entry per cause; a long one (the checkout's path is in its hint) wraps under itself.
    section = result.stdout.split("Problems by cause (5):\n", 1)[1]
    tail = [entry.rstrip() for entry in re.split(r"\s*\n(?=[✗!] )", section.rstrip())]
    tail = [re.sub(r"\s*\n  ", " ", entry) for entry in tail]
    assert tail[0].startswith(
        "✗ trackPurchase.amount: string with a currency sign (from $.properties.total) — "
        '20 events (lines 3, 6, 9 …), e.g. "$3,000.00" → the destination cannot read it'
    )
    assert tail[1] == (
        "✗ malformed line: invalid JSON — 1 line (line 63): invalid JSON at column 18: "
        "Expecting property name enclosed in double quotes"
    )
    assert tail[2].startswith("! messageId: duplicate messageId — 12 events (lines 51, 52, 53 …)")
    assert tail[3].startswith(
        '! trackPurchase: event name differs only in case or punctuation from "Order Completed"'
        ' — 1 event (line 61), e.g. "order_completed" → subscription "Purchases"'
    )
    assert 'referralCode: {"@path": "$.properties.referral_code"}' in tail[4]
    assert len(tail) == 5


def test_validate_json_lists_the_causes(run_cli: RunCli, tmp_path: Path) -> None:
    events = write_events(tmp_path)
    result = run_cli("validate", events, "-m", MAPPINGS, "--format", "json", "--jobs", "2")
    assert result.exit_code == 1
    summary = json.loads(result.stdout)
    assert summary["duplicate_message_ids"] == 12
    first = summary["causes"][0]
    assert {k: first[k] for k in ("action", "field", "kind", "count", "severity")} == {
        "action": "trackPurchase",
        "field": "amount",
        "kind": "string with a currency sign",
        "count": 20,
        "severity": "error",
    }
    assert first["lines"] == [f"{events}:3", f"{events}:6", f"{events}:9"]


def test_validate_of_clean_events_has_no_grouped_section(run_cli: RunCli, tmp_path: Path) -> None:
    path = tmp_path / "ok.jsonl"
    path.write_text(purchase(1, 10) + "\n", encoding="utf-8")
    result = run_cli("validate", str(path), "-m", MAPPINGS)
    assert result.exit_code == 0
    assert "Problems by cause" not in result.stdout


def test_dry_run_table_ends_with_the_causes_too(run_cli: RunCli, tmp_path: Path) -> None:
    events = write_events(tmp_path)
    result = run_cli("dry-run", events, "-m", MAPPINGS, "--max-errors", "100")
    assert result.exit_code == 1
    assert "Problems by cause (5):" in result.stdout
    as_json = run_cli("dry-run", events, "-m", MAPPINGS, "--format", "json")
    assert "Problems by cause" not in as_json.stdout


def test_a_constant_that_looks_like_a_path_warns_with_its_line(
    run_cli: RunCli, tmp_path: Path
) -> None:
    mapping = tmp_path / "m.yaml"
    mapping.write_text(
        "version: 1\nsubscriptions:\n  - name: P\n    action: trackPurchase\n"
        '    trigger: event = "Order Completed"\n    mapping:\n'
        '      referralCode: "$.properties.referral_code"\n'
        '      coupon: { "@literal": "$.not.a.path" }\n',
        encoding="utf-8",
    )
    events = tmp_path / "e.jsonl"
    events.write_text(purchase(1, 10) + "\n", encoding="utf-8")
    result = run_cli("validate", str(events), "-m", str(mapping))
    assert result.exit_code == 0
    assert result.stderr == (
        f"Warning: 'referralCode' is the constant text \"$.properties.referral_code\", sent as "
        f"it is, not the event's value there ({mapping}:7:21); to read the event, write "
        'referralCode: {"@path": "$.properties.referral_code"}\n'
    )


def test_init_points_near_misses_at_the_standard_subscription(
    run_cli: RunCli, tmp_path: Path
) -> None:
    events = tmp_path / "e.jsonl"
    names = ["Order Completed", "Order completed", "Order completed", "Download"]
    events.write_text(
        "".join(purchase(n, 10, name=name) + "\n" for n, name in enumerate(names)),
        encoding="utf-8",
    )
    result = run_cli("init", str(events), "-o", "-")
    assert result.exit_code == 0
    assert 'event = "Order completed"\n' not in result.stdout.split("# 2 events named")[0]
    assert (
        'Warning: 2 events named "Order completed" differ only in case or punctuation from '
        '"Order Completed": the Track Purchase subscription takes only "Order Completed"'
    ) in result.stderr
    assert '#   trigger: type = "track" and event = "Download"' in result.stdout
    # The widened trigger, in parentheses: pasted after 'type = "track" and', it still holds.
    assert '(event = "Order Completed" or event = "Order completed")' in result.stderr


def test_causes_wrap_under_themselves_within_the_width(run_cli: RunCli, tmp_path: Path) -> None:
    result = run_cli("validate", write_events(tmp_path), "-m", MAPPINGS)
    tail = result.stdout.split("Problems by cause (5):\n", 1)[1].splitlines()
    assert max(len(line) for line in tail) <= 100
    assert all(line[0] in "✗! " for line in tail)
