"""Publish Tencent notification samples (and malformed bodies) into the stand-in source queue.

    .venv/bin/python examples/feed_samples.py                       # every ../shared/samples file
    .venv/bin/python examples/feed_samples.py a.json b.json --malformed 3

Only sample files that are notifications are sent from the default directory (API responses
such as ``cmq__DeleteMessage`` are left out, they are not something a queue would carry);
files given by path are sent as they are. ``--malformed N`` adds N bodies the bridge must park.
Messages are persistent and confirmed by the broker before this exits.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import aio_pika
import anyio

DEFAULT_URL = os.environ.get("MEDIA_BRIDGE_SOURCE__URL", "amqp://guest:guest@127.0.0.1:5672/")
SAMPLES = Path(__file__).resolve().parents[1].parent / "shared" / "samples"
# Sample-name prefixes (vendor__EventType__...) that hold notifications, not API responses.
NOTIFICATION_PREFIXES = ("vod__", "vodlegacy__", "mps__", "cmq__TopicHttpPush", "cmq__ReceiveMessage")
NOT_NOTIFICATIONS = ("ConfirmEvents", "__Error__", "api3__")
MALFORMED = [b"this is not JSON", b"{}", b'{"EventType": "SomethingNew"}', b"\xff\xfe\x00", b"[]"]


def default_files() -> list[Path]:
    files = sorted(SAMPLES.glob("*.json"))
    return [
        path
        for path in files
        if path.name.startswith(NOTIFICATION_PREFIXES)
        and not any(word in path.name for word in NOT_NOTIFICATIONS)
    ]


def malformed(count: int) -> list[bytes]:
    return [MALFORMED[n % len(MALFORMED)] for n in range(count)]


async def feed(args: argparse.Namespace) -> int:
    files = [Path(p) for p in args.paths] or default_files()
    bodies = [(path.name, path.read_bytes()) for path in files]
    bodies += [(f"malformed #{n + 1}", body) for n, body in enumerate(malformed(args.malformed))]
    async with await aio_pika.connect_robust(args.url) as connection:
        channel = await connection.channel(publisher_confirms=True)
        await channel.declare_queue(args.queue, durable=True)
        for name, body in bodies:
            message = aio_pika.Message(body, delivery_mode=aio_pika.DeliveryMode.PERSISTENT)
            await channel.default_exchange.publish(message, routing_key=args.queue, timeout=10)
            print(f"sent {name} ({len(body)} bytes)")
    print(f"{len(bodies)} messages sent to {args.queue}")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("paths", nargs="*", help=f"notification files (default: {SAMPLES})")
    parser.add_argument("--malformed", type=int, default=0, help="also send N malformed bodies")
    parser.add_argument("--queue", default="media.notifications")
    parser.add_argument("--url", default=DEFAULT_URL)
    return anyio.run(feed, parser.parse_args())


if __name__ == "__main__":
    sys.exit(main())
