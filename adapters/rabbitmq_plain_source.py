"""The source's plain path, on aio-pika's public API only: ``PlainConsumer`` and ``PlainDelivery``.

Used with ``amqp.fast_path = false``, or when the frame tap's self-check fails
(``adapters.rabbitmq_tap_check``). ``Queue.consume`` on the source's robust channel (aio-pika
re-registers the consumer after a reconnect or a broker-side cancel, within the channel's
``basic.qos`` prefetch), ``IncomingMessage.ack`` / ``nack(requeue=True)``. Slower than the
tapped path (a task and a full ``IncomingMessage`` per delivery, an ack frame per message),
with the same guarantees: a delivery settles once, and only on the channel it came on.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime

import aiormq
from aio_pika.abc import AbstractIncomingMessage, AbstractRobustChannel, AbstractRobustQueue

from adapters.rabbitmq_connect import translated
from adapters.rabbitmq_delivery import counted_deliveries
from consumer.errors import SourceUnavailableError
from consumer.ports import DeliveryInfo

log = logging.getLogger(__name__)


class PlainDelivery:
    """One message consumed through aio-pika (implements ``consumer.ports.Delivery``)."""

    __slots__ = ("_epoch", "_info", "_message", "_received", "_settled", "_source")

    decoded = None  # nothing parsed on the way in: the relay parses the body

    def __init__(self, message: AbstractIncomingMessage, *, source: str, epoch: int) -> None:
        self._message = message
        self._source = source
        self._epoch = epoch
        self._received = time.time()
        self._settled = False
        self._info: DeliveryInfo | None = None

    @property
    def body(self) -> bytes:
        return self._message.body

    @property
    def info(self) -> DeliveryInfo:
        if self._info is None:
            message = self._message
            self._info = DeliveryInfo(
                source=self._source,
                delivery_id=f"{self._epoch}:{message.delivery_tag}",
                delivery_count=counted_deliveries(bool(message.redelivered), message.headers),
                received_at=datetime.fromtimestamp(self._received, UTC),
            )
        return self._info

    def is_current(self) -> bool:
        """True while the channel this came on is open (its tag still means this message)."""
        try:
            return not self._message.channel.is_closed
        except aiormq.exceptions.ChannelInvalidStateError:  # aio-pika: that channel is closed
            return False

    async def ack(self) -> None:
        """Ack once, on the delivery's own channel; a no-op if settled or the channel is gone."""
        if self._settle("ack"):
            with translated(SourceUnavailableError, f"acking {self}"):
                await self._message.ack()

    async def nack(self) -> None:
        """Requeue once, on the delivery's own channel; a no-op if settled or the channel is gone."""
        if self._settle("nack"):
            with translated(SourceUnavailableError, f"nacking {self}"):
                await self._message.nack(requeue=True)

    def _settle(self, what: str) -> bool:
        if self._settled:
            return False
        self._settled = True
        if not self.is_current():
            log.info("%s of %s skipped: its channel is gone, the broker redelivers it", what, self)
            return False
        return True

    def __str__(self) -> str:
        return f"{self._source} delivery {self._epoch}:{self._message.delivery_tag}"


class PlainConsumer:
    """Our consumer on the source queue, registered (and restored) by aio-pika."""

    def __init__(
        self,
        queue: AbstractRobustQueue,
        channel: AbstractRobustChannel,
        source_name: str,
        arrived: Callable[[PlainDelivery], None],
    ) -> None:
        self._queue = queue
        self._channel = channel
        self._source_name = source_name
        self._arrived = arrived
        self._tag: str | None = None
        self._epoch = 0  # one per channel instance, so delivery ids stay unique across links
        self._last_channel: object = None

    @property
    def consuming(self) -> bool:
        """True while the consumer is registered and its channel open."""
        return self._tag is not None and not self._channel.is_closed

    async def start(self) -> None:
        """Register the consumer (manual acks).

        Raises:
            SourceUnavailableError: the channel went down meanwhile.
        """
        with translated(SourceUnavailableError, f"consuming from {self._queue.name}"):
            self._tag = await self._queue.consume(self._on_message, no_ack=False)

    async def stop(self) -> None:
        """Cancel the consumer; a round trip, so every ack sent before it reached the broker."""
        tag, self._tag = self._tag, None
        if tag is not None and not self._channel.is_closed:
            await self._queue.cancel(tag)

    async def _on_message(self, message: AbstractIncomingMessage) -> None:
        try:
            channel = message.channel
        except aiormq.exceptions.ChannelInvalidStateError:
            return  # its channel closed before we got to it: the broker redelivers it
        if channel is not self._last_channel:
            self._last_channel = channel
            self._epoch += 1
        self._arrived(PlainDelivery(message, source=self._source_name, epoch=self._epoch))
