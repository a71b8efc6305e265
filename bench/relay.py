"""Benchmark: our relay against a hand-written aio-pika bridge, in the same run.

    .venv/bin/python -m bench.relay [--messages 50000] [--rate 400] [--skip-baseline]
                                    [--kinds baseline,relay,adapters] [--repeat 3] [--pause 5]
                                    [--baseline-prefetch 64,256,1000] [--sweep-repeat 1]
                                    [--prefetch N[,N...]]
                                    [--amqp-url amqp://guest:guest@127.0.0.1:5672/]

What is compared (issue #13's acceptance): the relay **on its defaults** (read from the settings
models, ``bench._bridges.relay_defaults``) against the hand-written aio-pika bridge **at its
best prefetch**. With several ``--baseline-prefetch`` values the baseline is first run once per
value (``--sweep-repeat`` times, throughput only), the fastest value is kept and said so, and the
alternating runs use it. ``--prefetch`` runs the relay (and ``adapters``) with that in-flight
limit instead of the defaults (source prefetch = ``relay.max_in_flight`` = N); several values,
comma-separated, are each run as their own bridge (``relay@N``) in the same alternation.

For each bridge (each in its own child process, see ``bench._bridges``):

1. throughput: N unique ~4.3 KB ProcedureStateChanged bodies are pre-loaded into a fresh source
   queue, the bridge is started, and the clock runs until N messages sit in the queue bound to
   the output exchange. Prints msgs/s, the bridge's CPU µs/msg (its CPU time / N), the
   broker's CPU µs/msg over the same window (the local RabbitMQ's beam.smp: on a 2-core
   machine the two share the CPU, so the sum bounds throughput) and the bridge's RSS at
   start, at N/2 and at the end (it must stay flat);
2. latency: a paced publisher offers ``--rate`` msgs/s for ``--latency-seconds``; latency is
   publish → arrival on the output queue (the send time is stamped into each body). p50/p99.

``--repeat`` runs every bridge that many times, alternating the order (baseline, relay, then
relay, baseline...): each run leaves the broker work to do in the background (deleting 2N
persistent messages), which used to land on whichever bridge always ran second. ``--pause``
waits between runs for that work to settle. Medians are reported when there are repeats.

A script, never a test: numbers are printed, not asserted. Targets: relay >= 1.6x baseline
throughput, p99 <= 20 ms at 400 msgs/s.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from typing import cast

import aiormq
import anyio
from anyio.abc import Process

from adapters.rabbitmq_queue_types import QueueType, queue_arguments
from bench._bridges import BASELINE_PREFETCH, relay_defaults
from bench._payload import PayloadFactory
from bench._probe import (
    LatencyProbe,
    Names,
    broker_pid,
    count,
    cpu_seconds,
    declare,
    delete,
    load,
    paced_publish,
    rss_mib,
)


@dataclass(frozen=True)
class Bridge:
    """One bridge to run: its kind (``bench._bridges``) and prefetch (None: its defaults)."""

    kind: str
    prefetch: int | None = None

    @property
    def label(self) -> str:
        return self.kind if self.prefetch is None else f"{self.kind}@{self.prefetch}"


@dataclass
class Result:
    kind: str  # the bridge's label
    msgs_per_s: float = 0.0
    cpu_us_per_msg: float = 0.0
    broker_us_per_msg: float = float("nan")
    rss_mib: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0)
    p50_ms: float = float("nan")
    p99_ms: float = float("nan")
    latency_arrived: int = 0
    latency_sent: int = 0
    arrived: int = 0  # of the throughput phase's messages; fewer than sent: the run stalled


async def _wait_ready(process: Process) -> None:
    assert process.stdout is not None
    with anyio.fail_after(60):
        line = await process.stdout.receive()
    if line.strip() != b"ready":
        raise RuntimeError(f"bridge did not start (exit {process.returncode}): {line!r}")


async def _throughput(
    channel: aiormq.abc.AbstractChannel,
    names: Names,
    pid: int,
    total: int,
    result: Result,
    limit_s: float,
    broker_pids: list[int] | None = None,
) -> None:
    # The broker's VM(s): bench.cluster_relay names the cluster's nodes (``broker_pids``).
    brokers = broker_pids or [p for p in [broker_pid()] if p is not None]
    broker0 = sum(cpu_seconds(p) for p in brokers)
    started, cpu0, rss0 = time.perf_counter(), cpu_seconds(pid), rss_mib(pid)
    rss_mid = rss0
    arrived = 0
    # A bridge can wedge (the hand-written one leaves a delivery unacked for good when its
    # publish times out, and at a large prefetch they pile up): give up, and say so.
    with anyio.move_on_after(limit_s):
        while (arrived := await count(channel, names.output)) < total:
            if arrived < total // 2:
                rss_mid = rss_mib(pid)
            await anyio.sleep(0.05)
    elapsed = time.perf_counter() - started
    result.arrived = min(arrived, total)
    result.msgs_per_s = result.arrived / elapsed
    result.cpu_us_per_msg = (cpu_seconds(pid) - cpu0) / max(result.arrived, 1) * 1e6
    if brokers:
        broker_s = sum(cpu_seconds(p) for p in brokers) - broker0
        result.broker_us_per_msg = broker_s / max(result.arrived, 1) * 1e6
    result.rss_mib = (rss0, rss_mid, rss_mib(pid), 0.0)


async def _latency(
    connection: aiormq.abc.AbstractConnection,
    names: Names,
    args: argparse.Namespace,
    bodies: PayloadFactory,
    result: Result,
) -> None:
    channel = cast(aiormq.Channel, await connection.channel())
    await channel.queue_purge(names.output)
    probe = LatencyProbe()
    await channel.basic_consume(names.output, probe.on_message, no_ack=True)
    total = int(args.rate * args.latency_seconds)
    publisher = cast(aiormq.Channel, await connection.channel())
    await paced_publish(publisher, names.source, args.rate, total, bodies, f"lat-{uuid.uuid4().hex}")
    with anyio.move_on_after(10):
        while probe.arrived < total:  # noqa: ASYNC110 - the consumer callback only counts
            await anyio.sleep(0.05)
    result.p50_ms, result.p99_ms = probe.percentiles()
    result.latency_arrived, result.latency_sent = probe.arrived, total
    await channel.close()
    await publisher.close()


async def run_one(
    bridge: Bridge, args: argparse.Namespace, bodies: PayloadFactory, *, latency: bool = True
) -> Result:
    kind = bridge.label
    result = Result(kind)
    run = uuid.uuid4().hex[:12]
    names = Names(f"bench.{run}.source", f"bench.{run}.events", f"bench.{run}.out")
    connection = await aiormq.connect(args.amqp_url)
    channel = cast(aiormq.Channel, await connection.channel())
    # bench.cluster_relay's hooks: queue type, the bridge's (comma-separated) URLs, broker VMs.
    queue_type: QueueType = getattr(args, "queue_type", "classic")
    await declare(channel, names, queue_arguments(queue_type) if queue_type != "classic" else None)
    try:
        print(f"[{kind}] loading {args.messages} messages ...", file=sys.stderr)
        await load(channel, names.source, args.messages, bodies, run)
        bridge_url = getattr(args, "bridge_url", None) or args.amqp_url
        command = [sys.executable, "-m", "bench._bridges", bridge.kind, "--url", bridge_url]
        command += ["--source", names.source, "--exchange", names.exchange]
        if queue_type != "classic":
            command += ["--queue-type", queue_type]
        if bridge.prefetch is not None:
            command += ["--prefetch", str(bridge.prefetch)]
        process = await anyio.open_process(command, stdout=subprocess.PIPE, stderr=None)
        try:
            await _wait_ready(process)
            print(f"[{kind}] running ...", file=sys.stderr)
            await _throughput(
                channel, names, process.pid, args.messages, result, args.run_timeout,
                getattr(args, "broker_pids", None),
            )
            if result.arrived < args.messages:
                print(f"[{kind}] stalled: {result.arrived} of {args.messages} arrived within "
                      f"{args.run_timeout:g} s", file=sys.stderr)
            elif latency:
                await _latency(connection, names, args, bodies, result)
            rss = result.rss_mib
            result.rss_mib = (rss[0], rss[1], rss[2], rss_mib(process.pid))
        finally:
            process.terminate()
            await process.wait()
    finally:
        await delete(channel, names)
        await connection.close()
    return result


def _report(results: list[Result], args: argparse.Namespace, baseline_prefetch: int) -> None:
    options, source_prefetch = relay_defaults()
    print(f"\n{args.messages} messages of ~4.3 KB; latency at {args.rate:g} msgs/s for "
          f"{args.latency_seconds:g} s; baseline at prefetch {baseline_prefetch}; relay defaults: "
          f"relay.max_in_flight {options.max_in_flight}, source prefetch {source_prefetch}")
    print(f"{'bridge':<14}{'msgs/s':>10}{'CPU µs/msg':>12}{'broker µs':>11}{'p50 ms':>9}{'p99 ms':>9}"
          f"{'arrived':>13}   RSS MiB start/mid/end/after-latency")
    for r in results:
        rss = "/".join(f"{v:.0f}" for v in r.rss_mib)
        print(f"{r.kind:<14}{r.msgs_per_s:>10,.0f}{r.cpu_us_per_msg:>12,.0f}"
              f"{r.broker_us_per_msg:>11,.0f}{r.p50_ms:>9.1f}"
              f"{r.p99_ms:>9.1f}{f'{r.latency_arrived}/{r.latency_sent}':>13}   {rss}"
              + ("" if r.arrived == args.messages else f"   stalled at {r.arrived}"))
    medians = {kind: _median(results, kind) for kind in dict.fromkeys(r.kind for r in results)}
    if args.repeat > 1:
        print("medians:")
        for m in medians.values():
            rss = "/".join(f"{v:.0f}" for v in m.rss_mib)
            print(f"{m.kind:<14}{m.msgs_per_s:>10,.0f}{m.cpu_us_per_msg:>12,.0f}"
                  f"{m.broker_us_per_msg:>11,.0f}{m.p50_ms:>9.1f}"
                  f"{m.p99_ms:>9.1f}{'':>13}   {rss}")
    base = next((m for m in medians.values() if m.kind.startswith("baseline")), None)
    if base is None or not base.msgs_per_s:
        return
    for m in medians.values():
        ratio = m.msgs_per_s / base.msgs_per_s
        if m.kind.startswith("relay"):
            print(f"{m.kind} / {base.kind} throughput: {ratio:.2f}x (target >= 1.6x)")
        elif m.kind.startswith("adapters"):
            # The relay runs on these same adapters and does strictly more per message, so this
            # ratio bounds what the relay can reach on this machine.
            print(f"{m.kind} / {base.kind} throughput: {ratio:.2f}x (the ceiling for the relay)")


def _median(results: list[Result], kind: str) -> Result:
    runs = [r for r in results if r.kind == kind]
    return Result(
        kind,
        msgs_per_s=statistics.median(r.msgs_per_s for r in runs),
        cpu_us_per_msg=statistics.median(r.cpu_us_per_msg for r in runs),
        broker_us_per_msg=statistics.median(r.broker_us_per_msg for r in runs),
        p50_ms=statistics.median(r.p50_ms for r in runs),
        p99_ms=statistics.median(r.p99_ms for r in runs),
        rss_mib=cast(
            tuple[float, float, float, float],
            tuple(statistics.median(r.rss_mib[i] for r in runs) for i in range(4)),
        ),
    )


async def _best_baseline_prefetch(
    args: argparse.Namespace, bodies: PayloadFactory, prefetches: list[int]
) -> int:
    """The baseline's fastest prefetch of ``prefetches`` (throughput runs only, medians)."""
    if len(prefetches) == 1:
        return prefetches[0]
    runs: list[Result] = []
    for n in range(args.sweep_repeat):
        for prefetch in prefetches if n % 2 == 0 else prefetches[::-1]:
            if runs:
                await anyio.sleep(args.pause)
            runs.append(await run_one(Bridge("baseline", prefetch), args, bodies, latency=False))
    rates = {
        p: statistics.median(r.msgs_per_s for r in runs if r.kind == f"baseline@{p}")
        for p in prefetches
    }
    stalled = {int(r.kind.partition("@")[2]) for r in runs if r.arrived < args.messages}
    best = max(rates, key=rates.__getitem__)
    print("\nbaseline prefetch sweep (throughput, msgs/s"
          f"{', median of ' + str(args.sweep_repeat) if args.sweep_repeat > 1 else ''}): "
          + ", ".join(f"{p}: {rate:,.0f}{' (stalled)' if p in stalled else ''}"
                      for p, rate in rates.items())
          + f" -> the baseline runs at its fastest, prefetch {best}")
    await anyio.sleep(args.pause)
    return best


def _bridges(args: argparse.Namespace, baseline_prefetch: int) -> list[Bridge]:
    ours = [int(p) for p in args.prefetch.split(",")] if args.prefetch else [None]
    bridges: list[Bridge] = []
    for kind in args.kinds.split(","):
        if kind == "baseline" and not args.skip_baseline:
            bridges.append(Bridge("baseline", baseline_prefetch))
        elif kind in ("relay", "adapters"):
            bridges.extend(Bridge(kind, p) for p in ours)
        elif kind != "baseline":
            bridges.append(Bridge(kind, baseline_prefetch))  # minimal: a hand-written bridge
    return bridges


async def main_async(args: argparse.Namespace) -> None:
    bodies = PayloadFactory()
    prefetches = [int(p) for p in args.baseline_prefetch.split(",")]
    runs_baseline = "baseline" in args.kinds.split(",") and not args.skip_baseline
    best = await _best_baseline_prefetch(args, bodies, prefetches) if runs_baseline else prefetches[0]
    bridges = _bridges(args, best)
    results: list[Result] = []
    for n in range(args.repeat):
        for bridge in bridges if n % 2 == 0 else bridges[::-1]:
            if results:
                await anyio.sleep(args.pause)
            results.append(result := await run_one(bridge, args, bodies))
            # Each run as it ends, so a long benchmark that is stopped still told its numbers.
            print(f"[{result.kind}] {result.msgs_per_s:,.0f} msgs/s, {result.cpu_us_per_msg:,.0f} "
                  f"µs CPU/msg, RSS {'/'.join(f'{v:.0f}' for v in result.rss_mib)} MiB",
                  file=sys.stderr)
    _report(results, args, best)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--messages", type=int, default=50_000)
    parser.add_argument("--rate", type=float, default=400.0, help="offered msgs/s for latency")
    parser.add_argument("--latency-seconds", type=float, default=10.0)
    parser.add_argument(
        "--prefetch",
        default=None,
        help="the relay's in-flight limit (source prefetch and relay.max_in_flight); several, "
        "comma-separated, are each run; default: the relay's defaults",
    )
    parser.add_argument(
        "--baseline-prefetch",
        default=f"{BASELINE_PREFETCH},256,1000",
        help="the hand-written bridge's prefetch; with several the fastest is kept (a sweep)",
    )
    parser.add_argument(
        "--sweep-repeat", type=int, default=1, help="throughput runs per prefetch in the sweep"
    )
    parser.add_argument("--skip-baseline", action="store_true")
    parser.add_argument("--kinds", default="baseline,relay", help="comma-separated bridges to run")
    parser.add_argument("--repeat", type=int, default=1, help="runs per bridge (alternating)")
    parser.add_argument("--pause", type=float, default=5.0, help="seconds between runs")
    parser.add_argument(
        "--run-timeout", type=float, default=600.0, help="give a throughput run up after this"
    )
    parser.add_argument("--amqp-url", default="amqp://guest:guest@127.0.0.1:5672/")
    anyio.run(main_async, parser.parse_args())


if __name__ == "__main__":
    main()
