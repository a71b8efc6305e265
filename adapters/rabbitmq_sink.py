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

On the plain path (``fast_path=False``, or once the tap's self-check failed on a connection:
``adapters.rabbitmq_tap_check``) the same publishes go through aio-pika's public API
(:class:`~adapters.rabbitmq_plain_sink.PlainPublisher`). The check runs when the sink binds to
a channel: at connect, right after every reconnect, and whenever the channel was replaced.

``connected`` (readiness) is False from the moment the link or the channel closes until
aio-pika restored them (see ``adapters.rabbitmq_link``).

With ``RabbitSinkOptions.unrouted`` (``sink.unroutable = keep``) the events exchange has an
alternate exchange (``adapters.rabbitmq_topology``): an event no queue is bound for is routed
there by the broker and confirmed like any other, so ``publish`` returns normally and nothing
is returned. No frame tells the publisher that it went to the alternate exchange, so the sink
can't count them per publish: :meth:`RabbitSink.watch_unrouted` reads the unrouted queue's
depth every few seconds instead (``unrouted_depth``), and that is what the metric exports.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

import aiormq
import anyio
from aio_pika.abc import AbstractRobustChannel, AbstractRobustQueue

from adapters import amqp_wire as wire
from adapters.rabbitmq_channel_restore import ChannelRestore
from adapters.rabbitmq_confirms import ConfirmChannel
from adapters.rabbitmq_connect import Link, open_connection, translated
from adapters.rabbitmq_plain_sink import PlainPublisher
from adapters.rabbitmq_properties import encode_properties
from adapters.rabbitmq_queue_types import QueueType
from adapters.rabbitmq_tap_check import TapGuard, TapUnsure
from adapters.rabbitmq_topology import SinkTopology, Unrouted, declare_sink_topology
from consumer.errors import (
    BridgeError,
    ConfigurationError,
    SinkUnavailableError,
    UnroutableError,
)
from consumer.ports import Destination, OutboundMessage

log = logging.getLogger(__name__)

PERSISTENT = 2
APP_ID = "media-event-bridge"
TIME_HEADER = "ce-time"  # the CloudEvents ``time`` copied by consumer.outbound, when the event has one


@dataclass(frozen=True)
class RabbitSinkOptions:
    """Where to publish (``url``: one AMQP URL, or a cluster's nodes comma-separated);
    ``confirm_timeout_s`` bounds each publish (write + broker confirm); ``fast_path`` False
    publishes through aio-pika's public API only (no frame tap); ``queue_type`` is what the
    parking and unrouted queues are declared as (``adapters.rabbitmq_queue_types``)."""

    url: str
    events_exchange: str = "media.events"
    parking_exchange: str = "media.parking"
    parking_queue: str = "media.parking"
    confirm_timeout_s: float = 10.0
    fast_path: bool = True
    unrouted: Unrouted | None = None  # keep unrouted events there; None: they are returned
    queue_type: QueueType = "classic"


class RabbitSink:
    """See the module docstring."""

    def __init__(
        self,
        link: Link,
        channel: AbstractRobustChannel,
        topology: SinkTopology,
        exchanges: Mapping[Destination, bytes],
        options: RabbitSinkOptions,
    ) -> None:
        self._link = link
        self._channel = channel
        self._topology = topology  # strong refs: aio-pika re-declares only what is alive
        self._timeout = options.confirm_timeout_s
        self._exchanges = exchanges  # encoded once: every publish carries the name as is
        self._confirms: ConfirmChannel | None = None
        self._guard = TapGuard(link.transport, "sink")
        self._plain = PlainPublisher(
            {Destination.EVENTS: topology.events, Destination.PARKING: topology.parking},
            options.confirm_timeout_s,
            APP_ID,
        )
        self._restore = ChannelRestore(
            channel, lambda: link.watch.up, "publishing", timeout_s=options.confirm_timeout_s
        )
        self._rebind_lock = anyio.Lock()
        self._rebinding: asyncio.Task[None] | None = None
        self._watching: asyncio.Task[None] | None = None
        self.unrouted_depth: int | None = None  # last read by watch_unrouted; None: not known
        self._closed = False
        link.watch.on_change(self._link_changed)

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
        link = await open_connection(
            options.url, "sink", SinkUnavailableError, fast_path=options.fast_path
        )
        try:
            with translated(SinkUnavailableError, "declaring the sink exchanges"):
                channel = await link.connection.channel(publisher_confirms=True)
                topology = await declare_sink_topology(
                    link.connection,
                    channel,
                    options.events_exchange,
                    options.parking_exchange,
                    options.parking_queue,
                    options.unrouted,
                    options.queue_type,
                )
            sink = cls(link, channel, topology, exchanges, options)
            await sink._rebind()  # the tap's self-check on the first connection
        except BaseException:
            link.watch.stop()  # our own close: not a lost link to log
            with anyio.CancelScope(shield=True):
                await link.connection.close()
            raise
        if not sink.fast_path:
            log.info("publishing to %s through aio-pika (the plain AMQP path)", options.events_exchange)
        return sink

    @property
    def connected(self) -> bool:
        """True while the link is up and the publishing channel open (not while reconnecting)."""
        return not self._closed and self._link.watch.up and not self._channel.is_closed

    @property
    def keeps_unrouted(self) -> bool:
        """True when the events exchange routes what it can't route to our unrouted queue (as
        declared; a policy on an existing exchange is invisible to AMQP)."""
        return self._topology.unrouted_kept

    def watch_unrouted(self, interval_s: float) -> None:
        """Read the unrouted queue's depth into ``unrouted_depth`` now and every ``interval_s``.

        A (non-passive, idempotent) declare on the publishing channel: its Declare-Ok carries the
        message count, and a queue deleted by hand comes back instead of closing the channel.
        """
        queue = self._topology.unrouted_queue
        if queue is None or self._watching is not None:
            return
        self._watching = asyncio.get_running_loop().create_task(self._watch(queue, interval_s))

    async def _watch(self, queue: AbstractRobustQueue, interval_s: float) -> None:
        while not self._closed:
            if self.connected:
                try:
                    with translated(SinkUnavailableError, "reading the unrouted queue"):
                        with anyio.fail_after(self._timeout):
                            declared = await queue.declare()
                    self.unrouted_depth = declared.message_count
                except (BridgeError, TimeoutError) as exc:
                    log.debug("reading the unrouted queue's depth failed: %s", exc)
            await anyio.sleep(interval_s)

    @property
    def fast_path(self) -> bool:
        """True while publishes go through the frame tap (False once on the plain path)."""
        return not self._guard.plain

    async def publish(self, message: OutboundMessage) -> None:
        """Publish persistently with ``mandatory`` and wait for the confirm (see module doc)."""
        if self._closed:
            raise SinkUnavailableError("the sink is closed")
        confirms = self._confirms
        if confirms is None or not confirms.usable:
            confirms = await self._rebind()
            if confirms is None:
                await self._publish_plain(message)
                return
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

    async def _publish_plain(self, message: OutboundMessage) -> None:
        # A closed channel is restored (nudged) even while nothing else would: see
        # adapters.rabbitmq_channel_restore. While the link is down aio-pika reconnects it.
        if self._closed or not self._link.watch.up or not await self._restore.wait_ready():
            raise SinkUnavailableError("the publishing channel is down (reconnecting)")
        try:
            # Bounds aio-pika's wait for the channel too, not only the confirm.
            with anyio.fail_after(self._timeout):
                await self._plain.publish(message, _timestamp(message.headers.get(TIME_HEADER)))
        except TimeoutError:
            raise SinkUnavailableError(f"not confirmed within {self._timeout:g} s") from None

    async def _rebind(self) -> ConfirmChannel | None:
        """Publishing state for the current channel, checking the tap on a new channel; None
        on the plain path. Fails fast while aio-pika reconnects."""
        if self._guard.plain:
            return None
        async with self._rebind_lock:
            confirms = self._confirms
            if confirms is not None and confirms.usable:
                return confirms  # another publish rebound it while this one waited
            # Not before aio-pika re-declared the exchanges: a publish in between would find
            # a deleted exchange still missing, and the broker would close the new channel too.
            if not await self._restore.wait_ready():
                raise SinkUnavailableError("the publishing channel is down (reconnecting)")
            with (
                translated(SinkUnavailableError, "reopening the publishing channel"),
                anyio.fail_after(self._timeout),  # the channel, and the check's round trip
            ):
                channel = await self._channel.get_underlay_channel()
                try:
                    tap = await self._guard.tap_for(channel, _round_trip)
                except TapUnsure:
                    raise SinkUnavailableError(
                        "the publishing channel is not open yet (reconnecting)"
                    ) from None
            if self._confirms is not None:
                self._confirms.close("the publishing channel was replaced")
            self._confirms = None if tap is None else ConfirmChannel(tap, channel, self._timeout)
            return self._confirms

    def _link_changed(self, up: bool) -> None:
        # Check the tap on the new link right away, not at the first publish: an idle sink
        # says too (and only once) that it runs on the plain path.
        if up and not self._closed and not self._guard.plain:
            self._rebinding = asyncio.get_running_loop().create_task(self._rebind_quietly())

    async def _rebind_quietly(self) -> None:
        try:
            await self._rebind()
        except SinkUnavailableError:
            pass  # down again already: the next publish tries again
        except BridgeError as exc:
            log.warning("checking the new publishing channel failed: %s", exc)

    async def aclose(self) -> None:
        """Close the connection; publishes still waiting for a confirm fail as unavailable."""
        if self._closed:
            return
        self._closed = True
        self._link.watch.stop()
        self._restore.stop()
        for task in (self._rebinding, self._watching):
            if task is not None:
                task.cancel()
        if self._confirms is not None:
            self._confirms.close("the sink is closed")
        with anyio.CancelScope(shield=True):
            await self._link.connection.close()


async def _round_trip(channel: aiormq.abc.AbstractChannel) -> object:
    """The self-check's round trip: a Basic.Qos is harmless on a channel that only publishes."""
    return await channel.basic_qos(prefetch_count=0)


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
