"""Seeded fault injection and the optional per-account rate limit."""

from __future__ import annotations

import random
import time
from collections import Counter

from emulators.vod.config import FaultKind, FaultSettings


class FaultInjector:
    """Draws one number per matching rule per request, so a seed replays the same faults."""

    def __init__(self, settings: FaultSettings) -> None:
        self.settings = settings
        self._rng = random.Random(settings.seed)
        self.injected: Counter[tuple[str, FaultKind]] = Counter()

    def draw(self, action: str) -> FaultKind | None:
        """The fault to apply to this request for ``action``, or None."""
        for rule in self.settings.rules:
            if rule.action not in (None, action):
                continue
            if self._rng.random() < rule.rate:
                self.injected[(action, rule.kind)] += 1
                return rule.kind
        return None


class RateLimiter:
    """At most ``limit`` requests per SecretId in each whole second of the monotonic clock.

    A fixed window, like a per-second quota counter: cheap, though a burst straddling a second
    boundary can get up to twice the limit through.
    """

    def __init__(self, limit: int | None) -> None:
        self.limit = limit
        self._windows: dict[str, tuple[int, int]] = {}  # SecretId -> (second, requests in it)

    def allow(self, account: str) -> bool:
        """Count one request for ``account``; False once it is over the limit this second."""
        if self.limit is None:
            return True
        second = int(time.monotonic())
        start, count = self._windows.get(account, (second, 0))
        count = count + 1 if start == second else 1
        self._windows[account] = (second, count)
        return count <= self.limit
