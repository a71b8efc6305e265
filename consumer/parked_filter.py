"""Which parked messages ``media-bridge parked`` shows and ``media-bridge replay`` replays (pure).

All given criteria must hold: ``--reason`` (any of those named), ``--source`` (``cmq`` matches
every ``cmq:<queue>``, ``cmq:mps-events`` only that one), ``--since`` / ``--until`` (when the
message was first parked, ``x-parked-at``; a message without it matches no time filter) and
``--task-id``.

``--task-id`` compares with the task id and subject of the events the message normalizes to
*today*; when it does not normalize, the task id is looked for as a substring of the raw body
(:class:`TaskIdMatch` says which was used, and the commands print it). A message parked as
``too_many_deliveries`` is only ever searched as text: it may be a body that made the bridge
crash, and normalizing it just to filter could crash this command too.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from consumer.outbound import TOO_MANY_DELIVERIES_REASON
from consumer.parked import ParkedMessage
from consumer.replay_plan import Deliver, Plan

_RELATIVE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd])\s*$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


class TaskIdMatch(StrEnum):
    EVENT = "event"  # a task id or subject of the events the body normalizes to today
    SUBSTRING = "substring"  # the body does not normalize (or must not be): found in its text


@dataclass(frozen=True, slots=True)
class Match:
    """A message the filter lets through; ``task_id_by`` says how ``--task-id`` matched."""

    task_id_by: TaskIdMatch | None = None


@dataclass(frozen=True, slots=True)
class ParkedFilter:
    reasons: frozenset[str] = frozenset()
    excluded_reasons: frozenset[str] = frozenset()
    sources: tuple[str, ...] = ()
    since: datetime | None = None
    until: datetime | None = None
    task_id: str | None = None

    def match(self, message: ParkedMessage, plan: Callable[[], Plan]) -> Match | None:
        """A :class:`Match` if ``message`` passes; ``plan`` is only called for ``--task-id``."""
        if not self._headers_match(message):
            return None
        if self.task_id is None:
            return Match()
        found = self._task_id_match(message, self.task_id, plan)
        return None if found is None else Match(found)

    def _headers_match(self, message: ParkedMessage) -> bool:
        reason = message.reason or ""
        if self.reasons and reason not in self.reasons:
            return False
        if reason in self.excluded_reasons:
            return False
        if self.sources and not any(_same_source(message.source, s) for s in self.sources):
            return False
        if self.since is None and self.until is None:
            return True
        parked_at = message.parked_at
        if parked_at is None:
            return False
        return (self.since is None or parked_at >= self.since) and (
            self.until is None or parked_at < self.until
        )

    @staticmethod
    def _task_id_match(
        message: ParkedMessage, task_id: str, plan: Callable[[], Plan]
    ) -> TaskIdMatch | None:
        if message.reason != TOO_MANY_DELIVERIES_REASON:
            today = plan()
            if isinstance(today, Deliver):
                return TaskIdMatch.EVENT if task_id in today.task_ids else None
        return TaskIdMatch.SUBSTRING if task_id.encode() in message.body else None


def _same_source(source: str | None, wanted: str) -> bool:
    return source is not None and (source == wanted or source.startswith(f"{wanted}:"))


def parse_instant(text: str, now: datetime | None = None) -> datetime:
    """``--since`` / ``--until``: ``30m``, ``2h``, ``1.5d``, ``45s`` ago, or an ISO 8601 date or
    time (UTC unless it says otherwise).

    Raises:
        ValueError: neither.
    """
    relative = _RELATIVE.match(text)
    if relative is not None:
        amount, unit = float(relative.group(1)), relative.group(2)
        return (now or datetime.now(UTC)) - timedelta(**{_UNITS[unit]: amount})
    try:
        when = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(
            f"{text!r} is neither a duration (30m, 2h, 1d) nor an ISO 8601 date/time"
        ) from None
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)
