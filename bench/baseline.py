"""The baseline: the straightforward validator a user would write, to measure fbcli against.

    python bench/baseline.py FILE.jsonl[.gz]

Per line: ``json.loads``; the action chosen by the event's type and name (the
triggers of the top-level ``mappings.yaml``: ``identify`` → trackCustomer,
``Order Completed`` → trackPurchase, ``Signed Up`` → trackSignUp, ``Download``
or ``Video *`` → trackCustomEvent); a dict built from each field's default
``@path`` mapping by plain dotted lookups (``customerId``: the first of its two
paths that exists); then one reused ``jsonschema.Draft202012Validator`` per
action, on fbcli's own schemas, collecting the errors.  Product items keep only
the keys the schema knows (the schema forbids others; without this nearly every
order would fail on Segment's ``product_id``).

What it does not do, and fbcli does: coerce types (``"45.97"`` → 45.97), check
formats (dates, URIs), explain errors, build request bodies.  So it does less
work than ``fbcli validate``, and counts some events differently; the benchmark
compares events per second, and prints both sets of counts.

Prints one JSON object: ``lines``, ``events``, ``valid``, ``invalid``,
``unmatched``, ``malformed``.
"""

from __future__ import annotations

import gzip
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator

from fbcli.actions import ACTIONS
from fbcli.validation import load_schema

CLOUD_ACTIONS = ("trackCustomer", "trackPurchase", "trackSignUp", "trackCustomEvent")


def field_paths(action_name: str) -> list[tuple[str, list[list[str]]]]:
    """Each cloud field of an action with the dotted paths of its default mapping."""
    out: list[tuple[str, list[list[str]]]] = []
    for field in ACTIONS[action_name].fields_in("cloud"):
        default = field.default
        if "@path" in default:
            paths = [default["@path"]]
        else:  # {"@if": {"exists": ..., "then": {"@path": A}, "else": {"@path": B}}}
            paths = [default["@if"]["then"]["@path"], default["@if"]["else"]["@path"]]
        out.append((field.name, [p.removeprefix("$.").split(".") for p in paths]))
    return out


FIELDS = {name: field_paths(name) for name in CLOUD_ACTIONS}
VALIDATORS = {name: Draft202012Validator(load_schema(name)) for name in CLOUD_ACTIONS}
PRODUCT_KEYS = frozenset(
    load_schema("trackPurchase")["properties"]["products"]["items"]["properties"]
)


def pick_action(event: dict[str, Any]) -> str | None:
    """The action for an event, by its type and name; ``None``: no subscription."""
    kind = event.get("type")
    if kind == "identify":
        return "trackCustomer"
    if kind != "track":
        return None
    name = event.get("event")
    if name == "Order Completed":
        return "trackPurchase"
    if name == "Signed Up":
        return "trackSignUp"
    if name == "Download" or (isinstance(name, str) and name.startswith("Video ")):
        return "trackCustomEvent"
    return None


def lookup(event: dict[str, Any], path: list[str]) -> Any:
    """The value at a dotted path, or ``None``."""
    value: Any = event
    for key in path:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value


def build_payload(action: str, event: dict[str, Any]) -> dict[str, Any]:
    """The action's fields, each from the first of its default paths that has a value."""
    payload: dict[str, Any] = {}
    for name, paths in FIELDS[action]:
        for path in paths:
            value = lookup(event, path)
            if value is not None:
                payload[name] = value
                break
    products = payload.get("products")
    if isinstance(products, list):
        payload["products"] = [
            {k: v for k, v in item.items() if k in PRODUCT_KEYS} if isinstance(item, dict) else item
            for item in products
        ]
    return payload


def read_lines(path: Path) -> Iterator[bytes]:
    """The file's lines (gzip when it ends in ``.gz``)."""
    with gzip.open(path, "rb") if path.suffix == ".gz" else path.open("rb") as stream:
        yield from stream


def run(path: Path) -> dict[str, int]:
    """Validate every line of ``path``; the counts."""
    counts = dict.fromkeys(("lines", "events", "valid", "invalid", "unmatched", "malformed"), 0)
    for line in read_lines(path):
        counts["lines"] += 1
        if not line.strip():
            continue
        try:
            event = json.loads(line)
        except ValueError:
            counts["malformed"] += 1
            continue
        if not isinstance(event, dict):
            counts["malformed"] += 1
            continue
        counts["events"] += 1
        action = pick_action(event)
        if action is None:
            counts["unmatched"] += 1
            continue
        errors = [e.message for e in VALIDATORS[action].iter_errors(build_payload(action, event))]
        counts["invalid" if errors else "valid"] += 1
    return counts


def main(argv: list[str]) -> int:
    """``baseline.py FILE``: print the counts as one JSON object."""
    if len(argv) != 1:
        print("usage: baseline.py FILE.jsonl[.gz]", file=sys.stderr)
        return 2
    print(json.dumps(run(Path(argv[0]))))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
