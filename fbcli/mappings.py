"""The mapping file (``mappings.yaml``): load, check, fill in defaults.

Loading is three steps, each reporting its first mistake as a
``MappingFileError`` with the file, line and column in the YAML:

1. **YAML, safely.**  PyYAML composes the node tree (nothing is constructed
   from tags); fbcli turns the nodes into plain JSON values itself, keeping
   each node's position.  Files over ``MAX_FILE_BYTES``, more than
   ``MAX_NODES`` values after alias expansion (an "alias bomb"), nesting
   deeper than ``MAX_DEPTH``, duplicate keys, merge keys and non-JSON values
   (``.inf``, binary, custom tags) are refused.
2. **Shape**, against the file's own JSON schema
   (``fbcli/schemas/mappings.schema.json``).
3. **Meaning**: actions exist in the file's mode, fields exist for their
   action, triggers parse, directives compile, names are unique, and direct
   mode has a merchant ID.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any, Final, Literal

import yaml
from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

from fbcli.actions import ACTIONS
from fbcli.actions.base import Action, Mode
from fbcli.directives import DirectiveError, Resolver, compile_mapping, source_paths
from fbcli.errors import MappingFileError
from fbcli.triggers import Node, TriggerSyntaxError, compile_trigger, parse_trigger

MAX_FILE_BYTES: Final = 1_048_576
MAX_NODES: Final = 100_000
MAX_DEPTH: Final = 64
BUILT_IN: Final = "<built-in default>"

_UUID_RE: Final = re.compile(
    r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
)

Path = tuple[str | int, ...]


@dataclass(frozen=True, slots=True)
class FieldMapping:
    """How one action field of one subscription is filled."""

    field: str
    mapping: Any
    """The mapping-kit value (directive or constant)."""
    resolve: Resolver
    sources: tuple[str, ...]
    """The event paths it reads (``$.properties.total``)."""
    origin: Literal["default", "file"]
    line: int | None = None
    """The YAML line of an override."""

    @property
    def source(self) -> str | None:
        """The event paths as one string for messages, or ``None``."""
        return ", ".join(self.sources) if self.sources else None


@dataclass(frozen=True, slots=True)
class Subscription:
    """One subscription: when it fires (trigger) and what it sends (action, fields)."""

    name: str
    action: Action
    trigger: str
    node: Node
    matches: Callable[[Mapping[str, Any]], bool]
    fields: tuple[FieldMapping, ...]
    enabled: bool = True
    line: int | None = None


@dataclass(frozen=True, slots=True)
class MappingConfig:
    """A loaded, checked mapping file."""

    path: str
    mode: Mode
    merchant_id: str | None
    subscriptions: tuple[Subscription, ...]

    @property
    def active(self) -> tuple[Subscription, ...]:
        """The enabled subscriptions, in file order."""
        return tuple(s for s in self.subscriptions if s.enabled)


# -- step 1: YAML with positions -------------------------------------------------------


@dataclass(slots=True)
class _Positions:
    values: dict[Path, tuple[int, int]]
    keys: dict[Path, tuple[int, int]]
    styles: dict[Path, str | None]

    def at(self, path: Path, *, key: bool = False) -> tuple[int, int] | None:
        """The (line, column) of a value (or of its key), falling back to its parents."""
        table = self.keys if key else self.values
        while path:
            if path in table:
                return table[path]
            path = path[:-1]
        return self.values.get(())


def _mark(node: yaml.Node) -> tuple[int, int]:
    return node.start_mark.line + 1, node.start_mark.column + 1


class _Builder:
    """Turns a composed YAML node tree into JSON values, recording positions."""

    def __init__(self, path: str, loader: yaml.SafeLoader):
        self.file = path
        self.loader = loader
        self.count = 0
        self.positions = _Positions({}, {}, {})

    def fail(self, message: str, node: yaml.Node, hint: str | None = None) -> MappingFileError:
        line, column = _mark(node)
        return MappingFileError(message, path=self.file, line=line, column=column, hint=hint)

    def build(self, node: yaml.Node, path: Path = ()) -> Any:
        self.count += 1
        if self.count > MAX_NODES:
            raise self.fail(
                f"the YAML expands to more than {MAX_NODES:,} values (too many aliases?)", node
            )
        if len(path) > MAX_DEPTH:
            raise self.fail(f"the YAML is nested deeper than {MAX_DEPTH} levels", node)
        self.positions.values.setdefault(path, _mark(node))
        if isinstance(node, yaml.MappingNode):
            out: dict[str, Any] = {}
            for key_node, value_node in node.value:
                if not isinstance(key_node, yaml.ScalarNode):
                    raise self.fail("a mapping key must be a plain value", key_node)
                if key_node.tag == "tag:yaml.org,2002:merge":
                    raise self.fail("YAML merge keys (<<) are not supported", key_node)
                key = str(key_node.value)
                if key in out:
                    raise self.fail(f"duplicate key '{key}'", key_node)
                self.positions.keys.setdefault((*path, key), _mark(key_node))
                out[key] = self.build(value_node, (*path, key))
            return out
        if isinstance(node, yaml.SequenceNode):
            return [self.build(item, (*path, i)) for i, item in enumerate(node.value)]
        assert isinstance(node, yaml.ScalarNode)
        self.positions.styles[path] = node.style
        return self._scalar(node)

    def _scalar(self, node: yaml.ScalarNode) -> Any:
        tag = node.tag.removeprefix("tag:yaml.org,2002:")
        if tag in ("str", "timestamp"):
            return str(node.value)
        if tag in ("int", "float", "bool", "null"):
            value = self.loader.construct_object(node)
            if isinstance(value, float) and (value != value or value in (float("inf"), -float("inf"))):
                raise self.fail(f"'{node.value}' is not a JSON number", node)
            return value
        raise self.fail(f"unsupported YAML tag '{node.tag}'", node)


def _parse_yaml(data: bytes, path: str) -> tuple[Any, _Positions]:
    if len(data) > MAX_FILE_BYTES:
        raise MappingFileError(
            f"mapping file is {len(data):,} bytes; the limit is {MAX_FILE_BYTES:,}", path=path
        )
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise MappingFileError(f"mapping file is not UTF-8 (byte {exc.start})", path=path) from None
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            raise MappingFileError("mapping file is empty", path=path)
        builder = _Builder(path, loader)
        value = builder.build(node)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or exc.context or "invalid YAML"
        raise MappingFileError(
            f"YAML syntax error: {problem}",
            path=path,
            line=mark.line + 1 if mark else None,
            column=mark.column + 1 if mark else None,
        ) from None
    except yaml.YAMLError as exc:
        raise MappingFileError(f"YAML error: {exc}".replace("\n", " "), path=path) from None
    except RecursionError:
        raise MappingFileError("the YAML is nested too deeply", path=path) from None
    finally:
        loader.dispose()
    return value, builder.positions


# -- step 2: shape ---------------------------------------------------------------------


@cache
def mapping_file_schema() -> dict[str, Any]:
    """The JSON schema of the mapping file (package data)."""
    text = resources.files("fbcli").joinpath("schemas", "mappings.schema.json").read_text("utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


def _did_you_mean(word: str, choices: list[str]) -> str:
    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    if not close:
        close = [c for c in choices if c.lower() == word.lower()]
    return f" (did you mean '{close[0]}'?)" if close else ""


def _shape_message(error: ValidationError) -> tuple[str, Path, bool]:
    """(message, path, point at the key?) for a schema error."""
    path: Path = tuple(error.absolute_path)
    where = "subscription" if len(path) == 2 and path[0] == "subscriptions" else "mapping file"
    if error.validator == "additionalProperties":
        allowed = sorted(error.schema.get("properties", {}))
        extra = next(k for k in error.instance if k not in allowed)
        return (
            f"unknown key '{extra}' in {where}{_did_you_mean(extra, allowed)}; "
            f"expected one of: {', '.join(allowed)}",
            (*path, extra),
            True,
        )
    if error.validator == "required":
        missing = next(k for k in error.validator_value if k not in error.instance)
        return f"{where} has no '{missing}'", path, False
    if error.validator == "enum" and path and path[-1] == "action":
        known = list(error.validator_value)
        value = str(error.instance)
        return (
            f"unknown action '{value}'{_did_you_mean(value, known)}; known: {', '.join(known)}",
            path,
            False,
        )
    name = ".".join(str(p) for p in path) or "mapping file"
    if error.validator == "enum":
        choices = ", ".join(str(v) for v in error.validator_value)
        return f"'{name}' must be one of: {choices}", path, False
    if error.validator == "const":
        return f"'{name}' must be {json.dumps(error.validator_value)}", path, False
    if error.validator == "type":
        return f"'{name}' must be of type {error.validator_value}", path, False
    if error.validator == "minLength":
        return f"'{name}' must not be empty", path, False
    if error.validator == "minItems":
        return f"'{name}' must have at least one entry", path, False
    return f"'{name}': {error.message}", path, False


def _check_shape(document: Any, path: str, positions: _Positions) -> None:
    validator = Draft202012Validator(mapping_file_schema())
    errors = sorted(validator.iter_errors(document), key=lambda e: list(map(str, e.absolute_path)))
    if not errors:
        return
    # Report the error the user meets first in the file; at one place, the most specific.
    error = min(
        errors,
        key=lambda e: (positions.at(tuple(e.absolute_path)) or (0, 0), -len(e.absolute_path)),
    )
    message, at, key = _shape_message(error)
    line, column = positions.at(at, key=key) or (None, None)
    raise MappingFileError(message, path=path, line=line, column=column)


# -- step 3: meaning -------------------------------------------------------------------


def compile_field(
    mapping: Any, *, field: str = "", origin: Literal["default", "file"], line: int | None
) -> FieldMapping:
    """Compile one field's mapping (raises ``DirectiveError``)."""
    resolve = compile_mapping(mapping)
    return FieldMapping(field, mapping, resolve, tuple(source_paths(mapping)), origin, line)


@cache
def _default_field(action_name: str, field: str) -> FieldMapping:
    action = ACTIONS[action_name]
    spec = action.field_named(field)
    assert spec is not None
    return compile_field(spec.default, field=field, origin="default", line=None)


def build_subscription(
    *,
    name: str,
    action: Action,
    trigger: str,
    mode: Mode,
    overrides: Mapping[str, FieldMapping | None] | None = None,
    enabled: bool = True,
    line: int | None = None,
) -> Subscription:
    """A subscription from its parts; fields not overridden keep their defaults.

    ``overrides`` maps a field to its compiled mapping, or to ``None`` to unmap it.
    Raises ``TriggerSyntaxError`` for a bad trigger.
    """
    node = parse_trigger(trigger)
    overrides = overrides or {}
    fields: list[FieldMapping] = []
    for spec in action.fields_in(mode):
        if spec.name in overrides:
            override = overrides[spec.name]
            if override is not None:
                fields.append(override)
        elif spec.default is not None:
            fields.append(_default_field(action.name, spec.name))
    return Subscription(
        name=name,
        action=action,
        trigger=trigger,
        node=node,
        matches=compile_trigger(node),
        fields=tuple(fields),
        enabled=enabled,
        line=line,
    )


class _Checker:
    def __init__(self, path: str, positions: _Positions):
        self.path = path
        self.positions = positions

    def fail(self, message: str, at: Path, *, key: bool = False, hint: str | None = None) -> MappingFileError:
        line, column = self.positions.at(at, key=key) or (None, None)
        return MappingFileError(message, path=self.path, line=line, column=column, hint=hint)

    def trigger_error(self, exc: TriggerSyntaxError, at: Path) -> MappingFileError:
        line, column = self.positions.at(at) or (None, None)
        style = self.positions.styles.get(at)
        if column is not None and style in (None, '"', "'") and "\n" not in exc.text:
            column += exc.column - 1 + (0 if style is None else 1)
        return MappingFileError(
            f"bad trigger: {exc.message} (column {exc.column} of the trigger)",
            path=self.path,
            line=line,
            column=column,
        )

    def subscription(self, raw: Mapping[str, Any], index: int, mode: Mode) -> Subscription:
        at: Path = ("subscriptions", index)
        action = ACTIONS[raw["action"]]
        if mode not in action.modes:
            only = " and ".join(sorted(action.modes))
            raise self.fail(
                f"action '{action.name}' is available in {only} mode only; this file is mode: {mode}",
                (*at, "action"),
                hint="set 'mode: direct' at the top of the file" if mode == "cloud" else None,
            )
        overrides: dict[str, FieldMapping | None] = {}
        for field, mapping in (raw.get("mapping") or {}).items():
            field_at: Path = (*at, "mapping", field)
            spec = action.field_named(field)
            if spec is None:
                known = [f.name for f in action.fields_in(mode)]
                raise self.fail(
                    f"unknown field '{field}' for {action.name}{_did_you_mean(field, known)}",
                    field_at,
                    key=True,
                    hint=f"fields of {action.name}: {', '.join(known)}",
                )
            if mode not in spec.modes:
                raise self.fail(
                    f"field '{field}' of {action.name} is not used in {mode} mode", field_at, key=True
                )
            if mapping is None:
                overrides[field] = None
                continue
            try:
                line = (self.positions.at(field_at, key=True) or (None, None))[0]
                overrides[field] = compile_field(mapping, field=field, origin="file", line=line)
            except DirectiveError as exc:
                raise self.fail(
                    f"bad mapping for '{field}': {exc.message}", (*field_at, *exc.location)
                ) from None
        try:
            return build_subscription(
                name=raw["name"],
                action=action,
                trigger=raw["trigger"],
                mode=mode,
                overrides=overrides,
                enabled=raw.get("enabled", True),
                line=(self.positions.at(at) or (None, None))[0],
            )
        except TriggerSyntaxError as exc:
            raise self.trigger_error(exc, (*at, "trigger")) from None


def load_mappings(
    data: bytes | str, *, path: str, merchant_id_env: str | None = None
) -> MappingConfig:
    """Load and check a mapping file's content (``path`` is only used in messages).

    ``merchant_id_env`` is the value of ``FRIENDBUY_MERCHANT_ID``, used in
    direct mode when the file has no ``merchant_id``.
    """
    raw_bytes = data.encode("utf-8") if isinstance(data, str) else data
    document, positions = _parse_yaml(raw_bytes, path)
    _check_shape(document, path, positions)
    mode: Mode = document.get("mode", "cloud")
    checker = _Checker(path, positions)
    subscriptions: list[Subscription] = []
    seen: dict[str, int] = {}
    for index, raw in enumerate(document["subscriptions"]):
        name = raw["name"]
        if name in seen:
            first = positions.at(("subscriptions", seen[name], "name"))
            raise checker.fail(
                f"duplicate subscription name '{name}'"
                + (f" (first used at line {first[0]})" if first else ""),
                ("subscriptions", index, "name"),
            )
        seen[name] = index
        subscriptions.append(checker.subscription(raw, index, mode))
    merchant_id = document.get("merchant_id")
    if mode == "direct":
        if merchant_id is None:
            merchant_id = merchant_id_env
        if not merchant_id:
            raise checker.fail(
                "direct mode needs a merchant_id",
                ("mode",),
                hint="add 'merchant_id: <uuid>' to the file or set FRIENDBUY_MERCHANT_ID",
            )
        if not _UUID_RE.fullmatch(merchant_id):
            raise checker.fail(
                f"merchant_id '{merchant_id}' is not a UUID", ("merchant_id",)
            )
    return MappingConfig(path, mode, merchant_id, tuple(subscriptions))


def load_field_mapping(text: str, *, path: str) -> FieldMapping:
    """One field mapping given as JSON or YAML text (``fbcli eval --mapping``).

    Raises ``MappingFileError`` located in the text (``path`` names it in messages).
    """
    value, positions = _parse_yaml(text.encode("utf-8"), path)
    try:
        return compile_field(value, origin="file", line=None)
    except DirectiveError as exc:
        line, column = positions.at(tuple(exc.location)) or (None, None)
        raise MappingFileError(
            f"bad mapping: {exc.message}", path=path, line=line, column=column
        ) from None


def default_mappings() -> MappingConfig:
    """The built-in mapping: the suggested trigger of each cloud action, default fields."""
    subscriptions = tuple(
        build_subscription(
            name=action.title, action=action, trigger=action.suggested_trigger, mode="cloud"
        )
        for action in ACTIONS.values()
        if action.suggested_trigger is not None and "cloud" in action.modes
    )
    return MappingConfig(BUILT_IN, "cloud", None, subscriptions)

