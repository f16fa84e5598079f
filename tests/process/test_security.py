"""Security properties that cut across modules: docs/security.md states them, these hold them.

- no secret or token in any output or file, even after a bug (one end-to-end scan);
- the secret never on the command line: environment, --secret-file or a hidden prompt;
- TLS always verified, plain http only to loopback, redirects never followed;
- the emulator on loopback unless told otherwise, with a warning then;
- mapping and secret files read with size limits;
- files holding customer data created 0600, whatever the umask;
- every security lint exception justified.

Everything talks to real servers on 127.0.0.1 (the emulator, or a small stdlib server).
"""

from __future__ import annotations

import base64
import contextlib
import http.server
import json
import os
import re
import select
import shutil
import signal
import sqlite3
import ssl
import stat
import subprocess
import sys
import threading
import time
import tomllib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.main import get_command

import fbcli.emulator
from fbcli import redact
from fbcli.cli import MAX_YAML_BYTES, app
from fbcli.emulator import Emulator, EmulatorConfig, parse_faults
from fbcli.errors import ApiError, ConfigError
from fbcli.hosts import check_base_url, is_loopback
from fbcli.ledger import Ledger, default_ledger_path, ledger_target
from fbcli.mapi import Credentials, MapiClient
from fbcli.mappings import MAX_FILE_BYTES
from tests.support import REPO, RunCli

KEY = "5e1f0c2a-7d3b-4c9e-8a61-0f2b3c4d5e6f"
SECRET = "fbSEC+r3t/Q7x9Lm2Vw4Rt8Zp3Kd6Hy1"
"""Distinctive, with '+' and '/' so that its URL-quoted and base64 forms differ from it."""
WRONG_SECRET = "fbWRONG-5Jt2Nc8Xe6Ub0Wq4Ys7Ga9"

CHILD = r"""
import os, sys
os.umask(int(os.environ.get("FBCLI_TEST_UMASK", "022"), 8))
tokens = os.environ.get("FBCLI_TEST_TOKENS")
if tokens:
    import fbcli.emulator
    issue = fbcli.emulator.issue_token
    def recording(expires):
        token = issue(expires)
        with open(tokens, "a", encoding="utf-8") as out:
            out.write(token + "\n")
        return token
    fbcli.emulator.issue_token = recording
if os.environ.get("FBCLI_TEST_CRASH"):
    import fbcli.mapi
    def crash(self, path, content, token):
        canary = os.environ["FBCLI_TEST_CRASH"]
        secret = self._credentials.secret
        raise RuntimeError(f"a bug holding {token!r} and {secret} ({canary[:0]})")
    fbcli.mapi.MapiClient._post = crash
from fbcli.cli import main
sys.argv[0] = "fbcli"
main()
"""
"""Runs fbcli under a chosen umask, recording the tokens its own emulator issues, and
optionally with a bug: sending raises an error whose message holds the token and the secret
(and a local variable, the canary, that must not show)."""


def purchase(n: int, **properties: Any) -> dict[str, Any]:
    return {
        "type": "track",
        "event": "Order Completed",
        "messageId": f"m-{n}",
        "userId": f"u{n}",
        "properties": {"order_id": f"o{n}", "total": 10 + n, "currency": "USD", **properties},
    }


def identify(n: int, **traits: Any) -> dict[str, Any]:
    return {
        "type": "identify",
        "messageId": f"i-{n}",
        "userId": f"u{n}",
        "traits": {"email": f"u{n}@example.com", **traits},
    }


def write_events(path: Path, events: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(e) + "\n" for e in events), encoding="utf-8")
    return path


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


# -- what a secret looks like once encoded (written apart from fbcli.redact, to check it) --


def encoded_forms(value: str) -> set[bytes]:
    """The value, escaped, quoted, in hex, and in base64 at each of the three alignments."""
    raw = value.encode()
    found = {
        raw,
        quote(value, safe="").encode(),
        json.dumps(value)[1:-1].encode(),
        raw.hex().encode(),
    }
    for pad in range(3):
        for encode in (base64.b64encode, base64.urlsafe_b64encode):
            text = encode(b"\0" * pad + raw + b"\0\0")
            # Only characters made of the value's bits alone: skip the padding's, and the tail.
            first = -(-pad * 8 // 6)
            last = (pad + len(raw)) * 8 // 6
            found.add(text[first:last])
    found.add(base64.b64encode(raw))
    found.add(base64.b64encode(f"{KEY}:{value}".encode()))  # as HTTP basic auth would send it
    return found


def test_encoded_forms_find_a_value_inside_longer_base64() -> None:
    for prefix in (b"", b"x", b"xy", b"xyz"):
        blob = base64.b64encode(prefix + SECRET.encode() + b"tail")
        assert any(form in blob for form in encoded_forms(SECRET)), prefix


def test_redact_hides_a_value_and_its_encoded_forms() -> None:
    value = "redact-me+/Zq8Wv3Ld6Xn1"
    redact.hide(value)
    redact.hide("short")  # too short to hide: ordinary text is left alone
    texts = [
        value,
        json.dumps({"s": value}),
        quote(value, safe=""),
        repr(value),
        *(
            base64.b64encode(prefix + value.encode() + b"!").decode()
            for prefix in (b"", b"a", b"ab")
        ),
        base64.urlsafe_b64encode(value.encode()).decode(),
        value.encode().hex(),
    ]
    for text in texts:
        hidden = redact.redact(f"before {text} after")
        assert "<hidden>" in hidden, text
        assert all(form.decode() not in hidden for form in encoded_forms(value)), hidden
    assert redact.redact("a short word") == "a short word"


# -- the scan: every scenario, every artefact, no secret and no token ---------------------


@dataclass
class Artefacts:
    """Everything the scenarios produced: outputs, and the files under the test's tmp dir."""

    root: Path
    inputs: set[Path] = field(default_factory=set)
    """Files the test itself wrote that hold a secret on purpose (not scanned)."""
    outputs: dict[str, bytes] = field(default_factory=dict)
    tokens: list[str] = field(default_factory=list)
    """Tokens issued by the emulators of this process."""
    token_file: Path | None = None
    """Tokens issued by the emulators of child processes."""

    def all_tokens(self) -> list[str]:
        child = (
            self.token_file.read_text().split()
            if self.token_file and self.token_file.exists()
            else []
        )
        return self.tokens + child

    def files(self) -> Iterator[Path]:
        for path in sorted(self.root.rglob("*")):
            if path.is_file() and path not in self.inputs:
                yield path


@dataclass
class Child:
    """fbcli in a real process (the CHILD wrapper), under umask 000."""

    art: Artefacts
    cwd: Path
    tmpdir: Path
    state: Path

    def env(self, *, secret: str | None = SECRET, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("FRIENDBUY_")}
        env.update(
            FRIENDBUY_MAPI_KEY=KEY,
            PYTHONUNBUFFERED="1",
            TMPDIR=str(self.tmpdir),
            FBCLI_STATE_DIR=str(self.state),
            FBCLI_TEST_UMASK="000",
            FBCLI_TEST_TOKENS=str(self.art.token_file),
            COLUMNS="120",
            **extra,
        )
        if secret is not None:
            env["FRIENDBUY_MAPI_SECRET"] = secret
        return env

    def spawn(self, *args: str, stdin: bytes | None = None, **env: str) -> subprocess.Popen[bytes]:
        secret = env.pop("secret", SECRET)
        return subprocess.Popen(
            [sys.executable, "-c", CHILD, *args],
            cwd=self.cwd,
            env=self.env(secret=secret or None, **env),
            stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )

    def run(
        self, name: str, *args: str, stdin: bytes | None = None, **env: str
    ) -> tuple[int, str, str]:
        proc = self.spawn(*args, stdin=stdin, **env)
        out, err = proc.communicate(stdin, timeout=60)
        self.keep(name, out, err)
        return proc.returncode, out.decode(), err.decode()

    def keep(self, name: str, out: bytes, err: bytes) -> None:
        self.art.outputs[f"{name} stdout"] = out
        self.art.outputs[f"{name} stderr"] = err


@pytest.fixture
def record_tokens(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every token the emulators of this process issue."""
    issued: list[str] = []
    issue = fbcli.emulator.issue_token

    def recording(expires: Any) -> str:
        token = issue(expires)
        issued.append(token)
        return token

    monkeypatch.setattr(fbcli.emulator, "issue_token", recording)
    return issued


def wait_for(condition: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_no_secret_or_token_in_any_output_or_file(tmp_path: Path, record_tokens: list[str]) -> None:
    """Run every kind of replay under umask 000, then scan every byte that came out."""
    inputs, work, scratch = tmp_path / "inputs", tmp_path / "work", tmp_path / "tmp"
    private = tmp_path.parent / f"{tmp_path.name}-tokens"  # outside the scanned tree
    for folder in (inputs, work, scratch, private):
        folder.mkdir()
    art = Artefacts(tmp_path, tokens=record_tokens, token_file=private / "tokens.txt")
    state = tmp_path / "state"  # the default ledgers: scanned too
    child = Child(art, work, scratch, state)
    secret_file = inputs / "secret"
    secret_file.write_text(SECRET + "\n", encoding="utf-8")
    secret_file.chmod(0o600)
    art.inputs.add(secret_file)
    good = write_events(inputs / "good.jsonl", [identify(1), purchase(2), purchase(3)])
    many = write_events(inputs / "many.jsonl", [purchase(n) for n in range(10, 40)])
    gold = identify(4, loyaltyStatus="gold")  # valid for fbcli, refused by MAPI: a 400
    mixed = write_events(inputs / "mixed.jsonl", [purchase(5), gold, purchase(6)])
    lots = write_events(inputs / "lots.jsonl", [purchase(n) for n in range(100, 160)])
    fast = ("--rate", "500", "--burst", "10")
    codes: dict[str, int] = {}

    with Emulator(EmulatorConfig(key=KEY, secret=SECRET, seed=1)) as emu:
        url = first_url = emu.base_url
        codes["ok, table"], _, _ = child.run("ok", "replay", str(good), "--base-url", url, *fast)
        codes["ok, json, secret file, failed file"], out, _ = child.run(
            "json",
            "replay", str(good), "--base-url", url, "--force", "--format", "json",
            "--failed", "work-failed-none.jsonl", "--ledger", "json.ledger",
            "--secret-file", str(secret_file), *fast,
            secret="",
        )  # fmt: skip
        assert json.loads(out)["sent"] == 3
        codes["401: wrong secret"], _, err = child.run(
            "wrong", "replay", str(good), "--base-url", url, "--ledger", "wrong.ledger",
            secret=WRONG_SECRET,
        )  # fmt: skip
        assert "authorization refused" in err
        codes["400 to the failed file"], out, _ = child.run(
            "400", "replay", str(mixed), "--base-url", url, "--failed", "failed.jsonl",
            "--format", "json", "--report", "report.html", *fast,
        )  # fmt: skip
        assert json.loads(out)["failed"] == 1
        codes["unexpected exception"], _, err = child.run(
            "crash", "replay", str(good), "--base-url", url, "--ledger", "crash.ledger",
            FBCLI_TEST_CRASH="LOCAL-CANARY-3b8f1e",
        )  # fmt: skip
        assert "Traceback (most recent call last)" in err
        assert "RuntimeError: a bug holding '<hidden>' and <hidden>" in err
        assert "LOCAL-CANARY" not in err
        assert "this is a bug in fbcli" in err
        codes["stdin"], _, _ = child.run(
            "stdin", "replay", "-", "--base-url", url, "--ledger", "stdin.ledger", *fast,
            stdin=good.read_bytes(),
        )  # fmt: skip
        # 401 mid-run: tokens revoked while calls are sent; the next call re-authorizes.
        before = len(emu.calls())
        proc = child.spawn("replay", str(many), "--base-url", url, "--rate", "60")
        wait_for(lambda: len(emu.calls()) >= before + 8)
        emu.revoke_tokens()
        out_b, err_b = proc.communicate(timeout=60)
        child.keep("revoked", out_b, err_b)
        codes["401 mid-run"] = proc.returncode
        # SIGKILL mid-run: the ledger's -wal and -shm stay behind, to be scanned.
        proc = child.spawn(
            "replay", str(lots), "--base-url", url, "--rate", "40",
            "--ledger", "killed.ledger",
        )  # fmt: skip
        before = len(emu.calls())
        wait_for(lambda: len(emu.calls()) >= before + 10)
        proc.kill()
        out_b, err_b = proc.communicate(timeout=10)
        child.keep("killed", out_b, err_b)
        assert (work / "killed.ledger-wal").exists()
        assert (work / "killed.ledger-shm").exists()
        issued = emu.stats()["tokens_issued"]
    assert issued >= 3

    faults = parse_faults("429=0.2,drop-after=0.3")
    with Emulator(
        EmulatorConfig(key=KEY, secret=SECRET, seed=5, faults=faults, retry_after=False)
    ) as emu:
        faults_url = emu.base_url
        codes["429s and unknown outcomes"], out, _ = child.run(
            "faults", "replay", str(many), "--base-url", emu.base_url, "--format", "json",
            "--failed", "unknown.jsonl", "--max-attempts", "10", *fast,
        )  # fmt: skip
        summary = json.loads(out)
        assert summary["rate_limited"] > 0
        assert summary["unknown"] > 0

    codes["--emulator"], out, _ = child.run(
        "builtin", "replay", str(good), "--emulator", *fast, secret=""
    )
    assert "the emulator received 3 calls" in out

    proc = child.spawn("emulator", "--port", "0", "--log", "emulator.log")
    assert proc.stderr is not None
    first = proc.stderr.readline()
    emulator_url = first.decode().split(" on ")[1].split(" ")[0]
    codes["fbcli emulator"], _, _ = child.run(
        "to the emulator command", "replay", str(good), "--base-url", emulator_url,
        "--ledger", "emulator-command.ledger", *fast,
    )  # fmt: skip
    proc.send_signal(signal.SIGINT)
    out_b, err_b = proc.communicate(timeout=10)
    child.keep("emulator command", out_b, first + err_b)

    assert codes == {
        "ok, table": 0,
        "ok, json, secret file, failed file": 0,
        "401: wrong secret": 3,
        "400 to the failed file": 1,
        "unexpected exception": 1,
        "stdin": 0,
        "401 mid-run": 0,
        "429s and unknown outcomes": 1,
        "--emulator": 0,
        "fbcli emulator": 0,
    }

    # Every file fbcli wrote (they all hold customer data) is private, even under umask 000.
    made = {
        path.relative_to(tmp_path).as_posix(): mode(path)
        for path in tmp_path.rglob("*")
        if path.is_file() and path not in {secret_file, good, many, mixed, lots}
    }
    defaults = [
        default_ledger_path(target, state).relative_to(tmp_path).as_posix()
        for target in (ledger_target(first_url), ledger_target(faults_url), "emulator")
    ]
    ledgers = [
        *defaults, "work/json.ledger", "work/wrong.ledger", "work/crash.ledger",
        "work/stdin.ledger", "work/killed.ledger", "work/emulator-command.ledger",
    ]  # fmt: skip
    assert made == dict.fromkeys(
        [
            *ledgers, "work/killed.ledger.lock",  # the note of who held it: left by SIGKILL
            "work/work-failed-none.jsonl", "work/killed.ledger-wal",
            "work/killed.ledger-shm", "work/failed.jsonl", "work/unknown.jsonl",
            "work/emulator.log", "work/report.html",
        ],
        0o600,
    )  # fmt: skip
    assert [mode(folder) for folder in (state, state / "ledgers")] == [0o700, 0o700]
    assert list(scratch.iterdir()) == []  # temporary files (stdin, --emulator's ledger) are gone
    customer = b"u1@example.com"
    assert customer in (work / "emulator.log").read_bytes()  # the scan below sees real data

    tokens = art.all_tokens()
    assert len(tokens) >= 8
    needles = {
        **dict.fromkeys(encoded_forms(SECRET), "the secret"),
        **dict.fromkeys(encoded_forms(WRONG_SECRET), "the wrong secret"),
        **{form: "a token" for token in tokens for form in encoded_forms(token)},
    }
    scanned: list[str] = []
    hits: list[str] = []
    for name, data in art.outputs.items():
        scanned.append(name)
        hits += [f"{what} in {name}" for form, what in needles.items() if form in data]
    for path in art.files():
        scanned.append(str(path.relative_to(tmp_path)))
        data = path.read_bytes()
        hits += [f"{what} in {path.name}" for form, what in needles.items() if form in data]
    print(f"scanned {len(scanned)} artefacts for {len(needles)} needles: {len(hits)} hits")
    assert hits == []
    assert len(scanned) >= 40
    # The scanner does find what it looks for, and the killed run's ledger holds calls.
    assert any(form in secret_file.read_bytes() for form in encoded_forms(SECRET))
    killed = sqlite3.connect(work / "killed.ledger")  # (only now: closing it checkpoints the WAL)
    try:
        assert killed.execute("SELECT count(*) FROM calls").fetchone()[0] >= 1
    finally:
        killed.close()
    shutil.rmtree(private)


# -- unexpected exceptions ------------------------------------------------------------------


def test_a_bug_is_reported_without_secret_token_or_locals(
    run_cli: RunCli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FRIENDBUY_MAPI_KEY", KEY)
    monkeypatch.setenv("FRIENDBUY_MAPI_SECRET", SECRET)
    tokens: list[str] = []

    def bug(self: MapiClient, path: str, content: bytes, token: str) -> Any:
        tokens.append(token)
        local_canary = "LOCAL" + "-CANARY-77d1"
        raise ValueError(f"cannot send {path} with {token} / {SECRET}", local_canary[:0])

    monkeypatch.setattr(MapiClient, "_post", bug)
    events = write_events(tmp_path / "e.jsonl", [identify(1)])
    with Emulator(EmulatorConfig(key=KEY, secret=SECRET)) as emu:
        result = run_cli("replay", str(events), "--base-url", emu.base_url, "-f", "json")
    assert result.exit_code == 1
    assert tokens
    assert "Traceback (most recent call last)" in result.stderr
    assert "ValueError: ('cannot send /v1/customer with <hidden> / <hidden>', '')" in result.stderr
    assert "Error: unexpected ValueError: this is a bug in fbcli" in result.stderr
    assert "secrets and tokens are hidden" in result.stderr
    assert "LOCAL-CANARY" not in result.stderr
    for text in (result.stdout, result.stderr):
        assert SECRET not in text
        assert tokens[0] not in text
    assert result.stdout == ""


def test_a_bug_shows_control_characters_escaped(
    run_cli: RunCli, monkeypatch: pytest.MonkeyPatch
) -> None:
    def bug(*args: Any, **kwargs: Any) -> Any:
        raise KeyError("\x1b[2J\x1b]0;owned\x07")

    monkeypatch.setattr("fbcli.mappings.default_mappings", bug)
    result = run_cli("dry-run", "-", stdin="{}\n")
    assert result.exit_code == 1
    assert "\x1b" not in result.stderr
    assert "\\x1b[2J" in result.stderr


# -- the secret is never a command-line value ----------------------------------------------


def _options() -> Iterator[tuple[str, Any]]:
    group = get_command(app)
    for name, command in group.commands.items():  # type: ignore[attr-defined]
        for param in command.params:
            if getattr(param, "param_type_name", "") == "option":
                yield name, param


def test_no_option_takes_a_secret_or_a_token() -> None:
    sensitive = re.compile(r"secret|password|passwd|token|credential|auth", re.IGNORECASE)
    takes_value = {
        f"{command} {opt}"
        for command, param in _options()
        if not param.is_flag
        for opt in param.opts
        if sensitive.search(opt)
    }
    # --secret-file takes a path, --token-ttl seconds; --secret is there only to refuse a
    # value with a hint.
    assert takes_value == {"replay --secret-file", "replay --secret", "emulator --token-ttl"}
    (refusing,) = [p for c, p in _options() if c == "replay" and "--secret" in p.opts]
    assert refusing.hidden


@pytest.mark.parametrize("args", [["--secret", SECRET], [f"--secret={SECRET}"]])
def test_secret_as_a_flag_value_is_refused_with_a_hint(
    run_cli: RunCli, tmp_path: Path, args: list[str]
) -> None:
    events = write_events(tmp_path / "e.jsonl", [identify(1)])
    with Emulator(EmulatorConfig()) as emu:
        result = run_cli("replay", str(events), "--key", KEY, *args, "--base-url", emu.base_url)
        assert emu.stats()["requests"] == 0
    assert result.exit_code == 2
    assert result.stderr.startswith("Error: --secret is not accepted: a secret on the command line")
    assert "Hint: set FRIENDBUY_MAPI_SECRET, give --secret-file PATH" in result.stderr
    assert SECRET not in result.stdout + result.stderr
    assert not list(tmp_path.glob("*.sqlite"))


def test_without_a_terminal_a_missing_secret_is_an_error(run_cli: RunCli, tmp_path: Path) -> None:
    events = write_events(tmp_path / "e.jsonl", [identify(1)])
    result = run_cli("replay", str(events), "--key", KEY)
    assert result.exit_code == 2
    assert (
        "Error: no MAPI secret: set FRIENDBUY_MAPI_SECRET or give --secret-file PATH"
        in result.stderr
    )
    assert "in a terminal, fbcli asks for the secret" in result.stderr


def _pty_run(args: list[str], answer: bytes, cwd: Path) -> tuple[int, str, bytes]:
    """Run fbcli with a pseudo-terminal as stdin and stderr; answer its prompt."""
    master, slave = os.openpty()
    env = {k: v for k, v in os.environ.items() if not k.startswith("FRIENDBUY_")}
    env.update(FRIENDBUY_MAPI_KEY=KEY, TERM="dumb", PYTHONUNBUFFERED="1")
    proc = subprocess.Popen(
        [sys.executable, "-m", "fbcli", *args],
        stdin=slave,
        stdout=subprocess.PIPE,
        stderr=slave,
        cwd=cwd,
        env=env,
        start_new_session=True,  # no controlling terminal: getpass uses stdin, the pty
    )
    os.close(slave)
    screen = b""
    answered = False
    out = b""
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.1)
            if ready:
                try:
                    chunk = os.read(master, 4096)
                except OSError:
                    break
                if not chunk:
                    break
                screen += chunk
            if not answered and b"(input hidden): " in screen:
                os.write(master, answer)
                answered = True
            if proc.poll() is not None and not ready:
                break
        assert proc.stdout is not None
        out = proc.stdout.read()
        proc.wait(timeout=10)
    finally:
        os.close(master)
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()
    return proc.returncode, screen.decode("utf-8", "replace"), out


@pytest.mark.skipif(not hasattr(os, "openpty"), reason="needs a pseudo-terminal")
def test_in_a_terminal_the_secret_is_asked_for_without_echo(tmp_path: Path) -> None:
    events = write_events(tmp_path / "e.jsonl", [identify(1), purchase(2)])
    with Emulator(EmulatorConfig(key=KEY, secret=SECRET)) as emu:
        args = ["replay", str(events), "--base-url", emu.base_url, "--format", "json"]
        code, screen, out = _pty_run(args, SECRET.encode() + b"\n", tmp_path)
        assert code == 0, screen
        assert f"MAPI secret for key {KEY} (input hidden): " in screen
        assert SECRET not in screen  # not echoed
        assert json.loads(out)["sent"] == 2
        assert len(emu.calls()) == 2
        code, screen, _ = _pty_run([*args, "--force"], b"\x04", tmp_path)  # Ctrl-D: nothing
        assert code == 2
        assert "Error: no MAPI secret given" in screen
        assert len(emu.calls()) == 2


def _replay_with_secret_file(run_cli: RunCli, tmp_path: Path, file_mode: int) -> Any:
    secret_file = tmp_path / "secret.txt"
    secret_file.write_text(SECRET + "\n", encoding="utf-8")
    secret_file.chmod(file_mode)
    events = write_events(tmp_path / "e.jsonl", [identify(1)])
    with Emulator(EmulatorConfig(key=KEY, secret=SECRET)) as emu:
        return run_cli(
            "replay", str(events), "--key", KEY, "--secret-file", str(secret_file),
            "--base-url", emu.base_url, "--force",
        )  # fmt: skip


@pytest.mark.parametrize(
    ("file_mode", "warned"),
    [(0o600, False), (0o400, False), (0o640, True), (0o644, True), (0o604, True)],
)
def test_a_secret_file_others_can_read_is_warned_about(
    run_cli: RunCli, tmp_path: Path, file_mode: int, warned: bool
) -> None:
    result = _replay_with_secret_file(run_cli, tmp_path, file_mode)
    assert result.exit_code == 0  # a warning only: secret stores often mount files 0644
    warning = (
        f"Warning: the secret file {tmp_path / 'secret.txt'} can be read by other users "
        f"(mode {file_mode:04o}): chmod 600 it"
    )
    assert (warning in result.stderr) is warned
    assert SECRET not in result.stdout + result.stderr


def test_a_missing_secret_file_is_not_named(run_cli: RunCli, tmp_path: Path) -> None:
    events = write_events(tmp_path / "e.jsonl", [identify(1)])
    result = run_cli("replay", str(events), "--key", KEY, "--secret-file", SECRET)
    assert result.exit_code == 2
    assert "the secret file does not exist (its name is not repeated" in result.stderr
    assert SECRET not in result.stderr


@pytest.mark.parametrize(
    ("content", "message"),
    [(b"", "the secret file is empty"), (b" \n", "the secret file is empty")],
)
def test_an_empty_secret_file_is_refused(
    run_cli: RunCli, tmp_path: Path, content: bytes, message: str
) -> None:
    secret_file = tmp_path / "secret"
    secret_file.write_bytes(content)
    secret_file.chmod(0o600)
    events = write_events(tmp_path / "e.jsonl", [identify(1)])
    result = run_cli("replay", str(events), "--key", KEY, "--secret-file", str(secret_file))
    assert result.exit_code == 2
    assert message in result.stderr


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="needs /dev/zero")
def test_an_endless_secret_file_is_refused_quickly(run_cli: RunCli, tmp_path: Path) -> None:
    events = write_events(tmp_path / "e.jsonl", [identify(1)])
    started = time.perf_counter()
    result = run_cli("replay", str(events), "--key", KEY, "--secret-file", "/dev/zero")
    assert time.perf_counter() - started < 10
    assert result.exit_code == 2
    assert "the secret file is too large: over the limit of 65,536" in result.stderr


@pytest.mark.parametrize(
    "secret",
    ["evil.example/x:" + SECRET, "a b:" + SECRET, "-sandbox:" + SECRET, "x" * 64 + ":" + SECRET],
)
def test_the_env_of_an_env_secret_cannot_choose_another_host(
    run_cli: RunCli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, secret: str
) -> None:
    monkeypatch.setenv("FRIENDBUY_MAPI_KEY", KEY)
    monkeypatch.setenv("FRIENDBUY_MAPI_SECRET", secret)
    events = write_events(tmp_path / "e.jsonl", [identify(1)])
    result = run_cli("replay", str(events))
    assert result.exit_code == 2
    assert "its ENV is not a host name label" in result.stderr
    assert "evil" not in result.stderr
    assert SECRET not in result.stderr
    with Emulator(EmulatorConfig(key=KEY, secret=SECRET)) as emu:  # --base-url: no ENV needed
        result = run_cli("replay", str(events), "--base-url", emu.base_url)
        assert result.exit_code == 0
        assert len(emu.calls()) == 1


# -- TLS, plain http, redirects ----------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080",
        "http://127.8.9.10",
        "http://localhost:1",
        "http://LOCALHOST",
        "http://localhost.",
        "http://[::1]:9000",
        "http://[::ffff:127.0.0.1]",
        "HTTP://127.0.0.1",
        "HtTp://[::1]",
        "https://mapi.fbot.me",
        "HTTPS://mapi.example.com:8443/base",
    ],
)
def test_plain_http_to_loopback_and_https_anywhere(url: str) -> None:
    checked = check_base_url(url)
    parsed = httpx.URL(checked)  # and httpx, which sends, sees the same host
    assert parsed.scheme == "https" or is_loopback(parsed.host)


LOCAL_ONLY = "plain http is only allowed to this machine"
NO_USERINFO = "must not carry a user name or password"


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://127.0.0.1.evil.com", LOCAL_ONLY),
        ("http://localhost.evil.com", LOCAL_ONLY),
        ("http://app.localhost", LOCAL_ONLY),
        ("http://0x7f.1", LOCAL_ONLY),
        ("http://0x7f000001", LOCAL_ONLY),
        ("http://127.1", LOCAL_ONLY),
        ("http://2130706433", LOCAL_ONLY),
        ("http://0177.0.0.1", LOCAL_ONLY),
        ("http://0.0.0.0", LOCAL_ONLY),
        ("http://[::]", LOCAL_ONLY),
        ("http://[::ffff:10.0.0.1]", LOCAL_ONLY),
        ("http://\uff11\uff12\uff17.\uff10.\uff10.\uff11", LOCAL_ONLY),
        ("http://127\u30020\u30020\u30021", LOCAL_ONLY),
        ("HTTP://evil.com", LOCAL_ONLY),
        ("http://evil.com/127.0.0.1", LOCAL_ONLY),
        ("http://evil.com\\@127.0.0.1", NO_USERINFO),
        ("http://localhost@evil.com", NO_USERINFO),
        ("http://127.0.0.1:80@evil.com", NO_USERINFO),
        ("http://127.0.0.1%2f@evil.com", NO_USERINFO),
        ("http://user:pw@127.0.0.1", NO_USERINFO),
        ("https://key:hunter2secret@mapi.fbot.me", NO_USERINFO),
        ("http://evil.com#@127.0.0.1", LOCAL_ONLY),
        ("http://127.0.0.1#@evil.com", "must not carry a query or fragment"),
        ("http://127.0.0.1?@evil.com", "must not carry a query or fragment"),
        ("//127.0.0.1", "must be an http(s) URL"),
        ("http:127.0.0.1", "must be an http(s) URL"),
        ("ws://127.0.0.1", "must be an http(s) URL"),
        ("file:///etc/passwd", "must be an http(s) URL"),
        ("http://127.0.0.1\t.evil.com", "spaces or control characters"),
    ],
)
def test_tricky_hosts_are_refused(url: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        check_base_url(url)
    assert message in str(caught.value)
    assert "hunter2" not in str(caught.value)


_URL_PIECES = st.sampled_from(
    [
        "http", "HTTP", "https", "hTTp", ":", "//", "/", "\\", "@", "127.0.0.1", "localhost",
        "[::1]", "::1", "[", "]", "evil.com", ".", "%40", "%2f", "%5c", "#", "?", ":80", "0x7f",
        "1", "%00", "user", ";", "LOCALHOST", "%", "2130706433", "::ffff:127.0.0.1", "%25lo",
        "0", "\u3002", "\uff0e", "\uff11",
    ]
)  # fmt: skip


@settings(max_examples=3000, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.lists(_URL_PIECES, min_size=1, max_size=9).map("".join))
def test_an_accepted_http_url_is_loopback_to_httpx_too(url: str) -> None:
    """The check parses with urllib, httpx sends with its own parser: they must agree."""
    try:
        checked = check_base_url(url)
    except ConfigError:
        return
    parsed = httpx.URL(checked)
    assert parsed.userinfo == b""
    assert parsed.scheme in ("http", "https")
    if parsed.scheme == "http":
        assert is_loopback(parsed.host), (url, parsed.host)


def test_no_option_turns_tls_verification_off() -> None:
    risky = re.compile(r"insecure|verify|ssl|tls|cert|--ca\b|proxy|-k$", re.IGNORECASE)
    assert [f"{c} {o}" for c, p in _options() for o in p.opts if risky.search(o)] == []


@dataclass
class Recorder:
    """A small stdlib HTTP(S) server on 127.0.0.1: replies from a script, records requests."""

    reply: Callable[[str], tuple[int, dict[str, str], bytes]]
    context: ssl.SSLContext | None = None
    requests: list[tuple[str, dict[str, str], bytes]] = field(default_factory=list)

    def __enter__(self) -> str:
        recorder = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                recorder.requests.append((self.path, dict(self.headers), body))
                status, headers, payload = recorder.reply(self.path)
                self.send_response(status)
                for name, value in {**headers, "Content-Length": str(len(payload))}.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.handle_error = lambda *args: None  # type: ignore[method-assign]
        if self.context is not None:
            self.server.socket = self.context.wrap_socket(self.server.socket, server_side=True)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        scheme = "https" if self.context else "http"
        return f"{scheme}://127.0.0.1:{self.server.server_address[1]}"

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()


def token_reply(_: str) -> tuple[int, dict[str, str], bytes]:
    body = {
        "tokenType": "Bearer",
        "token": "tok-recorder-0123456789",
        "expires": "2999-01-01T00:00:00Z",
    }
    return 200, {"Content-Type": "application/json"}, json.dumps(body).encode()


@pytest.fixture(scope="module")
def self_signed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 that no trust store knows (made with the openssl tool)."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("needs the openssl command")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
            "-nodes", "-keyout", str(key), "-out", str(cert), "-days", "2",
            "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return cert, key


def test_tls_is_verified_even_to_loopback_and_env_cannot_add_trust(
    self_signed: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch, run_cli: RunCli, tmp_path: Path
) -> None:
    cert, key = self_signed
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    with Recorder(token_reply, context) as url:
        # The server works for a client that trusts its certificate ...
        trusting = ssl.create_default_context(cafile=str(cert))
        with httpx.Client(verify=trusting, trust_env=False) as plain:
            assert plain.post(f"{url}/v1/authorization", json={}).status_code == 200
        # ... fbcli does not trust it, not even when the environment names it.
        for name in ("SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
            monkeypatch.setenv(name, str(cert))
        monkeypatch.setenv("SSL_CERT_DIR", str(cert.parent))
        with MapiClient(url, Credentials(KEY, SECRET)) as client, pytest.raises(ApiError) as caught:
            client.authorize()
        assert caught.value.message == (
            "cannot reach MAPI: the server's TLS certificate could not be verified"
        )
        monkeypatch.setenv("FRIENDBUY_MAPI_KEY", KEY)
        monkeypatch.setenv("FRIENDBUY_MAPI_SECRET", SECRET)
        events = write_events(tmp_path / "e.jsonl", [identify(1)])
        result = run_cli("replay", str(events), "--base-url", url)
        assert result.exit_code == 1
        assert "cannot reach MAPI: the server's TLS certificate could not be" in result.stderr


def test_tls_verification_failure_sends_nothing(self_signed: tuple[Path, Path]) -> None:
    cert, key = self_signed
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    recorder = Recorder(token_reply, context)
    with (
        recorder as url,
        MapiClient(url, Credentials(KEY, SECRET)) as client,
        pytest.raises(ApiError),
    ):
        client.authorize()
    assert recorder.requests == []  # the handshake failed: no request, no secret, went out


def test_redirects_are_never_followed_with_the_secret_or_the_token() -> None:
    with Emulator(EmulatorConfig()) as elsewhere:
        target = elsewhere.base_url

        def redirect_authorization(path: str) -> tuple[int, dict[str, str], bytes]:
            return 307, {"Location": f"{target}{path}"}, b""

        recorder = Recorder(redirect_authorization)
        with recorder as url, MapiClient(url, Credentials(KEY, SECRET)) as client:
            with pytest.raises(ApiError) as caught:
                client.authorize()
            assert caught.value.status == 307
        assert [path for path, _, _ in recorder.requests] == ["/v1/authorization"]

        def redirect_calls(path: str) -> tuple[int, dict[str, str], bytes]:
            if path == "/v1/authorization":
                return token_reply(path)
            return 308, {"Location": f"{target}{path}"}, b""

        recorder = Recorder(redirect_calls)
        with recorder as url, MapiClient(url, Credentials(KEY, SECRET)) as client:
            result = client.send("/v1/customer", {"customerId": "c1", "email": "c1@example.com"})
        assert result.status == 308
        assert not result.ok
        assert [path for path, _, _ in recorder.requests] == ["/v1/authorization", "/v1/customer"]
        assert elsewhere.stats()["requests"] == 0  # neither the secret nor the token went there


# -- the emulator's address --------------------------------------------------------------------


def test_the_emulator_binds_loopback_by_default(run_cli: RunCli, tmp_path: Path) -> None:
    assert EmulatorConfig().host == "127.0.0.1"
    with Emulator() as emu:
        assert emu._server is not None
        assert emu._server.socket.getsockname()[0] == "127.0.0.1"
    events = write_events(tmp_path / "e.jsonl", [identify(1)])
    result = run_cli("replay", str(events), "--emulator")
    assert result.exit_code == 0
    assert "replay to http://127.0.0.1:" in result.stdout
    assert get_command(app).commands["emulator"].params[0].default == "127.0.0.1"  # type: ignore[attr-defined]


def _emulator_first_lines(host: str) -> list[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FRIENDBUY_")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "fbcli", "emulator", "--host", host, "--port", "0"],
        stderr=subprocess.PIPE,
        text=True,
        env={**env, "PYTHONUNBUFFERED": "1", "COLUMNS": "400"},
    )
    try:
        assert proc.stderr is not None
        lines = [proc.stderr.readline()]
        if lines[0].startswith("Warning"):
            lines.append(proc.stderr.readline())
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.communicate(timeout=10)
        finally:  # never left running (for the tests after this one) if it did not stop
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
    if "cannot listen" in lines[0]:
        pytest.skip(f"cannot listen on {host} here")
    return lines


def test_the_emulator_command_warns_when_it_listens_beyond_loopback() -> None:
    warning, listening = _emulator_first_lines("0.0.0.0")
    assert warning.startswith(
        "Warning: listening on 0.0.0.0, not only on this machine: others can reach the emulator, "
        "which accepts any credentials and lists the calls it received (customer data)"
    )
    assert listening.startswith("MAPI emulator listening on http://127.0.0.1:")


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "127.0.0.2"])
def test_the_emulator_command_on_loopback_does_not_warn(host: str) -> None:
    (first,) = _emulator_first_lines(host)
    assert first.startswith(f"MAPI emulator listening on http://{host}:")


# -- size limits on what fbcli reads whole -----------------------------------------------------


def test_the_cli_limit_is_the_mapping_file_limit() -> None:
    assert MAX_YAML_BYTES == MAX_FILE_BYTES


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="needs /dev/zero")
@pytest.mark.parametrize(
    ("args", "what"),
    [
        (["validate", "EVENTS", "-m", "/dev/zero"], "the mapping file"),
        (["test", "/dev/zero"], "the case file"),
    ],
)
def test_an_endless_yaml_file_is_refused_without_reading_it(
    run_cli: RunCli, tmp_path: Path, args: list[str], what: str
) -> None:
    events = write_events(tmp_path / "e.jsonl", [identify(1)])
    started = time.perf_counter()
    result = run_cli(*[str(events) if a == "EVENTS" else a for a in args])
    assert time.perf_counter() - started < 10
    assert result.exit_code == 2
    assert f"Error: {what} is too large: over the limit of 1,048,576 (/dev/zero)" in result.stderr


def test_a_huge_mapping_file_is_refused_with_its_size(run_cli: RunCli, tmp_path: Path) -> None:
    big = tmp_path / "big.yaml"
    with big.open("wb") as out:
        out.truncate(50 * 1024 * 1024)  # sparse: 50 MB that take no disk
    events = write_events(tmp_path / "e.jsonl", [identify(1)])
    result = run_cli("validate", str(events), "-m", str(big))
    assert result.exit_code == 2
    assert (
        "the mapping file is too large: 52,428,800 bytes, over the limit of 1,048,576"
        in result.stderr
    )


def test_a_mapping_file_at_the_limit_still_loads(run_cli: RunCli, tmp_path: Path) -> None:
    text = (REPO / "mappings.yaml").read_text(encoding="utf-8")
    padded = text + "#" * (MAX_FILE_BYTES - len(text.encode()) - 1) + "\n"
    mappings = tmp_path / "m.yaml"
    mappings.write_text(padded, encoding="utf-8")
    assert mappings.stat().st_size == MAX_FILE_BYTES
    events = write_events(tmp_path / "e.jsonl", [identify(1)])
    assert run_cli("validate", str(events), "-m", str(mappings)).exit_code == 0


# -- files holding customer data: 0600, whatever the umask -------------------------------------


@pytest.fixture
def open_umask() -> Iterator[None]:
    old = os.umask(0)
    try:
        yield
    finally:
        os.umask(old)


@pytest.mark.usefixtures("open_umask")
def test_replay_files_are_private_under_an_open_umask(
    run_cli: RunCli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FRIENDBUY_MAPI_KEY", KEY)
    monkeypatch.setenv("FRIENDBUY_MAPI_SECRET", SECRET)
    events = write_events(tmp_path / "e.jsonl", [identify(1), identify(2, loyaltyStatus="gold")])
    failed = tmp_path / "failed.jsonl"
    failed.write_text("old\n", encoding="utf-8")
    failed.chmod(0o644)  # an existing failed file is made private too
    log = tmp_path / "emulator.jsonl"
    with Emulator(EmulatorConfig(key=KEY, secret=SECRET, log_path=log)) as emu:
        ledger = tmp_path / "run.ledger"
        with Ledger(ledger, target=emu.base_url):
            pass
        result = run_cli(
            "replay", str(events), "--base-url", emu.base_url, "--ledger", str(ledger),
            "--failed", str(failed),
        )  # fmt: skip
        assert result.exit_code == 1
    assert mode(failed) == mode(ledger) == mode(log) == 0o600
    assert b"u2@example.com" in failed.read_bytes()


def test_init_writes_no_event_values_and_follows_the_umask(run_cli: RunCli, tmp_path: Path) -> None:
    """The mapping file init writes is configuration: event names and counts, no values."""
    events = [
        {**identify(1), "traits": {"email": "canary-ada@example.com", "phone": "+1-555-0100"}},
        {**purchase(2), "properties": {"total": 987.65, "currency": "USD", "coupon": "CANARY-50"}},
        {
            "type": "track",
            "event": "Video Played",
            "userId": "canary-user-9",
            "properties": {"x": 1},
        },
    ]
    path = write_events(tmp_path / "e.jsonl", events)
    result = run_cli("init", str(path), "-o", "starter.yaml")
    assert result.exit_code == 0
    written = (tmp_path / "starter.yaml").read_text(encoding="utf-8")
    assert "Video Played" in written
    for value in ("canary", "555", "987", "CANARY"):
        assert value not in written
    umask = os.umask(0)
    os.umask(umask)
    assert mode(tmp_path / "starter.yaml") == 0o666 & ~umask


# -- Ctrl-C never loses or doubles a call --------------------------------------------------------


@pytest.mark.parametrize("when", ["before", "after"])
def test_ctrl_c_while_an_outcome_is_recorded_loses_and_doubles_nothing(
    run_cli: RunCli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, when: str
) -> None:
    """Ctrl-C arriving just before or just after a call's outcome goes into the ledger.

    A ``KeyboardInterrupt`` raised there would leave the call out of the ledger
    (a rerun sends it again) or out of the summary; Ctrl-C only asks to stop.
    """
    monkeypatch.setenv("FRIENDBUY_MAPI_KEY", KEY)
    monkeypatch.setenv("FRIENDBUY_MAPI_SECRET", SECRET)
    record = Ledger.record
    recorded = 0

    def interrupted_record(self: Ledger, **kwargs: Any) -> None:
        nonlocal recorded
        recorded += 1
        if when == "before" and recorded == 3:
            os.kill(os.getpid(), signal.SIGINT)
        record(self, **kwargs)
        if when == "after" and recorded == 3:
            os.kill(os.getpid(), signal.SIGINT)

    events = write_events(tmp_path / "e.jsonl", [purchase(n) for n in range(20)])
    with Emulator(EmulatorConfig(key=KEY, secret=SECRET)) as emu:
        ledger = tmp_path / "run.ledger"
        args: tuple[str, ...] = ("replay", str(events), "--base-url", emu.base_url)
        args = (*args, "--ledger", str(ledger), "--rate", "50", "-f", "json")
        with monkeypatch.context() as patch:
            patch.setattr(Ledger, "record", interrupted_record)
            first = run_cli(*args)
        assert first.exit_code == 130
        summary = json.loads(first.stdout)
        assert summary["interrupted"] is True
        with contextlib.closing(sqlite3.connect(ledger)) as db:
            sent = db.execute("SELECT count(*) FROM calls WHERE status = 'sent'").fetchone()[0]
        assert sent == summary["sent"] == len(emu.calls())
        assert summary["sent"] < 20
        second = json.loads(run_cli(*args[:-2], "--rate", "500", "-f", "json").stdout)
        assert second["skipped_already_sent"] == summary["sent"]
        orders = [call.body["orderId"] for call in emu.calls()]
        assert sorted(orders) == sorted(f"o{n}" for n in range(20))  # each exactly once


# -- ruff's security rules: every exception says why ---------------------------------------------


def test_every_security_lint_exception_is_justified() -> None:
    pyproject = (REPO / "pyproject.toml").read_text(encoding="utf-8")
    lint = tomllib.loads(pyproject)["tool"]["ruff"]["lint"]
    assert "S" in lint["select"]
    lines = pyproject.splitlines()
    for number, line in enumerate(lines):
        entry = re.match(r'\s*"([^"]+)"\s*(=\s*\[(.*)\])?,?\s*(#.*)?$', line)
        if entry is None:
            continue
        rules = re.findall(r'"(S\d*)"', entry.group(3) or "") or (
            [entry.group(1)] if re.fullmatch(r"S\d+", entry.group(1)) else []
        )
        if not rules:
            continue
        trailing = entry.group(4)
        above = lines[number - 1].strip()
        assert trailing or above.startswith("#"), f"pyproject.toml:{number + 1}: {line.strip()}"
    for root in ("fbcli", "tests", "bench", "docs"):
        for path in sorted((REPO / root).rglob("*.py")):
            for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                why = _security_noqa_reason(line)
                assert why is None or len(why) >= 8, f"{path.relative_to(REPO)}:{number}: {line}"


def _security_noqa_reason(line: str) -> str | None:
    """The reason given after a ``noqa`` naming an S rule; ``None`` when there is no such noqa."""
    found = re.search(r"noqa: *((?:[A-Z]+[0-9]+[, ]*)+)(.*)$", line)
    if found is None or not re.search(r"\bS[0-9]+", found.group(1)):
        return None
    return found.group(2).strip(" -\u2014:")


def test_the_noqa_check_sees_a_missing_reason() -> None:
    noqa = "no" + "qa"  # so that this file's own lines are not taken for exceptions
    assert _security_noqa_reason(f"x = 1  # {noqa}: S311") == ""
    assert _security_noqa_reason(f"x = 1  # {noqa}: E501, S104 --") == ""
    assert _security_noqa_reason(f"x = 1  # {noqa}: S311 -- jitter, not cryptography") == (
        "jitter, not cryptography"
    )
    assert _security_noqa_reason(f"x = 1  # {noqa}: BLE001 -- no S rule") is None


def test_every_test_security_md_names_exists() -> None:
    """docs/security.md backs its statements with tests by name: each must exist."""
    text = (REPO / "docs" / "security.md").read_text(encoding="utf-8")
    named = set(re.findall(r"(?<![/\w])(test_\w+)\b(?!\.py)", text))  # not file names
    defined = {
        match
        for path in (REPO / "tests").rglob("test_*.py")
        for match in re.findall(r"^def (test_\w+)", path.read_text(encoding="utf-8"), re.M)
    }
    assert named, "docs/security.md names no test"
    assert sorted(named - defined) == []


def test_mapi_messages_echoing_the_secret_in_any_form_are_scrubbed() -> None:
    """A server that echoes the secret lowercased, cut, or base64 of ``key:secret`` (as a
    Basic header would be): none of it reaches the ledger or the failed file."""
    import base64

    from fbcli.mapi import error_message

    secret = "SuperSecretValue123"
    basic = base64.b64encode(f"k:{secret}".encode()).decode()
    body = json.dumps(
        {"message": f"bad b64={basic} lower={secret.lower()} part={secret[:10]} end"}
    ).encode()
    message = error_message(400, body, hide=(secret,))
    assert message.endswith(" end")
    assert "uperSecre" not in message
    assert "supersecre" not in message.casefold()
    assert "U2VjcmV0" not in message  # "Secret" in base64, at any alignment
    for start in range(len(secret) - 7):
        assert secret[start : start + 8].casefold() not in message.casefold()
