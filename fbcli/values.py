"""Small shared values: the ``MISSING`` sentinel, and what a JSON number and JSON equality are.

``MISSING`` means "resolves to nothing" (a path that is not in the event, a
mapping that produced no value).  It is different from ``None``, which is a
real JSON ``null``.
"""

from __future__ import annotations

from enum import Enum
from typing import Any, Final, Literal


class _Missing(Enum):
    MISSING = "MISSING"

    def __repr__(self) -> str:
        return "MISSING"

    def __bool__(self) -> bool:
        return False


MISSING: Final = _Missing.MISSING
"""The value of a path or mapping that resolves to nothing."""

Missing = Literal[_Missing.MISSING]
"""The type of ``MISSING``, for annotations such as ``Any | Missing``."""


def is_number(value: object) -> bool:
    """A JSON number: an ``int`` or a ``float``, never a ``bool``."""
    return isinstance(value, int | float) and not isinstance(value, bool)


def same_value(old: Any, new: Any) -> bool:
    """JSON equality: booleans are not numbers, ``1 == 1.0``, strings are not numbers."""
    if isinstance(old, bool) or isinstance(new, bool):
        return type(old) is type(new) and old == new
    if isinstance(old, int | float) and isinstance(new, int | float):
        return old == new
    if type(old) is not type(new):
        return False
    if isinstance(old, dict):
        return old.keys() == new.keys() and all(same_value(old[k], new[k]) for k in old)
    if isinstance(old, list):
        return len(old) == len(new) and all(map(same_value, old, new))
    return bool(old == new)
