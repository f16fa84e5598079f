"""Small shared values: the ``MISSING`` sentinel.

``MISSING`` means "resolves to nothing" (a path that is not in the event, a
mapping that produced no value).  It is different from ``None``, which is a
real JSON ``null``.
"""

from __future__ import annotations

from enum import Enum
from typing import Final, Literal


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
