"""Counters of the CMQ source, read by whoever exports metrics (plain ints, no dependency)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(slots=True)
class CmqStats:
    """Monotonic counters since the source was created."""

    received: int = 0  # messages leased by BatchReceiveMessage
    deleted: int = 0  # handles CMQ confirmed deleted
    late_deletes: int = 0  # acks skipped: nextVisibleTime had passed, the handle was dead
    invalid_handles: int = 0  # 4430 on delete: lease lost (or an earlier, lost reply deleted it)
    expired_in_buffer: int = 0  # leases that ran out before receive() handed them out
    empty_polls: int = 0  # code 7000: the long poll ended with no message
    receive_retries: int = 0  # failed polls retried (throttling, 6000, 5xx, network)
    delete_retries: int = 0  # failed BatchDeleteMessage calls retried
    delete_failures: int = 0  # acks that gave up (raised SourceUnavailableError)
    throttled: int = 0  # 4420/4480 replies, any action
