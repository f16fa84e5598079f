"""Fuzzing the mapping-file loader (``fbcli.mappings.load_mappings``) on any YAML.

Documents are mapping files and arbitrary structures (``tests.unit.test_mappings``)
with field mappings drawn from the directive fuzzer, in which sub-documents are
shared (PyYAML writes anchors and aliases for them), nested past the depth
limit, then dumped in block or flow style and often spoiled in the text: a tag
(``!!binary``, ``!!python/object``, ``!custom`` ...), an anchor, an undefined
alias, a merge key, a tab, a stray character.  Raw YAML-ish text and bytes are
fuzzed as well.  For every input:

- ``load_mappings`` returns a config or raises ``MappingFileError``, never
  anything else; the error names the file and, unless it is about the whole
  file (empty, too large), a line and column inside the text;
- a bad trigger is located at the very character the trigger parser points at,
  in every scalar style PyYAML writes (plain, quoted, literal, folded, wrapped
  over several lines, escaped);
- a bad field mapping is located at the key or list entry that the
  ``DirectiveError`` names, inside the file.
"""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from fbcli.directives import DirectiveError, compile_mapping
from fbcli.errors import MappingFileError
from fbcli.mappings import _BREAK_RE, MappingConfig, load_mappings, parse_yaml
from fbcli.triggers import TriggerSyntaxError, parse_trigger
from tests.support import examples
from tests.support.directives import MAPPINGS
from tests.support.mappings import DOCUMENTS, FILES, UUID, YAML_PIECES
from tests.support.strategies import deep
from tests.support.triggers import trigger_texts

# A failing example's huge values (thousands of digits) would make hypothesis warn about
# its repr, and filterwarnings = error would turn the warning into the reported failure.
pytestmark = pytest.mark.filterwarnings("ignore:Generating overly large repr")

FILE = "m.yaml"
WHOLE_FILE_MESSAGES = ("the mapping file is empty", "the mapping file is too large")
TAGS = [
    "!!str ",
    "!!int ",
    "!!float ",
    "!!bool ",
    "!!null ",
    "!!binary ",
    "!!timestamp ",
    "!!set ",
    "!!omap ",
    "!!map ",
    "!!seq ",
    "!!python/object:os.system ",
    "!!python/tuple ",
    "!custom ",
    "!<tag:yaml.org,2002:str> ",
    "!e!x ",
    "&anchor ",
    "*undefined ",
    "<<: ",
    "\t",
    "@",
    "`",
    "%",
    "\x07",
    "\ufffe",
]


def lines_of(text: str) -> list[str]:
    """The text's lines as PyYAML counts them (``\\r\\n``, ``\\r``, ``\\n``, NEL, LS, PS)."""
    return _BREAK_RE.split(text)


def load_located(data: str | bytes) -> MappingConfig | MappingFileError:
    """A config, or a ``MappingFileError`` located inside ``data``; nothing else."""
    try:
        return load_mappings(data, path=FILE)
    except MappingFileError as caught:
        error = caught
    assert error.path == FILE
    assert error.message
    assert "\n" not in error.message
    assert error.hint is None or "\n" not in error.hint
    if error.line is None:
        assert error.message.startswith(WHOLE_FILE_MESSAGES), error.message
        assert str(error) == f"{error.message} ({FILE})"
        return error
    assert error.column is not None
    assert str(error) == f"{error.message} ({FILE}:{error.line}:{error.column})"
    text = data.decode("utf-8", "replace") if isinstance(data, bytes) else data
    lines = lines_of(text.removeprefix("\ufeff"))
    assert 1 <= error.line <= len(lines), (error, len(lines))
    assert 1 <= error.column <= len(lines[error.line - 1]) + 1, error
    return error


# -- arbitrary structures, shared, deep, tagged ------------------------------------------


def share(document: Any, shared: Any, places: list[int]) -> Any:
    """``document`` with the same ``shared`` object put at a few places (YAML aliases).

    In a mapping file the places are field mappings; elsewhere, any object or list.
    """
    subscriptions = document.get("subscriptions") if isinstance(document, dict) else None
    if isinstance(subscriptions, list) and all(isinstance(s, dict) for s in subscriptions):
        for place in places:
            subscription = subscriptions[place % len(subscriptions)] if subscriptions else {}
            mapping = subscription.setdefault("mapping", {})
            if isinstance(mapping, dict):
                mapping[("email", "name", "firstName")[place % 3]] = shared
        return document
    containers: list[dict[str, Any] | list[Any]] = []
    stack = [document]
    while stack:
        node = stack.pop()
        if isinstance(node, dict | list):
            containers.append(node)
            stack.extend(node.values() if isinstance(node, dict) else node)
    for place in places:
        if not containers:
            break
        target = containers[place % len(containers)]
        if isinstance(target, dict):
            target[f"shared{place}"] = shared
        else:
            target.append(shared)
    return document


SUBSCRIPTIONS = st.fixed_dictionaries(
    {
        "name": st.sampled_from(["A", "B", "C"]),
        "action": st.sampled_from(
            ["trackCustomer", "trackPurchase", "trackCustomEvent", "trackPage"]
        ),
        "trigger": st.one_of(st.just('type = "identify"'), trigger_texts()),
    },
    optional={
        "enabled": st.booleans(),
        "mapping": st.dictionaries(
            st.sampled_from(["email", "amount", "eventType", "name", "nope", "age"]),
            MAPPINGS,
            max_size=3,
        ),
    },
)
MAPPING_FILES = st.fixed_dictionaries(
    {"subscriptions": st.lists(SUBSCRIPTIONS, min_size=1, max_size=3)},
    optional={"mode": st.sampled_from(["cloud", "direct"]), "merchant_id": st.just(UUID)},
)


@st.composite
def yaml_texts(draw: st.DrawFn) -> str:
    document = draw(st.one_of(MAPPING_FILES, MAPPING_FILES, MAPPING_FILES, FILES, DOCUMENTS))
    if draw(st.booleans()):
        shared = draw(st.one_of(MAPPINGS, MAPPINGS, DOCUMENTS))
        places = draw(st.lists(st.integers(min_value=0, max_value=50), min_size=1, max_size=3))
        document = share(document, shared, places)
    if draw(st.integers(min_value=0, max_value=9)) == 0:
        depth = draw(st.sampled_from([30, 58, 59, 60, 61, 120]))
        document = share(document, deep("x", depth), [draw(st.integers(min_value=0, max_value=50))])
    text = yaml.safe_dump(
        document,
        default_flow_style=draw(st.sampled_from([False, True, None])),
        allow_unicode=draw(st.booleans()),
        width=draw(st.sampled_from([20, 80, 10_000])),
    )
    for _ in range(draw(st.sampled_from([0, 0, 1, 2]))):
        at = draw(st.integers(min_value=0, max_value=len(text)))
        text = text[:at] + draw(st.sampled_from(TAGS)) + text[at:]
    return text


@settings(max_examples=examples(300), deadline=None, suppress_health_check=list(HealthCheck))
@given(text=yaml_texts())
def test_fuzz_mapping_file_generated_documents(text: str) -> None:
    outcome = load_located(text)
    event("loaded" if isinstance(outcome, MappingConfig) else "located error")


@settings(max_examples=examples(300), deadline=None, suppress_health_check=list(HealthCheck))
@given(
    data=st.one_of(
        st.lists(YAML_PIECES, max_size=40).map("".join),
        st.text(max_size=200),
        st.binary(max_size=200),
        st.lists(YAML_PIECES, max_size=20).map(lambda pieces: ("".join(pieces)).encode("utf-16")),
    )
)
def test_fuzz_mapping_file_raw_text(data: str | bytes) -> None:
    load_located(data)


# -- exact locations ---------------------------------------------------------------------


def file_with(subscription: dict[str, Any], *, style: str | None, width: int, unicode: bool) -> str:
    document = {"mode": "cloud", "subscriptions": [{"name": "A", **subscription}]}
    return yaml.safe_dump(document, default_style=style, width=width, allow_unicode=unicode)


STYLES = st.sampled_from([None, None, "'", '"', "|", ">"])
WIDTHS = st.sampled_from([12, 20, 80, 10_000])


@settings(max_examples=examples(300), deadline=None, suppress_health_check=list(HealthCheck))
@given(trigger=trigger_texts(), style=STYLES, width=WIDTHS, unicode=st.booleans())
def test_fuzz_mapping_file_locates_trigger_errors(
    trigger: str, style: str | None, width: int, unicode: bool
) -> None:
    try:
        parse_trigger(trigger)
    except TriggerSyntaxError as caught:
        syntax = caught
    else:
        return
    text = file_with(
        {"action": "trackCustomer", "trigger": trigger}, style=style, width=width, unicode=unicode
    )
    error = load_located(text)
    assert isinstance(error, MappingFileError)
    if not error.message.startswith("bad trigger"):  # not a string to fbcli's YAML (e.g. 0o17)
        event("trigger is not a string")
        return
    if error.message != f"bad trigger: {syntax.message}":
        event("trigger error located at its value")
        assert error.message == f"bad trigger at column {syntax.column}: {syntax.message}"
        return
    event("trigger error located at its character")
    assert error.line is not None
    assert error.column is not None
    here = lines_of(text)[error.line - 1][error.column - 1 :]
    named = trigger[syntax.column - 1 : syntax.column]
    if named.strip():  # a blank is placed after the character before it
        escaped = here.startswith("\\") or (named == "'" and here.startswith("''"))
        assert here.startswith(named) or escaped, (here[:10], named)


@settings(max_examples=examples(250), deadline=None, suppress_health_check=list(HealthCheck))
@given(
    mapping=MAPPINGS,
    flow=st.sampled_from([False, True, None]),
    width=WIDTHS,
    unicode=st.booleans(),
)
def test_fuzz_mapping_file_locates_mapping_errors(
    mapping: Any, flow: bool | None, width: int, unicode: bool
) -> None:
    subscription = {"name": "A", "action": "trackCustomer", "trigger": "a = 1"}
    document = {"subscriptions": [{**subscription, "mapping": {"email": mapping}}]}
    text = yaml.safe_dump(document, default_flow_style=flow, width=width, allow_unicode=unicode)
    outcome = load_located(text)
    loaded, _ = parse_yaml(text, FILE, "the mapping file")
    field = loaded["subscriptions"][0]["mapping"]["email"]
    try:
        compile_mapping(field)
    except DirectiveError as caught:
        expected = caught
    else:
        event("valid mapping")
        assert isinstance(outcome, MappingConfig) or not outcome.message.startswith("bad mapping")
        return
    event("invalid mapping")
    assert isinstance(outcome, MappingFileError)
    assert outcome.message == f"bad mapping for 'email': {expected.message}"
    path = ("subscriptions", 0, "mapping", "email", *expected.location)
    assert (outcome.line, outcome.column) == mark_of(text, path)


def mark_of(text: str, path: tuple[str | int, ...]) -> tuple[int, int]:
    """The 1-based line and column of the node at ``path``: of its key when it ends in a key."""
    node = yaml.compose(text, Loader=yaml.SafeLoader)
    assert node is not None
    mark = node.start_mark
    for number, step in enumerate(path, start=1):
        if isinstance(node, yaml.MappingNode):
            key, node = next((k, v) for k, v in node.value if k.value == step)
            mark = key.start_mark if number == len(path) else node.start_mark
        else:
            assert isinstance(node, yaml.SequenceNode)
            assert isinstance(step, int)
            node = node.value[step]
            mark = node.start_mark
    return mark.line + 1, mark.column + 1


def test_mark_of_finds_keys_and_entries() -> None:
    text = "a:\n  b: [1, {c: 2}]\n"
    assert mark_of(text, ("a", "b")) == (2, 3)
    assert mark_of(text, ("a", "b", 1)) == (2, 10)
    assert mark_of(text, ("a", "b", 1, "c")) == (2, 11)
