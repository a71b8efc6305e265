"""``media-bridge run`` whose frame tap is not installed (broken on purpose, the way an aio-pika
upgrade could break it): one clear line per connection, and a bridge that relays everything."""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import anyio
import orjson
import pytest
from anyio.abc import Process

from adapters.rabbitmq_tap_check import PLAIN_PATH, installed_versions
from tests.integration.bridge import (
    Collector,
    Topology,
    bad_bodies,
    expected_ids,
    good_bodies,
    running_bridge,
    stop_bridge,
)
from tests.integration.broker import admin_channel, delete_all, drain, put
from tests.samples import REPO_ROOT

pytestmark = pytest.mark.rabbitmq

# The bridge's own entry point, after aio-pika was made to stop passing the transport factory on.
BROKEN_BRIDGE = (
    "import sys; from tests.tap_breakage import break_installation; break_installation(); "
    "from consumer.cli import main; sys.exit(main(['run']))"
)


@asynccontextmanager
async def broken_bridge(topology: Topology, log: Path) -> AsyncIterator[Process]:
    """The bridge process (on the fast path, as configured by default) with the tap broken."""
    env = topology.env(MEDIA_BRIDGE_AMQP__FAST_PATH="true")
    with log.open("ab") as out:
        process = await anyio.open_process(
            [sys.executable, "-c", BROKEN_BRIDGE], env=env, cwd=REPO_ROOT, stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        yield process
    finally:
        if process.returncode is None:
            process.kill()
            with anyio.CancelScope(shield=True):
                await process.wait()


async def test_a_bridge_without_its_tap_says_so_once_per_connection_and_relays_everything(
    tmp_path: Path,
) -> None:
    topology, collector = Topology(), Collector()
    good, bad = good_bodies(2_000), bad_bodies(20)
    log = tmp_path / "bridge.log"
    async with admin_channel() as admin:
        try:
            await topology.declare(admin)
            await collector.start(admin, topology.output)
            await put(admin, topology.source, [*good[:1000], *bad, *good[1000:]])
            async with broken_bridge(topology, log) as bridge:
                await collector.wait_for(len(good), timeout_s=60, distinct=True)
                assert await stop_bridge(bridge, signal.SIGTERM) == 0
            parked = await drain(admin, topology.parking)
        finally:
            await delete_all(admin, topology.queues, topology.exchanges)
    text = log.read_text()
    lines = [orjson.loads(line) for line in text.splitlines() if line.startswith("{")]
    said = [e["msg"] for e in lines if e["logger"] == "adapters.rabbitmq_tap_check"]
    assert len(said) == 2, said  # the source's connection and the sink's, once each
    assert all(PLAIN_PATH in msg and installed_versions() in msg for msg in said)
    assert {"source", "sink"} == {msg.split(" connection")[0].rsplit(" ", 1)[1] for msg in said}
    assert set(collector.ids) == expected_ids(good)
    assert sorted(m.body for m in parked) == sorted(bad)
    assert "Traceback" not in text


async def test_fast_path_false_runs_the_bridge_on_aio_pikas_public_api(tmp_path: Path) -> None:
    """``MEDIA_BRIDGE_AMQP__FAST_PATH=false`` reaches both adapters: no tap, no tap warning."""
    topology, collector = Topology(), Collector()
    good = good_bodies(200)
    log = tmp_path / "bridge.log"
    env = {"MEDIA_BRIDGE_AMQP__FAST_PATH": "false", "MEDIA_BRIDGE_LOG__LEVEL": "INFO"}
    async with admin_channel() as admin:
        try:
            await topology.declare(admin)
            await collector.start(admin, topology.output)
            await put(admin, topology.source, good)
            async with running_bridge(topology, log, **env) as bridge:
                await collector.wait_for(len(good), distinct=True)
                assert await stop_bridge(bridge) == 0
        finally:
            await delete_all(admin, topology.queues, topology.exchanges)
    entries = [orjson.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]
    messages = [str(e["msg"]) for e in entries]
    for what in ("consuming", "publishing"):
        assert any(m.startswith(what) and "the plain AMQP path" in m for m in messages), what
    assert not [e for e in entries if e["logger"] == "adapters.rabbitmq_tap_check"]
    assert set(collector.ids) == expected_ids(good)
