"""Secrets and tokens kept out of text fbcli does not compose itself.

fbcli's own messages never hold a secret or a token (``mapi.py`` builds them
from the URL, the status and MAPI's message with both blanked out).  Some text
is not fbcli's own: above all the traceback of an unexpected error (a bug),
whose messages may quote any value the failing code had in hand.  So each
secret and token is registered with ``hide`` where it enters the process (the
MAPI secret when the command line reads it, each token when MAPI issues it),
and ``redact`` replaces every registered value, and the forms it takes once
encoded, with ``<hidden>``:

- the value itself, URL-quoted, JSON-escaped (``json.dumps``) and
  ``repr``-escaped;
- its standard and URL-safe base64, and the part of it that shows in any
  longer base64 text (for each of the three alignments a value can start at).

Values shorter than ``MIN_LENGTH`` are not registered: blanking out a short
word everywhere would garble the text and hide nothing worth hiding.

Text that comes from outside (MAPI's messages, which end up in the ledger and
the failed file) goes through ``scrub`` as well: every registered value and
form, and any run of ``MIN_LENGTH`` or more characters of the given secrets,
in any letter case (a server that echoes part of the secret, or lowercases it).
"""

from __future__ import annotations

import base64
import binascii
import json
import threading
from typing import Final
from urllib.parse import quote

MIN_LENGTH: Final = 8
"""Shorter values are not hidden (a real MAPI secret or token is far longer)."""
HIDDEN: Final = "<hidden>"

_lock = threading.Lock()
_hidden: set[str] = set()


def forms(value: str) -> set[str]:
    """The texts ``value`` may show as: itself and its escaped and base64 forms."""
    found = {value, quote(value, safe=""), json.dumps(value)[1:-1], repr(value)[1:-1]}
    raw = value.encode("utf-8", "surrogatepass")
    for offset in range(3):
        # ``offset`` bytes before the value: the characters that depend only on
        # the value's own bytes are those between the first and the last group
        # it shares with its neighbours.
        encoded = base64.b64encode(bytes(offset) + raw).decode("ascii")
        start = 0 if offset == 0 else (offset * 8 + 5) // 6
        end = (offset + len(raw)) * 8 // 6
        for text in (encoded[start:end], encoded[start:end].replace("+", "-").replace("/", "_")):
            found.add(text)
    whole = base64.b64encode(raw)
    found.add(whole.decode("ascii"))
    found.add(base64.urlsafe_b64encode(raw).decode("ascii"))
    found.add(binascii.hexlify(raw).decode("ascii"))
    return {text for text in found if len(text) >= MIN_LENGTH}


def hide(value: str | None) -> None:
    """Register a secret or a token: from now on ``redact`` blanks it (and its forms) out."""
    if value is None or len(value) < MIN_LENGTH:
        return
    texts = forms(value)
    with _lock:
        _hidden.update(texts)


def redact(text: str) -> str:
    """``text`` with every registered value, in every form, replaced by ``<hidden>``."""
    with _lock:
        hidden = sorted(_hidden, key=len, reverse=True)
    for value in hidden:
        if value in text:
            text = text.replace(value, HIDDEN)
    return text


def scrub(text: str, secrets: tuple[str, ...] = ()) -> str:
    """``redact(text)``, and every run of ``MIN_LENGTH`` or more characters of ``secrets``
    blanked out too, in any letter case."""
    text = redact(text)
    if not any(len(secret) >= MIN_LENGTH for secret in secrets):
        return text
    folded = text.casefold()
    masked = [False] * len(text)
    for secret in secrets:
        for value in forms(secret) | {secret}:
            needle = value.casefold()
            for start in range(len(needle) - MIN_LENGTH + 1):
                window = needle[start : start + MIN_LENGTH]
                at = folded.find(window)
                while at != -1:
                    masked[at : at + MIN_LENGTH] = [True] * MIN_LENGTH
                    at = folded.find(window, at + 1)
    if len(folded) != len(text) or not any(masked):
        return text if not any(masked) else HIDDEN
    out: list[str] = []
    for char, hidden in zip(text, masked, strict=True):
        if not hidden:
            out.append(char)
        elif not out or out[-1] is not HIDDEN:
            out.append(HIDDEN)
    return "".join(out)
