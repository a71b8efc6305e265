"""The RabbitMQ adapters pass the Source and Sink contracts against the real broker."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
from aiormq.abc import DeliveredMessage

from adapters.rabbitmq import RabbitSink, RabbitSinkOptions, RabbitSource, RabbitSourceOptions
from consumer.ports import Destination, OutboundMessage
from tests.contract.sink_contract import ROUTED_BINDING, SinkContract, SinkUnderTest
from tests.contract.source_contract import OpenSource, SourceContract
from tests.integration.broker import AMQP_URL, admin_channel, delete_all, put, take, unique

pytestmark = pytest.mark.rabbitmq


class TestRabbitSource(SourceContract):
    @asynccontextmanager
    async def make_queue(self, bodies: list[bytes]) -> AsyncIterator[OpenSource]:
        queue = unique("source")
        async with admin_channel() as admin:
            await admin.queue_declare(queue, durable=True)
            await put(admin, queue, bodies)

            async def open_source() -> RabbitSource:
                return await RabbitSource.connect(
                    RabbitSourceOptions(AMQP_URL, queue=queue, prefetch=8)
                )

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


class TestRabbitSink(SinkContract):
    @asynccontextmanager
    async def make_sink(self) -> AsyncIterator[SinkUnderTest]:
        events, parking, bound = unique("events"), unique("parking"), unique("bound")
        options = RabbitSinkOptions(
            AMQP_URL, events_exchange=events, parking_exchange=parking, parking_queue=parking
        )
        async with admin_channel() as admin:
            sink = await RabbitSink.connect(options)
            await admin.queue_declare(bound, durable=True)
            await admin.queue_bind(bound, events, routing_key=ROUTED_BINDING)
            queues = {Destination.EVENTS: bound, Destination.PARKING: parking}

            async def delivered(destination: Destination, count: int) -> list[OutboundMessage]:
                got = await take(admin, queues[destination], count)
                return [_as_outbound(destination, message) for message in got]

            try:
                yield SinkUnderTest(sink, delivered)
            finally:
                await sink.aclose()
                await delete_all(admin, [bound, parking], [events, parking])
