"""A ``FrameTap`` on a recording writer: what the unit tests of the tap and its listeners share.

No broker and no socket: the tests feed broker frames (built with pamqp) into ``feed_data`` and
read what the adapters wrote from :class:`RecordingWriter`.
"""

from __future__ import annotations

import asyncio
from typing import cast

from pamqp import commands, frame

from adapters.rabbitmq_tap import FrameTap


class FakeTransport:
    """The one thing the tap asks of the writer's transport: is it closing?"""

    def __init__(self) -> None:
        self.closing = False

    def is_closing(self) -> bool:
        return self.closing


class RecordingWriter:
    """Stands in for the connection's ``StreamWriter``; keeps every chunk written."""

    def __init__(self) -> None:
        self.transport = FakeTransport()
        self.writes: list[bytes] = []

    def write(self, data: bytes) -> None:
        self.writes.append(data)


def new_tap() -> FrameTap:
    return FrameTap(limit=2**16, loop=asyncio.get_running_loop())


def tap_with_writer(*open_channels: int) -> tuple[FrameTap, RecordingWriter]:
    """A tap with a recording writer, having seen Channel.OpenOk for ``open_channels``."""
    tap, writer = new_tap(), RecordingWriter()
    tap.writer = cast(asyncio.StreamWriter, writer)
    for channel in open_channels:
        tap.feed_data(frame.marshal(commands.Channel.OpenOk(), channel))
    return tap, writer
