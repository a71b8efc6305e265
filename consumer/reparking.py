"""The copy ``media-bridge replay`` parks in place of a message that still fails (pure).

The body stays byte for byte, and so do the original headers (where it came from, the delivery,
when it was first parked: ``x-parked-at`` is kept, so ``--since`` keeps meaning "first parked").
What changes: ``x-park-reason`` / ``x-park-detail`` say why it fails *today*, the routing key is
that reason, ``x-replay-count`` goes up by one, ``x-replayed-at`` says when, and
``x-replay-run`` names the replay run, so that run never takes its own copies for originals.
"""

from __future__ import annotations

from datetime import UTC, datetime

from consumer.outbound import PARKED_CONTENT_TYPE, parking_message
from consumer.parked import (
    DELIVERY_COUNT_HEADER,
    DELIVERY_ID_HEADER,
    DETAIL_HEADER,
    ORIGINAL_CONTENT_TYPE_HEADER,
    REASON_HEADER,
    REPLAY_COUNT_HEADER,
    REPLAY_RUN_HEADER,
    REPLAYED_AT_HEADER,
    ParkedMessage,
)
from consumer.ports import DeliveryInfo, OutboundMessage

UNKNOWN = "unknown"
_TODAYS = frozenset({REASON_HEADER, DETAIL_HEADER})  # the headers a re-park writes anew


def reparked_message(
    parked: ParkedMessage,
    reason: str,
    detail: str,
    *,
    queue: str,
    run_id: str,
    now: datetime | None = None,
) -> OutboundMessage:
    """``parked`` parked again with today's ``reason``; ``queue`` is where it was read from."""
    when = (now or datetime.now(UTC)).astimezone(UTC)
    headers = parked.headers
    info = DeliveryInfo(  # the delivery the relay parked it from, as its headers tell
        source=parked.source or f"replay:{queue}",
        delivery_id=str(headers.get(DELIVERY_ID_HEADER, UNKNOWN)),
        delivery_count=_number(headers.get(DELIVERY_COUNT_HEADER)),
        received_at=when,
    )
    original_type = headers.get(ORIGINAL_CONTENT_TYPE_HEADER) or parked.content_type
    fresh = parking_message(
        parked.body,
        info,
        reason,
        detail,
        original_content_type=str(original_type) if _known_type(original_type) else None,
        parked_at=parked.parked_at or when,
    )
    return OutboundMessage(
        destination=fresh.destination,
        routing_key=fresh.routing_key,
        body=fresh.body,
        message_id=fresh.message_id,
        content_type=fresh.content_type,
        type=fresh.type,
        headers={
            **fresh.headers,  # today's reason and detail; the rest only if the original lacks it
            **{name: value for name, value in headers.items() if name not in _TODAYS},
            REPLAY_COUNT_HEADER: parked.replay_count + 1,
            REPLAYED_AT_HEADER: when.isoformat(),
            REPLAY_RUN_HEADER: run_id,
        },
    )


def _number(value: str | int | None) -> int:
    try:
        return int(value) if value is not None else 0
    except ValueError:
        return 0


def _known_type(content_type: str | int | None) -> bool:
    # The relay parks with a generic type when the source said none: not worth carrying on.
    return bool(content_type) and content_type != PARKED_CONTENT_TYPE
