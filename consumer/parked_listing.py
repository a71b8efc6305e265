"""``media-bridge parked``: look at a parked queue without changing it.

One :class:`~consumer.parked_scan.ParkedScan` over the queue; every message looked at is held,
and all of them are released together at the end (also on an error or a cancel), so the queue
keeps every message, in its order: RabbitMQ puts requeued messages back at their original
position when nobody else consumes the queue meanwhile. Only the first ``limit`` matching
messages are kept in memory to be shown; the counts per reason cover everything looked at.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from consumer.normalize import DEFAULT_LIMITS, Limits
from consumer.parked import HeldMessage, ParkedQueue
from consumer.parked_filter import Match, ParkedFilter
from consumer.parked_scan import ParkedScan, release_held


@dataclass
class Listing:
    """What one look at the queue found."""

    queue: str
    waiting_at_start: int = 0
    looked_at: int = 0
    complete: bool = True  # every message waiting at the start was looked at
    matched: int = 0
    by_reason: Counter[str] = field(default_factory=Counter)
    shown: list[tuple[HeldMessage, Match]] = field(default_factory=list)


async def list_parked(
    queue: ParkedQueue,
    select: ParkedFilter,
    *,
    limit: int,
    scan_limit: int,
    limits: Limits = DEFAULT_LIMITS,
) -> Listing:
    """The first ``limit`` messages ``select`` matches, and the counts per reason.

    Raises:
        SourceUnavailableError: the broker went away; what was held goes back by itself.
    """
    scan = ParkedScan(queue, select, scan_limit=scan_limit, limits=limits)
    listing = Listing(queue.name)
    try:
        await scan.start()
        while (found := await scan.next_match()) is not None:
            listing.matched += 1
            if len(listing.shown) < limit:
                listing.shown.append((found.held, found.match))
    finally:
        await release_held(queue)
    listing.waiting_at_start, listing.looked_at = scan.waiting_at_start, scan.looked_at
    listing.complete, listing.by_reason = scan.complete, scan.by_reason
    return listing
