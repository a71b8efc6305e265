"""Counters of the VOD source, per SubAppId, read by whoever exports metrics (plain ints)."""

from __future__ import annotations

from dataclasses import dataclass, fields


@dataclass(slots=True)
class VodStats:
    """Monotonic counters of one sub-app since the source was created."""

    pulls: int = 0  # PullEvents calls answered
    empty_pulls: int = 0  # answered with an empty or absent EventSet
    events_pulled: int = 0  # EventSet elements received
    confirmed: int = 0  # handles VOD accepted in ConfirmEvents
    late_confirms: int = 0  # acks not sent: the 30 s window had passed (the event comes again)
    expired_handles: int = 0  # InvalidParameterValue on confirm: the handle was dead already
    expired_in_buffer: int = 0  # windows that ran out before receive() handed the event out
    retries: int = 0  # failed PullEvents/ConfirmEvents calls retried (5xx, InternalError, network)
    throttles: int = 0  # RequestLimitExceeded replies, either action
    confirm_failures: int = 0  # acks that gave up before the window ran out

    @classmethod
    def names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in fields(cls))
