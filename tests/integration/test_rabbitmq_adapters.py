"""RabbitMQ adapter behaviour beyond the port contracts: stale deliveries, errors, properties.

On the AMQP path under test (``MEDIA_BRIDGE_TEST_FAST_PATH``, see ``tests/amqp_path.py``).
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import aiormq
import anyio
import pytest
from pamqp.common import FieldTable

from adapters.rabbitmq import RabbitSink, RabbitSinkOptions, RabbitSource, RabbitSourceOptions
from consumer.errors import (
    ConfigurationError,
    SinkUnavailableError,
    SourceUnavailableError,
    UnroutableError,
)
from consumer.ports import Destination, OutboundMessage
from tests.amqp_path import FAST_PATH
from tests.integration.broker import (
    AMQP_URL,
    admin_channel,
    close_connections,
    delete_all,
    put,
    queue_state,
    take,
    unique,
)

pytestmark = pytest.mark.rabbitmq


async def test_ack_from_a_lost_channel_is_a_noop_and_the_message_comes_back() -> None:
    """After a reconnect, acking an old delivery acks nothing on the new channel."""
    queue = unique("stale")
    async with admin_channel() as admin:
        try:
            await admin.queue_declare(queue, durable=True)
            await put(admin, queue, [b"first", b"second"])
            options = RabbitSourceOptions(AMQP_URL, queue=queue, prefetch=1, fast_path=FAST_PATH)
            source = await RabbitSource.connect(options)
            try:
                old = await source.receive()
                # Only this process's own source connection (its name carries host and pid).
                own = f'media-bridge source {os.uname().nodename}:{os.getpid()}"'
                assert close_connections(own) == 1
                with anyio.fail_after(15):
                    again = await source.receive()  # reconnects and re-consumes by itself
                await old.ack()  # tag 1 of a dead channel: must not ack tag 1 of the new one
                redelivered = again.info.delivery_count
            finally:
                await source.aclose()
            state = await admin.queue_declare(queue, passive=True)
        finally:
            await delete_all(admin, [queue], [])
    assert (old.body, again.body, redelivered) == (b"first", b"first", 2)
    assert state.message_count == 2  # neither message was acked


async def test_wrong_password_is_a_configuration_error_without_the_password() -> None:
    """Refused credentials: one clear ConfigurationError line, password masked."""
    url = AMQP_URL.replace("guest:guest@", "guest:s3cret-pw@")
    with pytest.raises(ConfigurationError) as caught:
        await RabbitSink.connect(RabbitSinkOptions(url, fast_path=FAST_PATH))
    assert "s3cret-pw" not in str(caught.value)
    assert "refused" in str(caught.value)


async def test_unreachable_broker_is_unavailable_not_a_configuration_error() -> None:
    """Nothing listening: Source/SinkUnavailableError (the caller may retry)."""
    url = "amqp://guest:pw@127.0.0.1:1/"
    with pytest.raises(SourceUnavailableError):
        await RabbitSource.connect(RabbitSourceOptions(url, fast_path=FAST_PATH))
    with pytest.raises(SinkUnavailableError) as caught:
        await RabbitSink.connect(RabbitSinkOptions(url, fast_path=FAST_PATH))
    assert ":pw@" not in str(caught.value)


async def test_published_event_carries_cloudevents_attributes_as_properties() -> None:
    """Persistent, message_id = event id, content type, type, timestamp from ce-time, headers."""
    events, parking, bound = unique("events"), unique("parking"), unique("bound")
    message = OutboundMessage(
        Destination.EVENTS, "vod.NewFileUpload.NONE", b"{}", "evt-1",
        "application/cloudevents+json", "com.tencentcloud.vod.NewFileUpload.v1",
        {"ce-id": "evt-1", "ce-time": "2024-05-01T08:00:00+00:00"},
    )
    async with admin_channel() as admin:
        sink = await RabbitSink.connect(
            RabbitSinkOptions(
                AMQP_URL, events, parking_exchange=parking, parking_queue=parking,
                fast_path=FAST_PATH,
            )
        )
        try:
            await admin.queue_declare(bound, durable=True)
            await admin.queue_bind(bound, events, routing_key="vod.#")
            await sink.publish(message)
            [got] = await take(admin, bound, 1)
        finally:
            await sink.aclose()
            await delete_all(admin, [bound, parking], [events, parking])
    properties = got.header.properties
    assert properties.delivery_mode == 2
    assert (properties.message_id, properties.message_type) == ("evt-1", message.type)
    assert properties.content_type == "application/cloudevents+json"
    assert properties.timestamp is not None
    assert int(properties.timestamp.timestamp()) == 1714550400
    assert (properties.headers or {})["ce-id"] == "evt-1"


async def test_busy_link_is_not_taken_for_dead_by_aiormqs_heartbeat_watchdog() -> None:
    """RabbitMQ sends no heartbeat while it sends deliveries, and the frame tap keeps every
    delivery from aiormq, whose watchdog drops a link that shows no frame for three heartbeat
    intervals: over 8 s of steady deliveries at heartbeat=1 the link must stay up (a reconnect
    would redeliver the message in flight)."""
    queue = unique("heartbeat")
    counts: list[int] = []
    async with admin_channel() as admin:
        await admin.queue_declare(queue, durable=True)
        await put(admin, queue, [str(n).encode() for n in range(400)])
        options = RabbitSourceOptions(
            f"{AMQP_URL}?heartbeat=1", queue=queue, prefetch=1, fast_path=FAST_PATH
        )
        source = await RabbitSource.connect(options)
        try:
            with anyio.move_on_after(8):
                while True:
                    delivery = await source.receive()
                    counts.append(delivery.info.delivery_count)
                    await anyio.sleep(0.04)  # one delivery on the wire at a time, steadily
                    await delivery.ack()
        finally:
            await source.aclose()
            await delete_all(admin, [queue], [])
    assert len(counts) > 100
    assert set(counts) == {1}, "the link was dropped and the message in flight came again"


@asynccontextmanager
async def _sink_bound_to(queue_arguments: FieldTable | None = None) -> AsyncIterator[
    tuple[RabbitSink, aiormq.Channel, str]
]:
    """A sink on fresh exchanges, with one fresh queue bound to the events exchange by ``#``."""
    events, parking, bound = unique("events"), unique("parking"), unique("bound")
    async with admin_channel() as admin:
        sink = await RabbitSink.connect(
            RabbitSinkOptions(
                AMQP_URL, events, parking_exchange=parking, parking_queue=parking,
                confirm_timeout_s=5, fast_path=FAST_PATH,
            )
        )
        try:
            await admin.queue_declare(bound, durable=True, arguments=queue_arguments)
            await admin.queue_bind(bound, events, routing_key="#")
            yield sink, admin, bound
        finally:
            await sink.aclose()
            await delete_all(admin, [bound, parking], [events, parking])


def _event(routing_key: str = "vod.NewFileUpload.NONE", message_id: str = "evt-2") -> OutboundMessage:
    return OutboundMessage(
        Destination.EVENTS, routing_key, b"{}", message_id, "application/cloudevents+json",
        "com.tencentcloud.vod.NewFileUpload.v1", {"ce-id": message_id},
    )


@pytest.mark.parametrize("too_long", ["routing_key", "message_id"])
async def test_a_message_amqp_cannot_carry_is_unroutable_and_the_sink_keeps_working(
    too_long: str,
) -> None:
    """A routing key or a property over AMQP's 255 bytes can never be sent: UnroutableError
    (parked, not retried forever), and the next publish on the same sink is confirmed."""
    fields = {too_long: "x" * 256}
    async with _sink_bound_to() as (sink, admin, bound):
        with pytest.raises(UnroutableError, match="can't be sent"):
            await sink.publish(_event(**fields))
        await sink.publish(_event())
        [got] = await take(admin, bound, 1)
    assert got.header.properties.message_id == "evt-2"


async def test_a_publish_the_broker_nacks_is_unavailable_not_confirmed() -> None:
    """A queue that refuses new messages (full, ``reject-publish``) makes the broker nack the
    publish: SinkUnavailableError, so the relay retries the delivery instead of acking it."""
    full: FieldTable = {"x-max-length": 0, "x-overflow": "reject-publish"}
    async with _sink_bound_to(full) as (sink, _, _bound):
        with pytest.raises(SinkUnavailableError, match="nack"):
            await sink.publish(_event())


async def test_a_source_queue_deleted_under_its_consumer_is_declared_and_consumed_again() -> None:
    """Someone deletes the queue (the broker cancels the consumer): the source declares it
    again and consumes from it, without a reconnect and without losing its waiting receiver."""
    queue = unique("deleted")
    async with admin_channel() as admin:
        try:
            await admin.queue_declare(queue, durable=True)
            options = RabbitSourceOptions(AMQP_URL, queue=queue, prefetch=4, fast_path=FAST_PATH)
            source = await RabbitSource.connect(options)
            try:
                async with anyio.create_task_group() as group:
                    got: list[bytes] = []

                    async def receive_one() -> None:
                        delivery = await source.receive()
                        got.append(delivery.body)
                        await delivery.ack()

                    group.start_soon(receive_one)
                    await admin.queue_delete(queue)
                    await _until_consumed(queue)
                    await put(admin, queue, [b"after the delete"])
                with anyio.fail_after(1):
                    while not source.connected:  # noqa: ASYNC110 - adapter state
                        await anyio.sleep(0.02)
            finally:
                await source.aclose()
        finally:
            await delete_all(admin, [queue], [])
    assert got == [b"after the delete"]


async def _until_consumed(queue: str) -> None:
    """Until ``queue`` exists again with one consumer (read with rabbitmqctl: a passive
    declare of a missing queue would close the admin channel)."""
    with anyio.fail_after(20):
        while True:
            try:
                if queue_state(queue).consumers == 1:
                    return
            except LookupError:
                pass
            await anyio.sleep(0.1)
