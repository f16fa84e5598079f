"""``fbcli init`` and ``fbcli.init``: a starting mapping file that loads, from any events."""

from __future__ import annotations

import io
import json
import shlex
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fbcli.errors import ConfigError
from fbcli.events import Event, LineError, read_events
from fbcli.init import (
    MAX_CUSTOM,
    MAX_LABEL_CHARS,
    MAX_NAME_CHARS,
    EventCounts,
    count_events,
    describe_counts,
    suggest_mapping,
    suggest_subscriptions,
    summary_lines,
    trigger_for,
)
from fbcli.mappings import PLACEHOLDER_MERCHANT_ID, MappingConfig, load_mappings
from fbcli.triggers import compile_trigger, parse_trigger
from fbcli.yamltext import yaml_scalar
from tests.support import SAMPLES, RunCli

MERCHANT = "1993d0f1-8206-4336-8c88-64e170f2419e"
SAMPLE = SAMPLES / "events.jsonl"


def counts_of(*events: dict[str, Any] | str) -> EventCounts:
    text = "".join((e if isinstance(e, str) else json.dumps(e)) + "\n" for e in events)
    return count_events(read_events(io.BytesIO(text.encode()), "e.jsonl"))


def track(name: Any, **extra: Any) -> dict[str, Any]:
    return {"type": "track", "event": name, **extra}


def load(text: str) -> MappingConfig:
    return load_mappings(text, path="init.yaml", merchant_id_env=MERCHANT)


def commented_names(text: str) -> list[str]:
    return [
        line.split("- name: ", 1)[1].split("  #")[0].strip()
        for line in text.splitlines()
        if line.startswith("  # - name: ")
    ]


def uncomment(text: str, index: int) -> str:
    """Uncomment the ``index``-th commented-out subscription (its three lines)."""
    lines = text.splitlines()
    starts = [i for i, line in enumerate(lines) if line.startswith("  # - name: ")]
    first = starts[index]
    for i in range(first, first + 3):
        assert lines[i].startswith("  # ")
        lines[i] = "  " + lines[i][4:]
    return "\n".join(lines) + "\n"


# -- counting --------------------------------------------------------------------------


def test_count_the_sample_events() -> None:
    with SAMPLE.open("rb") as stream:
        counts = count_events(read_events(stream, "events.jsonl"))
    assert counts.sources == ("events.jsonl",)
    assert counts.events == 14
    assert counts.malformed == 2
    assert counts.unreadable == 0
    assert [p.line for p in counts.problems] == [10, 13]
    assert counts.types == {"identify": 3, "track": 10, "page": 1}
    assert counts.suggested == {
        "trackCustomer": 3,
        "trackPurchase": 5,
        "trackSignUp": 2,
        "trackPage": 1,
    }
    assert counts.track_names == {"Order Placed": 1, "Download": 1, "Video Played": 1}
    assert counts.unsubscribed_types == {}


def test_count_odd_events() -> None:
    counts = counts_of(
        track("A"),
        track("A"),
        track(""),
        track(None),
        track(12),
        {"type": "track"},
        track("x" * (MAX_NAME_CHARS + 1)),
        {"type": "screen"},
        {"type": 5},
        {"event": "no type"},
        "not json",
    )
    assert counts.track_names == {"A": 2}
    assert counts.unnamed_tracks == 4
    assert counts.long_names == 1
    assert counts.types == {"track": 7, "screen": 1, "(none)": 2}
    assert counts.unsubscribed_types == {"screen": 1, "(none)": 2}
    assert counts.malformed == 1


def test_count_keeps_at_most_max_names() -> None:
    items = [Event("e", i, track(name)) for i, name in enumerate("abcab", 1)]
    counts = count_events(items, max_names=2)
    assert counts.track_names == {"a": 2, "b": 2}
    assert counts.overflow == 1
    many = count_events(
        [Event("e", i, {"type": f"t{i}"}) for i in range(1, 4)]
        + [LineError("f", 0, "no such file")],
        max_names=2,
    )
    assert many.types == {"t1": 1, "t2": 1}
    assert many.unsubscribed_types == {"t1": 1, "t2": 1}
    assert many.unreadable == 1
    assert many.malformed == 0
    assert many.sources == ("e", "f")


def test_many_inputs_and_problems() -> None:
    items: list[Event | LineError] = [LineError(f"s{i}.jsonl", 0, "no such file") for i in range(2)]
    items += [Event(f"e{i}.jsonl", 1, {"type": "identify"}) for i in range(3)]
    items += [LineError("e0.jsonl", n, "bad line") for n in (2, 3)]
    counts = count_events(items)
    assert counts.unreadable == 2
    assert counts.malformed == 2
    assert len(counts.problems) == 3
    assert describe_counts(counts) == (
        "3 events (3 identify); 2 malformed lines skipped; 2 inputs not readable"
    )
    assert describe_counts(count_events([])) == "0 events"
    text = suggest_mapping(counts)
    assert "from s0.jsonl, s1.jsonl, e0.jsonl and 2 more:" in text
    assert "# Check it: fbcli validate EVENTS -m THIS-FILE" in text


# -- the suggested file ----------------------------------------------------------------


def test_sample_cloud_mapping_loads_and_subscribes_the_standard_actions() -> None:
    with SAMPLE.open("rb") as stream:
        counts = count_events(read_events(stream, "sample_events/events.jsonl"))
    text = suggest_mapping(counts)
    assert text == suggest_mapping(counts)  # deterministic
    config = load(text)
    assert config.mode == "cloud"
    assert [(s.name, s.action.name) for s in config.subscriptions] == [
        ("Track Customer", "trackCustomer"),
        ("Track Purchase", "trackPurchase"),
        ("Track Sign Up", "trackSignUp"),
    ]
    assert config.subscriptions[1].trigger == 'type = "track" and event = "Order Completed"'
    assert commented_names(text) == ["Download", "Order Placed", "Video Played"]
    assert '# 1 event for trackPage (type = "page"): direct mode only' in text
    assert "2 malformed lines skipped" in text
    assert "fbcli validate sample_events/events.jsonl -m THIS-FILE" in text
    for index, name in enumerate(commented_names(text)):
        config = load(uncomment(text, index))
        custom = config.subscriptions[-1]
        assert custom.name == name
        assert custom.action.name == "trackCustomEvent"
        assert custom.matches(track(name))
        assert not custom.matches(track("Order Completed"))


def test_sample_direct_mapping_subscribes_page_views() -> None:
    with SAMPLE.open("rb") as stream:
        counts = count_events(read_events(stream, "events.jsonl"))
    text = suggest_mapping(counts, mode="direct")
    assert f"\nmerchant_id: {PLACEHOLDER_MERCHANT_ID}   # placeholder:" in text
    config = load(text)
    assert config.mode == "direct"
    assert config.merchant_id == MERCHANT  # FRIENDBUY_MERCHANT_ID replaces the placeholder
    assert [s.action.name for s in config.subscriptions] == [
        "trackCustomer",
        "trackPurchase",
        "trackSignUp",
        "trackPage",
    ]
    assert "direct mode only" not in text


def test_missing_standard_events_are_offered_commented_out() -> None:
    text = suggest_mapping(counts_of({"type": "identify"}, track("Order Placed")))
    config = load(text)
    assert [s.action.name for s in config.subscriptions] == ["trackCustomer"]
    assert "# No event matched trackPurchase's suggested trigger" in text
    assert commented_names(text) == ["Track Purchase", "Track Sign Up", "Order Placed"]
    adapted = load(uncomment(text, 0))
    assert adapted.subscriptions[-1].action.name == "trackPurchase"


def test_custom_events_most_frequent_first_capped() -> None:
    events = [track(f"e{i:03d}") for i in range(MAX_CUSTOM + 5) for _ in range(1 + i % 3)]
    counts = counts_of({"type": "identify"}, *events)
    text = suggest_mapping(counts)
    names = commented_names(text)[2:]  # after Track Purchase and Track Sign Up
    assert len(names) == MAX_CUSTOM
    assert names[:3] == ["e002", "e005", "e008"]  # 3 each, then by name
    assert "# 5 more track event names not listed." in text
    suggestion = suggest_subscriptions(counts)
    assert summary_lines(suggestion) == [
        "1 subscription (trackCustomer)",
        f"{MAX_CUSTOM} other track events listed, commented out (and 5 more not listed)",
    ]


def test_only_custom_events_gives_one_disabled_subscription() -> None:
    counts = counts_of(track("Download"), track("Download"), track("Video"))
    text = suggest_mapping(counts)
    config = load(text)
    (only,) = config.subscriptions
    assert only.name == "Download"
    assert not only.enabled
    assert commented_names(text)[-1] == "Video"
    assert summary_lines(suggest_subscriptions(counts)) == [
        "1 custom-event subscription, disabled (enable it to send)",
        "1 other track event listed, commented out",
    ]


def test_notes_for_what_is_not_listed() -> None:
    counts = counts_of(
        {"type": "identify"},
        track(None),
        track("y" * (MAX_NAME_CHARS + 1)),
        {"type": "screen\nnext"},
        {"type": "group"},
        {"type": "group"},
    )
    text = suggest_mapping(counts)
    load(text)
    assert "# 1 track event without an event name." in text
    assert f"names over {MAX_NAME_CHARS} characters" in text
    assert "# No Friendbuy action takes these events: 2 group, 1 screen\\u000anext." in text
    assert "screen\nnext" not in text


def test_nothing_to_subscribe_to_is_an_error() -> None:
    with pytest.raises(ConfigError, match=r"nothing in the events .*1 page, 1 screen") as caught:
        suggest_mapping(counts_of({"type": "page"}, {"type": "screen"}))
    assert caught.value.hint is not None
    assert "--mode direct" in caught.value.hint
    with pytest.raises(ConfigError) as caught:
        suggest_mapping(counts_of({"type": "screen"}))
    assert caught.value.hint is None
    with pytest.raises(ConfigError, match="type: none"):
        suggest_mapping(count_events([]))
    assert load(suggest_mapping(counts_of({"type": "page"}), mode="direct")).subscriptions


CRAFTED = [
    'Say "hi"',
    "back\\slash",
    "colon: value",
    "hash # tag",
    "#hashtag",
    "it's",
    "- dash",
    "Café ✓ 注文",
    "emoji 🎉",
    "  padded  ",
    "yes",
    "null",
    "123",
    "tab\there",
    "line\nbreak",
    "sep\u2028arator",
    "nel\x85x",
    "bidi\u202eevil",
    "bom\ufeff",
    "del\x7f",
    "tag \U000e0001",
    "{flow}",
    "[list]",
    "*alias",
    "&anchor",
    "!tag",
    "%directive",
    "@at",
    "`tick`",
    "Track Purchase",
    "a" * MAX_NAME_CHARS,
]


@pytest.mark.parametrize("name", CRAFTED)
def test_any_event_name_survives_in_yaml_and_trigger(name: str) -> None:
    counts = counts_of({"type": "identify"}, track(name), track(name + "x"))
    text = suggest_mapping(counts)
    assert suggest_subscriptions(counts).custom[0].trigger == trigger_for(name)
    config = load(uncomment(text, 2))  # after the two standard ones no event matched
    custom = config.subscriptions[-1]
    assert custom.matches(track(name))
    assert not custom.matches(track(name + "x"))
    assert not custom.matches(track(name[:-1]))
    assert custom.name.isprintable()
    assert len(custom.name) <= MAX_LABEL_CHARS + 4
    assert custom.name not in {"Track Customer", "Track Purchase", "Track Sign Up"}


def test_labels_stay_unique_when_shortened() -> None:
    long_a = "L" * 80 + "a"
    long_b = "L" * 80 + "b"
    counts = counts_of({"type": "identify"}, track(long_a), track(long_b))
    text = suggest_mapping(counts)
    config = load(uncomment(uncomment(text, 3), 2))
    names = [s.name for s in config.subscriptions[-2:]]
    assert names[0] != names[1]
    assert names[1].endswith("(2)")
    assert config.subscriptions[-2].matches(track(long_a))
    assert config.subscriptions[-1].matches(track(long_b))


@settings(max_examples=150, deadline=None)
@given(st.text(min_size=1, max_size=40))
def test_any_name_round_trips(name: str) -> None:
    counts = count_events([Event("e", 1, {"type": "identify"}), Event("e", 2, track(name))])
    if name in ("Order Completed", "Signed Up"):
        return
    text = suggest_mapping(counts)
    config = load(uncomment(text, 2))
    custom = config.subscriptions[-1]
    assert custom.matches(track(name))
    assert compile_trigger(parse_trigger(trigger_for(name)))(track(name))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Track Customer", "Track Customer"),
        ('type = "identify"', 'type = "identify"'),
        ("a: b", "'a: b'"),
        ("a #b", "'a #b'"),
        ("ends:", "'ends:'"),
        ("trailing ", "'trailing '"),
        ("No", "'No'"),
        ("it's: x", "'it''s: x'"),
        ("9lives", "'9lives'"),
        ("Café", "'Café'"),
    ],
)
def test_yaml_scalar(text: str, expected: str) -> None:
    assert yaml_scalar(text) == expected


# -- the command -----------------------------------------------------------------------


def test_init_writes_mappings_yaml(run_cli: RunCli, tmp_path: Path) -> None:
    result = run_cli("init", str(SAMPLE))
    assert result.exit_code == 0
    assert result.stdout == ""
    written = (tmp_path / "mappings.yaml").read_text(encoding="utf-8")
    assert len(load(written).subscriptions) == 3
    assert "Found 14 events (10 track, 3 identify, 1 page); 2 malformed lines skipped." in (
        result.stderr
    )
    assert f"Warning: skipped {SAMPLE}:10: invalid JSON" in result.stderr
    assert "Wrote mappings.yaml: 3 subscriptions (trackCustomer, trackPurchase, trackSignUp)" in (
        result.stderr
    )
    assert f"Next: fbcli validate {SAMPLE} -m mappings.yaml" in result.stderr


def test_init_never_overwrites_without_force(run_cli: RunCli, tmp_path: Path) -> None:
    target = tmp_path / "mine.yaml"
    target.write_text("keep me\n", encoding="utf-8")
    result = run_cli("init", str(SAMPLE), "-o", str(target))
    assert result.exit_code == 2
    assert "the file already exists" in result.stderr
    assert "--force" in result.stderr
    assert target.read_text(encoding="utf-8") == "keep me\n"
    forced = run_cli("init", str(SAMPLE), "-o", str(target), "--force", "--mode", "direct")
    assert forced.exit_code == 0
    assert load(target.read_text(encoding="utf-8")).mode == "direct"


def test_init_to_stdout(run_cli: RunCli, tmp_path: Path) -> None:
    (tmp_path / "mappings.yaml").write_text("keep me\n", encoding="utf-8")
    result = run_cli("init", "-", "-o", "-", stdin=json.dumps(track("Download")) + "\n")
    assert result.exit_code == 0
    assert load(result.stdout).subscriptions[0].name == "Download"
    assert "Printed: 1 custom-event subscription, disabled" in result.stderr
    assert "Next:" not in result.stderr
    assert (tmp_path / "mappings.yaml").read_text(encoding="utf-8") == "keep me\n"


@pytest.mark.parametrize(
    ("events", "message"),
    [
        (None, "no such file"),
        ("", "no events to start from"),
        ('{"type": "screen"}\n', "nothing in the events to subscribe to"),
    ],
)
def test_init_without_usable_events_writes_nothing(
    run_cli: RunCli, tmp_path: Path, events: str | None, message: str
) -> None:
    path = tmp_path / "events.jsonl"
    if events is not None:
        path.write_text(events, encoding="utf-8")
    result = run_cli("init", str(path))
    assert result.exit_code == 2
    assert message in result.stderr
    assert not (tmp_path / "mappings.yaml").exists()
    if events is None:
        assert result.stderr == f"Error: no such file ({path})\n"


def test_init_output_problems(run_cli: RunCli, tmp_path: Path) -> None:
    (tmp_path / "dir").mkdir()
    result = run_cli("init", str(SAMPLE), "-o", str(tmp_path / "dir"), "--force")
    assert result.exit_code == 2
    assert "the output is a directory" in result.stderr
    missing = run_cli("init", str(SAMPLE), "-o", str(tmp_path / "no" / "such" / "m.yaml"))
    assert missing.exit_code == 2
    assert "cannot write" in missing.stderr


def test_init_help(run_cli: RunCli) -> None:
    result = run_cli("init", "--help")
    assert result.exit_code == 0
    assert "Example: fbcli init" in result.stdout
    assert "--force" in result.stdout


# -- direct mode: the file init writes is one its Next: command accepts ---------------------


def _next_command(stderr: str) -> list[str]:
    """The arguments of the ``Next: fbcli ...`` line, as a shell would split them."""
    line = next(line for line in stderr.splitlines() if line.startswith("Next: "))
    command = shlex.split(line.removeprefix("Next: "))
    assert command[0] == "fbcli"
    return command[1:]


def test_init_direct_without_a_merchant_id_then_its_next_command(run_cli: RunCli) -> None:
    result = run_cli("init", str(SAMPLE), "--mode", "direct", "-o", "direct.yaml")
    assert result.exit_code == 0
    assert "Warning: merchant_id is a placeholder" in result.stderr
    checked = run_cli(*_next_command(result.stderr))
    assert checked.exit_code == 1  # the sample has invalid events; the file itself is fine
    assert "direct mode" in checked.stdout
    assert (
        f"Warning: merchant_id in direct.yaml is the placeholder {PLACEHOLDER_MERCHANT_ID}"
        in checked.stderr
    )
    assert "Error" not in checked.stderr


def test_init_direct_with_a_merchant_id_writes_it(run_cli: RunCli) -> None:
    result = run_cli(
        "init", str(SAMPLE), "--mode", "direct", "-o", "direct.yaml", "--merchant-id", MERCHANT
    )
    assert result.exit_code == 0
    assert "Warning: merchant_id" not in result.stderr
    assert f"\nmerchant_id: {MERCHANT}\n" in Path("direct.yaml").read_text(encoding="utf-8")
    checked = run_cli(*_next_command(result.stderr), "--format", "json")
    assert checked.exit_code == 1
    assert checked.stderr == ""


def test_init_direct_with_the_environment_variable(
    run_cli: RunCli, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FRIENDBUY_MERCHANT_ID", MERCHANT)
    result = run_cli("init", str(SAMPLE), "--mode", "direct", "-o", "direct.yaml")
    assert result.exit_code == 0
    assert "Warning: merchant_id" not in result.stderr
    checked = run_cli(*_next_command(result.stderr))
    assert checked.exit_code == 1
    assert f'setup: friendbuyAPI.push(["merchant", "{MERCHANT}"])' in checked.stdout
    assert "placeholder" not in checked.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--mode", "direct", "--merchant-id", "acme"], "--merchant-id is not a UUID: 'acme'"),
        (["--merchant-id", MERCHANT], "--merchant-id is for direct mode"),
    ],
)
def test_init_refuses_a_wrong_merchant_id(run_cli: RunCli, args: list[str], message: str) -> None:
    result = run_cli("init", str(SAMPLE), *args)
    assert result.exit_code == 2
    assert message in result.stderr
    assert not Path("mappings.yaml").exists()
