"""``PullInbox``: what the VOD pollers pulled, waiting for the relay's receivers (bounded).

A poller hands over a whole ``EventSet`` at once, and a receiver takes an item without
suspending when one is waiting. This replaced an anyio memory object stream, which cost a
scheduling round per item on both sides (a checkpoint in every ``send`` and ``receive``, an
``Event`` and a cancellation look-up per waiting receiver): measured, about a tenth of the
bridge's CPU per event. asyncio futures, like ``adapters.rabbitmq_arrivals``: the VOD adapters
run on asyncio (``asyncio.Task`` pollers, ``asyncio.timeout`` in the HTTP client).

Bounded like the stream it replaced: a poller waits until its whole batch fits, so it pulls
again at the moment the stream's last ``send`` of that batch would have returned. Receivers
are woken in FIFO order, one per item; a receiver woken and then cancelled passes its wake-up
on, so no item waits while another receiver sleeps.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Sequence
from typing import Generic, TypeVar

T = TypeVar("T")


class InboxClosed(Exception):  # noqa: N818 - a state, like anyio's ClosedResourceError
    """The inbox was closed: nothing more is handed over."""


class PullInbox(Generic[T]):
    """A FIFO of items, one of receivers waiting for an item, one of pollers waiting for room."""

    def __init__(self, capacity: int) -> None:
        self._capacity = capacity
        self._items: deque[T] = deque()
        self._receivers: deque[asyncio.Future[None]] = deque()
        self._putters: deque[tuple[int, asyncio.Future[None]]] = deque()  # (batch size, waiter)
        self._closed = False

    def put_nowait(self, items: Sequence[T]) -> None:
        """Append ``items`` whether they fit or not (the first pulls at start-up)."""
        if self._closed:
            raise InboxClosed
        self._items.extend(items)
        for _ in items:
            if not self._wake_receiver():
                break

    async def put(self, items: Sequence[T]) -> None:
        """Append ``items`` once they all fit (at once if the inbox is empty).

        Raises:
            InboxClosed: the inbox was closed before they could be handed over.
        """
        while not self._closed and self._items and len(self._items) + len(items) > self._capacity:
            waiter = asyncio.get_running_loop().create_future()
            self._putters.append((len(items), waiter))
            try:
                await waiter
            except asyncio.CancelledError:
                if waiter.done() and not waiter.cancelled():
                    self._wake_putter()  # woken for room it will not use: pass it on
                else:
                    self._drop_putter(waiter)
                raise
        self.put_nowait(items)

    def take(self) -> T | None:
        """The oldest item, or None if none is waiting."""
        if not self._items:
            return None
        item = self._items.popleft()
        if self._putters:
            self._wake_putter()
        return item

    async def wait(self) -> None:
        """Until an item may be waiting (or the inbox closed): take() again after it."""
        if self._closed:
            return
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._receivers.append(waiter)
        try:
            await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                self._wake_receiver()  # woken for an item it will not take: pass it on
            elif waiter in self._receivers:  # a wake-up may already have dropped it
                self._receivers.remove(waiter)
            raise

    @property
    def closed(self) -> bool:
        return self._closed

    def close(self) -> None:
        """Refuse further items; wake every waiting receiver and poller. Idempotent."""
        self._closed = True
        for waiters in (self._receivers, (w for _, w in self._putters)):
            for waiter in waiters:
                if not waiter.done():
                    waiter.set_result(None)
        self._receivers.clear()
        self._putters.clear()

    def _wake_receiver(self) -> bool:
        receivers = self._receivers
        while receivers:
            waiter = receivers.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return True
        return False

    def _wake_putter(self) -> None:
        """Wake the oldest waiting poller if its batch fits now (it re-checks when it runs)."""
        putters = self._putters
        while putters:
            size, waiter = putters[0]
            if waiter.done():
                putters.popleft()
                continue
            if self._items and len(self._items) + size > self._capacity:
                return
            putters.popleft()
            waiter.set_result(None)
            return

    def _drop_putter(self, waiter: asyncio.Future[None]) -> None:
        for entry in self._putters:
            if entry[1] is waiter:
                self._putters.remove(entry)
                return
