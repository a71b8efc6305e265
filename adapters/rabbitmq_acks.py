"""``AckBatcher``: settles one channel's deliveries in as few AMQP frames as is safe.

An ack per delivery costs a frame to marshal, a write-queue hop and broker work; at relay rates
that was a sizeable share of the bridge's CPU. ``ack``/``nack`` only record the tag; a sender
task started on the next loop iteration sends everything recorded so far:

* nacks first, each on its own frame (they must reach the broker before any ack that covers
  their tag, and a ``multiple`` nack would requeue more than was asked for);
* one ``basic.ack(multiple=True)`` for the longest run of consecutive tags, starting right after
  the last tag known settled, whose every tag the engine acked or nacked. ``multiple`` acks
  every outstanding tag up to the given one, so a run never passes a tag the engine has not
  settled, nor a tag this channel delivered that we never saw (a gap in the numbering turns
  ``multiple`` off for the channel for good);
* a plain ack for every other acked tag (acked out of order, behind a tag still in flight):
  they are not held back, so acked deliveries never sit on the prefetch window.

Frames leave in that order through one sender at a time, so the broker never sees a
``multiple`` ack before a frame it relies on. A closed channel drops what is pending (the
broker requeues those deliveries; that is the stale-channel rule of ``rabbitmq_delivery``).
``drain`` waits until everything recorded has been handed to aiormq, for a clean shutdown.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque

import aiormq
import pamqp.exceptions

log = logging.getLogger(__name__)

# Tags kept for ``multiple`` acks while one old delivery stays unsettled; past this the channel
# falls back to plain acks so memory stays bounded whatever the caller does.
MAX_TRACKED = 10_000
_SEND_ERRORS = (aiormq.exceptions.AMQPError, pamqp.exceptions.PAMQPException, RuntimeError, OSError)


class AckBatcher:
    """Coalesces the acks of one aiormq channel; see the module docstring."""

    def __init__(self, channel: aiormq.Channel) -> None:
        self.channel = channel
        self._unsettled: deque[int] = deque()  # tags seen, oldest first, not known settled
        self._acked: set[int] = set()  # acked by the engine, frame not sent yet
        self._nacked: list[int] = []  # nacked by the engine, frame not sent yet
        self._sent_alone: set[int] = set()  # settled by a single frame, still in _unsettled
        self._last_seen = 0
        self._multiple = True
        self._sender: asyncio.Task[None] | None = None
        self.frames_sent = 0  # for tests and the benchmark: frames actually sent

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
        self._start_sender()

    def nack(self, tag: int) -> None:
        self._nacked.append(tag)
        self._start_sender()

    async def drain(self) -> None:
        """Return once every recorded ack/nack was handed to aiormq (or dropped: channel gone)."""
        while self._sender is not None:
            # ``wait``, not ``await``: neither cancels the sender if we are cancelled, but
            # ``wait`` also doesn't raise if the sender was cancelled (loop shutdown).
            await asyncio.wait({self._sender})

    def _no_multiple(self) -> None:
        self._multiple = False
        self._unsettled.clear()
        self._sent_alone.clear()

    def _start_sender(self) -> None:
        if self._sender is None:
            # A task, not an immediate send: acks made in this loop iteration join the batch.
            self._sender = asyncio.get_running_loop().create_task(self._send_all())

    async def _send_all(self) -> None:
        try:
            while self._acked or self._nacked:
                if self.channel.is_closed:
                    self._drop("its channel is gone, the broker redelivers them")
                    return
                await self._send_batch()
        except _SEND_ERRORS as exc:
            self._drop(f"{type(exc).__name__}: the broker redelivers them")
        except Exception:  # a bug: say so, and let the broker redeliver rather than guess
            log.exception("sending acks failed")
            self._drop("the broker redelivers them")
        finally:
            self._sender = None

    async def _send_batch(self) -> None:
        channel = self.channel
        nacked, self._nacked = self._nacked, []
        for tag in nacked:
            await channel.basic_nack(tag, requeue=True, wait=False)
            self.frames_sent += 1
        if self._multiple:
            self._sent_alone.update(nacked)
        top = self._advance_run()
        acked, self._acked = self._acked, set()
        if top is not None:
            await channel.basic_ack(top, multiple=True, wait=False)
            self.frames_sent += 1
        for tag in sorted(acked):
            await channel.basic_ack(tag, wait=False)
            self.frames_sent += 1
        if self._multiple:
            self._sent_alone.update(acked)

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
