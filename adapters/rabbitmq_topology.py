"""The exchanges and queues the bridge needs, declared at start (idempotent, names configurable).

Declared through aio-pika's robust channel objects so they are re-declared after a reconnect
(a broker restart with transient state, or a queue deleted by hand, heals by itself).

    media.events    topic exchange, durable: normalized events, key <vendor>.<event_type>.<status>;
                    with ``unroutable = keep`` declared with alternate-exchange = media.unrouted
    media.unrouted  fanout exchange, durable: what media.events routes nowhere (keep only)
    media.unrouted  durable queue bound to it: unrouted events wait there for a replay (keep only)
    media.parking   topic exchange, durable: bodies that could not be relayed, with a reason header
    media.parking   durable queue bound to the parking exchange with "#": nothing parked is lost
    media.notifications   durable queue: the RabbitMQ stand-in for the Tencent CMQ queue

The queues are classic or quorum queues as ``sink.queue_type`` (parking, unrouted) and
``source.queue_type`` say; how, and what an existing queue of another type gets, is
``adapters.rabbitmq_queue_types``.

An events exchange that already exists with other arguments (typically one declared before
the alternate exchange, without it) can't be re-declared: RabbitMQ answers PRECONDITION_FAILED
and closes the channel. The bridge then takes the exchange as it is (declared without
arguments, as before the alternate exchange existed, or passively if it has other arguments),
declares no unrouted exchange or queue (nothing would route to them), and logs one WARNING
saying what to do; it does not refuse to start, because the old behaviour (an unrouted event's
body is parked) loses nothing, and an upgrade should not stop the relay. The declaration is
tried on a throwaway channel first, so the failure never touches the publishing channel.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import aiormq.exceptions
from aio_pika import ExchangeType
from aio_pika.abc import (
    AbstractRobustChannel,
    AbstractRobustConnection,
    AbstractRobustExchange,
    AbstractRobustQueue,
)

from adapters.rabbitmq_queue_types import QueueType, declare_queue

log = logging.getLogger(__name__)

PARKING_BINDING_KEY = "#"
SINK_QUEUE_TYPE = "sink.queue_type"  # the setting each queue's type comes from, for errors
SOURCE_QUEUE_TYPE = "source.queue_type"
ALTERNATE_EXCHANGE = "alternate-exchange"


@dataclass(frozen=True, slots=True)
class SinkTopology:
    """The declared exchanges the sink publishes to (held strongly: aio-pika restores weakrefs)."""

    events: AbstractRobustExchange
    parking: AbstractRobustExchange
    parking_queue: AbstractRobustQueue
    unrouted_queue: AbstractRobustQueue | None = None  # keep: where the AE puts unrouted events
    unrouted_kept: bool = False  # the events exchange was declared with our alternate exchange


@dataclass(frozen=True, slots=True)
class Unrouted:
    """``unroutable = keep``: the alternate exchange and its queue."""

    exchange: str
    queue: str


async def declare_sink_topology(
    connection: AbstractRobustConnection,
    channel: AbstractRobustChannel,
    events_exchange: str,
    parking_exchange: str,
    parking_queue: str,
    unrouted: Unrouted | None = None,
    queue_type: QueueType = "classic",
) -> SinkTopology:
    """Declare (or confirm) the events, parking (and unrouted) exchanges and their queues, the
    queues as ``queue_type`` (``sink.queue_type``)."""
    kept_queue = None
    arguments: dict[str, Any] | None = (
        None if unrouted is None else {ALTERNATE_EXCHANGE: unrouted.exchange}
    )
    if await _accepts(connection, events_exchange, arguments):
        if unrouted is not None:
            # Until this is declared the alternate exchange names nothing, and the broker
            # returns what it can't route, as without one: nothing is published yet anyway.
            alternate = await channel.declare_exchange(
                unrouted.exchange, ExchangeType.FANOUT, durable=True
            )
            kept_queue = await declare_queue(
                connection, channel, unrouted.queue, queue_type, SINK_QUEUE_TYPE
            )
            await kept_queue.bind(alternate)
        events = await channel.declare_exchange(
            events_exchange, ExchangeType.TOPIC, durable=True, arguments=arguments
        )
    elif arguments is not None and await _accepts(connection, events_exchange, None):
        # Declared as before the alternate exchange (no arguments): still re-created after a
        # reconnect if someone deleted it, which a passive declaration would not be.
        _warn_existing(events_exchange, unrouted)
        events = await channel.declare_exchange(events_exchange, ExchangeType.TOPIC, durable=True)
    else:
        _warn_existing(events_exchange, unrouted)
        events = await channel.declare_exchange(events_exchange, passive=True)
    parking = await channel.declare_exchange(parking_exchange, ExchangeType.TOPIC, durable=True)
    queue = await declare_queue(connection, channel, parking_queue, queue_type, SINK_QUEUE_TYPE)
    await queue.bind(parking, PARKING_BINDING_KEY)
    return SinkTopology(
        events=events,
        parking=parking,
        parking_queue=queue,
        unrouted_queue=kept_queue,
        unrouted_kept=kept_queue is not None,
    )


async def _accepts(
    connection: AbstractRobustConnection, name: str, arguments: dict[str, Any] | None
) -> bool:
    """Whether ``name`` can be declared with ``arguments``: False if it exists with others.

    On a throwaway aiormq channel: a PRECONDITION_FAILED closes the channel it came on, and a
    robust channel would reopen itself (and the sink's is the publishing one).
    """
    underlay = connection.transport
    if underlay is None:  # not connected: let the real declaration say why
        return True
    channel = await underlay.connection.channel()
    try:
        await channel.exchange_declare(
            name, exchange_type=ExchangeType.TOPIC.value, durable=True, arguments=arguments
        )
    except aiormq.exceptions.ChannelPreconditionFailed:
        return False  # the broker closed the throwaway channel
    await channel.close()
    return True


def _warn_existing(name: str, unrouted: Unrouted | None) -> None:
    if unrouted is None:
        log.warning(
            "events exchange %s exists with other arguments (an alternate exchange?); using it "
            "as it is: with sink.unroutable = park, events it routes nowhere may still go to "
            "its alternate exchange instead of being parked",
            name,
        )
        return
    log.warning(
        "events exchange %s exists without alternate-exchange = %s; unrouted events are "
        "parked (reason unroutable) instead of kept. To keep them, delete the exchange and "
        "restart the bridge, which re-creates it with the alternate exchange (subscribers "
        "must bind again), or declare %s (fanout) bound to the durable queue %s and apply a "
        "policy, which RabbitMQ applies to the existing exchange: rabbitmqctl set_policy "
        "--apply-to exchanges <name> '^%s$' '{\"alternate-exchange\":\"%s\"}'",
        name, unrouted.exchange, unrouted.exchange, unrouted.queue,
        name.replace(".", "\\."), unrouted.exchange,
    )


async def declare_source_queue(
    connection: AbstractRobustConnection,
    channel: AbstractRobustChannel,
    name: str,
    queue_type: QueueType = "classic",
) -> AbstractRobustQueue:
    """Declare (or confirm) the durable stand-in source queue as ``queue_type``."""
    return await declare_queue(connection, channel, name, queue_type, SOURCE_QUEUE_TYPE)
