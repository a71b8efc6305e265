"""Which Tencent wire format one canonical vendor event object is in.

The formats share no common field, so detection looks at the shape:

* ``version`` + ``eventType`` (lowercase)                   -> VOD legacy v2 ("version": "4.0")
* ``NotificationType``                                       -> MPS live-stream notification
* an MPS ``EventType`` or a populated MPS ``*TaskEvent`` key  -> MPS (and VTS) task notification
* ``EventType`` or any populated VOD ``*Event`` key           -> VOD v3
"""

from __future__ import annotations

from typing import Any, Literal

from consumer.errors import PayloadError, PayloadReason

WireFormatName = Literal["vod-v3", "vod-v2", "mps", "mps-live"]

MPS_EVENT_TYPES = frozenset(
    {"WorkflowTask", "EditMediaTask", "ScheduleTask", "BatchTask", "ExtractBlindWatermark"}
)
MPS_EVENT_KEYS = frozenset(
    {
        "WorkflowTaskEvent",
        "EditMediaTaskEvent",
        "ScheduleTaskEvent",
        "BatchTaskEvent",
        "ExtractBlindWatermarkTask",
    }
)


def detect_format(event: dict[str, Any]) -> WireFormatName:
    """The wire format of ``event`` (null fields already removed).

    Raises:
        PayloadError: ``unknown_format``, naming the top-level keys that were seen.
    """
    for key in ("EventType", "eventType", "NotificationType"):
        if key in event and not isinstance(event[key], str):
            raise PayloadError(
                PayloadReason.INVALID_FIELD,
                f"{key} should be a string, got {type(event[key]).__name__}",
            )
    if "eventType" in event and ("version" in event or "data" in event):
        return "vod-v2"
    if "NotificationType" in event:
        return "mps-live"
    if event.get("EventType") in MPS_EVENT_TYPES or not MPS_EVENT_KEYS.isdisjoint(event):
        return "mps"
    if "EventType" in event or any(
        isinstance(value, dict) and (key.endswith(("Event", "Complete")))
        for key, value in event.items()
    ):
        return "vod-v3"
    keys = ", ".join(sorted(event)[:12]) or "none"
    raise PayloadError(
        PayloadReason.UNKNOWN_FORMAT,
        f"not a known Tencent notification format (top-level keys: {keys})",
    )
