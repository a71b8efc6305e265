"""``ConfirmChannel``: publishing on one confirm-mode channel, and matching the broker's answers.

After ``confirm.select`` the broker numbers every publish on the channel 1, 2, 3... and answers
each with Basic.Ack (stored: routed and, for persistent messages, written to disk) or
Basic.Nack (lost inside the broker), often for a whole range at once (``multiple``), and not
always in publish order when messages went to different queues. A mandatory publish that no
queue was bound for comes back as Basic.Return first and is acked after it.

This class writes the publish frames through the connection's :class:`FrameTap` and keeps one
future per unanswered publish, in sequence order, resolving it from the tap's callbacks:

* ack → the publish returns; ack after a return → :class:`UnroutableError`;
* nack, the channel or link closing, or no answer within the confirm timeout →
  :class:`SinkUnavailableError` (the relay backs off and the source message comes again).

A return names no sequence number, so it is matched to the oldest unanswered publish with the
same message id (equal ids mean the same event, sent to the same exchange and key).

One timer serves every deadline: publishes leave in order with the same timeout, so the oldest
unanswered one always expires first.
"""

from __future__ import annotations

import asyncio
from collections import deque
from dataclasses import dataclass
from typing import cast

import aiormq

from adapters import amqp_wire as wire
from adapters.rabbitmq_tap import ChannelListener, FrameTap
from consumer.errors import SinkUnavailableError, UnroutableError


@dataclass(slots=True)
class _Publish:
    seq: int
    future: asyncio.Future[None]
    message_id: str
    deadline: float
    returned: str | None = None  # "code text" of a Basic.Return for this publish


class ConfirmChannel(ChannelListener):
    """Publishes on one aiormq channel (already in confirm mode) through ``tap``."""

    def __init__(self, tap: FrameTap, channel: aiormq.abc.AbstractChannel, timeout_s: float):
        self.channel = channel
        self._tap = tap
        self._number = channel.number
        # aiormq splits bodies at frame_max - 8; the same here (a CloudEvent is far below it).
        self._max_body = cast(aiormq.Channel, channel).max_content_size
        self._timeout_s = timeout_s
        self._loop = asyncio.get_running_loop()
        self._next_seq = 1
        self._pending: deque[_Publish] = deque()  # consecutive seqs, oldest first
        self._closed: str | None = None
        self._timer: asyncio.TimerHandle | None = None
        tap.attach(self._number, self)

    @property
    def usable(self) -> bool:
        """True while publishes can go out on this channel."""
        return self._closed is None and not self.channel.is_closed and not self._tap.lost

    async def publish(
        self,
        exchange: bytes,
        routing_key: str,
        properties: bytes,
        body: bytes,
        message_id: str,
    ) -> None:
        """Publish (mandatory) and wait for the broker's answer; see the module docstring.

        ``exchange`` is the exchange name as an encoded AMQP short string.
        """
        if self._closed is not None:
            raise SinkUnavailableError(self._closed)
        if self._tap.blocked is not None:
            # A blocked connection's socket is not read by the broker: fail now rather than
            # wait out the confirm timeout (the relay probes again after its back-off).
            raise SinkUnavailableError(self._tap.blocked)
        try:
            frames = wire.publish_frames(
                self._number, exchange, routing_key, properties, body, self._max_body, mandatory=True
            )
        except ValueError as exc:  # a routing key over AMQP's 255 bytes: no retry can fix it
            raise UnroutableError(f"the message can't be sent: {exc}") from None
        if not self._tap.write(frames):
            raise SinkUnavailableError("the connection to the broker is gone (reconnecting)")
        future = self._loop.create_future()
        deadline = self._loop.time() + self._timeout_s
        self._pending.append(_Publish(self._next_seq, future, message_id, deadline))
        self._next_seq += 1
        if self._timer is None:
            self._timer = self._loop.call_at(deadline, self._expire)
        try:
            await future
        except asyncio.CancelledError:
            if future.done() and not future.cancelled():
                future.exception()  # answered as we were cancelled: nobody else will read it
            raise

    def close(self, why: str) -> None:
        """Fail every unanswered publish and stop listening (used by the sink's ``aclose``)."""
        self._tap.detach(self._number, self)
        self.on_closed(why)

    # -- ChannelListener: called by the tap ------------------------------------------------

    def on_confirm(self, delivery_tag: int, multiple: bool, *, ack: bool) -> None:
        pending = self._pending
        if not pending:
            return  # answers for publishes that already timed out
        first = pending[0].seq
        if multiple:
            while pending and pending[0].seq <= delivery_tag:
                self._answer(pending.popleft(), ack)
        elif 0 <= delivery_tag - first < len(pending):
            self._answer(pending[delivery_tag - first], ack)
        while pending and pending[0].future.done():
            pending.popleft()  # answered out of order earlier, or its waiter was cancelled

    def on_return(self, reply_code: int, reply_text: str, header: bytes, body: bytes) -> None:
        # pamqp decodes an absent message id as None; an empty one is sent as absent.
        message_id = wire.properties(header).message_id or ""
        for publish in self._pending:
            if publish.message_id == message_id and publish.returned is None:
                publish.returned = f"{reply_code} {reply_text}"
                return

    def on_closed(self, reason: str) -> None:
        if self._closed is None:
            self._closed = reason
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        error = SinkUnavailableError(f"not confirmed: {reason}")
        while self._pending:
            future = self._pending.popleft().future
            if not future.done():
                future.set_exception(error)

    # -- internals -------------------------------------------------------------------------

    def _answer(self, publish: _Publish, ack: bool) -> None:
        future = publish.future
        if future.done():
            return
        if not ack:
            future.set_exception(SinkUnavailableError("the broker nacked the publish"))
        elif publish.returned is not None:
            future.set_exception(
                UnroutableError(f"returned by the broker ({publish.returned})")
            )
        else:
            future.set_result(None)

    def _expire(self) -> None:
        self._timer = None
        pending = self._pending
        now = self._loop.time()
        while pending and pending[0].deadline <= now:
            future = pending.popleft().future
            if not future.done():
                future.set_exception(
                    SinkUnavailableError(f"not confirmed within {self._timeout_s:g} s")
                )
        while pending and pending[0].future.done():
            pending.popleft()
        if pending:
            self._timer = self._loop.call_at(pending[0].deadline, self._expire)
