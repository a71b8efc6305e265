"""``RabbitSource``: the RabbitMQ stand-in for the Tencent CMQ queue (implements ``Source``).

The connection and channel are aio-pika robust objects (reconnect, QoS and queue re-declared).
On the fast path the consumer itself is registered on the underlying aiormq channel, and its
deliveries are taken off the wire by the connection's frame tap
(:class:`~adapters.rabbitmq_tapped_consumer.TappedConsumer`). Because of that, this class
re-registers its consumer itself whenever the channel it consumes on is no longer the current
one (after a reconnect, a channel error, or a broker-side ``Basic.Cancel``): "consumer gone
after reconnect" can't go unnoticed here. Acks are coalesced per channel by
:class:`~adapters.rabbitmq_acks.AckBatcher`; ``aclose`` sends what is pending before it
cancels the consumer.

Before it consumes on a channel instance, the tap's self-check (``adapters.rabbitmq_tap_check``)
proves the tap carries it; if not, or with ``fast_path=False``, the source consumes through
aio-pika's public API instead (:class:`~adapters.rabbitmq_plain_source.PlainConsumer`), for
good. Right after a reconnect the source re-consumes by itself, so ``connected`` (readiness:
the link is up and a consumer registered on a live channel) comes back without a delivery or a
``receive`` call.

In-flight deliveries are bounded by the channel's prefetch (``basic.qos``), never unbounded.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from dataclasses import dataclass
from typing import Any, cast

import aiormq
import anyio
from aio_pika.abc import AbstractRobustChannel, AbstractRobustQueue

from adapters.rabbitmq_arrivals import Arrivals
from adapters.rabbitmq_connect import Link, open_connection, translated
from adapters.rabbitmq_delivery import RabbitDelivery
from adapters.rabbitmq_plain_source import PlainConsumer, PlainDelivery
from adapters.rabbitmq_queue_types import QueueType
from adapters.rabbitmq_tap import FrameTap
from adapters.rabbitmq_tap_check import TapGuard, TapUnsure
from adapters.rabbitmq_tapped_consumer import TappedConsumer
from adapters.rabbitmq_topology import declare_source_queue
from consumer.errors import BridgeError, ConfigurationError, SourceUnavailableError

log = logging.getLogger(__name__)

# How long receive() waits for a lost channel to come back before reporting the source
# unavailable; the relay then backs off and calls receive() again.
RESTORE_WAIT_S = 5.0
RESTORE_POLL_S = 0.05


@dataclass(frozen=True)
class RabbitSourceOptions:
    """Where to consume from (``url``: one AMQP URL, or a cluster's nodes comma-separated);
    ``prefetch`` is the in-flight limit (unacked deliveries); ``fast_path`` False consumes
    through aio-pika's public API only (no frame tap); ``queue_type`` is what the queue is
    declared as (``adapters.rabbitmq_queue_types``)."""

    url: str
    queue: str = "media.notifications"
    prefetch: int = 64
    fast_path: bool = True
    queue_type: QueueType = "classic"


class RabbitSource:
    """Consumes the stand-in queue with manual acks; see the module docstring."""

    def __init__(
        self,
        link: Link,
        channel: AbstractRobustChannel,
        queue: AbstractRobustQueue,
        options: RabbitSourceOptions,
    ) -> None:
        self._link = link
        self._channel = channel
        self._queue = queue
        self._options = options
        self._source_name = f"rabbitmq:{options.queue}"
        self._arrivals: Arrivals[RabbitDelivery | PlainDelivery] = Arrivals()
        self._guard = TapGuard(link.transport, "source")
        self._consumer: TappedConsumer | None = None  # the fast path's, on the current channel
        self._consumer_tag: str | None = None  # the tag of its live basic.consume
        self._plain: PlainConsumer | None = None  # once on the plain path
        self._epoch = 0
        self._closed = False
        self._restart_lock = anyio.Lock()
        self._restoring: asyncio.Task[None] | None = None
        link.watch.on_change(self._link_changed)

    @classmethod
    async def connect(cls, options: RabbitSourceOptions) -> RabbitSource:
        """Connect, declare the source queue, set the prefetch and start consuming.

        Raises:
            ConfigurationError: bad URL/credentials/vhost, or a prefetch below 1.
            SourceUnavailableError: the broker can't be reached.
        """
        if options.prefetch < 1:
            raise ConfigurationError(f"prefetch must be at least 1, got {options.prefetch}")
        link = await open_connection(
            options.url, "source", SourceUnavailableError, fast_path=options.fast_path
        )
        try:
            with translated(SourceUnavailableError, f"opening the source queue {options.queue}"):
                channel = await link.connection.channel(publisher_confirms=False)
                await channel.set_qos(prefetch_count=options.prefetch)
                queue = await declare_source_queue(
                    link.connection, channel, options.queue, options.queue_type
                )
            source = cls(link, channel, queue, options)
            await source._ensure_consuming()
        except BaseException:
            link.watch.stop()  # our own close: not a lost link to log
            with anyio.CancelScope(shield=True):
                await link.connection.close()
            raise
        return source

    @property
    def connected(self) -> bool:
        """True while the link is up and a consumer is registered on a live channel."""
        return not self._closed and self._link.watch.up and self._consuming()

    @property
    def fast_path(self) -> bool:
        """True while deliveries come through the frame tap (False once on the plain path)."""
        return not self._guard.plain

    async def receive(self) -> RabbitDelivery | PlainDelivery:
        """The next delivery; deliveries left over from a lost channel are dropped (redelivered).

        Safe to await from several tasks at once: each arrival wakes one waiting receiver.

        Raises:
            SourceUnavailableError: the channel is down and did not come back in time.
        """
        arrivals = self._arrivals
        while True:
            delivery = arrivals.take()
            if delivery is not None:
                return delivery
            if self._closed:
                raise SourceUnavailableError(f"{self._source_name}: the source is closed")
            if not self._consuming():
                await self._ensure_consuming()
                continue
            await arrivals.wait()

    async def aclose(self) -> None:
        """Cancel the consumer, flush pending acks, close; unsettled deliveries are requeued."""
        if self._closed:
            return
        self._closed = True
        self._link.watch.stop()
        if self._restoring is not None:
            self._restoring.cancel()
        self._arrivals.wake_all()
        with anyio.CancelScope(shield=True), anyio.move_on_after(RESTORE_WAIT_S):
            try:
                await self._cancel_consumer()
            except (aiormq.exceptions.AMQPError, RuntimeError, OSError) as exc:
                log.info("closing %s: %s", self._source_name, type(exc).__name__)
        with anyio.CancelScope(shield=True):
            await self._link.connection.close()

    async def _cancel_consumer(self) -> None:
        if self._plain is not None:
            await self._plain.stop()
            return
        consumer = self._consumer
        if consumer is None:
            return
        consumer.acks.flush()  # into the connection's writer, ahead of the cancel
        channel = consumer.channel
        if not channel.is_closed and self._consumer_tag:
            await channel.basic_cancel(self._consumer_tag)
            # basic.qos is a round trip on the same channel: when it returns, every ack queued
            # before it (acks don't wait for the socket) has reached the broker.
            await channel.basic_qos(prefetch_count=self._options.prefetch)

    def _consuming(self) -> bool:
        """True while our consumer is registered on an open channel (no await, no lock)."""
        consumer = self._consumer
        if consumer is not None:
            return (
                consumer.acks.open
                and not consumer.channel.is_closed
                and self._consumer_tag in consumer.channel.consumers
            )
        return self._plain is not None and self._plain.consuming

    async def _ensure_consuming(self) -> None:
        """Register the consumer on the current channel unless it is already there."""
        async with self._restart_lock:
            if self._consuming():
                return
            if self._plain is not None:
                await self._plain_restored()
                return
            channel, tap = await self._current_channel()
            if tap is None:  # the tap does not carry this connection: the plain path, for good
                await self._consume_plain()
                return
            consumer = self._consumer
            if consumer is None or consumer.channel is not channel or not consumer.acks.open:
                # Delivery tags are numbered per channel instance: a new batcher for a new one.
                consumer = TappedConsumer(
                    tap, channel, self._source_name, self._arrivals.put, self._arrivals.wake_all
                )
            tag = f"media-bridge.{uuid.uuid4().hex}"
            with translated(SourceUnavailableError, f"consuming from {self._options.queue}"):
                if self._epoch:
                    # Re-consuming after a loss: the queue may be the reason (deleted by hand).
                    # As it was declared at start (same type and arguments), so it is equivalent.
                    await channel.queue_declare(
                        self._options.queue, durable=True, arguments=self._queue_arguments()
                    )
                self._epoch += 1
                consumer.listen(tag, self._epoch)  # before basic.consume: no delivery slips by
                await channel.basic_consume(
                    self._options.queue, consumer.stray_delivery, consumer_tag=tag
                )
            self._consumer, self._consumer_tag = consumer, tag
            channel.closing.add_done_callback(self._wake)
            channel.on_consumer_cancel_callbacks.add(self._on_cancel)
            log.info("consuming %s (channel epoch %d)", self._source_name, self._epoch)

    async def _current_channel(self) -> tuple[aiormq.Channel, FrameTap | None]:
        """The channel to consume on and its connection's tap (None: use the plain path),
        waiting out a reconnect."""
        with anyio.move_on_after(RESTORE_WAIT_S):
            while True:
                await self._channel.ready()
                if self._channel.is_closed:
                    break
                with translated(SourceUnavailableError, self._source_name):
                    channel = cast(aiormq.Channel, await self._channel.get_underlay_channel())
                try:
                    return channel, await self._guard.tap_for(channel, self._round_trip)
                except TapUnsure:
                    # The tap saw the link go before aiormq's reader task did: aio-pika still
                    # hands out the dying channel for a moment. Ask again once it noticed.
                    await anyio.sleep(RESTORE_POLL_S)
        raise SourceUnavailableError(f"{self._source_name}: channel is down (reconnecting)")

    def _queue_arguments(self) -> dict[str, Any]:
        return dict(self._queue.arguments or {})

    async def _round_trip(self, channel: aiormq.abc.AbstractChannel) -> object:
        # The tap check's round trip: the prefetch aio-pika set on this channel, set again.
        return await channel.basic_qos(prefetch_count=self._options.prefetch)

    async def _consume_plain(self) -> None:
        self._consumer = self._consumer_tag = None
        plain = PlainConsumer(self._queue, self._channel, self._source_name, self._arrivals.put)
        await plain.start()
        self._plain = plain
        log.info("consuming %s through aio-pika (the plain AMQP path)", self._source_name)

    async def _plain_restored(self) -> None:
        """aio-pika restores the plain consumer with the channel: wait for that, bounded."""
        with anyio.move_on_after(RESTORE_WAIT_S):
            await self._channel.ready()
        if not self._consuming():
            raise SourceUnavailableError(f"{self._source_name}: channel is down (reconnecting)")

    def _link_changed(self, up: bool) -> None:
        self._arrivals.wake_all()  # every receiver re-checks the channel
        if up and not self._closed:
            # Consume again now, not at the next receive(): readiness must not wait for one.
            self._restoring = asyncio.get_running_loop().create_task(self._restore())

    async def _restore(self) -> None:
        try:
            await self._ensure_consuming()
        except SourceUnavailableError:
            pass  # down again already: the next reconnect (or receive()) tries again
        except BridgeError as exc:  # e.g. access to the queue refused on the new link
            log.warning("re-consuming %s failed: %s", self._source_name, exc)

    def _on_cancel(self, frame: object) -> None:
        # The broker cancelled us (queue deleted?): receive() re-declares and re-consumes.
        log.warning("the broker cancelled the consumer of %s", self._source_name)
        self._consumer_tag = None
        self._arrivals.wake_all()

    def _wake(self, _: object) -> None:
        self._arrivals.wake_all()  # the channel is closing: every receiver re-checks it
