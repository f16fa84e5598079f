"""``docs/generate.py``: generated blocks, and examples run with their output compared.

Its docstring states the rules; these tests hold them on small pages of their own.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from docs import generate
from docs.generate import Command, FileBlock, Outcome

# -- generated blocks --------------------------------------------------------------------------


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
        "none 100 1",
        generate.SHOWN_PATHS["state"],
    )


# -- links and the README ----------------------------------------------------------------------
