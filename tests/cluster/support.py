"""What the cluster tests share: quorum topology, bridge replicas on the cluster, and a
publisher and a collector of their own that survive the loss of any one node.

The bridges get the cluster as ``MEDIA_BRIDGE_SOURCE__URL``/``SINK__URL`` = the three nodes'
URLs comma-separated (node 1 first), and ``SOURCE__QUEUE_TYPE``/``SINK__QUEUE_TYPE=quorum``:
the scale-out interface of issue #12. The test's own clients rotate through the URLs too.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

import aiormq
import anyio
from aiormq.abc import DeliveredMessage
from anyio.abc import Process
from pamqp.common import FieldValue

from adapters.rabbitmq_queue_types import queue_arguments
from tests.cluster_broker import Cluster
from tests.integration.bridge import Topology, start_bridge
from tests.private_broker import PrivateBrokerError, tail

QUORUM: dict[str, FieldValue] = {"x-queue-type": "quorum"}
# Errors that mean "this node (or the link to it) is gone, try another" (a channel whose
# connection closed raises ChannelInvalidStateError, a RuntimeError, on the next publish).
LINK_ERRORS = (
    OSError,
    ConnectionError,
    TimeoutError,
    aiormq.exceptions.AMQPError,
    aiormq.exceptions.ChannelInvalidStateError,
)


def cluster_topology(nodes: Cluster) -> Topology:
    """Unique names on the cluster; ``url`` is the comma-separated node list."""
    return Topology(url=nodes.url)


def bridge_env(topology: Topology) -> dict[str, str]:
    """What a bridge replica needs beyond ``Topology.env``: quorum queues, and an unrouted
    exchange/queue of this test's own."""
    return {
        "MEDIA_BRIDGE_SOURCE__QUEUE_TYPE": "quorum",
        "MEDIA_BRIDGE_SINK__QUEUE_TYPE": "quorum",
        "MEDIA_BRIDGE_SINK__UNROUTED_EXCHANGE": f"{topology.events}.unrouted",
        "MEDIA_BRIDGE_SINK__UNROUTED_QUEUE": f"{topology.events}.unrouted",
    }


async def declare(nodes: Cluster, topology: Topology, leader: int = 1) -> None:
    """The source and output queues as quorum queues, declared on node ``leader`` (so it
    leads them: the default leader locator is client-local); the source with the arguments
    the bridge declares it with, so that its declaration is equivalent; the events exchange
    with the output queue bound to it with ``#``. The bridges declare the parking queue."""
    source: dict[str, FieldValue] = dict(queue_arguments("quorum"))
    async with connection(nodes.urls, first=leader - 1) as conn:
        admin = await conn.channel()
        await admin.queue_declare(topology.source, durable=True, arguments=source)
        await admin.exchange_declare(topology.events, exchange_type="topic", durable=True)
        await admin.queue_declare(topology.output, durable=True, arguments=QUORUM)
        await admin.queue_bind(topology.output, topology.events, routing_key="#")


@asynccontextmanager
async def connection(urls: Sequence[str], first: int = 0) -> AsyncIterator[aiormq.Connection]:
    """A connection to the first node, from ``first`` on, that answers."""
    conn = await connect_any(urls, first)
    try:
        yield conn
    finally:
        with anyio.CancelScope(shield=True):
            await conn.close()


async def connect_any(urls: Sequence[str], first: int = 0) -> aiormq.Connection:
    failures = []
    for k in range(len(urls)):
        url = urls[(first + k) % len(urls)]
        try:
            with anyio.fail_after(10):
                return await aiormq.connect(url)
        except LINK_ERRORS as exc:
            failures.append(f"{url}: {type(exc).__name__} {exc}")
    raise RuntimeError(f"no cluster node answers: {failures}")


class Publisher:
    """Publishes bodies to a queue persistently with confirms, a window at a time; a window
    not wholly confirmed (node lost, nack) is sent again on the next node that answers, so
    the queue may get a body twice (same body, same event id) but never loses one."""

    def __init__(self, urls: Sequence[str], queue: str, first: int = 0) -> None:
        self._urls, self._queue, self._next = list(urls), queue, first
        self._conn: aiormq.Connection | None = None
        self._channel: aiormq.abc.AbstractChannel | None = None
        self.published = 0  # bodies confirmed
        self.resent_windows = 0

    async def publish(self, bodies: Sequence[bytes], window: int = 250) -> None:
        for start in range(0, len(bodies), window):
            await self._window(bodies[start : start + window])

    async def _window(self, bodies: Sequence[bytes]) -> None:
        properties = aiormq.spec.Basic.Properties(delivery_mode=2, content_type="application/json")
        deadline = time.monotonic() + 120
        while True:
            try:
                channel = await self._ensure()
                confirms: list[object] = []
                with anyio.fail_after(30):
                    async with anyio.create_task_group() as group:
                        for body in bodies:
                            group.start_soon(self._one, channel, body, properties, confirms)
                if all(isinstance(c, aiormq.spec.Basic.Ack) for c in confirms):
                    self.published += len(bodies)
                    return
            except LINK_ERRORS:
                pass
            await self._drop()
            self.resent_windows += 1
            if time.monotonic() >= deadline:
                raise RuntimeError("could not publish a window to any node within 120 s")
            await anyio.sleep(0.2)  # a retry pause before the next node, not synchronisation

    async def _one(
        self,
        channel: aiormq.abc.AbstractChannel,
        body: bytes,
        properties: aiormq.spec.Basic.Properties,
        confirms: list[object],
    ) -> None:
        try:
            confirms.append(
                await channel.basic_publish(body, routing_key=self._queue, properties=properties)
            )
        except LINK_ERRORS as exc:  # the window is sent again: the caller sees a non-Ack
            confirms.append(exc)

    async def _ensure(self) -> aiormq.abc.AbstractChannel:
        if self._channel is None or self._channel.is_closed:
            await self._drop()
            self._conn = await connect_any(self._urls, self._next)
            self._channel = await self._conn.channel()
        return self._channel

    async def _drop(self) -> None:
        conn, self._conn, self._channel = self._conn, None, None
        self._next += 1  # the next attempt starts at the next node
        if conn is not None:
            # Already broken, most often: then there is nothing to close.
            with anyio.CancelScope(shield=True), anyio.move_on_after(5), suppress(*LINK_ERRORS):
                await conn.close()

    async def aclose(self) -> None:
        await self._drop()


@dataclass
class Collector:
    """Consumes a queue (manual acks, after recording) from whichever node answers, and
    reconnects to the next one when its node goes: keeps every message id it saw,
    duplicates included. Messages it saw but could not ack come again; that only adds
    duplicates of ids already recorded."""

    urls: Sequence[str]
    queue: str
    first: int = 0
    ids: list[str] = field(default_factory=list)
    reconnects: int = 0

    async def run(self) -> None:
        """Until cancelled."""
        n = self.first
        while True:
            try:
                async with connection(self.urls, n) as conn:
                    channel = await conn.channel()
                    await channel.basic_qos(prefetch_count=500)
                    await channel.basic_consume(self.queue, self._on_message)
                    await conn.closing
            except LINK_ERRORS:
                pass
            except RuntimeError:  # no node answered at all this round
                pass
            self.reconnects += 1
            n += 1
            await anyio.sleep(0.2)  # a retry pause before the next node, not synchronisation

    async def _on_message(self, message: DeliveredMessage) -> None:
        self.ids.append(message.header.properties.message_id or "")
        tag = message.delivery_tag
        if tag is not None:  # always set on a Basic.Deliver
            await message.channel.basic_ack(tag)

    def distinct(self) -> set[str]:
        return set(self.ids)

    async def wait_for(self, expected: set[str], timeout_s: float) -> None:
        """Until every id of ``expected`` was seen; fails naming how many are missing."""
        with anyio.move_on_after(timeout_s):
            while not expected <= set(self.ids):  # noqa: ASYNC110 - the consumer only records
                await anyio.sleep(0.1)
        missing = expected - set(self.ids)
        assert not missing, f"{len(missing)} of {len(expected)} events never arrived"

    async def wait_count(self, count: int, timeout_s: float, bridges: Replicas) -> None:
        """Until at least ``count`` distinct ids were seen; fails (with the bridges' logs)
        when they were not within ``timeout_s`` or a bridge exited meanwhile."""
        deadline = time.monotonic() + timeout_s
        while (seen := len(set(self.ids))) < count:
            assert not bridges.exited(), f"bridges exited {bridges.exited()}:\n{bridges.tails()}"
            assert time.monotonic() < deadline, (
                f"{seen} of {count} events after {timeout_s:.0f} s:\n{bridges.tails()}"
            )
            await anyio.sleep(0.05)


class Replicas:
    """Bridge replicas (``media-bridge run`` processes) on one topology."""

    def __init__(self, topology: Topology, logs: Path, env: dict[str, str] | None = None) -> None:
        self.topology, self.logs = topology, logs
        self.env = bridge_env(topology) if env is None else env
        self.processes: list[Process] = []

    def log(self, k: int) -> Path:
        return self.logs / f"bridge-{k}.log"

    async def start(self, count: int) -> None:
        for k in range(count):
            self.processes.append(
                await start_bridge(self.topology, self.log(k), **self.env)
            )

    def exited(self) -> dict[int, int]:
        """Replicas that exited so far, with their exit status."""
        return {
            k: process.returncode for k, process in enumerate(self.processes)
            if process.returncode is not None
        }

    def tails(self) -> str:
        return "\n".join(f"--- bridge {k}:\n{tail(self.log(k), 15)}" for k in range(len(self.processes)))

    async def stop(self) -> list[int]:
        """SIGTERM every replica still running; their exit statuses."""
        for process in self.processes:
            if process.returncode is None:
                process.terminate()
        with anyio.fail_after(60):
            return [await process.wait() for process in self.processes]

    async def aclose(self) -> None:
        for process in self.processes:
            if process.returncode is None:
                process.kill()
        with anyio.CancelScope(shield=True):
            for process in self.processes:
                await process.wait()


@asynccontextmanager
async def replicas(
    topology: Topology, logs: Path, count: int = 3, env: dict[str, str] | None = None
) -> AsyncIterator[Replicas]:
    """``count`` replicas (with ``env``, by default ``bridge_env``), killed on the way out if
    the test did not stop them."""
    running = Replicas(topology, logs, env)
    try:
        await running.start(count)
        yield running
    finally:
        await running.aclose()


@dataclass(frozen=True)
class QueueInfo:
    type: str
    ready: int
    unacked: int
    consumers: int


async def delete_topology(nodes: Cluster, topology: Topology) -> None:
    """Remove a test's queues and exchanges (the cluster serves the whole session)."""
    unrouted = f"{topology.events}.unrouted"
    async with connection(nodes.urls) as conn:
        channel = await conn.channel()
        for queue in (*topology.queues, unrouted):
            await channel.queue_delete(queue)
        for exchange in (*topology.exchanges, unrouted):
            await channel.exchange_delete(exchange)


def leader(nodes: Cluster, queue: str) -> int:
    """The number of the node leading quorum queue ``queue``."""
    for n in range(1, len(nodes.nodes) + 1):
        if nodes.running(n):
            for line in nodes.ctl(n, "list_queues", "name", "leader").splitlines():
                name, _, node = line.partition("\t")
                if name == queue:
                    return nodes.layout.names.index(node) + 1
            raise LookupError(f"no queue {queue}")
    raise RuntimeError("no node runs")


def queues(nodes: Cluster) -> dict[str, QueueInfo]:
    """Every queue of the cluster's ``/`` vhost, as the first running node lists it."""
    for n in range(1, len(nodes.nodes) + 1):
        if not nodes.running(n):
            continue
        try:
            output = nodes.ctl(
                n, "list_queues", "name", "type", "messages_ready", "messages_unacknowledged",
                "consumers", timeout_s=30,
            )
        except PrivateBrokerError:
            continue
        found = {}
        for line in output.splitlines()[1:] if output.startswith("name") else output.splitlines():
            name, kind, ready, unacked, consumers = line.split("\t")
            found[name] = QueueInfo(kind, int(ready), int(unacked), int(consumers))
        return found
    raise RuntimeError("no running node could list the queues")


@dataclass(frozen=True)
class Depth:
    ready: int
    consumers: int


async def depth(nodes: Cluster, queue: str) -> Depth:
    """Ready messages and consumers of ``queue`` by a passive declare (answered by a quorum
    queue's leader; ``rabbitmqctl list_queues`` reads a quorum queue's counts from metrics that
    showed 0 here while it held thousands)."""
    async with connection(nodes.urls) as conn:
        channel = await conn.channel()
        ok = await channel.queue_declare(queue, passive=True)
    return Depth(ok.message_count or 0, ok.consumer_count or 0)


async def wait_consumers(
    nodes: Cluster,
    queue: str,
    count: int,
    running: Replicas,
    timeout_s: float = 90,
    *,
    exactly: bool = False,
    allow_exit: frozenset[int] | set[int] = frozenset(),
) -> None:
    """Until ``queue`` has ``count`` consumers (at least, or ``exactly``); fails at once if a
    replica other than those in ``allow_exit`` exits meanwhile."""
    deadline = time.monotonic() + timeout_s
    while True:
        exited = {k: v for k, v in running.exited().items() if k not in allow_exit}
        assert not exited, f"bridges exited {exited}:\n{running.tails()}"
        info = await depth(nodes, queue)
        if info.consumers == count if exactly else info.consumers >= count:
            return
        assert time.monotonic() < deadline, (
            f"{queue} has {info} after {timeout_s:.0f} s, not {count} consumers:\n"
            f"{running.tails()}"
        )
        await anyio.sleep(0.5)



async def wait_depth(
    nodes: Cluster, queue: str, most: int, running: Replicas, timeout_s: float
) -> None:
    """Until ``queue`` holds at most ``most`` ready messages; fails at once if a replica exits
    meanwhile."""
    deadline = time.monotonic() + timeout_s
    while True:
        assert not running.exited(), f"bridges exited {running.exited()}:\n{running.tails()}"
        info = await depth(nodes, queue)
        if info.ready <= most:
            return
        assert time.monotonic() < deadline, (
            f"{queue} still holds {info} after {timeout_s:.0f} s:\n{running.tails()}"
        )
        await anyio.sleep(0.5)
