"""``media-bridge replay`` as a process: exit status, output, and what it leaves alone."""

from __future__ import annotations

import pytest

from consumer.outbound import TOO_MANY_DELIVERIES_REASON
from tests.integration.bridge import bad_bodies, expected_ids, good_bodies
from tests.parked.support import header, parking_lot, peek, run_command, take_all

pytestmark = pytest.mark.rabbitmq


async def test_replay_leaves_too_many_deliveries_alone_unless_named() -> None:
    """A body the poison cap parked may crash whatever normalizes it: only an explicit
    --reason too_many_deliveries replays it."""
    good = good_bodies(3)
    async with parking_lot() as (lot, _):
        await lot.park(good[:1], reason=TOO_MANY_DELIVERIES_REASON)
        await lot.park(good[1:], reason="internal_error")
        code, out, err = await run_command(lot, "replay")
        left = [m.body for m in await peek(lot.parking)]
        named = await run_command(lot, "replay", "--reason", TOO_MANY_DELIVERIES_REASON)
        events = await take_all(lot.output)
        rest = await peek(lot.parking)
    assert code == 0, err
    assert out.splitlines()[:2] == [
        "#2 delivered: 1 event (was internal_error, replays 0)",
        "#3 delivered: 1 event (was internal_error, replays 0)",
    ]
    assert "1 too_many_deliveries message(s) left alone" in out
    assert left == good[:1]
    assert named[0] == 0, named[2]
    assert {m.header.properties.message_id for m in events} == expected_ids(good)
    assert rest == []


async def test_dry_run_exits_1_when_something_would_stay_parked_and_changes_nothing() -> None:
    bodies = [*good_bodies(2), *bad_bodies(1)]
    async with parking_lot() as (lot, _):
        await lot.park(bodies)
        code, out, err = await run_command(lot, "replay", "--dry-run")
        left = await peek(lot.parking)
        events = await peek(lot.output)
    assert code == 1, err
    assert out.count("would deliver: 1 event") == 2
    assert "#3 would stay parked: not_json" in out
    assert [m.body for m in left] == bodies
    assert [header(m, "x-replay-count") for m in left] == [None] * 3
    assert events == []


async def test_replay_of_a_missing_queue_exits_78() -> None:
    async with parking_lot() as (lot, _):
        code, _, err = await run_command(lot, "replay", "--queue", lot.parking + ".nope")
    assert code == 78
    assert "does not exist" in err
