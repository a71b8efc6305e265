"""Seeded fault injection: which requests fail, and how."""

from __future__ import annotations

import random
from collections import Counter

from emulators.cmq.config import FaultKind, FaultSettings


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
