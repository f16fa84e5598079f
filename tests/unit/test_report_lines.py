"""Rows drawn line by line (``fbcli.report.lines``) are the rows rich's table draws.

The dry-run table used to be a rich ``Table``; ``render_plan`` now draws the same
characters itself.  Here both draw generated rows, with and without colours, and
must agree byte for byte.
"""

from __future__ import annotations

import io

from hypothesis import given, settings
from hypothesis import strategies as st
from rich.console import Console
from rich.text import Text

from fbcli.mappings import default_mappings
from fbcli.report import _draw_row, _widths, plan_table
from fbcli.report.lines import LineWriter, fold, is_simple
from tests.support import examples

ALPHABET = "ab xyz01=./@'\"✗—…\n"
ODD = "é中\u0301\u3000\u00a0"  # wide, combining, and blanks other than a space
STYLES = ["", "red", "bold red", "dim", "yellow"]


def _console(width: int, *, colour: bool) -> Console:
    return Console(
        file=io.StringIO(),
        width=width,
        force_terminal=colour,
        color_system="truecolor" if colour else None,
        highlight=False,
        emoji=False,
    )


@st.composite
def cells(draw: st.DrawFn, *, odd: bool) -> Text:
    alphabet = ALPHABET + (ODD if odd else "")
    text = Text(style=draw(st.sampled_from(STYLES)))
    for _ in range(draw(st.integers(0, 4))):
        piece = draw(st.text(alphabet, max_size=70))
        text.append(piece, style=draw(st.sampled_from(STYLES)))
    return text


def _by_rich(row: tuple[Text, ...], width: int, *, colour: bool) -> str:
    console = _console(width, colour=colour)
    table = plan_table(default_mappings(), width=width, header=False)
    table.add_row(*row)
    console.print(table)
    return console.file.getvalue()  # type: ignore[attr-defined,no-any-return]


def _drawn(row: tuple[Text, ...], width: int, *, colour: bool) -> str:
    console = _console(width, colour=colour)
    line, event, subscription = _widths(width)
    writer = LineWriter(console)
    _draw_row(writer, row, (line, event, subscription, width - line - event - subscription - 21, 9))
    writer.flush()
    return console.file.getvalue()  # type: ignore[attr-defined,no-any-return]


@settings(max_examples=examples(150), deadline=None)
@given(
    row=st.tuples(
        st.text("0123456789—", min_size=1, max_size=12).map(Text),
        cells(odd=True),
        cells(odd=True),
        cells(odd=True),
        st.sampled_from(["planned", "invalid", "unmatched", "malformed"]).map(
            lambda s: Text(s, style="green")
        ),
    ),
    width=st.sampled_from([80, 89, 90, 100, 139, 140, 200]),
    colour=st.booleans(),
)
def test_a_row_is_drawn_as_rich_draws_it(row: tuple[Text, ...], width: int, colour: bool) -> None:
    assert _drawn(row, width, colour=colour) == _by_rich(row, width, colour=colour)


@settings(max_examples=examples(300), deadline=None)
@given(text=st.text(ALPHABET.replace("\n", ""), max_size=200), width=st.integers(1, 60))
def test_fold_is_richs_wrap(text: str, width: int) -> None:
    console = _console(200, colour=False)
    wrapped = Text(text).wrap(console, width, justify="left", overflow="fold")
    assert fold(text, width) == [line.plain for line in wrapped]
    right = Text(text).wrap(console, width, justify="right", overflow="fold")
    assert fold(text, width, right=True) == [line.plain for line in right]


def test_only_one_cell_characters_are_simple() -> None:
    assert is_simple("✗ 'amount' must be a number — mapped from $.total …")
    assert not is_simple("é")
    assert not is_simple("中")
    assert not is_simple("a\tb")
    assert not is_simple("a\u00a0b")
