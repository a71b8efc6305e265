"""``RabbitSink``: publishes to the internal topic exchange with confirms (implements ``Sink``).

Its own robust connection (never the consumer's: a blocked publisher connection must not stall
acks), one channel in confirm mode with ``on_return_raises``. ``publish`` returns only after the
broker's ``Basic.Ack``; a ``Basic.Return`` (mandatory, nothing bound) raises UnroutableError; a
nack, a lost channel, a blocked connection or no confirm within ``confirm_timeout_s`` raises
SinkUnavailableError. Nothing waits forever.

Publishing goes straight to the underlying aiormq channel with ``wait=False`` (don't hold the
channel lock until the socket drained): aio-pika's ``Exchange.publish`` adds a ``Message`` object
and a per-publish drain, which serializes concurrent publishes behind one another.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import cast

import aiormq
import anyio
from aio_pika.abc import AbstractRobustChannel, AbstractRobustConnection

from adapters.rabbitmq_connect import open_connection, translated
from adapters.rabbitmq_properties import PublishProperties
from adapters.rabbitmq_topology import SinkTopology, declare_sink_topology
from consumer.errors import ConfigurationError, SinkUnavailableError
from consumer.ports import Destination, OutboundMessage

log = logging.getLogger(__name__)

PERSISTENT = 2
APP_ID = "media-event-bridge"
TIME_HEADER = "ce-time"  # the CloudEvents ``time`` copied by consumer.outbound, when the event has one


@dataclass(frozen=True)
class RabbitSinkOptions:
    """Where to publish; ``confirm_timeout_s`` bounds each publish (write + broker confirm)."""

    url: str
    events_exchange: str = "media.events"
    parking_exchange: str = "media.parking"
    parking_queue: str = "media.parking"
    confirm_timeout_s: float = 10.0


class RabbitSink:
    """See the module docstring."""

    def __init__(
        self,
        connection: AbstractRobustConnection,
        channel: AbstractRobustChannel,
        topology: SinkTopology,
        options: RabbitSinkOptions,
    ) -> None:
        self._connection = connection
        self._channel = channel
        self._topology = topology  # strong refs: aio-pika re-declares only what is alive
        self._timeout = options.confirm_timeout_s
        self._exchanges: Mapping[Destination, str] = {
            Destination.EVENTS: options.events_exchange,
            Destination.PARKING: options.parking_exchange,
        }
        self._underlay: aiormq.Channel | None = None
        self._closed = False

    @classmethod
    async def connect(cls, options: RabbitSinkOptions) -> RabbitSink:
        """Connect, open a confirm channel and declare the exchanges and the parking queue.

        Raises:
            ConfigurationError: bad URL/credentials/vhost, or a non-positive confirm timeout.
            SinkUnavailableError: the broker can't be reached.
        """
        if options.confirm_timeout_s <= 0:
            raise ConfigurationError("confirm_timeout_s must be greater than 0")
        connection = await open_connection(options.url, "media-bridge sink", SinkUnavailableError)
        try:
            with translated(SinkUnavailableError, "declaring the sink exchanges"):
                channel = await connection.channel(publisher_confirms=True, on_return_raises=True)
                topology = await declare_sink_topology(
                    channel, options.events_exchange, options.parking_exchange, options.parking_queue
                )
        except BaseException:
            with anyio.CancelScope(shield=True):
                await connection.close()
            raise
        return cls(connection, channel, topology, options)

    @property
    def connected(self) -> bool:
        """True while the publishing channel is open (not while reconnecting)."""
        return not self._closed and not self._channel.is_closed

    async def publish(self, message: OutboundMessage) -> None:
        """Publish persistently with ``mandatory`` and wait for the confirm (see module doc)."""
        exchange = self._exchanges[message.destination]
        try:
            if self._closed:
                raise SinkUnavailableError("the sink is closed")
            channel = self._underlay
            if channel is None or channel.is_closed:
                channel = await self._reopened_channel()
            await channel.basic_publish(
                message.body,
                exchange=exchange,
                routing_key=message.routing_key,
                properties=_properties(message),
                mandatory=True,
                timeout=self._timeout,
                wait=False,
            )
        except Exception:
            # Translated only on failure: entering ``translated`` on every publish was
            # measurable, and re-raising inside it applies exactly the same mapping.
            with translated(SinkUnavailableError, f"publishing to {exchange}"):
                raise

    async def _reopened_channel(self) -> aiormq.Channel:
        """The current aiormq channel; fails fast (no waiting) while aio-pika reconnects."""
        if self._channel.is_closed:
            raise SinkUnavailableError("the publishing channel is down (reconnecting)")
        with anyio.fail_after(self._timeout):
            # aio-pika types it as the abstract channel; ``wait=`` is on the concrete class.
            self._underlay = cast(aiormq.Channel, await self._channel.get_underlay_channel())
        return self._underlay

    async def aclose(self) -> None:
        """Close the connection; publishes still waiting for a confirm fail as unavailable."""
        if self._closed:
            return
        self._closed = True
        with anyio.CancelScope(shield=True):
            await self._connection.close()


def _properties(message: OutboundMessage) -> PublishProperties:
    """The CloudEvents attributes as AMQP properties, plus the message's headers."""
    headers = message.headers
    return PublishProperties(
        content_type=message.content_type,
        delivery_mode=PERSISTENT,
        message_id=message.message_id,
        message_type=message.type,
        timestamp=_timestamp(headers.get(TIME_HEADER)),
        app_id=APP_ID,
        # Our own copy: the properties outlive this call (aiormq keeps them until the confirm).
        headers=dict(headers),
    )


def _timestamp(value: str | int | None) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None
