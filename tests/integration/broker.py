"""The real RabbitMQ for tests: URL, an admin channel, unique names, reading and counting queues.

Tests that need the broker *fail* when it is unreachable (CI always has one): a skipped
integration suite looks green and hides a broken bridge.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import cast

import aiormq
import anyio
from aiormq.abc import DeliveredMessage

AMQP_URL = os.environ.get("MEDIA_BRIDGE_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")


def unique(prefix: str) -> str:
    """A broker object name no other test (or run) uses."""
    return f"test.{prefix}.{uuid.uuid4().hex[:12]}"


@asynccontextmanager
async def admin_channel() -> AsyncIterator[aiormq.Channel]:
    """A plain aiormq channel for set-up, inspection and clean-up."""
    try:
        with anyio.fail_after(10):
            connection = await aiormq.connect(AMQP_URL)
    except (OSError, aiormq.exceptions.AMQPError, TimeoutError) as exc:
        raise RuntimeError(
            f"RabbitMQ is not reachable at MEDIA_BRIDGE_TEST_AMQP_URL ({type(exc).__name__}); "
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


def queue_state(name: str) -> QueueState:
    """Ready and unacknowledged counts from ``rabbitmqctl`` (passive declare can't see unacked)."""
    if shutil.which("rabbitmqctl") is None:
        raise RuntimeError("rabbitmqctl is needed to count unacknowledged messages")
    output = subprocess.run(
        ["rabbitmqctl", "-q", "list_queues", "name", "messages_ready",
         "messages_unacknowledged", "consumers"],
        capture_output=True, text=True, check=True, timeout=60,
    ).stdout
    for line in output.splitlines():
        parts = line.split("\t")
        if parts and parts[0] == name:
            return QueueState(int(parts[1]), int(parts[2]), int(parts[3]))
    raise LookupError(f"queue {name} not found")


def rabbitmqctl(*args: str) -> str:
    """Run ``rabbitmqctl`` (the tests run as root beside the broker, like CI)."""
    return subprocess.run(
        ["rabbitmqctl", "-q", *args], capture_output=True, text=True, check=True, timeout=60
    ).stdout


async def delete_all(channel: aiormq.Channel, queues: list[str], exchanges: list[str]) -> None:
    """Remove what a test declared (missing ones are fine)."""
    for queue in queues:
        await channel.queue_delete(queue)
    for exchange in exchanges:
        await channel.exchange_delete(exchange)


def close_connections(name_part: str) -> int:
    """Force-close the broker connections whose client-given name contains ``name_part``.

    Narrower than ``close_all_connections``: other processes using this broker are left alone.
    """
    closed = 0
    for line in rabbitmqctl("list_connections", "pid", "client_properties").splitlines():
        pid, _, properties = line.partition("\t")
        if '{"connection_name","' in properties and name_part in properties:
            rabbitmqctl("close_connection", pid, "test: forced close")
            closed += 1
    return closed
