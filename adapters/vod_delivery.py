"""``VodDelivery``: one pulled VOD event (implements consumer.ports.Delivery), and its pull count.

The events of one reply share a :class:`Pull`: their window, confirmer and the two timestamps of
their ``DeliveryInfo``, made once per reply instead of once per event.

VOD tells nothing about redeliveries: an event whose window lapsed comes back with a new
handle and no counter. :class:`PullCounts` remembers, per event content, how often this process
has pulled it, so ``delivery_count`` means what it means for the other sources (and a poison
cap can use it). It is bounded: the oldest entries are forgotten first. One instance serves the
whole process (``PROCESS_PULL_COUNTS``), so a source opened again after a reconnect or a restart
of the relay still knows what the previous one pulled.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime

from adapters.vod_confirmer import BatchConfirmer
from consumer.ports import DeliveryInfo

PULL_COUNTS_KEPT = 100_000  # ~10 MB at most; far more than are ever in flight at once


class PullCounts:
    """How often each event body was pulled by this process (bounded, oldest forgotten first)."""

    def __init__(self, capacity: int = PULL_COUNTS_KEPT) -> None:
        self._capacity = capacity
        self._counts: dict[int, int] = {}

    def seen(self, body: bytes) -> int:
        """Count one more pull of ``body``; returns the count including this one."""
        key = hash(body)
        count = self._counts.pop(key, 0) + 1
        self._counts[key] = count  # re-inserted: most recent last
        if len(self._counts) > self._capacity:
            del self._counts[next(iter(self._counts))]
        return count

    def forget(self, body: bytes) -> None:
        """The event was confirmed: it will not come again."""
        self._counts.pop(hash(body), None)


PROCESS_PULL_COUNTS = PullCounts()


@dataclass(frozen=True, slots=True)
class Pull:
    """What the events of one PullEvents reply share, read from the clock once per reply."""

    sub_app_id: int
    deadline: float  # Unix seconds: the end of the confirm window of every event of the pull
    confirmer: BatchConfirmer
    counts: PullCounts
    source: str  # DeliveryInfo.source, "vod:<SubAppId>"
    received_at: datetime
    deadline_at: datetime  # ``deadline`` as DeliveryInfo carries it

    @classmethod
    def received_now(
        cls, sub_app_id: int, deadline: float, confirmer: BatchConfirmer, counts: PullCounts
    ) -> Pull:
        return cls(
            sub_app_id,
            deadline,
            confirmer,
            counts,
            f"vod:{sub_app_id}",
            datetime.now(UTC),
            datetime.fromtimestamp(deadline, UTC),
        )


class VodDelivery:
    """One EventSet element; ``body`` is the element without its ``EventHandle``.

    ``info.deadline`` is the end of the confirm window, counted from when the pull was *sent*
    (VOD starts it on its side later, so ours ends first: safe).
    """

    __slots__ = ("_body", "_decoded", "_handle", "_info", "_pull", "_settled")

    def __init__(
        self, pull: Pull, body: bytes, handle: str | None, decoded: object = None
    ) -> None:
        self._pull = pull
        self._body = body
        self._decoded = decoded  # the element as the reply decoded it: see Delivery.decoded
        self._handle = handle
        self._settled = False
        self._info = DeliveryInfo(
            source=pull.source,
            delivery_id=handle or "(no EventHandle)",
            delivery_count=pull.counts.seen(body),
            received_at=pull.received_at,
            deadline=pull.deadline_at,
        )

    @property
    def sub_app_id(self) -> int:
        return self._pull.sub_app_id

    @property
    def body(self) -> bytes:
        return self._body

    @property
    def decoded(self) -> object:
        return self._decoded

    @property
    def info(self) -> DeliveryInfo:
        return self._info

    @property
    def expired(self) -> bool:
        """Whether the window ran out: the handle is dead and VOD will offer the event again."""
        return time.time() >= self._pull.deadline

    async def ack(self) -> None:
        """Queue the confirm of the event and return; see BatchConfirmer for what follows.

        Raises:
            SourceUnavailableError: the source was closed. The event will be pulled again.
        """
        if self._settled:
            return
        self._settled = True
        if self._handle is None:  # nothing to confirm with; VOD decides whether it comes again
            return
        pull = self._pull
        pull.confirmer.enqueue(self._handle, pull.deadline, self._confirmed)

    def _confirmed(self) -> None:
        self._pull.counts.forget(self._body)  # it will not come again

    async def nack(self) -> None:
        """Nothing to send: VOD has no early release; the event returns when its window ends."""
        self._settled = True
