"""How often this process gave a body back itself, so the poison cap does not count those.

A source's ``delivery_count`` counts every delivery, whatever ended the previous one. The relay
gives a delivery back on purpose when the sink failed (nack + back-off) or its deadline came:
during a long broker outage that is once per back-off, and those deliveries say nothing about
the body. The poison cap (``RelayOptions.max_deliveries``) subtracts them, so an outage does not
park the deliveries that were in flight. What it must catch, a body that kills or wedges the
process, is never given back: the process ends first, and this memory with it.

Keyed by ``hash(body)`` and bounded (oldest forgotten first), like the VOD source's pull counts.
Only the rare paths touch it: a give-back, a delivery over the cap, and the ack of a body that
was given back before.
"""

from __future__ import annotations

GIVEBACKS_KEPT = 10_000  # far more deliveries than are ever given back and still in play


class GiveBacks:
    """Per body: how many of its deliveries this process handed back itself."""

    __slots__ = ("_capacity", "_counts")

    def __init__(self, capacity: int = GIVEBACKS_KEPT) -> None:
        self._capacity = capacity
        self._counts: dict[int, int] = {}

    def add(self, body: bytes) -> None:
        """One more delivery of ``body`` given back (it will come again)."""
        key = hash(body)
        self._counts[key] = self._counts.pop(key, 0) + 1  # re-inserted: most recent last
        if len(self._counts) > self._capacity:
            del self._counts[next(iter(self._counts))]

    def of(self, body: bytes) -> int:
        """How many deliveries of ``body`` this process gave back."""
        return self._counts.get(hash(body), 0) if self._counts else 0

    def forget(self, body: bytes) -> None:
        """``body`` was acked: it will not come again."""
        if self._counts:  # nothing to hash on the hot path while nothing was given back
            self._counts.pop(hash(body), None)
