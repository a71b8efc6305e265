"""Running the emulator: in-process for tests (``run_cmq_emulator``) or as a blocking server."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

import uvicorn

from adapters.cmq_signing import CMQ_PATH
from emulators.cmq.app import CmqEmulatorApp, ResponseDropped
from emulators.cmq.config import EmulatorConfig, FaultSettings
from emulators.cmq.queue import EmulatedQueue


class _HideDroppedResponses(logging.Filter):
    """Keep uvicorn from logging a traceback for every deliberately dropped response."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.exc_info and isinstance(record.exc_info[1], ResponseDropped))


class _Server(uvicorn.Server):
    """uvicorn, releasing the emulator's long polls when it shuts down."""

    def __init__(self, config: uvicorn.Config, app: CmqEmulatorApp) -> None:
        super().__init__(config)
        self._app = app

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        self._app.close()
        await super().shutdown(sockets)


class _EmbeddedServer(_Server):
    """Inside another program (tests, benchmark): leave its signal handlers alone."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


@dataclass(frozen=True, slots=True)
class RunningEmulator:
    """A started emulator: its base URL plus in-process access to its state for tests."""

    app: CmqEmulatorApp
    host: str
    port: int

    @property
    def url(self) -> str:
        """The endpoint to give a CMQ client, e.g. ``http://127.0.0.1:40123``."""
        return f"http://{self.host}:{self.port}"

    @property
    def index_url(self) -> str:
        """The full API URL (``/v2/index.php``)."""
        return self.url + CMQ_PATH

    def queue(self, name: str) -> EmulatedQueue:
        """A queue by name, to seed or inspect it directly (KeyError if it does not exist)."""
        return self.app.queues.lookup(name)

    def set_faults(self, settings: FaultSettings) -> None:
        """Change the injected faults while running."""
        self.app.set_faults(settings)


def _listening_socket(host: str, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # Accepted sockets inherit TCP_NODELAY. Without it every reply costs ~40 ms: uvicorn writes
    # the head and the body separately, and Nagle holds the body until the client's delayed ACK.
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind((host, port))
    return sock


def _uvicorn_config(app: CmqEmulatorApp) -> uvicorn.Config:
    uvicorn_logger = logging.getLogger("uvicorn.error")
    if not any(isinstance(f, _HideDroppedResponses) for f in uvicorn_logger.filters):
        uvicorn_logger.addFilter(_HideDroppedResponses())
    return uvicorn.Config(
        app,
        log_config=None,
        access_log=False,
        lifespan="off",
        # Long polls are released on shutdown, so in-flight requests finish well within this.
        timeout_graceful_shutdown=3,
    )


@contextlib.asynccontextmanager
async def run_cmq_emulator(
    config: EmulatorConfig, *, host: str = "127.0.0.1", port: int = 0
) -> AsyncIterator[RunningEmulator]:
    """Serve the emulator on ``host:port`` (0: any free port) for the duration of the block."""
    app = CmqEmulatorApp(config)
    sock = _listening_socket(host, port)
    server = _EmbeddedServer(_uvicorn_config(app), app)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        while not server.started:
            if task.done():
                task.result()  # re-raise a start-up failure
                raise RuntimeError("CMQ emulator exited during start-up")
            await asyncio.sleep(0.005)
        yield RunningEmulator(app, host, sock.getsockname()[1])
    finally:
        server.should_exit = True
        await task
        sock.close()


def serve_forever(config: EmulatorConfig, *, host: str, port: int) -> None:
    """Serve until SIGINT/SIGTERM (the standalone command)."""
    app = CmqEmulatorApp(config)
    sock = _listening_socket(host, port)
    try:
        _Server(_uvicorn_config(app), app).run(sockets=[sock])
    finally:
        sock.close()
