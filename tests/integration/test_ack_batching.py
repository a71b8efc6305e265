"""Coalesced acks (basic.ack multiple=True) never settle more than the engine settled."""

from __future__ import annotations

import random
from collections import Counter

import aiormq
import anyio
import pytest

from adapters.rabbitmq import RabbitSource, RabbitSourceOptions
from consumer.ports import Delivery
from tests.integration.broker import AMQP_URL, admin_channel, unique

pytestmark = pytest.mark.rabbitmq

MESSAGES = 1500


async def test_random_order_acks_and_nacks_settle_every_message_exactly_once() -> None:
    """Acks and requeueing nacks in random order (plus double settles) leave no duplicate,
    no channel error and an empty queue: a multiple ack never covers an unsettled tag."""
    queue = unique("acks")
    rnd = random.Random(7)
    acked: Counter[bytes] = Counter()
    nacked: set[bytes] = set()
    all_acked = anyio.Event()
    slots = anyio.Semaphore(64)

    async def settle(delivery: Delivery) -> None:
        try:
            # Mostly short, sometimes long holds: acks arrive far out of tag order.
            await anyio.sleep(rnd.random() * (0.004 if rnd.random() < 0.9 else 0.05))
            body = delivery.body
            if body not in nacked and rnd.random() < 0.1:
                nacked.add(body)
                await delivery.nack()
            else:
                await delivery.ack()
                acked[body] += 1
                if rnd.random() < 0.05:  # settling twice must be a no-op
                    await delivery.ack()
                    await delivery.nack()
            if len(acked) == MESSAGES:
                all_acked.set()
        finally:
            slots.release()

    async with admin_channel() as channel:
        try:
            await channel.queue_declare(queue, durable=True)
            for n in range(MESSAGES):
                await channel.basic_publish(str(n).encode(), routing_key=queue, wait=False)
            source = await RabbitSource.connect(
                RabbitSourceOptions(AMQP_URL, queue=queue, prefetch=64)
            )
            try:
                async with anyio.create_task_group() as group:

                    async def receive_all() -> None:
                        while True:
                            await slots.acquire()
                            group.start_soon(settle, await source.receive())

                    group.start_soon(receive_all)
                    with anyio.fail_after(90):
                        await all_acked.wait()
                    group.cancel_scope.cancel()
            finally:
                await source.aclose()
            left = await _ready_once_empty(channel, queue)
        finally:
            await channel.queue_delete(queue)
    assert len(acked) == MESSAGES
    assert sum(acked.values()) == MESSAGES, "a message came back after it was acked"
    assert nacked, "the test should have requeued some messages"
    assert left == 0


async def _ready_once_empty(channel: aiormq.Channel, queue: str, timeout_s: float = 5) -> int:
    """Ready messages in ``queue``: 0 as soon as it is empty, else the count at ``timeout_s``
    (what a closed channel held goes back to its queue a little after the close)."""
    count = -1
    with anyio.move_on_after(timeout_s):
        while True:
            count = (await channel.queue_declare(queue, passive=True)).message_count or 0
            if count == 0:
                break
            await anyio.sleep(0.05)
    return count
