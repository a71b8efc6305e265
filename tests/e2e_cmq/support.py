"""End-to-end pieces: Tencent's SDK as the producer, the broker tap, and an in-process relay.

The notifications go into the emulator with Tencent's own CMQ SDK (``qcloud-cmq-sdk-py3``), as
MPS/VOD would put them there; the bridge reads them with ``CmqSource`` and publishes to a real
RabbitMQ, where a tap queue bound with ``#`` collects every event.
"""

from __future__ import annotations

import logging
import socket
from collections import Counter
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import aiormq
import anyio
import anyio.to_thread
import orjson
from anyio.abc import Process
from cmq.account import Account
from cmq.queue import Message

from adapters.rabbitmq import RabbitSink, RabbitSinkOptions
from consumer.errors import PayloadError
from consumer.normalize import normalize
from consumer.ports import Source
from consumer.relay import RelayOptions, run_relay
from tests.cmq.helpers import SECRET_ID, SECRET_KEY
from tests.integration.broker import AMQP_URL, admin_channel, delete_all, drain, unique

# Without a handler of its own, the SDK's logger adds a file handler writing CMQ_python_sdk.log
# into the working directory.
logging.getLogger("CMQ_python_sdk").addHandler(logging.NullHandler())

SDK_BATCH = 16  # BatchSendMessage takes at most 16 bodies


def sdk_send(url: str, queue: str, bodies: list[str]) -> None:
    """Send ``bodies`` with Tencent's SDK (BatchSendMessage, HmacSHA256). Blocking."""
    account = Account(url, SECRET_ID, SECRET_KEY)
    account.set_sign("sha256")
    try:
        target = account.get_queue(queue)
        for start in range(0, len(bodies), SDK_BATCH):
            target.batch_send_message([Message(b) for b in bodies[start : start + SDK_BATCH]])
    finally:
        account.cmq_client.close_connection()


async def send_with_sdk(url: str, queue: str, bodies: list[str]) -> None:
    """:func:`sdk_send` in a worker thread (the SDK is synchronous)."""
    await anyio.to_thread.run_sync(sdk_send, url, queue, bodies)


def expected_event_ids(bodies: Iterable[bytes]) -> Counter[str]:
    """How many times each event id must arrive: once per event of each body that normalizes."""
    ids: Counter[str] = Counter()
    for body in bodies:
        try:
            ids.update(item.event.id for item in normalize(body))
        except PayloadError:
            continue
    return ids


def park_reason(body: bytes) -> str | None:
    """The parking reason the relay gives ``body``, or None if it becomes events."""
    try:
        normalize(body)
    except PayloadError as exc:
        return exc.reason.value
    return None


def unique_bodies(template: bytes, count: int) -> list[bytes]:
    """``count`` copies of a VOD NewFileUpload body, each with its own FileId (so its own id)."""
    doc: dict[str, Any] = orjson.loads(template)
    bodies = []
    for n in range(count):
        doc["FileUploadEvent"] = {**doc["FileUploadEvent"], "FileId": f"52858907842{n:08d}"}
        bodies.append(orjson.dumps(doc))
    return bodies


@dataclass(frozen=True)
class Names:
    """One test's broker objects (unique names; removed afterwards)."""

    events: str = field(default_factory=lambda: unique("cmq.events"))
    parking: str = field(default_factory=lambda: unique("cmq.parking"))
    tap: str = field(default_factory=lambda: unique("cmq.tap"))


@dataclass
class Tap:
    """What arrived on the events exchange and the parking queue so far."""

    channel: aiormq.Channel
    names: Names
    events: list[aiormq.abc.DeliveredMessage] = field(default_factory=list)
    parked: list[aiormq.abc.DeliveredMessage] = field(default_factory=list)

    async def collect(self) -> None:
        self.events += await drain(self.channel, self.names.tap)
        self.parked += await drain(self.channel, self.names.parking)

    def event_ids(self) -> Counter[str]:
        return Counter(str(m.header.properties.message_id) for m in self.events)


@asynccontextmanager
async def broker_tap() -> AsyncIterator[Tap]:
    """Events exchange with a ``#`` tap queue, and the parking queue, declared up front."""
    names = Names()
    async with admin_channel() as channel:
        await channel.exchange_declare(names.events, exchange_type="topic", durable=True)
        await channel.queue_declare(names.tap, durable=True)
        await channel.queue_bind(names.tap, names.events, routing_key="#")
        await channel.exchange_declare(names.parking, exchange_type="topic", durable=True)
        await channel.queue_declare(names.parking, durable=True)
        await channel.queue_bind(names.parking, names.parking, routing_key="#")
        try:
            yield Tap(channel, names)
        finally:
            with anyio.CancelScope(shield=True):
                await delete_all(
                    channel, [names.tap, names.parking], [names.events, names.parking]
                )


def sink_env(names: Names) -> dict[str, str]:
    """The ``media-bridge run`` settings that point its sink at ``names``."""
    return {
        "MEDIA_BRIDGE_SINK__URL": AMQP_URL,
        "MEDIA_BRIDGE_SINK__EVENTS_EXCHANGE": names.events,
        "MEDIA_BRIDGE_SINK__PARKING_EXCHANGE": names.parking,
        "MEDIA_BRIDGE_SINK__PARKING_QUEUE": names.parking,
    }


@asynccontextmanager
async def relaying(source: Source, names: Names, max_in_flight: int = 64) -> AsyncIterator[None]:
    """Run a source (CMQ, VOD) → run_relay → RabbitSink until the block ends; then close both."""
    sink = await RabbitSink.connect(
        RabbitSinkOptions(
            AMQP_URL,
            events_exchange=names.events,
            parking_exchange=names.parking,
            parking_queue=names.parking,
        )
    )
    options = RelayOptions(
        max_in_flight=max_in_flight, backoff_initial_s=0.05, backoff_max_s=0.5, grace_period_s=5
    )
    stop = anyio.Event()
    try:
        async with anyio.create_task_group() as group:
            group.start_soon(lambda: run_relay(source, sink, options, stop=stop))
            try:
                yield
            finally:
                stop.set()
    finally:
        with anyio.CancelScope(shield=True):
            await source.aclose()
            await sink.aclose()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


async def output(process: Process) -> tuple[str, str]:
    """Everything the finished process wrote to stdout and stderr."""
    out = b"".join([chunk async for chunk in process.stdout] if process.stdout else [])
    err = b"".join([chunk async for chunk in process.stderr] if process.stderr else [])
    return out.decode(), err.decode()
