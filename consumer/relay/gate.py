"""Back-off, and the "healthy" gates that give the relay its backpressure.

The relay keeps one gate for the sink and one for the source. While the sink confirms, its
gate is open and the relay receives as fast as in-flight slots allow. The first transient
publish failure closes it: the relay stops taking deliveries (so a CMQ/VOD lease is not burnt
and RabbitMQ keeps the backlog), and lets one delivery through as a *probe* after each back-off
delay (exponential, capped, jittered). A probe that fails doubles the delay; any confirmed
publish opens the gate again. Failures of deliveries that were already in flight when the sink
broke do not lengthen the delay: only a failed probe does. The source gate works the same way
for receives: when the source can't be read, one worker probes it per back-off delay while the
others wait, instead of every idle worker hammering it.

A gate also opens when its side, having been down, reports ``connected`` again (see
``consumer.relay.engine``): the reason for backing off is gone, so the relay does not wait out a
back-off of up to ``backoff_max_s`` after an outage, nor keep an idle source's gate shut
because no receive has succeeded since.
"""

from __future__ import annotations

import random

import anyio


class Backoff:
    """Exponential back-off with jitter: attempt 1 waits about ``initial_s``, then doubling."""

    def __init__(
        self, initial_s: float, max_s: float, jitter: float, rng: random.Random | None = None
    ) -> None:
        self._initial_s = initial_s
        self._max_s = max_s
        self._jitter = jitter
        self._rng = rng or random.Random()

    def delay(self, attempt: int) -> float:
        """Seconds to wait before attempt ``attempt + 1`` (``attempt`` counts failures, from 1)."""
        exponent = min(max(attempt, 1) - 1, 32)
        ceiling = min(self._max_s, self._initial_s * 2.0**exponent)
        return ceiling * (1 - self._jitter * self._rng.random())


class HealthGate:
    """Shared by every worker: ``admit`` before receiving, ``succeeded``/``failed`` after."""

    def __init__(self, backoff: Backoff) -> None:
        self._backoff = backoff
        self._failures = 0  # consecutive failed probes; 0 means healthy
        self._probe_due = 0.0
        self._probed = False  # a probe was admitted since the last escalation
        self._changed = anyio.Event()

    @property
    def healthy(self) -> bool:
        return self._failures == 0

    def retry_delay(self) -> float:
        """How long a failed delivery waits before giving its message back."""
        return self._backoff.delay(self._failures)

    def succeeded(self) -> None:
        """It worked (a confirm, a receive): open the gate."""
        if self._failures:
            self._failures = 0
            self._probed = False
            self._notify()

    def failed(self) -> bool:
        """A transient failure: close the gate (or lengthen the back-off).

        Returns True when this failure closed the gate or lengthened the back-off, False when it
        was one more of the attempts already under way when the gate closed (log only the first).
        """
        if self._failures and not self._probed:
            return False  # another delivery that was in flight before the gate closed
        self._failures += 1
        self._probed = False
        self._probe_due = anyio.current_time() + self._backoff.delay(self._failures)
        self._notify()
        return True

    async def admit(self) -> None:
        """Return when the next delivery may be received: at once while healthy, else one probe
        per back-off delay."""
        while self._failures:
            wait = self._probe_due - anyio.current_time()
            if wait <= 0:
                self._probed = True
                self._probe_due = anyio.current_time() + self._backoff.delay(self._failures)
                return
            with anyio.move_on_after(wait):
                await self._changed.wait()

    def _notify(self) -> None:
        self._changed.set()
        self._changed = anyio.Event()
