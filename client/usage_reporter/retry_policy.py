"""What to do with a send's answer, and how long to wait before trying again.

Retry only what is worth retrying (as PostHog's consumer does): a network error, 5xx, 408
and 429 keep the report and try again after an exponential backoff with a cap, or later if
the server's ``Retry-After`` asks for it; the backoff is spread by +-50% at random. Any other 4xx is the server refusing this report
(bad data, too large): sending it again cannot succeed, so it is dropped. Builtins only.
"""

from .buffer import is_number

DELIVERED = "delivered"
RETRY = "retry"
DROP = "drop"


def status_code(status):
    """The HTTP status as an int, or None (a network error, or anything unreadable)."""
    if isinstance(status, bool) or not is_number(status):
        return None
    return int(status)


def classify(status):
    """DELIVERED for 2xx, DROP for a 4xx other than 408/429, RETRY for the rest (None too)."""
    status = status_code(status)
    if status is not None and 200 <= status < 300:
        return DELIVERED
    if status is not None and 400 <= status < 500 and status not in (408, 429):
        return DROP
    return RETRY


class RetryPolicy:
    """Consecutive failures and the delay they call for, in seconds.

    The backoff doubles per failure up to a cap, then ``random()`` (a number in [0, 1), the
    adapter's ``Math.random``) spreads it by +-50%, as posthog-js does: after an outage
    every open tab would otherwise retry in the same second. Without ``random`` (unit
    tests, the in-memory reporter before an adapter boots) the delays are exact.

        policy = RetryPolicy(backoff_s=5, max_backoff_s=300)
        policy.failed()          # 5.0, then 10, 20, 40 ... 300, 300
        policy.failed(120)       # a Retry-After of 120 s wins over a shorter backoff
        policy.succeeded()       # back to 5 s for the next failure
        RetryPolicy(random=lambda: 0.0).failed()   # 2.5: half of 5 s
    """

    def __init__(self, backoff_s=5.0, max_backoff_s=300.0, max_retry_after_s=3600.0, random=None):
        self.backoff_s = float(backoff_s)
        self.max_backoff_s = float(max_backoff_s)
        self.max_retry_after_s = float(max_retry_after_s)
        self.random = random
        self.failures = 0

    def failed(self, retry_after_s=None):
        """Count a failure; return how long to wait before the next try."""
        self.failures += 1
        delay = min(self.max_backoff_s, self.backoff_s * 2 ** min(self.failures - 1, 30))
        delay *= self._jitter()
        if is_number(retry_after_s) and retry_after_s > delay:
            delay = min(float(retry_after_s), self.max_retry_after_s)  # the server said when
        return delay

    def _jitter(self):
        """A factor in [0.5, 1.5); 1 without ``random`` or when it answers nonsense."""
        if self.random is None:
            return 1.0
        try:
            value = float(self.random())
        except Exception:
            return 1.0
        return 0.5 + value if 0.0 <= value < 1.0 else 1.0

    def succeeded(self):
        self.failures = 0
