"""What must hold of any read of JSON Lines, and the fragments the reader is fed."""

from __future__ import annotations

import json

from hypothesis import strategies as st

from fbcli.events import Event, LineError

BOM = b"\xef\xbb\xbf"


def check_invariants(items: list[Event | LineError], line_count: int | None) -> None:
    """What must hold for any input: see the module docstring."""
    previous = 0
    for item in items:
        assert isinstance(item, Event | LineError)
        assert item.line >= previous
        previous = item.line
        if line_count is not None:
            assert 0 <= item.line <= line_count
        if isinstance(item, Event):
            assert isinstance(item.data, dict)
            json.dumps(item.data, allow_nan=False, ensure_ascii=False).encode("utf-8")
        else:
            message = item.message
            assert message
            assert message == message.strip()
            assert "\n" not in message
            assert message[0].islower()
            assert not message.endswith(".")


JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=10),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children, max_size=3)
    ),
    max_leaves=8,
)


FRAGMENTS = st.sampled_from(
    [
        b"",
        b"  ",
        b"\r",
        BOM,
        b"NaN",
        b'{"a":-Infinity}',
        b'{"a":1e400}',
        b'{"a":"\\ud800"}',
        b'{"a":"\\ud83d\\ude00"}',
        b"[[[[[[",
        b'{"a":[[[[]]]]}',
        b'{"a":"\xff"}',
        b"\xed\xa0\x80",
        b'{"a":' + b"1" * 5000 + b"}",
        b'{"a":1,}',
        b"\x1f\x8b",
    ]
)
