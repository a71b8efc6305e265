"""What every emulator needs to be served by uvicorn: socket, server, ASGI plumbing.

Both the CMQ and the VOD emulator are lean ASGI callables with a ``close()`` that releases
their held long polls. This module runs such an app either in-process for tests
(``serve_in_background``) or as a blocking command (``serve_blocking``), and holds the small
ASGI helpers the apps share (reading a body, answering, dropping a reply mid-way).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, MutableMapping
from typing import Any, Protocol

import uvicorn

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

MAX_REQUEST_BYTES = 16 * 1024 * 1024


class EmulatorApp(Protocol):
    """An ASGI app whose ``close()`` makes its pending long polls return at once."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None: ...

    def close(self) -> None: ...


class ResponseDropped(Exception):  # noqa: N818 - a deliberate outcome, not an error
    """Raised after the status line went out: the server then closes the connection mid-reply."""


class _HideDroppedResponses(logging.Filter):
    """Keep uvicorn from logging a traceback for every deliberately dropped response."""

    def __init__(self, dropped: type[BaseException]) -> None:
        super().__init__()
        self.dropped = dropped

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.exc_info and isinstance(record.exc_info[1], self.dropped))


class _Server(uvicorn.Server):
    """uvicorn, releasing the app's long polls when it shuts down."""

    def __init__(self, config: uvicorn.Config, app: EmulatorApp) -> None:
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


def listening_socket(host: str, port: int) -> socket.socket:
    """A bound TCP socket whose accepted connections have Nagle's algorithm off."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # Accepted sockets inherit TCP_NODELAY. Without it every reply costs ~40 ms: uvicorn writes
    # the head and the body separately, and Nagle holds the body until the client's delayed ACK.
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    return sock


def _uvicorn_config(app: EmulatorApp, dropped: type[BaseException]) -> uvicorn.Config:
    uvicorn_logger = logging.getLogger("uvicorn.error")
    if not any(
        isinstance(f, _HideDroppedResponses) and f.dropped is dropped
        for f in uvicorn_logger.filters
    ):
        uvicorn_logger.addFilter(_HideDroppedResponses(dropped))
    return uvicorn.Config(
        app,
        log_config=None,
        access_log=False,
        lifespan="off",
        # Long polls are released on shutdown, so in-flight requests finish well within this.
        timeout_graceful_shutdown=3,
    )


@contextlib.asynccontextmanager
async def serve_in_background(
    app: EmulatorApp,
    *,
    host: str,
    port: int,
    dropped: type[BaseException] = ResponseDropped,
    name: str = "emulator",
) -> AsyncIterator[int]:
    """Serve ``app`` on this event loop for the duration of the block; yields the bound port.

    ``dropped`` is the exception the app raises to abort a reply on purpose; uvicorn's log of it
    is suppressed. On exit the app's long polls are released and the server stops.
    """
    sock = listening_socket(host, port)
    server = _EmbeddedServer(_uvicorn_config(app, dropped), app)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        while not server.started:
            if task.done():
                task.result()  # re-raise a start-up failure
                raise RuntimeError(f"{name} exited during start-up")
            await asyncio.sleep(0.005)
        bound_port: int = sock.getsockname()[1]
        yield bound_port
    finally:
        server.should_exit = True
        await task
        sock.close()


def serve_blocking(
    app: EmulatorApp,
    *,
    host: str,
    port: int,
    dropped: type[BaseException] = ResponseDropped,
    on_listening: Callable[[int], None] | None = None,
) -> None:
    """Serve ``app`` until SIGINT/SIGTERM (a standalone command); OSError if the port is taken.

    ``on_listening`` is called with the bound port once the socket is bound, before serving.
    """
    sock = listening_socket(host, port)
    try:
        if on_listening is not None:
            on_listening(sock.getsockname()[1])
        _Server(_uvicorn_config(app, dropped), app).run(sockets=[sock])
    finally:
        sock.close()


async def read_body(receive: Receive, limit: int = MAX_REQUEST_BYTES) -> bytes | None:
    """The whole request body, or None once it grows past ``limit`` bytes."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


async def respond(send: Send, status: int, content_type: bytes, body: bytes) -> None:
    """Send a complete response with exactly this Content-Type (no charset is added)."""
    headers = [(b"content-type", content_type), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def drop_response(send: Send) -> None:
    """Announce a body, then abort: the client sees the connection close mid-response."""
    headers = [(b"content-type", b"application/json"), (b"content-length", b"64")]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    raise ResponseDropped
