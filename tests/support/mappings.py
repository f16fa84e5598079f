"""Hypothesis strategies for mapping files: YAML pieces, documents, whole files."""

from __future__ import annotations

from hypothesis import strategies as st

from fbcli.actions import ACTIONS

UUID = "1993d0f1-8206-4336-8c88-64e170f2419e"


YAML_PIECES = st.sampled_from(
    [
        "subscriptions:",
        "\n",
        "\n  - ",
        "\n    ",
        "  ",
        " ",
        "name: ",
        "action: ",
        "trigger: ",
        "mapping: ",
        "enabled: ",
        "mode: ",
        "version: ",
        "merchant_id: ",
        "trackCustomer",
        "trackPage",
        "direct",
        "email: ",
        "amount: ",
        '"@path": ',
        "'@if': ",
        "@path",
        "$.a",
        'type = "identify"',
        "= =",
        "(",
        "&a ",
        "*a",
        "<<: ",
        "!!python/object:os.system ",
        "!!binary ",
        "!!int ",
        "{",
        "}",
        "[",
        "]",
        ",",
        ":",
        "'",
        '"',
        "\\",
        "\\u",
        "\t",
        "#",
        "---",
        "...",
        "|",
        ">",
        "? ",
        "%YAML 1.1",
        ".inf",
        "0x1F",
        "1",
        "null",
        "true",
        "yes",
        "\r",
        "\x85",
        "\u2028",
        "\ufeff",
        "é",
        "\x07",
        UUID,
    ]
)


KEYS = st.sampled_from(
    [
        "version",
        "mode",
        "merchant_id",
        "subscriptions",
        "name",
        "action",
        "trigger",
        "enabled",
        "mapping",
        "email",
        "amount",
        "customerId",
        "@path",
        "@if",
        "exists",
        "then",
        "@template",
        "@case",
        "value",
        "operator",
        "x",
    ]
)


SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(
        [
            1,
            "direct",
            "cloud",
            UUID,
            "trackCustomer",
            "trackPurchase",
            "trackPage",
            'type = "identify"',
            "type = = 1",
            "$.properties.total",
            "lower",
        ]
    ),
    st.text(max_size=10),
)


DOCUMENTS = st.recursive(
    SCALARS,
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(KEYS, children, max_size=5)
    ),
    max_leaves=25,
)


SUBSCRIPTION = st.fixed_dictionaries(
    {
        "name": st.sampled_from(["A", "B"]),
        "action": st.sampled_from([*ACTIONS, "nope"]),
        "trigger": st.sampled_from(['type = "identify"', "type = = 1", "x != null", ""]),
    },
    optional={
        "enabled": st.booleans(),
        "mapping": st.one_of(st.none(), st.dictionaries(KEYS, DOCUMENTS, max_size=3)),
    },
)


FILES = st.fixed_dictionaries(
    {"subscriptions": st.lists(SUBSCRIPTION, max_size=3)},
    optional={
        "version": st.sampled_from([1, 2]),
        "mode": st.sampled_from(["cloud", "direct"]),
        "merchant_id": st.sampled_from([UUID, "nope", None]),
    },
)
