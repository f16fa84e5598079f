"""``fbcli actions``: the actions, and one action's fields, as tables (from ``fbcli.catalog``)."""

from __future__ import annotations

import json
from collections.abc import Iterable

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from fbcli.catalog import (
    ActionDoc,
    FieldDoc,
    calls_text,
    describe_default,
    other_keys_text,
    trigger_text,
)


def render_action_list(console: Console, docs: Iterable[ActionDoc]) -> None:
    """One row per action: name and title, modes, what it calls, its suggested trigger."""
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False)
    table.add_column("Action", no_wrap=True)
    table.add_column("Modes", overflow="fold")
    table.add_column("Calls", ratio=1, overflow="fold")
    table.add_column("Suggested trigger", ratio=1, overflow="fold")
    for doc in docs:
        name = Text(doc.name, style="bold")
        name.append(f"\n{doc.title}", style="dim")
        calls = []
        if doc.endpoint:
            calls.append(doc.endpoint)
        if doc.push_type:
            calls.append(f"push {doc.push_type}")
        trigger = (
            Text(doc.suggested_trigger)
            if doc.suggested_trigger
            else Text("(you choose)", style="dim")
        )
        table.add_row(name, ", ".join(doc.action_modes), "\n".join(calls), trigger)
    console.print(table)
    console.print(Text("The fields of one action: fbcli actions NAME", style="dim"))


def _name_cell(f: FieldDoc) -> Text:
    text = Text(f.name, style="bold")
    detail = f.type
    required = f.required_text()
    if required:
        detail += " · required" + ("" if required == "yes" else f" ({required})")
    text.append(f"\n{detail}", style="dim")
    return text


def _body_cell(doc: ActionDoc, f: FieldDoc) -> Text:
    landings = [f.body[m].describe() for m in doc.modes]
    if len(set(landings)) == 1:
        return Text(landings[0])
    text = Text()
    for i, (mode, lands) in enumerate(zip(doc.modes, landings, strict=True)):
        text.append(("\n" if i else "") + f"{mode}: ", style="dim")
        text.append(lands)
    return text


def _field_table(doc: ActionDoc, fields: Iterable[FieldDoc], *, item_table: bool) -> Table:
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False)
    table.add_column("Key" if item_table else "Field", overflow="fold", min_width=12)
    table.add_column("When missing" if item_table else "Default mapping", ratio=4, overflow="fold")
    table.add_column("Body" if len(doc.modes) > 1 else f"{doc.modes[0]} body", ratio=3)
    for f in fields:
        if item_table:
            default = "" if f.default is None else json.dumps(f.default, ensure_ascii=False)
        else:
            default = describe_default(f.default)
        table.add_row(_name_cell(f), Text(default), _body_cell(doc, f))
    return table


def render_action(console: Console, doc: ActionDoc) -> None:
    """One action: what it calls, its fields (default, required, where each lands), notes."""
    title = Text(doc.name, style="bold")
    title.append(f" — {doc.title}")
    console.print(title)
    console.print(Text(doc.description))
    console.print(Text(calls_text(doc)))
    console.print(Text(trigger_text(doc)))
    console.print(_field_table(doc, doc.fields, item_table=False))
    for f in doc.fields:
        if f.items:
            console.print()
            console.print(Text(f"Each item of {f.name} (other keys are not sent):"))
            console.print(_field_table(doc, f.items, item_table=True))
    console.print()
    other = other_keys_text(doc)
    if other:
        console.print(Text(other))
    if "direct" in doc.modes and any("direct" in f.required for f in doc.fields):
        console.print(
            Text("In direct mode a missing required field is a warning, not an error.", style="dim")
        )
    console.print(Text(f"Its JSON schema: fbcli actions {doc.name} --schema", style="dim"))
