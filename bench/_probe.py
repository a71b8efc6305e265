"""The benchmark's outside view: broker set-up, loading, counting, pacing and /proc readings."""

from __future__ import annotations

import contextlib
import os
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import aiormq
import anyio
from aiormq.abc import DeliveredMessage
from pamqp.common import FieldValue

from bench._payload import PayloadFactory, sent_ns

_TICKS = os.sysconf("SC_CLK_TCK")
_PAGE = os.sysconf("SC_PAGE_SIZE")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of process ``pid`` so far."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICKS


def broker_pid(port: int = 5672) -> int | None:
    """The local RabbitMQ node's Erlang VM (beam.smp), or None when it is not on this machine.

    Other nodes may run beside it (a test cluster, a private test broker): the one listening on
    ``port`` is preferred, the first beam.smp found otherwise.
    """
    listening = _listening_inodes(port)
    first = None
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/comm") as comm:
                    if comm.read().strip() != "beam.smp":
                        continue
                if not listening or _holds_socket(entry, listening):
                    return int(entry)
            except OSError:
                continue
            first = first or int(entry)
    return first


def _listening_inodes(port: int) -> set[str]:
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as lines:
                for line in list(lines)[1:]:
                    fields = line.split()
                    if fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:
                        inodes.add(fields[9])  # 0A: LISTEN
        except OSError:
            continue
    return inodes


def _holds_socket(pid: str, inodes: set[str]) -> bool:
    fds = f"/proc/{pid}/fd"
    for fd in os.listdir(fds):
        with contextlib.suppress(OSError):
            if os.readlink(f"{fds}/{fd}").removeprefix("socket:[").rstrip("]") in inodes:
                return True
    return False


def rss_mib(pid: int) -> float:
    """Resident set size of process ``pid`` in MiB."""
    with open(f"/proc/{pid}/statm") as statm:
        return int(statm.read().split()[1]) * _PAGE / 2**20


@dataclass(frozen=True)
class Names:
    """One run's broker objects (unique, so runs never see each other's leftovers)."""

    source: str
    exchange: str
    output: str

    @property
    def parking(self) -> str:
        return f"{self.exchange}.parking"


async def declare(
    channel: aiormq.abc.AbstractChannel, names: Names, arguments: dict[str, FieldValue] | None = None
) -> None:
    """The run's queues (with ``arguments``: e.g. quorum ones) and exchange."""
    await channel.queue_declare(names.source, durable=True, arguments=arguments)
    await channel.exchange_declare(names.exchange, exchange_type="topic", durable=True)
    await channel.queue_declare(names.output, durable=True, arguments=arguments)
    await channel.queue_bind(names.output, names.exchange, routing_key="#")


async def delete(channel: aiormq.abc.AbstractChannel, names: Names) -> None:
    for queue in (names.source, names.output, names.parking):
        await channel.queue_delete(queue)
    for exchange in (names.exchange, names.parking):
        await channel.exchange_delete(exchange)


async def count(channel: aiormq.abc.AbstractChannel, queue: str) -> int:
    """Ready messages in ``queue`` (a passive declare: one cheap round trip)."""
    ok = await channel.queue_declare(queue, passive=True)
    return ok.message_count or 0


async def load(
    channel: aiormq.Channel, queue: str, total: int, bodies: PayloadFactory, run: str
) -> None:
    """Publish ``total`` persistent bodies to ``queue`` with confirms, a window at a time."""
    properties = aiormq.spec.Basic.Properties(delivery_mode=2, content_type="application/json")
    window = 500
    for start in range(0, total, window):
        async with anyio.create_task_group() as group:
            for n in range(start, min(start + window, total)):
                group.start_soon(_publish, channel, queue, bodies.body(n, run), properties)


async def _publish(
    channel: aiormq.Channel, queue: str, body: bytes, properties: aiormq.spec.Basic.Properties
) -> None:
    await channel.basic_publish(body, routing_key=queue, properties=properties, wait=False)


@dataclass
class LatencyProbe:
    """Collects publish→arrival latencies (ms) from the stamps in arriving bodies."""

    latencies_ms: list[float] = field(default_factory=list)
    arrived: int = 0

    async def on_message(self, message: DeliveredMessage) -> None:
        sent = sent_ns(message.body)
        self.arrived += 1
        if sent is not None:
            self.latencies_ms.append((time.time_ns() - sent) / 1e6)

    def percentiles(self) -> tuple[float, float]:
        if len(self.latencies_ms) < 2:
            return float("nan"), float("nan")
        cuts = statistics.quantiles(self.latencies_ms, n=100)
        return cuts[49], cuts[98]


async def paced_publish(
    channel: aiormq.Channel,
    queue: str,
    rate: float,
    total: int,
    bodies: PayloadFactory,
    run: str,
    now: Callable[[], float] = time.perf_counter,
) -> None:
    """Publish ``total`` bodies at ``rate``/s on a fixed schedule (no coordinated omission:
    each body is stamped when it is sent, and a late tick does not delay the next ones)."""
    properties = aiormq.spec.Basic.Properties(delivery_mode=2, content_type="application/json")
    start = now()
    async with anyio.create_task_group() as group:
        for n in range(total):
            delay = start + n / rate - now()
            if delay > 0:
                await anyio.sleep(delay)
            group.start_soon(_publish, channel, queue, bodies.body(n, run), properties)
