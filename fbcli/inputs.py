"""Open the inputs named on the command line: files, ``-`` and copies of what is read twice.

``expand_inputs`` turns the names given into files first: folders into their
event files, glob patterns into what they match; a name that does not exist
is a ``ConfigError`` (a usage error, the same in every command).
``open_inputs`` opens each input in turn (a missing or unreadable one becomes
a ``LineError`` of line 0, and the run goes on with the next).  A replay reads
its inputs twice (the pre-flight, then sending), so a :class:`Spool` first
copies every input that cannot be read twice: standard input, named pipes
(FIFOs), process substitutions (``<(zcat x.gz)``, a ``/dev/fd/N`` pipe),
sockets and character devices.  Regular files are read where they are.
The copies live in a private temporary folder (mode 0700) that is removed
when the spool is closed, on errors and signals too.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import stat
import sys
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import BinaryIO, Final

from fbcli.errors import ConfigError
from fbcli.events import Event, LineError, read_events

Input = tuple[str, BinaryIO] | LineError
"""An input as opened: its name and binary stream, or why it cannot be read."""

COPY_CHUNK: Final = 1 << 20
FileId = tuple[int, int]
"""A file's device and inode: the same file whatever path (link, ``..``) names it."""


def file_id(info: os.stat_result) -> FileId:
    """(device, inode) of a ``stat`` result."""
    return (info.st_dev, info.st_ino)


EVENT_SUFFIXES: Final = (".jsonl", ".ndjson", ".json")
"""What an event file's name ends with, in a folder given as an input (before any
``COMPRESSED_SUFFIXES``)."""
COMPRESSED_SUFFIXES: Final = (".gz", ".bz2", ".zst")
_OWN_FILES: Final = (".sqlite", ".sqlite-wal", ".sqlite-shm", ".sqlite-journal", ".lock")
"""fbcli's own files (a ledger and its companions, a lock note): never inputs."""
_GLOB_MAGIC: Final = frozenset("*?[")


def is_event_file(name: str) -> bool:
    """Whether a file in a folder given as an input is read: an event-looking name
    (``.jsonl``, ``.ndjson``, ``.json``, each maybe ``.gz``, ``.bz2`` or ``.zst``),
    not hidden, not one of fbcli's own files (a ledger, a lock note)."""
    if name.startswith(".") or name.endswith(_OWN_FILES):
        return False
    stem = name
    for suffix in COMPRESSED_SUFFIXES:
        if stem.endswith(suffix):
            stem = stem[: -len(suffix)]
            break
    return stem.endswith(EVENT_SUFFIXES)


def expand_inputs(names: Iterable[str]) -> list[str]:
    """The input files that ``names`` (as given on the command line) stand for, in order.

    - ``-`` and an existing file (a pipe, a device too) stand for themselves;
    - a folder, for its event files (``is_event_file``), read recursively in
      sorted order (names compared as text; hidden folders and links to
      folders are not entered);
    - a name that does not exist but holds ``*``, ``?`` or ``[``, for the files
      that match it as a glob (``**`` spans folders), sorted: for shells that
      did not expand it, or a quoted pattern.

    A file named twice is read twice, as a shell would have it.

    ``ConfigError`` (a usage error) for a name that does not exist, a glob
    that matches nothing, or a folder with no event file.
    """
    found: list[str] = []
    for name in names:
        if name == "-":
            found.append(name)
            continue
        path = Path(name)
        if path.is_dir():
            files = _folder_files(path)
            if not files:
                raise ConfigError(
                    "the folder holds no event files",
                    where=name,
                    hint="fbcli reads *.jsonl, *.ndjson and *.json files, maybe "
                    "compressed (.gz, .bz2, .zst), in it and its subfolders",
                )
            found.extend(files)
        elif os.path.lexists(name):
            found.append(name)
        elif _GLOB_MAGIC.intersection(name):
            matches = sorted(glob.glob(name, recursive=True))  # noqa: PTH207 - absolute too
            files = []
            for match in matches:
                files.extend(_folder_files(Path(match)) if Path(match).is_dir() else [match])
            if not files:
                raise ConfigError("no file matches this pattern", where=name)
            found.extend(files)
        else:
            raise ConfigError("no such file", where=name)
    return found


def _folder_files(folder: Path) -> list[str]:
    """The event files in ``folder`` and its subfolders, depth first, sorted by name."""
    files: list[str] = []
    try:
        entries = sorted(os.scandir(folder), key=lambda entry: entry.name)
    except OSError as exc:
        raise ConfigError(f"cannot read the folder: {exc.strerror}", where=str(folder)) from None
    for entry in entries:
        if entry.name.startswith("."):
            continue
        if entry.is_dir(follow_symlinks=False):
            files.extend(_folder_files(Path(entry.path)))
        elif is_event_file(entry.name):
            files.append(entry.path)
    return files


def open_inputs(
    files: Iterable[str],
    *,
    stdin: BinaryIO | None = None,
    copies: Mapping[str, Path] | None = None,
) -> Iterator[Input]:
    """Each input opened in turn (closed when the next is asked for), or why it cannot be.

    ``-`` is ``stdin`` (standard input by default); ``copies`` maps inputs to the
    spooled copy to read instead.
    """
    copies = copies or {}
    for name in files:
        copy = copies.get(name)
        if name == "-" and copy is None:
            yield (name, stdin if stdin is not None else sys.stdin.buffer)
            continue
        try:
            stream = (copy or Path(name)).open("rb")
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
            yield (name, stream)


def read_inputs(
    files: Iterable[str],
    *,
    stdin: BinaryIO | None = None,
    copies: Mapping[str, Path] | None = None,
) -> Iterator[Event | LineError]:
    """Every event of every input, in order; unreadable inputs become ``LineError``s."""
    for opened in open_inputs(files, stdin=stdin, copies=copies):
        if isinstance(opened, LineError):
            yield opened
        else:
            yield from read_events(opened[1], opened[0])


def rereadable(name: str) -> bool:
    """Whether an input can be read twice where it is (a regular file, or a missing one)."""
    if name == "-":
        return False
    try:
        mode = Path(name).stat().st_mode
    except OSError:
        return True  # missing or unreadable: reported when it is opened
    return stat.S_ISREG(mode) or stat.S_ISDIR(mode)


class Spool:
    """Copies of the inputs that cannot be read twice, in a private temporary folder.

    A signal while copying raises (``fbcli.signals``), and closing removes the copies.
    """

    def __init__(self, *, stdin: BinaryIO | None = None) -> None:
        self._stdin = stdin
        self._folder: Path | None = None
        self.copies: dict[str, Path] = {}

    def add(self, files: Iterable[str]) -> None:
        """Copy each input that cannot be read twice (each name once)."""
        for name in files:
            if name in self.copies or rereadable(name):
                continue
            if self._folder is None:
                self._folder = Path(tempfile.mkdtemp(prefix="fbcli-"))
            copy = self._folder / f"input-{len(self.copies)}.jsonl"
            self.copies[name] = copy
            fd = os.open(copy, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as out:
                if name == "-":
                    source = self._stdin if self._stdin is not None else sys.stdin.buffer
                    shutil.copyfileobj(source, out, COPY_CHUNK)
                    continue
                try:
                    with Path(name).open("rb") as stream:
                        shutil.copyfileobj(stream, out, COPY_CHUNK)
                except OSError as exc:
                    raise ConfigError(
                        f"cannot read the input: {exc.strerror or exc}", where=name
                    ) from None

    def close(self) -> None:
        """Remove the copies."""
        if self._folder is not None:
            shutil.rmtree(self._folder, ignore_errors=True)
            self._folder = None

    def __enter__(self) -> Spool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def read_bounded(path: Path, what: str, *, limit: int) -> bytes:
    """The bytes of a small file (a mapping, case or secret file); over ``limit`` bytes is an
    error found without reading the rest (so ``/dev/zero`` or a huge file costs no memory).
    ``what`` names the file in messages."""
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


def write_file(path: Path, data: bytes, *, private: bool = False, follow: bool = True) -> None:
    """Write a file the user named (a report, a case file); ``ConfigError`` names it.

    Atomically: the data goes to a temporary file beside it, renamed over it once
    whole, so a reader never sees half a file and a failure leaves the old one.
    Through a symbolic link, the file it points to is replaced; with ``follow``
    false, the link itself is (a link made at ``path`` after it was checked
    cannot aim the write at another file).  ``private`` (the file holds customer
    data): mode 0600, whatever the umask; else a new file gets the mode a plain
    write would give it, an existing one keeps its mode.
    """
    target = Path(os.path.realpath(path)) if follow else path.absolute()
    temp: str | None = None
    try:
        try:
            mode = 0o600 if private else stat.S_IMODE(target.stat().st_mode)
        except FileNotFoundError:
            umask = os.umask(0)
            os.umask(umask)
            mode = 0o666 & ~umask
        fd, temp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fchmod(out.fileno(), mode)
        Path(temp).replace(target)
        temp = None
    except OSError as exc:
        raise ConfigError(f"cannot write: {exc.strerror}", where=str(path)) from None
    finally:
        if temp is not None:
            with contextlib.suppress(OSError):
                Path(temp).unlink()
