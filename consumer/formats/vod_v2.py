"""Legacy VOD 2.0 callbacks ``{"version": "4.0", "eventType": X, "data": {...}}`` -> ParsedEvent.

``data`` is camelCase: ``vodTaskId``, ``fileId``, ``metaData{videoStreamList, audioStreamList}``,
``processTaskList``/``contentReviewList``/``aIAnalysisList`` items ``{taskType, status, errCode,
message, input, output}``. Outside ProcedureStateChanged, ``status`` is an **integer result code**
(0 ok, non-zero — often negative, e.g. -43001 — failed): it becomes ``err_code`` and ``succeeded``
is False when it is non-zero (``consumer.formats.single_task``). ``fileInfo`` may be an object or a
list. Some old doc pages put v3 PascalCase keys inside the v2 envelope: such ``data`` is parsed
with the v3 extractor of the same event type, and ``format`` stays ``vod-v2``.

ProcedureStateChanged: ``status`` is PROCESSING/FINISH with ``errCode``; succeeded needs FINISH,
errCode 0 and every listed subtask SUCCESS with errCode 0.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from consumer.errors import PayloadError, PayloadReason
from consumer.formats import ParsedEvent
from consumer.formats.event_data_draft import GOOD_SUBTASK_STATUSES, EventDataDraft, result, task_ok
from consumer.formats.fields import integer, obj, objects, text
from consumer.formats.outputs import collect_outputs
from consumer.formats.single_task import V2_KEYS, TaskSpec, header, single_task
from consumer.formats.task_results import as_output, definition_of
from consumer.formats.vod_v3 import BY_EVENT_TYPE

_SUBTASK_LISTS = ("processTaskList", "contentReviewList", "aIAnalysisList", "aiAnalysisList",
                  "aiRecognitionList")


def _legacy_subtask(item: dict[str, Any], where: str) -> dict[str, Any]:
    status = text(item, "status", where)
    err_code = integer(item, "errCode", where)
    output = item.get("output")
    return result(
        text(item, "taskType", where) or "Unknown",
        status=status,
        err_code=err_code,
        message=text(item, "message", where),
        definition=definition_of(item.get("input"), output),
        outputs=collect_outputs(output) if output is not None else [],
        output=as_output(output),
        succeeded=task_ok(status, err_code, None, GOOD_SUBTASK_STATUSES),
    )


def _procedure(data: dict[str, Any], where: str) -> EventDataDraft:
    fields = header(data, where, V2_KEYS)
    fields.results = [
        _legacy_subtask(item, f"{where}.{key}[{i}]")
        for key in _SUBTASK_LISTS if key in data
        for i, item in enumerate(objects(data, key, where))
    ]
    fields.succeeded = task_ok(fields.status, fields.err_code, None) and all(
        r["succeeded"] for r in fields.results
    )
    return fields


def _file_deleted(data: dict[str, Any], where: str) -> EventDataDraft:
    fields = header(data, where, V2_KEYS)
    infos = data.get("fileInfo")
    entries = [infos] if isinstance(infos, dict) else objects(data, "fileInfo", where)
    ids = [text(entry, "fileId", where) for entry in entries]
    fields.file_id = fields.file_id or (ids[0] if len(ids) == 1 else None)
    fields.results = [result("FileDelete", output=entry, succeeded=True) for entry in entries]
    fields.succeeded = task_ok(None, fields.err_code, None)
    return fields


def _task(result_type: str | None, output: str | tuple[str, ...] = "output") -> Callable[..., EventDataDraft]:
    return partial(single_task, spec=TaskSpec(result_type, output), keys=V2_KEYS)


LEGACY_KINDS: dict[str, Callable[[dict[str, Any], str], EventDataDraft]] = {
    "NewFileUpload": _task(None),
    "PullComplete": _task(None),
    "FileDeleted": _file_deleted,
    "ProcedureStateChanged": _procedure,
    "TranscodeComplete": _task("Transcode", ("duration", "coverUrl", "playSet")),
    "CreateSnapshotByTimeOffsetComplete": _task("SnapshotByTimeOffset", ("definition", "picInfo")),
    "CreateImageSpriteComplete": _task(
        "ImageSprites", ("definition", "totalCount", "imageSpriteUrl", "webVttUrl")
    ),
    "ClipComplete": _task("Clip", "fileInfo"),
    "ConcatComplete": _task("Concat", ("fileInfo",)),
    # Only an archived draft documents it (pornImgUrl[{pic_time, pic_url}]); parsed leniently.
    "PorncheckComplete": _task("Porncheck", ("pornImgUrl",)),
}


def parse_vod_v2(event: dict[str, Any]) -> ParsedEvent:
    """One canonical legacy v2 callback (or legacy PullEvent ``eventContent``)."""
    event_type = text(event, "eventType", "event")
    data = obj(event, "data", "event")
    if data is None:
        raise PayloadError(
            PayloadReason.INVALID_FIELD,
            f"VOD legacy (v2) {event_type!r} callback has no data object",
        )
    if any(key[:1].isupper() for key in data):
        kind = BY_EVENT_TYPE.get(event_type or "")
        if kind is None:
            raise PayloadError(
                PayloadReason.UNKNOWN_EVENT_TYPE,
                f"unknown VOD eventType {event_type!r} (v2 envelope with PascalCase data)",
            )
        fields = kind.extract(data, "data")
        return fields.to_parsed("vod", "vod-v2", kind.event_type, event)
    extract = LEGACY_KINDS.get(event_type or "")
    if extract is None or event_type is None:
        raise PayloadError(
            PayloadReason.UNKNOWN_EVENT_TYPE,
            f"unknown VOD legacy (v2) eventType {event_type!r}; known: "
            + ", ".join(sorted(LEGACY_KINDS)),
        )
    return extract(data, "data").to_parsed("vod", "vod-v2", event_type, event)
