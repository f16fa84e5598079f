"""How fbcli words values and counts in its messages: one definition of each.

Every module that quotes a user's value in a message, counts things in a
sentence or suggests a name for a misspelt one does it with these, so the
wording of the same thing is the same everywhere:

- ``plural``: ``1 event``, ``2 events`` (``1,234 events`` with ``grouped``);
- ``clip``: a text cut to a length, ending in a mark (``...`` or ``…``);
- ``show_json``: a value as JSON text (compact or not), clipped;
- ``show_js``: a value as JavaScript's ``JSON.stringify`` writes it, clipped;
- ``show_quoted``: a value as a message quotes it: text in single quotes
  (characters that are not printable escaped), anything else as JSON;
- ``kind_of``: ``a string``, ``a number``, ``a mapping`` ...: what a value is;
- ``closest`` and ``did_you_mean``: the known name nearest a misspelt one;
- ``loose``: a name as compared loosely (``Order-Completed`` is ``order_completed``).

The module is pure: no I/O.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Sequence
from typing import Any

from fbcli.jsvalues import js_json

__all__ = [
    "clip",
    "closest",
    "did_you_mean",
    "kind_of",
    "loose",
    "plural",
    "show_js",
    "show_json",
    "show_quoted",
]


def plural(count: int, word: str, *, grouped: bool = False) -> str:
    """``1 event``, ``2 events``; ``grouped``: thousands separated (``1,234 events``)."""
    number = f"{count:,}" if grouped else str(count)
    return f"{number} {word}" if count == 1 else f"{number} {word}s"


def clip(text: str, limit: int, mark: str = "...") -> str:
    """``text``, or when it is longer than ``limit``, its start and ``mark`` in ``limit``."""
    return text if len(text) <= limit else text[: limit - len(mark)] + mark


def show_json(value: Any, limit: int = 40, *, mark: str = "...", compact: bool = False) -> str:
    """``value`` as JSON text (non-ASCII kept; ``compact``: no spaces), clipped to ``limit``."""
    separators = (",", ":") if compact else None
    return clip(json.dumps(value, ensure_ascii=False, separators=separators), limit, mark)


def show_js(value: Any, limit: int = 40) -> str:
    """``value`` as ``JSON.stringify`` writes it (``js_json``), clipped to ``limit``."""
    return clip(js_json(value), limit)


def show_quoted(value: Any, limit: int = 40) -> str:
    """A user's value for a one-line message: ``'text'`` (escaped, clipped), else JSON."""
    if isinstance(value, str):
        text = "".join(c if c.isprintable() else c.encode("unicode_escape").decode() for c in value)
        return f"'{clip(text, limit)}'"
    return show_json(value, limit)


def kind_of(value: Any) -> str:
    """What a JSON value is, for messages: ``null``, ``a boolean``, ``a number``, ``a string``,
    ``a list`` or ``a mapping``."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    return "a list" if isinstance(value, list) else "a mapping"


def closest(word: str, choices: Sequence[str]) -> str | None:
    """The choice nearest ``word`` (``difflib``, cutoff 0.6), else one equal to it in
    another letter case, else ``None``."""
    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    if close:
        return close[0]
    folded = [c for c in choices if c.lower() == word.lower()]
    return folded[0] if folded else None


def did_you_mean(word: str, choices: Sequence[str]) -> str:
    """`` (did you mean 'X'?)`` with the ``closest`` choice, or ``""`` when there is none."""
    found = closest(word, choices)
    return f" (did you mean '{found}'?)" if found is not None else ""


_LOOSE_RE = re.compile(r"[\W_]+")


def loose(name: str) -> str:
    """``name`` without letter case, spaces, ``_``, ``-`` or other punctuation: two names
    with the same ``loose`` differ only in those (``Order Completed``, ``order_completed``,
    ``orderCompleted``)."""
    return _LOOSE_RE.sub("", name).casefold()
