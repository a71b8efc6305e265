"""The replay engine with the real RabbitMQ adapters: what is delivered, re-parked, left alone."""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import aiormq
import orjson
import pytest

from adapters.rabbitmq import RabbitSink, RabbitSinkOptions
from consumer.normalize import normalize
from consumer.outbound import event_message
from consumer.parked_filter import ParkedFilter
from consumer.ports import OutboundMessage, Sink
from consumer.reparking import reparked_message
from consumer.replay import Outcome, Replayed, ReplayOptions, ReplayReport, replay
from tests.integration.bridge import bad_bodies, expected_ids, good_bodies
from tests.integration.broker import unique
from tests.parked.support import (
    ParkingLot,
    header,
    parking_lot,
    peek,
    reason_today,
    routing_key,
    take_all,
)

pytestmark = pytest.mark.rabbitmq


@asynccontextmanager
async def opened_sink(options: RabbitSinkOptions) -> AsyncIterator[Sink]:
    sink = await RabbitSink.connect(options)
    try:
        yield sink
    finally:
        await sink.aclose()


async def run_replay(
    lot: ParkingLot, options: ReplayOptions, queue: str | None = None
) -> tuple[ReplayReport, list[Replayed]]:
    seen: list[Replayed] = []
    reader = await lot.reader(queue)
    try:
        async with opened_sink(lot.sink_options()) as sink:
            report = await replay(reader, sink, options, seen.append)
    finally:
        await reader.aclose()
    return report, seen


async def test_1000_parked_of_which_100_still_fail() -> None:
    """900 bodies become events (confirmed, then removed); 100 are parked again with today's
    reason and replay count 1; nothing else is left and nothing is lost."""
    good, bad = good_bodies(900), bad_bodies(100)
    bodies = [b for n in range(100) for b in (*good[n * 9 : n * 9 + 9], bad[n])]
    async with parking_lot() as (lot, _):
        await lot.park(bodies, reason="internal_error")
        report, seen = await run_replay(lot, ReplayOptions())
        events = await take_all(lot.output)
        parked = await take_all(lot.parking)
    assert report.outcomes == Counter({Outcome.DELIVERED: 900, Outcome.STILL_PARKED: 100})
    assert (report.events_published, report.looked_at, report.stopped_by) == (900, 1000, None)
    assert [r.held.position for r in seen] == list(range(1, 1001))
    ids = [m.header.properties.message_id for m in events]
    assert len(ids) == 900
    assert set(ids) == expected_ids(good)
    assert sorted(m.body for m in parked) == sorted(bad)
    for message in parked:
        today = reason_today(message.body)
        assert header(message, "x-park-reason") == today
        assert routing_key(message) == today
        assert header(message, "x-replay-count") == 1
        assert header(message, "x-source") == "cmq:q"  # the original headers are kept
        assert not str(header(message, "x-park-detail")).startswith("test parking")  # today's


async def test_messages_that_do_not_match_stay_in_place_in_order() -> None:
    """--reason replays only that reason; the rest keep their order, ahead of the new copies."""
    good, bad = good_bodies(6), bad_bodies(6)
    async with parking_lot() as (lot, _):
        await lot.park(good[:3], reason="unknown_format")
        await lot.park(bad[:3], reason="not_json")
        await lot.park([*good[3:], *bad[3:]], reason="unknown_format")
        select = ParkedFilter(reasons=frozenset({"unknown_format"}))
        report, _ = await run_replay(lot, ReplayOptions(select=select))
        left = await peek(lot.parking)
    assert report.outcomes == Counter({Outcome.DELIVERED: 6, Outcome.STILL_PARKED: 3})
    assert [m.body for m in left] == [*bad[:3], *bad[3:]]
    assert [header(m, "x-replay-count") for m in left] == [None] * 3 + [1] * 3


async def test_dry_run_publishes_and_removes_nothing() -> None:
    bodies = [*good_bodies(3), *bad_bodies(2)]
    async with parking_lot() as (lot, _):
        await lot.park(bodies)
        report, seen = await run_replay(lot, ReplayOptions(dry_run=True))
        left, events = await peek(lot.parking), await peek(lot.output)
    assert [r.outcome for r in seen] == [Outcome.WOULD_DELIVER] * 3 + [Outcome.WOULD_STAY_PARKED] * 2
    assert report.events_published == 0
    assert [m.body for m in left] == bodies
    assert [header(m, "x-replay-count") for m in left] == [None] * 5
    assert events == []


async def test_limit_and_task_id_replay_only_what_is_asked() -> None:
    good = good_bodies(5)
    task_id = orjson.loads(good[3])["ProcedureStateChangeEvent"]["TaskId"]
    async with parking_lot() as (lot, _):
        await lot.park(good)
        by_task, seen = await run_replay(lot, ReplayOptions(select=ParkedFilter(task_id=task_id)))
        limited, _ = await run_replay(lot, ReplayOptions(limit=2))
        left = await peek(lot.parking)
    assert [r.held.message.body for r in seen] == [good[3]]
    assert [r.task_id_by for r in seen] == ["event"]
    assert (by_task.outcomes[Outcome.DELIVERED], limited.outcomes[Outcome.DELIVERED]) == (1, 2)
    assert [m.body for m in left] == [good[2], good[4]]


async def test_a_copy_left_by_a_crash_is_not_parked_twice() -> None:
    """A run killed between the copy's confirm and the removal leaves both; the next run keeps one."""
    bad = bad_bodies(3)
    async with parking_lot() as (lot, _admin):
        await lot.park(bad, reason="unknown_format")
        original = (await peek(lot.parking))[1]
        async with opened_sink(lot.sink_options()) as sink:  # what the crashed run confirmed
            reader = await lot.reader()
            try:
                held = [await reader.take() for _ in range(2)][1]
                assert held is not None
                crashed_copy = reparked_message(
                    held.message, "not_json", "from a run that died", queue=lot.parking,
                    run_id="crashed-run",
                )
                await sink.publish(crashed_copy)
            finally:
                await reader.aclose()  # died before removing the original: it goes back
        report, seen = await run_replay(lot, ReplayOptions())
        left = await take_all(lot.parking)
    assert original.body == bad[1]
    assert [r.outcome for r in seen] == [Outcome.STILL_PARKED] * 3 + [Outcome.DUPLICATE_REMOVED]
    assert sorted(m.body for m in left) == sorted(bad)
    assert report.outcomes[Outcome.DUPLICATE_REMOVED] == 1
    assert sum(report.still_failing.values()) == 3  # the duplicate is not counted twice


async def test_unrouted_events_are_published_again_as_they_were() -> None:
    """A queue of CloudEvents (what an alternate exchange keeps): replayed as is; one that is
    still unroutable is parked with reason unroutable, and delivered once a queue is bound."""
    events = [event_message(item) for body in good_bodies(2) for item in normalize(body)]
    unrouted = unique("rp.unrouted")
    async with parking_lot() as (lot, admin):
        await admin.queue_declare(unrouted, durable=True)
        try:
            await _put_events(admin, unrouted, events)
            report, _ = await run_replay(lot, ReplayOptions(), queue=unrouted)
            delivered = await take_all(lot.output)
            # Nothing bound to the events exchange: the replay can't route it, so parks it.
            await admin.queue_unbind(lot.output, lot.events, routing_key="#")
            await _put_events(admin, unrouted, events[:1])
            stuck, _ = await run_replay(lot, ReplayOptions(), queue=unrouted)
            await admin.queue_bind(lot.output, lot.events, routing_key="#")
            again, _ = await run_replay(lot, ReplayOptions())  # from the parking queue
            redelivered = await take_all(lot.output)
        finally:
            await admin.queue_delete(unrouted)
    assert report.outcomes == Counter({Outcome.DELIVERED: 2})
    assert [m.body for m in delivered] == [e.body for e in events]
    assert [m.header.properties.message_id for m in delivered] == [e.message_id for e in events]
    assert [routing_key(m) for m in delivered] == [e.routing_key for e in events]
    assert dict(stuck.still_failing) == {"unroutable": 1}
    assert again.outcomes == Counter({Outcome.DELIVERED: 1})
    assert [m.body for m in redelivered] == [events[0].body]


async def _put_events(admin: aiormq.Channel, queue: str, events: list[OutboundMessage]) -> None:
    """Publish the events straight to ``queue`` with their AMQP properties, as an alternate
    exchange would have kept them."""
    for event in events:
        properties = aiormq.spec.Basic.Properties(
            content_type=event.content_type,
            message_id=event.message_id,
            message_type=event.type,
            headers=dict(event.headers),
            delivery_mode=2,
        )
        await admin.basic_publish(event.body, routing_key=queue, properties=properties)
