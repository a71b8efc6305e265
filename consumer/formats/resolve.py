"""Which event kind a PascalCase notification carries: the populated payload key decides.

Tencent's own doc samples mislabel ``EventType`` (``NewFileUpload`` holding a populated
``PullCompleteEvent``) or omit it (a ComposeMedia PullEvents sample), while the payload object is
always the real thing. So the kind is resolved from the one populated payload key and the
declared type is only a tie-breaker. Anything that names no known payload is
``unknown_event_type``, with the declared type and the keys seen in the message.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from consumer.errors import PayloadError, PayloadReason

_PAYLOAD_SUFFIXES = ("Event", "Complete", "Task", "Info")


def resolve_payload(
    event: dict[str, Any], keys: Mapping[str, str], type_field: str, label: str
) -> tuple[str, dict[str, Any]]:
    """``(payload key, payload)`` for ``event``; ``keys`` maps payload key -> event type.

    Raises:
        PayloadError: ``unknown_event_type`` when no known payload is populated (a known type
            whose payload is absent, or an unknown kind); ``invalid_field`` when the payload is
            not an object.
    """
    declared = event.get(type_field)
    found = [key for key in event if key in keys]
    if len(found) == 1:
        return found[0], _payload(event, found[0])
    if len(found) > 1:
        matching = [key for key in found if keys[key] == declared]
        if len(matching) == 1:
            return matching[0], _payload(event, matching[0])
        raise PayloadError(
            PayloadReason.UNKNOWN_EVENT_TYPE,
            f"{label} notification has several populated payloads ({', '.join(found)}) "
            f"and {type_field} {declared!r} does not pick one",
        )
    expected = sorted(key for key, kind in keys.items() if kind == declared)
    if expected:
        raise PayloadError(
            PayloadReason.UNKNOWN_EVENT_TYPE,
            f"{label} {type_field} {declared!r} but its payload ({' or '.join(expected)}) "
            "is missing or null",
        )
    unknown = sorted(
        key for key, value in event.items()
        if isinstance(value, dict) and key.endswith(_PAYLOAD_SUFFIXES)
    )
    seen = f"payload key {', '.join(unknown)}" if unknown else "no payload object"
    raise PayloadError(
        PayloadReason.UNKNOWN_EVENT_TYPE,
        f"unknown {label} event kind: {type_field} {declared!r}, {seen}",
    )


def _payload(event: dict[str, Any], key: str) -> dict[str, Any]:
    value = event[key]
    if not isinstance(value, dict):
        raise PayloadError(
            PayloadReason.INVALID_FIELD,
            f"{key} should be an object, got {type(value).__name__}",
        )
    return value
