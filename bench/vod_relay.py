"""Benchmark: the relay fed by VOD PullEvents (emulator) against the same relay fed by RabbitMQ.

    .venv/bin/python -m bench.vod_relay [--messages 20000] [--quota-rps 200]
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
(``bench._vod_bridge``). A script, never a test: the numbers are printed, not asserted.
"""

from __future__ import annotations

import argparse
import os
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
                   "--exchange", names.exchange, "--requests-per-second", str(rps),
                   "--concurrent-pulls", str(args.concurrent_pulls)]  # fmt: skip
        bridge = await start_bridge(command, {**os.environ, "BENCH_VOD_SECRET_KEY": SECRET_KEY})
        print(f"[{kind}] running ...", file=sys.stderr)
        emulator_cpu0 = cpu_seconds(emulator.pid)
        result = await measure(channel, names.output, bridge.pid, args.messages)
        emulator_us = (cpu_seconds(emulator.pid) - emulator_cpu0) / args.messages * 1e6
        stats = orjson.loads((await stop(bridge)).splitlines()[-1])
    finally:
        emulator.terminate()
        await emulator.wait()
    result.kind = kind
    budget = f"budget {rps:g} req/s" if rps else "no budget"
    result.other = (
        f"{budget}; {stats['pulls']} pulls ({stats['empty_pulls']} empty), "
        f"{stats['confirmed']} confirmed, {stats['late_confirms']} late, "
        f"{stats['throttles']} throttled; emulator CPU {emulator_us:.0f} µs/event"
    )
    return result


async def main_async(args: argparse.Namespace) -> None:
    run = uuid.uuid4().hex[:12]
    names = Names(f"bench.{run}.source", f"bench.{run}.events", f"bench.{run}.out")
    connection = await aiormq.connect(args.amqp_url)
    channel = cast(aiormq.Channel, await connection.channel())
    await declare(channel, names)
    results = []
    try:
        for kind, rps in (("vod-quota", args.quota_rps), ("vod", 0.0)):
            results.append(await run_vod(args, channel, names, kind, rps))
            await channel.queue_purge(names.output)
        results.append(await run_rabbitmq(args.amqp_url, channel, names, args.messages))
    finally:
        await delete(channel, names)
        await connection.close()
    print(f"\n{args.messages} events of ~4.3 KB; relay max_in_flight 64, {args.concurrent_pulls} "
          "PullEvents in flight; bridge process CPU (user+sys)")  # fmt: skip
    print(f"{'source':<11}{'events/s':>10}{'CPU µs/event':>14}{'cores':>7}")
    for r in results:
        print(
            f"{r.kind:<11}{r.msgs_per_s:>10,.0f}{r.cpu_us_per_msg:>14,.0f}{r.cores:>7.2f}   {r.other}"
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
    parser.add_argument("--amqp-url", default="amqp://guest:guest@127.0.0.1:5672/")
    anyio.run(main_async, parser.parse_args())


if __name__ == "__main__":
    main()
