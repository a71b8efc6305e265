"""ConfirmChannel: a publish returns only on its broker ack; every other answer is an error."""

from __future__ import annotations

import asyncio
from typing import cast

import aiormq
import pytest
from pamqp import body, commands, frame, header
from pamqp.base import Frame

from adapters import amqp_wire as wire
from adapters.rabbitmq_confirms import ConfirmChannel
from adapters.rabbitmq_properties import encode_properties
from consumer.errors import SinkUnavailableError, UnroutableError
from tests.tap_support import tap_with_writer

CHANNEL = 3
EXCHANGE = "media.events"


class FakeChannel:
    """What ConfirmChannel reads from an aiormq channel."""

    def __init__(self) -> None:
        self.number = CHANNEL
        self.is_closed = False
        self.max_content_size = 64


class Harness:
    def __init__(self, timeout_s: float = 5.0) -> None:
        self.tap, self.writer = tap_with_writer(CHANNEL)
        self.channel = FakeChannel()
        self.confirms = ConfirmChannel(
            self.tap, cast(aiormq.abc.AbstractChannel, self.channel), timeout_s
        )

    async def publish(self, message_id: str, body: bytes = b"{}") -> asyncio.Task[None]:
        """Start a publish and let it write its frames."""
        task = asyncio.create_task(
            self.confirms.publish(
                wire.short_string(EXCHANGE), "vod.X.FINISH", props(message_id), body, message_id
            )
        )
        await asyncio.sleep(0)
        return task

    async def broker(self, *methods: Frame | bytes) -> None:
        """Feed the broker's frames on our channel, then let the waiters run."""
        self.tap.feed_data(
            b"".join(
                value if isinstance(value, bytes) else frame.marshal(value, CHANNEL)
                for value in methods
            )
        )
        await asyncio.sleep(0)


def props(message_id: str) -> bytes:
    return encode_properties(
        content_type="application/json",
        delivery_mode=2,
        message_id=message_id,
        message_type="t",
        app_id="bridge",
        headers={"ce-id": message_id},
    )


def ack(tag: int, multiple: bool = False) -> commands.Basic.Ack:
    return commands.Basic.Ack(delivery_tag=tag, multiple=multiple)


def returned(message_id: str) -> bytes:
    method = commands.Basic.Return(reply_code=312, reply_text="NO_ROUTE", exchange=EXCHANGE,
                                   routing_key="vod.X.FINISH")
    properties = commands.Basic.Properties(message_id=message_id)
    return (
        frame.marshal(method, CHANNEL)
        + frame.marshal(header.ContentHeader(0, 2, properties), CHANNEL)
        + frame.marshal(body.ContentBody(b"{}"), CHANNEL)
    )


async def test_publish_resolves_only_after_its_ack() -> None:
    h = Harness()
    task = await h.publish("m1")
    assert not task.done()
    await h.broker(ack(2))  # no such publish
    assert not task.done()
    await h.broker(ack(1))
    assert task.done()
    await task


async def test_published_frames_are_a_mandatory_publish_with_properties_and_body() -> None:
    h = Harness()
    data = b'{"id": "m1"}' * 10  # over max_content_size: two body frames
    task = await h.publish("m1", data)
    [written] = h.writer.writes
    decoded = []
    while written:
        consumed, channel, value = frame.unmarshal(written)
        assert channel == CHANNEL
        decoded.append(value)
        written = written[consumed:]
    method, head, *bodies = decoded
    assert isinstance(method, commands.Basic.Publish)
    assert (method.exchange, method.routing_key, method.mandatory) == (
        EXCHANGE, "vod.X.FINISH", True
    )
    assert isinstance(head, header.ContentHeader)
    assert head.body_size == len(data)
    assert head.properties.message_id == "m1"
    assert head.properties.headers == {"ce-id": "m1"}
    assert all(isinstance(b, body.ContentBody) and len(b.value) <= 64 for b in bodies)
    assert b"".join(b.value for b in bodies if isinstance(b, body.ContentBody)) == data
    await h.broker(ack(1))
    await task


async def test_multiple_ack_settles_every_publish_up_to_its_tag() -> None:
    h = Harness()
    tasks = [await h.publish(f"m{i}") for i in range(1, 5)]
    await h.broker(ack(3, multiple=True))
    assert [t.done() for t in tasks] == [True, True, True, False]
    await h.broker(ack(4))
    await asyncio.gather(*tasks)


async def test_out_of_order_single_acks_settle_the_right_publish() -> None:
    h = Harness()
    tasks = [await h.publish(f"m{i}") for i in range(1, 4)]
    await h.broker(ack(3))
    assert [t.done() for t in tasks] == [False, False, True]
    await h.broker(ack(1))
    assert [t.done() for t in tasks] == [True, False, True]
    await h.broker(ack(2))
    await asyncio.gather(*tasks)
    task = await h.publish("m4")
    await h.broker(ack(4))
    await task


async def test_nack_fails_the_publish_as_unavailable() -> None:
    h = Harness()
    one, two = await h.publish("m1"), await h.publish("m2")
    await h.broker(commands.Basic.Nack(delivery_tag=1, multiple=False, requeue=False), ack(2))
    with pytest.raises(SinkUnavailableError, match="nack"):
        await one
    await two


async def test_returned_publish_is_unroutable_and_its_neighbour_is_not() -> None:
    h = Harness()
    one, two = await h.publish("m1"), await h.publish("m2")
    await h.broker(returned("m2"), ack(2, multiple=True))
    await one
    with pytest.raises(UnroutableError, match="312 NO_ROUTE"):
        await two


@pytest.mark.parametrize("how", ["channel_close", "eof", "close"])
async def test_closing_fails_every_pending_publish_as_unavailable(how: str) -> None:
    h = Harness()
    tasks = [await h.publish(f"m{i}") for i in range(1, 4)]
    if how == "channel_close":
        await h.broker(commands.Channel.Close(reply_code=404, reply_text="NOT_FOUND",
                                              class_id=60, method_id=40))
    elif how == "eof":
        h.tap.feed_eof()
    else:
        h.confirms.close("the publishing channel was replaced")
    results = await asyncio.gather(*tasks, return_exceptions=True)
    assert all(isinstance(r, SinkUnavailableError) for r in results)
    assert not h.confirms.usable
    with pytest.raises(SinkUnavailableError):
        await h.confirms.publish(wire.short_string(EXCHANGE), "k", props("m9"), b"", "m9")


async def test_confirm_timeout_is_unavailable_and_a_late_ack_is_harmless() -> None:
    h = Harness(timeout_s=0.05)
    with pytest.raises(SinkUnavailableError, match="not confirmed within"):
        await h.confirms.publish(wire.short_string(EXCHANGE), "k", props("m1"), b"", "m1")
    await h.broker(ack(1))
    await h.broker(ack(1, multiple=True))
    task = await h.publish("m2")
    await h.broker(ack(2))
    await task


async def test_sequence_numbers_continue_after_a_timeout() -> None:
    h = Harness(timeout_s=0.1)
    first = await h.publish("m1")
    await asyncio.sleep(0.04)
    second = await h.publish("m2")
    with pytest.raises(SinkUnavailableError):
        await first
    assert not second.done()  # its own deadline is later
    with pytest.raises(SinkUnavailableError):
        await second
    third = await h.publish("m3")
    await h.broker(ack(2))  # late: for the second, not the third
    assert not third.done()
    await h.broker(ack(3))
    await third


async def test_publish_while_blocked_fails_fast_without_writing() -> None:
    h = Harness()
    h.tap.feed_data(frame.marshal(commands.Connection.Blocked(reason="low on memory"), 0))
    with pytest.raises(SinkUnavailableError, match="blocked"):
        await h.confirms.publish(wire.short_string(EXCHANGE), "k", props("m1"), b"", "m1")
    assert h.writer.writes == []
    h.tap.feed_data(frame.marshal(commands.Connection.Unblocked(), 0))
    task = await h.publish("m1")
    await h.broker(ack(1))  # the blocked attempt took no sequence number
    await task


async def test_routing_key_over_255_bytes_is_unroutable_without_writing() -> None:
    h = Harness()
    with pytest.raises(UnroutableError, match="255"):
        await h.confirms.publish(wire.short_string(EXCHANGE), "k" * 256, props("m1"), b"", "m1")
    assert h.writer.writes == []


async def test_cancelled_publish_does_not_break_later_ones() -> None:
    h = Harness()
    cancelled = await h.publish("m1")
    cancelled.cancel()
    with pytest.raises(asyncio.CancelledError):
        await cancelled
    task = await h.publish("m2")
    await h.broker(ack(2))
    await task
    await h.broker(ack(1))  # the cancelled one's answer arrives late
    after = await h.publish("m3")
    await h.broker(ack(3))
    await after


async def test_return_of_a_publish_without_message_id_still_makes_it_unroutable() -> None:
    """An empty message id is sent as absent; its return must still match the publish."""
    h = Harness()
    task = await h.publish("")
    await h.broker(returned(""), ack(1))
    with pytest.raises(UnroutableError):
        await task
