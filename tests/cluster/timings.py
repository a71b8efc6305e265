"""Phase durations of the cluster tests, printed in the run's terminal summary (not only
with ``-s``): how long a node took to rejoin is part of what these tests report."""

from __future__ import annotations

import time

# Collected over the session, printed in the terminal summary (tests/cluster/conftest.py).
TIMING_LINES: list[str] = []


class Timings:
    """A test's phase durations, shown in the terminal summary of the run (not only with -s)."""

    def __init__(self, test: str) -> None:
        self.test, self.started, self._last = test, time.monotonic(), time.monotonic()

    def lap(self, phase: str) -> float:
        """Record ``phase`` as the time since the previous lap; that duration."""
        now = time.monotonic()
        took, self._last = now - self._last, now
        TIMING_LINES.append(f"{self.test}: {phase} {took:.1f} s")
        return took

    def note(self, text: str) -> None:
        TIMING_LINES.append(f"{self.test}: {text}")
