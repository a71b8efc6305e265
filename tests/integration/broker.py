"""The RabbitMQ for tests: URL and vhost, an admin channel, unique names, reading and counting queues.

Tests that need the broker *fail* when it is unreachable (CI always has one): a skipped
integration suite looks green and hides a broken bridge.

The broker at ``MEDIA_BRIDGE_TEST_AMQP_URL`` is shared with other people: tests only declare
(and delete) objects of their own there, in the URL's vhost, and only close their own
connections. Broker-wide changes happen on a private node (``tests/private_broker.py``).
"""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Protocol, cast

import aiormq
import anyio
from aiormq.abc import DeliveredMessage
from yarl import URL

AMQP_URL = os.environ.get("MEDIA_BRIDGE_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")
# In every name this test session declares, so that what a session left behind can be found
# (tests/conftest.py) without mistaking another run's objects on the same broker for ours.
RUN = uuid.uuid4().hex[:8]


def vhost_of(url: str) -> str:
    """The vhost an AMQP URL names, read the way aiormq reads it (no path or ``/``: ``/``)."""
    path = URL(url).path
    return "/" if path in ("", "/") else path[1:].replace("%2F", "/")


VHOST = vhost_of(AMQP_URL)


class Broker(Protocol):
    """A broker tests can inspect: its AMQP URL, the vhost that URL names, ``rabbitmqctl``."""

    @property
    def url(self) -> str: ...

    @property
    def vhost(self) -> str: ...

    def ctl(self, *args: str) -> str: ...


@dataclass(frozen=True)
class SharedBroker:
    """The broker at ``MEDIA_BRIDGE_TEST_AMQP_URL``; ``ctl`` is for reading it (and closing a
    test's own connections) - never for broker-wide changes."""

    url: str = AMQP_URL

    @property
    def vhost(self) -> str:
        return vhost_of(self.url)

    def ctl(self, *args: str) -> str:
        """Run ``rabbitmqctl -q ARGS`` (the tests run as root beside the broker, like CI)."""
        try:
            return subprocess.run(
                ["rabbitmqctl", "-q", *args], capture_output=True, text=True, check=True,
                timeout=60,
            ).stdout
        except FileNotFoundError:
            raise RuntimeError(
                "rabbitmqctl is needed beside the broker (unacknowledged counts, connections)"
            ) from None


SHARED = SharedBroker()


def unique(prefix: str) -> str:
    """A broker object name no other test (or run) uses."""
    return f"test.{prefix}.{RUN}.{uuid.uuid4().hex[:8]}"


@asynccontextmanager
async def admin_channel(url: str = AMQP_URL) -> AsyncIterator[aiormq.Channel]:
    """A plain aiormq channel for set-up, inspection and clean-up."""
    try:
        with anyio.fail_after(10):
            connection = await aiormq.connect(url)
    except (OSError, aiormq.exceptions.AMQPError, TimeoutError) as exc:
        where = "MEDIA_BRIDGE_TEST_AMQP_URL" if url == AMQP_URL else URL(url).with_password(None)
        raise RuntimeError(
            f"RabbitMQ is not reachable at {where} ({type(exc).__name__}); "
            "start it (scripts/ensure-rabbitmq) - these tests fail rather than skip"
        ) from None
    try:
        yield cast(aiormq.Channel, await connection.channel())
    finally:
        with anyio.CancelScope(shield=True):
            await connection.close()


async def put(channel: aiormq.Channel, queue: str, bodies: list[bytes]) -> None:
    """Publish ``bodies`` persistently to ``queue`` with confirms, in windows."""
    properties = aiormq.spec.Basic.Properties(delivery_mode=2)
    for start in range(0, len(bodies), 500):
        async with anyio.create_task_group() as group:
            for body in bodies[start : start + 500]:
                group.start_soon(_publish, channel, queue, body, properties)


async def _publish(
    channel: aiormq.Channel, queue: str, body: bytes, properties: aiormq.spec.Basic.Properties
) -> None:
    await channel.basic_publish(body, routing_key=queue, properties=properties, wait=False)


async def drain(channel: aiormq.Channel, queue: str) -> list[DeliveredMessage]:
    """Take (and ack) every message now ready in ``queue``."""
    taken: list[DeliveredMessage] = []
    while True:
        message = await channel.basic_get(queue, no_ack=True)
        if not isinstance(message.delivery, aiormq.spec.Basic.GetOk):
            return taken
        taken.append(message)


async def take(
    channel: aiormq.Channel, queue: str, count: int, timeout_s: float = 5.0
) -> list[DeliveredMessage]:
    """Wait until ``count`` messages could be taken from ``queue``; oldest first."""
    taken: list[DeliveredMessage] = []
    with anyio.fail_after(timeout_s):
        while len(taken) < count:
            taken += await drain(channel, queue)
            if len(taken) < count:
                await anyio.sleep(0.02)
    return taken


@dataclass(frozen=True)
class QueueState:
    ready: int
    unacked: int
    consumers: int


def queue_state(name: str, broker: Broker = SHARED) -> QueueState:
    """Ready and unacknowledged counts from ``rabbitmqctl`` (passive declare can't see unacked)."""
    output = broker.ctl(
        "list_queues", "-p", broker.vhost, "name", "messages_ready", "messages_unacknowledged",
        "consumers",
    )
    for line in output.splitlines():
        parts = line.split("\t")
        if parts and parts[0] == name:
            return QueueState(int(parts[1]), int(parts[2]), int(parts[3]))
    raise LookupError(f"queue {name} not found in vhost {broker.vhost}")


async def delete_all(channel: aiormq.Channel, queues: list[str], exchanges: list[str]) -> None:
    """Remove what a test declared (missing ones are fine)."""
    for queue in queues:
        await channel.queue_delete(queue)
    for exchange in exchanges:
        await channel.exchange_delete(exchange)


def close_connections(name_part: str, broker: Broker = SHARED) -> int:
    """Force-close the connections to ``broker``'s vhost whose client-given name contains
    ``name_part`` (make it name this process or a child: other users' connections stay up)."""
    closed = 0
    for line in broker.ctl("list_connections", "pid", "vhost", "client_properties").splitlines():
        pid, vhost, properties = [*line.split("\t", 2), "", ""][:3]
        if vhost == broker.vhost and '{"connection_name","' in properties and (
            name_part in properties
        ):
            broker.ctl("close_connection", pid, "test: forced close")
            closed += 1
    return closed
