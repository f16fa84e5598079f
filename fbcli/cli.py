"""The command line: options → settings → one core call → render → exit code.

The only module that imports typer, and the only one that opens paths or
reads the environment.  Every ``FbcliError`` becomes a one-line message and
an exit code in ``_guarded``; anything else is a bug and is not swallowed.
"""

from __future__ import annotations

import functools
import json
import os
import sys
from collections.abc import Callable, Iterator
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, NoReturn, ParamSpec, TypeVar

import typer
from rich.console import Console

from fbcli import __version__
from fbcli.actions import ACTIONS
from fbcli.errors import AuthError, ConfigError, ExitCode, FbcliError, MappingFileError
from fbcli.events import Event, LineError, read_events
from fbcli.mappings import MappingConfig, default_mappings, load_field_mapping, load_mappings
from fbcli.plan import (
    DEFAULT_BASE_URL,
    PlanFilter,
    PlanRecord,
    PlanTally,
    normalize_json,
    plan_records,
    status_of,
)
from fbcli.report import print_error, render_plan, validate_summary, write_json_lines
from fbcli.triggers import TriggerSyntaxError, compile_trigger, parse_trigger
from fbcli.values import MISSING

EXIT_CODES_HELP = (
    "Exit codes: 0 success · 1 data problems (invalid or malformed events) · "
    "2 usage or mapping-file error · 3 authentication failed · 130 interrupted."
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


def _no_color() -> bool:
    return "NO_COLOR" in os.environ or _STATE.get("no_color", False)


_STATE: dict[str, bool] = {}


def _console(*, stderr: bool = False) -> Console:
    stream = sys.stderr if stderr else sys.stdout
    width = None if stream.isatty() else int(os.environ.get("COLUMNS", "100"))
    return Console(
        file=stream,
        stderr=stderr,
        width=width,
        no_color=_no_color(),
        highlight=False,
        soft_wrap=stderr,  # messages on stderr stay one line each
        emoji=False,
    )


def _exit_code_for(error: FbcliError) -> ExitCode:
    if isinstance(error, MappingFileError | ConfigError):
        return ExitCode.USAGE
    if isinstance(error, AuthError):
        return ExitCode.AUTH
    return ExitCode.DATA


def _guarded(command: Callable[P, R]) -> Callable[P, R]:
    """Turn fbcli's errors into a one-line message and an exit code (the one place)."""

    @functools.wraps(command)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return command(*args, **kwargs)
        except FbcliError as exc:
            print_error(_console(stderr=True), exc)
            raise typer.Exit(_exit_code_for(exc)) from None
        except KeyboardInterrupt:
            _console(stderr=True).print("Interrupted.")
            raise typer.Exit(ExitCode.INTERRUPTED) from None
        except BrokenPipeError:
            _silence_stdout()
            raise typer.Exit(ExitCode.OK) from None

    return wrapper


def _silence_stdout() -> None:
    """After the reader of stdout went away (``| head``), drop the rest quietly."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())


def _read_file(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"{what} not found", where=str(path)) from None
    except IsADirectoryError:
        raise ConfigError(f"{what} is a directory", where=str(path)) from None
    except OSError as exc:
        raise ConfigError(f"cannot read {what}: {exc.strerror}", where=str(path)) from None


def _load_config(mappings: Path | None) -> MappingConfig:
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
    for name in files:
        if name == "-":
            yield from read_events(sys.stdin.buffer, "-")
            continue
        try:
            stream = Path(name).open("rb")  # noqa: SIM115 - closed below, after streaming
        except FileNotFoundError:
            yield LineError(name, 0, "no such file")
            continue
        except IsADirectoryError:
            yield LineError(name, 0, "is a directory, not a file")
            continue
        except OSError as exc:
            yield LineError(name, 0, f"cannot open: {exc.strerror}")
            continue
        with stream:
            yield from read_events(stream, name)


def _parse_lines(text: str | None) -> tuple[int, int] | None:
    if text is None:
        return None
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
    try:
        return compile_trigger(parse_trigger(text))
    except TriggerSyntaxError as exc:
        raise ConfigError(f"bad trigger in {option}: {exc}") from None


def _check_base_url(url: str) -> str:
    if not url.startswith(("https://", "http://")) or len(url.split("://", 1)[1]) == 0:
        raise ConfigError(f"--base-url must be an http(s) URL, not '{url}'")
    return url.rstrip("/")


def _finish(code: ExitCode) -> NoReturn:
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

StrictOpt = Annotated[bool, typer.Option("--strict", help="Unmatched events count as problems.")]
MaxErrorsOpt = Annotated[
    int | None,
    typer.Option(
        "--max-errors", min=1, help="Stop after this many problem events.", show_default=False
    ),
]


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
) -> None:
    """Check that every event is well formed, matches a subscription and maps validly.

    Shows only the problems, then a summary.

    Example: fbcli validate sample_events/events.jsonl -m mappings.yaml
    """
    config = _load_config(mappings)
    url = _check_base_url(base_url)
    tally = PlanTally()
    shown = {"invalid", "malformed"} | ({"unmatched"} if strict else set())
    records = plan_records(
        _read_inputs(files), config, base_url=url, tally=tally, max_errors=max_errors
    )
    problems: list[PlanRecord] = [r for r in records if status_of(r) in shown]
    if output is OutputFormat.json:
        sys.stdout.write(json.dumps(validate_summary(tally, problems), ensure_ascii=False) + "\n")
    else:
        render_plan(_console(), problems, tally, config, base_url=url, sources=len(files))
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
) -> None:
    """Show the exact MAPI requests (cloud) or push calls (direct) the events become.

    Nothing is sent and no credentials are needed.

    Example: fbcli dry-run sample_events/events.jsonl --format json | jq .request.body
    """
    config = _load_config(mappings)
    selection = _selection(action, where, lines)
    url = _check_base_url(base_url)
    tally = PlanTally()
    records = plan_records(
        _read_inputs(files),
        config,
        base_url=url,
        selection=selection,
        tally=tally,
        limit=limit,
        max_errors=max_errors,
    )
    if output is OutputFormat.json:
        write_json_lines(sys.stdout, records)
        sys.stdout.flush()
    else:
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
    assert mapping is not None
    resolve = load_field_mapping(mapping, path="--mapping").resolve

    def evaluate(data: Any) -> dict[str, Any]:
        value = resolve(data)
        return {} if value is MISSING else {"value": normalize_json(value)}

    return evaluate


def main() -> None:
    """The console script: run the app."""
    app()
