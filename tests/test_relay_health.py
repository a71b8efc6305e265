"""The health gauges follow each side's connection at once, and a side that comes back is used
again at once, whether or not a message arrives (memory adapters, no broker)."""

from __future__ import annotations

import anyio

from adapters.memory import MemorySink, MemorySource
from consumer.metrics import Metrics
from consumer.relay import RelayOptions, run_relay
from tests.relay_support import NEW_FILE_UPLOAD, wait_until

# A back-off far longer than any wait below: whatever recovers here did not wait for a probe.
SLOW_BACKOFF = RelayOptions(
    max_in_flight=4, backoff_initial_s=30, backoff_max_s=30, backoff_jitter=0, grace_period_s=0
)


def gauge(metrics: Metrics, name: str) -> float | None:
    return metrics.registry.get_sample_value(f"media_bridge_{name}_healthy")


async def test_gauges_drop_the_moment_a_side_goes_down_without_any_traffic() -> None:
    """No delivery and no publish happens, yet each gauge reads 0 as soon as its side is down."""
    metrics, source, sink = Metrics(), MemorySource(), MemorySink()
    stop = anyio.Event()
    async with anyio.create_task_group() as group:
        group.start_soon(lambda: run_relay(source, sink, SLOW_BACKOFF, metrics=metrics, stop=stop))
        sink.set_down()
        await wait_until(lambda: gauge(metrics, "sink") == 0)  # once the relay reads them
        sink_down = gauge(metrics, "sink"), gauge(metrics, "source")
        source.set_down()
        both_down = gauge(metrics, "sink"), gauge(metrics, "source")
        sink.set_up()
        source.set_up()
        both_up = gauge(metrics, "sink"), gauge(metrics, "source")
        stop.set()
    assert sink_down == (0, 1)
    assert both_down == (0, 0)
    assert both_up == (1, 1)


async def test_idle_source_back_from_an_outage_reads_healthy_without_a_message() -> None:
    """Receives failed during the outage (the source gate closed, next probe in 30 s); once the
    source is connected again its gauge is 1 within a second on an empty queue."""
    metrics, source = Metrics(), MemorySource(down=True)
    stop = anyio.Event()
    async with anyio.create_task_group() as group:
        group.start_soon(
            lambda: run_relay(source, MemorySink(), SLOW_BACKOFF, metrics=metrics, stop=stop)
        )
        failures = "media_bridge_receive_failures_total"
        await wait_until(lambda: (metrics.registry.get_sample_value(failures) or 0) >= 1)
        source.set_up()
        with anyio.fail_after(1):
            await wait_until(lambda: gauge(metrics, "source") == 1)
        stop.set()
    assert source.queue.leased == 0


async def test_sink_back_from_an_outage_takes_deliveries_at_once_not_after_the_backoff() -> None:
    """A publish failed while the sink was down (its gate closed for 30 s); when the sink is
    connected again, the next message is relayed within a second."""
    metrics, source, sink = Metrics(), MemorySource([NEW_FILE_UPLOAD]), MemorySink(down=True)
    stop = anyio.Event()
    async with anyio.create_task_group() as group:
        group.start_soon(lambda: run_relay(source, sink, SLOW_BACKOFF, metrics=metrics, stop=stop))
        await wait_until(lambda: sink.attempts >= 1)
        sink.set_up()
        healthy_again = anyio.current_time()
        await wait_until(lambda: gauge(metrics, "sink") == 1, timeout_s=1)
        source.queue.put(NEW_FILE_UPLOAD)
        await wait_until(lambda: len(source.acked) == 1, timeout_s=1)
        relayed_after = anyio.current_time() - healthy_again
        stop.set()
    assert relayed_after < 1
