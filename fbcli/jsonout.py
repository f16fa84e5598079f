"""JSON output of plan records: ``dry-run --format json`` and ``validate --format json``.

Kept apart from ``fbcli.report`` (rich's tables and messages) so that JSON
output never imports rich.  Both writers stream: ``dry-run`` writes its lines
in batches as records arrive, and ``validate`` spools its problems, so memory
stays flat however large the input.
"""

from __future__ import annotations

import json
import re
import shutil
import tempfile
from collections.abc import Callable, Iterable
from typing import IO, TYPE_CHECKING, Any, Final

from fbcli.plan import STATUSES, PlannedCall, PlanRecord, PlanTally, to_record

if TYPE_CHECKING:
    from fbcli.causes import CauseBook

_orjson_dumps: Callable[..., bytes] | None
try:
    from orjson import OPT_APPEND_NEWLINE as _APPEND_NEWLINE
    from orjson import dumps as _orjson_dumps
except ImportError:  # pragma: no cover - orjson is a dependency; json is the fallback
    _orjson_dumps, _APPEND_NEWLINE = None, 0

__all__ = [
    "json_line",
    "record_line",
    "validate_summary",
    "write_json_lines",
    "write_lines",
    "write_validate_summary",
]

JSON_LINES_BATCH: Final = 256
"""Lines of ``write_json_lines`` joined into one write."""

JSON_LINES_CHARS: Final = 1_048_576
"""Characters of ``write_lines`` written at the latest, however few lines they are."""

_EXPONENT: Final = re.compile(rb"[0-9]e-")
"""A negative exponent as orjson writes it (``1e-7``); ``json`` writes ``1e-07``."""


def _maybe_unlike_json(data: bytes) -> bool:
    """Whether orjson's text may differ from ``json.dumps``'s (see ``json_line``).

    Its marks: ``null`` (a non-finite float), ``0.0000`` (a small float
    written in full), a digit before ``e-`` (a small float's exponent) and
    ``"MISSING"``.  ``e-`` alone is common in text (``tee-shirt``), so the
    digit before it is checked only once ``e-`` is found.
    """
    return (
        b"null" in data
        or b"0.0000" in data
        or b'"MISSING"' in data
        or (b"e-" in data and _EXPONENT.search(data) is not None)
    )


def json_line(record: Any) -> str:
    """``json.dumps(record, ensure_ascii=False, allow_nan=False, separators=(",", ":"))`` + newline.

    orjson writes the same text several times faster, with three exceptions,
    each of which leaves a mark in its output: a non-finite float (``null``,
    where ``json`` raises ``ValueError``), a float below 1e-4 in magnitude
    (``1e-7`` or ``0.00001``, where ``json`` writes ``1e-07`` and ``1e-05``)
    and an enum member such as ``MISSING`` (its value, where ``json`` raises
    ``TypeError``).  A line with any of those marks, even inside a string, and
    every value orjson refuses (lone surrogates, integers beyond 64 bits,
    non-string keys) is written by ``json`` instead: same text, same errors.
    """
    if _orjson_dumps is not None:
        try:
            data = _orjson_dumps(record, option=_APPEND_NEWLINE)
        except TypeError:  # orjson.JSONEncodeError
            pass
        else:
            if not _maybe_unlike_json(data):
                return data.decode()
    return json.dumps(record, ensure_ascii=False, allow_nan=False, separators=(",", ":")) + "\n"


def record_line(record: PlanRecord) -> str:
    """One record as its line of ``dry-run --format json``."""
    return json_line(to_record(record))


def write_json_lines(stream: IO[str], records: Iterable[PlanRecord]) -> None:
    """The ``dry-run --format json`` contract: one compact JSON object per line."""
    write_lines(stream, map(record_line, records))


def write_lines(stream: IO[str], lines: Iterable[str]) -> None:
    """Write lines of text (each with its newline), ``JSON_LINES_BATCH`` at a time.

    Fewer when they add up to ``JSON_LINES_CHARS`` first (a "line" may hold a
    block of many records: ``--jobs`` joins them), so memory stays bounded.
    What is pending when the lines stop with an error is written too, so a
    large input costs few ``write`` calls and loses nothing.
    """
    pending: list[str] = []
    size = 0
    try:
        for line in lines:
            pending.append(line)
            size += len(line)
            if len(pending) >= JSON_LINES_BATCH or size >= JSON_LINES_CHARS:
                text = "".join(pending)
                pending.clear()
                size = 0
                stream.write(text)
    finally:
        if pending:
            stream.write("".join(pending))


def validate_summary(
    tally: PlanTally, noteworthy: list[PlanRecord], causes: CauseBook | None = None
) -> dict[str, Any]:
    """``validate --format json``: counts, per action, the problems and the warnings; with
    ``causes``, the problems grouped by cause and the count of duplicate messageIds."""
    return {
        "events": tally.events,
        **{status: tally.count(status) for status in STATUSES},
        "actions": {a: {s: c[s] for s in STATUSES if c[s]} for a, c in tally.by_action.items()},
        "problems": [to_record(r) for r in noteworthy if not isinstance(r, PlannedCall)],
        "warnings": [to_record(r) for r in noteworthy if isinstance(r, PlannedCall)],
        **(_causes_part(causes) if causes is not None else {}),
        **({"stopped": tally.stopped} if tally.stopped else {}),
    }


def _causes_part(causes: CauseBook) -> dict[str, Any]:
    return {
        "causes": [cause.to_json() for cause in causes.causes()],
        "duplicate_message_ids": causes.duplicate_ids(),
    }


SPOOL_IN_MEMORY: Final = 1_048_576
"""Characters of problems (and of warnings) ``write_validate_summary`` keeps in memory."""


def write_validate_summary(
    stream: IO[str],
    tally: PlanTally,
    noteworthy: Iterable[PlanRecord],
    *,
    causes: CauseBook | None = None,
) -> None:
    """Write ``json.dumps(validate_summary(tally, list(noteworthy), causes), ensure_ascii=False)``.

    The same text, without holding every problem in memory: the counts come
    first but are known only at the end, so the problems and the warnings are
    spooled as JSON text (in memory up to ``SPOOL_IN_MEMORY`` characters each,
    then in a temporary file) and copied out after the counts.  ``json.dumps``
    writes a list as its items' texts joined by ``", "``, which is what is
    spooled.
    """
    with (
        tempfile.SpooledTemporaryFile(SPOOL_IN_MEMORY, "w+", encoding="utf-8") as problems,
        tempfile.SpooledTemporaryFile(SPOOL_IN_MEMORY, "w+", encoding="utf-8") as warnings,
    ):
        spools = {False: problems, True: warnings}
        written = {False: 0, True: 0}
        for record in noteworthy:
            is_warning = isinstance(record, PlannedCall)
            if written[is_warning]:
                spools[is_warning].write(", ")
            written[is_warning] += 1
            spools[is_warning].write(json.dumps(to_record(record), ensure_ascii=False))
        summary = validate_summary(tally, [])
        stopped = summary.pop("stopped", None)
        del summary["problems"], summary["warnings"]
        stream.write(json.dumps(summary, ensure_ascii=False)[:-1] + ', "problems": [')
        problems.seek(0)
        shutil.copyfileobj(problems, stream)
        stream.write('], "warnings": [')
        warnings.seek(0)
        shutil.copyfileobj(warnings, stream)
        stream.write("]")
        if causes is not None:
            stream.write(", " + json.dumps(_causes_part(causes), ensure_ascii=False)[1:-1])
        stream.write(f', "stopped": {json.dumps(stopped, ensure_ascii=False)}' if stopped else "")
        stream.write("}\n")
