"""One SubAppId's events: pullable, leased under a handle, confirmed; with long polling.

Pullable events wait in a FIFO deque; leased ones sit in a heap keyed by the end of their
confirm window, so pull, confirm and expiry are all O(log n). A heap entry is only valid while
its generation matches the event's: re-leasing or confirming an event simply makes the old
entry stale instead of searching the heap for it.

Each event is stored as the JSON bytes of the object injected (without any EventHandle), so a
pull splices in the fresh handle without re-serialising the event.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(slots=True, eq=False)
class StoredEvent:
    """An event and its lease state (monotonic-clock seconds)."""

    body: bytes  # a JSON object, exactly as injected minus EventHandle
    handle: str | None = None  # the live handle while leased
    lease_ends: float = 0.0
    generation: int = 0
    deliveries: int = 0

    def with_handle(self) -> bytes:
        """The event as PullEvents returns it: ``EventHandle`` first, then the stored keys."""
        head = b'{"EventHandle":"' + (self.handle or "").encode() + b'"'
        return head + b"}" if self.body == b"{}" else head + b"," + self.body[1:]


@dataclass(frozen=True, slots=True)
class EventCounts:
    """A snapshot of one SubAppId (``pullable``/``leased`` now, the rest since start)."""

    pullable: int
    leased: int
    confirmed: int
    redelivered: int  # leases that ran out, making their event pullable again
    injected: int
    pulled: int  # handles issued (first deliveries plus redeliveries)


class SubAppEvents:
    """The event state of one SubAppId; all methods run on the event loop (no locking)."""

    def __init__(self, sub_app_id: int, new_handle: Callable[[], str]) -> None:
        self.sub_app_id = sub_app_id
        self._new_handle = new_handle
        self._pullable: deque[StoredEvent] = deque()
        self._leases: list[tuple[float, int, int, StoredEvent]] = []
        self._live: dict[str, StoredEvent] = {}  # handle -> event, for live leases only
        self._confirmed: set[str] = set()
        self._confirmed_order: deque[tuple[float, str]] = deque()  # to forget old handles
        self._waiters: set[asyncio.Future[None]] = set()
        self._seq = itertools.count()
        self._closing = False
        self._stats = {"confirmed": 0, "redelivered": 0, "injected": 0, "pulled": 0}

    # -- producer side (VOD generating events) ---------------------------------------------------

    def inject(self, bodies: list[bytes]) -> int:
        """Make these serialised event objects pullable, in order; wakes held polls."""
        self._pullable.extend(StoredEvent(body) for body in bodies)
        self._stats["injected"] += len(bodies)
        self._wake_all()
        return len(bodies)

    # -- consumer side ---------------------------------------------------------------------------

    async def pull(self, max_count: int, window_s: float, hold_s: float) -> list[StoredEvent]:
        """Lease up to ``max_count`` events, holding up to ``hold_s`` for the first one.

        Returns as soon as any event is pullable (never waits to fill the batch), or [] when the
        hold runs out or the emulator is shutting down.
        """
        loop = asyncio.get_running_loop()
        give_up_at = time.monotonic() + hold_s
        while True:
            now = time.monotonic()
            leased = self._lease(max_count, window_s, now)
            remaining = give_up_at - now
            if leased or remaining <= 0 or self._closing:
                return leased
            if self._leases:  # wake up when the next lease runs out, its event comes back
                remaining = min(remaining, max(0.0, self._leases[0][0] - now) + 0.001)
            waiter: asyncio.Future[None] = loop.create_future()
            self._waiters.add(waiter)
            try:
                await asyncio.wait_for(waiter, remaining)
            except TimeoutError:
                pass
            finally:
                self._waiters.discard(waiter)

    def invalid_handles(self, handles: list[str]) -> int:
        """How many of ``handles`` are neither leased now nor already confirmed."""
        self._expire(time.monotonic())
        return sum(1 for h in handles if h not in self._live and h not in self._confirmed)

    def confirm(self, handles: list[str], ttl_s: float) -> None:
        """Confirm every live handle in ``handles`` (check ``invalid_handles`` first).

        A confirmed event is gone for good; its handle stays confirmable for ``ttl_s`` so that
        a retried confirm succeeds again.
        """
        now = time.monotonic()
        for handle in handles:
            event = self._live.pop(handle, None)
            if event is None:
                continue  # confirmed before (idempotent) or by an earlier duplicate in the call
            event.generation += 1  # makes its heap entry stale
            event.handle = None
            self._stats["confirmed"] += 1
            self._confirmed.add(handle)
            self._confirmed_order.append((now + ttl_s, handle))
        self._forget_confirmed(now)

    def expire_leases(self) -> int:
        """End every lease now, as if the confirm window ran out; how many ended."""
        live = list(self._live.values())
        for event in live:
            self._return_to_pullable(event)
        self._leases.clear()  # every entry left is stale now
        if live:
            self._wake_all()
        return len(live)

    # -- inspection ------------------------------------------------------------------------------

    def counts(self) -> EventCounts:
        """A snapshot of the state and the running totals."""
        self._expire(time.monotonic())
        return EventCounts(pullable=len(self._pullable), leased=len(self._live), **self._stats)

    def close(self) -> None:
        """Make pending and future polls return at once (server shutdown)."""
        self._closing = True
        self._wake_all()

    # -- internals -------------------------------------------------------------------------------

    def _lease(self, max_count: int, window_s: float, now: float) -> list[StoredEvent]:
        self._expire(now)
        leased: list[StoredEvent] = []
        while self._pullable and len(leased) < max_count:
            event = self._pullable.popleft()
            event.generation += 1
            event.deliveries += 1
            event.lease_ends = now + window_s
            event.handle = self._new_handle()
            self._live[event.handle] = event
            heapq.heappush(
                self._leases, (event.lease_ends, next(self._seq), event.generation, event)
            )
            leased.append(event)
        self._stats["pulled"] += len(leased)
        return leased

    def _expire(self, now: float) -> None:
        """Make events whose confirm window ran out pullable again; their handles die."""
        leases = self._leases
        while leases and leases[0][0] <= now:
            _, _, generation, event = heapq.heappop(leases)
            if generation != event.generation:
                continue  # stale entry: confirmed or re-leased since
            self._return_to_pullable(event)

    def _return_to_pullable(self, event: StoredEvent) -> None:
        if event.handle is not None:
            del self._live[event.handle]
            event.handle = None
        event.generation += 1
        self._stats["redelivered"] += 1
        self._pullable.append(event)

    def _forget_confirmed(self, now: float) -> None:
        order = self._confirmed_order
        while order and order[0][0] <= now:
            self._confirmed.discard(order.popleft()[1])

    def _wake_all(self) -> None:
        for waiter in self._waiters:
            if not waiter.done():
                waiter.set_result(None)
        self._waiters.clear()
