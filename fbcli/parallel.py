"""Plan large inputs in several processes, with the results in input order (``--jobs``).

The main process only reads: it cuts each input into blocks of whole lines
(``events.read_blocks``, about 1 MB each) and hands them to worker
processes, which parse and plan them (``events.read_block_events``, then
``plan.plan_groups``: the same code as one process runs) and send back one
``PlanGroup`` per item.  The main process takes the groups in input order,
so counting, ``--limit``, ``--max-errors`` and output are exactly those of a
run in one process (``plan.take_groups``).  What crosses back is made small
first by ``render``: ``dry-run --format json`` sends each record as its JSON
text, ``validate`` only the records it shows.  When nothing can stop the run
part-way (no ``--limit`` or ``--max-errors``), a block comes back as one
``PlanBatch`` instead (``plan.plan_batch``: the same groups, counted): its
counts and its outputs, JSON text joined, so the main process does work per
block, not per event.

At most twice ``jobs`` blocks are out at a time, so memory stays flat however
large the input.  Workers are forked: they inherit the compiled mapping and
filters (closures, which could not be sent), start in milliseconds and
ignore Ctrl-C, which the main process handles by stopping them.  Where
``fork`` does not exist (Windows), everything runs in one process.
"""

from __future__ import annotations

import gc
import os
import signal
import sys
from collections import deque
from collections.abc import Callable, Generator, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, Final

from fbcli.errors import FbcliError
from fbcli.events import BLOCK_BYTES, Block, Event, LineError, read_block_events, read_blocks
from fbcli.plan import (
    CompiledConfig,
    PlanBatch,
    PlanFilter,
    PlanGroup,
    PlanRecord,
    plan_batch,
    plan_groups,
)
from fbcli.signals import STOP_SIGNALS

if TYPE_CHECKING:
    from concurrent.futures import Future

    from fbcli.causes import CauseFinder

__all__ = [
    "AUTO_MIN_BYTES",
    "Input",
    "Render",
    "auto_jobs",
    "can_fork",
    "plan_blocks",
    "plan_in_parallel",
]

AUTO_MIN_BYTES: Final = 16_000_000
"""Inputs smaller than this (about 20,000 events) are planned in one process by default:
starting workers would cost more than it saves."""

GZIP_RATIO: Final = 8
"""How much larger than its file a compressed input (gzip, bzip2, zstd) is taken to be, for
``AUTO_MIN_BYTES``."""

Render = Callable[[PlanRecord], object]
"""What a worker sends back for each record: the record, its JSON text, or ``None`` (drop)."""

Input = tuple[str, BinaryIO] | LineError
"""An input as opened by the caller: its name and binary stream, or why it cannot be read."""


def can_fork() -> bool:
    """Whether worker processes can be forked here (not on Windows)."""
    return hasattr(os, "fork")


def _cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - macOS: no affinity
        return os.cpu_count() or 1


def auto_jobs(files: Iterable[str], *, min_bytes: int = AUTO_MIN_BYTES) -> int:
    """The default ``--jobs``: one per CPU for large regular files, else 1.

    Standard input (``-``), pipes and missing files count as small: their
    size is not known ahead.
    """
    cpus = _cpus()
    if cpus < 2 or not can_fork():
        return 1
    total = 0
    for name in files:
        if name == "-":
            continue
        try:
            stat = Path(name).stat()
        except OSError:
            continue
        if not Path(name).is_file():
            continue
        total += stat.st_size * (GZIP_RATIO if name.endswith((".gz", ".bz2", ".zst")) else 1)
    return cpus if total >= min_bytes else 1


@dataclass(frozen=True, slots=True)
class _Work:
    """What every worker needs, inherited through ``fork`` (never pickled)."""

    compiled: CompiledConfig
    selection: PlanFilter
    render: Render
    batched: bool
    join_text: bool
    causes: CauseFinder | None = None


_WORK: _Work | None = None

Planned = list[PlanGroup[object]] | PlanBatch[object]
"""What a worker sends back for one block: a group per item, or one batch."""


def plan_blocks(block: Block, work: _Work | None = None) -> Planned:
    """One block's groups (or batch), rendered: what a worker does for a block."""
    work = work or _WORK
    assert work is not None, "plan_blocks runs in a worker forked by plan_in_parallel"
    items = read_block_events(block)
    if work.batched:
        return plan_batch(
            items,
            work.compiled,
            work.selection,
            work.render,
            join_text=work.join_text,
            causes=work.causes,
        )
    return list(plan_groups(items, work.compiled, work.selection, work.render, causes=work.causes))


def _split(inputs: Iterable[Input], block_bytes: int) -> Iterator[Block | Event | LineError]:
    for opened in inputs:
        if isinstance(opened, LineError):
            yield opened
            continue
        name, stream = opened
        yield from read_blocks(stream, name, block_bytes=block_bytes)


def _local_group(item: Event | LineError, work: _Work) -> Planned:
    """An item planned here, not in a worker: an input that cannot be read, or an event of
    a JSON array file (``events.read_blocks``)."""
    return list(plan_groups([item], work.compiled, work.selection, work.render, causes=work.causes))


def _quiet_worker() -> None:
    """Workers leave Ctrl-C, SIGTERM and SIGHUP to the main process, which stops them."""
    for signum in STOP_SIGNALS:
        signal.signal(signum, signal.SIG_IGN)


def plan_in_parallel(
    inputs: Iterable[Input],
    compiled: CompiledConfig,
    selection: PlanFilter,
    render: Render,
    *,
    jobs: int,
    block_bytes: int = BLOCK_BYTES,
    batched: bool = False,
    join_text: bool = False,
    causes: CauseFinder | None = None,
) -> Generator[PlanGroup[object] | PlanBatch[object], None, None]:
    """Every item's group, rendered, in input order, planned by ``jobs`` worker processes.

    ``jobs`` 1 (or no ``fork``) plans the blocks in this process, the same way.
    ``batched``: a block's items come as one ``PlanBatch`` (for a run no
    ``--limit`` or ``--max-errors`` can stop part-way), without the outputs
    that ``render`` made ``None``; ``join_text``: the outputs are text, joined
    into one per block.  Either way ``take_groups`` gives the same outputs.
    ``causes``: each group or batch carries its items' causes (a ``CauseBook``, found
    in the workers), for ``take_groups`` to merge.  The workers are stopped when the
    iterator is closed or garbage collected.
    """
    work = _Work(compiled, selection, render, batched, join_text, causes)
    blocks = _split(inputs, block_bytes)
    if jobs <= 1 or not can_fork():
        for item in blocks:
            planned = (
                plan_blocks(item, work) if isinstance(item, Block) else _local_group(item, work)
            )
            yield from _each(planned)
        return
    yield from _fan_out(blocks, work, jobs)


def _each(planned: Planned) -> list[PlanGroup[object]] | list[PlanBatch[object]]:
    return [planned] if isinstance(planned, PlanBatch) else planned


def _fan_out(
    blocks: Iterator[Block | Event | LineError], work: _Work, jobs: int
) -> Iterator[PlanGroup[object] | PlanBatch[object]]:
    # Imported here: most runs are small and never start a worker.
    import multiprocessing  # noqa: PLC0415
    from concurrent.futures import ProcessPoolExecutor  # noqa: PLC0415

    global _WORK  # noqa: PLW0603 - how the forked workers get it; reset when they are done
    # Anything buffered now would be written again by each worker as it exits.
    sys.stdout.flush()
    sys.stderr.flush()
    # What exists now is shared with the workers, copy-on-write: the collector must not
    # touch it (each pass would copy every page it visits into each worker).
    gc.freeze()
    _WORK = work
    executor = ProcessPoolExecutor(
        jobs, mp_context=multiprocessing.get_context("fork"), initializer=_quiet_worker
    )
    pending: deque[Future[Planned] | Planned] = deque()
    try:
        for item in blocks:
            if isinstance(item, Block):
                pending.append(executor.submit(plan_blocks, item))
            else:
                pending.append(_local_group(item, work))
            while len(pending) > 2 * jobs:
                yield from _each(_result(pending.popleft()))
        while pending:
            yield from _each(_result(pending.popleft()))
    finally:
        _WORK = None
        executor.shutdown(wait=True, cancel_futures=True)


def _result(done: Future[Planned] | Planned) -> Planned:
    from concurrent.futures.process import BrokenProcessPool  # noqa: PLC0415

    if isinstance(done, list | PlanBatch):
        return done
    try:
        return done.result()
    except BrokenProcessPool:
        raise FbcliError(
            "a worker process stopped unexpectedly (out of memory?)",
            hint="run again with --jobs 1 to plan in one process",
        ) from None
