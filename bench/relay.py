"""Benchmark: our relay against a hand-written aio-pika bridge, in the same run.

    .venv/bin/python -m bench.relay [--messages 50000] [--rate 400] [--skip-baseline]
                                    [--kinds baseline,relay,adapters] [--repeat 3] [--pause 5]
                                    [--amqp-url amqp://guest:guest@127.0.0.1:5672/]

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


@dataclass
class Result:
    kind: str
    msgs_per_s: float = 0.0
    cpu_us_per_msg: float = 0.0
    broker_us_per_msg: float = float("nan")
    rss_mib: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0)
    p50_ms: float = float("nan")
    p99_ms: float = float("nan")
    latency_arrived: int = 0
    latency_sent: int = 0


async def _wait_ready(process: Process) -> None:
    assert process.stdout is not None
    with anyio.fail_after(60):
        line = await process.stdout.receive()
    if line.strip() != b"ready":
        raise RuntimeError(f"bridge did not start (exit {process.returncode}): {line!r}")


async def _throughput(
    channel: aiormq.abc.AbstractChannel, names: Names, pid: int, total: int, result: Result
) -> None:
    broker = broker_pid()
    broker0 = cpu_seconds(broker) if broker else 0.0
    started, cpu0, rss0 = time.perf_counter(), cpu_seconds(pid), rss_mib(pid)
    rss_mid = rss0
    while (arrived := await count(channel, names.output)) < total:
        if arrived < total // 2:
            rss_mid = rss_mib(pid)
        await anyio.sleep(0.05)
    elapsed = time.perf_counter() - started
    result.msgs_per_s = total / elapsed
    result.cpu_us_per_msg = (cpu_seconds(pid) - cpu0) / total * 1e6
    if broker:
        result.broker_us_per_msg = (cpu_seconds(broker) - broker0) / total * 1e6
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


async def run_one(kind: str, args: argparse.Namespace, bodies: PayloadFactory) -> Result:
    result = Result(kind)
    run = uuid.uuid4().hex[:12]
    names = Names(f"bench.{run}.source", f"bench.{run}.events", f"bench.{run}.out")
    connection = await aiormq.connect(args.amqp_url)
    channel = cast(aiormq.Channel, await connection.channel())
    await declare(channel, names)
    try:
        print(f"[{kind}] loading {args.messages} messages ...", file=sys.stderr)
        await load(channel, names.source, args.messages, bodies, run)
        command = [sys.executable, "-m", "bench._bridges", kind, "--url", args.amqp_url]
        command += ["--source", names.source, "--exchange", names.exchange]
        command += ["--prefetch", str(args.prefetch)]
        process = await anyio.open_process(command, stdout=subprocess.PIPE, stderr=None)
        try:
            await _wait_ready(process)
            print(f"[{kind}] running ...", file=sys.stderr)
            await _throughput(channel, names, process.pid, args.messages, result)
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


def _report(results: list[Result], args: argparse.Namespace) -> None:
    print(f"\n{args.messages} messages of ~4.3 KB, prefetch {args.prefetch}; "
          f"latency at {args.rate:g} msgs/s for {args.latency_seconds:g} s")
    print(f"{'bridge':<10}{'msgs/s':>10}{'CPU µs/msg':>12}{'broker µs':>11}{'p50 ms':>9}{'p99 ms':>9}"
          f"{'arrived':>13}   RSS MiB start/mid/end/after-latency")
    for r in results:
        rss = "/".join(f"{v:.0f}" for v in r.rss_mib)
        print(f"{r.kind:<10}{r.msgs_per_s:>10,.0f}{r.cpu_us_per_msg:>12,.0f}"
              f"{r.broker_us_per_msg:>11,.0f}{r.p50_ms:>9.1f}"
              f"{r.p99_ms:>9.1f}{f'{r.latency_arrived}/{r.latency_sent}':>13}   {rss}")
    medians = {kind: _median(results, kind) for kind in dict.fromkeys(r.kind for r in results)}
    if args.repeat > 1:
        print("medians:")
        for m in medians.values():
            print(f"{m.kind:<10}{m.msgs_per_s:>10,.0f}{m.cpu_us_per_msg:>12,.0f}"
                  f"{m.broker_us_per_msg:>11,.0f}{m.p50_ms:>9.1f}"
                  f"{m.p99_ms:>9.1f}")
    base, relay, adapters = (medians.get(k) for k in ("baseline", "relay", "adapters"))
    if base is not None and relay is not None and base.msgs_per_s:
        ratio = relay.msgs_per_s / base.msgs_per_s
        print(f"relay / baseline throughput: {ratio:.2f}x (target >= 1.6x)")
    if base is not None and adapters is not None and base.msgs_per_s:
        # The relay runs on these same adapters and does strictly more per message, so this
        # ratio bounds what the relay can reach on this machine.
        ratio = adapters.msgs_per_s / base.msgs_per_s
        print(f"adapters / baseline throughput: {ratio:.2f}x (the ceiling for the relay)")


def _median(results: list[Result], kind: str) -> Result:
    runs = [r for r in results if r.kind == kind]
    return Result(
        kind,
        msgs_per_s=statistics.median(r.msgs_per_s for r in runs),
        cpu_us_per_msg=statistics.median(r.cpu_us_per_msg for r in runs),
        broker_us_per_msg=statistics.median(r.broker_us_per_msg for r in runs),
        p50_ms=statistics.median(r.p50_ms for r in runs),
        p99_ms=statistics.median(r.p99_ms for r in runs),
    )


async def main_async(args: argparse.Namespace) -> None:
    bodies = PayloadFactory()
    kinds = [k for k in args.kinds.split(",") if not (args.skip_baseline and k == "baseline")]
    results: list[Result] = []
    for n in range(args.repeat):
        for kind in kinds if n % 2 == 0 else kinds[::-1]:
            if results:
                await anyio.sleep(args.pause)
            results.append(await run_one(kind, args, bodies))
    _report(results, args)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--messages", type=int, default=50_000)
    parser.add_argument("--rate", type=float, default=400.0, help="offered msgs/s for latency")
    parser.add_argument("--latency-seconds", type=float, default=10.0)
    parser.add_argument("--prefetch", type=int, default=64)
    parser.add_argument("--skip-baseline", action="store_true")
    parser.add_argument("--kinds", default="baseline,relay", help="comma-separated bridges to run")
    parser.add_argument("--repeat", type=int, default=1, help="runs per bridge (alternating)")
    parser.add_argument("--pause", type=float, default=5.0, help="seconds between runs")
    parser.add_argument("--amqp-url", default="amqp://guest:guest@127.0.0.1:5672/")
    anyio.run(main_async, parser.parse_args())


if __name__ == "__main__":
    main()
