"""Parser stub: to be implemented."""

from __future__ import annotations

from typing import Any

from consumer.errors import PayloadError, PayloadReason
from consumer.formats import ParsedEvent


def parse_mps(event: dict[str, Any]) -> ParsedEvent:
    raise PayloadError(PayloadReason.UNKNOWN_FORMAT, "mps parser not implemented yet")


def parse_mps_live(event: dict[str, Any]) -> ParsedEvent:
    raise PayloadError(PayloadReason.UNKNOWN_FORMAT, "mps-live parser not implemented yet")
