"""Tests of fbcli.mappings: the mapping file's YAML, shape, meaning and defaults."""

from __future__ import annotations

import dataclasses
import json
import time
from collections import deque
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

from fbcli.actions import ACTIONS
from fbcli.directives import DirectiveError
from fbcli.errors import ConfigError, MappingFileError
from fbcli.mappings import (
    BUILT_IN,
    MAX_DEPTH,
    MAX_FILE_BYTES,
    MappingConfig,
    YamlPositions,
    _Checker,
    _locate_in_scalar,
    _shape_message,
    build_subscription,
    compile_field,
    default_mappings,
    load_field_mapping,
    load_mappings,
    mapping_file_schema,
)
from fbcli.triggers import TriggerSyntaxError
from fbcli.values import MISSING
from tests.support import REPO
from tests.support.mappings import DOCUMENTS, FILES, UUID, YAML_PIECES

KNOWN_DIRECTIVES = (
    "@arrayPath, @case, @excludeWhenNull, @flatten, @if, @json, @literal, @merge, @path, "
    "@replace, @template"
)

# One subscription; line 4 is the trigger, line 5 is free for more keys.
ONE = 'subscriptions:\n  - name: A\n    action: trackCustomer\n    trigger: type = "identify"\n'

SPEC_EXAMPLE = """\
version: 1
mode: cloud                       # cloud (MAPI requests) | direct (web SDK push calls)
merchant_id: 1993d0f1-8206-4336-8c88-64e170f2419e   # direct mode; or FRIENDBUY_MERCHANT_ID
subscriptions:
  - name: Track Customer
    action: trackCustomer         # trackCustomer | trackPurchase | ... | trackPage
    trigger: type = "identify"
  - name: Purchases
    action: trackPurchase
    trigger: type = "track" and event = "Order Completed"
    mapping:                      # optional: overrides of the action's default field mappings
      amount: { "@path": "$.properties.revenue" }
      currency: USD               # a plain value is a constant
  - name: Downloads
    action: trackCustomEvent
    trigger: type = "track" and (event = "Download" or match(event, "Video *"))
    enabled: false                # kept but not applied
"""


def load(text: str | bytes, merchant_id_env: str | None = None) -> MappingConfig:
    return load_mappings(text, path="m.yaml", merchant_id_env=merchant_id_env)


def check_message(error: MappingFileError) -> None:
    """Messages (and hints) are one line of plain English, never a traceback or repr."""
    for text in (str(error), error.hint or ""):
        assert "\n" not in text
        assert "Traceback" not in text
        assert "Error(" not in text
        assert " object at 0x" not in text
        assert "<stream end>" not in text


def fail(text: str | bytes, merchant_id_env: str | None = None) -> MappingFileError:
    with pytest.raises(MappingFileError) as info:
        load(text, merchant_id_env)
    check_message(info.value)
    return info.value


def where(error: MappingFileError) -> tuple[int | None, int | None]:
    return error.line, error.column


def char_at(text: str, line: int | None, column: int | None) -> str:
    assert line is not None
    assert column is not None
    return text.splitlines()[line - 1][column - 1]


def field(config: MappingConfig, subscription: int, name: str) -> Any:
    """The FieldMapping of one field, or None when the field is unmapped."""
    return next((f for f in config.subscriptions[subscription].fields if f.field == name), None)


# -- good files ------------------------------------------------------------------------


def test_the_spec_example_loads() -> None:
    config = load(SPEC_EXAMPLE)
    assert config.path == "m.yaml"
    assert config.mode == "cloud"
    assert config.merchant_id == UUID
    assert [s.name for s in config.subscriptions] == ["Track Customer", "Purchases", "Downloads"]
    assert [s.name for s in config.active] == ["Track Customer", "Purchases"]
    assert [s.line for s in config.subscriptions] == [5, 8, 14]
    purchases = config.subscriptions[1]
    assert purchases.action is ACTIONS["trackPurchase"]
    assert purchases.trigger == 'type = "track" and event = "Order Completed"'
    assert purchases.matches({"type": "track", "event": "Order Completed"})
    assert not purchases.matches({"type": "track", "event": "Order Refunded"})


def test_digit_runs_longer_than_int_converts_load() -> None:
    """Found by fuzzing: such a path segment made load_mappings raise a bare ValueError."""
    digits = "1" * 5000
    text = ONE.replace('type = "identify"', f"a.{digits} = 1") + (
        f"    mapping:\n      email: {{'@path': '$.traits.{digits}'}}\n"
    )
    [subscription] = load(text).subscriptions
    assert subscription.matches({"a": [1]}) is False
    email = next(f for f in subscription.fields if f.field == "email")
    assert email.resolve({"traits": [1]}) is MISSING


def test_the_repository_mapping_files_load() -> None:
    config = load((REPO / "mappings.yaml").read_bytes())
    assert config.mode == "cloud"
    assert len(config.subscriptions) == 5
    assert not config.subscriptions[-1].enabled
    direct = load((REPO / "sample_events" / "mappings.direct.yaml").read_bytes())
    assert direct.mode == "direct"
    assert direct.merchant_id == UUID
    assert direct.subscriptions[-1].action.name == "trackPage"


def test_fields_not_overridden_keep_their_defaults() -> None:
    config = load(SPEC_EXAMPLE)
    purchases = config.subscriptions[1]
    action = ACTIONS["trackPurchase"]
    assert [f.field for f in purchases.fields] == [f.name for f in action.fields_in("cloud")]
    order_id = field(config, 1, "orderId")
    assert order_id.origin == "default"
    assert order_id.line is None
    assert order_id.mapping == {"@path": "$.properties.order_id"}
    assert order_id.sources == ("$.properties.order_id",)
    assert order_id.resolve({"properties": {"order_id": "o1"}}) == "o1"
    customer = config.subscriptions[0]
    assert all(f.origin == "default" for f in customer.fields)
    assert [f.field for f in customer.fields] == [
        f.name for f in ACTIONS["trackCustomer"].fields_in("cloud")
    ]


def test_overrides_carry_origin_file_and_their_line() -> None:
    config = load(SPEC_EXAMPLE)
    amount = field(config, 1, "amount")
    assert amount.origin == "file"
    assert amount.line == 12
    assert amount.mapping == {"@path": "$.properties.revenue"}
    assert amount.source == "$.properties.revenue"
    assert amount.resolve({"properties": {"revenue": 12.5, "total": 1}}) == 12.5
    currency = field(config, 1, "currency")
    assert (currency.origin, currency.line, currency.mapping) == ("file", 13, "USD")
    assert currency.source is None
    assert currency.resolve({}) == "USD"  # a plain value is a constant


def test_a_null_field_is_unmapped_and_constants_of_every_type_are_kept() -> None:
    text = (
        ONE.replace("trackCustomer", "trackPurchase")
        + "    mapping:\n"
        + "      coupon: null\n"
        + "      email: ~\n"
        + "      referralCode:\n"
        + "      currency: EUR\n"
        + "      amount: 12.5\n"
        + "      isNewCustomer: false\n"
        + "      giftCardCodes: [a, 'b']\n"
        + "      friendbuyAttributes: {tier: gold, 'n': 1}\n"
    )
    config = load(text)
    names = [f.field for f in config.subscriptions[0].fields]
    for unmapped in ("coupon", "email", "referralCode"):
        assert unmapped not in names
    assert "orderId" in names
    assert field(config, 0, "currency").mapping == "EUR"
    assert field(config, 0, "amount").mapping == 12.5
    assert field(config, 0, "isNewCustomer").mapping is False
    assert field(config, 0, "giftCardCodes").resolve({}) == ["a", "b"]
    assert field(config, 0, "friendbuyAttributes").resolve({}) == {"tier": "gold", "n": 1}
    assert [field(config, 0, n).line for n in ("currency", "amount")] == [9, 10]


def test_an_empty_mapping_keeps_every_default() -> None:
    for mapping in ("    mapping:\n", "    mapping: {}\n"):
        config = load(ONE + mapping)
        assert all(f.origin == "default" for f in config.subscriptions[0].fields)


def test_enabled_false_is_kept_but_not_active() -> None:
    text = ONE + "    enabled: false\n" + ONE.removeprefix("subscriptions:\n").replace("A", "B")
    config = load(text)
    assert [s.name for s in config.subscriptions] == ["A", "B"]
    assert [s.enabled for s in config.subscriptions] == [False, True]
    assert [s.name for s in config.active] == ["B"]
    assert load(ONE + "    enabled: true\n").subscriptions[0].enabled


def test_mode_defaults_to_cloud() -> None:
    config = load(ONE)
    assert config.mode == "cloud"
    assert config.merchant_id is None
    assert load("version: 1\nmode: cloud\n" + ONE).mode == "cloud"


def test_a_bom_and_crlf_line_ends_are_fine() -> None:
    assert load(b"\xef\xbb\xbf" + ONE.encode()).subscriptions[0].name == "A"
    assert load("\ufeff" + ONE).subscriptions[0].name == "A"
    assert load(ONE.replace("\n", "\r\n")).subscriptions[0].name == "A"
    error = fail(b"\xef\xbb\xbf" + ONE.replace("identify", 'identify" or').encode())
    assert where(error) == (4, 34)  # the BOM takes no column


def test_subscriptions_and_mappings_may_be_written_in_flow_style() -> None:
    text = (
        "{subscriptions: [{name: A, action: trackPurchase, trigger: 'type = \"track\"', "
        'mapping: {currency: USD, amount: {"@path": "$.properties.amount"}}}]}'
    )
    config = load(text)
    assert field(config, 0, "currency").mapping == "USD"
    assert field(config, 0, "amount").line == 1


def test_aliases_are_expanded() -> None:
    text = (
        "subscriptions:\n"
        "  - name: A\n"
        "    action: trackPurchase\n"
        '    trigger: &t type = "track"\n'
        "    mapping: &m\n"
        "      currency: USD\n"
        "  - name: B\n"
        "    action: trackSignUp\n"
        "    trigger: *t\n"
        "  - {name: C, action: trackPurchase, trigger: *t, mapping: *m}\n"
    )
    config = load(text)
    assert [s.trigger for s in config.subscriptions] == ['type = "track"'] * 3
    assert field(config, 2, "currency").mapping == "USD"


# -- YAML 1.2 core schema --------------------------------------------------------------


@pytest.mark.parametrize(
    ("written", "value"),
    [
        ("NO", "NO"),
        ("no", "no"),
        ("yes", "yes"),
        ("on", "on"),
        ("y", "y"),
        ("true", True),
        ("True", True),
        ("FALSE", False),
        ("~", None),
        ("null", None),
        ("Null", None),
        ("", None),
        ("12", 12),
        ("-12", -12),
        ("+12", 12),
        ("012", 12),
        ("0o17", 15),
        ("0x1F", 31),
        ("1.5", 1.5),
        ("-.5", -0.5),
        ("1e3", 1000.0),
        ("2.", 2.0),
        ("12:30", "12:30"),
        ("1_000", "1_000"),
        ("0b101", "0b101"),
        ("2024-01-31", "2024-01-31"),
        ("2001-12-14t21:59:43.10-05:00", "2001-12-14t21:59:43.10-05:00"),
        ("=", "="),
        ("'12'", "12"),
        ('"true"', "true"),
        ("!!str 12", "12"),
        ("!!int '12'", 12),
        ("!!float 3", 3.0),
        ("!!bool true", True),
        ("!!null ''", None),
        ("9" * 5, 99999),
        ("0x" + "F" * 2000, int("F" * 2000, 16)),
    ],
)
def test_scalars_follow_the_yaml_1_2_core_schema(written: str, value: Any) -> None:
    config = load(ONE + f"    mapping:\n      anonymousId: {written}\n")
    constant = field(config, 0, "anonymousId")
    if value is None:
        assert constant is None  # null unmaps the field
    else:
        assert constant.mapping == value
        assert type(constant.mapping) is type(value)


def test_keys_are_their_text() -> None:
    config = load(ONE + "    mapping:\n      friendbuyAttributes: {1: a, true: b, ~: c, 0x1: d}\n")
    assert field(config, 0, "friendbuyAttributes").mapping == {
        "1": "a",
        "true": "b",
        "~": "c",
        "0x1": "d",
    }


# -- YAML safety -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "line", "column", "tag"),
    [
        ("!!python/object:os.system {}\n", 1, 1, "!!python/object:os.system"),
        (ONE + "    enabled: !!python/object/apply:os.system ['ls']\n", 5, 14, None),
        (ONE + "    mapping: !!python/object/new:dict {}\n", 5, 14, None),
        (ONE + "    name2: !!python/name:os.system ''\n", 5, 12, "!!python/name:os.system"),
        (ONE + "    mapping: {email: !!binary aGVsbG8=}\n", 5, 22, "!!binary"),
        (ONE + "    mapping: {email: !!timestamp 2020-01-01}\n", 5, 22, "!!timestamp"),
        (ONE + "    mapping: {friendbuyAttributes: !!set {a, b}}\n", 5, 36, "!!set"),
        (ONE + "    mapping: {giftCardCodes: !!omap [a: 1]}\n", 5, 30, "!!omap"),
        (ONE + "    mapping: {email: !custom x}\n", 5, 22, "!custom"),
        (ONE + "    mapping: {email: {!!python/name:os.system x: 1}}\n", 5, 23, None),
        ("%TAG !e! tag:example.com,2000:\n---\n" + ONE + "    enabled: !e!x 1\n", 7, 14, None),
    ],
)
def test_tags_are_refused(text: str, line: int, column: int, tag: str | None) -> None:
    error = fail(text)
    assert where(error) == (line, column)
    assert error.message.startswith("the YAML tag '")
    assert error.message.endswith("' is not allowed")
    if tag is not None:
        assert error.message == f"the YAML tag '{tag}' is not allowed"
    assert error.hint is not None
    assert "plain data only" in error.hint


def test_nothing_is_ever_constructed(monkeypatch: pytest.MonkeyPatch) -> None:
    called: list[str] = []
    monkeypatch.setattr("os.system", lambda *args: called.append("system"))
    for text in (
        "!!python/object/apply:os.system ['echo hi']\n",
        "a: !!python/object/apply:os.system ['echo hi']\n",
        "? !!python/object/apply:os.system ['echo hi']\n: 1\n",
    ):
        fail(text)
    assert called == []


def test_an_alias_bomb_is_refused_quickly() -> None:
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for previous, name in zip("abcdefgh", "bcdefghi", strict=True):
        lines.append(f"{name}: &{name} [" + ",".join([f"*{previous}"] * 9) + "]")
    started = time.perf_counter()
    error = fail("\n".join(lines) + "\n")
    assert time.perf_counter() - started < 5
    assert error.message == "the YAML expands to more than 100,000 values"
    assert error.hint == "aliases (*name) repeat what they name; nest them less"
    assert error.line is not None


def test_too_many_values_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("fbcli.mappings.MAX_NODES", 10)
    error = fail("".join(f"k{i}: {i}\n" for i in range(20)))
    assert error.message == "the YAML holds more than 10 values"
    assert where(error) == (5, 5)
    error = fail("a: &a [1, 2, 3]\nb: [*a, *a]\n")
    assert error.message == "the YAML expands to more than 10 values"
    assert where(error) == (1, 4)  # where the repeated list is


def test_a_recursive_alias_is_refused() -> None:
    for text in ("a: &a [*a]\n", "a: &a {b: *a}\n"):
        error = fail(text)
        assert error.message == f"the YAML is nested deeper than {MAX_DEPTH} levels"
        assert where(error) == (1, 4)


def test_a_file_over_one_megabyte_is_refused_before_parsing() -> None:
    text = ONE + "# " + "x" * MAX_FILE_BYTES + "\n"
    error = fail(text)
    size = len(text.encode())
    assert error.message == (
        f"the mapping file is too large: {size:,} bytes, over the limit of 1,048,576"
    )
    assert where(error) == (None, None)
    assert str(error) == f"{error.message} (m.yaml)"
    padding = MAX_FILE_BYTES - len(ONE) - 3
    assert load(ONE + "# " + "x" * padding + "\n").subscriptions  # exactly the limit is fine


@pytest.mark.parametrize(
    ("text", "line", "column"),
    [
        ("a: " + "[" * 65 + "]" * 65 + "\n", 1, 68),
        ("a: " + "[" * 100_000 + "]" * 100_000 + "\n", 1, 68),
        # a key counts as a level: the 'x' inside the 64th mapping is the 65th
        ("a: " + "{x: " * 65 + "1" + "}" * 65 + "\n", 1, 257),
        ("".join("  " * i + f"k{i}:\n" for i in range(70)), 65, 129),
    ],
)
def test_deep_nesting_is_refused(text: str, line: int, column: int) -> None:
    started = time.perf_counter()
    error = fail(text)
    assert time.perf_counter() - started < 5
    assert error.message == "the YAML is nested deeper than 64 levels"
    assert where(error) == (line, column)


def test_nesting_up_to_the_limit_is_fine() -> None:
    mapping = "[" * 60 + "1" + "]" * 60
    text = ONE.replace("Customer", "Purchase") + f"    mapping:\n      giftCardCodes: {mapping}\n"
    config = load(text)
    assert field(config, 0, "giftCardCodes").resolve({}) is not MISSING


@pytest.mark.parametrize(
    ("text", "message", "line", "column"),
    [
        (
            "version: 1\nversion: 1\n" + ONE,
            "duplicate key 'version'; it is first used on line 1",
            2,
            1,
        ),
        (
            ONE + "    action: trackPurchase\n",
            "duplicate key 'action'; it is first used on line 3",
            5,
            5,
        ),
        (ONE + "    'name': B\n", "duplicate key 'name'; it is first used on line 2", 5, 5),
        (
            ONE + '    mapping: {email: {"@path": "$.a", "@path": "$.b"}}\n',
            "duplicate key '@path'; it is first used on line 5",
            5,
            39,
        ),
    ],
)
def test_duplicate_keys_are_refused(text: str, message: str, line: int, column: int) -> None:
    error = fail(text)
    assert error.message == message
    assert where(error) == (line, column)


def test_merge_keys_are_refused() -> None:
    text = "base: &b {name: A}\nsubscriptions:\n  - <<: *b\n    action: trackCustomer\n"
    error = fail(text)
    assert error.message == "YAML merge keys (<<) are not supported"
    assert where(error) == (3, 5)
    assert error.hint == "write the keys out in full"


def test_a_complex_key_is_refused() -> None:
    for text, kind in (("? [a]\n: 1\n", "a list"), ("? {a: 1}\n: 1\n", "a mapping")):
        error = fail(text)
        assert error.message == f"a mapping key must be a plain value, not {kind}"
        assert where(error) == (1, 3)


@pytest.mark.parametrize(
    ("value", "column"),
    [(".inf", 23), ("-.inf", 23), ("+.INF", 23), (".nan", 23), (".NaN", 23), ("1e999", 23)],
)
def test_infinity_and_nan_are_refused(value: str, column: int) -> None:
    error = fail(ONE + f"    mapping: {{amount: {value}}}\n")
    assert error.message == f"'{value}' is not a JSON number"
    assert where(error) == (5, column)
    assert error.hint == "JSON has no infinity or NaN; quote the value to make it a string"


def test_infinity_as_text_or_as_a_key_is_fine() -> None:
    config = load(ONE + "    mapping: {anonymousId: '.inf', friendbuyAttributes: {.inf: 1}}\n")
    assert field(config, 0, "anonymousId").mapping == ".inf"
    assert field(config, 0, "friendbuyAttributes").mapping == {".inf": 1}


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("!!int abc", "'abc' is not a valid !!int value"),
        ("!!int 1.5", "'1.5' is not a valid !!int value"),
        ("!!bool yes", "'yes' is not a valid !!bool value"),
        ("!!float x", "'x' is not a valid !!float value"),
        ("!!null 0", "'0' is not a valid !!null value"),
        ("!!merge x", "the YAML tag '!!merge' is not allowed"),
    ],
)
def test_explicit_core_tags_must_fit_their_value(value: str, message: str) -> None:
    error = fail(ONE + f"    mapping: {{anonymousId: {value}}}\n")
    assert error.message == message
    assert where(error) == (5, 28)


def test_a_number_with_too_many_digits_is_refused() -> None:
    error = fail(ONE + "    mapping: {amount: " + "9" * 5000 + "}\n")
    assert (
        error.message == "the number '9999999999999999999999999999999999999...' has too many digits"
    )
    assert where(error) == (5, 23)
    assert error.hint == "quote it to make it a string"


def test_invalid_utf8_is_refused_with_its_place() -> None:
    error = fail(ONE.encode() + b"    name2: caf\xe9\n")
    assert error.message == "the mapping file is not valid UTF-8: byte 0xE9 cannot be read"
    assert where(error) == (5, 15)
    assert error.hint == "save the file as UTF-8"
    error = fail("naïve: \udcff\n")  # a str that cannot be UTF-8
    assert where(error) == (1, 8)
    error = fail(b"\xef\xbb\xbf" + "é: ".encode() + b"\xff")
    assert where(error) == (1, 4)
    assert error.message == "the mapping file is not valid UTF-8: byte 0xFF cannot be read"


@pytest.mark.parametrize("newline", [b"\n", b"\r\n", b"\r", "\x85".encode(), "\u2028".encode()])
def test_invalid_utf8_is_located_on_lines_as_yaml_counts_them(newline: bytes) -> None:
    """Found by fuzzing: only \\n was counted, so after a lone CR (or NEL, LS) the line was off,
    unlike the YAML errors' lines (PyYAML counts every one of these as a line break)."""
    error = fail(b"a: 1" + newline + b"bc: \x80\n")
    assert where(error) == (2, 5)


@pytest.mark.parametrize(
    ("text", "character", "line", "column"),
    [
        ("a: \x07\n", "0007", 1, 4),
        (ONE + "    name2: x\x00y\n", "0000", 5, 13),
        ("a: b\r\nc: \x1b[31m\n", "001B", 2, 4),
        ("a: \ufffe\n", "FFFE", 1, 4),
    ],
)
def test_characters_yaml_forbids_are_refused(
    text: str, character: str, line: int, column: int
) -> None:
    error = fail(text)
    assert error.message == (
        f"the mapping file contains the character U+{character}, which YAML does not allow"
    )
    assert where(error) == (line, column)
    assert error.hint == (
        f'remove it, or write it as the escape "\\u{character}" inside double quotes'
    )


@pytest.mark.parametrize("escape", ["\\ud800", "\\udfff", "\\uD83D"])
def test_an_escaped_surrogate_is_refused(escape: str) -> None:
    value, key = ONE + f'    name2: "a{escape}"\n', ONE + f'    "k{escape}": 1\n'
    for text, column in ((value, 12), (key, 5)):
        error = fail(text)
        assert error.message == (
            "an escape names a UTF-16 surrogate (\\uD800-\\uDFFF), which is not a character"
        )
        assert where(error) == (5, column)


@pytest.mark.parametrize("escape", ["\\UFFFFFFFF", "\\U00110000"])
def test_an_escape_beyond_unicode_is_refused(escape: str) -> None:
    error = fail(ONE + f'    name2: "{escape}"\n')
    assert error.message == "YAML syntax error: an escape names a character that does not exist"
    assert error.line == 5


def test_escapes_for_real_characters_are_fine() -> None:
    config = load(ONE + '    mapping: {anonymousId: "\\U0001F600\\x41\\u00e9\\t"}\n')
    assert field(config, 0, "anonymousId").mapping == "\U0001f600Aé\t"


# -- YAML syntax -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "message", "line", "column", "hint"),
    [
        ("a: b\n c: d\n", "YAML syntax error: mapping values are not allowed here", 2, 3, None),
        (
            "subscriptions: [\n  - a: b\n",
            "YAML syntax error while parsing a flow node: expected the node content, but found '-'",
            2,
            3,
            None,
        ),
        (
            ONE + "    mapping:\n\temail: x\n",
            "YAML syntax error: found character '\\t' that cannot start any token",
            6,
            1,
            "YAML does not allow tabs here; indent with spaces",
        ),
        (
            ONE + "    mapping:\n      email: {@path: $.email}\n",
            "YAML syntax error: found character '@' that cannot start any token",
            6,
            15,
            'YAML reserves @ and `: quote text that starts with them, e.g. "@path"',
        ),
        (
            ONE + '    name2: "abc\n',
            "YAML syntax error while scanning a quoted scalar: found unexpected end of stream",
            6,
            1,
            None,
        ),
        (
            ONE + "---\n" + ONE,
            "the mapping file holds more than one YAML document",
            5,
            1,
            "remove the second '---'",
        ),
        (
            "a: &x 1\nb: &x 2\n",
            "YAML syntax error: found duplicate anchor 'x'",
            2,
            4,
            None,
        ),
        ("a: *nope\n", "YAML syntax error: found undefined alias 'nope'", 1, 4, None),
        (
            "%YAML 2.0\n---\na: 1\n",
            "YAML syntax error: found incompatible YAML document (version 1.* is required)",
            1,
            1,
            None,
        ),
        (
            'a: "\\q"\n',
            (
                "YAML syntax error while scanning a double-quoted scalar: "
                "found unknown escape character 'q'"
            ),
            1,
            6,
            None,
        ),
    ],
)
def test_yaml_syntax_errors_are_located(
    text: str, message: str, line: int, column: int, hint: str | None
) -> None:
    error = fail(text)
    assert error.message == message
    assert where(error) == (line, column)
    assert error.hint == hint


# -- the shape of the file ---------------------------------------------------------------


@pytest.mark.parametrize("text", ["", "\n\n", "# only a comment\n", "---\n", "\ufeff"])
def test_an_empty_file_is_an_error(text: str) -> None:
    error = fail(text)
    assert error.message == "the mapping file is empty"
    assert str(error) == "the mapping file is empty (m.yaml)"


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("- name: A\n  action: trackCustomer\n", "a list"),
        ("just text\n", "a string"),
        ("42\n", "a number"),
        ("true\n", "a boolean"),
        ("~\n", "null"),
    ],
)
def test_the_top_level_must_be_a_mapping(text: str, kind: str) -> None:
    error = fail(text)
    assert error.message == f"the mapping file must be a mapping, not {kind}"
    assert where(error) == (1, 1)
    assert error.hint == "start the file with 'version: 1' and a 'subscriptions:' list"


def test_subscriptions_are_required_and_not_empty() -> None:
    error = fail("version: 1\n")
    assert error.message == "the mapping file has no 'subscriptions'"
    assert where(error) == (1, 1)
    error = fail("version: 1\nsubscriptions: []\n")
    assert error.message == "'subscriptions' is empty"
    assert error.hint == "a mapping file needs at least one subscription"
    assert where(error) == (2, 16)
    error = fail("version: 1\nsubscriptions:\n")
    assert error.message == "'subscriptions' must be a list, not null"
    assert where(error) == (2, 15)
    error = fail("subscriptions: {name: A}\n")
    assert error.message == "'subscriptions' must be a list, not a mapping"
    error = fail("subscriptions: [3]\n")
    assert error.message == "a subscription must be a mapping, not a number"
    assert where(error) == (1, 17)


@pytest.mark.parametrize(
    ("text", "message", "line", "column"),
    [
        ("version: 2\n" + ONE, "unsupported mapping file version 2", 1, 10),
        ("version: '1'\n" + ONE, "unsupported mapping file version '1'", 1, 10),
        ("version: 1.5\n" + ONE, "unsupported mapping file version 1.5", 1, 10),
    ],
)
def test_only_version_1_is_read(text: str, message: str, line: int, column: int) -> None:
    error = fail(text)
    assert error.message == message
    assert where(error) == (line, column)
    assert error.hint == "this fbcli reads 'version: 1'"
    assert load("version: 1\n" + ONE).subscriptions
    assert load("version: 1.0\n" + ONE).subscriptions


def test_mode_must_be_cloud_or_direct() -> None:
    error = fail("mode: clod\n" + ONE)
    assert error.message == "'mode' must be cloud or direct, not 'clod' (did you mean 'cloud'?)"
    assert where(error) == (1, 7)
    error = fail("mode: 3\n" + ONE)
    assert error.message == "'mode' must be cloud or direct, not 3"


def test_an_unknown_top_level_key_is_refused_with_a_suggestion() -> None:
    error = fail("version: 1\nmod: direct\n" + ONE)
    assert error.message == "unknown key 'mod' in the mapping file (did you mean 'mode'?)"
    assert where(error) == (2, 1)
    assert (
        error.hint == "the keys of the mapping file are: merchant_id, mode, subscriptions, version"
    )
    error = fail("version: 1\nfoo: 1\n" + ONE)
    assert error.message == "unknown key 'foo' in the mapping file"
    error = fail("Version: 1\n" + ONE)
    assert error.message == "unknown key 'Version' in the mapping file (did you mean 'version'?)"


def test_a_misspelled_required_key_is_reported_as_unknown() -> None:
    error = fail("version: 1\nsubscription:\n  - name: A\n")
    assert error.message == (
        "unknown key 'subscription' in the mapping file (did you mean 'subscriptions'?)"
    )
    assert where(error) == (2, 1)
    error = fail(ONE.replace("trigger:", "triger:"))
    assert error.message == "unknown key 'triger' in a subscription (did you mean 'trigger'?)"
    assert where(error) == (4, 5)
    assert error.hint == "the keys of a subscription are: action, enabled, mapping, name, trigger"


def test_an_unknown_subscription_key_is_refused_with_a_suggestion() -> None:
    error = fail(ONE + "    mappings:\n      email: x\n")
    assert error.message == "unknown key 'mappings' in a subscription (did you mean 'mapping'?)"
    assert where(error) == (5, 5)
    error = fail(ONE + "    colour: red\n")
    assert error.message == "unknown key 'colour' in a subscription"


def test_a_missing_subscription_key_points_at_the_subscription() -> None:
    error = fail("subscriptions:\n  - name: A\n    action: trackCustomer\n")
    assert error.message == "a subscription has no 'trigger'"
    assert where(error) == (2, 5)
    error = fail("subscriptions:\n  - name: A\n    trigger: x\n")
    assert error.message == "a subscription has no 'action'"


@pytest.mark.parametrize(
    ("line5", "message", "column", "hint"),
    [
        (
            "    enabled: yes\n",
            "'enabled' must be true or false, not a string",
            14,
            "write true or false (in YAML 1.2, yes/no/on/off are strings)",
        ),
        ("    enabled: 'false'\n", "'enabled' must be true or false, not a string", 14, None),
        ("    enabled: 1\n", "'enabled' must be true or false, not a number", 14, None),
        ("    mapping: [email]\n", "'mapping' must be a mapping or null, not a list", 14, None),
        ("    mapping: email\n", "'mapping' must be a mapping or null, not a string", 14, None),
    ],
)
def test_subscription_values_have_types(
    line5: str, message: str, column: int, hint: str | None
) -> None:
    error = fail(ONE + line5)
    assert error.message == message
    assert where(error) == (5, column)
    assert error.hint == hint


@pytest.mark.parametrize(
    ("text", "message", "line", "column", "hint"),
    [
        (
            ONE.replace("name: A", "name: 2024"),
            "'name' must be a string, not a number",
            2,
            11,
            'quote it to make it a string: "2024"',
        ),
        (
            ONE.replace("name: A", "name: ''"),
            "'name' must not be empty",
            2,
            11,
            None,
        ),
        (
            ONE.replace('type = "identify"', "true"),
            "'trigger' must be a string, not a boolean",
            4,
            14,
            'quote it to make it a string: "true"',
        ),
        (
            "merchant_id: 123\n" + ONE,
            "'merchant_id' must be a string or null, not a number",
            1,
            14,
            None,
        ),
    ],
)
def test_strings_must_be_strings(
    text: str, message: str, line: int, column: int, hint: str | None
) -> None:
    error = fail(text)
    assert error.message == message
    assert where(error) == (line, column)
    assert error.hint == hint


def test_the_first_mistake_in_the_file_is_reported() -> None:
    text = (
        "subscriptions:\n"
        "  - name: A\n"
        "    action: trackCustomr\n"
        '    trigger: type = "identify"\n'
        "    enabled: maybe\n"
        "mode: sideways\n"
    )
    error = fail(text)
    assert error.message == "unknown action 'trackCustomr' (did you mean 'trackCustomer'?)"
    assert where(error) == (3, 13)


def test_unknown_actions_are_refused_with_a_suggestion() -> None:
    error = fail(ONE.replace("trackCustomer", "trackcustomer"))
    assert error.message == "unknown action 'trackcustomer' (did you mean 'trackCustomer'?)"
    assert where(error) == (3, 13)
    assert error.hint == (
        "the actions are: trackCustomer, trackPurchase, trackSignUp, trackCustomEvent, trackPage"
    )
    error = fail(ONE.replace("trackCustomer", "sendEmail"))
    assert error.message == "unknown action 'sendEmail'"
    error = fail(ONE.replace("trackCustomer", "identify"))
    assert error.message == "unknown action 'identify'"
    error = fail(ONE.replace("trackCustomer", "5"))
    assert error.message == (
        "'action' must be trackCustomer, trackPurchase, trackSignUp, trackCustomEvent "
        "or trackPage, not 5"
    )


def test_long_and_odd_values_are_shown_short_and_on_one_line() -> None:
    error = fail(ONE.replace("trackCustomer", "x" * 100))
    assert error.message == "unknown action 'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx...'"
    error = fail('"a\\nb\\u0007": 1\n' + ONE)
    assert error.message == "unknown key 'a\\nb\\x07' in the mapping file"


def test_the_schema_is_valid_and_describes_every_action() -> None:
    schema = mapping_file_schema()
    Draft202012Validator.check_schema(schema)
    action = schema["properties"]["subscriptions"]["items"]["properties"]["action"]
    assert action["enum"] == list(ACTIONS)


def test_an_unexpected_schema_error_still_reads_as_a_message() -> None:
    error = ValidationError(
        "'x' does not match '^[0-9]+$'", validator="pattern", path=deque(["merchant_id"])
    )
    message, hint, path, key = _shape_message(error)
    assert message == "'merchant_id' is not valid: 'x' does not match '^[0-9]+$'"
    assert (hint, path, key) == (None, ("merchant_id",), False)
    error = ValidationError("bad", validator="pattern", path=deque(["subscriptions", 0, "x", 1]))
    assert _shape_message(error)[0] == "an entry is not valid: bad"
    error = ValidationError(
        "x", validator="const", validator_value="on", instance="off", path=deque(["mode"])
    )
    assert _shape_message(error)[0] == "'mode' must be 'on', not 'off'"


# -- merchant ID and modes -------------------------------------------------------------


def test_direct_mode_takes_the_merchant_id_from_the_file() -> None:
    config = load(f"mode: direct\nmerchant_id: {UUID}\n" + ONE, merchant_id_env="ignored")
    assert config.mode == "direct"
    assert config.merchant_id == UUID
    fields = [f.field for f in config.subscriptions[0].fields]
    assert fields == [f.name for f in ACTIONS["trackCustomer"].fields_in("direct")]
    assert "ipAddress" not in fields


def test_direct_mode_takes_the_merchant_id_from_the_environment() -> None:
    upper = UUID.upper()
    assert load("mode: direct\n" + ONE, merchant_id_env=UUID).merchant_id == UUID
    assert load("mode: direct\n" + ONE, merchant_id_env=f" {upper}\n").merchant_id == upper
    config = load("mode: direct\nmerchant_id:\n" + ONE, merchant_id_env=UUID)
    assert config.merchant_id == UUID


@pytest.mark.parametrize("env", [None, "", "  "])
def test_direct_mode_without_a_merchant_id_is_an_error(env: str | None) -> None:
    error = fail("version: 1\nmode: direct\n" + ONE, merchant_id_env=env)
    assert error.message == "direct mode needs a merchant_id"
    assert where(error) == (2, 7)
    assert error.hint == "add 'merchant_id: <uuid>' to the file or set FRIENDBUY_MERCHANT_ID"


@pytest.mark.parametrize("value", ["abc", "''", UUID + "0", UUID.replace("-", ""), "x" + UUID])
def test_a_merchant_id_that_is_not_a_uuid_is_an_error(value: str) -> None:
    for mode in ("direct", "cloud"):
        error = fail(f"mode: {mode}\nmerchant_id: {value}\n" + ONE, merchant_id_env=UUID)
        shown = value.strip("'")
        assert error.message == f"merchant_id '{shown}' is not a UUID"
        assert where(error) == (2, 14)
        assert error.hint == "a merchant ID looks like 1993d0f1-8206-4336-8c88-64e170f2419e"


def test_a_merchant_id_from_the_environment_that_is_not_a_uuid_is_a_config_error() -> None:
    with pytest.raises(ConfigError) as info:
        load("mode: direct\n" + ONE, merchant_id_env="not-a-uuid")
    assert str(info.value) == "FRIENDBUY_MERCHANT_ID is not a UUID: 'not-a-uuid'"
    assert info.value.hint == "a merchant ID looks like 1993d0f1-8206-4336-8c88-64e170f2419e"


def test_cloud_mode_ignores_the_environment_merchant_id() -> None:
    assert load(ONE, merchant_id_env="not-a-uuid").merchant_id is None
    assert load(f"merchant_id: {UUID}\n" + ONE).merchant_id == UUID


def test_a_mode_problem_is_reported_before_a_subscription_problem() -> None:
    text = "mode: direct\nmerchant_id: nope\n" + ONE.replace("identify", "identify' and")
    assert fail(text).message == "merchant_id 'nope' is not a UUID"


def test_track_page_in_a_cloud_file_points_at_the_action() -> None:
    error = fail("version: 1\n" + ONE.replace("trackCustomer", "trackPage"))
    assert error.message == (
        "action 'trackPage' is available in direct mode only; this file is mode: cloud"
    )
    assert where(error) == (4, 13)
    assert error.hint == "set 'mode: direct' at the top of the file"


def test_track_page_in_a_direct_file_has_its_three_fields() -> None:
    config = load(
        f"mode: direct\nmerchant_id: {UUID}\n" + ONE.replace("trackCustomer", "trackPage")
    )
    assert [f.field for f in config.subscriptions[0].fields] == ["name", "category", "title"]


def test_a_cloud_only_field_in_a_direct_file_is_an_error() -> None:
    text = f"mode: direct\nmerchant_id: {UUID}\n" + ONE + "    mapping:\n      ipAddress: x\n"
    error = fail(text)
    assert error.message == (
        "field 'ipAddress' of trackCustomer exists in cloud mode only; this file is mode: direct"
    )
    assert where(error) == (8, 7)
    assert error.hint is not None
    assert error.hint.startswith("the fields of trackCustomer in direct mode are: customerId, ")
    assert "ipAddress" not in error.hint


def test_a_direct_only_field_in_a_cloud_file_is_an_error() -> None:
    text = ONE.replace("trackCustomer", "trackPage") + "    mapping:\n      title: x\n"
    error = fail(text)
    assert error.message.startswith("action 'trackPage' is available in direct mode only")


def test_unknown_fields_are_refused_with_a_suggestion() -> None:
    error = fail(ONE + "    mapping:\n      emial: { '@path': '$.traits.email' }\n")
    assert error.message == "unknown field 'emial' for trackCustomer (did you mean 'email'?)"
    assert where(error) == (6, 7)
    assert error.hint is not None
    assert error.hint.startswith("the fields of trackCustomer are: customerId, anonymousId, email")
    error = fail(ONE + "    mapping:\n      shoeSize: 42\n")
    assert error.message == "unknown field 'shoeSize' for trackCustomer"
    error = fail(ONE + "    mapping: {CUSTOMERID: x}\n")
    assert (
        error.message == "unknown field 'CUSTOMERID' for trackCustomer (did you mean 'customerId'?)"
    )
    assert where(error) == (5, 15)


# -- triggers ----------------------------------------------------------------------------

TRIGGER_PREFIX = "subscriptions:\n  - name: A\n    action: trackCustomer\n    trigger: "


@pytest.mark.parametrize(
    ("written", "line", "column", "bad"),
    [
        # plain: the column counts from the 't' of 'type' at column 14
        ('type = "identify" and = 1', 4, 36, "="),
        ('type = = "identify"', 4, 21, "="),
        ('type = "a" & b', 4, 25, "&"),
        ('type = "identify', 4, 21, '"'),
        # double quotes: the opening quote is at column 14; escapes count as written
        ('"type = \\"identify\\" and = 1"', 4, 39, "="),
        ('"type = \\"a\\\\b\\" and event = \\u0022x\\u0022 and = 1"', 4, 61, "="),
        ('"a = \\"\\U0001F600\\" and = 2"', 4, 38, "="),
        # single quotes: '' is one quote
        ("'type = \"it''s\" and = 1'", 4, 34, "="),
        ("'type = = 1'", 4, 22, "="),
        # plain and quoted scalars over several lines
        ('type = "identify" and\n      (event = "A" or = 2)', 5, 23, "="),
        ('type = "identify" and\n\n      (event = "A" or = 2)', 6, 23, "="),
        ('"type = \\"identify\\" and\n      (event = \\"A\\" or = 2)"', 5, 25, "="),
        ('"type = \\"identify\\" and \\\n      (event = \\"A\\" or = 2)"', 5, 25, "="),
        ('\'type = "identify" and\n      (event = "A" or = 2)\'', 5, 23, "="),
        # block scalars
        ('|\n      type = "identify" and\n      (event = "A" or = 2)', 6, 23, "="),
        ('>-\n      type = "identify"\n      and (event = "A" or = 2)', 6, 27, "="),
        ('|2-  # a comment\n      type = "identify" and\n        (event = "A" or = 2)', 6, 25, "="),
    ],
)
def test_a_bad_trigger_points_at_the_offending_character(
    written: str, line: int, column: int, bad: str
) -> None:
    text = TRIGGER_PREFIX + written + "\n"
    error = fail(text)
    assert error.message.startswith("bad trigger: ")
    assert "column" not in error.message
    assert where(error) == (line, column)
    assert char_at(text, line, column) == bad


def test_a_bad_trigger_message_is_the_parser_message() -> None:
    error = fail(TRIGGER_PREFIX + 'type = = "identify"\n')
    assert error.message == "bad trigger: expected a value after '=', found '='"
    assert str(error) == "bad trigger: expected a value after '=', found '=' (m.yaml:4:21)"


def test_a_trigger_error_at_the_end_points_just_after_the_trigger() -> None:
    error = fail(TRIGGER_PREFIX + 'type = "identify" and   # a comment\n')
    assert error.message == "bad trigger: expected a condition, found end of trigger"
    assert where(error) == (4, 35)
    error = fail(TRIGGER_PREFIX + '"type = \\"identify\\" and  "\n')
    assert where(error) == (4, 38)
    error = fail(TRIGGER_PREFIX + '" "\n')
    assert error.message == "bad trigger: empty trigger"
    assert where(error) == (4, 14)


def test_a_bad_trigger_in_flow_style_and_with_crlf() -> None:
    text = 'subscriptions: [{name: A, action: trackCustomer, trigger: "type = = 1"}]\n'
    error = fail(text)
    assert where(error) == (1, 67)
    assert char_at(text, 1, 67) == "="
    text = TRIGGER_PREFIX.replace("\n", "\r\n") + 'type = "x" and\r\n      = 2\r\n'
    error = fail(text)
    assert where(error) == (5, 7)


def test_a_bad_trigger_with_an_anchor_or_a_tag() -> None:
    text = (
        ONE
        + "    mapping: {friendbuyAttributes: {note: &t 'type = = 1'}}\n"
        + "  - {name: B, action: trackCustomer, trigger: *t}\n"
    )
    error = fail(text)
    assert where(error) == (5, 54)
    assert char_at(text, 5, 54) == "="
    tagged = TRIGGER_PREFIX + "!!str &t # the trigger\n      'type = = 1'\n"
    error = fail(tagged)
    assert where(error) == (5, 15)
    assert char_at(tagged, 5, 15) == "="
    block = TRIGGER_PREFIX + "&t\n      |\n        type = = 1\n"
    assert where(fail(block)) == (6, 16)


def scalar_of(source: str) -> yaml.ScalarNode:
    """The value of a one-key YAML document."""
    root = yaml.compose(source, Loader=yaml.SafeLoader)
    assert isinstance(root, yaml.MappingNode)
    node = root.value[0][1]
    assert isinstance(node, yaml.ScalarNode)
    return node


def test_a_trigger_whose_text_cannot_be_matched_falls_back_to_the_scalar() -> None:
    # Not reachable from a real file: a node whose value disagrees with its source.
    source = 'trigger: "a = = 1"\n'
    node = scalar_of(source)
    node.value = "b = = 1"
    assert _locate_in_scalar(source, node, 4) is None
    positions = YamlPositions(source, {("trigger",): (1, 10)}, {}, {("trigger",): node})
    error = _Checker("m.yaml", positions).trigger_error(
        TriggerSyntaxError("expected a value", 5, "b = = 1"), ("trigger",)
    )
    assert error.message == "bad trigger at column 5: expected a value"
    assert where(error) == (1, 10)
    empty = YamlPositions(source, {(): (1, 1)}, {}, {})
    assert empty.in_scalar(("trigger",), 0) is None
    assert positions.at(("trigger", "deeper", 0)) == (1, 10)  # falls back to the parent
    assert empty.at(("nowhere",), key=True) == (1, 1)


def test_a_position_before_the_first_character_is_the_first_character() -> None:
    source = "t: '  a'\n"
    node = scalar_of(source)
    assert _locate_in_scalar(source, node, 0) == (1, 7)
    assert _locate_in_scalar(source, node, 3) == (1, 8)


# -- directives ------------------------------------------------------------------------


def test_an_unknown_directive_points_at_its_key() -> None:
    error = fail(ONE + "    mapping:\n      email: { '@foo': '$.traits.email' }\n")
    assert error.message == (
        "bad mapping for 'email': unknown directive @foo; known directives: @arrayPath, @case, "
        "@excludeWhenNull, @flatten, @if, @json, @literal, @merge, @path, @replace, @template"
    )
    assert where(error) == (6, 16)


def test_an_unknown_directive_nested_under_if_then_points_at_its_line() -> None:
    text = (
        ONE
        + "    mapping:\n"
        + "      email:\n"
        + "        '@if':\n"
        + "          exists: { '@path': '$.traits.email' }\n"
        + "          then:\n"
        + "            '@foo': 1\n"
        + "          else: x\n"
    )
    error = fail(text)
    assert error.message.startswith("bad mapping for 'email': unknown directive @foo;")
    assert where(error) == (10, 13)


@pytest.mark.parametrize(
    ("mapping", "message", "line", "column"),
    [
        (
            "      email:\n        '@case': { value: x, operator: title }\n",
            'bad mapping for \'email\': @case operator must be "lower" or "upper", not "title"',
            7,
            30,
        ),
        (
            "      email: { '@path': 5 }\n",
            (
                "bad mapping for 'email': @path expects a path such as \"$.properties.currency\" "
                "or a directive, not 5"
            ),
            6,
            16,
        ),
        (
            "      email: { '@path': '$.a', x: 1 }\n",
            (
                "bad mapping for 'email': directive @path is mixed with other keys (x); "
                "a directive object holds only the directive (and _metadata)"
            ),
            6,
            7,
        ),
        (
            "      friendbuyAttributes:\n        a:\n          - 1\n          - { '@nope': 1 }\n",
            (
                "bad mapping for 'friendbuyAttributes': unknown directive @nope; known directives: "
                + KNOWN_DIRECTIVES
            ),
            9,
            15,
        ),
        (
            "      friendbuyAttributes:\n        a:\n          - 1\n          - { '@path': 1 }\n",
            (
                "bad mapping for 'friendbuyAttributes': @path expects a path such as "
                '"$.properties.currency" or a directive, not 1'
            ),
            9,
            15,
        ),
    ],
)
def test_directive_errors_point_into_the_mapping(
    mapping: str, message: str, line: int, column: int
) -> None:
    error = fail(ONE + "    mapping:\n" + mapping)
    assert error.message == message
    assert where(error) == (line, column)


# -- load_field_mapping ------------------------------------------------------------------


def test_a_field_mapping_as_json() -> None:
    mapping = load_field_mapping('{"@path": "$.properties.total"}', path="--mapping")
    assert mapping.mapping == {"@path": "$.properties.total"}
    assert mapping.origin == "file"
    assert mapping.sources == ("$.properties.total",)
    assert mapping.resolve({"properties": {"total": 3}}) == 3


def test_a_field_mapping_as_yaml() -> None:
    text = "'@template': '{{properties.first}} {{properties.last}}'\n"
    mapping = load_field_mapping(text, path="--mapping")
    assert mapping.resolve({"properties": {"first": "Ada", "last": "L"}}) == "Ada L"
    assert load_field_mapping("USD", path="--mapping").resolve({}) == "USD"
    assert load_field_mapping("null", path="--mapping").resolve({}) is None
    assert load_field_mapping("[1, 2]", path="--mapping").resolve({}) == [1, 2]


def test_a_field_mapping_as_json_with_tabs() -> None:
    text = '{\n\t"@path":\t"$.a"\n}'
    assert load_field_mapping(text, path="--mapping").resolve({"a": 1}) == 1
    error = fail_field('{\n\t"@path":\t5\n}')
    assert where(error) == (2, 2)


def fail_field(text: str) -> MappingFileError:
    with pytest.raises(MappingFileError) as info:
        load_field_mapping(text, path="--mapping")
    check_message(info.value)
    return info.value


@pytest.mark.parametrize(
    ("text", "message", "line", "column"),
    [
        (
            '{"@path": 5}',
            (
                'bad mapping: @path expects a path such as "$.properties.currency" '
                "or a directive, not 5"
            ),
            1,
            2,
        ),
        (
            '{"a": {"@foo": 1}}',
            ("bad mapping: unknown directive @foo; known directives: " + KNOWN_DIRECTIVES),
            1,
            8,
        ),
        (
            "a:\n  b:\n    '@case': {value: x, operator: title}\n",
            'bad mapping: @case operator must be "lower" or "upper", not "title"',
            3,
            25,
        ),
        (
            "[1, {'@json': {value: x}}]",
            'bad mapping: @json needs a mode: "encode" or "decode"',
            1,
            6,
        ),
        (
            '{"@if": 1, "@path": "$.a"}',
            (
                "bad mapping: one object holds several directives "
                "(@if, @path); put each directive in its own object"
            ),
            1,
            1,
        ),
        ("", "the mapping is empty", None, None),
        ('{"a": 1, "a": 2}', "duplicate key 'a'; it is first used on line 1", 1, 10),
        ("{'@path': .nan}", "'.nan' is not a JSON number", 1, 11),
        (
            "'@path': !!python/name:os.system x",
            "the YAML tag '!!python/name:os.system' is not allowed",
            1,
            10,
        ),
        (
            "{",
            (
                "YAML syntax error while parsing a flow node: expected the node content, "
                "but found the end of the file"
            ),
            1,
            2,
        ),
    ],
)
def test_field_mapping_errors_are_located_in_the_text(
    text: str, message: str, line: int | None, column: int | None
) -> None:
    error = fail_field(text)
    if "@json" in text:
        assert error.message.startswith(message)
    else:
        assert error.message == message
    assert where(error) == (line, column)
    assert error.path == "--mapping"


def test_field_mapping_text_that_is_not_json_keeps_its_tabs() -> None:
    error = fail_field('{"@path":\t"$.a"')
    assert error.message.startswith("YAML syntax error")
    deep = "[" * 100_000
    assert fail_field(deep).message == "the YAML is nested deeper than 64 levels"


# -- build_subscription and compile_field ----------------------------------------------


def test_build_subscription_fills_defaults_and_applies_overrides() -> None:
    action = ACTIONS["trackPurchase"]
    amount = compile_field({"@path": "$.properties.revenue"}, field="amount", origin="file", line=7)
    subscription = build_subscription(
        name="P",
        action=action,
        trigger='type = "track"',
        mode="direct",
        overrides={"amount": amount, "coupon": None, "ipAddress": amount},
        enabled=False,
        line=3,
    )
    names = [f.field for f in subscription.fields]
    assert names == [f.name for f in action.fields_in("direct") if f.name != "coupon"]
    assert next(f for f in subscription.fields if f.field == "amount") is amount
    assert (subscription.enabled, subscription.line, subscription.name) == (False, 3, "P")
    assert subscription.matches({"type": "track"})
    assert subscription.node is not None


def test_build_subscription_without_overrides_uses_every_default() -> None:
    subscription = build_subscription(
        name="C", action=ACTIONS["trackCustomer"], trigger='type = "identify"', mode="cloud"
    )
    assert all(f.origin == "default" for f in subscription.fields)
    assert subscription.enabled
    assert subscription.line is None


def test_build_subscription_leaves_out_fields_without_a_default() -> None:
    page = ACTIONS["trackPage"]
    fields = tuple(
        dataclasses.replace(f, default=None) if f.name == "title" else f for f in page.fields
    )
    action = dataclasses.replace(page, fields=fields)
    subscription = build_subscription(name="P", action=action, trigger="x = 1", mode="direct")
    assert [f.field for f in subscription.fields] == ["name", "category"]


def test_build_subscription_raises_for_a_bad_trigger() -> None:
    with pytest.raises(TriggerSyntaxError):
        build_subscription(name="C", action=ACTIONS["trackCustomer"], trigger="", mode="cloud")


def test_compile_field_raises_directive_errors() -> None:
    with pytest.raises(DirectiveError):
        compile_field({"@nope": 1}, origin="file", line=None)
    compiled = compile_field({"@path": "$.a"}, field="x", origin="default", line=None)
    assert (compiled.field, compiled.source) == ("x", "$.a")


# -- the built-in default ----------------------------------------------------------------


def test_the_built_in_default_has_the_three_cloud_subscriptions() -> None:
    config = default_mappings()
    assert config.path == BUILT_IN == "<built-in default>"
    assert config.mode == "cloud"
    assert config.merchant_id is None
    assert [(s.name, s.action.name, s.trigger) for s in config.subscriptions] == [
        ("Track Customer", "trackCustomer", 'type = "identify"'),
        ("Track Purchase", "trackPurchase", 'type = "track" and event = "Order Completed"'),
        ("Track Sign Up", "trackSignUp", 'type = "track" and event = "Signed Up"'),
    ]
    assert config.active == config.subscriptions
    for subscription in config.subscriptions:
        assert all(f.origin == "default" for f in subscription.fields)
        assert [f.field for f in subscription.fields] == [
            f.name for f in subscription.action.fields_in("cloud")
        ]
    identify = {"type": "identify", "userId": "u1"}
    assert [s.name for s in config.subscriptions if s.matches(identify)] == ["Track Customer"]


def test_the_built_in_default_equals_the_same_file() -> None:
    text = "subscriptions:\n" + "".join(
        f"  - name: {s.name}\n    action: {s.action.name}\n    trigger: '{s.trigger}'\n"
        for s in default_mappings().subscriptions
    )
    loaded = load(text)
    built_in = default_mappings()
    for a, b in zip(loaded.subscriptions, built_in.subscriptions, strict=True):
        assert (a.name, a.action, a.trigger, a.node) == (b.name, b.action, b.trigger, b.node)
        assert [f.mapping for f in a.fields] == [f.mapping for f in b.fields]


# -- properties --------------------------------------------------------------------------


def load_or_error(data: str | bytes) -> None:
    """Loading anything gives a config or a located, one-line MappingFileError."""
    outcome: MappingConfig | MappingFileError
    try:
        outcome = load(data)
    except MappingFileError as error:
        outcome = error
    if isinstance(outcome, MappingFileError):
        check_message(outcome)
        assert outcome.path == "m.yaml"
        assert outcome.line is None or outcome.line >= 1
        assert outcome.column is None or outcome.column >= 1
    else:
        assert outcome.subscriptions


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(YAML_PIECES, max_size=40).map("".join))
def test_yaml_ish_text_loads_or_fails_cleanly(text: str) -> None:
    load_or_error(text)


@settings(max_examples=150, deadline=None)
@given(st.one_of(st.text(max_size=200), st.binary(max_size=200)))
def test_arbitrary_text_loads_or_fails_cleanly(data: str | bytes) -> None:
    load_or_error(data)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(DOCUMENTS, FILES), st.booleans())
def test_generated_documents_load_or_fail_cleanly(document: Any, flow: bool) -> None:
    text = yaml.safe_dump(document, default_flow_style=flow, allow_unicode=True)
    load_or_error(text)
    load_or_error(json.dumps(document))
