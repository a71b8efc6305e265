"""Credentials never leave in an event: their values are replaced with :data:`REDACTED`.

A Tencent task can carry credentials: an MPS task that reads from or writes to AWS S3 has
``S3SecretId``/``S3SecretKey`` in its ``InputInfo`` and ``OutputStorage``, an encrypted HLS
transcode its ``SimpleAesDrm.Key``. :func:`redact_secrets` replaces, at any depth, the value of
every key named in ``consumer.secret_fields`` (generated from the SDK's models). The normalizer
runs it before parsing, so ``data.raw`` and everything parsed from it (``input``,
``results[].output``...) hold the marker instead of the value.

Keys match as the SDK spells them, in camelCase (VOD legacy v2 style), lowercase or uppercase.
A value that is an empty string is kept: it says "no credential set" and hides nothing.

The event id is computed from the vendor object *before* redaction, so ids are what they always
were and stay deterministic; it is a uuid5 (a SHA-1 digest) of the whole object, from which no
field can be read back. Parked bodies are not redacted: they are the replay source
(see ``consumer.outbound``).

The normalizer runs this on every event, so the check looks at keys only: one C-level
``isdisjoint`` of each object's keys with the names and a descent into nested containers,
stopping at the first credential. Only an event that holds one is copied.
"""

from __future__ import annotations

from typing import Any

from consumer.secret_fields import SECRET_FIELD_NAMES

REDACTED = "***"


def _spellings(name: str) -> set[str]:
    return {name, name[:1].lower() + name[1:], name.lower(), name.upper()}


SECRET_KEYS = frozenset(spelling for name in SECRET_FIELD_NAMES for spelling in _spellings(name))
_holds_no_secret_key = SECRET_KEYS.isdisjoint


def redact_secrets(obj: dict[str, Any]) -> dict[str, Any]:
    """``obj`` itself when no credential is in it at any depth, else a copy with each replaced."""
    return _redacted(obj) if _holds_secret(obj) else obj


# The check runs on every event, the copy only on the few that hold a credential. Both dispatch
# on exact types like consumer.canonical's walk: decoded JSON has plain dicts and lists only.
def _holds_secret(obj: dict[str, Any]) -> bool:
    if not _holds_no_secret_key(obj):
        return True
    for item in obj.values():
        kind = type(item)
        if (kind is dict and _holds_secret(item)) or (kind is list and _list_holds_secret(item)):
            return True
    return False


def _list_holds_secret(items: list[Any]) -> bool:
    for item in items:
        kind = type(item)
        if (kind is dict and _holds_secret(item)) or (kind is list and _list_holds_secret(item)):
            return True
    return False


def _redacted(value: Any) -> Any:
    kind = type(value)
    if kind is dict:
        return {
            key: REDACTED if key in SECRET_KEYS and item != "" else _redacted(item)
            for key, item in value.items()
        }
    if kind is list:
        return [_redacted(item) for item in value]
    return value
