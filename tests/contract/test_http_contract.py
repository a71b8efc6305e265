"""HttpSource passes the Source contract, with a sender that retries like Tencent as the queue.

For a push source the "queue" is the sender: each body is POSTed until it is answered 200, a
new attempt shortly after each 503 or refused connection, as Tencent retries a callback that
failed. So a nack (503) or a close (503, or nothing listening) is a redelivery, and an ack
(200) removes the body for good. Each source the contract opens listens on the same port, so
a sender whose source was closed reaches the next one.
"""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
import httpx

from adapters.http_options import Endpoint, HttpSourceOptions
from adapters.http_source import HttpSource
from tests.contract.source_contract import OpenSource, SourceContract
from tests.http.support import post_until_ok

ENDPOINT = Endpoint(path="/push", unauthenticated=True)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class TestHttpSource(SourceContract):
    quiet_period_s = 0.3

    @asynccontextmanager
    async def make_queue(self, bodies: list[bytes]) -> AsyncIterator[OpenSource]:
        port = _free_port()
        options = HttpSourceOptions(port=port, endpoints=(ENDPOINT,))
        url = f"http://127.0.0.1:{port}/push"
        async with httpx.AsyncClient(timeout=10) as client, anyio.create_task_group() as senders:
            for body in bodies:
                senders.start_soon(post_until_ok, client, url, body, {})

            async def open_source() -> HttpSource:
                return await HttpSource.open(options)

            yield open_source
            senders.cancel_scope.cancel()
