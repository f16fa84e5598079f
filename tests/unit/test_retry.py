"""Retry decisions, backoff with full jitter, budgets and Retry-After parsing."""

from __future__ import annotations

import math
import random
import statistics
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fbcli.retry import Decision, Phase, RetryPolicy, classify, parse_retry_after

# --- classification ----------------------------------------------------------------------

TRANSPORT_ROWS: list[tuple[Phase, bool, bool, Decision]] = [
    # phase, safe_to_repeat, retry_unknown, decision
    ("connect", False, False, "retry"),
    ("connect", True, False, "retry"),
    ("connect", False, True, "retry"),
    ("send", False, False, "unknown"),
    ("send", True, False, "retry"),
    ("send", False, True, "retry"),
    ("send", True, True, "retry"),
    ("read", False, False, "unknown"),
    ("read", True, False, "retry"),
    ("read", False, True, "retry"),
    ("read", True, True, "retry"),
]


@pytest.mark.parametrize(
    ("status", "decision"),
    [
        (200, "success"),
        (201, "success"),
        (204, "success"),
        (299, "success"),
        (408, "retry"),
        (429, "retry"),
        (500, "retry"),
        (502, "retry"),
        (503, "retry"),
        (504, "retry"),
        (599, "retry"),
        (501, "fail"),
        (505, "fail"),
        (400, "fail"),
        (401, "fail"),  # the client re-authorizes once before classifying
        (403, "fail"),
        (404, "fail"),
        (409, "fail"),
        (422, "fail"),
        (499, "fail"),
        (100, "fail"),
        (302, "fail"),
        (600, "fail"),
    ],
)
@pytest.mark.parametrize("safe", [False, True])
def test_a_response_is_classified_by_its_status(status: int, decision: str, safe: bool) -> None:
    for phase in (None, "read"):
        got = classify(status=status, phase=phase, safe_to_repeat=safe, retry_unknown=safe)
        assert got == decision


@pytest.mark.parametrize(("phase", "safe", "retry_unknown", "decision"), TRANSPORT_ROWS)
def test_a_transport_failure_is_classified_by_how_far_the_request_got(
    phase: Phase, safe: bool, retry_unknown: bool, decision: Decision
) -> None:
    got = classify(status=None, phase=phase, safe_to_repeat=safe, retry_unknown=retry_unknown)
    assert got == decision


def test_classify_needs_a_status_or_a_phase() -> None:
    with pytest.raises(ValueError, match="status or a transport phase"):
        classify(status=None, phase=None, safe_to_repeat=True, retry_unknown=True)


# --- backoff -----------------------------------------------------------------------------


def test_backoff_grows_exponentially_up_to_the_cap() -> None:
    policy = RetryPolicy(base_delay=0.5, max_delay=30.0)
    rng = random.Random(7)
    for n, ceiling in [(1, 0.5), (2, 1.0), (3, 2.0), (6, 16.0), (7, 30.0), (50, 30.0)]:
        samples = [policy.backoff(n, rng) for _ in range(2000)]
        assert min(samples) >= 0.0
        assert max(samples) <= ceiling
        assert max(samples) > 0.99 * ceiling  # the ceiling is really reached


def test_backoff_is_full_jitter_uniform_over_the_ceiling() -> None:
    policy = RetryPolicy(base_delay=1.0, max_delay=60.0)
    rng = random.Random(2024)
    samples = [policy.backoff(4, rng) for _ in range(20_000)]  # uniform(0, 8)
    assert statistics.fmean(samples) == pytest.approx(4.0, abs=0.1)
    assert statistics.pvariance(samples) == pytest.approx(64 / 12, rel=0.05)
    deciles = [sum(1 for s in samples if k <= s < k + 0.8) for k in (0.8 * i for i in range(10))]
    assert all(1800 < count < 2200 for count in deciles)


def test_backoff_is_reproducible_with_a_seeded_rng() -> None:
    policy = RetryPolicy()
    first = [policy.backoff(n, random.Random(1)) for n in range(1, 7)]
    again = [policy.backoff(n, random.Random(1)) for n in range(1, 7)]
    assert first == again


def test_huge_retry_numbers_do_not_overflow() -> None:
    policy = RetryPolicy(base_delay=0.5, max_delay=30.0)
    assert 0.0 <= policy.backoff(10**6, random.Random(3)) <= 30.0


@given(
    retry_number=st.integers(min_value=1, max_value=5000),
    base=st.floats(min_value=0.0, max_value=1e6),
    cap=st.floats(min_value=0.0, max_value=1e6),
    seed=st.integers(min_value=0, max_value=2**32),
)
def test_backoff_always_lies_in_zero_to_max_delay(
    retry_number: int, base: float, cap: float, seed: int
) -> None:
    policy = RetryPolicy(base_delay=base, max_delay=cap)
    wait = policy.backoff(retry_number, random.Random(seed))
    assert 0.0 <= wait <= cap
    assert wait <= base * 2.0 ** min(retry_number - 1, 1023)


# --- Retry-After and budgets -------------------------------------------------------------


def test_delay_without_retry_after_is_the_backoff() -> None:
    policy = RetryPolicy()
    assert policy.delay(3, random.Random(5), None) == policy.backoff(3, random.Random(5))


def test_delay_honours_a_retry_after_longer_than_the_backoff() -> None:
    policy = RetryPolicy(base_delay=0.5, max_delay=30.0)
    assert policy.delay(1, random.Random(5), 12.0) == 12.0
    assert policy.delay(1, random.Random(5), 45.0) == 45.0  # beyond max_delay: honoured


def test_delay_keeps_the_backoff_when_it_is_longer_than_retry_after() -> None:
    policy = RetryPolicy(base_delay=10.0, max_delay=30.0)
    expected = policy.backoff(3, random.Random(9))
    assert expected > 0.0
    assert policy.delay(3, random.Random(9), 0.0) == expected


def test_delay_never_exceeds_max_total() -> None:
    policy = RetryPolicy(max_total=120.0, max_retry_after=3600.0)
    assert policy.delay(1, random.Random(5), 3600.0) == 120.0
    assert policy.delay(1, random.Random(5), math.inf) == 120.0


def test_a_retry_after_above_the_cap_is_honoured_up_to_the_cap() -> None:
    policy = RetryPolicy()  # max_retry_after 60 s
    assert policy.cap(99999.0) == 60.0
    assert policy.cap(math.inf) == 60.0
    assert policy.cap(12.5) == 12.5
    assert policy.delay(1, random.Random(5), 99999.0) == 60.0
    assert policy.delay(1, random.Random(5), 45.0) == 45.0
    assert policy.should_retry(1, 1.0, policy.delay(1, random.Random(5), 99999.0))
    strict = RetryPolicy(max_retry_after=0.0)  # Retry-After ignored: the backoff alone
    assert strict.delay(3, random.Random(5), 99999.0) == strict.backoff(3, random.Random(5))


@pytest.mark.parametrize("retry_after", [-1.0, math.nan])
def test_cap_rejects_a_negative_retry_after(retry_after: float) -> None:
    with pytest.raises(ValueError, match="retry_after must be >= 0"):
        RetryPolicy().cap(retry_after)


@pytest.mark.parametrize("retry_after", [-1.0, math.nan])
def test_delay_rejects_a_negative_retry_after(retry_after: float) -> None:
    with pytest.raises(ValueError, match="retry_after must be >= 0"):
        RetryPolicy().delay(1, random.Random(5), retry_after)


def test_should_retry_is_bounded_by_attempts() -> None:
    policy = RetryPolicy(max_attempts=3)
    assert policy.should_retry(1, 0.0, 0.0)  # second attempt
    assert policy.should_retry(2, 0.0, 0.0)  # third attempt
    assert not policy.should_retry(3, 0.0, 0.0)  # would be the fourth


def test_a_single_attempt_policy_never_retries() -> None:
    assert not RetryPolicy(max_attempts=1).should_retry(1, 0.0, 0.0)


def test_should_retry_is_bounded_by_total_time() -> None:
    policy = RetryPolicy(max_total=60.0)
    assert policy.should_retry(1, 50.0, 9.9)
    assert not policy.should_retry(1, 50.0, 10.0)
    assert not policy.should_retry(1, 61.0, 0.0)


def test_a_retry_after_beyond_the_budget_ends_the_call() -> None:
    policy = RetryPolicy(max_total=300.0, max_retry_after=3600.0)
    wait = policy.delay(1, random.Random(0), 1000.0)
    assert wait == 300.0
    assert not policy.should_retry(1, 0.5, wait)
    capped = RetryPolicy(max_total=30.0)  # capped at 60 s, still beyond a 30-s budget
    assert not capped.should_retry(1, 0.5, capped.delay(1, random.Random(0), 1000.0))


def test_a_whole_call_stays_within_its_budget() -> None:
    policy = RetryPolicy()
    rng = random.Random(11)
    elapsed, retries = 0.0, 0
    while True:
        elapsed += 0.2  # one attempt
        wait = policy.delay(retries + 1, rng, None)
        if not policy.should_retry(retries + 1, elapsed, wait):
            break
        elapsed += wait
        retries += 1
    assert retries == policy.max_attempts - 1
    assert elapsed <= policy.max_total


@pytest.mark.parametrize("retry_number", [0, -1])
def test_retry_numbers_start_at_one(retry_number: int) -> None:
    policy = RetryPolicy()
    with pytest.raises(ValueError, match="retry_number starts at 1"):
        policy.backoff(retry_number, random.Random(0))
    with pytest.raises(ValueError, match="retry_number starts at 1"):
        policy.should_retry(retry_number, 0.0, 0.0)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"max_attempts": 0}, "max_attempts must be >= 1"),
        ({"base_delay": -0.1}, "base_delay must be a finite number >= 0"),
        ({"max_delay": math.inf}, "max_delay must be a finite number >= 0"),
        ({"max_total": math.nan}, "max_total must be a finite number >= 0"),
        ({"max_retry_after": -1.0}, "max_retry_after must be a finite number >= 0"),
        ({"max_retry_after": math.inf}, "max_retry_after must be a finite number >= 0"),
    ],
)
def test_bad_policies_are_rejected(kwargs: dict[str, float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        RetryPolicy(**kwargs)  # type: ignore[arg-type]


def test_the_policy_is_a_frozen_value() -> None:
    policy = RetryPolicy()
    assert policy == RetryPolicy(6, 0.5, 30.0, 300.0, 60.0)
    with pytest.raises(AttributeError):
        policy.max_attempts = 2  # type: ignore[misc]


# --- parse_retry_after -------------------------------------------------------------------

NOW = datetime(1994, 11, 6, 8, 49, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("120", 120.0),
        ("0", 0.0),
        (" 7 ", 7.0),
        ("1.5", 1.5),
        ("0.25", 0.25),
        ("3.", 3.0),
        (".5", 0.5),
        ("Sun, 06 Nov 1994 08:49:37 GMT", 37.0),  # IMF-fixdate
        ("Sunday, 06-Nov-94 08:49:37 GMT", 37.0),  # obsolete RFC 850
        ("Sun Nov  6 08:49:37 1994", 37.0),  # obsolete asctime, GMT
        ("Sun, 06 Nov 1994 09:00:00 +0100", 0.0),  # 08:00 GMT: in the past
        ("Sun, 06 Nov 1994 08:48:00 GMT", 0.0),  # past dates never give a negative wait
        ("Mon, 07 Nov 1994 08:49:00 GMT", 86400.0),
    ],
)
def test_retry_after_values_are_read_as_seconds(value: str, seconds: float) -> None:
    assert parse_retry_after(value, now=NOW) == seconds


@pytest.mark.parametrize(
    "value",
    [
        None,
        "",
        "   ",
        "-5",
        "-0.5",
        "+5",
        "1e3",
        "5 seconds",
        "0x10",
        "\u0663",  # a non-ASCII digit
        "9" * 400,  # overflows to infinity
        "soon",
        "Sun, 06 Nov 1994 25:49:37 GMT",
        "Sun, 31 Feb 1994 08:49:37 GMT",
        "06 Nov 1994",
    ],
)
def test_garbage_retry_after_values_give_none(value: str | None) -> None:
    assert parse_retry_after(value, now=NOW) is None


def test_retry_after_dates_are_compared_with_an_aware_now_in_any_zone() -> None:
    later = NOW.astimezone(timezone(timedelta(hours=-5)))
    assert parse_retry_after("Sun, 06 Nov 1994 08:50:00 GMT", now=later) == 60.0


def test_retry_after_needs_an_aware_now() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        parse_retry_after("5", now=datetime(2024, 1, 1))


@given(st.text(max_size=60))
def test_parse_retry_after_never_raises_and_never_goes_negative(value: str) -> None:
    seconds = parse_retry_after(value, now=NOW)
    assert seconds is None or (math.isfinite(seconds) and seconds >= 0)
