"""``source.queue_type`` / ``sink.queue_type``: queues declared classic or quorum, existing queues
of the other type refused in one line naming the setting, quorum deliveries counted, and a
quorum parking queue that any number of looks leaves whole and in order.

On the shared broker (a quorum queue on one node is a quorum queue of one member: its delivery
counting is the same), in this test's own queues. On the AMQP path under test.
"""

from __future__ import annotations

import logging

import aiormq
import anyio
import pytest
from pamqp.common import FieldTable

from adapters.rabbitmq import RabbitSink, RabbitSinkOptions, RabbitSource, RabbitSourceOptions
from adapters.rabbitmq_parked import RabbitParkedQueue
from adapters.rabbitmq_queue_types import QUORUM_DELIVERY_LIMIT
from adapters.rabbitmq_topology import Unrouted
from consumer.errors import ConfigurationError
from consumer.ports import Destination, OutboundMessage
from tests.amqp_path import FAST_PATH
from tests.integration.broker import AMQP_URL, SHARED, admin_channel, delete_all, put, unique

pytestmark = pytest.mark.rabbitmq
QUORUM: FieldTable = {"x-queue-type": "quorum"}


def queue_types(*names: str) -> dict[str, str]:
    """Each queue's type and arguments as ``rabbitmqctl list_queues`` sees them."""
    output = SHARED.ctl("list_queues", "-p", SHARED.vhost, "name", "type", "arguments")
    found = {}
    for line in output.splitlines():
        parts = line.split("\t")
        if parts[0] in names:
            found[parts[0]] = f"{parts[1]} {parts[2]}"
    return found


async def test_quorum_source_counts_each_delivery_from_the_broker() -> None:
    """First delivery 1; each return (a nack, or the consumer's link closing, as when the
    process dies) adds one, as ``x-delivery-count`` says: what the poison cap reads."""
    queue = unique("qt.source")
    async with admin_channel() as admin:
        try:
            options = RabbitSourceOptions(
                AMQP_URL, queue=queue, prefetch=1, fast_path=FAST_PATH, queue_type="quorum"
            )
            source = await RabbitSource.connect(options)
            counts = []
            try:
                await put(admin, queue, [b"once"])
                for _ in range(3):
                    with anyio.fail_after(10):
                        delivery = await source.receive()
                    counts.append(delivery.info.delivery_count)
                    await delivery.nack()
                with anyio.fail_after(10):
                    delivery = await source.receive()
                counts.append(delivery.info.delivery_count)  # left unsettled: the link goes
            finally:
                await source.aclose()
            source = await RabbitSource.connect(options)  # a new process, as after a crash
            try:
                with anyio.fail_after(10):
                    delivery = await source.receive()
                counts.append(delivery.info.delivery_count)
                await delivery.ack()
            finally:
                await source.aclose()
        finally:
            await delete_all(admin, [queue], [])
    assert counts == [1, 2, 3, 4, 5]
    assert queue_types(queue) == {}  # deleted


async def test_declared_types_and_an_existing_queue_of_the_other_type(
    caplog: pytest.LogCaptureFixture,
) -> None:
    source_queue, events = unique("qt.src"), unique("qt.events")
    parking, unrouted = events + ".parking", events + ".unrouted"
    sink_options = RabbitSinkOptions(
        AMQP_URL, events_exchange=events, parking_exchange=parking, parking_queue=parking,
        fast_path=FAST_PATH, unrouted=Unrouted(unrouted, unrouted), queue_type="quorum",
    )
    async with admin_channel() as admin:
        try:
            sink = await RabbitSink.connect(sink_options)
            await sink.aclose()
            declared = queue_types(parking, unrouted)
            # The platform team's quorum queue, without our delivery limit: used as it is.
            await admin.queue_declare(source_queue, durable=True, arguments=QUORUM)
            with caplog.at_level(logging.INFO, logger="adapters.rabbitmq_queue_types"):
                source = await RabbitSource.connect(
                    RabbitSourceOptions(AMQP_URL, queue=source_queue, fast_path=FAST_PATH,
                                        queue_type="quorum")
                )
                await source.aclose()
            with pytest.raises(ConfigurationError) as classic_source:
                await RabbitSource.connect(
                    RabbitSourceOptions(AMQP_URL, queue=source_queue, fast_path=FAST_PATH)
                )
            # The parking queue exists as quorum; a bridge configured classic is told so.
            with pytest.raises(ConfigurationError) as classic_sink:
                await RabbitSink.connect(
                    RabbitSinkOptions(AMQP_URL, events_exchange=events, parking_exchange=parking,
                                      parking_queue=parking, fast_path=FAST_PATH)
                )
        finally:
            await delete_all(admin, [source_queue, parking, unrouted], [events, parking, unrouted])
    limit = f"{{\"x-delivery-limit\",{QUORUM_DELIVERY_LIMIT}}}"
    for name in (parking, unrouted):
        assert declared[name].startswith("quorum "), declared
        assert limit in declared[name], declared
    # INFO on 3.10 (no default delivery limit there), WARNING on RabbitMQ 4
    [warning] = [r.getMessage() for r in caplog.records if r.name.endswith("queue_types")]
    assert not [r for r in caplog.records if r.name.endswith("rabbitmq_link")]  # no "lost" link
    assert f"quorum queue {source_queue} exists with a delivery limit of its own" in warning
    assert str(classic_source.value) == (
        f"queue {source_queue} exists as a quorum queue, but source.queue_type is classic: set "
        'MEDIA_BRIDGE_SOURCE__QUEUE_TYPE=quorum (source.queue_type = "quorum" in TOML) to use it '
        "(a queue's type can't be changed: to have it classic, drain and delete it first)"
    )
    assert str(classic_sink.value).startswith(
        f"queue {parking} exists as a quorum queue, but sink.queue_type is classic: set "
        "MEDIA_BRIDGE_SINK__QUEUE_TYPE=quorum"
    )


async def test_an_existing_classic_queue_declared_by_an_older_bridge_stays_usable() -> None:
    """Queues declared without ``x-queue-type`` (every bridge before this setting) are
    equivalent to the classic declaration; quorum is refused naming the setting."""
    queue = unique("qt.old")
    async with admin_channel() as admin:
        try:
            await admin.queue_declare(queue, durable=True)  # as RabbitSource declared it before
            source = await RabbitSource.connect(
                RabbitSourceOptions(AMQP_URL, queue=queue, fast_path=FAST_PATH)
            )
            await source.aclose()
            with pytest.raises(ConfigurationError) as caught:
                await RabbitSource.connect(
                    RabbitSourceOptions(AMQP_URL, queue=queue, fast_path=FAST_PATH,
                                        queue_type="quorum")
                )
            await admin.queue_declare(queue + ".ttl", durable=True, arguments={"x-max-length": 9})
            with pytest.raises(ConfigurationError) as other_arguments:
                await RabbitSource.connect(
                    RabbitSourceOptions(AMQP_URL, queue=queue + ".ttl", fast_path=FAST_PATH)
                )
        finally:
            await delete_all(admin, [queue, queue + ".ttl"], [])
    assert str(caught.value).startswith(
        f"queue {queue} exists as a classic queue, but source.queue_type is quorum: set "
        "MEDIA_BRIDGE_SOURCE__QUEUE_TYPE=classic"
    )
    assert "inequivalent arg 'x-max-length'" in str(other_arguments.value)
    assert "put the others in a policy" in str(other_arguments.value)


LOOKS = 25  # more than RabbitMQ 4's default delivery-limit (20)


async def test_looking_at_a_quorum_parking_queue_keeps_every_message_in_order() -> None:
    """``parked`` takes every message (basic.get) and gives them all back (nack multiple,
    requeue). On a quorum queue each look counts as a delivery; LOOKS looks later every
    message is still there, in the order parked."""
    events = unique("qt.plook")
    parking = events + ".parking"
    bodies = [f"parked {n}".encode() for n in range(30)]
    async with admin_channel() as admin:
        try:
            sink = await RabbitSink.connect(
                RabbitSinkOptions(AMQP_URL, events_exchange=events, parking_exchange=parking,
                                  parking_queue=parking, fast_path=FAST_PATH, queue_type="quorum")
            )
            try:
                for n, body in enumerate(bodies):
                    await sink.publish(
                        OutboundMessage(Destination.PARKING, "not_json", body, f"m{n}",
                                        "application/octet-stream", "t")
                    )
            finally:
                await sink.aclose()
            orders = [await look(parking) for _ in range(LOOKS)]
            counted = await delivery_count_of_head(admin, parking)
        finally:
            await delete_all(admin, [parking], [events, parking])
    assert all(order == bodies for order in orders)
    assert counted == LOOKS  # every look was a delivery, and none dropped a message


async def look(queue: str) -> list[bytes]:
    """What ``media-bridge parked`` does to a queue: hold everything, then release it all."""
    reader = await RabbitParkedQueue.connect(AMQP_URL, queue)
    seen = []
    try:
        while (held := await reader.take()) is not None:
            seen.append(held.message.body)
        await reader.release_all()
    finally:
        await reader.aclose()
    return seen


async def delivery_count_of_head(admin: aiormq.Channel, queue: str) -> int:
    message = await admin.basic_get(queue, no_ack=False)
    assert message.delivery_tag is not None
    count = (message.header.properties.headers or {}).get("x-delivery-count")
    await admin.basic_nack(message.delivery_tag, requeue=True)
    assert isinstance(count, int)
    return count
