"""The relay's flow control: in-flight limit, backpressure while the sink is down, stop, cancel."""

from __future__ import annotations

import anyio

from adapters.memory import MemoryDelivery, MemorySink, MemorySource
from consumer.metrics import Metrics
from consumer.ports import DeliveryInfo
from consumer.relay import RelayOptions, run_relay
from tests.relay_support import NEW_FILE_UPLOAD, PROCEDURE_FINISHED, wait_until

BODIES = [NEW_FILE_UPLOAD, PROCEDURE_FINISHED] * 5  # ten deliveries


async def test_in_flight_never_exceeds_limit() -> None:
    """With max_in_flight deliveries unconfirmed the relay receives nothing more."""
    source = MemorySource(BODIES, finite=True)
    sink = MemorySink(block=True)
    options = RelayOptions(max_in_flight=3)
    async with anyio.create_task_group() as group:
        group.start_soon(run_relay, source, sink, options)
        await wait_until(lambda: sink.waiting == 3)
        await anyio.sleep(0.05)
        assert (sink.waiting, source.queue.leased, source.queue.ready) == (3, 3, 7)
        sink.release()
    assert len(source.acked) == 10
    assert sink.max_concurrent == 3


async def test_relay_stops_receiving_while_sink_is_down_and_resumes() -> None:
    """While the sink fails the relay only probes it (one delivery per back-off), then recovers."""
    metrics = Metrics()
    source = MemorySource(BODIES * 2, finite=True)
    sink = MemorySink(down=True)
    options = RelayOptions(
        max_in_flight=4, backoff_initial_s=0.1, backoff_max_s=0.1, backoff_jitter=0
    )
    async with anyio.create_task_group() as group:
        group.start_soon(lambda: run_relay(source, sink, options, metrics=metrics))
        await wait_until(
            lambda: metrics.registry.get_sample_value("media_bridge_sink_healthy") == 0
        )
        await anyio.sleep(0.5)
        # an ungated relay would have taken 4 + 4 * 5 deliveries by now; probes take 1 per 0.1 s
        received = metrics.registry.get_sample_value("media_bridge_deliveries_received_total")
        assert received is not None
        assert received <= 4 + 6
        assert source.acked == []
        sink.set_up()
    assert sorted(source.acked) == sorted(f"m{n}" for n in range(1, 21))
    assert metrics.registry.get_sample_value("media_bridge_sink_healthy") == 1


async def test_stop_drains_in_flight_within_grace_then_returns() -> None:
    """On stop nothing more is received, in-flight deliveries finish and are acked, run returns."""
    stop = anyio.Event()
    source = MemorySource(BODIES)  # an endless queue: only stop ends the relay
    sink = MemorySink(block=True)
    options = RelayOptions(max_in_flight=2, grace_period_s=1.0)
    with anyio.fail_after(2):
        async with anyio.create_task_group() as group:
            group.start_soon(lambda: run_relay(source, sink, options, stop=stop))
            await wait_until(lambda: sink.waiting == 2)
            stop.set()
            await anyio.sleep(0.05)
            sink.release()
    assert sorted(source.acked) == ["m1", "m2"]
    assert source.queue.ready == 8


async def test_stop_leaves_unconfirmed_deliveries_unsettled_after_grace() -> None:
    """Deliveries still unconfirmed when the grace period ends are neither acked nor nacked."""
    stop = anyio.Event()
    source = MemorySource([NEW_FILE_UPLOAD])
    sink = MemorySink(block=True)
    options = RelayOptions(grace_period_s=0.1)
    with anyio.fail_after(1):
        async with anyio.create_task_group() as group:
            group.start_soon(lambda: run_relay(source, sink, options, stop=stop))
            await wait_until(lambda: sink.waiting == 1)
            stop.set()
    assert (source.acked, source.nacked, source.queue.leased) == ([], [], 1)
    await source.aclose()
    assert source.queue.ready == 1  # given back for redelivery


async def test_cancelled_before_confirm_neither_acks_nor_nacks() -> None:
    """Cancelling the relay while a publish is unconfirmed settles nothing."""
    source = MemorySource([NEW_FILE_UPLOAD])
    sink = MemorySink(block=True)
    async with anyio.create_task_group() as group:
        group.start_soon(run_relay, source, sink, RelayOptions())
        await wait_until(lambda: sink.waiting == 1)
        group.cancel_scope.cancel()
    assert (source.acked, source.nacked) == ([], [])


class _SlowAckDelivery:
    """A memory delivery whose ack takes 0.1 s to reach the source (a slow broker)."""

    def __init__(self, inner: MemoryDelivery, acking: anyio.Event) -> None:
        self._inner = inner
        self._acking = acking

    @property
    def body(self) -> bytes:
        return self._inner.body

    @property
    def decoded(self) -> object:
        return self._inner.decoded

    @property
    def info(self) -> DeliveryInfo:
        return self._inner.info

    async def ack(self) -> None:
        self._acking.set()
        await anyio.sleep(0.1)
        await self._inner.ack()

    async def nack(self) -> None:
        await self._inner.nack()


class _SlowAckSource:
    def __init__(self, inner: MemorySource) -> None:
        self.inner = inner
        self.acking = anyio.Event()

    @property
    def connected(self) -> bool:
        return self.inner.connected

    async def receive(self) -> _SlowAckDelivery:
        return _SlowAckDelivery(await self.inner.receive(), self.acking)

    async def aclose(self) -> None:
        await self.inner.aclose()


async def test_ack_after_confirm_survives_cancellation() -> None:
    """Once every event is confirmed, cancelling the relay does not lose the ack."""
    source = _SlowAckSource(MemorySource([NEW_FILE_UPLOAD]))
    async with anyio.create_task_group() as group:
        group.start_soon(run_relay, source, MemorySink(), RelayOptions())
        await source.acking.wait()
        group.cancel_scope.cancel()
    assert source.inner.acked == ["m1"]
