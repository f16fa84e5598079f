"""What each action's fields are and where they land, as data: ``fbcli actions`` and the docs.

Everything here is derived from the definitions the code runs on
(``fbcli/actions/``: ``Action.fields``, ``Action.body_maps`` and their
``KeyRule`` tables; ``build_schema`` for product item types), never from a
second hand-written table, so the docs cannot drift from the behaviour:

- a field's *landing* per mode comes from the mode's ``BodyMap``: the field's
  rule (its target key and converter), else the map's ``unmapped`` policy;
  the action's ``lift`` field is lifted, and ``friendbuyAttributes`` is found
  by asking ``spread_attributes`` which key it spreads;
- a default mapping is rendered from its directive (``{"@path": ...}`` →
  ``$.properties.total``, ``@if``/``exists`` → "``A`` if it exists, else ``B``").

``markdown_reference()`` is the field reference of ``docs/actions.md``
(``fbcli actions --markdown``, put there by ``docs/generate.py``, which a test
runs).  The module is pure: no I/O, no printing.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal

from fbcli.actions import ACTIONS
from fbcli.actions.base import (
    MODES,
    Action,
    ActionField,
    BodyMap,
    KeyRule,
    Mode,
    spread_attributes,
)
from fbcli.errors import ConfigError
from fbcli.text import closest
from fbcli.validation import build_schema

PUSH_TYPE_FIELD: Final = "eventType"
"""The field ``plan.build_call`` takes the push type from when an action has no ``direct_type``."""

LandingKind = Literal[
    "key",
    "additionalProperties",
    "top-level",
    "not-sent",
    "spread",
    "lifted",
    "push-type",
    "absent",
]

Code = Callable[[str], str]
"""How a literal (a key, a path) is shown: as is (terminal) or as Markdown code."""


def plain(text: str) -> str:
    """Show a literal as it is."""
    return text


def markdown_code(text: str) -> str:
    """Show a literal as Markdown code (``|`` escaped, so it can sit in a table cell)."""
    fence = "``" if "`" in text else "`"
    pad = " " if fence == "``" else ""
    return f"{fence}{pad}{text}{pad}{fence}".replace("|", "\\|")


@dataclass(frozen=True, slots=True)
class Landing:
    """Where a payload key ends up in one mode's body."""

    kind: LandingKind
    key: str | None = None
    """The dotted body key (``customer.id``), for ``kind == "key"``."""
    convert: str | None = None
    """The converter's name (``to-string``, ``to-integer``, ``to-number``, ``date``)."""

    def describe(self, code: Code = plain) -> str:
        """``customer.id (to-string)``, ``additionalProperties (as text)``, ``not sent`` ..."""
        if self.kind == "key":
            assert self.key is not None
            return code(self.key) + (f" ({self.convert})" if self.convert else "")
        return {
            "additionalProperties": f"{code('additionalProperties')} (as text)",
            "top-level": "top level",
            "not-sent": "not sent",
            "spread": "spread into the top level",
            "lifted": "each member lifted to the top",
            "push-type": "the push type, not in the payload",
            "absent": "—",
        }[self.kind]

    def to_dict(self) -> dict[str, str]:
        """The JSON form: ``kind`` and, when known, ``key`` and ``convert``."""
        out: dict[str, str] = {"kind": self.kind}
        if self.key is not None:
            out["key"] = self.key
        if self.convert is not None:
            out["convert"] = self.convert
        return out


@dataclass(frozen=True, slots=True)
class FieldDoc:
    """One field (or one key of a product item): type, default, requirement, landing per mode."""

    name: str
    type: str
    description: str
    default: Any
    """The default mapping (a directive or constant); for item keys, the value put in when
    missing; ``None``: none."""
    required: tuple[Mode, ...]
    body: Mapping[Mode, Landing]
    items: tuple[FieldDoc, ...] = ()
    """For lists of objects (``products``): each item key."""

    def required_text(self) -> str:
        """``yes`` when required in every mode shown, else the modes (``cloud``), else ``""``."""
        if self.required and len(self.required) == len(self.body):
            return "yes"
        return ", ".join(self.required)

    def to_dict(self) -> dict[str, Any]:
        """The JSON form (``default`` as the raw mapping, ``default_text`` as shown)."""
        out: dict[str, Any] = {
            "name": self.name,
            "type": self.type,
            "description": self.description,
            "default": self.default,
            "default_text": describe_default(self.default),
            "required": list(self.required),
            "body": {
                mode: {**lands.to_dict(), "text": lands.describe()}
                for mode, lands in self.body.items()
            },
        }
        if self.items:
            out["items"] = [item.to_dict() for item in self.items]
        return out


@dataclass(frozen=True, slots=True)
class ActionDoc:
    """An action as the docs show it: what it calls, its fields, where other keys go."""

    name: str
    title: str
    description: str
    modes: tuple[Mode, ...]
    """The modes shown (all of the action's, or the one asked for)."""
    action_modes: tuple[Mode, ...]
    """All the modes the action exists in."""
    endpoint: str | None
    """``POST /v1/customer`` (when cloud is shown)."""
    push: str | None
    """``["track", "customer", P, true]`` (when direct is shown)."""
    push_type: str | None
    """``customer``, or ``<eventType>`` (when direct is shown)."""
    suggested_trigger: str | None
    fields: tuple[FieldDoc, ...]
    carriers: tuple[str, ...]
    """Fields whose members become payload keys (``friendbuyAttributes``, ``eventProperties``)."""
    other_keys: Mapping[Mode, tuple[tuple[str, Landing], ...]]
    """Keys with a rule that are not fields: where a carried member of that name lands."""
    unmapped: Mapping[Mode, Landing]
    """Where any other key lands."""

    def to_dict(self) -> dict[str, Any]:
        """The JSON form of ``fbcli actions NAME --format json``."""
        return {
            **self.summary(),
            "fields": [f.to_dict() for f in self.fields],
            "other_keys": {
                mode: {key: lands.to_dict() for key, lands in keys}
                for mode, keys in self.other_keys.items()
            },
            "unmapped": {mode: lands.to_dict() for mode, lands in self.unmapped.items()},
        }

    def summary(self) -> dict[str, Any]:
        """The JSON form of one row of ``fbcli actions --format json``."""
        return {
            "name": self.name,
            "title": self.title,
            "description": self.description,
            "modes": list(self.action_modes),
            "endpoint": self.endpoint,
            "push": self.push,
            "push_type": self.push_type,
            "suggested_trigger": self.suggested_trigger,
        }


# -- default mappings -----------------------------------------------------------------


def describe_default(mapping: Any, code: Code = plain) -> str:
    """A default mapping, compactly: ``$.properties.total``; ``@if`` in words; ``(none)``."""
    if mapping is None:
        return "(none)"
    if isinstance(mapping, dict) and len(mapping) == 1:
        ((name, arg),) = mapping.items()
        if name == "@path" and isinstance(arg, str):
            return code(arg)
        if name == "@template" and isinstance(arg, str):
            return f"{code(arg)} (template)"
        if name == "@if" and isinstance(arg, dict):
            return _describe_if(arg, code)
    return code(json.dumps(mapping, ensure_ascii=False, separators=(",", ":")))


def _describe_if(options: Mapping[str, Any], code: Code) -> str:
    key = "exists" if "exists" in options else "blank"
    condition = options.get(key)
    test = "exists" if key == "exists" else "is not blank"

    def branch(name: str) -> str:
        return describe_default(options[name], code) if name in options else "nothing"

    then = branch("then")
    subject = "it" if "then" in options and options["then"] == condition else None
    subject = subject or describe_default(condition, code)
    return f"{then} if {subject} {test}, else {branch('else')}"


# -- landings -------------------------------------------------------------------------


def _spreads(name: str) -> bool:
    """Whether ``build_body`` spreads a payload key of this name into the top level."""
    probe = "\0probe"
    return spread_attributes({name: {probe: 1}}) == {probe: 1}


def _rule_landing(rule: KeyRule) -> Landing:
    if rule.target is None:
        return Landing("not-sent")
    convert = rule.convert.name if rule.convert is not None else None
    return Landing("key", ".".join(rule.target), convert)


def _unmapped_landing(body_map: BodyMap) -> Landing:
    return {
        "additionalProperties": Landing("additionalProperties"),
        "root": Landing("top-level"),
        "drop": Landing("not-sent"),
    }[body_map.unmapped]


def _key_landing(body_map: BodyMap, key: str) -> Landing:
    rule = body_map.rules.get(key)
    return _unmapped_landing(body_map) if rule is None else _rule_landing(rule)


def field_landing(action: Action, field: ActionField, mode: Mode) -> Landing:
    """Where ``field`` lands in ``mode``'s body (``absent`` when it does not exist there)."""
    if mode not in action.modes or mode not in field.modes:
        return Landing("absent")
    if field.name == action.lift:
        return Landing("lifted")
    if _spreads(field.name):
        return Landing("spread")
    if mode == "direct" and action.direct_type is None and field.name == PUSH_TYPE_FIELD:
        return Landing("push-type")
    return _key_landing(action.body_maps[mode], field.name)


def _shown_modes(action: Action, mode: Mode | None) -> tuple[Mode, ...]:
    if mode is None:
        return tuple(m for m in MODES if m in action.modes)
    if mode not in action.modes:
        raise ValueError(f"{action.name} does not exist in {mode} mode")
    return (mode,)


def _item_docs(action: Action, field: ActionField, modes: tuple[Mode, ...]) -> tuple[FieldDoc, ...]:
    """The keys of each item of a list-of-objects field, from the schema and the item rules."""
    item_schema = build_schema(action)["properties"][field.name].get("items", {})
    properties: Mapping[str, Any] = item_schema.get("properties", {})
    if not properties:
        return ()
    item_maps = {
        m: rule.items
        for m in modes
        if (rule := action.body_maps[m].rules.get(field.name)) is not None and rule.items
    }
    defaults: dict[str, Any] = {}
    for body_map in item_maps.values():
        defaults.update(body_map.defaults)
    required = tuple(item_schema.get("required", ()))
    return tuple(
        FieldDoc(
            name=key,
            type=str(schema.get("type", "")),
            description="",
            default=defaults.get(key),
            required=tuple(m for m in modes if key in required),
            body={
                m: _key_landing(item_maps[m], key) if m in item_maps else Landing("absent")
                for m in modes
            },
        )
        for key, schema in properties.items()
    )


def describe_field(action: Action, field: ActionField, mode: Mode | None = None) -> FieldDoc:
    """One field of ``action``: its type, default, required modes, landing per mode shown."""
    modes = _shown_modes(action, mode)
    return FieldDoc(
        name=field.name,
        type=field.type.replace("_", " "),
        description=field.description,
        default=field.default,
        required=tuple(m for m in modes if m in field.required and m in field.modes),
        body={m: field_landing(action, field, m) for m in modes},
        items=_item_docs(action, field, modes),
    )


def describe_action(action: Action, mode: Mode | None = None) -> ActionDoc:
    """An action as data: all its modes, or only ``mode`` (``ValueError`` if it has not that)."""
    modes = _shown_modes(action, mode)
    fields = tuple(
        describe_field(action, f, mode) for f in action.fields if any(m in f.modes for m in modes)
    )
    carriers = tuple(
        f.name for f in fields if any(b.kind in ("spread", "lifted") for b in f.body.values())
    )
    names = {f.name for f in action.fields}
    other_keys = {
        m: tuple(
            (key, _rule_landing(rule))
            for key, rule in action.body_maps[m].rules.items()
            if key not in names
        )
        for m in modes
    }
    push = push_type = None
    if "direct" in modes:
        push_type = action.direct_type or f"<{PUSH_TYPE_FIELD}>"
        push = f'["track", "{push_type}", P{", true" if action.direct_trailing_true else ""}]'
    return ActionDoc(
        name=action.name,
        title=action.title,
        description=action.description,
        modes=modes,
        action_modes=_shown_modes(action, None),
        endpoint=f"POST {action.cloud_path}" if "cloud" in modes and action.cloud_path else None,
        push=push,
        push_type=push_type,
        suggested_trigger=action.suggested_trigger,
        fields=fields,
        carriers=carriers,
        other_keys=other_keys if carriers else {},
        unmapped={m: _unmapped_landing(action.body_maps[m]) for m in modes} if carriers else {},
    )


def describe_actions(mode: Mode | None = None) -> list[ActionDoc]:
    """Every action (that exists in ``mode``, when given), in the docs' order."""
    return [describe_action(a, mode) for a in ACTIONS.values() if mode is None or mode in a.modes]


def suggest_action_name(word: str) -> str | None:
    """The action name closest to a mistyped one, or ``None``."""
    return closest(word, list(ACTIONS))


def choose_action(name: str | None, mode: str | None) -> tuple[Action | None, Mode | None]:
    """``fbcli actions [NAME] [--mode MODE]``: the action (``None``: all) and mode asked for;
    ``ConfigError`` for an unknown action (with the closest name) or one of another mode."""
    action = None
    if name is not None:
        action = ACTIONS.get(name)
        if action is None:
            close = suggest_action_name(name)
            raise ConfigError(
                f"unknown action '{name}'" + (f" (did you mean '{close}'?)" if close else ""),
                hint=f"actions: {', '.join(ACTIONS)}",
            )
    wanted = next((m for m in MODES if m == mode), None)
    if action is not None and wanted is not None and wanted not in action.modes:
        raise ConfigError(
            f"{action.name} does not exist in {wanted} mode",
            hint=f"it exists in {' and '.join(sorted(action.modes))} mode",
        )
    return action, wanted


# -- text shared by the terminal and the docs ------------------------------------------


def calls_text(doc: ActionDoc, code: Code = plain) -> str:
    """``cloud: POST /v1/customer · direct: ["track", "customer", P, true]``."""
    parts = []
    if doc.endpoint:
        parts.append(f"cloud: {code(doc.endpoint)}")
    if doc.push:
        parts.append(f"direct: {code(doc.push)}")
    return " · ".join(parts)


def trigger_text(doc: ActionDoc, code: Code = plain) -> str:
    """``Suggested trigger: type = "identify".`` or that there is none."""
    if doc.suggested_trigger is None:
        return "No suggested trigger: you choose which events it records."
    return f"Suggested trigger: {code(doc.suggested_trigger)}."


def _key_list(keys: Iterable[tuple[str, Landing]], code: Code) -> str:
    shown = []
    for key, lands in keys:
        if lands.kind == "key" and lands.key == key and lands.convert is None:
            shown.append(code(key))
        else:
            shown.append(f"{code(key)} → {lands.describe(code)}")
    return ", ".join(shown)


def other_keys_text(doc: ActionDoc, code: Code = plain) -> str:
    """Where members of ``friendbuyAttributes``/``eventProperties`` that are not fields land."""
    if not doc.carriers:
        return ""
    carriers = " and ".join(code(c) for c in doc.carriers)
    sentences = [f"A member of {carriers} lands like the field of the same name."]
    for i, mode in enumerate(doc.modes):
        named = _key_list(doc.other_keys[mode], code)
        rest = doc.unmapped[mode].describe(code)
        intro = f"Other members, {mode}" if i == 0 else mode.capitalize()
        where = f"{named}; anything else: {rest}" if named else rest
        sentences.append(f"{intro}: {where}.")
    return " ".join(sentences)


# -- Markdown ---------------------------------------------------------------------------


def _cell(text: str) -> str:
    return text.replace("\n", " ")


def _table(header: list[str], rows: Iterable[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return lines


def markdown_action(doc: ActionDoc) -> str:
    """One action's section of the field reference: a heading, what it calls, its tables."""
    code = markdown_code
    lines = [
        f"#### {doc.name}",
        "",
        f"{doc.description} {calls_text(doc, code)}. {trigger_text(doc, code)}",
        "",
    ]
    bodies = [f"{m} body" for m in doc.modes]
    lines += _table(
        ["field", "type", "default mapping", "required", *bodies],
        (
            [
                code(f.name),
                f.type,
                describe_default(f.default, code),
                ", ".join(f.required),
                *(f.body[m].describe(code) for m in doc.modes),
            ]
            for f in doc.fields
        ),
    )
    for f in doc.fields:
        if f.items:
            lines += ["", f"Each item of {code(f.name)} (other keys are not sent):", ""]
            lines += _table(
                ["key", "type", "when missing", "required", *bodies],
                (
                    [
                        code(i.name),
                        i.type,
                        "" if i.default is None else code(json.dumps(i.default)),
                        ", ".join(i.required),
                        *(i.body[m].describe(code) for m in doc.modes),
                    ]
                    for i in f.items
                ),
            )
    other = other_keys_text(doc, code)
    if other:
        lines += ["", other]
    return "\n".join(lines) + "\n"


def markdown_reference(mode: Mode | None = None) -> str:
    """The field reference of docs/actions.md, one ``####`` section per action (``--markdown``)."""
    return "\n".join(markdown_action(doc) for doc in describe_actions(mode))
