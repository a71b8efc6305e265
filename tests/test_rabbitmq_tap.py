"""FrameTap keeps the hot frames of attached channels and hands aiormq everything else intact."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import cast

import pytest
from pamqp import body, commands, frame, header, heartbeat
from pamqp.base import Frame

from adapters import amqp_wire as wire
from adapters.rabbitmq_tap import HEARTBEAT_PASS_INTERVAL_S, ChannelListener, FrameTap
from tests.tap_support import RecordingWriter, new_tap

CTAG = "ctag-ours"


@dataclass
class Recorder(ChannelListener):
    """Records everything the tap tells a listener."""

    consumer_tags: frozenset[str] | set[str] = frozenset({CTAG})
    deliveries: list[tuple[int, bool, bytes, bytes]] = field(default_factory=list)
    confirms: list[tuple[int, bool, bool]] = field(default_factory=list)
    returns: list[tuple[int, str, bytes, bytes]] = field(default_factory=list)
    closed: list[str] = field(default_factory=list)

    def on_deliver(self, delivery_tag: int, redelivered: bool, header: bytes, body: bytes) -> None:
        self.deliveries.append((delivery_tag, redelivered, header, body))

    def on_confirm(self, delivery_tag: int, multiple: bool, *, ack: bool) -> None:
        self.confirms.append((delivery_tag, multiple, ack))

    def on_return(self, reply_code: int, reply_text: str, header: bytes, body: bytes) -> None:
        self.returns.append((reply_code, reply_text, header, body))

    def on_closed(self, reason: str) -> None:
        self.closed.append(reason)


def attached(channel: int = 1) -> tuple[FrameTap, Recorder]:
    tap, listener = new_tap(), Recorder()
    tap.attach(channel, listener)
    return tap, listener


async def passed_through(tap: FrameTap) -> bytes:
    """Everything aiormq would read from the tap (ends the stream)."""
    tap.feed_eof()
    return await tap.read()


def m(method: Frame, channel: int = 1) -> bytes:
    return frame.marshal(method, channel)


def content(data: bytes, channel: int = 1, message_id: str = "m1", max_body: int = 0) -> bytes:
    """Content header + body frame(s) (split at ``max_body`` if given)."""
    props = commands.Basic.Properties(message_id=message_id, content_type="application/json")
    parts = [frame.marshal(header.ContentHeader(0, len(data), props), channel)]
    step = max_body or max(len(data), 1)
    parts += [
        frame.marshal(body.ContentBody(data[i:i + step]), channel)
        for i in range(0, len(data), step)
    ]
    return b"".join(parts)


def deliver(tag: int, data: bytes, *, ctag: str = CTAG, redelivered: bool = False,
            channel: int = 1, max_body: int = 0) -> bytes:
    method = commands.Basic.Deliver(
        consumer_tag=ctag, delivery_tag=tag, redelivered=redelivered, exchange="e",
        routing_key="k",
    )
    return m(method, channel) + content(data, channel, max_body=max_body)


def header_payload(data: bytes, channel: int = 1) -> bytes:
    head = content(data, channel)
    return head[wire.FRAME_HEADER_SIZE:wire.FRAME_HEADER_SIZE + wire.frame_header(head, 0)[2]]


OPEN_OK = m(commands.Channel.OpenOk(), 1)
QOS_OK_2 = m(commands.Basic.QosOk(), 2)
BODY = b'{"EventType": "NewFileUpload", "Data": "\xe4\xb8\xad"}'


async def test_without_listener_bytes_pass_unchanged_and_channel_opens_are_tracked() -> None:
    tap = new_tap()
    stream = OPEN_OK + deliver(1, BODY) + m(commands.Channel.OpenOk(), 2) + QOS_OK_2
    for i in range(0, len(stream), 5):
        tap.feed_data(stream[i:i + 5])
    assert tap.open_channels == {1, 2}
    assert tap.is_open(1)
    assert await tap.readexactly(len(stream)) == stream
    tap.feed_data(m(commands.Channel.CloseOk(), 1))
    assert not tap.is_open(1)
    assert tap.is_open(2)


async def test_channel_open_and_close_are_tracked_with_a_listener_attached() -> None:
    tap, listener = attached(1)
    tap.feed_data(OPEN_OK + m(commands.Channel.OpenOk(), 2))
    assert tap.open_channels == {1, 2}
    tap.feed_data(m(commands.Channel.CloseOk(), 2))
    assert tap.open_channels == {1}
    assert listener.closed == []
    tap.feed_data(m(commands.Channel.CloseOk(), 1))
    assert not tap.is_open(1)
    assert listener.closed == ["channel 1 was closed"]


async def test_delivery_for_our_consumer_tag_reaches_the_listener_not_aiormq() -> None:
    tap, listener = attached()
    tap.feed_data(deliver(7, BODY, redelivered=True) + deliver(8, b""))
    assert listener.deliveries == [
        (7, True, header_payload(BODY), BODY),
        (8, False, header_payload(b""), b""),
    ]
    assert wire.properties(listener.deliveries[0][2]).message_id == "m1"
    assert await passed_through(tap) == b""


async def test_delivery_split_at_every_byte_boundary_arrives_whole() -> None:
    """Other channels' frames around it still reach aiormq whole and in order."""
    group = QOS_OK_2 + deliver(3, BODY) + OPEN_OK
    for cut in range(1, len(group)):
        tap, listener = attached()
        tap.feed_data(group[:cut])
        tap.feed_data(group[cut:])
        assert listener.deliveries == [(3, False, header_payload(BODY), BODY)], cut
        assert await passed_through(tap) == QOS_OK_2 + OPEN_OK, cut


async def test_delivery_fed_byte_by_byte_arrives_whole() -> None:
    group = deliver(1, BODY, max_body=7) + QOS_OK_2 + deliver(2, BODY)
    tap, listener = attached()
    for i in range(len(group)):
        tap.feed_data(group[i:i + 1])
    assert [d[0] for d in listener.deliveries] == [1, 2]
    assert {d[3] for d in listener.deliveries} == {BODY}
    assert await passed_through(tap) == QOS_OK_2


async def test_body_split_over_several_body_frames_is_joined() -> None:
    tap, listener = attached()
    data = bytes(range(256)) * 3
    tap.feed_data(deliver(4, data, max_body=100))
    assert listener.deliveries == [(4, False, header_payload(data), data)]


async def test_delivery_for_another_consumer_tag_passes_through_intact() -> None:
    tap, listener = attached()
    stream = deliver(1, BODY, ctag="theirs", max_body=10) + QOS_OK_2 + deliver(2, BODY)
    tap.feed_data(stream)
    assert [d[0] for d in listener.deliveries] == [2]
    assert await passed_through(tap) == deliver(1, BODY, ctag="theirs", max_body=10) + QOS_OK_2


async def test_frames_of_unattached_channels_pass_in_order() -> None:
    tap, listener = attached(1)
    theirs = deliver(1, BODY, ctag=CTAG, channel=2) + m(commands.Basic.Ack(delivery_tag=1), 2)
    tap.feed_data(QOS_OK_2 + m(commands.Basic.Ack(delivery_tag=9), 1) + theirs)
    assert listener.confirms == [(9, False, True)]
    assert listener.deliveries == []
    assert await passed_through(tap) == QOS_OK_2 + theirs


async def test_confirms_go_to_on_confirm_with_tag_multiple_and_ack_flag() -> None:
    tap, listener = attached()
    tap.feed_data(
        m(commands.Basic.Ack(delivery_tag=3, multiple=True))
        + m(commands.Basic.Nack(delivery_tag=4, multiple=False, requeue=True))
        + m(commands.Basic.Ack(delivery_tag=5))
    )
    assert listener.confirms == [(3, True, True), (4, False, False), (5, False, True)]
    assert await passed_through(tap) == b""


async def test_return_with_content_goes_to_on_return() -> None:
    returned = commands.Basic.Return(reply_code=312, reply_text="NO_ROUTE", exchange="e",
                                     routing_key="k")
    stream = m(returned) + content(BODY, max_body=9) + m(commands.Basic.Ack(delivery_tag=1))
    for cut in (5, 30, len(stream) - 3):
        tap, listener = attached()
        tap.feed_data(stream[:cut])
        tap.feed_data(stream[cut:])
        assert listener.returns == [(312, "NO_ROUTE", header_payload(BODY), BODY)]
        assert listener.confirms == [(1, False, True)]
        assert await passed_through(tap) == b""


async def test_broker_channel_close_tells_the_listener_and_still_reaches_aiormq() -> None:
    tap, listener = attached()
    tap.feed_data(OPEN_OK)
    close = m(commands.Channel.Close(reply_code=404, reply_text="NOT_FOUND - no exchange 'x'",
                                     class_id=60, method_id=40))
    tap.feed_data(close)
    assert len(listener.closed) == 1
    assert "404" in listener.closed[0]
    assert "NOT_FOUND" in listener.closed[0]
    assert not tap.is_open(1)
    assert await tap.readexactly(len(OPEN_OK + close)) == OPEN_OK + close


async def test_frames_after_channel_close_are_not_for_the_old_listener() -> None:
    tap, listener = attached()
    tap.feed_data(m(commands.Channel.CloseOk()) + m(commands.Basic.Ack(delivery_tag=1)))
    assert listener.confirms == []


@pytest.mark.parametrize("with_listener", [True, False])
async def test_connection_blocked_and_unblocked_set_and_clear_blocked(with_listener: bool) -> None:
    tap = attached(1)[0] if with_listener else new_tap()
    blocked = m(commands.Connection.Blocked(reason="low on memory"), 0)
    tap.feed_data(blocked)
    assert tap.blocked is not None
    tap.feed_data(m(commands.Connection.Unblocked(), 0))
    assert tap.blocked is None
    assert await passed_through(tap) == blocked + m(commands.Connection.Unblocked(), 0)


@pytest.mark.parametrize("how", ["eof", "exception", "connection_close"])
async def test_lost_link_closes_every_listener_and_stops_writes(how: str) -> None:
    tap, one = attached(1)
    two = Recorder()
    tap.attach(2, two)
    tap.writer = cast(asyncio.StreamWriter, RecordingWriter())
    tap.feed_data(OPEN_OK + m(commands.Channel.OpenOk(), 2))
    assert tap.write(b"x")
    if how == "eof":
        tap.feed_eof()
    elif how == "exception":
        tap.set_exception(ConnectionResetError())
    else:
        tap.feed_data(m(commands.Connection.Close(reply_code=320, reply_text="FORCED",
                                                  class_id=0, method_id=0), 0))
    assert tap.lost
    assert len(one.closed) == len(two.closed) == 1
    assert not tap.is_open(1)
    assert not tap.write(b"x")
    tap.feed_eof()
    assert len(one.closed) == 1  # told once


async def test_heartbeat_reaches_aiormq_when_only_kept_frames_arrive() -> None:
    tap, listener = attached()
    ack = m(commands.Basic.Ack(delivery_tag=1))
    tap.feed_data(ack)  # just started: nothing due yet
    tap._last_passed -= HEARTBEAT_PASS_INTERVAL_S
    tap.feed_data(deliver(1, BODY))
    tap.feed_data(ack)  # one heartbeat per interval, not one per chunk
    assert len(listener.deliveries) == 1
    assert await passed_through(tap) == wire.HEARTBEAT_FRAME


async def test_no_heartbeat_is_added_while_frames_pass_to_aiormq() -> None:
    tap, _ = attached()
    tap._last_passed -= HEARTBEAT_PASS_INTERVAL_S
    tap.feed_data(QOS_OK_2 + deliver(1, BODY))
    tap._last_passed -= HEARTBEAT_PASS_INTERVAL_S / 2
    tap.feed_data(deliver(2, BODY))
    assert await passed_through(tap) == QOS_OK_2


async def test_frame_without_end_octet_loses_the_link_and_fails_the_reader() -> None:
    tap, listener = attached()
    bad = bytearray(m(commands.Basic.QosOk(), 2))
    bad[-1] = 0x00
    tap.feed_data(bytes(bad) + OPEN_OK)
    assert tap.lost
    assert len(listener.closed) == 1
    with pytest.raises(ConnectionError):
        await tap.readexactly(1)


async def test_write_sends_through_the_writer_unless_lost_or_closing() -> None:
    tap = new_tap()
    assert not tap.write(b"early")  # no writer yet
    writer = RecordingWriter()
    tap.writer = cast(asyncio.StreamWriter, writer)
    assert tap.write(b"one")
    writer.transport.closing = True
    assert not tap.write(b"two")
    writer.transport.closing = False
    tap.feed_eof()
    assert not tap.write(b"three")
    assert writer.writes == [b"one"]


async def test_detach_only_removes_the_same_listener() -> None:
    tap, old = attached()
    new = Recorder()
    tap.attach(1, new)
    tap.detach(1, old)
    tap.feed_data(m(commands.Basic.Ack(delivery_tag=1)))
    tap.detach(1, new)
    tap.feed_data(m(commands.Basic.Ack(delivery_tag=2)))
    assert (old.confirms, new.confirms) == ([], [(1, False, True)])
    assert await passed_through(tap) == m(commands.Basic.Ack(delivery_tag=2))


async def test_attaching_between_two_halves_of_a_frame_hands_aiormq_the_frame_once() -> None:
    """A partial frame is held back whether or not a listener is attached."""
    tap = new_tap()
    qos_ok = m(commands.Basic.QosOk())
    tap.feed_data(qos_ok[:5])
    tap.attach(1, Recorder())
    tap.feed_data(qos_ok[5:])
    assert await passed_through(tap) == qos_ok


async def test_detaching_between_two_halves_of_a_frame_loses_no_byte() -> None:
    tap, listener = attached()
    qos_ok = m(commands.Basic.QosOk())
    tap.feed_data(qos_ok[:5])
    tap.detach(1, listener)
    tap.feed_data(qos_ok[5:])
    assert await passed_through(tap) == qos_ok


async def test_frame_split_right_after_the_broker_closed_the_last_attached_channel() -> None:
    """The broker's Channel.Close detaches the only listener; the next frame arrives in two
    reads: aiormq gets both frames whole."""
    tap, listener = attached()
    close = m(commands.Channel.Close(reply_code=404, reply_text="NOT_FOUND", class_id=0, method_id=0))
    data = close + frame.marshal(heartbeat.Heartbeat(), 0)
    tap.feed_data(data[: len(close) + 3])
    tap.feed_data(data[len(close) + 3 :])
    assert await passed_through(tap) == data
    assert listener.closed


async def test_protocol_header_from_a_broker_refusing_our_version_reaches_aiormq() -> None:
    """Not a frame: aiormq must see it as sent to report the version mismatch."""
    tap = new_tap()
    refusal = b"AMQP\x00\x00\x09\x01"
    tap.feed_data(refusal)
    assert await passed_through(tap) == refusal


async def test_watch_for_resolves_when_that_method_passes_on_that_channel_only() -> None:
    """The self-check's proof: a QosOk on channel 2 resolves the watch for channel 2, not 1,
    and still reaches aiormq."""
    tap, _ = attached(1)
    on_two, on_one = tap.watch_for(2, wire.BASIC_QOS_OK), tap.watch_for(1, wire.BASIC_QOS_OK)
    tap.feed_data(OPEN_OK)
    before = on_two.done()
    tap.feed_data(QOS_OK_2)
    assert (before, on_two.done(), on_one.done()) == (False, True, False)
    assert await passed_through(tap) == OPEN_OK + QOS_OK_2


async def test_a_lost_link_keeps_the_brokers_reason() -> None:
    tap, _ = attached(1)
    tap.feed_data(m(commands.Connection.Close(530, "NOT_ALLOWED - no", 0, 0), 0))
    assert tap.lost
    assert tap.lost_reason == "the broker closed the connection: 530 NOT_ALLOWED - no"
