"""uvicorn serving the receiver on a socket bound up front: start, then stop gracefully.

The socket is bound (and a port in use reported as ``ConfigurationError``) before anything is
served, as for the status endpoints. uvicorn's start-up runs inside :meth:`UvicornRunner.start`,
so the receiver is listening when it returns; its main loop then runs in a background task
until :meth:`UvicornRunner.stop`, which is uvicorn's own graceful shutdown: stop accepting,
close idle connections, let requests in progress finish (their answers are already decided
by then, see ``HttpSource.aclose``), bounded by ``shutdown_timeout_s``.

uvicorn's signal handlers are off (the service owns SIGTERM/SIGINT) and so is its logging
configuration (its records go through ours); access logs are off (the metrics count requests).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Callable, Iterator

import anyio
import uvicorn

from adapters.http_options import HttpSourceOptions
from adapters.http_protocol import head_timed_protocol
from adapters.http_receiver import Receiver
from consumer.errors import ConfigurationError

log = logging.getLogger("adapters.http")

SHUTDOWN_TIMEOUT_S = 3  # the service allows 5 s for closing the source and the sink together
BACKLOG = 1024


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield  # the service handles signals with anyio.open_signal_receiver


def listening_socket(host: str, port: int) -> socket.socket:
    """A bound, listening socket, or ConfigurationError naming the address and the reason.

    Created with ``IPPROTO_TCP`` named: asyncio sets ``TCP_NODELAY`` only on accepted sockets
    whose protocol says TCP, and without it an answer written in two parts (head, then body)
    waited ~40 ms for the client's delayed ACK (Nagle).
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise ConfigurationError(
            f"cannot listen on {host}:{port} for HTTP callbacks: {exc.strerror or exc}"
        ) from None
    sock.listen(BACKLOG)
    sock.setblocking(False)
    return sock


class UvicornRunner:
    """One uvicorn server for one :class:`Receiver`; see the module docstring."""

    def __init__(
        self, receiver: Receiver, options: HttpSourceOptions, on_head_timeout: Callable[[], None]
    ) -> None:
        trusted = list(options.trusted_proxies)
        self._config = uvicorn.Config(
            receiver,
            http=head_timed_protocol(options.header_timeout, on_head_timeout),
            lifespan="off",
            log_config=None,
            access_log=False,
            server_header=False,
            timeout_keep_alive=options.keep_alive_timeout,
            timeout_graceful_shutdown=SHUTDOWN_TIMEOUT_S,
            limit_concurrency=options.max_connections,
            backlog=BACKLOG,
            # X-Forwarded-For is believed only from the proxies named (uvicorn's default
            # trusts 127.0.0.1, which would let any local process pick its address).
            proxy_headers=bool(trusted),
            forwarded_allow_ips=trusted or None,
        )
        self._server = _Server(self._config)
        self._socket: socket.socket | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self, sock: socket.socket) -> None:
        """Serve on ``sock`` (listening when this returns); the runner owns it from now on."""
        self._socket = sock
        self._config.load()
        server = self._server
        server.lifespan = self._config.lifespan_class(self._config)
        await server.startup(sockets=[sock])
        self._task = asyncio.create_task(self._run(), name="http-receiver")

    async def stop(self) -> None:
        """uvicorn's graceful shutdown, bounded; idempotent."""
        self._server.should_exit = True
        task, self._task = self._task, None
        if task is not None:
            with anyio.CancelScope(shield=True):
                await asyncio.wait([task], timeout=SHUTDOWN_TIMEOUT_S + 1)
            if not task.done():  # uvicorn's own bound did not hold: stop it without waiting
                task.cancel()
            elif not task.cancelled() and task.exception() is not None:
                log.error("the HTTP receiver failed", exc_info=task.exception())
        if self._socket is not None:
            self._socket.close()
            self._socket = None

    async def _run(self) -> None:
        await self._server.main_loop()  # returns once should_exit is set (it polls every 0.1 s)
        await self._server.shutdown(sockets=[self._socket] if self._socket is not None else None)
