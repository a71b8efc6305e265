"""``Arrivals``: deliveries waiting for a receiver, and receivers waiting for a delivery.

``RabbitSource.receive`` may be awaited by many tasks at once (one per relay worker); each
arrival wakes exactly one of them. asyncio futures, not anyio objects: aio-pika ties the
RabbitMQ adapters to asyncio anyway, and this is on the per-message path.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from typing import Generic, Protocol, TypeVar

log = logging.getLogger(__name__)


class Leased(Protocol):
    """A delivery that knows whether its channel is still the one it came on."""

    def is_current(self) -> bool: ...


D = TypeVar("D", bound=Leased)


class Arrivals(Generic[D]):
    """A FIFO of deliveries and a FIFO of waiting receivers."""

    def __init__(self) -> None:
        self._buffer: deque[D] = deque()
        self._waiters: deque[asyncio.Future[None]] = deque()

    def put(self, delivery: D) -> None:
        self._buffer.append(delivery)
        self._wake_one()

    def take(self) -> D | None:
        """The oldest delivery still valid; those from a lost channel are dropped (the broker
        redelivers them)."""
        while self._buffer:
            delivery = self._buffer.popleft()
            if delivery.is_current():
                return delivery
            log.info("dropping %s from a lost channel; the broker redelivers it", delivery)
        return None

    async def wait(self) -> None:
        """Until a delivery arrived or :meth:`wake_all` was called (then re-check the source)."""
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            await waiter
        except asyncio.CancelledError:
            # Woken for a delivery and cancelled before taking it: pass the wake-up on, or
            # that delivery would sit in the buffer while another receiver sleeps.
            if waiter.done() and not waiter.cancelled():
                self._wake_one()
            elif waiter in self._waiters:  # a wake-up may already have dropped it
                self._waiters.remove(waiter)
            raise

    def wake_all(self) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)

    def _wake_one(self) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return
