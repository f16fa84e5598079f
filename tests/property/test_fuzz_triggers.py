"""Fuzzing the trigger language (``fbcli.triggers``): text in, verdicts out, nothing raised.

Trigger text is drawn from the grammar (paths, operators, literals, calls,
``and``/``or``/``not``/``!``, parentheses) with paths whose segments include
digit runs longer than ``int()`` converts and non-ASCII digits, and then often
spoiled (a token dropped, doubled or swapped for another).  For any such text:

- ``parse_trigger`` returns a node or raises ``TriggerSyntaxError`` with a
  one-line message and a column inside the text (or just after it), which
  points at the token or character the message names;
- a node formats back to text that parses to the same node;
- evaluated on any JSON value shape at its paths (objects, arrays indexed by
  digit segments, NaN, huge integers, text), the compiled predicate and the
  tracer never raise and agree leaf by leaf with the tests' interpreter.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from fbcli.triggers import (
    TriggerSyntaxError,
    compile_trigger,
    evaluate_trigger,
    format_trigger,
    lookup,
    parse_trigger,
    trace_trigger,
)
from tests.support import examples
from tests.support.strategies import json_values
from tests.support.triggers import interpret, leaf_nodes, plain_lookup, same, trigger_texts

# A failing example's huge values (thousands of digits) would make hypothesis warn about
# its repr, and filterwarnings = error would turn the warning into the reported failure.
pytestmark = pytest.mark.filterwarnings("ignore:Generating overly large repr")


def check_syntax_error(error: TriggerSyntaxError, text: str) -> None:
    """The error is located inside the text, at what its message names."""
    assert error.text == text
    assert error.message
    assert "\n" not in error.message
    assert 1 <= error.column <= len(text) + 1
    assert str(error) == f"{error.message} at column {error.column}"
    at = text[error.column - 1 :]
    if "found end of trigger" in error.message:
        assert error.column == len(text) + 1
    named = re.search(r"found '(.*?)(?:\.\.\.)?'(?: \(|$)", error.message)
    if named is not None:
        assert at.startswith(named.group(1))
    if error.message.startswith("unexpected character "):
        assert repr(at[:1]) in error.message


@st.composite
def events_for(draw: st.DrawFn, paths: list[str]) -> dict[str, Any]:
    """An event with any JSON value shape along each path (arrays where a segment is an index)."""
    event: dict[str, Any] = draw(
        st.dictionaries(st.sampled_from(["a", "b", "0"]), json_values(finite=False), max_size=2)
    )
    for path in paths:
        if not draw(st.booleans()):
            continue
        segments = path.split(".")
        node: Any = event
        for number, segment in enumerate(segments):
            last = number == len(segments) - 1
            value = (
                draw(json_values(finite=False))
                if last
                else draw(st.sampled_from(["object", "array", "scalar"]))
            )
            if isinstance(node, dict):
                child = node.get(segment)
                if not last and isinstance(child, dict | list):
                    node = child
                    continue
                node[segment] = {} if value == "object" else [] if value == "array" else value
            elif isinstance(node, list) and segment.isascii() and segment.isdigit():
                index = int(segment[-4:])  # far-away indexes are left past the end
                if index > 3:
                    break
                node.extend([None] * (index + 1 - len(node)))
                node[index] = {} if value == "object" else [] if value == "array" else value
            else:
                break
            node = node[segment] if isinstance(node, dict) else node[index]
    return event


@settings(max_examples=examples(400), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=trigger_texts(), data=st.data())
def test_fuzz_trigger_parse_and_evaluate(text: str, data: st.DataObject) -> None:
    try:
        node = parse_trigger(text)
    except TriggerSyntaxError as error:
        event("syntax error")
        check_syntax_error(error, text)
        return
    event("parsed")
    formatted = format_trigger(node)
    assert same(parse_trigger(formatted), node)
    predicate = compile_trigger(node)
    leaves = leaf_nodes(node)
    for _ in range(3):
        sample = data.draw(events_for([leaf.path for leaf in leaves]), label="event")
        result = interpret(node, sample)
        assert isinstance(result, bool)
        assert evaluate_trigger(node, sample) is result
        assert predicate(sample) is result
        steps = trace_trigger(node, sample)
        assert [step.text for step in steps] == [format_trigger(leaf) for leaf in leaves]
        for step, leaf in zip(steps, leaves, strict=True):
            assert step.actual is plain_lookup(sample, leaf.path)
            assert step.actual is lookup(sample, leaf.path)
            assert step.result is interpret(leaf, sample)


@settings(max_examples=examples(500), deadline=None)
@given(text=st.one_of(st.text(), st.binary().map(lambda b: b.decode("utf-8", "replace"))))
def test_fuzz_trigger_parse_any_text(text: str) -> None:
    try:
        node = parse_trigger(text)
    except TriggerSyntaxError as error:
        check_syntax_error(error, text)
    else:
        assert same(parse_trigger(format_trigger(node)), node)
