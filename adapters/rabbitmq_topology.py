"""The exchanges and queues the bridge needs, declared at start (idempotent, names configurable).

Declared through aio-pika's robust channel objects so they are re-declared after a reconnect
(a broker restart with transient state, or a queue deleted by hand, heals by itself).

    media.events    topic exchange, durable: normalized events, key <vendor>.<event_type>.<status>
    media.parking   topic exchange, durable: bodies that could not be relayed, with a reason header
    media.parking   durable queue bound to the parking exchange with "#": nothing parked is lost
    media.notifications   durable queue: the RabbitMQ stand-in for the Tencent CMQ queue
"""

from __future__ import annotations

from dataclasses import dataclass

from aio_pika import ExchangeType
from aio_pika.abc import AbstractRobustChannel, AbstractRobustExchange, AbstractRobustQueue

PARKING_BINDING_KEY = "#"


@dataclass(frozen=True, slots=True)
class SinkTopology:
    """The declared exchanges the sink publishes to (held strongly: aio-pika restores weakrefs)."""

    events: AbstractRobustExchange
    parking: AbstractRobustExchange
    parking_queue: AbstractRobustQueue


async def declare_sink_topology(
    channel: AbstractRobustChannel, events_exchange: str, parking_exchange: str, parking_queue: str
) -> SinkTopology:
    """Declare (or confirm) the events and parking exchanges and the bound parking queue."""
    events = await channel.declare_exchange(events_exchange, ExchangeType.TOPIC, durable=True)
    parking = await channel.declare_exchange(parking_exchange, ExchangeType.TOPIC, durable=True)
    queue = await channel.declare_queue(parking_queue, durable=True)
    await queue.bind(parking, PARKING_BINDING_KEY)
    return SinkTopology(events=events, parking=parking, parking_queue=queue)


async def declare_source_queue(channel: AbstractRobustChannel, name: str) -> AbstractRobustQueue:
    """Declare (or confirm) the durable stand-in source queue."""
    return await channel.declare_queue(name, durable=True)
