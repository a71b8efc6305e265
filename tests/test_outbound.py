"""Events and parked bodies become the right OutboundMessages."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson
import pytest

from consumer.events import MediaEvent, MediaEventData, NormalizedEvent
from consumer.normalize import normalize
from consumer.outbound import event_message, parking_message, routing_key
from consumer.ports import DeliveryInfo, Destination
from tests.relay_support import NEW_FILE_UPLOAD, NOT_JSON

INFO = DeliveryInfo(
    source="rabbitmq:media.notifications",
    delivery_id="7",
    delivery_count=3,
    received_at=datetime(2024, 5, 1, tzinfo=UTC),
)


def media_event(vendor: str, event_type: str, status: str | None) -> MediaEvent:
    data = MediaEventData(
        vendor=vendor,
        format="mps" if vendor == "mps" else "vod-v3",
        event_type=event_type,
        status=status,
        succeeded=True,
        raw={},
    )
    return MediaEvent(id="e1", source=f"/tencentcloud/{vendor}", type="t", data=data)


@pytest.mark.parametrize(
    ("vendor", "event_type", "status", "key"),
    [
        ("vod", "ProcedureStateChanged", "FINISH", "vod.ProcedureStateChanged.FINISH"),
        ("mps", "WorkflowTask", "FINISH", "mps.WorkflowTask.FINISH"),
        ("vod", "NewFileUpload", None, "vod.NewFileUpload.NONE"),
        ("vod", "NewFileUpload", " ", "vod.NewFileUpload.NONE"),
        ("vod", "Odd.Type#*", "PRO CESSING", "vod.Odd_Type__.PRO_CESSING"),
    ],
)
def test_routing_key_is_vendor_type_status_with_safe_words(
    vendor: str, event_type: str, status: str | None, key: str
) -> None:
    """Keys always have three words; a missing status is NONE; dots/wildcards become _."""
    assert routing_key(media_event(vendor, event_type, status)) == key


def test_event_message_is_the_structured_cloudevent() -> None:
    """Body is the CloudEvent JSON; id, type and ce- headers (datacontenttype too) match it."""
    [normalized] = normalize(NEW_FILE_UPLOAD)
    message = event_message(normalized)
    body = orjson.loads(message.body)
    assert message.destination is Destination.EVENTS
    assert message.content_type == "application/cloudevents+json"
    assert body["id"] == message.message_id == normalized.event.id
    assert body["type"] == message.type == normalized.event.type
    assert body["specversion"] == "1.0"
    assert message.headers == {
        "ce-id": body["id"],
        "ce-source": body["source"],
        "ce-type": body["type"],
        "ce-specversion": "1.0",
        "ce-subject": body["subject"],
        "ce-datacontenttype": "application/json",
        "ce-dataschema": "urn:media-event-bridge:schema:media-event:v1",
    }
    assert body["datacontenttype"] == "application/json"
    assert body["dataschema"] == message.headers["ce-dataschema"]


def test_optional_attributes_without_a_value_are_absent_and_data_fields_are_null() -> None:
    """No subject, no time: neither key nor header; data keeps every field, null when unknown."""
    event = media_event("vod", "NewFileUpload", None)
    message = event_message(NormalizedEvent(event=event))
    body = orjson.loads(message.body)
    assert "subject" not in body
    assert "time" not in body
    assert None not in body.values()
    assert not {"ce-subject", "ce-time"} & set(message.headers)
    assert list(body["data"]) == list(MediaEventData.model_fields)
    assert body["data"]["status"] is None
    assert body["data"]["metadata"] is None
    assert body["data"]["results"] == []


def test_event_time_is_the_same_instant_in_body_and_header() -> None:
    """``time`` is RFC 3339 with Z for UTC, in the body and the ce-time header alike."""
    when = datetime(2024, 5, 1, 8, 0, 0, 250000, tzinfo=UTC)
    event = media_event("vod", "NewFileUpload", None).model_copy(update={"time": when})
    message = event_message(NormalizedEvent(event=event))
    assert orjson.loads(message.body)["time"] == "2024-05-01T08:00:00.250000Z"
    assert message.headers["ce-time"] == "2024-05-01T08:00:00.250000Z"


def test_parking_message_keeps_the_body_and_says_why() -> None:
    """The parked body is byte-identical and the headers name reason, source and delivery."""
    at = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
    message = parking_message(
        NOT_JSON,
        INFO,
        "not_json",
        "body is not valid JSON",
        original_content_type="text/xml",
        parked_at=at,
    )
    assert message.destination is Destination.PARKING
    assert message.body == NOT_JSON
    assert message.routing_key == "not_json"
    assert message.content_type == "text/xml"
    assert message.headers == {
        "x-park-reason": "not_json",
        "x-park-detail": "body is not valid JSON",
        "x-source": "rabbitmq:media.notifications",
        "x-delivery-id": "7",
        "x-delivery-count": 3,
        "x-parked-at": "2024-05-01T12:00:00+00:00",
        "x-original-content-type": "text/xml",
    }


def test_parking_message_id_is_stable_per_body() -> None:
    """The same body parked twice gets the same message id; another body another id."""
    first = parking_message(NOT_JSON, INFO, "not_json", "x")
    again = parking_message(NOT_JSON, INFO, "not_json", "y")
    other = parking_message(b"other", INFO, "not_json", "x")
    assert first.message_id == again.message_id != other.message_id
    assert "x-original-content-type" not in first.headers
    assert first.content_type == "application/octet-stream"


def test_structured_body_is_byte_for_byte_the_pydantic_serialization() -> None:
    """The fast body serializer produces exactly what pydantic's own JSON dump does."""
    from consumer.errors import PayloadError
    from consumer.outbound import structured_json
    from tests.samples import sample_files

    checked = 0
    for path in sample_files():
        try:
            events = normalize(path.read_bytes())
        except PayloadError:  # the non-notification samples: covered by the golden tests
            continue
        for item in events:
            expected = item.event.model_dump_json().encode()
            assert structured_json(item.event) == expected, path.name
            checked += 1
    assert checked >= 50
