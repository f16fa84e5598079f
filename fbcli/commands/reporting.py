"""``--report PATH``: the HTML report of ``validate``, ``dry-run`` and ``replay``.

The option's plumbing, kept out of the commands: ``open_report`` checks the
path before anything is read (``outputs.OutputGuard``, the rule ``--failed``
follows: never an input, the mapping file, a link or a device; a replay
checks it with the ledger's files, in ``session.ReplayRun``) and gives the
``HtmlReport`` whose ``collector`` the run fills; ``write_report`` renders it
(``report.html``) and writes it atomically once the command's own output is
done.
"""

from __future__ import annotations

import datetime as dt
import shlex
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from fbcli import __version__

if TYPE_CHECKING:
    from fbcli.mappings import MappingConfig
    from fbcli.outputs import OutputGuard
    from fbcli.plan import PlanTally
    from fbcli.replay import ReplaySummary
    from fbcli.reportdata import ReportCollector
    from fbcli.session import ReplayResult

ReportOpt = Annotated[
    Path | None,
    typer.Option(
        "--report",
        help="Also write an HTML report here, to share: the counts, the problems by cause, "
        "a timeline, the mapping file (one file: no script, nothing loaded from elsewhere).",
        show_default=False,
    ),
]


class HtmlReport:
    """A ``--report`` being filled: where it goes, what ran, and its ``collector``."""

    def __init__(
        self,
        path: Path,
        command: str,
        config: MappingConfig,
        ctx: typer.Context | None = None,
        guard: OutputGuard | None = None,
    ) -> None:
        from fbcli.causes import CauseFinder
        from fbcli.inputs import read_bounded
        from fbcli.mappings import BUILT_IN, MAX_FILE_BYTES
        from fbcli.reportdata import ReportCollector

        check_folder(path, "--report")
        self.path = path
        self.guard = guard
        """The path's rule, checked again when the report is written (a replay's: its own)."""
        self.command = command
        self.config = config
        self.collector: ReportCollector = ReportCollector(finder=CauseFinder(config))
        self.started = dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()
        self.command_line = command_line(ctx)
        self.mapping_text: str | None = None
        if config.path and config.path != BUILT_IN:
            data = read_bounded(Path(config.path), "mapping file", limit=MAX_FILE_BYTES)
            self.mapping_text = data.decode("utf-8", errors="replace")

    def write(
        self,
        tally: PlanTally,
        *,
        replay: ReplaySummary | None = None,
        notes: Sequence[str] = (),
        guard: OutputGuard | None = None,
    ) -> None:
        """Render the report and write it: atomically (whole, or the old file kept), and
        mode 0600 (it quotes event values: customer data).  The path is checked again
        (``guard``, else the one it was opened with): a run can last hours, and a link
        made there meanwhile must not aim the write at the ledger or another file; nor is
        a link followed between that check and the write."""
        from fbcli.inputs import write_file
        from fbcli.mappings import BUILT_IN
        from fbcli.report.html import render_html
        from fbcli.reportdata import ReportData, RunInfo

        run = RunInfo(
            self.command,
            self.command_line,
            __version__,
            self.started,
            self.config.path or BUILT_IN,
            self.mapping_text,
        )
        page = render_html(ReportData(run, tally, self.collector, replay, tuple(notes)))
        guard = guard or self.guard
        if guard is not None:
            guard.check(self.path, "--report")
        write_file(self.path, page.encode("utf-8"), private=True, follow=False)


def open_report(
    path: Path | None,
    command: str,
    files: Sequence[str],
    config: MappingConfig,
    *,
    ctx: typer.Context | None = None,
    check: bool = True,
) -> HtmlReport | None:
    """The report ``--report`` asks for (``None`` without it), its path checked first unless
    the caller checks it (``check=False``: a replay, with the ledger's files); ``ctx``: the
    command's, whose command line the report shows."""
    if path is None:
        return None
    guard = None
    if check:
        from fbcli.outputs import guard_for

        guard = guard_for(files, mapping=config.path)
        guard.check(path, "--report")
    return HtmlReport(path, command, config, ctx, guard)


def write_report(
    report: HtmlReport | None,
    tally: PlanTally,
    *,
    replay: ReplaySummary | None = None,
    notes: Sequence[str] = (),
    guard: OutputGuard | None = None,
) -> None:
    """Write the report, if one was asked for, and say where on standard error."""
    if report is None:
        return
    report.write(tally, replay=replay, notes=notes, guard=guard)
    from fbcli.cli import console
    from fbcli.report import print_note

    print_note(console(stderr=True), f"report written to {report.path}")


def write_replay_report(report: HtmlReport | None, result: ReplayResult) -> int:
    """A replay's report: its pre-flight's counts, and what it sent (if it did); the exit code.

    A report that cannot be written at the end (a full disk, a link put in its place) is an
    error on standard error, but it never hides what the replay itself says: its exit
    code stands unless it was 0, which becomes the error's."""
    notes = []
    if result.summary is None:
        tally = result.check.tally
        notes.append(
            f"Nothing was sent: the pre-flight found {tally.count('invalid')} invalid and "
            f"{tally.count('malformed')} malformed (fix them, or add --skip-invalid)."
        )
    else:
        notes.append(f"Sent to {result.base_url}; ledger {result.ledger}.")
    from fbcli.errors import FbcliError

    try:
        write_report(
            report, result.check.tally, replay=result.summary, notes=notes, guard=result.guard
        )
    except FbcliError as exc:
        from fbcli.cli import console, exit_code_for
        from fbcli.report import print_error

        print_error(console(stderr=True), exc)
        return result.exit_code or exit_code_for(exc)
    return result.exit_code


def check_folder(path: Path, option: str) -> None:
    """Refuse ``path`` before the run when its folder cannot take it (a replay would
    otherwise send everything, then fail to write the report), or when it is ``-`` (which
    elsewhere means standard output: a file named ``-`` would surprise)."""
    import os

    from fbcli.errors import ConfigError

    if str(path) == "-":
        raise ConfigError(
            f"{option} needs a file: standard output carries the command's own output",
            where="-",
            hint=f"give {option} a path, e.g. {option} report.html",
        )
    folder = path.parent
    if not folder.is_dir():
        raise ConfigError(f"{option} cannot be written: no folder {folder}", where=str(path))
    if not os.access(folder, os.W_OK | os.X_OK):
        raise ConfigError(
            f"{option} cannot be written: the folder {folder} is not writable", where=str(path)
        )


def command_line(ctx: typer.Context | None) -> str:
    """The running command as given: its path, then the options and arguments given on the
    command line (a hidden one, such as the refused ``--secret``, never), shell-quoted."""
    if ctx is None:
        return "fbcli"
    words = ["fbcli", ctx.info_name or ctx.command.name or ""]
    arguments: list[str] = []
    for param in ctx.command.params:
        name = param.name
        if name is None or getattr(param, "hidden", False) or name not in ctx.params:
            continue
        source = ctx.get_parameter_source(name)
        if source is None or source.name != "COMMANDLINE":
            continue
        value = ctx.params[name]
        values = list(value) if isinstance(value, list | tuple) else [value]
        if param.param_type_name == "argument":
            arguments += [str(v) for v in values]
            continue
        flags = [o for o in param.opts if o.startswith("--")] or list(param.opts)
        if getattr(param, "is_flag", False):
            off = [o for o in param.secondary_opts if o.startswith("--")]
            words.append(flags[0] if value or not off else off[0])
            continue
        for item in values:
            words += [flags[0], str(getattr(item, "value", item))]
    return shlex.join(words + arguments)
