"""Retry delays spread by +-50% at random (as posthog-js does), through the injected random.

Without jitter, every tab that failed during an outage retries in the same second when the
server comes back. The adapters pass ``Math.random``; here a list of answers stands in.
"""

import pytest

from client.fakes import Harness
from usage_reporter.retry_policy import RetryPolicy


class Answers:
    """``random()`` answering the given numbers in turn."""

    def __init__(self, *values):
        self.values = list(values)

    def __call__(self):
        return self.values.pop(0)


def seconds_until_send(harness, limit=1000):
    """Milliseconds until the reporter's next send, ticking every 100 ms."""
    before = len(harness.transport.sent)
    for step in range(1, limit * 10 + 1):
        harness.clock.advance(0.1)
        harness.reporter.tick()
        if len(harness.transport.sent) > before:
            return step * 100
    raise AssertionError(f"nothing was sent within {limit} s")


def test_the_delay_is_the_backoff_times_a_factor_between_half_and_one_and_a_half():
    policy = RetryPolicy(backoff_s=5, max_backoff_s=300, random=Answers(0.0, 0.5, 0.75, 0.25, 0.999))
    assert [policy.failed() for _ in range(5)] == [2.5, 10.0, 25.0, 30.0, pytest.approx(119.92)]


def test_jitter_applies_to_the_capped_backoff():
    policy = RetryPolicy(backoff_s=5, max_backoff_s=300, random=Answers(*[0.5] * 8, 0.0, 0.999))
    for _ in range(8):
        policy.failed()  # 5, 10 ... 300, 300
    assert policy.failed() == 150.0
    assert policy.failed() == pytest.approx(449.7)


def test_a_retry_after_longer_than_the_jittered_backoff_is_honoured_exactly():
    policy = RetryPolicy(backoff_s=5, random=Answers(0.999, 0.0))
    assert policy.failed(120) == 120.0
    assert policy.failed(6) == 6.0  # the backoff (10 s) halved is 5 s: the server's 6 s wins


@pytest.mark.parametrize("answer", [None, -0.1, 1.0, 7, "0.5", float("nan")])
def test_nonsense_from_random_means_no_jitter(answer):
    def random():
        if answer is None:
            raise RuntimeError("no randomness here")
        return answer

    assert RetryPolicy(backoff_s=5, random=random).failed() == 5.0


def test_two_tabs_that_failed_together_retry_apart():
    tabs = [Harness(random=Answers(0.1, 0.1)), Harness(random=Answers(0.9, 0.9))]
    for tab in tabs:
        tab.reporter.report_ui_counter("shop", "click", "buy")
        tab.reporter.flush()
        tab.transport.respond(503)  # the outage
    assert [seconds_until_send(tab) for tab in tabs] == [3000, 7000]  # 5 s x 0.6, 5 s x 1.4
    for tab in tabs:
        tab.transport.respond(None)
    assert [seconds_until_send(tab) for tab in tabs] == [6000, 14000]  # 10 s x 0.6, 10 s x 1.4
