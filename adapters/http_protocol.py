"""uvicorn's HTTP/1.1 protocol with a deadline for the request head (slow-client defence).

uvicorn closes an idle keep-alive connection after ``timeout_keep_alive``, but nothing bounds
how long a client may take to send a request's head: a connection that opens and sends
nothing, or trickles a header byte every few seconds, would stay forever (slowloris). Here a
timer starts when the connection opens, and again at the first byte of each following request,
and stops when uvicorn has parsed the head (it then creates a new request cycle). If it fires
first, the client gets ``408`` and the connection is closed. The body has its own deadline,
kept by the receiver (``adapters.http_receiver``).

uvicorn's h11 protocol is used (it is what uvicorn ships with); with ``httptools`` installed its
faster protocol is used instead. Both expose the hooks used here (``cycle``, ``transport``,
``loop``, ``connection_made``/``data_received``/``connection_lost``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from uvicorn.config import Config
from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn.server import ServerState

_TIMEOUT_RESPONSE = (
    b"HTTP/1.1 408 Request Timeout\r\ncontent-type: text/plain; charset=utf-8\r\n"
    b"connection: close\r\ncontent-length: 34\r\n\r\nthe request head came too slowly\r\n"
)


def _base_protocol() -> type[H11Protocol]:
    try:
        from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
    except ImportError:  # httptools is optional: uvicorn's own h11 protocol
        return H11Protocol
    return HttpToolsProtocol  # type: ignore[return-value]  # same hooks, faster parser


def head_timed_protocol(timeout_s: float, on_timeout: Callable[[], None]) -> type[asyncio.Protocol]:
    """A uvicorn protocol class (``Config(http=...)``) closing connections whose request head
    takes longer than ``timeout_s``; ``on_timeout`` is called for each (it counts them)."""
    base = _base_protocol()

    class HeadTimedProtocol(base):  # type: ignore[valid-type,misc]
        def __init__(
            self,
            config: Config,
            server_state: ServerState,
            app_state: dict[str, Any],
            _loop: asyncio.AbstractEventLoop | None = None,
        ) -> None:
            super().__init__(config, server_state, app_state, _loop)
            self._head_timer: asyncio.TimerHandle | None = None

        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            super().connection_made(transport)
            self._arm()

        def data_received(self, data: bytes) -> None:
            cycle = self.cycle
            super().data_received(data)
            if self.cycle is not cycle:  # uvicorn parsed a head and started a request
                self._disarm()
            elif self._head_timer is None and (cycle is None or cycle.response_complete):
                self._arm()  # the first bytes of the next request on a kept-alive connection

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            super().connection_lost(exc)

        def _arm(self) -> None:
            self._head_timer = self.loop.call_later(timeout_s, self._head_timed_out)

        def _disarm(self) -> None:
            if self._head_timer is not None:
                self._head_timer.cancel()
                self._head_timer = None

        def _head_timed_out(self) -> None:
            self._head_timer = None
            if self.transport.is_closing():
                return
            on_timeout()
            self.transport.write(_TIMEOUT_RESPONSE)
            self.transport.close()

    return HeadTimedProtocol
