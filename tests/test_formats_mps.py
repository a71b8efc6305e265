"""MPS task and live-stream notification parsing rules."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest

from consumer.errors import PayloadError, PayloadReason
from consumer.events import MediaEventData, NormalizedEvent
from consumer.normalize import normalize
from tests.samples import SAMPLES_DIR

FAILED_SUBTASK = "mps__WorkflowTask__cmq-msgbody-doc-with-failed-subtask"


def _sample(stem: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((SAMPLES_DIR / f"{stem}.json").read_text(encoding="utf-8"))
    return loaded


def _event(doc: Any) -> NormalizedEvent:
    events = normalize(orjson.dumps(doc))
    assert len(events) == 1
    return events[0]


def _one(doc: Any) -> MediaEventData:
    return _event(doc).event.data


def test_mps_workflow_with_failed_subtask_is_not_succeeded() -> None:
    """A FINISHed WorkflowTask whose AnimatedGraphics subtask FAILed (30010) did not succeed."""
    data = _one(_sample(FAILED_SUBTASK))
    assert (data.vendor, data.format, data.event_type) == ("mps", "mps", "WorkflowTask")
    assert (data.status, data.err_code) == ("FINISH", 0)
    assert not data.succeeded
    failed = [r for r in data.results if not r.succeeded]
    assert [(r.type, r.status, r.err_code) for r in failed] == [("AnimatedGraphics", "FAIL", 30010)]


def test_mps_workflow_with_all_subtasks_successful_succeeded() -> None:
    """The same task with the failing subtask removed is a success."""
    doc = _sample(FAILED_SUBTASK)
    results = doc["WorkflowTaskEvent"]["MediaProcessResultSet"]
    doc["WorkflowTaskEvent"]["MediaProcessResultSet"] = [
        item for item in results if item["Type"] != "AnimatedGraphics"
    ]
    assert _one(doc).succeeded


def test_mps_source_error_at_task_level_is_a_failure() -> None:
    """A non-zero task ErrCode (source error) fails the task even with no subtask."""
    doc = {"EventType": "WorkflowTask", "WorkflowTaskEvent": {
        "TaskId": "t", "Status": "FINISH", "ErrCode": 40000, "Message": "bad source"}}
    data = _one(doc)
    assert (data.err_code, data.message, data.succeeded) == (40000, "bad source", False)


def test_mps_input_info_is_mapped_to_a_cos_location() -> None:
    """InputInfo becomes {"type": "COS", "bucket", "region", "object"}."""
    assert _one(_sample(FAILED_SUBTASK)).input == {
        "type": "COS", "bucket": "macgzptest-125****654", "region": "ap-guangzhou",
        "object": "/dianping2.mp4"}


@pytest.mark.parametrize(
    ("info", "expected"),
    [({"Type": "URL", "UrlInputInfo": {"Url": "https://a/b.mp4"}},
      {"type": "URL", "url": "https://a/b.mp4"}),
     ({"Type": "AWS-S3", "S3InputInfo": {"S3Bucket": "b", "S3Region": "us-east-1",
                                         "S3Object": "o.mp4", "S3SecretKey": "secret"}},
      {"type": "AWS-S3", "bucket": "b", "region": "us-east-1", "object": "o.mp4"})],
    ids=["url", "s3-without-credentials"],
)
def test_mps_url_and_s3_inputs_are_mapped(info: dict[str, Any], expected: dict[str, Any]) -> None:
    """URL and AWS-S3 inputs map too; S3 credentials are never copied into the event."""
    doc = {"EventType": "WorkflowTask",
           "WorkflowTaskEvent": {"TaskId": "t", "Status": "FINISH", "InputInfo": info}}
    assert _one(doc).input == expected


def test_mps_outputs_are_cos_object_urls() -> None:
    """MPS output paths are joined with their OutputStorage bucket into cos:// URLs."""
    results = _one(_sample(FAILED_SUBTASK)).results
    assert results[0].outputs == ["cos://gztest-125****654/dasda/dianping2_transcode_10.mp4"]
    assert results[3].outputs == [
        "cos://gztest-125****654/dasda/imageSprite/dianping2_imageSprite_10_0.jpg",
        "cos://gztest-125****654/dasda/imageSprite/dianping2_imageSprite_10.vtt"]
    assert results[0].output is not None
    assert results[0].output["Path"].startswith("/dasda/")


def test_mps_timestamp_is_neither_the_event_time_nor_part_of_the_id() -> None:
    """Timestamp/Sign are a signature and its expiry: no event time, same id as without them."""
    plain = _event(_sample(FAILED_SUBTASK))
    signed_doc = _sample(FAILED_SUBTASK) | {"Timestamp": 1700000600, "Sign": "abc"}
    signed = _event(signed_doc)
    assert signed.event.time is None
    assert signed.event.id == plain.event.id
    assert signed.event.data.raw["Timestamp"] == 1700000600


def test_mps_session_fields_come_from_the_notification() -> None:
    """SessionId/SessionContext next to EventType are the event's correlation fields."""
    doc = _sample(FAILED_SUBTASK) | {"SessionId": "s-1", "SessionContext": "job=42"}
    data = _one(doc)
    assert (data.session_id, data.session_context) == ("s-1", "job=42")


def test_parse_notification_request_id_is_not_part_of_the_event() -> None:
    """The RequestId of a ParseNotification/tccli reply belongs to the API call, not the event."""
    events = normalize((SAMPLES_DIR / "mps__WorkflowTask__parsenotification-response-tccli.json")
                       .read_bytes())
    assert "RequestId" not in events[0].event.data.raw
    doc = _sample("mps__WorkflowTask__parsenotification-response-tccli")
    doc["Response"]["RequestId"] = "another-call"
    assert _event(doc).event.id == events[0].event.id


def test_mps_mislabeled_event_type_resolved_from_populated_task_key() -> None:
    """EventType EditMediaTask with a populated WorkflowTaskEvent is a WorkflowTask."""
    doc = _sample(FAILED_SUBTASK) | {"EventType": "EditMediaTask"}
    assert _one(doc).event_type == "WorkflowTask"


def test_mps_event_type_without_its_payload_is_unknown_event_type() -> None:
    """EventType ScheduleTask with no ScheduleTaskEvent is refused, naming the key."""
    with pytest.raises(PayloadError) as caught:
        normalize(orjson.dumps({"EventType": "ScheduleTask", "ScheduleTaskEvent": None}))
    assert caught.value.reason is PayloadReason.UNKNOWN_EVENT_TYPE
    assert "ScheduleTaskEvent" in caught.value.detail


def test_mps_edit_media_task_output_is_one_result_with_its_cos_object() -> None:
    """EditMediaTask: Output{OutputStorage, Path, MetaData} is its result and metadata."""
    task = {"TaskId": "e-1", "Status": "FINISH", "ErrCode": 0, "Message": "",
            "Input": {"FileInfoSet": [
                {"InputInfo": {"Type": "COS", "CosInputInfo": {
                    "Bucket": "in-125", "Region": "ap-guangzhou", "Object": "/a.mp4"}}}]},
            "Output": {"OutputStorage": {"Type": "COS", "CosOutputStorage": {
                "Bucket": "out-125", "Region": "ap-guangzhou"}}, "Path": "/edit/a.mp4",
                "MetaData": {"Duration": 12.5, "Size": 1000}}}
    data = _one({"EventType": "EditMediaTask", "EditMediaTaskEvent": task})
    assert data.event_type == "EditMediaTask"
    assert data.succeeded
    assert [r.outputs for r in data.results] == [["cos://out-125/edit/a.mp4"]]
    assert data.metadata is not None
    assert data.metadata.duration == 12.5
    assert data.input == {"type": "COS", "bucket": "in-125", "region": "ap-guangzhou",
                          "object": "/a.mp4"}


def test_mps_schedule_task_activities_are_results() -> None:
    """ScheduleTask ActivityResultSet items become results typed by ActivityType."""
    task = {"TaskId": "s", "Status": "FINISH", "ErrCode": 0, "ActivityResultSet": [
        {"ActivityType": "Transcode", "ActivityResItem": {"TranscodeTask": {
            "Status": "SUCCESS", "ErrCode": 0, "Input": {"Definition": 100010},
            "Output": {"Path": "/o.mp4", "OutputStorage": {
                "Type": "COS", "CosOutputStorage": {"Bucket": "b-1", "Region": "r"}}}}}},
        {"ActivityType": "AiContentReview", "ActivityResItem": {"ReviewTask": {
            "Status": "FAIL", "ErrCodeExt": "InternalError", "Output": []}}},
    ]}
    data = _one({"EventType": "ScheduleTask", "ScheduleTaskEvent": task})
    assert [(r.type, r.succeeded, r.outputs) for r in data.results] == [
        ("Transcode", True, ["cos://b-1/o.mp4"]), ("AiContentReview", False, [])]
    assert not data.succeeded


def test_mps_live_review_result_lists_each_finding() -> None:
    """A live AiReviewResult gives one result per ResultSet item and counts as succeeded."""
    data = _one(_sample("mps__AiReviewResult__parselivestreamprocessnotification-response-tccli"))
    assert (data.format, data.event_type) == ("mps-live", "AiReviewResult")
    assert data.task_id == "2459149217-procedure-live-xxx51da009t0"
    assert [r.type for r in data.results] == ["VoicePorn"]
    assert data.succeeded
    assert "RequestId" not in data.raw


def test_mps_live_process_eof_with_error_is_a_failure() -> None:
    """ProcessEof with a non-zero ErrCode reports a failed live task."""
    doc = {"NotificationType": "ProcessEof", "TaskId": "live-1",
           "ProcessEofInfo": {"ErrCode": 1001, "Message": "stream interrupted"}}
    data = _one(doc)
    assert (data.event_type, data.err_code, data.message, data.succeeded) == (
        "ProcessEof", 1001, "stream interrupted", False)
    doc["ProcessEofInfo"] = {"ErrCode": 0, "Message": ""}
    assert _one(doc).succeeded


def test_mps_live_record_result_outputs_are_the_recorded_files() -> None:
    """LiveRecordResult's FileResults URLs are the outputs."""
    doc = {"NotificationType": "LiveRecordResult", "TaskId": "live-2", "LiveRecordResultInfo": {
        "RecordOver": 1, "FileResults": [{"Url": "https://r/1.mp4"}, {"Url": "https://r/2.mp4"}]}}
    data = _one(doc)
    assert data.results[0].outputs == ["https://r/1.mp4", "https://r/2.mp4"]


def test_mps_live_unknown_notification_type_is_unknown_event_type() -> None:
    """A NotificationType with no known result object is refused."""
    with pytest.raises(PayloadError) as caught:
        normalize(orjson.dumps({"NotificationType": "Teleport", "TaskId": "x"}))
    assert caught.value.reason is PayloadReason.UNKNOWN_EVENT_TYPE
    assert "Teleport" in caught.value.detail


@pytest.mark.parametrize(
    ("finish_time", "expected"),
    [
        ("2024-05-01T08:00:00Z", datetime(2024, 5, 1, 8, 0, tzinfo=UTC)),
        ("2024-05-01T16:00:00+08:00", datetime(2024, 5, 1, 8, 0, tzinfo=UTC)),
        ("2024-05-01T08:00:00", None),  # no offset: no instant, so no CloudEvents time
    ],
)
def test_mps_finish_time_is_the_event_time_only_with_an_offset(
    finish_time: str, expected: datetime | None
) -> None:
    """A FinishTime with Z or an offset is the event's time; one without is left out."""
    doc = _sample(FAILED_SUBTASK)
    doc["WorkflowTaskEvent"]["FinishTime"] = finish_time
    event = _event(doc).event
    assert event.time == expected
    assert event.data.raw["WorkflowTaskEvent"]["FinishTime"] == finish_time
