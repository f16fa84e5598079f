"""``fbcli ledger``: look at the replay ledgers, and decide by hand what a replay could not."""

from __future__ import annotations

import json
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from fbcli.cli import (
    EXIT_CODES_HELP,
    app,
    check_base_url,
    console,
    finish,
    guarded,
    state_folder,
)
from fbcli.commands.options import (
    FormatOpt,
    OutputFormat,
)
from fbcli.errors import ConfigError, ExitCode

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
        check_base_url(target)
    (choice,) = choose(state_dir=state_folder(), ledger=ledger, target=target, emulator=emulator)
    return choice


def _changed(output: OutputFormat, count: int, what: str) -> None:
    if output is OutputFormat.json:
        sys.stdout.write(json.dumps({"changed": count}) + "\n")
    else:
        from fbcli.report import print_note

        print_note(console(), f"{count} call{'s' if count != 1 else ''} {what}")


@ledger_app.command("status")
@guarded
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
        check_base_url(target)
    choices = choose(
        state_dir=state_folder(), ledger=ledger, target=target, emulator=emulator, every=True
    )
    rows = status_rows(choices)
    if output is OutputFormat.json:
        sys.stdout.write(json.dumps({"ledgers": rows}, ensure_ascii=False) + "\n")
    else:
        from fbcli.report.ledger import render_status

        render_status(console(), rows)
    finish(ExitCode.OK)


@ledger_app.command("list")
@guarded
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

        render_entries(console(), entries, limit=limit)
    finish(ExitCode.OK)


@ledger_app.command("resolve")
@guarded
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
    finish(ExitCode.OK if count else ExitCode.DATA)


@ledger_app.command("forget")
@guarded
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
    finish(ExitCode.OK if count else ExitCode.DATA)


@ledger_app.command("rename")
@guarded
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
    finish(ExitCode.OK if count else ExitCode.DATA)


@ledger_app.command("merge")
@guarded
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
        check_base_url(target)
    (choice,) = choose(state_dir=state_folder(), ledger=ledger, target=target, emulator=emulator)
    if ledger is None:
        from fbcli.ledger import private_dir

        private_dir(state_folder())
        private_dir(state_folder() / "ledgers")
    count = merge(choice, other)
    _changed(output, count, f"taken from {other}")
    finish(ExitCode.OK)
