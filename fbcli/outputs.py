"""Which paths a file fbcli writes for the user (``--failed``, ``--report``) may name.

Such a file must never be one the run reads or keeps: an input (standard
input too, when it is a file), the mapping file, a file named in
``protected`` (the secret file), and for a replay the ledger, its ``-wal``,
``-shm``, ``-journal`` and its lock note.  Those are compared by device and
inode, so a hard link or another spelling of the same file is caught, and by
resolved name, for the ledger's files that do not exist yet.  Nor may it be a
symbolic link (fbcli does not write through links), anything but a regular
file (a device, a pipe, a folder) or a file of another user.

One rule, one place: ``OutputGuard.check`` before the run, ``check_info`` on
what was opened.
"""

from __future__ import annotations

import contextlib
import os
import stat
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import BinaryIO

from fbcli.errors import ConfigError
from fbcli.inputs import FileId, file_id


class OutputGuard:
    """The files a run reads or keeps, which a file it writes must never be."""

    def __init__(self, named: Mapping[Path, str], ids: Mapping[FileId, str]) -> None:
        self.named = dict(named)
        """Forbidden paths (by resolved name) and what each is, for messages."""
        self.ids = dict(ids)
        """Forbidden files by (device, inode)."""

    def adding(self, path: Path, what: str) -> OutputGuard:
        """This guard, and ``path`` (``what`` it is) forbidden too: another file the run
        writes (``--failed``, for ``--report``)."""
        ids = dict(self.ids)
        with contextlib.suppress(OSError):
            ids[file_id(path.stat())] = what
        return OutputGuard({**self.named, path: what}, ids)

    def refuse(self, path: Path, option: str, why: str, hint: str | None = None) -> ConfigError:
        """The error for ``option`` naming ``path``, which it must not."""
        return ConfigError(
            f"{option} {why}",
            where=str(path),
            hint=hint or f"give {option} a new file (it is created) or one of your own files",
        )

    def check(self, path: Path, option: str) -> None:
        """Refuse a bad path for ``option`` (``--failed``) before anything is read."""
        try:
            info = path.lstat()
        except FileNotFoundError:
            info = None
        except OSError as exc:
            raise self.refuse(path, option, f"cannot be checked: {exc.strerror}") from None
        resolved = path.resolve()
        for name, what in self.named.items():
            if resolved == name.resolve():
                raise self.refuse(path, option, f"must not be {what}")
        if info is None:
            return
        if stat.S_ISLNK(info.st_mode):
            raise self.refuse(
                path, option, "is a symbolic link: fbcli does not write through links"
            )
        self.check_info(path, option, info)

    def check_info(self, path: Path, option: str, info: os.stat_result) -> None:
        """Refuse what ``path`` is (``info``: its ``stat``, or its descriptor's once opened)."""
        if not stat.S_ISREG(info.st_mode):
            raise self.refuse(path, option, "is not a regular file (a device, a pipe or a folder)")
        what = self.ids.get(file_id(info))
        if what is not None:
            raise self.refuse(path, option, f"must not be {what}")
        if os.name == "posix" and info.st_uid != os.geteuid():
            raise self.refuse(path, option, f"belongs to another user (uid {info.st_uid})")


def guard_for(
    files: Iterable[str],
    *,
    mapping: str | None,
    kept: Mapping[Path, str] | None = None,
    copies: Mapping[str, Path] | None = None,
    protected: Iterable[Path] = (),
    stdin: BinaryIO | None = None,
) -> OutputGuard:
    """The guard of a run of ``files`` with the mapping file ``mapping`` (a path, if it is
    one): ``kept``, the files it keeps (the ledger's), named first; ``copies``, the spooled
    copies of inputs; ``protected``, other files it reads; ``stdin``, what ``-`` reads."""
    files = list(files)
    named: dict[Path, str] = dict(kept or {})
    named.update({Path(n): f"an input ({n})" for n in files if n != "-"})
    named.update({copy: f"an input ({n})" for n, copy in (copies or {}).items()})
    if mapping and Path(mapping).is_file():
        named[Path(mapping)] = "the mapping file"
    named.update(dict.fromkeys(protected, "a file this run reads"))
    ids: dict[FileId, str] = {}
    for where, what in named.items():
        with contextlib.suppress(OSError):
            ids[file_id(where.stat())] = what
    if "-" in files:
        stream = stdin if stdin is not None else sys.stdin.buffer
        with contextlib.suppress(OSError, ValueError, AttributeError):
            ids[file_id(os.fstat(stream.fileno()))] = "an input (standard input)"
    return OutputGuard(named, ids)
