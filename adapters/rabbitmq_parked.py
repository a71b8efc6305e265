"""``RabbitParkedQueue``: the parking queue (or any queue of parked or unrouted messages) read
from its head without taking anything away (implements ``consumer.parked.ParkedQueue``).

``basic.get`` with manual acks, one message at a time: each message taken stays unacked (held)
until ``remove`` acks it or ``release_all`` requeues every held one with one
``basic.nack(multiple, requeue)``. RabbitMQ puts requeued messages back at their original
position in the queue ("if possible": when no other consumer settled messages of the same queue
meanwhile, https://www.rabbitmq.com/docs/nack), so a reader that only looks leaves the queue in
its order; a reader that dies (SIGKILL included) has its connection closed by the kernel, and
the broker requeues what it held the same way. ``basic.get`` answers "empty" when nothing is
ready, which ends a pass without waiting.

A plain (not robust) aio-pika connection: a link lost half-way must end the command, not be
healed behind its back with the held messages already requeued and their tags meaningless.

A quorum parking queue (``sink.queue_type = quorum``) works the same: ``basic.get`` and the
requeue keep its order, and the bridge declares it with a delivery limit no number of looks
reaches (``adapters.rabbitmq_queue_types``). A quorum queue counts every requeue in
``x-delivery-count`` (RabbitMQ 3.10-4.2; from 4.3 only in ``x-acquired-count``); the headers
shown are the parked ones, so that count is not among them. Don't give the parking queue a
policy ``delivery-limit`` without a dead-letter exchange: RabbitMQ 4.0-4.2 would drop a message
looked at that often.

``url`` may name several nodes, comma-separated: the first that answers is used.
"""

from __future__ import annotations

import contextlib
import os
import socket
from collections.abc import Mapping

import aio_pika
import aiormq.exceptions
import anyio
from aio_pika.abc import AbstractChannel, AbstractConnection, AbstractIncomingMessage, AbstractQueue
from yarl import URL

from adapters.rabbitmq_connect import CONNECT_TIMEOUT_S, parse_amqp_urls, translated
from adapters.rabbitmq_link import node_name
from consumer.errors import ConfigurationError, SourceUnavailableError, TransientError
from consumer.parked import HeldMessage, ParkedMessage

GET_TIMEOUT_S = 10.0  # one basic.get round trip; past it the broker counts as unavailable


class RabbitParkedQueue:
    """See the module docstring. Build it with :meth:`connect`."""

    def __init__(self, connection: AbstractConnection, channel: AbstractChannel, queue: str) -> None:
        self._connection = connection
        self._channel = channel
        self._queue_name = queue
        self._queue: AbstractQueue | None = None
        self._held: dict[int, AbstractIncomingMessage] = {}  # by delivery tag
        self._taken = 0

    @classmethod
    async def connect(cls, url: str, queue: str) -> RabbitParkedQueue:
        """Connect and check that ``queue`` exists (never creating it).

        Raises:
            ConfigurationError: bad URL or credentials, or no such queue.
            SourceUnavailableError: the broker can't be reached.
        """
        connection = await _first_answering(parse_amqp_urls(url))
        try:
            with translated(SourceUnavailableError, f"opening the queue {queue}"):
                channel = await connection.channel(publisher_confirms=False)
            reader = cls(connection, channel, queue)
            await reader.waiting()  # the queue must exist
        except BaseException:
            with anyio.CancelScope(shield=True):
                await connection.close()
            raise
        return reader

    @property
    def name(self) -> str:
        return self._queue_name

    async def waiting(self) -> int:
        """Ready messages now, from a passive declare (which never creates the queue)."""
        with translated(SourceUnavailableError, f"reading the queue {self._queue_name}"):
            try:
                self._queue = await self._channel.declare_queue(self._queue_name, passive=True)
            except aiormq.exceptions.ChannelNotFoundEntity:
                raise ConfigurationError(
                    f"the queue {self._queue_name} does not exist (nothing parked yet, or "
                    "another name: see sink.parking_queue)"
                ) from None
        result = self._queue.declaration_result
        return int(result.message_count or 0)

    async def take(self) -> HeldMessage | None:
        if self._queue is None:
            await self.waiting()
        assert self._queue is not None
        with translated(SourceUnavailableError, f"reading the queue {self._queue_name}"):
            message = await self._queue.get(no_ack=False, fail=False, timeout=GET_TIMEOUT_S)
        if message is None:
            return None
        tag = message.delivery_tag
        assert tag is not None  # a basic.get with manual ack always has one
        self._held[tag] = message
        self._taken += 1
        return HeldMessage(self._taken, parked_message(message), tag)

    async def remove(self, held: HeldMessage) -> None:
        message = self._held.pop(held.token, None)
        if message is None:
            return  # removed already, or released
        with translated(SourceUnavailableError, f"removing a message from {self._queue_name}"):
            await message.ack()

    async def release_all(self) -> None:
        if not self._held:
            return
        last = self._held[max(self._held)]
        self._held.clear()
        with translated(SourceUnavailableError, f"releasing messages of {self._queue_name}"):
            # Every unacked tag up to the last one held: exactly the held ones, since the
            # removed ones are acked already. They go back to their places, in order.
            await last.nack(multiple=True, requeue=True)

    async def aclose(self) -> None:
        # The connection is going anyway: if this fails, the broker requeues what was held.
        with contextlib.suppress(SourceUnavailableError):
            await self.release_all()
        with anyio.CancelScope(shield=True):
            await self._connection.close()


async def _first_answering(nodes: list[URL]) -> AbstractConnection:
    """A plain connection to the first of ``nodes`` that answers."""
    name = f"media-bridge parked-reader {socket.gethostname()}:{os.getpid()}"
    failures: list[str] = []
    for node in nodes:
        try:
            with translated(SourceUnavailableError, f"connecting to {node_name(node)}"):
                with anyio.fail_after(CONNECT_TIMEOUT_S):
                    return await aio_pika.connect(
                        node, client_properties={"connection_name": name},
                        timeout=CONNECT_TIMEOUT_S,
                    )
        except TransientError as exc:
            failures.append(str(exc))
    raise SourceUnavailableError("; ".join(failures))


def parked_message(message: AbstractIncomingMessage) -> ParkedMessage:
    """The transport-neutral view of one AMQP message."""
    return ParkedMessage(
        body=message.body,
        headers=text_headers(message.headers),
        routing_key=message.routing_key or "",
        message_id=message.message_id,
        content_type=message.content_type,
    )


def text_headers(headers: Mapping[str, object]) -> dict[str, str | int]:
    """AMQP header values as text or whole numbers (tables, lists, times shown as text)."""
    converted: dict[str, str | int] = {}
    for name, value in headers.items():
        if value is None:
            continue
        if isinstance(value, bytes):
            converted[name] = value.decode("utf-8", errors="replace")
        elif isinstance(value, str | int):
            converted[name] = value
        else:
            converted[name] = str(value)
    return converted
