"""The parked-messages port: a queue of parked (or unrouted) messages, read from its head.

``media-bridge parked`` and ``media-bridge replay`` read the parking queue (or another queue
holding parked or unrouted messages) through :class:`ParkedQueue`, which an adapter implements
(``adapters/rabbitmq_parked.py``). Reading takes nothing away: every message taken is *held*
(delivered, not acknowledged) until it is removed for good, or until :meth:`ParkedQueue.release_all`
(or the end of the connection, a crash included) puts every held one back where it was. So a
reader that only looks leaves the queue as it found it, in the same order, and one that dies
half-way loses nothing.

:class:`ParkedMessage` is what the relay parked (see ``consumer.outbound.parking_message``): the
body untouched, and the park headers, read here into typed properties.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

# The headers the relay writes on a parked body (consumer.outbound.parking_message) ...
REASON_HEADER = "x-park-reason"
DETAIL_HEADER = "x-park-detail"
SOURCE_HEADER = "x-source"
DELIVERY_ID_HEADER = "x-delivery-id"
DELIVERY_COUNT_HEADER = "x-delivery-count"
PARKED_AT_HEADER = "x-parked-at"
ORIGINAL_CONTENT_TYPE_HEADER = "x-original-content-type"
# ... and those replay adds to a copy it parks again (consumer.reparking).
REPLAY_COUNT_HEADER = "x-replay-count"
REPLAYED_AT_HEADER = "x-replayed-at"
REPLAY_RUN_HEADER = "x-replay-run"


@dataclass(frozen=True, slots=True)
class ParkedMessage:
    """One message of a parked queue: body, headers (as text or numbers) and AMQP properties."""

    body: bytes
    headers: Mapping[str, str | int]
    routing_key: str
    message_id: str | None = None
    content_type: str | None = None

    @property
    def reason(self) -> str | None:
        """Why it was parked (``x-park-reason``); None for a message that was never parked."""
        return self._text(REASON_HEADER)

    @property
    def detail(self) -> str | None:
        return self._text(DETAIL_HEADER)

    @property
    def source(self) -> str | None:
        """Where the body came from, e.g. ``cmq:mps-events`` (``x-source``)."""
        return self._text(SOURCE_HEADER)

    @property
    def parked_at(self) -> datetime | None:
        """When it was first parked (``x-parked-at``; replay keeps it); None if unknown."""
        return _instant(self._text(PARKED_AT_HEADER))

    @property
    def replayed_at(self) -> datetime | None:
        """When a replay last parked it again; None if it never was."""
        return _instant(self._text(REPLAYED_AT_HEADER))

    @property
    def replay_count(self) -> int:
        """How many replays found it still failing (0: never replayed)."""
        value = self.headers.get(REPLAY_COUNT_HEADER, 0)
        try:
            return max(0, int(value))
        except ValueError:
            return 0

    @property
    def identity(self) -> tuple[str | None, ...]:
        """The same for a parked message and every copy replay made of it (and for nothing
        else): the body's id and the headers that name the delivery that was parked."""
        return (
            self.message_id,
            self._text(SOURCE_HEADER),
            self._text(DELIVERY_ID_HEADER),
            self._text(PARKED_AT_HEADER),
        )

    def _text(self, name: str) -> str | None:
        value = self.headers.get(name)
        return None if value is None else str(value)


def _instant(text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        return None
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class HeldMessage:
    """A message taken from a :class:`ParkedQueue` and held until removed or released."""

    position: int  # 1 = the head of the queue when the reader started
    message: ParkedMessage
    token: int  # the adapter's handle for it (an AMQP delivery tag); opaque to the core


class ParkedQueue(Protocol):
    """One queue of parked (or unrouted) messages, read from its head without taking them."""

    @property
    def name(self) -> str: ...

    async def waiting(self) -> int:
        """How many messages wait in the queue now (not counting the ones held here).

        Raises:
            SourceUnavailableError: the broker can't be asked now.
        """

    async def take(self) -> HeldMessage | None:
        """The next waiting message, held (not removed); None when no message is waiting.

        Raises:
            SourceUnavailableError: the broker can't be read now; what was held is released.
        """

    async def remove(self, held: HeldMessage) -> None:
        """Remove a held message for good (AMQP ack): only once what replaces it is confirmed.

        Raises:
            SourceUnavailableError: the removal did not reach the broker; the message stays.
        """

    async def release_all(self) -> None:
        """Put every held message that was not removed back at its place in the queue, in order.

        Raises:
            SourceUnavailableError: the broker can't be told now; it puts them back anyway
                when the connection ends.
        """

    async def aclose(self) -> None:
        """Release what is still held and close the connection."""
