"""Several broker addresses (``sink.url`` / ``source.url`` comma-separated): the first node
that answers at start-up, the next one after a loss, nothing lost on the way.

Two real brokers stand in for two nodes: the session's private node (``private_rabbitmq``),
which may be stopped, and the shared test broker, which is never touched beyond this test's own
queues. They are not a cluster, so each test declares its topology on both, and "nothing lost"
means: every body's events reached an output queue on one of them, or the body still waits in
a source queue. On the AMQP path under test (``MEDIA_BRIDGE_TEST_FAST_PATH``).
"""

from __future__ import annotations

import logging
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import aiormq
import anyio
import orjson
import pytest
from aiormq.abc import DeliveredMessage

from adapters.rabbitmq import RabbitSink, RabbitSinkOptions, RabbitSource, RabbitSourceOptions
from consumer.errors import ConfigurationError, SourceUnavailableError
from consumer.ports import Destination, OutboundMessage
from tests.amqp_path import FAST_PATH
from tests.integration.bridge import (
    Collector,
    Topology,
    expected_ids,
    good_bodies,
    running_bridge,
    stop_bridge,
)
from tests.integration.broker import (
    AMQP_URL,
    admin_channel,
    delete_all,
    put,
    queue_state,
    unique,
)
from tests.private_broker import PrivateBroker

pytestmark = pytest.mark.rabbitmq


def dead_url() -> str:
    """An AMQP URL nothing listens on (a port that was free a moment ago)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"amqp://guest:dead-pw-1@127.0.0.1:{port}/"


def masked(url: str) -> str:
    return url.replace(":guest@", ":***@").replace(":dead-pw-1@", ":***@")


async def test_a_dead_address_first_is_skipped_at_start_up(caplog: pytest.LogCaptureFixture) -> None:
    """Source and sink start on the second node; one WARNING names the first (masked)."""
    dead = dead_url()
    queue, events = unique("fo.source"), unique("fo.events")
    async with admin_channel() as admin:
        try:
            await admin.queue_declare(queue, durable=True)
            await put(admin, queue, [b"hello"])
            with caplog.at_level(logging.INFO, logger="adapters.rabbitmq_connect"):
                source = await RabbitSource.connect(
                    RabbitSourceOptions(f"{dead},{AMQP_URL}", queue=queue, fast_path=FAST_PATH)
                )
                sink = await RabbitSink.connect(
                    RabbitSinkOptions(
                        f"{dead}, {AMQP_URL}", events_exchange=events, parking_exchange=events + ".p",
                        parking_queue=events + ".p", fast_path=FAST_PATH,
                    )
                )
            try:
                with anyio.fail_after(10):
                    delivery = await source.receive()
                await sink.publish(  # confirmed: the sink is on the live node
                    OutboundMessage(Destination.PARKING, "k", b"{}", "m1", "application/json", "t")
                )
                await delivery.ack()
                assert source.connected
                assert sink.connected
                assert source.fast_path == sink.fast_path == FAST_PATH
            finally:
                await source.aclose()
                await sink.aclose()
        finally:
            await delete_all(admin, [queue, events + ".p"], [events, events + ".p"])
    text = caplog.text
    assert "dead-pw-1" not in text
    assert "guest:guest" not in text
    skipped = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(skipped) == 2, skipped  # one per connection
    assert all(m.startswith(("RabbitMQ source: connecting to", "RabbitMQ sink: connecting to"))
               and masked(dead) in m and "trying the next node" in m for m in skipped), skipped
    assert f"connected to {masked(AMQP_URL)}" in text


async def test_no_node_answering_is_unavailable_and_names_each_masked() -> None:
    first, second = dead_url(), dead_url().replace(":dead-pw-1@", ":dead-pw-2@")
    with pytest.raises(SourceUnavailableError) as caught:
        await RabbitSource.connect(RabbitSourceOptions(f"{first},{second}", fast_path=FAST_PATH))
    message = str(caught.value)
    assert "no RabbitMQ node answers (2 tried)" in message
    assert "dead-pw" not in message
    assert message.count(":***@") == 2


async def test_refused_credentials_end_start_up_without_trying_the_next_node() -> None:
    """Every node of a cluster has the same users: a refusal is the user's mistake, at once."""
    wrong = AMQP_URL.replace("guest:guest@", "guest:s3cret-pw@")
    with pytest.raises(ConfigurationError) as caught:
        await RabbitSink.connect(RabbitSinkOptions(f"{wrong},{dead_url()}", fast_path=FAST_PATH))
    assert "s3cret-pw" not in str(caught.value)
    assert "refused" in str(caught.value)


@pytest.mark.timeout(300)  # the private node stops and starts again: tens of seconds when busy
async def test_losing_the_first_node_mid_stream_fails_over_and_loses_nothing(
    private_rabbitmq: PrivateBroker, tmp_path: Path
) -> None:
    """The bridge runs on the private node (first URL) for source and sink; the node stops
    (``stop_app``) while it relays. Both connections move to the shared broker (second URL),
    the bridge relays what is fed there, and after the node is back every body is accounted
    for: its events are in an output queue of one of the two, or it still waits in the private
    node's source queue (deliveries unacked when the node stopped went back there)."""
    private = private_rabbitmq
    topology = Topology(url=f"{private.url},{AMQP_URL}")
    first, later = good_bodies(2_000), good_bodies(300)
    log = tmp_path / "bridge.log"
    on_shared = Collector()
    async with both(private.url, topology) as (private_admin, shared_admin):
        # The private node's output is read once it is back, not consumed meanwhile: what an
        # auto-ack consumer had in its socket when the node stopped would be lost to the test.
        await on_shared.start(shared_admin, topology.output)
        await put(private_admin, topology.source, first)
        async with running_bridge(topology, log, MEDIA_BRIDGE_LOG__LEVEL="INFO") as bridge:
            await until_relayed(private_admin, topology.output, 300)
            try:
                private.ctl("stop_app")
                await put(shared_admin, topology.source, later)
                await on_shared.wait_for(len(later), timeout_s=60, distinct=True)
                assert await stop_bridge(bridge) == 0
            finally:
                private.ctl("start_app")
                private.ctl("await_startup")
        await until_answering(private.url)
        async with admin_channel(private.url) as private_admin:
            left = [m.body for m in await consume_all(private_admin, topology.source)]
            relayed_on_private = [
                m.header.properties.message_id
                for m in await consume_all(private_admin, topology.output)
            ]
            await delete_all(private_admin, topology.queues, topology.exchanges)
        shared_left = queue_state(topology.source)
    relayed = set(relayed_on_private) | set(on_shared.ids)
    assert relayed | expected_ids(left) == expected_ids(first) | expected_ids(later)
    assert expected_ids(later) <= set(on_shared.ids)
    assert shared_left.ready + shared_left.unacked == 0
    entries = [orjson.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]
    ours = [e for e in entries if e["logger"] == "adapters.rabbitmq_link"]
    node1, node2 = masked(private.url), masked(AMQP_URL)
    for side in ("source", "sink"):
        lost = [e for e in ours if e["msg"].startswith(f"RabbitMQ {side} connection lost")]
        restored = [e for e in ours if e["msg"].startswith(f"RabbitMQ {side} connection restored")]
        assert len(lost) == 1, ours
        assert lost[0]["level"] == "WARNING"
        # The broker's words (320 CONNECTION_FORCED - ... shutdown), or a reset when the
        # node's socket closed before its Connection.Close was read.
        assert lost[0]["msg"].startswith(f"RabbitMQ {side} connection lost on {node1}: ")
        assert lost[0]["msg"].endswith(f"; reconnecting to the next node, {node2}")
        assert [e["msg"] for e in restored] == [f"RabbitMQ {side} connection restored on {node2}"]
        assert restored[0]["level"] == "INFO"
    assert [e for e in entries if e["level"] == "ERROR"] == []
    if FAST_PATH:  # the tap's self-check passed on the new node's links too
        assert "running on the plain AMQP path" not in log.read_text()
    assert "guest:guest" not in log.read_text()
    assert "Traceback" not in log.read_text()


@asynccontextmanager
async def both(
    private_url: str, topology: Topology
) -> AsyncIterator[tuple[aiormq.Channel, aiormq.Channel]]:
    """The test's source queue, events exchange and output queue on both brokers; deleted
    from the shared one afterwards (the private one is cleaned by the test, once it is back)."""
    async with admin_channel(private_url) as private_admin, admin_channel() as shared_admin:
        for admin in (private_admin, shared_admin):
            await topology.declare(admin)
        try:
            yield private_admin, shared_admin
        finally:
            with anyio.CancelScope(shield=True):
                await delete_all(shared_admin, topology.queues, topology.exchanges)


async def consume_all(admin: aiormq.Channel, queue: str) -> list[DeliveredMessage]:
    """Every message waiting in ``queue``, taken (a consumer: much faster than basic.get)."""
    waiting = (await admin.queue_declare(queue, passive=True)).message_count or 0
    taken: list[DeliveredMessage] = []

    async def keep(message: DeliveredMessage) -> None:
        taken.append(message)

    if waiting:
        consumer = await admin.basic_consume(queue, keep, no_ack=True)
        with anyio.fail_after(60):
            while len(taken) < waiting:  # noqa: ASYNC110 - deliveries arrive by callback
                await anyio.sleep(0.05)
        await admin.basic_cancel(consumer.consumer_tag or "")
    return taken


async def until_relayed(admin: aiormq.Channel, queue: str, count: int) -> None:
    with anyio.fail_after(30):
        while ((await admin.queue_declare(queue, passive=True)).message_count or 0) < count:  # noqa: ASYNC110
            await anyio.sleep(0.05)


async def until_answering(url: str) -> None:
    """Until a node that was just restarted takes connections again."""
    with anyio.fail_after(60):
        while True:
            try:
                async with admin_channel(url):
                    return
            except RuntimeError:  # admin_channel: not reachable (yet)
                await anyio.sleep(0.5)
