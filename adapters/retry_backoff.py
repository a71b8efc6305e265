"""The retry delay every Tencent API adapter uses between attempts of one call."""

from __future__ import annotations

import random


def backoff_delay(attempt: int, initial: float, maximum: float) -> float:
    """Exponential backoff with jitter (half fixed, half random) for retry number ``attempt``.

    The random half spreads the retries of many clients (replicas, sub-apps) that failed at the
    same moment, e.g. on one throttling reply, so they do not come back in lockstep.
    """
    ceiling = min(maximum, initial * 2.0 ** max(0, attempt - 1))
    return ceiling / 2 + random.uniform(0, ceiling / 2)
