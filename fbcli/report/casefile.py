"""``fbcli test``: a line per case, the failures in detail, a summary; JSON; JUnit XML.

Case names, paths and differences come from users' files: they are shown as
literal text (never markup, control characters escaped) and made safe for
XML 1.0, which has no way to write most control characters.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from typing import Any, Final

from rich.console import Console
from rich.text import Text

from fbcli.casefile import FileResult, FileUpdate, SuiteResult, expectation_from
from fbcli.report import literal, print_warning
from fbcli.text import plural

_NOT_XML_RE: Final = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
"""Characters XML 1.0 cannot hold, even escaped."""


def summary_line(suite: SuiteResult) -> Text:
    """``12 passed, 1 failed`` (``12 passed`` when nothing failed)."""
    text = Text(f"{suite.passed} passed", style="bold green" if not suite.failed else "green")
    if suite.failed:
        text.append(", ")
        text.append(f"{suite.failed} failed", style="bold red")
    return text


def _heading(result: FileResult) -> Text:
    return literal(f"{result.path} · {result.mappings} · {result.mode} mode", style="bold")


def render_results(console: Console, suite: SuiteResult) -> None:
    """A line per case (✓ or ✗ and its name) per file, then each failure's differences."""
    for result in suite.files:
        console.print(_heading(result), soft_wrap=True)
        for case in result.results:
            mark = Text("  ✓ ", style="green") if case.passed else Text("  ✗ ", style="bold red")
            console.print(mark + literal(case.case.name), soft_wrap=True)
    if suite.failed:
        console.print()
        console.print(Text("Failures", style="bold red"))
        for result in suite.files:
            for case in result.results:
                if case.passed:
                    continue
                title = Text("✗ ", style="bold red") + literal(case.case.name, style="bold")
                title.append_text(literal(f" ({result.path}:{case.case.line})", style="dim"))
                console.print(title, soft_wrap=True)
                for difference in case.differences:
                    console.print(literal(f"    {difference}"), soft_wrap=True)
    console.print()
    console.print(summary_line(suite))


def results_json(suite: SuiteResult) -> dict[str, Any]:
    """``test --format json``: counts, and per file each case's status and differences.

    A failed case also carries ``actual``: the expectation the output would pass.
    """
    files = []
    for result in suite.files:
        cases = []
        for case in result.results:
            entry: dict[str, Any] = {
                "name": case.case.name,
                "line": case.case.line,
                "status": "passed" if case.passed else "failed",
            }
            if not case.passed:
                entry["differences"] = list(case.differences)
                entry["actual"] = expectation_from(case.outcome)
            cases.append(entry)
        files.append(
            {"path": result.path, "mappings": result.mappings, "mode": result.mode, "cases": cases}
        )
    return {"passed": suite.passed, "failed": suite.failed, "files": files}


def _xml(text: str) -> str:
    return _NOT_XML_RE.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), text)


def junit_xml(suite: SuiteResult) -> bytes:
    """JUnit XML: ``testsuites`` → a ``testsuite`` per case file → a ``testcase`` per case.

    A failed case holds a ``failure`` whose ``message`` is its first difference
    and whose text lists them all.  ElementTree escapes markup characters;
    characters XML cannot hold are written as ``\\xNN`` escapes.
    """
    root = ET.Element(
        "testsuites",
        name="fbcli test",
        tests=str(suite.total),
        failures=str(suite.failed),
        errors="0",
    )
    for result in suite.files:
        suite_element = ET.SubElement(
            root,
            "testsuite",
            name=_xml(result.path),
            tests=str(len(result.results)),
            failures=str(result.failed),
            errors="0",
            skipped="0",
        )
        classname = _xml(re.sub(r"\.ya?ml$", "", result.path).replace("/", ".").replace("\\", "."))
        for case in result.results:
            element = ET.SubElement(
                suite_element,
                "testcase",
                name=_xml(case.case.name),
                classname=classname,
                file=_xml(result.path),
                line=str(case.case.line),
            )
            if not case.passed:
                failure = ET.SubElement(
                    element, "failure", message=_xml(case.differences[0]), type="MappingTestFailure"
                )
                failure.text = _xml("\n".join(case.differences))
    ET.indent(root)
    data: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return data + b"\n"


def render_updates(console: Console, updates: list[FileUpdate], *, cases: int) -> None:
    """What ``--update`` changed: per file, each case rewritten (``~``) or filled in (``+``)."""
    changed = [u for u in updates if u.data is not None]
    for update in changed:
        console.print(literal(f"updated {update.path}", style="bold"), soft_wrap=True)
        if update.rewritten:
            print_warning(
                console,
                f"{update.path} was written anew (an expect was an alias): "
                "its comments and layout were not kept",
            )
        for item in update.updates:
            filled = item.case.expect is None
            mark = Text("  + ", style="green") if filled else Text("  ~ ", style="yellow")
            line = mark + literal(item.case.name)
            line.append_text(literal(f" (line {item.case.line})", style="dim"))
            if filled:
                line.append(": expectation filled in")
            console.print(line, soft_wrap=True)
            if not filled:
                for difference in item.differences:
                    console.print(literal(f"      {difference}"), soft_wrap=True)
    count = sum(len(u.updates) for u in changed)
    if not count:
        console.print(Text(f"Nothing to update: all {plural(cases, 'case')} pass."))
        return
    console.print()
    console.print(
        Text(
            f"{plural(count, 'case')} updated in {plural(len(changed), 'file')}, "
            f"{cases - count} unchanged. Review the changes (git diff) before committing."
        )
    )


def updates_json(updates: list[FileUpdate], *, cases: int) -> dict[str, Any]:
    """``test --update --format json``: the files written and the cases updated in each."""
    changed = [u for u in updates if u.data is not None]
    return {
        "updated": sum(len(u.updates) for u in changed),
        "unchanged": cases - sum(len(u.updates) for u in changed),
        "files": [
            {
                "path": u.path,
                "rewritten": u.rewritten,
                "cases": [
                    {
                        "name": c.case.name,
                        "line": c.case.line,
                        "differences": list(c.differences),
                        "expect": c.expect,
                    }
                    for c in u.updates
                ],
            }
            for u in changed
        ],
    }
