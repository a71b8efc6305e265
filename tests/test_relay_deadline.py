"""The relay honours a source's deadline (CMQ lease end, VOD confirm window): it does not start a
delivery it could no longer ack in time, and does not take a deadline miss for a sink failure."""

from __future__ import annotations

import anyio

from adapters.memory import MemorySink, MemorySource
from consumer.metrics import Metrics
from consumer.relay import RelayOptions, run_relay
from tests.relay_support import NEW_FILE_UPLOAD, PROCEDURE_FINISHED, event_ids, wait_until

OPTIONS = RelayOptions(
    max_in_flight=4,
    confirm_timeout_s=5.0,
    backoff_initial_s=0.01,
    backoff_max_s=0.05,
    grace_period_s=0.5,
    settle_timeout_s=0.5,
    deadline_margin_s=0.2,
)


def retried(metrics: Metrics, cause: str) -> float:
    value = metrics.registry.get_sample_value(
        "media_bridge_deliveries_retried_total", {"cause": cause}
    )
    return value or 0.0


async def test_delivery_inside_the_margin_is_not_published_and_left_for_redelivery() -> None:
    """A lease shorter than the margin can never be acked in time: nothing is published, the
    delivery goes back untouched, and the sink is not blamed."""
    source = MemorySource([NEW_FILE_UPLOAD], lease_s=0.1)
    sink = MemorySink()
    metrics = Metrics()
    stop = anyio.Event()
    async with anyio.create_task_group() as group:
        group.start_soon(lambda: run_relay(source, sink, OPTIONS, metrics=metrics, stop=stop))
        await wait_until(lambda: retried(metrics, "deadline") >= 3)
        stop.set()
    assert sink.published == []
    assert source.acked == []
    assert len(source.nacked) >= 3
    assert metrics.registry.get_sample_value("media_bridge_sink_healthy") == 1


async def test_publish_cut_off_by_the_deadline_is_not_acked_late_and_not_a_sink_failure() -> None:
    """A confirm held past the deadline minus the margin: the relay stops waiting before the
    lease ends (instead of after confirm_timeout_s), does not ack, and leaves the sink gate
    open. When the sink confirms promptly again, the redelivery is relayed and acked."""
    source = MemorySource([PROCEDURE_FINISHED], lease_s=0.6)
    sink = MemorySink(block=True)
    metrics = Metrics()
    stop = anyio.Event()
    with anyio.fail_after(4):  # far less than confirm_timeout_s: the deadline cut it short
        async with anyio.create_task_group() as group:
            group.start_soon(lambda: run_relay(source, sink, OPTIONS, metrics=metrics, stop=stop))
            await wait_until(lambda: retried(metrics, "deadline") >= 1, timeout_s=3)
            assert metrics.registry.get_sample_value("media_bridge_sink_healthy") == 1
            assert source.acked == []
            sink.release()
            await wait_until(lambda: len(source.acked) == 1, timeout_s=3)
            stop.set()
    assert source.queue.late_acks == 0
    assert {m.message_id for m in sink.published} == set(event_ids(PROCEDURE_FINISHED))


async def test_deliveries_without_a_deadline_are_unaffected() -> None:
    """RabbitMQ deliveries carry no deadline: the margin never applies to them."""
    source = MemorySource([NEW_FILE_UPLOAD], finite=True)
    sink = MemorySink()
    metrics = Metrics()
    with anyio.fail_after(5):
        await run_relay(source, sink, OPTIONS, metrics=metrics)
    assert len(source.acked) == 1
    assert retried(metrics, "deadline") == 0
