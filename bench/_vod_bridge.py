"""The VOD bridge the benchmark measures, alone in a child process.

    python -m bench._vod_bridge --endpoint URL --secret-id ID --sub-app-id N --url AMQP
                                --exchange EX [--requests-per-second R]

``VodSource`` → ``run_relay`` → ``RabbitSink``, exactly as ``media-bridge run`` wires them (minus
the status server). The SecretKey comes from ``$BENCH_VOD_SECRET_KEY`` so it is not on the
command line. Prints ``ready`` once connected, runs until SIGTERM/SIGINT, then prints the
source's counters as one JSON line on stdout (the parent reports them).
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import os
import sys

import anyio
import orjson

from adapters.vod import VodSource, VodSourceOptions
from bench._bridges import connect_bench_sink
from bench._polled_bridge import relay_until_stopped


async def run(args: argparse.Namespace) -> None:
    sink = await connect_bench_sink(args.url, args.exchange)
    source = await VodSource.connect(
        VodSourceOptions(
            endpoint=args.endpoint,
            secret_id=args.secret_id,
            secret_key=os.environ["BENCH_VOD_SECRET_KEY"],
            sub_app_ids=(args.sub_app_id,),
            requests_per_second=args.requests_per_second,
            concurrent_pulls=args.concurrent_pulls,
        )
    )
    await relay_until_stopped(source, sink, args.max_in_flight)
    stats = dataclasses.asdict(source.stats[args.sub_app_id])
    print(orjson.dumps(stats).decode(), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--endpoint", required=True)
    parser.add_argument("--secret-id", required=True)
    parser.add_argument("--sub-app-id", type=int, required=True)
    parser.add_argument("--url", required=True)
    parser.add_argument("--exchange", required=True)
    parser.add_argument("--requests-per-second", type=float, default=100.0)
    parser.add_argument("--concurrent-pulls", type=int, default=4)
    parser.add_argument("--max-in-flight", type=int, default=64)
    parser.add_argument("--log-level", default="WARNING")
    args = parser.parse_args()
    logging.basicConfig(level=args.log_level, stream=sys.stderr)
    anyio.run(run, args)


if __name__ == "__main__":
    main()
