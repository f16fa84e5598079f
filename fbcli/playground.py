"""``fbcli eval``: one trigger, or one field mapping, tried against each event."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fbcli.errors import ConfigError
from fbcli.mappings import load_field_mapping
from fbcli.plan import normalize_json
from fbcli.triggers import compile_option
from fbcli.values import MISSING

Evaluator = Callable[[Any], dict[str, Any]]
"""An event's data → what ``fbcli eval`` prints of it (``match``, or ``value``)."""


def evaluator(trigger: str | None, mapping: str | None) -> Evaluator:
    """``{"match": bool}`` for a trigger; ``{"value": ...}`` for a mapping (JSON or YAML
    text), ``{}`` when it resolves to nothing.  Exactly one of the two is given."""
    if (trigger is None) == (mapping is None):
        raise ConfigError("give exactly one of --trigger or --mapping")
    if trigger is not None:
        matches = compile_option(trigger, "--trigger")
        return lambda data: {"match": matches(data)}
    assert mapping is not None
    resolve = load_field_mapping(mapping, path="--mapping").resolve

    def evaluate(data: Any) -> dict[str, Any]:
        value = resolve(data)
        return {} if value is MISSING else {"value": normalize_json(value)}

    return evaluate
