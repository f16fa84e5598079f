"""The docs are true: generated blocks current, every example run, links that lead somewhere.

``docs/generate.py`` does the work (its docstring states the rules); these tests
run it without writing anything, so a stale page fails CI with the command that
refreshes it.  The README stays short and points at every page.
"""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from docs import generate
from docs.generate import Command, FileBlock, Outcome
from tests.support import REPO

REFRESH = "run: .venv/bin/python docs/generate.py"
PAGES = generate.pages()
DOC_PAGES = sorted((REPO / "docs").glob("*.md"))


def page_id(page: Path) -> str:
    return generate.page_name(page)


# -- generated blocks --------------------------------------------------------------------------


def test_generated_blocks_are_current() -> None:
    cache: dict[str, str] = {}
    stale = [
        generate.page_name(page)
        for page in PAGES
        if generate.regenerate(page.read_text(encoding="utf-8"), cache)
        != page.read_text(encoding="utf-8")
    ]
    assert stale == [], f"stale generated blocks in {', '.join(stale)}: {REFRESH}"
    assert "fbcli actions --markdown" in cache, "docs/actions.md lost its field reference"


def test_a_generated_block_is_the_commands_output() -> None:
    page = (
        "# Title\n"
        "<!-- [[[generated: fbcli actions --markdown]]] -->\nold\n<!-- [[[end]]] -->\n"
        "<!-- [[[generated: fbcli ledger forget --help]]] -->\n<!-- [[[end]]] -->\n"
        "Say `<!-- [[[generated: fbcli --help]]] -->` in a sentence: left alone.\n"
    )
    new = generate.regenerate(page)
    assert generate.generated_commands(new) == [
        "fbcli actions --markdown",
        "fbcli ledger forget --help",
    ]
    assert "\nold\n" not in new
    assert "\n#### trackCustomer\n" in new  # Markdown, as is
    assert "```text\nUsage: fbcli ledger forget [OPTIONS] [KEY...]\n" in new
    help_lines = new.split("```text\n", 1)[1].split("```", 1)[0].splitlines()
    assert max(len(line) for line in help_lines) <= 80
    assert generate.regenerate(new) == new
    with pytest.raises(ValueError, match="fbcli command"):
        generate.regenerate("<!-- [[[generated: ls]]] -->\n<!-- [[[end]]] -->\n")


# -- examples ------------------------------------------------------------------------------------


@pytest.mark.parametrize("page", PAGES, ids=page_id)
def test_examples_run_and_show_their_real_output(page: Path) -> None:
    outcomes = generate.run_examples(page.read_text(encoding="utf-8"))
    problems = [
        generate.describe(generate.page_name(page), outcome)
        for outcome in outcomes
        if not (outcome.exit_matches and outcome.output_matches)
    ]
    assert problems == [], "\n".join([*problems, REFRESH])


def test_the_pages_have_examples() -> None:
    commands = {
        generate.page_name(page): sum(
            isinstance(step, Command) for step in generate.steps(page.read_text(encoding="utf-8"))
        )
        for page in PAGES
    }
    for name in ("README.md", "docs/debugging.md", "docs/replay.md", "docs/mapping-file.md"):
        assert commands[name] >= 3, name
    assert commands["docs/actions.md"] >= 2


def test_every_dollar_line_is_in_a_console_block() -> None:
    """A ``$ `` line anywhere else would be an example that no test runs."""
    for page in PAGES:
        for block in generate.fenced_blocks(page.read_text(encoding="utf-8")):
            if block.language != "console":
                dollars = [line for line in block.lines if line.startswith("$ ")]
                assert dollars == [], f"{generate.page_name(page)}:{block.start + 1}"


def test_steps_read_commands_outputs_exit_codes_and_files() -> None:
    page = (
        "Intro\n"
        "```yaml file=dir/new.yaml\n"
        "a: 1\n"
        "```\n"
        "- a list item:\n"
        "  ```console\n"
        "  $ fbcli validate x.jsonl   # exit 1: invalid events\n"
        "  line one\n"
        "\n"
        "  $ echo '# exit 3'   # a comment\n"
        "  ```\n"
    )
    steps = generate.steps(page)
    assert steps[0] == FileBlock(1, "dir/new.yaml", "a: 1\n")
    first, second = steps[1], steps[2]
    assert isinstance(first, Command)
    assert isinstance(second, Command)
    assert (first.line, first.exit_code, first.shown, first.end) == (6, 1, ("line one", ""), 9)
    assert first.command == "fbcli validate x.jsonl   # exit 1: invalid events"
    assert first.indent == "  "
    assert (second.exit_code, second.shown) == (0, ())
    with pytest.raises(ValueError, match="starts with a `\\$ ` command"):
        generate.steps("```console\noutput\n$ true\n```\n")


def test_variable_parts_are_compared_as_placeholders() -> None:
    shown = [
        "replay to http://127.0.0.1:46237",
        "7 calls in 0.6 s (11.5 calls/s) · 11.5/s (limit 10/s) · ETA 0s",
        '"elapsed_seconds": 0.61, "achieved_rate": 11.48, "sent": 7',
        "msg-0003   sent 201   2026-12-06 22:13:01   since 2026-12-06T22:13:01.913+00:00",
        "trailing spaces   ",
        "",
    ]
    real = [
        "replay to http://127.0.0.1:5",
        "7 calls in 12 s (0.6 calls/s) · 0.0/s (limit 2.5/s) · ETA ?",
        '"elapsed_seconds": 12.0, "achieved_rate": 0.583, "sent": 7',
        "msg-0003   sent 201   2027-01-31 01:02:03   since 2027-01-31T01:02:03Z",
        "trailing spaces",
    ]
    assert generate.normalized(shown) == generate.normalized(real)
    assert generate.normalized(shown)[:2] == [
        "replay to http://127.0.0.1:PORT",
        "7 calls in N s (N calls/s) · N/s (limit N/s) · ETA N",
    ]
    assert generate.normalized(["sent 7"]) != generate.normalized(["sent 8"])
    assert generate.normalized(["3 subscriptions"]) == ["3 subscriptions"]


def test_a_rewrite_changes_only_outputs_that_differ() -> None:
    page = "```console\n$ a\ntook 0.5 s\n$ b   # exit 1\nold\nold\n```\nafter\n"
    a, b = (step for step in generate.steps(page) if isinstance(step, Command))
    outcomes = [Outcome(a, 0, ("took 0.7 s",)), Outcome(b, 1, ("new",))]
    assert generate.with_outputs(page, outcomes) == page.replace("old\nold\n", "new\n")
    wrong_exit = Outcome(b, 0, ("new",))
    assert not wrong_exit.exit_matches
    assert "exit 0, the page says 1" in generate.describe("p.md", wrong_exit)
    assert "+new" in generate.describe("p.md", Outcome(b, 1, ("new",)))


def test_check_names_the_stale_page_and_the_rewrite_fixes_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    page = tmp_path / "page.md"
    page.write_text(
        "```console\n$ fbcli --version\nfbcli 0.0.0\n$ false   # exit 1\n```\n", encoding="utf-8"
    )
    assert generate.main(["--check", str(page)]) == 1
    assert f"{page.resolve()}: stale" in capsys.readouterr().err
    assert generate.main([str(page)]) == 0
    assert re.search(r"\$ fbcli --version\nfbcli \d+\.\d+\.\d+\n", page.read_text(encoding="utf-8"))
    assert generate.main(["--check", str(page)]) == 0
    page.write_text("```console\n$ false\n```\n", encoding="utf-8")
    assert generate.main([str(page)]) == 1
    assert "exit 1, the page says 0" in capsys.readouterr().err


def test_examples_run_in_a_scratch_folder_without_credentials(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FRIENDBUY_MAPI_SECRET", "never-seen")
    (outcome,) = generate.run_examples(
        "```console\n"
        '$ ls; echo "${FRIENDBUY_MAPI_SECRET:-none} $COLUMNS $NO_COLOR"; echo $FBCLI_STATE_DIR\n'
        "```\n"
    )
    assert outcome.output == (
        "mappings.yaml",
        "sample_events",
        "tests",
        "none 100 1",
        generate.SHOWN_PATHS["state"],
    )


# -- sh blocks: not run, still checked -------------------------------------------------------


def sh_commands() -> list[tuple[str, int, str]]:
    """Every command line of the pages' ``sh`` blocks: (page, line, command)."""
    found = []
    for page in PAGES:
        for block in generate.fenced_blocks(page.read_text(encoding="utf-8")):
            if block.language == "sh":
                found += [
                    (generate.page_name(page), block.start + 2 + n, line)
                    for n, line in enumerate(block.lines)
                    if line.strip() and not line.startswith("#")
                ]
    return found


def test_sh_blocks_parse_and_name_files_that_exist() -> None:
    for page, line, command in sh_commands():
        where = f"{page}:{line}: {command}"
        done = subprocess.run(["bash", "-n", "-c", command], capture_output=True, check=False)
        assert done.returncode == 0, where
        for word in shlex.split(command, comments=True):
            path = word.split("=", 1)[-1]
            if re.fullmatch(r"(bench|docs|tests|fbcli|\.ci)/[\w./-]*\w", path):
                assert (REPO / path).exists(), where


def test_sh_blocks_give_fbcli_only_options_it_has() -> None:
    helps: dict[str, str] = {}
    for page, line, command in sh_commands():
        words = shlex.split(command, comments=True)
        for start, word in enumerate(words):
            if Path(word).name != "fbcli":
                continue
            name = words[start + 1]
            if name not in helps:
                helps[name] = subprocess.run(
                    [sys.executable, "-m", "fbcli", name, "--help"],
                    capture_output=True,
                    text=True,
                    check=True,
                ).stdout
            for option in words[start + 2 :]:
                if option in {"|", "&&", "&", ";"}:
                    break
                if option.startswith("--"):
                    assert option.split("=")[0] in helps[name], f"{page}:{line}: {option}"


# -- links and the README ----------------------------------------------------------------------


def anchors(page: Path) -> set[str]:
    """The heading anchors GitHub makes for a page."""
    found: set[str] = set()
    inside = False
    for line in page.read_text(encoding="utf-8").splitlines():
        if generate.FENCE.match(line):
            inside = not inside
        heading = None if inside else re.match(r"#{1,6} (.+)", line)
        if heading:
            slug = re.sub(r"[^\w\- ]", "", heading[1].lower()).replace(" ", "-")
            anchor, n = slug, 0
            while anchor in found:
                n += 1
                anchor = f"{slug}-{n}"
            found.add(anchor)
    return found


def test_every_link_leads_somewhere() -> None:
    for page in [*PAGES, REPO / "SECURITY.md"]:
        text = page.read_text(encoding="utf-8")
        for target in re.findall(r"\]\(([^)\s]+)\)", text):
            if re.match(r"[a-z]+:", target):
                continue
            path, _, anchor = target.partition("#")
            linked = (page.parent / path).resolve() if path else page
            where = f"{generate.page_name(page)}: {target}"
            assert linked.exists(), where
            if anchor:
                assert anchor in anchors(linked), where


def test_the_readme_is_short_and_links_every_page() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert len(readme.splitlines()) <= 250
    for page in DOC_PAGES:
        assert f"(docs/{page.name})" in readme, page.name
    assert "(SECURITY.md)" in readme


def test_the_readmes_set_up_lines_stay() -> None:
    """CI and people copy these two lines (.ci/run does what the second says)."""
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert (
        "python3 -m venv .venv && .venv/bin/pip install -q . && "
        ".venv/bin/fbcli replay sample_events/events.jsonl --emulator --skip-invalid\n"
    ) in readme
    assert (
        "python3 -m venv .venv && .venv/bin/pip install -q -e '.[test]' && "
        ".venv/bin/python -m pytest\n"
    ) in readme


def test_security_md_keeps_the_reporting_section_and_points_at_the_docs() -> None:
    text = (REPO / "SECURITY.md").read_text(encoding="utf-8")
    assert "## Reporting a vulnerability" in text
    assert "(docs/security.md)" in text
