"""The three ports of the core: Source, Delivery and Sink.

Adapters implement them; the relay engine uses them; nothing in ``consumer/`` knows which
transport sits behind them. They are ``Protocol``s so an adapter needs no base class.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Protocol


@dataclass(frozen=True, slots=True)
class DeliveryInfo:
    """What the source knows about one delivery; used for logs and parking headers."""

    source: str  # e.g. "rabbitmq:media.notifications" or "cmq:mps-events"
    delivery_id: str  # AMQP delivery tag, CMQ msgId, VOD EventHandle
    delivery_count: int  # 1 on first delivery; CMQ dequeueCount, AMQP x-delivery-count/redelivered
    received_at: datetime
    deadline: datetime | None = None  # CMQ nextVisibleTime / VOD 30 s window: ack after it is void


class Delivery(Protocol):
    """One message leased from a Source. Settle it once: later ack/nack calls are no-ops."""

    @property
    def body(self) -> bytes: ...

    @property
    def decoded(self) -> object:
        """The body as parsed JSON when the source had to parse it anyway, else None.

        A VOD PullEvents reply is parsed to split its EventSet, so each element's body would
        otherwise be parsed a second time by the relay (a tenth of its CPU per event). When not
        None, ``orjson.loads(body)`` must equal it; the relay treats it as read-only.
        """

    @property
    def info(self) -> DeliveryInfo: ...

    async def ack(self) -> None:
        """Remove the message from the source for good (AMQP ack, CMQ delete, VOD confirm).

        Raises:
            SourceUnavailableError: the ack did not reach the source; the message will come again.
        """

    async def nack(self) -> None:
        """Give the message back for redelivery (AMQP nack+requeue; CMQ/VOD: let the lease lapse).

        Raises:
            SourceUnavailableError: the nack did not reach the source (it comes back anyway).
        """


class Source(Protocol):
    """Where notifications come from."""

    @property
    def connected(self) -> bool:
        """True while deliveries can arrive (connected, consumer registered); readiness and the
        ``source_healthy`` gauge read it, so it must change as soon as the link does, without
        waiting for a delivery. Cheap: read at every scrape and several times a second.
        """

    async def receive(self) -> Delivery:
        """Wait for the next delivery.

        Must be safe to await from several tasks at once (the relay runs one receiver per
        in-flight slot): each delivery goes to exactly one caller, and a caller cancelled while
        waiting loses nothing.

        Raises:
            SourceUnavailableError: the source can't be read now; the caller backs off and retries.
            EndOfSource: a finite source is exhausted.
        """

    async def aclose(self) -> None:
        """Stop receiving and release connections. Unsettled deliveries are left to redeliver."""


class Destination(StrEnum):
    """Where an outbound message goes; the sink maps these to its exchanges."""

    EVENTS = "events"
    PARKING = "parking"


@dataclass(frozen=True, slots=True)
class OutboundMessage:
    """A transport-neutral message for the sink."""

    destination: Destination
    routing_key: str
    body: bytes
    message_id: str
    content_type: str
    type: str
    headers: Mapping[str, str | int] = field(default_factory=dict)


class Sink(Protocol):
    """Where events go: returns only after the broker confirmed."""

    @property
    def connected(self) -> bool:
        """True while publishes can be confirmed (link and channel up); like ``Source.connected``.
        """

    async def publish(self, message: OutboundMessage) -> None:
        """Publish and wait for the broker's confirm.

        Raises:
            SinkUnavailableError: not confirmed (broker down, blocked, nacked, or timed out).
            UnroutableError: the broker returned the message: nothing was bound to receive it.
        """

    async def aclose(self) -> None:
        """Close the connection; publishes in progress fail with SinkUnavailableError."""
