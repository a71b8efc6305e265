"""The status endpoints, served by uvicorn inside the service's anyio task group.

* ``GET /metrics``: Prometheus text format, from the registry the service owns;
* ``GET /healthz``: 200 while the process runs (liveness);
* ``GET /readyz``: 200 only while ``unready()`` has nothing to say (source and sink connected,
  not stopping), else 503 with what it said, e.g. ``not ready: sink down`` (readiness: take
  the pod out of rotation, don't restart it).

uvicorn's own signal handlers are disabled (the service owns SIGTERM/SIGINT), so is its
logging configuration (its records go through ours), and the socket is bound here so a port
already in use is a :class:`ConfigurationError`, not a ``sys.exit`` from inside uvicorn.
"""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Callable, Iterator

import anyio
import uvicorn
from anyio.abc import TaskStatus
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from consumer.errors import ConfigurationError


def status_app(registry: CollectorRegistry, unready: Callable[[], str | None]) -> Starlette:
    """The Starlette app behind the status endpoints; ``unready()`` is None when ready, else
    why not."""

    async def metrics(_: Request) -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    async def healthz(_: Request) -> Response:
        return PlainTextResponse("ok\n")

    async def readyz(_: Request) -> Response:
        why = unready()
        if why is None:
            return PlainTextResponse("ready\n")
        return PlainTextResponse(f"not ready: {why}\n", status_code=503)

    return Starlette(
        routes=[
            Route("/metrics", metrics),
            Route("/healthz", healthz),
            Route("/readyz", readyz),
        ]
    )


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield  # the service handles signals with anyio.open_signal_receiver


def bind(host: str, port: int) -> socket.socket:
    """A listening socket, or ConfigurationError naming the address and the reason."""
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        # Accepted sockets inherit it: uvicorn writes a reply's head and body separately, and
        # Nagle would hold the body until the client's delayed ACK (~40 ms per scrape).
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise ConfigurationError(
            f"cannot listen on {host}:{port} for the status endpoints: {exc.strerror or exc}"
        ) from None
    sock.listen(128)
    sock.setblocking(False)
    return sock


async def serve_status(
    app: Starlette,
    sock: socket.socket,
    *,
    task_status: TaskStatus[int] = anyio.TASK_STATUS_IGNORED,
) -> None:
    """Serve ``app`` on ``sock`` until cancelled, then shut down cleanly (bounded).

    Use with ``await task_group.start(serve_status, app, sock)``: it reports the port.
    """
    config = uvicorn.Config(
        app,
        log_config=None,
        access_log=False,
        lifespan="off",
        timeout_graceful_shutdown=1,
    )
    server = _Server(config)

    async def run() -> None:
        # Shielded: on cancellation uvicorn is asked to exit (below) instead of being torn down.
        with anyio.CancelScope(shield=True):
            await server.serve(sockets=[sock])

    async with anyio.create_task_group() as group:
        group.start_soon(run)
        task_status.started(sock.getsockname()[1])
        try:
            await anyio.sleep_forever()
        finally:
            server.should_exit = True
