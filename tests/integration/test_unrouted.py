"""Unrouted events are kept (``sink.unroutable = keep``): the events exchange's alternate exchange
holds what no queue is bound for, and ``media-bridge replay`` delivers it once a queue is bound.

Also: an events exchange that already exists without the alternate exchange (the bridge falls
back to parking, with one WARNING), and the unrouted depth the sink reads for /metrics.
"""

from __future__ import annotations

import logging
import subprocess
import sys
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import aiormq
import anyio
import httpx
import pytest
from aiormq.abc import DeliveredMessage

from adapters.rabbitmq import RabbitSink, RabbitSinkOptions
from adapters.rabbitmq_topology import Unrouted
from consumer.errors import UnroutableError
from consumer.ports import Destination, OutboundMessage
from tests.amqp_path import FAST_PATH
from tests.e2e_cmq.support import expected_event_ids, free_port
from tests.integration.bridge import Topology, running_bridge, stop_bridge
from tests.integration.broker import (
    AMQP_URL,
    QueueState,
    admin_channel,
    delete_all,
    drain,
    put,
    queue_state,
    unique,
)
from tests.samples import sample_files

pytestmark = pytest.mark.rabbitmq


@dataclass(frozen=True)
class _Names:
    """A bridge topology of this test's own, with its own unrouted exchange and queue."""

    topology: Topology = field(default_factory=Topology)
    unrouted: str = field(default_factory=lambda: unique("unrouted"))  # exchange and queue

    @property
    def settings(self) -> dict[str, str]:
        """The settings beyond the topology's: this test's unrouted exchange and queue."""
        return {
            "MEDIA_BRIDGE_SINK__UNROUTED_EXCHANGE": self.unrouted,
            "MEDIA_BRIDGE_SINK__UNROUTED_QUEUE": self.unrouted,
        }


@pytest.fixture
async def names() -> AsyncIterator[tuple[aiormq.Channel, _Names]]:
    made = _Names()
    topology = made.topology
    async with admin_channel() as admin:
        try:
            # Only the source queue: the bridge declares the events exchange (with its alternate
            # exchange), and no queue is bound to it.
            await admin.queue_declare(topology.source, durable=True)
            yield admin, made
        finally:
            await delete_all(
                admin, [*topology.queues, made.unrouted], [*topology.exchanges, made.unrouted]
            )


def _sample_bodies() -> list[bytes]:
    """Every sample that becomes events (the others would be parked for their format)."""
    bodies = [path.read_bytes() for path in sample_files()]
    return [body for body in bodies if expected_event_ids([body])]


def _ids(messages: list[DeliveredMessage]) -> Counter[str]:
    return Counter(str(m.header.properties.message_id) for m in messages)


async def _replay(names: _Names, log: Path) -> int:
    """The real ``media-bridge replay --queue <unrouted>``, as an operator runs it."""
    command = [str(Path(sys.executable).with_name("media-bridge")), "replay", "--queue",
               names.unrouted]
    with log.open("ab") as out:
        process = await anyio.run_process(
            command, env=names.topology.env(**names.settings), stdout=out, stderr=subprocess.STDOUT, check=False
        )
    return process.returncode


async def _until_unrouted(names: _Names, want: int) -> None:
    with anyio.fail_after(60):
        while _ready(names.unrouted) < want:  # noqa: ASYNC110 - broker state
            await anyio.sleep(0.1)


def _ready(queue: str) -> int:
    try:
        return queue_state(queue).ready
    except LookupError:  # the bridge has not declared it yet
        return 0


async def _until_scraped_depth(port: int, queue: str, want: int) -> None:
    """Until /metrics shows ``media_bridge_unrouted_waiting{queue} want`` (read every 5 s)."""
    line = f'media_bridge_unrouted_waiting{{queue="{queue}"}} {float(want)}'
    async with httpx.AsyncClient() as http:
        with anyio.fail_after(30):
            while True:
                try:
                    text = (await http.get(f"http://127.0.0.1:{port}/metrics")).text
                except httpx.TransportError:
                    text = ""  # not listening yet
                if line in text.splitlines():
                    return
                await anyio.sleep(0.2)


async def test_unbound_events_are_kept_and_replay_delivers_them_once_bound(
    names: tuple[aiormq.Channel, _Names], tmp_path: Path
) -> None:
    """Acceptance: with no subscriber bound, every sample event ends in the unrouted queue and
    nothing is parked; a replay with nothing bound yet keeps them (no loss, no duplicate); once
    a queue is bound, the replay delivers them all, ids unchanged, and the unrouted queue is
    empty."""
    admin, made = names
    topology = made.topology
    bodies = _sample_bodies()
    expected = expected_event_ids(bodies)
    total = sum(expected.values())
    assert len(bodies) >= 20
    assert total >= len(bodies)
    await put(admin, topology.source, bodies)
    log = tmp_path / "bridge.log"
    port = free_port()
    env = {"MEDIA_BRIDGE_HTTP__ENABLED": "true", "MEDIA_BRIDGE_HTTP__PORT": str(port)}
    async with running_bridge(topology, log, **made.settings, **env) as bridge:
        await _until_unrouted(made, total)
        await _until_scraped_depth(port, made.unrouted, total)
        assert await stop_bridge(bridge) == 0
    assert queue_state(topology.source) == QueueState(0, 0, 0)
    assert queue_state(topology.parking).ready == 0
    assert "WARNING" not in log.read_text()

    # Nothing bound yet: each event goes through the alternate exchange back into the queue.
    assert await _replay(made, tmp_path / "replay-unbound.log") == 0
    kept = await drain(admin, made.unrouted)
    assert _ids(kept) == expected
    await _put_back(admin, made.unrouted, kept)

    await admin.queue_declare(topology.output, durable=True)
    await admin.queue_bind(topology.output, topology.events, routing_key="#")
    assert await _replay(made, tmp_path / "replay.log") == 0, (tmp_path / "replay.log").read_text()
    delivered = await drain(admin, topology.output)
    assert _ids(delivered) == expected
    assert {m.header.properties.content_type for m in delivered} == {
        "application/cloudevents+json"
    }
    assert queue_state(made.unrouted) == QueueState(0, 0, 0)
    assert queue_state(topology.parking).ready == 0


async def _put_back(admin: aiormq.Channel, queue: str, messages: list[DeliveredMessage]) -> None:
    """Return messages taken for inspection, properties and all, through the default exchange."""
    for message in messages:
        await admin.basic_publish(
            message.body, routing_key=queue, properties=message.header.properties
        )
    with anyio.fail_after(10):  # the admin channel has no confirms: wait until they are in
        while queue_state(queue).ready < len(messages):  # noqa: ASYNC110 - broker state
            await anyio.sleep(0.05)


def _event(routing_key: str) -> OutboundMessage:
    message_id = unique("event")
    return OutboundMessage(
        destination=Destination.EVENTS, routing_key=routing_key, body=b"{}",
        message_id=message_id, content_type="application/cloudevents+json", type="t",
    )


async def test_an_events_exchange_without_the_alternate_exchange_falls_back_to_parking(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """An existing exchange declared without alternate-exchange is used as it is: one WARNING
    says what to do, the sink reports unrouted events (the relay parks them), and the failed
    declaration did not hurt the publishing channel."""
    events, parking, bound, kept = (unique(n) for n in ("events", "parking", "bound", "unrouted"))
    async with admin_channel() as admin:
        await admin.exchange_declare(events, exchange_type="topic", durable=True)
        await admin.queue_declare(bound, durable=True)
        await admin.queue_bind(bound, events, routing_key="bound.#")
        options = RabbitSinkOptions(
            AMQP_URL, events_exchange=events, parking_exchange=parking, parking_queue=parking,
            fast_path=FAST_PATH, unrouted=Unrouted(kept, kept),
        )
        try:
            with caplog.at_level(logging.WARNING, logger="adapters.rabbitmq_topology"):
                sink = await RabbitSink.connect(options)
            try:
                assert not sink.keeps_unrouted
                await sink.publish(_event("bound.one"))
                with pytest.raises(UnroutableError):
                    await sink.publish(_event("nobody.listens"))
                assert sink.connected
            finally:
                await sink.aclose()
            [warning] = [r for r in caplog.records if r.levelno == logging.WARNING]
            text = warning.getMessage()
            assert f"{events} exists without alternate-exchange = {kept}" in text
            assert "set_policy" in text
            assert "parked" in text
            assert len(await drain(admin, bound)) == 1
        finally:
            await delete_all(admin, [bound, parking, kept], [events, parking, kept])


async def test_the_sink_reads_the_unrouted_depth() -> None:
    """``watch_unrouted`` keeps ``unrouted_depth`` (what /metrics exports) up to date."""
    events, parking, kept = unique("events"), unique("parking"), unique("unrouted")
    options = RabbitSinkOptions(
        AMQP_URL, events_exchange=events, parking_exchange=parking, parking_queue=parking,
        fast_path=FAST_PATH, unrouted=Unrouted(kept, kept),
    )
    async with admin_channel() as admin:
        sink = await RabbitSink.connect(options)
        try:
            assert sink.keeps_unrouted
            sink.watch_unrouted(0.05)
            for _ in range(3):
                await sink.publish(_event("nobody.listens"))
            with anyio.fail_after(10):
                while sink.unrouted_depth != 3:  # noqa: ASYNC110 - the sink exposes state
                    await anyio.sleep(0.02)
        finally:
            await sink.aclose()
            await delete_all(admin, [parking, kept], [events, parking, kept])
