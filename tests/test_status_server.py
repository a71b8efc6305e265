"""/metrics, /healthz and /readyz, in process (ASGI) and on a real socket."""

from __future__ import annotations

import anyio
import httpx
import pytest

from adapters.memory import MemorySink, MemorySource
from consumer.errors import ConfigurationError
from consumer.metrics import Metrics
from consumer.service import is_connected
from consumer.status_server import bind, serve_status, status_app


def client_for(source: MemorySource, sink: MemorySink, metrics: Metrics) -> httpx.AsyncClient:
    app = status_app(metrics.registry, lambda: is_connected(source) and is_connected(sink))
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://status")


async def test_metrics_endpoint_serves_the_relay_registry() -> None:
    """GET /metrics returns the Prometheus text of the registry the service passed in."""
    metrics = Metrics()
    metrics.received.inc(3)
    async with client_for(MemorySource(), MemorySink(), metrics) as client:
        response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    assert "media_bridge_deliveries_received_total 3.0" in response.text
    assert "media_bridge_in_flight" in response.text


async def test_readyz_follows_source_and_sink_connections() -> None:
    """/readyz is 200 only while both ends are connected; /healthz stays 200 regardless."""
    source, sink = MemorySource(), MemorySink()
    async with client_for(source, sink, Metrics()) as client:
        assert (await client.get("/readyz")).status_code == 200
        sink.set_down()
        assert (await client.get("/readyz")).status_code == 503
        assert (await client.get("/healthz")).status_code == 200
        sink.set_up()
        assert (await client.get("/readyz")).status_code == 200
        await source.aclose()
        assert (await client.get("/readyz")).status_code == 503


async def test_server_answers_on_its_socket_and_stops_when_cancelled() -> None:
    """serve_status reports its port, answers HTTP there, and returns promptly on cancel."""
    sock = bind("127.0.0.1", 0)
    app = status_app(Metrics().registry, lambda: True)
    with anyio.fail_after(5):
        async with anyio.create_task_group() as group:
            port = await group.start(serve_status, app, sock)
            async with httpx.AsyncClient() as client:
                response = await client.get(f"http://127.0.0.1:{port}/healthz")
            group.cancel_scope.cancel()
    assert response.status_code == 200
    assert response.text == "ok\n"


def test_port_in_use_is_a_configuration_error() -> None:
    """A status port that is taken is a one-line ConfigurationError naming the address."""
    taken = bind("127.0.0.1", 0)
    port = taken.getsockname()[1]
    try:
        with pytest.raises(ConfigurationError, match=f"127.0.0.1:{port}"):
            bind("127.0.0.1", port)
    finally:
        taken.close()
