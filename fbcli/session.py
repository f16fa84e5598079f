"""A whole replay, as one call: ``ReplayRun(...).run() -> ReplayResult``.

The steps, each one before anything is sent unless said otherwise:

1. **The ledger.** The one of ``--ledger``, or the target's default ledger in
   fbcli's state folder (``ledger.default_ledger_path``), is locked for the
   whole run (``fbcli.lock``; refused at once, or awaited with ``wait``), then
   opened and checked.  Ledgers fbcli 0.1 kept next to the inputs
   (``<input>.fbcli-ledger.sqlite``) are merged into it once, so upgrading never
   sends anything again.
2. **The inputs.** Standard input, named pipes and other inputs that cannot be
   read twice are copied (``inputs.Spool``).  The ``--failed`` and ``--report``
   paths are checked (``outputs.OutputGuard``): never a link, never a device or
   a pipe, never the ledger (or its ``-wal``, ``-shm``, ``.lock``) or an input,
   compared by device and inode.
3. **The pre-flight.** Every input is planned and every call looked up in the
   ledger.  Invalid or malformed events stop the run (unless
   ``skip_invalid``); so do calls the ledger cannot match after a subscription
   was renamed.
4. **Authorization** (or the built-in emulator), then **sending**
   (``replay.replay_calls``) with signals turned into flags
   (``signals.StopSwitch.sending``), each outcome recorded in the ledger and
   each call not delivered written to the failed file.

Nothing here prints: what happens is told to a ``ReplayObserver``, and the
result carries the counts and the exit code.  The CLI parses options, reads
the credentials, installs the signal handlers, renders and exits.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import stat
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, Final, Protocol

from fbcli.emulator import Emulator, EmulatorConfig
from fbcli.errors import AuthError, ConfigError, ExitCode
from fbcli.events import Event, LineError
from fbcli.inputs import Spool, read_inputs
from fbcli.ledger import (
    EMULATOR_TARGET,
    LEGACY_SUFFIX,
    Ledger,
    check_ledger_path,
    default_ledger_path,
    ledger_target,
    legacy_ledger_path,
    private_dir,
)
from fbcli.lock import Holder, LedgerLock
from fbcli.mapi import Credentials, MapiClient, Timeouts
from fbcli.outputs import OutputGuard, guard_for
from fbcli.plan import DEFAULT_BASE_URL, PlanFilter, PlanTally, compile_config, undated_note
from fbcli.ratelimit import RateLimiter
from fbcli.replay import (
    CallOutcome,
    Preflight,
    ReplayItem,
    ReplayOptions,
    ReplaySummary,
    Sender,
    failed_record,
    keyed_calls,
    preflight,
    replay_calls,
    replay_items,
)
from fbcli.signals import STOP_GRACE, StopSwitch

if TYPE_CHECKING:
    from fbcli.mappings import MappingConfig
    from fbcli.reportdata import ReportCollector

DEMO_KEY: Final = "00000000-0000-4000-8000-000000000000"
"""The key ``--emulator`` authorizes with (the emulator accepts any)."""


@dataclass(frozen=True, slots=True)
class Target:
    """Where calls go: a MAPI base URL with credentials, or the built-in emulator."""

    base_url: str | None = None
    credentials: Credentials | None = None
    emulator: bool = False

    @property
    def ledger_target(self) -> str:
        """The target's identity in the ledger (``emulator`` for the built-in emulator)."""
        if self.emulator:
            return EMULATOR_TARGET
        assert self.base_url is not None
        return ledger_target(self.base_url)


@dataclass(frozen=True, slots=True)
class ReplaySettings:
    """Everything a replay is told besides its inputs, mapping and target."""

    rate: float = 10.0
    burst: int = 1
    options: ReplayOptions = field(default_factory=ReplayOptions)
    timeouts: Timeouts | None = None
    ledger: Path | None = None
    """``--ledger``; ``None``: the target's default ledger in ``state_dir``."""
    state_dir: Path | None = None
    failed: Path | None = None
    wait: bool = False
    """Wait for a ledger another fbcli holds, instead of refusing at once."""
    skip_invalid: bool = False
    selection: PlanFilter = field(default_factory=PlanFilter)
    grace: float = STOP_GRACE
    protected: tuple[Path, ...] = ()
    """Files the run reads that ``--failed`` must never name (the secret file)."""
    report: Path | None = None
    """``--report``: checked with ``--failed`` (the caller writes it, from ``collector``)."""


class ReplayObserver(Protocol):
    """What a replay tells while it runs (the CLI renders it; a library may ignore it)."""

    def note(self, message: str) -> None:
        """Something worth knowing that changes nothing (a ledger merged, a rename followed)."""

    def waiting(self, holder: Holder) -> None:
        """Another fbcli holds the ledger; the run waits for it (``wait``)."""

    def rejected(self, check: Preflight, config: MappingConfig, sources: int) -> None:
        """The pre-flight found invalid or malformed events: nothing will be sent."""

    def progress(self, summary: ReplaySummary) -> None:
        """Counts so far, after each batch of outcomes (``summary.to_send`` is the total)."""


class QuietObserver:
    """An observer that tells no one."""

    def note(self, message: str) -> None:
        """Ignored."""

    def waiting(self, holder: Holder) -> None:
        """Ignored."""

    def rejected(self, check: Preflight, config: MappingConfig, sources: int) -> None:
        """Ignored."""

    def progress(self, summary: ReplaySummary) -> None:
        """Ignored."""


@dataclass(slots=True)
class ReplayResult:
    """What a replay did: its counts, where it sent, and its exit code."""

    check: Preflight
    base_url: str
    ledger: Path
    summary: ReplaySummary | None = None
    """``None`` when nothing was sent because the pre-flight refused the input."""
    auth_error: AuthError | None = None
    arrivals: list[dict[str, Any]] | None = None
    """With the built-in emulator: the calls it received."""
    exit_code: int = ExitCode.OK
    guard: OutputGuard | None = None
    """What ``--report`` must not name, checked again when the report is written."""


def exit_code_for(
    summary: ReplaySummary, *, auth_error: AuthError | None, signum: int | None
) -> int:
    """The exit code of a replay that sent (see ``ExitCode``).

    3 when MAPI refused the credentials mid-run; ``128 + signal`` when a signal
    stopped it; 1 when any call failed or its outcome is unknown (this run's, or
    an earlier run's that this one left alone); 4 when every call was delivered
    but ``--skip-invalid`` left invalid or malformed events out; 0 otherwise.
    """
    if auth_error is not None:
        return ExitCode.AUTH
    if signum is not None:
        return 128 + signum
    if summary.interrupted:
        return ExitCode.INTERRUPTED
    if summary.failed or summary.unknown or summary.skipped_unknown:
        return ExitCode.DATA
    if summary.invalid or summary.malformed:
        return ExitCode.SKIPPED
    return ExitCode.OK


class FailedFile:
    """The ``--failed`` file: checked before the run, written as calls end.

    Which paths it may name is ``outputs.OutputGuard``'s rule (never a link, a
    device, a pipe, a file of another user, an input, the ledger or its files).
    It is truncated only once it is open and checked again, and made mode 0600.
    """

    def __init__(self, path: Path, *, target: str, guard: OutputGuard) -> None:
        self.path = path
        self.target = target
        self._guard = guard
        self._fd: int | None = None
        self._written = 0
        """Bytes of whole lines written: a line cut short by a full disk is taken back."""

    def check(self) -> None:
        """Refuse a bad ``--failed`` path before anything is read."""
        self._guard.check(self.path, "--failed")

    def open(self) -> None:
        """Open (creating it 0600, or truncating it once checked again through the descriptor)."""
        flags = os.O_WRONLY | os.O_CREAT | os.O_NONBLOCK
        flags |= getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
        try:
            fd = os.open(self.path, flags, 0o600)
        except OSError as exc:
            raise self._guard.refuse(
                self.path, "--failed", f"cannot be opened: {exc.strerror}"
            ) from None
        try:
            self._guard.check_info(self.path, "--failed", os.fstat(fd))
            os.ftruncate(fd, 0)
            os.fchmod(fd, 0o600)
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd

    def write(self, outcome: CallOutcome) -> None:
        """Add one call not delivered, whole or not at all.

        A write that fails (a full disk) takes back the part of the line that was
        written, closes the file and raises a ``ConfigError`` naming it; nothing
        more is written then (``replay_calls`` stops sending and counts the rest).
        """
        if self._fd is None or outcome.status == "sent":
            return
        line = json.dumps(failed_record(outcome, target=self.target), ensure_ascii=False) + "\n"
        data = memoryview(line.encode("utf-8"))
        try:
            while data:
                data = data[os.write(self._fd, data) :]
        except OSError as exc:
            fd, self._fd = self._fd, None
            with contextlib.suppress(OSError):
                os.ftruncate(fd, self._written)
            os.close(fd)
            raise ConfigError(
                f"cannot write the failed file: {exc.strerror or exc}",
                where=str(self.path),
                hint="free some disk space, or give --failed another path",
            ) from None
        self._written += len(line.encode("utf-8"))

    def close(self) -> None:
        """Close the file."""
        if self._fd is not None:
            fd, self._fd = self._fd, None
            os.close(fd)


class ReplayRun:
    """One replay of ``files`` with ``config`` to ``target``; ``run()`` does it all.

    ``switch`` stops it (its events may be set from any thread; the CLI installs
    its signal handlers around ``run``).  ``stdin`` is what ``-`` reads.
    ``collector`` (``--report``) is told the pre-flight's records and the progress.
    """

    def __init__(
        self,
        files: Sequence[str],
        config: MappingConfig,
        target: Target,
        settings: ReplaySettings,
        *,
        observer: ReplayObserver | None = None,
        switch: StopSwitch | None = None,
        stdin: BinaryIO | None = None,
        collector: ReportCollector | None = None,
    ) -> None:
        if config.mode != "cloud":
            raise ConfigError(
                "replay sends MAPI requests: the mapping file must be in cloud mode",
                where=config.path,
            )
        if not target.emulator and (target.base_url is None or target.credentials is None):
            raise ValueError("a target needs a base URL and credentials, or emulator=True")
        self.files = list(files)
        self.config = config
        self.target = target
        self.settings = settings
        self.observer: ReplayObserver = observer or QuietObserver()
        self.switch = switch or StopSwitch()
        self.stdin = stdin
        self.collector = collector
        """Told the pre-flight's records and the progress, for ``--report``."""
        self._showing = True
        self.known = frozenset(s.name for s in config.active)

    def ledger_path(self) -> Path:
        """``--ledger``, or the target's default ledger in the state folder."""
        if self.settings.ledger is not None:
            return self.settings.ledger
        if self.settings.state_dir is None:
            raise ConfigError("no ledger: give --ledger PATH")
        folder = private_dir(self.settings.state_dir)
        private_dir(folder / "ledgers")
        return default_ledger_path(self.target.ledger_target, folder)

    def run(self) -> ReplayResult:
        """Replay; see the module docstring.  Raises ``FbcliError`` for what stops it."""
        with contextlib.ExitStack() as stack:
            path = self.ledger_path()
            check_ledger_path(path)  # before its lock file is made beside it
            lock = LedgerLock(path, command="fbcli replay")
            lock.acquire(wait=self.settings.wait, on_wait=self.observer.waiting)
            stack.callback(lock.release)
            ledger = stack.enter_context(Ledger(path, target=self.target.ledger_target))
            if self.settings.ledger is None:
                self._merge_legacy(ledger)
            spool = stack.enter_context(Spool(stdin=self.stdin))
            spool.add(self.files)
            guard = self._guard(ledger, lock, spool.copies)
            failed = self._failed_file(guard)
            if self.settings.failed is not None:
                guard = guard.adding(self.settings.failed, "the --failed file")
            if self.settings.report is not None:
                guard.check(self.settings.report, "--report")
            tally = PlanTally()
            check = preflight(
                self._noted(self._items(DEFAULT_BASE_URL, tally, spool.copies)),
                tally,
                ledger=ledger,
                options=self.settings.options,
                known=self.known,
                target=self.target.ledger_target,
            )
            self._tell(check, tally)
            result = ReplayResult(check, self.target.base_url or "", path, guard=guard)
            if check.has_problems and not self.settings.skip_invalid:
                self.observer.rejected(check, self.config, len(self.files))
                result.exit_code = ExitCode.DATA
                return result
            ambiguity = check.ambiguity()
            if ambiguity is not None:
                raise ambiguity
            return self._send(stack, ledger, failed, spool.copies, result)
        raise AssertionError("unreachable")  # pragma: no cover

    def _send(
        self,
        stack: contextlib.ExitStack,
        ledger: Ledger,
        failed: FailedFile | None,
        copies: dict[str, Path],
        result: ReplayResult,
    ) -> ReplayResult:
        settings = self.settings
        emulator = None
        if self.target.emulator:
            emulator = stack.enter_context(Emulator(EmulatorConfig()))
            url, credentials = emulator.base_url, Credentials(DEMO_KEY, "emulator")
        else:
            assert self.target.base_url is not None
            assert self.target.credentials is not None
            url, credentials = self.target.base_url, self.target.credentials
        result.base_url = url
        client = stack.enter_context(
            MapiClient(
                url,
                credentials,
                timeouts=settings.timeouts or Timeouts(),
                max_connections=settings.options.concurrency,
                stop=self.switch.stop,
            )
        )
        client.authorize(deadline=time.monotonic() + settings.options.policy.max_total)
        if failed is not None:
            failed.open()
            stack.callback(failed.close)
        sender = Sender(
            client,
            RateLimiter(settings.rate, burst=settings.burst),
            settings.options,
            stop=self.switch.stop,
        )
        summary = ReplaySummary(to_send=result.check.calls, current_rate=settings.rate)
        result.summary = summary
        self._progress(summary)
        with self.switch.sending():
            replay_calls(
                keyed_calls(self._items(url, PlanTally(), copies), summary),
                sender=sender,
                ledger=ledger,
                options=settings.options,
                summary=summary,
                known=self.known,
                abandon=self.switch.abandon,
                grace=settings.grace,
                on_outcome=failed.write if failed is not None else lambda _: None,
                on_progress=self._progress,
            )
        if self.switch.signum is not None:
            summary.signal = signal.Signals(self.switch.signum).name
        if emulator is not None:
            result.arrivals = [call.to_dict() for call in emulator.calls()]
        result.auth_error = sender.auth_error
        result.exit_code = exit_code_for(
            summary, auth_error=sender.auth_error, signum=self.switch.signum
        )
        return result

    def _items(
        self, base_url: str, tally: PlanTally, copies: dict[str, Path]
    ) -> Iterator[ReplayItem]:
        compiled = compile_config(self.config, base_url=base_url)
        events: Iterator[Event | LineError] = read_inputs(
            self.files, stdin=self.stdin, copies=copies
        )
        return replay_items(events, compiled, self.settings.selection, tally, known=self.known)

    def _noted(self, items: Iterator[ReplayItem]) -> Iterator[ReplayItem]:
        """``items``, each told to the collector (``--report``) as it passes."""
        for item in items:
            if self.collector is not None:
                self.collector.add_records(item.records)
            yield item

    def _progress(self, summary: ReplaySummary) -> None:
        """Progress: sampled for the report, then shown (until the observer's stream closes)."""
        if self.collector is not None:
            self.collector.sample(summary.elapsed, summary.done)
        if not self._showing:
            return
        try:
            self.observer.progress(summary)
        except OSError:
            if self.collector is None:
                raise  # replay_calls stops showing
            self._showing = False

    def _tell(self, check: Preflight, tally: PlanTally) -> None:
        """Notes on what the pre-flight saw that may not be what the user meant."""
        if tally.undated:
            self.observer.note(f"{undated_note(tally.undated)}: not sent")
        here = self.target.ledger_target
        for target, lines in check.foreign.items():
            self.observer.note(
                f"{_lines(lines)} of the failed file {'was' if lines == 1 else 'were'} written "
                f"for {target}; this replay goes to {here} (calls that ended unknown are still "
                "not resent without --retry-unknown)"
            )
        for (subscription, other), calls in check.beside.items():
            self.observer.note(
                f"{_calls(calls)} of '{subscription}' {'is' if calls == 1 else 'are'} new, but "
                f"the ledger shows a call of the same action delivered for the same "
                f"event{'s' if calls != 1 else ''} by '{other}' (if '{subscription}' replaces "
                f"'{other}', rename it in the ledger before replaying: fbcli ledger rename "
                f"'{other}' '{subscription}'; fbcli dry-run shows the calls)"
            )

    def _legacy_ledgers(self) -> list[Path]:
        """The ledgers fbcli 0.1 may have left for these inputs: each beside the first input
        of a run, so any in the folders of the inputs (by name, each once)."""
        found: dict[Path, None] = {}
        for name in self.files:
            if name == "-":
                continue
            found[legacy_ledger_path(name)] = None
            with contextlib.suppress(OSError):
                found.update(dict.fromkeys(sorted(Path(name).parent.glob(f"*{LEGACY_SUFFIX}"))))
        return list(found)

    def _merge_legacy(self, ledger: Ledger) -> None:
        """Take in, once (again when they change), the ledgers fbcli 0.1 left beside inputs."""
        for legacy in self._legacy_ledgers():
            name = str(legacy)[: -len(LEGACY_SUFFIX)]
            try:
                info = legacy.stat()
            except OSError:
                continue
            if not stat.S_ISREG(info.st_mode):
                continue
            stamp = f"{info.st_size}:{info.st_mtime_ns}"
            mark = f"merged:{legacy.resolve()}"
            if ledger.meta(mark) == stamp:
                continue
            merged = ledger.merge_from(legacy, only_target=True)
            info = legacy.stat()
            ledger.set_meta(mark, f"{info.st_size}:{info.st_mtime_ns}")
            if merged:
                self.observer.note(
                    f"merged {merged} recorded call{'s' if merged != 1 else ''} of {legacy} "
                    f"(where fbcli 0.1 kept the ledger of {name}) into {ledger.path}"
                )

    def _guard(self, ledger: Ledger, lock: LedgerLock, copies: dict[str, Path]) -> OutputGuard:
        """What ``--failed`` and ``--report`` must not name: the ledger and its files, the
        inputs (standard input too, when it is a file), the mapping file and
        ``settings.protected`` (the secret file)."""
        kept: dict[Path, str] = {
            ledger.path: "the ledger",
            Path(f"{ledger.path}-wal"): "the ledger's -wal file",
            Path(f"{ledger.path}-shm"): "the ledger's -shm file",
            Path(f"{ledger.path}-journal"): "the ledger's -journal file",
            lock.note_path: "the ledger's lock note",
        }
        return guard_for(
            self.files,
            mapping=self.config.path,
            kept=kept,
            copies=copies,
            protected=self.settings.protected,
            stdin=self.stdin,
        )

    def _failed_file(self, guard: OutputGuard) -> FailedFile | None:
        """The ``--failed`` file, checked (not yet opened: the pre-flight may refuse the run)."""
        path = self.settings.failed
        if path is None:
            return None
        failed = FailedFile(path, target=self.target.ledger_target, guard=guard)
        failed.check()
        return failed


def _calls(count: int) -> str:
    return f"{count} call" if count == 1 else f"{count} calls"


def _lines(count: int) -> str:
    return f"{count} line" if count == 1 else f"{count} lines"
