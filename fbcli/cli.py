"""The command line: options → settings → one core call → render → exit code.

The only module that imports typer, and the only one that opens paths or
reads the environment.  Every ``FbcliError`` becomes a one-line message and
an exit code in ``_guarded``; anything else is a bug and is not swallowed.

Start-up time matters (``fbcli --help``, ``validate`` of a small file), so
only typer and the small ``errors`` module are imported up front; each
command imports what it uses when it runs: rich only to render, the mapping
file's YAML and jsonschema only to load one, httpx only to replay.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import re
import signal
import stat
import sys
from collections.abc import Callable, Iterator
from enum import StrEnum
from pathlib import Path
from typing import IO, TYPE_CHECKING, Annotated, Any, NoReturn, ParamSpec, TypeVar

import typer

from fbcli import __version__
from fbcli.errors import AuthError, ConfigError, ExitCode, FbcliError, MappingFileError
from fbcli.signals import Interrupted, StopSwitch

if TYPE_CHECKING:
    from rich.console import Console

    from fbcli.events import Event, LineError
    from fbcli.lock import Holder
    from fbcli.mapi import Credentials
    from fbcli.mappings import MappingConfig
    from fbcli.parallel import Render
    from fbcli.plan import PlanFilter, PlanRecord, PlanTally
    from fbcli.replay import Preflight, ReplaySummary
    from fbcli.report import ReplayProgress
    from fbcli.session import ReplayResult

DEFAULT_BASE_URL = "https://mapi.fbot.me"
"""``plan.DEFAULT_BASE_URL``, written out so that start-up does not import the planner."""

EXIT_CODES_HELP = (
    "Exit codes: 0 success · 1 data problems (invalid or malformed events; calls failed or "
    "unknown) · 2 usage, mapping-file or ledger error · 3 authentication failed · "
    "4 replay --skip-invalid: every other call delivered · 130/143/129 stopped by "
    "SIGINT/SIGTERM/SIGHUP."
)

app = typer.Typer(
    name="fbcli",
    help="Replay and debug the customer events you send to Friendbuy.\n\n" + EXIT_CODES_HELP,
    pretty_exceptions_show_locals=False,
    no_args_is_help=True,
    add_completion=True,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)

P = ParamSpec("P")
R = TypeVar("R")


class OutputFormat(StrEnum):
    """``--format`` values."""

    table = "table"
    json = "json"


# -- shared plumbing ---------------------------------------------------------------------


_STATE: dict[str, bool] = {}


def _console(*, stderr: bool = False) -> Console:
    from fbcli.report import make_console

    stream = sys.stderr if stderr else sys.stdout
    no_color = bool(os.environ.get("NO_COLOR")) or _STATE.get("no_color", False)
    return make_console(stream, stderr=stderr, no_color=no_color, columns=os.environ.get("COLUMNS"))


def _exit_code_for(error: FbcliError) -> ExitCode:
    if isinstance(error, MappingFileError | ConfigError):
        return ExitCode.USAGE
    if isinstance(error, AuthError):
        return ExitCode.AUTH
    return ExitCode.DATA


def _guarded(command: Callable[P, R]) -> Callable[P, R]:
    """Turn fbcli's errors into a one-line message and an exit code (the one place).

    Any other exception is a bug: it is reported, not swallowed, by
    ``_report_bug`` (a traceback without locals, secrets and tokens blanked out)
    and exits 1, as an uncaught exception would.
    """

    @functools.wraps(command)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        global _SWITCH  # noqa: PLW0603 - one command runs per process (or per CliRunner call)
        switch = _SWITCH = StopSwitch()
        try:
            with switch.installed():
                return command(*args, **kwargs)
        except FbcliError as exc:
            from fbcli.report import print_error

            print_error(_console(stderr=True), exc)
            raise typer.Exit(_exit_code_for(exc)) from None
        except KeyboardInterrupt as exc:
            # Plain words, nothing imported: the signal may have landed inside an import.
            signum = exc.signum if isinstance(exc, Interrupted) else signal.SIGINT
            name = signal.Signals(signum).name
            with contextlib.suppress(Exception):
                sys.stderr.write("Interrupted.\n" if name == "SIGINT" else f"Stopped ({name}).\n")
            raise typer.Exit(128 + signum) from None
        except (typer.Exit, typer.Abort, typer.TyperException):
            raise
        except Exception as exc:  # noqa: BLE001 -- a bug: reported without secrets, then exit 1
            _report_bug(exc)
            raise typer.Exit(ExitCode.DATA) from None

    return wrapper


_SWITCH = StopSwitch()
"""The stop switch of the command running now (``_guarded`` makes a new one for each)."""


def _report_bug(exc: BaseException) -> None:
    """The traceback of an unexpected exception, safe to paste into a bug report.

    Python's own format, which never shows local variables (typer's rich
    traceback is not used: with ``pretty_exceptions_show_locals`` off it shows
    none either, but it prints messages as they are).  Every message is passed
    through ``redact``: the MAPI secret and the tokens, in any encoded form,
    become ``<hidden>``; control characters are shown escaped.
    """
    import traceback

    from fbcli.redact import redact
    from fbcli.report import print_error, safe

    text = redact("".join(traceback.format_exception(exc)))
    sys.stderr.write("".join(safe(line) + "\n" for line in text.splitlines()))
    sys.stderr.flush()
    print_error(
        _console(stderr=True),
        f"unexpected {type(exc).__name__}: this is a bug in fbcli",
        hint="please report it with the traceback above (secrets and tokens are hidden "
        "in it; check it for customer data first)",
    )


class _ClosedPipeSafe:
    """A standard stream that survives its reader going away (``fbcli validate … | head``).

    Python ignores SIGPIPE, so a write to a closed pipe raises ``BrokenPipeError``
    wherever it happens; a full disk (``> /dev/full``) raises ``OSError``.  This
    stream catches both, points the file descriptor at ``/dev/null`` and goes
    on, so the command runs to its end and its exit code still says what it
    found (a replay goes on sending and recording, too).  An error other than a
    closed pipe is told on standard error at the end (``failure``).
    """

    def __init__(self, stream: IO[str] | None, fd: int) -> None:
        self._stream: IO[str] = stream if stream is not None else _devnull_text(fd)
        self._fd = fd
        self.failure: OSError | None = None

    def _lost(self, exc: OSError) -> None:
        if not isinstance(exc, BrokenPipeError) and self.failure is None:
            self.failure = exc
        devnull = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(devnull, self._fd)
        finally:
            os.close(devnull)
        with contextlib.suppress(OSError, ValueError):
            self._stream.flush()  # what was buffered goes to /dev/null now

    def write(self, text: str) -> int:
        try:
            return self._stream.write(text)
        except OSError as exc:
            self._lost(exc)
            return len(text)

    def flush(self) -> None:
        try:
            self._stream.flush()
        except OSError as exc:
            self._lost(exc)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def _devnull_text(fd: int) -> IO[str]:
    """A text stream on ``fd`` pointed at ``/dev/null`` (a stream closed before fbcli ran)."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    if devnull != fd:
        os.dup2(devnull, fd)
        os.close(devnull)
    return open(fd, "w", encoding="utf-8", closefd=False)


MAX_YAML_BYTES = 1_048_576
"""``mappings.MAX_FILE_BYTES``, written out so that start-up does not import YAML."""


def _read_file(path: Path, what: str, *, limit: int = MAX_YAML_BYTES) -> bytes:
    """The file's bytes; over ``limit`` bytes is an error, found without reading the rest
    (so ``/dev/zero`` or a huge file costs no memory)."""
    try:
        with path.open("rb") as stream:
            data = stream.read(limit + 1)
            if len(data) > limit:
                size = os.fstat(stream.fileno()).st_size
                told = f"{size:,} bytes, " if size > limit else ""
                raise ConfigError(
                    f"the {what} is too large: {told}over the limit of {limit:,}", where=str(path)
                )
            return data
    except FileNotFoundError:
        raise ConfigError(f"{what} not found", where=str(path)) from None
    except IsADirectoryError:
        raise ConfigError(f"{what} is a directory", where=str(path)) from None
    except OSError as exc:
        raise ConfigError(f"cannot read {what}: {exc.strerror}", where=str(path)) from None


def _load_config(mappings: Path | None) -> MappingConfig:
    from fbcli.mappings import default_mappings, load_mappings

    merchant_env = os.environ.get("FRIENDBUY_MERCHANT_ID")
    if mappings is None:
        local = Path("mappings.yaml")
        if not local.is_file():
            return default_mappings()
        mappings = local
    data = _read_file(mappings, "mapping file")
    return load_mappings(data, path=str(mappings), merchant_id_env=merchant_env)


def _read_inputs(files: list[str]) -> Iterator[Event | LineError]:
    """Every event of every input, in order; unreadable inputs become ``LineError``s."""
    from fbcli.inputs import read_inputs

    return read_inputs(files)


def _plan_outputs(
    files: list[str],
    config: MappingConfig,
    render: Render,
    *,
    base_url: str,
    tally: PlanTally,
    jobs: int,
    selection: PlanFilter | None = None,
    limit: int | None = None,
    max_errors: int | None = None,
    join_text: bool = False,
    strict: bool = False,
) -> Iterator[Any]:
    """``render`` of each record, in input order, planned by ``jobs`` processes (0: auto).

    ``join_text``: ``render`` gives text, which may come joined, several records to a string.
    ``strict``: quirk warnings are errors (``plan.compile_config``).
    """
    from fbcli.inputs import open_inputs
    from fbcli.parallel import auto_jobs, plan_in_parallel
    from fbcli.plan import PlanFilter, compile_config, take_groups

    groups = plan_in_parallel(
        open_inputs(files),
        compile_config(config, base_url=base_url, strict=strict),
        selection or PlanFilter(),
        render,
        jobs=jobs or auto_jobs(files),
        batched=limit is None and max_errors is None,
        join_text=join_text,
    )
    with contextlib.closing(groups):
        yield from take_groups(groups, tally, limit=limit, max_errors=max_errors)


def _parse_lines(text: str | None) -> tuple[int, int] | None:
    if text is None:
        return None
    if not text.strip():
        raise ConfigError("--lines must look like 10-20, 10-, -20 or 15, not an empty value")
    start, sep, end = text.partition("-")
    try:
        first = int(start) if start.strip() else 1
        last = (int(end) if end.strip() else sys.maxsize) if sep else first
    except ValueError:
        raise ConfigError(f"--lines must look like 10-20, 10-, -20 or 15, not '{text}'") from None
    if first < 1 or last < first:
        raise ConfigError(f"--lines range '{text}' is empty")
    return first, last


def _selection(actions: list[str] | None, where: str | None, lines: str | None) -> PlanFilter:
    from fbcli.actions import ACTIONS
    from fbcli.plan import PlanFilter

    if actions:
        unknown = [a for a in actions if a not in ACTIONS]
        if unknown:
            raise ConfigError(
                f"unknown action '{unknown[0]}'", hint=f"actions: {', '.join(ACTIONS)}"
            )
    return PlanFilter(
        actions=frozenset(actions) if actions else None,
        where=_compile_expression(where, "--where") if where else None,
        lines=_parse_lines(lines),
    )


def _compile_expression(text: str, option: str) -> Callable[[Any], bool]:
    from fbcli.triggers import TriggerSyntaxError, compile_trigger, parse_trigger

    try:
        return compile_trigger(parse_trigger(text))
    except TriggerSyntaxError as exc:
        raise ConfigError(f"bad trigger in {option}: {exc}") from None


def _check_base_url(url: str) -> str:
    from fbcli.hosts import check_base_url

    return check_base_url(url)


def _finish(code: int) -> NoReturn:
    raise typer.Exit(code)


# -- options shared by several commands ------------------------------------------------

FilesArg = Annotated[
    list[str],
    typer.Argument(
        help="JSONL event files; - reads standard input; .gz files are read transparently.",
        metavar="FILE",
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
        help="Only events matching this trigger, e.g. 'userId = \"u1\"'.",
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


def _same(record: PlanRecord) -> PlanRecord:
    return record


# -- commands --------------------------------------------------------------------------


def _version(value: bool) -> None:
    if value:
        typer.echo(f"fbcli {__version__}")
        raise typer.Exit


@app.callback()
def _root(
    *,
    no_color: Annotated[
        bool, typer.Option("--no-color", help="No colours (NO_COLOR is honoured too).")
    ] = False,
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = False,
) -> None:
    _STATE["no_color"] = no_color


VALIDATE_ROWS = 200
"""Problem rows ``validate`` draws by default: beyond that a table is read by no one."""


@app.command("validate")
@_guarded
def validate_command(
    files: FilesArg,
    *,
    mappings: MappingsOpt = None,
    output: FormatOpt = OutputFormat.table,
    strict: StrictOpt = False,
    max_errors: MaxErrorsOpt = None,
    base_url: BaseUrlOpt = DEFAULT_BASE_URL,
    jobs: JobsOpt = 0,
    show_all: Annotated[
        bool,
        typer.Option(
            "--show-all", help=f"Draw every problem row (default: the first {VALIDATE_ROWS})."
        ),
    ] = False,
) -> None:
    """Check that every event is well formed, matches a subscription and maps validly.

    Shows the problems (and calls with warnings), then a summary; the table draws
    the first 200 rows unless --show-all is given (the summary counts everything).

    Example: fbcli validate sample_events/events.jsonl -m mappings.yaml
    """
    from fbcli.plan import PlannedCall, PlanTally, status_of

    config = _load_config(mappings)
    url = _check_base_url(base_url)
    tally = PlanTally()
    shown = {"invalid", "malformed"} | ({"unmatched"} if strict else set())

    def noteworthy_only(record: PlanRecord) -> PlanRecord | None:
        if status_of(record) in shown or (isinstance(record, PlannedCall) and record.warnings):
            return record
        return None

    outputs = _plan_outputs(
        files,
        config,
        noteworthy_only,
        base_url=url,
        tally=tally,
        jobs=jobs,
        max_errors=max_errors,
        strict=strict,
    )
    noteworthy = (r for r in outputs if r is not None)
    if output is OutputFormat.json:
        from fbcli.jsonout import write_validate_summary

        write_validate_summary(sys.stdout, tally, noteworthy)
    else:
        from fbcli.report import render_plan

        render_plan(
            _console(),
            noteworthy,
            tally,
            config,
            base_url=url,
            sources=len(files),
            max_rows=None if show_all else VALIDATE_ROWS,
        )
    _finish(_outcome(tally, strict=strict))


def _outcome(tally: PlanTally, *, strict: bool) -> ExitCode:
    problems = tally.count("invalid") + tally.count("malformed")
    if strict:
        problems += tally.count("unmatched")
    return ExitCode.DATA if problems else ExitCode.OK


@app.command("dry-run")
@_guarded
def dry_run_command(
    files: FilesArg,
    *,
    mappings: MappingsOpt = None,
    output: FormatOpt = OutputFormat.table,
    limit: Annotated[
        int | None,
        typer.Option("--limit", min=1, help="Stop after this many events.", show_default=False),
    ] = None,
    action: ActionOpt = None,
    where: WhereOpt = None,
    lines: LinesOpt = None,
    strict: StrictOpt = False,
    max_errors: MaxErrorsOpt = None,
    base_url: BaseUrlOpt = DEFAULT_BASE_URL,
    jobs: JobsOpt = 0,
) -> None:
    """Show the exact MAPI requests (cloud) or push calls (direct) the events become.

    Nothing is sent and no credentials are needed.

    Example: fbcli dry-run sample_events/events.jsonl --format json | jq .request.body
    """
    from fbcli.jsonout import record_line, write_lines
    from fbcli.plan import PlanTally

    config = _load_config(mappings)
    selection = _selection(action, where, lines)
    url = _check_base_url(base_url)
    tally = PlanTally()
    as_json = output is OutputFormat.json
    records = _plan_outputs(
        files,
        config,
        record_line if as_json else _same,
        join_text=as_json,
        base_url=url,
        tally=tally,
        jobs=jobs,
        selection=selection,
        limit=limit,
        max_errors=max_errors,
        strict=strict,
    )
    if as_json:
        write_lines(sys.stdout, records)
        sys.stdout.flush()
        if tally.stopped:
            from fbcli.report import print_warning

            print_warning(_console(stderr=True), tally.stopped)
    else:
        from fbcli.report import render_plan

        render_plan(_console(), records, tally, config, base_url=url, sources=len(files))
    _finish(_outcome(tally, strict=strict))


@app.command("eval")
@_guarded
def eval_command(
    files: FilesArg,
    *,
    trigger: Annotated[
        str | None,
        typer.Option(
            "--trigger",
            "-t",
            help='A trigger, e.g. \'type = "track" and event = "Signed Up"\'.',
            show_default=False,
        ),
    ] = None,
    mapping: Annotated[
        str | None,
        typer.Option(
            "--mapping",
            help='A field mapping as JSON or YAML, e.g. \'{"@path": "$.properties.total"}\'.',
            show_default=False,
        ),
    ] = None,
) -> None:
    """Try one trigger or one field mapping against each event: JSON Lines out.

    Prints {"line": 3, "match": true} per event for a trigger, {"line": 3, "value": ...}
    for a mapping (no "value" when it resolves to nothing).

    Example: fbcli eval --mapping '{"@path": "$.properties.total"}' events.jsonl
    """
    from fbcli.events import LineError

    if (trigger is None) == (mapping is None):
        raise ConfigError("give exactly one of --trigger or --mapping")
    evaluate = _evaluator(trigger, mapping)
    malformed = False
    several = len(files) > 1
    for item in _read_inputs(files):
        record: dict[str, Any] = {"source": item.source} if several else {}
        record["line"] = item.line
        if isinstance(item, LineError):
            malformed = True
            record.update(status="malformed", errors=[{"message": item.message}])
        else:
            record.update(evaluate(item.data))
        sys.stdout.write(
            json.dumps(record, ensure_ascii=False, allow_nan=False, separators=(",", ":")) + "\n"
        )
    sys.stdout.flush()
    _finish(ExitCode.DATA if malformed else ExitCode.OK)


def _evaluator(trigger: str | None, mapping: str | None) -> Callable[[Any], dict[str, Any]]:
    if trigger is not None:
        matches = _compile_expression(trigger, "--trigger")
        return lambda data: {"match": matches(data)}
    from fbcli.mappings import load_field_mapping
    from fbcli.plan import normalize_json
    from fbcli.values import MISSING

    assert mapping is not None
    resolve = load_field_mapping(mapping, path="--mapping").resolve

    def evaluate(data: Any) -> dict[str, Any]:
        value = resolve(data)
        return {} if value is MISSING else {"value": normalize_json(value)}

    return evaluate


RateOpt = Annotated[
    float, typer.Option("--rate", min=0.01, help="Calls per second at most (a token bucket).")
]


@app.command("replay")
@_guarded
def replay_command(
    files: FilesArg,
    *,
    mappings: MappingsOpt = None,
    output: FormatOpt = OutputFormat.table,
    rate: RateOpt = 10.0,
    burst: Annotated[
        int, typer.Option("--burst", min=1, help="Calls allowed at once above the rate.")
    ] = 1,
    concurrency: Annotated[
        int, typer.Option("--concurrency", "-c", min=1, max=64, help="Calls in flight at once.")
    ] = 4,
    ledger: Annotated[
        Path | None,
        typer.Option(
            "--ledger",
            help="The ledger file. Default: the target's own ledger in fbcli's state folder "
            "(FBCLI_STATE_DIR, else the user's state folder), shared by every input.",
            show_default=False,
        ),
    ] = None,
    wait: Annotated[
        bool,
        typer.Option(
            "--wait", help="If another fbcli holds the ledger, wait for it instead of refusing."
        ),
    ] = False,
    failed: Annotated[
        Path | None,
        typer.Option(
            "--failed",
            help="Write calls not delivered here (JSONL, replayable).",
            show_default=False,
        ),
    ] = None,
    only_failed: Annotated[
        bool, typer.Option("--only-failed", help="Send only calls the ledger shows as failed.")
    ] = False,
    force: Annotated[
        bool, typer.Option("--force", help="Ignore the ledger: send every call again.")
    ] = False,
    retry_unknown: Annotated[
        bool,
        typer.Option(
            "--retry-unknown",
            help="Also resend calls whose outcome is unknown (may double-count purchases).",
        ),
    ] = False,
    skip_invalid: Annotated[
        bool,
        typer.Option(
            "--skip-invalid",
            help="Send the valid calls even if some events are invalid (exit 4 when all of "
            "those were delivered).",
        ),
    ] = False,
    key: Annotated[
        str | None,
        typer.Option("--key", help="MAPI key (default: FRIENDBUY_MAPI_KEY).", show_default=False),
    ] = None,
    secret_file: Annotated[
        Path | None,
        typer.Option(
            "--secret-file",
            help="A file holding the MAPI secret (default: FRIENDBUY_MAPI_SECRET; in a "
            "terminal, fbcli asks for it).",
            show_default=False,
        ),
    ] = None,
    secret: Annotated[
        str | None,
        typer.Option(
            "--secret",
            hidden=True,
            help="Refused: a secret on the command line shows in ps and in the shell history.",
            show_default=False,
        ),
    ] = None,
    base_url: Annotated[
        str | None,
        typer.Option(
            "--base-url",
            help="MAPI base URL (default https://mapi.fbot.me; an ENV:SECRET secret picks "
            "https://mapi.fbot-ENV.me). Plain http only to this machine.",
            show_default=False,
        ),
    ] = None,
    emulator: Annotated[
        bool,
        typer.Option("--emulator", help="Replay to a built-in MAPI emulator (no account needed)."),
    ] = False,
    max_attempts: Annotated[
        int, typer.Option("--max-attempts", min=1, max=100, help="Attempts per call at most.")
    ] = 6,
    max_call_time: Annotated[
        float,
        typer.Option(
            "--max-call-time",
            min=1,
            help="Seconds one call may take, waits and retries included; each attempt ends by "
            "then, whatever the server does.",
        ),
    ] = 300.0,
    max_retry_after: Annotated[
        float,
        typer.Option(
            "--max-retry-after",
            min=0,
            help="Honour a Retry-After up to this many seconds (a longer one is capped, and "
            "the summary says so).",
        ),
    ] = 60.0,
    connect_timeout: Annotated[
        float, typer.Option("--connect-timeout", min=0.1, help="Seconds to connect.")
    ] = 5.0,
    read_timeout: Annotated[
        float, typer.Option("--read-timeout", min=0.1, help="Seconds to wait for an answer.")
    ] = 30.0,
    action: ActionOpt = None,
    where: WhereOpt = None,
    lines: LinesOpt = None,
) -> None:
    """Send the planned calls to MAPI: rate limited, retried, recorded in a ledger.

    Exactly the calls dry-run shows. The whole input is checked first; a rerun skips
    what the ledger shows as delivered. Exit 4: --skip-invalid left invalid events out
    and every other call was delivered; 143/129: stopped by SIGTERM/SIGHUP.

    Example: fbcli replay sample_events/events.jsonl --emulator --skip-invalid
    """
    from fbcli.mapi import Timeouts
    from fbcli.replay import ReplayOptions
    from fbcli.retry import RetryPolicy
    from fbcli.session import ReplayRun, ReplaySettings, Target

    if secret is not None:
        raise ConfigError(
            "--secret is not accepted: a secret on the command line shows in ps and in the "
            "shell history (the value given is not repeated here)",
            hint="set FRIENDBUY_MAPI_SECRET, give --secret-file PATH, or run fbcli in a "
            "terminal without either to be asked for it",
        )
    config = _load_config(mappings)
    if emulator:
        target = Target(emulator=True)
    else:
        credentials, url = _credentials(key, secret_file, base_url)
        target = Target(url, credentials)
    settings = ReplaySettings(
        rate=rate,
        burst=burst,
        options=ReplayOptions(
            concurrency=concurrency,
            retry_unknown=retry_unknown,
            force=force,
            only_failed=only_failed,
            policy=RetryPolicy(
                max_attempts=max_attempts,
                max_total=max_call_time,
                max_retry_after=max_retry_after,
            ),
        ),
        timeouts=Timeouts(connect=connect_timeout, read=read_timeout),
        ledger=ledger,
        state_dir=_state_dir(),
        failed=failed,
        wait=wait,
        skip_invalid=skip_invalid,
        selection=_selection(action, where, lines),
        protected=(secret_file,) if secret_file is not None else (),
    )
    observer = _ReplayObserver(_console(stderr=True))
    switch = _SWITCH
    run = ReplayRun(files, config, target, settings, observer=observer, switch=switch)
    try:
        result = run.run()
    finally:
        observer.close()
    _finish(_render_replay(result, output))


def _render_replay(result: ReplayResult, output: OutputFormat) -> int:
    """Print a replay's summary (stdout) and its last words (stderr); its exit code."""
    from fbcli.report import print_error, render_arrivals, render_replay_summary

    err = _console(stderr=True)
    summary = result.summary
    if summary is None:  # the pre-flight refused the input
        return result.exit_code
    if output is OutputFormat.json:
        sys.stdout.write(json.dumps(summary.to_dict(), ensure_ascii=False) + "\n")
    else:
        render_replay_summary(_console(), summary, target=result.base_url, ledger=result.ledger)
        if result.arrivals is not None:
            render_arrivals(_console(), result.arrivals)
    if summary.skipped_unknown:
        from fbcli.report import print_warning

        count = summary.skipped_unknown
        print_warning(
            err,
            f"{count} call{' is' if count == 1 else 's are'} still unknown from earlier runs "
            "(may have reached MAPI): check in Friendbuy, then fbcli ledger resolve KEY "
            "--as delivered or --as not-delivered (fbcli ledger list --status unknown)",
        )
    if result.auth_error is not None:
        print_error(err, result.auth_error)
    return result.exit_code


class _ReplayObserver:
    """What a replay tells, on stderr: notes, the pre-flight's problems, progress."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self._progress: ReplayProgress | None = None

    def note(self, message: str) -> None:
        from fbcli.report import print_note

        print_note(self.console, message)

    def waiting(self, holder: Holder) -> None:
        from fbcli.report import print_note

        print_note(self.console, f"waiting for the ledger: in use by {holder.describe()}")

    def rejected(self, check: Preflight, config: MappingConfig, sources: int) -> None:
        from fbcli.report import print_error, render_plan

        tally = check.tally
        render_plan(
            self.console,
            check.problems,
            tally,
            config,
            base_url=DEFAULT_BASE_URL,
            sources=sources,
        )
        print_error(
            self.console,
            f"{tally.count('invalid')} invalid and {tally.count('malformed')} malformed: "
            "nothing was sent",
            hint="fix them, or add --skip-invalid to send the valid calls",
        )

    def progress(self, summary: ReplaySummary) -> None:
        from fbcli.report import ReplayProgress

        if self._progress is None:
            self._progress = ReplayProgress(self.console, summary.to_send).__enter__()
        self._progress.update(summary)

    def close(self) -> None:
        if self._progress is not None:
            self._progress.__exit__(None, None, None)
            self._progress = None


def _state_dir() -> Path:
    """fbcli's state folder: ``FBCLI_STATE_DIR``, else the user's state folder for fbcli."""
    given = os.environ.get("FBCLI_STATE_DIR")
    if given:
        if not Path(given).is_absolute():
            raise ConfigError(
                f"FBCLI_STATE_DIR must be an absolute path, not '{given}' (a relative one "
                "would give each working folder ledgers of its own)"
            )
        return Path(given)
    import platformdirs

    return Path(platformdirs.user_state_dir("fbcli", appauthor=False))


MAX_SECRET_BYTES = 65_536
"""A secret file larger than this is not a secret file."""
ENVIRONMENT_RE = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?")
"""The ``ENV`` of an ``ENV:SECRET`` secret: one DNS label, so it can only pick
``mapi.fbot-ENV.me`` (``evil.example/x:...`` would otherwise choose the host)."""


def _credentials(
    key: str | None, secret_file: Path | None, base_url: str | None
) -> tuple[Credentials, str]:
    """MAPI credentials and base URL: the key from ``--key`` or the environment, the secret
    from ``--secret-file``, the environment or, in a terminal, a hidden prompt (never a flag).

    The secret is registered with ``redact.hide`` as soon as it is read.
    """
    from fbcli.mapi import Credentials, base_url_for, split_secret
    from fbcli.redact import hide

    key = key or os.environ.get("FRIENDBUY_MAPI_KEY")
    if not key:
        raise ConfigError(
            "no MAPI credentials: set FRIENDBUY_MAPI_KEY and FRIENDBUY_MAPI_SECRET "
            "(or --key and --secret-file)",
            hint="try --emulator to replay against the built-in MAPI emulator",
        )
    if secret_file is not None:
        secret = _read_secret_file(secret_file)
    elif os.environ.get("FRIENDBUY_MAPI_SECRET"):
        secret = os.environ["FRIENDBUY_MAPI_SECRET"]
    elif sys.stdin.isatty():
        secret = _prompt_secret(key)
    else:
        raise ConfigError(
            "no MAPI secret: set FRIENDBUY_MAPI_SECRET or give --secret-file PATH",
            hint="in a terminal, fbcli asks for the secret; try --emulator to replay "
            "against the built-in MAPI emulator",
        )
    hide(secret)
    environment, secret = split_secret(secret)
    hide(secret)
    if base_url is None and environment is not None and not ENVIRONMENT_RE.fullmatch(environment):
        raise ConfigError(
            "the secret has the form ENV:SECRET, but its ENV is not a host name label "
            "(letters, digits and '-'), so it cannot pick https://mapi.fbot-ENV.me",
            hint="give the MAPI host with --base-url",
        )
    url = _check_base_url(base_url or base_url_for(environment))
    return Credentials(key, secret), url


def _read_secret_file(path: Path) -> str:
    """The secret in ``path``; warns (as ssh does) when other users may read the file.

    Only a warning, not a refusal: secret stores (Kubernetes, Docker secrets)
    often mount files readable by all.  A missing file is not named: the
    argument may be the secret itself, given by mistake.
    """
    from fbcli.report import print_warning

    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise ConfigError(
            "the secret file does not exist (its name is not repeated: it may be the secret)",
            hint="--secret-file takes the path of a file that holds the secret",
        ) from None
    except OSError as exc:
        raise ConfigError(f"cannot read the secret file: {exc.strerror}") from None
    if os.name == "posix" and stat.S_ISREG(mode) and mode & 0o077:
        print_warning(
            _console(stderr=True),
            f"the secret file {path} can be read by other users (mode "
            f"{stat.S_IMODE(mode):04o}): chmod 600 it",
        )
    raw = _read_file(path, "secret file", limit=MAX_SECRET_BYTES)
    secret = raw.decode("utf-8", "replace").strip()
    if not secret:
        raise ConfigError("the secret file is empty", where=str(path))
    return secret


def _prompt_secret(key: str) -> str:
    """Ask for the secret without echoing it (``getpass``: the terminal, else stdin)."""
    import getpass

    try:
        secret = getpass.getpass(f"MAPI secret for key {key} (input hidden): ", stream=sys.stderr)
    except EOFError:
        secret = ""
    secret = secret.strip()
    if not secret:
        raise ConfigError("no MAPI secret given")
    return secret


@app.command("emulator")
@_guarded
def emulator_command(
    *,
    host: Annotated[
        str,
        typer.Option("--host", help="Address to listen on (a warning when it is not loopback)."),
    ] = "127.0.0.1",
    port: Annotated[
        int, typer.Option("--port", "-p", min=0, max=65535, help="Port (0: any free port).")
    ] = 8080,
    rate_limit: Annotated[
        float | None,
        typer.Option(
            "--rate-limit", min=0.01, help="Requests per second before 429s.", show_default=False
        ),
    ] = None,
    burst: Annotated[int, typer.Option("--burst", min=1, help="Leaky-bucket size.")] = 1,
    token_ttl: Annotated[
        float, typer.Option("--token-ttl", min=1, help="Seconds a token stays valid.")
    ] = 3600.0,
    faults: Annotated[
        str,
        typer.Option(
            "--faults",
            help="Faults to inject, e.g. 5xx=0.05,429=0.01,slow=0.1@2,drop-before=0.01,"
            "drop-after=0.01,storm=0.001@2,revoke=0.002",
        ),
    ] = "none",
    seed: Annotated[
        int | None, typer.Option("--seed", help="Seed for the faults.", show_default=False)
    ] = None,
    log: Annotated[
        Path | None,
        typer.Option(
            "--log", help="Append each accepted call to this JSONL file.", show_default=False
        ),
    ] = None,
) -> None:
    """Run a local Friendbuy MAPI emulator: tokens, validation, rate limits, faults.

    Accepted calls are listed at GET /_emulator/calls. Any key and secret are accepted.

    Example: fbcli emulator --port 8080 --rate-limit 50 --faults 5xx=0.05 --seed 1
    """
    from fbcli.emulator import Emulator, EmulatorConfig, parse_faults
    from fbcli.hosts import is_loopback
    from fbcli.report import print_note, print_warning

    try:
        config = EmulatorConfig(
            host=host,
            port=port,
            rate_limit=rate_limit,
            burst=burst,
            token_ttl=token_ttl,
            faults=parse_faults(faults),
            seed=seed,
            log_path=log,
        )
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    err = _console(stderr=True)
    if not is_loopback(host):
        print_warning(
            err,
            f"listening on {host}, not only on this machine: others can reach the emulator, "
            "which accepts any credentials and lists the calls it received (customer data) "
            "at /_emulator/calls",
        )
    emulator = Emulator(config)
    try:
        url = emulator.start()
    except OSError as exc:
        raise ConfigError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    print_note(err, f"MAPI emulator listening on {url} (Ctrl-C to stop)")
    print_note(err, f"try: fbcli replay sample_events/events.jsonl --base-url {url} --skip-invalid")
    try:
        emulator.serve_forever()
    finally:
        emulator.stop()


# -- explain ------------------------------------------------------------------------


@app.command("explain")
@_guarded
def explain_command(
    file: Annotated[
        str,
        typer.Argument(
            help="A JSONL event file; - reads standard input; .gz is read transparently.",
            metavar="FILE",
            show_default=False,
        ),
    ],
    *,
    line: Annotated[
        int | None,
        typer.Option("--line", "-l", min=1, help="The event on this line.", show_default=False),
    ] = None,
    message_id: Annotated[
        str | None,
        typer.Option(
            "--message-id", help="The first event with this messageId.", show_default=False
        ),
    ] = None,
    mappings: MappingsOpt = None,
    output: FormatOpt = OutputFormat.table,
    base_url: BaseUrlOpt = DEFAULT_BASE_URL,
) -> None:
    """Show one event's journey: triggers, field mappings, errors with hints, the request.

    For each subscription, every comparison of its trigger with the event's value. For
    each matched one: its errors (with the source path and a hint), then every field
    (where its mapping comes from, the paths read, the raw and coerced values, where it
    lands in the request), then the request or push call.

    Exit codes: 0 planned or unmatched · 1 invalid or malformed · 2 no event on that line
    or with that messageId, or a usage or mapping-file error.

    Example: fbcli explain sample_events/events.jsonl --line 6
    """
    from fbcli.events import LineError
    from fbcli.explain import explain_event, explanation_to_dict, find_event
    from fbcli.plan import to_record
    from fbcli.report.explain import render_explanation, render_line_error

    if (line is None) == (message_id is None):
        raise ConfigError("give exactly one of --line or --message-id")
    config = _load_config(mappings)
    url = _check_base_url(base_url)
    item = find_event(_read_inputs([file]), source=file, line=line, message_id=message_id)
    if isinstance(item, LineError):
        if output is OutputFormat.json:
            sys.stdout.write(json.dumps(to_record(item), ensure_ascii=False) + "\n")
        else:
            render_line_error(_console(), item)
        _finish(ExitCode.DATA)
    explanation = explain_event(item, config, base_url=url)
    if output is OutputFormat.json:
        sys.stdout.write(json.dumps(explanation_to_dict(explanation), ensure_ascii=False) + "\n")
    else:
        render_explanation(_console(), explanation)
    _finish(ExitCode.DATA if explanation.status == "invalid" else ExitCode.OK)


# -- diff ---------------------------------------------------------------------------


@app.command("diff")
@_guarded
def diff_command(
    files: FilesArg,
    *,
    mappings: Annotated[
        list[Path] | None,
        typer.Option(
            "--mappings",
            "-m",
            help="Give it twice: the old mapping file, then the new one.",
            show_default=False,
        ),
    ] = None,
    output: FormatOpt = OutputFormat.table,
    examples: Annotated[
        int,
        typer.Option(
            "--examples", min=0, help="Changed events listed per subscription (counts are exact)."
        ),
    ] = 10,
) -> None:
    """Compare two mapping files over the same events: calls added, removed, changed.

    Field by field per subscription (amount: 45.97 → 50.97, +couponCode, -email), and
    events whose status changes (planned, invalid, unmatched). Like diff: exit 0 when
    nothing differs, 1 when something does, 2 on trouble (a bad mapping file or input).

    Example: fbcli diff sample_events/events.jsonl -m mappings.yaml -m new.yaml
    """
    from fbcli.diff import DiffTally, diff_events
    from fbcli.report import print_error
    from fbcli.report.diff import render_diff, write_diff_json

    if mappings is None or len(mappings) != 2:
        raise ConfigError(
            f"give -m exactly twice, not {len(mappings or [])} times",
            hint="fbcli diff EVENTS -m OLD.yaml -m NEW.yaml",
        )
    old, new = _load_config(mappings[0]), _load_config(mappings[1])
    tally = DiffTally()
    diffs = diff_events(_read_inputs(files), old, new, tally=tally)
    if output is OutputFormat.json:
        write_diff_json(sys.stdout, diffs, tally)
        sys.stdout.flush()
    else:
        render_diff(_console(), diffs, tally, old=old, new=new, examples=examples)
    for error in tally.unreadable:
        print_error(_console(stderr=True), f"{error.message} ({error.source})")
    if tally.unreadable:
        _finish(ExitCode.USAGE)
    _finish(ExitCode.DATA if tally.differs else ExitCode.OK)


# -- actions and init -----------------------------------------------------------------


class ModeChoice(StrEnum):
    """``--mode`` values of ``actions`` and ``init``."""

    cloud = "cloud"
    direct = "direct"


@app.command("actions")
@_guarded
def actions_command(
    name: Annotated[
        str | None,
        typer.Argument(help="An action, e.g. trackPurchase; none: list them.", show_default=False),
    ] = None,
    *,
    mode: Annotated[
        ModeChoice | None,
        typer.Option("--mode", help="Only this mode: cloud or direct.", show_default=False),
    ] = None,
    schema: Annotated[
        bool, typer.Option("--schema", help="Print the action's JSON schema (needs NAME).")
    ] = False,
    markdown: Annotated[
        bool, typer.Option("--markdown", help="Print the field reference as Markdown.")
    ] = False,
    output: FormatOpt = OutputFormat.table,
) -> None:
    """List the actions, or one action's fields: type, default mapping, where each lands.

    Rendered from the definitions the code runs on. --markdown prints the field reference
    of docs/actions.md; --schema the JSON schema fbcli validates the action's fields against.

    Example: fbcli actions trackPurchase --mode cloud
    """
    from fbcli.actions import ACTIONS
    from fbcli.actions.base import MODES
    from fbcli.catalog import (
        describe_action,
        describe_actions,
        markdown_action,
        markdown_reference,
        suggest_action_name,
    )
    from fbcli.report.actions import render_action, render_action_list
    from fbcli.validation import load_schema

    if schema and markdown:
        raise ConfigError("give --schema or --markdown, not both")
    if markdown and output is OutputFormat.json:
        raise ConfigError("--markdown prints Markdown: leave out --format json")
    action = None
    if name is not None:
        action = ACTIONS.get(name)
        if action is None:
            close = suggest_action_name(name)
            raise ConfigError(
                f"unknown action '{name}'" + (f" (did you mean '{close}'?)" if close else ""),
                hint=f"actions: {', '.join(ACTIONS)}",
            )
    wanted = next((m for m in MODES if m == mode), None)
    if action is not None and wanted is not None and wanted not in action.modes:
        raise ConfigError(
            f"{action.name} does not exist in {wanted} mode",
            hint=f"it exists in {' and '.join(sorted(action.modes))} mode",
        )
    if schema:
        if action is None:
            raise ConfigError("--schema needs an action NAME", hint="fbcli actions NAME --schema")
        sys.stdout.write(json.dumps(load_schema(action.name), indent=2) + "\n")
    elif markdown:
        text = (
            markdown_reference(wanted)
            if action is None
            else markdown_action(describe_action(action, wanted))
        )
        sys.stdout.write(text)
    elif action is None:
        docs = describe_actions(wanted)
        if output is OutputFormat.json:
            sys.stdout.write(json.dumps({"actions": [d.summary() for d in docs]}) + "\n")
        else:
            render_action_list(_console(), docs)
    elif output is OutputFormat.json:
        sys.stdout.write(json.dumps(describe_action(action, wanted).to_dict()) + "\n")
    else:
        render_action(_console(), describe_action(action, wanted))


@app.command("init")
@_guarded
def init_command(
    files: FilesArg,
    *,
    output: Annotated[
        str,
        typer.Option("--output", "-o", help="The mapping file to write; - prints it instead."),
    ] = "mappings.yaml",
    mode: Annotated[
        ModeChoice, typer.Option("--mode", help="cloud (MAPI requests) or direct (web SDK).")
    ] = ModeChoice.cloud,
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing file.")] = False,
) -> None:
    """Start a mapping file from an event export.

    Subscribes the standard actions whose suggested trigger the events match (identify,
    Order Completed, Signed Up; page views in direct mode) and lists every other track
    event name, with its count, as a commented-out custom-event subscription. Never
    overwrites a file without --force. Malformed lines are counted and skipped.

    Example: fbcli init sample_events/events.jsonl -o mappings.yaml
    """
    import shlex

    from fbcli.actions.base import MODES
    from fbcli.init import (
        count_events,
        describe_counts,
        render_suggestion,
        suggest_subscriptions,
        summary_lines,
    )
    from fbcli.report import print_note, print_warning

    target = None if output == "-" else Path(output)

    def check_target() -> None:
        if target is not None and target.is_dir():
            raise ConfigError("the output is a directory", where=str(target))
        if target is not None and target.exists() and not force:
            raise ConfigError(
                "the file already exists",
                where=str(target),
                hint="add --force to overwrite it, or write elsewhere with -o PATH",
            )

    check_target()
    err = _console(stderr=True)
    counts = count_events(_read_inputs(files))
    first = counts.problems[0] if counts.problems else None
    if not counts.events:
        hint = f"{first.where}: {first.message}" if first else None
        raise ConfigError("no events to start from", hint=hint)
    suggestion = suggest_subscriptions(counts, mode=next(m for m in MODES if m == mode))
    text = render_suggestion(suggestion, counts)
    print_note(err, f"Found {describe_counts(counts)}.")
    if first is not None:
        print_warning(err, f"skipped {first.where}: {first.message}")
    if target is None:
        sys.stdout.write(text)
        sys.stdout.flush()
    else:
        check_target()
        try:
            target.write_text(text, encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"cannot write: {exc.strerror}", where=str(target)) from None
    what = "; ".join(summary_lines(suggestion))
    print_note(err, f"{'Printed' if target is None else f'Wrote {target}'}: {what}.")
    if target is not None:
        print_note(err, f"Next: {shlex.join(['fbcli', 'validate', *files, '-m', str(target)])}")


# -- test -----------------------------------------------------------------------------

if TYPE_CHECKING:
    from fbcli.casefile import CaseFile

CASES_DIR = Path("fbcli-tests")


def _case_files(given: list[Path] | None) -> list[tuple[Path, bytes]]:
    """The case files given, and under each directory every *.yaml/*.yml with 'cases:'."""
    from fbcli.casefile import is_case_file

    if not given:
        if not CASES_DIR.is_dir():
            raise ConfigError(
                "no case files given, and there is no ./fbcli-tests/ directory",
                hint="fbcli test CASES... (case files or directories holding them)",
            )
        given = [CASES_DIR]
    found: dict[Path, tuple[Path, bytes]] = {}
    for root in given:
        if not root.is_dir():
            found.setdefault(root.resolve(), (root, _read_file(root, "case file")))
            continue
        members = [
            (path, _read_file(path, "case file"))
            for path in sorted(root.rglob("*"))
            if path.suffix in (".yaml", ".yml")
            and path.is_file()
            and not any(part.startswith(".") for part in path.relative_to(root).parts)
        ]
        cases = [(path, data) for path, data in members if is_case_file(data)]
        if not cases:
            raise ConfigError(
                "no case files here: no *.yaml or *.yml file with a top-level 'cases:' key",
                where=str(root),
            )
        for path, data in cases:
            found.setdefault(path.resolve(), (path, data))
    return list(found.values())


def _case_config(
    path: Path, case_file: CaseFile, mappings: Path | None, loaded: dict[str | None, MappingConfig]
) -> MappingConfig:
    """The case file's own 'mappings:' (relative to it), else -m, else the default."""
    if case_file.mappings is None:
        if None not in loaded:
            loaded[None] = _load_config(mappings)
        return loaded[None]
    target = path.parent / case_file.mappings
    key = os.path.normpath(target)
    if key not in loaded:
        try:
            data = _read_file(target, "mapping file")
        except ConfigError as exc:
            where = f"{case_file.path}:{case_file.mappings_line}"
            raise ConfigError(exc.message, where=key, hint=f"named in {where}") from None
        from fbcli.mappings import load_mappings

        merchant_env = os.environ.get("FRIENDBUY_MERCHANT_ID")
        loaded[key] = load_mappings(data, path=key, merchant_id_env=merchant_env)
    return loaded[key]


def _write_file(path: Path, data: bytes) -> None:
    try:
        path.write_bytes(data)
    except OSError as exc:
        raise ConfigError(f"cannot write: {exc.strerror}", where=str(path)) from None


@app.command("test")
@_guarded
def run_tests_command(
    cases: Annotated[
        list[Path] | None,
        typer.Argument(
            help="Case files (YAML) or directories to search for them. Default: ./fbcli-tests/",
            metavar="CASES",
            show_default=False,
        ),
    ] = None,
    *,
    mappings: Annotated[
        Path | None,
        typer.Option(
            "--mappings",
            "-m",
            help="The mapping file for case files without a 'mappings:' key. Default: "
            "./mappings.yaml if present, else the built-in mapping.",
            show_default=False,
        ),
    ] = None,
    output: FormatOpt = OutputFormat.table,
    junit: Annotated[
        Path | None,
        typer.Option("--junit", help="Also write the results as JUnit XML.", show_default=False),
    ] = None,
    update: Annotated[
        bool,
        typer.Option(
            "--update",
            help="Rewrite failing and missing expectations from the current output (exit 0).",
        ),
    ] = False,
) -> None:
    """Run mapping test cases: each event must become what its case expects.

    A case file (YAML) holds events and, for each, the expected status and body (a
    subset) or error fields, or 'unmatched'. Failures show a field-level diff.

    Example: fbcli test fbcli-tests/ --junit test-results.xml
    """
    from fbcli.casefile import SuiteResult, load_case_file, plan_update, run_case_file
    from fbcli.report.casefile import (
        junit_xml,
        render_results,
        render_updates,
        results_json,
        updates_json,
    )

    if update and junit is not None:
        raise ConfigError("--update rewrites expectations; it does not go with --junit")
    files = [(path, load_case_file(data, path=str(path))) for path, data in _case_files(cases)]
    configs: dict[str | None, MappingConfig] = {}
    suite = SuiteResult(
        tuple(run_case_file(cf, _case_config(path, cf, mappings, configs)) for path, cf in files)
    )
    if update:
        updates = [plan_update(result) for result in suite.files]
        for (path, _), change in zip(files, updates, strict=True):
            if change.data is not None:
                _write_file(path, change.data)
        if output is OutputFormat.json:
            summary = updates_json(updates, cases=suite.total)
            sys.stdout.write(json.dumps(summary, ensure_ascii=False) + "\n")
        else:
            render_updates(_console(), updates, cases=suite.total)
        _finish(ExitCode.OK)
    if junit is not None:
        _write_file(junit, junit_xml(suite))
    if output is OutputFormat.json:
        sys.stdout.write(json.dumps(results_json(suite), ensure_ascii=False) + "\n")
    else:
        render_results(_console(), suite)
    _finish(ExitCode.DATA if suite.failed else ExitCode.OK)


# -- fbcli ledger ----------------------------------------------------------------------

ledger_app = typer.Typer(
    name="ledger",
    help="Look at the replay ledgers, and decide by hand what a replay could not.\n\n"
    "Each MAPI target has its own ledger in fbcli's state folder (FBCLI_STATE_DIR, else "
    "the user's state folder); --ledger PATH names another.\n\n"
    "Example: fbcli ledger list --status unknown\n\n" + EXIT_CODES_HELP,
    no_args_is_help=True,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)
app.add_typer(ledger_app)

LedgerPathOpt = Annotated[
    Path | None,
    typer.Option("--ledger", help="A ledger file (default: the target's own).", show_default=False),
]
TargetOpt = Annotated[
    str | None,
    typer.Option(
        "--target",
        help="The MAPI base URL whose ledger to use (https://mapi.fbot.me, ...).",
        show_default=False,
    ),
]
EmulatorTargetOpt = Annotated[
    bool, typer.Option("--emulator", help="The ledger of replay --emulator.")
]
KeysArg = Annotated[
    list[str] | None,
    typer.Argument(
        help="Event keys (messageId, or sha256:... for events without one), as ledger list "
        "shows them.",
        metavar="KEY...",
        show_default=False,
    ),
]
SubscriptionOpt = Annotated[
    str | None,
    typer.Option("--subscription", help="Only calls of this subscription.", show_default=False),
]


class LedgerStatusChoice(StrEnum):
    """``ledger list --status`` values."""

    sent = "sent"
    unknown = "unknown"
    failed = "failed"


class ResolutionChoice(StrEnum):
    """``ledger resolve --as`` values."""

    delivered = "delivered"
    not_delivered = "not-delivered"


def _ledger_choice(ledger: Path | None, target: str | None, emulator: bool) -> Any:
    from fbcli.ledgers import choose

    if target is not None:
        _check_base_url(target)
    (choice,) = choose(state_dir=_state_dir(), ledger=ledger, target=target, emulator=emulator)
    return choice


def _changed(output: OutputFormat, count: int, what: str) -> None:
    if output is OutputFormat.json:
        sys.stdout.write(json.dumps({"changed": count}) + "\n")
    else:
        from fbcli.report import print_note

        print_note(_console(), f"{count} call{'s' if count != 1 else ''} {what}")


@ledger_app.command("status")
@_guarded
def ledger_status_command(
    *,
    ledger: LedgerPathOpt = None,
    target: TargetOpt = None,
    emulator: EmulatorTargetOpt = False,
    output: FormatOpt = OutputFormat.table,
) -> None:
    """Count the calls of each ledger and target: sent, unknown, failed.

    Example: fbcli ledger status --format json
    """
    from fbcli.ledgers import choose, status_rows

    if target is not None:
        _check_base_url(target)
    choices = choose(
        state_dir=_state_dir(), ledger=ledger, target=target, emulator=emulator, every=True
    )
    rows = status_rows(choices)
    if output is OutputFormat.json:
        sys.stdout.write(json.dumps({"ledgers": rows}, ensure_ascii=False) + "\n")
    else:
        from fbcli.report.ledger import render_status

        render_status(_console(), rows)
    _finish(ExitCode.OK)


@ledger_app.command("list")
@_guarded
def ledger_list_command(
    keys: KeysArg = None,
    *,
    status: Annotated[
        list[LedgerStatusChoice] | None,
        typer.Option(
            "--status", help="Only calls with this status (repeatable).", show_default=False
        ),
    ] = None,
    subscription: SubscriptionOpt = None,
    ledger: LedgerPathOpt = None,
    target: TargetOpt = None,
    emulator: EmulatorTargetOpt = False,
    limit: Annotated[int, typer.Option("--limit", min=1, help="Rows drawn at most.")] = 200,
    output: FormatOpt = OutputFormat.table,
) -> None:
    """List recorded calls, oldest first (JSON Lines with --format json).

    Example: fbcli ledger list --status unknown
    """
    from fbcli.ledgers import list_entries

    choice = _ledger_choice(ledger, target, emulator)
    entries = list_entries(
        choice,
        statuses=[s.value for s in status or []],
        keys=keys or [],
        subscription=subscription,
    )
    if output is OutputFormat.json:
        for entry in entries:
            sys.stdout.write(json.dumps(entry.to_dict(), ensure_ascii=False) + "\n")
    else:
        from fbcli.report.ledger import render_entries

        render_entries(_console(), entries, limit=limit)
    _finish(ExitCode.OK)


@ledger_app.command("resolve")
@_guarded
def ledger_resolve_command(
    keys: KeysArg = None,
    *,
    resolution: Annotated[
        ResolutionChoice,
        typer.Option(
            "--as",
            help="delivered: never send again; not-delivered: the next replay sends it.",
            show_default=False,
        ),
    ],
    subscription: SubscriptionOpt = None,
    ledger: LedgerPathOpt = None,
    target: TargetOpt = None,
    emulator: EmulatorTargetOpt = False,
    output: FormatOpt = OutputFormat.table,
) -> None:
    """Say what became of calls you checked in Friendbuy (unknown ones, usually).

    Example: fbcli ledger resolve m-123 --as delivered
    """
    from fbcli.ledgers import resolve

    if not keys:
        raise ConfigError("say which calls: give their KEYs (fbcli ledger list shows them)")
    choice = _ledger_choice(ledger, target, emulator)
    count = resolve(choice, keys, resolution.value, subscription=subscription)
    _changed(output, count, f"marked {resolution.value}")
    _finish(ExitCode.OK if count else ExitCode.DATA)


@ledger_app.command("forget")
@_guarded
def ledger_forget_command(
    keys: KeysArg = None,
    *,
    subscription: SubscriptionOpt = None,
    ledger: LedgerPathOpt = None,
    target: TargetOpt = None,
    emulator: EmulatorTargetOpt = False,
    output: FormatOpt = OutputFormat.table,
) -> None:
    """Delete calls from the ledger: the next replay sends them as new ones.

    Example: fbcli ledger forget m-123 --subscription Purchases
    """
    from fbcli.ledgers import forget

    choice = _ledger_choice(ledger, target, emulator)
    count = forget(choice, keys or [], subscription=subscription)
    _changed(output, count, "forgotten")
    _finish(ExitCode.OK if count else ExitCode.DATA)


@ledger_app.command("rename")
@_guarded
def ledger_rename_command(
    old: Annotated[str, typer.Argument(help="The subscription's old name.")],
    new: Annotated[str, typer.Argument(help="Its name in the mapping file now.")],
    *,
    ledger: LedgerPathOpt = None,
    target: TargetOpt = None,
    emulator: EmulatorTargetOpt = False,
    output: FormatOpt = OutputFormat.table,
) -> None:
    """Tell the ledger a subscription was renamed, so its calls are not sent again.

    Example: fbcli ledger rename "Purchases" "Track Purchase"
    """
    from fbcli.ledgers import rename

    choice = _ledger_choice(ledger, target, emulator)
    count = rename(choice, old, new)
    _changed(output, count, f"moved from '{old}' to '{new}'")
    _finish(ExitCode.OK if count else ExitCode.DATA)


@ledger_app.command("merge")
@_guarded
def ledger_merge_command(
    other: Annotated[Path, typer.Argument(help="Another ledger file to take in.")],
    *,
    ledger: LedgerPathOpt = None,
    target: TargetOpt = None,
    emulator: EmulatorTargetOpt = False,
    output: FormatOpt = OutputFormat.table,
) -> None:
    """Take in the calls of another ledger (one kept with --ledger, or by fbcli 0.1).

    A call recorded in both keeps the status that forbids sending it more.

    Example: fbcli ledger merge events.jsonl.fbcli-ledger.sqlite --target https://mapi.fbot.me
    """
    from fbcli.ledgers import choose, merge

    if target is not None:
        _check_base_url(target)
    (choice,) = choose(state_dir=_state_dir(), ledger=ledger, target=target, emulator=emulator)
    if ledger is None:
        from fbcli.ledger import private_dir

        private_dir(_state_dir())
        private_dir(_state_dir() / "ledgers")
    count = merge(choice, other)
    _changed(output, count, f"taken from {other}")
    _finish(ExitCode.OK)


def main() -> None:
    """Run the app, the standard streams kept safe from readers that go away."""
    stdout = _ClosedPipeSafe(sys.stdout, 1)
    stderr = _ClosedPipeSafe(sys.stderr, 2)
    sys.stdout, sys.stderr = stdout, stderr
    try:
        app()
    finally:
        if stdout.failure is not None:
            stderr.write(f"Warning: the output could not be written: {stdout.failure.strerror}\n")
            stderr.flush()
