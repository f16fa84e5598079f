"""The command line: options → settings → one core call → render → exit code.

With ``fbcli/commands/`` (the other command groups, which register on ``app``
below), the only module that imports typer, and the only one that reads the
environment.  Every ``FbcliError`` becomes a one-line message and
an exit code in ``guarded``; anything else is a bug and is not swallowed.

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
import signal
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn, ParamSpec, TypeVar

import typer

from fbcli import __version__
from fbcli.commands.options import (
    ActionOpt,
    BaseUrlOpt,
    FilesArg,
    FormatOpt,
    JobsOpt,
    LinesOpt,
    MappingsOpt,
    MaxErrorsOpt,
    OutputFormat,
    SinceOpt,
    StrictOpt,
    UntilOpt,
    WhereOpt,
)
from fbcli.commands.reporting import ReportOpt
from fbcli.errors import AuthError, ConfigError, ExitCode, FbcliError, MappingFileError
from fbcli.signals import Interrupted, StopSwitch

if TYPE_CHECKING:
    from rich.console import Console

    from fbcli.events import Event, LineError
    from fbcli.mappings import MappingConfig
    from fbcli.plan import PlanFilter, PlanRecord, PlanTally

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


def _usage_metavar(make: Callable[..., str]) -> Callable[..., str]:
    """typer writes a required argument as ``{FILES...}`` in the usage line: plain it is."""

    @functools.wraps(make)
    def plain(self: Any, ctx: Any, *, usage: bool = False) -> str:
        text = make(self, ctx, usage=usage)
        return text[1:-1] if usage and text.startswith("{") and text.endswith("}") else text

    return plain


typer.core.TyperArgument.make_metavar = _usage_metavar(  # type: ignore[method-assign]
    typer.core.TyperArgument.make_metavar
)


# -- shared plumbing ---------------------------------------------------------------------


_STATE: dict[str, bool] = {}


def console(*, stderr: bool = False) -> Console:
    """A console on standard output (or error), with the colours and width asked for."""
    from fbcli.report import make_console

    stream = sys.stderr if stderr else sys.stdout
    no_color = bool(os.environ.get("NO_COLOR")) or _STATE.get("no_color", False)
    return make_console(stream, stderr=stderr, no_color=no_color, columns=os.environ.get("COLUMNS"))


def exit_code_for(error: FbcliError) -> ExitCode:
    """The exit code of an error: 2 for a usage or mapping-file mistake, 3 for authentication,
    else 1."""
    if isinstance(error, MappingFileError | ConfigError):
        return ExitCode.USAGE
    if isinstance(error, AuthError):
        return ExitCode.AUTH
    return ExitCode.DATA


def guarded(command: Callable[P, R]) -> Callable[P, R]:
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

            print_error(console(stderr=True), exc)
            raise typer.Exit(exit_code_for(exc)) from None
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
"""The stop switch of the command running now (``guarded`` makes a new one for each)."""


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
        console(stderr=True),
        f"unexpected {type(exc).__name__}: this is a bug in fbcli",
        hint="please report it with the traceback above (secrets and tokens are hidden "
        "in it; check it for customer data first)",
    )


MAX_YAML_BYTES = 1_048_576
"""``mappings.MAX_FILE_BYTES``, written out so that start-up does not import YAML."""


def read_file(path: Path, what: str, *, limit: int = MAX_YAML_BYTES) -> bytes:
    from fbcli.inputs import read_bounded

    return read_bounded(path, what, limit=limit)


def load_config(mappings: Path | None) -> MappingConfig:
    """The mapping file (``mappings.load_mapping_file``); its warnings go to stderr."""
    from fbcli.mappings import MERCHANT_ID_ENV, load_mapping_file

    config = load_mapping_file(mappings, merchant_id=os.environ.get(MERCHANT_ID_ENV))
    if config.warnings:
        from fbcli.report import print_warning

        err = console(stderr=True)
        for warning in config.warnings:
            print_warning(err, warning)
    return config


def input_files(files: list[str]) -> list[str]:
    """The files the inputs named on the command line stand for (folders, globs expanded);
    ``ConfigError`` for one that does not exist (``inputs.expand_inputs``)."""
    from fbcli.inputs import expand_inputs

    return expand_inputs(files)


def read_inputs(files: list[str]) -> Iterator[Event | LineError]:
    """Every event of every input, in order; unreadable inputs become ``LineError``s; the
    lines of a failed file (``replay --failed``) are their original events."""
    from fbcli.inputs import read_inputs
    from fbcli.plan import original_events

    return original_events(read_inputs(files))


def selection(
    actions: list[str] | None,
    where: str | None,
    lines: str | None,
    since: str | None = None,
    until: str | None = None,
) -> PlanFilter:
    from fbcli.plan import PlanFilter

    return PlanFilter.parse(actions=actions, where=where, lines=lines, since=since, until=until)


def check_base_url(url: str) -> str:
    from fbcli.hosts import check_base_url

    return check_base_url(url)


def finish(code: int) -> NoReturn:
    raise typer.Exit(code)


def _row_record(record: PlanRecord) -> PlanRecord:
    """``report.row_record``: what a table row needs of a record (rich imported only then)."""
    from fbcli.report import row_record

    return row_record(record)


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
@guarded
def validate_command(
    ctx: typer.Context,
    files: FilesArg,
    *,
    mappings: MappingsOpt = None,
    output: FormatOpt = OutputFormat.table,
    strict: StrictOpt = False,
    max_errors: MaxErrorsOpt = None,
    base_url: BaseUrlOpt = DEFAULT_BASE_URL,
    jobs: JobsOpt = 0,
    since: SinceOpt = None,
    until: UntilOpt = None,
    show_all: Annotated[
        bool,
        typer.Option(
            "--show-all", help=f"Draw every problem row (default: the first {VALIDATE_ROWS})."
        ),
    ] = False,
    report: ReportOpt = None,
) -> None:
    """Check that every event is well formed, matches a subscription and maps validly.

    Shows the problems (and calls with warnings), then a summary, then the problems
    grouped by cause, one line each (with the first lines, an example and a hint); the
    table draws the first 200 rows unless --show-all is given (the summary counts
    everything).

    Example: fbcli validate sample_events/events.jsonl -m mappings.yaml
    """
    from fbcli.commands.planning import CheckRun
    from fbcli.plan import PlannedCall, status_of

    run = CheckRun.open(
        ctx, "validate", files, mappings=mappings, base_url=base_url, report=report,
        selection=lambda: selection(None, None, None, since, until), causes=True,
        jobs=jobs, strict=strict, max_errors=max_errors,
    )  # fmt: skip
    shown = {"invalid", "malformed"} | ({"unmatched"} if strict else set())

    def noteworthy_only(record: PlanRecord) -> PlanRecord | None:
        if status_of(record) in shown or (isinstance(record, PlannedCall) and record.warnings):
            return record
        return None

    noteworthy = (r for r in run.outputs(noteworthy_only) if r is not None)
    if output is OutputFormat.json:
        from fbcli.jsonout import write_validate_summary

        write_validate_summary(sys.stdout, run.tally, noteworthy, causes=run.causes)
    else:
        from fbcli.report import render_plan
        from fbcli.report.causes import render_causes

        out, sources = console(), len(run.files)
        rows = None if show_all else VALIDATE_ROWS
        url = run.base_url
        render_plan(
            out, noteworthy, run.tally, run.config, base_url=url, sources=sources, max_rows=rows
        )
        render_causes(out, run.causes, sources=sources)
    run.close()
    finish(_outcome(run.tally, strict=strict))


def _outcome(tally: PlanTally, *, strict: bool) -> ExitCode:
    problems = tally.count("invalid") + tally.count("malformed")
    if strict:
        problems += tally.count("unmatched")
    return ExitCode.DATA if problems else ExitCode.OK


@app.command("dry-run")
@guarded
def dry_run_command(
    ctx: typer.Context,
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
    since: SinceOpt = None,
    until: UntilOpt = None,
    strict: StrictOpt = False,
    max_errors: MaxErrorsOpt = None,
    base_url: BaseUrlOpt = DEFAULT_BASE_URL,
    jobs: JobsOpt = 0,
    report: ReportOpt = None,
) -> None:
    """Show the exact MAPI requests (cloud) or push calls (direct) the events become.

    Nothing is sent and no credentials are needed. The table ends with the problems
    grouped by cause, as validate shows them (JSON Lines: one record per call only).

    Example: fbcli dry-run sample_events/events.jsonl --format json | jq .request.body
    """
    from fbcli.commands.planning import CheckRun
    from fbcli.jsonout import record_line, write_lines

    as_json = output is OutputFormat.json
    run = CheckRun.open(
        ctx, "dry-run", files, mappings=mappings, base_url=base_url, report=report,
        selection=lambda: selection(action, where, lines, since, until), causes=not as_json,
        jobs=jobs, strict=strict, max_errors=max_errors, limit=limit,
    )  # fmt: skip
    records = run.outputs(record_line if as_json else _row_record, join_text=as_json)
    if as_json:
        write_lines(sys.stdout, records)
        sys.stdout.flush()
        if run.tally.stopped:
            from fbcli.report import print_warning

            print_warning(console(stderr=True), run.tally.stopped)
    else:
        from fbcli.report import render_plan
        from fbcli.report.causes import render_causes

        out, sources = console(), len(run.files)
        render_plan(out, records, run.tally, run.config, base_url=run.base_url, sources=sources)
        render_causes(out, run.causes, sources=sources)
    run.close()
    finish(_outcome(run.tally, strict=strict))


def state_folder() -> Path:
    from fbcli.ledger import state_dir

    return state_dir(os.environ)


def stop_switch() -> StopSwitch:
    """The stop switch of the command running now (``guarded`` makes one for each)."""
    return _SWITCH


# -- explain ------------------------------------------------------------------------


@app.command("explain")
@guarded
def explain_command(
    file: Annotated[
        str,
        typer.Argument(
            help="A JSONL event file (or a pattern naming one); - reads standard input; "
            "compressed, batch, array and failed files are read transparently.",
            metavar="FILE",
            show_default=False,
        ),
    ],
    *,
    line: Annotated[
        str | None,
        typer.Option(
            "--line",
            "-l",
            help="The event on this line (12); on a line holding a batch, the event at this "
            "place in it, from 0 (12[3]).",
            show_default=False,
        ),
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
    from fbcli.explain import explain_event, explanation_to_dict, find_event, parse_line
    from fbcli.plan import to_record
    from fbcli.report.explain import render_explanation, render_line_error

    if (line is None) == (message_id is None):
        raise ConfigError("give exactly one of --line or --message-id")
    config = load_config(mappings)
    url = check_base_url(base_url)
    found = input_files([file])
    if len(found) != 1:
        raise ConfigError(
            f"explain reads one file, and this names {len(found)}",
            where=file,
            hint=f"name one of them, e.g. {found[0]}",
        )
    file = found[0]
    number, index = parse_line(line) if line is not None else (None, None)
    item = find_event(
        read_inputs([file]), source=file, line=number, index=index, message_id=message_id
    )
    if isinstance(item, LineError):
        if output is OutputFormat.json:
            sys.stdout.write(json.dumps(to_record(item), ensure_ascii=False) + "\n")
        else:
            render_line_error(console(), item)
        finish(ExitCode.DATA)
    explanation = explain_event(item, config, base_url=url)
    if output is OutputFormat.json:
        sys.stdout.write(json.dumps(explanation_to_dict(explanation), ensure_ascii=False) + "\n")
    else:
        render_explanation(console(), explanation)
    finish(ExitCode.DATA if explanation.status == "invalid" else ExitCode.OK)


# -- diff ---------------------------------------------------------------------------


@app.command("diff")
@guarded
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
    from fbcli.text import plural

    if mappings is None or len(mappings) != 2:
        raise ConfigError(
            f"give -m exactly twice, not {plural(len(mappings or []), 'time')}",
            hint="fbcli diff EVENTS -m OLD.yaml -m NEW.yaml",
        )
    old, new = load_config(mappings[0]), load_config(mappings[1])
    files = input_files(files)
    tally = DiffTally()
    diffs = diff_events(read_inputs(files), old, new, tally=tally)
    if output is OutputFormat.json:
        write_diff_json(sys.stdout, diffs, tally)
        sys.stdout.flush()
    else:
        render_diff(console(), diffs, tally, old=old, new=new, examples=examples)
    for error in tally.unreadable:
        print_error(console(stderr=True), f"{error.message} ({error.source})")
    if tally.unreadable:
        finish(ExitCode.USAGE)
    finish(ExitCode.DATA if tally.differs else ExitCode.OK)


# The other commands register themselves on ``app`` as they are imported.
from fbcli.commands import authoring, ledger, replay  # noqa: E402, F401


def _exit_codes_in_every_help() -> None:
    """Every command's ``--help`` ends with the exit codes (unless its text gives its own)."""
    apps = [app, *(group.typer_instance for group in app.registered_groups)]
    for typer_app in apps:
        if typer_app is None:  # pragma: no cover - every group has its app
            continue
        for command in typer_app.registered_commands:
            text = (command.callback.__doc__ or "") if command.callback else ""
            if "Exit codes" not in text and command.epilog is None:
                command.epilog = EXIT_CODES_HELP


_exit_codes_in_every_help()


def main() -> None:
    """Run the app, the standard streams kept safe from readers that go away."""
    from fbcli.streams import ClosedPipeSafe

    stdout = ClosedPipeSafe(sys.stdout, 1)
    stderr = ClosedPipeSafe(sys.stderr, 2)
    sys.stdout, sys.stderr = stdout, stderr
    try:
        app()
    finally:
        if stdout.failure is not None:
            stderr.write(f"Warning: the output could not be written: {stdout.failure.strerror}\n")
            stderr.flush()
