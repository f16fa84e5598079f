"""The MAPI emulator, tested as a real server on 127.0.0.1 with httpx as the client."""

from __future__ import annotations

import json
import math
import re
import socket
import ssl
import stat
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from fbcli.emulator import (
    Emulator,
    EmulatorConfig,
    FaultSpec,
    RecordedCall,
    _url_host,
    is_loopback,
    parse_faults,
)

KEY = "3f2e7a51-8c1b-4f3e-9d6a-0b1c2d3e4f50"
SECRET = "emulator-secret"
ISO_MS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")

CUSTOMER = {"customerId": "c-1", "email": "ada@example.com"}
PURCHASE = {"orderId": "o-1", "amount": 12.5, "currency": "USD"}
SIGN_UP = {"customerId": "c-1", "email": "ada@example.com"}
CUSTOM = {"eventType": "review", "email": "ada@example.com"}


TLS = ssl.create_default_context()
"""One TLS context for every client: httpx would build (slowly) one per client otherwise."""


def http(base_url: str = "", *, timeout: float = 2.0) -> httpx.Client:
    """A client for the emulator: a shared TLS context and no proxy from the environment."""
    return httpx.Client(base_url=base_url, timeout=timeout, trust_env=False, verify=TLS)


class FakeClock:
    """A monotonic clock that moves only when told to."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    with Emulator(EmulatorConfig(key=KEY, secret=SECRET)) as running:
        yield running


@pytest.fixture
def client(emulator: Emulator) -> Iterator[httpx.Client]:
    with http(emulator.base_url) as session:
        yield session


def authorize(client: httpx.Client, key: str = KEY, secret: str = SECRET) -> dict[str, str]:
    response = client.post("/v1/authorization", json={"key": key, "secret": secret})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['token']}"}


def assert_error(response: httpx.Response, status: int, *words: str) -> dict[str, Any]:
    """A MAPI error body with the right status, whose message names each of ``words``."""
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert set(body) == {"error", "message", "code", "reference"}
    assert body["code"] == status
    assert body["error"] == httpx.codes.get_reason_phrase(status)
    assert UUID.match(body["reference"])
    for word in words:
        assert word in body["message"]
    return body


def raw_exchange(base_url: str, data: bytes, *, replies: int = 1) -> bytes:
    """Send raw bytes on one connection; read until ``replies`` responses or EOF."""
    host, port = base_url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=2.0) as sock:
        sock.sendall(data)
        received = b""
        while received.count(b"HTTP/1.1 ") < replies or not _complete(received, replies):
            chunk = sock.recv(65536)
            if not chunk:
                break
            received += chunk
        return received


def _complete(data: bytes, replies: int) -> bool:
    """Whether ``data`` holds ``replies`` full responses (headers plus Content-Length bytes)."""
    rest = data
    for _ in range(replies):
        head, sep, body = rest.partition(b"\r\n\r\n")
        if not sep:
            return False
        match = re.search(rb"Content-Length: (\d+)", head)
        assert match is not None
        length = int(match.group(1))
        if len(body) < length:
            return False
        rest = body[length:]
    return True


def wait_for(condition: Any, timeout: float = 1.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.005)


# -- authorization ------------------------------------------------------------------------


def test_authorization_issues_a_jwt_looking_bearer_token(client: httpx.Client) -> None:
    response = client.post("/v1/authorization", json={"key": KEY, "secret": SECRET})
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert set(body) == {"tokenType", "token", "expires"}
    assert body["tokenType"] == "Bearer"
    assert len(body["token"].split(".")) == 3
    assert ISO_MS.match(body["expires"])


def test_two_authorizations_give_different_tokens(client: httpx.Client) -> None:
    assert authorize(client) != authorize(client)


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({"key": KEY, "secret": "wrong"}, ("wrong",)),
        ({"key": "other", "secret": SECRET}, ("wrong",)),
        ({"key": KEY}, ("secret",)),
        ({"secret": SECRET}, ("key",)),
        ({"key": "", "secret": SECRET}, ("key",)),
        ({"key": KEY, "secret": 42}, ("secret",)),
    ],
)
def test_authorization_refuses_bad_credentials(
    client: httpx.Client, body: dict[str, Any], words: tuple[str, ...]
) -> None:
    assert_error(client.post("/v1/authorization", json=body), 401, *words)


@pytest.mark.parametrize("content", [b"not json", b"[1, 2]", b"", b"\xff\xfe", b'{"a": NaN}'])
def test_authorization_needs_a_json_object(client: httpx.Client, content: bytes) -> None:
    assert_error(client.post("/v1/authorization", content=content), 400, "JSON")


def test_any_credentials_work_when_none_are_configured() -> None:
    with Emulator() as emulator, http(emulator.base_url) as client:
        authorize(client, "any-key", "any-secret")
        assert emulator.stats()["tokens_issued"] == 1


# -- tokens -------------------------------------------------------------------------------


def test_calls_need_a_token(client: httpx.Client) -> None:
    response = client.post("/v1/customer", json=CUSTOMER)
    assert_error(response, 401, "Authorization header is missing")
    assert response.headers["www-authenticate"] == "Bearer"


def test_a_wrong_token_is_refused(client: httpx.Client, emulator: Emulator) -> None:
    response = client.post("/v1/customer", json=CUSTOMER, headers={"Authorization": "Bearer x.y.z"})
    assert_error(response, 401, "invalid, expired or revoked")
    assert emulator.calls() == []
    assert emulator.stats()["unauthorized_401"] == 1


def test_the_bare_token_is_accepted(client: httpx.Client) -> None:
    token = authorize(client)["Authorization"].removeprefix("Bearer ")
    response = client.post("/v1/customer", json=CUSTOMER, headers={"Authorization": token})
    assert response.status_code == 201


def test_a_token_expires_after_its_ttl() -> None:
    clock = FakeClock()
    config = EmulatorConfig(token_ttl=60.0)
    with Emulator(config, clock=clock) as emulator, http(emulator.base_url) as c:
        headers = authorize(c)
        clock.now += 59.9
        assert c.post("/v1/event/custom", json=CUSTOM, headers=headers).status_code == 201
        clock.now += 0.1
        assert_error(c.post("/v1/event/custom", json=CUSTOM, headers=headers), 401, "expired")
        assert c.post("/v1/event/custom", json=CUSTOM, headers=authorize(c)).status_code == 201


def test_revoked_tokens_get_401_until_reauthorized(
    client: httpx.Client, emulator: Emulator
) -> None:
    headers = authorize(client)
    emulator.revoke_tokens()
    assert_error(client.post("/v1/customer", json=CUSTOMER, headers=headers), 401, "revoked")
    assert client.post("/v1/customer", json=CUSTOMER, headers=authorize(client)).status_code == 201


# -- endpoints and bodies -------------------------------------------------------------------


def test_each_endpoint_accepts_its_minimal_body(client: httpx.Client, emulator: Emulator) -> None:
    headers = authorize(client)
    for path, body in [
        ("/v1/event/purchase", PURCHASE),
        ("/v1/event/account-sign-up", SIGN_UP),
        ("/v1/event/custom", CUSTOM),
    ]:
        response = client.post(path, json=body, headers=headers)
        assert response.status_code == 201, response.text
        reply = response.json()
        assert set(reply) == {"eventId", "createdOn"}
        assert UUID.match(reply["eventId"])
        assert ISO_MS.match(reply["createdOn"])
    calls = emulator.calls()
    assert [call.path for call in calls] == [
        "/v1/event/purchase",
        "/v1/event/account-sign-up",
        "/v1/event/custom",
    ]
    assert [call.seq for call in calls] == [1, 2, 3]
    assert calls[0].body == PURCHASE
    assert calls[0].method == "POST"
    assert ISO_MS.match(calls[0].received_at)


def test_customer_is_created_then_updated(client: httpx.Client, emulator: Emulator) -> None:
    headers = authorize(client)
    first = client.post("/v1/customer", json=CUSTOMER, headers=headers)
    again = client.post("/v1/customer", json={**CUSTOMER, "firstName": "Ada"}, headers=headers)
    other = client.post("/v1/customer", json={**CUSTOMER, "customerId": "c-2"}, headers=headers)
    assert [first.status_code, again.status_code, other.status_code] == [201, 200, 201]
    assert [call.status for call in emulator.calls()] == [201, 200, 201]
    assert emulator.calls()[0].event_id == first.json()["eventId"]


FULL_CUSTOMER: dict[str, Any] = {
    **CUSTOMER,
    "firstName": "Ada",
    "lastName": "Lovelace",
    "isNewCustomer": True,
    "age": 36,
    "birthday": {"month": 12, "day": 10, "year": 1815},
    "timezone": "Europe/London",
    "loyaltyStatus": "in",
    "gender": "f",
    "zipCode": "W1",
    "country": "GB",
    "language": "en",
    "additionalProperties": {"plan": "gold"},
    "somethingUnknown": [1, {"nested": None}],
}
FULL_PURCHASE: dict[str, Any] = {
    **PURCHASE,
    "amount": 10,
    "customerId": "c-1",
    "email": "ada@example.com",
    "couponCode": "SAVE",
    "giftCardCodes": ["g1", "g2"],
    "products": [
        {"sku": "s1", "name": "Gear", "quantity": 2, "price": 5, "imageUrl": "https://x/i.png"},
        {"sku": "s2", "quantity": 1.0, "price": 0.5},
    ],
}


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/v1/customer", FULL_CUSTOMER),
        ("/v1/event/purchase", FULL_PURCHASE),
        ("/v1/event/account-sign-up", {**SIGN_UP, "birthday": {"month": 2, "day": 29}}),
        ("/v1/event/custom", {**CUSTOM, "customerId": "c-1", "deduplicationId": "d-1"}),
    ],
)
def test_full_bodies_are_accepted_and_recorded_as_sent(
    client: httpx.Client, emulator: Emulator, path: str, body: dict[str, Any]
) -> None:
    response = client.post(path, json=body, headers=authorize(client))
    assert response.status_code == 201, response.text
    assert emulator.calls()[-1].body == body


@pytest.mark.parametrize(
    ("path", "body", "words"),
    [
        ("/v1/customer", {"email": "a@b"}, ("required", "'customerId'", "missing")),
        ("/v1/customer", {"customerId": "c", "email": None}, ("'email'", "missing")),
        ("/v1/customer", {"customerId": "", "email": "a@b"}, ("'customerId'", "empty")),
        ("/v1/customer", {"customerId": 7, "email": "a@b"}, ("'customerId'", "string")),
        ("/v1/customer", {**CUSTOMER, "age": "36"}, ("'age'", "integer")),
        ("/v1/customer", {**CUSTOMER, "age": 36.5}, ("'age'", "integer")),
        ("/v1/customer", {**CUSTOMER, "isNewCustomer": "true"}, ("'isNewCustomer'", "boolean")),
        ("/v1/customer", {**CUSTOMER, "birthday": "1815-12-10"}, ("'birthday'", "object")),
        ("/v1/customer", {**CUSTOMER, "birthday": {"day": 1}}, ("'birthday/month'", "missing")),
        ("/v1/customer", {**CUSTOMER, "birthday": {"month": 13, "day": 1}}, ("birthday/month",)),
        ("/v1/customer", {**CUSTOMER, "birthday": {"month": 1, "day": 0}}, ("birthday/day",)),
        (
            "/v1/customer",
            {**CUSTOMER, "birthday": {"month": 1, "day": 1, "year": "1990"}},
            ("birthday/year",),
        ),
        ("/v1/customer", {**CUSTOMER, "loyaltyStatus": "maybe"}, ("'loyaltyStatus'", "in, out")),
        ("/v1/customer", {**CUSTOMER, "city": 3}, ("'city'",)),
        ("/v1/customer", {**CUSTOMER, "additionalProperties": []}, ("'additionalProperties'",)),
        (
            "/v1/customer",
            {**CUSTOMER, "additionalProperties": {"n": 1}},
            ("'additionalProperties/n'", "string"),
        ),
        ("/v1/event/purchase", {"amount": 1, "currency": "USD"}, ("'orderId'", "missing")),
        ("/v1/event/purchase", {**PURCHASE, "amount": True}, ("'amount'", "number")),
        ("/v1/event/purchase", {**PURCHASE, "amount": "12.50"}, ("'amount'", "number")),
        ("/v1/event/purchase", {**PURCHASE, "amount": 1e400}, ("not valid JSON",)),
        ("/v1/event/purchase", {**PURCHASE, "currency": None}, ("'currency'",)),
        ("/v1/event/purchase", {**PURCHASE, "giftCardCodes": "g1"}, ("'giftCardCodes'",)),
        ("/v1/event/purchase", {**PURCHASE, "giftCardCodes": ["g", 1]}, ("'giftCardCodes/1'",)),
        ("/v1/event/purchase", {**PURCHASE, "products": {"sku": "s"}}, ("'products'", "array")),
        ("/v1/event/purchase", {**PURCHASE, "products": ["s"]}, ("'products/0'", "object")),
        ("/v1/event/purchase", {**PURCHASE, "products": [{"price": 1}]}, ("'products/0/sku'",)),
        (
            "/v1/event/purchase",
            {**PURCHASE, "products": [{"sku": "a"}, {"sku": "b", "price": "1"}]},
            ("'products/1/price'", "number"),
        ),
        (
            "/v1/event/purchase",
            {**PURCHASE, "products": [{"sku": "a", "quantity": 1.5}]},
            ("'products/0/quantity'", "integer"),
        ),
        ("/v1/event/account-sign-up", {"customerId": "c"}, ("'email'", "missing")),
        ("/v1/event/account-sign-up", {**SIGN_UP, "age": False}, ("'age'", "integer")),
        ("/v1/event/custom", {"email": "a@b"}, ("'eventType'", "missing")),
        ("/v1/event/custom", {**CUSTOM, "deduplicationId": 5}, ("'deduplicationId'",)),
        ("/v1/event/custom", [CUSTOM], ("JSON object",)),
    ],
)
def test_bad_bodies_get_400_naming_the_field(
    client: httpx.Client, emulator: Emulator, path: str, body: Any, words: tuple[str, ...]
) -> None:
    content = json.dumps(body).replace("Infinity", "1e400").encode()
    response = client.post(path, content=content, headers=authorize(client))
    assert_error(response, 400, *words)
    assert emulator.calls() == []
    assert emulator.stats()["rejected_400"] == 1


def test_unknown_fields_are_not_checked(client: httpx.Client) -> None:
    body = {**CUSTOM, "age": "not checked on custom events", "products": "nor this"}
    assert client.post("/v1/event/custom", json=body, headers=authorize(client)).status_code == 201


def test_additional_properties_over_the_limits_are_dropped_silently(
    client: httpx.Client, emulator: Emulator
) -> None:
    extra = {"long": "x" * 129, "edge": "y" * 128} | {f"k{i}": str(i) for i in range(12)}
    body = {**CUSTOM, "additionalProperties": extra}
    assert client.post("/v1/event/custom", json=body, headers=authorize(client)).status_code == 201
    recorded = emulator.calls()[0].body["additionalProperties"]
    assert list(recorded) == ["edge", *(f"k{i}" for i in range(9))]


def test_unknown_paths_get_404_and_wrong_methods_405(
    client: httpx.Client, emulator: Emulator
) -> None:
    headers = authorize(client)
    assert_error(
        client.post("/v1/event/unknown", json={}, headers=headers), 404, "/v1/event/unknown"
    )
    assert_error(client.post("/v1/customer/", json={}, headers=headers), 404)
    response = client.get("/v1/customer", headers=headers)
    assert_error(response, 405, "POST")
    assert response.headers["allow"] == "POST"
    assert_error(client.put("/v1/authorization", json={}), 405)
    assert_error(client.delete("/v1/event/custom"), 405)
    assert_error(client.patch("/v1/event/custom"), 405)
    assert_error(client.options("/v1/event/custom"), 405)
    assert emulator.stats()["other_4xx"] == 7


def test_query_strings_are_ignored(client: httpx.Client) -> None:
    headers = authorize(client)
    assert client.post("/v1/event/custom?x=1", json=CUSTOM, headers=headers).status_code == 201


# -- rate limit -----------------------------------------------------------------------------


def test_rate_limit_replies_429_with_retry_after() -> None:
    clock = FakeClock()
    config = EmulatorConfig(rate_limit=0.25, burst=2)
    with Emulator(config, clock=clock) as emulator, http(emulator.base_url) as c:
        headers = authorize(c)  # the authorization counts against the limit too
        assert c.post("/v1/event/custom", json=CUSTOM, headers=headers).status_code == 201
        limited = c.post("/v1/event/custom", json=CUSTOM, headers=headers)
        assert_error(limited, 429, "rate limit")
        assert limited.headers["retry-after"] == "4"
        clock.now += 2.5
        assert c.post("/v1/event/custom", json=CUSTOM, headers=headers).status_code == 429
        clock.now += 1.5
        assert c.post("/v1/event/custom", json=CUSTOM, headers=headers).status_code == 201
        assert c.get("/_emulator/stats").status_code == 200  # never limited
        assert emulator.stats()["rate_limited_429"] == 2
        assert len(emulator.calls()) == 2


def test_retry_after_is_rounded_up_to_whole_seconds() -> None:
    clock = FakeClock()
    config = EmulatorConfig(rate_limit=4.0)
    with Emulator(config, clock=clock) as emulator, http(emulator.base_url) as c:
        authorize(c)
        assert c.post("/v1/authorization", json={}).headers["retry-after"] == "1"


def test_rate_limit_without_retry_after() -> None:
    config = EmulatorConfig(rate_limit=0.5, retry_after=False)
    with (
        Emulator(config, clock=FakeClock()) as emulator,
        http(emulator.base_url) as c,
    ):
        authorize(c)
        response = c.post("/v1/authorization", json={"key": "k", "secret": "s"})
        assert_error(response, 429)
        assert "retry-after" not in response.headers


# -- faults ---------------------------------------------------------------------------------


def faulty(faults: str, **options: Any) -> Emulator:
    return Emulator(EmulatorConfig(faults=parse_faults(faults), **options))


def test_drop_before_closes_without_reply_and_records_nothing() -> None:
    with faulty("drop-before=1") as emulator, http(emulator.base_url) as c:
        with pytest.raises(httpx.RemoteProtocolError):
            c.post("/v1/event/custom", json=CUSTOM)
        assert emulator.calls() == []
        assert emulator.stats()["dropped_before"] == 1
        assert c.get("/_emulator/calls").json() == []  # never faulted


def test_drop_after_records_the_call_but_sends_no_reply() -> None:
    with faulty("drop-after=1") as emulator, http(emulator.base_url) as c:
        with pytest.raises(httpx.RemoteProtocolError):
            c.post("/v1/authorization", json={"key": "k", "secret": "s"})
        assert emulator.stats()["tokens_issued"] == 1
        token = next(iter(emulator._tokens))  # the reply was lost, the token exists
        with pytest.raises(httpx.RemoteProtocolError):
            c.post("/v1/event/custom", json=CUSTOM, headers={"Authorization": token})
        assert [call.path for call in emulator.calls()] == ["/v1/event/custom"]
        assert emulator.stats()["dropped_after"] == 2


def test_5xx_fault_replies_a_server_error_and_records_nothing() -> None:
    with faulty("5xx=1", seed=3) as emulator, http(emulator.base_url) as c:
        statuses = {c.post("/v1/event/custom", json=CUSTOM).status_code for _ in range(12)}
        assert statuses <= {500, 502, 503, 504}
        assert len(statuses) > 1
        response = c.post("/v1/authorization", json={"key": "k", "secret": "s"})
        assert_error(response, response.status_code, "injected")
        assert emulator.calls() == []
        assert emulator.stats()["errors_5xx"] == 13


def test_429_fault_replies_429_with_retry_after() -> None:
    with faulty("429=1") as emulator, http(emulator.base_url) as c:
        response = c.post("/v1/event/custom", json=CUSTOM)
        assert_error(response, 429, "injected")
        assert response.headers["retry-after"] == "1"
        assert emulator.stats()["rate_limited_429"] == 1
    with (
        faulty("429=1", retry_after=False) as emulator,
        http(emulator.base_url) as c,
    ):
        assert "retry-after" not in c.post("/v1/event/custom", json=CUSTOM).headers


def test_slow_fault_delays_then_handles_normally() -> None:
    with faulty("slow=1@0.2") as emulator, http(emulator.base_url) as c:
        started = time.monotonic()
        headers = authorize(c)
        assert c.post("/v1/event/custom", json=CUSTOM, headers=headers).status_code == 201
        assert time.monotonic() - started >= 0.4
        assert emulator.stats()["slow"] == 2
        assert len(emulator.calls()) == 1


def test_faults_do_not_apply_to_rejected_bodies_after_the_checks() -> None:
    with (
        faulty("slow=1@5,drop-after=1") as emulator,
        http(emulator.base_url, timeout=2.0) as c,
    ):
        assert_error(c.post("/v1/event/custom", json=CUSTOM), 401)
        assert emulator.stats()["slow"] == 0


def test_recorded_calls_name_the_faults_that_struck_them() -> None:
    with faulty("slow=1@0.05,drop-after=1") as emulator, http(emulator.base_url) as c:
        token = authorize_despite_drops(emulator)
        with pytest.raises(httpx.RemoteProtocolError):
            c.post("/v1/event/custom", json=CUSTOM, headers={"Authorization": token})
        (call,) = emulator.calls()
        assert call.faults == ("slow", "drop-after")
        assert call.to_dict()["faults"] == ["slow", "drop-after"]
    with faulty("slow=1@0.05") as emulator, http(emulator.base_url) as c:
        assert c.post("/v1/event/custom", json=CUSTOM, headers=authorize(c)).status_code == 201
        assert [call.faults for call in emulator.calls()] == [("slow",)]


def authorize_despite_drops(emulator: Emulator) -> str:
    """The token of an authorization whose reply was dropped (it was issued all the same)."""
    with http(emulator.base_url) as c, pytest.raises(httpx.RemoteProtocolError):
        c.post("/v1/authorization", json={"key": "k", "secret": "s"})
    (token,) = emulator._tokens
    return token


def test_storms_answer_429_for_their_seconds_with_and_without_retry_after() -> None:
    clock = FakeClock()
    config = EmulatorConfig(faults=parse_faults("storm=1@3"))
    with Emulator(config, clock=clock) as emulator, http(emulator.base_url) as c:
        first = c.post("/v1/authorization", json={"key": "k", "secret": "s"})
        assert_error(first, 429, "storm")
        assert first.headers["retry-after"] == "3"  # the first storm tells when it ends
        clock.now += 2.5
        late = c.post("/v1/event/custom", json=CUSTOM)
        assert_error(late, 429, "storm")
        assert late.headers["retry-after"] == "1"  # 0.5 s left, rounded up
        stats = emulator.stats()
        assert (stats["storms"], stats["storm_429"], stats["rate_limited_429"]) == (1, 2, 2)
        clock.now += 0.5  # the storm is over; the dice start the next one at once
        second = c.post("/v1/event/custom", json=CUSTOM)
        assert_error(second, 429, "storm")
        assert "retry-after" not in second.headers  # the second gives no hint
        assert emulator.stats()["storms"] == 2
        assert emulator.calls() == []
    off = EmulatorConfig(faults=parse_faults("storm=1@3"), retry_after=False)
    with Emulator(off) as emulator, http(emulator.base_url) as c:
        assert "retry-after" not in c.post("/v1/event/custom", json=CUSTOM).headers


def test_a_storm_ends_and_calls_go_through() -> None:
    clock = FakeClock()
    config = EmulatorConfig(faults=parse_faults("storm=0.5@1"), seed=2)
    with Emulator(config, clock=clock) as emulator, http(emulator.base_url) as c:
        statuses = []
        for _ in range(40):
            statuses.append(
                c.post("/v1/authorization", json={"key": "k", "secret": "s"}).status_code
            )
            clock.now += 0.25
        assert set(statuses) == {200, 429}
        storms = emulator.stats()["storms"]
        assert 3 <= storms <= 12
        # A storm lasts 1 s: at 4 requests a second, its 429s come in fours (back-to-back
        # storms make eights); the last run may be cut short by the end of the loop.
        runs = "".join("x" if s == 429 else "." for s in statuses).split(".")
        assert all(len(run) % 4 == 0 for run in runs[:-1])
        assert max(len(run) for run in runs) >= 4


def test_revoke_fault_revokes_every_token_first() -> None:
    with faulty("revoke=1") as emulator, http(emulator.base_url) as c:
        headers = authorize(c)  # revoked first, then a new token issued
        assert_error(c.post("/v1/customer", json=CUSTOMER, headers=headers), 401, "revoked")
        assert emulator.stats()["revoked"] == 2
        assert emulator.calls() == []


def test_revoke_fault_makes_a_real_client_reauthorize() -> None:
    from fbcli.mapi import Credentials, MapiClient

    with faulty("revoke=0.3", seed=11) as emulator:
        with MapiClient(emulator.base_url, Credentials("k", "s")) as client:
            results = [client.send("/v1/customer", CUSTOMER) for _ in range(30)]
        assert emulator.stats()["revoked"] > 3
        assert sum(r.reauthorized for r in results) > 0
        # A call is refused only when its token is revoked again between re-authorizing
        # and resending; every other call is accepted once.
        accepted = [r for r in results if r.status in (200, 201)]
        assert len(accepted) == len(emulator.calls())
        assert all(r.status in (200, 201, 401) for r in results)


def test_wait_idle_waits_for_a_slow_request_whose_client_left() -> None:
    with faulty("slow=1@0.3") as emulator:
        token = emulator_token(emulator)
        with http(emulator.base_url, timeout=0.05) as c, pytest.raises(httpx.ReadTimeout):
            c.post("/v1/event/custom", json=CUSTOM, headers={"Authorization": token})
        assert emulator.calls() == []  # still in the slow wait
        assert emulator.wait_idle(timeout=5.0)
        assert [call.faults for call in emulator.calls()] == [("slow",)]
        host, port = emulator.base_url.removeprefix("http://").split(":")
        with socket.create_connection((host, int(port))):
            wait_for(lambda: bool(emulator._connections))
            assert not emulator.wait_idle(timeout=0.05)  # an open connection is not idle


def test_wait_idle_waits_for_a_request_whose_client_died_before_it_was_accepted() -> None:
    """A killed client's last request may still sit in the listening backlog."""
    with Emulator() as emulator:
        token = emulator_token(emulator)
        body = json.dumps(CUSTOM).encode()
        request = (
            b"POST /v1/event/custom HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            + f"Authorization: Bearer {token}\r\nContent-Length: {len(body)}\r\n\r\n".encode()
            + body
        )
        host, port = emulator.base_url.removeprefix("http://").split(":")
        for count in range(1, 21):
            with socket.create_connection((host, int(port))) as sock:
                sock.sendall(request)  # and gone, without reading the answer
            assert emulator.wait_idle(timeout=5.0)
            assert len(emulator.calls()) == count


def emulator_token(emulator: Emulator) -> str:
    """A token issued by the emulator without going through HTTP faults."""
    from fbcli.emulator import issue_token

    token = issue_token(datetime.now(UTC))
    with emulator._lock:
        emulator._tokens[token] = math.inf
    return token


def test_new_fault_kinds_do_not_change_earlier_seeded_runs() -> None:
    def statuses(faults: str) -> list[int]:
        with faulty(faults, seed=5) as emulator, http(emulator.base_url) as c:
            return [
                c.post("/v1/authorization", json={"key": "k", "secret": "s"}).status_code
                for _ in range(30)
            ]

    assert statuses("5xx=0.3,429=0.2") == statuses("5xx=0.3,429=0.2,storm=0,revoke=0")


def test_same_seed_same_faults() -> None:
    def run(seed: int) -> list[int | str]:
        outcomes: list[int | str] = []
        with faulty("5xx=0.3,429=0.2,drop-before=0.2", seed=seed) as emulator:
            for _ in range(20):
                with http(emulator.base_url) as c:
                    try:
                        outcomes.append(c.post("/v1/authorization", json={"key": "k"}).status_code)
                    except httpx.RemoteProtocolError:
                        outcomes.append("dropped")
        return outcomes

    first = run(7)
    assert first == run(7)
    assert {401, 429, "dropped"} <= set(first)
    assert first != run(8)


# -- parse_faults ---------------------------------------------------------------------------


def test_parse_faults_reads_every_kind() -> None:
    spec = parse_faults(
        " 5xx=0.05, SLOW=0.1@1.5,drop-before=0.02,drop_after=0.02,429=0.01,Storm=0.001@3,"
        "revoke=0.004 "
    )
    assert spec == FaultSpec(
        error_5xx=0.05,
        slow=0.1,
        slow_seconds=1.5,
        drop_before=0.02,
        drop_after=0.02,
        error_429=0.01,
        storm=0.001,
        storm_seconds=3.0,
        revoke=0.004,
    )
    assert str(spec) == (
        "5xx=0.05,429=0.01,slow=0.1@1.5,drop-before=0.02,drop-after=0.02,storm=0.001@3,revoke=0.004"
    )
    assert parse_faults(str(spec)) == spec
    odd = FaultSpec(error_5xx=1, slow=1 / 3, slow_seconds=1e-07)
    assert str(odd) == "5xx=1,slow=0.3333333333333333@1e-07"
    assert parse_faults(str(odd)) == odd


@pytest.mark.parametrize("text", ["", "  ", "none", "NONE"])
def test_parse_faults_empty_means_none(text: str) -> None:
    assert parse_faults(text) == FaultSpec()
    assert str(FaultSpec()) == "none"


def test_parse_faults_keeps_the_default_slow_seconds() -> None:
    assert parse_faults("slow=1").slow_seconds == 2.0
    assert parse_faults("storm=0.1").storm_seconds == 2.0
    assert parse_faults("storm=0.1@0.5") == FaultSpec(storm=0.1, storm_seconds=0.5)
    assert parse_faults("slow=0,5xx=1") == FaultSpec(error_5xx=1.0)


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("5xx", ("'5xx'", "KIND=RATE")),
        ("=0.1", ("'=0.1'", "KIND=RATE")),
        ("5xx=0.1,", ("empty item",)),
        ("teapot=0.1", ("'teapot'", "unknown kind", "drop-before")),
        ("5xx=0.1,5xx=0.2", ("'5xx=0.2'", "more than once")),
        ("5xx=0.1@2", ("only slow and storm",)),
        ("revoke=0.1@2", ("only slow and storm",)),
        ("storm=0.1@0", ("'storm=0.1@0'", "seconds", "above 0")),
        ("5xx=lots", ("'lots'", "not a number")),
        ("5xx=1.5", ("'5xx=1.5'", "from 0 to 1")),
        ("429=-0.1", ("from 0 to 1",)),
        ("5xx=nan", ("from 0 to 1",)),
        ("slow=0.1@0", ("'slow=0.1@0'", "seconds", "above 0")),
        ("slow=0.1@x", ("seconds", "'x'")),
        ("slow=0.1@4000", ("at most 3600",)),
    ],
)
def test_parse_faults_names_the_bad_part(text: str, words: tuple[str, ...]) -> None:
    with pytest.raises(ValueError, match=r"fault") as caught:
        parse_faults(text)
    message = str(caught.value)
    assert "\n" not in message
    for word in words:
        assert word in message


def test_fault_spec_and_config_check_their_values() -> None:
    with pytest.raises(ValueError, match="error_5xx"):
        FaultSpec(error_5xx=2.0)
    with pytest.raises(ValueError, match="slow_seconds"):
        FaultSpec(slow_seconds=0.0)
    with pytest.raises(ValueError, match="storm_seconds"):
        FaultSpec(storm_seconds=4000.0)
    with pytest.raises(ValueError, match="revoke"):
        FaultSpec(revoke=-0.5)
    with pytest.raises(ValueError, match="port"):
        EmulatorConfig(port=70000)
    with pytest.raises(ValueError, match="rate limit"):
        EmulatorConfig(rate_limit=0.0)
    with pytest.raises(ValueError, match="burst"):
        EmulatorConfig(burst=0)
    with pytest.raises(ValueError, match="TTL"):
        EmulatorConfig(token_ttl=-1.0)


# -- inspection endpoints, stats and the log --------------------------------------------------


def test_emulator_calls_endpoint_lists_and_clears(client: httpx.Client, emulator: Emulator) -> None:
    headers = authorize(client)
    client.post("/v1/event/purchase", json=PURCHASE, headers=headers)
    client.post("/v1/customer", json=CUSTOMER, headers=headers)
    listed = client.get("/_emulator/calls").json()
    assert listed == [call.to_dict() for call in emulator.calls()]
    assert [c["seq"] for c in listed] == [1, 2]
    assert set(listed[0]) == {
        "seq",
        "method",
        "path",
        "body",
        "event_id",
        "status",
        "received_at",
        "faults",
    }
    assert listed[0]["faults"] == []
    assert listed[1]["status"] == 201
    assert client.delete("/_emulator/calls").json() == {"deleted": 2}
    assert client.get("/_emulator/calls").json() == []
    client.post("/v1/customer", json=CUSTOMER, headers=headers)
    assert [(c.seq, c.status) for c in emulator.calls()] == [(3, 200)]  # seq never reused


def test_emulator_stats_endpoint(client: httpx.Client, emulator: Emulator) -> None:
    headers = authorize(client)
    client.post("/v1/customer", json=CUSTOMER, headers=headers)
    client.post("/v1/customer", json={}, headers=headers)
    client.post("/v1/customer", json=CUSTOMER)
    stats = client.get("/_emulator/stats").json()
    assert stats == emulator.stats()
    assert stats["requests"] == 4
    assert stats["accepted"] == 1
    assert stats["rejected_400"] == 1
    assert stats["unauthorized_401"] == 1
    assert stats["tokens_issued"] == 1
    assert stats["internal_errors"] == 0


def test_emulator_endpoints_check_path_and_method(client: httpx.Client) -> None:
    assert_error(client.get("/_emulator/nothing"), 404)
    assert_error(client.get("/_emulator"), 404)
    response = client.post("/_emulator/calls")
    assert_error(response, 405, "GET, DELETE")
    assert response.headers["allow"] == "GET, DELETE"
    assert_error(client.delete("/_emulator/stats"), 405)


def test_recorded_call_to_dict_is_a_copy() -> None:
    call = RecordedCall(1, "POST", "/v1/event/custom", {"a": {"b": 1}}, "e", 201, "t")
    copied = call.to_dict()
    copied["body"]["a"]["b"] = 2
    assert call.body == {"a": {"b": 1}}


def test_log_file_gets_one_line_per_accepted_call(tmp_path: Path) -> None:
    log = tmp_path / "calls.jsonl"
    config = EmulatorConfig(log_path=log)
    with Emulator(config) as emulator, http(emulator.base_url) as c:
        assert stat.S_IMODE(log.stat().st_mode) == 0o600
        headers = authorize(c)
        c.post("/v1/event/custom", json=CUSTOM, headers=headers)
        c.post("/v1/event/custom", json={}, headers=headers)  # rejected: not logged
        c.post("/v1/customer", json=CUSTOMER, headers=headers)
        odd = {**CUSTOM, "firstName": "Zoë \ud800"}  # a lone surrogate is valid JSON
        c.post("/v1/event/custom", content=json.dumps(odd).encode(), headers=headers)
        lines = log.read_text(encoding="utf-8").splitlines()  # flushed as recorded
        assert "Zoë \\ud800" in lines[-1]
        assert [json.loads(line) for line in lines] == [x.to_dict() for x in emulator.calls()]
        assert SECRET not in log.read_text(encoding="utf-8")
    with Emulator(config) as emulator, http(emulator.base_url) as c:
        c.post("/v1/event/custom", json=CUSTOM, headers=authorize(c))
    assert len(log.read_text(encoding="utf-8").splitlines()) == 4  # appended


def test_an_unopenable_log_fails_start_and_frees_the_port(tmp_path: Path) -> None:
    emulator = Emulator(EmulatorConfig(log_path=tmp_path / "missing" / "calls.jsonl"))
    with pytest.raises(FileNotFoundError):
        emulator.start()
    emulator.stop()


# -- HTTP behaviour -------------------------------------------------------------------------


def test_keep_alive_serves_several_requests_on_one_connection(emulator: Emulator) -> None:
    request = b"GET /_emulator/stats HTTP/1.1\r\nHost: x\r\n\r\n"
    received = raw_exchange(emulator.base_url, request * 3, replies=3)
    assert received.count(b"HTTP/1.1 200 OK") == 3
    assert b"Connection: close" not in received


def test_keep_alive_with_httpx(client: httpx.Client, emulator: Emulator) -> None:
    headers = authorize(client)
    for i in range(5):
        body = {**CUSTOM, "deduplicationId": str(i)}
        assert client.post("/v1/event/custom", json=body, headers=headers).status_code == 201
    assert len(emulator.calls()) == 5
    assert len(emulator._connections) == 1


def test_connection_close_is_honoured(emulator: Emulator) -> None:
    request = b"GET /_emulator/stats HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    received = raw_exchange(emulator.base_url, request * 2, replies=2)
    assert received.count(b"HTTP/1.1 200 OK") == 1
    assert b"Connection: close" in received


@pytest.mark.parametrize(
    ("request_bytes", "status", "words"),
    [
        (
            (
                b"POST /v1/event/custom HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                b"0\r\n\r\n"
            ),
            400,
            b"chunked",
        ),
        (
            b"POST /v1/event/custom HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n",
            400,
            b"Length",
        ),
        (
            b"POST /v1/event/custom HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999\r\n\r\n",
            413,
            b"over",
        ),
        (
            b"POST /v1/event/custom HTTP/1.1\r\nHost: x\r\nContent-Length: 1"
            + b"0" * 5000
            + b"\r\n\r\n",
            413,
            b"over",
        ),
        (
            "POST /v1/event/custom HTTP/1.1\r\nHost: x\r\nContent-Length: ²\r\n\r\n".encode(),
            400,
            b"Length",
        ),
        (b"HEAD /v1/event/custom HTTP/1.1\r\nHost: x\r\n\r\n", 501, b""),
        (b"GET /a b HTTP/1.1\r\n\r\n", 400, b"Bad request syntax"),
    ],
)
def test_unreadable_requests_get_an_error_and_a_closed_connection(
    emulator: Emulator, request_bytes: bytes, status: int, words: bytes
) -> None:
    received = raw_exchange(emulator.base_url, request_bytes * 2, replies=2)
    assert received.startswith(f"HTTP/1.1 {status} ".encode())
    assert received.count(b"HTTP/1.1 ") == 1
    assert b"Connection: close" in received
    assert words in received
    if not request_bytes.startswith(b"HEAD"):
        assert b'"reference"' in received
    else:
        assert received.endswith(b"\r\n\r\n")


def test_a_client_that_leaves_mid_body_is_ignored(emulator: Emulator) -> None:
    host, port = emulator.base_url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=2.0) as sock:
        sock.sendall(b"POST /v1/event/custom HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{")
    wait_for(lambda: not emulator._connections)
    assert emulator.stats()["requests"] == 0
    with http(emulator.base_url) as c:
        assert c.get("/_emulator/stats").status_code == 200


def test_an_internal_error_answers_500_and_is_counted(
    emulator: Emulator, client: httpx.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: Any) -> None:
        raise KeyError("bug")

    monkeypatch.setattr(emulator, "_admin", broken)
    assert_error(client.get("/_emulator/stats"), 500, "failed")
    assert emulator.stats()["internal_errors"] == 1


def test_concurrent_requests_are_all_recorded_with_unique_seq(emulator: Emulator) -> None:
    with http(emulator.base_url) as c:
        headers = authorize(c)

    def send(worker: int) -> None:
        with http(emulator.base_url, timeout=2.0) as c:
            for i in range(5):
                body = {**CUSTOM, "deduplicationId": f"{worker}-{i}"}
                assert c.post("/v1/event/custom", json=body, headers=headers).status_code == 201

    threads = [threading.Thread(target=send, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=5)
    calls = emulator.calls()
    assert sorted(call.seq for call in calls) == list(range(1, 41))
    assert [call.seq for call in calls] == sorted(call.seq for call in calls)
    assert len({call.body["deduplicationId"] for call in calls}) == 40
    assert len({call.event_id for call in calls}) == 40


# -- life cycle -----------------------------------------------------------------------------


def test_stop_is_idempotent_and_frees_the_port() -> None:
    emulator = Emulator()
    url = emulator.start()
    assert emulator.start() == url
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+", url)
    port = int(url.rsplit(":", 1)[1])
    emulator.stop()
    emulator.stop()
    with pytest.raises(httpx.ConnectError), http(url) as c:
        c.get("/_emulator/stats")
    with pytest.raises(RuntimeError, match="stopped"):
        emulator.start()
    with Emulator(EmulatorConfig(port=port)) as again:
        assert again.base_url == url


def test_stop_closes_idle_keep_alive_connections(emulator: Emulator) -> None:
    with http(emulator.base_url) as c:
        c.get("/_emulator/stats")
        assert len(emulator._connections) == 1
        started = time.monotonic()
        emulator.stop()
        assert time.monotonic() - started < 0.5
        wait_for(lambda: not emulator._connections)


@pytest.mark.parametrize("path", ["/v1/authorization", "/v1/event/custom"])
def test_stop_does_not_hang_on_a_slow_request(path: str) -> None:
    emulator = faulty("slow=1@30")
    emulator.start()
    emulator._tokens["t"] = math.inf  # no waiting 30 s for a real one
    with http(emulator.base_url) as c:
        assert c.post("/v1/authorization", json={}).status_code == 401  # checked before slow
    outcome: list[BaseException | int] = []

    def call() -> None:
        body = {"key": "k", "secret": "s"} | CUSTOM
        try:
            with http(emulator.base_url, timeout=5.0) as c:
                response = c.post(path, json=body, headers={"Authorization": "t"})
            outcome.append(response.status_code)
        except httpx.TransportError as error:
            outcome.append(error)

    thread = threading.Thread(target=call)
    thread.start()
    wait_for(lambda: emulator.stats()["slow"] == 1)
    started = time.monotonic()
    emulator.stop()
    thread.join(timeout=2.0)
    assert time.monotonic() - started < 1.0
    assert not thread.is_alive()
    assert len(outcome) == 1
    assert isinstance(outcome[0], httpx.TransportError)
    assert emulator.stats()["tokens_issued"] == 0
    assert emulator.calls() == []


def test_serve_forever_blocks_until_stop() -> None:
    emulator = Emulator()
    thread = threading.Thread(target=emulator.serve_forever)
    thread.start()
    wait_for(lambda: emulator._base_url is not None)
    with http(emulator.base_url) as c:
        assert c.get("/_emulator/stats").status_code == 200
    assert thread.is_alive()
    emulator.stop()
    thread.join(timeout=1.0)
    assert not thread.is_alive()


def test_base_url_needs_start() -> None:
    with pytest.raises(RuntimeError, match="not started"):
        _ = Emulator().base_url
    Emulator().stop()  # stopping an emulator never started is fine


def test_ipv6_loopback() -> None:
    if not socket.has_ipv6:
        pytest.skip("no IPv6")
    try:
        emulator = Emulator(EmulatorConfig(host="::1"))
        url = emulator.start()
    except OSError:
        pytest.skip("IPv6 loopback unavailable")
    with emulator:
        assert url.startswith("http://[::1]:")
        with http(url) as c:
            assert c.get("/_emulator/stats").status_code == 200


def test_unspecified_host_gives_a_loopback_base_url() -> None:
    with Emulator(EmulatorConfig(host="0.0.0.0")) as emulator:
        assert emulator.base_url.startswith("http://127.0.0.1:")
        with http(emulator.base_url) as c:
            assert c.get("/_emulator/stats").status_code == 200


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("127.0.0.1", True),
        ("127.1.2.3", True),
        ("::1", True),
        ("[::1]", True),
        ("localhost", True),
        ("LOCALHOST", True),
        ("localhost.", True),
        ("app.localhost", False),
        ("0.0.0.0", False),
        ("::", False),
        ("192.168.1.10", False),
        ("example.com", False),
        ("", False),
    ],
)
def test_is_loopback(host: str, expected: bool) -> None:
    assert is_loopback(host) is expected


@pytest.mark.parametrize(
    ("host", "url_host"),
    [
        ("127.0.0.1", "127.0.0.1"),
        ("localhost", "localhost"),
        ("0.0.0.0", "127.0.0.1"),
        ("", "127.0.0.1"),
        ("::", "[::1]"),
        ("::1", "[::1]"),
        ("[::1]", "[::1]"),
    ],
)
def test_base_url_host(host: str, url_host: str) -> None:
    assert _url_host(host) == url_host
