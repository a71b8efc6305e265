"""Health that tells the truth: the broker closes the bridge's links and refuses it while it
reconnects; ``source_healthy`` / ``sink_healthy`` and ``/readyz`` change within a second, name
the side that is down, the log gives the broker's reason once, and everything recovers.

Revoking a user's permissions is a broker-wide change, so this runs on the session's private
node (``tests/private_broker.py``), on the AMQP path under test (``tests/amqp_path.py``).
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable
from pathlib import Path

import anyio
import httpx
import orjson
import pytest

from tests.integration.bridge import Collector, Topology, good_bodies, running_bridge, stop_bridge
from tests.integration.broker import admin_channel, close_connections, delete_all, put
from tests.private_broker import PrivateBroker

pytestmark = pytest.mark.rabbitmq
WITHIN_S = 1.0  # the acceptance bound: a closed link shows in the gauges and /readyz by then
USER = "bridge-health"


async def test_closed_links_and_revoked_permissions_show_within_a_second_and_recover(
    private_rabbitmq: PrivateBroker, tmp_path: Path
) -> None:
    broker = private_rabbitmq
    password = secrets.token_hex(8)
    broker.ctl("add_user", USER, password)
    grant = ("set_permissions", "-p", broker.vhost, USER)
    broker.ctl(*grant, ".*", ".*", ".*")
    bridge_url = broker.url.replace("guest:guest@", f"{USER}:{password}@")
    topology, collector = Topology(url=broker.url), Collector()
    log = tmp_path / "bridge.log"
    env = {
        "MEDIA_BRIDGE_SOURCE__URL": bridge_url,
        "MEDIA_BRIDGE_SINK__URL": bridge_url,
        "MEDIA_BRIDGE_HTTP__ENABLED": "true",
        "MEDIA_BRIDGE_HTTP__PORT": "0",
        "MEDIA_BRIDGE_LOG__LEVEL": "INFO",
    }
    async with admin_channel(broker.url) as admin:
        try:
            await topology.declare(admin)
            await collector.start(admin, topology.output)
            async with running_bridge(topology, log, **env) as bridge, httpx.AsyncClient() as http:
                status = Status(http, await _status_url(log))
                await status.until(lambda s: s.ready, timeout_s=30)
                await put(admin, topology.source, good_bodies(10))
                await collector.wait_for(10)

                broker.ctl(*grant, "^$", "^$", "^$")  # nothing allowed: reconnects are refused
                close = _closer(broker, bridge.pid)
                close("source")
                source_down = await status.until(lambda s: s.gauges == (0, 1))
                close("sink")
                both_down = await status.until(lambda s: s.gauges == (0, 0))

                broker.ctl(*grant, ".*", ".*", ".*")
                await status.until(lambda s: s.ready and s.gauges == (1, 1), timeout_s=15)
                later = good_bodies(10)
                await put(admin, topology.source, later)
                await collector.wait_for(20)
                assert await stop_bridge(bridge) == 0
        finally:
            await delete_all(admin, topology.queues, topology.exchanges)
            broker.ctl("delete_user", USER)
    assert source_down.readyz == (503, "not ready: source down\n")
    assert both_down.readyz == (503, "not ready: source and sink down\n")
    warnings = _warnings(log)
    for side in ("source", "sink"):
        said = [w for w in warnings if w.startswith(f"RabbitMQ {side} connection")]
        node = bridge_url.replace(f":{password}@", ":***@")
        assert said[0] == (
            f"RabbitMQ {side} connection lost on {node}: 320 CONNECTION_FORCED - test: forced "
            "close; reconnecting"
        )
        assert "ACCESS_REFUSED - access to" in said[1], said  # the refusal, in the broker's words
        assert len(said) == 2, said  # not once per failed attempt
    text = log.read_text()
    assert "Traceback" not in text
    assert "Connection.Close object" not in text


class Snapshot:
    """/readyz and the two health gauges, read one after the other."""

    def __init__(self, readyz: tuple[int, str], metrics: str) -> None:
        self.readyz = readyz
        self.ready = readyz[0] == 200
        self.gauges = (_gauge(metrics, "source"), _gauge(metrics, "sink"))


class Status:
    def __init__(self, http: httpx.AsyncClient, url: str) -> None:
        self._http = http
        self._url = url

    async def read(self) -> Snapshot:
        readyz = await self._http.get(f"{self._url}readyz")
        metrics = await self._http.get(f"{self._url}metrics")
        return Snapshot((readyz.status_code, readyz.text), metrics.text)

    async def until(
        self, condition: Callable[[Snapshot], bool], timeout_s: float = WITHIN_S
    ) -> Snapshot:
        """The first snapshot that meets ``condition``, polled; fails after ``timeout_s``."""
        with anyio.fail_after(timeout_s):
            while not condition(snapshot := await self.read()):  # noqa: ASYNC110 - HTTP state
                await anyio.sleep(0.02)
        return snapshot


def _gauge(metrics: str, side: str) -> float:
    prefix = f"media_bridge_{side}_healthy "
    return float(next(line for line in metrics.splitlines() if line.startswith(prefix))[len(prefix):])


def _closer(broker: PrivateBroker, pid: int) -> Callable[[str], None]:
    def close(side: str) -> None:
        assert close_connections(f'media-bridge {side} {os.uname().nodename}:{pid}"', broker) == 1

    return close


async def _status_url(log: Path) -> str:
    """The status server's address, from the bridge's log (it listens on a free port)."""
    with anyio.fail_after(30):
        while True:
            for entry in _entries(log):
                if entry.get("msg") == "status endpoints listening":
                    return str(entry["url"])
            await anyio.sleep(0.05)


def _warnings(log: Path) -> list[str]:
    return [str(e["msg"]) for e in _entries(log) if e.get("level") == "WARNING"]


def _entries(log: Path) -> list[dict[str, object]]:
    lines = log.read_text().splitlines() if log.exists() else []
    return [orjson.loads(line) for line in lines if line.startswith("{")]
