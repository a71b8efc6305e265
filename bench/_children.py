"""Child processes of the source benchmarks: ports, the bridge under test, the measuring loop."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

import aiormq
import anyio
from anyio.abc import Process

from bench._payload import PayloadFactory
from bench._probe import Names, broker_pid, count, cpu_seconds, load


@dataclass
class Result:
    kind: str
    msgs_per_s: float
    cpu_us_per_msg: float
    other: str = ""
    cores: float = 0.0  # the bridge's CPU seconds per wall-clock second while measured
    broker_us_per_msg: float = float("nan")  # the local broker's CPU over the same window
    emulator_us_per_msg: float = 0.0  # the source's emulator's, where the caller measured it


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


async def wait_for_port(port: int) -> None:
    with anyio.fail_after(15):
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), 0.2):
                    return
            except OSError:
                await anyio.sleep(0.05)


async def start_bridge(command: list[str], env: dict[str, str] | None = None) -> Process:
    process = await anyio.open_process(command, stdout=subprocess.PIPE, stderr=None, env=env)
    assert process.stdout is not None
    line = await process.stdout.receive(64)
    if line.strip() != b"ready":
        raise RuntimeError(f"bridge did not start: {line!r}")
    return process


async def measure(
    channel: aiormq.abc.AbstractChannel, queue: str, pid: int | Sequence[int], total: int
) -> Result:
    """Until ``total`` messages sit in ``queue``: the rate, and the CPU of the bridge process
    ``pid`` (of all of them together, for several replicas) and of the broker."""
    pids = [pid] if isinstance(pid, int) else list(pid)
    broker = broker_pid()
    broker0 = cpu_seconds(broker) if broker else 0.0
    started, cpu0 = time.perf_counter(), sum(cpu_seconds(p) for p in pids)
    while await count(channel, queue) < total:  # noqa: ASYNC110 - the broker is polled
        await anyio.sleep(0.05)
    elapsed = time.perf_counter() - started
    cpu = sum(cpu_seconds(p) for p in pids) - cpu0
    result = Result("", total / elapsed, cpu / total * 1e6, cores=cpu / elapsed)
    if broker:
        result.broker_us_per_msg = (cpu_seconds(broker) - broker0) / total * 1e6
    return result


async def stop(process: Process) -> bytes:
    process.terminate()
    await process.wait()
    return b"".join([chunk async for chunk in process.stdout] if process.stdout else [])


async def run_rabbitmq(amqp_url: str, channel: aiormq.Channel, names: Names, total: int) -> Result:
    """The baseline of the source benchmarks: RabbitSource → run_relay → RabbitSink."""
    print(f"[rabbitmq] loading {total} messages ...", file=sys.stderr)
    await load(channel, names.source, total, PayloadFactory(), uuid.uuid4().hex[:8])
    command = [sys.executable, "-m", "bench._bridges", "relay", "--url", amqp_url,
               "--source", names.source, "--exchange", names.exchange]  # fmt: skip
    bridge = await start_bridge(command)
    print("[rabbitmq] running ...", file=sys.stderr)
    result = await measure(channel, names.output, bridge.pid, total)
    await stop(bridge)
    result.kind = "rabbitmq"
    return result
