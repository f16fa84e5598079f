"""``fbcli actions``, ``fbcli init`` and ``fbcli test``: write and check mapping files."""

from __future__ import annotations

import json
import os
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from fbcli.cli import (
    app,
    console,
    finish,
    guarded,
    input_files,
    read_inputs,
)
from fbcli.commands.options import (
    FilesArg,
    FormatOpt,
    OutputFormat,
)
from fbcli.errors import ConfigError, ExitCode

# -- actions and init -----------------------------------------------------------------


class ModeChoice(StrEnum):
    """``--mode`` values of ``actions`` and ``init``."""

    cloud = "cloud"
    direct = "direct"


@app.command("actions")
@guarded
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
    from fbcli.catalog import (
        choose_action,
        describe_action,
        describe_actions,
        markdown_action,
        markdown_reference,
    )
    from fbcli.report.actions import render_action, render_action_list
    from fbcli.validation import load_schema

    if schema and markdown:
        raise ConfigError("give --schema or --markdown, not both")
    if markdown and output is OutputFormat.json:
        raise ConfigError("--markdown prints Markdown: leave out --format json")
    action, wanted = choose_action(name, mode)
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
            render_action_list(console(), docs)
    elif output is OutputFormat.json:
        sys.stdout.write(json.dumps(describe_action(action, wanted).to_dict()) + "\n")
    else:
        render_action(console(), describe_action(action, wanted))


@app.command("init")
@guarded
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
    merchant_id: Annotated[
        str | None,
        typer.Option(
            "--merchant-id",
            help="Direct mode: the merchant ID to write. Without it the file holds a "
            "placeholder, which FRIENDBUY_MERCHANT_ID replaces.",
            show_default=False,
        ),
    ] = None,
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
    from fbcli.init import check_output, describe_counts, start_mapping, summary_lines
    from fbcli.inputs import write_file
    from fbcli.mappings import MERCHANT_ID_ENV, check_merchant_id
    from fbcli.report import print_note, print_warning

    target = None if output == "-" else Path(output)
    check_output(target, force=force)
    chosen = next(m for m in MODES if m == mode)
    if merchant_id is not None:
        if chosen != "direct":
            raise ConfigError("--merchant-id is for direct mode", hint="add --mode direct")
        merchant_id = check_merchant_id(merchant_id.strip(), source="--merchant-id")
    text, counts, suggestion = start_mapping(
        read_inputs(input_files(files)), mode=chosen, merchant_id=merchant_id
    )
    err = console(stderr=True)
    print_note(err, f"Found {describe_counts(counts)}.")
    if counts.problems:
        print_warning(err, f"skipped {counts.problems[0].where}: {counts.problems[0].message}")
    for miss in suggestion.near_misses:
        print_warning(err, miss.describe())
    if target is None:
        sys.stdout.write(text)
        sys.stdout.flush()
    else:
        check_output(target, force=force)  # again: the file may have appeared meanwhile
        write_file(target, text.encode("utf-8"))
    what = "; ".join(summary_lines(suggestion))
    print_note(err, f"{'Printed' if target is None else f'Wrote {target}'}: {what}.")
    if chosen == "direct" and merchant_id is None and not os.environ.get(MERCHANT_ID_ENV):
        print_warning(
            err,
            f"merchant_id is a placeholder: put your Friendbuy merchant ID in the file, "
            f"set {MERCHANT_ID_ENV}, or run init again with --merchant-id",
        )
    if target is not None:
        print_note(err, f"Next: {shlex.join(['fbcli', 'validate', *files, '-m', str(target)])}")


# -- test -----------------------------------------------------------------------------


@app.command("test")
@guarded
def run_tests_command(
    cases: Annotated[
        list[Path] | None,
        typer.Argument(
            help="Case files (YAML) or directories to search for them. Default: ./fbcli-tests/",
            metavar="[CASES]...",
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
    from fbcli.casefile import (
        CASES_DIR,
        CaseConfigs,
        SuiteResult,
        find_case_files,
        load_case_file,
        plan_update,
        run_case_file,
    )
    from fbcli.inputs import write_file
    from fbcli.report.casefile import (
        junit_xml,
        render_results,
        render_updates,
        results_json,
        updates_json,
    )

    if update and junit is not None:
        raise ConfigError("--update rewrites expectations; it does not go with --junit")
    found = find_case_files(cases, default=CASES_DIR)
    files = [(path, load_case_file(data, path=str(path))) for path, data in found]
    configs = CaseConfigs(mappings, merchant_id=os.environ.get("FRIENDBUY_MERCHANT_ID"))
    suite = SuiteResult(tuple(run_case_file(cf, configs.of(path, cf)) for path, cf in files))
    if update:
        updates = [plan_update(result) for result in suite.files]
        for (path, _), change in zip(files, updates, strict=True):
            if change.data is not None:
                write_file(path, change.data)
        if output is OutputFormat.json:
            summary = updates_json(updates, cases=suite.total)
            sys.stdout.write(json.dumps(summary, ensure_ascii=False) + "\n")
        else:
            render_updates(console(), updates, cases=suite.total)
        finish(ExitCode.OK)
    if junit is not None:
        write_file(junit, junit_xml(suite))
    if output is OutputFormat.json:
        sys.stdout.write(json.dumps(results_json(suite), ensure_ascii=False) + "\n")
    else:
        render_results(console(), suite)
    finish(ExitCode.DATA if suite.failed else ExitCode.OK)


# -- eval ------------------------------------------------------------------------------


@app.command("eval")
@guarded
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
    from fbcli.events import Event, LineError
    from fbcli.playground import evaluator

    evaluate = evaluator(trigger, mapping)
    files = input_files(files)
    malformed = False
    several = len(files) > 1
    for item in read_inputs(files):
        record: dict[str, Any] = {"source": item.source} if several else {}
        record["line"] = item.line
        if isinstance(item, Event) and item.index is not None:
            record["index"] = item.index
        if isinstance(item, LineError):
            malformed = True
            record.update(status="malformed", errors=[{"message": item.message}])
        else:
            record.update(evaluate(item.data))
        sys.stdout.write(
            json.dumps(record, ensure_ascii=False, allow_nan=False, separators=(",", ":")) + "\n"
        )
    sys.stdout.flush()
    finish(ExitCode.DATA if malformed else ExitCode.OK)
