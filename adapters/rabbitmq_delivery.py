"""``RabbitDelivery``: one AMQP delivery, settled at most once, and only on its own channel.

Delivery tags are numbers local to a channel. After a reconnect the new channel numbers its
deliveries from 1 again, so acking an old tag on it would ack a *different* message (or close
the channel with PRECONDITION_FAILED). A delivery therefore keeps the channel object it came on
(the channel's epoch) and settles only there; if that channel is gone, settling is a logged
no-op: the broker has already requeued the message and will deliver it again.

Settling records the tag with the channel's :class:`~adapters.rabbitmq_acks.AckBatcher`, which
sends it (coalesced with others) on the next loop iteration; ``RabbitSource.aclose`` waits for
it. Like aiormq's ``wait=False`` acks before, ``ack`` returning means "queued for the broker".
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime

import aiormq
from aiormq.abc import DeliveredMessage

from adapters.rabbitmq_acks import AckBatcher
from consumer.errors import SourceUnavailableError
from consumer.ports import DeliveryInfo

log = logging.getLogger(__name__)

# Quorum and stream queues count earlier deliveries in this header; classic queues only set
# the ``redelivered`` flag.
DELIVERY_COUNT_HEADER = "x-delivery-count"


class RabbitDelivery:
    """One leased message (implements ``consumer.ports.Delivery``)."""

    __slots__ = (
        "_acks", "_channel", "_epoch", "_info", "_message", "_received", "_settled", "_source"
    )

    def __init__(
        self, message: DeliveredMessage, source: str, epoch: int, acks: AckBatcher
    ) -> None:
        self._message = message
        self._channel = message.channel
        self._acks = acks  # the batcher of ``message.channel``
        self._source = source
        self._epoch = epoch
        self._received = time.time()
        self._settled = False
        # Built on first use: most deliveries are never logged, and a datetime per message
        # is measurable at relay rates.
        self._info: DeliveryInfo | None = None

    @property
    def body(self) -> bytes:
        return self._message.body

    @property
    def info(self) -> DeliveryInfo:
        if self._info is None:
            self._info = DeliveryInfo(
                source=self._source,
                delivery_id=f"{self._epoch}:{self._message.delivery_tag}",
                delivery_count=delivery_count(self._message),
                received_at=datetime.fromtimestamp(self._received, UTC),
            )
        return self._info

    def is_current(self) -> bool:
        """True while the channel this came on is open (its tag still means this message)."""
        return not self._channel.is_closed

    async def ack(self) -> None:
        """Ack once, on the delivery's own channel; a no-op if settled or the channel is gone."""
        if self._settle("ack"):
            self._acks.ack(self._tag())

    async def nack(self) -> None:
        """Requeue once, on the delivery's own channel; a no-op if settled or the channel is gone."""
        if self._settle("nack"):
            self._acks.nack(self._tag())

    def _settle(self, what: str) -> bool:
        """Mark settled; False when there is nothing to send (already settled or stale)."""
        if self._settled:
            return False
        self._settled = True
        if self._channel.is_closed:
            log.info("%s of %s skipped: its channel is gone, the broker redelivers it", what, self)
            return False
        return True

    def _tag(self) -> int:
        tag = self._message.delivery_tag
        if tag is None:  # only Basic.GetEmpty has none, and that never becomes a delivery
            raise SourceUnavailableError(f"{self} has no delivery tag")
        return tag

    def __str__(self) -> str:
        return f"{self._source} delivery {self._epoch}:{self._message.delivery_tag}"


def delivery_count(message: DeliveredMessage) -> int:
    """1 on first delivery; from ``x-delivery-count`` when the queue keeps one, else 2 if redelivered."""
    headers = message.header.properties.headers or {}
    counted = headers.get(DELIVERY_COUNT_HEADER)
    redelivered = isinstance(message.delivery, aiormq.spec.Basic.Deliver) and bool(
        message.delivery.redelivered
    )
    floor = 2 if redelivered else 1
    return max(floor, counted + 1) if isinstance(counted, int) else floor
