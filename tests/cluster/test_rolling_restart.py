"""A rolling restart of the three broker nodes under load: none lost, no bridge exits.

Notifications keep coming at a steady rate from before the first node stops until after the
last one is back; one node after the other (1, 2, 3) is stopped gracefully, started again and
waited for until it has rejoined, the way an operator upgrades a cluster. Before each stop the
node must not be quorum-critical (``rabbitmq-queues check_if_node_is_quorum_critical``: every
quorum queue keeps a majority without it), else the restart itself would stall the queues.
Node 1, then 2, then 3 is every replica's current node at some point, so each replica moves
at least twice.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import anyio
import pytest

from tests.cluster.support import (
    Collector,
    Depth,
    Publisher,
    cluster_topology,
    declare,
    delete_topology,
    depth,
    queues,
    replicas,
    wait_consumers,
)
from tests.cluster.timings import Timings
from tests.cluster_broker import Cluster
from tests.integration.bridge import expected_ids, good_bodies

pytestmark = [pytest.mark.cluster, pytest.mark.timeout(480)]  # + the cluster's start
# A steady offered load: WINDOW bodies every PERIOD_S (about 150/s, well under what the
# replicas relay on this machine, so a backlog means an outage, not an overload).
WINDOW = 30
PERIOD_S = 0.2
MAX_MESSAGES = 30_000  # bodies made in advance; the feed stops long before


async def test_rolling_restart_under_load_loses_nothing(
    all_nodes_up: Cluster, tmp_path: Path, timings: Timings
) -> None:
    nodes = all_nodes_up
    topology = cluster_topology(nodes)
    bodies = good_bodies(MAX_MESSAGES)
    await declare(nodes, topology, leader=1)
    collector = Collector(nodes.urls, topology.output, first=2)
    publisher = Publisher(nodes.urls, topology.source, first=2)
    sent = 0
    restarts: list[str] = []

    async def feed(stop: anyio.Event, fed: anyio.Event) -> None:
        nonlocal sent
        while not stop.is_set() and sent < MAX_MESSAGES:
            started = anyio.current_time()
            await publisher.publish(bodies[sent : sent + WINDOW], window=WINDOW)
            sent += WINDOW
            await anyio.sleep(max(0.0, started + PERIOD_S - anyio.current_time()))  # pacing
        fed.set()

    try:
        async with replicas(topology, tmp_path) as bridges, anyio.create_task_group() as group:
            group.start_soon(collector.run)
            await wait_consumers(nodes, topology.source, 3, bridges)
            timings.lap("set-up, 3 replicas consuming")
            stop_feed, fed = anyio.Event(), anyio.Event()
            group.start_soon(feed, stop_feed, fed)
            await collector.wait_count(500, 120, bridges)
            for n in (1, 2, 3):
                await anyio.to_thread.run_sync(nodes.wait_not_quorum_critical, n)
                before = len(collector.distinct())
                # Blocking steps in a thread; the spawn on the main thread (pdeathsig).
                await anyio.to_thread.run_sync(nodes.stop_node, n)
                nodes.spawn_node(n)
                await anyio.to_thread.run_sync(nodes.await_node, n)
                await anyio.to_thread.run_sync(nodes.wait_clustered)
                took = timings.lap(f"node {n} restarted and rejoined")
                restarts.append(f"node {n}: {took:.1f} s")
                assert not bridges.exited(), f"exited {bridges.exited()}:\n{bridges.tails()}"
                # The stream goes on with the node back (its queues' members catch up).
                await collector.wait_count(before + 300, 120, bridges)
            stop_feed.set()
            with anyio.fail_after(150):  # the window under way is confirmed (or sent again)
                await fed.wait()
            assert sent < MAX_MESSAGES, "the feed ran out of bodies: the restarts took too long"
            expected = expected_ids(bodies[:sent])
            timings.lap(f"{sent} offered during the rolling restart")
            await collector.wait_for(expected, 180)
            timings.lap("all relayed")
            exited = bridges.exited()
            # Stopped before the group is cancelled: an await in a cancelled scope never runs.
            statuses = await bridges.stop()
            group.cancel_scope.cancel()
        final, left = queues(nodes), await depth(nodes, topology.source)
        parked = await depth(nodes, topology.parking)
    finally:
        await publisher.aclose()
        await delete_topology(nodes, topology)
    duplicates = sum(n - 1 for n in Counter(collector.ids).values())
    timings.note(f"{duplicates} duplicates, {publisher.resent_windows} publish windows resent")
    assert not exited, exited  # no replica exited at any point
    assert statuses == [0, 0, 0]
    assert set(collector.ids) == expected  # none lost; duplicates only of expected ids
    assert left == Depth(0, 0)  # every message acked, every consumer gone
    assert final[topology.parking].type == "quorum"
    assert parked.ready == 0
