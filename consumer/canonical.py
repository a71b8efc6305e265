"""Canonical form of a vendor event object: the basis of ``data.raw`` and of the event id.

Tencent sends the same event with null fields (PullEvents) or without them (push callbacks,
CMQ). Dropping nulls makes both wrappers yield the same object, so parsers never have to tell
"null" from "missing" and the deterministic id does not depend on the wrapper.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

# Keys that belong to one delivery, not to the event: they are removed from ``raw``.
DELIVERY_KEYS = frozenset({"EventHandle", "msgHandle"})
# Keys that may change between two deliveries of one event (MPS/VOD signature and its expiry):
# kept in ``raw`` but left out of the id.
UNSTABLE_KEYS = frozenset({"Timestamp", "Sign", "T"})


def strip_nulls(value: Any) -> Any:
    """Return ``value`` with every ``None`` dict value removed, recursively."""
    return strip_nulls_noting(value, _NO_KEYS)[0]


def strip_nulls_noting(value: Any, keys: frozenset[str]) -> tuple[Any, bool]:
    """``strip_nulls(value)``, and whether an object in ``value`` has one of ``keys``.

    The normalizer asks for the secret key names (``consumer.redact``): a body with nulls is
    walked once for both. The answer may be True for a key whose value was a null (removed):
    it means "look closer", never "none here" when there is one.
    """
    seen: list[bool] = []
    if isinstance(value, dict):
        value = _strip_object(value, keys.isdisjoint, seen)
    elif isinstance(value, list):
        value = _strip_array(value, keys.isdisjoint, seen)
    return value, bool(seen)


_NO_KEYS: frozenset[str] = frozenset()


# The walk visits every node of a body that has a null anywhere (PullEvents replies, some MPS
# messages), so below the top it dispatches on exact types - JSON decodes to plain dicts and
# lists only - and handles scalars without a call: a third less than a one-function recursion.
# It copies only the containers that lose a null somewhere below them and hands back every other
# one as it is (the parsers never change what they are given), so a body with a few nulls costs
# a walk, not a copy of the whole tree. ``isdisjoint`` is ``keys.isdisjoint``: one C call per
# object, noted in ``seen``.
_DROPPED: Any = object()
_Disjoint = Callable[[Iterable[str]], bool]


def _strip_object(obj: dict[str, Any], isdisjoint: _Disjoint, seen: list[bool]) -> dict[str, Any]:
    if not seen and not isdisjoint(obj):
        seen.append(True)
    changes: dict[str, Any] | None = None  # key -> stripped child, or _DROPPED for a null
    for key, item in obj.items():
        if item is None:
            new: Any = _DROPPED
        else:
            kind = type(item)
            if kind is dict:
                new = _strip_object(item, isdisjoint, seen)
            elif kind is list:
                new = _strip_array(item, isdisjoint, seen)
            else:
                continue
            if new is item:
                continue
        if changes is None:
            changes = {}
        changes[key] = new
    if changes is None:
        return obj
    stripped: dict[str, Any] = {}
    for key, item in obj.items():
        if key in changes:
            item = changes[key]
            if item is _DROPPED:
                continue
        stripped[key] = item
    return stripped


def _strip_array(items: list[Any], isdisjoint: _Disjoint, seen: list[bool]) -> list[Any]:
    stripped: list[Any] | None = None  # a copy, made at the first element that changed
    for index, item in enumerate(items):
        kind = type(item)
        if kind is dict:
            new: Any = _strip_object(item, isdisjoint, seen)
        elif kind is list:
            new = _strip_array(item, isdisjoint, seen)
        else:
            continue
        if new is not item:
            if stripped is None:
                stripped = items.copy()
            stripped[index] = new
    return items if stripped is None else stripped


def without_keys(obj: dict[str, Any], keys: frozenset[str]) -> dict[str, Any]:
    """``obj`` without the top-level ``keys``: a shallow copy, or ``obj`` itself when it has none
    of them (nothing downstream changes it)."""
    if keys.isdisjoint(obj):
        return obj
    return {k: v for k, v in obj.items() if k not in keys}
