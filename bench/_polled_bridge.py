"""What the CMQ, VOD and HTTP benchmark bridges share: relay until a signal, then close both ends.

Each bridge (``bench._cmq_bridge``, ``bench._vod_bridge``, ``bench._http_bridge``) builds its
source and calls :func:`relay_until_stopped`, which sets the garbage collector up as
``media-bridge run`` does once connected (so does the RabbitMQ bridge it is compared with,
``bench._bridges``), prints ``ready`` (the parent starts its clock on it), runs ``run_relay``
until SIGTERM/SIGINT and closes the source, then the sink.

With ``BENCH_PROFILE=PATH`` in its environment the bridge runs under cProfile and writes the
stats to PATH at the end (read them with ``python -m pstats PATH``): where a bridge's CPU per
event goes, measured in the process the benchmark measures.
"""

from __future__ import annotations

import cProfile
import os
import signal

import anyio

from adapters.rabbitmq import RabbitSink
from consumer.commands.run import tune_garbage_collector
from consumer.metrics import Metrics
from consumer.ports import Source
from consumer.relay import RelayOptions, run_relay


async def _wait_for_signal(stop: anyio.Event) -> None:
    with anyio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
        async for _ in signals:
            stop.set()
            return


async def relay_until_stopped(
    source: Source,
    sink: RabbitSink,
    max_in_flight: int,
    *,
    metrics: Metrics | None = None,
    ready_line: str = "ready",
) -> None:
    """Relay until a signal (see the module doc); ``ready_line`` is what it prints first."""
    stop = anyio.Event()
    tune_garbage_collector()
    profile_to = os.environ.get("BENCH_PROFILE")
    profiler = cProfile.Profile() if profile_to else None
    async with anyio.create_task_group() as group:
        group.start_soon(_wait_for_signal, stop)
        print(ready_line, flush=True)
        if profiler is not None:
            profiler.enable()
        options = RelayOptions(max_in_flight=max_in_flight)
        await run_relay(source, sink, options, metrics=metrics, stop=stop)
        group.cancel_scope.cancel()
    if profiler is not None and profile_to:
        profiler.disable()
        profiler.dump_stats(profile_to)
    await source.aclose()
    await sink.aclose()
