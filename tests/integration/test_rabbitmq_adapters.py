"""RabbitMQ adapter behaviour beyond the port contracts: stale deliveries, errors, properties."""

from __future__ import annotations

import os

import anyio
import pytest

from adapters.rabbitmq import RabbitSink, RabbitSinkOptions, RabbitSource, RabbitSourceOptions
from consumer.errors import ConfigurationError, SinkUnavailableError, SourceUnavailableError
from consumer.ports import Destination, OutboundMessage
from tests.integration.broker import (
    AMQP_URL,
    admin_channel,
    close_connections,
    delete_all,
    put,
    take,
    unique,
)

pytestmark = pytest.mark.rabbitmq


async def test_ack_from_a_lost_channel_is_a_noop_and_the_message_comes_back() -> None:
    """After a reconnect, acking an old delivery acks nothing on the new channel."""
    queue = unique("stale")
    async with admin_channel() as admin:
        await admin.queue_declare(queue, durable=True)
        await put(admin, queue, [b"first", b"second"])
        source = await RabbitSource.connect(RabbitSourceOptions(AMQP_URL, queue=queue, prefetch=1))
        try:
            old = await source.receive()
            assert close_connections(f'media-bridge source {os.uname().nodename}:{os.getpid()}"') == 1
            with anyio.fail_after(15):
                again = await source.receive()  # reconnects and re-consumes by itself
            await old.ack()  # tag 1 of a dead channel: must not ack tag 1 of the new one
            redelivered = again.info.delivery_count
        finally:
            await source.aclose()
        state = await admin.queue_declare(queue, passive=True)
        await delete_all(admin, [queue], [])
    assert (old.body, again.body, redelivered) == (b"first", b"first", 2)
    assert state.message_count == 2  # neither message was acked


async def test_wrong_password_is_a_configuration_error_without_the_password() -> None:
    """Refused credentials: one clear ConfigurationError line, password masked."""
    url = AMQP_URL.replace("guest:guest@", "guest:s3cret-pw@")
    with pytest.raises(ConfigurationError) as caught:
        await RabbitSink.connect(RabbitSinkOptions(url))
    assert "s3cret-pw" not in str(caught.value)
    assert "refused" in str(caught.value)


async def test_unreachable_broker_is_unavailable_not_a_configuration_error() -> None:
    """Nothing listening: Source/SinkUnavailableError (the caller may retry)."""
    url = "amqp://guest:pw@127.0.0.1:1/"
    with pytest.raises(SourceUnavailableError):
        await RabbitSource.connect(RabbitSourceOptions(url))
    with pytest.raises(SinkUnavailableError) as caught:
        await RabbitSink.connect(RabbitSinkOptions(url))
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
            RabbitSinkOptions(AMQP_URL, events, parking_exchange=parking, parking_queue=parking)
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
        options = RabbitSourceOptions(f"{AMQP_URL}?heartbeat=1", queue=queue, prefetch=1)
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
