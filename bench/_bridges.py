"""The two bridges the benchmark compares, each run alone in a child process.

    python -m bench._bridges {baseline,minimal,relay,adapters} --url URL --source Q --exchange EX [--prefetch N]

Prints ``ready`` on stdout once consuming, then runs until SIGTERM/SIGINT. The parent measures
this process from the outside (/proc CPU time and RSS), so nothing here counts or times.

Without ``--prefetch`` the relay (and ``adapters``) run on the relay's defaults, read from the
settings models as ``media-bridge run`` reads them (:func:`relay_defaults`), so a benchmark of
"the defaults" follows them when they change; the aio-pika bridges use
:data:`BASELINE_PREFETCH`. ``--prefetch N`` sets both the source prefetch and
``relay.max_in_flight`` to N.

* ``baseline``: an idiomatic hand-written aio-pika bridge (robust connections, prefetch,
  ``json.loads``, ``Exchange.publish`` with confirms, ``message.ack()`` after the confirm; aio-pika
  runs one callback task per delivery, so it is concurrent up to the prefetch).
* ``minimal``: the same with one connection and ``async with message.process()``, the
  shortest correct aio-pika bridge; not run by default (it measured the same as ``baseline``).
* ``relay``: ours: ``RabbitSource`` → ``run_relay`` → ``RabbitSink``.
* ``adapters``: the baseline's work (``json.loads``, pass the body through) on our adapters,
  without normalize or the relay engine: what ``RabbitSource``/``RabbitSink`` cost by themselves.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import signal
import sys

import aio_pika
import anyio
from aio_pika.abc import AbstractIncomingMessage

from adapters.rabbitmq import RabbitSink, RabbitSinkOptions, RabbitSource, RabbitSourceOptions
from adapters.rabbitmq_queue_types import QueueType
from consumer.commands.run import tune_garbage_collector
from consumer.ports import Delivery, Destination, OutboundMessage
from consumer.relay import RelayOptions, run_relay
from consumer.settings.model import RelaySettings, SinkSettings
from consumer.settings.sources import RabbitSourceSettings

BASELINE_PREFETCH = 64  # the hand-written bridges' prefetch when none is given


def relay_defaults() -> tuple[RelayOptions, int]:
    """The relay's options and the RabbitMQ source prefetch with every setting at its default."""
    options = RelaySettings().options(SinkSettings().confirm_timeout_s)
    return options, RabbitSourceSettings().prefetch_for(options.max_in_flight)


def _relay_setup(prefetch: int | None) -> tuple[RelayOptions, int]:
    """(relay options, source prefetch): the defaults, or ``prefetch`` for both limits."""
    options, source_prefetch = relay_defaults()
    if prefetch is None:
        return options, source_prefetch
    return dataclasses.replace(options, max_in_flight=prefetch), prefetch


async def _wait_for_signal() -> None:
    with anyio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
        async for _ in signals:
            return


def _ready() -> None:
    print("ready", flush=True)


async def run_baseline(args: argparse.Namespace) -> None:
    consume_conn = await aio_pika.connect_robust(args.url)
    publish_conn = await aio_pika.connect_robust(args.url)
    channel = await consume_conn.channel()
    await channel.set_qos(prefetch_count=args.prefetch or BASELINE_PREFETCH)
    out = await publish_conn.channel(publisher_confirms=True)
    exchange = await out.get_exchange(args.exchange)
    queue = await channel.get_queue(args.source)

    async def handle(message: AbstractIncomingMessage) -> None:
        doc = json.loads(message.body)
        event = doc["ProcedureStateChangeEvent"]
        await exchange.publish(
            aio_pika.Message(
                message.body,
                content_type="application/json",
                delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                message_id=event["TaskId"],
                type=doc["EventType"],
            ),
            routing_key=f"vod.{doc['EventType']}.{event['Status']}",
            timeout=10,
        )
        await message.ack()

    await queue.consume(handle)
    _ready()
    await _wait_for_signal()
    await consume_conn.close()
    await publish_conn.close()


async def run_minimal(args: argparse.Namespace) -> None:
    connection = await aio_pika.connect_robust(args.url)
    channel = await connection.channel()  # publisher confirms are aio-pika's default
    await channel.set_qos(prefetch_count=args.prefetch or BASELINE_PREFETCH)
    exchange = await channel.get_exchange(args.exchange)
    queue = await channel.get_queue(args.source)

    async def handle(message: AbstractIncomingMessage) -> None:
        async with message.process(requeue=True):
            doc = json.loads(message.body)
            event = doc["ProcedureStateChangeEvent"]
            await exchange.publish(
                aio_pika.Message(
                    message.body,
                    content_type="application/json",
                    delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                    message_id=event["TaskId"],
                    type=doc["EventType"],
                ),
                routing_key=f"vod.{doc['EventType']}.{event['Status']}",
                timeout=10,
            )

    await queue.consume(handle)
    _ready()
    await _wait_for_signal()
    await connection.close()


async def connect_bench_sink(
    url: str, exchange: str, queue_type: QueueType = "classic"
) -> RabbitSink:
    """Our sink publishing to the benchmark's output exchange (parking beside it)."""
    return await RabbitSink.connect(
        RabbitSinkOptions(
            url,
            events_exchange=exchange,
            parking_exchange=f"{exchange}.parking",
            parking_queue=f"{exchange}.parking",
            queue_type=queue_type,
        )
    )


async def _connect_ours(args: argparse.Namespace, prefetch: int) -> tuple[RabbitSource, RabbitSink]:
    sink = await connect_bench_sink(args.url, args.exchange, args.queue_type)
    source = await RabbitSource.connect(
        RabbitSourceOptions(
            args.url, queue=args.source, prefetch=prefetch, queue_type=args.queue_type
        )
    )
    return source, sink


async def run_ours(args: argparse.Namespace) -> None:
    options, prefetch = _relay_setup(args.prefetch)
    source, sink = await _connect_ours(args, prefetch)
    tune_garbage_collector()  # as ``media-bridge run`` does once connected
    stop = anyio.Event()

    async def stop_on_signal() -> None:
        await _wait_for_signal()
        stop.set()

    async with anyio.create_task_group() as group:
        group.start_soon(stop_on_signal)
        _ready()
        await run_relay(source, sink, options, stop=stop)
        group.cancel_scope.cancel()
    await source.aclose()
    await sink.aclose()


async def run_adapters(args: argparse.Namespace) -> None:
    options, prefetch = _relay_setup(args.prefetch)
    source, sink = await _connect_ours(args, prefetch)

    async def relay(delivery: Delivery) -> None:
        doc = json.loads(delivery.body)
        event = doc["ProcedureStateChangeEvent"]
        message = OutboundMessage(
            Destination.EVENTS,
            routing_key=f"vod.{doc['EventType']}.{event['Status']}",
            body=delivery.body,
            message_id=event["TaskId"],
            content_type="application/json",
            type=doc["EventType"],
        )
        await sink.publish(message)
        await delivery.ack()

    async def worker() -> None:
        while True:
            await relay(await source.receive())

    async with anyio.create_task_group() as group:
        for _ in range(options.max_in_flight):  # as many workers as the relay would run
            group.start_soon(worker)
        _ready()
        await _wait_for_signal()
        group.cancel_scope.cancel()
    await source.aclose()
    await sink.aclose()


BRIDGES = {"minimal": run_minimal, "baseline": run_baseline, "relay": run_ours, "adapters": run_adapters}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("kind", choices=sorted(BRIDGES))
    parser.add_argument("--url", required=True)
    parser.add_argument("--source", required=True)
    parser.add_argument("--exchange", required=True)
    parser.add_argument(
        "--prefetch", type=int, default=None, help="default: the relay's defaults (see above)"
    )
    parser.add_argument(
        "--queue-type", choices=["classic", "quorum"], default="classic",
        help="relay/adapters: the source and parking queues' type (bench.cluster_relay)",
    )
    parser.add_argument("--log-level", default="WARNING")
    args = parser.parse_args()
    logging.basicConfig(level=args.log_level, stream=sys.stderr)
    anyio.run(BRIDGES[args.kind], args)


if __name__ == "__main__":
    main()
