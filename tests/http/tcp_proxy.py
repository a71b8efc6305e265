"""A TCP proxy between the bridge and RabbitMQ that can hold back what the broker sends.

With ``hold_replies()`` the bridge's frames still reach the broker (a publish is routed and
stored) but nothing comes back until ``release()``: the broker's confirm is held, exactly the
moment at which the bridge must not have answered 200 yet. Nothing is invented or dropped:
the bytes are the broker's own, only later. ``cut()`` closes every link and refuses new ones
until ``restore()`` (the broker unreachable).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
from anyio.abc import SocketStream


class Proxy:
    def __init__(self, port: int, upstream: tuple[str, int]) -> None:
        self.port = port
        self._upstream = upstream
        self._flowing = anyio.Event()
        self._flowing.set()
        self._links: set[anyio.CancelScope] = set()
        self.cut_off = False

    def url(self, user: str = "guest", password: str = "guest") -> str:
        return f"amqp://{user}:{password}@127.0.0.1:{self.port}/"

    def hold_replies(self) -> None:
        self._flowing = anyio.Event()

    def release(self) -> None:
        self._flowing.set()

    def cut(self) -> None:
        self.cut_off = True
        for link in self._links:
            link.cancel()

    def restore(self) -> None:
        self.cut_off = False

    async def handle(self, client: SocketStream) -> None:
        async with client:
            if self.cut_off:
                return
            with anyio.CancelScope() as link:
                self._links.add(link)
                try:
                    async with (
                        await anyio.connect_tcp(*self._upstream) as broker,
                        anyio.create_task_group() as pumps,
                    ):
                        ends = pumps.cancel_scope
                        pumps.start_soon(self._pump, client, broker, False, ends)
                        pumps.start_soon(self._pump, broker, client, True, ends)
                finally:
                    self._links.discard(link)

    async def _pump(
        self, source: SocketStream, target: SocketStream, from_broker: bool, ends: anyio.CancelScope
    ) -> None:
        try:
            async for chunk in source:
                if from_broker:
                    await self._flowing.wait()
                await target.send(chunk)
        except (anyio.BrokenResourceError, anyio.ClosedResourceError):
            pass
        ends.cancel()  # one side ended: so does the link


@asynccontextmanager
async def broker_proxy(upstream: tuple[str, int] = ("127.0.0.1", 5672)) -> AsyncIterator[Proxy]:
    listener = await anyio.create_tcp_listener(local_host="127.0.0.1", local_port=0)
    async with listener, anyio.create_task_group() as group:
        port = listener.extra(anyio.abc.SocketAttribute.local_port)
        proxy = Proxy(port, upstream)

        group.start_soon(listener.serve, proxy.handle)
        try:
            yield proxy
        finally:
            proxy.release()
            group.cancel_scope.cancel()
