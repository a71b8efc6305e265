"""``AckBatcher``: settles one channel's deliveries in as few AMQP frames as is safe.

An ack per delivery costs a frame and broker work; at relay rates that was a sizeable share of
the bridge's CPU. ``ack``/``nack`` only record the tag; a callback on the next loop iteration
writes everything recorded so far through the connection's frame tap:

* nacks first, each on its own frame (they must reach the broker before any ack that covers
  their tag, and a ``multiple`` nack would requeue more than was asked for);
* one ``basic.ack(multiple=True)`` for the longest run of consecutive tags, starting right after
  the last tag known settled, whose every tag the engine acked or nacked. ``multiple`` acks
  every outstanding tag up to the given one, so a run never passes a tag the engine has not
  settled, nor a tag this channel delivered that we never saw (a gap in the numbering turns
  ``multiple`` off for the channel for good);
* a plain ack for every other acked tag (acked out of order, behind a tag still in flight):
  they are not held back, so acked deliveries never sit on the prefetch window.

Frames leave in that order in one write, so the broker never sees a ``multiple`` ack before a
frame it relies on. A batcher belongs to one channel *instance*: once that channel closed it
sends nothing, ever (the broker requeues those deliveries; that is the stale-channel rule of
``rabbitmq_delivery``), even if a new channel gets the same number. ``flush`` writes what is
pending at once, for a clean shutdown.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque

from adapters import amqp_wire as wire
from adapters.rabbitmq_tap import FrameTap

log = logging.getLogger(__name__)

# Tags kept for ``multiple`` acks while one old delivery stays unsettled; past this the channel
# falls back to plain acks so memory stays bounded whatever the caller does.
MAX_TRACKED = 10_000


class AckBatcher:
    """Coalesces the acks of one channel instance; see the module docstring."""

    def __init__(self, tap: FrameTap, channel: int) -> None:
        self._tap = tap
        self._channel = channel
        self._unsettled: deque[int] = deque()  # tags seen, oldest first, not known settled
        self._acked: set[int] = set()  # acked by the engine, frame not sent yet
        self._nacked: list[int] = []  # nacked by the engine, frame not sent yet
        self._sent_alone: set[int] = set()  # settled by a single frame, still in _unsettled
        self._last_seen = 0
        self._multiple = True
        self._scheduled = False
        self._closed = False
        self.frames_sent = 0  # frames actually written (tests check the coalescing with it)

    @property
    def open(self) -> bool:
        """True while this batcher's channel is open (its delivery tags still mean something)."""
        return not self._closed and self._tap.is_open(self._channel)

    def close(self) -> None:
        """The channel closed: drop what is pending and never send again."""
        self._closed = True
        self._drop("its channel is gone, the broker redelivers them")

    def delivered(self, tag: int) -> None:
        """Record a delivery's tag, in the order the channel delivered them."""
        if tag != self._last_seen + 1 and self._multiple:
            log.warning("delivery tag %d after %d: plain acks on this channel", tag, self._last_seen)
            self._no_multiple()
        self._last_seen = tag
        if self._multiple:
            self._unsettled.append(tag)
            if len(self._unsettled) > MAX_TRACKED:
                log.warning("%d deliveries behind an unsettled one: plain acks", MAX_TRACKED)
                self._no_multiple()

    def ack(self, tag: int) -> None:
        self._acked.add(tag)
        self._schedule()

    def nack(self, tag: int) -> None:
        self._nacked.append(tag)
        self._schedule()

    def flush(self) -> None:
        """Write every recorded ack/nack now (or drop them: channel gone)."""
        self._scheduled = False
        if not (self._acked or self._nacked):
            return
        if not self.open:
            self._drop("its channel is gone, the broker redelivers them")
            return
        frames = self._batch()  # counts these tags as settled: they must go out or never again
        if not self._tap.write(b"".join(frames)):
            # The link is closing (it never reopens): the broker requeues every unacked
            # delivery of the channel, and this batcher must not send anything after it.
            self.close()
            return
        self.frames_sent += len(frames)

    def _no_multiple(self) -> None:
        self._multiple = False
        self._unsettled.clear()
        self._sent_alone.clear()

    def _schedule(self) -> None:
        if not self._scheduled:
            # Not an immediate write: acks made in this loop iteration join the batch.
            self._scheduled = True
            asyncio.get_running_loop().call_soon(self.flush)

    def _batch(self) -> list[bytes]:
        channel = self._channel
        nacked, self._nacked = self._nacked, []
        frames = [wire.nack_frame(channel, tag, requeue=True) for tag in nacked]
        if self._multiple:
            self._sent_alone.update(nacked)
        top = self._advance_run()
        acked, self._acked = self._acked, set()
        if top is not None:
            frames.append(wire.ack_frame(channel, top, multiple=True))
        frames += [wire.ack_frame(channel, tag) for tag in sorted(acked)]
        if self._multiple:
            self._sent_alone.update(acked)
        return frames

    def _advance_run(self) -> int | None:
        """Pop the settled run at the head of ``_unsettled``; its highest engine-acked tag.

        ``delivered`` keeps ``_unsettled`` consecutive and starting right after the last tag
        known settled, so "every tag up to ``top``" is exactly the popped run.

        Tags acked by the engine in the run leave ``_acked`` (the multiple ack covers them).
        """
        if not self._multiple:
            return None
        unsettled, acked, alone = self._unsettled, self._acked, self._sent_alone
        top = None
        while unsettled:
            tag = unsettled[0]
            if tag in acked:
                acked.discard(tag)
                top = tag
            elif tag in alone:
                alone.discard(tag)
            else:
                break
            unsettled.popleft()
        return top

    def _drop(self, why: str) -> None:
        count = len(self._acked) + len(self._nacked)
        if count:
            log.info("%d acks/nacks not sent: %s", count, why)
        self._acked.clear()
        self._nacked.clear()
