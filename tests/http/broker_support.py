"""Broker pieces for the HTTP source's end-to-end tests: a sink, a tap on any node, waiting for
what arrived, and the private node's memory alarm (connection.blocked for its publishers)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio

from adapters.rabbitmq import RabbitSink, RabbitSinkOptions
from tests.e2e_cmq.support import Names, Tap
from tests.integration.broker import AMQP_URL, admin_channel, delete_all
from tests.private_broker import PrivateBroker


@asynccontextmanager
async def rabbit_sink(
    names: Names, url: str = AMQP_URL, confirm_timeout_s: float = 5
) -> AsyncIterator[RabbitSink]:
    sink = await RabbitSink.connect(
        RabbitSinkOptions(
            url,
            events_exchange=names.events,
            parking_exchange=names.parking,
            parking_queue=names.parking,
            confirm_timeout_s=confirm_timeout_s,
        )
    )
    try:
        yield sink
    finally:
        with anyio.CancelScope(shield=True):
            await sink.aclose()


@asynccontextmanager
async def node_tap(url: str) -> AsyncIterator[Tap]:
    """``tests.e2e_cmq.support.broker_tap`` on the node at ``url`` (e.g. the private one)."""
    names = Names()
    async with admin_channel(url) as channel:
        await channel.exchange_declare(names.events, exchange_type="topic", durable=True)
        await channel.queue_declare(names.tap, durable=True)
        await channel.queue_bind(names.tap, names.events, routing_key="#")
        await channel.exchange_declare(names.parking, exchange_type="topic", durable=True)
        await channel.queue_declare(names.parking, durable=True)
        await channel.queue_bind(names.parking, names.parking, routing_key="#")
        try:
            yield Tap(channel, names)
        finally:
            with anyio.CancelScope(shield=True):
                await delete_all(channel, [names.tap, names.parking], [names.events, names.parking])


async def arrived(tap: Tap, count: int, timeout_s: float = 10) -> None:
    """Until ``count`` events and parked bodies together were taken from the tap."""
    with anyio.fail_after(timeout_s):
        while len(tap.events) + len(tap.parked) < count:
            await tap.collect()
            await anyio.sleep(0.02)


@asynccontextmanager
async def memory_alarm(broker: PrivateBroker) -> AsyncIterator[None]:
    """The private node's memory alarm raised (a tiny watermark) while inside: the node blocks
    every connection that publishes (connection.blocked). Afterwards the watermark it had is
    back and the alarm cleared, for the session's later tests."""
    before = (
        await _ctl(broker, "eval", "vm_memory_monitor:get_vm_memory_high_watermark().")
    ).strip()
    float(before)  # a fraction, as set_vm_memory_high_watermark takes it (not {absolute, N})
    await _ctl(broker, "set_vm_memory_high_watermark", "0.0000001")
    try:
        await _until_memory_alarm(broker, raised=True)
        yield
    finally:
        with anyio.CancelScope(shield=True):
            await _ctl(broker, "set_vm_memory_high_watermark", before)
            await _until_memory_alarm(broker, raised=False)


async def _ctl(broker: PrivateBroker, *args: str) -> str:
    # rabbitmqctl takes a second or more: in a thread, so the bridge under test (in this
    # process, on this event loop) keeps running meanwhile.
    return await anyio.to_thread.run_sync(lambda: broker.ctl(*args))


async def _until_memory_alarm(broker: PrivateBroker, *, raised: bool) -> None:
    with anyio.fail_after(60):
        while ("memory" in await _ctl(broker, "eval", "rabbit_alarm:get_alarms().")) != raised:  # noqa: ASYNC110 - node state, no event
            await anyio.sleep(0.2)
