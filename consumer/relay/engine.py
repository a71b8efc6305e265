"""The relay engine: a pool of workers, each receiving one delivery and relaying it, until stop.

``run_relay`` starts ``max_in_flight`` workers. Each worker loops: wait until both gates admit
(see ``consumer.relay.gate``: the sink's closes while publishes fail, the source's while
receives fail), receive one delivery, and hand it to ``consumer.relay.delivery``, which owns the
publish-confirm-then-ack ordering. So at most ``max_in_flight`` deliveries are ever in
progress, and nothing is received while all workers are busy.

Why workers and not a receive loop spawning a task per delivery: a delivery that is already
buffered by the source is then received and relayed by the same task without a hand-off, and
the per-delivery task, semaphore and scope that the loop design needed cost about a fifth of
the engine's CPU per message. It needs sources whose ``receive`` may be awaited by several
tasks at once (the ``Source`` port requires it; the contract suite checks it).

Shutdown order (peers I-B1, I-F1, I-S1): when ``stop`` is set, every pending ``receive`` is
cancelled at once (nothing is received after stop; a delivery that arrived in that same instant
is still relayed), in-flight deliveries get ``grace_period_s`` to finish including their ack,
and whatever is still running after that is cancelled and left unsettled for the source to
redeliver. Nothing is ever re-published on shutdown. ``EndOfSource`` (a finite source) lets
the in-flight deliveries finish and returns. The caller closes the source and the sink.

Health: the ``source_healthy`` / ``sink_healthy`` gauges are read at scrape time from that
side's ``connected`` and its gate, and a side that comes back after being down has its gate
opened at once (``consumer.relay.gate``).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import anyio

from consumer.errors import EndOfSource, SourceUnavailableError
from consumer.metrics import Metrics
from consumer.ports import Delivery, Sink, Source
from consumer.relay.delivery import DeliveryRelay, Outcome
from consumer.relay.gate import Backoff, HealthGate
from consumer.relay.options import RelayOptions

__all__ = ["Outcome", "RelayOptions", "run_relay"]

log = logging.getLogger("media_bridge.relay")

LINK_POLL_S = 0.1  # how often the relay looks for a side that came back


async def run_relay(
    source: Source,
    sink: Sink,
    options: RelayOptions,
    *,
    metrics: Metrics | None = None,
    stop: anyio.Event | None = None,
) -> None:
    """Relay deliveries from ``source`` to ``sink`` until ``stop`` is set or the source ends.

    Returns normally after a stop or ``EndOfSource``; transient errors never escape.
    """
    metrics = metrics if metrics is not None else Metrics()
    stop = stop if stop is not None else anyio.Event()
    backoff = Backoff(options.backoff_initial_s, options.backoff_max_s, options.backoff_jitter)
    sink_gate, source_gate = HealthGate(backoff), HealthGate(backoff)
    relay = DeliveryRelay(sink=sink, options=options, gate=sink_gate, metrics=metrics)
    # Read at every scrape: a closed link shows at once, whatever the relay is doing.
    metrics.sink_healthy.set_function(lambda: float(sink.connected and sink_gate.healthy))
    metrics.source_healthy.set_function(lambda: float(source.connected and source_gate.healthy))
    pool = _Workers(source, relay, source_gate, metrics)
    async with anyio.create_task_group() as outer:
        outer.start_soon(_cancel_after_grace, stop, options.grace_period_s, outer.cancel_scope)
        async with anyio.create_task_group() as watcher:
            watcher.start_soon(_stop_receiving_on, stop, pool)
            watcher.start_soon(_open_gates_on_reconnect, ((source, source_gate), (sink, sink_gate)))
            async with anyio.create_task_group() as work:
                for _ in range(options.max_in_flight):
                    work.start_soon(pool.work)
            watcher.cancel_scope.cancel()  # every worker returned: nothing left to stop
        outer.cancel_scope.cancel()  # every delivery finished: the grace watcher is not needed
    log.info("relay stopped")


class _Workers:
    """What the workers share; each worker runs :meth:`work`."""

    def __init__(
        self, source: Source, relay: DeliveryRelay, source_gate: HealthGate, metrics: Metrics
    ) -> None:
        self._source = source
        self._relay = relay
        self._source_gate = source_gate
        self._metrics = metrics
        self._receiving: set[anyio.CancelScope] = set()  # one per worker waiting to receive
        self._stopping = False

    def stop_receiving(self, why: str) -> None:
        """No worker receives again; those waiting for a delivery give up now."""
        if not self._stopping:
            self._stopping = True
            log.info("%s; no more deliveries will be received", why)
        for scope in self._receiving:
            scope.cancel()

    async def work(self) -> None:
        """Receive and relay, one delivery at a time, until receiving stops."""
        metrics = self._metrics
        relay = self._relay
        while not self._stopping:
            delivery = await self._receive()
            if delivery is None:
                return
            metrics.in_flight.inc()
            try:
                await relay.relay(delivery)
            finally:
                metrics.in_flight.dec()

    async def _receive(self) -> Delivery | None:
        """The next delivery once both gates admit one; None once receiving has stopped."""
        with anyio.CancelScope() as scope:
            self._receiving.add(scope)
            try:
                return await self._admitted_delivery()
            finally:
                self._receiving.discard(scope)
        return None  # cancelled by stop_receiving (the scope swallowed the cancellation)

    async def _admitted_delivery(self) -> Delivery | None:
        sink_gate, source_gate = self._relay.gate, self._source_gate
        while not self._stopping:
            if not sink_gate.healthy:
                await sink_gate.admit()
            if not source_gate.healthy:
                await source_gate.admit()
            try:
                delivery = await self._source.receive()
            except EndOfSource:
                self.stop_receiving("source exhausted")
                return None
            except SourceUnavailableError as exc:
                self._metrics.receive_failures.inc()
                if source_gate.failed():
                    log.warning(
                        "receive failed; retrying",
                        extra={"error": str(exc), "retry_in_s": source_gate.retry_delay()},
                    )
                continue
            source_gate.succeeded()
            self._metrics.received.inc()
            return delivery
        return None


async def _open_gates_on_reconnect(sides: Sequence[tuple[Source | Sink, HealthGate]]) -> None:
    """Open a side's gate when it comes back (see ``consumer.relay.gate``); polled, because the
    ports expose ``connected`` as state, and ten checks a second cost next to nothing."""
    was_up = [side.connected for side, _ in sides]
    while True:
        await anyio.sleep(LINK_POLL_S)
        for n, (side, gate) in enumerate(sides):
            up = side.connected
            if up and not was_up[n]:
                gate.succeeded()
            was_up[n] = up


async def _stop_receiving_on(stop: anyio.Event, pool: _Workers) -> None:
    await stop.wait()
    pool.stop_receiving("stop requested")


async def _cancel_after_grace(stop: anyio.Event, grace_s: float, scope: anyio.CancelScope) -> None:
    await stop.wait()
    await anyio.sleep(grace_s)
    log.warning("grace period over; cancelling unfinished deliveries (left unacked)")
    scope.cancel()
