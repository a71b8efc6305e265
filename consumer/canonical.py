"""Canonical form of a vendor event object: the basis of ``data.raw`` and of the event id.

Tencent sends the same event with null fields (PullEvents) or without them (push callbacks,
CMQ). Dropping nulls makes both wrappers yield the same object, so parsers never have to tell
"null" from "missing" and the deterministic id does not depend on the wrapper.
"""

from __future__ import annotations

from typing import Any

# Keys that belong to one delivery, not to the event: they are removed from ``raw``.
DELIVERY_KEYS = frozenset({"EventHandle", "msgHandle"})
# Keys that may change between two deliveries of one event (MPS/VOD signature and its expiry):
# kept in ``raw`` but left out of the id.
UNSTABLE_KEYS = frozenset({"Timestamp", "Sign", "T"})


def strip_nulls(value: Any) -> Any:
    """Return ``value`` with every ``None`` dict value removed, recursively."""
    if isinstance(value, dict):
        return {k: strip_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [strip_nulls(v) for v in value]
    return value


def without_keys(obj: dict[str, Any], keys: frozenset[str]) -> dict[str, Any]:
    """A shallow copy of ``obj`` without the top-level ``keys``."""
    return {k: v for k, v in obj.items() if k not in keys}
