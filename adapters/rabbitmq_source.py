"""``RabbitSource``: the RabbitMQ stand-in for the Tencent CMQ queue (implements ``Source``).

The connection and channel are aio-pika robust objects (reconnect, QoS and queue re-declared),
but the consumer itself is registered on the underlying aiormq channel: aio-pika's consumer path
costs two tasks and a full ``IncomingMessage`` per delivery, which is most of the per-message
overhead at relay rates. Because of that, this class re-registers its consumer itself whenever
the channel it consumes on is no longer the current one (after a reconnect, a channel error, or
a broker-side ``Basic.Cancel``): "consumer gone after reconnect" can't go unnoticed here.

In-flight deliveries are bounded by the channel's prefetch (``basic.qos``), never unbounded.
Acks are coalesced per channel by :class:`~adapters.rabbitmq_acks.AckBatcher`; ``aclose`` sends
what is pending before it cancels the consumer.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from dataclasses import dataclass
from functools import partial
from typing import cast

import aiormq
import anyio
from aio_pika.abc import AbstractRobustChannel, AbstractRobustConnection
from aiormq.abc import DeliveredMessage

from adapters.rabbitmq_acks import AckBatcher
from adapters.rabbitmq_connect import open_connection, translated
from adapters.rabbitmq_delivery import RabbitDelivery
from adapters.rabbitmq_topology import declare_source_queue
from consumer.errors import ConfigurationError, SourceUnavailableError

log = logging.getLogger(__name__)

# How long receive() waits for a lost channel to come back before reporting the source
# unavailable; the relay then backs off and calls receive() again.
RESTORE_WAIT_S = 5.0


@dataclass(frozen=True)
class RabbitSourceOptions:
    """Where to consume from; ``prefetch`` is the in-flight limit (unacked deliveries)."""

    url: str
    queue: str = "media.notifications"
    prefetch: int = 64


class RabbitSource:
    """Consumes the stand-in queue with manual acks; see the module docstring."""

    def __init__(
        self,
        connection: AbstractRobustConnection,
        channel: AbstractRobustChannel,
        options: RabbitSourceOptions,
    ) -> None:
        self._connection = connection
        self._channel = channel
        self._options = options
        self._source_name = f"rabbitmq:{options.queue}"
        self._buffer: deque[RabbitDelivery] = deque()
        # Receivers waiting for a delivery, oldest first. asyncio futures, not anyio objects:
        # aio-pika ties this adapter to asyncio anyway, and this is on the per-message path.
        self._waiters: deque[asyncio.Future[None]] = deque()
        self._consuming_on: aiormq.Channel | None = None
        self._acks: AckBatcher | None = None
        self._consumer_tag: str | None = None
        self._epoch = 0
        self._closed = False
        self._restart_lock = anyio.Lock()

    @classmethod
    async def connect(cls, options: RabbitSourceOptions) -> RabbitSource:
        """Connect, declare the source queue, set the prefetch and start consuming.

        Raises:
            ConfigurationError: bad URL/credentials/vhost, or a prefetch below 1.
            SourceUnavailableError: the broker can't be reached.
        """
        if options.prefetch < 1:
            raise ConfigurationError(f"prefetch must be at least 1, got {options.prefetch}")
        connection = await open_connection(
            options.url, "media-bridge source", SourceUnavailableError
        )
        try:
            with translated(SourceUnavailableError, f"opening the source queue {options.queue}"):
                channel = await connection.channel(publisher_confirms=False)
                await channel.set_qos(prefetch_count=options.prefetch)
                await declare_source_queue(channel, options.queue)
            source = cls(connection, channel, options)
            await source._ensure_consuming()
        except BaseException:
            with anyio.CancelScope(shield=True):
                await connection.close()
            raise
        return source

    @property
    def connected(self) -> bool:
        """True while a consumer is registered on a live channel (readiness, not just TCP)."""
        current = self._consuming_on
        return not self._closed and current is not None and not current.is_closed

    async def receive(self) -> RabbitDelivery:
        """The next delivery; deliveries left over from a lost channel are dropped (redelivered).

        Safe to await from several tasks at once: each arrival wakes one waiting receiver.

        Raises:
            SourceUnavailableError: the channel is down and did not come back in time.
        """
        while True:
            while self._buffer:
                delivery = self._buffer.popleft()
                if delivery.is_current():
                    return delivery
                log.info("dropping %s from a lost channel; the broker redelivers it", delivery)
            if self._closed:
                raise SourceUnavailableError(f"{self._source_name}: the source is closed")
            if not self._consuming():
                await self._ensure_consuming()
                continue
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

    async def aclose(self) -> None:
        """Cancel the consumer, flush pending acks, close; unsettled deliveries are requeued."""
        if self._closed:
            return
        self._closed = True
        self._wake_all()
        with anyio.CancelScope(shield=True), anyio.move_on_after(RESTORE_WAIT_S):
            if self._acks is not None:
                await self._acks.drain()  # into aiormq's write queue, ahead of the cancel
            channel = self._consuming_on
            if channel is not None and not channel.is_closed and self._consumer_tag:
                try:
                    await channel.basic_cancel(self._consumer_tag)
                    # basic.qos is a round trip on the same channel: when it returns, every ack
                    # queued before it (acks don't wait for the socket) has reached the broker.
                    await channel.basic_qos(prefetch_count=self._options.prefetch)
                except (aiormq.exceptions.AMQPError, RuntimeError, OSError) as exc:
                    log.info("closing %s: %s", self._source_name, type(exc).__name__)
        with anyio.CancelScope(shield=True):
            await self._connection.close()

    def _consuming(self) -> bool:
        """True while our consumer is registered on an open channel (no await, no lock)."""
        channel = self._consuming_on
        return channel is not None and not channel.is_closed and self._consumer_tag in channel.consumers

    async def _ensure_consuming(self) -> None:
        """Register the consumer on the current channel unless it is already there."""
        async with self._restart_lock:
            channel = await self._current_channel()
            if channel is self._consuming_on and self._consumer_tag in channel.consumers:
                return
            with translated(SourceUnavailableError, f"consuming from {self._options.queue}"):
                if self._epoch:
                    # Re-consuming after a loss: the queue may be the reason (deleted by hand).
                    await channel.queue_declare(self._options.queue, durable=True)
                self._epoch += 1
                if self._acks is None or self._acks.channel is not channel:
                    self._acks = AckBatcher(channel)  # delivery tags are numbered per channel
                consumer = partial(self._on_message, self._acks, self._epoch)
                ok = await channel.basic_consume(self._options.queue, consumer)
            self._consuming_on, self._consumer_tag = channel, ok.consumer_tag
            channel.closing.add_done_callback(self._wake)
            channel.on_consumer_cancel_callbacks.add(self._on_cancel)
            log.info("consuming %s (channel epoch %d)", self._source_name, self._epoch)

    async def _current_channel(self) -> aiormq.Channel:
        with anyio.move_on_after(RESTORE_WAIT_S):
            await self._channel.ready()
        if self._channel.is_closed:
            raise SourceUnavailableError(f"{self._source_name}: channel is down (reconnecting)")
        with translated(SourceUnavailableError, self._source_name), anyio.fail_after(RESTORE_WAIT_S):
            return cast(aiormq.Channel, await self._channel.get_underlay_channel())

    async def _on_message(self, acks: AckBatcher, epoch: int, message: DeliveredMessage) -> None:
        tag = message.delivery_tag
        if tag is not None:
            acks.delivered(tag)
        self._buffer.append(RabbitDelivery(message, self._source_name, epoch, acks))
        self._wake_one()

    def _on_cancel(self, frame: object) -> None:
        # The broker cancelled us (queue deleted?): receive() re-declares and re-consumes.
        log.warning("the broker cancelled the consumer of %s", self._source_name)
        self._consuming_on = None
        self._wake_all()

    def _wake(self, _: object) -> None:
        self._wake_all()  # the channel is closing: every receiver re-checks it

    def _wake_one(self) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return

    def _wake_all(self) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
