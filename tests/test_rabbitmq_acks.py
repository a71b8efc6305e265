"""AckBatcher: as few ack frames as is safe, never a multiple ack over an unsettled tag."""

from __future__ import annotations

import asyncio

from pamqp import commands, frame

from adapters.rabbitmq_acks import AckBatcher
from adapters.rabbitmq_tap import FrameTap
from tests.tap_support import RecordingWriter, tap_with_writer

CHANNEL = 2

# ("ack" | "nack", delivery tag, multiple, requeue) of a written frame
Sent = tuple[str, int, bool, bool]


def sent(writer: RecordingWriter) -> list[Sent]:
    """Every frame written so far, decoded by pamqp (and forgotten)."""
    frames: list[Sent] = []
    for data in writer.writes:
        while data:
            consumed, channel, value = frame.unmarshal(data)
            assert channel == CHANNEL
            if isinstance(value, commands.Basic.Ack):
                frames.append(("ack", value.delivery_tag, value.multiple, False))
            else:
                assert isinstance(value, commands.Basic.Nack)
                frames.append(("nack", value.delivery_tag, value.multiple, value.requeue))
            data = data[consumed:]
    writer.writes.clear()
    return frames


def open_channel(tap: FrameTap) -> None:
    tap.feed_data(frame.marshal(commands.Channel.OpenOk(), CHANNEL))


def setup(delivered: int = 0) -> tuple[AckBatcher, FrameTap, RecordingWriter]:
    tap, writer = tap_with_writer(CHANNEL)
    batcher = AckBatcher(tap, CHANNEL)
    for tag in range(1, delivered + 1):
        batcher.delivered(tag)
    return batcher, tap, writer


def ack(tag: int, multiple: bool = False) -> Sent:
    return ("ack", tag, multiple, False)


def nack(tag: int) -> Sent:
    return ("nack", tag, False, True)


async def test_consecutive_acks_coalesce_into_one_multiple_ack() -> None:
    batcher, _, writer = setup(delivered=5)
    for tag in (2, 1, 3, 4, 5):
        batcher.ack(tag)
    assert writer.writes == []  # not before the next loop iteration
    await asyncio.sleep(0)
    assert len(writer.writes) == 1
    assert sent(writer) == [ack(5, multiple=True)]
    assert batcher.frames_sent == 1


async def test_ack_behind_an_unsettled_tag_is_sent_alone() -> None:
    batcher, _, writer = setup(delivered=4)
    batcher.ack(2)
    batcher.ack(3)
    await asyncio.sleep(0)
    assert sent(writer) == [ack(2), ack(3)]
    batcher.ack(1)
    await asyncio.sleep(0)
    assert [(kind, tag) for kind, tag, *_ in sent(writer)] == [("ack", 1)]
    batcher.delivered(5)
    batcher.ack(5)
    await asyncio.sleep(0)
    assert sent(writer) == [ack(5)]  # 4 is still unsettled: no multiple over it
    batcher.ack(4)
    await asyncio.sleep(0)
    assert sent(writer) == [ack(4, multiple=True)]


async def test_run_stops_at_the_first_unsettled_tag() -> None:
    batcher, _, writer = setup(delivered=6)
    for tag in (1, 2, 4, 5):
        batcher.ack(tag)
    await asyncio.sleep(0)
    assert sent(writer) == [ack(2, multiple=True), ack(4), ack(5)]
    batcher.ack(3)
    batcher.ack(6)
    await asyncio.sleep(0)
    assert sent(writer) == [ack(6, multiple=True)]


async def test_nacks_go_first_one_per_frame_with_requeue() -> None:
    batcher, _, writer = setup(delivered=4)
    batcher.ack(1)
    batcher.nack(3)
    batcher.nack(2)
    batcher.ack(4)
    await asyncio.sleep(0)
    assert len(writer.writes) == 1  # one write: the order on the wire is the order here
    assert sent(writer) == [nack(3), nack(2), ack(4, multiple=True)]


async def test_nacked_tag_from_an_earlier_batch_does_not_block_the_run() -> None:
    batcher, _, writer = setup(delivered=3)
    batcher.nack(1)
    await asyncio.sleep(0)
    assert sent(writer) == [nack(1)]
    batcher.ack(2)
    batcher.ack(3)
    await asyncio.sleep(0)
    assert sent(writer) == [ack(3, multiple=True)]


async def test_gap_in_delivery_tags_switches_to_plain_acks_for_good() -> None:
    batcher, _, writer = setup(delivered=2)
    batcher.delivered(5)  # 3 and 4 went to someone else on this channel
    for tag in (1, 2, 5):
        batcher.ack(tag)
    await asyncio.sleep(0)
    assert sent(writer) == [ack(1), ack(2), ack(5)]
    batcher.delivered(6)
    batcher.delivered(7)
    batcher.ack(6)
    batcher.ack(7)
    await asyncio.sleep(0)
    assert sent(writer) == [ack(6), ack(7)]


async def test_flush_writes_at_once() -> None:
    batcher, _, writer = setup(delivered=2)
    batcher.ack(1)
    batcher.ack(2)
    batcher.flush()
    assert sent(writer) == [ack(2, multiple=True)]
    await asyncio.sleep(0)
    assert writer.writes == []  # the scheduled flush finds nothing left


async def test_nothing_is_written_after_close_even_on_a_reopened_channel() -> None:
    batcher, tap, writer = setup(delivered=3)
    batcher.ack(1)
    batcher.close()
    await asyncio.sleep(0)
    tap.feed_data(frame.marshal(commands.Channel.CloseOk(), CHANNEL))
    open_channel(tap)  # a new channel instance with the same number
    assert tap.is_open(CHANNEL)
    assert not batcher.open
    batcher.ack(2)
    batcher.nack(3)
    await asyncio.sleep(0)
    batcher.flush()
    assert writer.writes == []
    assert batcher.frames_sent == 0


async def test_acks_for_a_closed_channel_are_dropped() -> None:
    batcher, tap, writer = setup(delivered=2)
    batcher.ack(1)
    tap.feed_data(frame.marshal(commands.Channel.CloseOk(), CHANNEL))
    assert not batcher.open
    await asyncio.sleep(0)
    batcher.flush()
    assert writer.writes == []


async def test_batcher_is_not_open_once_the_link_is_lost() -> None:
    batcher, tap, writer = setup(delivered=1)
    assert batcher.open
    tap.feed_eof()
    assert not batcher.open
    batcher.ack(1)
    await asyncio.sleep(0)
    assert writer.writes == []


async def test_acks_are_dropped_when_the_transport_is_closing() -> None:
    batcher, _, writer = setup(delivered=2)
    writer.transport.closing = True
    batcher.ack(1)
    batcher.nack(2)
    await asyncio.sleep(0)
    batcher.flush()
    assert writer.writes == []
    assert batcher.frames_sent == 0


async def test_a_failed_write_closes_the_batcher_so_no_later_multiple_ack_covers_a_nack() -> None:
    """Tags counted as settled by a batch that could not be written must never be covered by
    a later ``multiple`` ack: after a failed write the batcher sends nothing again."""
    batcher, _, writer = setup(delivered=2)
    writer.transport.closing = True
    batcher.nack(1)
    batcher.flush()
    writer.transport.closing = False  # (a real transport never reopens; the batcher must not care)
    batcher.ack(2)
    batcher.flush()
    assert writer.writes == []
    assert not batcher.open
