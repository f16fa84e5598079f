"""Rows drawn line by line: the characters rich's ``Table`` draws, in a fraction of its time.

A 100,000-event dry-run spent 95 % of its time laying out rich tables, one row at a
time, although every row of the plan table has the same fixed column widths.  Here a
cell is wrapped on its own and the row's lines are joined with the padding and
dividers the table would draw.

- ``fold`` is rich's word wrap with ``overflow="fold"`` (``rich.text.Text.wrap``:
  words break at spaces, a word longer than the width is cut, trailing spaces beyond
  the width dropped, the line padded), written for *simple* text: characters one
  cell wide, the only blank a space (``is_simple``).  Anything else (wide or
  combining characters, other blanks) and any coloured output is wrapped by rich
  itself (``Text.wrap``, ``Text.render``), so the result is rich's by construction.
- ``LineWriter`` collects lines and hands them to the console as segments, in one
  print per batch: plain text when the console has no colours, styled segments
  otherwise.

``tests/unit/test_report_lines.py`` checks the rows against rich's table for
generated text, with and without colours.
"""

from __future__ import annotations

import functools
import itertools
import re
from typing import Final, cast

from rich.console import Console
from rich.segment import Segment, Segments
from rich.text import Text

_SIMPLE_RE: Final = re.compile(r"[ -~✗…—→·\n]*")
"""Text ``fold`` wraps as rich does: printable ASCII and fbcli's own one-cell marks."""
_WORD_RE: Final = re.compile(r" *[^ ]+ *")
_TRAILING_RE: Final = re.compile(r" +$")

Line = str | list[Segment]
"""One drawn line: plain text, or rich's segments when colours are drawn."""


def is_simple(text: str) -> bool:
    """Whether ``fold`` wraps ``text`` exactly as rich does (see the module's docstring)."""
    return _SIMPLE_RE.fullmatch(text) is not None


def _breaks(text: str, width: int) -> list[int]:
    """Where rich's ``divide_line(text, width, fold=True)`` breaks simple text."""
    breaks: list[int] = []
    offset = 0
    for match in _WORD_RE.finditer(text):
        start, word = match.start(), match.group()
        length = len(word.rstrip(" "))
        if width - offset >= length:
            offset += len(word)
        elif length > width:
            pieces = [word[i : i + width] for i in range(0, len(word), width)]
            for piece in pieces[:-1]:
                if start:
                    breaks.append(start)
                start += len(piece)
            if start:
                breaks.append(start)
            offset = len(pieces[-1])
        elif offset and start:
            breaks.append(start)
            offset = len(word)
    return breaks


def fold(text: str, width: int, *, right: bool = False) -> list[str]:
    """Simple ``text`` wrapped to ``width`` as rich's ``Text.wrap(justify=..., overflow="fold")``
    does: each line exactly ``width`` characters, left-justified (``right``: right-justified)."""
    lines: list[str] = []
    for paragraph in text.split("\n"):
        if len(paragraph) <= width and not right:
            lines.append(paragraph.ljust(width))
        else:
            lines.extend(_fold_paragraph(paragraph, width, right))
    return lines


@functools.lru_cache(maxsize=4096)
def _fold_paragraph(paragraph: str, width: int, right: bool) -> tuple[str, ...]:
    breaks = _breaks(paragraph, width) if len(paragraph) > width else []
    lines = []
    for start, end in itertools.pairwise([0, *breaks, len(paragraph)]):
        line = paragraph[start:end]
        if len(line) > width:
            blanks = _TRAILING_RE.search(line)
            if blanks is not None:
                line = line[: len(line) - min(len(blanks.group()), len(line) - width)]
        if right:
            lines.append(line.rstrip(" ")[:width].rjust(width))
        else:
            lines.append(line[:width].ljust(width))
    return tuple(lines)


class LineWriter:
    """Lines for one console: plain text when it draws no colours, else rich's segments.

    ``cell`` wraps a cell's text to lines of exactly its width; ``add`` takes a drawn
    line made of plain strings and cell lines; ``flush`` prints what was added.
    """

    def __init__(self, console: Console) -> None:
        self.console = console
        self.width = console.width
        self.plain = console.color_system is None
        self._plain: list[str] = []
        self._segments: list[Segment] = []

    def cell(
        self, text: Text, width: int, *, right: bool = False, no_wrap: bool = False
    ) -> list[Line]:
        """``text`` wrapped to ``width``, as a table column with ``overflow="fold"`` draws it
        (``no_wrap``: one line, cut with an ellipsis, as the Status column)."""
        plain = text.plain
        if self.plain and is_simple(plain):
            if not no_wrap:
                return list[Line](fold(plain, width, right=right))
            if len(plain) <= width and "\n" not in plain:
                return [plain.ljust(width)]
        lines = text.wrap(
            self.console,
            width,
            justify="right" if right else "left",
            overflow="ellipsis" if no_wrap else "fold",
            no_wrap=no_wrap,
        )
        if self.plain:
            return [line.plain for line in lines]
        # As Text.__rich_console__: the lines joined (each line's style becomes a span), then
        # rendered and split again.
        joined = Text("\n").join(lines).render(self.console)
        return list[Line](Segment.split_lines(joined))

    def add(self, parts: list[Line], *, strip: bool = False) -> None:
        """One line made of ``parts`` (text, or a cell's line); ``strip``: without its
        trailing spaces (plain text only)."""
        if self.plain:  # cell lines are text then
            if strip:
                self._plain.append("".join(cast("list[str]", parts)).rstrip(" "))
            else:
                self._plain.extend(cast("list[str]", parts))
            self._plain.append("\n")
            return
        for part in parts:
            if isinstance(part, str):
                self._segments.append(Segment(part))
            else:
                self._segments.extend(part)
        self._segments.append(Segment.line())

    def add_text(self, text: str) -> None:
        """Plain lines already drawn (no colours: ``plain``), without the last line break."""
        self._plain.append(text)
        self._plain.append("\n")

    def flush(self) -> None:
        """Print the lines added so far."""
        if self._plain:
            self.console.print(Segments([Segment("".join(self._plain))]), crop=False)
            self._plain = []
        if self._segments:
            self.console.print(Segments(self._segments), crop=False)
            self._segments = []
