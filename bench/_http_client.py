"""A lean HTTP/1.1 client for load: one keep-alive connection per worker, one request at a time.

The benchmark uses it for its fixed-rate latency phase and as the load generator when ``wrk``
is not installed; the HTTP source's heavy tests (10,000 fuzzed requests, SIGTERM under load)
use it because a general-purpose client costs milliseconds of CPU per request on a busy 2-core
machine and would measure itself. It speaks just what those need: a request with a body,
an answer with ``Content-Length`` (or one read until the server closes), ``connection: close``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import anyio
from anyio.abc import SocketStream

_HEAD_END = b"\r\n\r\n"
MAX_HEAD_BYTES = 64 * 1024


class ConnectionLost(Exception):  # noqa: N818 - what happened, as the transport says it
    """The connection ended before a whole answer was read (or could not be opened)."""


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    headers: Mapping[str, str]  # lower-cased names
    body: bytes


class HttpConnection:
    """Requests to ``host:port`` over one connection, reopened after the server closes it."""

    def __init__(self, host: str, port: int, timeout_s: float = 30.0) -> None:
        self._host = host
        self._port = port
        self._timeout_s = timeout_s
        self._stream: SocketStream | None = None
        self._buffer = b""
        self._answered = False  # a byte of the answer arrived

    async def request(
        self, method: str, path: str, body: bytes = b"", headers: Mapping[str, str] | None = None
    ) -> Answer:
        """Send one request and read its answer.

        Raises:
            ConnectionLost: no connection, or it ended before the whole answer.
        """
        lines = [f"{method} {path} HTTP/1.1", f"host: {self._host}:{self._port}"]
        lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
        lines.append(f"content-length: {len(body)}")
        data = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body
        for _ in range(2):
            reused = self._stream is not None
            self._answered = False
            try:
                with anyio.fail_after(self._timeout_s):
                    stream = await self._connected()
                    await stream.send(data)
                    answer = await self._answer(stream)
            except (
                OSError,
                anyio.BrokenResourceError,
                anyio.EndOfStream,
                anyio.ClosedResourceError,
            ):
                await self.aclose()
                if reused and not self._answered:
                    # A kept-alive connection the server closed as idle just as the request
                    # went out: it never saw the request. Once more, on a new connection.
                    continue
                raise ConnectionLost(f"{method} {path}") from None
            if answer.headers.get("connection", "").lower() == "close":
                await self.aclose()
            return answer
        raise ConnectionLost(f"{method} {path}: the server closed a new connection unanswered")

    async def aclose(self) -> None:
        stream, self._stream, self._buffer = self._stream, None, b""
        if stream is not None:
            await stream.aclose()

    async def _connected(self) -> SocketStream:
        if self._stream is None:
            self._stream = await anyio.connect_tcp(self._host, self._port)
        return self._stream

    async def _answer(self, stream: SocketStream) -> Answer:
        while _HEAD_END not in self._buffer:
            if len(self._buffer) > MAX_HEAD_BYTES:
                raise anyio.BrokenResourceError("answer head too long")
            self._buffer += await stream.receive()
            self._answered = True
        head, self._buffer = self._buffer.split(_HEAD_END, 1)
        status_line, *header_lines = head.decode("latin-1").split("\r\n")
        status = int(status_line.split(" ", 2)[1])
        headers = {}
        for line in header_lines:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        if "content-length" in headers:
            length = int(headers["content-length"])
            while len(self._buffer) < length:
                self._buffer += await stream.receive()
            body, self._buffer = self._buffer[:length], self._buffer[length:]
        else:  # no length: the body ends with the connection
            body = self._buffer + b"".join([chunk async for chunk in stream])
            self._buffer = b""
            headers["connection"] = "close"
        return Answer(status, headers, body)
