"""One pass over a parked queue from its head, through what was waiting when it started.

Shared by ``media-bridge parked`` and ``media-bridge replay``. The pass is bounded twice: by
the number of messages waiting at the start (what arrives meanwhile, new parkings and replay's
own copies, lands behind them and is left for the next run), and by ``scan_limit``, so a huge
queue is never pulled through at once. Each message looked at stays *held* (see
``consumer.parked``) until the caller removes it or releases everything; only the messages that
match are handed to the caller, the others cost nothing but their count per reason.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

import anyio

from consumer.errors import SourceUnavailableError
from consumer.normalize import Limits
from consumer.parked import REPLAY_RUN_HEADER, HeldMessage, ParkedMessage, ParkedQueue
from consumer.parked_filter import Match, ParkedFilter
from consumer.replay_plan import Plan, plan

log = logging.getLogger("media_bridge.parked")

NO_REASON = "(none)"  # an unrouted event, or a message something other than the bridge put there


@dataclass(frozen=True, slots=True)
class Candidate:
    """A held message that matches; ``plan()`` normalizes it (once) on first call."""

    held: HeldMessage
    match: Match
    plan: Callable[[], Plan]


class ParkedScan:
    """See the module docstring. Call :meth:`start`, then :meth:`next_match` until None."""

    def __init__(
        self,
        queue: ParkedQueue,
        select: ParkedFilter,
        *,
        scan_limit: int,
        limits: Limits,
        own_run: str | None = None,
    ) -> None:
        self.queue = queue
        self.waiting_at_start = 0
        self.looked_at = 0
        self.by_reason: Counter[str] = Counter()  # over every message looked at
        self._select = select
        self._scan_limit = scan_limit
        self._limits = limits
        self._own_run = own_run  # a replay run's id: its own copies are not taken for originals
        self._window = 0
        self._exhausted = False

    async def start(self) -> None:
        self.waiting_at_start = await self.queue.waiting()
        self._window = min(self.waiting_at_start, self._scan_limit)

    @property
    def complete(self) -> bool:
        """Whether the pass looked at every message that was waiting at the start."""
        return self._exhausted or self.looked_at >= self.waiting_at_start

    async def next_match(self) -> Candidate | None:
        """The next held message that matches; None once the pass is over."""
        while self.looked_at < self._window:
            held = await self.queue.take()
            if held is None:  # another reader took the rest meanwhile
                self._window, self._exhausted = self.looked_at, True
                return None
            self.looked_at += 1
            message = held.message
            self.by_reason[message.reason or NO_REASON] += 1
            if self._own_run is not None and message.headers.get(REPLAY_RUN_HEADER) == self._own_run:
                continue  # a copy this run parked: another reader took originals meanwhile
            today = _once(message, self._limits)
            found = self._select.match(message, today)
            if found is not None:
                return Candidate(held, found, today)
        return None


def _once(message: ParkedMessage, limits: Limits) -> Callable[[], Plan]:
    """``plan(message)``, computed on first call only (the filter and the replay share it)."""
    made: list[Plan] = []

    def today() -> Plan:
        if not made:
            made.append(plan(message, limits))
        return made[0]

    return today


async def release_held(queue: ParkedQueue) -> None:
    """Put back everything still held, whatever happened (shielded from cancellation)."""
    with anyio.CancelScope(shield=True):
        try:
            await queue.release_all()
        except SourceUnavailableError as exc:
            # The broker puts them back itself once the connection is gone.
            log.warning("could not release the held messages: %s", exc)
