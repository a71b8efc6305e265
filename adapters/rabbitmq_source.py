"""``RabbitSource``: the RabbitMQ stand-in for the Tencent CMQ queue (implements ``Source``).

The connection and channel are aio-pika robust objects (reconnect, QoS and queue re-declared),
but the consumer itself is registered on the underlying aiormq channel, and its deliveries are
taken off the wire by the connection's frame tap (``adapters.rabbitmq_tap``): aio-pika's
consumer path costs two tasks and a full ``IncomingMessage`` per delivery, and aiormq's a
decode, two queue hops and a task, which was most of the per-message overhead at relay rates.
Because of that, this class re-registers its consumer itself whenever the channel it consumes
on is no longer the current one (after a reconnect, a channel error, or a broker-side
``Basic.Cancel``): "consumer gone after reconnect" can't go unnoticed here.

In-flight deliveries are bounded by the channel's prefetch (``basic.qos``), never unbounded.
Acks are coalesced per channel by :class:`~adapters.rabbitmq_acks.AckBatcher`; ``aclose`` sends
what is pending before it cancels the consumer.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections import deque
from dataclasses import dataclass
from typing import cast

import aiormq
import anyio
from aio_pika.abc import AbstractRobustChannel, AbstractRobustConnection
from aiormq.abc import DeliveredMessage

from adapters.rabbitmq_acks import AckBatcher
from adapters.rabbitmq_connect import open_connection, translated
from adapters.rabbitmq_delivery import RabbitDelivery
from adapters.rabbitmq_tap import ChannelListener, FrameTap
from adapters.rabbitmq_topology import declare_source_queue
from adapters.rabbitmq_transport import TappedTransportFactory
from consumer.errors import ConfigurationError, SourceUnavailableError

log = logging.getLogger(__name__)

# How long receive() waits for a lost channel to come back before reporting the source
# unavailable; the relay then backs off and calls receive() again.
RESTORE_WAIT_S = 5.0
RESTORE_POLL_S = 0.05


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
        transport: TappedTransportFactory,
        channel: AbstractRobustChannel,
        options: RabbitSourceOptions,
    ) -> None:
        self._connection = connection
        self._transport = transport
        self._channel = channel
        self._options = options
        self._source_name = f"rabbitmq:{options.queue}"
        self._buffer: deque[RabbitDelivery] = deque()
        # Receivers waiting for a delivery, oldest first. asyncio futures, not anyio objects:
        # aio-pika ties this adapter to asyncio anyway, and this is on the per-message path.
        self._waiters: deque[asyncio.Future[None]] = deque()
        self._consumer: _ChannelConsumer | None = None
        self._consumer_tag: str | None = None  # the tag of our live basic.consume
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
        connection, transport = await open_connection(
            options.url, "media-bridge source", SourceUnavailableError
        )
        try:
            with translated(SourceUnavailableError, f"opening the source queue {options.queue}"):
                channel = await connection.channel(publisher_confirms=False)
                await channel.set_qos(prefetch_count=options.prefetch)
                await declare_source_queue(channel, options.queue)
            source = cls(connection, transport, channel, options)
            await source._ensure_consuming()
        except BaseException:
            with anyio.CancelScope(shield=True):
                await connection.close()
            raise
        return source

    @property
    def connected(self) -> bool:
        """True while a consumer is registered on a live channel (readiness, not just TCP)."""
        return not self._closed and self._consuming()

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
            consumer = self._consumer
            if consumer is not None:
                consumer.acks.flush()  # into the connection's writer, ahead of the cancel
            channel = consumer.channel if consumer is not None else None
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
        consumer = self._consumer
        return (
            consumer is not None
            and consumer.acks.open
            and not consumer.channel.is_closed
            and self._consumer_tag in consumer.channel.consumers
        )

    async def _ensure_consuming(self) -> None:
        """Register the consumer on the current channel unless it is already there."""
        async with self._restart_lock:
            if self._consuming():
                return
            channel, tap = await self._current_channel()
            consumer = self._consumer
            if consumer is None or consumer.channel is not channel or not consumer.acks.open:
                # Delivery tags are numbered per channel instance: a new batcher for a new one.
                consumer = _ChannelConsumer(self, tap, channel)
            tag = f"media-bridge.{uuid.uuid4().hex}"
            with translated(SourceUnavailableError, f"consuming from {self._options.queue}"):
                if self._epoch:
                    # Re-consuming after a loss: the queue may be the reason (deleted by hand).
                    await channel.queue_declare(self._options.queue, durable=True)
                self._epoch += 1
                consumer.listen(tag, self._epoch)  # before basic.consume: no delivery slips by
                await channel.basic_consume(
                    self._options.queue, consumer.stray_delivery, consumer_tag=tag
                )
            self._consumer, self._consumer_tag = consumer, tag
            channel.closing.add_done_callback(self._wake)
            channel.on_consumer_cancel_callbacks.add(self._on_cancel)
            log.info("consuming %s (channel epoch %d)", self._source_name, self._epoch)

    async def _current_channel(self) -> tuple[aiormq.Channel, FrameTap]:
        """The channel to consume on and its connection's tap, waiting out a reconnect."""
        with anyio.move_on_after(RESTORE_WAIT_S):
            while True:
                await self._channel.ready()
                if self._channel.is_closed:
                    break
                with translated(SourceUnavailableError, self._source_name):
                    channel = cast(aiormq.Channel, await self._channel.get_underlay_channel())
                tap = self._transport.tap_for(channel)
                if tap is not None:
                    return channel, tap
                # The tap saw the link go before aiormq's reader task did: aio-pika still
                # hands out the dying channel for a moment. Ask again once it noticed.
                await anyio.sleep(RESTORE_POLL_S)
        raise SourceUnavailableError(f"{self._source_name}: channel is down (reconnecting)")

    def _arrived(self, delivery: RabbitDelivery) -> None:
        self._buffer.append(delivery)
        self._wake_one()

    def _on_cancel(self, frame: object) -> None:
        # The broker cancelled us (queue deleted?): receive() re-declares and re-consumes.
        log.warning("the broker cancelled the consumer of %s", self._source_name)
        self._consumer_tag = None
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


class _ChannelConsumer(ChannelListener):
    """Our consumer(s) on one channel instance: deliveries from the tap become RabbitDeliveries.

    One per channel instance, because delivery tags and the ack batcher are per channel; a
    re-consume on the same channel (after a broker-side cancel) adds a consumer tag here, so
    deliveries still in flight for the old tag are kept too.
    """

    def __init__(self, source: RabbitSource, tap: FrameTap, channel: aiormq.Channel) -> None:
        self.channel = channel
        self.acks = AckBatcher(tap, channel.number)
        self.consumer_tags: set[str] = set()
        self._source = source
        self._tap = tap
        self._epoch = 0

    def listen(self, consumer_tag: str, epoch: int) -> None:
        """Take the deliveries of ``consumer_tag`` (attached to the tap before consuming)."""
        self.consumer_tags.add(consumer_tag)
        self._epoch = epoch
        self._tap.attach(self.channel.number, self)

    def on_deliver(self, delivery_tag: int, redelivered: bool, header: bytes, body: bytes) -> None:
        self.acks.delivered(delivery_tag)
        self._source._arrived(
            RabbitDelivery(
                body,
                delivery_tag,
                redelivered,
                header,
                source=self._source._source_name,
                epoch=self._epoch,
                acks=self.acks,
            )
        )

    def on_closed(self, reason: str) -> None:
        self.acks.close()
        log.info("%s: %s", self._source._source_name, reason)
        self._source._wake_all()  # every receiver re-checks the channel

    async def stray_delivery(self, message: DeliveredMessage) -> None:
        """aiormq's consumer callback: only reached if the tap ever let a delivery through.

        The tap keeps every delivery of our consumer tags, so this should never run; if it
        does, the delivery takes the normal path instead of sitting unacked on the prefetch.
        """
        tag = message.delivery_tag
        if tag is None:
            return
        log.warning("%s: delivery %d reached aiormq, not the tap", self._source._source_name, tag)
        redelivered = bool(getattr(message.delivery, "redelivered", False))
        self.on_deliver(tag, redelivered, message.header.marshal(), message.body)
