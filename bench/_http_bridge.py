"""The HTTP bridge the benchmark measures, alone in a child process.

    python -m bench._http_bridge --url AMQP --exchange EX [--port 0] [--max-in-flight 64]

``HttpSource`` (one path, ``/vod``, VOD-signed with the key in ``$BENCH_HTTP_SIGN_KEY``) →
``run_relay`` → ``RabbitSink``, as ``media-bridge run`` wires them (minus the status server),
with the start-up heap frozen as ``run`` does. Prints ``ready <port>`` once listening, runs
until SIGTERM/SIGINT, then prints the relay's and the receiver's counters as one JSON line.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys

import anyio
import orjson

from adapters.http_options import Endpoint, HttpSourceOptions, Scheme
from adapters.http_source import HttpSource
from bench._bridges import connect_bench_sink
from bench._polled_bridge import relay_until_stopped
from consumer.metrics import Metrics

PATH = "/vod"
KEY_ENV = "BENCH_HTTP_SIGN_KEY"


async def run(args: argparse.Namespace) -> None:
    sink = await connect_bench_sink(args.url, args.exchange)
    endpoint = Endpoint(path=PATH, scheme=Scheme.VOD, keys=(os.environ[KEY_ENV],))
    options = HttpSourceOptions(
        port=args.port, endpoints=(endpoint,), max_in_progress=args.max_in_progress
    )
    source = await HttpSource.open(options)
    metrics = Metrics()
    await relay_until_stopped(
        source, sink, args.max_in_flight, metrics=metrics, ready_line=f"ready {source.port}"
    )
    counters = {
        "confirmed_events": metrics.confirmed_to["events"].value,
        "parked": metrics.confirmed_to["parking"].value,
        "answered": {
            f"{path} {status}": n for (path, status), n in source.metrics.requests.items()
        },
        "late_confirms": source.metrics.late_confirms,
    }
    print(orjson.dumps(counters).decode(), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", required=True)
    parser.add_argument("--exchange", required=True)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--max-in-flight", type=int, default=64)
    parser.add_argument("--max-in-progress", type=int, default=256)
    parser.add_argument("--log-level", default="WARNING")
    args = parser.parse_args()
    logging.basicConfig(level=args.log_level, stream=sys.stderr)
    anyio.run(run, args)


if __name__ == "__main__":
    main()
