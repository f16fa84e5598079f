"""Keep the docs honest: regenerate what is generated, run every example.

    .venv/bin/python docs/generate.py            # rewrite what is stale
    .venv/bin/python docs/generate.py --check    # change nothing; exit 1 naming what is stale
    .venv/bin/python docs/generate.py docs/replay.md    # one page only

The pages are ``README.md`` and ``docs/*.md``.  Two kinds of text in them are
made by running fbcli:

- **Generated blocks**, between ``<!-- [[[generated: COMMAND]]] -->`` and
  ``<!-- [[[end]]] -->`` lines: the output of ``COMMAND`` (an ``fbcli``
  command line), 80 columns wide, without colour.  ``--markdown`` output is
  put in as Markdown; any other output as a ``text`` code block.
- **Examples**: every fenced block marked ``console``.  Each of its lines that
  starts with ``$ `` is a command, run by bash; the lines under it, up to the
  next ``$ `` line or the end of the block, are its output: standard output
  and standard error together, as a terminal shows them.  The command must
  exit 0, unless its line ends with a comment that starts ``# exit N``.
  A fenced block whose info string holds ``file=PATH`` (```` ```yaml
  file=new.yaml ````) is written to ``PATH`` before the commands after it run.

A page's examples run in order, in a scratch folder of their own holding a
copy of ``sample_events/``, ``mappings.yaml`` and the export of the acceptance
case ``realistic-export`` (so an example may use what
an earlier one made), with ``fbcli`` from this checkout first on ``PATH``, a
state folder of their own (``FBCLI_STATE_DIR``), no ``FRIENDBUY_*`` or other
``FBCLI_*`` variables, ``COLUMNS=100`` (fbcli's width when its output is not a
terminal) and ``NO_COLOR=1``.  Nothing reaches the network: replays use
``--emulator``.  Commands that need credentials or a server left running are
shown in ``sh`` blocks instead, which are not run.

Output is compared with the parts that vary from run to run replaced
(``VARIABLE``: ports, dates, durations, rates), with trailing spaces dropped
and the two folders shown as ``SHOWN_PATHS`` says.  When an output differs,
the rewrite puts in the real one; an output that differs only in its variable
parts is left as the page shows it.  A wrong exit code is not rewritten: it is
reported, and the page's ``# exit N`` is for a person to fix.
"""

from __future__ import annotations

import argparse
import difflib
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

REPO: Final = Path(__file__).resolve().parent.parent
DOCS: Final = REPO / "docs"

HELP_COLUMNS: Final = "80"
EXAMPLE_COLUMNS: Final = "100"
TIMEOUT: Final = 120.0

GENERATED: Final = re.compile(
    r"^(<!-- \[\[\[generated: (?P<command>[^\n]+?)\]\]\] -->\n)"
    r"(?P<body>.*?)"
    r"^(<!-- \[\[\[end\]\]\] -->)$",
    re.MULTILINE | re.DOTALL,
)
FENCE: Final = re.compile(r"^(?P<indent> *)(?P<fence>`{3,}|~{3,})(?P<info>[^`]*)$")
EXIT_COMMENT: Final = re.compile(r"\s#\s*exit (?P<code>\d+)\b[^#]*$")
FILE_INFO: Final = re.compile(r"(?:^|\s)file=(?P<path>\S+)")

VARIABLE: Final[tuple[tuple[re.Pattern[str], str], ...]] = (
    # The port the system gave a server started on port 0 (replay --emulator).
    (re.compile(r"\b(127\.0\.0\.1|localhost|\[::1\]):\d+"), r"\1:PORT"),
    # Dates and times: the ledger's rows, a lock's note.
    (
        re.compile(
            r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:\.\d+)?"  # date and time of day
            r"(?:Z| ?UTC|[+-]\d{2}:?\d{2})?"  # and a zone
        ),
        "DATE",
    ),
    # Rates: "11.5/s", "11.5 calls/s", "(limit 10/s)".
    (re.compile(r"\b\d+(?:\.\d+)?(?= ?(?:calls)?/s\b)"), "N"),
    # Durations: "ETA 0s" (or "ETA ?" when nothing is sent), "in 0.6 s".
    (re.compile(r"\bETA \S+"), "ETA N"),
    (re.compile(r"\b\d+(?:\.\d+)? ?s\b"), "N s"),
    # The same in JSON: replay --format json's timings.
    (re.compile(r'"(elapsed_seconds|achieved_rate)": ?[-0-9.e+]+'), r'"\1": N'),
)
"""What varies from run to run, and what it is compared as."""

SHOWN_PATHS: Final = {"state": "/home/you/.local/state/fbcli", "scratch": "/home/you/project"}
"""How the examples' scratch folders are shown: as a user's own (state folder on Linux)."""


# -- the pages --------------------------------------------------------------------------------


def pages() -> list[Path]:
    """Every page: the README, then ``docs/*.md``."""
    return [REPO / "README.md", *sorted(DOCS.glob("*.md"))]


def page_name(page: Path) -> str:
    """The page as people name it: relative to the repository when it is in it."""
    return page.relative_to(REPO).as_posix() if page.is_relative_to(REPO) else str(page)


def fbcli_executable() -> str:
    """This checkout's ``fbcli`` (the console script next to this Python), else the one on PATH."""
    beside = Path(sys.executable).parent / "fbcli"
    if beside.exists():
        return str(beside)
    found = shutil.which("fbcli")
    if found is None:
        raise SystemExit("fbcli is not installed: pip install -e '.[test]' first")
    return found


def clean_environment(**extra: str) -> dict[str, str]:
    """The environment without FRIENDBUY_* and FBCLI_* variables, colour or a forced width."""
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("FRIENDBUY_", "FBCLI_")) and name not in {"COLUMNS", "LINES"}
    }
    env.update(NO_COLOR="1", PYTHONIOENCODING="utf-8", PYTHONUNBUFFERED="1", TERM="dumb")
    env.update(extra)
    return env


# -- generated blocks -------------------------------------------------------------------------


def generated_output(command: str) -> str:
    """The text between the markers for ``command``: its output, fenced unless Markdown."""
    args = shlex.split(command)
    if not args or args[0] != "fbcli":
        raise ValueError(f"a generated block runs an fbcli command, not {command!r}")
    done = subprocess.run(
        [fbcli_executable(), *args[1:]],
        capture_output=True,
        text=True,
        encoding="utf-8",
        env=clean_environment(COLUMNS=HELP_COLUMNS),
        cwd=REPO,
        timeout=TIMEOUT,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"{command} exited {done.returncode}: {done.stderr.strip()}")
    if "--markdown" in args:
        return done.stdout.strip() + "\n"
    lines = "".join(line.rstrip() + "\n" for line in done.stdout.rstrip().splitlines())
    return f"```text\n{lines}```\n"


def regenerate(text: str, cache: dict[str, str] | None = None) -> str:
    """``text`` with every generated block rewritten from its command's output."""
    cache = {} if cache is None else cache

    def fill(match: re.Match[str]) -> str:
        command = match["command"].strip()
        if command not in cache:
            cache[command] = generated_output(command)
        return f"{match[1]}{cache[command]}{match[4]}"

    return GENERATED.sub(fill, text)


def generated_commands(text: str) -> list[str]:
    """The commands of the page's generated blocks, in page order."""
    return [match["command"].strip() for match in GENERATED.finditer(text)]


# -- examples ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Command:
    """One ``$ `` line of a console block, and the output the page shows under it."""

    line: int
    """The ``$`` line's index in the page (0-based; shown 1-based)."""
    command: str
    exit_code: int
    shown: tuple[str, ...]
    end: int
    """The index of the line after its output."""
    indent: str


@dataclass(frozen=True, slots=True)
class FileBlock:
    """A fenced block that an example reads: written to ``path`` before what follows it."""

    line: int
    path: str
    content: str


Step = Command | FileBlock


@dataclass(frozen=True, slots=True)
class Block:
    """A fenced block: where it starts and ends, its info string, its lines (unindented)."""

    start: int
    end: int
    indent: str
    info: str
    lines: tuple[str, ...]

    @property
    def language(self) -> str:
        return self.info.split()[0] if self.info.split() else ""


def fenced_blocks(text: str) -> Iterator[Block]:
    """Every fenced code block of a Markdown page."""
    lines = text.splitlines()
    index = 0
    while index < len(lines):
        opening = FENCE.match(lines[index])
        if opening is None:
            index += 1
            continue
        indent, fence = opening["indent"], opening["fence"]
        body: list[str] = []
        close = index + 1
        while close < len(lines):
            candidate = lines[close]
            if candidate.strip().startswith(fence) and set(candidate.strip()) == {fence[0]}:
                break
            body.append(candidate[len(indent) :] if candidate.startswith(indent) else candidate)
            close += 1
        yield Block(index, close, indent, opening["info"].strip(), tuple(body))
        index = close + 1


def steps(text: str) -> list[Step]:
    """The page's examples in order: the commands of console blocks, and the files they read."""
    found: list[Step] = []
    for block in fenced_blocks(text):
        written = FILE_INFO.search(block.info)
        if written is not None:
            content = "".join(line + "\n" for line in block.lines)
            found.append(FileBlock(block.start, written["path"], content))
        if block.language != "console":
            continue
        starts = [i for i, line in enumerate(block.lines) if line.startswith("$ ")]
        if not starts or starts[0] != 0:
            raise ValueError(
                f"line {block.start + 1}: a console block starts with a `$ ` command line"
            )
        for n, first in enumerate(starts):
            last = starts[n + 1] if n + 1 < len(starts) else len(block.lines)
            command = block.lines[first][2:]
            code = EXIT_COMMENT.search(command)
            found.append(
                Command(
                    line=block.start + 1 + first,
                    command=command,
                    exit_code=int(code["code"]) if code else 0,
                    shown=block.lines[first + 1 : last],
                    end=block.start + 1 + last,
                    indent=block.indent,
                )
            )
    return found


def normalized(lines: Sequence[str]) -> list[str]:
    """Output as compared: variable parts replaced, trailing spaces and blank lines dropped."""
    result = []
    for line in lines:
        text = line
        for pattern, replacement in VARIABLE:
            text = pattern.sub(replacement, text)
        result.append(text.rstrip())
    while result and not result[-1]:
        result.pop()
    return result


@dataclass
class Scratch:
    """The folder a page's examples run in, and their state folder."""

    root: Path
    project: Path = field(init=False)
    state: Path = field(init=False)

    def __post_init__(self) -> None:
        self.project = self.root / "project"
        self.state = self.root / "state"
        self.project.mkdir()
        shutil.copytree(REPO / "sample_events", self.project / "sample_events")
        shutil.copy(REPO / "mappings.yaml", self.project / "mappings.yaml")
        export = Path("tests", "cases", "realistic-export", "events.jsonl.gz")
        (self.project / export).parent.mkdir(parents=True)
        shutil.copy(REPO / export, self.project / export)

    def environment(self) -> dict[str, str]:
        path = f"{Path(fbcli_executable()).parent}{os.pathsep}{os.environ.get('PATH', '')}"
        return clean_environment(
            COLUMNS=EXAMPLE_COLUMNS, FBCLI_STATE_DIR=str(self.state), PATH=path
        )

    def shown(self, output: str) -> list[str]:
        """Output as a page shows it: the scratch folders as a user's own, no trailing spaces."""
        output = output.replace(str(self.state), SHOWN_PATHS["state"])
        output = output.replace(str(self.project), SHOWN_PATHS["scratch"])
        lines = [line.rstrip() for line in output.splitlines()]
        while lines and not lines[-1]:
            lines.pop()
        return lines


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one example did."""

    command: Command
    exit_code: int
    output: tuple[str, ...]

    @property
    def output_matches(self) -> bool:
        return normalized(self.command.shown) == normalized(self.output)

    @property
    def exit_matches(self) -> bool:
        return self.exit_code == self.command.exit_code


def run_examples(text: str) -> list[Outcome]:
    """Run a page's examples in order, in a scratch folder of their own."""
    found = steps(text)
    if not any(isinstance(step, Command) for step in found):
        return []
    outcomes = []
    with tempfile.TemporaryDirectory(prefix="fbcli-docs-") as tmp:
        scratch = Scratch(Path(tmp))
        env = scratch.environment()
        for step in found:
            if isinstance(step, FileBlock):
                target = scratch.project / step.path
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(step.content, encoding="utf-8")
                continue
            done = subprocess.run(
                ["bash", "-c", step.command],
                cwd=scratch.project,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                timeout=TIMEOUT,
                check=False,
            )
            output = done.stdout.decode("utf-8", errors="replace")
            outcomes.append(Outcome(step, done.returncode, tuple(scratch.shown(output))))
    return outcomes


def with_outputs(text: str, outcomes: Sequence[Outcome]) -> str:
    """``text`` with each differing example's output replaced by the real one."""
    lines = text.splitlines()
    for outcome in sorted(outcomes, key=lambda o: o.command.line, reverse=True):
        if outcome.output_matches:
            continue
        command = outcome.command
        real = [f"{command.indent}{line}".rstrip() for line in outcome.output]
        lines[command.line + 1 : command.end] = real
    return "\n".join(lines) + "\n"


def describe(page: str, outcome: Outcome) -> str:
    """One example's problem, for people."""
    command = outcome.command
    where = f"{page}:{command.line + 1}: $ {command.command}"
    if not outcome.exit_matches:
        output = "\n".join(f"    {line}" for line in outcome.output)
        return f"{where}\n  exit {outcome.exit_code}, the page says {command.exit_code}\n{output}"
    diff = "\n".join(
        f"    {line}"
        for line in difflib.unified_diff(
            normalized(command.shown), normalized(outcome.output), "page", "real", lineterm=""
        )
    )
    return f"{where}\n  the output differs (variable parts replaced):\n{diff}"


# -- the command ---------------------------------------------------------------------------------


@dataclass
class Report:
    """What a run found: pages rewritten (or stale, with --check) and examples that failed."""

    stale: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def process(page: Path, *, check: bool, report: Report, cache: dict[str, str]) -> None:
    """Regenerate one page and run its examples; rewrite it unless ``check``."""
    name = page_name(page)
    text = page.read_text(encoding="utf-8")
    new = regenerate(text, cache)
    outcomes = run_examples(new)
    for outcome in outcomes:
        if not outcome.exit_matches or (check and not outcome.output_matches):
            report.problems.append(describe(name, outcome))
    new = with_outputs(new, outcomes)
    if new != text:
        report.stale.append(name)
        if not check:
            page.write_text(new, encoding="utf-8")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("pages", nargs="*", type=Path, help="pages (default: all)")
    parser.add_argument(
        "--check", action="store_true", help="change nothing; exit 1 if a page is stale"
    )
    args = parser.parse_args(argv)
    chosen = [path.resolve() for path in args.pages] or pages()
    report = Report()
    cache: dict[str, str] = {}
    for page in chosen:
        process(page, check=args.check, report=report, cache=cache)
    for problem in report.problems:
        print(problem, file=sys.stderr)
    for name in report.stale:
        print(f"{name}: stale" if args.check else f"rewrote {name}", file=sys.stderr)
    if args.check and report.stale:
        print("Run: .venv/bin/python docs/generate.py", file=sys.stderr)
    return 1 if report.problems or (args.check and report.stale) else 0


if __name__ == "__main__":
    sys.exit(main())
