"""KeepAliveClient against a real socket server that answers the ways an HTTP/1.1 server may."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import pytest

from adapters.keepalive_http import HttpExchangeError, KeepAliveClient

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]
HEADERS = [
    (b"Host", b"127.0.0.1"),
    (b"Content-Type", b"application/json"),
    (b"Content-Length", b"2"),
]


class Server:
    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.connections = 0

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            await self.handler(reader, writer)
        finally:
            writer.close()


@asynccontextmanager
async def serving(handler: Handler) -> AsyncIterator[tuple[Server, KeepAliveClient]]:
    server = Server(handler)
    listener = await asyncio.start_server(server.serve, "127.0.0.1", 0)
    port = listener.sockets[0].getsockname()[1]
    client = KeepAliveClient("http", "127.0.0.1", port, timeout=1.0)
    try:
        yield server, client
    finally:
        await client.aclose()
        listener.close()
        await listener.wait_closed()


async def read_request(reader: asyncio.StreamReader) -> bytes:
    head = await reader.readuntil(b"\r\n\r\n")
    length = next(
        int(line.split(b":")[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length")
    )
    return await reader.readexactly(length)


def answer_forever(reply: bytes) -> Handler:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            try:
                await read_request(reader)
            except asyncio.IncompleteReadError:
                return
            writer.write(reply)

    return handler


async def test_requests_reuse_one_connection_and_read_content_length_bodies() -> None:
    reply = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"
    async with serving(answer_forever(reply)) as (server, client):
        replies = [await client.post(HEADERS, b"{}") for _ in range(3)]
    assert [(r.status, r.content_type, r.body) for r in replies] == [
        (200, "application/json", b"{}")
    ] * 3
    assert server.connections == 1


async def test_chunked_bodies_are_joined() -> None:
    reply = (
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
        b'5\r\n{"a":\r\n2;ext=1\r\n1}\r\n0\r\n\r\n'
    )
    async with serving(answer_forever(reply)) as (_, client):
        first = await client.post(HEADERS, b"{}")
        second = await client.post(HEADERS, b"{}")
    assert first.body == second.body == b'{"a":1}'


async def test_connection_close_reply_is_not_reused() -> None:
    reply = b"HTTP/1.1 503 Busy\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"
    async with serving(answer_forever(reply)) as (server, client):
        statuses = [(await client.post(HEADERS, b"{}")).status for _ in range(2)]
    assert statuses == [503, 503]
    assert server.connections == 2


async def test_reply_cut_short_is_an_exchange_error_and_the_next_request_reconnects() -> None:
    calls = 0

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal calls
        await read_request(reader)
        calls += 1
        if calls == 1:
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n{}")  # 8 bytes short
            return
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}")

    async with serving(handler) as (server, client):
        with pytest.raises(HttpExchangeError, match="closed before the reply was complete"):
            await client.post(HEADERS, b"{}")
        assert (await client.post(HEADERS, b"{}")).body == b"{}"
    assert server.connections == 2


async def test_silent_server_is_a_timeout() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        await asyncio.sleep(5)  # the server under test never answers: this is its behaviour

    async with serving(handler) as (_, client):
        with pytest.raises(HttpExchangeError, match="timed out"):
            await client.post(HEADERS, b"{}")


async def test_not_http_is_an_exchange_error() -> None:
    async with serving(answer_forever(b"SSH-2.0-OpenSSH\r\n\r\n")) as (_, client):
        with pytest.raises(HttpExchangeError, match=r"not an HTTP/1\.x reply"):
            await client.post(HEADERS, b"{}")
