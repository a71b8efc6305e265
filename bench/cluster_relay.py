"""Benchmark: bench.relay's relay bridge on a 3-node cluster with quorum queues, beside the same
bridge on one node with classic queues, in the same run (issue #12).

    .venv/bin/python -m bench.cluster_relay [--messages 20000] [--rate 400] [--latency-seconds 10]
                                            [--repeat 1] [--pause 5] [--run-timeout 600]

Starts a cluster of its own (``tests.cluster_broker``: three private nodes, free ports, a temp
dir) and one private node (``tests.private_broker``), never the shared broker, and stops them
at the end. Each run is ``bench.relay.run_one`` for the ``relay`` bridge on its defaults:

* ``quorum@3``: source and output queues quorum (declared through node 1, so it leads them),
  the bridge given all three URLs (``--url a,b,c``) and ``--queue-type quorum`` (its parking
  queue quorum too); broker CPU = the three nodes' VMs;
* ``classic@1``: the same on the single node with classic queues (bench.relay as usual).

Throughput (N pre-loaded ~4.3 KB bodies, msgs/s), CPU µs/msg of the bridge and the broker(s),
and publish → arrival p50/p99 at ``--rate`` msgs/s. A report, no target: a quorum queue
replicates every message to a majority and fsyncs before it confirms, so it costs more.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from contextlib import ExitStack

import anyio

from bench._payload import PayloadFactory
from bench.relay import Bridge, Result, run_one
from tests.cluster_broker import Cluster, cluster
from tests.private_broker import PrivateBroker, private_broker


def _setups(nodes: Cluster, single: PrivateBroker, args: argparse.Namespace) -> dict[str, argparse.Namespace]:
    common = {
        "messages": args.messages, "rate": args.rate, "latency_seconds": args.latency_seconds,
        "run_timeout": args.run_timeout,
    }
    single_pid = int((single.base / "rabbitmq.pid").read_text().strip())
    cluster_pids = [pid for n in (1, 2, 3) if (pid := nodes.beam_pid(n)) is not None]
    return {
        "quorum@3": argparse.Namespace(
            **common, amqp_url=nodes.urls[0], bridge_url=nodes.url, queue_type="quorum",
            broker_pids=cluster_pids,
        ),
        "classic@1": argparse.Namespace(
            **common, amqp_url=single.url, queue_type="classic", broker_pids=[single_pid],
        ),
    }


def _report(results: dict[str, list[Result]], args: argparse.Namespace) -> None:
    print(f"\nrelay bridge, {args.messages} messages of ~4.3 KB; latency at {args.rate:g} msgs/s "
          f"for {args.latency_seconds:g} s; medians of {args.repeat}")
    print(f"{'setup':<11}{'msgs/s':>9}{'CPU µs/msg':>12}{'broker µs':>11}{'p50 ms':>9}{'p99 ms':>9}"
          f"{'arrived':>10}")
    for label, runs in results.items():
        def median(field: str, of: list[Result] = runs) -> float:
            return float(statistics.median(float(getattr(r, field)) for r in of))
        arrived = min(r.arrived for r in runs)
        print(f"{label:<11}{median('msgs_per_s'):>9,.0f}{median('cpu_us_per_msg'):>12,.0f}"
              f"{median('broker_us_per_msg'):>11,.0f}{median('p50_ms'):>9.1f}"
              f"{median('p99_ms'):>9.1f}{arrived:>10}")
    quorum, classic = results.get("quorum@3"), results.get("classic@1")
    if quorum and classic:
        ratio = statistics.median(r.msgs_per_s for r in quorum) / max(
            statistics.median(r.msgs_per_s for r in classic), 1e-9
        )
        print(f"quorum@3 / classic@1 throughput: {ratio:.2f}x")


async def main_async(args: argparse.Namespace) -> None:
    with ExitStack() as stack:
        started = time.monotonic()
        nodes = stack.enter_context(cluster())
        single = stack.enter_context(private_broker())
        print(f"brokers up in {time.monotonic() - started:.0f} s", file=sys.stderr)
        setups = _setups(nodes, single, args)
        bodies = PayloadFactory()
        results: dict[str, list[Result]] = {label: [] for label in setups}
        order = list(setups)
        for n in range(args.repeat):
            for label in order if n % 2 == 0 else order[::-1]:
                if any(results.values()):
                    await anyio.sleep(args.pause)  # the previous run's deletes settle
                result = await run_one(Bridge("relay"), setups[label], bodies)
                result.kind = label
                results[label].append(result)
        _report(results, args)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--rate", type=float, default=400.0, help="offered msgs/s for latency")
    parser.add_argument("--latency-seconds", type=float, default=10.0)
    parser.add_argument("--repeat", type=int, default=1, help="runs per setup (alternating)")
    parser.add_argument("--pause", type=float, default=5.0, help="seconds between runs")
    parser.add_argument("--run-timeout", type=float, default=600.0, help="give up a stalled run")
    anyio.run(main_async, parser.parse_args())


if __name__ == "__main__":
    main()
