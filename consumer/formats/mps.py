"""MPS (and "VTS", which is MPS) notifications -> ParsedEvent.

Task notifications (``EventType`` + one populated ``*TaskEvent``; the populated key decides the
kind, as for VOD): WorkflowTask, EditMediaTask, ScheduleTask, BatchTask, ExtractBlindWatermark.
Live-stream notifications: ``NotificationType`` + the matching ``<NotificationType>Info``.

* ``input`` is the MediaInputInfo mapped to ``{"type": "COS", "bucket", "region", "object"}``
  (URL/AWS-S3/VOD likewise); outputs are COS/S3 objects rendered ``cos://bucket/key``.
* ``session_id``/``session_context`` come from the notification (ParseNotification shape) or the
  task. ``Timestamp`` is a signature expiry, not an event time, so ``time`` stays None unless a
  task carries a FinishTime.
* ``succeeded``: WorkflowTask/ScheduleTask need status FINISH, ErrCode 0 (non-zero only for source
  errors) and every subtask SUCCESS with no error; EditMediaTask/ExtractBlindWatermark need FINISH
  and ErrCode 0. BatchTask carries no status: it succeeded unless a result reports an error.
  Live results (AiReviewResult, LiveRecordResult...) report findings, not failures: succeeded;
  ProcessEof succeeded only with ErrCode 0.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from consumer.formats import ParsedEvent
from consumer.formats.event_data_draft import (
    GOOD_TASK_STATUSES,
    EventDataDraft,
    parse_time,
    result,
    task_ok,
)
from consumer.formats.fields import integer, obj, objects, text
from consumer.formats.metadata import media_metadata
from consumer.formats.outputs import collect_outputs, mps_input
from consumer.formats.resolve import resolve_payload
from consumer.formats.task_results import activity_results, procedure_results, subtask_result

Results = Callable[[dict[str, Any], str], list[dict[str, Any]]]


def _edit_media_results(task: dict[str, Any], where: str) -> list[dict[str, Any]]:
    if obj(task, "Output", where) is None:
        return []
    # The edit task itself is the one "subtask": its status is FINISH, not SUCCESS.
    return [subtask_result("EditMedia", task, where, GOOD_TASK_STATUSES)]


def _batch_results(task: dict[str, Any], where: str) -> list[dict[str, Any]]:
    subtitles = obj(task, "SmartSubtitlesTaskResult", where)
    if subtitles is None:
        return []
    return [result("SmartSubtitles", outputs=collect_outputs(subtitles.get("Outputs")),
                   output=subtitles, succeeded=True)]


def _no_results(task: dict[str, Any], where: str) -> list[dict[str, Any]]:
    return []


# payload key -> (EventType, results extractor)
_TASK_KINDS: dict[str, tuple[str, Results]] = {
    "WorkflowTaskEvent": ("WorkflowTask", procedure_results),
    "EditMediaTaskEvent": ("EditMediaTask", _edit_media_results),
    "ScheduleTaskEvent": ("ScheduleTask", activity_results),
    "BatchTaskEvent": ("BatchTask", _batch_results),
    "ExtractBlindWatermarkTask": ("ExtractBlindWatermark", _no_results),
}
_EVENT_TYPES = {key: kind for key, (kind, _) in _TASK_KINDS.items()}


def _input_of(task: dict[str, Any]) -> dict[str, Any] | None:
    if "InputInfo" in task:
        return mps_input(task["InputInfo"])
    infos = task.get("InputInfos")  # BatchTask
    if infos is None:  # EditMediaTask: Input.FileInfoSet[{InputInfo}]
        files = task.get("Input", {}).get("FileInfoSet") if isinstance(task.get("Input"), dict) else None
        infos = [f.get("InputInfo") for f in files if isinstance(f, dict)] if isinstance(files, list) else None
    if not isinstance(infos, list) or not infos:
        return None
    mapped = [m for m in (mps_input(i) for i in infos) if m is not None]
    # Several inputs (an edit of many clips, a batch) are listed; one input is given as is.
    return mapped[0] if len(mapped) == 1 else {"type": "MULTIPLE", "items": mapped}


def _metadata_source(task: dict[str, Any]) -> Any:
    if "MetaData" in task:
        return task["MetaData"]
    output = task.get("Output")
    return output.get("MetaData") if isinstance(output, dict) else None


def _notification_or_task(event: dict[str, Any], task: dict[str, Any], name: str, key: str) -> str | None:
    value = text(event, name, "event")
    return value if value is not None else text(task, name, key)


def parse_mps(event: dict[str, Any]) -> ParsedEvent:
    """One canonical MPS task notification (CMQ msgBody, URL callback or ParseNotification)."""
    key, task = resolve_payload(event, _EVENT_TYPES, "EventType", "MPS")
    event_type, results_of = _TASK_KINDS[key]
    status = text(task, "Status", key)
    err_code = integer(task, "ErrCode", key)
    results = results_of(task, key)
    meta = _metadata_source(task)
    fields = EventDataDraft(
        task_id=text(task, "TaskId", key),
        status=status,
        err_code=err_code,
        message=text(task, "Message", key),
        input=_input_of(task),
        metadata=media_metadata(meta if isinstance(meta, dict) else None, f"{key}.MetaData"),
        results=results,
        succeeded=task_ok(status, err_code, text(task, "ErrCodeExt", key))
        and all(r["succeeded"] for r in results),
        session_id=_notification_or_task(event, task, "SessionId", key),
        session_context=_notification_or_task(event, task, "SessionContext", key),
        time=parse_time(task.get("FinishTime"), f"{key}.FinishTime"),
    )
    return fields.to_parsed("mps", "mps", event_type, event)


# NotificationType -> its payload key (documented: AiReviewResult ... ProcessEof).
_LIVE_TYPES = (
    "AiReviewResult", "AiRecognitionResult", "LiveRecordResult", "AiQualityControlResult",
    "AiAnalysisResult", "AiSmartSubtitleResult", "ProcessEof",
)
_LIVE_KEYS = {f"{kind}Info": kind for kind in _LIVE_TYPES}


def _live_results(kind: str, info: dict[str, Any], where: str) -> list[dict[str, Any]]:
    if kind == "ProcessEof":
        return []
    items = objects(info, "ResultSet", where) if "ResultSet" in info else []
    if not items:
        return [result(kind, outputs=collect_outputs(info), output=info, succeeded=True)]
    return [
        result(text(item, "Type", f"{where}.ResultSet[{i}]") or kind,
               outputs=collect_outputs(item), output=item, succeeded=True)
        for i, item in enumerate(items)
    ]


def parse_mps_live(event: dict[str, Any]) -> ParsedEvent:
    """One canonical MPS live-stream notification (ParseLiveStreamProcessNotification shape)."""
    key, info = resolve_payload(event, _LIVE_KEYS, "NotificationType", "MPS live-stream")
    kind = _LIVE_KEYS[key]
    err_code = integer(info, "ErrCode", key)
    fields = EventDataDraft(
        task_id=text(event, "TaskId", "event"),
        err_code=err_code,
        message=text(info, "Message", key),
        results=_live_results(kind, info, key),
        succeeded=not err_code,
        session_id=text(event, "SessionId", "event"),
        session_context=text(event, "SessionContext", "event"),
    )
    return fields.to_parsed("mps", "mps-live", kind, event)
