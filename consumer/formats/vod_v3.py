"""VOD v3 ``EventContent`` (push body or one PullEvents element) -> ParsedEvent.

Table-driven: :data:`KINDS` maps every payload key (old and new spellings, e.g. ``EditMediaComplete``
and ``EditMediaCompleteEvent``) to the event type and a small extractor. The populated payload key
decides the kind (``consumer.formats.resolve``), so a mislabeled or missing ``EventType`` still
resolves; a known EventType without its payload, or an unknown kind, is ``unknown_event_type``.

``succeeded`` per kind (see also ``consumer.formats.single_task``):

* tasks with subtasks (ProcedureStateChanged, ReduceMediaBitrateComplete, SplitMedia,
  ComplexAdaptiveDynamicStreaming, ProcessMediaByMPS): task status FINISH, no task error, and every
  subtask SUCCESS with no error. PROCESSING is never succeeded.
* one-output tasks: status FINISH/SUCCESS or absent (2017 kinds have none), ErrCode 0 or absent,
  ErrCodeExt ""/SUCCESS or absent, no failed per-file entry; WechatMiniProgramPublish also needs
  PublishResult Pass.
* file events (NewFileUpload, FileDeleted, PersistenceComplete) and MediaCastStatusChanged report
  something that happened and carry no error: always succeeded. RestoreMediaComplete: its int
  Status is the result code (0 = restored).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

from consumer.formats import ParsedEvent
from consumer.formats.event_data_draft import EventDataDraft, result, task_ok
from consumer.formats.fields import objects, text
from consumer.formats.outputs import collect_outputs
from consumer.formats.resolve import resolve_payload
from consumer.formats.single_task import TaskSpec, header, single_task
from consumer.formats.task_results import as_output, procedure_results, subtask_result

Extractor = Callable[[dict[str, Any], str], EventDataDraft]


def _with_subtasks(results_of: Callable[[dict[str, Any], str], list[dict[str, Any]]]) -> Extractor:
    def extract(payload: dict[str, Any], where: str) -> EventDataDraft:
        fields = header(payload, where)
        fields.results = results_of(payload, where)
        fields.succeeded = task_ok(
            fields.status, fields.err_code, text(payload, "ErrCodeExt", where)
        ) and all(r["succeeded"] for r in fields.results)
        return fields

    return extract


def _result_list(list_key: str, kind_key: str | None, kind: str) -> Callable[..., list[dict[str, Any]]]:
    """Subtasks given as a plain list of task objects (type from ``kind_key`` or fixed)."""

    def results(payload: dict[str, Any], where: str) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for i, item in enumerate(objects(payload, list_key, where)):
            path = f"{where}.{list_key}[{i}]"
            item_kind = (text(item, kind_key, path) if kind_key else None) or kind
            out.append(subtask_result(item_kind, item, path))
        return out

    return results


def _split_segments(payload: dict[str, Any], where: str) -> list[dict[str, Any]]:
    # A split segment has no status of its own: it exists when the task produced it.
    return [
        result("SplitMedia", outputs=collect_outputs(seg.get("Output")),
               output=as_output(seg.get("Output")), succeeded=True)
        for seg in objects(payload, "FileInfoSet", where)
    ]


def _file_delete(payload: dict[str, Any], where: str) -> EventDataDraft:
    id_set = payload.get("FileIdSet")
    ids = [str(i) for i in id_set] if isinstance(id_set, list) else []
    infos = objects(payload, "FileDeleteResultInfo", where) or [{"FileId": i} for i in ids]
    # One file id only when the event is about exactly one file; several are listed in results.
    return EventDataDraft(
        file_id=ids[0] if len(ids) == 1 else None,
        results=[result("FileDelete", output=info, succeeded=True) for info in infos],
    )


def _media_cast(payload: dict[str, Any], where: str) -> EventDataDraft:
    # A state change of a cast job (Working/Stopped/Idle...), not a task outcome.
    return EventDataDraft(task_id=text(payload, "CastId", where), status=text(payload, "Status", where))


@dataclass(frozen=True, slots=True)
class Kind:
    """One VOD event kind: its EventType and how to extract it."""

    event_type: str
    extract: Extractor


def _task(result_type: str | None, output: str | tuple[str, ...] = "Output", **kw: Any) -> Extractor:
    return partial(single_task, spec=TaskSpec(result_type, output, **kw))


_PROCEDURE = _with_subtasks(procedure_results)
_PUBLISH_OK = ("PublishResult", frozenset({"Pass"}))

KINDS: dict[str, Kind] = {
    "FileUploadEvent": Kind("NewFileUpload", _task(None)),
    "ProcedureStateChangeEvent": Kind("ProcedureStateChanged", _PROCEDURE),
    "FileDeleteEvent": Kind("FileDeleted", _file_delete),
    "PullCompleteEvent": Kind("PullComplete", _task(None)),
    "EditMediaCompleteEvent": Kind("EditMediaComplete", _task("EditMedia")),
    "EditMediaComplete": Kind("EditMediaComplete", _task("EditMedia")),
    "SplitMediaCompleteEvent": Kind("SplitMediaComplete", _with_subtasks(_split_segments)),
    "ComposeMediaCompleteEvent": Kind("ComposeMediaComplete", _task("ComposeMedia")),
    "ClipCompleteEvent": Kind("ClipComplete", _task("Clip", "FileInfo")),
    "TranscodeCompleteEvent": Kind(
        "TranscodeComplete", _task("Transcode", ("Duration", "CoverUrl", "PlayInfoSet"))
    ),
    "CreateImageSpriteCompleteEvent": Kind(
        "CreateImageSpriteComplete",
        _task("ImageSprites", ("Definition", "TotalCount", "ImageSpriteUrlSet", "WebVttUrl")),
    ),
    "ConcatCompleteEvent": Kind("ConcatComplete", _task("Concat", ("FileInfoSet",))),
    "SnapshotByTimeOffsetCompleteEvent": Kind(
        "CreateSnapshotByTimeOffsetComplete",
        _task("SnapshotByTimeOffset", ("Definition", "SnapshotInfoSet")),
    ),
    "WechatPublishCompleteEvent": Kind(
        "WechatPublishComplete",
        _task("WechatPublish", ("WechatStatus", "WechatVid", "WechatUrl")),
    ),
    "WechatPublishComplete": Kind(
        "WechatPublishComplete",
        _task("WechatPublish", ("WechatStatus", "WechatVid", "WechatUrl")),
    ),
    "WechatMiniProgramPublishCompleteEvent": Kind(
        "WechatMiniProgramPublishComplete",
        _task("WechatMiniProgramPublish", ("PublishResult",), must_equal=_PUBLISH_OK),
    ),
    "RemoveWatermarkCompleteEvent": Kind("RemoveWatermark", _task("RemoveWatermark")),
    "RestoreMediaCompleteEvent": Kind("RestoreMediaComplete", _task(None)),
    "RebuildMediaCompleteEvent": Kind("RebuildMediaComplete", _task("RebuildMedia")),
    "ExtractTraceWatermarkCompleteEvent": Kind(
        "ExtractTraceWatermarkComplete", _task("ExtractTraceWatermark")
    ),
    "ExtractCopyRightWatermarkCompleteEvent": Kind(
        "ExtractCopyRightWatermarkComplete", _task("ExtractCopyRightWatermark")
    ),
    "ExtractBlindWatermarkComplete": Kind(
        "ExtractBlindWatermarkComplete",
        _task("ExtractBlindWatermark", ("Type", "IsDetected", "Result", "ResultUV")),
    ),
    "ReviewAudioVideoCompleteEvent": Kind("ReviewAudioVideoComplete", _task("ReviewAudioVideo")),
    "ReduceMediaBitrateCompleteEvent": Kind("ReduceMediaBitrateComplete", _PROCEDURE),
    "DescribeFileAttributesCompleteEvent": Kind(
        "DescribeFileAttributesComplete", _task("DescribeFileAttributes")
    ),
    "QualityInspectCompleteEvent": Kind("QualityInspectComplete", _task("QualityInspect")),
    "QualityEnhanceCompleteEvent": Kind("QualityEnhanceComplete", _task("QualityEnhance")),
    "MediaCastStatusChangedEvent": Kind("MediaCastStatusChanged", _media_cast),
    "PersistenceCompleteEvent": Kind("PersistenceComplete", _task(None)),
    "ComplexAdaptiveDynamicStreamingCompleteEvent": Kind(
        "ComplexAdaptiveDynamicStreamingComplete",
        _with_subtasks(
            _result_list(
                "ComplexAdaptiveDynamicStreamingTaskResultSet", None,
                "ComplexAdaptiveDynamicStreaming",
            )
        ),
    ),
    "ProcessMediaByMPSCompleteEvent": Kind(
        "ProcessMediaByMPSComplete",
        _with_subtasks(_result_list("SubTaskSet", "TaskType", "MPS")),
    ),
    "AigcImageCompleteEvent": Kind("AigcImageTaskComplete", _task("AigcImage")),
    "AigcVideoCompleteEvent": Kind("AigcVideoTaskComplete", _task("AigcVideo")),
    "AigcHunyuan3DCompleteEvent": Kind("AigcHunyuan3DTaskComplete", _task("AigcHunyuan3D")),
    "DescribeAigcFaceInfoAsyncCompleteEvent": Kind(
        "DescribeAigcFaceInfoAsyncComplete", _task("DescribeAigcFaceInfoAsync")
    ),
    "SceneAigcImageCompleteEvent": Kind("SceneAigcImageCompleteEvent", _task("SceneAigcImage")),
    "ProcessImageAsyncCompleteEvent": Kind("ProcessImageAsyncCompleteEvent", _task(None)),
    "CreateAigcAdvancedCustomElementCompleteEvent": Kind(
        "CreateAigcAdvancedCustomElementCompleteEvent", _task("CreateAigcAdvancedCustomElement")
    ),
    "CreateAigcCustomVoiceCompleteEvent": Kind(
        "CreateAigcCustomVoiceCompleteEvent", _task("CreateAigcCustomVoice")
    ),
}
EVENT_TYPES: dict[str, str] = {key: kind.event_type for key, kind in KINDS.items()}
# EventType -> extractor, for legacy v2 envelopes that carry a v3 (PascalCase) payload in `data`.
BY_EVENT_TYPE: dict[str, Kind] = {}
for _kind in KINDS.values():
    BY_EVENT_TYPE.setdefault(_kind.event_type, _kind)


def parse_vod_v3(event: dict[str, Any]) -> ParsedEvent:
    """One canonical VOD v3 EventContent (EventHandle removed, nulls stripped)."""
    key, payload = resolve_payload(event, EVENT_TYPES, "EventType", "VOD")
    kind = KINDS[key]
    fields = kind.extract(payload, key)
    return fields.to_parsed("vod", "vod-v3", kind.event_type, event)
