"""Benchmark: the relay fed by VOD PullEvents (emulator) against the same relay fed by RabbitMQ.

    .venv/bin/python -m bench.vod_relay [--messages 20000] [--quota-rps 200]
                                        [--kinds vod-quota,vod,rabbitmq] [--repeat 1]
                                        [--concurrent-pulls 4] [--max-in-flight 64]
                                        [--replicas 1]
                                        [--amqp-url amqp://guest:guest@127.0.0.1:5672/]

Every phase moves the same N unique ~4.3 KB ProcedureStateChanged events (``bench._payload``)
to a fresh topic exchange whose ``#`` queue is counted; the clock and the CPU reading start when
the bridge (a child process) says ``ready`` and stop when N messages sit in that queue.

* ``vod-quota``: the bridge's request budget at Tencent's quota for the pair of actions (by
  default 200 requests/s: 100 PullEvents/s × 16 events = 1,600 events/s, plus as many
  ConfirmEvents). The question is the CPU the bridge needs at that rate (target <= 0.5 core).
* ``vod``: no request budget: how fast the bridge relays when VOD does not limit it (target
  >= 3,000 events/s on 2 cores with the broker and the emulator beside it).
* ``rabbitmq``: ``RabbitSource`` → ``run_relay`` → ``RabbitSink`` (``bench._bridges relay``), the
  baseline of the same run.

The VOD emulator runs in its own process (``python -m emulators.vod``), so its CPU time is not
the bridge's; the events are injected through its admin route before the bridge starts.
Bridge: ``VodSource`` (PullEvents, coalesced ConfirmEvents) → ``run_relay`` → ``RabbitSink``
(``bench._vod_bridge``). Beside the bridge's CPU per event, the broker's (the local RabbitMQ's
beam.smp) and the emulator's over the same window are printed, and ``total`` is the three
together in cores: on a 2-core machine that sum bounds the rate. ``--repeat`` runs the phases
that many times, alternating their order, and prints medians (the machine is shared and noisy).
``--replicas N`` starts N bridge processes polling the one sub-app, as replicas of a deployment
do (one Python process uses at most one core); their CPU is summed. After the rows come the
machine's speed (``bench._machine_speed``) and the two targets against this run.
A script, never a test: the numbers are printed, not asserted.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import uuid
from typing import cast

import aiormq
import anyio
import httpx
import orjson

from bench._children import (
    Result,
    free_port,
    measure,
    run_rabbitmq,
    start_bridge,
    stop,
    wait_for_port,
)
from bench._machine_speed import describe, normalize_us
from bench._payload import PayloadFactory
from bench._probe import Names, cpu_seconds, declare, delete

SECRET_ID = "AKIDBENCHVOD000000000000000000000000"
SECRET_KEY = "bench-vod-secret-key"  # the emulator's, local only
SUB_APP = 1500000001
INJECT_CHUNK = 1000


async def _inject(admin_url: str, total: int, bodies: PayloadFactory) -> None:
    run = uuid.uuid4().hex[:8]
    async with httpx.AsyncClient(timeout=60) as http:
        for start in range(0, total, INJECT_CHUNK):
            chunk = b",".join(
                bodies.body(n, run) for n in range(start, min(start + INJECT_CHUNK, total))
            )
            reply = await http.post(
                f"{admin_url}/events?SubAppId={SUB_APP}",
                content=b"[" + chunk + b"]",
                headers={"Content-Type": "application/json"},
            )
            reply.raise_for_status()


async def run_vod(
    args: argparse.Namespace, channel: aiormq.Channel, names: Names, kind: str, rps: float
) -> Result:
    port = free_port()
    emulator = await anyio.open_process(
        [sys.executable, "-m", "emulators.vod", "--port", str(port), "--confirm-window", "30",
         "--secret-id", SECRET_ID, "--secret-key", SECRET_KEY, "--main-app-id", str(SUB_APP)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        await wait_for_port(port)
        endpoint = f"http://127.0.0.1:{port}"
        print(f"[{kind}] injecting {args.messages} events into the emulator ...", file=sys.stderr)
        await _inject(endpoint + "/_admin", args.messages, PayloadFactory())
        command = [sys.executable, "-m", "bench._vod_bridge", "--endpoint", endpoint,
                   "--secret-id", SECRET_ID, "--sub-app-id", str(SUB_APP), "--url", args.amqp_url,
                   "--exchange", names.exchange, "--requests-per-second", str(rps / args.replicas),
                   "--concurrent-pulls", str(args.concurrent_pulls),
                   "--max-in-flight", str(args.max_in_flight)]  # fmt: skip
        env = {**os.environ, "BENCH_VOD_SECRET_KEY": SECRET_KEY}
        bridges = [await start_bridge(command, env) for _ in range(args.replicas)]
        print(f"[{kind}] running ...", file=sys.stderr)
        emulator_cpu0 = cpu_seconds(emulator.pid)
        result = await measure(channel, names.output, [b.pid for b in bridges], args.messages)
        emulator_cpu = cpu_seconds(emulator.pid) - emulator_cpu0
        result.emulator_us_per_msg = emulator_cpu / args.messages * 1e6
        stats: dict[str, int] = {}
        for bridge in bridges:
            for name, value in orjson.loads((await stop(bridge)).splitlines()[-1]).items():
                stats[name] = stats.get(name, 0) + value
    finally:
        emulator.terminate()
        await emulator.wait()
    result.kind = kind
    budget = f"budget {rps:g} req/s" if rps else "no budget"
    if args.replicas > 1:  # sized as a deployment would be: the account's budget shared
        budget = f"{args.replicas} replicas, {budget}{' shared' if rps else ''}"
    result.other = (
        f"{budget}; {stats['pulls']} pulls ({stats['empty_pulls']} empty), "
        f"{stats['confirmed']} confirmed, {stats['late_confirms']} late, "
        f"{stats['throttles']} throttled"
    )
    return result


async def main_async(args: argparse.Namespace) -> None:
    run = uuid.uuid4().hex[:12]
    names = Names(f"bench.{run}.source", f"bench.{run}.events", f"bench.{run}.out")
    connection = await aiormq.connect(args.amqp_url)
    channel = cast(aiormq.Channel, await connection.channel())
    await declare(channel, names)
    kinds = args.kinds.split(",")
    results: list[Result] = []
    speed_before = normalize_us()
    try:
        for n in range(args.repeat):
            for kind in kinds if n % 2 == 0 else kinds[::-1]:
                if kind == "rabbitmq":
                    result = await run_rabbitmq(args.amqp_url, channel, names, args.messages)
                else:
                    rps = args.quota_rps if kind == "vod-quota" else 0.0
                    result = await run_vod(args, channel, names, kind, rps)
                results.append(result)
                await channel.queue_purge(names.output)
    finally:
        await delete(channel, names)
        await connection.close()
    _report(args, results, kinds)
    print(describe(speed_before, normalize_us()))
    _verdicts(args, results, kinds)


def _report(args: argparse.Namespace, results: list[Result], kinds: list[str]) -> None:
    print(f"\n{args.messages} events of ~4.3 KB; VOD relay max_in_flight {args.max_in_flight} "
          f"(RabbitMQ source: 64), {args.concurrent_pulls} "
          "PullEvents in flight; CPU (user+sys) µs per event of the bridge, the broker and the "
          "emulator; cores: the bridge's, total: all three")  # fmt: skip
    print(f"{'source':<11}{'events/s':>10}{'bridge µs':>11}{'cores':>7}{'broker µs':>11}"
          f"{'emulator µs':>13}{'total':>7}")  # fmt: skip
    for r in results:
        print(_row(r) + f"   {r.other}")
    if args.repeat > 1:
        print(f"medians of {args.repeat}:")
        for kind in kinds:
            print(_row(_median([r for r in results if r.kind == kind])))


QUOTA_EVENTS_PER_S = 1_600  # 100 PullEvents/s x 16 events
QUOTA_CORES_TARGET = 0.5
UNBUDGETED_TARGET = 3_000


def _verdicts(args: argparse.Namespace, results: list[Result], kinds: list[str]) -> None:
    """The issue's two targets against this run (medians when repeated)."""
    cores = os.cpu_count() or 1
    for kind in kinds:
        runs = [r for r in results if r.kind == kind]
        if not runs or kind == "rabbitmq":
            continue
        r = _median(runs) if len(runs) > 1 else runs[0]
        if kind == "vod-quota":
            need = r.cpu_us_per_msg * QUOTA_EVENTS_PER_S / 1e6
            print(f"target vod-quota: the bridge needs {need:.2f} core at "
                  f"{QUOTA_EVENTS_PER_S:,} events/s at this run's {r.cpu_us_per_msg:,.0f} µs/event "
                  f"(target <= {QUOTA_CORES_TARGET}: {'met' if need <= QUOTA_CORES_TARGET else 'not met'})")  # fmt: skip
        else:
            per_event = r.cpu_us_per_msg + r.broker_us_per_msg + r.emulator_us_per_msg
            need = per_event * UNBUDGETED_TARGET / 1e6
            met = "met" if r.msgs_per_s >= UNBUDGETED_TARGET else "not met"
            print(f"target {kind}: {r.msgs_per_s:,.0f} events/s (target >= {UNBUDGETED_TARGET:,}: "
                  f"{met}); at {UNBUDGETED_TARGET:,}/s this run's costs (bridge + broker + "
                  f"emulator, {per_event:,.0f} µs/event) need {need:.2f} cores of this machine's "
                  f"{cores}")  # fmt: skip


def _row(r: Result) -> str:
    emulator = r.emulator_us_per_msg
    per_event = r.cpu_us_per_msg + r.broker_us_per_msg + emulator
    return (
        f"{r.kind:<11}{r.msgs_per_s:>10,.0f}{r.cpu_us_per_msg:>11,.0f}{r.cores:>7.2f}"
        f"{r.broker_us_per_msg:>11,.0f}{emulator:>13,.0f}{per_event * r.msgs_per_s / 1e6:>7.2f}"
    )


def _median(runs: list[Result]) -> Result:
    return Result(
        runs[0].kind,
        msgs_per_s=statistics.median(r.msgs_per_s for r in runs),
        cpu_us_per_msg=statistics.median(r.cpu_us_per_msg for r in runs),
        cores=statistics.median(r.cores for r in runs),
        broker_us_per_msg=statistics.median(r.broker_us_per_msg for r in runs),
        emulator_us_per_msg=statistics.median(r.emulator_us_per_msg for r in runs),
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument(
        "--quota-rps", type=float, default=200.0,
        help="request budget of the vod-quota phase (PullEvents + ConfirmEvents per second)",
    )  # fmt: skip
    parser.add_argument("--concurrent-pulls", type=int, default=4, help="PullEvents in flight")
    parser.add_argument(
        "--max-in-flight", type=int, default=64, help="the VOD bridge's relay.max_in_flight"
    )
    parser.add_argument(
        "--kinds", default="vod-quota,vod,rabbitmq", help="the phases to run, in this order"
    )
    parser.add_argument("--repeat", type=int, default=1, help="runs of every phase (medians)")
    parser.add_argument(
        "--replicas", type=int, default=1,
        help="VOD bridge processes polling the one sub-app together (their CPU is summed)",
    )  # fmt: skip
    parser.add_argument("--amqp-url", default="amqp://guest:guest@127.0.0.1:5672/")
    anyio.run(main_async, parser.parse_args())


if __name__ == "__main__":
    main()
