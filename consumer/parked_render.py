"""How ``media-bridge parked`` and ``replay`` print messages: text for people, JSON for tools."""

from __future__ import annotations

import base64
from collections import Counter
from datetime import datetime

from consumer.parked import ParkedMessage
from consumer.parked_filter import TaskIdMatch
from consumer.parked_listing import Listing

BODY_PREVIEW_CHARS = 1000

TASK_ID_MATCH_TEXT = {
    TaskIdMatch.EVENT: "task id: found in its events (task_id / subject, normalized today)",
    TaskIdMatch.SUBSTRING: "task id: found as text in the body (it does not normalize today)",
}


def message_text(
    position: int, message: ParkedMessage, task_id_by: TaskIdMatch | None, *, full_body: bool
) -> str:
    """One parked message: the park headers first, then every header, then the body."""
    head = (
        f"#{position}  reason={message.reason or '(none)'}  parked_at={_when(message.parked_at)}"
        f"  source={message.source or '-'}  replays={message.replay_count}"
    )
    lines = [head]
    if message.detail:
        lines.append(f"    detail: {message.detail}")
    if task_id_by is not None:
        lines.append(f"    {TASK_ID_MATCH_TEXT[task_id_by]}")
    lines.append(
        f"    message_id={message.message_id or '-'}  content_type={message.content_type or '-'}"
        f"  routing_key={message.routing_key or '-'}"
    )
    lines += [f"    header {name}: {value}" for name, value in sorted(message.headers.items())]
    text = message.body.decode("utf-8", errors="backslashreplace")
    shown = text if full_body or len(text) <= BODY_PREVIEW_CHARS else text[:BODY_PREVIEW_CHARS]
    more = "" if shown is text else f" ... ({len(text) - len(shown)} more chars, --full-body)"
    lines.append(f"    body ({len(message.body)} bytes): {shown}{more}")
    return "\n".join(lines)


def listing_summary(listing: Listing) -> str:
    looked = (
        f"looked at {listing.looked_at} (all)"
        if listing.complete
        else f"looked at {listing.looked_at} (--scan to look further)"
    )
    found = (
        f"queue {listing.queue}: {listing.waiting_at_start} waiting; {looked}; "
        f"{listing.matched} match, {len(listing.shown)} shown"
    )
    return f"{found}\nby reason: {counts_text(listing.by_reason)}"


def counts_text(counts: Counter[str]) -> str:
    return ", ".join(f"{name} {n}" for name, n in sorted(counts.items())) or "-"


def listing_json(listing: Listing) -> dict[str, object]:
    return {
        "queue": listing.queue,
        "waiting": listing.waiting_at_start,
        "looked_at": listing.looked_at,
        "complete": listing.complete,
        "matched": listing.matched,
        "by_reason": dict(sorted(listing.by_reason.items())),
        "messages": [
            message_json(held.position, held.message, match.task_id_by)
            for held, match in listing.shown
        ],
    }


def message_json(
    position: int, message: ParkedMessage, task_id_by: TaskIdMatch | None
) -> dict[str, object]:
    """Every header and the whole body (as text when it is UTF-8, else base64)."""
    try:
        body: dict[str, object] = {"body": message.body.decode("utf-8")}
    except UnicodeDecodeError:
        body = {"body": None, "body_base64": base64.b64encode(message.body).decode()}
    return {
        "position": position,
        "reason": message.reason,
        "detail": message.detail,
        "source": message.source,
        "parked_at": _when(message.parked_at, None),
        "replay_count": message.replay_count,
        "task_id_match": task_id_by.value if task_id_by else None,
        "message_id": message.message_id,
        "content_type": message.content_type,
        "routing_key": message.routing_key,
        "headers": dict(message.headers),
        **body,
    }


def _when(at: datetime | None, missing: str | None = "-") -> str | None:
    return at.isoformat() if at is not None else missing
