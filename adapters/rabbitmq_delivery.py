"""``RabbitDelivery``: one AMQP delivery, settled at most once, and only on its own channel.

Delivery tags are numbers local to a channel. After a reconnect the new channel numbers its
deliveries from 1 again, so acking an old tag on it would ack a *different* message (or close
the channel with PRECONDITION_FAILED). A delivery therefore settles only through the
:class:`~adapters.rabbitmq_acks.AckBatcher` of the channel instance it came on; once that
channel is gone, settling is a logged no-op: the broker has already requeued the message and
will deliver it again.

Settling records the tag with the batcher, which sends it (coalesced with others) on the next
loop iteration; ``RabbitSource.aclose`` flushes it. Like aiormq's ``wait=False`` acks before,
``ack`` returning means "queued for the broker".
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from datetime import UTC, datetime

from adapters import amqp_wire as wire
from adapters.rabbitmq_acks import AckBatcher
from consumer.ports import DeliveryInfo

log = logging.getLogger(__name__)

# Quorum queues count earlier deliveries in these headers; classic queues only set the
# ``redelivered`` flag. ``x-delivery-count`` counts every return on RabbitMQ 3.10-4.2 (a nack,
# a consumer gone); from 4.3 only failed deliveries (a reject, a consumer gone), and
# ``x-acquired-count`` every return. The larger of the two is the count of earlier deliveries
# on every version, the one the relay's poison cap expects (it subtracts its own give-backs).
DELIVERY_COUNT_HEADER = "x-delivery-count"
ACQUIRED_COUNT_HEADER = "x-acquired-count"
_COUNT_KEYS = (DELIVERY_COUNT_HEADER.encode(), ACQUIRED_COUNT_HEADER.encode())  # in raw headers


class RabbitDelivery:
    """One leased message (implements ``consumer.ports.Delivery``)."""

    __slots__ = (
        "_acks", "_epoch", "_header", "_info", "_received", "_redelivered", "_settled",
        "_source", "_tag", "body",
    )

    decoded = None  # nothing parsed on the way in: the relay parses the body

    def __init__(
        self,
        body: bytes,
        tag: int,
        redelivered: bool,
        header: bytes,
        *,
        source: str,
        epoch: int,
        acks: AckBatcher,
    ) -> None:
        self.body = body
        self._tag = tag
        self._redelivered = redelivered
        self._header = header  # the content header payload, decoded only when info is asked for
        self._acks = acks  # the batcher of the channel instance this came on
        self._source = source
        self._epoch = epoch
        self._received = time.time()
        self._settled = False
        # Built on first use: most deliveries are never logged, and a datetime per message
        # is measurable at relay rates.
        self._info: DeliveryInfo | None = None

    @property
    def info(self) -> DeliveryInfo:
        if self._info is None:
            self._info = DeliveryInfo(
                source=self._source,
                delivery_id=f"{self._epoch}:{self._tag}",
                delivery_count=delivery_count(self._redelivered, self._header),
                received_at=datetime.fromtimestamp(self._received, UTC),
            )
        return self._info

    def is_current(self) -> bool:
        """True while the channel this came on is open (its tag still means this message)."""
        return self._acks.open

    async def ack(self) -> None:
        """Ack once, on the delivery's own channel; a no-op if settled or the channel is gone."""
        if self._settle("ack"):
            self._acks.ack(self._tag)

    async def nack(self) -> None:
        """Requeue once, on the delivery's own channel; a no-op if settled or the channel is gone."""
        if self._settle("nack"):
            self._acks.nack(self._tag)

    def _settle(self, what: str) -> bool:
        """Mark settled; False when there is nothing to send (already settled or stale)."""
        if self._settled:
            return False
        self._settled = True
        if not self._acks.open:
            log.info("%s of %s skipped: its channel is gone, the broker redelivers it", what, self)
            return False
        return True

    def __str__(self) -> str:
        return f"{self._source} delivery {self._epoch}:{self._tag}"


def delivery_count(redelivered: bool, header: bytes) -> int:
    """1 on first delivery; from ``x-delivery-count``/``x-acquired-count`` when the queue keeps
    them (quorum), else 2 if redelivered (classic)."""
    if not redelivered and not any(key in header for key in _COUNT_KEYS):
        return 1  # the common case, without decoding the properties
    return counted_deliveries(redelivered, wire.properties(header).headers)


def counted_deliveries(redelivered: bool, headers: Mapping[str, object] | None) -> int:
    """:func:`delivery_count` from decoded headers (the plain path gets them from aio-pika)."""
    floor = 2 if redelivered else 1
    found = headers or {}
    counts = [found.get(name) for name in (DELIVERY_COUNT_HEADER, ACQUIRED_COUNT_HEADER)]
    earlier = [count for count in counts if isinstance(count, int)]
    return max(floor, max(earlier) + 1) if earlier else floor
