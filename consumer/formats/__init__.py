"""One module per Tencent wire format. Each turns one canonical event object into ParsedEvent.

``consumer.normalize`` unwraps envelopes and batches and picks the parser; a parser only ever
sees one vendor event object with null fields already removed (see ``consumer.canonical``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from consumer.events import MediaEventData


@dataclass(frozen=True, slots=True)
class ParsedEvent:
    """What a format parser extracts from one vendor event."""

    data: MediaEventData
    time: datetime | None = None  # the vendor's own event time, only when the payload has one
