"""What ``validate`` and ``dry-run`` share: one checking run, from its options to its end.

``CheckRun.open`` loads the mapping file, checks the base URL and the
filters, expands the inputs and checks ``--report``'s path, in that order (so
the first mistake named is the same whichever command is run); ``outputs``
plans every event, in input order, by one or more processes, counting them in
``tally`` and their problems in ``causes``; ``close`` says what was left out
and writes the report.  The commands keep their rendering and exit code.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import typer

    from fbcli.causes import CauseBook
    from fbcli.commands.reporting import HtmlReport
    from fbcli.mappings import MappingConfig
    from fbcli.plan import PlanFilter, PlanRecord, PlanTally


def _new_tally() -> PlanTally:
    from fbcli.plan import PlanTally

    return PlanTally()


@dataclass(slots=True)
class CheckRun:
    """One ``validate`` or ``dry-run``: its inputs, settings, counts and causes."""

    config: MappingConfig
    files: list[str]
    base_url: str
    selection: PlanFilter
    jobs: int
    strict: bool
    max_errors: int | None = None
    limit: int | None = None
    report: HtmlReport | None = None
    causes: CauseBook | None = None
    """The problems grouped by cause, when the command shows them."""
    tally: PlanTally = field(default_factory=_new_tally)

    @classmethod
    def open(
        cls,
        ctx: typer.Context,
        command: str,
        files: list[str],
        *,
        mappings: Path | None,
        base_url: str,
        selection: Callable[[], PlanFilter],
        report: Path | None,
        causes: bool,
        **settings: Any,
    ) -> CheckRun:
        """The run the options ask for; ``FbcliError`` for the first mistake in them."""
        from fbcli.causes import CauseBook
        from fbcli.cli import check_base_url, input_files, load_config
        from fbcli.commands.reporting import open_report

        config = load_config(mappings)
        url = check_base_url(base_url)
        chosen = selection()
        files = input_files(files)
        html = open_report(report, command, files, config, ctx=ctx)
        book = CauseBook() if causes else None
        return cls(config, files, url, chosen, report=html, causes=book, **settings)

    def outputs(
        self, render: Callable[[PlanRecord], Any], *, join_text: bool = False
    ) -> Iterator[Any]:
        """``render`` of each record, in input order, planned by ``jobs`` processes (0: auto).

        ``join_text``: ``render`` gives text, which may come joined, several records to a
        string.  The report's collector notes each record; the causes are grouped in the
        workers (``causes.CauseFinder``) and merged here.
        """
        from fbcli.inputs import open_inputs
        from fbcli.parallel import auto_jobs, plan_in_parallel
        from fbcli.plan import compile_config, take_groups

        causes, report = self.causes, self.report
        if report is not None:
            render, join_text = report.collector.wrap(render), False
            causes = report.collector.causes if causes is None else causes
            report.collector.causes = causes
        finder = None
        if causes is not None:
            from fbcli.causes import CauseFinder

            finder = CauseFinder(self.config)
        groups = plan_in_parallel(
            open_inputs(self.files),
            compile_config(self.config, base_url=self.base_url, strict=self.strict),
            self.selection,
            render,
            jobs=self.jobs or auto_jobs(self.files),
            batched=self.limit is None and self.max_errors is None,
            join_text=join_text,
            causes=finder,
        )
        with contextlib.closing(groups):
            taken = take_groups(
                groups, self.tally, limit=self.limit, max_errors=self.max_errors, causes=causes
            )
            yield from report.collector.take(taken) if report is not None else taken

    def close(self) -> None:
        """Say on standard error what the time filters left out, and write the report."""
        from fbcli.cli import console
        from fbcli.commands.reporting import write_report

        if self.tally.undated:
            from fbcli.plan import undated_note
            from fbcli.report import print_warning

            print_warning(console(stderr=True), undated_note(self.tally.undated))
        write_report(self.report, self.tally)
