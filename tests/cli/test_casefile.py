"""``fbcli test``: case files, matching, field-level differences, JUnit XML, ``--update``."""

from __future__ import annotations

import io
import json
import re
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from fbcli.casefile import (
    NO_EXPECTATION,
    CallExpectation,
    Case,
    FileResult,
    SuiteResult,
    compare_outcome,
    expectation_from,
    is_case_file,
    load_case_file,
    match_value,
    plan_update,
    run_case_file,
)
from fbcli.errors import MappingFileError
from fbcli.events import Event
from fbcli.mappings import load_mappings, parse_yaml
from fbcli.plan import Rejection, plan_event
from fbcli.report.casefile import render_results, render_updates, results_json
from fbcli.validation import Violation
from fbcli.values import same_value
from fbcli.yamltext import dump_yaml
from tests.support import REPO, RunCli

CLOUD = load_mappings((REPO / "mappings.yaml").read_bytes(), path="mappings.yaml")
DIRECT = load_mappings(
    (REPO / "tests" / "mapping_cases" / "mappings.direct.yaml").read_bytes(),
    path="mappings.direct.yaml",
)
ORDER: dict[str, Any] = {
    "type": "track",
    "event": "Order Completed",
    "userId": "u1",
    "properties": {"order_id": "o1", "total": 10, "currency": "USD"},
}


def outcome_of(event: dict[str, Any], config: Any = CLOUD) -> Any:
    return plan_event(Event("t.yaml", 1, event), config)


def expect(text: str) -> Any:
    """The parsed expectation of a one-case file whose expect is ``text``."""
    data = f"cases:\n  - name: c\n    event: {{type: page}}\n    expect: {text}\n"
    return load_case_file(data, path="c.yaml").cases[0].expect


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def console() -> Console:
    return Console(file=io.StringIO(), width=100, color_system=None)


def shown(c: Console) -> str:
    file = c.file
    assert isinstance(file, io.StringIO)
    return file.getvalue()


# -- loading -----------------------------------------------------------------------


def test_load_a_case_file() -> None:
    data = (
        b"\xef\xbb\xbfversion: 1\nmappings: ../m.yaml\ncases:\n"
        b"  - name: one\n    event: {type: page}\n    expect: unmatched\n"
        b"  - name: two\n    event:\n      type: identify\n    expect:\n"
        b"      - {subscription: S, action: trackCustomer, body_exact: {a: 1}}\n"
        b"  - name: three\n    event: {type: page}\n    expect: {errors: [{field: x}]}\n"
        b"  - name: four\n    event: {type: page}\n"
    )
    case_file = load_case_file(data, path="c.yaml")
    assert case_file.bom
    assert case_file.mappings == "../m.yaml"
    assert case_file.mappings_line == 2
    one, two, three, four = case_file.cases
    assert (one.name, one.line, one.event_line, one.expect) == ("one", 4, 5, "unmatched")
    assert two.event == {"type": "identify"}
    assert two.event_line == 9
    assert two.exact
    assert two.named == {"S"}
    assert two.expect == (
        CallExpectation(
            "planned", subscription="S", action="trackCustomer", body={"a": 1}, exact=True
        ),
    )
    assert three.expect == (CallExpectation("invalid", errors=[{"field": "x"}]),)
    assert three.named == frozenset()
    assert four.expect is None
    assert four.named == frozenset()


def test_load_text_without_bom() -> None:
    case_file = load_case_file("cases: [{name: a, event: {}}]", path="c.yaml")
    assert not case_file.bom
    assert case_file.mappings is None
    assert case_file.mappings_line is None


def test_is_case_file() -> None:
    assert is_case_file(b"# tests\ncases:\n  - name: x\n")
    assert is_case_file(b'"cases" : []')
    assert not is_case_file(b"version: 1\nsubscriptions: []\n")
    assert not is_case_file(b"other:\n  cases: []\n")


CASE = "  - name: c\n    event: {type: page}\n"

BAD_FILES = [
    ("cases: [\n", "YAML syntax error", 2),
    ("- a\n", "a case file must be a mapping, not a list", 1),
    ("case: []\n", "unknown key 'case' in a case file (did you mean 'cases'?)", 1),
    ("version: 2\ncases: []\n", "unsupported case file version 2", 1),
    ("mappings: 3\ncases: []\n", "'mappings' must be a path, not a number", 1),
    ("mappings: m.yaml\n", "a case file has no 'cases'", 1),
    ("cases: {}\n", "'cases' must be a list, not a mapping", 1),
    ("cases: []\n", "'cases' is empty", 1),
    ("cases:\n  - x\n", "a case must be a mapping, not a string", 2),
    ("cases:\n" + CASE + "    expected: unmatched\n", "unknown key 'expected' in a case", 4),
    ("cases:\n  - name: c\n", "a case has no 'event'", 2),
    ("cases:\n  - event: {}\n", "a case has no 'name'", 2),
    ("cases:\n  - {name: ' ', event: {}}\n", "'name' must be a non-empty string", 2),
    ("cases:\n  - {name: c, event: null}\n", "'event' must be a mapping (one event), not null", 2),
    ("cases:\n  - {name: c, event: [1]}\n", "'event' must be a mapping (one event), not a list", 2),
    ("cases:\n" + CASE + CASE, "duplicate case name 'c'; it is first used on line 2", 4),
    ("cases:\n" + CASE + "    expect: planned\n", "'expect' must be 'unmatched' or a list", 4),
    ("cases:\n" + CASE + "    expect: 3\n", "a list of calls, not a number", 4),
    ("cases:\n" + CASE + "    expect: []\n", "'expect' is empty", 4),
    ("cases:\n" + CASE + "    expect: [true]\n", "an expected call must be a mapping", 4),
    ("cases:\n" + CASE + "    expect: [{bdy: {}}]\n", "unknown key 'bdy' in an expected call", 4),
    ("cases:\n" + CASE + "    expect: {status: unmatched}\n", 'not "unmatched"', 4),
    ("cases:\n" + CASE + "    expect: {status: ok}\n", 'planned or invalid, not "ok"', 4),
    ("cases:\n" + CASE + "    expect: {subscription: 1}\n", "'subscription' must be a non", 4),
    ("cases:\n" + CASE + "    expect: {action: trackPurchases}\n", "did you mean", 4),
    ("cases:\n" + CASE + "    expect: {body: {}, body_exact: {}}\n", "not both", 4),
    ("cases:\n" + CASE + "    expect: {status: invalid, body: {}}\n", "goes with status", 4),
    ("cases:\n" + CASE + "    expect: {status: planned, errors: []}\n", "goes with status", 4),
    ("cases:\n" + CASE + "    expect: {body: [1]}\n", "'body' must be a mapping, not a list", 4),
    ("cases:\n" + CASE + "    expect: {push: {}}\n", "'push' must be a list", 4),
    ("cases:\n" + CASE + "    expect: {errors: x}\n", "'errors' must be a list", 4),
    ("cases:\n" + CASE + "    expect: {warnings: [x]}\n", "an entry of 'warnings' must be", 4),
    ("cases:\n" + CASE + "    expect: {errors: [{fld: a}]}\n", "did you mean 'field'", 4),
]


@pytest.mark.parametrize(("text", "message", "line"), BAD_FILES)
def test_case_file_mistakes_are_located(text: str, message: str, line: int) -> None:
    with pytest.raises(MappingFileError) as info:
        load_case_file(text, path="c.yaml")
    assert message in str(info.value)
    assert info.value.path == "c.yaml"
    assert info.value.line == line


def test_a_status_unmatched_call_hints_at_the_short_form() -> None:
    with pytest.raises(MappingFileError) as info:
        expect("[{status: unmatched}]")
    assert info.value.hint == "write 'expect: unmatched' instead"


# -- matching --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expected", "actual", "same"),
    [
        (1, 1.0, True),
        (10, 10, True),
        (True, 1, False),
        (1, True, False),
        (True, True, True),
        ("10", 10, False),
        (None, None, True),
        ("a", "a", True),
    ],
)
def test_same_value_compares_json_types(expected: Any, actual: Any, same: bool) -> None:
    assert same_value(expected, actual) is same


def test_subset_match() -> None:
    actual = {"orderId": "o1", "amount": 12, "products": [{"sku": "a", "price": 1}], "x": 1}
    assert match_value({"orderId": "o1", "products": [{"sku": "a"}]}, actual, "body") == []
    assert match_value(
        {"amount": 10, "couponCode": "C", "gone": None, "x": None}, actual, "body"
    ) == [
        "body.amount: expected 10, got 12",
        "missing body.couponCode",
        "body.x: expected no value, got 1",
    ]


def test_structure_differences() -> None:
    actual = {"a": 1, "l": [1, 2, 3], "m": {"k": 1}, "a.b": "v"}
    assert match_value(
        {"a": {"k": 1}, "l": [1, 2], "m": [1], "a.b": "w", "n": [{"z": 2}]}, actual, "body"
    ) == [
        "body.a: expected a mapping, got 1",
        "body.l: expected 2 items, got 3",
        'body.m: expected a list, got {"k": 1}',
        'body["a.b"]: expected "w", got "v"',
        "missing body.n",
    ]
    assert match_value([{"k": 2}], [{"k": 1}], "push") == ["push[0].k: expected 2, got 1"]
    assert match_value([1], [], "x") == ["x: expected 1 item, got 0"]


def test_exact_match_reports_extra_keys_and_long_values_are_cut() -> None:
    actual = {"a": 1, "b": {"c": 2, "d": "x" * 100}}
    differences = match_value({"a": 1, "b": {"c": 2}}, actual, "body", exact=True)
    assert differences == [f'unexpected body.b.d: "{"x" * 56}...']


def test_compare_with_no_expectation() -> None:
    assert compare_outcome(None, outcome_of(ORDER)) == [NO_EXPECTATION]


def test_compare_unmatched() -> None:
    page = outcome_of({"type": "page"})
    assert compare_outcome("unmatched", page) == []
    assert compare_outcome("unmatched", outcome_of(ORDER)) == [
        "status: expected unmatched, got planned (subscription Purchases)"
    ]
    two = outcome_of(ORDER, DIRECT)
    assert compare_outcome("unmatched", two) == [
        "status: expected unmatched, got 2 calls (Purchases (planned), Order events (planned))"
    ]
    assert compare_outcome(expect("{body: {}}"), page) == [
        "status: expected planned, got unmatched (no subscription's trigger matches)"
    ]
    assert compare_outcome(expect("[{}, {}]"), page) == [
        "status: expected 2 calls, got unmatched (no subscription's trigger matches)"
    ]


def test_compare_status_and_errors() -> None:
    no_currency = {**ORDER, "properties": {"order_id": "o1", "total": 10}}
    invalid = outcome_of(no_currency)
    assert compare_outcome(expect("{status: planned}"), invalid) == [
        (
            "status: expected planned, got invalid (required field 'currency' is missing "
            "— mapped from $.properties.currency)"
        )
    ]
    assert compare_outcome(expect("{errors: [{field: currency}]}"), invalid) == []
    assert compare_outcome(expect("{status: invalid}"), invalid) == []
    assert compare_outcome(expect("{errors: [{field: amount}]}"), invalid) == [
        'errors[0].field: expected "amount", got "currency"'
    ]
    assert compare_outcome(expect("{errors: [{field: a}, {field: b}]}"), invalid) == [
        (
            "errors: expected 2 errors, got 1: required field 'currency' is missing "
            "— mapped from $.properties.currency"
        )
    ]
    assert compare_outcome(expect("{status: invalid}"), outcome_of(ORDER)) == [
        "status: expected invalid, got planned"
    ]
    assert compare_outcome(expect("{action: trackSignUp, status: invalid}"), invalid) == [
        "action: expected trackSignUp, got trackPurchase"
    ]


def test_compare_push_and_warnings() -> None:
    planned = outcome_of(ORDER)
    assert compare_outcome(expect("{push: [track]}"), planned) == [
        "push: expected a push, got a MAPI request (the mapping is cloud mode)"
    ]
    assert compare_outcome(expect("{warnings: []}"), planned) == []
    assert compare_outcome(expect("{warnings: [{field: email}]}"), planned) == [
        "warnings: expected 1 warning, got 0"
    ]
    sign_up = {"type": "track", "event": "Signed Up", "userId": "u6", "properties": {}}
    direct = outcome_of(sign_up, DIRECT)
    assert compare_outcome(expect("{push: [track, sign_up, {id: u6}, true]}"), direct) == []
    assert compare_outcome(expect("{push: [track, signup, {}, true]}"), direct) == [
        'push[1]: expected "signup", got "sign_up"'
    ]
    assert compare_outcome(expect("{warnings: [{field: email}]}"), direct) == []


def test_compare_several_calls() -> None:
    two = outcome_of(ORDER, DIRECT)
    named = "[{subscription: Order events, body: {deduplicationId: order-o1}}, {body: {id: o1}}]"
    assert compare_outcome(expect(named), two) == []
    assert compare_outcome(expect("[{body: {id: o2}}, {body: {id: o1}}]"), two) == [
        'Purchases: body.id: expected "o2", got "o1"',
        "Order events: missing body.id",
    ]
    assert compare_outcome(expect("[{}, {}, {}]"), two) == ["expected 3 calls, got 2"]
    assert compare_outcome(expect("[{subscription: Purchase}]"), two) == [
        (
            "no call from subscription 'Purchase' (the event made: Purchases (planned), "
            "Order events (planned))"
        ),
        "unexpected call from subscription 'Purchases' (planned, trackPurchase)",
        "unexpected call from subscription 'Order events' (planned, trackCustomEvent)",
    ]
    assert compare_outcome(expect("{body: {amount: 11}}"), outcome_of(ORDER)) == [
        "body.amount: expected 11, got 10"
    ]


def test_expectation_from_an_outcome() -> None:
    assert expectation_from(outcome_of({"type": "page"})) == "unmatched"
    assert expectation_from(outcome_of(ORDER), exact=True) == [
        {
            "status": "planned",
            "body_exact": {"orderId": "o1", "amount": 10, "currency": "USD", "customerId": "u1"},
        }
    ]
    two = expectation_from(outcome_of(ORDER, DIRECT))
    assert [c["subscription"] for c in two] == ["Purchases", "Order events"]
    no_currency = {**ORDER, "properties": {"order_id": "o1", "total": 10}}
    assert expectation_from(outcome_of(no_currency), named=frozenset({"Purchases"})) == [
        {"subscription": "Purchases", "status": "invalid", "errors": [{"field": "currency"}]}
    ]


def test_an_error_without_a_field_is_expected_by_its_message() -> None:
    rejection = Rejection(Event("t", 1, {}), "S", "trackPurchase", (Violation(None, "boom"),))
    generated = expectation_from([rejection])
    assert generated == [{"status": "invalid", "errors": [{"message": "boom"}]}]
    case = Case("c", 1, {}, 1, expect(json.dumps(generated)))
    assert compare_outcome(case.expect, [rejection]) == []


# -- the command ---------------------------------------------------------------------------


def test_the_repository_acceptance_cases_pass(run_cli: RunCli) -> None:
    result = run_cli("test", str(REPO / "tests" / "mapping_cases"))
    assert result.exit_code == 0
    assert "✗" not in result.stdout
    assert re.search(r"^\d+ passed$", result.stdout, re.MULTILINE)
    assert "direct mode" in result.stdout
    assert "cloud mode" in result.stdout


def test_the_acceptance_cases_cover_every_action_in_both_modes() -> None:
    folder = REPO / "tests" / "mapping_cases"
    modes: dict[str, set[str]] = {"cloud": set(), "direct": set()}
    for path in sorted(folder.glob("*.yaml")):
        if not is_case_file(path.read_bytes()):
            continue
        case_file = load_case_file(path.read_bytes(), path=str(path))
        assert case_file.mappings is not None
        config_path = path.parent / case_file.mappings
        config = load_mappings(config_path.read_bytes(), path=str(config_path))
        for result in run_case_file(case_file, config).results:
            if isinstance(result.outcome, list):
                modes[config.mode].update(c.action for c in result.outcome)
    assert modes["direct"] == {
        "trackCustomer",
        "trackPurchase",
        "trackSignUp",
        "trackCustomEvent",
        "trackPage",
    }
    assert modes["cloud"] == modes["direct"] - {"trackPage"}


NEAR_MISSES = """\
mappings: mappings.yaml
cases:
  - name: trigger off by one word
    event: {type: track, event: Order Placed, properties: {order_id: o1, total: 10, currency: USD}}
    expect: {status: planned}
  - name: wrong property name
    event:
      {type: track, event: Order Completed, properties: {order_id: o2, revenue: 10, currency: USD}}
    expect: {status: planned, body: {amount: 10}}
  - name: string amount
    event:
      {type: track, event: Order Completed, properties: {order_id: o3, total: '10.50', currency: X}}
    expect: {body: {amount: '10.50'}}
  - name: missing email
    event: {type: identify, userId: u4, traits: {Email: four@example.com}}
    expect: {body: {email: four@example.com}}
"""


def test_near_misses_fail_with_field_level_differences(run_cli: RunCli, tmp_path: Path) -> None:
    shutil.copy(REPO / "mappings.yaml", tmp_path / "mappings.yaml")
    write(tmp_path / "near.yaml", NEAR_MISSES)
    result = run_cli("test", "near.yaml")
    assert result.exit_code == 1
    assert result.stdout.splitlines()[:5] == [
        "near.yaml · mappings.yaml · cloud mode",
        "  ✗ trigger off by one word",
        "  ✗ wrong property name",
        "  ✗ string amount",
        "  ✗ missing email",
    ]
    out = result.stdout
    assert "    status: expected planned, got unmatched (no subscription's trigger matches)" in out
    assert (
        "    status: expected planned, got invalid (required field 'amount' is missing "
        "— mapped from $.properties.total)"
    ) in out
    assert '    body.amount: expected "10.50", got 10.5' in out
    assert (
        "✗ missing email (near.yaml:14)\n    status: expected planned, got invalid "
        "(required field 'email' is missing — mapped from $.traits.email)"
    ) in out
    assert out.endswith("\n0 passed, 4 failed\n")


def test_junit_xml(run_cli: RunCli, tmp_path: Path) -> None:
    shutil.copy(REPO / "mappings.yaml", tmp_path / "mappings.yaml")
    write(
        tmp_path / "cases" / "near.yaml", NEAR_MISSES.replace("mappings.yaml", "../mappings.yaml")
    )
    write(
        tmp_path / "cases" / "odd.yml",
        'cases:\n  - name: "<b> & \\"q\\" \\x01"\n    event: {type: page}\n    expect: unmatched\n'
        "  - name: ok\n    event: {type: page}\n    expect: [{status: planned}]\n",
    )
    result = run_cli("test", "cases", "--junit", "report.xml")
    assert result.exit_code == 1
    root = ET.fromstring((tmp_path / "report.xml").read_bytes())
    assert root.tag == "testsuites"
    assert (root.get("tests"), root.get("failures"), root.get("errors")) == ("6", "5", "0")
    suites = root.findall("testsuite")
    assert [(s.get("name"), s.get("tests"), s.get("failures")) for s in suites] == [
        ("cases/near.yaml", "4", "4"),
        ("cases/odd.yml", "2", "1"),
    ]
    odd = suites[1].findall("testcase")
    assert odd[0].get("name") == '<b> & "q" \\x01'
    assert odd[0].find("failure") is None
    assert odd[0].get("classname") == "cases.odd"
    assert odd[0].get("line") == "2"
    failure = odd[1].find("failure")
    assert failure is not None
    assert failure.get("message") == (
        "status: expected planned, got unmatched (no subscription's trigger matches)"
    )
    first = suites[0].findall("testcase")[1].find("failure")
    assert first is not None
    assert first.text is not None
    assert "required field 'amount' is missing" in first.text


def test_json_output(run_cli: RunCli, tmp_path: Path) -> None:
    write(
        tmp_path / "c.yaml",
        "cases:\n  - {name: a, event: {type: page}, expect: unmatched}\n"
        "  - {name: b, event: {type: identify, userId: u, traits: {email: e@x.io}}, "
        "expect: unmatched}\n",
    )
    result = run_cli("test", "c.yaml", "--format", "json")
    assert result.exit_code == 1
    document = json.loads(result.stdout)
    assert document["passed"] == 1
    assert document["failed"] == 1
    [file] = document["files"]
    assert (file["path"], file["mappings"], file["mode"]) == (
        "c.yaml",
        "<built-in default>",
        "cloud",
    )
    assert file["cases"][0] == {"name": "a", "line": 2, "status": "passed"}
    assert file["cases"][1]["differences"] == [
        "status: expected unmatched, got planned (subscription Track Customer)"
    ]
    assert file["cases"][1]["actual"] == [
        {"status": "planned", "body": {"customerId": "u", "email": "e@x.io"}}
    ]


def test_default_directory_and_mapping_choice(run_cli: RunCli, tmp_path: Path) -> None:
    result = run_cli("test")
    assert result.exit_code == 2
    assert "no ./fbcli-tests/ directory" in result.stderr
    write(tmp_path / "fbcli-tests" / "mappings.yaml", "version: 1\nsubscriptions: []\n")
    write(tmp_path / "fbcli-tests" / ".hidden" / "x.yaml", "cases: []\n")
    result = run_cli("test")
    assert result.exit_code == 2
    assert "no case files here: no *.yaml or *.yml file with a top-level 'cases:' key" in (
        result.stderr
    )
    case = "cases:\n  - {name: page, event: {type: page}, expect: [{action: trackPage}]}\n"
    write(tmp_path / "fbcli-tests" / "a.yaml", case)
    write(tmp_path / "fbcli-tests" / "sub" / "b.yml", case)
    write(tmp_path / "fbcli-tests" / "notes.txt", case)
    result = run_cli("test")  # the built-in mapping: page views are unmatched
    assert result.exit_code == 1
    assert "fbcli-tests/a.yaml · <built-in default> · cloud mode" in result.stdout
    assert "fbcli-tests/sub/b.yml · <built-in default>" in result.stdout
    assert "notes" not in result.stdout
    assert "0 passed, 2 failed" in result.stdout
    shutil.copy(REPO / "tests" / "mapping_cases" / "mappings.direct.yaml", "mappings.yaml")
    result = run_cli("test", "fbcli-tests", "fbcli-tests/a.yaml")  # ./mappings.yaml, once each
    assert result.exit_code == 0
    assert "2 passed" in result.stdout
    result = run_cli("test", "-m", str(REPO / "mappings.yaml"), "fbcli-tests/a.yaml")
    assert result.exit_code == 1


def test_case_file_and_mapping_errors_exit_2(run_cli: RunCli, tmp_path: Path) -> None:
    result = run_cli("test", "nope.yaml")
    assert result.exit_code == 2
    assert "Error: case file not found (nope.yaml)" in result.stderr
    write(tmp_path / "bad.yaml", "cases:\n  - name: x\n    expect: unmatched\n")
    result = run_cli("test", "bad.yaml")
    assert result.exit_code == 2
    assert "Error: a case has no 'event' (bad.yaml:2:5)" in result.stderr
    write(tmp_path / "c.yaml", "mappings: missing.yaml\ncases: [{name: a, event: {}}]\n")
    result = run_cli("test", "c.yaml")
    assert result.exit_code == 2
    assert "Error: mapping file not found (missing.yaml)" in result.stderr
    assert "Hint: named in c.yaml:1" in result.stderr
    write(tmp_path / "missing.yaml", "version: 1\nsubscriptions: [{name: a}]\n")
    result = run_cli("test", "c.yaml")
    assert result.exit_code == 2
    assert "(missing.yaml:2" in result.stderr
    assert result.stdout == ""


def test_junit_path_that_cannot_be_written(run_cli: RunCli, tmp_path: Path) -> None:
    write(tmp_path / "c.yaml", "cases: [{name: a, event: {type: page}, expect: unmatched}]\n")
    (tmp_path / "out").mkdir()
    result = run_cli("test", "c.yaml", "--junit", "out")
    assert result.exit_code == 2
    assert "Error: cannot write" in result.stderr
    result = run_cli("test", "c.yaml", "--junit", "r.xml", "--update")
    assert result.exit_code == 2
    assert "does not go with --junit" in result.stderr


# -- --update ------------------------------------------------------------------------


UPDATABLE = """\
# the purchases we send
mappings: mappings.yaml
cases:
  - name: order   # the main one
    event:
      type: track
      event: Order Completed
      userId: u1
      properties: {order_id: o1, total: 10, currency: USD}
    expect:
      - subscription: Purchases
        body: {amount: 12}
  - name: no currency
    event: {type: track, event: Order Completed, userId: u2, properties: {order_id: o2, total: 1}}
    expect: {status: planned}   # wrong
  - name: fill me
    event: {type: page}
  - name: empty
    event: {type: page}
    expect:   # to do
  - {name: flow, event: {type: identify, userId: u5, traits: {email: f@x.io}}}
  - name: passes with a subset
    event: {type: identify, userId: u6, traits: {email: s@x.io}}
    expect: {body: {email: s@x.io}}
  - name: last
    event: {type: track, event: Signed Up, userId: u7, properties: {email: l@x.io}}
    expect: unmatched
"""

UPDATED = """\
# the purchases we send
mappings: mappings.yaml
cases:
  - name: order   # the main one
    event:
      type: track
      event: Order Completed
      userId: u1
      properties: {order_id: o1, total: 10, currency: USD}
    expect:
      - subscription: Purchases
        status: planned
        body: {orderId: o1, amount: 10, currency: USD, customerId: u1}
  - name: no currency
    event: {type: track, event: Order Completed, userId: u2, properties: {order_id: o2, total: 1}}
    expect: [{status: invalid, errors: [{field: currency}]}]   # wrong
  - name: fill me
    event: {type: page}
    expect: unmatched
  - name: empty
    event: {type: page}
    expect: unmatched   # to do
  - {name: flow, event: {type: identify, userId: u5, traits: {email: f@x.io}}, expect: [{status: planned, body: {customerId: u5, email: f@x.io}}]}
  - name: passes with a subset
    event: {type: identify, userId: u6, traits: {email: s@x.io}}
    expect: {body: {email: s@x.io}}
  - name: last
    event: {type: track, event: Signed Up, userId: u7, properties: {email: l@x.io}}
    expect: [{status: planned, body: {customerId: u7, email: l@x.io}}]
"""  # noqa: E501


def test_update_rewrites_failing_expectations_in_place(run_cli: RunCli, tmp_path: Path) -> None:
    shutil.copy(REPO / "mappings.yaml", tmp_path / "mappings.yaml")
    path = write(tmp_path / "c.yaml", UPDATABLE)
    result = run_cli("test", "c.yaml", "--update")
    assert result.exit_code == 0
    assert path.read_text(encoding="utf-8") == UPDATED
    assert result.stdout.splitlines() == [
        "updated c.yaml",
        "  ~ order (line 4)",
        "      body.amount: expected 12, got 10",
        "  ~ no currency (line 13)",
        (
            "      status: expected planned, got invalid (required field 'currency' is missing — "
            "mapped from $.properties.currency)"
        ),
        "  + fill me (line 16): expectation filled in",
        "  + empty (line 18): expectation filled in",
        "  + flow (line 21): expectation filled in",
        "  ~ last (line 25)",
        "      status: expected unmatched, got planned (subscription Sign Ups)",
        "",
        "6 cases updated in 1 file, 1 unchanged. Review the changes (git diff) before committing.",
    ]
    assert run_cli("test", "c.yaml").exit_code == 0
    before = path.stat().st_mtime_ns
    result = run_cli("test", "c.yaml", "--update")
    assert result.exit_code == 0
    assert result.stdout == "Nothing to update: all 7 cases pass.\n"
    assert path.stat().st_mtime_ns == before


def test_update_json_keeps_crlf_bom_and_body_exact(run_cli: RunCli, tmp_path: Path) -> None:
    text = (
        "\ufeffcases:\r\n  - name: a\r\n    event: {type: identify, userId: u1, traits: "
        "{email: a@x.io}}\r\n    expect: [{body_exact: {customerId: u1}}]\r\n"
    )
    path = tmp_path / "c.yaml"
    path.write_bytes(text.encode("utf-8"))
    result = run_cli("test", "c.yaml", "--update", "--format", "json")
    assert result.exit_code == 0
    assert json.loads(result.stdout) == {
        "updated": 1,
        "unchanged": 0,
        "files": [
            {
                "path": "c.yaml",
                "rewritten": False,
                "cases": [
                    {
                        "name": "a",
                        "line": 2,
                        "differences": ['unexpected body.email: "a@x.io"'],
                        "expect": [
                            {
                                "status": "planned",
                                "body_exact": {"customerId": "u1", "email": "a@x.io"},
                            }
                        ],
                    }
                ],
            }
        ],
    }
    data = path.read_bytes()
    assert data.startswith(b"\xef\xbb\xbfcases:\r\n")
    assert (
        b"\r\n    expect: [{status: planned, body_exact: {customerId: u1, email: a@x.io}}]\r\n"
        in data
    )
    assert b"\n" not in data.replace(b"\r\n", b"")
    assert run_cli("test", "c.yaml").exit_code == 0


def test_update_writes_long_expectations_as_blocks(tmp_path: Path) -> None:
    event = {
        "type": "identify",
        "userId": "u1",
        "traits": {"email": "a@x.io", "firstName": "A" * 30, "lastName": "B" * 30, "age": 3},
    }
    text = (
        "cases:\n  - name: block\n    event: " + json.dumps(event) + "\n"
        "  - event: {type: page}\n    name: >\n      folded last\n\n"
        "  - name: after a block event\n    event:\n      type: page\n"
    )
    case_file = load_case_file(text, path="c.yaml")
    result = run_case_file(case_file, CLOUD)
    update = plan_update(result)
    assert update.data is not None
    new = update.data.decode()
    assert "    expect:\n      - status: planned\n        body:\n          customerId: u1\n" in new
    assert "      folded last\n    expect: unmatched\n\n  - name: after a block event" in new
    assert new.endswith("    event:\n      type: page\n    expect: unmatched\n")
    again = run_case_file(load_case_file(new, path="c.yaml"), CLOUD)
    assert again.failed == 0


def test_update_of_an_alias_rewrites_the_whole_file(run_cli: RunCli, tmp_path: Path) -> None:
    text = (
        "# a comment that is lost\ncases:\n"
        "  - {name: a, event: {type: page}, expect: &x [{status: planned}]}\n"
        "  - {name: b, event: {type: page}, expect: *x}\n"
    )
    path = write(tmp_path / "c.yaml", text)
    result = run_cli("test", "c.yaml", "--update")
    assert result.exit_code == 0
    assert "Warning: c.yaml was written anew (an expect was an alias)" in result.stdout
    assert path.read_text(encoding="utf-8") == (
        "cases:\n"
        "  - name: a\n    event: {type: page}\n    expect: unmatched\n"
        "  - name: b\n    event: {type: page}\n    expect: unmatched\n"
    )


def test_update_that_breaks_an_alias_rewrites_the_whole_file(tmp_path: Path) -> None:
    text = (
        "cases:\n  - {name: a, event: {type: page}, expect: &e [{status: planned}]}\n"
        "  - {name: b, event: {type: page, copy: *e}, expect: unmatched}\n"
    )
    update = plan_update(run_case_file(load_case_file(text, path="c.yaml"), CLOUD))
    assert update.rewritten
    assert update.data is not None
    assert b"      copy:\n        - {status: planned}\n" in update.data


def test_update_in_a_flow_document(tmp_path: Path) -> None:
    text = (
        '{"cases": [{"name": "a", "event": {"type": "page"}, "expect": [{}]}, '
        '{"name": "b", "event": {"type": "page"}}]}\n'
    )
    result = run_case_file(load_case_file(text, path="c.json"), CLOUD)
    update = plan_update(result)
    assert not update.rewritten
    assert update.data == (
        b'{"cases": [{"name": "a", "event": {"type": "page"}, "expect": unmatched}, '
        b'{"name": "b", "event": {"type": "page"}, expect: unmatched}]}\n'
    )


@pytest.mark.parametrize(
    "value",
    [
        {"a": "1e3", "b": "0o17", "c": "yes", "d": "null", "e": "12:30", "f": "0x1F", "g": ".5"},
        {"h": "~", "i": "", "j": "true", "k": "-1", "l": "+.5e-3", "m": "a: b", "n": "[x]"},
        {"o": 1.5, "p": 10, "q": True, "r": None, "s": [], "t": {}, "u": "line\nbreak\x01"},
    ],
)
@pytest.mark.parametrize("flow", [True, False])
def test_dumped_yaml_reads_back_the_same(value: dict[str, Any], flow: bool) -> None:
    text = dump_yaml({"x": value}, flow=flow)
    read, _ = parse_yaml(text, "t.yaml", "the test")
    assert json.dumps(read) == json.dumps({"x": value})


# -- rendering -----------------------------------------------------------------------------


def test_render_results_shows_names_literally() -> None:
    text = (
        'cases:\n  - name: "[bold]x[/] \\x1b[31m"\n    event: {type: page}\n    expect: unmatched\n'
    )
    case_file = load_case_file(text, path="c.yaml")
    suite = SuiteResult((run_case_file(case_file, CLOUD),))
    c = console()
    render_results(c, suite)
    assert shown(c) == (
        "c.yaml · mappings.yaml · cloud mode\n  ✓ [bold]x[/] \\x1b[31m\n\n1 passed\n"
    )
    assert results_json(suite)["files"][0]["cases"][0]["status"] == "passed"


def test_render_updates_with_nothing_to_do() -> None:
    c = console()
    render_updates(c, [], cases=1)
    assert shown(c) == "Nothing to update: all 1 case pass.\n"


def test_a_file_result_counts() -> None:
    case_file = load_case_file("cases: [{name: a, event: {}}]", path="c.yaml")
    result = run_case_file(case_file, CLOUD)
    assert isinstance(result, FileResult)
    assert result.path == "c.yaml"
    assert result.failed == 1
    suite = SuiteResult((result, result))
    assert (suite.total, suite.passed, suite.failed) == (2, 0, 2)
