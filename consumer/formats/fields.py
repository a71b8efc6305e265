"""Typed access to fields of a canonical (null-free) vendor object.

Vendor JSON is untrusted: a field may be missing or of the wrong type. These accessors return
``None`` for a missing field and raise :class:`PayloadError` (``invalid_field``) naming the field
when it has the wrong type, so a parser never crashes with a ``TypeError``/``KeyError``.
"""

from __future__ import annotations

import math
from typing import Any

from consumer.errors import PayloadError, PayloadReason

JsonObject = dict[str, Any]

# Integers we emit must fit a signed 64-bit field: orjson can't encode larger ones, and
# subscribers in Java, Go or SQL would overflow on them. ``"99999999999999999999"`` or ``1e300``
# in an integer field is therefore a bad field, not an event.
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1


def _wrong(where: str, key: str, expected: str, value: Any) -> PayloadError:
    return PayloadError(
        PayloadReason.INVALID_FIELD,
        f"{where}.{key} should be {expected}, got {type(value).__name__}",
    )


def obj(parent: JsonObject, key: str, where: str) -> JsonObject | None:
    """``parent[key]`` as an object, or None when missing."""
    value = parent.get(key)
    if value is None:
        return None
    if not isinstance(value, dict):
        raise _wrong(where, key, "an object", value)
    return value


def objects(parent: JsonObject, key: str, where: str) -> list[JsonObject]:
    """``parent[key]`` as a list of objects ([] when missing)."""
    value = parent.get(key)
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise _wrong(where, key, "a list of objects", value)
    return value


def text(parent: JsonObject, key: str, where: str) -> str | None:
    """``parent[key]`` as a string; numbers are accepted and rendered (ids are sometimes ints)."""
    value = parent.get(key)
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    raise _wrong(where, key, "a string", value)


def integer(parent: JsonObject, key: str, where: str) -> int | None:
    """``parent[key]`` as an int; integral floats and numeric strings are accepted."""
    value = parent.get(key)
    if value is None:
        return None
    if type(value) is int and INT64_MIN <= value <= INT64_MAX:
        return value  # the common case, without a call (bool is not exactly int)
    if isinstance(value, bool):
        raise _wrong(where, key, "an integer", value)
    if isinstance(value, int):
        return in_int64(value, where, key)
    if isinstance(value, float) and value.is_integer():
        return in_int64(int(value), where, key)
    if isinstance(value, str):
        try:
            converted = int(value.strip())
        except ValueError:
            pass
        else:
            return in_int64(converted, where, key)
    raise _wrong(where, key, "an integer", value)


def in_int64(value: int, where: str, key: str) -> int:
    """``value`` when it fits a signed 64-bit integer; else an ``invalid_field`` error."""
    if INT64_MIN <= value <= INT64_MAX:
        return value
    raise PayloadError(
        PayloadReason.INVALID_FIELD, f"{where}.{key} is out of the 64-bit integer range"
    )


def number(parent: JsonObject, key: str, where: str) -> float | None:
    """``parent[key]`` as a float; numeric strings are accepted."""
    value = parent.get(key)
    if value is None:
        return None
    if isinstance(value, bool):
        raise _wrong(where, key, "a number", value)
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            converted = float(value.strip())
        except ValueError:
            pass
        else:
            # float() also reads "nan" and "inf", which are not numbers JSON can carry.
            if math.isfinite(converted):
                return converted
    raise _wrong(where, key, "a number", value)
