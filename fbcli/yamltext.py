"""The YAML fbcli writes: ``fbcli init``'s mapping files and ``fbcli test --update``'s cases.

One writer, PyYAML's emitter, with one rule for strings: a string is written
plain only when no reader could take it for anything else, else quoted.
Plain means: it starts with an ASCII letter, holds only printable ASCII,
has no ``": "`` or ``" #"``, does not end with a space or ``:``, is none of
YAML 1.1's words (``yes``, ``no``, ``on``, ``off``, ``y``, ``n``, ``true``,
``false``, ``null``, ``~``, in any case) and, as PyYAML checks, no YAML 1.1 or
1.2 type reads it as a number, a date or a boolean.  Anything else is
single-quoted, or double-quoted where single quotes cannot hold it (line
breaks, control characters).  So the text reads back as the same string
with fbcli's YAML 1.2 reader (``mappings.parse_yaml``) and with YAML 1.1
readers.

Collections are written in flow style (one line) when asked, else in block
style with short collections of scalars kept on one line; sequences are
indented under their key, keys keep their order and nothing is anchored.
"""

from __future__ import annotations

import re
from typing import Any, Final

import yaml

__all__ = ["INLINE_WIDTH", "LINE_WIDTH", "dump_yaml", "is_plain", "yaml_scalar"]

LINE_WIDTH: Final = 100
"""Block style wraps at this width; a flow collection is never wrapped."""
INLINE_WIDTH: Final = 64
"""In block style, a list or mapping of scalars stays on one line when it is this short."""

_PLAIN_RE: Final = re.compile(r"[A-Za-z][\x20-\x7e]*")
_YAML_WORDS: Final = frozenset({"true", "false", "null", "yes", "no", "on", "off", "y", "n", "~"})
_STR: Final = "tag:yaml.org,2002:str"
_QUOTED: Final = "tag:fbcli,2025:quoted"
"""Not a type: what a string that must be quoted resolves to (``_Dumper.resolve``)."""


def is_plain(text: str) -> bool:
    """Whether a string may be written without quotes (the module docstring's rule)."""
    return (
        _PLAIN_RE.fullmatch(text) is not None
        and ": " not in text
        and " #" not in text
        and not text.endswith((" ", ":"))
        and text.lower() not in _YAML_WORDS
    )


class _Dumper(yaml.SafeDumper):
    """Strings quoted unless ``is_plain``; block sequences indented under their key; short
    collections inline; no anchors."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        super().increase_indent(flow, False)

    def ignore_aliases(self, data: Any) -> bool:
        return True

    def resolve(self, kind: type[yaml.Node], value: Any, implicit: tuple[bool, bool]) -> str:
        """A string that is not ``is_plain`` is resolved as if it were of another type, so
        the emitter quotes it (as it quotes ``"123"``): single quotes where they can hold it."""
        tag: str = super().resolve(kind, value, implicit)  # type: ignore[no-untyped-call]
        if kind is yaml.ScalarNode and implicit[0] and tag == _STR and not is_plain(value):
            return _QUOTED
        return tag

    def represent_mapping(
        self, tag: str, mapping: Any, flow_style: bool | None = None
    ) -> yaml.MappingNode:
        node = super().represent_mapping(tag, mapping, flow_style)
        node.flow_style = self._inline(node, mapping)
        return node

    def represent_sequence(
        self, tag: str, sequence: Any, flow_style: bool | None = None
    ) -> yaml.SequenceNode:
        node = super().represent_sequence(tag, sequence, flow_style)
        node.flow_style = self._inline(node, sequence)
        return node

    def _inline(self, node: yaml.CollectionNode, data: Any) -> bool:
        """Flow style: always when asked; else for short collections of scalars only."""
        if self.default_flow_style:
            return True
        return bool(node.flow_style) and len(dump_yaml(data, flow=True)) <= INLINE_WIDTH


# Numbers as fbcli's YAML 1.2 reader sees them (0o17, 0x1F, 1e3): PyYAML's own resolvers
# are YAML 1.1's, which do not know these forms.
for _tag, _pattern, _first in (
    ("int", r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$", "-+0123456789"),
    ("float", r"^[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?$", "-+.0123456789"),
):
    _Dumper.add_implicit_resolver(f"tag:yaml.org,2002:{_tag}", re.compile(_pattern), list(_first))


def dump_yaml(value: Any, *, flow: bool, width: int = LINE_WIDTH) -> str:
    """YAML text for plain data: one line (``flow``), or block with leaf collections inline."""
    text = yaml.dump(
        value,
        Dumper=_Dumper,
        default_flow_style=True if flow else None,
        sort_keys=False,
        allow_unicode=True,
        width=2**31 - 1 if flow else width,
    )
    return text.removesuffix("\n...\n").rstrip("\n")


def yaml_scalar(text: str) -> str:
    """A printable string as one YAML scalar (``dump_yaml``): plain when ``is_plain``."""
    return dump_yaml(text, flow=True)
