"""One of three bridge replicas is killed with SIGKILL mid-stream: none lost.

The broker returns the dead replica's unacknowledged deliveries to the quorum source queue
when its connection drops, and the two others relay them. The test checks that the replica
did hold deliveries when it died (else nothing would have been handed over), that the broker
saw its consumer go, and that every event arrives.

The three replicas are consuming before the bodies are loaded; a fifth into the load
replica 0 is frozen (SIGSTOP), the broker lists what it holds, and it is killed with SIGKILL
while the load goes on. Loading first and starting the replicas after left nothing to kill
mid-stream on 2 busy cores (the first replica drained the queue while the others were still
starting), and an unfrozen replica's holdings change faster than a broker listing (a second
or more) can tell.
"""

from __future__ import annotations

import signal
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
MESSAGES = 15_000
VICTIM = 0


async def test_killed_replica_hands_its_deliveries_to_the_others(
    all_nodes_up: Cluster, tmp_path: Path, timings: Timings
) -> None:
    nodes = all_nodes_up
    topology = cluster_topology(nodes)
    bodies = good_bodies(MESSAGES)
    expected = expected_ids(bodies)
    await declare(nodes, topology, leader=2)
    collector = Collector(nodes.urls, topology.output, first=2)
    publisher = Publisher(nodes.urls, topology.source, first=2)
    try:
        async with replicas(topology, tmp_path) as bridges, anyio.create_task_group() as group:
            await wait_consumers(nodes, topology.source, 3, bridges)
            timings.lap("3 replicas consuming")
            group.start_soon(collector.run)
            loaded = anyio.Event()
            group.start_soon(_load, publisher, bodies, loaded)
            victim = bridges.processes[VICTIM]
            await _until_published(publisher, MESSAGES // 5)
            # Frozen, the replica holds what the broker handed it (it can't ack any more): the
            # listing is then exact at the moment of the kill. The kill is still mid-stream:
            # the load goes on and the two others keep relaying.
            victim.send_signal(signal.SIGSTOP)
            held, listing = await _holdings_once_settled(nodes, victim.pid)
            assert not loaded.is_set(), "the load should still be going on at the kill"
            victim.send_signal(signal.SIGKILL)
            with anyio.fail_after(10):
                await victim.wait()
            at_kill = len(collector.distinct())
            timings.lap(f"{at_kill} relayed; replica {VICTIM} killed holding {held} unacked")
            await wait_consumers(nodes, topology.source, 2, bridges, exactly=True, allow_exit={VICTIM})
            await collector.wait_for(expected, 180)
            timings.lap("all relayed by the two others")
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
    timings.note(f"{duplicates} duplicates")
    assert at_kill < MESSAGES  # killed mid-stream
    assert held > 0, listing  # the replica died holding deliveries: they had to be handed over
    assert exited == {VICTIM: -signal.SIGKILL}  # the others ran on
    assert statuses[1:] == [0, 0]
    assert set(collector.ids) == expected  # none lost; duplicates only of expected ids
    assert left == Depth(0, 0)  # every message acked, every consumer gone
    assert final[topology.parking].type == "quorum"
    assert parked.ready == 0  # nothing parked


async def _load(publisher: Publisher, bodies: list[bytes], loaded: anyio.Event) -> None:
    await publisher.publish(bodies)
    await publisher.aclose()
    loaded.set()


async def _until_published(publisher: Publisher, count: int) -> None:
    with anyio.fail_after(120):
        while publisher.published < count:  # noqa: ASYNC110 - a counter, no event
            await anyio.sleep(0.05)


async def _holdings_once_settled(nodes: Cluster, pid: int) -> tuple[int, str]:
    """What the stopped replica ``pid`` holds, once two listings agree (deliveries the broker
    sent just before the stop may still be counted in)."""
    # rabbitmqctl blocks for a second or more: not on the loop that publishes and collects.
    held, listing = await anyio.to_thread.run_sync(unacked_of, nodes, pid)
    while True:
        again, listing = await anyio.to_thread.run_sync(unacked_of, nodes, pid)
        if again == held:
            return held, listing
        held = again


def unacked_of(nodes: Cluster, pid: int) -> tuple[int, str]:
    """Deliveries the bridge process ``pid`` holds unacknowledged on its source connection
    (found by the name it gives it: "media-bridge source HOST:PID"), and the channel list."""
    connections = {
        line.split("\t", 1)[0]
        for line in nodes.ctl(1, "list_connections", "pid", "client_properties").splitlines()
        if "media-bridge source " in line and f':{pid}"' in line
    }
    held = 0
    listing = nodes.ctl(1, "list_channels", "connection", "messages_unacknowledged")
    for line in listing.splitlines():
        connection, _, unacked = line.partition("\t")
        if connection in connections:
            held += int(unacked)
    return held, f"source connections {connections} of pid {pid}; channels:\n{listing}"
