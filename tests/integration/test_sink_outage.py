"""While the events broker refuses publishes, nothing is acked at the source; then it resumes."""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest

from tests.integration.bridge import (
    Collector,
    Topology,
    expected_ids,
    good_bodies,
    running_bridge,
    stop_bridge,
)
from tests.integration.broker import admin_channel, delete_all, put, queue_state, rabbitmqctl

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
