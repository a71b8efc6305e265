"""/metrics, /healthz and /readyz, in process (ASGI) and on a real socket."""

from __future__ import annotations

import anyio
import httpx
import pytest

from adapters.memory import MemorySink, MemorySource
from consumer.errors import ConfigurationError
from consumer.metrics import Metrics
from consumer.service import unready
from consumer.status_server import bind, serve_status, status_app


def client_for(source: MemorySource, sink: MemorySink, metrics: Metrics) -> httpx.AsyncClient:
    app = status_app(metrics.registry, lambda: unready(source, sink))
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


async def test_readyz_follows_source_and_sink_connections_and_names_the_side_down() -> None:
    """/readyz is 200 only while both ends are connected, else 503 naming what is down;
    /healthz stays 200 regardless."""
    source, sink = MemorySource(), MemorySink()
    async with client_for(source, sink, Metrics()) as client:
        ready = await client.get("/readyz")
        sink.set_down()
        sink_down = await client.get("/readyz")
        healthz = await client.get("/healthz")
        sink.set_up()
        ready_again = await client.get("/readyz")
        await source.aclose()
        source_down = await client.get("/readyz")
        sink.set_down()
        both_down = await client.get("/readyz")
    assert (ready.status_code, ready.text) == (200, "ready\n")
    assert (sink_down.status_code, sink_down.text) == (503, "not ready: sink down\n")
    assert healthz.status_code == 200
    assert ready_again.status_code == 200
    assert (source_down.status_code, source_down.text) == (503, "not ready: source down\n")
    assert both_down.text == "not ready: source and sink down\n"


def test_a_stopping_bridge_is_not_ready_even_while_connected() -> None:
    """Draining after SIGTERM: out of rotation, though both ends are still connected."""
    assert unready(MemorySource(), MemorySink(), stopping=True) == "stopping"
    assert unready(MemorySource(), MemorySink()) is None


async def test_server_answers_on_its_socket_and_stops_when_cancelled() -> None:
    """serve_status reports its port, answers HTTP there, and returns promptly on cancel."""
    sock = bind("127.0.0.1", 0)
    app = status_app(Metrics().registry, lambda: None)
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
