"""While the events broker refuses publishes, nothing is acked at the source; then it resumes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import aiormq
import anyio
import pytest

from consumer.normalize import normalize
from tests.integration.bridge import (
    Collector,
    Topology,
    expected_ids,
    good_bodies,
    running_bridge,
    stop_bridge,
)
from tests.integration.broker import (
    admin_channel,
    delete_all,
    drain,
    put,
    queue_state,
)
from tests.private_broker import PrivateBroker

pytestmark = pytest.mark.rabbitmq
CONFIRM_TIMEOUT_S = 2


async def test_blocked_sink_holds_acks_and_resumes(
    private_rabbitmq: PrivateBroker, tmp_path: Path
) -> None:
    """A memory alarm blocks publishing: the source keeps every message until it clears.

    An alarm blocks every publisher of a node, so this runs on the session's private node.
    """
    broker = private_rabbitmq
    topology, collector = Topology(url=broker.url), Collector()
    good = good_bodies(6_000)
    async with admin_channel(broker.url) as admin:
        try:
            await topology.declare(admin)
            await collector.start(admin, topology.output)
            await put(admin, topology.source, good)
            env = {"MEDIA_BRIDGE_SINK__CONFIRM_TIMEOUT_S": str(CONFIRM_TIMEOUT_S)}
            async with running_bridge(topology, tmp_path / "bridge.log", **env) as bridge:
                await collector.wait_for(100)
                async with memory_alarm(broker):
                    # Publishes already in flight are not confirmed: let their timeout pass.
                    await anyio.sleep(CONFIRM_TIMEOUT_S + 1)
                    held, relayed = queue_state(topology.source, broker), len(collector.ids)
                    await anyio.sleep(3)  # a window in which nothing may be acked or relayed
                    still = queue_state(topology.source, broker)
                    blocked_relayed = len(collector.ids)
                await collector.wait_for(len(good), timeout_s=60, distinct=True)
                assert await stop_bridge(bridge) == 0
        finally:
            await delete_all(admin, topology.queues, topology.exchanges)
    assert held.ready + held.unacked == still.ready + still.unacked > 0  # no ack while blocked
    assert blocked_relayed == relayed
    assert set(collector.ids) == expected_ids(good)


@asynccontextmanager
async def memory_alarm(broker: PrivateBroker) -> AsyncIterator[None]:
    """The node's memory alarm raised (by a tiny watermark) while inside; afterwards the
    watermark it had is back and the alarm is cleared, for the session's later tests."""
    before = broker.ctl("eval", "vm_memory_monitor:get_vm_memory_high_watermark().").strip()
    float(before)  # a fraction, as set_vm_memory_high_watermark takes it (not {absolute, N})
    broker.ctl("set_vm_memory_high_watermark", "0.0000001")
    try:
        await _until_memory_alarm(broker, raised=True)
        yield
    finally:
        broker.ctl("set_vm_memory_high_watermark", before)
        with anyio.CancelScope(shield=True):
            await _until_memory_alarm(broker, raised=False)


async def _until_memory_alarm(broker: PrivateBroker, *, raised: bool) -> None:
    with anyio.fail_after(30):
        while _memory_alarm_raised(broker) != raised:  # noqa: ASYNC110 - node state, no event
            await anyio.sleep(0.2)


def _memory_alarm_raised(broker: PrivateBroker) -> bool:
    return "memory" in broker.ctl("eval", "rabbit_alarm:get_alarms().")


async def test_events_exchange_deleted_mid_stream_loses_nothing_and_resumes(tmp_path: Path) -> None:
    """The events exchange is deleted under a running bridge, then bound again.

    Publishing to the missing exchange closes the sink's channel (404): those deliveries are
    retried, not acked. aio-pika reopens the channel and re-declares the exchange; until the
    output queue is bound again, events come back unroutable and are parked with that reason.
    Every body ends up exactly somewhere: relayed, or parked as unroutable; the source empties.
    """
    topology, collector = Topology(), Collector()
    good = good_bodies(12_000)
    async with admin_channel() as admin:
        try:
            await topology.declare(admin)
            await collector.start(admin, topology.output)
            await put(admin, topology.source, good)
            async with running_bridge(topology, tmp_path / "bridge.log") as bridge:
                await collector.wait_for(200)
                await admin.exchange_delete(topology.events)
                # Publishes fail (404), the bridge re-declares the exchange, events are parked.
                await _until_parked(admin, topology.parking)
                await admin.exchange_declare(topology.events, exchange_type="topic", durable=True)
                await admin.queue_bind(topology.output, topology.events, routing_key="#")
                relayed_before_rebind = len(set(collector.ids))
                with anyio.fail_after(60):
                    while not _source_empty(topology):  # noqa: ASYNC110 - broker state, no event
                        await anyio.sleep(0.2)
                assert await stop_bridge(bridge) == 0
            # The collector consumes on its own: what the bridge relayed last may still wait in
            # the output queue. A lost event is in no queue, so this wait can't hide one.
            with anyio.fail_after(30):
                while (await admin.queue_declare(topology.output, passive=True)).message_count:  # noqa: ASYNC110
                    await anyio.sleep(0.05)
            parked = await drain(admin, topology.parking)
        finally:
            await delete_all(admin, topology.queues, topology.exchanges)
    reasons = {(m.header.properties.headers or {}).get("x-park-reason") for m in parked}
    parked_ids = {event.event.id for m in parked for event in normalize(m.body)}
    log = (tmp_path / "bridge.log").read_text()
    assert reasons <= {"unroutable"}
    assert set(collector.ids) | parked_ids == expected_ids(good)
    assert len(set(collector.ids)) > relayed_before_rebind, "relaying resumes once bound again"
    assert "Traceback" not in log


async def test_events_exchange_recreated_by_its_owner_is_used_again(tmp_path: Path) -> None:
    """An events exchange the bridge only takes as it is (declared with arguments of its owner,
    so the bridge declares it passively) is deleted, and later re-created by that owner.

    aio-pika's own restore of the publishing channel fails while the exchange is missing (the
    passive declaration answers 404) and is not tried again; the sink keeps restoring it with
    back-off, so once the exchange is back the relay resumes. Nothing is acked meanwhile. (On
    the plain path the broker closes the whole connection, and aio-pika's reconnect retries.)
    """
    topology, collector = Topology(), Collector()
    arguments = {"alternate-exchange": "test.owners-own-alternate"}
    good = good_bodies(3_000)
    async with admin_channel() as admin:
        try:
            await admin.queue_declare(topology.source, durable=True)
            await admin.queue_declare(topology.output, durable=True)
            await _owners_exchange(admin, topology, arguments)
            await collector.start(admin, topology.output)
            await put(admin, topology.source, good)
            async with running_bridge(topology, tmp_path / "bridge.log") as bridge:
                await collector.wait_for(200)
                await admin.exchange_delete(topology.events)
                # Fast path: the channel's restore fails and is retried by the sink. Plain path:
                # aio-pika wrote on the closed channel, the broker closed the connection, and
                # its reconnect (which re-declares) fails until the exchange is back.
                await _until_logged(
                    tmp_path / "bridge.log",
                    "restoring the publishing channel",
                    "sink connection still down",
                )
                held = queue_state(topology.source)
                await _owners_exchange(admin, topology, arguments)
                await collector.wait_for(len(good), timeout_s=60, distinct=True)
                assert await stop_bridge(bridge) == 0
            parked = await drain(admin, topology.parking)
        finally:
            await delete_all(admin, topology.queues, topology.exchanges)
    assert held.ready + held.unacked > 0, "nothing is acked while the exchange is missing"
    assert set(collector.ids) == expected_ids(good)
    assert parked == []
    assert "Traceback" not in (tmp_path / "bridge.log").read_text()


async def _owners_exchange(
    admin: aiormq.Channel, topology: Topology, arguments: dict[str, str]
) -> None:
    await admin.exchange_declare(
        topology.events, exchange_type="topic", durable=True, arguments=arguments
    )
    await admin.queue_bind(topology.output, topology.events, routing_key="#")


async def _until_logged(log: Path, *texts: str) -> None:
    """Until one of ``texts`` is in the bridge's log."""
    with anyio.fail_after(30):
        while True:
            written = await anyio.Path(log).read_text()
            if any(text in written for text in texts):
                return
            await anyio.sleep(0.1)  # another process's log: no event to wait for


async def _until_parked(admin: aiormq.Channel, queue: str) -> None:
    with anyio.fail_after(30):
        while not (await admin.queue_declare(queue, passive=True)).message_count:  # noqa: ASYNC110
            await anyio.sleep(0.05)


def _source_empty(topology: Topology) -> bool:
    state = queue_state(topology.source)
    return state.ready + state.unacked == 0
