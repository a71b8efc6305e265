"""``DeliveryInfo.delivery_count`` of an AMQP delivery: what the poison cap reads.

Quorum queues count earlier deliveries (``x-delivery-count``, and from RabbitMQ 4.3
``x-acquired-count``); classic queues only say ``redelivered``.
"""

from __future__ import annotations

import pytest
from pamqp import commands
from pamqp.common import FieldTable
from pamqp.header import ContentHeader

from adapters.rabbitmq_delivery import counted_deliveries, delivery_count


@pytest.mark.parametrize(
    ("redelivered", "headers", "count"),
    [
        (False, None, 1),  # a classic queue's first delivery
        (True, None, 2),  # a classic queue's redelivery: how many times is not known
        (False, {"x-delivery-count": 0}, 1),  # a quorum queue's first (3.10 sends 0)
        (True, {"x-delivery-count": 4}, 5),
        # RabbitMQ 4.3: nacks count only in x-acquired-count, a consumer gone in both
        (True, {"x-delivery-count": 1, "x-acquired-count": 3}, 4),
        (True, {"x-acquired-count": 2}, 3),
        (True, {"x-delivery-count": "7"}, 2),  # not a number: only the flag is believed
    ],
)
def test_the_count_comes_from_the_queue_when_it_keeps_one(
    redelivered: bool, headers: FieldTable | None, count: int
) -> None:
    assert counted_deliveries(redelivered, headers) == count
    header = ContentHeader(0, 10, commands.Basic.Properties(headers=headers))
    raw = header.marshal()  # the content header frame's payload, as the frame tap keeps it
    assert delivery_count(redelivered, raw) == count  # the fast path: raw content header
