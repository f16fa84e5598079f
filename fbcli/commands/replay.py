"""``fbcli replay`` and ``fbcli emulator``: send the planned calls, or receive them."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from fbcli.cli import (
    app,
    console,
    finish,
    guarded,
    input_files,
    load_config,
    selection,
    state_folder,
    stop_switch,
)
from fbcli.commands.options import (
    ActionOpt,
    FilesArg,
    FormatOpt,
    LinesOpt,
    MappingsOpt,
    OutputFormat,
    SinceOpt,
    UntilOpt,
    WhereOpt,
)
from fbcli.commands.reporting import ReportOpt, open_report, write_replay_report
from fbcli.errors import ConfigError

if TYPE_CHECKING:
    from fbcli.mapi import Credentials

RateOpt = Annotated[
    float, typer.Option("--rate", min=0.01, help="Calls per second at most (a token bucket).")
]


@app.command("replay")
@guarded
def replay_command(
    ctx: typer.Context,
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
    since: SinceOpt = None,
    until: UntilOpt = None,
    report: ReportOpt = None,
) -> None:
    """Send the planned calls to MAPI: rate limited, retried, recorded in a ledger.

    Exactly the calls dry-run shows. The whole input is checked first; a rerun skips
    what the ledger shows as delivered. Exit 4: --skip-invalid left invalid events out
    and every other call was delivered; 143/129: stopped by SIGTERM/SIGHUP.

    Example: fbcli replay sample_events/events.jsonl --emulator --skip-invalid
    """
    from fbcli.mapi import Timeouts
    from fbcli.replay import ReplayOptions
    from fbcli.report.replay import ConsoleObserver, render_replay_result
    from fbcli.retry import RetryPolicy
    from fbcli.session import ReplayRun, ReplaySettings, Target

    if secret is not None:
        raise _secret_refused()
    config = load_config(mappings)
    files = input_files(files)
    html = open_report(report, "replay", files, config, ctx=ctx, check=False)  # checked by the run
    target = Target(emulator=True)
    if not emulator:
        credentials, url = _credentials(key, secret_file, base_url)
        target = Target(url, credentials)
    policy = RetryPolicy(max_attempts, max_total=max_call_time, max_retry_after=max_retry_after)
    options = ReplayOptions(concurrency, retry_unknown, force, only_failed, policy)
    settings = ReplaySettings(
        rate, burst, options, Timeouts(connect=connect_timeout, read=read_timeout),
        ledger=ledger, state_dir=state_folder(), failed=failed, wait=wait,
        skip_invalid=skip_invalid, selection=selection(action, where, lines, since, until),
        protected=(secret_file,) if secret_file is not None else (), report=report,
    )  # fmt: skip
    observer = ConsoleObserver(console(stderr=True))
    collector = html.collector if html is not None else None
    switch = stop_switch()
    run = ReplayRun(
        files, config, target, settings, observer=observer, switch=switch, collector=collector
    )
    try:
        result = run.run()
    finally:
        observer.close()
    as_json = output is OutputFormat.json
    render_replay_result(console(), console(stderr=True), sys.stdout, result, as_json=as_json)
    finish(write_replay_report(html, result))


def _secret_refused() -> ConfigError:
    return ConfigError(
        "--secret is not accepted: a secret on the command line shows in ps and in the shell "
        "history (the value given is not repeated here)",
        hint="set FRIENDBUY_MAPI_SECRET, give --secret-file PATH, or run fbcli in a terminal "
        "without either to be asked for it",
    )


def _credentials(
    key: str | None, secret_file: Path | None, base_url: str | None
) -> tuple[Credentials, str]:
    """The MAPI credentials and base URL (``fbcli.credentials``), asking in a terminal."""
    from fbcli.credentials import read_credentials
    from fbcli.report import print_warning

    return read_credentials(
        key,
        secret_file,
        base_url,
        environ=os.environ,
        prompt=_prompt_secret if sys.stdin.isatty() else None,
        warn=lambda text: print_warning(console(stderr=True), text),
    )


def _prompt_secret(key: str) -> str:
    """Ask for the secret without echoing it (``getpass``: the terminal, else stdin)."""
    import getpass

    try:
        return getpass.getpass(f"MAPI secret for key {key} (input hidden): ", stream=sys.stderr)
    except EOFError:
        return ""


@app.command("emulator")
@guarded
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
    err = console(stderr=True)
    if not is_loopback(host):
        print_warning(
            err,
            f"listening on {host}, not only on this machine: others can reach the emulator, "
            "which accepts any credentials and lists the calls it received (customer data) "
            "at /_emulator/calls",
        )
    emulator = Emulator(config)
    try:  # stopped however this ends, a Ctrl-C while the first lines are written included
        try:
            url = emulator.start()
        except OSError as exc:
            raise ConfigError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
        print_note(err, f"MAPI emulator listening on {url} (Ctrl-C to stop)")
        key = config.key or "any-key"
        secret = "<the secret it was started with>" if config.secret else "any-secret"
        print_note(
            err,
            f"try: FRIENDBUY_MAPI_KEY={key} FRIENDBUY_MAPI_SECRET={secret} "
            f"fbcli replay sample_events/events.jsonl --base-url {url} --skip-invalid",
        )
        emulator.serve_forever()
    finally:
        emulator.stop()
