"""A TCP/TLS transport for aiormq that coalesces the frames of one loop iteration into one send.

aiormq's writer task calls ``StreamWriter.write`` once per queued frame batch (one publish, one
ack), and asyncio's socket transport sends each write straight away with its own ``send()``
system call. Under load dozens of publishes and acks are queued in the same loop iteration;
on loopback every ``send()`` also pays the receiver's TCP processing, so per-frame sends were
the single largest cost of the bridge process. :class:`CoalescingStreamWriter` appends writes
to a list and hands them to the transport in one piece from a ``call_soon`` callback: the
bytes and their order are unchanged, they reach the socket at most one loop iteration later.

The factory's reader is a :class:`~adapters.rabbitmq_tap.FrameTap`, which gives the adapters
the per-message frames without aiormq's per-frame machinery; :meth:`TappedTransportFactory.tap_for`
finds the tap that carries a given channel.

Plugged in through aiormq's ``transport_factory`` argument, which aio-pika passes on from
``connection.kwargs`` (see ``rabbitmq_connect``). aiormq documents the argument; aio-pika does
not document passing it on, so the factory counts the taps it built and says why when it built
none: ``adapters.rabbitmq_tap_check`` uses that to prove, after every (re)connect, that the tap
reads the connection. When aiormq calls ``create`` with arguments this code was not verified
with, it opens a plain asyncio connection instead of guessing what they mean (the check then
puts the adapter on the plain path).
"""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import aiormq
from aiormq import SSLContextProvider, TransportFactory
from aiormq.exceptions import AMQPConnectionError
from yarl import URL

from adapters.rabbitmq_tap import FrameTap

# asyncio's default StreamReader limit (aiormq uses asyncio.open_connection's default).
_READER_LIMIT = 2**16
_AMQP_PORT, _AMQPS_PORT = 5672, 5671


class CoalescingStreamWriter(asyncio.StreamWriter):
    """A ``StreamWriter`` whose writes of one loop iteration leave in a single transport write."""

    def __init__(
        self,
        transport: asyncio.WriteTransport,
        protocol: asyncio.StreamReaderProtocol,
        reader: asyncio.StreamReader,
        loop: asyncio.AbstractEventLoop,
    ) -> None:
        super().__init__(transport, protocol, reader, loop)
        self._pending: list[bytes] = []
        self._event_loop = loop

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if not self._pending:
            self._event_loop.call_soon(self.flush)
        self._pending.append(bytes(data))

    def writelines(self, data: Any) -> None:
        for chunk in data:
            self.write(chunk)

    def flush(self) -> None:
        """Hand everything written so far to the transport (in order, as one write)."""
        if not self._pending:
            return
        data = self._pending[0] if len(self._pending) == 1 else b"".join(self._pending)
        self._pending.clear()
        if not self.transport.is_closing():
            self.transport.write(data)

    async def drain(self) -> None:
        # ``drain`` means "written to the transport, and the transport is not over its high
        # water mark": pending bytes must be handed over first.
        self.flush()
        await super().drain()

    def write_eof(self) -> None:
        self.flush()
        super().write_eof()

    def close(self) -> None:
        self.flush()
        super().close()


class TappedTransportFactory(TransportFactory):
    """aiormq's TCP/TLS transport, with a :class:`FrameTap` reader and a coalescing writer.

    Mirrors ``asyncio.open_connection`` (whose docs invite copying it to customize the reader
    and writer) and aiormq's own TCP/TLS factories, including their error translation. One
    factory serves one robust connection: aio-pika calls :meth:`create` on every reconnect.
    """

    def __init__(self) -> None:
        self._taps: list[FrameTap] = []
        self.created = 0  # taps built so far (one per connection attempt that used the tap)
        self.newest: FrameTap | None = None
        self.declined: str | None = None  # why the latest create built no tap, if it did not

    def tap_for(self, channel: aiormq.abc.AbstractChannel) -> FrameTap | None:
        """The tap of the live connection ``channel`` is open on; None while there is none.

        aiormq does not tell which transport a channel uses, so this asks the taps: the
        channel is on the one link that is up and saw the Channel.OpenOk of its number.
        (aio-pika opens a new link only after the old one is gone, so at most one matches;
        if ever two did, None makes the caller wait instead of writing to the wrong link.)
        """
        if channel.is_closed:
            return None
        self._taps = [tap for tap in self._taps if not tap.lost]
        matches = [tap for tap in self._taps if tap.is_open(channel.number)]
        return matches[0] if len(matches) == 1 else None

    async def create(
        self, url: URL, **kwargs: Any
    ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        provider: SSLContextProvider | None = kwargs.pop("ssl_context_provider", None)
        tls = url.scheme == "amqps"
        ssl = await provider.get_context() if tls and provider else None
        if not url.host:
            raise AMQPConnectionError(f"no host in the {url.scheme} URL")
        port = url.port or (_AMQPS_PORT if tls else _AMQP_PORT)  # aiormq fills it in already
        if kwargs or provider is None:
            # aiormq 7.2 passes exactly ``ssl_context_provider``: anything else is a change
            # this code was never verified with.
            passed = ", ".join(sorted(kwargs)) or "no ssl_context_provider"
            self.declined = f"aiormq called the transport factory with unverified arguments: {passed}"
            return await _plain_connection(url.host, port, ssl, kwargs)
        self.declined = None
        loop = asyncio.get_running_loop()
        reader = FrameTap(limit=_READER_LIMIT, loop=loop)
        protocol = asyncio.StreamReaderProtocol(reader, loop=loop)
        try:
            transport, _ = await loop.create_connection(
                lambda: protocol, host=url.host, port=port, ssl=ssl, **kwargs
            )
        except OSError as exc:
            raise AMQPConnectionError(*exc.args) from exc
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            # asyncio already sets this for TCP; explicit, because coalescing relies on it to
            # keep latency low (no Nagle delay behind a partly acknowledged segment).
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        writer = CoalescingStreamWriter(transport, protocol, reader, loop)
        reader.writer = writer
        self._taps.append(reader)
        self.created += 1
        self.newest = reader
        return reader, writer


async def _plain_connection(
    host: str, port: int, ssl: Any, kwargs: dict[str, Any]
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """What aiormq's own TCP/TLS factories do: ``asyncio.open_connection`` with every argument."""
    try:
        return await asyncio.open_connection(host=host, port=port, ssl=ssl, **kwargs)
    except OSError as exc:
        raise AMQPConnectionError(*exc.args) from exc
