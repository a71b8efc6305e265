"""``ChannelRestore``: a robust channel used only once aio-pika restored it, and restored
again when aio-pika gave up.

When the broker closes a channel (a publish to a deleted exchange: 404), aio-pika's robust
channel reopens it and then re-declares its exchanges and queues. Two gaps, both seen under a
running relay (``tests/integration/test_sink_outage.py``):

- the new channel is open before the re-declarations are done. A publish written in that gap
  goes to the exchange that is not back yet, and the broker closes the new channel too;
- a restore that fails part way (that second 404, or an exchange taken passively that is
  gone) is not tried again: aio-pika's close handler skips a channel closed while it was
  restoring, so the channel stays closed with the connection up, and every publish after it
  fails as "reconnecting" for good.

So the sink waits for ``ready()`` (public: it completes when the restore has finished) before
it uses a channel, and when the channel is still closed or unrestored after a short wait,
:meth:`ChannelRestore.nudge` starts one background task that calls ``restore()`` (public,
idempotent, serialized with aio-pika's own restore by its lock) with back-off until the
channel is ready. While the connection itself is down it does nothing: aio-pika's reconnect
restores every channel.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

import anyio
from aio_pika.abc import AbstractRobustChannel

from adapters.rabbitmq_connect import translated
from consumer.errors import BridgeError, SinkUnavailableError

log = logging.getLogger(__name__)

READY_WAIT_S = 0.5  # a publish waits this long for a restore in progress, then fails fast
MAX_RETRY_S = 30.0


class ChannelRestore:
    """Follows ``channel``; ``link_up`` says whether its connection is up now, ``role`` names
    it in the log, ``timeout_s`` bounds each restore."""

    def __init__(
        self,
        channel: AbstractRobustChannel,
        link_up: Callable[[], bool],
        role: str,
        *,
        timeout_s: float,
        retry_s: float = 0.5,
    ) -> None:
        self._channel = channel
        self._link_up = link_up
        self._role = role
        self._timeout_s = timeout_s
        self._retry_s = retry_s
        self._task: asyncio.Task[None] | None = None
        self._stopped = False
        # Known restored since the channel last closed: the plain path asks before every
        # publish, and a timeout scope per publish only to learn "yes" would cost more.
        self._restored = False
        channel.close_callbacks.add(self._on_close)

    def _on_close(self, *_: object) -> None:
        self._restored = False

    async def wait_ready(self, within_s: float = READY_WAIT_S) -> bool:
        """True once the channel is open and restored; False (and a restore nudged) if it is
        not within ``within_s``."""
        if self._channel.is_closed:
            self._restored = False
        elif self._restored:
            return True
        else:
            with anyio.move_on_after(within_s):
                await self._channel.ready()
                self._restored = True
                return True
        self.nudge()
        return False

    def nudge(self) -> None:
        """Make sure the channel gets restored: starts the restoring task if none runs."""
        if self._stopped or (self._task is not None and not self._task.done()):
            return
        self._task = asyncio.get_running_loop().create_task(self._restore_until_ready())

    async def _restore_until_ready(self) -> None:
        delay = self._retry_s
        while not self._stopped:
            await anyio.sleep(delay)  # aio-pika's own restore usually finishes in this time
            if not self._link_up():
                continue  # the connection's reconnect restores its channels
            if not self._channel.is_closed:
                with anyio.move_on_after(0.05):
                    await self._channel.ready()
                    return
            try:
                with (
                    translated(SinkUnavailableError, f"restoring the {self._role} channel"),
                    anyio.fail_after(self._timeout_s),
                ):
                    await self._channel.restore()
            except (BridgeError, TimeoutError) as exc:
                delay = min(delay * 2, MAX_RETRY_S)
                log.warning("%s; trying again in %.1f s", _said(exc), delay)
            else:
                log.warning("the %s channel was closed by the broker; reopened", self._role)

    def stop(self) -> None:
        self._stopped = True
        if self._task is not None:
            self._task.cancel()


def _said(exc: BaseException) -> str:
    return str(exc) if isinstance(exc, BridgeError) else f"{type(exc).__name__}: timed out"
