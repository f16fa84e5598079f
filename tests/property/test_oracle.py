"""fbcli against the destination's own code (``tests/oracle/``): the oracle.

- The actions' fields (names, types, default mappings, required modes) are
  the ones the destinations declare.
- A fixed-seed corpus (``tests/oracle/corpus.py``, ``EVENTS`` per mode) is
  planned by fbcli and by the destination: every event must agree (both send
  the same call, or both send nothing), but for the documented, deliberate
  differences of fbcli's mapping directives (``compare.known_difference``).
  The long run is ``bench/oracle.py``.
- The acceptance cases and the sample events agree too, through their own
  mapping files.
- Each deliberate difference outside the body is pinned down, both sides: the
  destination's behaviour (so a fix upstream shows here) and fbcli's.

Without Node and npm, or offline before the first install, these tests skip
with the reason; with ``FBCLI_ORACLE_REQUIRED=1`` (CI) they fail instead.
"""

from __future__ import annotations

import gzip
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final

import pytest

from fbcli.actions import ACTIONS
from fbcli.actions.base import MODES, ActionField, Mode
from fbcli.emulator import Emulator, EmulatorConfig
from fbcli.events import Event, read_events
from fbcli.mapi import Credentials, MapiClient
from fbcli.mappings import MappingConfig, load_mappings
from fbcli.plan import DEFAULT_BASE_URL, PlannedCall, Rejection, plan_subscription
from fbcli.triggers import compile_trigger, parse_trigger
from tests.oracle.client import Oracle, Unavailable, required, start_oracle
from tests.oracle.compare import (
    canonical,
    fbcli_outcome,
    full_mapping,
    oracle_outcome,
    run_cases,
)
from tests.oracle.corpus import cases
from tests.support import REPO

SEED: Final = 11
EVENTS: Final = 3_000
"""Events per mode in the fixed-seed run (at least 2,000: the issue's floor)."""


@pytest.fixture(scope="module")
def oracle() -> Iterator[Oracle]:
    """The harness, for this module's tests, stopped after them."""
    started = start_oracle()
    if isinstance(started, Unavailable):
        if required():
            pytest.fail(f"the oracle is required here (FBCLI_ORACLE_REQUIRED): {started.reason}")
        pytest.skip(started.reason)
    with started:
        yield started


def ask(oracle: Oracle, request: dict[str, Any]) -> dict[str, Any]:
    [answer] = oracle.ask([request])
    return answer


# -- the fields -------------------------------------------------------------------------

_DECLARED: Final[dict[str, tuple[str, str | None, bool]]] = {
    "string": ("string", None, False),
    "number": ("number", None, False),
    "boolean": ("boolean", None, False),
    "date": ("string", "date", False),
    "datetime": ("string", "date-time", False),
    "uri": ("string", "uri", False),
    "object": ("object", None, False),
    "string_list": ("string", None, True),
    "products": ("object", None, True),
}
"""How the destinations declare a field of each of fbcli's types: type, format, multiple."""


def declared(spec: ActionField, mode: Mode) -> dict[str, Any]:
    kind, form, multiple = _DECLARED[spec.type]
    return {
        "type": kind,
        "format": form,
        "multiple": multiple,
        "required": mode in spec.required,
        "default": spec.default,
    }


def test_the_fields_are_the_destinations(oracle: Oracle) -> None:
    definitions = ask(oracle, {"op": "definitions"})["definitions"]
    for mode in MODES:
        theirs = definitions[mode]
        ours = {name: a for name, a in ACTIONS.items() if mode in a.modes}
        assert set(theirs) == set(ours), mode
        for name, action in ours.items():
            fields = {
                field_name: {
                    "type": field["type"],
                    "format": field.get("format"),
                    "multiple": bool(field.get("multiple")),
                    "required": field.get("required") is True,
                    "default": field.get("default"),
                }
                for field_name, field in theirs[name].items()
            }
            assert fields == {f.name: declared(f, mode) for f in action.fields_in(mode)}, name


def test_the_product_items_are_the_destinations(oracle: Oracle) -> None:
    definitions = ask(oracle, {"op": "definitions"})["definitions"]
    for mode in MODES:
        items = definitions[mode]["trackPurchase"]["products"]["properties"]
        assert {key: (item["type"], item["required"]) for key, item in items.items()} == {
            "sku": ("string", False),
            "name": ("string", False),
            "quantity": ("integer", False),
            "price": ("number", True),
            "description": ("string", False),
            "category": ("string", False),
            "url": ("string", False),
            "image_url": ("string", False),
        }


# -- the bodies -------------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_fixed_seed_events_agree_with_the_destination(oracle: Oracle, mode: Mode) -> None:
    tally = run_cases(oracle, cases(SEED, EVENTS, mode))
    compared = tally.compared.get(mode, 0)
    assert compared >= 2_000
    shown = "\n\n".join(result.describe() for result in tally.differences[:5])
    assert not tally.differences, (
        f"{len(tally.differences)} of {compared} events disagree with the destination "
        f"(seed {SEED}); the first ones:\n\n{shown}"
    )


def mapping_files() -> list[tuple[Path, Path]]:
    """Each event file with the mapping file it is read with (cases and samples)."""
    pairs = [
        (events, case / "mappings.yaml")
        for case in sorted((REPO / "tests" / "cases").iterdir())
        if case.is_dir()
        for events in sorted(case.glob("events.jsonl*"))
    ]
    samples = REPO / "sample_events"
    pairs += [
        (samples / "events.jsonl", REPO / "mappings.yaml"),
        (samples / "events.jsonl", samples / "mappings.direct.yaml"),
    ]
    return pairs


def load(path: Path) -> MappingConfig:
    return load_mappings(
        path.read_bytes(), path=str(path), merchant_id_env="1993d0f1-8206-4336-8c88-64e170f2419e"
    )


@pytest.mark.parametrize(
    ("events", "mappings"),
    mapping_files(),
    ids=lambda p: str(p.relative_to(REPO)),
)
def test_the_repository_events_agree_with_the_destination(
    oracle: Oracle, events: Path, mappings: Path
) -> None:
    """Every call of the acceptance cases and sample events (expected.jsonl included)."""
    config = load(mappings)
    data = events.read_bytes()
    if events.suffix == ".gz":
        data = gzip.decompress(data)
    items = list(read_events(io.BytesIO(data), str(events)))
    planned: list[tuple[Event, Any]] = [
        (item, subscription)
        for item in items
        if isinstance(item, Event)
        for subscription in config.active
        if subscription.matches(item.data)
    ]
    assert planned
    answers = oracle.ask(
        [
            {
                "op": config.mode,
                "action": subscription.action.name,
                "mapping": full_mapping(subscription),
                "event": item.data,
            }
            for item, subscription in planned
        ]
    )
    for (item, subscription), answer in zip(planned, answers, strict=True):
        record = plan_subscription(item, subscription, mode=config.mode, base_url=DEFAULT_BASE_URL)
        mine, theirs = fbcli_outcome(record), oracle_outcome(config.mode, answer)
        assert (mine.status, mine.call) == (theirs.status, theirs.call), (
            f"line {item.line}, {subscription.name}: {mine} != {theirs}"
        )


def test_a_quirk_is_what_the_destination_sends(oracle: Oracle) -> None:
    """A body fbcli sends with a quirk warning is the destination's, byte for byte."""
    config = load(REPO / "mappings.yaml")
    purchases = next(s for s in config.active if s.action.name == "trackPurchase")
    data = {
        "type": "track",
        "event": "Order Completed",
        "userId": 12345678901234567890,
        "properties": {
            "order_id": "o1",
            "total": True,
            "currency": "USD",
            "products": [{"sku": None, "price": None, "quantity": "1e400"}],
            "friendbuyAttributes": {"constructor": "x", "toString": 5},
        },
    }
    record = plan_subscription(Event("e", 1, data), purchases, mode="cloud", base_url="https://x")
    assert isinstance(record, PlannedCall)
    assert {w.field for w in record.warnings if w.quirk} == {
        "customerId",
        "amount",
        "products/0/price",
        "products/0/quantity",
        "constructor",
        "toString",
    }
    answer = ask(
        oracle,
        {
            "op": "cloud",
            "action": "trackPurchase",
            "mapping": full_mapping(purchases),
            "event": data,
        },
    )
    [call] = [r for r in answer["requests"] if r["url"].endswith("/v1/event/purchase")]
    assert canonical(json.loads(call["body"])) == canonical(record.body)
    assert json.loads(call["body"])["Object"] == "x"


# -- deliberate differences outside the body ---------------------------------------------

KEY: Final = "3f2e7a51-8c1b-4f3e-9d6a-0b1c2d3e4f50"
SECRET: Final = "mapi-secret-5b1f0c9e7d2a4e68"
CUSTOMER: Final = {"customerId": {"@path": "$.userId"}, "email": {"@path": "$.traits.email"}}
IDENTIFY: Final = {"type": "identify", "userId": "u1", "traits": {"email": "a@b.c"}}


def test_on_401_the_destination_fails_and_fbcli_reauthorizes_once(oracle: Oracle) -> None:
    answer = ask(
        oracle,
        {
            "op": "cloud",
            "action": "trackCustomer",
            "mapping": CUSTOMER,
            "event": IDENTIFY,
            "settings": {"authKey": "k-401", "authSecret": "s"},
            "replies": [401, 200],
            "advanceClock": 2 * 86_400,  # any token kept from earlier requests has expired
        },
    )
    paths = [r["url"].removeprefix("https://mapi.fbot.me") for r in answer["requests"]]
    assert paths == ["/v1/authorization", "/v1/customer"]  # no second authorization, no retry
    assert answer["error"]["name"] == "HTTPError"

    with Emulator(EmulatorConfig(key=KEY, secret=SECRET)) as emu:
        with MapiClient(emu.base_url, Credentials(KEY, SECRET)) as client:
            client.authorize()
            emu.revoke_tokens()
            result = client.send("/v1/customer", {"customerId": "u1", "email": "a@b.c"})
        assert (result.status, result.reauthorized) == (201, True)
        assert emu.stats()["tokens_issued"] == 2


def test_the_destination_keeps_one_token_for_every_account_fbcli_one_per_client(
    oracle: Oracle,
) -> None:
    first = ask(
        oracle,
        {
            "op": "cloud",
            "action": "trackCustomer",
            "mapping": CUSTOMER,
            "event": IDENTIFY,
            "settings": {"authKey": "account-a", "authSecret": "s"},
            "advanceClock": 2 * 86_400,
        },
    )
    assert first["requests"][0]["url"].endswith("/v1/authorization")
    second = ask(
        oracle,
        {
            "op": "cloud",
            "action": "trackCustomer",
            "mapping": CUSTOMER,
            "event": IDENTIFY,
            "settings": {"authKey": "account-b", "authSecret": "staging:s"},
        },
    )
    [call] = second["requests"]  # no authorization for account b, on another host even
    assert call["url"] == "https://mapi.fbot-staging.me/v1/customer"
    assert call["authorization"] == "token-for-account-a"

    with Emulator(EmulatorConfig(key=KEY, secret=SECRET)) as emu:
        with MapiClient(emu.base_url, Credentials(KEY, SECRET)) as client:
            assert client.send("/v1/customer", {"customerId": "u1", "email": "a@b.c"}).ok
        with MapiClient(emu.base_url, Credentials(KEY, SECRET)) as other:
            assert other.send("/v1/customer", {"customerId": "u2", "email": "b@b.c"}).ok
        assert emu.stats()["tokens_issued"] == 2  # each client authorizes for itself


TRIGGER_BUGS: Final = [
    (
        "and binds tighter than or",
        'type = "track" or event = "x" and userId = "u"',
        {"type": "track"},
        True,
    ),
    (
        "nested parentheses",
        '(type = "track" and (event = "a" or event = "b"))',
        {"type": "track", "event": "b"},
        True,
    ),
    ("! negates", '!(type = "track")', {"type": "identify"}, True),
    ("not negates", 'not type = "track"', {"type": "identify"}, True),
    ("anonymousId is a path", 'anonymousId = "a1"', {"anonymousId": "a1"}, True),
    ("match without * is exact", 'match(event, "Order")', {"event": "order"}, False),
]


@pytest.mark.parametrize(
    ("bug", "trigger", "event", "expected"), TRIGGER_BUGS, ids=[b[0] for b in TRIGGER_BUGS]
)
def test_where_the_destination_s_trigger_parser_is_broken_fbcli_is_right(
    oracle: Oracle, bug: str, trigger: str, event: dict[str, Any], expected: bool
) -> None:
    answer = ask(oracle, {"op": "fql", "trigger": trigger, "event": event})
    assert answer.get("matches", "fails") != expected, f"the destination fixed it: {bug}"
    assert compile_trigger(parse_trigger(trigger))(event) is expected


def test_a_rejection_is_nothing_sent_by_the_destination_either(oracle: Oracle) -> None:
    """The outcome, not the message: fbcli's errors are its own wording."""
    config = load(REPO / "mappings.yaml")
    customers = next(s for s in config.active if s.action.name == "trackCustomer")
    data = {"type": "identify", "userId": "u1", "traits": {"birthday": "12/25/1990"}}
    record = plan_subscription(Event("e", 1, data), customers, mode="cloud", base_url="https://x")
    assert isinstance(record, Rejection)
    answer = ask(
        oracle,
        {
            "op": "cloud",
            "action": "trackCustomer",
            "mapping": full_mapping(customers),
            "event": data,
        },
    )
    assert oracle_outcome("cloud", answer).status == "rejected"
    assert "Birthday must be a valid date" in answer["error"]["message"]
