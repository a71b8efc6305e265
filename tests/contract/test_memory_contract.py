"""The memory adapters pass the Source and Sink contracts."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from adapters.memory import MemoryQueue, MemorySink, MemorySource
from consumer.ports import Destination, OutboundMessage
from tests.contract.sink_contract import UNROUTED_KEY, SinkContract, SinkUnderTest
from tests.contract.source_contract import OpenSource, SourceContract


class TestMemorySource(SourceContract):
    quiet_period_s = 0.05

    @asynccontextmanager
    async def make_queue(self, bodies: list[bytes]) -> AsyncIterator[OpenSource]:
        queue = MemoryQueue(bodies)

        async def open_source() -> MemorySource:
            return MemorySource(queue=queue)

        yield open_source


class TestMemorySink(SinkContract):
    @asynccontextmanager
    async def make_sink(self) -> AsyncIterator[SinkUnderTest]:
        sink = MemorySink(unroutable_keys=[UNROUTED_KEY])

        async def delivered(destination: Destination, count: int) -> list[OutboundMessage]:
            return sink.published_to(destination)[:count]

        yield SinkUnderTest(sink, delivered)
        await sink.aclose()
