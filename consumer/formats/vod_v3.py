"""Parser stub: to be implemented."""

from __future__ import annotations

from typing import Any

from consumer.errors import PayloadError, PayloadReason
from consumer.formats import ParsedEvent


def parse_vod_v3(event: dict[str, Any]) -> ParsedEvent:
    raise PayloadError(PayloadReason.UNKNOWN_FORMAT, "vod_v3 parser not implemented yet")
