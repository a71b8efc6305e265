"""Parked queues on the real broker for the ``parked`` / ``replay`` tests.

:class:`ParkingLot` declares one test's events exchange (with an ``output`` queue bound ``#``)
and parking exchange + queue (bound ``#``, as the sink declares them), parks bodies the way the
relay does (``consumer.outbound.parking_message`` through a real ``RabbitSink``), and reads the
queues back. ``peek`` reads a queue without changing it (basic.get unacked, then the channel is
closed: RabbitMQ requeues to the original positions), ``drain`` empties it.
"""

from __future__ import annotations

import os
import sys
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime

import aiormq
import anyio
from aiormq.abc import DeliveredMessage

from adapters.rabbitmq import RabbitSink, RabbitSinkOptions
from adapters.rabbitmq_parked import RabbitParkedQueue
from consumer.errors import PayloadError
from consumer.normalize import normalize
from consumer.outbound import parking_message
from consumer.ports import DeliveryInfo
from tests.amqp_path import FAST_PATH, bridge_env
from tests.integration.broker import AMQP_URL, admin_channel, delete_all, drain, unique
from tests.samples import REPO_ROOT


@dataclass(frozen=True)
class ParkingLot:
    events: str = field(default_factory=lambda: unique("rp.events"))
    output: str = field(default_factory=lambda: unique("rp.output"))
    parking: str = field(default_factory=lambda: unique("rp.parking"))

    def sink_options(self) -> RabbitSinkOptions:
        return RabbitSinkOptions(
            AMQP_URL,
            events_exchange=self.events,
            parking_exchange=self.parking,
            parking_queue=self.parking,
            fast_path=FAST_PATH,
        )

    def env(self, **extra: str) -> dict[str, str]:
        """The environment pointing ``media-bridge parked/replay`` at this lot."""
        base = {n: v for n, v in os.environ.items() if not n.startswith("MEDIA_BRIDGE_")}
        return {
            **base,
            "MEDIA_BRIDGE_SINK__URL": AMQP_URL,
            "MEDIA_BRIDGE_SINK__EVENTS_EXCHANGE": self.events,
            "MEDIA_BRIDGE_SINK__PARKING_EXCHANGE": self.parking,
            "MEDIA_BRIDGE_SINK__PARKING_QUEUE": self.parking,
            "MEDIA_BRIDGE_LOG__LEVEL": "WARNING",
            **bridge_env(),
            **extra,
        }

    async def park(
        self, bodies: Sequence[bytes], reason: str = "internal_error", source: str = "cmq:q"
    ) -> None:
        """Park ``bodies`` in this order, as the relay parks them (confirmed one by one)."""
        sink = await RabbitSink.connect(self.sink_options())
        try:
            for n, body in enumerate(bodies):
                info = DeliveryInfo(source, f"d{n}", 1, datetime.now(UTC))
                await sink.publish(parking_message(body, info, reason, f"test parking {n}"))
        finally:
            await sink.aclose()

    async def reader(self, queue: str | None = None) -> RabbitParkedQueue:
        return await RabbitParkedQueue.connect(AMQP_URL, queue or self.parking)


@asynccontextmanager
async def parking_lot() -> AsyncIterator[tuple[ParkingLot, aiormq.Channel]]:
    """A declared :class:`ParkingLot` and an admin channel; everything deleted afterwards."""
    lot = ParkingLot()
    async with admin_channel() as admin:
        await admin.exchange_declare(lot.events, exchange_type="topic", durable=True)
        await admin.queue_declare(lot.output, durable=True)
        await admin.queue_bind(lot.output, lot.events, routing_key="#")
        await admin.exchange_declare(lot.parking, exchange_type="topic", durable=True)
        await admin.queue_declare(lot.parking, durable=True)
        await admin.queue_bind(lot.parking, lot.parking, routing_key="#")
        try:
            yield lot, admin
        finally:
            with anyio.CancelScope(shield=True):
                await delete_all(admin, [lot.output, lot.parking], [lot.events, lot.parking])


async def peek(queue: str) -> list[DeliveredMessage]:
    """Every ready message of ``queue``, head first, leaving the queue as it was."""
    async with admin_channel() as channel:
        seen: list[DeliveredMessage] = []
        while True:
            message = await channel.basic_get(queue, no_ack=False)
            if not isinstance(message.delivery, aiormq.spec.Basic.GetOk):
                return seen  # closing the channel requeues them all, in place
            seen.append(message)


async def take_all(queue: str) -> list[DeliveredMessage]:
    """Every ready message of ``queue``, removed."""
    async with admin_channel() as channel:
        return await drain(channel, queue)


def header(message: DeliveredMessage, name: str) -> object:
    value = (message.header.properties.headers or {}).get(name)
    return value.decode() if isinstance(value, bytes) else value


def reason_today(body: bytes) -> str:
    """The reason normalizing ``body`` fails with today (it must fail)."""
    try:
        normalize(body)
    except PayloadError as exc:
        return exc.reason.value
    raise AssertionError("expected a body that still fails")


def routing_key(message: DeliveredMessage) -> str:
    """The routing key a taken message was published with."""
    assert isinstance(message.delivery, aiormq.spec.Basic.GetOk)
    return str(message.delivery.routing_key)


def bridge_command(*args: str) -> list[str]:
    """``media-bridge ARGS`` with this interpreter (``python -m consumer``)."""
    return [sys.executable, "-m", "consumer", *args]


async def run_command(lot: ParkingLot, *args: str, timeout_s: float = 60) -> tuple[int, str, str]:
    """Run ``media-bridge ARGS`` against ``lot`` to the end: exit status, stdout, stderr."""
    with anyio.fail_after(timeout_s):
        done = await anyio.run_process(
            bridge_command(*args), env=lot.env(), cwd=REPO_ROOT, check=False
        )
    return done.returncode, done.stdout.decode(), done.stderr.decode()
