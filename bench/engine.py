"""Benchmark: CPU cost of the core per message, without any broker (memory adapters).

    .venv/bin/python -m bench.engine [--messages 20000] [--profile]

Separates what the core costs from what the AMQP adapters cost: normalize() alone, the
outbound message build alone, and the whole relay engine (MemorySource -> run_relay ->
MemorySink) on the same ~4.3 KB ProcedureStateChanged bodies the relay benchmark uses.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import time

import anyio

from adapters.memory import MemorySink, MemorySource
from bench._payload import PayloadFactory
from consumer.commands.run import tune_garbage_collector
from consumer.normalize import normalize
from consumer.outbound import event_message
from consumer.ports import OutboundMessage
from consumer.relay import RelayOptions, run_relay


def _cpu_us_per(count: int, started: float) -> float:
    return (time.process_time() - started) * 1e6 / count


class _ForgetfulSink(MemorySink):
    """A MemorySink that counts what it confirmed and drops it, as a broker-backed sink does:
    20,000 kept events (~180 MB) would bill the heap's growth to the engine."""

    confirmed = 0

    async def publish(self, message: OutboundMessage) -> None:
        await super().publish(message)
        self.confirmed += 1
        self.published.clear()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument(
        "--profile", action="store_true", help="print the top functions of the engine run"
    )
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    factory = PayloadFactory()
    bodies = [factory.body(n, "engine") for n in range(args.messages)]

    # The bodies live for the whole run: frozen out of every GC pass, as the bridge's start-up is.
    tune_garbage_collector()
    # Results are dropped at once, as in the relay: keeping thousands alive would bill the
    # garbage collector's work to the stage being measured.
    started = time.process_time()
    for body in bodies:
        normalize(body)
    normalize_us = _cpu_us_per(len(bodies), started)

    sample = [normalize(body) for body in bodies[:100]]
    started = time.process_time()
    for _ in range(len(bodies) // len(sample)):
        for items in sample:
            for item in items:
                event_message(item)
    outbound_us = _cpu_us_per(len(bodies), started)

    source = MemorySource(bodies, finite=True)
    sink = _ForgetfulSink()
    profiler = cProfile.Profile() if args.profile else None
    started = time.process_time()
    if profiler:
        profiler.enable()
    anyio.run(run_relay, source, sink, RelayOptions(max_in_flight=64))
    if profiler:
        profiler.disable()
    engine_us = _cpu_us_per(len(bodies), started)
    assert sink.confirmed == len(bodies), "every body should become one published event"

    print(f"{args.messages} bodies of {len(bodies[0])} B, one core, CPU time per message")
    print(f"  normalize()                        {normalize_us:8.1f} us")
    print(f"  event_message()                    {outbound_us:8.1f} us")
    print(f"  run_relay (memory source and sink) {engine_us:8.1f} us  (includes the two above)")
    print(f"  engine overhead                    {engine_us - normalize_us - outbound_us:8.1f} us")
    if profiler:
        pstats.Stats(profiler).sort_stats("tottime").print_stats(25)


if __name__ == "__main__":
    main()
