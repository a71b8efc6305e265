"""``CmqDelivery``: one leased CMQ message (implements consumer.ports.Delivery)."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from adapters.cmq_deleter import BatchDeleter
from consumer.ports import DeliveryInfo

# What a msgInfoList entry must carry for us to use it (types as JSON decodes them).
MESSAGE_FIELDS: tuple[tuple[str, type | tuple[type, ...]], ...] = (
    ("msgBody", str),
    ("msgId", (str, int)),
    ("receiptHandle", (str, int)),
    ("nextVisibleTime", (int, float)),
)


def well_formed(message: object) -> bool:
    """Whether a msgInfoList entry has every field CmqDelivery needs."""
    return isinstance(message, dict) and all(
        isinstance(message.get(key), kind) for key, kind in MESSAGE_FIELDS
    )


class CmqDelivery:
    """One leased message; ``info.deadline`` is its ``nextVisibleTime``."""

    __slots__ = ("_body", "_deleter", "_handle", "_info", "_next_visible", "_settled")

    decoded = None  # nothing parsed on the way in: the relay parses the body

    def __init__(self, queue: str, message: dict[str, Any], deleter: BatchDeleter) -> None:
        self._body = str(message["msgBody"]).encode()
        self._handle = str(message["receiptHandle"])
        self._next_visible = float(message["nextVisibleTime"])
        self._deleter = deleter
        self._settled = False
        self._info = DeliveryInfo(
            source=f"cmq:{queue}",
            delivery_id=str(message["msgId"]),
            # TDMQ counts dequeues on the cluster leader only, so the count can be off (even 0).
            delivery_count=max(1, int(message.get("dequeueCount") or 1)),
            received_at=datetime.now(UTC),
            deadline=datetime.fromtimestamp(self._next_visible, UTC),
        )

    @property
    def body(self) -> bytes:
        return self._body

    @property
    def info(self) -> DeliveryInfo:
        return self._info

    @property
    def expired(self) -> bool:
        """Whether the lease ran out: the handle is dead and the message is visible again."""
        return time.time() >= self._next_visible

    async def ack(self) -> None:
        """Delete the message; see BatchDeleter for late acks, 4430 and retries.

        Raises:
            SourceUnavailableError: the delete kept failing until the lease ran out, CMQ refused
                it, or the source was closed. The message will be delivered again.
        """
        if self._settled:
            return
        self._settled = True
        await self._deleter.delete(self._info.delivery_id, self._handle, self._next_visible)

    async def nack(self) -> None:
        """Nothing to send: CMQ has no early release; the message returns when the lease lapses."""
        self._settled = True
