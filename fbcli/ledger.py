"""The replay ledger: what was delivered, so nothing is sent twice or lost.

A SQLite file (stdlib ``sqlite3``) in WAL mode with ``synchronous=FULL``: each
call's outcome is committed as the call finishes, so a crash, a signal or a
power cut loses at most the calls that were in flight.  One row per
(target, event key, subscription):

===========  ===============================================================
status       meaning
===========  ===============================================================
sent         MAPI answered 2xx; a rerun skips it (unless ``--force``)
failed       a final error (4xx) or retries exhausted; a rerun sends it again
unknown      the request may have reached MAPI but no answer came; a rerun
             leaves it alone unless ``--retry-unknown`` or ``--force``
===========  ===============================================================

The **target** is where the calls went, normalized by :func:`ledger_target`
(scheme, host and port, no trailing ``/``; ``localhost``, ``127.0.0.1`` and
``[::1]`` are one host), or ``emulator`` for the built-in emulator: a replay
to a sandbox does not count as delivered to production, and two spellings of
one URL are one target.  The **event key** is the event's ``messageId`` or,
without one, ``sha256:`` and the hash of its canonical JSON.  The
**subscription** is the mapping file's name for the call; when it is renamed,
:meth:`Ledger.lookup` follows the rename where the evidence is unambiguous and
says so where it is not (see its docstring).

By default each target has its own ledger in fbcli's state folder
(:func:`default_ledger_path`), shared by every input, so a failed file, a rerun
of the original and a run over another export of the same events all see the
same rows.  A run holds the ledger for its whole duration (``fbcli.lock``).

The ledger holds no secret and no token; it is created with mode 0600 because
MAPI's messages may echo customer data, and an existing ledger owned by
another user or writable by others is refused (it could have been edited to
make fbcli skip or resend calls).
"""

from __future__ import annotations

import contextlib
import hashlib
import ipaddress
import json
import os
import posixpath
import re
import sqlite3
import stat
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final, Literal
from urllib.parse import unquote, urlsplit

from fbcli.errors import ConfigError

SCHEMA_VERSION: Final = 2
"""1: targets as written on the command line; 2: targets normalized (``ledger_target``)."""
BUSY_TIMEOUT_MS: Final = 5000
"""How long to wait for another connection that holds the SQLite write lock."""
LedgerStatus = Literal["sent", "failed", "unknown"]
STATUSES: Final[tuple[LedgerStatus, ...]] = ("sent", "unknown", "failed")
EMULATOR_TARGET: Final = "emulator"
"""The target of ``replay --emulator``: one identity whatever port the emulator gets."""
LEGACY_SUFFIX: Final = ".fbcli-ledger.sqlite"
"""fbcli 0.1 kept a ledger next to the first input: ``<input>.fbcli-ledger.sqlite``."""

_DAMAGED_HINT: Final = (
    "restore the ledger from a copy; a new --ledger path knows nothing sent, so every call "
    "would be sent again"
)
_SAFETY: Final = "CASE {} WHEN 'sent' THEN 3 WHEN 'unknown' THEN 2 ELSE 1 END"
"""How much a status forbids sending again: two records of one call merge to the safer."""

_SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS calls (
    target           TEXT NOT NULL,
    event_key        TEXT NOT NULL,
    subscription     TEXT NOT NULL,
    action           TEXT NOT NULL,
    source           TEXT,
    line             INTEGER,
    status           TEXT NOT NULL CHECK (status IN ('sent', 'failed', 'unknown')),
    http_status      INTEGER,
    attempts         INTEGER NOT NULL,
    event_id         TEXT,
    message          TEXT,
    first_attempt_at TEXT NOT NULL,
    last_attempt_at  TEXT NOT NULL,
    PRIMARY KEY (target, event_key, subscription)
);
"""
_COLUMNS: Final = (
    "target, event_key, subscription, action, source, line, status, http_status, attempts, "
    "event_id, message, first_attempt_at, last_attempt_at"
)
_MERGE: Final = f"""
INSERT INTO calls ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (target, event_key, subscription) DO UPDATE SET
    status = CASE WHEN {_SAFETY.format("excluded.status")} > {_SAFETY.format("calls.status")}
                  THEN excluded.status ELSE calls.status END,
    http_status = CASE WHEN {_SAFETY.format("excluded.status")} > {_SAFETY.format("calls.status")}
                  THEN excluded.http_status ELSE calls.http_status END,
    message = CASE WHEN {_SAFETY.format("excluded.status")} > {_SAFETY.format("calls.status")}
                  THEN excluded.message ELSE calls.message END,
    attempts = max(calls.attempts, excluded.attempts),
    event_id = coalesce(calls.event_id, excluded.event_id),
    first_attempt_at = min(calls.first_attempt_at, excluded.first_attempt_at),
    last_attempt_at = max(calls.last_attempt_at, excluded.last_attempt_at)
"""  # noqa: S608 - built from constants only
"""Insert rows from elsewhere (an older ledger, another file): a call already recorded keeps
the status that forbids sending it more (sent > unknown > failed), so merging never lets a
delivered call be sent again."""


def event_key(data: Mapping[str, Any], message_id: str | None) -> str:
    """The ledger key of an event: its ``messageId``, or a hash of its canonical JSON."""
    if message_id:
        return message_id
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return "sha256:" + hashlib.sha256(canonical.encode("utf-8", "surrogatepass")).hexdigest()


def ledger_target(base_url: str) -> str:
    """The identity of a MAPI base URL in the ledger.

    ``scheme://host[:port]/path``: scheme and host in lower case, the default
    port (443, 80) left out, no trailing ``/``; ``localhost``, ``127.0.0.1``,
    ``[::1]`` and ``[::ffff:127.0.0.1]`` all become ``localhost``; other IPv6
    addresses are written in their compressed form.  ``emulator`` stays itself.
    """
    if base_url == EMULATOR_TARGET:
        return base_url
    parts = urlsplit(base_url.strip())
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").rstrip(".").lower()
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        address = None
    if isinstance(address, ipaddress.IPv6Address):
        mapped = address.ipv4_mapped
        host = str(mapped) if mapped is not None else f"[{address.compressed}]"
    if host in ("localhost", "127.0.0.1", "[::1]"):
        host = "localhost"
    try:
        port = parts.port
    except ValueError:
        port = None
    if port is not None and port != {"https": 443, "http": 80}.get(scheme):
        host = f"{host}:{port}"
    path = unquote(parts.path, errors="strict") if "%" in parts.path else parts.path
    path = posixpath.normpath(path) if path else ""
    return f"{scheme}://{host}{'' if path in ('/', '.') else path.rstrip('/')}"


def state_dir(environ: Mapping[str, str]) -> Path:
    """fbcli's state folder: ``FBCLI_STATE_DIR`` (an absolute path), else the user's state
    folder for fbcli (``$XDG_STATE_HOME/fbcli`` or ``~/.local/state/fbcli`` on Linux)."""
    given = environ.get("FBCLI_STATE_DIR")
    if given:
        if not Path(given).is_absolute():
            raise ConfigError(
                f"FBCLI_STATE_DIR must be an absolute path, not '{given}' (a relative one "
                "would give each working folder ledgers of its own)"
            )
        return Path(given)
    import platformdirs  # noqa: PLC0415 - only replays and the ledger command need it

    return Path(platformdirs.user_state_dir("fbcli", appauthor=False))


def default_ledger_path(target: str, state_dir: Path) -> Path:
    """The default ledger of a target: ``<state>/ledgers/<readable name>-<hash>.sqlite``.

    The name keeps letters, digits, ``.`` and ``-`` of the target, for people
    listing the folder; the hash (of the whole target) keeps names unique.
    """
    readable = re.sub(r"[^a-z0-9.-]+", "-", target.lower().split("://")[-1]).strip("-")
    digest = hashlib.sha256(target.encode("utf-8")).hexdigest()[:10]
    name = f"{readable[:60]}-{digest}" if target != EMULATOR_TARGET else "emulator"
    return state_dir / "ledgers" / f"{name}.sqlite"


def legacy_ledger_path(input_path: str) -> Path:
    """Where fbcli 0.1 kept the ledger of an input: next to it."""
    return Path(f"{input_path}{LEGACY_SUFFIX}")


def private_dir(path: Path) -> Path:
    """Create ``path`` (and its parents) for fbcli's state, mode 0700; refuse an unsafe one.

    An existing folder must belong to this user and not be writable by others:
    whoever can write there can replace the ledger.
    """
    try:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        info = path.stat()
    except OSError as exc:
        raise ConfigError(
            f"cannot create fbcli's state folder: {exc.strerror or exc}",
            where=str(path),
            hint="set FBCLI_STATE_DIR to a folder you can write to, or give --ledger PATH",
        ) from None
    if not stat.S_ISDIR(info.st_mode):
        raise ConfigError("fbcli's state folder is not a folder", where=str(path))
    check_private(path, info, what="the ledger folder")
    return path


def check_private(path: Path, info: os.stat_result, *, what: str) -> None:
    """Refuse a file or folder that another user owns or that others may write to."""
    if os.name != "posix":  # pragma: no cover - POSIX permissions only
        return
    if info.st_uid != os.geteuid():
        raise ConfigError(
            f"{what} belongs to another user (uid {info.st_uid})",
            where=str(path),
            hint="use a ledger of your own (another --ledger PATH, or FBCLI_STATE_DIR)",
        )
    if info.st_mode & 0o022:
        raise ConfigError(
            f"{what} can be written by other users (mode {stat.S_IMODE(info.st_mode):04o})",
            where=str(path),
            hint=f"chmod go-w {path}",
        )


def check_ledger_path(path: Path) -> None:
    """Refuse, before anything is opened or created beside it, a ledger path that is not a
    regular file (a device, a pipe, a folder), that is another user's or others may write,
    or whose folder others may write to (they could put another file in its place), unless
    that folder is sticky as ``/tmp`` is (then only the file's owner may replace it)."""
    folder = Path(os.path.realpath(path)).parent
    try:
        where = folder.stat()
    except OSError:
        where = None
    if where is not None and where.st_mode & 0o022 and not where.st_mode & stat.S_ISVTX:
        raise ConfigError(
            f"the ledger's folder can be written by other users (mode "
            f"{stat.S_IMODE(where.st_mode):04o}): they could replace the ledger",
            where=str(path),
            hint=f"keep the ledger in a folder of your own (chmod go-w {folder}), or give "
            "another --ledger path",
        )
    try:
        info = path.stat()
    except (FileNotFoundError, NotADirectoryError):
        return  # creating it says why it cannot be
    except OSError as exc:
        raise ConfigError(f"cannot use the ledger: {exc.strerror}", where=str(path)) from None
    if stat.S_ISDIR(info.st_mode):
        raise ConfigError(
            "the ledger is a folder",
            where=str(path),
            hint="give a file in a folder you can write to as --ledger PATH",
        )
    if not stat.S_ISREG(info.st_mode):
        raise ConfigError(
            "the ledger is not a regular file (a device or a pipe)",
            where=str(path),
            hint="give a file in a folder you can write to as --ledger PATH",
        )
    check_private(path, info, what="the ledger")


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    """One recorded call."""

    event_key: str
    subscription: str
    action: str
    source: str | None
    line: int | None
    status: LedgerStatus
    http_status: int | None
    attempts: int
    event_id: str | None
    message: str | None
    first_attempt_at: str
    last_attempt_at: str
    target: str = ""

    def to_dict(self) -> dict[str, Any]:
        """The entry as ``fbcli ledger list --format json`` prints it."""
        return {
            "target": self.target,
            "key": self.event_key,
            "subscription": self.subscription,
            "action": self.action,
            "status": self.status,
            "http_status": self.http_status,
            "attempts": self.attempts,
            "event_id": self.event_id,
            "message": self.message,
            "source": self.source,
            "line": self.line,
            "first_attempt_at": self.first_attempt_at,
            "last_attempt_at": self.last_attempt_at,
        }


@dataclass(frozen=True, slots=True)
class Found:
    """What the ledger knows of a call: its status, and the row's subscription name
    (another name when the call was recorded before its subscription was renamed)."""

    status: LedgerStatus
    subscription: str
    last_attempt_at: str = field(default="", compare=False)
    """When the row was last written (UTC ISO 8601, as ``record`` writes it)."""


@dataclass(frozen=True, slots=True)
class Ambiguous:
    """The ledger has rows of this event and action under names the mapping file no
    longer has, and cannot tell which of them (if any) this call was."""

    names: tuple[str, ...]


Lookup = Found | Ambiguous | None


class Ledger:
    """The ledger file, opened for one run and one target; used from one thread.

    Opening checks, before anything is written to an existing file, that it is
    a regular file of this user that others cannot write, that it is SQLite,
    that it is a ledger (an SQLite file of another program is left alone), that
    its schema version is one this fbcli reads (version 1 is upgraded in
    place), and that SQLite's ``quick_check`` finds it whole (about 1.5 s for a
    ledger of a million calls).  Then it must be writable: a read-only file or
    folder, or a full disk, is found out here too.  Every SQLite or file
    system problem, then and later, is a ``ConfigError`` naming the file, with
    a hint that fits it (read-only, disk full, damaged, locked).

    ``target`` may be ``None`` for commands that look at every target
    (``fbcli ledger status``); calls are then looked up and recorded per target.
    ``create=False`` refuses a ledger that does not exist yet.
    """

    def __init__(
        self,
        path: Path,
        *,
        target: str | None,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        create: bool = True,
    ) -> None:
        self.path = path
        self.target = target
        self._now = now
        if not create and not path.exists():
            raise ConfigError("there is no ledger here", where=str(path))
        check_ledger_path(path)
        try:
            _create_private(path)
        except OSError as exc:
            raise ConfigError(
                f"cannot create the ledger: {exc.strerror or exc}", where=str(path)
            ) from None
        try:
            self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=True)
        except sqlite3.Error as exc:
            raise self._error("cannot open the ledger", exc) from None
        try:
            self._prepare()
        except BaseException:
            self._db.close()
            raise

    def _prepare(self) -> None:
        """Check the file (reading only), then switch to WAL, create or upgrade the tables."""
        try:
            self._db.execute(f"PRAGMA busy_timeout={int(BUSY_TIMEOUT_MS)}")
            version = self._check()
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.execute("BEGIN IMMEDIATE")
            try:
                for statement in _SCHEMA.split(";"):
                    if statement.strip():
                        self._db.execute(statement)
                if version == 1:
                    self._upgrade_from_1()
                self._db.execute(
                    "INSERT OR REPLACE INTO meta (key, value) VALUES ('version', ?)",
                    (str(SCHEMA_VERSION),),
                )
                self._db.execute("COMMIT")
            except BaseException:
                self._rollback()
                raise
        except sqlite3.Error as exc:
            raise self._error("cannot use the ledger", exc) from None

    def _check(self) -> int | None:
        """The file's schema version (None for a new file); anything else is left alone."""
        check_ledger_path(self.path)
        tables = {row[0] for row in self._db.execute("SELECT name FROM sqlite_master")}
        if tables and "meta" not in tables:
            raise ConfigError(
                "this SQLite file is not an fbcli ledger",
                where=str(self.path),
                hint="give another --ledger path",
            )
        version: int | None = None
        if "meta" in tables:
            row = self._db.execute("SELECT value FROM meta WHERE key = 'version'").fetchone()
            if row is not None and str(row[0]) not in ("1", str(SCHEMA_VERSION)):
                raise ConfigError(
                    f"the ledger has version {row[0]}; this fbcli reads versions 1 to "
                    f"{SCHEMA_VERSION}",
                    where=str(self.path),
                    hint="use the fbcli that wrote it, or give another --ledger path",
                )
            version = int(row[0]) if row is not None else None
        if tables:
            problems = [str(row[0]) for row in self._db.execute("PRAGMA quick_check")]
            if problems != ["ok"]:
                first = " ".join(problems[0].removeprefix("*** in database main ***").split())
                raise ConfigError(
                    f"the ledger is damaged: {first[:200]}",
                    where=str(self.path),
                    hint=_DAMAGED_HINT,
                )
        return version

    def _upgrade_from_1(self) -> None:
        """Version 1 kept targets as written: normalize them, merging rows that meet."""
        rows = self._db.execute(_select(_COLUMNS, "")).fetchall()
        self._db.execute("DELETE FROM calls")
        self._db.executemany(_MERGE, [(_normalized(row[0]), *row[1:]) for row in rows])

    def _error(self, what: str, exc: sqlite3.Error) -> ConfigError:
        """A one-line ``ConfigError`` for an SQLite error, with a hint that fits it.

        The kind comes from SQLite's error name (``SQLITE_READONLY``, ``SQLITE_FULL``,
        ``SQLITE_IOERR_WRITE``...); a write that fails for lack of space is a
        ``SQLITE_FULL`` or, when the write fails as a whole (``EFBIG``, ``EIO``), an
        ``SQLITE_IOERR`` whose text ("disk I/O error") does not say why.
        """
        text = " ".join(str(exc).split()) or type(exc).__name__
        name = getattr(exc, "sqlite_errorname", None) or ""
        if "locked" in text or name.startswith("SQLITE_BUSY"):
            hint = "is another fbcli using this ledger? Wait for it, or give another --ledger path"
        elif name == "SQLITE_CANTOPEN":
            hint = "give a file in a folder you can write to as --ledger PATH"
        elif name.startswith("SQLITE_READONLY"):
            hint = "make the ledger file and its folder writable, or give another --ledger path"
        elif name == "SQLITE_NOTADB":
            hint = (
                "if this file was a ledger, it is damaged: restore it from a copy (a new "
                "--ledger path knows nothing sent); if it is another file, give another "
                "--ledger path"
            )
        elif name == "SQLITE_FULL" or name.startswith("SQLITE_IOERR"):
            text += "" if name == "SQLITE_FULL" else " (is the disk full?)"
            hint = "free some disk space and rerun (what the ledger holds is kept)"
        else:
            hint = _DAMAGED_HINT
        return ConfigError(f"{what}: {text}", where=str(self.path), hint=hint)

    def _rollback(self) -> None:
        """End a failed transaction (SQLite has already rolled back after a full disk)."""
        if self._db.in_transaction:
            with contextlib.suppress(sqlite3.Error):
                self._db.execute("ROLLBACK")

    def close(self) -> None:
        """Close the file (the WAL is checkpointed by SQLite)."""
        self._db.close()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- one run: look up and record calls ------------------------------------------------

    def _target(self) -> str:
        if self.target is None:
            raise ValueError("this ledger was opened for every target; name one")
        return self.target

    def _read(self, sql: str, params: Iterable[Any]) -> list[Any]:
        try:
            return self._db.execute(sql, tuple(params)).fetchall()
        except sqlite3.Error as exc:
            raise self._error("cannot read the ledger", exc) from None

    def _write(self, statements: Iterable[tuple[str, tuple[Any, ...]]]) -> int:
        """Run the statements in one transaction; the rows they changed."""
        changed = 0
        try:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                for sql, params in statements:
                    changed += self._db.execute(sql, params).rowcount
                self._db.execute("COMMIT")
            except BaseException:
                self._rollback()
                raise
        except sqlite3.Error as exc:
            raise self._error("cannot write the ledger", exc) from None
        return changed

    def status_of(self, key: str, subscription: str) -> LedgerStatus | None:
        """The recorded status of a call, or ``None`` when it was never attempted."""
        rows = self._read(
            "SELECT status FROM calls WHERE target = ? AND event_key = ? AND subscription = ?",
            (self._target(), key, subscription),
        )
        return rows[0][0] if rows else None

    def lookup(
        self, key: str, subscription: str, action: str, *, known: Collection[str], alone: bool
    ) -> Lookup:
        """What the ledger knows of a call, following a renamed subscription.

        The row of ``(key, subscription)`` when there is one.  Otherwise the rows of
        this event and ``action`` whose subscription is not among ``known`` (the
        mapping file's enabled subscriptions) are the calls of a subscription that
        was renamed, removed or disabled (a disabled one replaced by a copy under
        a new name is a rename too).  When there is exactly one such
        row and this call is the event's only call of ``action`` (``alone``), it is
        taken as this call under its old name (``Found`` with the old name): a
        renamed subscription does not send again what its old name delivered.
        With several such rows, or several calls of the action, which row is which
        call cannot be told: ``Ambiguous``.  ``None``: the call was never attempted.
        """
        target = self._target()
        rows = self._read(
            "SELECT subscription, status, last_attempt_at FROM calls WHERE target = ? "
            "AND event_key = ? AND (subscription = ? OR action = ?)",
            (target, key, subscription, action),
        )
        orphans = []
        for name, status, last in rows:
            if name == subscription:
                return Found(status, name, last)
            if name not in known:
                orphans.append(Found(status, name, last))
        if not orphans:
            return None
        if len(orphans) == 1 and alone:
            return orphans[0]
        return Ambiguous(tuple(sorted(found.subscription for found in orphans)))

    def siblings(self, key: str, action: str, subscription: str) -> tuple[str, ...]:
        """The subscriptions other than ``subscription`` with a delivered call of ``action``
        for the event ``key`` (a new call may then repeat one already delivered)."""
        rows = self._read(
            "SELECT subscription FROM calls WHERE target = ? AND event_key = ? AND action = ? "
            "AND subscription != ? AND status = 'sent' ORDER BY subscription",
            (self._target(), key, action, subscription),
        )
        return tuple(row[0] for row in rows)

    def now(self) -> str:
        """The ledger clock's now, as ``record`` writes times."""
        return self._now().astimezone(UTC).isoformat(timespec="milliseconds")

    def record(
        self,
        *,
        key: str,
        subscription: str,
        action: str,
        source: str | None,
        line: int | None,
        status: LedgerStatus,
        http_status: int | None,
        attempts: int,
        event_id: str | None,
        message: str | None,
        renamed_from: str | None = None,
    ) -> None:
        """Record (or update) one call's outcome and commit it at once.

        ``renamed_from``: the call's row under its subscription's old name, which
        this record replaces (in the same transaction).
        """
        target = self._target()
        now = self.now()
        statements: list[tuple[str, tuple[Any, ...]]] = []
        if renamed_from is not None and renamed_from != subscription:
            statements.append(
                (
                    (
                        "UPDATE OR REPLACE calls SET subscription = ? "
                        "WHERE target = ? AND event_key = ? AND subscription = ?"
                    ),
                    (subscription, target, key, renamed_from),
                )
            )
        statements.append(
            (
                f"""
                INSERT INTO calls ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT (target, event_key, subscription) DO UPDATE SET
                    action = excluded.action,
                    status = excluded.status,
                    http_status = excluded.http_status,
                    attempts = calls.attempts + excluded.attempts,
                    event_id = coalesce(excluded.event_id, calls.event_id),
                    message = excluded.message,
                    source = excluded.source,
                    line = excluded.line,
                    last_attempt_at = excluded.last_attempt_at
                """,  # noqa: S608 - the columns are a constant
                (
                    target,
                    key,
                    subscription,
                    action,
                    source,
                    line,
                    status,
                    http_status,
                    attempts,
                    event_id,
                    message,
                    now,
                    now,
                ),
            )
        )
        self._write(statements)

    def follow_rename(self, key: str, old: str, new: str) -> None:
        """Give a call's row its subscription's new name (a skipped call of a renamed one)."""
        self._write(
            [
                (
                    (
                        "UPDATE OR IGNORE calls SET subscription = ? "
                        "WHERE target = ? AND event_key = ? AND subscription = ?"
                    ),
                    (new, self._target(), key, old),
                )
            ]
        )

    # -- looking at the ledger, and changing it by hand -----------------------------------

    def _where(
        self,
        *,
        keys: Collection[str] = (),
        subscription: str | None = None,
        statuses: Collection[str] = (),
    ) -> tuple[str, list[Any]]:
        clauses: list[str] = []
        params: list[Any] = []
        if self.target is not None:
            clauses.append("target = ?")
            params.append(self.target)
        if keys:
            clauses.append(f"event_key IN ({', '.join('?' * len(keys))})")
            params.extend(keys)
        if subscription is not None:
            clauses.append("subscription = ?")
            params.append(subscription)
        if statuses:
            clauses.append(f"status IN ({', '.join('?' * len(statuses))})")
            params.extend(statuses)
        return (" WHERE " + " AND ".join(clauses)) if clauses else "", params

    def entries(
        self,
        *,
        statuses: Collection[str] = (),
        keys: Collection[str] = (),
        subscription: str | None = None,
    ) -> Iterator[LedgerEntry]:
        """The recorded calls (of this target, or of every target), oldest first."""
        where, params = self._where(keys=keys, subscription=subscription, statuses=statuses)
        columns = (
            "event_key, subscription, action, source, line, status, http_status, attempts, "
            "event_id, message, first_attempt_at, last_attempt_at, target"
        )
        sql = _select(columns, where, " ORDER BY first_attempt_at, rowid")
        try:
            for row in self._db.execute(sql, params):
                yield LedgerEntry(*row)
        except sqlite3.Error as exc:
            raise self._error("cannot read the ledger", exc) from None

    def counts(self) -> dict[str, int]:
        """How many calls have each status (of this target, or of every target)."""
        where, params = self._where()
        rows = self._read(_select("status, count(*)", where, " GROUP BY status"), params)
        return dict(rows)

    def counts_by_target(self) -> dict[str, dict[str, int]]:
        """``{target: {status: calls}}`` for every target the file holds."""
        where, params = self._where()
        rows = self._read(
            _select("target, status, count(*)", where, " GROUP BY target, status ORDER BY target"),
            params,
        )
        result: dict[str, dict[str, int]] = {}
        for target, status, count in rows:
            result.setdefault(target, {})[status] = count
        return result

    def mark(
        self,
        keys: Collection[str],
        status: LedgerStatus,
        *,
        subscription: str | None = None,
        note: str,
    ) -> int:
        """Set the status of the calls of ``keys`` by hand; how many rows changed."""
        where, params = self._where(keys=keys, subscription=subscription)
        sql = (
            "UPDATE calls SET status = ?, http_status = NULL, "  # noqa: S608 - placeholders
            "message = ? || ' (was ' || status || coalesce(': ' || message, '') || ')', "
            f"last_attempt_at = ?{where}"
        )
        now = self._now().astimezone(UTC).isoformat(timespec="milliseconds")
        return self._write([(sql, (status, note, now, *params))])

    def forget(self, keys: Collection[str], *, subscription: str | None = None) -> int:
        """Delete the calls of ``keys``: a rerun sends them as if never attempted."""
        where, params = self._where(keys=keys, subscription=subscription)
        if not keys:
            raise ValueError("forget needs at least one key")
        return self._write([(_delete(where), tuple(params))])

    def forget_subscription(self, subscription: str) -> int:
        """Delete every call of a subscription (one removed from the mapping file)."""
        where, params = self._where(subscription=subscription)
        return self._write([(_delete(where), tuple(params))])

    def rename(self, old: str, new: str) -> int:
        """Give every call of subscription ``old`` the name ``new``; how many rows moved.

        A call that already has a row under ``new`` keeps that row (its old one is dropped
        only when it was no safer), so renaming never makes a delivered call sendable.
        """
        where, params = self._where(subscription=old)
        rows = self._read(_select(_COLUMNS, where), params)
        statements: list[tuple[str, tuple[Any, ...]]] = [(_delete(where), tuple(params))]
        statements += [(_MERGE, (row[0], row[1], new, *row[3:])) for row in rows]
        self._write(statements)
        return len(rows)

    def merge_from(self, other: Path, *, only_target: bool = False) -> int:
        """Copy the calls of the ledger file ``other`` into this one; how many rows.

        Targets are normalized as they come in (``only_target``: only the rows of
        this ledger's target are taken); a call recorded in both keeps the safer
        status (sent > unknown > failed), so a merge never makes a delivered call
        sendable.  ``other`` is checked as any ledger is, and upgraded in place
        from version 1 (so an older fbcli no longer uses it).
        """
        with contextlib.suppress(OSError):
            if other.samefile(self.path):
                raise ConfigError("cannot merge a ledger into itself", where=str(other))
        with Ledger(other, target=None, create=False, now=self._now) as source:
            rows = source._read(_select(_COLUMNS, ""), ())
        rows = [(_normalized(row[0]), *row[1:]) for row in rows]
        if only_target:
            rows = [row for row in rows if row[0] == self._target()]
        self._write([(_MERGE, tuple(row)) for row in rows])
        return len(rows)

    def meta(self, key: str) -> str | None:
        """A value of the ledger's ``meta`` table."""
        rows = self._read("SELECT value FROM meta WHERE key = ?", (key,))
        return str(rows[0][0]) if rows else None

    def set_meta(self, key: str, value: str) -> None:
        """Set a value of the ledger's ``meta`` table."""
        self._write([("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))])


def _select(columns: str, where: str, tail: str = "") -> str:
    """A SELECT on ``calls``: every part a constant, or a ``_where`` clause of placeholders."""
    return f"SELECT {columns} FROM calls{where}{tail}"  # noqa: S608 - no value is interpolated


def _delete(where: str) -> str:
    """A DELETE on ``calls`` with a ``_where`` clause (placeholders only)."""
    return f"DELETE FROM calls{where}"  # noqa: S608 - no value is interpolated


def _normalized(target: str) -> str:
    try:
        return ledger_target(target)
    except ValueError:  # pragma: no cover - version 1 stored only checked base URLs
        return target


def _create_private(path: Path) -> None:
    """Create the file with mode 0600 if it does not exist (SQLite matches it for -wal/-shm)."""
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    except FileExistsError:
        return
    os.close(fd)
