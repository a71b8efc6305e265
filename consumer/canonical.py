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
        return _strip_object(value)
    if isinstance(value, list):
        return _strip_array(value)
    return value


# The walk visits every node of a body that has a null anywhere (PullEvents replies, some MPS
# messages), so below the top it dispatches on exact types - JSON decodes to plain dicts and
# lists only - and handles scalars without a call: a third less than a one-function recursion.
def _strip_object(obj: dict[str, Any]) -> dict[str, Any]:
    stripped: dict[str, Any] = {}
    for key, item in obj.items():
        if item is None:
            continue
        kind = type(item)
        if kind is dict:
            item = _strip_object(item)
        elif kind is list:
            item = _strip_array(item)
        stripped[key] = item
    return stripped


def _strip_array(items: list[Any]) -> list[Any]:
    return [
        _strip_object(item) if type(item) is dict
        else _strip_array(item) if type(item) is list
        else item
        for item in items
    ]


def without_keys(obj: dict[str, Any], keys: frozenset[str]) -> dict[str, Any]:
    """A shallow copy of ``obj`` without the top-level ``keys``."""
    return {k: v for k, v in obj.items() if k not in keys}
