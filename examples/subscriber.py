"""Print the media events the bridge publishes, for a routing pattern.

    .venv/bin/python examples/subscriber.py 'vod.*.FINISH'            # one line per event
    .venv/bin/python examples/subscriber.py '#' --json                  # the whole CloudEvent
    .venv/bin/python examples/subscriber.py '#' --parked                # the parking queue instead

Binds a temporary (exclusive, auto-delete) queue to the topic exchange with the pattern
(``<vendor>.<event_type>.<status>``, e.g. ``vod.#``, ``*.*.FINISH``, ``mps.WorkflowTask.*``) and
prints each event as it arrives. ``--parked`` prints the reason of each body in the parking
queue instead, without removing any: it never acks them, and they go back to their places when
it exits (it shows at most the first 100, its prefetch; ``media-bridge parked`` filters, counts
per reason and shows whole bodies and headers, ``media-bridge replay`` relays them again).
``--count N`` exits after N messages, ``--idle S`` after S quiet seconds.
"""

from __future__ import annotations

import argparse
import os
import sys

import aio_pika
import anyio
import orjson
from aio_pika.abc import AbstractIncomingMessage, AbstractQueue

DEFAULT_URL = os.environ.get("MEDIA_BRIDGE_SINK__URL", "amqp://guest:guest@127.0.0.1:5672/")


def describe_event(message: AbstractIncomingMessage) -> str:
    """One line: routing key, event id, subject."""
    event = orjson.loads(message.body)
    return f"{message.routing_key:<45} {event.get('id')}  subject={event.get('subject')}"


def describe_parked(message: AbstractIncomingMessage) -> str:
    """One line: the reason and detail headers and the start of the raw body."""
    headers = message.headers
    reason, detail = _text(headers.get("x-park-reason")), _text(headers.get("x-park-detail"))
    return f"PARKED reason={reason} detail={detail[:80]} body={message.body[:40]!r}"


def _text(value: object) -> str:
    return value.decode(errors="replace") if isinstance(value, bytes) else str(value)


async def _open_queue(channel: aio_pika.abc.AbstractChannel, args: argparse.Namespace) -> AbstractQueue:
    if args.parked:
        return await channel.declare_queue(args.parking_queue, durable=True)
    # Passive: the bridge declares the exchange (with its alternate exchange); declaring it
    # again with other arguments would be refused (406) and needs configure permission.
    exchange = await channel.declare_exchange(
        args.exchange, aio_pika.ExchangeType.TOPIC, durable=True, passive=True
    )
    queue = await channel.declare_queue(exclusive=True, auto_delete=True)
    await queue.bind(exchange, args.pattern)
    return queue


async def subscribe(args: argparse.Namespace) -> int:
    seen = 0
    async with await aio_pika.connect_robust(args.url) as connection:
        channel = await connection.channel()
        await channel.set_qos(prefetch_count=100)
        queue = await _open_queue(channel, args)
        print("listening", flush=True)
        async with queue.iterator() as messages:
            while args.count is None or seen < args.count:
                with anyio.move_on_after(args.idle if args.idle else float("inf")) as idle:
                    message = await anext(messages)
                if idle.cancelled_caught:
                    break
                if args.parked:
                    # Never acked: closing the connection puts every parked body back in place.
                    print(describe_parked(message), flush=True)
                    seen += 1
                    continue
                async with message.process():
                    if args.json:
                        print(message.body.decode(), flush=True)
                    else:
                        print(describe_event(message), flush=True)
                seen += 1
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("pattern", nargs="?", default="#", help="topic binding, e.g. vod.*.FINISH")
    parser.add_argument("--url", default=DEFAULT_URL, help="AMQP URL (default from env)")
    parser.add_argument("--exchange", default="media.events")
    parser.add_argument("--parking-queue", default="media.parking")
    parser.add_argument(
        "--parked", action="store_true", help="show the parking queue instead (removes nothing)"
    )
    parser.add_argument("--json", action="store_true", help="print whole events")
    parser.add_argument("--count", type=int, help="exit after this many messages")
    parser.add_argument("--idle", type=float, help="exit after this many quiet seconds")
    try:
        return anyio.run(subscribe, parser.parse_args())
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
