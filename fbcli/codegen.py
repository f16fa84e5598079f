"""Python source, generated from fbcli's definitions and compiled once: its fast paths.

Where a path runs per event, fbcli compiles it for the mapping file at hand
(as fastjsonschema compiles a schema): the body rules of an action
(``actions.base.compile_body_map``), a trigger (``triggers.compile_trigger``)
and a subscription's whole planner (``plan.compile_subscription``) become
one Python function each, with everything known ahead (field order, paths,
types, rules) written into its code.  The code is generated from the same
definitions the reference paths interpret, by one emitter per rule, so a
rule is still written once.

Nothing from a mapping file or an event is written into the source as text:
every value the code needs (a key, a path, a literal, a function) is a
constant of the function's namespace, named ``_c0``, ``_c1`` ...; the source
holds only names, numbers and fbcli's own code.  ``Source.text`` keeps the
source for tests and debugging.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

__all__ = ["Source"]


class Source:
    """Lines of a Python function being generated, and the constants it refers to."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.namespace: dict[str, Any] = {}
        self._constants: dict[int, str] = {}
        self._names = 0
        self.text = ""

    def const(self, value: Any) -> str:
        """The name under which the code sees ``value`` (the same name for the same object)."""
        name = self._constants.get(id(value))
        if name is None or self.namespace[name] is not value:
            name = f"_c{len(self.namespace)}"
            self.namespace[name] = value
            self._constants[id(value)] = name
        return name

    def name(self, prefix: str = "v") -> str:
        """A fresh local variable name: ``v0``, ``v1`` ..."""
        self._names += 1
        return f"{prefix}{self._names}"

    def line(self, indent: int, text: str) -> None:
        """Add one line of code at ``indent`` levels (four spaces each)."""
        self.lines.append("    " * indent + text)

    @staticmethod
    def predicate(test: str) -> Callable[[Any], bool]:
        """A function of one value, ``value``, returning ``test.format("value")``: a rule
        written once as code, for the paths that call it rather than write it in."""
        src = Source()
        src.line(0, "def test(value):")
        src.line(1, f"return {test.format('value')}")
        predicate: Callable[[Any], bool] = src.compile("test")
        return predicate

    def compile(self, name: str) -> Callable[..., Any]:
        """Compile the lines (which define the function ``name``) and return that function."""
        self.text = "\n".join(self.lines) + "\n"
        code = compile(self.text, f"<fbcli generated {name}>", "exec")
        exec(code, self.namespace)  # noqa: S102 - fbcli's own code, constants passed by name
        function: Callable[..., Any] = self.namespace[name]
        return function
