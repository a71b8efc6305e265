"""Bodies with known event ids, the bridge as a real process, and reading what it published."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import aiormq
import anyio
import orjson
from aiormq.abc import DeliveredMessage
from anyio.abc import Process

from consumer.normalize import normalize
from tests.amqp_path import bridge_env
from tests.integration.broker import AMQP_URL, unique
from tests.samples import sample

_TEMPLATE = orjson.loads(sample("vod__ProcedureStateChanged__push-body-v3.json"))
MALFORMED = [b"", b"not json at all", b"{}", b'{"EventType": "NoSuchEvent"}', b"\xff\xfe"]


def good_bodies(count: int) -> list[bytes]:
    """``count`` distinct ProcedureStateChanged bodies (distinct task ids → distinct event ids)."""
    run = unique("task")
    bodies = []
    for n in range(count):
        event = dict(_TEMPLATE["ProcedureStateChangeEvent"])
        event["TaskId"] = f"{run}-{n}"
        bodies.append(orjson.dumps({**_TEMPLATE, "ProcedureStateChangeEvent": event}))
    return bodies


def bad_bodies(count: int) -> list[bytes]:
    """``count`` bodies that can never be normalized (distinct, cycling through the kinds)."""
    return [MALFORMED[n % len(MALFORMED)] + b" " * (n // len(MALFORMED)) for n in range(count)]


def expected_ids(bodies: list[bytes]) -> set[str]:
    return {item.event.id for body in bodies for item in normalize(body)}


@dataclass(frozen=True)
class Topology:
    """One test's broker objects on the broker at ``url`` (by default the shared test broker);
    ``output`` is bound to the events exchange with ``#``."""

    url: str = AMQP_URL
    source: str = field(default_factory=lambda: unique("source"))
    events: str = field(default_factory=lambda: unique("events"))
    parking: str = field(default_factory=lambda: unique("parking"))
    output: str = field(default_factory=lambda: unique("output"))

    async def declare(self, admin: aiormq.Channel) -> None:
        await admin.queue_declare(self.source, durable=True)
        await admin.exchange_declare(self.events, exchange_type="topic", durable=True)
        await admin.queue_declare(self.output, durable=True)
        await admin.queue_bind(self.output, self.events, routing_key="#")

    @property
    def queues(self) -> list[str]:
        return [self.source, self.output, self.parking]

    @property
    def exchanges(self) -> list[str]:
        return [self.events, self.parking]

    def env(self, **extra: str) -> dict[str, str]:
        """The environment that points ``media-bridge run`` at this topology."""
        return {
            **os.environ,
            "MEDIA_BRIDGE_SOURCE__URL": self.url,
            "MEDIA_BRIDGE_SOURCE__QUEUE": self.source,
            "MEDIA_BRIDGE_SINK__URL": self.url,
            "MEDIA_BRIDGE_SINK__EVENTS_EXCHANGE": self.events,
            "MEDIA_BRIDGE_SINK__PARKING_EXCHANGE": self.parking,
            "MEDIA_BRIDGE_SINK__PARKING_QUEUE": self.parking,
            "MEDIA_BRIDGE_HTTP__ENABLED": "false",
            "MEDIA_BRIDGE_LOG__LEVEL": "WARNING",
            **bridge_env(),  # the AMQP path under test (tests/amqp_path.py)
            **extra,
        }


async def start_bridge(topology: Topology, log: Path, **env: str) -> Process:
    """``media-bridge run`` as a child process (stdout+stderr appended to ``log``)."""
    command = [str(Path(sys.executable).with_name("media-bridge")), "run"]
    with log.open("ab") as sink:
        return await anyio.open_process(
            command, env=topology.env(**env), stdout=sink, stderr=subprocess.STDOUT
        )


async def stop_bridge(process: Process, sig: signal.Signals = signal.SIGTERM) -> int:
    process.send_signal(sig)
    with anyio.fail_after(30):
        return await process.wait()


class Collector:
    """Consumes a queue (auto-ack) and keeps every message id it saw, duplicates included."""

    def __init__(self) -> None:
        self.ids: list[str] = []

    async def start(self, admin: aiormq.Channel, queue: str) -> None:
        await admin.basic_consume(queue, self._on_message, no_ack=True)

    async def _on_message(self, message: DeliveredMessage) -> None:
        self.ids.append(message.header.properties.message_id or "")

    async def wait_for(self, count: int, timeout_s: float = 30, *, distinct: bool = False) -> None:
        """Until at least ``count`` ids (``distinct`` ones, or counting duplicates) were seen."""
        with anyio.fail_after(timeout_s):
            while len(set(self.ids) if distinct else self.ids) < count:  # noqa: ASYNC110
                await anyio.sleep(0.05)


@asynccontextmanager
async def running_bridge(topology: Topology, log: Path, **env: str) -> AsyncIterator[Process]:
    """A bridge process that is killed on the way out if the test did not stop it."""
    process = await start_bridge(topology, log, **env)
    try:
        yield process
    finally:
        if process.returncode is None:
            process.kill()
            with anyio.CancelScope(shield=True):
                await process.wait()
