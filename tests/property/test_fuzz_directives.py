"""Fuzzing the mapping-kit directives (``fbcli.directives``): compile, locate, resolve.

Mappings are drawn three ways: well-formed directives
(``tests.unit.test_directives.valid_mappings``), arbitrary JSON built from directive
names and option keys (``any_json`` there), and directives whose paths and
templates hold digit runs longer than ``int()`` converts, non-ASCII digits,
or are taken from the event itself (``{"@path": {"@path": "$.p"}}``).  Events
are any JSON, NaN and huge integers included, with the path texts as values.
For any of them:

- ``compile_mapping`` returns a resolver or raises ``DirectiveError`` with a
  one-line message and a location that leads, key by key and index by index,
  to a node of the mapping;
- ``source_paths`` never raises;
- the resolver never raises, and returns ``MISSING`` or a JSON value (strict
  JSON when the event is).
"""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from fbcli.directives import DirectiveError, Location, compile_mapping, source_paths
from fbcli.values import MISSING
from tests.support import examples
from tests.support.directives import (
    MAPPINGS,
    PATH_TEXTS,
    TEMPLATES,
    is_json_like,
)
from tests.support.strategies import TOO_MANY_DIGITS, json_values

# A failing example's huge values (thousands of digits) would make hypothesis warn about
# its repr, and filterwarnings = error would turn the warning into the reported failure.
pytestmark = pytest.mark.filterwarnings("ignore:Generating overly large repr")

EVENTS = st.fixed_dictionaries(
    {},
    optional={
        "p": PATH_TEXTS
        | TEMPLATES
        | st.sampled_from(['{"a":[1]}', '"\\ud800"', "[" * 120 + "]" * 120]),
        "a": json_values(finite=False, max_leaves=8),
        "b": json_values(finite=False, max_leaves=4),
        TOO_MANY_DIGITS: st.integers(),
    },
)


def walk(mapping: Any, location: Location) -> Any:
    """The node ``location`` leads to: each step a key of an object or an index of an array."""
    node = mapping
    for step in location:
        if isinstance(node, dict):
            assert step in node, (step, location)
            node = node[step]
        else:
            assert isinstance(node, list), (step, location)
            assert isinstance(step, int), (step, location)
            assert 0 <= step < len(node), (step, location)
            node = node[step]
    return node


def strictly_json(value: Any) -> bool:
    """No NaN or infinity anywhere (what a JSON Lines event can hold)."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, float) and not math.isfinite(item):
            return False
        if isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return True


@settings(max_examples=examples(400), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mapping=MAPPINGS, events=st.lists(EVENTS, min_size=1, max_size=3))
def test_fuzz_directives_compile_locate_resolve(mapping: Any, events: list[dict[str, Any]]) -> None:
    source_paths(mapping)
    failure: DirectiveError | None = None
    try:
        resolve = compile_mapping(mapping)
    except DirectiveError as error:
        failure = error
    if failure is not None:
        event("invalid mapping")
        assert failure.message
        assert "\n" not in failure.message
        assert str(failure) == failure.message
        walk(mapping, failure.location)
        return
    event("valid mapping")
    for data in events:
        result = resolve(data)
        if result is MISSING:
            continue
        assert is_json_like(result)
        if strictly_json(data) and strictly_json(mapping):
            json.dumps(result, allow_nan=False)
