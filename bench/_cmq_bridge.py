"""The CMQ bridge the benchmark measures, alone in a child process.

    python -m bench._cmq_bridge --endpoint URL --secret-id ID --queue Q --url AMQP --exchange EX

``CmqSource`` → ``run_relay`` → ``RabbitSink``, exactly as ``media-bridge run`` wires them (minus
the status server). The SecretKey comes from ``$BENCH_CMQ_SECRET_KEY`` so it is not on the
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

from adapters.cmq import CmqSource, CmqSourceOptions
from adapters.cmq_options import DEFAULT_DELETE_COALESCE_WINDOW_S
from bench._bridges import connect_bench_sink
from bench._polled_bridge import relay_until_stopped


async def run(args: argparse.Namespace) -> None:
    sink = await connect_bench_sink(args.url, args.exchange)
    source = await CmqSource.connect(
        CmqSourceOptions(
            endpoint=args.endpoint,
            secret_id=args.secret_id,
            secret_key=os.environ["BENCH_CMQ_SECRET_KEY"],
            queues=(args.queue,),
            batch_size=args.batch_size,
            delete_coalesce_window=args.delete_window,
        )
    )
    await relay_until_stopped(source, sink, args.max_in_flight)
    print(orjson.dumps(dataclasses.asdict(source.stats)).decode(), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--endpoint", required=True)
    parser.add_argument("--secret-id", required=True)
    parser.add_argument("--queue", required=True)
    parser.add_argument("--url", required=True)
    parser.add_argument("--exchange", required=True)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--max-in-flight", type=int, default=64)
    parser.add_argument(
        "--delete-window", type=float, default=DEFAULT_DELETE_COALESCE_WINDOW_S, metavar="S"
    )
    parser.add_argument("--log-level", default="WARNING")
    args = parser.parse_args()
    logging.basicConfig(level=args.log_level, stream=sys.stderr)
    anyio.run(run, args)


if __name__ == "__main__":
    main()
