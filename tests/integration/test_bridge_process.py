"""``media-bridge run`` against the real RabbitMQ: volume, crashes, stops and dropped connections."""

from __future__ import annotations

import signal
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

import aiormq
import anyio
import orjson
import pytest
from yarl import URL

from tests.integration.bridge import (
    Collector,
    Topology,
    bad_bodies,
    expected_ids,
    good_bodies,
    running_bridge,
    stop_bridge,
)
from tests.integration.broker import (
    QueueState,
    admin_channel,
    close_connections,
    delete_all,
    drain,
    put,
    queue_state,
)

pytestmark = pytest.mark.rabbitmq
PREFETCH = 64  # the default relay.max_in_flight: the most deliveries that can be in flight


@pytest.fixture
async def broker() -> AsyncIterator[tuple[aiormq.Channel, Topology, Collector]]:
    topology, collector = Topology(), Collector()
    async with admin_channel() as admin:
        try:
            await topology.declare(admin)
            await collector.start(admin, topology.output)
            yield admin, topology, collector
        finally:
            await delete_all(admin, topology.queues, topology.exchanges)


async def _until_drained(topology: Topology, collector: Collector, want: int) -> None:
    """Until ``want`` distinct ids arrived and the source has nothing ready or unacked."""
    with anyio.fail_after(60):
        while not _drained(topology, collector, want):  # noqa: ASYNC110 - broker state, no event
            await anyio.sleep(0.1)


def _drained(topology: Topology, collector: Collector, want: int) -> bool:
    if len(set(collector.ids)) < want:
        return False
    return queue_state(topology.source) == QueueState(ready=0, unacked=0, consumers=1)


async def test_ten_thousand_messages_are_relayed_or_parked(broker, tmp_path: Path) -> None:
    """10,000 bodies, 5% malformed: every event published once, every bad body parked with why."""
    admin, topology, collector = broker
    good, bad = good_bodies(9_500), bad_bodies(500)
    await put(admin, topology.source, [*good[:4750], *bad, *good[4750:]])
    async with running_bridge(topology, tmp_path / "bridge.log") as bridge:
        await _until_drained(topology, collector, 9_500)
        assert await stop_bridge(bridge) == 0
    parked = await drain(admin, topology.parking)
    assert Counter(collector.ids) == Counter(expected_ids(good))
    assert sorted(m.body for m in parked) == sorted(bad)
    assert all((m.header.properties.headers or {}).get("x-park-reason") for m in parked)
    assert queue_state(topology.source) == QueueState(ready=0, unacked=0, consumers=0)


async def test_sigkill_mid_stream_loses_nothing(broker, tmp_path: Path) -> None:
    """Killed with SIGKILL and restarted: all events arrive; duplicates only from in-flight ones."""
    _, topology, collector = broker
    good = good_bodies(3_000)
    await put(broker[0], topology.source, good)
    log = tmp_path / "bridge.log"
    async with running_bridge(topology, log) as first:
        await collector.wait_for(500)
        await stop_bridge(first, signal.SIGKILL)
    killed_at = len(collector.ids)
    async with running_bridge(topology, log) as second:
        await _until_drained(topology, collector, 3_000)
        assert await stop_bridge(second) == 0
    counts = Counter(collector.ids)
    assert killed_at < 3_000  # it really died mid-stream
    assert set(counts) == expected_ids(good)
    assert sum(n - 1 for n in counts.values()) <= PREFETCH


async def test_sigterm_mid_stream_exits_zero_without_duplicates(broker, tmp_path: Path) -> None:
    """SIGTERM drains in-flight work and exits 0 in the grace period; a restart adds no duplicate."""
    _, topology, collector = broker
    good = good_bodies(3_000)
    await put(broker[0], topology.source, good)
    log = tmp_path / "bridge.log"
    async with running_bridge(topology, log, MEDIA_BRIDGE_RELAY__GRACE_PERIOD_S="10") as first:
        await collector.wait_for(500)
        with anyio.fail_after(12):
            assert await stop_bridge(first) == 0
    stopped_at = len(collector.ids)
    async with running_bridge(topology, log) as second:
        await _until_drained(topology, collector, 3_000)
        assert await stop_bridge(second) == 0
    assert stopped_at < 3_000
    assert Counter(collector.ids) == Counter(expected_ids(good))


async def test_closed_connections_recover_by_themselves(broker, tmp_path: Path) -> None:
    """The broker closing the bridge's connections mid-stream: it reconnects, nothing is lost,
    and each loss is one WARNING in the broker's words (no ERROR, no traceback)."""
    _, topology, collector = broker
    good = good_bodies(3_000)
    await put(broker[0], topology.source, good)
    log = tmp_path / "bridge.log"
    async with running_bridge(topology, log) as bridge:
        await collector.wait_for(500)
        closed = close_connections(f':{bridge.pid}"')
        assert closed == 2  # its source and its sink connection
        closed_at = len(collector.ids)
        await _until_drained(topology, collector, 3_000)
        assert await stop_bridge(bridge) == 0
    counts = Counter(collector.ids)
    assert closed_at < 3_000
    assert set(counts) == expected_ids(good)
    # rabbitmqctl closes the two connections one after the other, so they are two separate
    # losses: the source's can redeliver at most one prefetch window (deliveries not yet acked
    # at the broker), the sink's can lose the confirms of at most one window of publishes.
    assert sum(n - 1 for n in counts.values()) <= PREFETCH * closed
    entries = [orjson.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]
    losses = sorted(e["msg"] for e in entries if e["logger"] == "adapters.rabbitmq_link")
    node = URL(topology.url).with_password("***") if URL(topology.url).password else topology.url
    assert losses == [
        f"RabbitMQ {side} connection lost on {node}: 320 CONNECTION_FORCED - test: forced close; "
        "reconnecting"
        for side in ("sink", "source")
    ]
    assert [e for e in entries if e["level"] == "ERROR"] == []
    assert "Traceback" not in log.read_text()
