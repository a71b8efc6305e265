"""Benchmark: Tencent HTTP callbacks → HTTP source → relay → RabbitMQ, beside the RabbitMQ source.

    .venv/bin/python -m bench.http_relay [--seconds 10] [--connections 64] [--rate 400]
                                         [--latency-seconds 10] [--memory-requests 100000]
                                         [--baseline-messages 20000]
                                         [--amqp-url amqp://guest:guest@127.0.0.1:5672/]

The load generator is ``wrk`` (``apt-get update && apt-get install -y wrk``); without it, a
bounded async client (``bench._http_client``) stands in and says so (it costs the machine more
per request than wrk, which the numbers then include). Each bridge is a child process measured
from outside (/proc CPU time and RSS); the bodies are the ~4.3 KB ProcedureStateChanged of
``bench._payload`` (1000 distinct ones, in turn), VOD-signed (``T`` + ``Sign``) for the HTTP
source, so every request is verified, normalized, published and confirmed.

1. ``rabbitmq`` (the baseline, same run): N bodies preloaded into a queue → ``RabbitSource`` →
   the same relay → the same exchange; msgs/s, bridge and broker CPU µs/msg.
2. ``http`` saturation: wrk with ``--connections`` for ``--seconds``: requests/s, bridge,
   broker and wrk CPU µs/request, 200 answers and the events confirmed onto the exchange
   (counted in the queue bound to it with ``#``: one per 200); and the ceiling those three
   costs allow on this machine's cores (what the ≥ 2,000/s target has to fit in).
3. latency: ``--rate`` requests/s on a fixed schedule for ``--latency-seconds``: p50/p99 of
   POST → 200 (which includes the broker's confirm), timed from when each request was due;
   then the same rate from wrk (``bench._http_load.paced_wrk``), timed by wrk from when each
   was sent: a cross-check that the tail is the bridge's, not the Python client's. Both run
   into a capped queue that this script consumes as a subscriber would, after the broker had
   ``SETTLE_S`` to purge what the saturation phase left, so that work is not in the latency
   numbers.
4. memory: ``--memory-requests`` requests (wrk, in runs of ``--seconds``) into a capped queue
   (``x-max-length``, so the shared broker holds little); the bridge's RSS after each run.

A script, never a test: numbers are printed, not asserted. Targets on the 2-core machine with
the broker beside it: >= 2,000 requests/s, p99 <= 25 ms at 400/s, memory flat over 100,000.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import cast

import aiormq
import anyio
import orjson
from aiormq.abc import DeliveredMessage
from anyio.abc import Process

from bench._http_load import Load, Paced, WrkPaced, paced, paced_wrk, saturate, wrk_path
from bench._payload import PayloadFactory
from bench._probe import Names, broker_pid, count, cpu_seconds, declare, delete, load, rss_mib

SIGN_KEY = "bench-http-sign-key"  # local only
BODIES = 1000
CAPPED_LENGTH = 1000
# wrk stops with up to --connections requests in flight; the bridge still relays them (their
# answers go nowhere). Waiting this long after each run keeps them out of the next phase.
SETTLE_S = 1.0


@dataclass
class Saturation:
    load: Load
    cpu_us: float
    broker_us: float
    confirmed: int


@dataclass
class Report:
    baseline_msgs_per_s: float = 0.0
    baseline_cpu_us: float = 0.0
    baseline_broker_us: float = float("nan")
    saturation: Saturation | None = None
    latency: Paced | None = None
    latency_wrk: WrkPaced | None = None
    rss_mib: list[tuple[int, float]] = field(default_factory=list)  # (requests so far, MiB)
    counters: dict[str, object] = field(default_factory=dict)


def signed_bodies(count_: int) -> list[bytes]:
    """Distinct VOD push bodies with ``T`` (valid for 2 h) and ``Sign = MD5(key + T)``."""
    factory, run, t = PayloadFactory(), uuid.uuid4().hex[:8], int(time.time()) + 7200
    sign = hashlib.md5(f"{SIGN_KEY}{t}".encode()).hexdigest()
    return [
        orjson.dumps({**orjson.loads(factory.body(n, run)), "T": t, "Sign": sign})
        for n in range(count_)
    ]


def _cpu(pid: int | None) -> float:
    return cpu_seconds(pid) if pid is not None else float("nan")


async def _start(command: list[str], env: dict[str, str] | None = None) -> tuple[Process, str]:
    process = await anyio.open_process(command, stdout=subprocess.PIPE, stderr=None, env=env)
    assert process.stdout is not None
    with anyio.fail_after(60):
        line = (await process.stdout.receive(256)).decode().strip()
    if not line.startswith("ready"):
        raise RuntimeError(f"bridge did not start: {line!r}")
    return process, line


async def _stop(process: Process) -> bytes:
    process.terminate()
    await process.wait()
    return b"".join([chunk async for chunk in process.stdout] if process.stdout else [])


async def run_baseline(
    args: argparse.Namespace, channel: aiormq.Channel, names: Names, report: Report
) -> None:
    total = args.baseline_messages
    print(f"[rabbitmq] loading {total} messages ...", file=sys.stderr)
    await load(channel, names.source, total, PayloadFactory(), uuid.uuid4().hex[:8])
    command = [sys.executable, "-m", "bench._bridges", "relay", "--url", args.amqp_url,
               "--source", names.source, "--exchange", names.exchange]  # fmt: skip
    bridge, _ = await _start(command)
    broker = broker_pid()
    started, cpu0, broker0 = time.perf_counter(), cpu_seconds(bridge.pid), _cpu(broker)
    while await count(channel, names.output) < total:  # noqa: ASYNC110 - the broker is polled
        await anyio.sleep(0.05)
    elapsed = time.perf_counter() - started
    report.baseline_msgs_per_s = total / elapsed
    report.baseline_cpu_us = (cpu_seconds(bridge.pid) - cpu0) / total * 1e6
    report.baseline_broker_us = (_cpu(broker) - broker0) / total * 1e6
    await _stop(bridge)
    await channel.queue_purge(names.output)


async def run_http(
    args: argparse.Namespace, channel: aiormq.Channel, names: Names, report: Report
) -> None:
    bodies = signed_bodies(BODIES)
    command = [sys.executable, "-m", "bench._http_bridge", "--url", args.amqp_url,
               "--exchange", names.exchange, "--max-in-flight", str(args.max_in_flight)]  # fmt: skip
    bridge, ready = await _start(command, {**os.environ, "BENCH_HTTP_SIGN_KEY": SIGN_KEY})
    url = f"http://127.0.0.1:{ready.split()[1]}/vod"
    try:
        print("[http] warming up ...", file=sys.stderr)
        await saturate(url, bodies, args.connections, 2)
        await anyio.sleep(SETTLE_S)
        await channel.queue_purge(names.output)
        report.saturation = await _saturation(args, channel, names, bridge.pid, url, bodies)
        async with _capped(channel, names, consumed=True):
            await channel.queue_purge(names.output)
            await anyio.sleep(SETTLE_S)
            print(f"[http] {args.rate:g} requests/s for {args.latency_seconds:g} s (client, then "
                  "wrk) ...", file=sys.stderr)  # fmt: skip
            report.latency = await paced(url, bodies, args.rate, args.latency_seconds)
            report.latency_wrk = await paced_wrk(url, bodies, args.rate, args.latency_seconds)
        async with _capped(channel, names):
            await _memory(args, bridge.pid, url, bodies, report)
    finally:
        last = (await _stop(bridge)).splitlines()
    report.counters = orjson.loads(last[-1]) if last else {}


async def _saturation(
    args: argparse.Namespace, channel: aiormq.Channel, names: Names, pid: int, url: str,
    bodies: Sequence[bytes],
) -> Saturation:  # fmt: skip
    print(f"[http] saturating with {args.connections} connections for {args.seconds:g} s ...",
          file=sys.stderr)  # fmt: skip
    broker = broker_pid()
    cpu0, broker0 = cpu_seconds(pid), _cpu(broker)
    result = await saturate(url, bodies, args.connections, args.seconds)
    cpu_us = (cpu_seconds(pid) - cpu0) / max(result.requests, 1) * 1e6
    broker_us = (_cpu(broker) - broker0) / max(result.requests, 1) * 1e6
    await anyio.sleep(SETTLE_S)
    confirmed = await count(channel, names.output)  # one per 200, plus those still in flight
    return Saturation(result, cpu_us, broker_us, confirmed)


@asynccontextmanager
async def _capped(
    channel: aiormq.Channel, names: Names, *, consumed: bool = False
) -> AsyncIterator[None]:
    """Events go to a capped queue instead of the output queue (the shared broker holds
    little, and no phase inherits another's backlog), consumed and dropped as they arrive
    when ``consumed``: as a subscriber would, so the broker does not spend the phase paging
    a standing backlog to disk and dropping its head (which, unconsumed, showed as 40-140 ms
    confirm stalls in the latency phase's tail)."""
    capped = f"{names.output}.capped"
    await channel.queue_declare(
        capped, durable=True, arguments={"x-max-length": CAPPED_LENGTH, "x-overflow": "drop-head"}
    )
    await channel.queue_bind(capped, names.exchange, routing_key="#")
    await channel.queue_unbind(names.output, names.exchange, routing_key="#")
    if consumed:
        await channel.basic_consume(capped, _dropped, no_ack=True)
    try:
        yield
    finally:
        await channel.queue_delete(capped)


async def _dropped(message: DeliveredMessage) -> None:
    """The latency phase's subscriber: takes each event and keeps nothing."""


async def _memory(
    args: argparse.Namespace, pid: int, url: str, bodies: Sequence[bytes], report: Report
) -> None:
    sent = 0
    report.rss_mib.append((0, rss_mib(pid)))
    while sent < args.memory_requests:
        print(f"[http] memory: {sent}/{args.memory_requests} requests ...", file=sys.stderr)
        sent += (await saturate(url, bodies, args.connections, args.seconds)).requests
        report.rss_mib.append((sent, rss_mib(pid)))
    await anyio.sleep(SETTLE_S)


def _print(args: argparse.Namespace, report: Report) -> None:
    sat, lat = report.saturation, report.latency
    generator = sat.load.generator if sat else ("wrk" if wrk_path() else "bounded async client")
    print(f"\nHTTP source → relay (max_in_flight {args.max_in_flight}) → RabbitMQ; ~4.3 KB "
          f"VOD ProcedureStateChanged bodies, VOD-signed; load generator: {generator}; "
          "CPU = user+sys of the bridge process (broker: beam.smp)")  # fmt: skip
    print(f"{'source':<10}{'per s':>10}{'CPU µs':>9}{'broker µs':>11}{'wrk µs':>8}   notes")
    print(f"{'rabbitmq':<10}{report.baseline_msgs_per_s:>10,.0f}{report.baseline_cpu_us:>9,.0f}"
          f"{report.baseline_broker_us:>11,.0f}{'':>8}   {args.baseline_messages} preloaded "
          "messages")  # fmt: skip
    if sat is not None:
        ok = sat.load.requests - sat.load.not_ok
        generator_us = sat.load.cpu_s / max(sat.load.requests, 1) * 1e6
        print(f"{'http':<10}{sat.load.per_second:>10,.0f}{sat.cpu_us:>9,.0f}{sat.broker_us:>11,.0f}"
              f"{generator_us:>8,.0f}   {sat.load.requests} requests in {sat.load.seconds:.1f} s, {args.connections} "
              f"connections; {ok} answered 200, {sat.load.not_ok} other, {sat.load.errors} "
              f"socket errors; {sat.confirmed} events confirmed on the exchange (with those "
              f"in flight when wrk stopped)")  # fmt: skip
        per_request_s = (sat.cpu_us + sat.broker_us + generator_us) / 1e6
        print(f"ceiling on {os.cpu_count()} cores at these costs per request (bridge + broker + "
              f"wrk, nothing else running): {(os.cpu_count() or 1) / per_request_s:,.0f} "
              "requests/s")  # fmt: skip
    if lat is not None:
        p50, p99 = lat.percentiles()
        print(f"latency at {lat.rate:g} requests/s for {args.latency_seconds:g} s (POST → 200, "
              f"confirm included): p50 {p50:.1f} ms, p99 {p99:.1f} ms; answers {dict(lat.answers)}")  # fmt: skip
    if report.latency_wrk is not None:
        wrk_lat = report.latency_wrk
        print(f"the same rate from wrk (16 connections; timed from each request's send): "
              f"p50 {wrk_lat.p50_ms:.1f} ms, p99 {wrk_lat.p99_ms:.1f} ms; "
              f"{wrk_lat.load.per_second:,.0f} requests/s, {wrk_lat.load.not_ok} not 200, "
              f"{wrk_lat.load.errors} socket errors")  # fmt: skip
    if report.rss_mib:
        shown = ", ".join(f"{n:,}: {mib:.1f}" for n, mib in report.rss_mib)
        print(f"bridge RSS MiB by requests served (memory phase): {shown}")
    print(f"bridge counters: {report.counters}")


async def main_async(args: argparse.Namespace) -> None:
    run = uuid.uuid4().hex[:12]
    names = Names(f"bench.{run}.source", f"bench.{run}.events", f"bench.{run}.out")
    connection = await aiormq.connect(args.amqp_url)
    channel = cast(aiormq.Channel, await connection.channel())
    await declare(channel, names)
    report = Report()
    try:
        await run_baseline(args, channel, names, report)
        await run_http(args, channel, names, report)
    finally:
        await delete(channel, names)
        await connection.close()
    _print(args, report)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each wrk run")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--rate", type=float, default=400.0, help="requests/s of the latency phase")
    parser.add_argument("--latency-seconds", type=float, default=10.0)
    parser.add_argument("--memory-requests", type=int, default=100_000)
    parser.add_argument("--baseline-messages", type=int, default=20_000)
    parser.add_argument("--max-in-flight", type=int, default=64, help="relay.max_in_flight")
    parser.add_argument("--amqp-url", default="amqp://guest:guest@127.0.0.1:5672/")
    anyio.run(main_async, parser.parse_args())


if __name__ == "__main__":
    main()
