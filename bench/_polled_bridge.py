"""What the CMQ and VOD benchmark bridges share: relay until a signal, then close both ends.

Each bridge (``bench._cmq_bridge``, ``bench._vod_bridge``) builds its source and calls
:func:`relay_until_stopped`, which prints ``ready`` (the parent starts its clock on it), runs
``run_relay`` until SIGTERM/SIGINT and closes the source, then the sink.
"""

from __future__ import annotations

import signal

import anyio

from adapters.rabbitmq import RabbitSink
from consumer.ports import Source
from consumer.relay import RelayOptions, run_relay


async def _wait_for_signal(stop: anyio.Event) -> None:
    with anyio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
        async for _ in signals:
            stop.set()
            return


async def relay_until_stopped(source: Source, sink: RabbitSink, max_in_flight: int) -> None:
    stop = anyio.Event()
    async with anyio.create_task_group() as group:
        group.start_soon(_wait_for_signal, stop)
        print("ready", flush=True)
        await run_relay(source, sink, RelayOptions(max_in_flight=max_in_flight), stop=stop)
        group.cancel_scope.cancel()
    await source.aclose()
    await sink.aclose()
