"""``fbcli ledger`` in this process (CliRunner): every subcommand, its JSON, its mistakes."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from fbcli.ledger import Ledger, LedgerStatus, default_ledger_path, ledger_target
from fbcli.lock import LedgerLock
from tests.support import RunCli

PROD = "https://mapi.fbot.me"
SANDBOX = "https://mapi.fbot-sandbox.me"


def state() -> Path:
    return Path(os.environ["FBCLI_STATE_DIR"])


def make(target: str, rows: dict[str, LedgerStatus], *, path: Path | None = None) -> Path:
    """A ledger of ``target`` (its default one, unless ``path``) with these calls."""
    path = path or default_ledger_path(ledger_target(target), state())
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    path.parent.parent.chmod(0o700)
    with Ledger(path, target=ledger_target(target)) as ledger:
        for key, status in rows.items():
            ledger.record(
                key=key,
                subscription="Purchases",
                action="trackPurchase",
                source="e.jsonl",
                line=1,
                status=status,
                http_status=None if status == "unknown" else 201,
                attempts=1,
                event_id=None,
                message="no answer" if status == "unknown" else None,
            )
    return path


def lines(text: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in text.splitlines()]


def test_status_lists_every_ledger_and_target(run_cli: RunCli) -> None:
    empty = run_cli("ledger", "status")
    assert (empty.exit_code, empty.stdout.strip()) == (0, "no calls recorded yet")
    make(PROD, {"m-1": "sent", "m-2": "unknown"})
    make(SANDBOX, {"m-1": "failed"})
    result = run_cli("ledger", "status", "--format", "json")
    assert result.exit_code == 0
    rows = json.loads(result.stdout)["ledgers"]
    assert sorted((r["target"], r["sent"], r["unknown"], r["failed"]) for r in rows) == [
        (ledger_target(SANDBOX), 0, 0, 1),  # ledgers in file name order
        (ledger_target(PROD), 1, 1, 0),
    ]
    table = run_cli("ledger", "status")
    assert "https://mapi.fbot.me" in table.stdout
    assert "https://mapi.fbot-sandbox.me" in table.stdout
    one = run_cli("ledger", "status", "--target", SANDBOX, "--format", "json")
    assert [r["target"] for r in json.loads(one.stdout)["ledgers"]] == [SANDBOX]


def test_list_filters_and_draws_a_table(run_cli: RunCli) -> None:
    make(PROD, {f"m-{n}": ("unknown" if n % 3 == 0 else "sent") for n in range(10)})
    result = run_cli("ledger", "list", "--status", "unknown", "--format", "json")
    assert result.exit_code == 0
    assert sorted(str(r["key"]) for r in lines(result.stdout)) == ["m-0", "m-3", "m-6", "m-9"]
    keyed = run_cli("ledger", "list", "m-1", "m-2", "-f", "json")
    assert [r["key"] for r in lines(keyed.stdout)] == ["m-1", "m-2"]
    table = run_cli("ledger", "list", "--limit", "3")
    assert "… 7 more (--limit, or --format json)" in table.stdout
    assert table.stdout.strip().endswith("10 calls")
    assert "Purchases → trackPurchase" in table.stdout


def test_resolve_forget_and_rename(run_cli: RunCli) -> None:
    make(PROD, {"m-1": "unknown", "m-2": "unknown", "m-3": "sent"})
    done = run_cli("ledger", "resolve", "m-1", "--as", "delivered")
    assert (done.exit_code, done.stdout.strip()) == (0, "1 call marked delivered")
    again = run_cli("ledger", "resolve", "m-2", "m-9", "--as", "not-delivered", "-f", "json")
    assert json.loads(again.stdout) == {"changed": 1}
    none = run_cli("ledger", "resolve", "m-9", "--as", "delivered")
    assert none.exit_code == 1  # nothing changed: the key is not there
    keys = run_cli("ledger", "resolve", "--as", "delivered")
    assert keys.exit_code == 2
    assert "give their KEYs" in keys.stderr
    statuses = {
        r["key"]: r["status"] for r in lines(run_cli("ledger", "list", "-f", "json").stdout)
    }
    assert statuses == {"m-1": "sent", "m-2": "failed", "m-3": "sent"}
    moved = run_cli("ledger", "rename", "Purchases", "Track Purchase")
    assert moved.stdout.strip() == "3 calls moved from 'Purchases' to 'Track Purchase'"
    gone = run_cli("ledger", "forget", "m-3", "--subscription", "Track Purchase")
    assert (gone.exit_code, gone.stdout.strip()) == (0, "1 call forgotten")
    whole = run_cli("ledger", "forget", "--subscription", "Track Purchase", "-f", "json")
    assert json.loads(whole.stdout) == {"changed": 2}
    nothing = run_cli("ledger", "forget")
    assert nothing.exit_code == 2
    assert "say which calls to forget" in nothing.stderr


def test_changes_wait_for_no_replay(run_cli: RunCli) -> None:
    path = make(PROD, {"m-1": "unknown"})
    with LedgerLock(path, command="fbcli replay"):
        result = run_cli("ledger", "resolve", "m-1", "--as", "delivered")
    assert result.exit_code == 2
    assert "the ledger is in use by another fbcli" in result.stderr
    assert "run this again when it has finished" in result.stderr
    assert run_cli("ledger", "list", "-f", "json").exit_code == 0  # looking needs no lock


def test_which_ledger(run_cli: RunCli, tmp_path: Path) -> None:
    none = run_cli("ledger", "list")
    assert none.exit_code == 2
    assert "there is no ledger yet" in none.stderr
    make(PROD, {"m-1": "sent"})
    make(SANDBOX, {"m-1": "sent"})
    two = run_cli("ledger", "list")
    assert two.exit_code == 2
    assert "there are 2 ledgers: say which with --target URL or --emulator" in two.stderr
    both = run_cli("ledger", "list", "--target", PROD, "--emulator")
    assert both.exit_code == 2
    assert "give --target or --emulator, not both" in both.stderr
    bad = run_cli("ledger", "list", "--target", "http://example.com")
    assert bad.exit_code == 2
    assert "plain http is only allowed to this machine" in bad.stderr
    kept = make(PROD, {"m-7": "sent"}, path=tmp_path / "kept.sqlite")
    mixed = tmp_path / "mixed.sqlite"
    make(PROD, {"a": "sent"}, path=mixed)
    make(SANDBOX, {"b": "unknown"}, path=mixed)
    which = run_cli("ledger", "resolve", "b", "--as", "delivered", "--ledger", str(mixed))
    assert which.exit_code == 2
    assert "the ledger holds calls for 2 targets: say which with --target URL" in which.stderr
    told = run_cli(
        "ledger", "resolve", "b", "--as", "delivered", "--ledger", str(mixed), "--target", SANDBOX
    )
    assert told.exit_code == 0
    missing = run_cli("ledger", "forget", "x", "--ledger", str(tmp_path / "nope.sqlite"))
    assert missing.exit_code == 2
    assert "there is no ledger here" in missing.stderr
    merged = run_cli("ledger", "merge", str(kept), "--target", PROD)
    assert merged.stdout.strip() == f"1 call taken from {kept}"
    untargeted = run_cli("ledger", "merge", str(kept), "--ledger", str(tmp_path / "x.sqlite"))
    assert untargeted.exit_code == 2
    assert "say which target's ledger takes them" in untargeted.stderr
    fresh = run_cli("ledger", "merge", str(kept), "--emulator", "-f", "json")
    assert json.loads(fresh.stdout) == {"changed": 0}  # kept holds production calls only


@pytest.mark.parametrize("command", ["status", "list"])
def test_a_relative_state_folder_is_refused(
    run_cli: RunCli, monkeypatch: pytest.MonkeyPatch, command: str
) -> None:
    monkeypatch.setenv("FBCLI_STATE_DIR", "relative")
    result = run_cli("ledger", command)
    assert result.exit_code == 2
    assert "FBCLI_STATE_DIR must be an absolute path" in result.stderr
