"""``TappedConsumer``: the source's consumer(s) on one channel instance, fed by the frame tap.

The fast path of ``RabbitSource``: the consumer is registered on the aiormq channel under
aio-pika, and its deliveries are taken off the wire by the connection's frame tap
(``adapters.rabbitmq_tap``): aio-pika's consumer path costs two tasks and a full
``IncomingMessage`` per delivery, and aiormq's a decode, two queue hops and a task.

One per channel instance, because delivery tags and the ack batcher are per channel; a
re-consume on the same channel (after a broker-side cancel) adds a consumer tag here, so
deliveries still in flight for the old tag are kept too.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import aiormq
from aiormq.abc import DeliveredMessage

from adapters.rabbitmq_acks import AckBatcher
from adapters.rabbitmq_delivery import RabbitDelivery
from adapters.rabbitmq_tap import ChannelListener, FrameTap

log = logging.getLogger(__name__)


class TappedConsumer(ChannelListener):
    """Deliveries from the tap become :class:`RabbitDelivery` objects handed to ``arrived``;
    ``lost`` is called once the channel or the link is gone."""

    def __init__(
        self,
        tap: FrameTap,
        channel: aiormq.Channel,
        source_name: str,
        arrived: Callable[[RabbitDelivery], None],
        lost: Callable[[], None],
    ) -> None:
        self.channel = channel
        self.acks = AckBatcher(tap, channel.number)
        self.consumer_tags: set[str] = set()
        self._tap = tap
        self._source_name = source_name
        self._arrived = arrived
        self._lost = lost
        self._epoch = 0

    def listen(self, consumer_tag: str, epoch: int) -> None:
        """Take the deliveries of ``consumer_tag`` (attached to the tap before consuming)."""
        self.consumer_tags.add(consumer_tag)
        self._epoch = epoch
        self._tap.attach(self.channel.number, self)

    def on_deliver(self, delivery_tag: int, redelivered: bool, header: bytes, body: bytes) -> None:
        self.acks.delivered(delivery_tag)
        self._arrived(
            RabbitDelivery(
                body,
                delivery_tag,
                redelivered,
                header,
                source=self._source_name,
                epoch=self._epoch,
                acks=self.acks,
            )
        )

    def on_closed(self, reason: str) -> None:
        self.acks.close()
        log.info("%s: %s", self._source_name, reason)
        self._lost()

    async def stray_delivery(self, message: DeliveredMessage) -> None:
        """aiormq's consumer callback: only reached if the tap ever let a delivery through.

        The tap keeps every delivery of our consumer tags, so this should never run; if it
        does, the delivery takes the normal path instead of sitting unacked on the prefetch.
        """
        tag = message.delivery_tag
        if tag is None:
            return
        log.warning("%s: delivery %d reached aiormq, not the tap", self._source_name, tag)
        redelivered = bool(getattr(message.delivery, "redelivered", False))
        self.on_deliver(tag, redelivered, message.header.marshal(), message.body)
