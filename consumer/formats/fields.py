"""Typed access to fields of a canonical (null-free) vendor object.

Vendor JSON is untrusted: a field may be missing or of the wrong type. These accessors return
``None`` for a missing field and raise :class:`PayloadError` (``invalid_field``) naming the field
when it has the wrong type, so a parser never crashes with a ``TypeError``/``KeyError``.
"""

from __future__ import annotations

from typing import Any

from consumer.errors import PayloadError, PayloadReason

JsonObject = dict[str, Any]


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
    if isinstance(value, bool):
        raise _wrong(where, key, "an integer", value)
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            pass
    raise _wrong(where, key, "an integer", value)


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
            return float(value.strip())
        except ValueError:
            pass
    raise _wrong(where, key, "a number", value)
