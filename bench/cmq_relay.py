"""Benchmark: the relay fed by CMQ (emulator) against the same relay fed by RabbitMQ, one run.

    .venv/bin/python -m bench.cmq_relay [--messages 20000] [--batch-size 16] [--delete-window 0.02]
                                        [--amqp-url amqp://guest:guest@127.0.0.1:5672/]

Both phases move the same N unique ~4.3 KB ProcedureStateChanged bodies (``bench._payload``) to
a fresh topic exchange whose ``#`` queue is counted; the clock and the CPU reading start when
the bridge (a child process) says ``ready`` and stop when N messages sit in that queue.

* ``cmq``: the CMQ emulator runs in its own process (``python -m emulators.cmq``), so its CPU
  time is not the bridge's; the bodies are loaded with BatchSendMessage before the bridge
  starts. Bridge: ``CmqSource`` (BatchReceiveMessage of ``--batch-size``, coalesced
  BatchDeleteMessage) → ``run_relay`` → ``RabbitSink`` (``bench._cmq_bridge``).
* ``rabbitmq``: ``RabbitSource`` → ``run_relay`` → ``RabbitSink`` (``bench._bridges relay``).

Prints msgs/s and CPU µs/msg of the bridge process (and of the emulator, for reference).
A script, never a test: the numbers are printed, not asserted.
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

from adapters.cmq_options import DEFAULT_DELETE_COALESCE_WINDOW_S
from adapters.cmq_signing import CMQ_PATH, signed_params
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

SECRET_ID = "AKIDBENCHCMQ000000000000000000000000"
SECRET_KEY = "bench-cmq-secret-key"  # the emulator's, local only
BATCH = 16  # BatchSendMessage takes at most 16 bodies


async def _load_cmq(endpoint: str, queue: str, total: int, bodies: PayloadFactory) -> None:
    host = endpoint.removeprefix("http://")
    run = uuid.uuid4().hex[:8]

    async def send(http: httpx.AsyncClient, start: int) -> None:
        params = {"queueName": queue}
        for i, n in enumerate(range(start, min(start + BATCH, total)), start=1):
            params[f"msgBody.{i}"] = bodies.body(n, run).decode()
        form = signed_params(
            {"Action": "BatchSendMessage", **params},
            host=host,
            secret_id=SECRET_ID,
            secret_key=SECRET_KEY,
        )
        reply = orjson.loads((await http.post(endpoint + CMQ_PATH, data=form)).content)
        if reply["code"] != 0:
            raise RuntimeError(f"BatchSendMessage failed: {reply}")

    async with httpx.AsyncClient(timeout=30) as http:
        window = BATCH * 16
        for chunk in range(0, total, window):
            async with anyio.create_task_group() as group:
                for start in range(chunk, min(chunk + window, total), BATCH):
                    group.start_soon(send, http, start)


async def run_cmq(args: argparse.Namespace, channel: aiormq.Channel, names: Names) -> Result:
    port, queue = free_port(), f"bench-{uuid.uuid4().hex[:8]}"
    endpoint = f"http://127.0.0.1:{port}"
    emulator = await anyio.open_process(
        [sys.executable, "-m", "emulators.cmq", "--port", str(port), "--queue", queue,
         "--visibility-timeout", "60", "--secret-id", SECRET_ID, "--secret-key", SECRET_KEY],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        await wait_for_port(port)
        print(f"[cmq] loading {args.messages} messages into the emulator ...", file=sys.stderr)
        await _load_cmq(endpoint, queue, args.messages, PayloadFactory())
        command = [sys.executable, "-m", "bench._cmq_bridge", "--endpoint", endpoint,
                   "--secret-id", SECRET_ID, "--queue", queue, "--url", args.amqp_url,
                   "--exchange", names.exchange, "--batch-size", str(args.batch_size),
                   "--delete-window", str(args.delete_window)]  # fmt: skip
        bridge = await start_bridge(command, {**os.environ, "BENCH_CMQ_SECRET_KEY": SECRET_KEY})
        print("[cmq] running ...", file=sys.stderr)
        emulator_cpu0 = cpu_seconds(emulator.pid)
        result = await measure(channel, names.output, bridge.pid, args.messages)
        emulator_us = (cpu_seconds(emulator.pid) - emulator_cpu0) / args.messages * 1e6
        stats = orjson.loads((await stop(bridge)).splitlines()[-1])
    finally:
        emulator.terminate()
        await emulator.wait()
    result.kind = "cmq"
    result.other = (
        f"emulator CPU {emulator_us:.0f} µs/msg; deleted {stats['deleted']}, "
        f"empty polls {stats['empty_polls']}, late deletes {stats['late_deletes']}"
    )
    return result


async def main_async(args: argparse.Namespace) -> None:
    run = uuid.uuid4().hex[:12]
    names = Names(f"bench.{run}.source", f"bench.{run}.events", f"bench.{run}.out")
    connection = await aiormq.connect(args.amqp_url)
    channel = cast(aiormq.Channel, await connection.channel())
    await declare(channel, names)
    try:
        results = [await run_cmq(args, channel, names)]
        await channel.queue_purge(names.output)
        results.append(await run_rabbitmq(args.amqp_url, channel, names, args.messages))
    finally:
        await delete(channel, names)
        await connection.close()
    print(f"\n{args.messages} messages of ~4.3 KB; CMQ batch {args.batch_size}, delete window "
          f"{args.delete_window * 1000:g} ms; "
          f"relay max_in_flight 64; bridge process CPU (user+sys)")  # fmt: skip
    print(f"{'source':<10}{'msgs/s':>10}{'CPU µs/msg':>12}")
    for r in results:
        print(f"{r.kind:<10}{r.msgs_per_s:>10,.0f}{r.cpu_us_per_msg:>12,.0f}   {r.other}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--batch-size", type=int, default=16, help="CMQ numOfMsg (1-16)")
    parser.add_argument(
        "--delete-window", type=float, default=DEFAULT_DELETE_COALESCE_WINDOW_S, metavar="S",
        help="CMQ delete_coalesce_window (acks this close share one BatchDeleteMessage)",
    )  # fmt: skip
    parser.add_argument("--amqp-url", default="amqp://guest:guest@127.0.0.1:5672/")
    anyio.run(main_async, parser.parse_args())


if __name__ == "__main__":
    main()
