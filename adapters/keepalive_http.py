"""``KeepAliveClient``: HTTP/1.1 POSTs to one host over a few kept-alive asyncio connections.

Why not httpx, which the SDK uses: measured here, one httpx request costs about 1 ms of CPU (its
request/response models, h11, the anyio backend's per-call look-ups), and a VOD bridge makes two
requests per 16 events, so at 3,000 events/s the HTTP client alone would take most of a core.
The same request over a plain asyncio stream costs about 0.1 ms. The API 3.0 exchange is narrow
enough for that: a POST with a Content-Length body, a reply with a Content-Length or chunked
body. Anything unexpected closes the connection and raises :class:`HttpExchangeError`.

Connections are opened on demand, reused LIFO, and closed on any error or cancellation (a
half-read reply must never be read by the next request). TLS uses the system trust store.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import Iterable
from dataclasses import dataclass

MAX_IDLE = 16  # kept per host: the pollers and confirmers of a process rarely need more
MAX_HEAD_BYTES = 64 * 1024
MAX_BODY_BYTES = 64 * 1024 * 1024  # a PullEvents reply of 16 events is far below this


class HttpExchangeError(Exception):
    """No usable reply: the connection failed, timed out or the reply was not HTTP/1.1."""


@dataclass(frozen=True, slots=True)
class HttpReply:
    status: int
    content_type: str
    body: bytes


class _Connection:
    __slots__ = ("reader", "writer")

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    def close(self) -> None:
        self.writer.close()


class KeepAliveClient:
    """POSTs to ``scheme://host:port``; see the module docstring."""

    def __init__(self, scheme: str, host: str, port: int | None, *, timeout: float) -> None:
        self._timeout = timeout
        self._host = host
        self._port = port or (443 if scheme == "https" else 80)
        self._ssl = ssl.create_default_context() if scheme == "https" else None
        self._idle: list[_Connection] = []
        self._open_now: set[_Connection] = set()  # idle or in use; aclose waits for them
        self._closed = False

    async def post(self, headers: Iterable[tuple[bytes, bytes]], body: bytes) -> HttpReply:
        """POST ``body`` to ``/`` with ``headers`` (Host and Content-Length included).

        Raises:
            HttpExchangeError: no complete reply within the client's timeout.
        """
        head = b"POST / HTTP/1.1\r\n" + b"".join(k + b": " + v + b"\r\n" for k, v in headers)
        connection: _Connection | None = None
        try:
            async with asyncio.timeout(self._timeout):
                connection = self._idle.pop() if self._idle else await self._open()
                connection.writer.write(head + b"\r\n" + body)
                reply, keep = await _read_reply(connection.reader)
        except (OSError, EOFError, TimeoutError, ValueError, asyncio.LimitOverrunError) as exc:
            if connection is not None:
                self._discard(connection)
            raise HttpExchangeError(_describe(exc)) from None
        except BaseException:  # cancelled mid-exchange: the connection is in an unknown state
            if connection is not None:
                connection.close()  # still tracked: aclose waits until its socket is shut
            raise
        if keep and not self._closed and len(self._idle) < MAX_IDLE:
            self._idle.append(connection)
        else:
            self._discard(connection)
        return reply

    async def aclose(self) -> None:
        """Close every connection, idle or in use, and wait until their sockets are shut."""
        self._closed = True
        self._idle.clear()
        for connection in self._open_now:
            connection.close()
        with contextlib.suppress(OSError, TimeoutError):
            async with asyncio.timeout(1.0):
                for connection in self._open_now:
                    await connection.writer.wait_closed()
        self._open_now.clear()

    def _discard(self, connection: _Connection) -> None:
        connection.close()
        self._open_now.discard(connection)

    async def _open(self) -> _Connection:
        reader, writer = await asyncio.open_connection(
            self._host,
            self._port,
            ssl=self._ssl,
            server_hostname=self._host if self._ssl else None,
            limit=MAX_HEAD_BYTES,
        )
        connection = _Connection(reader, writer)
        self._open_now.add(connection)
        return connection


async def _read_reply(reader: asyncio.StreamReader) -> tuple[HttpReply, bool]:
    """One reply, and whether the connection may carry the next request."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head[:-4].split(b"\r\n")
    version, _, rest = lines[0].partition(b" ")
    if not version.startswith(b"HTTP/1."):
        raise ValueError(f"not an HTTP/1.x reply: {lines[0][:40]!r}")
    status = int(rest[:3])
    fields: dict[bytes, bytes] = {}
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        fields[name.strip().lower()] = value.strip()
    keep = fields.get(b"connection", b"").lower() != b"close" and version == b"HTTP/1.1"
    if b"chunked" in fields.get(b"transfer-encoding", b"").lower():
        body = await _read_chunked(reader)
    elif b"content-length" in fields:
        length = int(fields[b"content-length"])
        if not 0 <= length <= MAX_BODY_BYTES:
            raise ValueError(f"reply body of {length} bytes")
        body = await reader.readexactly(length)
    else:  # delimited by the end of the connection
        body, keep = await reader.read(MAX_BODY_BYTES), False
    content_type = fields.get(b"content-type", b"").decode("latin-1")
    return HttpReply(status, content_type, body), keep


async def _read_chunked(reader: asyncio.StreamReader) -> bytes:
    parts: list[bytes] = []
    total = 0
    while True:
        size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
        if size == 0:
            while await reader.readuntil(b"\r\n") != b"\r\n":  # trailers, then the blank line
                pass
            return b"".join(parts)
        total += size
        if total > MAX_BODY_BYTES:
            raise ValueError(f"chunked reply body over {MAX_BODY_BYTES} bytes")
        parts.append((await reader.readexactly(size + 2))[:-2])


def _describe(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "timed out"
    if isinstance(exc, asyncio.IncompleteReadError | EOFError):
        return "connection closed before the reply was complete"
    if isinstance(exc, asyncio.LimitOverrunError):
        return "reply head too large"
    return f"{type(exc).__name__}: {exc}"
