"""While the events broker refuses publishes, nothing is acked at the source; then it resumes."""

from __future__ import annotations

from pathlib import Path

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
    rabbitmqctl,
)

pytestmark = pytest.mark.rabbitmq
NORMAL_WATERMARK = "0.4"  # RabbitMQ's default; restored even when the test fails


async def test_blocked_sink_holds_acks_and_resumes(tmp_path: Path) -> None:
    """A memory alarm blocks publishing: the source keeps every message until it clears."""
    topology, collector = Topology(), Collector()
    good = good_bodies(6_000)
    async with admin_channel() as admin:
        await topology.declare(admin)
        await collector.start(admin, topology.output)
        try:
            await put(admin, topology.source, good)
            env = {"MEDIA_BRIDGE_SINK__CONFIRM_TIMEOUT_S": "2"}
            async with running_bridge(topology, tmp_path / "bridge.log", **env) as bridge:
                await collector.wait_for(100)
                try:
                    rabbitmqctl("set_vm_memory_high_watermark", "0.0000001")
                    await anyio.sleep(3)  # publishes in flight time out (confirm timeout 2 s)
                    held, relayed = queue_state(topology.source), len(collector.ids)
                    await anyio.sleep(3)
                    still = queue_state(topology.source)
                    blocked_relayed = len(collector.ids)
                finally:
                    rabbitmqctl("set_vm_memory_high_watermark", NORMAL_WATERMARK)
                await collector.wait_for(len(good), timeout_s=60, distinct=True)
                assert await stop_bridge(bridge) == 0
        finally:
            await delete_all(admin, topology.queues, topology.exchanges)
    assert held.ready + held.unacked == still.ready + still.unacked > 0  # no ack while blocked
    assert blocked_relayed == relayed
    assert set(collector.ids) == expected_ids(good)


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
        await topology.declare(admin)
        await collector.start(admin, topology.output)
        try:
            await put(admin, topology.source, good)
            async with running_bridge(topology, tmp_path / "bridge.log") as bridge:
                await collector.wait_for(200)
                await admin.exchange_delete(topology.events)
                await anyio.sleep(0.5)  # publishes fail (404), the bridge re-declares, parks
                await admin.exchange_declare(topology.events, exchange_type="topic", durable=True)
                await admin.queue_bind(topology.output, topology.events, routing_key="#")
                relayed_before_rebind = len(set(collector.ids))
                with anyio.fail_after(60):
                    while not _source_empty(topology):  # noqa: ASYNC110 - broker state, no event
                        await anyio.sleep(0.2)
                assert await stop_bridge(bridge) == 0
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


def _source_empty(topology: Topology) -> bool:
    state = queue_state(topology.source)
    return state.ready + state.unacked == 0
