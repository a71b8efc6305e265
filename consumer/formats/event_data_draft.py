"""What a per-kind extractor pulls out of one vendor payload, before it becomes MediaEventData.

Extractors fill a :class:`EventDataDraft` (a plain slotted dataclass: cheap to build and to change
field by field) and the format parser turns it into the pydantic model exactly once.

Results and metadata are plain dicts until then. Every value in them was type-checked on the
way in (``consumer.formats.fields``, ``consumer.formats.metadata``...), so the models are built
without a second validation pass (:func:`consumer.events.trusted`);
``tests/test_normalize_fastpath.py`` holds the result equal, types included, to what
``MediaEventData.model_validate`` makes of the same fields.

``succeeded`` rule shared by every format (see :func:`task_ok`): a task succeeded when its status
is final-and-good or absent (``FINISH``/``SUCCESS``/none), its error code is 0 or absent, its
``ErrCodeExt`` is empty, ``SUCCESS`` or absent, and every subtask in ``results`` succeeded.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pydantic import BaseModel

from consumer.errors import PayloadError, PayloadReason
from consumer.events import (
    SCHEMA_VERSION,
    AudioStream,
    MediaEventData,
    MediaMetadata,
    TaskResult,
    Vendor,
    VideoStream,
    WireFormat,
    trusted,
)
from consumer.formats import ParsedEvent

# Task-level statuses that mean "done without error". DescribeFileAttributesTask reports
# SUCCESS/FAIL at task level; every other VOD/MPS task reports PROCESSING/FINISH (WAITING too).
GOOD_TASK_STATUSES = frozenset({"FINISH", "SUCCESS"})
# Subtask statuses are PROCESSING/SUCCESS/FAIL.
GOOD_SUBTASK_STATUSES = frozenset({"SUCCESS"})
# ErrCodeExt: the SDK says "" means success, but real payloads also say "SUCCESS".
GOOD_ERR_CODE_EXT = frozenset({"", "SUCCESS"})


def task_ok(
    status: str | None,
    err_code: int | None,
    err_code_ext: str | None,
    good_statuses: frozenset[str] = GOOD_TASK_STATUSES,
) -> bool:
    """True when nothing in status/error code says the task is unfinished or failed."""
    return (
        (status is None or status in good_statuses)
        and not err_code
        and (err_code_ext is None or err_code_ext in GOOD_ERR_CODE_EXT)
    )


def parse_time(value: Any, where: str) -> datetime | None:
    """An ISO 8601 vendor time ("2022-09-15T09:56:22Z") as an aware datetime.

    A time without a UTC offset gives None: it names no instant (Tencent writes "Z" or an
    offset), and the event's ``time`` must be RFC 3339, which has one - CloudEvents SDKs refuse
    a naive time. ``raw`` still has the vendor's text.
    """
    if value is None:
        return None
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            pass
        else:
            return parsed if parsed.tzinfo is not None else None
    raise PayloadError(PayloadReason.INVALID_FIELD, f"{where} should be an ISO 8601 time")


def result(
    kind: str,
    *,
    succeeded: bool,
    status: str | None = None,
    err_code: int | None = None,
    message: str | None = None,
    definition: int | None = None,
    outputs: list[str] | None = None,
    output: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The fields of one ``TaskResult``, every one given, in the model's order.

    The dict becomes the model's own ``__dict__`` in :meth:`EventDataDraft.to_parsed`: build a new one
    per result and don't change it after.
    """
    return {
        "type": kind,
        "status": status,
        "err_code": err_code,
        "message": message,
        "definition": definition,
        "outputs": outputs or [],
        "output": output,
        "succeeded": succeeded,
    }


@dataclass(slots=True)
class EventDataDraft:
    """The normalized fields of one vendor event, before validation into the schema."""

    task_id: str | None = None
    status: str | None = None
    err_code: int | None = None
    message: str | None = None
    file_id: str | None = None
    file_name: str | None = None
    file_url: str | None = None
    input: dict[str, Any] | None = None
    metadata: dict[str, Any] | None = None  # MediaMetadata fields
    results: list[dict[str, Any]] = field(default_factory=list)  # TaskResult fields (see result())
    succeeded: bool = True
    session_id: str | None = None
    session_context: str | None = None
    time: datetime | None = None

    def to_parsed(
        self, vendor: Vendor, wire_format: WireFormat, event_type: str, raw: dict[str, Any]
    ) -> ParsedEvent:
        """Build the schema object once; ``raw`` is the canonical vendor object, unchanged."""
        metadata = self.metadata
        data = trusted(
            MediaEventData,
            {
                "schema_version": SCHEMA_VERSION,
                "vendor": vendor,
                "format": wire_format,
                "event_type": event_type,
                "task_id": self.task_id,
                "status": self.status,
                "err_code": self.err_code,
                "message": self.message,
                "file_id": self.file_id,
                "file_name": self.file_name,
                "file_url": self.file_url,
                "input": self.input,
                "metadata": None if metadata is None else _metadata_model(metadata),
                "results": [trusted(TaskResult, fields, set(fields)) for fields in self.results],
                "succeeded": self.succeeded,
                "session_id": self.session_id,
                "session_context": self.session_context,
                "raw": raw,
            },
            set(_DATA_FIELDS_SET),
        )
        return ParsedEvent(data=data, time=self.time)


# What MediaEventData.model_validate records as set: every field to_parsed passes.
_DATA_FIELDS_SET = frozenset(MediaEventData.model_fields) - {"schema_version"}
_STREAM_KEYS = ("video_streams", "audio_streams")


def _all_none(model: type[BaseModel], skip: tuple[str, ...] = ()) -> dict[str, None]:
    """Every field of ``model`` but ``skip`` set to None, in order; each must default to None."""
    names = [name for name in model.model_fields if name not in skip]
    for name in names:
        info = model.model_fields[name]
        if info.default is not None or info.default_factory is not None:
            raise TypeError(f"{model.__name__}.{name} must default to None")
    return dict.fromkeys(names)


# Templates in field order: a copy updated with the present fields is the model's __dict__.
_METADATA_TEMPLATE: dict[str, Any] = {
    **_all_none(MediaMetadata, _STREAM_KEYS),
    **dict.fromkeys(_STREAM_KEYS),
}
_VIDEO_TEMPLATE = _all_none(VideoStream)
_AUDIO_TEMPLATE = _all_none(AudioStream)


def _metadata_model(values: dict[str, Any]) -> MediaMetadata:
    """MediaMetadata from ``media_metadata()``'s dict (the present fields, of exact types)."""
    fields = {**_METADATA_TEMPLATE, **values}
    fields["video_streams"] = [
        trusted(VideoStream, {**_VIDEO_TEMPLATE, **s}, set(s))
        for s in values.get("video_streams", ())
    ]
    fields["audio_streams"] = [
        trusted(AudioStream, {**_AUDIO_TEMPLATE, **s}, set(s))
        for s in values.get("audio_streams", ())
    ]
    return trusted(MediaMetadata, fields, set(values))
