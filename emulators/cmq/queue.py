"""One in-memory CMQ queue: visibility leases, receipt handles, delays and long polling.

Visible messages wait in a FIFO deque; leased (and delayed) ones sit in a heap keyed by the time
they become visible again, so receive, delete and expiry are all O(log n). A heap entry is only
valid while its generation matches the message's: re-leasing or deleting a message simply makes
the old entry stale instead of searching the heap for it.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import random
import time
from collections import deque
from dataclasses import dataclass

from emulators.cmq.config import QueueSpec


@dataclass(slots=True)
class StoredMessage:
    """A message and its lease state; times are Unix seconds (float, reported as int)."""

    msg_id: str
    body: str
    enqueue_time: float
    next_visible_time: float
    first_dequeue_time: float = 0.0
    dequeue_count: int = 0
    receipt_handle: str | None = None
    generation: int = 0


class EmulatedQueue:
    """The state of one queue; all methods run on the event loop (no locking needed)."""

    def __init__(self, spec: QueueSpec) -> None:
        self.spec = spec
        self._messages: dict[str, StoredMessage] = {}
        self._visible: deque[StoredMessage] = deque()
        self._hidden: list[tuple[float, int, int, StoredMessage]] = []
        self._handles: dict[str, StoredMessage] = {}
        self._waiters: set[asyncio.Future[None]] = set()
        self._seq = itertools.count()
        # Numeric ids like the real ones; random bases so two emulator runs don't share ids.
        self._msg_ids = itertools.count(random.randrange(10**11, 10**12))
        self._handle_ids = itertools.count(random.randrange(10**14, 10**15))
        self._closing = False

    # -- producer side -------------------------------------------------------------------------

    def send(self, body: str, delay_seconds: float = 0.0) -> str:
        """Enqueue one message; returns its msgId."""
        now = time.time()
        msg = StoredMessage(str(next(self._msg_ids)), body, now, now + delay_seconds)
        self._messages[msg.msg_id] = msg
        if delay_seconds > 0:
            heapq.heappush(self._hidden, (msg.next_visible_time, next(self._seq), 0, msg))
        else:
            self._visible.append(msg)
        self._wake_all()
        return msg.msg_id

    def is_full(self, incoming: int = 1) -> bool:
        """Whether ``incoming`` more messages would exceed the heap limit (4410)."""
        return len(self._messages) + incoming > self.spec.max_msg_heap_num

    # -- consumer side -------------------------------------------------------------------------

    async def receive(self, max_count: int, wait_seconds: float) -> list[StoredMessage]:
        """Lease up to ``max_count`` messages, long-polling up to ``wait_seconds`` for the first.

        Returns as soon as at least one is visible (never waits to fill the batch), or [] when the
        wait runs out or the emulator is shutting down.
        """
        loop = asyncio.get_running_loop()
        give_up_at = loop.time() + wait_seconds
        while True:
            leased = self._lease(max_count, time.time())
            remaining = give_up_at - loop.time()
            if leased or remaining <= 0 or self._closing:
                return leased
            if self._hidden:  # wake up when the next lease or delay runs out
                remaining = min(remaining, max(0.0, self._hidden[0][0] - time.time()) + 0.001)
            waiter: asyncio.Future[None] = loop.create_future()
            self._waiters.add(waiter)
            try:
                await asyncio.wait_for(waiter, remaining)
            except TimeoutError:
                pass
            finally:
                self._waiters.discard(waiter)

    def delete(self, receipt_handle: str) -> bool:
        """Delete the message leased under ``receipt_handle``; False if that lease is over.

        A handle is dead once superseded by a newer receive, once its message was deleted, and
        once ``nextVisibleTime`` has passed (the real service answers 4430 for all three).
        """
        msg = self._handles.pop(receipt_handle, None)
        if msg is None or time.time() >= msg.next_visible_time:
            return False  # an expired lease: _promote would drop the handle anyway
        del self._messages[msg.msg_id]
        msg.generation += 1  # makes its heap entry stale
        msg.receipt_handle = None
        return True

    # -- inspection (tests, CLI) ---------------------------------------------------------------

    def drop(self, msg_id: str) -> bool:
        """Remove a message whatever its state (as retention expiry or another deleter would)."""
        msg = self._messages.pop(msg_id, None)
        if msg is None:
            return False
        msg.generation += 1
        if msg.receipt_handle is not None:
            self._handles.pop(msg.receipt_handle, None)
            msg.receipt_handle = None
        if msg in self._visible:  # O(n), fine for a test helper
            self._visible.remove(msg)
        return True

    def message(self, msg_id: str) -> StoredMessage | None:
        """The stored message with this id, if it still exists."""
        return self._messages.get(msg_id)

    def counts(self) -> dict[str, int]:
        """How many messages are stored, visible now, and leased or delayed."""
        self._promote(time.time())
        return {
            "stored": len(self._messages),
            "visible": len(self._visible),
            "invisible": len(self._messages) - len(self._visible),
        }

    def close(self) -> None:
        """Make pending and future long polls return at once (server shutdown)."""
        self._closing = True
        self._wake_all()

    # -- internals -----------------------------------------------------------------------------

    def _lease(self, max_count: int, now: float) -> list[StoredMessage]:
        self._promote(now)
        leased: list[StoredMessage] = []
        visibility = self.spec.visibility_timeout
        while self._visible and len(leased) < max_count:
            msg = self._visible.popleft()
            msg.dequeue_count += 1
            if not msg.first_dequeue_time:
                msg.first_dequeue_time = now
            msg.next_visible_time = now + visibility
            msg.generation += 1
            handle = str(next(self._handle_ids))
            msg.receipt_handle = handle
            self._handles[handle] = msg
            heapq.heappush(
                self._hidden, (msg.next_visible_time, next(self._seq), msg.generation, msg)
            )
            leased.append(msg)
        return leased

    def _promote(self, now: float) -> None:
        """Move messages whose lease or delay ran out back to the visible deque."""
        hidden = self._hidden
        while hidden and hidden[0][0] <= now:
            _, _, generation, msg = heapq.heappop(hidden)
            if generation != msg.generation or msg.msg_id not in self._messages:
                continue  # stale entry: re-leased or deleted since
            if msg.receipt_handle is not None:
                self._handles.pop(msg.receipt_handle, None)  # the old handle dies with the lease
                msg.receipt_handle = None
            self._visible.append(msg)

    def _wake_all(self) -> None:
        for waiter in self._waiters:
            if not waiter.done():
                waiter.set_result(None)
        self._waiters.clear()
