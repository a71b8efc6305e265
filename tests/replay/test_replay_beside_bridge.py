"""``media-bridge replay`` while the bridge runs and parks new bodies into the same queue."""

from __future__ import annotations

from pathlib import Path

import anyio
import anyio.to_thread
import pytest

from tests.integration.bridge import (
    Topology,
    bad_bodies,
    expected_ids,
    good_bodies,
    running_bridge,
    stop_bridge,
)
from tests.integration.broker import put, queue_state, unique
from tests.parked.support import parking_lot, run_command, take_all

pytestmark = pytest.mark.rabbitmq


async def test_replay_beside_a_running_bridge_loses_nothing(tmp_path: Path) -> None:
    parked_good, parked_bad = good_bodies(300), bad_bodies(100)
    fed_good, fed_bad = good_bodies(300), [b + b" fed" for b in bad_bodies(100)]
    async with parking_lot() as (lot, admin):
        topology = Topology(
            source=unique("rp.source"), events=lot.events, parking=lot.parking, output=lot.output
        )
        await admin.queue_declare(topology.source, durable=True)
        try:
            await lot.park([*parked_good, *parked_bad])
            async with running_bridge(topology, tmp_path / "bridge.log") as bridge:
                async with anyio.create_task_group() as group:
                    # The bridge relays and parks while the replay runs.
                    group.start_soon(put, admin, topology.source, [*fed_good, *fed_bad])
                    code, _, err = await run_command(lot, "replay")
                with anyio.fail_after(30):
                    while await anyio.to_thread.run_sync(_busy, topology.source):  # noqa: ASYNC110 - broker state
                        await anyio.sleep(0.1)
                assert await stop_bridge(bridge) == 0
            events = await take_all(lot.output)
            parked = await take_all(lot.parking)
        finally:
            await admin.queue_delete(topology.source)
    assert code == 1, err  # the 100 parked bad bodies are still failing
    ids = {m.header.properties.message_id for m in events}
    assert ids == expected_ids([*parked_good, *fed_good])
    assert sorted(m.body for m in parked) == sorted([*parked_bad, *fed_bad])  # each once


def _busy(queue: str) -> bool:
    """Whether the bridge still has work in ``queue`` (rabbitmqctl: blocking)."""
    state = queue_state(queue)
    return bool(state.ready or state.unacked)
