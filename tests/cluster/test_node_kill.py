"""30,000 notifications through three bridge replicas while a broker node crashes: none lost.

The 30,000 are loaded first (on 2 shared cores, loading while relaying only slows both), then
the replicas start. Node 1 is the first URL every replica has (so all three lose their links at once and must
move to another node) and it leads the source and output quorum queues (so both elect a new
leader). It is killed with SIGKILL a third of the way through, and restarted once the stream
has visibly gone on without it.
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
    leader,
    queues,
    replicas,
    wait_consumers,
    wait_depth,
)
from tests.cluster.timings import Timings
from tests.cluster_broker import Cluster
from tests.integration.bridge import expected_ids, good_bodies

pytestmark = [pytest.mark.cluster, pytest.mark.timeout(480)]  # + the cluster's start
MESSAGES = 30_000
KILLED = 1


async def test_node_killed_mid_stream_loses_nothing(
    all_nodes_up: Cluster, tmp_path: Path, timings: Timings
) -> None:
    nodes = all_nodes_up
    topology = cluster_topology(nodes)
    bodies = good_bodies(MESSAGES)
    expected = expected_ids(bodies)
    await declare(nodes, topology, leader=KILLED)
    # The test's own clients start on the nodes that stay up; they move on should one go.
    collector = Collector(nodes.urls, topology.output, first=1)
    publisher = Publisher(nodes.urls, topology.source, first=2)
    try:
        await publisher.publish(bodies)
        await publisher.aclose()
        timings.lap(f"{MESSAGES} loaded into the quorum source queue")
        async with replicas(topology, tmp_path) as bridges, anyio.create_task_group() as group:
            group.start_soon(collector.run)
            await wait_consumers(nodes, topology.source, 3, bridges)
            timings.lap("3 replicas consuming")
            # Progress as the broker counts it: the collector may lag behind the replicas.
            await wait_depth(nodes, topology.source, MESSAGES * 2 // 3, bridges, 240)
            source_leader = leader(nodes, topology.source)
            backlog = (await depth(nodes, topology.source)).ready
            nodes.kill(KILLED)
            at_kill = len(collector.distinct())
            timings.lap(f"first {at_kill} relayed; node {KILLED} killed, {backlog} ready")
            # Progress without the node: the replicas reconnected elsewhere.
            await collector.wait_count(at_kill + MESSAGES // 6, 180, bridges)
            timings.lap(f"{len(collector.distinct()) - at_kill} relayed while node {KILLED} down")
            nodes.start_node(KILLED)
            nodes.wait_clustered()
            timings.lap(f"node {KILLED} restarted and rejoined")
            await collector.wait_for(expected, 240)
            timings.lap(f"all {MESSAGES} relayed")
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
    assert source_leader == KILLED  # the set-up this test means: the killed node led
    assert backlog > 0  # killed mid-stream
    assert not exited, exited
    assert set(collector.ids) == expected  # none lost; duplicates only of expected ids
    assert statuses == [0, 0, 0]
    assert final[topology.source].type == "quorum"
    assert left == Depth(0, 0)  # every message acked, every consumer gone
    assert final[topology.parking].type == "quorum"
    assert parked.ready == 0  # nothing parked
