"""The same vendor event normalizes alike whatever delivery wrapped it; pipeline guards hold."""

from __future__ import annotations

import json
import uuid
from typing import Any

import orjson
import pytest

from consumer.canonical import UNSTABLE_KEYS, without_keys
from consumer.errors import PayloadError, PayloadReason
from consumer.event_id import MEDIA_EVENT_NAMESPACE, event_id
from consumer.normalize import normalize
from tests.samples import SAMPLES_DIR, sample_files

# Every payload key a PullEvents element may carry, all null but the populated one.
_NULL_KEYS = ("FileUploadEvent", "ProcedureStateChangeEvent", "FileDeleteEvent",
              "PullCompleteEvent", "EditMediaCompleteEvent", "TranscodeCompleteEvent",
              "ConcatCompleteEvent", "ClipCompleteEvent", "WechatPublishCompleteEvent")


def _sample(stem: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((SAMPLES_DIR / f"{stem}.json").read_text(encoding="utf-8"))
    return loaded


@pytest.mark.parametrize(
    "stem",
    ["vod__ProcedureStateChanged__push-body-v3", "vod__EditMediaComplete__push-body-v3",
     "vod__NewFileUpload__push-body-v3"],
)
def test_push_body_and_pullevents_element_give_identical_id_and_data(stem: str) -> None:
    """A push body and the same event as a PullEvents element (handle, nulls) are one event."""
    push = _sample(stem)
    element = dict.fromkeys(_NULL_KEYS) | push | {"EventHandle": "h1"}
    pulled = {"Response": {"EventSet": [element], "RequestId": "r-1"}}
    [from_push] = normalize(orjson.dumps(push))
    [from_pull] = normalize(orjson.dumps(pulled))
    assert from_pull.event.id == from_push.event.id
    assert from_pull.event.data == from_push.event.data
    assert (from_push.event_handle, from_pull.event_handle) == (None, "h1")


def test_notification_as_json_string_inside_cmq_message_body() -> None:
    """A CMQ message whose msgBody is the notification as a JSON string is unwrapped."""
    notification = _sample("mps__WorkflowTask__cmq-msgbody-doc-with-failed-subtask")
    message = {"msgId": "123345346", "receiptHandle": "283748239349283",
               "msgBody": json.dumps(notification)}
    [direct] = normalize(orjson.dumps(notification))
    [wrapped] = normalize(orjson.dumps(message))
    assert wrapped.event.id == direct.event.id
    assert wrapped.event.data == direct.event.data


def test_notification_re_encoded_as_a_json_string_body() -> None:
    """A body that is the notification as a JSON string (double-encoded) still normalizes."""
    notification = _sample("vod__NewFileUpload__push-body-v3")
    [event] = normalize(orjson.dumps(json.dumps(notification)))
    assert event.event.data.file_id == "5285890784273533167"


def test_legacy_pull_event_list_yields_each_event_with_its_msg_handle() -> None:
    """A legacy PullEvent reply {code, message, eventList[{msgHandle, eventContent}]} is a batch."""
    upload = _sample("vodlegacy__NewFileUpload__v2-callback")
    clip = _sample("vodlegacy__ClipComplete__v2-callback-failure")
    reply = {"code": 0, "message": "", "eventList": [
        {"msgHandle": "m-1", "eventContent": upload},
        {"msgHandle": 7, "eventContent": json.dumps(clip)},  # content as a string, int handle
    ]}
    events = normalize(orjson.dumps(reply))
    assert [(e.event_handle, e.event.data.event_type, e.event.data.succeeded) for e in events] == [
        ("m-1", "NewFileUpload", True), ("7", "ClipComplete", False)]
    assert events[0].event.id == normalize(orjson.dumps(upload))[0].event.id


def test_pullevents_batch_keeps_order_and_handles() -> None:
    """The PullEvents doc sample yields its four events in order with their handles."""
    events = normalize((SAMPLES_DIR / "vod__PullEvents__api-doc-response.json").read_bytes())
    assert [(e.event_handle, e.event.data.event_type) for e in events] == [
        ("EventHandle1", "ProcedureStateChanged"), ("EventHandle2", "NewFileUpload"),
        ("EventHandle3", "ProcedureStateChanged"), ("EventHandle4", "EditMediaComplete")]


def test_one_bad_element_rejects_the_batch_naming_the_element() -> None:
    """A batch is all-or-nothing; the error names the element that could not be parsed."""
    good = _sample("vod__NewFileUpload__push-body-v3")
    bad = {"EventType": "TeleportComplete", "TeleportCompleteEvent": {"TaskId": "t"}}
    with pytest.raises(PayloadError) as caught:
        normalize(orjson.dumps({"Response": {"EventSet": [good, bad]}}))
    assert caught.value.reason is PayloadReason.UNKNOWN_EVENT_TYPE
    assert "EventSet[1]" in caught.value.detail


def _nested(depth: int) -> bytes:
    return b'{"a":' * (depth - 1) + b'{"leaf": [1]}' + b"}" * (depth - 1)


@pytest.mark.parametrize(
    ("depth", "refused"), [(47, False), (48, True), (400, True), (1000, True)]
)
def test_nesting_deeper_than_the_limit_is_refused_early(depth: int, refused: bool) -> None:
    """Bodies nested past 48 containers are too_deep; within the limit they reach the parser."""
    with pytest.raises(PayloadError) as caught:
        normalize(_nested(depth))
    expected = PayloadReason.TOO_DEEP if refused else PayloadReason.UNKNOWN_FORMAT
    assert caught.value.reason is expected


def test_event_id_is_the_documented_uuid5() -> None:
    """The id equals uuid5(namespace, "<vendor>:<event_type>:" + sorted compact JSON)."""
    for path in sample_files():
        doc = orjson.loads(path.read_bytes())
        stable = orjson.dumps(without_keys(doc, UNSTABLE_KEYS), option=orjson.OPT_SORT_KEYS)
        expected = uuid.uuid5(MEDIA_EVENT_NAMESPACE, "vod:Kind:" + stable.decode())
        assert event_id("vod", "Kind", doc) == str(expected), path.name
