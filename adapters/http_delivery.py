"""One POST as a delivery (implements consumer.ports.Delivery), and the inbox the relay takes it from.

The request handler makes an :class:`HttpDelivery`, puts it in the :class:`Inbox` and waits
for it to be settled. Settling decides the response: ``ack`` (every event, or the parked body,
confirmed) → 200; ``nack`` (not confirmed) → 503. At the request's deadline the handler stops
waiting, *abandons* the delivery and answers 503 itself: a relay worker that takes it from the
inbox later skips it, and a confirm that still comes is counted as late (its events are on the
exchange, and the sender's retry will publish them again under the same ids).

Both wait on plain asyncio futures, not anyio's primitives: uvicorn serves the receiver on
asyncio anyway, and per request each anyio ``Event`` (its backend look-up, ``sniffio``, a
``getpid`` system call inside every ``get_running_loop``) cost several microseconds more.

Tencent tells nothing about retries, so ``delivery_count`` comes from
:class:`~adapters.vod_delivery.PullCounts` (how often this process saw the same body, bounded,
forgotten once confirmed), one instance for the whole process like VOD's.
"""

from __future__ import annotations

import asyncio
import itertools
import os
from collections import deque
from enum import Enum

from adapters.http_metrics import HttpMetrics
from adapters.vod_delivery import PullCounts
from consumer.errors import SourceUnavailableError
from consumer.ports import DeliveryInfo

PROCESS_POST_COUNTS = PullCounts()
# Delivery ids for log lines and parking headers: unique in this process, short, cheap.
_IDS = itertools.count(1)
_ID_PREFIX = os.urandom(4).hex()


def next_delivery_id() -> str:
    return f"{_ID_PREFIX}-{next(_IDS)}"


class _State(Enum):
    PENDING = "pending"
    CONFIRMED = "confirmed"  # acked: answer 200
    NOT_CONFIRMED = "not confirmed"  # nacked: answer 503
    ABANDONED = "abandoned"  # answered 503 before the relay settled it


class HttpDelivery:
    """See the module docstring. ``info.deadline`` is the end of the request's time budget."""

    __slots__ = ("_body", "_counts", "_info", "_metrics", "_settled", "_state")

    decoded = None  # nothing parsed on the way in: the relay parses the body

    def __init__(
        self,
        body: bytes,
        info: DeliveryInfo,
        counts: PullCounts,
        metrics: HttpMetrics,
        loop: asyncio.AbstractEventLoop,
    ) -> None:
        self._body = body
        self._info = info
        self._counts = counts
        self._metrics = metrics
        self._state = _State.PENDING
        self._settled: asyncio.Future[None] = loop.create_future()

    @property
    def body(self) -> bytes:
        return self._body

    @property
    def info(self) -> DeliveryInfo:
        return self._info

    @property
    def pending(self) -> bool:
        """Neither settled nor given up on: a relay worker should take it."""
        return self._state is _State.PENDING

    async def ack(self) -> None:
        """Everything made from the body was confirmed: the request is answered 200."""
        if self._state is _State.ABANDONED:
            self._metrics.late_confirms += 1
            self._counts.forget(self._body)
        if self._state is not _State.PENDING:
            return
        self._state = _State.CONFIRMED
        self._counts.forget(self._body)  # the sender has its 200: it will not come again
        self._wake()

    async def nack(self) -> None:
        """Not confirmed: the request is answered 503 and the sender retries it."""
        if self._state is _State.PENDING:
            self._state = _State.NOT_CONFIRMED
            self._wake()

    def abandon(self) -> None:
        """Stop waiting for the relay (the request's deadline passed, or the source is closing):
        unless already settled, the request is answered 503."""
        if self._state is _State.PENDING:
            self._state = _State.ABANDONED
            self._wake()

    @property
    def confirmed(self) -> bool:
        """Acked: every event (or the parked body) was confirmed."""
        return self._state is _State.CONFIRMED

    async def settled(self) -> None:
        """Wait until acked, nacked or abandoned (the caller bounds the wait; one waiter only:
        cancelling it cancels the future, and the settling calls then just change the state)."""
        await self._settled

    def _wake(self) -> None:
        if not self._settled.done():
            self._settled.set_result(None)


class Inbox:
    """Requests waiting for a relay worker, oldest first; each goes to exactly one receiver.

    A receiver cancelled while waiting loses nothing: a request stays in the queue until a
    receiver returns it, and a wake-up meant for a receiver that was cancelled meanwhile is
    passed on to the next one waiting.
    """

    def __init__(self) -> None:
        self._items: deque[HttpDelivery] = deque()
        self._waiters: deque[asyncio.Future[None]] = deque()
        self._closed = False
        self._loop: asyncio.AbstractEventLoop | None = None  # the first get()'s, kept

    def put(self, delivery: HttpDelivery) -> None:
        self._items.append(delivery)
        self._wake_one()

    async def get(self) -> HttpDelivery:
        """The oldest request still waiting for the relay.

        Raises:
            SourceUnavailableError: the inbox was closed.
        """
        while True:
            while self._items:
                delivery = self._items.popleft()
                if delivery.pending:  # else already answered (deadline passed, or closing)
                    return delivery
            if self._closed:
                raise SourceUnavailableError("the HTTP source is closed")
            if self._loop is None:
                self._loop = asyncio.get_running_loop()
            woken = self._loop.create_future()
            self._waiters.append(woken)
            try:
                await woken
            except BaseException:
                if woken.done() and not woken.cancelled():
                    self._wake_one()  # the request this wake-up was for still needs a receiver
                elif woken in self._waiters:
                    self._waiters.remove(woken)
                raise

    def close(self) -> list[HttpDelivery]:
        """Refuse further gets, wake every receiver; returns the requests nobody took."""
        self._closed = True
        while self._waiters:
            self._wake_one()
        left = list(self._items)
        self._items.clear()
        return left

    def _wake_one(self) -> None:
        while self._waiters:
            woken = self._waiters.popleft()
            if not woken.done():  # else its receiver was cancelled: wake the next one
                woken.set_result(None)
                return
