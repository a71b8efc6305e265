"""The behaviour every :class:`~consumer.ports.Sink` must show, as a reusable test class.

``SinkContract`` is not collected by itself. An adapter's test module subclasses it and writes
one method::

    class TestRabbitSink(SinkContract):
        @asynccontextmanager
        async def make_sink(self) -> AsyncIterator[SinkUnderTest]:
            # fresh exchanges; bind one queue to the events exchange with the binding key
            # ROUTED_BINDING ("contract.routed.#") and nothing else; the parking queue gets
            # everything sent to the parking destination
            sink = await RabbitSink.connect(options)
            yield SinkUnderTest(sink, delivered=read_queue)  # read_queue(destination, count)
            # close the sink (the test may already have) and delete what was declared

``delivered(destination, count)`` waits (up to a few seconds) until ``count`` messages reached
the queue bound to ``destination`` and returns them as :class:`OutboundMessage` (destination,
routing key, body, message id, content type, type and headers as received), oldest first.

A sink that keeps what no queue is bound for (RabbitMQ: an alternate exchange on the events
exchange) passes ``unrouted(count)``, reading its unrouted destination the same way; such a sink
confirms an unrouted message instead of raising ``UnroutableError``.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass

import pytest

from consumer.errors import UnroutableError
from consumer.ports import Destination, OutboundMessage, Sink

ROUTED_BINDING = "contract.routed.#"
ROUTED_KEY = "contract.routed.event"
UNROUTED_KEY = "contract.unbound.event"


@dataclass(frozen=True)
class SinkUnderTest:
    sink: Sink
    delivered: Callable[[Destination, int], Awaitable[list[OutboundMessage]]]
    unrouted: Callable[[int], Awaitable[list[OutboundMessage]]] | None = None  # keeps them


def event(routing_key: str = ROUTED_KEY, n: int = 0) -> OutboundMessage:
    """An events-destination message with a unique id and both kinds of header value."""
    message_id = str(uuid.uuid4())
    return OutboundMessage(
        destination=Destination.EVENTS,
        routing_key=routing_key,
        body=f'{{"id": "{message_id}", "n": {n}}}'.encode(),
        message_id=message_id,
        content_type="application/cloudevents+json",
        type="com.example.contract.v1",
        headers={"ce-id": message_id, "ce-specversion": "1.0", "x-n": n},
    )


def parked(reason: str = "not_json") -> OutboundMessage:
    """A parking-destination message carrying an arbitrary (non-JSON) body."""
    return OutboundMessage(
        destination=Destination.PARKING,
        routing_key=reason,
        body=b"\x00not json\xff" + uuid.uuid4().bytes,
        message_id=str(uuid.uuid4()),
        content_type="application/octet-stream",
        type="media-bridge.parked",
        headers={"x-park-reason": reason, "x-delivery-count": 3},
    )


class SinkContract:
    """Tests for a Sink adapter; subclasses provide :meth:`make_sink`."""

    def make_sink(self) -> AbstractAsyncContextManager[SinkUnderTest]:
        raise NotImplementedError("a SinkContract subclass must implement make_sink")

    async def test_published_message_is_delivered_as_sent(self) -> None:
        """After publish returns (confirmed), the message is in the bound queue, intact."""
        message = event()
        async with self.make_sink() as under_test:
            await under_test.sink.publish(message)
            [got] = await under_test.delivered(Destination.EVENTS, 1)
        assert got.routing_key == message.routing_key
        assert got.body == message.body
        assert got.message_id == message.message_id
        assert got.content_type == message.content_type
        assert got.type == message.type
        assert dict(message.headers).items() <= dict(got.headers).items()

    async def test_messages_arrive_in_publish_order(self) -> None:
        """Messages published one after another arrive in that order."""
        messages = [event(n=n) for n in range(3)]
        async with self.make_sink() as under_test:
            for message in messages:
                await under_test.sink.publish(message)
            got = await under_test.delivered(Destination.EVENTS, 3)
        assert [m.message_id for m in got] == [m.message_id for m in messages]

    async def test_unroutable_message_is_reported_or_kept_never_lost(self) -> None:
        """A message no queue is bound for is never lost silently: a sink without an unrouted
        destination reports it as UnroutableError (the relay parks the body); a sink with one
        confirms it and keeps it there as sent, and a routed message does not go there too."""
        routed, unrouted = event(n=1), event(UNROUTED_KEY, n=2)
        async with self.make_sink() as under_test:
            if under_test.unrouted is None:
                with pytest.raises(UnroutableError):
                    await under_test.sink.publish(unrouted)
                return
            await under_test.sink.publish(routed)
            await under_test.sink.publish(unrouted)
            [got] = await under_test.unrouted(1)
            [delivered] = await under_test.delivered(Destination.EVENTS, 1)
        assert delivered.message_id == routed.message_id
        assert got.message_id == unrouted.message_id
        assert got.routing_key == unrouted.routing_key
        assert got.body == unrouted.body
        assert got.content_type == unrouted.content_type
        assert dict(unrouted.headers).items() <= dict(got.headers).items()

    async def test_parking_destination_takes_any_body(self) -> None:
        """A parked message reaches the parking queue with its raw body and headers."""
        message = parked()
        async with self.make_sink() as under_test:
            await under_test.sink.publish(message)
            [got] = await under_test.delivered(Destination.PARKING, 1)
        assert got.body == message.body
        assert got.routing_key == message.routing_key
        assert dict(message.headers).items() <= dict(got.headers).items()

    async def test_aclose_is_idempotent(self) -> None:
        """Closing a sink twice raises nothing."""
        async with self.make_sink() as under_test:
            await under_test.sink.aclose()
            await under_test.sink.aclose()
