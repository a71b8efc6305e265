"""``RabbitSink``: publishes to the internal topic exchange with confirms (implements ``Sink``).

Its own robust connection (never the consumer's: a blocked publisher connection must not stall
acks), one channel in confirm mode. ``publish`` returns only after the broker's ``Basic.Ack``;
a ``Basic.Return`` (mandatory, nothing bound) raises UnroutableError; a nack, a lost channel, a
blocked connection or no confirm within ``confirm_timeout_s`` raises SinkUnavailableError.
Nothing waits forever.

aio-pika opens the connection, declares the topology, puts the channel in confirm mode and
reopens all of it after a loss. The publishes themselves and their confirms go through the
connection's frame tap (:class:`~adapters.rabbitmq_confirms.ConfirmChannel`): aiormq's
publish path (a lock, a timeout scope, a queue hop and a pamqp frame build per message, and a
decode of every confirm) cost more CPU than the rest of the relay.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

import anyio
from aio_pika.abc import AbstractRobustChannel, AbstractRobustConnection

from adapters import amqp_wire as wire
from adapters.rabbitmq_confirms import ConfirmChannel
from adapters.rabbitmq_connect import open_connection, translated
from adapters.rabbitmq_properties import encode_properties
from adapters.rabbitmq_topology import SinkTopology, declare_sink_topology
from adapters.rabbitmq_transport import TappedTransportFactory
from consumer.errors import ConfigurationError, SinkUnavailableError, UnroutableError
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
        transport: TappedTransportFactory,
        channel: AbstractRobustChannel,
        topology: SinkTopology,
        exchanges: Mapping[Destination, bytes],
        options: RabbitSinkOptions,
    ) -> None:
        self._connection = connection
        self._transport = transport
        self._channel = channel
        self._topology = topology  # strong refs: aio-pika re-declares only what is alive
        self._timeout = options.confirm_timeout_s
        self._exchanges = exchanges  # encoded once: every publish carries the name as is
        self._confirms: ConfirmChannel | None = None
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
        exchanges = _encoded_exchanges(options)
        connection, transport = await open_connection(
            options.url, "media-bridge sink", SinkUnavailableError
        )
        try:
            with translated(SinkUnavailableError, "declaring the sink exchanges"):
                channel = await connection.channel(publisher_confirms=True)
                topology = await declare_sink_topology(
                    channel, options.events_exchange, options.parking_exchange, options.parking_queue
                )
        except BaseException:
            with anyio.CancelScope(shield=True):
                await connection.close()
            raise
        return cls(connection, transport, channel, topology, exchanges, options)

    @property
    def connected(self) -> bool:
        """True while the publishing channel is open (not while reconnecting)."""
        return not self._closed and not self._channel.is_closed

    async def publish(self, message: OutboundMessage) -> None:
        """Publish persistently with ``mandatory`` and wait for the confirm (see module doc)."""
        if self._closed:
            raise SinkUnavailableError("the sink is closed")
        confirms = self._confirms
        if confirms is None or not confirms.usable:
            confirms = await self._reopened()
        try:
            properties = _properties(message)
        except TypeError as exc:  # a property over AMQP's 255-byte short-string limit
            raise UnroutableError(f"the message can't be sent: {exc}") from None
        await confirms.publish(
            self._exchanges[message.destination],
            message.routing_key,
            properties,
            message.body,
            message.message_id,
        )

    async def _reopened(self) -> ConfirmChannel:
        """Publishing state for the current channel; fails fast while aio-pika reconnects."""
        if self._channel.is_closed:
            raise SinkUnavailableError("the publishing channel is down (reconnecting)")
        with translated(SinkUnavailableError, "reopening the publishing channel"):
            with anyio.fail_after(self._timeout):
                channel = await self._channel.get_underlay_channel()
        tap = self._transport.tap_for(channel)
        if tap is None:
            raise SinkUnavailableError("the publishing channel is not open yet (reconnecting)")
        if self._confirms is not None:
            self._confirms.close("the publishing channel was replaced")
        self._confirms = ConfirmChannel(tap, channel, self._timeout)
        return self._confirms

    async def aclose(self) -> None:
        """Close the connection; publishes still waiting for a confirm fail as unavailable."""
        if self._closed:
            return
        self._closed = True
        if self._confirms is not None:
            self._confirms.close("the sink is closed")
        with anyio.CancelScope(shield=True):
            await self._connection.close()


def _encoded_exchanges(options: RabbitSinkOptions) -> Mapping[Destination, bytes]:
    """Each destination's exchange name as an AMQP short string, checked before connecting."""
    names = {
        Destination.EVENTS: options.events_exchange,
        Destination.PARKING: options.parking_exchange,
    }
    try:
        return {destination: wire.short_string(name) for destination, name in names.items()}
    except ValueError:
        raise ConfigurationError("an exchange name is over AMQP's 255 bytes") from None


def _properties(message: OutboundMessage) -> bytes:
    """The CloudEvents attributes as AMQP properties, plus the message's headers."""
    headers = message.headers
    return encode_properties(
        content_type=message.content_type,
        delivery_mode=PERSISTENT,
        message_id=message.message_id,
        message_type=message.type,
        timestamp=_timestamp(headers.get(TIME_HEADER)),
        app_id=APP_ID,
        headers=headers,
    )


def _timestamp(value: str | int | None) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None
