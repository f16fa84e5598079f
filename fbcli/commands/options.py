"""The options several commands share: their names, types and help, written once."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer


class OutputFormat(StrEnum):
    """``--format`` values."""

    table = "table"
    json = "json"


FilesArg = Annotated[
    list[str],
    typer.Argument(
        help="JSONL event files, folders (read recursively) or glob patterns; - reads "
        "standard input. gzip, bzip2 and zstd are read transparently; so are Segment batch "
        "envelopes, JSON array files and replay's failed files.",
        metavar="FILES...",
        show_default=False,
    ),
]
MappingsOpt = Annotated[
    Path | None,
    typer.Option(
        "--mappings",
        "-m",
        help="The mapping file. Default: ./mappings.yaml if present, else the built-in mapping.",
        show_default=False,
    ),
]
FormatOpt = Annotated[
    OutputFormat, typer.Option("--format", "-f", help="table (for people) or json (for programs).")
]
BaseUrlOpt = Annotated[
    str, typer.Option("--base-url", help="The MAPI base URL shown in request URLs.")
]
ActionOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--action", "-a", help="Only calls of this action (repeatable).", show_default=False
    ),
]
WhereOpt = Annotated[
    str | None,
    typer.Option(
        "--where",
        help="Only events matching this trigger, e.g. 'userId = \"u1\"'; < <= > >= with "
        'text compare ISO-8601 dates and times (timestamp >= "2026-01-01").',
        show_default=False,
    ),
]
SinceOpt = Annotated[
    str | None,
    typer.Option(
        "--since",
        help="Only events at or after this time: an ISO-8601 date (2026-01-31, from its "
        "start, UTC) or date and time (2026-01-31T12:00:00+02:00). An event's time is its "
        "timestamp, else originalTimestamp, receivedAt, sentAt; events without one are left "
        "out, and counted.",
        show_default=False,
    ),
]
UntilOpt = Annotated[
    str | None,
    typer.Option(
        "--until",
        help="Only events before this time; a date (2026-01-31) includes that whole day (UTC).",
        show_default=False,
    ),
]
LinesOpt = Annotated[
    str | None,
    typer.Option(
        "--lines",
        help="Only these line numbers of each file: 10-20, 10-, -20 or 15.",
        show_default=False,
    ),
]

StrictOpt = Annotated[
    bool,
    typer.Option(
        "--strict",
        help="Unmatched events count as problems, and so do quirks: calls the destination "
        "would make the same way although surely not meant (they become invalid).",
    ),
]
MaxErrorsOpt = Annotated[
    int | None,
    typer.Option(
        "--max-errors", min=1, help="Stop after this many problem events.", show_default=False
    ),
]
JobsOpt = Annotated[
    int,
    typer.Option(
        "--jobs",
        "-j",
        min=0,
        help="Worker processes that parse and plan, output kept in input order. "
        "0: one per CPU for inputs over 16 MB, else 1.",
    ),
]
