"""The replay ledger: what was delivered, so nothing is sent twice or lost.

A SQLite file (stdlib ``sqlite3``) in WAL mode with ``synchronous=FULL``: each
call's outcome is committed as the call finishes, so a crash, a Ctrl-C or a
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

The target is the MAPI base URL the calls went to, so a replay to a sandbox
does not count as delivered to production.  The event key is the event's
``messageId`` or, without one, ``sha256:`` and the hash of its canonical JSON.
The ledger holds no secret and no token; it is created with mode 0600 because
MAPI's messages may echo customer data.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final, Literal

from fbcli.errors import ConfigError

SCHEMA_VERSION: Final = 1
BUSY_TIMEOUT_MS: Final = 5000
"""How long to wait for another process that holds the ledger's write lock."""
LedgerStatus = Literal["sent", "failed", "unknown"]
_DAMAGED_HINT: Final = (
    "restore the ledger from a copy; a new --ledger path knows nothing sent, so every call "
    "would be sent again"
)

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


def event_key(data: Mapping[str, Any], message_id: str | None) -> str:
    """The ledger key of an event: its ``messageId``, or a hash of its canonical JSON."""
    if message_id:
        return message_id
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return "sha256:" + hashlib.sha256(canonical.encode("utf-8", "surrogatepass")).hexdigest()


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


def default_ledger_path(first_input: str) -> Path:
    """``<input>.fbcli-ledger.sqlite`` next to the first input."""
    return Path(f"{first_input}.fbcli-ledger.sqlite")


def _create_private(path: Path) -> None:
    """Create the file with mode 0600 if it does not exist (SQLite matches it for -wal/-shm)."""
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    except FileExistsError:
        return
    os.close(fd)


class Ledger:
    """The ledger file, opened for one run and one target; used from one thread.

    Opening checks, before anything is written to an existing file, that it is
    SQLite, that it is a ledger (an SQLite file of another program is left
    alone), that its schema version is this one and that SQLite's
    ``quick_check`` finds it whole (a truncated or garbled file is refused
    before anything is sent, not found out after the first call; about 1.5 s
    for a ledger of a million calls).  Then it must be writable: a read-only
    file or folder, or a full disk, is found out here too.  Every SQLite or
    file system problem, then and later, is a ``ConfigError`` naming the file,
    with a hint that fits it (read-only, disk full, damaged, locked).
    """

    def __init__(
        self,
        path: Path,
        *,
        target: str,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.path = path
        self.target = target
        self._now = now
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
        """Check the file (reading only), then switch to WAL and create what is missing."""
        try:
            self._db.execute(f"PRAGMA busy_timeout={int(BUSY_TIMEOUT_MS)}")
            self._check()
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.execute("BEGIN IMMEDIATE")
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    self._db.execute(statement)
            self._db.execute(
                "INSERT OR IGNORE INTO meta (key, value) VALUES ('version', ?)",
                (str(SCHEMA_VERSION),),
            )
            self._db.execute("COMMIT")
        except sqlite3.Error as exc:
            raise self._error("cannot use the ledger", exc) from None

    def _check(self) -> None:
        """An empty file, or a ledger of this schema version; anything else is left alone."""
        tables = {row[0] for row in self._db.execute("SELECT name FROM sqlite_master")}
        if tables and "meta" not in tables:
            raise ConfigError(
                "this SQLite file is not an fbcli ledger",
                where=str(self.path),
                hint="give another --ledger path",
            )
        if "meta" in tables:
            row = self._db.execute("SELECT value FROM meta WHERE key = 'version'").fetchone()
            if row is not None and str(row[0]) != str(SCHEMA_VERSION):
                raise ConfigError(
                    f"the ledger has version {row[0]}; this fbcli reads version {SCHEMA_VERSION}",
                    where=str(self.path),
                    hint="use the fbcli that wrote it, or give another --ledger path",
                )
        if tables:
            problems = [str(row[0]) for row in self._db.execute("PRAGMA quick_check")]
            if problems != ["ok"]:
                first = " ".join(problems[0].removeprefix("*** in database main ***").split())
                raise ConfigError(
                    f"the ledger is damaged: {first[:200]}",
                    where=str(self.path),
                    hint=_DAMAGED_HINT,
                )

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
        elif name == "SQLITE_FULL" or name.startswith("SQLITE_IOERR"):
            text += "" if name == "SQLITE_FULL" else " (is the disk full?)"
            hint = "free some disk space and rerun (what the ledger holds is kept)"
        else:
            hint = _DAMAGED_HINT
        return ConfigError(f"{what}: {text}", where=str(self.path), hint=hint)

    def close(self) -> None:
        """Close the file (the WAL is checkpointed by SQLite)."""
        self._db.close()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def status_of(self, key: str, subscription: str) -> LedgerStatus | None:
        """The recorded status of a call, or ``None`` when it was never attempted."""
        try:
            row = self._db.execute(
                "SELECT status FROM calls WHERE target = ? AND event_key = ? AND subscription = ?",
                (self.target, key, subscription),
            ).fetchone()
        except sqlite3.Error as exc:
            raise self._error("cannot read the ledger", exc) from None
        return None if row is None else row[0]

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
    ) -> None:
        """Record (or update) one call's outcome and commit it at once."""
        now = self._now().astimezone(UTC).isoformat(timespec="milliseconds")
        try:
            self._db.execute(
                """
                INSERT INTO calls (target, event_key, subscription, action, source, line,
                                   status, http_status, attempts, event_id, message,
                                   first_attempt_at, last_attempt_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT (target, event_key, subscription) DO UPDATE SET
                    status = excluded.status,
                    http_status = excluded.http_status,
                    attempts = calls.attempts + excluded.attempts,
                    event_id = coalesce(excluded.event_id, calls.event_id),
                    message = excluded.message,
                    source = excluded.source,
                    line = excluded.line,
                    last_attempt_at = excluded.last_attempt_at
                """,
                (
                    self.target,
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
        except sqlite3.Error as exc:
            raise self._error("cannot write the ledger", exc) from None

    def entries(self) -> Iterator[LedgerEntry]:
        """Every recorded call."""
        try:
            cursor = self._db.execute(
                "SELECT event_key, subscription, action, source, line, status, http_status, "
                "attempts, event_id, message, first_attempt_at, last_attempt_at FROM calls "
                "WHERE target = ? ORDER BY first_attempt_at, rowid",
                (self.target,),
            )
            for row in cursor:
                yield LedgerEntry(*row)
        except sqlite3.Error as exc:
            raise self._error("cannot read the ledger", exc) from None

    def counts(self) -> dict[str, int]:
        """How many calls have each status."""
        try:
            rows = self._db.execute(
                "SELECT status, count(*) FROM calls WHERE target = ? GROUP BY status",
                (self.target,),
            ).fetchall()
        except sqlite3.Error as exc:
            raise self._error("cannot read the ledger", exc) from None
        return dict(rows)
