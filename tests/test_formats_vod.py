"""VOD v3 and legacy v2 parsing rules: kind resolution, success semantics, field mapping."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest

from consumer.errors import PayloadError, PayloadReason
from consumer.events import MediaEventData
from consumer.formats.vod_v3 import EVENT_TYPES
from consumer.normalize import normalize
from tests.samples import SAMPLES_DIR


def _sample(stem: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((SAMPLES_DIR / f"{stem}.json").read_text(encoding="utf-8"))
    return loaded


def _one(doc: Any) -> MediaEventData:
    events = normalize(orjson.dumps(doc))
    assert len(events) == 1
    return events[0].event.data


def _procedure(**changes: Any) -> dict[str, Any]:
    doc = _sample("vod__ProcedureStateChanged__push-body-v3")
    doc["ProcedureStateChangeEvent"].update(changes)
    return doc


def _without_raw(data: MediaEventData) -> dict[str, Any]:
    return data.model_dump(mode="json", exclude={"raw"})


def test_mislabeled_event_type_resolved_from_populated_event_key() -> None:
    """EventType NewFileUpload with a populated PullCompleteEvent is a PullComplete event."""
    doc = _sample("vod__PullComplete__push-body-v3")
    doc["EventType"] = "NewFileUpload"
    data = _one(doc)
    assert data.event_type == "PullComplete"
    assert data.task_id == "125676836723-Pull-f5ac8127b3b6b85cdc13f237c6005d8"
    assert data.raw["EventType"] == "NewFileUpload"  # raw keeps what the vendor said


def test_missing_event_type_resolved_from_payload() -> None:
    """A payload without EventType (a ComposeMedia doc sample) still resolves its kind."""
    doc = _sample("vod__ComposeMediaComplete__push-body-v3")
    del doc["EventType"]
    data = _one(doc)
    assert data.event_type == "ComposeMediaComplete"
    assert data.file_id == "5285485487985271490"  # an int FileId in the sample, as a string


def test_known_event_type_without_its_payload_is_unknown_event_type() -> None:
    """EventType ProcedureStateChanged with a null payload names the missing key."""
    doc = {"EventType": "ProcedureStateChanged", "ProcedureStateChangeEvent": None}
    with pytest.raises(PayloadError) as caught:
        normalize(orjson.dumps(doc))
    assert caught.value.reason is PayloadReason.UNKNOWN_EVENT_TYPE
    assert "ProcedureStateChangeEvent" in caught.value.detail
    assert "missing" in caught.value.detail


def test_unknown_event_kind_is_unknown_event_type() -> None:
    """An event kind this bridge does not know is refused, naming its payload key."""
    doc = {"EventType": "TeleportComplete", "TeleportCompleteEvent": {"TaskId": "t"}}
    with pytest.raises(PayloadError) as caught:
        normalize(orjson.dumps(doc))
    assert caught.value.reason is PayloadReason.UNKNOWN_EVENT_TYPE
    assert "TeleportCompleteEvent" in caught.value.detail
    assert "TeleportComplete" in caught.value.detail


def test_two_populated_payloads_resolve_by_event_type_only() -> None:
    """Two populated payloads are resolved by EventType, else refused as ambiguous."""
    upload = _sample("vod__NewFileUpload__push-body-v3")["FileUploadEvent"]
    pull = _sample("vod__PullComplete__push-body-v3")["PullCompleteEvent"]
    doc = {"EventType": "NewFileUpload", "FileUploadEvent": upload, "PullCompleteEvent": pull}
    assert _one(doc).event_type == "NewFileUpload"
    doc["EventType"] = "Other"
    with pytest.raises(PayloadError) as caught:
        normalize(orjson.dumps(doc))
    assert caught.value.reason is PayloadReason.UNKNOWN_EVENT_TYPE


@pytest.mark.parametrize(
    ("old_key", "new_key"),
    [("EditMediaComplete", "EditMediaCompleteEvent"),
     ("WechatPublishComplete", "WechatPublishCompleteEvent")],
)
def test_old_and_new_payload_key_spellings_normalize_alike(old_key: str, new_key: str) -> None:
    """Older doc samples' key names give the same data as the SDK's names (raw aside)."""
    payload = {"TaskId": "t-1", "Status": "FINISH", "ErrCode": 0, "FileId": "f-1",
               "Output": {"FileId": "f-2", "FileUrl": "http://x/y.mp4"}}
    old = _one({"EventType": old_key, old_key: payload})
    new = _one({"EventType": old_key, new_key: payload})
    assert _without_raw(old) == _without_raw(new)
    assert old.succeeded


def test_every_documented_vod_event_type_has_a_payload_key() -> None:
    """The event types listed in the SDK's EventContent docs all have an extractor."""
    documented = {
        "NewFileUpload", "ProcedureStateChanged", "FileDeleted", "RestoreMediaComplete",
        "PullComplete", "EditMediaComplete", "SplitMediaComplete", "ComposeMediaComplete",
        "WechatMiniProgramPublishComplete", "RemoveWatermark", "RebuildMediaComplete",
        "ReviewAudioVideoComplete", "ExtractTraceWatermarkComplete",
        "ExtractCopyRightWatermarkComplete", "DescribeFileAttributesComplete",
        "QualityInspectComplete", "QualityEnhanceComplete", "PersistenceComplete",
        "ComplexAdaptiveDynamicStreamingComplete", "ProcessMediaByMPSComplete",
        "AigcImageTaskComplete", "AigcVideoTaskComplete", "AigcHunyuan3DTaskComplete",
        "DescribeAigcFaceInfoAsyncComplete", "TranscodeComplete", "ConcatComplete",
        "ClipComplete", "CreateImageSpriteComplete", "CreateSnapshotByTimeOffsetComplete",
        "WechatPublishComplete", "MediaCastStatusChanged", "ExtractBlindWatermarkComplete",
        "ReduceMediaBitrateComplete",
    }
    assert documented - set(EVENT_TYPES.values()) == set()


def test_finished_procedure_with_one_failed_subtask_is_not_succeeded() -> None:
    """FINISH with a FAIL subtask: the task is not a success, and the subtask says why."""
    doc = _procedure()
    cover = doc["ProcedureStateChangeEvent"]["MediaProcessResultSet"][1]["CoverBySnapshotTask"]
    cover.update(Status="FAIL", ErrCode=30010, Message="TencentVodPlatErr Or Unkown")
    del cover["Output"]
    data = _one(doc)
    assert data.status == "FINISH"
    assert not data.succeeded
    assert [r.succeeded for r in data.results] == [True, False]
    assert data.results[1].err_code == 30010
    assert data.results[1].outputs == []


def test_processing_procedure_is_not_succeeded() -> None:
    """A PROCESSING task (Change notify mode) is never reported as succeeded."""
    data = _one(_procedure(Status="PROCESSING"))
    assert data.status == "PROCESSING"
    assert not data.succeeded


def test_err_code_ext_failure_fails_the_subtask() -> None:
    """A subtask with only the newer string ErrCodeExt fails when that code is not empty."""
    doc = _procedure()
    task = doc["ProcedureStateChangeEvent"]["MediaProcessResultSet"][0]["TranscodeTask"]
    del task["ErrCode"]
    task.update(Status="FAIL", ErrCodeExt="SourceFileError")
    data = _one(doc)
    assert data.results[0].err_code is None
    assert not data.results[0].succeeded
    assert not data.succeeded


def test_subtask_results_carry_type_definition_outputs_and_output() -> None:
    """Each subtask becomes a TaskResult with its template, produced URLs and vendor output."""
    results = _one(_procedure()).results
    transcode, cover = results
    assert (transcode.type, transcode.status, transcode.definition) == ("Transcode", "SUCCESS", 20)
    assert transcode.outputs == ["https://1256768367.vod2.myqcloud.com/xxx/xxx/v.f20.mp4"]
    assert transcode.output is not None
    assert transcode.output["Size"] == 4189073
    assert cover.type == "CoverBySnapshot"
    assert cover.outputs == ["http://1256768367.vod2.myqcloud.com/xxx/xxx/xxx.100_0.jpg"]


def test_metadata_is_snake_case_with_vendor_units() -> None:
    """MetaData maps to snake_case fields; bytes, seconds, bps and Hz as the vendor gives them."""
    meta = _one(_procedure()).metadata
    assert meta is not None
    assert (meta.size, meta.duration, meta.audio_duration) == (7700180, 60.0, 59.990001678467)
    assert (meta.bitrate, meta.width, meta.height, meta.rotate) == (1021028, 640, 480, 0)
    assert meta.video_streams[0].codec == "h264"
    assert meta.video_streams[0].fps == 23.0
    assert meta.audio_streams[0].sampling_rate == 48000


def test_null_and_missing_fields_normalize_identically() -> None:
    """A PullEvents-style copy full of nulls gives the same id and data as the bare push body."""
    bare = _sample("vod__ProcedureStateChanged__push-body-v3")
    nulled = copy.deepcopy(bare)
    nulled.update({"FileUploadEvent": None, "PullCompleteEvent": None})
    event = nulled["ProcedureStateChangeEvent"]
    event.update({"SessionId": None, "AiContentReviewResultSet": None})
    for item in event["MediaProcessResultSet"]:
        item.update({"AnimatedGraphicTask": None, "ImageSpriteTask": None})
        next(v for k, v in item.items() if k.endswith("Task") and v)["Input"]["WatermarkSet"] = None
    first, second = normalize(orjson.dumps(bare))[0], normalize(orjson.dumps(nulled))[0]
    assert first.event.id == second.event.id
    assert first.event.data == second.event.data


def test_wrong_field_type_is_an_invalid_field_error() -> None:
    """A field of the wrong type is refused as invalid_field, naming the field."""
    with pytest.raises(PayloadError) as caught:
        normalize(orjson.dumps(_procedure(TaskId=["not", "a", "string"])))
    assert caught.value.reason is PayloadReason.INVALID_FIELD
    assert "TaskId" in caught.value.detail


def test_finish_time_in_the_payload_becomes_the_event_time() -> None:
    """A task-level FinishTime is the vendor's event time; without one, time stays empty."""
    assert normalize(orjson.dumps(_procedure()))[0].event.time is None
    timed = normalize(orjson.dumps(_procedure(FinishTime="2022-09-15T09:56:22Z")))[0]
    assert timed.event.time == datetime(2022, 9, 15, 9, 56, 22, tzinfo=UTC)


def test_file_deleted_lists_every_file_and_names_one_only_when_single() -> None:
    """Each deleted file is a result; file_id (and subject) is set only for a single file."""
    many = _one(_sample("vod__FileDeleted__push-body-v3"))
    assert [r.output for r in many.results] == [
        {"FileId": "24961954183381008"}, {"FileId": "24961954183381009"},
        {"FileId": "24961954183381010"},
    ]
    assert many.file_id is None
    assert many.succeeded
    single = _one({"EventType": "FileDeleted", "FileDeleteEvent": {"FileIdSet": ["42"]}})
    assert single.file_id == "42"


def test_restore_media_integer_status_is_a_result_code() -> None:
    """RestoreMediaComplete's deprecated int Status is an error code: 0 succeeded, else failed."""
    ok = _one(_sample("vod__RestoreMediaComplete__push-body-v3"))
    assert (ok.status, ok.err_code, ok.succeeded, ok.task_id) == (None, 0, True, None)
    failed_doc = _sample("vod__RestoreMediaComplete__push-body-v3")
    failed_doc["RestoreMediaCompleteEvent"]["Status"] = 10008
    assert not _one(failed_doc).succeeded


def test_wechat_mini_program_rejected_publish_is_not_succeeded() -> None:
    """A FINISHed mini-program publish whose PublishResult is Rejected did not succeed."""
    payload = {"TaskId": "w", "Status": "FINISH", "ErrCode": 0, "FileId": "f",
               "PublishResult": "Rejected"}
    doc = {"EventType": "WechatMiniProgramPublishComplete",
           "WechatMiniProgramPublishCompleteEvent": payload}
    assert not _one(doc).succeeded
    payload["PublishResult"] = "Pass"
    assert _one(doc).succeeded


def test_process_media_by_mps_reads_string_error_codes_of_subtasks() -> None:
    """MPSSubTaskResult.ErrCode is a string in the SDK; "30010" fails that subtask."""
    payload = {"TaskId": "m", "Status": "FINISH", "ErrCode": 0, "SubTaskSet": [
        {"TaskType": "MediaProcess.Transcode", "Status": "SUCCESS", "ErrCode": "0",
         "Input": "{\"Definition\": 100}",
         "Output": {"OutputFiles": [{"FileType": "MediaProcess.Transcode.Video",
                                     "Url": "http://v/x.mp4"}]}},
        {"TaskType": "AiAnalysis.DeLogo", "Status": "FAIL", "ErrCode": "30010"},
    ]}
    data = _one({"EventType": "ProcessMediaByMPSComplete",
                 "ProcessMediaByMPSCompleteEvent": payload})
    assert [(r.type, r.err_code, r.succeeded) for r in data.results] == [
        ("MediaProcess.Transcode", 0, True), ("AiAnalysis.DeLogo", 30010, False)]
    assert data.results[0].outputs == ["http://v/x.mp4"]
    assert not data.succeeded


def test_clip_2017_file_error_fails_the_task() -> None:
    """A 2017-style ClipComplete whose FileInfo carries a non-zero ErrCode failed."""
    doc = _sample("vod__ClipComplete__push-body-v3")
    doc["ClipCompleteEvent"]["FileInfo"].update(ErrCode=70000, Message="internal error")
    data = _one(doc)
    assert (data.err_code, data.message, data.succeeded) == (70000, "internal error", False)


def test_legacy_negative_status_is_a_failure() -> None:
    """A v2 callback's negative status (-43001) is its error code and the task failed."""
    data = _one(_sample("vodlegacy__ClipComplete__v2-callback-failure"))
    assert data.format == "vod-v2"
    assert (data.status, data.err_code, data.succeeded) == (None, -43001, False)
    assert data.results[0].err_code == -43001
    assert not data.results[0].succeeded
    assert data.file_id is None  # the failed clip produced no file
    assert data.input == {"type": "VOD", "file_id": "16092504232103571364"}


def test_legacy_file_info_may_be_an_object_or_a_list() -> None:
    """v2 fileInfo given as a one-element list normalizes like the object form."""
    doc = _sample("vodlegacy__ClipComplete__v2-callback")
    as_object = _one(doc)
    doc["data"]["fileInfo"] = [doc["data"]["fileInfo"]]
    as_list = _one(doc)
    assert as_list.succeeded
    assert as_object.succeeded
    assert as_list.results[0].outputs == as_object.results[0].outputs
    assert as_list.err_code == as_object.err_code == 0


def test_legacy_processing_procedure_reads_camel_case_subtasks() -> None:
    """v2 ProcedureStateChanged: processTaskList/contentReviewList become results; PROCESSING fails."""
    data = _one(_sample("vodlegacy__ProcedureStateChanged__v2-callback"))
    assert [(r.type, r.status, r.definition) for r in data.results] == [
        ("Transcode", "PROCESSING", 10), ("Transcode", "SUCCESS", 20),
        ("SampleSnapshot", "SUCCESS", 10), ("Porn", "SUCCESS", 10)]
    assert not data.succeeded
    assert data.metadata is not None
    assert data.metadata.md5 == "b3ae6ed07d9bf4efeeb94ed2d37ff3e3"
    assert data.metadata.audio_streams[0].sampling_rate == 44100


def test_legacy_envelope_with_pascal_case_data_is_parsed_with_v3_fields() -> None:
    """A v2 envelope holding v3 PascalCase data (old doc pages) uses the v3 extractor."""
    pull = _sample("vod__PullComplete__push-body-v3")["PullCompleteEvent"]
    data = _one({"version": "4.0", "eventType": "PullComplete", "data": pull})
    assert (data.format, data.event_type) == ("vod-v2", "PullComplete")
    assert data.task_id == "125676836723-Pull-f5ac8127b3b6b85cdc13f237c6005d8"
    assert data.succeeded


def test_unknown_legacy_event_type_is_unknown_event_type() -> None:
    """A v2 eventType this bridge does not know is refused, naming it."""
    doc = {"version": "4.0", "eventType": "TeleportComplete", "data": {"status": 0}}
    with pytest.raises(PayloadError) as caught:
        normalize(orjson.dumps(doc))
    assert caught.value.reason is PayloadReason.UNKNOWN_EVENT_TYPE
    assert "TeleportComplete" in caught.value.detail
