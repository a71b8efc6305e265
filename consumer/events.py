"""The media event schema, version 1: a CloudEvents 1.0 event in JSON structured mode.

One schema for every Tencent format (VOD v3, VOD legacy v2, MPS, MPS live). Subscribers read
``data``; ``data.raw`` keeps the vendor's own object so nothing the vendor said is lost (except
credentials, which are redacted: see ``consumer.redact``).

Empty values, one rule wherever an event is written (the wire body, ``media-bridge normalize``,
the golden files, the JSON Schema):

* the optional CloudEvents attributes ``subject`` and ``time`` are absent when there is no
  value, never null (CloudEvents has no null attribute; its SDKs refuse ``"time": null``);
* every field these models define inside ``data`` is always present, null when the vendor did
  not say: a subscriber reads ``data["file_id"]`` without guarding against a missing key, and
  the JSON Schema lists every such field as required;
* the open objects (``raw``, ``input``, ``results[].output``) hold only the keys that have a
  value: they are the vendor's own objects (or mappings of them) with null fields removed.

Units in ``metadata``: ``size`` bytes, ``duration``/``video_duration``/``audio_duration`` seconds,
``bitrate`` bits per second (as the vendor reports it), ``width``/``height`` pixels, ``fps`` frames
per second, ``sampling_rate`` Hz, ``rotate`` degrees.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field
from pydantic.config import JsonDict

SCHEMA_VERSION: Literal[1] = 1
# A URN, not a URL: nothing serves the schema at an address, and a dataschema that looks
# fetchable but 404s misleads. It names the committed schema/media-event-v1.json (its ``$id``).
# The event id does not depend on it (see consumer.event_id).
DATASCHEMA_URI = "urn:media-event-bridge:schema:media-event:v1"
EVENT_CONTENT_TYPE: Literal["application/json"] = "application/json"
CLOUDEVENTS_MEDIA_TYPE = "application/cloudevents+json"

Vendor = Literal["vod", "mps"]
WireFormat = Literal["vod-v3", "vod-v2", "mps", "mps-live"]


class _Model(BaseModel):
    # Serialization-mode JSON Schema: a field with a default is still always written, so it is
    # required there (only the optional CloudEvents attributes below opt out).
    model_config = ConfigDict(
        frozen=True, extra="forbid", json_schema_serialization_defaults_required=True
    )


class VideoStream(_Model):
    """One video stream of the media file."""

    codec: str | None = None
    bitrate: int | None = Field(default=None, description="bits per second")
    width: int | None = Field(default=None, description="pixels")
    height: int | None = Field(default=None, description="pixels")
    fps: float | None = Field(default=None, description="frames per second")


class AudioStream(_Model):
    """One audio stream of the media file."""

    codec: str | None = None
    bitrate: int | None = Field(default=None, description="bits per second")
    sampling_rate: int | None = Field(default=None, description="Hz")


class MediaMetadata(_Model):
    """Technical facts about the source media, as the vendor measured them."""

    container: str | None = None
    size: int | None = Field(default=None, description="bytes")
    duration: float | None = Field(default=None, description="seconds")
    video_duration: float | None = Field(default=None, description="seconds")
    audio_duration: float | None = Field(default=None, description="seconds")
    bitrate: int | None = Field(default=None, description="bits per second")
    width: int | None = Field(default=None, description="pixels")
    height: int | None = Field(default=None, description="pixels")
    rotate: int | None = Field(default=None, description="degrees")
    md5: str | None = None
    video_streams: list[VideoStream] = Field(default_factory=list)
    audio_streams: list[AudioStream] = Field(default_factory=list)


class TaskResult(_Model):
    """One subtask of the vendor task (a transcode, a snapshot, a review...)."""

    type: str = Field(description="vendor subtask type, e.g. Transcode, SampleSnapshot, Porn")
    status: str | None = Field(default=None, description="vendor status: SUCCESS, FAIL, PROCESSING")
    err_code: int | None = None
    message: str | None = None
    definition: int | None = Field(default=None, description="vendor template id, when any")
    outputs: list[str] = Field(
        default_factory=list, description="URLs or object paths the subtask produced"
    )
    output: dict[str, Any] | None = Field(
        default=None,
        description="the rest of the vendor's output object (null fields removed, "
        "credentials redacted)",
    )
    succeeded: bool = Field(description="the subtask finished without error")


class MediaEventData(_Model):
    """The ``data`` of every media event.

    Every field is always present, null when the vendor did not say; the open objects ``raw``,
    ``input`` and ``results[].output`` hold only the keys that have a value.
    """

    schema_version: Literal[1] = SCHEMA_VERSION
    vendor: Vendor
    format: WireFormat = Field(description="the wire format that was detected")
    event_type: str = Field(description="the vendor's event type, resolved from the payload")
    task_id: str | None = None
    status: str | None = Field(
        default=None, description="task-level status as the vendor says it: PROCESSING, FINISH..."
    )
    err_code: int | None = None
    message: str | None = None
    file_id: str | None = None
    file_name: str | None = None
    file_url: str | None = None
    input: dict[str, Any] | None = Field(
        default=None,
        description="where the task read from, e.g. {type: COS, bucket, region, object}; "
        "only the keys that have a value",
    )
    metadata: MediaMetadata | None = None
    results: list[TaskResult] = Field(default_factory=list)
    succeeded: bool = Field(description="true only when the task and every subtask succeeded")
    session_id: str | None = None
    session_context: str | None = None
    raw: dict[str, Any] = Field(
        description="the vendor event object (null fields and delivery handles removed, "
        "credentials redacted)"
    )


def _is_none(value: object) -> bool:
    return value is None


def _absent_not_null(schema: JsonDict) -> None:
    """Schema of an optional attribute: its value's own type, no null branch, no null default."""
    schema.pop("default", None)
    branches = schema.pop("anyOf")
    assert isinstance(branches, list)
    schema.update(next(b for b in branches if isinstance(b, dict) and b != {"type": "null"}))


class MediaEvent(_Model):
    """A CloudEvents 1.0 event (JSON structured mode) carrying :class:`MediaEventData`.

    ``id`` is deterministic (see ``consumer.event_id``): the same vendor event gets the same id
    whichever wrapper or source it came through and however often it is redelivered.
    ``subject`` and ``time`` are left out of the serialization when they have no value.
    """

    specversion: Literal["1.0"] = "1.0"
    id: str
    source: str = Field(description="/tencentcloud/vod or /tencentcloud/mps")
    type: str = Field(description="com.tencentcloud.<vendor>.<EventType>.v1")
    subject: str | None = Field(
        default=None,
        min_length=1,  # CloudEvents: a subject, when present, is a non-empty string
        exclude_if=_is_none,
        json_schema_extra=_absent_not_null,
        description="the task id, or the file id; absent when the event has neither",
    )
    time: datetime | None = Field(
        default=None,
        exclude_if=_is_none,
        json_schema_extra=_absent_not_null,
        description="the vendor's own event time (RFC 3339), absent when the payload has none",
    )
    datacontenttype: Literal["application/json"] = EVENT_CONTENT_TYPE
    dataschema: str = DATASCHEMA_URI
    data: MediaEventData


class NormalizedEvent(_Model):
    """A media event plus what only the delivery knew (kept out of the event so ids stay stable)."""

    event: MediaEvent
    event_handle: str | None = Field(
        default=None, description="VOD PullEvents EventHandle / legacy msgHandle, when present"
    )


ModelT = TypeVar("ModelT", bound=_Model)
_set_attribute = object.__setattr__


def trusted(cls: type[ModelT], values: dict[str, Any], fields_set: set[str]) -> ModelT:
    """``cls`` holding ``values`` as is: what ``model_construct`` does, minus its per-call work.

    For the normalization hot path only, where pydantic validation cost more than the parsing.
    The caller guarantees what validation would otherwise enforce: ``values`` has every field of
    ``cls`` in declaration order (defaults filled in), each value already of the field's exact
    type (a ``float`` field gets a float, not an int; nested models are instances), and
    ``fields_set`` is what ``model_validate`` would record (the keys the caller was given).
    ``values`` becomes the instance's ``__dict__``, so it must be a fresh dict.
    ``tests/test_normalize_fastpath.py`` holds every event built this way equal, types included,
    to the same event validated by pydantic.
    """
    model = cls.__new__(cls)
    _set_attribute(model, "__dict__", values)
    _set_attribute(model, "__pydantic_fields_set__", fields_set)
    _set_attribute(model, "__pydantic_extra__", None)
    _set_attribute(model, "__pydantic_private__", None)
    return model
