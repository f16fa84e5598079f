"""The replay ledger: a real SQLite file in a temporary directory."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sqlite3
import stat
import traceback
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

import fbcli.ledger
from fbcli.errors import ConfigError
from fbcli.ledger import (
    SCHEMA_VERSION,
    Ambiguous,
    Found,
    Ledger,
    LedgerEntry,
    LedgerStatus,
    default_ledger_path,
    event_key,
    ledger_target,
    private_dir,
)

PROD = "https://mapi.fbot.me"
SANDBOX = "https://mapi.fbot-sandbox.me"
START = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)


class Now:
    """A wall clock that moves only when told to."""

    def __init__(self) -> None:
        self.at = START

    def __call__(self) -> datetime:
        return self.at


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "events.jsonl.fbcli-ledger.sqlite"


@pytest.fixture
def ledger(path: Path) -> Iterator[Ledger]:
    with Ledger(path, target=PROD) as opened:
        yield opened


def record(
    ledger: Ledger,
    key: str = "m-1",
    subscription: str = "purchase",
    status: LedgerStatus = "sent",
    **fields: Any,
) -> None:
    values: dict[str, Any] = {
        "action": "trackPurchase",
        "source": "events.jsonl",
        "line": 1,
        "http_status": 201,
        "attempts": 1,
        "event_id": None,
        "message": None,
    }
    values.update(fields)
    ledger.record(key=key, subscription=subscription, status=status, **values)


def mode(file: Path) -> int:
    return stat.S_IMODE(file.stat().st_mode)


def problem_texts(exc: BaseException) -> list[str]:
    return [str(exc), "".join(traceback.format_exception(exc))]


# -- recording ------------------------------------------------------------------------------


def test_record_then_update_accumulates_attempts_and_keeps_the_event_id(path: Path) -> None:
    now = Now()
    with Ledger(path, target=PROD, now=now) as ledger:
        assert ledger.status_of("m-1", "purchase") is None
        record(ledger, status="failed", http_status=503, attempts=3, message="HTTP 503")
        assert ledger.status_of("m-1", "purchase") == "failed"
        now.at = START + timedelta(minutes=5)
        record(ledger, status="sent", http_status=201, attempts=1, event_id="e-1", line=7)
        now.at = START + timedelta(minutes=9)
        record(ledger, status="unknown", http_status=None, attempts=2, message="no answer")
        (entry,) = ledger.entries()
    assert entry == LedgerEntry(
        event_key="m-1",
        subscription="purchase",
        action="trackPurchase",
        source="events.jsonl",
        line=1,
        status="unknown",
        http_status=None,
        attempts=6,
        event_id="e-1",
        message="no answer",
        first_attempt_at="2030-01-01T12:00:00.000+00:00",
        last_attempt_at="2030-01-01T12:09:00.000+00:00",
        target=PROD,
    )


def test_times_are_stored_in_utc(path: Path) -> None:
    plus_two = timezone(timedelta(hours=2))
    with Ledger(path, target=PROD, now=lambda: datetime(2030, 1, 1, 14, tzinfo=plus_two)) as led:
        record(led)
        (entry,) = led.entries()
    assert entry.first_attempt_at == "2030-01-01T12:00:00.000+00:00"


def test_default_clock_is_now_in_utc(ledger: Ledger) -> None:
    before = datetime.now(UTC)
    record(ledger)
    (entry,) = ledger.entries()
    recorded = datetime.fromisoformat(entry.first_attempt_at)
    assert recorded.utcoffset() == timedelta(0)
    assert before - timedelta(seconds=1) <= recorded <= datetime.now(UTC)


def test_subscriptions_are_separate_calls(ledger: Ledger) -> None:
    record(ledger, subscription="purchase", status="sent")
    record(ledger, subscription="customer", status="failed")
    assert ledger.status_of("m-1", "purchase") == "sent"
    assert ledger.status_of("m-1", "customer") == "failed"
    assert ledger.status_of("m-2", "purchase") is None


def test_counts_and_entries_in_order(path: Path) -> None:
    now = Now()
    with Ledger(path, target=PROD, now=now) as ledger:
        assert ledger.counts() == {}
        assert list(ledger.entries()) == []
        statuses: tuple[LedgerStatus, ...] = ("sent", "failed", "sent", "unknown")
        for n, status in enumerate(statuses):
            now.at = START + timedelta(seconds=n)
            record(ledger, key=f"m-{n}", status=status)
        assert ledger.counts() == {"sent": 2, "failed": 1, "unknown": 1}
        assert [(e.event_key, e.status) for e in ledger.entries()] == [
            ("m-0", "sent"),
            ("m-1", "failed"),
            ("m-2", "sent"),
            ("m-3", "unknown"),
        ]


def test_targets_do_not_see_each_other(path: Path) -> None:
    with Ledger(path, target=PROD) as prod, Ledger(path, target=SANDBOX) as sandbox:
        record(sandbox, status="sent", event_id="e-sandbox")
        assert prod.status_of("m-1", "purchase") is None
        assert prod.counts() == {}
        assert list(prod.entries()) == []
        record(prod, status="failed")
        assert sandbox.status_of("m-1", "purchase") == "sent"
        assert prod.status_of("m-1", "purchase") == "failed"
        assert sandbox.counts() == {"sent": 1}
        assert [e.event_id for e in sandbox.entries()] == ["e-sandbox"]


def test_reopening_keeps_everything(path: Path) -> None:
    with Ledger(path, target=PROD) as ledger:
        record(ledger, status="sent", event_id="e-1", message=None)
        record(ledger, key="m-2", status="failed", http_status=400, message="bad email")
        before = list(ledger.entries())
    with Ledger(path, target=PROD) as ledger:
        assert list(ledger.entries()) == before
        assert ledger.status_of("m-2", "purchase") == "failed"
        assert ledger.counts() == {"sent": 1, "failed": 1}


def test_a_status_outside_the_three_is_refused(ledger: Ledger) -> None:
    with pytest.raises(ConfigError, match="cannot write the ledger: CHECK constraint failed"):
        record(ledger, status="delivered")  # type: ignore[arg-type]
    assert ledger.counts() == {}


# -- event keys -----------------------------------------------------------------------------


def test_event_key_is_the_message_id() -> None:
    assert event_key({"messageId": "abc", "x": 1}, "abc") == "abc"


def test_event_key_without_message_id_hashes_canonical_json() -> None:
    data = {"type": "track", "properties": {"b": 2, "a": [1, "é"]}}
    canonical = '{"properties":{"a":[1,"é"],"b":2},"type":"track"}'
    expected = "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()
    assert event_key(data, None) == expected
    assert event_key(data, "") == expected
    reordered = {"properties": {"a": [1, "é"], "b": 2}, "type": "track"}
    assert event_key(reordered, None) == expected
    assert event_key({**data, "type": "page"}, None) != expected
    assert event_key({"properties": {"a": [1, "e"], "b": 2}, "type": "track"}, None) != expected


def test_event_key_survives_a_lone_surrogate() -> None:
    data = json.loads('{"name": "\\ud800"}')
    assert event_key(data, None).startswith("sha256:")
    assert event_key(data, None) != event_key({"name": "?"}, None)


def test_default_ledger_path_is_one_per_target_in_the_state_folder() -> None:
    state = Path("/state")
    prod = default_ledger_path(ledger_target("https://mapi.fbot.me"), state)
    assert prod.parent == state / "ledgers"
    assert prod.name.startswith("mapi.fbot.me-")
    assert prod.suffix == ".sqlite"
    assert default_ledger_path(ledger_target("https://MAPI.fbot.me:443/"), state) == prod
    sandbox = default_ledger_path(ledger_target("https://mapi.fbot-sandbox.me"), state)
    assert sandbox != prod
    assert default_ledger_path("emulator", state) == state / "ledgers" / "emulator.sqlite"
    local = {
        default_ledger_path(ledger_target(url), state)
        for url in ("http://localhost:8080", "http://127.0.0.1:8080/", "http://[::1]:8080")
    }
    assert len(local) == 1


@pytest.mark.parametrize(
    ("url", "target"),
    [
        ("https://mapi.fbot.me", "https://mapi.fbot.me"),
        ("https://mapi.fbot.me/", "https://mapi.fbot.me"),
        ("HTTPS://MAPI.FBOT.ME:443", "https://mapi.fbot.me"),
        ("https://mapi.fbot.me.:8443/", "https://mapi.fbot.me:8443"),
        ("https://mapi.fbot.me/v2/", "https://mapi.fbot.me/v2"),
        ("http://localhost", "http://localhost"),
        ("http://localhost:80/", "http://localhost"),
        ("http://127.0.0.1:8080", "http://localhost:8080"),
        ("http://[::1]:8080", "http://localhost:8080"),
        ("http://[::ffff:127.0.0.1]:8080", "http://localhost:8080"),
        ("http://127.0.0.2:8080", "http://127.0.0.2:8080"),
        ("https://[2001:DB8:0:0::1]:443", "https://[2001:db8::1]"),
        ("emulator", "emulator"),
    ],
)
def test_ledger_target_normalizes_a_base_url(url: str, target: str) -> None:
    assert ledger_target(url) == target


# -- the file -------------------------------------------------------------------------------


@pytest.fixture
def open_umask() -> Iterator[None]:
    """A umask that hides nothing: the 0600 must come from the ledger itself."""
    old = os.umask(0)
    yield
    os.umask(old)


@pytest.mark.usefixtures("open_umask")
def test_file_and_its_wal_and_shm_are_private(path: Path) -> None:
    with Ledger(path, target=PROD) as ledger:
        record(ledger)
        files = [path, Path(f"{path}-wal"), Path(f"{path}-shm")]
        assert all(file.exists() for file in files)
        assert [mode(file) for file in files] == [0o600] * 3


def test_wal_mode_and_full_sync(ledger: Ledger, path: Path) -> None:
    record(ledger)
    assert ledger._db.execute("PRAGMA synchronous").fetchone() == (2,)  # FULL
    other = sqlite3.connect(path)
    try:
        assert other.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        # Committed at once: another connection sees the row while the ledger is open.
        assert other.execute("SELECT status FROM calls").fetchall() == [("sent",)]
        assert other.execute("SELECT value FROM meta").fetchall() == [(str(SCHEMA_VERSION),)]
    finally:
        other.close()


def test_an_existing_file_keeps_its_mode(path: Path) -> None:
    path.touch(mode=0o640)
    path.chmod(0o640)
    Ledger(path, target=PROD).close()
    assert mode(path) == 0o640


def test_no_secret_in_the_file(path: Path) -> None:
    secret = "mapi-secret-5b1f0c9e7d2a4e68"
    message = "HTTP 400: required field 'email' is missing (reference 1c9d)"
    with Ledger(path, target=PROD) as ledger:
        record(ledger, status="failed", http_status=400, message=message)
        record(ledger, key="m-2", status="sent", event_id="e-2")
        raw = path.read_bytes() + Path(f"{path}-wal").read_bytes()
        assert message.encode() in raw
        assert secret.encode() not in raw
    raw = path.read_bytes()  # checkpointed on close
    assert message.encode() in raw
    assert secret.encode() not in raw


# -- files that cannot be used --------------------------------------------------------------


def test_a_file_that_is_not_sqlite_is_a_config_error(path: Path) -> None:
    garbage = os.urandom(4096)
    path.write_bytes(garbage)
    with pytest.raises(ConfigError) as caught:
        Ledger(path, target=PROD)
    exc = caught.value
    assert str(exc) == f"cannot use the ledger: file is not a database ({path})"
    assert exc.hint is not None
    assert "\n" not in str(exc)
    assert exc.__cause__ is None
    assert exc.__suppress_context__
    assert "DatabaseError" not in problem_texts(exc)[1]
    assert path.read_bytes() == garbage


def test_another_programs_sqlite_file_is_left_alone(path: Path) -> None:
    with sqlite3.connect(path) as other:
        other.execute("CREATE TABLE users (name TEXT)")
    other.close()
    before = path.read_bytes()
    with pytest.raises(ConfigError, match="not an fbcli ledger"):
        Ledger(path, target=PROD)
    assert path.read_bytes() == before
    assert not Path(f"{path}-wal").exists()


def test_a_ledger_from_a_future_version_is_refused(path: Path) -> None:
    with Ledger(path, target=PROD) as ledger:
        record(ledger)
    with sqlite3.connect(path) as db:
        db.execute("UPDATE meta SET value = '3' WHERE key = 'version'")
    db.close()
    with pytest.raises(ConfigError) as caught:
        Ledger(path, target=PROD)
    assert str(caught.value) == (
        f"the ledger has version 3; this fbcli reads versions 1 to {SCHEMA_VERSION} ({path})"
    )
    assert caught.value.hint is not None


def test_a_ledger_without_a_version_row_gets_one(path: Path) -> None:
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
    db.close()
    Ledger(path, target=PROD).close()
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT value FROM meta").fetchall() == [(str(SCHEMA_VERSION),)]
    db.close()


def test_an_empty_file_becomes_a_ledger(path: Path) -> None:
    path.write_bytes(b"")
    with Ledger(path, target=PROD) as ledger:
        record(ledger)
        assert ledger.counts() == {"sent": 1}


@pytest.mark.parametrize(
    ("where", "message"),
    [
        ("missing/dir/ledger.sqlite", "cannot create the ledger: No such file or directory"),
        ("a-file/ledger.sqlite", "cannot create the ledger: Not a directory"),
        ("a-dir", "the ledger is a folder"),
    ],
)
def test_unusable_paths_are_config_errors(tmp_path: Path, where: str, message: str) -> None:
    (tmp_path / "a-file").write_text("x")
    (tmp_path / "a-dir").mkdir()
    with pytest.raises(ConfigError) as caught:
        Ledger(tmp_path / where, target=PROD)
    assert str(caught.value) == f"{message} ({tmp_path / where})"
    assert "Traceback" not in str(caught.value)


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only directories")
def test_a_read_only_directory_is_a_config_error(tmp_path: Path) -> None:
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    try:
        with pytest.raises(ConfigError, match="cannot create the ledger: Permission denied"):
            Ledger(locked / "ledger.sqlite", target=PROD)
    finally:
        locked.chmod(0o700)


def test_a_ledger_locked_by_another_process_says_so(
    path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(fbcli.ledger, "BUSY_TIMEOUT_MS", 20)
    Ledger(path, target=PROD).close()
    other = sqlite3.connect(path, isolation_level=None)
    try:
        other.execute("BEGIN EXCLUSIVE")
        with pytest.raises(ConfigError, match="database is locked") as caught:
            Ledger(path, target=PROD)
        assert caught.value.hint is not None
        assert "another fbcli" in caught.value.hint
    finally:
        other.close()


def test_a_closed_ledger_reports_config_errors(path: Path) -> None:
    ledger = Ledger(path, target=PROD)
    ledger.close()
    with pytest.raises(ConfigError, match="cannot write the ledger"):
        record(ledger)
    with pytest.raises(ConfigError, match="cannot read the ledger"):
        ledger.status_of("m-1", "purchase")
    with pytest.raises(ConfigError, match="cannot read the ledger"):
        ledger.counts()
    with pytest.raises(ConfigError, match="cannot read the ledger"):
        list(ledger.entries())


# -- damage, a full disk, read-only: each with a hint that fits -------------------------------


def test_quick_check_problems_are_reported_in_one_line(tmp_path: Path) -> None:
    ledger = tmp_path / "ledger.sqlite"
    with Ledger(ledger, target=PROD) as opened:
        for n in range(300):
            opened.record(
                key=f"m-{n}",
                subscription="s",
                action="trackPurchase",
                source="e.jsonl",
                line=n,
                status="sent",
                http_status=201,
                attempts=1,
                event_id=None,
                message=None,
            )
    data = bytearray(ledger.read_bytes())
    data[36:40] = (3).to_bytes(4, "big")  # the header's count of free pages
    ledger.write_bytes(bytes(data))
    with pytest.raises(ConfigError) as caught:
        Ledger(ledger, target=PROD)
    assert str(caught.value) == (
        f"the ledger is damaged: Main freelist: size is 0 but should be 3 ({ledger})"
    )


def test_a_truncated_ledger_is_refused_at_open(path: Path) -> None:
    with Ledger(path, target=PROD) as ledger:
        for n in range(300):
            record(ledger, key=f"m-{n}")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ConfigError) as caught:
        Ledger(path, target=PROD)
    assert str(caught.value) == f"cannot use the ledger: database disk image is malformed ({path})"
    assert caught.value.hint is not None
    assert caught.value.hint.startswith("restore the ledger from a copy")


def test_a_full_disk_names_itself(ledger: Ledger) -> None:
    """SQLite's own page limit stands for the disk: writes past it fail with SQLITE_FULL."""
    record(ledger)
    pages = ledger._db.execute("PRAGMA page_count").fetchone()[0]
    ledger._db.execute(f"PRAGMA max_page_count = {pages}")

    def fill() -> None:
        for n in range(1000):
            record(ledger, key=f"m-{n}-" + "x" * 200)

    with pytest.raises(ConfigError) as caught:
        fill()
    assert str(caught.value).startswith("cannot write the ledger: database or disk is full (")
    assert caught.value.hint == "free some disk space and rerun (what the ledger holds is kept)"
    assert ledger.status_of("m-1", "purchase") == "sent"  # what was committed stays


def test_a_read_only_ledger_names_itself(ledger: Ledger) -> None:
    ledger._db.execute("PRAGMA query_only = 1")
    with pytest.raises(ConfigError) as caught:
        record(ledger)
    assert str(caught.value).startswith(
        "cannot write the ledger: attempt to write a readonly database ("
    )
    assert caught.value.hint is not None
    assert caught.value.hint.startswith("make the ledger file and its folder writable")


@pytest.mark.parametrize("where", ["/dev/null", "fifo"])
def test_a_device_or_a_pipe_as_the_ledger_is_refused_before_it_is_opened(
    tmp_path: Path, where: str
) -> None:
    path = Path(where) if where.startswith("/") else tmp_path / where
    if where == "fifo":
        os.mkfifo(path)
    with pytest.raises(ConfigError) as caught:
        Ledger(path, target=PROD)
    assert str(caught.value) == f"the ledger is not a regular file (a device or a pipe) ({path})"


def test_a_directory_as_the_ledger_gets_a_hint(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        Ledger(tmp_path, target=PROD)
    assert caught.value.hint == "give a file in a folder you can write to as --ledger PATH"


# -- following renamed subscriptions --------------------------------------------------------


def test_lookup_finds_the_call_under_its_name(ledger: Ledger) -> None:
    record(ledger, subscription="Purchases", status="sent")
    found = ledger.lookup("m-1", "Purchases", "trackPurchase", known={"Purchases"}, alone=True)
    assert found == Found("sent", "Purchases")
    assert (
        ledger.lookup("m-2", "Purchases", "trackPurchase", known={"Purchases"}, alone=True) is None
    )


def test_lookup_follows_a_rename_when_the_evidence_is_unambiguous(ledger: Ledger) -> None:
    record(ledger, subscription="Purchases", status="sent")
    known = {"Track Purchase", "Customers"}
    found = ledger.lookup("m-1", "Track Purchase", "trackPurchase", known=known, alone=True)
    assert found == Found("sent", "Purchases")
    # Not alone (two purchase calls for the event now): which is which cannot be told.
    assert ledger.lookup(
        "m-1", "Track Purchase", "trackPurchase", known=known, alone=False
    ) == Ambiguous(("Purchases",))
    # A row of a name the mapping still has is that subscription's, never another's.
    assert (
        ledger.lookup(
            "m-1", "Track Purchase", "trackPurchase", known={*known, "Purchases"}, alone=True
        )
        is None
    )
    # Another action's row is not this call's.
    assert ledger.lookup("m-1", "Sign-ups", "trackSignUp", known=known, alone=True) is None


def test_lookup_with_two_renamed_rows_is_ambiguous(ledger: Ledger) -> None:
    record(ledger, subscription="Downloads", status="sent", action="trackCustomEvent")
    record(ledger, subscription="Videos", status="failed", action="trackCustomEvent")
    found = ledger.lookup("m-1", "Events", "trackCustomEvent", known={"Events"}, alone=True)
    assert found == Ambiguous(("Downloads", "Videos"))


def test_recording_a_renamed_call_moves_its_row(ledger: Ledger) -> None:
    record(ledger, subscription="Purchases", status="failed", attempts=2)
    record(ledger, subscription="Track Purchase", status="sent", renamed_from="Purchases")
    (entry,) = ledger.entries()
    assert (entry.subscription, entry.status, entry.attempts) == ("Track Purchase", "sent", 3)
    record(ledger, key="m-2", subscription="Purchases", status="sent")
    ledger.follow_rename("m-2", "Purchases", "Track Purchase")
    assert ledger.status_of("m-2", "Track Purchase") == "sent"
    assert ledger.status_of("m-2", "Purchases") is None


# -- changes by hand ------------------------------------------------------------------------


def test_mark_forget_and_rename(path: Path) -> None:
    now = Now()
    with Ledger(path, target=PROD, now=now) as ledger:
        record(ledger, key="m-1", status="unknown", message="no answer")
        record(ledger, key="m-2", status="unknown", message=None)
        record(ledger, key="m-3", status="sent")
        now.at = START + timedelta(hours=1)
        assert ledger.mark(["m-1", "m-9"], "sent", note="marked delivered by hand") == 1
        assert ledger.mark(["m-2"], "failed", note="marked not-delivered by hand") == 1
        entries = {e.event_key: e for e in ledger.entries()}
        assert entries["m-1"].status == "sent"
        assert entries["m-1"].message == "marked delivered by hand (was unknown: no answer)"
        assert entries["m-1"].last_attempt_at == "2030-01-01T13:00:00.000+00:00"
        assert entries["m-2"].message == "marked not-delivered by hand (was unknown)"
        assert ledger.forget(["m-3"]) == 1
        assert ledger.status_of("m-3", "purchase") is None
        assert ledger.rename("purchase", "Purchases") == 2
        assert ledger.status_of("m-1", "Purchases") == "sent"
        assert ledger.forget_subscription("Purchases") == 2
        assert ledger.counts() == {}


def test_rename_onto_an_existing_row_keeps_the_safer_status(ledger: Ledger) -> None:
    record(ledger, subscription="old", status="sent")
    record(ledger, subscription="new", status="failed")
    assert ledger.rename("old", "new") == 1
    assert [(e.subscription, e.status) for e in ledger.entries()] == [("new", "sent")]


def test_a_sandbox_row_is_not_marked_from_production(path: Path) -> None:
    with Ledger(path, target=SANDBOX) as sandbox:
        record(sandbox, status="unknown")
    with Ledger(path, target=PROD) as prod:
        assert prod.mark(["m-1"], "sent", note="x") == 0
    with Ledger(path, target=None) as every:
        assert every.counts_by_target() == {SANDBOX: {"unknown": 1}}


# -- merging and upgrading ------------------------------------------------------------------


def test_merging_keeps_the_safer_status_of_each_call(tmp_path: Path) -> None:
    mine, other = tmp_path / "mine.sqlite", tmp_path / "other.sqlite"
    with Ledger(mine, target=PROD) as ledger:
        record(ledger, key="a", status="failed")
        record(ledger, key="b", status="sent", event_id="e-b")
        record(ledger, key="c", status="unknown")
    with Ledger(other, target=PROD + "/") as ledger:  # another spelling: normalized on merge
        record(ledger, key="a", status="sent", event_id="e-a")
        record(ledger, key="b", status="failed")
        record(ledger, key="c", status="failed")
        record(ledger, key="d", status="unknown")
    with Ledger(other, target=SANDBOX) as ledger:
        record(ledger, key="s", status="sent")
    with Ledger(mine, target=PROD) as ledger:
        assert ledger.merge_from(other, only_target=True) == 4
        statuses = {e.event_key: (e.status, e.event_id) for e in ledger.entries()}
    assert statuses == {
        "a": ("sent", "e-a"),
        "b": ("sent", "e-b"),
        "c": ("unknown", None),
        "d": ("unknown", None),
    }


def test_a_version_1_ledger_is_upgraded_with_its_targets_normalized(path: Path) -> None:
    with Ledger(path, target="http://127.0.0.1:8080/") as ledger:
        record(ledger, key="a", status="sent")
    with Ledger(path, target="http://localhost:8080") as ledger:
        record(ledger, key="a", status="failed")
        record(ledger, key="b", status="unknown")
    with contextlib.closing(sqlite3.connect(path)) as db, db:
        db.execute("UPDATE meta SET value = '1' WHERE key = 'version'")
    with Ledger(path, target=ledger_target("http://[::1]:8080")) as ledger:
        assert ledger.meta("version") == str(SCHEMA_VERSION)
        assert {e.event_key: e.status for e in ledger.entries()} == {"a": "sent", "b": "unknown"}


# -- permissions ----------------------------------------------------------------------------


def test_a_ledger_others_may_write_is_refused(path: Path) -> None:
    Ledger(path, target=PROD).close()
    path.chmod(0o662)
    with pytest.raises(ConfigError) as caught:
        Ledger(path, target=PROD)
    assert str(caught.value) == f"the ledger can be written by other users (mode 0662) ({path})"
    assert caught.value.hint == f"chmod go-w {path}"


@pytest.mark.skipif(os.geteuid() != 0, reason="only root can give a file to another user")
def test_a_ledger_of_another_user_is_refused(path: Path) -> None:
    Ledger(path, target=PROD).close()
    os.chown(path, 4321, 4321)
    with pytest.raises(ConfigError, match=r"the ledger belongs to another user \(uid 4321\)"):
        Ledger(path, target=PROD)


def test_the_state_folder_is_private_and_an_open_one_is_refused(tmp_path: Path) -> None:
    folder = private_dir(tmp_path / "state" / "fbcli")
    assert mode(folder) == 0o700
    folder.chmod(0o775)
    with pytest.raises(ConfigError, match=r"can be written by other users \(mode 0775\)"):
        private_dir(folder)
