"""``RequestBudget``: a client-side requests-per-second budget (a token bucket) with a fast lane.

Tencent meters API 3.0 calls per account and action group; going over answers
``RequestLimitExceeded``. Spending a budget locally keeps a process (and N replicas sized with
``N x budget <= quota``) under the quota instead of learning it from errors.

Confirms must beat their 30 s window while pulls can always wait, so ``urgent`` callers are
served before ordinary ones whenever both are waiting for a token.
"""

from __future__ import annotations

import time

import anyio


class RequestBudget:
    """At most ``rate`` acquisitions per second, bursts up to ``burst``; ``rate`` 0: unlimited."""

    def __init__(self, rate: float, burst: float | None = None) -> None:
        self._rate = rate
        self._burst = burst if burst is not None else max(1.0, rate / 10)
        self._tokens = self._burst
        self._stamp = time.monotonic()
        self._urgent_waiting = 0

    @property
    def unlimited(self) -> bool:
        return self._rate <= 0

    async def acquire(self, *, urgent: bool = False) -> None:
        """Wait for a token and take it (returns at once when the budget is unlimited)."""
        if self._rate <= 0:
            return
        if urgent:
            self._urgent_waiting += 1
        try:
            while True:
                self._refill()
                # An ordinary caller leaves the token to an urgent one that is waiting.
                if self._tokens >= 1 and (urgent or self._urgent_waiting == 0):
                    self._tokens -= 1
                    return
                await anyio.sleep(max((1 - self._tokens) / self._rate, 0.001))
        finally:
            if urgent:
                self._urgent_waiting -= 1

    def _refill(self) -> None:
        now = time.monotonic()
        self._tokens = min(self._burst, self._tokens + (now - self._stamp) * self._rate)
        self._stamp = now
