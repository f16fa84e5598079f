"""Run the destination's own code (``harness.js``) as one long-lived Node process.

The harness needs the npm packages of ``package.json``, installed exactly as
``package-lock.json`` says (``npm ci``) into a cache outside the repository:
``$FBCLI_ORACLE_CACHE`` (default ``~/.cache/fbcli-oracle``), one directory per
hash of the two files, so a changed lockfile installs afresh and an unchanged
one is installed once per machine.  An install is made in a temporary
directory and renamed into place, under a lock, so two runs never see half of
one.

``start_oracle()`` gives an ``Oracle`` or, when Node or npm is missing or the
install fails (offline, say), the reason it cannot: tests skip with it, unless
``FBCLI_ORACLE_REQUIRED=1`` (CI), where it is a failure.  ``Oracle.ask`` sends
many requests at once: a thread writes them while the answers are read, so
neither pipe fills up and thousands of events take seconds.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Final

HERE: Final = Path(__file__).resolve().parent
HARNESS: Final = HERE / "harness.js"
MANIFESTS: Final = (HERE / "package.json", HERE / "package-lock.json")
CACHE_ENV: Final = "FBCLI_ORACLE_CACHE"
REQUIRED_ENV: Final = "FBCLI_ORACLE_REQUIRED"
INSTALL_TIMEOUT: Final = 900.0
READY: Final = ".fbcli-oracle-ready"
NPM_OPTIONS: Final = (
    "--ignore-scripts",  # no package needs its install script for what the harness runs
    "--prefer-offline",  # npm's own cache first: a rerun needs no network
    "--fetch-retries=1",  # offline, fail in seconds rather than minutes
    "--no-audit",
    "--no-fund",
    "--loglevel=error",
)

JsonObject = dict[str, Any]


class OracleError(Exception):
    """The harness broke (it died, or answered something that is not an answer)."""


def required() -> bool:
    """Whether a missing oracle is a failure (``FBCLI_ORACLE_REQUIRED=1``, set in CI)."""
    return os.environ.get(REQUIRED_ENV, "") not in ("", "0")


def cache_root() -> Path:
    """Where installs are kept: ``$FBCLI_ORACLE_CACHE`` or ``~/.cache/fbcli-oracle``."""
    configured = os.environ.get(CACHE_ENV)
    if configured:
        return Path(configured).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "fbcli-oracle"


def install_key() -> str:
    """The hash of ``package.json`` and ``package-lock.json`` that names an install."""
    digest = hashlib.sha256()
    for manifest in MANIFESTS:
        digest.update(manifest.read_bytes())
    return digest.hexdigest()[:16]


def install(root: Path | None = None) -> Path:
    """The install directory for the current lockfile, installing it first if needed.

    Raises ``OracleError`` (with npm's last words) when ``npm ci`` fails.
    """
    root = root or cache_root()
    target = root / install_key()
    if (target / READY).exists():
        return target
    root.mkdir(parents=True, exist_ok=True)
    with (root / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (target / READY).exists():  # another run installed it while we waited
            return target
        staging = Path(tempfile.mkdtemp(prefix="install-", dir=root))
        try:
            for manifest in MANIFESTS:
                shutil.copy2(manifest, staging / manifest.name)
            npm = shutil.which("npm")
            assert npm is not None
            done = subprocess.run(
                [npm, "ci", *NPM_OPTIONS],
                cwd=staging,
                capture_output=True,
                text=True,
                timeout=INSTALL_TIMEOUT,
                check=False,
            )
            if done.returncode != 0:
                raise OracleError(f"npm ci failed (exit {done.returncode}): {_npm_error(done)}")
            (staging / READY).write_text("ok\n", encoding="utf-8")
            shutil.rmtree(target, ignore_errors=True)
            staging.rename(target)
        except subprocess.TimeoutExpired as exc:
            raise OracleError(f"npm ci took more than {INSTALL_TIMEOUT:.0f} s") from exc
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return target


def _npm_error(done: subprocess.CompletedProcess[str]) -> str:
    """npm's first error lines (its code and summary), on one line."""
    lines = [line.strip() for line in (done.stderr or done.stdout).splitlines() if line.strip()]
    errors = [line.removeprefix("npm error").strip() for line in lines if "error" in line]
    return "; ".join(dict.fromkeys(e for e in errors[:3] if e)) or "no message"


@dataclass(frozen=True, slots=True)
class Unavailable:
    """Why the oracle cannot run here."""

    reason: str


class Oracle:
    """The harness process: ``ask`` it requests, get its answers in the same order."""

    def __init__(self, directory: Path) -> None:
        node = shutil.which("node")
        assert node is not None
        self._stderr: IO[bytes] = tempfile.TemporaryFile()  # noqa: SIM115 - closed in close()
        self._process = subprocess.Popen(
            [node, str(HARNESS), str(directory)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
        )
        self._next_id = 0

    def ask(self, requests: Sequence[JsonObject]) -> list[JsonObject]:
        """Each request's answer, in order (``harness.js`` describes both)."""
        process = self._process
        assert process.stdin is not None
        assert process.stdout is not None
        first = self._next_id
        self._next_id += len(requests)
        lines = [
            json.dumps({**request, "id": first + i}, ensure_ascii=True, allow_nan=False) + "\n"
            for i, request in enumerate(requests)
        ]
        stdin = process.stdin
        failed: list[BaseException] = []

        def write() -> None:
            try:
                for line in lines:
                    stdin.write(line.encode("ascii"))
                stdin.flush()
            except (BrokenPipeError, OSError) as exc:  # the harness died: reported below
                failed.append(exc)

        writer = threading.Thread(target=write, name="oracle-writer", daemon=True)
        writer.start()
        answers: list[JsonObject] = []
        try:
            for i in range(len(requests)):
                raw = process.stdout.readline()
                if not raw:
                    raise OracleError(f"the harness stopped answering: {self._last_words()}")
                answer: JsonObject = json.loads(raw)
                if answer.get("id") != first + i:
                    raise OracleError(f"answer {answer.get('id')!r} came for request {first + i}")
                error = answer.get("error")
                if isinstance(error, dict) and error.get("harness"):
                    raise OracleError(f"the harness failed: {error.get('message')}")
                answers.append(answer)
        finally:
            writer.join()
        if failed:
            raise OracleError(f"writing to the harness failed: {failed[0]}")
        return answers

    def _last_words(self) -> str:
        self._stderr.seek(0)
        text = self._stderr.read().decode("utf-8", "replace")
        return " ".join(text.split())[-400:] or "(nothing on stderr)"

    def close(self) -> None:
        """Stop the harness (end of its input) and wait for it."""
        process = self._process
        if process.stdin is not None:
            with contextlib.suppress(OSError):
                process.stdin.close()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stdout is not None:
            process.stdout.close()
        self._stderr.close()

    def __enter__(self) -> Oracle:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def start_oracle() -> Oracle | Unavailable:
    """Install (once) and start the harness, or say why it cannot run here."""
    for tool in ("node", "npm"):
        if shutil.which(tool) is None:
            return Unavailable(f"'{tool}' is not installed: the oracle runs the destination's code")
    try:
        directory = install()
    except (OracleError, OSError) as exc:
        return Unavailable(f"the oracle's npm packages could not be installed: {exc}")
    oracle = Oracle(directory)
    try:
        [answer] = oracle.ask([{"op": "versions"}])
    except OracleError as exc:
        oracle.close()
        return Unavailable(f"the oracle's harness does not start: {exc}")
    if "versions" not in answer:
        oracle.close()
        return Unavailable(f"the oracle's harness does not start: {answer}")
    return oracle
