"""The relay engine: receive deliveries, relay each one, stop cleanly.

``run_relay`` keeps at most ``max_in_flight`` deliveries in progress (it does not receive while
full), holds off receiving while the sink is failing (see ``consumer.relay_gate``), backs off
and retries when the source can't be read, and hands each delivery to
``consumer.relay_delivery`` which owns the publish-confirm-then-ack ordering.

Shutdown order (peers I-B1, I-F1, I-S1): when ``stop`` is set the pending ``receive`` is
cancelled at once (nothing is received after stop), in-flight deliveries get
``grace_period_s`` to finish including their ack, and whatever is still running after that is
cancelled and left unsettled for the source to redeliver. Nothing is ever re-published on
shutdown. ``EndOfSource`` (a finite source) drains in-flight deliveries and returns.
The caller closes the source and the sink afterwards.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

import anyio
from anyio.abc import TaskGroup

from consumer.errors import EndOfSource, SourceUnavailableError
from consumer.metrics import Metrics
from consumer.ports import Delivery, Sink, Source
from consumer.relay_delivery import DeliveryRelay, Outcome
from consumer.relay_gate import Backoff, SinkGate
from consumer.relay_options import RelayOptions

__all__ = ["Outcome", "RelayOptions", "run_relay"]

log = logging.getLogger("media_bridge.relay")


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
    relay = DeliveryRelay(
        sink=sink,
        options=options,
        gate=SinkGate(backoff, metrics),
        metrics=metrics,
    )
    loop = _ReceiveLoop(source, relay, backoff, metrics, anyio.Semaphore(options.max_in_flight))
    async with anyio.create_task_group() as outer:
        outer.start_soon(_cancel_after_grace, stop, options.grace_period_s, outer.cancel_scope)
        async with anyio.create_task_group() as work:
            await _run_until(stop, loop.run, work)
            log.info("receiving stopped; draining in-flight deliveries")
        outer.cancel_scope.cancel()  # every delivery finished: the grace watcher is not needed
    log.info("relay stopped")


class _ReceiveLoop:
    def __init__(
        self,
        source: Source,
        relay: DeliveryRelay,
        backoff: Backoff,
        metrics: Metrics,
        slots: anyio.Semaphore,
    ) -> None:
        self._source = source
        self._relay = relay
        self._backoff = backoff
        self._metrics = metrics
        self._slots = slots

    async def run(self, work: TaskGroup) -> None:
        """Receive until ``EndOfSource``; each delivery runs in ``work`` holding one slot."""
        while True:
            try:
                # Awaiting acquire() always yields to the loop, so a ready backlog would be
                # dispatched one delivery per loop turn; take a free slot without yielding.
                self._slots.acquire_nowait()
            except anyio.WouldBlock:
                await self._slots.acquire()
            handed_off = False
            try:
                delivery = await self._next()
                if delivery is None:
                    return
                work.start_soon(self._relay_one, delivery)
                handed_off = True
            finally:
                if not handed_off:
                    self._slots.release()

    async def _next(self) -> Delivery | None:
        """The next delivery once the sink gate admits one; ``None`` at the end of the source."""
        failures = 0
        while True:
            await self._relay.gate.admit()
            try:
                delivery = await self._source.receive()
            except EndOfSource:
                log.info("source exhausted")
                return None
            except SourceUnavailableError as exc:
                failures += 1
                delay = self._backoff.delay(failures)
                self._metrics.receive_failures.inc()
                log.warning(
                    "receive failed; retrying",
                    extra={"error": str(exc), "attempt": failures, "retry_in_s": delay},
                )
                await anyio.sleep(delay)
                continue
            self._metrics.received.inc()
            return delivery

    async def _relay_one(self, delivery: Delivery) -> None:
        self._metrics.in_flight.inc()
        try:
            await self._relay.relay(delivery)
        finally:
            self._metrics.in_flight.dec()
            self._slots.release()


async def _run_until(
    stop: anyio.Event, loop: Callable[[TaskGroup], Awaitable[None]], work: TaskGroup
) -> None:
    """Run ``loop(work)`` until it returns or ``stop`` is set (which cancels it)."""
    async with anyio.create_task_group() as group:

        async def watch() -> None:
            await stop.wait()
            log.info("stop requested; no more deliveries will be received")
            group.cancel_scope.cancel()

        group.start_soon(watch)
        await loop(work)
        group.cancel_scope.cancel()


async def _cancel_after_grace(stop: anyio.Event, grace_s: float, scope: anyio.CancelScope) -> None:
    await stop.wait()
    await anyio.sleep(grace_s)
    log.warning("grace period over; cancelling unfinished deliveries (left unacked)")
    scope.cancel()
