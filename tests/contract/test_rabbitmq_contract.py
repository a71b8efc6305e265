"""The RabbitMQ adapters pass the Source and Sink contracts against the real broker, on both
AMQP paths: the frame tap (``fast_path = True``) and aio-pika's public API (the plain path)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
from aiormq.abc import DeliveredMessage

from adapters.rabbitmq import RabbitSink, RabbitSinkOptions, RabbitSource, RabbitSourceOptions
from adapters.rabbitmq_topology import Unrouted
from consumer.ports import Destination, OutboundMessage
from tests.contract.sink_contract import ROUTED_BINDING, SinkContract, SinkUnderTest
from tests.contract.source_contract import OpenSource, SourceContract
from tests.integration.broker import AMQP_URL, admin_channel, delete_all, put, take, unique

pytestmark = pytest.mark.rabbitmq


class TestRabbitSource(SourceContract):
    fast_path = True  # the frame tap

    @asynccontextmanager
    async def make_queue(self, bodies: list[bytes]) -> AsyncIterator[OpenSource]:
        queue = unique("source")
        async with admin_channel() as admin:
            await admin.queue_declare(queue, durable=True)
            await put(admin, queue, bodies)

            async def open_source() -> RabbitSource:
                source = await RabbitSource.connect(
                    RabbitSourceOptions(AMQP_URL, queue=queue, prefetch=8, fast_path=self.fast_path)
                )
                assert source.fast_path is self.fast_path
                return source

            try:
                yield open_source
            finally:
                await delete_all(admin, [queue], [])


def _as_outbound(destination: Destination, message: DeliveredMessage) -> OutboundMessage:
    properties = message.header.properties
    return OutboundMessage(
        destination=destination,
        routing_key=message.routing_key or "",
        body=message.body,
        message_id=properties.message_id or "",
        content_type=properties.content_type or "",
        type=properties.message_type or "",
        headers=dict(properties.headers or {}),  # type: ignore[arg-type]
    )


class TestRabbitSourcePlainPath(TestRabbitSource):
    fast_path = False  # aio-pika's public API: what runs when the tap is not in place


class TestRabbitSink(SinkContract):
    fast_path = True  # the frame tap
    keep_unrouted = False  # sink.unroutable = park: the broker returns what routes nowhere

    @asynccontextmanager
    async def make_sink(self) -> AsyncIterator[SinkUnderTest]:
        events, parking, bound = unique("events"), unique("parking"), unique("bound")
        name = unique("unrouted")  # the exchange and the queue
        kept = Unrouted(name, name) if self.keep_unrouted else None
        options = RabbitSinkOptions(
            AMQP_URL, events_exchange=events, parking_exchange=parking, parking_queue=parking,
            fast_path=self.fast_path, unrouted=kept,
        )
        async with admin_channel() as admin:
            sink = await RabbitSink.connect(options)
            assert sink.fast_path is self.fast_path
            assert sink.keeps_unrouted is self.keep_unrouted
            await admin.queue_declare(bound, durable=True)
            await admin.queue_bind(bound, events, routing_key=ROUTED_BINDING)
            queues = {Destination.EVENTS: bound, Destination.PARKING: parking}

            async def delivered(destination: Destination, count: int) -> list[OutboundMessage]:
                got = await take(admin, queues[destination], count)
                return [_as_outbound(destination, message) for message in got]

            async def unrouted(count: int) -> list[OutboundMessage]:
                assert kept is not None
                got = await take(admin, kept.queue, count)
                return [_as_outbound(Destination.EVENTS, message) for message in got]

            try:
                yield SinkUnderTest(sink, delivered, unrouted if kept else None)
            finally:
                await sink.aclose()
                extra = [kept.queue] if kept else []
                await delete_all(
                    admin, [bound, parking, *extra], [events, parking, *extra]
                )


class TestRabbitSinkPlainPath(TestRabbitSink):
    fast_path = False  # aio-pika's public API: what runs when the tap is not in place


class TestRabbitSinkKeepingUnrouted(TestRabbitSink):
    keep_unrouted = True  # sink.unroutable = keep: the events exchange has an alternate exchange


class TestRabbitSinkKeepingUnroutedPlainPath(TestRabbitSinkKeepingUnrouted):
    fast_path = False
