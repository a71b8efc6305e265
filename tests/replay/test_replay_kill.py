"""``media-bridge replay`` killed with SIGKILL half-way, then run again: nothing is lost."""

from __future__ import annotations

import signal

import aiormq
import anyio
import anyio.to_thread
import pytest

from tests.integration.bridge import bad_bodies, expected_ids, good_bodies
from tests.integration.broker import admin_channel, queue_state
from tests.parked.support import (
    bridge_command,
    header,
    parking_lot,
    reason_today,
    run_command,
    take_all,
)
from tests.samples import REPO_ROOT

pytestmark = pytest.mark.rabbitmq


async def test_replay_killed_midway_and_run_again_delivers_900_and_keeps_100() -> None:
    good, bad = good_bodies(900), bad_bodies(100)
    bodies = [b for n in range(100) for b in (*good[n * 9 : n * 9 + 9], bad[n])]
    async with parking_lot() as (lot, _):
        await lot.park(bodies, reason="internal_error")
        killed_after = await _kill_replay_once_events_arrive(lot.env(), lot.output, at_least=300)
        # The broker requeues what the killed run held as soon as its connection is gone.
        await _until_nothing_unacked(lot.parking)
        code, out, err = await run_command(lot, "replay")
        events = await take_all(lot.output)
        parked = await take_all(lot.parking)
    assert 300 <= killed_after < 900, "the kill must fall in the middle of the run"
    assert code == 1, err  # 1: some messages are still parked
    assert "still failing, by reason today" in out
    ids = {m.header.properties.message_id for m in events}
    assert ids == expected_ids(good)  # all 900 delivered (some twice: same ids)
    assert sorted(m.body for m in parked) == sorted(bad)  # the 100 kept, once each
    for message in parked:
        assert header(message, "x-park-reason") == reason_today(message.body)
        count = header(message, "x-replay-count")
        assert isinstance(count, int)
        assert count >= 1


async def _kill_replay_once_events_arrive(env: dict[str, str], output: str, at_least: int) -> int:
    """Start a replay, SIGKILL it once ``at_least`` events were published; how many there were
    once it was dead."""
    command = bridge_command("replay")
    async with (
        await anyio.open_process(command, env=env, cwd=REPO_ROOT) as process,
        admin_channel() as admin,
    ):
        with anyio.fail_after(60):
            while await _ready(admin, output) < at_least:
                assert process.returncode is None, "the replay ended before it was killed"
                await anyio.sleep(0.01)
        process.send_signal(signal.SIGKILL)
        await process.wait()
        assert process.returncode == -signal.SIGKILL
        return await _ready(admin, output)


async def _ready(admin: aiormq.Channel, queue: str) -> int:
    declared = await admin.queue_declare(queue, passive=True)
    return int(declared.message_count or 0)


async def _until_nothing_unacked(queue: str) -> None:
    """Poll the broker (rabbitmqctl, off the event loop) until it requeued what was held."""
    with anyio.fail_after(10):
        while (await anyio.to_thread.run_sync(queue_state, queue)).unacked:  # noqa: ASYNC110 - broker state, no event to wait on
            await anyio.sleep(0.1)
